"""Parameter and input checks shared by the estimators."""

from __future__ import annotations

import numbers

import numpy as np


def check_regularity(alpha, name="alpha", allowed=("loo", "gcv")):
    """A positive finite float, or one of the strings in ``allowed``."""
    if isinstance(alpha, str):
        if alpha not in allowed:
            raise ValueError(
                f"{name} must be a positive float or one of {list(allowed)}; "
                f"got {alpha!r}."
            )
        return alpha
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(
            f"{name} must be a positive float or one of {list(allowed)}; "
            f"got {type(alpha).__name__} {alpha!r}."
        )
    if not np.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"{name} must be a positive finite float; got {alpha!r}.")
    return float(alpha)


def check_bounds(bounds, name="alpha_bounds"):
    """``None`` or a pair ``0 < low < high < inf``."""
    if bounds is None:
        return None
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be None or a pair (low, high) of positive floats; "
            f"got {bounds!r}."
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and 0 < low < high):
        raise ValueError(
            f"{name} must satisfy 0 < low < high < inf; got ({low!r}, {high!r})."
        )
    return low, high


def check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {value!r}.")
    return value


def check_positive(value, name, kind=numbers.Real, allow_none=False):
    """A positive finite number of ``kind``; ``int`` means any
    :class:`numbers.Integral` (numpy integers included), never a bool."""
    if value is None and allow_none:
        return None
    if kind in (int, numbers.Integral):
        kind, what = numbers.Integral, "integer"
    else:
        what = kind.__name__.lower()
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(
            f"{name} must be a positive {what}; got {type(value).__name__} {value!r}."
        )
    if not value > 0 or not np.isfinite(value):
        raise ValueError(f"{name} must be positive and finite; got {value!r}.")
    return value


def check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def check_sample_weight(sample_weight, n_samples):
    """Non-negative finite weights of shape (n_samples,) with a positive sum."""
    if sample_weight is None:
        return np.ones(n_samples)
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, sample_weight, dtype=float)
    try:
        w = np.asarray(sample_weight, dtype=float)
    except (TypeError, ValueError):
        raise TypeError("sample_weight must be numeric.") from None
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},) to match X; "
            f"got shape {w.shape}."
        )
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or infinity.")
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative; got negative weights.")
    with np.errstate(over="ignore"):
        total = w.sum()
    if not np.isfinite(total):
        raise ValueError(
            f"sample_weight sums to {total}: the weights (up to {w.max():.3g}) "
            "overflow float64; rescale them (only their ratios matter to the "
            "fit, alpha aside)."
        )
    if not total > 0:
        raise ValueError("sample_weight sums to zero: nothing to fit.")
    return w.copy()
