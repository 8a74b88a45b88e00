"""What the solvers of :class:`~skrt.RegularityRidge` and
:class:`~skrt.RegularityKernelRidge` return, and the arithmetic shared by
their fits.

A solver returns one frozen solution (:class:`RidgeSolution`,
:class:`KernelSolution`); the estimator's ``_set_solution`` turns it into
fitted attributes, :func:`set_fit_record` setting the ones both models
have. :func:`penalised_inverse` applies ``A⁻¹`` of the linear model on
either path (decomposition or conjugate gradients), and
:func:`check_finite_fit` turns a float64 overflow into a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._influence import LeaveOneOut
from ._kernel_exact import ExactKernelSystem
from ._krylov import CenteredDesign, solve_cg
from ._linalg import Spectral

__all__ = [
    "KernelSolution",
    "RidgeSolution",
    "check_finite_fit",
    "penalised_inverse",
    "ridge_solution",
    "set_fit_record",
]


@dataclass(frozen=True, eq=False)
class KernelSolution:
    """What a solver of :class:`RegularityKernelRidge` returns; the
    estimator's ``_set_solution`` turns it into fitted attributes.

    Duals are (n_samples, n_targets), per-target values (n_targets,).
    ``loo`` and ``spectral`` are None on the Krylov path; ``exact`` (the
    Cholesky factor) is kept only for graded weights; ``cg_rows`` and
    ``max_iter`` only on the Krylov path.
    """

    solver: str
    alpha: float
    n_samples: int
    n_iter: np.ndarray
    dual: np.ndarray
    dual_tangent: np.ndarray
    sti_dual: np.ndarray
    noise_variance: np.ndarray
    gcv_error: np.ndarray
    loo: LeaveOneOut | None = None
    spectral: Spectral | None = None
    exact: ExactKernelSystem | None = None
    spectral_error: float = 0.0
    weight_spread: float | None = None
    cg_rows: np.ndarray | None = None
    max_iter: int | None = None


@dataclass(frozen=True, eq=False)
class RidgeSolution:
    """What a solver of :class:`RegularityRidge` returns; the estimator's
    ``_set_solution`` turns it into fitted attributes.

    Arrays keep the target axis: weights are (n_features, n_targets),
    per-target values (n_targets,). ``loo`` is None on the Krylov path and
    for a prior-only fit, ``spectral`` None without a decomposition,
    ``design``/``cg_scale``/``max_iter`` None without conjugate gradients.
    """

    solver: str | None
    alpha: float
    n_samples: int
    n_iter: np.ndarray
    coef: np.ndarray
    coef_tangent: np.ndarray
    intercept: np.ndarray
    intercept_tangent: np.ndarray
    noise_variance: np.ndarray
    x_mean: np.ndarray
    w_sum: float
    center_value: np.ndarray
    sti_coef: np.ndarray
    sti_intercept: np.ndarray
    offset: np.ndarray | None = None
    x_mean_lo: np.ndarray | None = None
    gcv_error: np.ndarray | None = None
    loo: LeaveOneOut | None = None
    spectral: Spectral | None = None
    design: CenteredDesign | None = None
    cg_scale: np.ndarray | None = None
    max_iter: int | None = None


def ridge_solution(solver, s, w, center, centered, fit_intercept, resid, **fields):
    """A :class:`RidgeSolution` from the centred-coordinate fit: the
    intercept ``b = ȳ - x̄ᵀθ``, its tangent ``-x̄ᵀθ̇``, the prediction's
    constant ``b + x̄ᵀθ = ȳ`` and the intercept part ``Σ w r/Σw`` of
    ``H⁻¹σ_T`` (``r = f - y``)."""
    x_mean, y_mean, w_sum = center
    return RidgeSolution(
        solver=solver,
        alpha=float(s),
        n_samples=w.shape[0],
        intercept=y_mean - x_mean @ fields["coef"],
        intercept_tangent=-x_mean @ fields["coef_tangent"],
        x_mean=x_mean,
        offset=centered.offset,
        x_mean_lo=centered.mean_lo,
        w_sum=w_sum,
        center_value=y_mean.copy(),
        sti_intercept=(w @ resid) / w_sum
        if fit_intercept
        else np.zeros(resid.shape[1]),
        **fields,
    )


def set_fit_record(estimator, sol, y_ndim):
    """The fitted attributes every solution of the ridge and kernel models
    has: ``solver_`` (not set for a prior-only fit: no solver ran),
    ``alpha_``, ``n_samples_fit_``, ``n_iter_``,
    ``noise_variance_``, ``gcv_error_`` and the leave-one-out record
    (``leverage_``, ``loo_residuals_``, ``loo_error_``), each removed where
    the solution has none."""
    estimator._y_ndim = y_ndim
    estimator.alpha_ = float(sol.alpha)
    estimator.n_samples_fit_ = sol.n_samples
    estimator.n_iter_ = sol.n_iter
    estimator.noise_variance_ = estimator._unravel(sol.noise_variance)
    loo = sol.loo
    for name, value, unravel in (
        ("solver_", sol.solver, None),
        ("gcv_error_", sol.gcv_error, estimator._unravel),
        ("leverage_", loo and loo.leverage, None),
        ("loo_residuals_", loo and loo.loo_residual, estimator._unravel_rows),
        ("loo_error_", loo and loo.loo_error, estimator._unravel),
    ):
        if value is not None:
            setattr(estimator, name, value if unravel is None else unravel(value))
        elif name in vars(estimator):
            delattr(estimator, name)


def penalised_inverse(Z, s, spectral, design, cg_scale, max_iter, tol, what):
    """A⁻¹ Z, ``A = Xcᵀ W Xc + s I``, for Z of shape (p,) or (p, k).

    On the decomposition ``A⁻¹ = V (λ+s)⁻¹ Vᵀ + (I - V Vᵀ)/s``; on the
    Krylov path (``design``) one conjugate-gradient solve per column.
    """
    if spectral is not None:
        V = spectral.basis()
        proj = V.T @ Z
        scale = 1.0 / (spectral.lam + s)
        inside = V @ (proj * (scale if Z.ndim == 1 else scale[:, None]))
        if spectral.null is not None:  # the complement without cancellation
            return inside + spectral.null @ (spectral.null.T @ Z) / s
        return inside + (Z - V @ proj) / s
    A = design.normal_operator(s)
    cols = Z.reshape(Z.shape[0], -1)
    out = np.column_stack(
        [
            solve_cg(A, c, tol=tol, max_iter=max_iter, what=what, scale=cg_scale)[0]
            for c in cols.T
        ]
    )
    return out.reshape(Z.shape)


def check_finite_fit(coef, coef_tangent, X, Y, s):
    """A clear error where float64 overflowed in the solution."""
    if np.all(np.isfinite(coef)) and np.all(np.isfinite(coef_tangent)):
        return
    data = X.data if sp.issparse(X) else X
    raise ValueError(
        f"The fitted weights or their tangent overflow float64 at alpha={s:.3g}: "
        f"X's entries reach {np.abs(data).max(initial=0.0):.3g} and y's "
        f"{np.abs(Y).max(initial=0.0):.3g} in absolute value, and the tangent "
        "dθ/dα = -A⁻¹θ grows like |θ|/alpha. Use a larger alpha, or rescale X "
        "and y (for example with sklearn.preprocessing.StandardScaler)."
    )
