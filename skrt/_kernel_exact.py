r"""Exact numerics of a kernel ridge fit at one regularity ``s``.

These functions do not depend on the estimator: they take the kernel matrix
``K``, the sample weights ``w`` and ``s`` and return arrays.

**The system.** The weighted kernel ridge duals solve
``(K + s W⁻¹) α = y`` over the rows with positive weight. With
``K̃ = W^{1/2} K W^{1/2}`` and ``B = K̃ + s I``,

.. math::

    (K + s W^{-1})^{-1} = W^{1/2} B^{-1} W^{1/2},

and :class:`ExactKernelSystem` keeps the Cholesky factor ``B = L Lᵀ``.

**Why Cholesky, and not the eigendecomposition.** Under graded weights
(largest / smallest spanning many decades) the rows and columns of ``K̃``
are scaled by very different ``√w_i``. A symmetric eigensolver is accurate
only relative to ``‖K̃‖ = λ_max``: the directions carried by the small
weights sit below ``eps λ_max`` and are lost. Cholesky of a positive
definite ``B = D A D`` (``D`` diagonal) is invariant to that scaling in
floating point: its backward error is small relative to each entry's own
row and column scale (``|ΔB_ij| ≲ eps √(B_ii B_jj)``), so each solve is
accurate on the small weights' rows too. The shift ``s I`` keeps ``B``
positive definite; where round-off still breaks that (``s`` below the
round-off level of a singular ``K̃``), :meth:`ExactKernelSystem.factor`
returns None and the caller falls back to the eigendecomposition.

**What each function guarantees.**

- :meth:`ExactKernelSystem.solve`: ``(K + s W⁻¹)⁻¹ V`` on the weighted rows,
  by two triangular solves (no explicit inverse).
- :meth:`ExactKernelSystem.project`: ``L⁻¹ W^{1/2} k``, whose squared column
  norm is ``kᵀ(K + s W⁻¹)⁻¹k`` as a sum of squares (no cancellation).
- :meth:`ExactKernelSystem.inverse_diagonal`: ``diag(B⁻¹)`` as squared
  column norms of ``L⁻¹`` (no cancellation); ``1 - h_i = s (B⁻¹)_ii``.
- :meth:`ExactKernelSystem.leverage`: ``h = diag(K̃ B⁻¹)``, from
  ``1 - s (B⁻¹)_ii`` where ``h ≥ 1/2`` and by a direct sum of products
  where ``h`` is small (so a small leverage is accurate relative to itself).
- :func:`weight_spread`: largest / smallest positive weight, the measure of
  grading.
- :func:`check_input_scale` and :func:`check_kernel_scale`: a ValueError
  naming the scale of ``X`` (or of ``K``) before it overflows; the closed
  forms square the kernel's eigenvalues, so ``K``'s entries must lie in
  ``[1e-100, 1e100]`` (or be all zero).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ._centering import abs_max
from ._influence import LeaveOneOut
from ._linalg import noise_variance

__all__ = [
    "exact_leave_one_out",
    "GRADED_WEIGHTS",
    "check_fit_shape",
    "KERNEL_MAX",
    "KERNEL_MIN",
    "ExactKernelSystem",
    "check_input_scale",
    "check_kernel_scale",
    "weight_spread",
]

#: Kernel matrices with entries beyond these magnitudes overflow (or
#: underflow) the closed forms, which square the kernel's eigenvalues; the
#: numpy and the array-API paths share them.
KERNEL_MAX = 1e100
KERNEL_MIN = 1e-100
#: Sample weights spanning more than this (largest / smallest positive) make
#: the eigendecomposition of W^½KW^½ lose the directions carried by the small
#: weights: the fit at alpha_ then comes from a Cholesky factor of
#: W^½KW^½ + αI (:class:`ExactKernelSystem`), and where the spectrum disagrees
#: with it by more than _SPECTRAL_RTOL, what rests on it (the alpha/gamma
#: search, loo_curve, sample_information, SSI scores) warns.
GRADED_WEIGHTS = 1e3


class ExactKernelSystem:
    """Cholesky factor of ``B = W^{1/2} K W^{1/2} + s I`` over the weighted rows.

    ``(K + s W⁻¹)⁻¹ = W^{1/2} B⁻¹ W^{1/2}``. Cholesky is accurate on such
    graded matrices (the error of each solve is relative to the scale of
    its own rows), where the eigendecomposition is only accurate relative to
    the largest eigenvalue.
    """

    def __init__(self, L, sw, rows, s):
        self.L, self.sw, self.rows, self.s = L, sw, rows, s

    @classmethod
    def factor(cls, K, w, s):
        """The factor at s, or None when B is not numerically positive
        definite (alpha below the round-off level of a singular K̃)."""
        rows = w > 0
        if not rows.any():
            return None
        sw = np.sqrt(w[rows])
        B = K[np.ix_(rows, rows)] if not rows.all() else K.copy()
        B *= sw[:, None]
        B *= sw[None, :]
        B[np.diag_indices_from(B)] += s
        if not np.all(np.isfinite(B)):
            return None
        try:
            L = scipy.linalg.cholesky(
                B, lower=True, overwrite_a=True, check_finite=False
            )
        except np.linalg.LinAlgError:
            return None
        return cls(L, sw, rows, s)

    def solve(self, V):
        """``(K + s W⁻¹)⁻¹ V`` on the weighted rows, V of shape (n_rows, k)."""
        sw = self.sw[:, None]
        return sw * scipy.linalg.cho_solve((self.L, True), sw * V, check_finite=False)

    def project(self, K_cols):
        """``L⁻¹ W^{1/2} k`` for columns ``k = k(X_rows, x)``: the squared norm
        of a column is ``kᵀ(K + s W⁻¹)⁻¹k``."""
        return scipy.linalg.solve_triangular(
            self.L, self.sw[:, None] * K_cols, lower=True, check_finite=False
        )

    def _inverse_factor(self):
        if not hasattr(self, "_C"):
            C, info = scipy.linalg.lapack.dtrtri(self.L, lower=1)
            self._C = np.tril(C)
        return self._C

    def inverse_diagonal(self):
        """``diag(B⁻¹)``: squared column norms of ``L⁻¹`` (no cancellation)."""
        C = self._inverse_factor()
        return np.einsum("ij,ij->j", C, C)

    def leverage(self, K, one_minus_h):
        """``h = diag(K̃ B⁻¹)``: ``1 - s (B⁻¹)_ii`` where h >= 1/2, else the
        direct sum ``Σ_k (L⁻¹)_ki (L⁻¹ K̃)_ki`` (no cancellation for small h)."""
        h = 1.0 - one_minus_h
        small = np.flatnonzero(one_minus_h > 0.5)
        if small.size:
            C = self._inverse_factor()
            rows = np.flatnonzero(self.rows)
            Kw = K[np.ix_(rows, rows[small])] * self.sw[:, None] * self.sw[small]
            h[small] = np.einsum("ki,ki->i", C[:, small], C @ Kw)
        self.__dict__.pop("_C", None)  # n x n: not kept on the model
        return h


def weight_spread(w):
    """Largest over smallest positive sample weight (1 when none)."""
    pos = w[w > 0]
    return float(pos.max() / pos.min()) if pos.size else 1.0


def check_input_scale(X):
    """Named and callable kernels: squared row norms of X must be finite."""
    with np.errstate(over="ignore", invalid="ignore"):
        sq = (
            np.asarray(X.multiply(X).sum(axis=1)).ravel()
            if sp.issparse(X)
            else np.einsum("ij,ij->i", X, X)
        )
    if not np.all(np.isfinite(sq)) or sq.max(initial=0.0) > 1e300:
        raise ValueError(
            f"X has entries up to {abs_max(X):.3g} in absolute value: its "
            "squared norms and pairwise distances overflow float64, so the "
            "kernel cannot be evaluated. Rescale X (e.g. with a StandardScaler "
            "in a Pipeline)."
        )


def check_kernel_scale(K, X, precomputed):
    """K finite, and neither so large nor so small that its squared
    eigenvalues over- or underflow."""
    top = float(np.abs(K).max(initial=0.0)) if np.all(np.isfinite(K)) else np.inf
    if top <= KERNEL_MAX and (top == 0.0 or top >= KERNEL_MIN):
        return
    what = (
        "The kernel matrix X"
        if precomputed
        else f"The kernel matrix of X (entries up to {abs_max(X):.3g})"
    )
    state = "is not finite" if not np.isfinite(top) else f"reaches {top:.3g}"
    raise ValueError(
        f"{what} {state}: outside [{KERNEL_MIN:g}, {KERNEL_MAX:g}] the closed "
        "forms, which square its eigenvalues, over- or underflow float64. "
        + (
            "Rescale the kernel matrix."
            if precomputed
            else "Rescale X (or the kernel's gamma/coef0)."
        )
    )


def exact_leave_one_out(exact, K, Y, w, s):
    """Duals, tangents and the leave-one-out record from the Cholesky factor
    of ``B = K̃ + s I`` at s.

    With ``d = diag(B⁻¹)``: ``1 - h_i = s d_i``, ``r_i = f - y = -s α_i/w_i``
    and ``y_i - f_(-i) = α_i/(w_i d_i)`` (``w_i <= 1``) or
    ``s α_i/((w_i - 1) + s d_i)`` (``w_i > 1``), and ``GCV = Σw RSS/dof²``
    with ``RSS = s² Σ α²/w``, ``dof = s t``: nothing cancels, no ``s²`` to
    underflow as alpha → 0. Zero-weight rows are not in the fit: their
    residuals are plain ``f - y``.

    Returns
    -------
    alpha_dual, tangent_dual : ndarray of shape (n_samples, n_targets)
    loo : LeaveOneOut
    """
    pos = exact.rows
    n, k = Y.shape
    alpha_dual, tangent_dual = np.zeros((n, k)), np.zeros((n, k))
    a = exact.solve(Y[pos])
    alpha_dual[pos] = a
    tangent_dual[pos] = -exact.solve(a / w[pos, None])
    d = exact.inverse_diagonal()  # diag(B⁻¹)
    w_pos = w[pos]
    one_minus_h = s * d
    lev = np.zeros(n)
    lev[pos] = exact.leverage(K, one_minus_h)
    resid = np.empty((n, k))
    resid[pos] = -s * a / w_pos[:, None]
    zero = ~pos
    if zero.any():
        resid[zero] = K[np.ix_(zero, pos)] @ a - Y[zero]
    loo = -resid.copy()  # zero-weight rows: y - f, they are not in the fit
    heavy = w_pos > 1.0
    scale = np.where(heavy, s / ((w_pos - 1.0) + one_minus_h), 1.0 / (w_pos * d))
    loo[pos] = a * scale[:, None]
    w_sum = float(w.sum())
    # Σw - df = Σ (w_i - h_i) = Σ ((w_i - 1) + s (B⁻¹)_ii)
    dof = float(np.sum((w_pos - 1.0) + one_minus_h))
    t = float(np.sum((w_pos - 1.0) / s + d))
    record = LeaveOneOut(
        residual=resid,
        leverage=lev,
        loo_residual=loo,
        loo_error=(w @ loo**2) / w_sum,
        gcv_error=w_sum * (w_pos @ (a / (w_pos[:, None] * t)) ** 2),
        noise_variance=np.atleast_1d(noise_variance(w @ resid**2, w_sum, dof)),
    )
    return alpha_dual, tangent_dual, record


def check_fit_shape(shape, precomputed, alpha):
    """The ValueErrors of a kernel fit's shape, for the numpy and the
    array-API paths alike: a square ``X`` for ``kernel='precomputed'``, at
    least 3 rows for ``alpha='loo'``."""
    n = shape[0]
    if precomputed and shape[1] != n:
        raise ValueError(
            "kernel='precomputed' needs a square kernel matrix X; "
            f"got shape {tuple(shape)}."
        )
    if alpha == "loo" and n < 3:
        raise ValueError(
            "alpha='loo' needs at least 3 samples to choose alpha by "
            f"leave-one-out; got n_samples={n}."
        )
