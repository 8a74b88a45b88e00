r"""Weighted means and centred second moments of a design summed over chunks.

The first pass of a Dask fit (:mod:`skrt._dask_ridge`): every row chunk of
``X`` and ``Y`` is reduced to its :class:`Moments` (its rows, weight, centre
and the sums of squares about that centre), and the chunks' moments are
merged pairwise, as the numerically stable parallel variance algorithm does
(Chan, Golub and LeVeque): a chunk's sums are taken about its own weighted
mean, and moving sums to a common centre ``m`` adds

.. math::

    \sum w (x - m)(x - m)^\top = C + s\,d^\top + d\,s^\top + W d d^\top,
    \qquad d = m_{\rm chunk} - m,\ s = \sum w (x - m_{\rm chunk}),

terms that are positive semi-definite up to ``s``, which is at the
round-off level of the chunk's centre: nothing cancels, however large the
columns' offsets (``docs/math.rst`` § ``math-centering``). One pass gives
the numpy path's centring (:class:`skrt._centering.CenteredX`): the refined
means, the part of an offset column's mean below its rounding
(``mean_lo``), the constant, offset and live columns, the weighted centred
Gram ``XcᵀWXc`` and ``XcᵀWyc``, with its checks and errors.

Nothing here imports dask: these are numpy functions of numpy blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._centering import row_block

__all__ = ["Centring", "Moments", "center_moments", "chunk_moments", "merge_moments"]

# rms(x - x̄) at most this many ulps of |x̄|: a numerically constant column
# (skrt._centering's rule)
_CONSTANT_ULPS = 16.0


@dataclass(eq=False)
class Moments:
    """Sums over some rows of ``X`` (n x p), ``Y`` (n x k) and weights ``w``.

    ``x_dev = Σ w (x - x_center)``, ``xx = Σ w (x - x_center)(x -
    x_center)ᵀ``, likewise for y, and ``xy = Σ w (x - x_center)(y -
    y_center)ᵀ``; the checks of the input are counts and extremes.
    """

    n: int
    n_pos: int
    w_sum: float
    w_max: float
    x_center: np.ndarray
    x_dev: np.ndarray
    xx: np.ndarray
    y_center: np.ndarray
    y_dev: np.ndarray
    xy: np.ndarray
    y_min: np.ndarray
    y_max: np.ndarray
    x_abs_max: float
    x_nonfinite: int = 0
    y_nonfinite: int = 0
    w_negative: int = 0
    w_nonfinite: int = 0


def _empty(n, p, k):
    return Moments(
        n=n,
        n_pos=0,
        w_sum=0.0,
        w_max=0.0,
        x_center=np.zeros(p),
        x_dev=np.zeros(p),
        xx=np.zeros((p, p)),
        y_center=np.zeros(k),
        y_dev=np.zeros(k),
        xy=np.zeros((p, k)),
        y_min=np.full(k, np.inf),
        y_max=np.full(k, -np.inf),
        x_abs_max=0.0,
    )


def _weighted_mean(A, w, w_sum):
    """``Σ w a / Σw`` with one step of iterative refinement, in row blocks."""
    mean = (w @ A) / w_sum
    step = row_block(A.shape[1])
    dev = np.zeros(A.shape[1])
    for start in range(0, A.shape[0], step):
        dev += w[start : start + step] @ (A[start : start + step] - mean)
    return mean + dev / w_sum


def chunk_moments(X, Y, w):
    """The :class:`Moments` of one row chunk (numpy blocks; ``Y`` 2-d).

    Sums are taken about the chunk's own refined weighted mean, a bounded
    row block at a time (``skrt._centering.row_block``). A chunk with a
    non-finite entry or a negative weight only reports it (its sums are
    zero): the fit raises on the counts.
    """
    X = np.asarray(X, dtype=float)
    Y = np.asarray(Y, dtype=float).reshape(X.shape[0], -1)
    w = np.asarray(w, dtype=float).reshape(-1)
    n, p = X.shape
    k = Y.shape[1]
    out = _empty(n, p, k)
    out.x_nonfinite = int(X.size - np.count_nonzero(np.isfinite(X)))
    out.y_nonfinite = int(Y.size - np.count_nonzero(np.isfinite(Y)))
    out.w_nonfinite = int(w.size - np.count_nonzero(np.isfinite(w)))
    out.w_negative = int(np.count_nonzero(w < 0))
    if out.x_nonfinite or out.y_nonfinite or out.w_nonfinite or out.w_negative:
        return out
    if n:
        out.x_abs_max = float(max(X.max(), -X.min()))  # no |X| copy
        out.y_min, out.y_max = Y.min(axis=0), Y.max(axis=0)
        out.w_max = float(w.max())
    out.n_pos = int(np.count_nonzero(w > 0))
    with np.errstate(over="ignore", invalid="ignore"):
        w_sum = float(w.sum())
        if not w_sum > 0:
            return out
        out.w_sum = w_sum
        out.x_center = _weighted_mean(X, w, w_sum)
        out.y_center = _weighted_mean(Y, w, w_sum)
        step = row_block(p + k)
        for start in range(0, n, step):
            rows = slice(start, start + step)
            D, E = X[rows] - out.x_center, Y[rows] - out.y_center
            wb = w[rows]
            out.x_dev += wb @ D
            out.y_dev += wb @ E
            sw = np.sqrt(wb)[:, None]
            D *= sw  # Z = W^{1/2} D, in place: one block-sized temporary
            E *= sw
            out.xx += D.T @ D
            out.xy += D.T @ E
    return out


def _moved(m: Moments, x_center, y_center, dx=None, dy=None):
    """``(x_dev, xx, y_dev, xy)`` of ``m`` about other centres (or shifted by
    ``dx = m.x_center - new centre``, ``dy``, when given)."""
    dx = m.x_center - x_center if dx is None else dx
    dy = m.y_center - y_center if dy is None else dy
    W = m.w_sum
    xx = m.xx + np.outer(m.x_dev, dx)
    xx += np.outer(dx, m.x_dev)
    xx += W * np.outer(dx, dx)
    xy = m.xy + np.outer(m.x_dev, dy) + np.outer(dx, m.y_dev) + W * np.outer(dx, dy)
    return m.x_dev + W * dx, xx, m.y_dev + W * dy, xy


def merge_moments(a: Moments, b: Moments) -> Moments:
    """The :class:`Moments` of the rows of ``a`` and ``b`` together, about
    their joint weighted mean (a new object; ``a`` and ``b`` unchanged)."""
    if b.w_sum > 0 and a.w_sum > 0:
        W = a.w_sum + b.w_sum
        mu_a = a.x_center + a.x_dev / a.w_sum
        mu_b = b.x_center + b.x_dev / b.w_sum
        x_center = mu_a + (b.w_sum / W) * (mu_b - mu_a)
        nu_a = a.y_center + a.y_dev / a.w_sum
        nu_b = b.y_center + b.y_dev / b.w_sum
        y_center = nu_a + (b.w_sum / W) * (nu_b - nu_a)
        xa, xxa, ya, xya = _moved(a, x_center, y_center)
        xb, xxb, yb, xyb = _moved(b, x_center, y_center)
        sums = dict(
            w_sum=W,
            x_center=x_center,
            x_dev=xa + xb,
            xx=xxa + xxb,
            y_center=y_center,
            y_dev=ya + yb,
            xy=xya + xyb,
        )
    else:
        base = a if a.w_sum > 0 else b
        sums = dict(
            w_sum=base.w_sum,
            x_center=base.x_center,
            x_dev=base.x_dev,
            xx=base.xx,
            y_center=base.y_center,
            y_dev=base.y_dev,
            xy=base.xy,
        )
    return Moments(
        n=a.n + b.n,
        n_pos=a.n_pos + b.n_pos,
        w_max=max(a.w_max, b.w_max),
        y_min=np.minimum(a.y_min, b.y_min),
        y_max=np.maximum(a.y_max, b.y_max),
        x_abs_max=max(a.x_abs_max, b.x_abs_max),
        x_nonfinite=a.x_nonfinite + b.x_nonfinite,
        y_nonfinite=a.y_nonfinite + b.y_nonfinite,
        w_negative=a.w_negative + b.w_negative,
        w_nonfinite=a.w_nonfinite + b.w_nonfinite,
        **sums,
    )


def merge_all(parts):
    """:func:`merge_moments` over a list (one node of a tree reduction)."""
    out = parts[0]
    for part in parts[1:]:
        out = merge_moments(out, part)
    return out


@dataclass(eq=False)
class Centring:
    """The numpy path's centring of the whole design, from its moments.

    Attributes
    ----------
    x_mean, mean_lo : ndarray of shape (n_features,)
        The refined weighted means and, for offset columns that vary, the
        part of the mean below the rounding of ``x_mean``
        (``CenteredX.mean_lo``); zeros without an intercept.
    live, offset : ndarray of bool, shape (n_features,)
        Columns that vary; columns whose mean dwarfs their spread.
    scale : ndarray of shape (n_features,)
        Centred weighted column norms (0 where not live).
    gram : ndarray of shape (n_features, n_features)
        ``Xcᵀ W Xc`` (zero rows and columns where not live).
    cross : ndarray of shape (n_features, n_targets)
        ``Xcᵀ W yc``.
    y_mean, y_lo : ndarray of shape (n_targets,)
        The targets' weighted mean (``center_value``) and the part below its
        rounding, so that ``yc = (y - y_mean) - y_lo``.
    w_sum : float
    n_pos : int
        Rows of positive weight.
    w_max : float
    constant_target : bool
        Every centred target is zero up to round-off.
    """

    x_mean: np.ndarray
    mean_lo: np.ndarray
    live: np.ndarray
    offset: np.ndarray
    scale: np.ndarray
    gram: np.ndarray
    cross: np.ndarray
    y_mean: np.ndarray
    y_lo: np.ndarray
    w_sum: float
    n_pos: int
    w_max: float
    constant_target: bool


def check_moments(m: Moments):
    """The ValueErrors of the input checks the numpy path makes on the
    whole arrays (validate_data, check_sample_weight), from the counts."""
    if m.x_nonfinite:
        raise ValueError(f"Input X contains NaN or infinity ({m.x_nonfinite} entries).")
    if m.y_nonfinite:
        raise ValueError(f"Input y contains NaN or infinity ({m.y_nonfinite} entries).")
    if m.w_nonfinite:
        raise ValueError("sample_weight contains NaN or infinity.")
    if m.w_negative:
        raise ValueError("sample_weight must be non-negative; got negative weights.")
    if not np.isfinite(m.w_sum):
        raise ValueError(
            f"sample_weight sums to {m.w_sum}: the weights (up to {m.w_max:.3g}) "
            "overflow float64; rescale them (only their ratios matter to the "
            "fit, alpha aside)."
        )
    if not m.w_sum > 0:
        raise ValueError("sample_weight sums to zero: nothing to fit.")


def _scale_error(m, what="their weighted sums or squares overflow float64"):
    return ValueError(
        f"X is too large in scale: its entries reach {m.x_abs_max:.3g} in "
        f"absolute value and {what}. Rescale X (for example with "
        "sklearn.preprocessing.StandardScaler, or by a constant factor)."
    )


def _split_mean(center, dev, w_sum, fit_intercept):
    """``(mean, lo)``: the rounded mean ``center + dev/Σw`` and the part of
    it below that rounding (zeros without an intercept)."""
    if not fit_intercept:
        return np.zeros_like(center), np.zeros_like(center)
    exact_part = dev / w_sum
    mean = center + exact_part
    return mean, (center - mean) + exact_part


def center_moments(m: Moments, fit_intercept: bool) -> Centring:
    """The :class:`Centring` of the whole design from its merged moments,
    with the numpy path's errors for X or y out of float64's range.

    Raises
    ------
    ValueError
        Non-finite entries, bad weights, or X or y too large or too small
        in scale.
    """
    check_moments(m)
    W = m.w_sum
    eps = np.finfo(float).eps
    with np.errstate(over="ignore", invalid="ignore"):
        x_mean, x_lo = _split_mean(m.x_center, m.x_dev, W, fit_intercept)
        if not np.all(np.isfinite(x_mean)):
            raise _scale_error(m, "their weighted sums overflow float64")
        # the spreads about the rounded mean, as the numpy path sums them
        _, xx, _, _ = _moved(m, x_mean, m.y_center)
        sq = np.diag(xx).copy()
        if not np.all(np.isfinite(sq)) or not sq.sum() < np.finfo(float).max * 1e-6:
            raise _scale_error(m)
        live = sq > (_CONSTANT_ULPS * eps * x_mean) ** 2 * W
        tiny = live & (sq < 1e-304 * W)
        if tiny.any():
            j = int(np.flatnonzero(tiny)[0])
            raise ValueError(
                f"X is too small in scale: column {j} varies by about "
                f"{np.sqrt(sq[j] / W):.3g}, whose squares underflow "
                "float64. Rescale X (for example with "
                "sklearn.preprocessing.StandardScaler)."
            )
        offset = x_mean**2 * W > sq
        mean_lo = np.where(offset & live, x_lo, 0.0)
        y_mean, y_lo = _split_mean(m.y_center, m.y_dev, W, fit_intercept)
        # the moments about the numpy path's centres x_mean + mean_lo and
        # y_mean + y_lo (the shifts formed without losing the low parts)
        dx = (m.x_center - x_mean) - mean_lo
        dy = (m.y_center - y_mean) - y_lo
        _, gram, _, cross = _moved(m, None, None, dx=dx, dy=dy)
    gram[~live] = 0.0
    gram[:, ~live] = 0.0
    cross[~live] = 0.0
    # y's scale and constancy (skrt._centering._check_target_scale, is_constant)
    limit = np.sqrt(np.finfo(float).max / (16.0 * max(W, 1.0)))
    with np.errstate(over="ignore", invalid="ignore"):
        center = y_mean + y_lo
        spread = np.maximum(m.y_max - center, center - m.y_min)
        top = float(np.maximum(np.abs(m.y_min), np.abs(m.y_max)).max(initial=0.0))
    if not np.all(np.isfinite(y_mean)) or not spread.max(initial=0.0) <= limit:
        raise ValueError(
            f"y is too large in scale: its entries reach {top:.3g} in absolute "
            "value, and the weighted sums of squares of the residuals would "
            f"overflow float64 (limit about {limit:.3g}). Rescale y."
        )
    constant = bool(np.all(spread <= 1e-12 * max(top, 1e-300)))
    return Centring(
        x_mean=x_mean,
        mean_lo=mean_lo,
        live=live,
        offset=offset,
        scale=np.sqrt(np.where(live, sq, 0.0)),
        gram=gram,
        cross=cross,
        y_mean=y_mean,
        y_lo=y_lo,
        w_sum=W,
        n_pos=m.n_pos,
        w_max=m.w_max,
        constant_target=constant,
    )
