r"""The ``gamma="loo"`` search of :class:`~skrt.RegularityKernelRidge`.

For the rbf and laplacian kernels ``K(γ) = exp(-γ D)``, with ``D`` the
squared euclidean (rbf) or manhattan (laplacian) distances. The search
minimises over ``γ``

.. math::

    E(\gamma) = \min_s \mathrm{LOO}(\gamma, s),

the exact leave-one-out error at its own LOO-optimal regularity ``s*(γ)``
(the estimator's alpha search on the decomposition of ``K(γ)``).

**Slope in log γ (envelope theorem).** Where ``s*`` is an interior minimum,
``∂LOO/∂s = 0`` there, so ``dE/d log γ`` is the partial derivative at fixed
``s``. With ``K̃ = W^{1/2} K W^{1/2}``, ``B = (K̃ + sI)⁻¹`` and
``dK̃/d log γ = -γ D ⊙ K̃``: the weighted hat matrix ``K̃B = I - sB`` moves by
``s B dK̃ B``, so ``dh_i = s (B dK̃ B)_ii``, and the weighted residual
``W^{1/2} r = -s B W^{1/2} y`` moves by ``s B dK̃ B W^{1/2} y``. The LOO
residual of row ``i`` is ``e_i = r_i / (1 - m_i h_i / w_i)``
(``m_i = min(w_i, 1)``), and

.. math::

    \frac{d\,\mathrm{LOO}}{d\log\gamma}
    = \frac{2}{\sum w} \sum_i w_i e_i
      \Big(\frac{dr_i}{1 - m_i h_i/w_i}
           + \frac{r_i (m_i/w_i)\, dh_i}{(1 - m_i h_i/w_i)^2}\Big),

averaged over targets (:func:`loo_and_gamma_slope`, one decomposition per γ).

**Grid and refinement.** Start from ``g0 = 1 / mean distance`` (weighted
over pairs, so repeating a sample equals weighting it) on a grid in
``log γ`` half a decade apart, ±2 decades. While the grid's minimum sits at
an end that is not yet a limit, extend the grid 2 decades past it
(:func:`grid_between`). Then, in each of the two best basins, take the root
of the slope between neighbours where it changes sign from - to + (Brent);
where it does not (``s*`` jumps between basins as γ moves, so ``E`` is not
smooth), minimise ``E`` itself on the neighbouring interval.

**Limits and the bound warning.** The range is ``gamma_bounds`` when given,
else ``γ max D = 1e-4`` (below, the kernel is a low-degree polynomial of the
distance to round-off) to ``γ min D = 50`` (above, the identity to
round-off), widened to hold ``g0`` (:func:`gamma_limits`). A minimum at an
end of the range warns ``RegularityBoundWarning``: the optimum may lie
outside.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.optimize
from sklearn.metrics.pairwise import euclidean_distances, manhattan_distances

from ._centering import abs_max
from ._fit_log import SILENT, seconds
from ._linalg import basin_starts, decompose_kernel, removed_fraction, slope_bracket
from .exceptions import RegularityBoundWarning

__all__ = [
    "choose_gamma",
    "gamma_limits",
    "grid_between",
    "loo_and_gamma_slope",
    "search_gamma",
]

# Automatic limits of the gamma="loo" search: gamma * max distance = 1e-4
# (below, the kernel is a low-degree polynomial of d to round-off) and
# gamma * min distance = 50 (above, the kernel is the identity to round-off).
_GAMMA_FLAT = 1e-4
_GAMMA_IDENTITY = 50.0
_GAMMA_STEP = 0.5  # decades between the gamma grid's points


def choose_gamma(X, Y, w, *, kernel, gamma_bounds, center, choose_alpha, log=SILENT):
    """gamma minimising the LOO error at its own LOO-optimal alpha.

    A grid in log gamma (half a decade apart) around the inverse mean
    distance, extended while its smallest value sits at an end (until
    ``gamma_bounds`` or the automatic limits), then refined by a root of
    the analytic slope in each of the two best basins.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    w : ndarray of shape (n_samples,)
        Sample weights; rows of weight 0 are left out.
    kernel : {"rbf", "laplacian"}
    gamma_bounds : (float, float) or None
        The search range; None for the automatic limits.
    center : ndarray of shape (n_features,) or None
        Subtracted from X before the rbf distances (no cancellation under
        a large common offset).
    choose_alpha : callable
        ``choose_alpha(spec, Y) -> s``: the estimator's alpha at each gamma.
    log : FitLog, default=SILENT
        Progress lines: the grid, its extensions, one line per gamma
        evaluated (an eigendecomposition each) and the result.

    Returns
    -------
    gamma : float

    Warns
    -----
    RegularityBoundWarning
        Where the smallest error sits at an end of the searched range.
    """
    # zero-weight samples do not change the fit; leave them out here
    rows = w > 0
    X, Y, w = X[rows], Y[rows], w[rows]
    started = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        if kernel == "rbf":
            D = euclidean_distances(X if center is None else X - center, squared=True)
        else:
            D = manhattan_distances(X)
    if not np.all(np.isfinite(D)):
        raise ValueError(
            "gamma='loo': the pairwise distances of X overflow float64 "
            f"(entries up to {abs_max(X):.3g}"
            "); rescale X."
        )
    # scale: the weighted mean distance over pairs (invariant to repeating
    # a sample instead of weighting it)
    mean_d = (w @ D @ w) / w.sum() ** 2
    g0 = 1.0 / mean_d if mean_d > 0 else 1.0
    limits = gamma_limits(gamma_bounds, D, g0)
    return search_gamma(
        lambda gamma: loo_and_gamma_slope(choose_alpha, D, gamma, Y, w),
        g0,
        limits,
        w.size,
        log,
        started,
    )


def search_gamma(loo_and_slope, g0, limits, n, log=SILENT, started=None):
    """The search of :func:`choose_gamma` once the distances are known
    (shared with the device path, ``skrt._kernel_xp``).

    Parameters
    ----------
    loo_and_slope : callable
        ``gamma -> (LOO error at its optimal alpha, slope in log gamma)``,
        two floats (one eigendecomposition).
    g0 : float
        The starting gamma (inverse weighted mean distance).
    limits : (float, float, bool)
        :func:`gamma_limits`.
    n : int
        Rows of the kernel matrix (for the progress lines).
    log : FitLog, default=SILENT
    started : float or None
        ``time.perf_counter()`` at the search's start.

    Returns
    -------
    gamma : float
    """
    started = time.perf_counter() if started is None else started
    lo, hi, user = limits
    step = _GAMMA_STEP * np.log(10.0)
    t0 = float(np.clip(np.log(g0), lo, hi))
    log_grid = grid_between(t0 - 4 * step, t0 + 4 * step, lo, hi, step)
    memo = {}

    def evaluate(t):
        if t not in memo:
            with (
                log.timed(
                    lambda: (
                        f"gamma search, evaluation {len(memo)}: "
                        f"gamma={np.exp(t):.4g}, LOO {memo[t][0]:.4g}"
                    )
                ),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore", RegularityBoundWarning)
                memo[t] = loo_and_slope(np.exp(t))
        return memo[t]

    def say_grid(what):
        if log.shows():
            log(
                f"gamma search: {what} {log_grid.size} gammas from "
                f"{np.exp(log_grid[0]):.3g} to {np.exp(log_grid[-1]):.3g}, one "
                f"eigendecomposition of a {n} x {n} kernel each"
            )

    say_grid("grid of")
    vals = np.array([evaluate(t)[0] for t in log_grid])
    while True:  # extend the grid past an end that holds the minimum
        i = int(np.argmin(vals))
        if i == 0 and log_grid[0] > lo:
            new = grid_between(log_grid[0] - 4 * step, log_grid[0], lo, hi, step)
            new = new[new < log_grid[0] - 1e-12]
        elif i == log_grid.size - 1 and log_grid[-1] < hi:
            new = grid_between(log_grid[-1], log_grid[-1] + 4 * step, lo, hi, step)
            new = new[new > log_grid[-1] + 1e-12]
        else:
            break
        extra = np.array([evaluate(t)[0] for t in new])
        log_grid = np.concatenate([log_grid, new])
        vals = np.concatenate([vals, extra])
        order = np.argsort(log_grid)
        log_grid, vals = log_grid[order], vals[order]
        say_grid("minimum at an end, grid extended to")
    slopes = np.array([evaluate(t)[1] for t in log_grid])
    best_t, best_v = log_grid[np.argmin(vals)], vals.min()
    log(
        f"gamma search: best of the grid gamma={np.exp(best_t):.4g} "
        f"(LOO {best_v:.4g}) after {len(memo)} evaluations, "
        f"{seconds(time.perf_counter() - started)}; refining"
    )
    for i in basin_starts(vals, 2):  # the two best basins
        bracket = slope_bracket(i, slopes, log_grid)
        if bracket is not None:
            t = scipy.optimize.brentq(lambda t: evaluate(t)[1], *bracket, xtol=1e-10)
        else:
            # no sign change of the slope beside the grid minimum: the
            # error is not smooth there (the optimal alpha jumps between
            # basins as gamma moves); minimise the value itself
            a, b = max(i - 1, 0), min(i + 1, log_grid.size - 1)
            if a == b:
                continue
            t = scipy.optimize.minimize_scalar(
                lambda t: evaluate(t)[0],
                bounds=(log_grid[a], log_grid[b]),
                method="bounded",
                options={"xatol": 1e-4},
            ).x
        if evaluate(t)[0] < best_v:
            best_t, best_v = t, evaluate(t)[0]
    log(
        f"gamma search: {len(memo)} evaluations, best gamma={np.exp(best_t):.4g} "
        f"(LOO {best_v:.4g}), {seconds(time.perf_counter() - started)}"
    )
    at = None
    if best_t <= log_grid[0] + 1e-9 and log_grid.size > 1:
        at = "lower"
    elif best_t >= log_grid[-1] - 1e-9 and log_grid.size > 1:
        at = "upper"
    if at is not None:
        edge = np.exp(lo if at == "lower" else hi)
        where = (
            f"the {at} bound of gamma_bounds=({np.exp(lo):.3g}, {np.exp(hi):.3g})"
            if user
            else f"the {at} end of the automatic gamma search "
            f"(gamma={edge:.3g}, where the kernel is numerically "
            + ("flat" if at == "lower" else "the identity")
            + ")"
        )
        warnings.warn(
            f"The leave-one-out error over gamma is smallest at {where}; "
            f"gamma_={np.exp(best_t):.3g} may not be the true optimum. "
            + (
                "Widen gamma_bounds."
                if user
                else "Pass gamma_bounds or choose gamma yourself."
            ),
            RegularityBoundWarning,
            stacklevel=4,
        )
    return float(np.exp(best_t))


def gamma_limits(gamma_bounds, D, g0):
    """(log low, log high, user-given) of the gamma search.

    ``gamma_bounds`` when given; else from the pairwise distances ``D``:
    ``gamma * max D = 1e-4`` (a flat kernel) to ``gamma * min positive D =
    50`` (the identity), widened to hold the starting point ``g0``.
    """
    if gamma_bounds is not None:
        lo, hi = (float(b) for b in gamma_bounds)
        return np.log(lo), np.log(hi), True
    positive = D[D > 0]
    if positive.size == 0:  # every sample at one point: gamma is moot
        return np.log(g0), np.log(g0), False
    lo = _GAMMA_FLAT / positive.max()
    hi = _GAMMA_IDENTITY / positive.min()
    return np.log(min(lo, g0)), np.log(max(hi, g0)), False


def grid_between(a, b, lo, hi, step):
    """Points ``step`` apart from a to b, clipped to [lo, hi] (log gamma)."""
    a, b = max(a, lo), min(b, hi)
    if b - a <= 1e-12:
        return np.array([a])
    return np.linspace(a, b, max(2, int(np.ceil((b - a) / step - 1e-9)) + 1))


def loo_and_gamma_slope(choose_alpha, D, gamma, Y, w):
    """LOO error at the LOO-optimal alpha for this gamma, and its derivative
    in log gamma (the partial at fixed alpha, by the envelope theorem).

    ``choose_alpha(spec, Y) -> s`` picks alpha on this gamma's
    decomposition (the estimator's ``_choose_alpha``).

    With ``K̃ = W^{1/2} K W^{1/2}``, ``B = (K̃ + sI)⁻¹`` and
    ``dK/dγ = -D ⊙ K``: the weighted hat matrix moves by ``s B dK̃ B`` and the
    weighted residual by ``s B dK̃ B W^{1/2} y``.
    """
    K = np.exp(-gamma * D)
    spec = decompose_kernel(K, Y, w, check_symmetric=False)
    s = choose_alpha(spec, Y)
    sw = np.sqrt(w)
    dK = -gamma * D * K * sw[:, None] * sw[None, :]  # d K̃ / d log γ
    U = spec.P * (sw[:, None] / np.sqrt(spec.lam))
    B = U @ ((1.0 / (spec.lam + s) - 1.0 / s)[:, None] * U.T)
    B[np.diag_indices_from(B)] += 1.0 / s
    T = B @ dK
    d_hat = s * np.einsum("ij,ji->i", T, B)  # d h_i
    resid = spec.residual(s)  # f - y
    m = removed_fraction(w)
    denom = spec.loo_denominator(s)  # 1 - m h / w
    value, slope = 0.0, 0.0
    for j in range(Y.shape[1]):
        d_resid = s * (T @ (B @ (sw * Y[:, j]))) / sw
        e = resid[:, j] / denom
        de = d_resid / denom + resid[:, j] * (m / w) * d_hat / denom**2
        value += (w @ e**2) / w.sum()
        slope += 2.0 * (w @ (e * de)) / w.sum()
    return value / Y.shape[1], slope / Y.shape[1]
