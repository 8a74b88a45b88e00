"""The fit loop of :class:`~skrt.SGDFRegressor`: settings, solver state, epochs.

The estimator validates its parameters into one frozen :class:`SGDSettings`
and keeps one :class:`SGDFitState` (the dual θ/θ̇ state of
:mod:`skrt._dual_sgd`, the step schedule, the batch size, the optimiser's
buffers and the counters); the functions here read the settings and update
the state, so the state persists between ``partial_fit`` calls and
``warm_start`` fits as one object (as glum keeps its IRLS state).

Step schedule (``eta0="auto"``). On the objective divided by the total
weight ``W``, with ``L`` the largest eigenvalue of the centred,
weight-averaged Hessian ``(2/W) Xcᵀ diag(w) Xc`` (power iteration) and
``C = 2 max_i (‖x_i - m‖² + ω)`` the largest curvature of one row (``ω``
the intercept's step relative to θ's, ``L/2``), a mini-batch of ``b`` rows
takes the step

.. math::

    \\eta = \\frac{1}{L + 2\\alpha/W + C/b},

stable for any batch size (Gower et al. 2019's expected smoothness), ``1/L``
for full batches. Batches start at the critical size ``b = C/L`` (at least
32): larger batches no longer allow longer steps. ``"invscaling"`` divides
the step by ``(t + 1)^{power\\_t}`` (``t`` the steps taken); ``"adaptive"``
divides it by 5 when the objective stalls and the batch cannot grow.

Stopping. After each epoch one pass over the data gives the objective and the
stationarity residuals ``g = ∇_θ F`` and ``r = Hθ̇ + 2θ + 2αθ̇`` of the
undivided objective ``F = Σ w L + α‖θ‖²``, whose curvature in θ is at least
``2α``: ``‖θ - θ*‖ <= ‖g‖/(2α)`` and ``‖θ̇ - θ̇*‖ <= (‖r‖ + 2‖θ - θ*‖)/(2α)``
(:func:`skrt._dual_sgd.stationarity`). The fit stops when these bounds,
relative to ‖θ‖ and ‖θ̇‖ (and the intercept's), are at most ``tol``. When the
objective has not improved by ``tol`` (relative) for ``n_iter_no_change``
epochs, an ``"auto"`` batch doubles; at full batches the steps are
deterministic and take Nesterov's momentum (FISTA's sequence with restarts,
:func:`skrt._dual_sgd.accelerated_step`).

Online alpha. After an epoch whose residuals are below 1/4 of their
right-hand sides (``‖g‖ <= ‖2αθ‖/4``, ``‖r‖ <= ‖2θ‖/4``), log α takes an
Rprop step against the sign of ``dL_val/d log α = α mean(σ_val θ̇ᵀx)`` (the
step x1.2 while the sign holds, x0.5 when it flips, in [1e-4, 2]), and θ
follows the path to the new α to first order: ``θ ← θ + Δlog α · α θ̇``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._centering import weighted_center
from ._dual_sgd import (
    BLOCK,
    DualSGDState,
    accelerated_step,
    adam_step,
    centered_curvature,
    loss_terms,
    row_sq_norms,
    safe_norm,
    scale_tangent,
    stationarity,
)
from ._krylov import CenteredDesign, solve_cg
from ._progress import say

__all__ = [
    "SGDFitState",
    "SGDSettings",
    "begin_chunk",
    "begin_fit",
    "center_on",
    "check_divergence",
    "full_pass",
    "hold_out",
    "online_alpha_step",
    "refine_tangent_epochs",
    "run_epoch",
    "run_fit",
    "run_streamed_fit",
    "set_schedule",
    "solve_tangent_cg",
    "stream_stationarity",
]

DIVERGENCE_FACTOR = 1e8
ONLINE_SETTLED = 0.25  # stationarity residuals that allow an alpha step
MIN_AUTO_BATCH = 32  # smallest automatic batch: fewer Python steps per epoch


@dataclass(frozen=True, slots=True)
class SGDSettings:
    """The validated parameters of :class:`~skrt.SGDFRegressor` the solver
    reads (``eta0`` and ``batch_size`` may be ``"auto"``; ``online``: alpha
    adapts on a held-out set)."""

    loss: str
    epsilon: float
    fit_intercept: bool
    learning_rate: str
    eta0: float | str
    power_t: float
    batch_size: int | str
    max_iter: int
    tol: float | None
    n_iter_no_change: int
    shuffle: bool
    regularizer_schedule: str
    regularizer_interval: int | None
    tangent: bool
    online: bool
    verbose: int = 0


@dataclass(slots=True)
class SGDFitState:
    """Everything an SGDF fit carries from step to step and call to call.

    Attributes
    ----------
    dual : DualSGDState
        θ, β and their tangents (lazy shrinkage, lazy centre).
    alpha : float
        The current regularity (moves with ``alpha="online"``).
    total_weight : float
        ``W``, the weight the objective is divided by.
    seen : float
        Weight of the rows seen (``partial_fit``'s default ``W``).
    eta0 : float or None
        Base step (None until :func:`set_schedule` has run).
    curvature : tuple of float or None
        ``(L, C)`` of the ``"auto"`` step (None for a given ``eta0``).
    trace : float
        ``Σ w ‖x - m‖²`` of the data the schedule was set on (the scale of
        the stationarity floors).
    batch : int or None
        Rows per step.
    eta_scale : float
        Factor of ``"adaptive"``'s step.
    steps : int
        Mini-batch (and full-batch) steps taken (``t_``).
    epochs : int
        Epochs of the current fit, or ``partial_fit`` calls (``n_iter_``).
    since_shrink : int
        Steps since the last ``"intermittent"`` shrinkage.
    adam : tuple or None
        Adam's ``(m, v, k)``.
    momentum : tuple or None
        Nesterov's ``(t, last iterate)`` in the full-batch phase.
    rprop : tuple of float
        Online alpha's ``(step on log alpha, last hypergradient)``.
    """

    dual: DualSGDState
    alpha: float = 1.0
    total_weight: float = 0.0
    seen: float = 0.0
    eta0: float | None = None
    curvature: tuple | None = None
    trace: float = 0.0
    batch: int | None = None
    eta_scale: float = 1.0
    steps: int = 0
    epochs: int = 0
    since_shrink: int = 0
    adam: tuple | None = None
    momentum: tuple | None = None
    rprop: tuple = (0.5, 0.0)

    @classmethod
    def new(cls, n_features, cfg):
        """A fresh state at θ = θ̇ = 0."""
        return cls(DualSGDState(n_features, cfg.fit_intercept, tangent=cfg.tangent))

    def eta(self, cfg):
        """The current step (see the module docstring)."""
        eta = self.eta0
        if self.curvature is not None:
            L, C = self.curvature
            denominator = L + 2.0 * self.alpha / self.total_weight + C / self.batch
            eta = 1.0 / denominator if denominator > 0 else 1.0
        if cfg.learning_rate == "invscaling":
            return eta / (self.steps + 1) ** cfg.power_t
        return eta * self.eta_scale


# ------------------------------------------------------------------ set-up
def hold_out(X, y, w, fraction, rng):
    """A random ``fraction`` of the rows (at least one) held out:
    ``((X, y, w) of the rest, (X_val, y_val))``."""
    n_val = max(1, int(round(fraction * X.shape[0])))
    order = rng.permutation(X.shape[0])
    val, train = order[:n_val], order[n_val:]
    return (X[train], y[train], w[train]), (X[val], y[val])


def begin_fit(state, cfg, X, y, w, alpha, alpha_step):
    """Start a ``fit`` on (X, y, w) at regularity ``alpha`` (the online
    alpha's first step on log alpha ``alpha_step``): the total weight, the
    centre and, for a new state, the schedule. Returns ``X @ m``."""
    state.alpha = float(alpha)
    state.rprop = (alpha_step, 0.0)
    state.total_weight = state.seen = float(w.sum())
    state.epochs = 0
    Xm = center_on(state, cfg, X, y, w)
    set_schedule(state, cfg, X, w, Xm)
    return Xm


def begin_chunk(state, cfg, X, y, w, alpha, total_weight=None, first=False):
    """Start a ``partial_fit`` chunk at regularity ``alpha``: ``W`` is
    ``total_weight`` or the weight seen so far; the ``first`` chunk sets the
    centre and the schedule. Returns ``X @ m``."""
    state.alpha = float(alpha)
    state.seen += float(w.sum())
    state.total_weight = float(total_weight) if total_weight else state.seen
    if first:
        Xm = center_on(state, cfg, X, y, w)
    else:
        Xm = np.asarray(X @ state.dual.center)
    set_schedule(state, cfg, X, w, Xm)
    return Xm


def center_on(state, cfg, X, y, w):
    """Centre the parametrisation on the weighted column mean; ``X @ m``."""
    dual = state.dual
    if cfg.fit_intercept:
        x_mean, _, _ = weighted_center(X, y[:, None], w, True)
        dual.set_center(x_mean)
    return np.asarray(X @ dual.center)


def set_schedule(state, cfg, X, w, Xm):
    """The step and the batch, once per state: ``eta0``, or
    ``1 / (L + 2 alpha/W + C/b)`` for "auto" with the critical batch."""
    if state.eta0 is not None:
        return
    dual = state.dual
    m = dual.center
    spread = _row_spread(X, Xm, dual)
    state.trace = float(w @ spread)  # Σ w ‖x - m‖²: scale of X_cᵀ w y
    n = X.shape[0]
    if cfg.eta0 != "auto":
        state.eta0 = float(cfg.eta0)
        state.curvature = None
        state.batch = n if cfg.batch_size == "auto" else cfg.batch_size
        return
    L = centered_curvature(X, w, m) if state.trace > 0 else 0.0
    dual.omega = L / 2.0 if L > 0 and cfg.fit_intercept else 1.0
    L = max(L, 2.0 * dual.omega if cfg.fit_intercept else L)
    C = 2.0 * (float(spread.max()) + (dual.omega if cfg.fit_intercept else 0.0))
    state.curvature = (L, C)
    state.eta0 = 1.0
    if cfg.batch_size != "auto":
        state.batch = cfg.batch_size
    elif L <= 0:
        state.batch = n
    else:  # the critical batch: larger batches no longer allow longer steps
        state.batch = int(min(n, max(MIN_AUTO_BATCH, np.ceil(C / L))))


def _row_spread(X, Xm, dual):
    """``‖x_i - m‖²`` of every row (``Xm = X @ m``)."""
    if sp.issparse(X):  # ‖x - m‖² = ‖x‖² - 2 xᵀm + ‖m‖², no densified rows
        return np.maximum(row_sq_norms(X) - 2.0 * Xm + dual.mm, 0.0)
    m = dual.center  # centred blocks: no cancellation, no copy of X
    return np.concatenate(
        [row_sq_norms(X[i : i + BLOCK] - m) for i in range(0, X.shape[0], BLOCK)]
    )


# ------------------------------------------------------------------ passes
def run_epoch(state, cfg, X, Xm, y, w, rng, shuffle=None):
    """One pass of mini-batch steps over the data (``Xm = X @ m``)."""
    n = X.shape[0]
    batch = min(state.batch, n)
    shuffle = (cfg.shuffle if shuffle is None else shuffle) and batch < n
    # draw each batch's rows from a permutation: no copy of X per epoch
    order = None
    if shuffle:  # int32 indices when they fit: half the memory of a permutation
        order = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
        rng.shuffle(order)
    st = state.dual
    interval = cfg.regularizer_interval or int(np.ceil(n / batch))
    continuous = cfg.regularizer_schedule == "continuous"
    # ceil(n / batch) batches of equal size (to one row): no short last
    # batch, whose curvature the step was not chosen for
    bounds = np.linspace(0, n, -(-n // batch) + 1).astype(np.int64)
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        rows = slice(start, stop)
        if order is not None:
            rows = np.sort(order[rows])
        Xb, yb, wb, Xbm = X[rows], y[rows], w[rows], Xm[rows]
        if wb.sum() <= 0:
            continue
        eta = state.eta(cfg)
        s = state.alpha
        pred, xdot = st.responses(Xb, Xbm)
        _, grad, curv = loss_terms(cfg.loss, cfg.epsilon, pred - yb)
        hess_dot = curv * xdot if xdot is not None else None
        if continuous:
            st.shrink(eta, s, state.total_weight)
        if cfg.learning_rate == "adam":
            state.adam = adam_step(st, state.adam, Xb, grad, hess_dot, wb, eta)
        else:
            st.data_step(Xb, Xbm, grad, hess_dot, wb, eta)
        state.steps += 1
        if not continuous:
            state.since_shrink += 1
            if state.since_shrink >= interval:
                st.shrink(eta, s, state.total_weight, times=state.since_shrink)
                state.since_shrink = 0
    st.sync()  # mᵀu and mᵀv afresh: no drift of the incremental sums


def full_pass(state, cfg, X, Xm, y, w):
    """Objective and stationarity bounds (see ``_dual_sgd.stationarity``)."""
    return stationarity(
        state.dual,
        X,
        Xm,
        y,
        w,
        alpha=state.alpha,
        loss=cfg.loss,
        epsilon=cfg.epsilon,
        total_weight=state.total_weight,
        trace=state.trace,
    )


def check_divergence(state, cfg, loss, first_loss):
    """A ValueError when the objective is not finite or has exploded."""
    st = state.dual
    finite = np.isfinite(loss) and np.isfinite(st.c) and np.isfinite(st.d)
    exploding = first_loss is not None and loss > DIVERGENCE_FACTOR * max(
        first_loss, 1e-300
    )
    if not finite or exploding:
        raise ValueError(
            f"SGDFRegressor diverged (objective {loss:.3g}) with "
            f"learning_rate={cfg.learning_rate!r}, eta0={cfg.eta0!r} "
            f"(step {state.eta(cfg):.3g}): lower eta0 (or use eta0='auto', "
            "or scale X and y)."
        )


# ---------------------------------------------------------------- the loop
def _full_batch_phase(state, cfg, n):
    """Whether "auto" batches have grown to the whole data set: the steps
    are then deterministic and take Nesterov's momentum."""
    return (
        cfg.batch_size == "auto"
        and state.batch >= n
        and state.curvature is not None
        and cfg.learning_rate in ("constant", "adaptive")
    )


def _on_stall(state, cfg, n):
    """Grow the batch, or shrink the adaptive step; False: stop (the noise
    floor of this batch and step is reached)."""
    if cfg.batch_size == "auto" and state.batch < n:
        state.batch = min(2 * state.batch, n)
    elif cfg.learning_rate == "adaptive" and state.eta_scale > 1e-6:
        state.eta_scale /= 5.0
    elif state.batch < n or cfg.learning_rate != "constant":
        return False
    return True


def run_fit(state, cfg, X, Xm, y, w, rng, validation=None):
    """Epochs until stationary (``tol``), stalled or ``max_iter``.

    ``validation`` is the held-out ``(X_val, y_val)`` of ``alpha="online"``
    (then ``max_iter`` epochs run). Returns ``(stop, error)``: ``stop`` is
    "converged", "stalled" or None (``max_iter`` reached), ``error`` the last
    relative error bound (None when the last epoch moved alpha).
    """
    n = X.shape[0]
    best, stall, stop = None, 0, None
    first_loss = stats = None
    state.momentum = None
    for epoch in range(cfg.max_iter):
        accelerate = stats is not None and _full_batch_phase(state, cfg, n)
        if accelerate:  # the gradient at this point is the last pass's
            step = state.eta(cfg) / state.total_weight
            state.momentum = accelerated_step(state.dual, stats, step, state.momentum)
            state.steps += 1
        else:
            run_epoch(state, cfg, X, Xm, y, w, rng)
        state.epochs += 1
        stats = full_pass(state, cfg, X, Xm, y, w)
        loss = stats["objective"]
        first_loss = loss if first_loss is None else first_loss
        check_divergence(state, cfg, loss, first_loss)
        if cfg.verbose:
            say(
                cfg.verbose,
                "SGDFRegressor",
                f"epoch {epoch + 1}/{cfg.max_iter}: objective/W {loss:.6g}, "
                f"eta {state.eta(cfg):.3g}, batch {state.batch}, "
                f"alpha {state.alpha:.4g}, error bound "
                f"{stats['error']:.3g}, steps {state.steps}",
            )
        if validation is not None:
            if _settled(state, stats):
                online_alpha_step(state, cfg, *validation)
                stats, state.momentum = None, None  # the point moved
            continue  # alpha moves: run max_iter epochs
        if cfg.tol is None:
            continue
        if stats["error"] <= cfg.tol:
            stop = "converged"
            break
        if accelerate:
            continue  # deterministic steps: only max_iter stops them
        if best is None or loss < best - cfg.tol * abs(best):
            best, stall = loss, 0
            continue
        stall += 1
        if stall < cfg.n_iter_no_change:
            continue
        best, stall = None, 0
        if not _on_stall(state, cfg, n):
            stop = "stalled"
            break
    return stop, (None if stats is None else stats["error"])


# ------------------------------------------------------- streamed (dask)
def stream_stationarity(state, cfg, chunks, total_weight, scales):
    """:func:`full_pass` over data given as row chunks, summed chunk by chunk.

    ``chunks`` yields validated ``(X, y, w)``; ``scales`` is a dict that
    caches ``Σ w ‖x - m‖²``, ``Σ w y²`` and ``Σ w`` of the whole data
    (filled by the first call: the centre is fixed during a fit). The
    gradient ``g``, the tangent's residual ``r``, the intercept's ``g_b``,
    ``r_b`` and the objective are sums over the rows plus a penalty term
    (:func:`skrt._dual_sgd.stationarity`): each chunk's pass counts the
    penalty once, the sum removes the extra copies; the bounds are then
    those of the whole data. ``stats["rss"]`` is ``Σ w (x_iᵀθ + b -
    y_i)²`` at the current point.
    """
    st = state.dual
    s = state.alpha
    theta = st.coef
    penalty_g = 2.0 * s * theta
    penalty_r = 2.0 * s * st.coef_tangent + 2.0 * theta if st.tangent else 0.0
    penalty_objective = s * float(theta @ theta) / total_weight
    sums = {"g": 0.0, "r": 0.0, "g_b": 0.0, "r_b": 0.0, "objective": 0.0}
    fill = not scales
    trace = wyy = weight = rss = 0.0
    intercept = st.intercept
    k = 0
    for X, y, w in chunks:
        Xm = np.asarray(X @ st.center)
        part = full_pass(state, cfg, X, Xm, y, w)
        for key in sums:
            sums[key] = sums[key] + part.get(key, 0.0)
        k += 1
        rss += float(w @ (np.asarray(X @ theta) + intercept - y) ** 2)
        if fill:
            trace += float(w @ _row_spread(X, Xm, st))
            wyy += float(w @ y**2)
            weight += float(w.sum())
    if fill:
        scales.update(trace=trace, wyy=wyy, weight=weight)
    extra = max(k - 1, 0)
    sums["g"] = sums["g"] - extra * penalty_g
    if st.tangent:
        sums["r"] = sums["r"] - extra * penalty_r
    sums["objective"] -= extra * penalty_objective
    stats = _bounds(st, s, sums, scales)
    stats["rss"] = rss
    return stats


def _bounds(st, s, sums, scales):
    """The relative error bound of :func:`skrt._dual_sgd.stationarity` from
    the summed ``g``, ``r``, ``g_b``, ``r_b`` (and the data's scales)."""
    theta = st.coef
    g = sums["g"]
    W = scales["weight"]
    m_norm = float(safe_norm(st.center))
    g_floor = 1e-12 * 2.0 * np.sqrt(scales["trace"] * scales["wyy"])
    norm_theta = float(safe_norm(theta))
    err_theta = float(safe_norm(g)) / (2.0 * s)
    rel = err_theta / max(norm_theta, g_floor / (2.0 * s), 1e-300)
    stats = {"objective": sums["objective"], "g": g, "g_b": 0.0, "r_b": 0.0}
    if st.fit_intercept:
        stats["g_b"] = sums["g_b"]
        err_b = abs(sums["g_b"]) / (2.0 * W)
        scale_b = abs(st.beta) + m_norm * norm_theta
        y_rms = np.sqrt(scales["wyy"] / W)
        rel = max(rel, err_b / max(scale_b, 1e-12 * y_rms, 1e-300))
    if st.tangent:
        theta_dot = st.coef_tangent
        stats["r"], stats["r_b"] = sums["r"], sums["r_b"]
        err_dot = (float(safe_norm(sums["r"])) + 2.0 * err_theta) / (2.0 * s)
        norm_dot = float(safe_norm(theta_dot))
        floor_dot = g_floor / (2.0 * s * s)
        rel = max(rel, err_dot / max(norm_dot, floor_dot, 1e-300))
        if st.fit_intercept:
            err_bd = abs(sums["r_b"]) / (2.0 * W)
            scale_bd = abs(st.beta_dot) + m_norm * norm_dot
            rel = max(rel, err_bd / max(scale_bd, floor_dot, 1e-300))
    stats["error"] = rel
    return stats


def _on_stall_streamed(state, cfg, largest, n_rows):
    """:func:`_on_stall` with an ``"auto"`` batch capped at the ``largest``
    chunk; once it holds one, the next stall takes the whole data
    (full-batch steps with momentum, :func:`_full_batch_phase`)."""
    if (
        cfg.batch_size == "auto"
        and largest <= state.batch < n_rows
        and state.curvature is not None
        and cfg.learning_rate in ("constant", "adaptive")
    ):
        state.batch = n_rows
        return True
    return _on_stall(state, cfg, largest)


def run_streamed_fit(state, cfg, stream, shape, alpha, total_weight, rng):
    """:func:`run_fit` on data too large for memory, read as row chunks.

    ``stream(order, first)`` yields the validated ``(X, y, w)`` of the chunks
    in ``order`` (None: as stored; ``first``: the fit's first pass);
    ``shape`` is ``(n_rows, n_chunks, largest chunk's rows)``. An epoch
    runs :func:`begin_chunk` and :func:`run_epoch` on each chunk — what
    ``partial_fit`` does on it, with ``W = total_weight`` — in a random
    chunk order when ``cfg.shuffle`` (rows shuffled within each chunk);
    the first chunk of the first epoch sets the centre (and, for a new
    state, the schedule). One more pass (:func:`stream_stationarity`) gives
    the stopping bounds (and ``stats["rss"]``, the weighted residual sum of
    squares at the end). An ``"auto"`` batch grows to the largest chunk,
    then to the whole data: full-batch steps with Nesterov's momentum, one
    pass each. Returns ``(stop, error, rss)``: ``stop`` and ``error`` as
    :func:`run_fit`, ``rss`` the last pass's ``Σ w (x_iᵀθ + b - y_i)²``.
    """
    n_rows, n_chunks, largest = shape
    state.alpha = float(alpha)
    state.total_weight = float(total_weight)
    state.epochs = 0
    state.momentum = None
    scales = {}
    best, stall, stop = None, 0, None
    first_loss = stats = None
    for epoch in range(cfg.max_iter):
        accelerate = stats is not None and _full_batch_phase(state, cfg, n_rows)
        if accelerate:
            step = state.eta(cfg) / state.total_weight
            state.momentum = accelerated_step(state.dual, stats, step, state.momentum)
            state.steps += 1
        else:
            order = rng.permutation(n_chunks) if cfg.shuffle else None
            for k, (X, y, w) in enumerate(stream(order, epoch == 0)):
                first = epoch == 0 and k == 0
                Xm = begin_chunk(state, cfg, X, y, w, alpha, total_weight, first)
                run_epoch(state, cfg, X, Xm, y, w, rng)
        state.epochs += 1
        passes = stream(None, False)
        stats = stream_stationarity(state, cfg, passes, total_weight, scales)
        loss = stats["objective"]
        first_loss = loss if first_loss is None else first_loss
        check_divergence(state, cfg, loss, first_loss)
        if cfg.verbose:
            say(
                cfg.verbose,
                "SGDFRegressor",
                f"epoch {epoch + 1}/{cfg.max_iter} ({n_chunks} chunks): "
                f"objective/W {loss:.6g}, eta {state.eta(cfg):.3g}, batch "
                f"{state.batch}, error bound {stats['error']:.3g}, steps "
                f"{state.steps}",
            )
        if cfg.tol is None:
            continue
        if stats["error"] <= cfg.tol:
            stop = "converged"
            break
        if accelerate:
            continue
        if best is None or loss < best - cfg.tol * abs(best):
            best, stall = loss, 0
            continue
        stall += 1
        if stall < cfg.n_iter_no_change:
            continue
        best, stall = None, 0
        if not _on_stall_streamed(state, cfg, largest, n_rows):
            stop = "stalled"
            break
    state.seen = float(total_weight)
    return stop, stats["error"], stats["rss"]


# ------------------------------------------------------------- online alpha
def _settled(state, stats):
    """Whether θ and θ̇ are close enough to θ*(s), θ̇*(s) to trust the
    hypergradient.

    Stationarity residuals on the training data, each relative to its
    right-hand side: ``‖∇f(θ)‖ / ‖2sθ‖`` (the optimisation error in units
    of ``s θ̇``, the path's step per unit log s; the hypergradient's
    zero then moves by about this much in log s) and ``‖Hθ̇ + 2θ‖ /
    ‖2θ‖``, from the epoch's pass over the data.
    """
    s = state.alpha
    rhs = 2.0 * np.linalg.norm(state.dual.coef)
    if rhs == 0.0:
        return False
    opt = np.hypot(np.linalg.norm(stats["g"]), stats["g_b"]) / (s * rhs)
    tan = np.hypot(np.linalg.norm(stats["r"]), stats["r_b"]) / rhs
    return max(opt, tan) <= ONLINE_SETTLED


def online_alpha_step(state, cfg, X_val, y_val):
    """One Rprop step on log s from the whole held-out set's hypergradient.

    ``d L_val / d log s = s σ_valᵀ θ̇`` (mean over the validation set). Only
    its sign is used: the step in log s grows by 1.2 while the sign
    holds and halves when it flips, so the rate is scale-free and settles
    where the hypergradient changes sign (the validation optimum).
    """
    st = state.dual
    pred, xdot = st.responses(X_val, np.asarray(X_val @ st.center))
    _, grad, _ = loss_terms(cfg.loss, cfg.epsilon, pred - y_val)
    s = state.alpha
    g = s * float(np.mean(grad * xdot))  # d L_val / d log s
    step, last = state.rprop
    if last * g < 0:
        step *= 0.5
    elif last * g > 0:
        step *= 1.2
    step = float(np.clip(step, 1e-4, 2.0))
    state.rprop = (step, g)
    # keep the shrink factor 1 - 2 eta alpha / W above 1/2
    cap = 0.25 * state.total_weight / state.eta(cfg)
    new = float(min(s * np.exp(-np.sign(g) * step), cap))
    # follow the path: θ*(s') ≈ θ + (log s' - log s) s θ̇, first order in log s
    dlog = np.log(new / s)
    if st.tangent:
        st.move_along_tangent(dlog * s)
    state.alpha = new


# ----------------------------------------------------------------- tangent
def solve_tangent_cg(state, cfg, X, w):
    """θ̇ from ``(Xcᵀ W Xc + alpha I) θ̇ = -θ`` by conjugate gradients, at
    the centre of the state (the weighted column mean of the fit's X)."""
    st = state.dual
    st.renormalise()
    x_mean = st.center
    design = CenteredDesign(X, x_mean, w)
    A = design.normal_operator(state.alpha)
    tangent, _ = solve_cg(
        A, -st.u, tol=1e-10, max_iter=10 * X.shape[1], what="tangent (cg)"
    )
    st.set_tangent(tangent, -x_mean @ tangent if cfg.fit_intercept else 0.0)


def refine_tangent_epochs(state, cfg, X, y, w, n_iter, eta=None):
    """LiSSA with a step size, θ frozen: ``n_iter`` epochs of
    ``θ̇ ← θ̇ - η (H_B θ̇ + (2/W)(θ + alpha θ̇))`` over the batches in order.

    The shrinkage touches the tangent's scalars and the data part the
    batch's columns only, so a step on sparse rows costs O(nnz). Needs a
    state with a tangent (``state.dual.tangent``).
    """
    st = state.dual
    eta = state.eta(cfg) if eta is None else eta
    W = float(w.sum())
    s = state.alpha
    rho = 1.0 - 2.0 * eta * s / W
    if rho <= 0:
        raise ValueError(
            f"eta={eta:g} times 2*alpha/W={2 * s / W:g} is >= 1: lower eta."
        )
    Xm = np.asarray(X @ st.center)
    batch = min(state.batch or X.shape[0], X.shape[0])
    for _ in range(n_iter):
        for start in range(0, X.shape[0], batch):
            rows = slice(start, start + batch)
            Xb, yb, wb = X[rows], y[rows], w[rows]
            pred, xdot = st.responses(Xb, Xm[rows])
            _, _, curv = loss_terms(cfg.loss, cfg.epsilon, pred - yb)
            # shrink the tangent only: θ̇ ← ρ θ̇ - (2η/W) θ, θ unchanged
            scale_tangent(st, rho, 2.0 * eta / W)
            st.data_step(Xb, Xm[rows], None, curv * xdot, wb, eta, update_theta=False)
