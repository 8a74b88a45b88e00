"""RegularityRidge on array-API arrays (the device path).

``RegularityRidge.fit`` comes here when scikit-learn's
``array_api_dispatch`` is on and X is a PyTorch, CuPy or
``array_api_strict`` array (:func:`skrt._array_api.device_namespace`): the
closed forms of :mod:`skrt._spectral_xp` on one decomposition of the dense
design, computed in X's namespace and on its device, with every fitted
array left there. The attributes are those of the numpy path's
``solver="eigen"``/``"svd"`` fit; what has no array-API form (conjugate
gradients, the relative-accurate decomposition of graded columns, a prior)
raises the numpy-only TypeError (:func:`skrt._array_api.numpy_only`).
"""

from __future__ import annotations

import time

from sklearn import config_context
from sklearn.utils.validation import validate_data

from ._array_api import numpy_only
from ._base import reset_fitted
from ._fit_log import FitLog, check_verbose, fit_summary, seconds
from ._fitted_xp import DeviceView, sample_weights, short_name
from ._solutions import RidgeSolution
from ._spectral_xp import (
    center,
    check_not_graded,
    decompose,
    float_dtype,
    loo_record,
    positive_part,
    with_intercept,
)

__all__ = ["RidgeView", "fit_ridge"]


def fit_ridge(est, X, y, sample_weight, namespace):
    """``est.fit(X, y, sample_weight)`` on the device of ``namespace``."""
    xp, device = namespace
    if est.prior is not None:
        raise numpy_only(
            "prior=...",
            "prior=None (or fit the model with a prior on numpy arrays)",
        )
    log = FitLog(check_verbose(est.verbose), "RegularityRidge")
    started = time.perf_counter()
    reset_fitted(est)
    dtype = float_dtype(xp, device)
    with config_context(array_api_dispatch=True):
        X, y = validate_data(est, X, y, dtype=dtype, multi_output=True, y_numeric=True)
    n = X.shape[0]
    if est.alpha == "loo" and n < 3:
        raise ValueError(
            "alpha='loo' needs at least 3 samples to choose alpha by "
            f"leave-one-out; got n_samples={n}."
        )
    w = sample_weights(sample_weight, n, xp, device, dtype)
    y = xp.asarray(y, dtype=dtype, device=device)  # y given as a list: numpy
    Y = xp.reshape(y, (n, -1))
    solver = est._resolve_solver(X)
    if solver == "cg":
        raise numpy_only("solver='cg'", "solver='eigen', 'svd' or 'auto'")
    cx, scale = center(X, Y, w, est.fit_intercept)
    check_not_graded(scale)
    log(
        f"{n} samples x {X.shape[1]} features ({short_name(xp)} on {device}), "
        f"alpha={est.alpha!r}, solver={solver}"
    )
    what = "thin SVD" if solver == "svd" else "eigendecomposition"
    with log.timed(f"{what} of the {n} x {X.shape[1]} design"):
        spec = decompose(cx, Y, w, est.fit_intercept, method=solver)
    s = est._logged_alpha(log, est._choose_alpha, spec, Y)
    loo = loo_record(spec, s)
    coef, coef_tangent, sti_coef = spec.weights_at(s, loo.residual)
    if not bool(xp.all(xp.isfinite(coef)) and xp.all(xp.isfinite(coef_tangent))):
        raise ValueError(
            f"The fitted weights or their tangent overflow at alpha={s:.3g}: the "
            "tangent dθ/dα = -A⁻¹θ grows like |θ|/alpha. Use a larger alpha, or "
            "rescale X and y (for example with sklearn.preprocessing.StandardScaler)."
        )
    k = Y.shape[1]
    if est.fit_intercept:
        sti_intercept = (w @ loo.residual) / cx.w_sum
    else:
        sti_intercept = xp.zeros(k, dtype=dtype, device=device)
    sol = RidgeSolution(
        solver=solver,
        alpha=float(s),
        n_samples=n,
        n_iter=xp.ones(k, dtype=xp.int64, device=device),
        coef=coef,
        coef_tangent=coef_tangent,
        intercept=cx.y_mean - cx.x_mean @ coef,
        intercept_tangent=-cx.x_mean @ coef_tangent,
        noise_variance=loo.noise_variance,
        x_mean=cx.x_mean,
        w_sum=cx.w_sum,
        center_value=cx.y_mean,
        sti_coef=sti_coef,
        sti_intercept=sti_intercept,
        offset=cx.offset,
        x_mean_lo=cx.mean_lo,
        gcv_error=loo.gcv_error,
        loo=loo,
        spectral=spec,
    )
    est._set_solution(sol, y.ndim)
    log(f"fitted in {seconds(time.perf_counter() - started)}: {fit_summary(est)}")
    return est


class RidgeView(DeviceView):
    """The per-row pieces of a RegularityRidge fitted on the device
    (``RegularityRidge._predict_raw`` ... ``_pool_cross``, the same closed
    forms in the model's namespace)."""

    family = "linear"

    def centered(self, X, M):
        """``(X - x̄ - mean_lo) M``, centred explicitly."""
        est = self.est
        return ((X - est._x_mean) - est._x_mean_lo) @ M

    def weights(self, a):
        """A per-target weight array as (n_features, n_targets)."""
        return a[:, None] if a.ndim == 1 else a.T

    def predict_raw(self, X):
        return self.centered(X, self.weights(self.est.coef_)) + self.est._center_value

    def tangent(self, X):
        est = self.est
        coef_tangent = self.weights(est.coef_tangent_)
        const = (
            self.xp.reshape(est.intercept_tangent_, (-1,)) + est._x_mean @ coef_tangent
        )
        return self.centered(X, coef_tangent) + const

    def sti(self, X):
        return self.centered(X, self.est._sti_coef) + self.est._sti_intercept

    def variance(self, X):
        """x̃ᵀ M⁻¹ x̃ for each row (``RegularityRidge._variance``)."""
        xp, spec, s = self.xp, self.spec, self.est.alpha_
        proj = self.centered(X, spec.V)
        inside = (proj**2) @ (1.0 / (spec.lam + s))
        if spec.null is not None:
            Xn = self.centered(X, spec.null)
            outside = xp.sum(Xn * Xn, axis=1)
        else:
            D = (X - self.est._x_mean) - self.est._x_mean_lo
            outside = positive_part(
                xp, xp.sum(D * D, axis=1) - xp.sum(proj * proj, axis=1)
            )
        return spec.intercept_leverage + inside + outside / s

    def coordinates(self, X):
        spec = self.spec
        return with_intercept(
            spec, self.centered(X, spec.V) / (spec.lam + self.est.alpha_)
        )

    def cross(self, X, i, cache=None):
        """κ(c, i) for every row c of X (``RegularityRidge._pool_cross``)."""
        est, spec = self.est, self.spec
        idx, scalar = self.indices(i)
        rows = self.xp.take(X, idx, axis=0)
        xc = (rows - est._x_mean) - est._x_mean_lo
        a = spec.penalised_inverse(xc.T, est.alpha_)
        out = self.centered(X, a) + spec.intercept_leverage
        return out[:, 0] if scalar else out
