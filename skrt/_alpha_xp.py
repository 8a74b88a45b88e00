r"""The alpha search of the device path (``docs/math.rst`` §
``math-alpha-search``) with batched evaluations.

:func:`skrt._linalg.minimize_criterion` evaluates its criterion at one
alpha per call inside scipy's root finder; on a device every call is a host
round trip. :func:`minimize_batched` keeps its grid and basins and replaces
the scalar root finder by rounds that evaluate the slope at many points of
every bracket in one call (:func:`path_criterion`: one batched product on
the device, one transfer of two vectors), so a search costs about eight
host round trips, whatever the size of the data.
"""

from __future__ import annotations

import numpy as np

from ._array_api import to_numpy
from ._linalg import basin_starts, default_alpha_bounds, slope_bracket
from ._spectral_xp import gcv_path, loo_path, namespace_of, round_off

__all__ = [
    "choose_alpha_on_device",
    "is_constant",
    "minimize_batched",
    "path_criterion",
]

# (n, n_targets, n_alphas) intermediates of one batched evaluation are kept
# under this many entries (256 MiB in float64); more alphas go in chunks
_PATH_ENTRIES = 2**25
# the root of the slope: interior points per bracket and round, and the
# bracket width (in log s) at which a linear interpolation ends the search
_POINTS_PER_ROUND = 32
_ROOT_WIDTH = 1e-11
_MAX_ROUNDS = 12


def path_criterion(spec, kind):
    """The host-side criterion of the alpha search: ``alphas`` (numpy,
    float64) -> ``(values, slopes)`` averaged over targets (numpy), from
    batched device evaluations (in chunks that keep the ``n x n_targets x
    n_alphas`` intermediates bounded) and one transfer of ``2 n_alphas``
    numbers."""
    xp, device = spec.namespace
    path = loo_path if kind == "loo" else gcv_path
    n, k = spec.P.shape[0], spec.c.shape[1]
    chunk = max(1, _PATH_ENTRIES // (2 * max(n, 1) * k))

    def criterion(alphas):
        alphas = np.asarray(alphas, dtype=np.float64)
        parts = []
        for start in range(0, alphas.size, chunk):
            a = xp.asarray(
                alphas[start : start + chunk], dtype=spec.dtype, device=device
            )
            values, slopes = path(spec, a, derivative=True)
            parts.append(xp.stack([xp.mean(values, axis=1), xp.mean(slopes, axis=1)]))
        both = to_numpy(xp.concat(parts, axis=1), xp).astype(np.float64)
        return both[0], both[1]

    return criterion


def minimize_batched(criterion, bounds, *, n_grid=33, n_starts=3):
    """Minimise a 1-D criterion of s over ``bounds`` (docs/math.rst §
    ``math-alpha-search``) with batched evaluations.

    The grid of :func:`skrt._linalg.minimize_criterion` (``n_grid`` points,
    the ``n_starts`` best basins) in one call of ``criterion``; then, in
    every basin whose slope changes sign from - to + beside its grid
    minimum, the root of the slope by rounds that evaluate it at
    32 interior points of every bracket in one call, keep the first - to +
    change, and end with a linear interpolation once the bracket is
    ``1e-11`` wide in log s; the value at every root in one last call.

    Parameters
    ----------
    criterion : callable
        ``criterion(alphas) -> (values, slopes in log s)``, numpy in and out.
    bounds : (float, float)

    Returns
    -------
    alpha : float
    value : float
    at_bound : {None, "lower", "upper"}
    """
    lo, hi = float(bounds[0]), float(bounds[1])
    grid = np.geomspace(lo, hi, n_grid)
    log_grid = np.log(grid)
    vals, slopes = criterion(grid)
    vals = np.where(np.isfinite(vals), vals, np.inf)
    if not np.isfinite(vals).any():
        raise ValueError(
            "The cross-validation criterion is infinite at every alpha in "
            f"alpha_bounds=({lo:g}, {hi:g}): some sample has leverage 1 "
            "(it alone determines its own fit). Raise alpha_bounds or add data."
        )
    starts = basin_starts(vals, n_starts)
    brackets = []
    for i in starts:
        bracket = slope_bracket(i, slopes, log_grid)
        if bracket is not None:
            a = int(np.searchsorted(log_grid, bracket[0]))
            brackets.append([bracket[0], bracket[1], slopes[a], slopes[a + 1]])
    best_t, best_v = log_grid[starts[0]], vals[starts[0]]
    roots = _slope_roots(criterion, brackets)
    if roots:
        root_vals = criterion(np.exp(np.array(roots)))[0]
        for t, v in zip(roots, root_vals, strict=True):
            if np.isfinite(v) and v < best_v:
                best_t, best_v = t, float(v)
    alpha = float(np.exp(best_t))
    at_bound = None
    if best_t <= log_grid[0] + 1e-9:
        alpha, at_bound = lo, "lower"
    elif best_t >= log_grid[-1] - 1e-9:
        alpha, at_bound = hi, "upper"
    return alpha, float(best_v), at_bound


def _slope_roots(criterion, brackets):
    """Roots (in log s) of the slope in each bracket ``[t_a, t_b, s_a, s_b]``
    (``s_a < 0 < s_b``), all brackets refined together, one call per round."""
    m = _POINTS_PER_ROUND
    active = list(brackets)
    for _ in range(_MAX_ROUNDS):
        active = [b for b in active if b[1] - b[0] > _ROOT_WIDTH and b[2] != 0]
        if not active:
            break
        points = [np.linspace(b[0], b[1], m + 2)[1:-1] for b in active]
        _, s = criterion(np.exp(np.concatenate(points)))
        for j, b in enumerate(active):
            ts = np.concatenate([[b[0]], points[j], [b[1]]])
            ss = np.concatenate([[b[2]], s[j * m : (j + 1) * m], [b[3]]])
            change = np.flatnonzero((ss[:-1] < 0) & (ss[1:] >= 0))
            if change.size == 0:  # NaN slopes inside: stop at the midpoint
                b[0] = b[1] = 0.5 * (b[0] + b[1])
                continue
            i = int(change[0])
            b[:] = [ts[i], ts[i + 1], ss[i], ss[i + 1]]
            if ss[i + 1] == 0:
                b[0], b[2] = b[1], 0.0
    roots = []
    for t_a, t_b, s_a, s_b in brackets:
        if s_a == 0 or t_b <= t_a or not s_b > s_a:
            roots.append(t_a if s_a == 0 else 0.5 * (t_a + t_b))
        else:
            roots.append(
                float(np.clip(t_a - s_a * (t_b - t_a) / (s_b - s_a), t_a, t_b))
            )
    return roots


def is_constant(Yc, Y):
    """Whether every centred target is zero up to round-off
    (:func:`skrt._base.is_constant`)."""
    xp, _ = namespace_of(Y)
    if Y.shape[0] == 0:
        return True
    scale = float(xp.max(xp.abs(Y)))
    cut = round_off(Y.dtype, xp, 1e-12) * max(scale, 1e-300)
    return bool(xp.all(xp.abs(Yc) <= cut))


def choose_alpha_on_device(estimator, spec, Y):
    """alpha_ on a device decomposition: the estimator's ``_select_alpha``
    (bounds, the constant-target and bound warnings) with the batched
    search of :func:`minimize_batched`."""
    top = float(spec.xp.max(spec.lam)) if spec.rank else 0.0
    bounds = default_alpha_bounds(top)
    constant = is_constant(spec.yc, Y)
    kind = estimator.alpha if isinstance(estimator.alpha, str) else "loo"
    return estimator._select_alpha(
        path_criterion(spec, kind), bounds, constant, minimize=minimize_batched
    )
