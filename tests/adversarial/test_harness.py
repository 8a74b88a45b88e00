"""The harness itself must be able to fail: each way a case can go wrong."""

import warnings

import numpy as np
import pytest

from ._harness import Case, Correct, Raises, Warns, run_case


def _raise_from_numpy():
    np.linalg.cholesky(-np.eye(2))


@pytest.mark.parametrize(
    "case",
    [
        Case("nan result", lambda: np.array([np.nan]), Correct()),
        Case("wrong exception", lambda: 1 / 0, Raises("x")),
        Case("numpy traceback", _raise_from_numpy, Raises(".*", exc=Exception)),
        Case("message", lambda: (_ for _ in ()).throw(ValueError("a")), Raises("b")),
        Case("no raise", lambda: 1.0, Raises("x")),
        Case("no warning", lambda: 1.0, Warns(UserWarning, "x")),
        Case("oracle", lambda: 1.0, Correct(lambda r: np.testing.assert_equal(r, 2))),
        Case("hang", lambda: __import__("time").sleep(5), Correct(), timeout=1),
    ],
    ids=lambda c: c.name,
)
def test_harness_fails_bad_outcomes(case):
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        run_case(case)


def test_harness_passes_good_outcomes():
    def warn():
        warnings.warn("spread of 1e12", UserWarning, stacklevel=1)
        return 1.0

    run_case(Case("ok", lambda: {"a": np.ones(2)}, Correct()))
    run_case(Case("raise", lambda: int("x"), Raises("invalid literal")))
    run_case(Case("warn", warn, Warns(UserWarning, "spread")))
