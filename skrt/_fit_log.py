"""The ``verbose`` parameter of the estimators and functions whose work can
take seconds: its check, and the progress lines of one fit.

scikit-learn's convention: ``verbose=0`` writes nothing, ``verbose=1``
writes progress lines on stderr (what is being done, how far, how long it
took), ``verbose=2`` adds per-iteration detail. The lines are written by
:func:`skrt._progress.say` as ``[who] message``; nothing here changes a
computation, so a fit's attributes do not depend on ``verbose``.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from sklearn.externals.array_api_compat import array_namespace

from ._progress import say

__all__ = ["SILENT", "FitLog", "check_verbose", "fit_summary", "seconds"]


def check_verbose(verbose, name: str = "verbose") -> int:
    """``verbose`` as a non-negative int (a bool counts as 0 or 1).

    Parameters
    ----------
    verbose : int or bool
    name : str, default="verbose"
        The argument's name in the error message.

    Returns
    -------
    level : int

    Raises
    ------
    TypeError
        If ``verbose`` is neither an integer nor a bool.
    ValueError
        If it is negative.

    Examples
    --------
    >>> check_verbose(True), check_verbose(2)
    (1, 2)
    """
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    if not isinstance(verbose, numbers.Integral):
        raise TypeError(
            f"{name} must be a non-negative int or a bool; "
            f"got {type(verbose).__name__} {verbose!r}."
        )
    if verbose < 0:
        raise ValueError(f"{name} must be non-negative; got {verbose!r}.")
    return int(verbose)


def seconds(duration: float) -> str:
    """A duration for a progress line: ``"8.1 s"``, ``"0.012 s"``.

    Examples
    --------
    >>> seconds(8.1234), seconds(0.01234)
    ('8.12 s', '0.0123 s')
    """
    return f"{duration:.3g} s"


class FitLog:
    """Progress lines of one fit (or one long function call).

    ``log(message, level=1)`` writes ``[who] message`` on stderr when
    ``verbose >= level``; ``with log.timed("what"):`` writes
    ``[who] what: 1.23 s`` after the block. With ``verbose=0`` nothing is
    written.

    Parameters
    ----------
    verbose : int
        Checked level (:func:`check_verbose`).
    who : str
        The estimator's or function's name, in brackets at the line's start.

    Examples
    --------
    >>> log = FitLog(0, "RegularityRidge")
    >>> log("not shown")
    >>> with log.timed("nothing"):
    ...     pass
    """

    def __init__(self, verbose: int, who: str):
        self.verbose = verbose
        self.who = who

    def __call__(self, message: str, level: int = 1) -> None:
        say(self.verbose, self.who, message, level)

    def shows(self, level: int = 1) -> bool:
        """Whether lines of ``level`` are written (to skip their formatting)."""
        return self.verbose >= level

    @contextmanager
    def timed(self, what, level: int = 1) -> Iterator[None]:
        """Write ``what: <duration>`` after the block, at ``level``.

        ``what`` is a string, or a callable returning one after the block
        (to name what the block found).
        """
        start = time.perf_counter()
        yield
        if self.verbose >= level:
            text = what() if callable(what) else what
            self(f"{text}: {seconds(time.perf_counter() - start)}", level)


SILENT = FitLog(0, "")


def fit_summary(estimator) -> str:
    """The chosen hyperparameters and the fit's error, for the last line of
    a fit: ``alpha_``, ``gamma_`` when set, then the error of the
    criterion (GCV for ``alpha="gcv"``, else leave-one-out where there is
    one), averaged over targets.

    Examples
    --------
    >>> import numpy as np
    >>> from skrt import RegularityRidge
    >>> X = np.arange(12.0).reshape(6, 2) ** 0.5
    >>> fit_summary(RegularityRidge(alpha=2.0).fit(X, X[:, 0] ** 2))[:9]
    'alpha_=2,'
    """
    parts = [f"alpha_={estimator.alpha_:.4g}"]
    gamma = getattr(estimator, "gamma_", None)
    if isinstance(gamma, numbers.Real):
        parts.append(f"gamma_={gamma:.4g}")
    errors = [("loo_error_", "LOO error"), ("gcv_error_", "GCV error")]
    if getattr(estimator, "alpha", None) == "gcv":
        errors.reverse()
    for name, label in errors:
        value = getattr(estimator, name, None)
        if value is not None:
            parts.append(f"{label} {_mean(value):.4g}")
            break
    return ", ".join(parts)


def _mean(value) -> float:
    """The mean of a float or an array, numpy or array-API (a device fit's
    errors stay on the device; this one number comes to the host)."""
    if isinstance(value, (numbers.Real, np.ndarray, np.generic)):
        return float(np.mean(value))
    xp = array_namespace(value)
    return float(xp.mean(xp.reshape(value, (-1,))))
