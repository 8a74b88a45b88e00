"""Numerical core: one spectral decomposition, and the closed forms of
ridge regression evaluated at any regularity ``s``.

Notation follows ``docs/math.rst`` § ``math-spectral``: ``Z = W^{1/2} Xc``
is the weighted centred design, ``A(s) = Zᵀ Z + s I``,
``Zᵀ Z = V diag(lam) Vᵀ`` its (truncated) eigendecomposition. Rows of
``P = Xc V`` are the training samples in the eigenbasis (unweighted), and
``c = Pᵀ W yc`` holds the projected targets, so that for every ``s``

.. math::

    \\theta^*(s) = V \\frac{c}{\\lambda + s}, \\qquad
    \\dot\\theta(s) = -V \\frac{c}{(\\lambda + s)^2}, \\qquad
    g_i(s) = \\frac{1}{\\sum w} + \\sum_k \\frac{P_{ik}^2}{\\lambda_k + s},

with ``g_i`` the leverage of one unit of weight of sample ``i``
(``h_i = w_i g_i``). Each ``s`` costs ``O(n * rank)`` after the decomposition.

Centred products go through :mod:`skrt._centering` (no cancellation from
columns whose mean dwarfs their spread), and columns of very different scale
get the relative-accurate decomposition of :mod:`skrt._graded` instead of the
normwise-accurate eigh. The cross-validation criteria (exact leave-one-out,
GCV) over many ``s`` and their minimisation live here too.

Everything here is array-in/array-out; the estimators are thin wrappers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse as sp

from ._centering import (
    CenteredX,
    center_dot,
    center_rdot,
    centered_sq_norms,
    weighted_center,
)
from ._graded import (
    GRADED_COVARIANCE_MAX,
    GRADED_SPREAD,
    column_scale_spread,
    eigh,
    graded_eigh,
    graded_svd,
    warn_graded,
)

__all__ = [
    "CenteredX",
    "Spectral",
    "center_dot",
    "centered_sq_norms",
    "weighted_center",
    "decompose",
    "decompose_kernel",
    "leave_one_out_path",
    "gcv_path",
    "minimize_criterion",
    "default_alpha_bounds",
    "removed_fraction",
    "SINGULAR",
    "noise_variance",
    "gcv_estimate",
    "GCV_DOF_MIN",
    "basin_starts",
    "slope_bracket",
    "covariance_side_is_cheaper",
    "decompose_gram",
]

#: ``1 - m_i g_i`` at or below this: leaving sample i out leaves the fit
#: undetermined (its leverage is 1 to round-off), so its exact leave-one-out
#: residual is infinite. The one cut-off of the package.
SINGULAR = 1e-14


@dataclass(eq=False)
class Spectral:
    """One decomposition of the weighted centred training design.

    Attributes
    ----------
    V : ndarray of shape (n_features, rank) or None
        Right singular vectors of ``Z``; ``None`` after a Gram-side
        decomposition, where :meth:`basis` forms it on first use as
        ``Xcᵀ W P / λ`` (the fit itself only needs products with it).
    lam : ndarray of shape (rank,)
        Eigenvalues of ``ZᵀZ`` (squared singular values), all positive.
    P : ndarray of shape (n_samples, rank)
        Centred training samples in the basis ``V``.
    c : ndarray of shape (rank, n_targets)
        ``Pᵀ W yc``.
    yc : ndarray of shape (n_samples, n_targets)
        Centred targets.
    w : ndarray of shape (n_samples,)
        Sample weights.
    w_sum : float
        Sum of the weights.
    fit_intercept : bool
        Whether an unpenalised intercept was fitted (adds ``1/Σw`` to g).
    resid_perp : ndarray of shape (n_samples, n_targets)
        ``yc - P c/λ``: the part of the targets no alpha can fit.
    lev_perp : ndarray of shape (n_samples,)
        ``1 - w_i/Σw - w_i Σ_k P_ik²/λ_k``: the part of ``1 - h_i`` that
        does not depend on alpha. Both are exactly zero when the model can
        interpolate, which keeps ``r_i/(1-h_i)`` accurate as alpha → 0.
    X : CenteredX or None
        The centred training design, kept where ``V`` is formed lazily.
    x_mean : ndarray of shape (n_features,) or None
    null : ndarray of shape (n_features, n_features - rank) or None
        An orthonormal basis of the complement of ``span(V)`` where the
        decomposition provides one (covariance side, SVD with n >= p): the
        part of a vector outside ``span(V)`` is then projected onto it rather
        than computed as a difference of norms that cancels.
    """

    V: np.ndarray
    lam: np.ndarray
    P: np.ndarray
    c: np.ndarray
    yc: np.ndarray
    w: np.ndarray
    w_sum: float
    fit_intercept: bool
    resid_perp: np.ndarray
    lev_perp: np.ndarray
    X: object = None
    x_mean: np.ndarray | None = None
    null: np.ndarray | None = None

    def __post_init__(self):
        self.P2 = self.P**2

    def basis(self):
        """V, formed (once) from the training design when only U was kept."""
        if self.V is None:
            self.V = np.ascontiguousarray(
                center_rdot(self.X, self.x_mean, self.P * (self.w[:, None] / self.lam))
            )
        return self.V

    def dual_dot(self, a):
        """Dual coefficients of ``V @ a``: ``W P a/λ``, so that
        ``V a = Xcᵀ (W P a/λ)`` (for kernels: the coefficients of k(·, X))."""
        return (self.P @ (a / self.lam[:, None])) * self.w[:, None]

    def basis_dot(self, a):
        """V @ a without forming V: ``Xcᵀ (w ⊙ P a/λ)`` on the Gram side."""
        if self.V is not None:
            return self.V @ a
        return center_rdot(self.X, self.x_mean, self.dual_dot(a))

    @property
    def intercept_leverage(self) -> float:
        return 1.0 / self.w_sum if self.fit_intercept else 0.0

    # -- closed forms at one s ------------------------------------------------
    def weights_at(self, s, R, dual=False):
        """θ*(s), θ̇(s) and A⁻¹ Xcᵀ W R in one pass over the basis.

        ``θ* = V c/(λ+s)``, ``θ̇ = -A⁻¹θ* = -V c/(λ+s)²`` and, for training
        residuals ``R``, ``A⁻¹ Xcᵀ W R = V Pᵀ W R/(λ+s)``; each of shape
        (n_features, n_targets), or with ``dual=True`` their dual
        coefficients (n_samples, n_targets) for a kernel model.
        """
        inv = 1.0 / (self.lam + s)[:, None]
        k = self.c.shape[1]
        stacked = np.hstack(
            [
                self.c * inv,
                -self.c * inv * inv,
                (self.P.T @ (R * self.w[:, None])) * inv,
            ]
        )
        if not dual:
            out = self.basis_dot(stacked)
            return out[:, :k], out[:, k : 2 * k], out[:, 2 * k :]
        out = self.dual_dot(stacked)
        # in the null space of K̃ (rank cut included) (K̃ + sI)⁻¹ is 1/s: the
        # duals keep those parts (they do not change any prediction)
        w = self.w[:, None]
        R_perp = R - self.P @ ((self.P.T @ (R * w)) / self.lam[:, None])
        out[:, :k] += w * self.resid_perp / s
        out[:, k : 2 * k] -= w * self.resid_perp / s**2
        out[:, 2 * k :] += w * R_perp / s
        return out[:, :k], out[:, k : 2 * k], out[:, 2 * k :]

    def residual(self, s):
        """r = f(x) - y = -(resid_perp + P c s/(λ(λ+s))), shape (n, n_targets)."""
        q = _shrink(self.lam, s)
        return -(self.resid_perp + self.P @ (self.c * q[:, None]))

    def residual_dof(self, s):
        """``Σw - df(s)`` with ``df = [intercept] + Σ λ/(λ+s)``, shape of s.

        Written as ``(Σw - [intercept] - rank) + Σ s/(λ+s)`` so that it stays
        accurate as alpha → 0 when the model interpolates.
        """
        s = np.asarray(s, dtype=float)
        base = self.w_sum - float(self.fit_intercept) - self.lam.size
        return base + np.sum(s[..., None] / (self.lam + s[..., None]), axis=-1)

    def loo_denominator(self, s):
        """``1 - m_i g_i`` with ``m_i = min(w_i, 1)`` (see leave_one_out_path)."""
        one_minus_h = self.lev_perp + self.w * (self.P2 @ _shrink(self.lam, s))
        return _unit_complement(self.w, one_minus_h)

    def unit_leverage(self, s):
        """g_i(s) = 1/Σw + (x_i - x̄)ᵀ A⁻¹ (x_i - x̄), shape (n_samples,)."""
        return self.intercept_leverage + self.P2 @ (1.0 / (self.lam + s))

    def quadratic_inverse(self, Xc_V, Xc_sq_norm, s, Xc_null=None):
        """x̃ᵀ (X̃ᵀWX̃ + sP)⁻¹ x̃ for rows given by their projections.

        ``Xc_V`` are the centred rows in the basis ``V`` and ``Xc_sq_norm``
        their squared norms; the part outside ``span(V)`` sees ``A⁻¹ = 1/s``.
        ``Xc_null``, the rows in the basis :attr:`null` when there is one,
        gives that part without the cancellation of ``‖x‖² - ‖Vᵀx‖²``.
        """
        inside = (Xc_V**2) @ (1.0 / (self.lam + s))
        if Xc_null is not None:
            outside = np.einsum("ij,ij->i", Xc_null, Xc_null)
        else:
            outside = np.maximum(Xc_sq_norm - np.einsum("ij,ij->i", Xc_V, Xc_V), 0.0)
        return self.intercept_leverage + inside + outside / s


def _shrink(lam, s):
    """``s / (λ (λ + s))`` as ``(s/(λ+s))/λ``: no overflow for λ near the
    top of float64 (``λ²`` would overflow), none for normal λ either."""
    return (s / (lam + s)) / lam


def _unit_complement(w, one_minus_h):
    """``1 - m g`` from ``1 - h`` (h = w g, m = min(w, 1)), without cancellation.

    ``w <= 1``: ``1 - h``; ``w > 1``: ``((w - 1) + (1 - h)) / w``.
    """
    if one_minus_h.ndim == 2:
        w = w[:, None]
    safe_w = np.where(w > 1, w, 1.0)
    return np.where(w > 1, ((w - 1.0) + one_minus_h) / safe_w, one_minus_h)


def _rank_cut(lam, size):
    """Keep eigenvalues above the round-off level of the largest one."""
    if lam.size == 0:
        return np.zeros(0, dtype=bool)
    top = lam.max()
    if top <= 0:
        return np.zeros(lam.shape, dtype=bool)
    return lam > top * max(size) * np.finfo(float).eps * 10


def decompose(
    X, Y, w, x_mean, y_mean, w_sum, fit_intercept, method="eigen", centered=None
):
    """Decompose ``Z = W^{1/2} (X - x̄)`` once.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_targets)
    w : ndarray of shape (n_samples,)
    x_mean, y_mean, w_sum : output of :func:`weighted_center`.
    fit_intercept : bool
    method : {"eigen", "svd"}
        ``"eigen"`` diagonalises ``ZᵀZ`` or ``ZZᵀ``, whichever is smaller
        (works on sparse ``X`` without densifying it); ``"svd"`` takes the
        thin SVD of the dense ``Z`` (better conditioned, slower).
    centered : CenteredX or None
        The centred design, if already built.

    Returns
    -------
    Spectral

    Notes
    -----
    Centred products go through :class:`CenteredX` (no cancellation from
    large column offsets). When the centred column norms span more than a
    factor ``1e2`` ("graded" columns, e.g. grams next to tonnes) LAPACK's
    normwise-accurate eigh/SVD would lose the small columns' directions
    (their eigenvalues sit below ``eps λ_max``); the decomposition is then
    relative-accurate instead: preconditioned one-sided Jacobi (``dgejsv``)
    on Z for dense X, on a graded square root of ``ZᵀZ`` for sparse X (a
    warning names the spread where sparse X has too many features for it).
    """
    n, p = X.shape
    if method == "svd" and sp.issparse(X):
        raise ValueError("solver='svd' does not accept sparse X.")
    cx = CenteredX(X, x_mean, w) if centered is None else centered
    graded = column_scale_spread(cx.scale) > GRADED_SPREAD
    # the one dispatch point: each mode returns (P, lam, V, null, design)
    if graded and not sp.issparse(X):
        mode = _svd_decompose_graded
    elif method == "svd":
        mode = _svd_decompose_design_matrix
    elif graded and p <= max(n, GRADED_COVARIANCE_MAX):
        mode = _eigen_decompose_covariance_graded
    elif _covariance_side_is_cheaper(n, p):
        mode = _eigen_decompose_covariance
    else:
        if graded:
            warn_graded(
                cx.scale,
                "sparse X with more features than "
                f"{max(n, GRADED_COVARIANCE_MAX)} is decomposed on "
                "the Gram side (n x n)",
            )
        mode = _eigen_decompose_gram
    P, lam, V, null, design = mode(cx, w, (n, p))
    return _assemble(
        P, lam, V, Y, y_mean, w, w_sum, fit_intercept, design, x_mean, null=null
    )


# Decomposition modes of :func:`decompose`. Each takes the centred design
# ``cx``, the weights and the shape (n, p), and returns ``(P, lam, V, null,
# design)``: the training rows in the eigenbasis, the eigenvalues, the basis
# (None on the Gram side), the complement's basis (or None) and the centred
# design to keep for forming V lazily (Gram side only, else None).


def _svd_decompose_graded(cx, w, shape):
    """Relative-accurate one-sided Jacobi SVD of dense Z (graded columns)."""
    U, S, V, null = graded_svd(cx.weighted_dense(), cx.scale, shape)
    lam = S**2
    P = _rows_from_left(U, S, np.sqrt(w), w > 0, cx.cross, lam, w)
    return P, lam, V, null, None


def _svd_decompose_design_matrix(cx, w, shape):
    """Thin SVD ``Z = U S Vᵀ`` of the dense weighted centred design."""
    Z = cx.weighted_dense()
    U, S, Vt = scipy.linalg.svd(Z, full_matrices=False, lapack_driver="gesdd")
    keep = _rank_cut(S**2, shape)
    null = Vt[~keep].T if Vt.shape[0] == shape[1] else None
    U, S, V = U[:, keep], S[keep], Vt[keep].T
    lam = S**2
    P = _rows_from_left(U, S, np.sqrt(w), w > 0, cx.cross, lam, w)
    return P, lam, V, null, None


def _eigen_decompose_covariance_graded(cx, w, shape):
    """Relative-accurate eigendecomposition of ``ZᵀZ`` (graded columns)."""
    lam, V, null = graded_eigh(cx.weighted_gram(), cx.scale, shape)
    return cx.dot(V), lam, V, null, None


def _eigen_decompose_covariance(cx, w, shape):
    """``ZᵀZ = V diag(λ) Vᵀ`` (p x p), the cheaper side when p is small."""
    lam, V, null = _covariance_eigh(cx.weighted_gram(), cx.live, shape)
    return cx.dot(V), lam, V, null, None


def _covariance_eigh(C, live, shape):
    """``(λ, V, null)`` of the p x p ``C = ZᵀZ``: eigh, the rank cut, and
    exact zeros in the rows of constant columns (round-off only)."""
    lam, V = eigh(C)
    keep = _rank_cut(lam, shape)
    V[np.ix_(~live, keep)] = 0.0
    return lam[keep], V[:, keep], V[:, ~keep]


def decompose_gram(C, live, scale, shape):
    """``(λ, V, null)`` of a weighted centred Gram ``C = ZᵀZ`` (p x p) formed
    elsewhere (the Dask path sums it over chunks, ``skrt._dask_ridge``): the
    covariance side of :func:`decompose`, relative-accurate (``graded_eigh``)
    where the centred column norms ``scale`` are graded.

    Parameters
    ----------
    C : ndarray of shape (n_features, n_features)
    live : ndarray of bool, shape (n_features,)
        Columns that vary (the others have zero rows and columns in C).
    scale : ndarray of shape (n_features,)
        Centred weighted column norms (0 for constant columns).
    shape : (int, int)
        ``(n_samples, n_features)`` of the design, for the rank cut.
    """
    if column_scale_spread(scale) > GRADED_SPREAD:
        return graded_eigh(C, scale, shape)
    return _covariance_eigh(np.array(C, dtype=float), live, shape)


def _eigen_decompose_gram(cx, w, shape):
    """``ZZᵀ = U diag(λ) Uᵀ`` (n x n); V = Zᵀ U / S is formed only if asked
    for (the centred design is kept for it)."""
    lam, U = eigh(cx.weighted_gram_rows())
    keep = _rank_cut(lam, shape)
    lam, U = lam[keep], U[:, keep]
    P = _rows_from_left(U, np.sqrt(lam), np.sqrt(w), w > 0, cx.cross, lam, w)
    return P, lam, None, None, cx


def decompose_kernel(K, Y, w, *, check_symmetric=True, overwrite=False):
    """Kernel ridge in the same spectral form (no intercept).

    ``K̃ = W^{1/2} K W^{1/2} = U diag(λ) Uᵀ`` plays the part of ``ZZᵀ``;
    the training rows in the (implicit) feature basis are ``P = U √λ / √w``,
    so every closed form of :class:`Spectral` holds with ``Xc V → P``.
    ``overwrite`` lets the eigendecomposition destroy K (unit weights only).

    Raises
    ------
    ValueError
        If K is not symmetric.

    Warns
    -----
    UserWarning
        If K has clearly negative eigenvalues; they are dropped (the model is
        then kernel ridge on the PSD part of K).
    """
    n = K.shape[0]
    sw = np.sqrt(w)
    positive = w > 0
    scale = np.abs(K).max(initial=0.0)
    if check_symmetric and np.abs(K - K.T).max(initial=0.0) > 1e-10 * scale:
        raise ValueError("The kernel matrix is not symmetric.")
    unit = bool(np.all(w == 1.0))
    if unit and overwrite:
        G = K
    else:
        G = K * sw[:, None] * sw[None, :] if not unit else K.copy()
    lam, U = eigh(G)
    top = np.abs(lam).max(initial=0.0)
    if lam.size and lam[0] < -1e-8 * max(top, 1e-300) * n:
        warnings.warn(
            "The kernel matrix is not positive semi-definite (smallest "
            f"eigenvalue {lam[0]:.3g}, largest {lam[-1]:.3g}); its "
            "negative eigenvalues are dropped, i.e. the model is kernel ridge "
            "on the nearest PSD kernel. Use a PSD kernel for exact results.",
            UserWarning,
            stacklevel=4,
        )
    negative = bool(lam.size and lam[0] < -1e-8 * max(top, 1e-300) * n)
    keep = _rank_cut(lam, (n, n))
    lam, U = lam[keep], U[:, keep]
    P = _rows_from_left(
        U, np.sqrt(lam), sw, positive, lambda a, b: K[np.ix_(a, b)], lam, w
    )
    spec = _assemble(P, lam, None, Y, 0.0, w, float(w.sum()), False, None, None)
    spec.negative_dropped = negative  # the fit is on the PSD part of K
    return spec


def _assemble(P, lam, V, Y, y_mean, w, w_sum, fit_intercept, X, x_mean, null=None):
    """Spectral from the training rows P in the eigenbasis and eigenvalues λ."""
    positive = w > 0
    yc = Y - y_mean
    if fit_intercept and w_sum > 0:
        # the part of the mean below the rounding of y_mean (see CenteredX)
        yc = yc - (w @ yc) / w_sum
    c = P.T @ (yc * w[:, None])
    n_fit = int(np.count_nonzero(positive))
    if lam.size + int(fit_intercept) >= n_fit:
        # the model interpolates the weighted samples as alpha -> 0
        resid_perp = np.where(positive[:, None], 0.0, yc - P @ (c / lam[:, None]))
        lev_perp = np.where(positive, 0.0, 1.0)
    else:
        resid_perp = yc - P @ (c / lam[:, None])
        intercept = w / w_sum if fit_intercept else 0.0
        lev_perp = np.maximum(1.0 - intercept - w * ((P**2) @ (1.0 / lam)), 0.0)
    return Spectral(
        V=None if V is None else np.ascontiguousarray(V),
        lam=lam,
        P=np.ascontiguousarray(P),
        c=c,
        yc=yc,
        w=w,
        w_sum=w_sum,
        fit_intercept=fit_intercept,
        resid_perp=resid_perp,
        lev_perp=lev_perp,
        X=X,
        x_mean=x_mean,
        null=null,
    )


def _rows_from_left(U, S, sw, positive, cross, lam, w):
    """P = Xc V from Z = U S Vᵀ: rows with w > 0 are U S / √w.

    Zero-weight rows are not in Z; they use ``Xc_i V = k(x_i, X_pos) W P_pos / λ``
    with ``cross(zero, positive)`` the unweighted (centred) Gram block.
    """
    if positive.all():
        return U * (S / sw[:, None])
    P = np.empty_like(U)
    P[positive] = U[positive] * S / sw[positive, None]
    zero = ~positive
    P[zero] = cross(zero, positive) @ (P[positive] * (w[positive, None] / lam))
    return P


def _covariance_side_is_cheaper(n, p):
    """Flop model: eigh costs ~8 m³ against ~n m² for the product that forms
    the m x m matrix; the covariance side also needs P = Xc V (2 n p r)."""
    covariance = n * p * p + 8.0 * p**3 + 2.0 * n * p * min(n, p)
    gram = n * n * p + 8.0 * n**3
    return covariance <= gram


#: The side :func:`decompose` diagonalises, public for the device path
#: (``skrt._spectral_xp``), which chooses it the same way.
covariance_side_is_cheaper = _covariance_side_is_cheaper


# ----------------------------------------------------------------------------
# Cross-validation criteria over many s
# ----------------------------------------------------------------------------


def removed_fraction(w):
    """Weight removed when one observation of sample i is left out.

    Integer weights count repeated rows, so one unit is removed; a weight below
    one is a fraction of an observation, removed whole.
    """
    return np.minimum(w, 1.0)


def leave_one_out_path(spec: Spectral, alphas, *, return_derivative=False):
    """Exact weighted LOO error ``Σ w_i e_i² / Σw`` at each alpha.

    ``e_i = r_i / (1 - m_i g_i)`` with ``m_i = min(w_i, 1)``. For weights <= 1
    this is ``r_i/(1-h_i)`` (sample i removed); integer weights act like
    repeated rows. Both ``r`` and ``1 - h`` are evaluated from their
    alpha-independent parts plus terms in ``q = s/(λ(λ+s))``, so nothing
    cancels as alpha → 0. Returns shape (n_alphas, n_targets), and with
    ``return_derivative`` also d/d(log s) of it, from the same two passes
    over ``P`` and ``P²`` (``dq/ds = 1/(λ+s)²``).

    Sign convention (the package's, inside the numerical core): ``r = f - y``;
    only the public ``loo_residuals_`` are ``y - f_(-i)``.
    """
    alphas = np.atleast_1d(np.asarray(alphas, dtype=float))
    G = alphas.size
    lam = spec.lam[:, None]
    # the spectral filters, stacked on a leading axis: q, then dq/ds
    filters = [_shrink(lam, alphas[None, :])]  # (rank, G)
    if return_derivative:
        filters.append((1.0 / (lam + alphas[None, :])) ** 2)
    filters = np.stack(filters)  # (d, rank, G)
    d, rank = filters.shape[:2]
    n, k = spec.P.shape[0], spec.c.shape[1]
    # one pass over P² for every filter: lev[:, f] = P² filters[f]
    lev = _filtered(spec.P2, filters)  # (n, d, G)
    one_minus_h = spec.lev_perp[:, None] + spec.w[:, None] * lev[:, 0]
    denom = _unit_complement(spec.w, one_minus_h)
    bad = np.any(denom <= SINGULAR, axis=0)
    denom = np.where(denom <= SINGULAR, np.nan, denom)
    # one pass over P for every filter and target: fits[:, f, j] = P (c_j filters[f])
    coefs = spec.c.T[None, :, :, None] * filters[:, None]  # (d, k, rank, G)
    fits = _filtered(spec.P, coefs.reshape(d * k, rank, G)).reshape(n, d, k, G)
    out = np.empty((G, k))
    dout = np.empty((G, k)) if return_derivative else None
    if return_derivative:
        ddenom = removed_fraction(spec.w)[:, None] * lev[:, 1]  # d(1 - m g)/ds
    for j in range(k):
        r = -(spec.resid_perp[:, j][:, None] + fits[:, 0, j])  # f - y
        e = r / denom
        out[:, j] = (spec.w @ (e**2)) / spec.w_sum
        if return_derivative:
            dr = -fits[:, 1, j]
            de = dr / denom - r * ddenom / denom**2
            dout[:, j] = 2.0 * (spec.w @ (e * de)) / spec.w_sum * alphas
    out[bad] = np.inf
    if return_derivative:
        dout[bad] = np.nan
        return out, dout
    return out


def _filtered(M, filters):
    """``M @ filters[f]`` for every f in one matrix product, shape (n, d, G)."""
    d, rank, G = filters.shape
    stacked = filters.transpose(1, 0, 2).reshape(rank, d * G)
    return (M @ stacked).reshape(M.shape[0], d, G)


def gcv_path(spec: Spectral, alphas):
    """Generalised cross-validation ``(RSS/Σw) / (1 - df/Σw)²`` per alpha.

    ``df = [fit_intercept] + Σ_k λ_k/(λ_k + s)``. Shape (n_alphas, n_targets).
    """
    alphas = np.atleast_1d(np.asarray(alphas, dtype=float))
    dof = spec.residual_dof(alphas) / spec.w_sum
    out = np.empty((alphas.size, spec.c.shape[1]))
    q = _shrink(spec.lam[:, None], alphas[None, :])
    for j in range(spec.c.shape[1]):
        r = -(spec.resid_perp[:, j][:, None] + spec.P @ (spec.c[:, j][:, None] * q))
        out[:, j] = (spec.w @ r**2) / spec.w_sum
    good = dof > GCV_DOF_MIN
    return np.where(good[:, None], out / np.where(good, dof, 1.0)[:, None] ** 2, np.inf)


#: ``1 - df/Σw`` at or below this: GCV is infinite (no residual dof left).
GCV_DOF_MIN = 1e-12


def noise_variance(rss, w_sum, dof):
    """``σ² = Σ w r² / (Σw - df)``, or ``Σ w r² / Σw`` when no residual
    degrees of freedom remain (``dof <= 1e-8 Σw``).

    Parameters
    ----------
    rss : float or ndarray of shape (n_targets,)
        Weighted residual sum of squares ``Σ w r²``.
    w_sum : float
        ``Σw``.
    dof : float
        Residual degrees of freedom ``Σw - df``.
    """
    return rss / dof if dof > 1e-8 * w_sum else rss / w_sum


def gcv_estimate(rss, w_sum, df):
    """``(σ², GCV)`` per target from the weighted RSS and an (estimated) df,
    for paths without the decomposition (conjugate gradients).

    ``σ² = RSS / (Σw - df)`` (see :func:`noise_variance`) and
    ``GCV = (RSS/Σw) / (1 - df/Σw)²``, infinite without residual dof.
    """
    sigma2 = noise_variance(rss, w_sum, w_sum - df)
    dof = 1.0 - df / w_sum
    gcv = rss / w_sum / dof**2 if dof > GCV_DOF_MIN else np.full(np.shape(rss), np.inf)
    return sigma2, gcv


def default_alpha_bounds(lam_max):
    """Search range relative to the largest eigenvalue of ``ZᵀZ``.

    ``1e-8 λ_max`` is ordinary least squares for practical purposes and
    ``1e4 λ_max`` the constant model.
    """
    if not np.isfinite(lam_max) or lam_max <= 0:
        return 1e-6, 1e6
    return 1e-8 * lam_max, 1e4 * lam_max


def basin_starts(vals, n_starts):
    """Indices of the grid's local minima (ends included), best first, at
    most ``n_starts``: the basins a 1-D search refines (alpha and gamma)."""
    padded = np.concatenate([[np.inf], vals, [np.inf]])
    is_min = (padded[1:-1] <= padded[:-2]) & (padded[1:-1] <= padded[2:])
    starts = np.flatnonzero(is_min)
    return starts[np.argsort(vals[starts], kind="stable")][:n_starts]


def slope_bracket(i, slopes, log_grid):
    """The grid interval beside point ``i`` where the slope goes from
    negative to positive, as ``(t_a, t_b)``, or None (a bound, a flat
    stretch, or a kink the slope does not see)."""
    for a, b in ((i - 1, i), (i, i + 1)):
        if 0 <= a and b < log_grid.size and slopes[a] < 0 < slopes[b]:
            return log_grid[a], log_grid[b]
    return None


def minimize_criterion(criterion, bounds, *, n_grid=33, n_starts=3):
    """Minimise a 1-D criterion of s over ``bounds`` on a continuum.

    A coarse log-grid locates the basins (several local minima are common);
    the ``n_starts`` best are refined: by a root of the analytic derivative
    in log s where it changes sign, otherwise (no derivative, or a minimum
    at a bound) by bounded Brent search in log s.

    Parameters
    ----------
    criterion : callable
        ``criterion(alphas) -> values`` or ``-> (values, d values/d log s)``,
        each of shape (n_alphas,), vectorised over alphas.
    bounds : (float, float)

    Returns
    -------
    alpha : float
    value : float
    at_bound : {None, "lower", "upper"}
    """
    lo, hi = float(bounds[0]), float(bounds[1])

    def evaluate(alphas):
        out = criterion(alphas)
        if isinstance(out, tuple):
            return np.asarray(out[0], float), np.asarray(out[1], float)
        return np.asarray(out, float), None

    grid = np.geomspace(lo, hi, n_grid)
    log_grid = np.log(grid)
    vals, derivs = evaluate(grid)
    vals = np.where(np.isfinite(vals), vals, np.inf)
    if not np.isfinite(vals).any():
        raise ValueError(
            "The cross-validation criterion is infinite at every alpha in "
            f"alpha_bounds=({lo:g}, {hi:g}): some sample has leverage 1 "
            "(it alone determines its own fit). Raise alpha_bounds or add data."
        )
    starts = basin_starts(vals, n_starts)

    def value_at(t):
        v = float(evaluate(np.array([np.exp(t)]))[0][0])
        return v if np.isfinite(v) else np.inf

    def slope_at(t):
        return float(evaluate(np.array([np.exp(t)]))[1][0])

    best_t, best_v = log_grid[starts[0]], vals[starts[0]]
    for i in starts:
        if derivs is not None:
            # the slope's sign change lies left or right of grid point i; a
            # bound whose slope points outward is itself the minimum
            bracket = slope_bracket(i, derivs, log_grid)
            if bracket is None:
                continue  # a bound (or a flat stretch): the grid value stands
            lo_t, hi_t = bracket
            if slope_at(lo_t) < 0 < slope_at(hi_t):
                t_opt = scipy.optimize.brentq(
                    slope_at, lo_t, hi_t, xtol=1e-12, rtol=1e-14
                )
            else:  # the slope is at round-off level: minimise the value
                t_opt = scipy.optimize.minimize_scalar(
                    value_at,
                    bounds=bracket,
                    method="bounded",
                    options={"xatol": 1e-10},
                ).x
        else:
            a, b = log_grid[max(i - 1, 0)], log_grid[min(i + 1, n_grid - 1)]
            res = scipy.optimize.minimize_scalar(
                value_at, bounds=(a, b), method="bounded", options={"xatol": 1e-10}
            )
            t_opt = float(res.x)
        v_opt = value_at(t_opt)
        if v_opt < best_v:
            best_t, best_v = t_opt, v_opt
    alpha = float(np.exp(best_t))
    at_bound = None
    if best_t <= log_grid[0] + 1e-9:
        alpha, at_bound = lo, "lower"
    elif best_t >= log_grid[-1] - 1e-9:
        alpha, at_bound = hi, "upper"
    return alpha, float(best_v), at_bound
