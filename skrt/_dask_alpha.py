r"""The leave-one-out alpha search of a Dask fit, in a few passes over the data.

The numpy path (:func:`skrt._linalg.minimize_criterion`, ``docs/math.rst`` §
``math-alpha-search``) refines each basin of its 33-point grid by Brent's
root finder on the slope, one alpha per evaluation. On Dask every
evaluation is a pass over the training rows, and a pass evaluates many
alphas at the cost of about one, so :func:`search_in_passes` keeps the
numpy path's grid, basins and brackets and finds the same roots in rounds,
each round **one pass** evaluating every bracket at once:

1. the grid (one pass, taken by the caller with the fit's sums);
2. 32 evenly spaced points inside each bracket; the slope's sign change
   narrows the bracket 33 times, and the quintic through the six points
   around it estimates the root to about ``h⁶`` (``h`` the spacing: measured
   1e-10 to 2e-7 in log s);
3. points at ``t̂ ± 10^{-j} h`` (``j = 1 .. 12``) around the estimate ``t̂``:
   the sign change now lies within ten times the estimate's error, and the
   polynomial through the nearest points gives the root to round-off;
4. repeated while a bracket is wider than ``1e-5`` in ``log s`` (usually
   not: step 3 ends a search in two refinement passes).

The criterion's value at the root, per target (``loo_error_``), is the
cubic Hermite interpolant of the values and slopes at the ends of the last
bracket, whose error is ``O(width⁴)``: below ``1e-20`` relative for a bracket
of ``1e-5``. Nothing here touches dask: ``evaluate`` does the passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._linalg import basin_starts, slope_bracket

__all__ = ["search_in_passes"]

_UNIFORM_POINTS = 32
_DECADES = 12
_DONE_WIDTH = 1e-5
_MAX_ROUNDS = 8


@dataclass
class _End:
    """One evaluated point: log s, mean slope, per-target values and slopes."""

    t: float
    slope: float
    values: np.ndarray
    slopes: np.ndarray


@dataclass
class _Bracket:
    lo: _End
    hi: _End
    estimate: float | None = None
    # the last round's points, for the interpolating cubic
    points: list | None = None

    @property
    def width(self):
        return self.hi.t - self.lo.t

    def active(self):
        return self.width > _DONE_WIDTH and self.lo.slope < 0 < self.hi.slope


def _round_points(b: _Bracket):
    """The log-s points of this round for bracket ``b`` (strictly inside)."""
    if b.estimate is None:
        return np.linspace(b.lo.t, b.hi.t, _UNIFORM_POINTS + 2)[1:-1]
    h = b.width
    offsets = h * 10.0 ** -np.arange(1, _DECADES + 1)
    pts = np.concatenate([[b.estimate], b.estimate - offsets, b.estimate + offsets])
    pts = np.unique(pts[(pts > b.lo.t) & (pts < b.hi.t)])
    if pts.size == 0:
        pts = np.array([0.5 * (b.lo.t + b.hi.t)])
    return pts


def _root_estimate(points, i):
    """Root of the slope between ``points[i]`` and ``points[i+1]`` (sign
    change there): the polynomial through up to three points on each side
    that lie within 30 bracket widths (a quintic on an even spacing), else
    the secant."""
    a, b = points[i], points[i + 1]
    h = b.t - a.t
    secant = a.t - a.slope * h / (b.slope - a.slope)
    if h <= 0:
        return a.t
    near = [
        p
        for p in points[max(i - 2, 0) : i + 4]
        if np.isfinite(p.slope) and abs(p.t - 0.5 * (a.t + b.t)) <= 30.0 * h
    ]
    if len(near) >= 3:
        x = np.array([(p.t - a.t) / h for p in near])
        y = np.array([p.slope for p in near])
        scale = max(np.abs(y).max(), 1e-300)
        coefs = np.polyfit(x, y / scale, len(near) - 1)
        roots = np.roots(coefs)
        real = roots[np.abs(roots.imag) <= 1e-9 * (1 + np.abs(roots.real))].real
        inside = real[(real >= 0.0) & (real <= 1.0)]
        if inside.size:
            x_sec = (secant - a.t) / h
            return a.t + h * float(inside[np.argmin(np.abs(inside - x_sec))])
    return float(np.clip(secant, a.t, b.t))


def _hermite(b: _Bracket, t):
    """The cubic Hermite interpolant of the per-target values at ``t``."""
    lo, hi = b.lo, b.hi
    h = hi.t - lo.t
    if h <= 0:
        return lo.values.copy()
    x = (t - lo.t) / h
    h00, h10 = 2 * x**3 - 3 * x**2 + 1, x**3 - 2 * x**2 + x
    h01, h11 = -2 * x**3 + 3 * x**2, x**3 - x**2
    return h00 * lo.values + h10 * h * lo.slopes + h01 * hi.values + h11 * h * hi.slopes


def _update(b: _Bracket, ends):
    """Narrow ``b`` to the first - to + change among its evaluated points."""
    points = [b.lo, *ends, b.hi]
    slopes = np.array([p.slope for p in points])
    change = np.flatnonzero((slopes[:-1] < 0) & (slopes[1:] >= 0))
    if change.size == 0:  # NaN slopes inside: stop at the midpoint
        mid = 0.5 * (b.lo.t + b.hi.t)
        b.lo = b.hi = min(points, key=lambda p: abs(p.t - mid))
        b.estimate = b.lo.t
        return
    i = int(change[0])
    b.lo, b.hi = points[i], points[i + 1]
    if b.hi.slope == 0:
        b.lo, b.estimate = b.hi, b.hi.t
        return
    b.estimate = _root_estimate(points, i)


def search_in_passes(evaluate, grid, values, slopes, *, n_starts=3):
    """Minimise the mean over targets of a criterion known on ``grid``.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(alphas) -> (values, slopes)``, each (n_alphas, n_targets),
        the slopes in ``log s``: one pass over the data per call.
    grid : ndarray of shape (n_grid,)
        The geometric grid over the bounds (its ends are the bounds).
    values, slopes : ndarray of shape (n_grid, n_targets)
        The criterion and its slope on the grid (the first pass).

    Returns
    -------
    alpha : float
    value : ndarray of shape (n_targets,)
        The criterion per target at ``alpha``.
    at_bound : {None, "lower", "upper"}
    n_passes : int
        Calls of ``evaluate`` (the grid's pass not counted).
    """
    log_grid = np.log(grid)
    mean_v = values.mean(axis=1)
    mean_d = slopes.mean(axis=1)
    mean_v = np.where(np.isfinite(mean_v), mean_v, np.inf)
    if not np.isfinite(mean_v).any():
        raise ValueError(
            "The cross-validation criterion is infinite at every alpha in "
            f"alpha_bounds=({grid[0]:g}, {grid[-1]:g}): some sample has "
            "leverage 1 (it alone determines its own fit). Raise alpha_bounds "
            "or add data."
        )
    starts = basin_starts(mean_v, n_starts)

    def end(j):
        return _End(log_grid[j], mean_d[j], values[j], slopes[j])

    brackets = []
    for i in starts:
        bracket = slope_bracket(i, mean_d, log_grid)
        if bracket is not None:
            a = int(np.searchsorted(log_grid, bracket[0]))
            brackets.append(_Bracket(end(a), end(a + 1)))
    passes = 0
    for _ in range(_MAX_ROUNDS):
        active = [b for b in brackets if b.active()]
        if not active:
            break
        points = [_round_points(b) for b in active]
        vals, slps = evaluate(np.exp(np.concatenate(points)))
        passes += 1
        start = 0
        for b, pts in zip(active, points, strict=True):
            stop = start + pts.size
            ends = [
                _End(t, float(np.mean(d)), v, d)
                for t, v, d in zip(pts, vals[start:stop], slps[start:stop], strict=True)
            ]
            start = stop
            _update(b, ends)
    best_t, best_values = log_grid[starts[0]], values[starts[0]]
    best_v = mean_v[starts[0]]
    for b in brackets:
        t = b.estimate
        if t is None:  # already narrower than _DONE_WIDTH on the grid (unlikely)
            t = 0.5 * (b.lo.t + b.hi.t)
        v = _hermite(b, t)
        if np.isfinite(v.mean()) and v.mean() < best_v:
            best_t, best_v, best_values = t, float(v.mean()), v
    alpha = float(np.exp(best_t))
    at_bound = None
    if best_t <= log_grid[0] + 1e-9:
        alpha, at_bound = float(grid[0]), "lower"
    elif best_t >= log_grid[-1] - 1e-9:
        alpha, at_bound = float(grid[-1]), "upper"
    return alpha, np.asarray(best_values, dtype=float), at_bound, passes
