r"""RegularityRidge fitted on Dask arrays (tall designs on a cluster).

``RegularityRidge.fit`` comes here when X is a ``dask.array``
(:func:`skrt._dask_spectral.is_dask_collection`); dask is imported only
then. The fit is the numpy path's ``solver="eigen"`` on the covariance side
(``docs/math.rst`` §§ ``math-centering``, ``math-spectral``, ``math-loo``,
``math-alpha-search``), with every sum over rows taken chunk by chunk on the
cluster and only ``p x p`` and ``p x rank`` arrays brought back:

1. **moments** (one pass): weighted means, ``XcᵀWXc`` and ``XcᵀWyc`` by the
   stable merge of per-chunk moments (:mod:`skrt._dask_moments`: no
   cancellation from offset columns);
2. the ``p x p`` decomposition, locally (``numpy`` eigh, or the
   relative-accurate one for graded columns: :func:`skrt._linalg.decompose_gram`);
3. **the grid** (one pass): per chunk ``P = Xc V``, the exact leave-one-out
   error and its slope at every alpha of the 33-point grid
   (:func:`skrt._dask_spectral.chunk_sums`), summed over chunks, and the
   sums that make RSS, GCV, ``H⁻¹σ_T`` closed forms in ``s``;
4. **the refinement** (usually two passes, :mod:`skrt._dask_alpha`): each
   pass evaluates every bracket's candidates at once.

``alpha="loo"`` thus reads the data four times (moments, grid, two
refinement rounds), a float alpha twice, ``"gcv"`` three times (its search
runs on the closed forms; the last pass is ``loo_error_``). ``coef_``,
``coef_tangent_``, ``alpha_``, ``loo_error_``, ``noise_variance_`` are
numpy; ``leverage_`` and ``loo_residuals_`` are lazy dask arrays chunked
like X's rows, which re-read X and y when computed.
"""

from __future__ import annotations

import time
from dataclasses import replace

import dask
import dask.array as da
import numpy as np

from ._base import reset_fitted
from ._dask_alpha import search_in_passes
from ._dask_moments import center_moments, chunk_moments, merge_all
from ._dask_spectral import (
    DaskSpectral,
    chunk_sums,
    is_dask_collection,
    map_row_blocks,
    unpack_sums,
)
from ._fit_log import FitLog, check_verbose, fit_summary, seconds
from ._influence import LeaveOneOut, leave_one_out_record
from ._linalg import decompose_gram, default_alpha_bounds, noise_variance
from ._solutions import RidgeSolution
from ._validation import check_sample_weight

__all__ = ["Passes", "fit_dask_ridge", "lazy_rows", "sum_all", "training_arrays"]

# chunks merged per node of the tree reductions
_SPLIT_EVERY = 8
# the largest p x p decomposition (as the numpy path's)
_MAX_SIDE = 20000
_N_GRID = 33


def check_dask_settings(est):
    """The settings the Dask path has: a ValueError naming what works."""
    if est.solver not in ("auto", "eigen"):
        raise ValueError(
            f"solver={est.solver!r} is not available for a Dask X: the Dask "
            "path decomposes XᵀWX summed over chunks (its own solver='eigen'); "
            "use solver='auto' or solver='eigen' (or fit on a numpy X)."
        )
    if est.prior is not None:
        raise ValueError(
            "prior=... is not available for a Dask X; use prior=None, or fit "
            "the model with a prior on numpy arrays."
        )


def _numeric(a, name):
    dtype = np.dtype(a.dtype)
    if dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers; got a dask array of dtype {dtype}."
        )


def training_arrays(X, y, sample_weight):
    """``(X, Y, w, y_ndim, weighted)``: X with one column chunk, ``Y`` 2-d
    and ``w`` 1-d dask arrays chunked like X's rows; ``weighted`` is False
    where every weight is known to be 1.

    Raises
    ------
    TypeError
        X not a dask array with numpy chunks, non-numeric data.
    ValueError
        Shapes that do not match, unknown chunk sizes, bad weights.
    """
    if not isinstance(X, da.Array):
        raise TypeError(
            f"X is a {type(X).__module__}.{type(X).__name__}: RegularityRidge "
            "fits a dask.array X on Dask (convert a Dask DataFrame with "
            "X.to_dask_array(lengths=True))."
        )
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-d dask array; got shape {X.shape}.")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "X has unknown chunk sizes (from a Dask DataFrame?); call "
            "X.compute_chunk_sizes() first, or build it with "
            "to_dask_array(lengths=True)."
        )
    meta = getattr(X, "_meta", None)
    if meta is not None and not isinstance(meta, np.ndarray):
        raise TypeError(
            f"X's chunks are {type(meta).__module__}.{type(meta).__name__}, not "
            "numpy arrays: the Dask path of RegularityRidge takes dense chunks "
            "(densify them with X.map_blocks(lambda b: b.toarray()), or fit a "
            "scipy.sparse X in memory)."
        )
    _numeric(X, "X")
    n, p = X.shape
    if n == 0 or p == 0:
        raise ValueError(
            f"Found array with {n} sample(s) and {p} feature(s) (shape={X.shape}) "
            "while a minimum of 1 is required."
        )
    X = X.rechunk({1: -1})
    rows = X.chunks[0]
    if not is_dask_collection(y):
        try:
            y = np.asarray(y, dtype=float)
        except (TypeError, ValueError):
            raise TypeError("y must be numeric.") from None
        if y.ndim not in (1, 2) or y.shape[0] != n:
            raise ValueError(
                f"y must have shape ({n},) or ({n}, n_targets) to match X; got "
                f"shape {y.shape}."
            )
        y = da.from_array(y, chunks=(rows,) + y.shape[1:])
    elif not isinstance(y, da.Array):
        raise TypeError(
            f"y is a {type(y).__name__}; with a dask X, give y as a dask array "
            "(or a numpy array)."
        )
    _numeric(y, "y")
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(
            f"y must have shape ({n},) or ({n}, n_targets) to match X; got "
            f"shape {y.shape}."
        )
    y_ndim = y.ndim
    Y = (y[:, None] if y_ndim == 1 else y).rechunk({0: rows, 1: -1})
    weighted = True
    if sample_weight is None:
        w, weighted = da.ones(n, chunks=(rows,)), False
    elif not is_dask_collection(sample_weight):
        w = check_sample_weight(sample_weight, n)
        weighted = not bool(np.all(w == 1.0))
        w = da.from_array(w, chunks=(rows,))
    elif not isinstance(sample_weight, da.Array):
        raise TypeError(
            f"sample_weight is a {type(sample_weight).__name__}; give a dask "
            "array, a numpy array or a float."
        )
    else:
        w = sample_weight
        _numeric(w, "sample_weight")
        if w.shape != (n,):
            raise ValueError(
                f"sample_weight must have shape ({n},) to match X; got shape {w.shape}."
            )
        w = w.rechunk({0: rows})
    return X, Y, w, y_ndim, weighted


def sum_all(parts):
    """The sum of a list of arrays (a node of a tree reduction)."""
    out = np.array(parts[0], dtype=float)
    for part in parts[1:]:
        out = out + part
    return out


def _tree(parts, combine):
    """A delayed tree reduction of ``parts`` by ``combine(list)``."""
    while len(parts) > 1:
        parts = [
            dask.delayed(combine, pure=True)(parts[i : i + _SPLIT_EVERY])
            for i in range(0, len(parts), _SPLIT_EVERY)
        ]
    return parts[0]


class Passes:
    """Reductions over the row chunks of ``(X, Y, w)``, one ``compute``
    (one read of the data) each; ``count`` says how many were run."""

    def __init__(self, X, Y, w):
        # unoptimised graphs keep keys shared by X and y (y = X @ b + e):
        # one compute reads such a source chunk once
        self.blocks = list(
            zip(
                X.to_delayed(optimize_graph=False).ravel(),
                Y.to_delayed(optimize_graph=False).ravel(),
                w.to_delayed(optimize_graph=False).ravel(),
                strict=True,
            )
        )
        self.offsets = np.cumsum((0,) + X.chunks[0][:-1]).tolist()
        self.count = 0

    def reduce(self, fn, combine, *args, offsets=False):
        """``combine`` over ``fn(X_chunk, Y_chunk, w_chunk, *args)``, with
        the chunk's first row appended to the arguments where ``offsets``;
        a :class:`DaskSpectral` argument goes as its rows-only copy, and
        every array argument once (one key), not into each task."""
        args = [_constant(a) for a in args]
        call = dask.delayed(fn, pure=True)
        parts = [
            call(x, y, w, *args, *([start] if offsets else []))
            for (x, y, w), start in zip(self.blocks, self.offsets, strict=True)
        ]
        (out,) = dask.compute(_tree(parts, combine))
        self.count += 1
        return out

    def moments(self):
        return self.reduce(chunk_moments, merge_all)

    def sums(self, spec, alphas, stats=False, weighted=True):
        """The summed :func:`skrt._dask_spectral.chunk_sums`, unpacked."""
        alphas = np.atleast_1d(np.asarray(alphas, dtype=float))
        vector = self.reduce(_chunk_sums, sum_all, spec, alphas, stats, weighted)
        return unpack_sums(vector.ravel(), spec, alphas.size, stats, weighted)


def _constant(a):
    """A task argument: arrays and decompositions as one shared key."""
    if isinstance(a, DaskSpectral):
        a = a.rows_only()
    elif not isinstance(a, (np.ndarray, dict, list, tuple)):
        return a
    return dask.delayed(a, pure=True)


def _chunk_sums(X, Y, w, spec, alphas, stats, weighted):
    return chunk_sums(spec, X, Y, w, alphas, stats=stats, weighted=weighted)


def lazy_rows(fn, spec, width, X, Y, w, *args):
    """A lazy (n, width) dask array: ``fn(X_chunk, Y_chunk, w_chunk, spec,
    *args)`` per row chunk of the training data (``spec`` and the array
    arguments sent once, as keys of their own, not inside every task)."""
    return da.map_blocks(
        fn,
        X,
        Y,
        w[:, None],
        _constant(spec),
        *(_constant(a) for a in args),
        dtype=float,
        chunks=(X.chunks[0], (width,)),
        meta=np.empty((0, width)),
    )


def _record_block(X, Y, w, spec, s):
    """``[h, y - f_(-i)]`` of the rows (``leave_one_out_record``)."""

    def block(part):
        rec = leave_one_out_record(part, s)
        return np.column_stack([rec.leverage, rec.loo_residual])

    return map_row_blocks(spec, block, X, Y, w)


def fit_dask_ridge(est, X, y, sample_weight):
    """``est.fit(X, y, sample_weight)`` on Dask arrays."""
    check_dask_settings(est)
    log = FitLog(check_verbose(est.verbose), "RegularityRidge")
    started = time.perf_counter()
    reset_fitted(est)
    X, Y, w, y_ndim, weighted = training_arrays(X, y, sample_weight)
    n, p = X.shape
    if est.alpha == "loo" and n < 3:
        raise ValueError(
            "alpha='loo' needs at least 3 samples to choose alpha by "
            f"leave-one-out; got n_samples={n}."
        )
    if p > _MAX_SIDE:
        raise ValueError(
            f"X has {p} features: the Dask path decomposes the {p} x {p} matrix "
            f"XᵀWX locally, which is too large beyond {_MAX_SIDE}; reduce the "
            "features (e.g. a random projection)."
        )
    passes = Passes(X, Y, w)
    log(
        f"{n} samples x {p} features (dask, {X.numblocks[0]} row chunks), "
        f"alpha={est.alpha!r}, solver=eigen"
    )
    with log.timed("pass 1 (weighted means, XᵀWX and XᵀWy)"):
        moments = passes.moments()
    cent = center_moments(moments, est.fit_intercept)
    with log.timed(f"eigendecomposition of the {p} x {p} XᵀWX"):
        lam, V, null = decompose_gram(cent.gram, cent.live, cent.scale, (n, p))
    spec = DaskSpectral(
        V=np.ascontiguousarray(V),
        lam=lam,
        null=null,
        w_sum=cent.w_sum,
        fit_intercept=est.fit_intercept,
        c=V.T @ cent.cross,
        x_mean=cent.x_mean,
        mean_lo=cent.mean_lo,
        live=cent.live,
        y_mean=cent.y_mean,
        y_lo=cent.y_lo,
        n_samples=n,
        n_pos=cent.n_pos,
        w_max=cent.w_max,
        interpolates=lam.size + int(est.fit_intercept) >= cent.n_pos,
    )
    s, loo_error = _choose_alpha(est, spec, passes, cent.constant_target, weighted, log)
    sol = _solution(est, spec, s, loo_error, cent, moments.x_abs_max)
    spec.data, spec.n_passes = (X, Y, w), passes.count
    record = lazy_rows(_record_block, spec, 1 + Y.shape[1], X, Y, w, s)
    sol = _with_record(sol, record)
    est._set_solution(sol, y_ndim)
    est.n_features_in_ = p
    log(
        f"fitted in {seconds(time.perf_counter() - started)} and {passes.count} "
        f"passes over the data: {fit_summary(est)}"
    )
    return est


def _choose_alpha(est, spec, passes, constant, weighted, log):
    """``(alpha_, loo_error at alpha_)``, with the passes it takes."""
    state = {}

    def stats_pass(alphas):
        out = passes.sums(spec, alphas, stats=True, weighted=weighted)
        spec.sums = {k: v for k, v in out.items() if k not in ("loo", "slope")}
        return out["loo"], out["slope"]

    def loo_pass(alphas):
        out = passes.sums(spec, alphas)
        return out["loo"], out["slope"]

    def minimize(_criterion, bounds):
        grid = np.geomspace(bounds[0], bounds[1], _N_GRID)
        with log.timed(f"pass 2 (leave-one-out at the {_N_GRID} grid alphas)"):
            values, slopes = stats_pass(grid)
        with log.timed(lambda: f"refinement ({state['rounds']} passes)"):
            alpha, value, at_bound, state["rounds"] = search_in_passes(
                loo_pass, grid, values, slopes
            )
        state["loo_error"] = value
        return alpha, float(np.mean(value)), at_bound

    bounds = default_alpha_bounds(spec.lam.max(initial=0.0))
    if isinstance(est.alpha, str) and spec.lam.size == 0:
        s = est._no_variation_alpha()
    elif est.alpha == "loo":
        s = est._logged_alpha(log, est._select_alpha, None, bounds, constant, minimize)
    elif est.alpha == "gcv" and not constant:
        with log.timed("pass 2 (sums at the basis)"):
            stats_pass(np.empty(0))
        s = est._logged_alpha(
            log,
            est._select_alpha,
            lambda a: spec.gcv(a).mean(axis=1),
            bounds,
            constant,
        )
    else:
        s = est._select_alpha(None, bounds, constant)
    s = float(s)
    if "loo_error" not in state:
        with log.timed("last pass (leave-one-out at alpha_)"):
            run = stats_pass if spec.sums is None else loo_pass
            state["loo_error"] = run(np.array([s]))[0][0]
    return s, np.atleast_1d(state["loo_error"])


def _solution(est, spec, s, loo_error, cent, x_abs_max):
    """The :class:`RidgeSolution` at alpha ``s`` from the closed forms."""
    V, c, lam = spec.V, spec.c, spec.lam
    k = c.shape[1]
    inv = (1.0 / (lam + s))[:, None]
    PtWR, wr = spec.residual_products(s)
    with np.errstate(over="ignore", invalid="ignore"):
        coef = V @ (c * inv)
        coef_tangent = V @ (-c * inv * inv)
        sti_coef = V @ (PtWR * inv)
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(coef_tangent))):
        raise ValueError(
            f"The fitted weights or their tangent overflow float64 at alpha={s:.3g}: "
            f"X's entries reach {x_abs_max:.3g} in absolute value, and the tangent "
            "dθ/dα = -A⁻¹θ grows like |θ|/alpha. Use a larger alpha, or rescale X "
            "and y (for example with sklearn.preprocessing.StandardScaler)."
        )
    rss = spec.rss(s)
    dof = float(spec.residual_dof(s))
    loo = LeaveOneOut(
        residual=None,
        leverage=None,
        loo_residual=None,
        loo_error=loo_error,
        gcv_error=spec.gcv([s])[0],
        noise_variance=np.atleast_1d(noise_variance(rss, spec.w_sum, dof)),
    )
    return RidgeSolution(
        solver="eigen",
        alpha=s,
        n_samples=spec.n_samples,
        n_iter=np.ones(k, dtype=int),
        coef=coef,
        coef_tangent=coef_tangent,
        intercept=cent.y_mean - cent.x_mean @ coef,
        intercept_tangent=-cent.x_mean @ coef_tangent,
        noise_variance=loo.noise_variance,
        x_mean=cent.x_mean,
        w_sum=spec.w_sum,
        center_value=cent.y_mean.copy(),
        sti_coef=sti_coef,
        sti_intercept=wr / spec.w_sum if spec.fit_intercept else np.zeros(k),
        offset=cent.offset,
        x_mean_lo=cent.mean_lo,
        gcv_error=loo.gcv_error,
        loo=loo,
        spectral=spec,
    )


def _with_record(sol, record):
    """``sol`` with the lazy leverages and leave-one-out residuals."""
    loo = replace(sol.loo, leverage=record[:, 0], loo_residual=record[:, 1:])
    return replace(sol, loo=loo)
