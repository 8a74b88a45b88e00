r"""The spectral closed forms in any array-API namespace, on any device.

The device path of :class:`~skrt.RegularityRidge` and
:class:`~skrt.RegularityKernelRidge` (scikit-learn's ``array_api_dispatch``
on and a PyTorch, CuPy or ``array_api_strict`` input): the formulas of
``docs/math.rst`` §§ ``math-spectral``, ``math-loo``, ``math-gcv`` and
``math-alpha-search``, written once against a namespace ``xp``. The numpy
path (:mod:`skrt._linalg`) is left as it is; these functions compute the
same quantities, in the input's namespace and on its device:

* the weighted centring (means with one step of iterative refinement, the
  part of an offset column's mean below its rounding, numerically constant
  columns set to zero) and one decomposition of ``Z = W^{1/2} Xc``: ``eigh``
  of ``ZᵀZ`` or ``ZZᵀ``, whichever side is cheaper, or the thin SVD of
  ``Z``; for kernels ``eigh`` of ``W^{1/2} K W^{1/2}`` (:func:`decompose`,
  :func:`decompose_kernel`, both returning a :class:`SpectralXP`);
* the exact leave-one-out and GCV criteria and their slopes in ``log s``
  over a vector of alphas as one batched product (``n x n_alphas``
  matrices, :func:`loo_path`, :func:`gcv_path`; never a loop over alphas);
* the alpha search over them (:mod:`skrt._alpha_xp`);
* the fit at ``alpha_``: weights, tangent, ``H⁻¹σ_T``, leverages and the
  leave-one-out record (:meth:`SpectralXP.weights_at`, :func:`loo_record`).

Precision: the computation dtype is the most precise real floating dtype
the device supports (:func:`float_dtype`): float64 wherever there is one,
as the numpy path (which computes in float64 whatever the input), float32
on devices without float64. The round-off cut-offs of :mod:`skrt._linalg`
scale with that dtype's epsilon.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn import config_context
from sklearn.utils._array_api import get_namespace_and_device

from ._array_api import float_dtypes, numpy_only, to_numpy
from ._graded import GRADED_SPREAD
from ._linalg import GCV_DOF_MIN, SINGULAR, covariance_side_is_cheaper

__all__ = [
    "Centered",
    "LeaveOneOutXP",
    "SpectralXP",
    "center",
    "decompose",
    "decompose_kernel",
    "float_dtype",
    "gcv_path",
    "loo_path",
    "loo_record",
    "namespace_of",
    "positive_part",
]

_EPS64 = float(np.finfo(np.float64).eps)


def namespace_of(*arrays):
    """``(xp, device)`` of array-API arrays, whatever the dispatch setting."""
    with config_context(array_api_dispatch=True):
        xp, _, device = get_namespace_and_device(*arrays)
    return xp, device


def float_dtype(xp, device):
    """The most precise real floating dtype of ``device`` (float64 where it
    has one), the dtype every device computation runs in."""
    return float_dtypes(xp, device)[0]


def round_off(dtype, xp, value64):
    """A float64 round-off cut-off ``value64`` in units of ``dtype``'s
    epsilon (the same number for float64)."""
    return value64 * max(1.0, float(xp.finfo(dtype).eps) / _EPS64)


@dataclass(eq=False)
class SpectralXP:
    """:class:`skrt._linalg.Spectral` with arrays in one namespace and device.

    Attributes
    ----------
    V : array of shape (n_features, rank) or None
        The eigenbasis of ``ZᵀZ`` (always formed for the linear model; None
        for a kernel).
    lam : array of shape (rank,)
    P : array of shape (n_samples, rank)
        The training rows in the eigenbasis, ``Xc V`` (kernel: ``U √λ/√w``).
    c : array of shape (rank, n_targets)
        ``Pᵀ W yc``.
    yc : array of shape (n_samples, n_targets)
    w : array of shape (n_samples,)
    w_sum : float
    fit_intercept : bool
    resid_perp : array of shape (n_samples, n_targets)
    lev_perp : array of shape (n_samples,)
    null : array of shape (n_features, n_features - rank) or None
        An orthonormal basis of the complement of ``span(V)`` where the
        decomposition gives one.
    negative_dropped : bool
        A kernel's clearly negative eigenvalues were dropped.
    """

    V: object
    lam: object
    P: object
    c: object
    yc: object
    w: object
    w_sum: float
    fit_intercept: bool
    resid_perp: object
    lev_perp: object
    null: object = None
    negative_dropped: bool = False

    def __post_init__(self):
        self.P2 = self.P**2

    @property
    def namespace(self):
        """``(xp, device)`` of the arrays."""
        return namespace_of(self.lam)

    @property
    def xp(self):
        return self.namespace[0]

    @property
    def dtype(self):
        return self.lam.dtype

    @property
    def rank(self) -> int:
        return int(self.lam.shape[0])

    @property
    def intercept_leverage(self) -> float:
        return 1.0 / self.w_sum if self.fit_intercept else 0.0

    def basis(self):
        return self.V

    def singular(self):
        """The ``1 - m g`` cut-off :data:`skrt._linalg.SINGULAR` in this dtype."""
        return round_off(self.dtype, self.xp, SINGULAR)

    def weights_at(self, s, R, dual=False):
        """θ*(s), θ̇(s) and ``A⁻¹ Xcᵀ W R`` (or, with ``dual``, their dual
        coefficients), as :meth:`skrt._linalg.Spectral.weights_at`."""
        xp = self.xp
        inv = 1.0 / (self.lam + s)[:, None]
        k = self.c.shape[1]
        w = self.w[:, None]
        stacked = xp.concat(
            [self.c * inv, -self.c * inv * inv, (self.P.T @ (R * w)) * inv], axis=1
        )
        if not dual:
            out = self.V @ stacked
            return out[:, :k], out[:, k : 2 * k], out[:, 2 * k :]
        out = (self.P @ (stacked / self.lam[:, None])) * w
        # the null space of K̃ (rank cut included): (K̃ + sI)⁻¹ is 1/s there
        R_perp = R - self.P @ ((self.P.T @ (R * w)) / self.lam[:, None])
        return (
            out[:, :k] + w * self.resid_perp / s,
            out[:, k : 2 * k] - w * self.resid_perp / s**2,
            out[:, 2 * k :] + w * R_perp / s,
        )

    def residual(self, s):
        """r = f(x) - y, shape (n, n_targets)."""
        q = (s / (self.lam + s)) / self.lam
        return -(self.resid_perp + self.P @ (self.c * q[:, None]))

    def residual_dof(self, s) -> float:
        """``Σw - df(s)`` at one s."""
        base = self.w_sum - float(self.fit_intercept) - self.rank
        return base + float(self.xp.sum(s / (self.lam + s)))

    def loo_denominator(self, s):
        """``1 - m_i g_i`` with ``m_i = min(w_i, 1)``."""
        one_minus_h = self.lev_perp + self.w * (
            self.P2 @ ((s / (self.lam + s)) / self.lam)
        )
        return unit_complement(self.xp, self.w, one_minus_h)

    def unit_leverage(self, s):
        """g_i(s), shape (n_samples,)."""
        return self.intercept_leverage + self.P2 @ (1.0 / (self.lam + s))

    def penalised_inverse(self, Z, s):
        """``A⁻¹ Z`` for Z of shape (p, k): ``V (λ+s)⁻¹ Vᵀ Z`` plus the
        complement over s (projected on :attr:`null` where it is kept)."""
        proj = self.V.T @ Z
        inside = self.V @ (proj / (self.lam + s)[:, None])
        if self.null is not None:
            return inside + self.null @ (self.null.T @ Z) / s
        return inside + (Z - self.V @ proj) / s


def unit_complement(xp, w, one_minus_h):
    """``1 - m g`` from ``1 - h`` (``w`` broadcast against it)."""
    if one_minus_h.ndim == 2 and w.ndim == 1:
        w = w[:, None]
    safe_w = xp.where(w > 1, w, 1.0)
    return xp.where(w > 1, ((w - 1.0) + one_minus_h) / safe_w, one_minus_h)


def positive_part(xp, a):
    """``max(a, 0)`` entry by entry."""
    return xp.where(a > 0.0, a, 0.0)


def removed(xp, w):
    """``m = min(w, 1)``, the weight one left-out observation removes."""
    return xp.where(w < 1.0, w, 1.0)


# -- centring and decomposition ---------------------------------------------


@dataclass(eq=False)
class Centered:
    """The weighted centred design on the device (:class:`skrt._centering.CenteredX`).

    Attributes
    ----------
    Xc : array of shape (n_samples, n_features)
        ``(X - x̄) - mean_lo``, numerically constant columns zero.
    x_mean, mean_lo : arrays of shape (n_features,)
    offset, live : bool arrays of shape (n_features,)
        Columns whose mean dwarfs their spread; columns that vary.
    y_mean : array of shape (n_targets,)
    w_sum : float
    """

    Xc: object
    x_mean: object
    mean_lo: object
    offset: object
    live: object
    y_mean: object
    w_sum: float


def center(X, Y, w, fit_intercept):
    """Weighted means and the centred design, as the numpy path's
    ``weighted_center`` and ``CenteredX`` (dense X).

    Raises
    ------
    ValueError
        Where a weighted sum overflows, a varying column's squares underflow,
        or y's squares would overflow.
    """
    xp, device = namespace_of(X)
    dtype = X.dtype
    n, p = X.shape
    w_sum = float(xp.sum(w))
    eps = float(xp.finfo(dtype).eps)
    if fit_intercept:
        x_mean = (w @ X) / w_sum
        x_mean = x_mean + (w @ (X - x_mean)) / w_sum
        y_mean = (w @ Y) / w_sum
        y_mean = y_mean + (w @ (Y - y_mean)) / w_sum
    else:
        x_mean = xp.zeros(p, dtype=dtype, device=device)
        y_mean = xp.zeros(Y.shape[1], dtype=dtype, device=device)
    D = X - x_mean
    sq = w @ (D * D)
    noise = (16.0 * eps * x_mean) ** 2 * w_sum
    live = sq > noise
    offset = x_mean**2 * w_sum > sq
    unsafe = offset & live
    mean_lo = xp.where(unsafe, (w @ D) / w_sum, 0.0)
    spread = xp.abs(Y - y_mean)
    # squares of deviations near the subnormals (1e-304 in float64)
    tiny_cut = float(xp.finfo(dtype).smallest_normal) * 4.5e3
    checks = xp.stack(
        [
            xp.sum(sq),
            xp.astype(xp.all(xp.isfinite(x_mean)), dtype),
            xp.astype(xp.any(live & (sq < tiny_cut * w_sum)), dtype),
            xp.max(spread) if n else xp.asarray(0.0, dtype=dtype, device=device),
            xp.astype(xp.all(xp.isfinite(y_mean)), dtype),
        ]
    )
    total, mean_ok, tiny, y_spread, y_ok = (float(v) for v in to_numpy(checks, xp))
    big = float(xp.finfo(dtype).max)
    if not (mean_ok and math.isfinite(total) and total < big * 1e-6):
        raise ValueError(
            "X is too large in scale: its weighted sums or squares overflow "
            f"{_dtype_name(dtype)}. Rescale X (for example with "
            "sklearn.preprocessing.StandardScaler, or by a constant factor)."
        )
    if tiny:
        raise ValueError(
            "X is too small in scale: a column's squared deviations underflow "
            f"{_dtype_name(dtype)}. Rescale X (for example with "
            "sklearn.preprocessing.StandardScaler)."
        )
    limit = math.sqrt(big / (16.0 * max(w_sum, 1.0)))
    if not (y_ok and y_spread <= limit):
        raise ValueError(
            "y is too large in scale: the weighted sums of squares of the "
            f"residuals would overflow {_dtype_name(dtype)} (limit about "
            f"{limit:.3g}). Rescale y."
        )
    Xc = (D - mean_lo) * xp.astype(live, dtype)
    return Centered(
        Xc=Xc,
        x_mean=x_mean,
        mean_lo=mean_lo,
        offset=offset,
        live=live,
        y_mean=y_mean,
        w_sum=w_sum,
    ), xp.sqrt(xp.where(live, sq, 0.0))


def _dtype_name(dtype):
    return str(dtype).rsplit(".", 1)[-1]


def check_not_graded(scale):
    """The numpy-only error for graded columns (``docs/math.rst`` §
    ``math-graded``): their relative-accurate decomposition (one-sided
    Jacobi) is LAPACK's, with no array-API form."""
    xp, _ = namespace_of(scale)
    live = scale > 0
    if not bool(xp.any(live)):
        return
    top = float(xp.max(scale))
    low = float(xp.min(xp.where(live, scale, top)))
    spread = top / low
    if spread > GRADED_SPREAD:
        raise numpy_only(
            f"X whose centred column scales span {spread:.3g} (more than "
            f"{GRADED_SPREAD:g}: the relative-accurate one-sided Jacobi "
            "decomposition of graded columns)",
            "columns of comparable scale (e.g. a StandardScaler first)",
        )


def _kept_tail(xp, lam, size, dtype):
    """How many of the ascending eigenvalues ``lam`` pass the rank cut."""
    if lam.shape[0] == 0:
        return 0
    top = float(xp.max(lam))
    if top <= 0:
        return 0
    cut = top * max(size) * float(xp.finfo(dtype).eps) * 10
    return int(xp.count_nonzero(lam > cut))


def decompose(cx, Y, w, fit_intercept, method="eigen"):
    """One decomposition of ``Z = W^{1/2} Xc`` (``docs/math.rst`` §
    ``math-spectral``): the thin SVD of Z (``method="svd"``), else ``eigh`` of
    ``ZᵀZ`` or ``ZZᵀ``, whichever side is cheaper.

    Parameters
    ----------
    cx : Centered
    Y : array of shape (n_samples, n_targets)
    w : array of shape (n_samples,)
    fit_intercept : bool
    method : {"eigen", "svd"}, default="eigen"

    Returns
    -------
    SpectralXP
    """
    xp, _ = namespace_of(cx.Xc)
    dtype = cx.Xc.dtype
    n, p = cx.Xc.shape
    sw = xp.sqrt(w)
    positive = w > 0
    Z = cx.Xc * sw[:, None]
    null = None
    if method == "svd":
        U, S, Vt = xp.linalg.svd(Z, full_matrices=False)
        r = _kept_tail(xp, S**2, (n, p), dtype)  # descending: the head
        if Vt.shape[0] == p:
            null = Vt[r:, :].T
        U, S, V = U[:, :r], S[:r], Vt[:r, :].T
        lam = S**2
        P = _rows_from_left(xp, U, S, sw, positive, cx.Xc, lam, w)
    elif covariance_side_is_cheaper(n, p):
        lam, V = xp.linalg.eigh(Z.T @ Z)
        r = _kept_tail(xp, lam, (n, p), dtype)
        null, lam, V = V[:, : p - r], lam[p - r :], V[:, p - r :]
        V = V * xp.astype(cx.live, dtype)[:, None]  # constant columns: round-off
        P = cx.Xc @ V
    else:
        lam, U = xp.linalg.eigh(Z @ Z.T)
        r = _kept_tail(xp, lam, (n, p), dtype)
        lam, U = lam[n - r :], U[:, n - r :]
        P = _rows_from_left(xp, U, xp.sqrt(lam), sw, positive, cx.Xc, lam, w)
        V = None
    if V is None:
        V = cx.Xc.T @ (P * (w[:, None] / lam))
    return _assemble(xp, P, lam, V, Y, cx.y_mean, w, cx.w_sum, fit_intercept, null)


def _rows_from_left(xp, U, S, sw, positive, Xc, lam, w):
    """P = Xc V from Z = U S Vᵀ: ``U S/√w`` on the rows of positive weight;
    zero-weight rows are ``Xc_i V`` with ``V = Xcᵀ W P/λ``."""
    P = U * (S / xp.where(positive, sw, 1.0)[:, None])
    if bool(xp.all(positive)):
        return P
    P = xp.where(positive[:, None], P, 0.0)
    zero_rows = Xc @ (Xc.T @ (P * (w[:, None] / lam)))
    return xp.where(positive[:, None], P, zero_rows)


def decompose_kernel(K, Y, w, *, check_symmetric=True):
    """Kernel ridge in the spectral form (:func:`skrt._linalg.decompose_kernel`):
    ``eigh`` of ``W^{1/2} K W^{1/2}``, no intercept.

    Raises
    ------
    ValueError
        If ``check_symmetric`` and K is not symmetric.

    Warns
    -----
    UserWarning
        If K has clearly negative eigenvalues (dropped).
    """
    xp, _ = namespace_of(K)
    dtype = K.dtype
    n = K.shape[0]
    sw = xp.sqrt(w)
    positive = w > 0
    if check_symmetric and n:
        scale = float(xp.max(xp.abs(K)))
        if float(xp.max(xp.abs(K - K.T))) > 1e-10 * scale:
            raise ValueError("The kernel matrix is not symmetric.")
    unit = bool(xp.all(w == 1.0))
    G = K if unit else K * sw[:, None] * sw[None, :]
    lam, U = xp.linalg.eigh(G)
    negative = False
    if n:
        low, top = float(lam[0]), float(xp.max(xp.abs(lam)))
        negative = low < -1e-8 * max(top, 1e-300) * n
    if negative:
        warnings.warn(
            "The kernel matrix is not positive semi-definite (smallest "
            f"eigenvalue {low:.3g}, largest {float(lam[-1]):.3g}); its "
            "negative eigenvalues are dropped, i.e. the model is kernel ridge "
            "on the nearest PSD kernel. Use a PSD kernel for exact results.",
            UserWarning,
            stacklevel=4,
        )
    r = _kept_tail(xp, lam, (n, n), dtype)
    lam, U = lam[n - r :], U[:, n - r :]
    P = U * (xp.sqrt(lam) / xp.where(positive, sw, 1.0)[:, None])
    if not bool(xp.all(positive)):
        P = xp.where(positive[:, None], P, 0.0)
        P = xp.where(positive[:, None], P, K @ (P * (w[:, None] / lam)))
    w_sum = float(xp.sum(w))
    zero = xp.zeros(Y.shape[1], dtype=dtype, device=namespace_of(K)[1])
    spec = _assemble(xp, P, lam, None, Y, zero, w, w_sum, False, None)
    spec.negative_dropped = bool(negative)
    return spec


def _assemble(xp, P, lam, V, Y, y_mean, w, w_sum, fit_intercept, null):
    """SpectralXP from the rows P in the eigenbasis (``skrt._linalg._assemble``)."""
    positive = w > 0
    yc = Y - y_mean
    if fit_intercept and w_sum > 0:
        yc = yc - (w @ yc) / w_sum
    c = P.T @ (yc * w[:, None])
    n_fit = int(xp.count_nonzero(positive))
    free = yc - P @ (c / lam[:, None])
    if lam.shape[0] + int(fit_intercept) >= n_fit:
        # the model interpolates the weighted samples as alpha -> 0
        resid_perp = xp.where(positive[:, None], 0.0, free)
        lev_perp = xp.astype(xp.logical_not(positive), P.dtype)
    else:
        resid_perp = free
        intercept = w / w_sum if fit_intercept else 0.0
        lev_perp = positive_part(xp, 1.0 - intercept - w * ((P**2) @ (1.0 / lam)))
    return SpectralXP(
        V=V,
        lam=lam,
        P=P,
        c=c,
        yc=yc,
        w=w,
        w_sum=w_sum,
        fit_intercept=fit_intercept,
        resid_perp=resid_perp,
        lev_perp=lev_perp,
        null=null,
    )


# -- the criteria over many alphas ---------------------------------------------


def _filters(spec, alphas, derivative):
    """``q = s/(λ(λ+s))`` and, with ``derivative``, ``dq/ds = 1/(λ+s)²``,
    side by side: shape (rank, d * n_alphas)."""
    lam, a = spec.lam[:, None], alphas[None, :]
    filters = [(a / (lam + a)) / lam]
    if derivative:
        filters.append(1.0 / (lam + a) ** 2)
    return spec.xp.concat(filters, axis=1)


def _fits(spec, F):
    """``P (c_j ⊙ F)`` for every target j and filter column, one product:
    shape (n, n_targets, columns of F)."""
    xp = spec.xp
    r, cols = F.shape
    n, k = spec.P.shape[0], spec.c.shape[1]
    coefs = xp.reshape(spec.c[:, :, None] * F[:, None, :], (r, k * cols))
    return xp.reshape(spec.P @ coefs, (n, k, cols))


def loo_path(spec, alphas, *, derivative=False):
    """Exact weighted LOO error at every alpha in one batched evaluation
    (:func:`skrt._linalg.leave_one_out_path`).

    Parameters
    ----------
    spec : SpectralXP
    alphas : array of shape (n_alphas,), in the namespace and on the device
        of ``spec``
    derivative : bool, default=False
        Also return d LOO / d log s.

    Returns
    -------
    values : array of shape (n_alphas, n_targets)
    slopes : array of shape (n_alphas, n_targets)
        Only with ``derivative``.
    """
    xp = spec.xp
    G = alphas.shape[0]
    F = _filters(spec, alphas, derivative)
    lev = spec.P2 @ F  # (n, d G): one pass over P² for every filter
    fits = _fits(spec, F)  # (n, k, d G): one pass over P
    w = spec.w
    denom = unit_complement(xp, w, spec.lev_perp[:, None] + w[:, None] * lev[:, :G])
    singular = denom <= spec.singular()
    bad = xp.any(singular, axis=0)
    denom = xp.where(singular, xp.nan, denom)
    r = -(spec.resid_perp[:, :, None] + fits[:, :, :G])  # f - y
    e = r / denom[:, None, :]
    wk = w[:, None, None]
    values = xp.where(bad[None, :], xp.inf, xp.sum(wk * e**2, axis=0) / spec.w_sum)
    if not derivative:
        return values.T
    ddenom = removed(xp, w)[:, None] * lev[:, G:]
    de = -fits[:, :, G:] / denom[:, None, :] - r * (ddenom / denom**2)[:, None, :]
    slopes = 2.0 * xp.sum(wk * e * de, axis=0) / spec.w_sum * alphas[None, :]
    return values.T, xp.where(bad[None, :], xp.nan, slopes).T


def gcv_path(spec, alphas, *, derivative=False):
    """GCV ``(RSS/Σw) / (1 - df/Σw)²`` at every alpha in one batched
    evaluation (:func:`skrt._linalg.gcv_path`), and with ``derivative`` its
    slope in log s: ``d GCV/ds = RSS'/(Σw d²) - 2 RSS d'/(Σw d³)`` with
    ``d = 1 - df/Σw``, ``d' = Σ λ/(λ+s)² / Σw``.

    Returns
    -------
    values : array of shape (n_alphas, n_targets)
    slopes : array of shape (n_alphas, n_targets)
        Only with ``derivative``.
    """
    xp = spec.xp
    G = alphas.shape[0]
    lam, a = spec.lam[:, None], alphas[None, :]
    base = spec.w_sum - float(spec.fit_intercept) - spec.rank
    dof = (base + xp.sum(a / (lam + a), axis=0)) / spec.w_sum
    fits = _fits(spec, _filters(spec, alphas, derivative))
    r = -(spec.resid_perp[:, :, None] + fits[:, :, :G])
    wk = spec.w[:, None, None]
    rss = xp.sum(wk * r**2, axis=0) / spec.w_sum  # (k, G)
    good = dof > round_off(spec.dtype, xp, GCV_DOF_MIN)
    safe = xp.where(good, dof, 1.0)
    values = xp.where(good[None, :], rss / safe**2, xp.inf)
    if not derivative:
        return values.T
    drss = 2.0 * xp.sum(wk * r * -fits[:, :, G:], axis=0) / spec.w_sum
    ddof = xp.sum(lam / (lam + a) ** 2, axis=0) / spec.w_sum
    slope = (drss / safe**2 - 2.0 * rss * ddof / safe**3) * a
    return values.T, xp.where(good[None, :], slope, xp.nan).T


# -- the record at alpha_ -----------------------------------------------------


@dataclass(frozen=True)
class LeaveOneOutXP:
    """:class:`skrt._influence.LeaveOneOut` with arrays on the device."""

    residual: object
    leverage: object
    loo_residual: object
    loo_error: object
    gcv_error: object
    noise_variance: object


def loo_record(spec, s):
    """Leverages, exact LOO residuals and error, GCV and ``σ²`` at alpha
    ``s`` (:func:`skrt._influence.leave_one_out_record`)."""
    xp, device = spec.namespace
    resid = spec.residual(s)
    denom = spec.loo_denominator(s)
    ok = denom > spec.singular()
    loo = xp.where(ok[:, None], -resid / xp.where(ok, denom, 1.0)[:, None], xp.inf)
    k = resid.shape[1]
    rss = spec.w @ resid**2
    loo_sum = spec.w @ loo**2
    if bool(xp.all(xp.isfinite(loo))):
        loo_error = loo_sum / spec.w_sum
    else:
        loo_error = xp.full(k, xp.inf, dtype=spec.dtype, device=device)
    dof = spec.residual_dof(s)
    sigma2 = rss / dof if dof > 1e-8 * spec.w_sum else rss / spec.w_sum
    a = xp.asarray([s], dtype=spec.dtype, device=device)
    return LeaveOneOutXP(
        residual=resid,
        leverage=spec.w * spec.unit_leverage(s),
        loo_residual=loo,
        loo_error=loo_error,
        gcv_error=gcv_path(spec, a)[0, :],
        noise_variance=sigma2,
    )


def leave_one_out_change(spec, s):
    """``e_i = m_i r_i / (1 - m_i g_i)`` (inf where the sample pins the
    fit), the residuals and ``1 - m g``
    (:func:`skrt._influence.leave_one_out_change`)."""
    xp = spec.xp
    resid = spec.residual(s)
    denom = spec.loo_denominator(s)
    ok = denom > spec.singular()
    safe = xp.where(ok, denom, 1.0)
    e = xp.where(ok[:, None], (removed(xp, spec.w) / safe)[:, None] * resid, xp.inf)
    return e, resid, denom


def training_coordinates(spec):
    """``t_j``: ``(1/Σw, P_j)`` with an intercept, else ``P_j``."""
    xp, device = spec.namespace
    if not spec.fit_intercept:
        return spec.P
    ones = xp.full(
        (spec.P.shape[0], 1), 1.0 / spec.w_sum, dtype=spec.dtype, device=device
    )
    return xp.concat([ones, spec.P], axis=1)


def with_intercept(spec, q):
    """Influence coordinates ``q`` with the leading 1 of the intercept."""
    xp, device = spec.namespace
    if not spec.fit_intercept:
        return q
    ones = xp.ones((q.shape[0], 1), dtype=q.dtype, device=device)
    return xp.concat([ones, q], axis=1)
