"""Table-driven adversarial cases: every case states the outcome it expects.

A case is a zero-argument callable and one expected outcome:

- :class:`Correct` — the call returns; every float in the result is finite
  (NaN/inf fail the case) and the oracle ``check(result)`` passes (it should
  compare against an independent solution: high precision, brute force,
  scikit-learn).
- :class:`Raises` — the call raises ``ValueError`` or ``TypeError`` (or a
  subclass) whose message matches ``match`` (name the argument and the
  problem), raised from skrt or scikit-learn's validation, never from inside
  numpy or scipy.
- :class:`Warns` — the call returns (finite, ``check`` passes when given) and
  warns with ``category`` and a message matching ``match``.

Anything else fails the case: another exception, a traceback whose raising
frame is inside numpy/scipy, a non-finite result, or a hang (``timeout``
seconds, SIGALRM).
"""

from __future__ import annotations

import os
import re
import signal
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest
import scipy.sparse as sp

_FOREIGN = (os.sep + "numpy" + os.sep, os.sep + "scipy" + os.sep)


@dataclass
class Correct:
    check: Callable[[object], None] | None = None
    label: str = "correct"


@dataclass
class Raises:
    match: str
    exc: type | tuple = (ValueError, TypeError)
    label: str = "raises"


@dataclass
class Warns:
    category: type
    match: str
    check: Callable[[object], None] | None = None
    label: str = "warns"


@dataclass
class Case:
    name: str
    call: Callable[[], object]
    expect: Correct | Raises | Warns
    timeout: int = 60
    marks: tuple = field(default_factory=tuple)

    @property
    def id(self):
        return f"{self.expect.label}:{self.name}"


def params(cases):
    """``pytest.param`` objects with ids ``outcome:name`` for parametrize."""
    names = [c.name for c in cases]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, f"duplicate case names: {sorted(dup)}"
    return [pytest.param(c, id=c.id, marks=c.marks) for c in cases]


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def _floats(obj, seen=None):
    """Every float array/scalar reachable in a (nested) result."""
    if obj is None or isinstance(obj, (str, bytes, bool, int)):
        return
    if isinstance(obj, float | np.floating):
        yield np.asarray(obj)
    elif sp.issparse(obj):
        yield obj.data
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc":
            yield obj
        elif obj.dtype == object:
            for item in obj.ravel():
                yield from _floats(item)
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _floats(value)
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from _floats(item)
    elif hasattr(obj, "get_params") and hasattr(obj, "__dict__"):
        # a fitted estimator: its fitted attributes (names ending in _)
        for name, value in vars(obj).items():
            if name.endswith("_") and not name.startswith("_"):
                yield from _floats(value)
    elif hasattr(obj, "to_numpy"):  # pandas
        yield from _floats(obj.to_numpy())


def assert_finite(result):
    for arr in _floats(result):
        assert np.all(np.isfinite(arr)), "the result holds NaN or inf"


def _raising_frame(exc):
    tb = traceback.extract_tb(exc.__traceback__)
    return tb[-1].filename if tb else ""


def run_case(case: Case):
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(case.timeout)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = case.call()
            except _Hang:
                pytest.fail(f"{case.name}: no answer in {case.timeout} s")
            except Exception as exc:  # noqa: BLE001 - classified below
                _check_exception(case, exc)
                return
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    expect = case.expect
    if isinstance(expect, Raises):
        pytest.fail(f"{case.name}: expected {expect.exc} matching {expect.match!r}")
    assert_finite(result)
    if isinstance(expect, Warns):
        hits = [
            w
            for w in caught
            if issubclass(w.category, expect.category)
            and re.search(expect.match, str(w.message))
        ]
        assert hits, (
            f"{case.name}: no {expect.category.__name__} matching "
            f"{expect.match!r}; got {[str(w.message) for w in caught]}"
        )
    if expect.check is not None:
        expect.check(result)


def _check_exception(case, exc):
    expect = case.expect
    where = _raising_frame(exc)
    detail = f"{type(exc).__name__}: {exc} (raised in {where})"
    if not isinstance(expect, Raises):
        raise AssertionError(f"{case.name}: unexpected {detail}") from exc
    if not isinstance(exc, expect.exc):
        raise AssertionError(f"{case.name}: wrong exception {detail}") from exc
    if any(part in where for part in _FOREIGN):
        raise AssertionError(f"{case.name}: traceback from numpy/scipy: {detail}")
    if not re.search(expect.match, str(exc), flags=re.IGNORECASE):
        raise AssertionError(
            f"{case.name}: message does not match {expect.match!r}: {detail}"
        )


def rel_err(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)
