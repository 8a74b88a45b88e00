"""Numerical core: weighted centring, one spectral decomposition, and the
closed forms of ridge regression evaluated at any regularity ``s``.

Notation follows ``MATH.md``: ``Z = W^{1/2} Xc`` is the weighted centred
design, ``A(s) = Zᵀ Z + s I``, ``Zᵀ Z = V diag(lam) Vᵀ`` its (truncated)
eigendecomposition. Rows of ``P = Xc V`` are the training samples in the
eigenbasis (unweighted), and ``c = Pᵀ W yc`` holds the projected targets, so
that for every ``s``

.. math::

    \\theta^*(s) = V \\frac{c}{\\lambda + s}, \\qquad
    \\dot\\theta(s) = -V \\frac{c}{(\\lambda + s)^2}, \\qquad
    g_i(s) = \\frac{1}{\\sum w} + \\sum_k \\frac{P_{ik}^2}{\\lambda_k + s},

with ``g_i`` the leverage of one unit of weight of sample ``i``
(``h_i = w_i g_i``). Each ``s`` costs ``O(n * rank)`` after the decomposition.

Centred products never subtract ``x̄`` after a product when a column's mean
dwarfs its spread (:class:`CenteredX`), and columns of very different scale
("graded", e.g. grams next to tonnes) get a relative-accurate decomposition
(one-sided Jacobi) instead of the normwise-accurate eigh, which would lose
the small columns' directions below ``eps λ_max``.

Everything here is array-in/array-out; the estimators are thin wrappers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse as sp

__all__ = [
    "CenteredX",
    "Spectral",
    "weighted_center",
    "decompose",
    "leave_one_out_path",
    "gcv_path",
    "minimize_criterion",
    "default_alpha_bounds",
]


# Dense temporaries (a row block of a centred matrix) stay under this size.
_BLOCK_BYTES = 32 * 2**20
# Numerically constant column: rms(x - x̄) at most this many ulps of |x̄|.
_CONSTANT_ULPS = 16.0


def _row_block(n_cols):
    """Rows per block of a dense temporary with ``n_cols`` columns."""
    return max(1, _BLOCK_BYTES // (8 * max(int(n_cols), 1)))


def _abs_max(X):
    data = X.data if sp.issparse(X) else np.asarray(X)
    return float(np.abs(data).max(initial=0.0))


def _scale_error(X, what="their weighted sums or squares overflow float64"):
    """The ValueError for an X beyond what float64 sums of squares can hold."""
    return ValueError(
        f"X is too large in scale: its entries reach {_abs_max(X):.3g} in "
        f"absolute value and {what}. Rescale X (for example with "
        "sklearn.preprocessing.StandardScaler, or by a constant factor)."
    )


def weighted_center(X, Y, w, fit_intercept):
    """Weighted means of the columns of ``X`` (dense or sparse) and ``Y``.

    Returns ``(x_mean, y_mean, w_sum)``; the means are zero when
    ``fit_intercept`` is False. The means get one step of iterative
    refinement (``x̄ += Σ w (x - x̄) / Σw``) wherever it is exact to do so
    (dense X, and fully stored columns of sparse X), so that a constant
    column centres to exact zeros.

    Raises
    ------
    ValueError
        If a mean overflows float64.
    """
    with np.errstate(over="ignore"):
        w_sum = float(w.sum())
    if not np.isfinite(w_sum):
        raise ValueError(
            f"sample_weight sums to {w_sum} in float64 (weights up to "
            f"{np.max(w):.3g}); rescale sample_weight (only ratios matter for "
            "the fit, alpha scales with them)."
        )
    if not fit_intercept:
        _check_target_scale(Y, np.zeros(Y.shape[1]), w_sum)
        return np.zeros(X.shape[1]), np.zeros(Y.shape[1]), w_sum
    with np.errstate(over="ignore", invalid="ignore"):
        x_mean = np.asarray(X.T @ w).ravel() / w_sum
        if not np.all(np.isfinite(x_mean)):
            raise _scale_error(X, "their weighted sums overflow float64")
        x_mean = x_mean + _mean_correction(X, x_mean, w) / w_sum
        y_mean = (w @ Y) / w_sum
        y_mean = y_mean + (w @ (Y - y_mean)) / w_sum
    if not np.all(np.isfinite(x_mean)):
        raise _scale_error(X, "their weighted sums overflow float64")
    _check_target_scale(Y, y_mean, w_sum)
    return x_mean, y_mean, w_sum


def _check_target_scale(Y, y_mean, w_sum):
    """A ValueError when weighted sums of squares of y would overflow."""
    limit = np.sqrt(np.finfo(float).max / (16.0 * max(w_sum, 1.0)))
    with np.errstate(over="ignore", invalid="ignore"):
        spread = np.abs(Y - y_mean).max(initial=0.0)
    if not np.all(np.isfinite(y_mean)) or not spread <= limit:
        raise ValueError(
            f"y is too large in scale: its entries reach "
            f"{np.abs(Y).max(initial=0.0):.3g} in absolute value, and the "
            "weighted sums of squares of the residuals would overflow "
            f"float64 (limit about {limit:.3g}). Rescale y."
        )


def _mean_correction(X, x_mean, w):
    """``Σ_i w_i (x_ij - x̄_j)`` where it can be formed exactly (else 0)."""
    n, p = X.shape
    if sp.issparse(X):
        X = X.tocsr()
        rows = np.repeat(np.arange(n), np.diff(X.indptr))
        cols = X.indices
        dev = np.bincount(cols, weights=w[rows] * (X.data - x_mean[cols]), minlength=p)
        # only fully stored columns: elsewhere each zero entry adds -w x̄
        return np.where(np.bincount(cols, minlength=p) == n, dev, 0.0)
    out = np.zeros(p)
    step = _row_block(p)
    for start in range(0, n, step):
        out += w[start : start + step] @ (X[start : start + step] - x_mean)
    return out


def _column_spread(X, x_mean, w):
    """``Σ_i w_i (x_ij - x̄_j)²`` per column, without cancellation.

    Sparse X: the stored entries contribute ``w (x - x̄)²`` each and the
    rest ``(Σw - Σ_stored w) x̄²``; dense X is centred in row blocks.
    """
    n, p = X.shape
    w_sum = float(w.sum())
    with np.errstate(over="ignore", invalid="ignore"):
        if sp.issparse(X):
            X = X.tocsr()
            rows = np.repeat(np.arange(n), np.diff(X.indptr))
            cols = X.indices
            stored_w = np.bincount(cols, weights=w[rows], minlength=p)
            dev = X.data - x_mean[cols]
            inside = np.bincount(cols, weights=w[rows] * dev * dev, minlength=p)
            outside = np.maximum(w_sum - stored_w, 0.0) * x_mean**2
            return inside + outside
        out = np.zeros(p)
        step = _row_block(p)
        for start in range(0, n, step):
            D = X[start : start + step] - x_mean
            out += w[start : start + step] @ (D * D)
        return out


class CenteredX:
    """``Xc = X - 1 x̄ᵀ`` for dense or sparse X, in products that do not cancel.

    ``Xc M = X M - 1 x̄ᵀM`` and ``XcᵀM = XᵀM - x̄ 1ᵀM`` lose every digit of a
    column whose mean dwarfs its spread (an offset of 1e8 over a unit spread
    keeps 8 of 16 digits, and ``XᵀX - Σw x̄x̄ᵀ`` keeps none). Such *offset*
    columns (``x̄_j² > var_j``, weighted) are kept here as a dense,
    explicitly centred block; by Cauchy-Schwarz (``x̄² <= f E[x²]`` with f
    the weighted fraction of rows where ``x != 0``) they are more than half
    nonzero, so the block costs about what their sparse storage does. The
    other columns use the shortcut, which there cancels at most a factor of
    two. A column whose spread is at the round-off level of its mean
    (``rms(x - x̄) <= 16 eps |x̄|``) is numerically constant: it counts as a
    zero column (``live`` is False).

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
    x_mean : ndarray of shape (n_features,)
        Weighted column means (zero without an intercept).
    w : ndarray of shape (n_samples,) or None
        Sample weights (None: ones).

    Raises
    ------
    ValueError
        If the centred columns' sums of squares overflow (or, for a varying
        column, underflow) float64.
    """

    def __init__(self, X, x_mean, w=None):
        n, p = X.shape
        self.X = X.tocsr() if sp.issparse(X) else np.asarray(X)
        self.shape = X.shape
        self.x_mean = np.asarray(x_mean, dtype=float)
        self.w = np.ones(n) if w is None else np.asarray(w, dtype=float)
        self.w_sum = float(self.w.sum())
        sq = _column_spread(self.X, self.x_mean, self.w)
        # the total sum of squares bounds λ_max; 1e4 λ_max (the default
        # alpha bound) and λ (λ + s) must stay finite
        if not np.all(np.isfinite(sq)) or not sq.sum() < np.finfo(float).max * 1e-6:
            raise _scale_error(self.X)
        eps = np.finfo(float).eps
        noise = (_CONSTANT_ULPS * eps * self.x_mean) ** 2 * self.w_sum
        self.live = sq > noise
        # squares of deviations below ~1e-152 approach float64's subnormals
        tiny = self.live & (sq < 1e-304 * self.w_sum)
        if tiny.any():
            j = int(np.flatnonzero(tiny)[0])
            raise ValueError(
                f"X is too small in scale: column {j} varies by about "
                f"{np.sqrt(sq[j] / self.w_sum):.3g}, whose squares underflow "
                "float64. Rescale X (for example with "
                "sklearn.preprocessing.StandardScaler)."
            )
        self.sq_spread = np.where(self.live, sq, 0.0)
        #: columns whose mean dwarfs their spread (for pools: centre these)
        self.offset = self.x_mean**2 * self.w_sum > sq
        self.unsafe = self.offset & self.live
        self.safe = self.live & ~self.unsafe
        self._safe_mean = np.where(self.safe, self.x_mean, 0.0)
        self._cols_u = np.flatnonzero(self.unsafe)
        self.XcU = _dense_columns(self.X, self._cols_u) - self.x_mean[self._cols_u]
        #: the part of the exact mean below the rounding of ``x_mean`` (the
        #: mean is ``x_mean + mean_lo``): without it an offset column's
        #: centred values are off by ulp(x̄), a first-order error in every
        #: leverage (1e-8 relative at an offset of 1e8)
        self.mean_lo = np.zeros(p)
        if self._cols_u.size and self.w_sum > 0:
            lo = (self.w @ self.XcU) / self.w_sum
            self.XcU -= lo
            self.mean_lo[self._cols_u] = lo

    @property
    def scale(self):
        """Centred weighted column norms ``sqrt(Σ w (x - x̄)²)`` (0 if dead)."""
        return np.sqrt(self.sq_spread)

    def dot(self, M):
        """``Xc @ M`` for M of shape (p,) or (p, k)."""
        M = np.asarray(M, dtype=float)
        M2 = M.reshape(M.shape[0], -1)
        Ms = np.where(self.safe[:, None], M2, 0.0)
        out = np.asarray(self.X @ Ms) - self._safe_mean @ Ms
        if self._cols_u.size:
            out = out + self.XcU @ M2[self._cols_u]
        return out.reshape((self.shape[0],) + M.shape[1:])

    def rdot(self, M):
        """``Xcᵀ @ M`` for M of shape (n,) or (n, k)."""
        M = np.asarray(M, dtype=float)
        M2 = M.reshape(M.shape[0], -1)
        out = np.asarray(self.X.T @ M2) - np.outer(self._safe_mean, M2.sum(axis=0))
        out[~self.safe] = 0.0
        if self._cols_u.size:
            out[self._cols_u] = self.XcU.T @ M2
        return out.reshape((self.shape[1],) + M.shape[1:])

    def weighted_dense(self):
        """``Z = W^{1/2} Xc`` as a dense array (dense X only)."""
        Z = self.X - self.x_mean
        Z -= self.mean_lo
        Z *= np.sqrt(self.w)[:, None]
        Z[:, ~self.live] = 0.0
        return Z

    def weighted_gram(self):
        """``ZᵀZ = Xcᵀ W Xc`` (p x p), accurate to round-off of each column's
        own spread."""
        n, p = self.shape
        if sp.issparse(self.X):
            C = self.X.T @ self.X.multiply(self.w[:, None]).tocsr()
            C = np.asarray(C.todense())
            C -= self.w_sum * np.outer(self._safe_mean, self._safe_mean)
            C[~self.safe] = 0.0
            C[:, ~self.safe] = 0.0
            if self._cols_u.size:
                R = self.rdot(self.XcU * self.w[:, None])  # (p, |U|)
                C[:, self._cols_u] = R
                C[self._cols_u] = R.T
            return C
        if not self._cols_u.size and np.all(self.w == 1.0):
            C = self.X.T @ self.X  # no centred copy: cancels at most 2x here
            C -= self.w_sum * np.outer(self._safe_mean, self._safe_mean)
        else:
            C = np.zeros((p, p))
            sw = np.sqrt(self.w)
            step = _row_block(p)
            for start in range(0, n, step):
                Z = (self.X[start : start + step] - self.x_mean) - self.mean_lo
                Z *= sw[start : start + step, None]
                C += Z.T @ Z
        C[~self.live] = 0.0
        C[:, ~self.live] = 0.0
        return C

    def weighted_gram_rows(self):
        """``ZZᵀ = W^{1/2} Xc Xcᵀ W^{1/2}`` (n x n)."""
        every = slice(None)
        G = self.cross(every, every)
        sw = np.sqrt(self.w)
        G *= sw[:, None]
        G *= sw[None, :]
        return G

    def cross(self, a, b):
        """``Xc[a] Xc[b]ᵀ`` (unweighted) for row selections a, b, dense."""
        Xa, Xb = self.X[a], self.X[b]
        if sp.issparse(self.X):
            keep = sp.diags(self.safe.astype(float))
            Xa, Xb = Xa @ keep, Xb @ keep
            K = np.asarray((Xa @ Xb.T).todense())
            ma = np.asarray(Xa @ self._safe_mean).ravel()
            mb = np.asarray(Xb @ self._safe_mean).ravel()
            K = K - ma[:, None] - mb[None, :] + self._safe_mean @ self._safe_mean
            if self._cols_u.size:
                K += self.XcU[a] @ self.XcU[b].T
            return K
        A = ((Xa - self.x_mean) - self.mean_lo) * self.live
        if a is b:
            return A @ A.T  # the Gram side: one centred copy
        B = ((Xb - self.x_mean) - self.mean_lo) * self.live
        return A @ B.T

    def column_gram(self, cols):
        """``Xc[:, cols]ᵀ W Xc[:, cols]`` for a few columns (never p x |cols|)."""
        cols = np.asarray(cols)
        XS = self.X[:, cols]
        m = self._safe_mean[cols]
        if sp.issparse(XS):
            G = np.asarray((XS.T @ XS.multiply(self.w[:, None]).tocsr()).todense())
        else:
            G = XS.T @ (XS * self.w[:, None])
        G = G - self.w_sum * np.outer(m, m)
        bad = ~self.safe[cols]
        G[bad] = 0.0
        G[:, bad] = 0.0
        u = np.flatnonzero(self.unsafe[cols])
        if u.size:
            where = np.searchsorted(self._cols_u, cols[u])
            WU = self.XcU[:, where] * self.w[:, None]
            R = np.asarray(XS.T @ WU) - np.outer(m, WU.sum(axis=0))
            R[bad] = 0.0
            R[u] = self.XcU[:, where].T @ WU
            G[:, u] = R
            G[u] = R.T
        return G


def _dense_columns(X, cols):
    """``X[:, cols]`` as a dense array."""
    block = X[:, cols]
    return block.toarray() if sp.issparse(block) else np.array(block, dtype=float)


def _center_rdot(X, x_mean, M):
    """``(X - 1 x_meanᵀ)ᵀ @ M`` without forming the centred matrix."""
    if isinstance(X, CenteredX):
        return X.rdot(M)
    return np.asarray(X.T @ M) - np.outer(x_mean, M.sum(axis=0))


def center_dot(X, x_mean, M, offset=None, mean_lo=None):
    """``(X - 1 x_meanᵀ) @ M`` without forming the centred matrix.

    Columns flagged in ``offset`` (a mean that dwarfs the training spread,
    see :class:`CenteredX`) are centred explicitly, a bounded row block at a
    time, by ``x_mean + mean_lo`` (``mean_lo``: the mean's part below its
    rounding, :attr:`CenteredX.mean_lo`); the rest by ``X M - x̄ᵀM``.
    """
    M = np.asarray(M, dtype=float)
    if offset is None or not np.any(offset):
        return np.asarray(X @ M) - x_mean @ M
    M2 = M.reshape(M.shape[0], -1)
    cols = np.flatnonzero(offset)
    Ms = np.where(offset[:, None], 0.0, M2)
    out = np.asarray(X @ Ms) - np.where(offset, 0.0, x_mean) @ Ms
    lo = np.zeros(cols.size) if mean_lo is None else mean_lo[cols]
    step = _row_block(cols.size)
    for start in range(0, X.shape[0], step):
        block = (_dense_columns(X[start : start + step], cols) - x_mean[cols]) - lo
        out[start : start + step] += block @ M2[cols]
    return out.reshape((X.shape[0],) + M.shape[1:])


def centered_sq_norms(X, x_mean, offset=None, mean_lo=None):
    """Row norms ``‖x_i - x_mean‖²`` for dense or sparse ``X``.

    Dense X is centred explicitly in row blocks; sparse X expands the square
    except in the ``offset`` columns (centred explicitly, in row blocks).
    """
    n = X.shape[0]
    lo = np.zeros(X.shape[1]) if mean_lo is None else mean_lo
    if not sp.issparse(X):
        out = np.empty(n)
        step = _row_block(X.shape[1])
        for start in range(0, n, step):
            D = (X[start : start + step] - x_mean) - lo
            out[start : start + step] = np.einsum("ij,ij->i", D, D)
        return out
    offset = np.zeros(X.shape[1], bool) if offset is None else np.asarray(offset)
    m = np.where(offset, 0.0, x_mean)
    keep = sp.diags((~offset).astype(float))
    Xs = X @ keep
    sq = np.asarray(Xs.multiply(Xs).sum(axis=1)).ravel()
    out = sq - 2.0 * np.asarray(Xs @ m).ravel() + m @ m
    cols = np.flatnonzero(offset)
    if cols.size:
        step = _row_block(cols.size)
        for start in range(0, n, step):
            block = _dense_columns(X[start : start + step], cols) - x_mean[cols]
            block -= lo[cols]
            out[start : start + step] += np.einsum("ij,ij->i", block, block)
    return np.maximum(out, 0.0)


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
                _center_rdot(self.X, self.x_mean, self.P * (self.w[:, None] / self.lam))
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
        return _center_rdot(self.X, self.x_mean, self.dual_dot(a))

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


def _eigh(M):
    """Symmetric eigendecomposition, ascending eigenvalues.

    numpy's ``eigh`` (LAPACK ``?syevd``) measured faster here than scipy's
    drivers at the sizes that matter (200: 3.8 ms against 8 ms; 2000: 0.69 s
    against 0.73 s), and it handles n = 1, where scipy < 1.13's ``evd``
    workspace query fails.
    """
    return np.linalg.eigh(M)


def _rank_cut(lam, size):
    """Keep eigenvalues above the round-off level of the largest one."""
    if lam.size == 0:
        return np.zeros(0, dtype=bool)
    top = lam.max()
    if top <= 0:
        return np.zeros(lam.shape, dtype=bool)
    return lam > top * max(size) * np.finfo(float).eps * 10


# Centred column norms further apart than this are "graded": LAPACK's eigh
# and gesdd are only accurate to eps * λ_max, which loses the directions of
# the small columns, so the decomposition switches to one-sided Jacobi
# (relative accuracy). Below it the error measured <= 1e-10 (tests).
_GRADED_SPREAD = 1e2
# Sparse graded X is decomposed on the covariance side (p x p) up to this p
# even when p > n (the Gram side cannot see the small columns).
_GRADED_COVARIANCE_MAX = 2000


def column_scale_spread(scale):
    """Ratio of the largest to the smallest nonzero centred column norm."""
    live = scale[scale > 0]
    return float(live.max() / live.min()) if live.size else 1.0


def _graded_cut(lam, V, scale, size):
    """Keep eigenvalues above round-off relative to their own columns' scale.

    A direction ``v_k`` is numerically in the null space when ``λ_k`` is at
    the round-off level of ``(Σ_j |V_jk| d_j)²`` (d the column norms): the
    scale-aware version of :func:`_rank_cut`.
    """
    ref = (np.abs(V).T @ scale) ** 2
    return lam > ref * max(size) * np.finfo(float).eps * 10


def _jacobi_svd(A):
    """SVD of a tall matrix by LAPACK's preconditioned one-sided Jacobi
    (``dgejsv``, ``JOBA='F'``): singular values accurate relative to
    themselves for ``A = D1 B D2`` with B well conditioned and any row and
    column scalings D1, D2 (``'C'`` covers column scaling only, and measured
    3.7e-4 off on a row-graded transposed design).

    Returns (U, S, V) with ``A = U diag(S) Vᵀ``, S descending.
    """
    m, k = A.shape
    sva, u, v, work, _, info = scipy.linalg.lapack.dgejsv(
        np.asfortranarray(A), joba=2, jobu=0, jobv=0, jobr=0, jobt=0, jobp=1
    )
    if info != 0:
        raise np.linalg.LinAlgError(f"dgejsv did not converge (info={info}).")
    return u[:, :k], (work[0] / work[1]) * sva[:k], v[:, :k]


def _embed(V_live, live, extra_dead):
    """Rows of the live columns into p rows (and unit vectors of the dead
    columns appended, if ``extra_dead``)."""
    p = live.size
    V = np.zeros((p, V_live.shape[1]))
    V[live] = V_live
    if extra_dead:
        dead = np.flatnonzero(~live)
        E = np.zeros((p, dead.size))
        E[dead, np.arange(dead.size)] = 1.0
        V = np.hstack([V, E])
    return V


def _graded_svd(Z, scale, size):
    """Relative-accurate ``Z = U S Vᵀ`` of the dense weighted centred design.

    Returns (U, S, V, null): the kept directions and, when V is complete
    (n >= live columns), an orthonormal basis of the dropped ones and the
    dead columns (else None).
    """
    live = scale > 0
    Zl = Z[:, live]
    m, k = Zl.shape
    tall = m >= k
    if k == 0:
        U, S, Vl = np.zeros((m, 0)), np.zeros(0), np.zeros((0, 0))
    elif tall:
        U, S, Vl = _jacobi_svd(Zl)
    else:
        Vl, S, U = _jacobi_svd(Zl.T)
    keep = _graded_cut(S**2, Vl, scale[live], size) & (S > 0)
    V = _embed(Vl[:, keep], live, False)
    null = _embed(Vl[:, ~keep], live, True) if tall else None
    return U[:, keep], S[keep], V, null


def _graded_eigh(C, scale, size):
    """Relative-accurate eigendecomposition of ``C = ZᵀZ`` (graded columns).

    ``C = D Ĉ D`` with ``Ĉ`` the (well-conditioned) correlation matrix:
    ``Ĉ = Q Λ̂ Qᵀ`` is accurate normwise, ``F = Λ̂^{1/2} Qᵀ D`` is a square
    root of C whose columns carry the grading, and one-sided Jacobi on F
    gives C's eigenvalues accurate relative to themselves.
    Returns (λ, V, null).
    """
    live = scale > 0
    d = scale[live]
    k = d.size
    if k == 0:
        return (
            np.zeros(0),
            np.zeros((scale.size, 0)),
            _embed(np.zeros((0, 0)), live, True),
        )
    C_hat = C[np.ix_(live, live)] / d[:, None] / d[None, :]
    lam_hat, Q = _eigh(C_hat)
    lam_hat = np.where(
        lam_hat > lam_hat[-1] * k * np.finfo(float).eps * 10, lam_hat, 0.0
    )
    F = (np.sqrt(lam_hat)[:, None] * Q.T) * d[None, :]
    _, S, Vl = _jacobi_svd(F)
    lam = S**2
    keep = _graded_cut(lam, Vl, d, size) & (S > 0)
    return lam[keep], _embed(Vl[:, keep], live, False), _embed(Vl[:, ~keep], live, True)


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
    sw = np.sqrt(w)
    positive = w > 0
    scale = cx.scale
    graded = column_scale_spread(scale) > _GRADED_SPREAD
    keep_design = None
    V = null = None
    if graded and not sp.issparse(X):
        U, S, V, null = _graded_svd(cx.weighted_dense(), scale, (n, p))
        lam = S**2
        P = _rows_from_left(U, S, sw, positive, cx.cross, lam, w)
    elif method == "svd":
        Z = cx.weighted_dense()
        U, S, Vt = scipy.linalg.svd(Z, full_matrices=False, lapack_driver="gesdd")
        keep = _rank_cut(S**2, (n, p))
        if Vt.shape[0] == p:
            null = Vt[~keep].T
        U, S, V = U[:, keep], S[keep], Vt[keep].T
        lam = S**2
        P = _rows_from_left(U, S, sw, positive, cx.cross, lam, w)
    elif graded and p <= max(n, _GRADED_COVARIANCE_MAX):
        lam, V, null = _graded_eigh(cx.weighted_gram(), scale, (n, p))
        P = cx.dot(V)
    elif _covariance_side_is_cheaper(n, p):
        lam, V = _eigh(cx.weighted_gram())
        keep = _rank_cut(lam, (n, p))
        V[np.ix_(~cx.live, keep)] = 0.0  # constant columns: round-off only
        lam, V, null = lam[keep], V[:, keep], V[:, ~keep]
        P = cx.dot(V)
    else:
        if graded:
            _warn_graded(
                scale,
                "sparse X with more features than "
                f"{max(n, _GRADED_COVARIANCE_MAX)} is decomposed on "
                "the Gram side (n x n)",
            )
        # Gram side: ZZᵀ (n x n); V = Zᵀ U / S is formed only if asked for
        lam, U = _eigh(cx.weighted_gram_rows())
        keep = _rank_cut(lam, (n, p))
        lam, U = lam[keep], U[:, keep]
        S = np.sqrt(lam)
        keep_design = cx
        P = _rows_from_left(U, S, sw, positive, cx.cross, lam, w)
    return _assemble(
        P, lam, V, Y, y_mean, w, w_sum, fit_intercept, keep_design, x_mean, null=null
    )


def _warn_graded(scale, why):
    live = scale[scale > 0]
    spread = column_scale_spread(scale)
    warnings.warn(
        f"X's centred columns differ in scale by a factor of {spread:.3g} "
        f"(norms from {live.min():.3g} to {live.max():.3g}), and {why}: the "
        "small-scale columns' coefficients, leverages and scores are accurate "
        f"only to about {min(1.0, spread**2 * np.finfo(float).eps * 10):.1g} "
        "relative. Rescale X's columns (e.g. with "
        "sklearn.preprocessing.MaxAbsScaler) for exact results.",
        UserWarning,
        stacklevel=4,
    )


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
    lam, U = _eigh(G)
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


# ----------------------------------------------------------------------------
# Cross-validation criteria over many s
# ----------------------------------------------------------------------------


def _removed_fraction(w):
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
    """
    alphas = np.atleast_1d(np.asarray(alphas, dtype=float))
    G = alphas.size
    lam = spec.lam[:, None]
    q = _shrink(lam, alphas[None, :])  # (r, G)
    cols = [q]
    if return_derivative:
        dq = (1.0 / (lam + alphas[None, :])) ** 2
        cols.append(dq)
    lev = spec.P2 @ np.hstack(cols)  # one pass over P²
    one_minus_h = spec.lev_perp[:, None] + spec.w[:, None] * lev[:, :G]
    denom = _unit_complement(spec.w, one_minus_h)
    bad = np.any(denom <= 1e-14, axis=0)
    denom = np.where(denom <= 1e-14, np.nan, denom)
    k = spec.c.shape[1]
    # one pass over P for every target (and the derivative)
    coefs = [spec.c[:, j][:, None] * q for j in range(k)]
    if return_derivative:
        coefs += [spec.c[:, j][:, None] * dq for j in range(k)]
    fits = spec.P @ np.hstack(coefs)
    out = np.empty((G, k))
    dout = np.empty((G, k)) if return_derivative else None
    if return_derivative:
        ddenom = _removed_fraction(spec.w)[:, None] * lev[:, G:]  # d(1 - m g)/ds
    for j in range(k):
        r = -(spec.resid_perp[:, j][:, None] + fits[:, j * G : (j + 1) * G])
        e = r / denom
        out[:, j] = (spec.w @ (e**2)) / spec.w_sum
        if return_derivative:
            dr = -fits[:, (k + j) * G : (k + j + 1) * G]
            de = dr / denom - r * ddenom / denom**2
            dout[:, j] = 2.0 * (spec.w @ (e * de)) / spec.w_sum * alphas
    out[bad] = np.inf
    if return_derivative:
        dout[bad] = np.nan
        return out, dout
    return out


def gcv_path(spec: Spectral, alphas):
    """Generalised cross-validation ``(RSS/Σw) / (1 - df/Σw)²`` per alpha.

    ``df = [fit_intercept] + Σ_k λ_k/(λ_k + s)``. Shape (n_alphas, n_targets).
    """
    alphas = np.atleast_1d(np.asarray(alphas, dtype=float))
    dof = spec.residual_dof(alphas) / spec.w_sum
    out = np.empty((alphas.size, spec.c.shape[1]))
    q = _shrink(spec.lam[:, None], alphas[None, :])
    for j in range(spec.c.shape[1]):
        r = spec.resid_perp[:, j][:, None] + spec.P @ (spec.c[:, j][:, None] * q)
        out[:, j] = (spec.w @ r**2) / spec.w_sum
    good = dof > 1e-12
    return np.where(good[:, None], out / np.where(good, dof, 1.0)[:, None] ** 2, np.inf)


def default_alpha_bounds(lam_max):
    """Search range relative to the largest eigenvalue of ``ZᵀZ``.

    ``1e-8 λ_max`` is ordinary least squares for practical purposes and
    ``1e4 λ_max`` the constant model.
    """
    if not np.isfinite(lam_max) or lam_max <= 0:
        return 1e-6, 1e6
    return 1e-8 * lam_max, 1e4 * lam_max


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
    padded = np.concatenate([[np.inf], vals, [np.inf]])
    is_min = (padded[1:-1] <= padded[:-2]) & (padded[1:-1] <= padded[2:])
    starts = np.flatnonzero(is_min)
    starts = starts[np.argsort(vals[starts], kind="stable")][:n_starts]

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
            bracket = None
            for a, b in ((i - 1, i), (i, i + 1)):
                if 0 <= a and b < n_grid and derivs[a] < 0 < derivs[b]:
                    bracket = (log_grid[a], log_grid[b])
                    break
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
