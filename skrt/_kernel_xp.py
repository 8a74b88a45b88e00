"""RegularityKernelRidge on array-API arrays (the device path).

``RegularityKernelRidge.fit`` comes here when scikit-learn's
``array_api_dispatch`` is on and X is a PyTorch, CuPy or
``array_api_strict`` array: the kernel matrix (scikit-learn's
``pairwise_kernels``, which computes in X's namespace), one ``eigh`` of
``W^{1/2} K W^{1/2}`` and the closed forms of :mod:`skrt._spectral_xp`, on
X's device, with every fitted array left there. ``gamma="loo"`` runs the
numpy path's search (:func:`skrt._kernel_search.search_gamma`) with each
gamma's decomposition, alpha search and slope on the device
(:func:`loo_and_gamma_slope`): two numbers per gamma come to the host.

The fit at ``alpha_`` comes from the eigendecomposition, as on the numpy
path where it does not use its Cholesky factor; the Cholesky path, which
the numpy fit needs for sample weights spanning more than ``1e3``, and
conjugate gradients raise the numpy-only TypeError, as does a callable
kernel (scikit-learn calls it on numpy rows).
"""

from __future__ import annotations

import math
import time

import numpy as np
from sklearn import config_context
from sklearn.metrics.pairwise import euclidean_distances, manhattan_distances
from sklearn.utils.validation import validate_data

from ._array_api import numpy_only, to_numpy
from ._base import reset_fitted
from ._fit_log import FitLog, check_verbose, fit_summary, seconds
from ._fitted_xp import DeviceView, sample_weights, short_name
from ._kernel_exact import GRADED_WEIGHTS, KERNEL_MAX, KERNEL_MIN, check_fit_shape
from ._kernel_search import gamma_limits, search_gamma
from ._solutions import KernelSolution
from ._spectral_xp import (
    decompose_kernel,
    float_dtype,
    loo_record,
    namespace_of,
    positive_part,
    removed,
)

__all__ = ["KernelView", "fit_kernel", "loo_and_gamma_slope"]


def fit_kernel(est, X, y, sample_weight, namespace):
    """``est.fit(X, y, sample_weight)`` on the device of ``namespace``."""
    xp, device = namespace
    if callable(est.kernel):
        raise numpy_only(
            "a callable kernel", "a named kernel ('rbf', 'linear'...) or 'precomputed'"
        )
    if est.solver == "cg":
        raise numpy_only("solver='cg'", "solver='eigen' or 'auto'")
    precomputed = est.kernel == "precomputed"
    log = FitLog(check_verbose(est.verbose), "RegularityKernelRidge")
    started = time.perf_counter()
    reset_fitted(est)
    dtype = float_dtype(xp, device)
    with config_context(array_api_dispatch=True):
        X, y = validate_data(est, X, y, dtype=dtype, multi_output=True, y_numeric=True)
    n = X.shape[0]
    check_fit_shape(X.shape, precomputed, est.alpha)
    w = sample_weights(sample_weight, n, xp, device, dtype)
    spread = _weight_spread(xp, w)
    if spread > GRADED_WEIGHTS:
        raise numpy_only(
            f"sample weights spanning {spread:.3g} (more than {GRADED_WEIGHTS:g}: "
            "the fit by the Cholesky factor of K + alpha W⁻¹)",
            "weights within a factor 1e3 of each other",
        )
    y = xp.asarray(y, dtype=dtype, device=device)  # y given as a list: numpy
    Y = xp.reshape(y, (n, -1))
    if not precomputed:
        _check_input_scale(xp, X)
    est.X_fit_ = X
    if est.kernel == "rbf" and n:
        est._kernel_center = xp.mean(X, axis=0)
    est._w = w
    view = KernelView.unfitted(est, xp, device, dtype)
    log(
        f"{n} samples ({short_name(xp)} on {device}), kernel={est.kernel}, "
        f"alpha={est.alpha!r}, gamma={est.gamma!r}, solver=eigen"
    )
    gamma = est.gamma
    if gamma == "loo":
        gamma = choose_gamma(est, X, Y, w, log)
    est.gamma_ = gamma
    with log.timed(f"kernel matrix {n} x {n}"):
        K = view.kernel(X)
    _check_kernel_scale(xp, K, X, precomputed)
    with log.timed(f"eigendecomposition of a {n} x {n} kernel"):
        spec = decompose_kernel(K, Y, w, check_symmetric=precomputed)
    searched = time.perf_counter()
    s = est._choose_alpha(spec, Y)
    if isinstance(est.alpha, str):
        took = seconds(time.perf_counter() - searched)
        log(f"alpha search ({est.alpha}): alpha_={s:.4g}, {took}")
    loo = loo_record(spec, s)
    dual, dual_tangent, sti_dual = spec.weights_at(s, loo.residual, dual=True)
    sol = KernelSolution(
        solver="eigen",
        alpha=float(s),
        n_samples=n,
        n_iter=xp.ones(Y.shape[1], dtype=xp.int64, device=device),
        dual=dual,
        dual_tangent=dual_tangent,
        sti_dual=sti_dual,
        noise_variance=loo.noise_variance,
        gcv_error=loo.gcv_error,
        loo=loo,
        spectral=spec,
    )
    est._set_solution(sol, y.ndim)
    log(f"fitted in {seconds(time.perf_counter() - started)}: {fit_summary(est)}")
    return est


def _weight_spread(xp, w):
    """Largest over smallest positive weight (``skrt._kernel_exact.weight_spread``)."""
    positive = w > 0
    top = float(xp.max(w))
    low = float(xp.min(xp.where(positive, w, top)))
    return top / low if low > 0 else 1.0


def _check_input_scale(xp, X):
    """Squared row norms of X finite (``skrt._kernel_exact.check_input_scale``)."""
    if X.shape[0] == 0:
        return
    sq = float(xp.max(xp.sum(X * X, axis=1)))
    if not (math.isfinite(sq) and sq <= 1e300):
        raise ValueError(
            f"X has entries up to {float(xp.max(xp.abs(X))):.3g} in absolute "
            "value: its squared norms and pairwise distances overflow float64, "
            "so the kernel cannot be evaluated. Rescale X (e.g. with a "
            "StandardScaler in a Pipeline)."
        )


def _check_kernel_scale(xp, K, X, precomputed):
    """K finite and within the numpy path's bounds
    (``skrt._kernel_exact.check_kernel_scale``)."""
    top = float(xp.max(xp.abs(K))) if K.shape[0] else 0.0
    if top <= KERNEL_MAX and (top == 0.0 or top >= KERNEL_MIN):
        return
    what = "The kernel matrix X" if precomputed else "The kernel matrix of X"
    state = "is not finite" if not math.isfinite(top) else f"reaches {top:.3g}"
    raise ValueError(
        f"{what} {state}: outside [{KERNEL_MIN:g}, {KERNEL_MAX:g}] the closed "
        "forms, which square its eigenvalues, over- or underflow float64. "
        + ("Rescale the kernel matrix." if precomputed else "Rescale X.")
    )


# -- gamma="loo" ----------------------------------------------------------------


def choose_gamma(est, X, Y, w, log):
    """gamma minimising the LOO error at its own LOO-optimal alpha
    (:func:`skrt._kernel_search.choose_gamma`), every gamma on the device."""
    xp, device = namespace_of(X)
    positive = w > 0
    if not bool(xp.all(positive)):  # zero-weight rows do not change the fit
        rows = xp.nonzero(positive)[0]
        X, Y, w = (xp.take(a, rows, axis=0) for a in (X, Y, w))
    started = time.perf_counter()
    center = getattr(est, "_kernel_center", None)
    with config_context(array_api_dispatch=True):
        if est.kernel == "rbf":
            D = euclidean_distances(X if center is None else X - center, squared=True)
        else:
            D = manhattan_distances(X)
    D_max = float(xp.max(D))
    if not math.isfinite(D_max):
        raise ValueError(
            "gamma='loo': the pairwise distances of X overflow float64 "
            f"(entries up to {float(xp.max(xp.abs(X))):.3g}); rescale X."
        )
    w_sum = float(xp.sum(w))
    mean_d = float(w @ D @ w) / w_sum**2
    g0 = 1.0 / mean_d if mean_d > 0 else 1.0
    D_min = float(xp.min(xp.where(D > 0, D, xp.inf)))
    extremes = np.array([D_min, D_max]) if D_max > 0 else np.zeros(1)
    limits = gamma_limits(est.gamma_bounds, extremes, g0)
    return search_gamma(
        lambda gamma: loo_and_gamma_slope(est._choose_alpha, D, gamma, Y, w),
        g0,
        limits,
        w.shape[0],
        log,
        started,
    )


def loo_and_gamma_slope(choose_alpha, D, gamma, Y, w):
    """LOO error at this gamma's LOO-optimal alpha and its slope in log
    gamma (:func:`skrt._kernel_search.loo_and_gamma_slope`), on the device;
    two floats come back."""
    xp, device = namespace_of(D)
    gamma = float(gamma)
    K = xp.exp(-gamma * D)
    spec = decompose_kernel(K, Y, w, check_symmetric=False)
    s = choose_alpha(spec, Y)
    sw = xp.sqrt(w)
    dK = -gamma * D * K * sw[:, None] * sw[None, :]  # d K̃ / d log γ
    U = spec.P * (sw[:, None] / xp.sqrt(spec.lam))
    n = K.shape[0]
    B = U @ ((1.0 / (spec.lam + s) - 1.0 / s)[:, None] * U.T)
    B = B + xp.eye(n, dtype=K.dtype, device=device) / s
    T = B @ dK
    d_hat = s * xp.sum(T * B.T, axis=1)  # d h_i
    resid = spec.residual(s)  # f - y
    denom = spec.loo_denominator(s)[:, None]  # 1 - m h / w
    d_resid = s * (T @ (B @ (sw[:, None] * Y))) / sw[:, None]
    e = resid / denom
    de = d_resid / denom + resid * ((removed(xp, w) / w) * d_hat)[:, None] / denom**2
    value = xp.mean(w @ e**2) / spec.w_sum
    slope = 2.0 * xp.mean(w @ (e * de)) / spec.w_sum
    both = to_numpy(xp.stack([value, slope]), xp)
    return float(both[0]), float(both[1])


class KernelView(DeviceView):
    """The per-row pieces of a RegularityKernelRidge fitted on the device
    (``RegularityKernelRidge._predict_raw`` ... ``_pool_cross``)."""

    family = "kernel"

    @classmethod
    def unfitted(cls, est, xp, device, dtype):
        """The kernel evaluations alone, during the fit."""
        view = cls.__new__(cls)
        view.est, view.spec = est, None
        view.xp, view.device, view.dtype = xp, device, dtype
        return view

    @property
    def precomputed(self):
        return self.est.kernel == "precomputed"

    def kernel(self, X, Y=None):
        """k(X, Y) in the model's namespace (``_get_kernel``)."""
        with config_context(array_api_dispatch=True):
            return self.est._get_kernel(X, Y)

    def cross_kernel(self, X):
        """k(X, X_fit_), shape (n_rows, n_train)."""
        return X if self.precomputed else self.kernel(X, self.est.X_fit_)

    def kernel_diag(self, X):
        """k(x, x) per row (``RegularityKernelRidge._kernel_diag``)."""
        xp, est = self.xp, self.est
        name = est.kernel
        n = X.shape[0]
        if name in ("rbf", "laplacian", "cosine", "chi2"):
            return xp.ones(n, dtype=self.dtype, device=self.device)
        if name == "additive_chi2":
            return xp.zeros(n, dtype=self.dtype, device=self.device)
        sq = xp.sum(X * X, axis=1)
        gamma = est._kernel_kwargs()["gamma"]
        gamma = gamma if gamma is not None else 1.0 / X.shape[1]
        if name == "linear":
            return sq
        if name in ("poly", "polynomial"):
            return (gamma * sq + est.coef0) ** est.degree
        return xp.tanh(gamma * sq + est.coef0)  # sigmoid

    def dual(self, a):
        return a[:, None] if a.ndim == 1 else a

    def predict_raw(self, X):
        return self.cross_kernel(X) @ self.dual(self.est.dual_coef_)

    def tangent(self, X):
        return self.cross_kernel(X) @ self.dual(self.est.dual_coef_tangent_)

    def sti(self, X):
        return self.cross_kernel(X) @ self.est._sti_dual

    def projections(self, X, cache=None):
        """z = Pᵀ W k(X_fit, x) per row."""
        if cache is not None and "z" in cache:
            return cache["z"]
        PW = self.spec.P * self.spec.w[:, None]
        z = self.map_rows(lambda Z: self.cross_kernel(Z) @ PW, X)
        if cache is not None:
            cache["z"] = z
        return z

    def variance(self, X):
        """(k(x, x) - Σ z²/(λ(λ+s))) / s."""
        if self.precomputed:
            raise ValueError(
                "The predictive variance needs k(x, x), which kernel='precomputed' "
                "does not give; use a named or callable kernel."
            )
        spec, s = self.spec, self.est.alpha_
        z = self.projections(X)
        inside = (z**2) @ (1.0 / (spec.lam * (spec.lam + s)))
        return positive_part(self.xp, self.kernel_diag(X) - inside) / s

    def coordinates(self, X):
        spec = self.spec
        return self.projections(X) / (spec.lam * (spec.lam + self.est.alpha_))

    def cross(self, X, i, cache=None):
        """κ(c, i) for every row c of X (``RegularityKernelRidge._pool_cross``)."""
        if self.precomputed:
            raise ValueError(
                "Greedy batches need k(x_c, x_i) between candidates, which "
                "kernel='precomputed' does not give; use batch='topk'."
            )
        xp, spec, s = self.xp, self.spec, self.est.alpha_
        idx, scalar = self.indices(i)
        Xi = xp.take(X, idx, axis=0)
        k_ci = self.kernel(X, Xi)
        rows = xp.arange(X.shape[0], dtype=idx.dtype, device=self.device)
        self_rows = rows[:, None] == idx[None, :]  # no inf - inf on the diagonal
        k_ci = xp.where(self_rows, self.kernel_diag(Xi)[None, :], k_ci)
        z = self.projections(X, {} if cache is None else cache)
        zi = xp.take(z, idx, axis=0) / (spec.lam * (spec.lam + s))
        out = (k_ci - z @ zi.T) / s
        return out[:, 0] if scalar else out

    def parts(self):
        """The decomposition's parts; a precomputed kernel gives no
        ``k(x, x)`` nor ``k(x_c, x_i)`` between candidates."""
        if not self.precomputed:
            return super().parts()
        reasons = {
            "variance": "needs k(x, x), which kernel='precomputed' does not give; "
            "use a named or callable kernel.",
            "cross": "needs k(x_c, x_i) between candidates, which "
            "kernel='precomputed' does not give; use batch='topk'.",
        }
        return self.sti, self.curvature(None, None), reasons
