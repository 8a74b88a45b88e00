"""Weighted centring of a design, and centred products that do not cancel.

With weights ``w`` (``Σw = w_sum``) the centred design is ``Xc = X - 1 x̄ᵀ``
with ``x̄ = Xᵀw / Σw``; the model works with ``Z = W^{1/2} Xc``
(``docs/math.rst`` § ``math-centering``).
The shortcut products

.. math::

    X_c M = X M - 1 \\bar x^\\top M, \\qquad
    X_c^\\top M = X^\\top M - \\bar x\\, 1^\\top M, \\qquad
    X_c^\\top W X_c = X^\\top W X - \\Sigma w\\, \\bar x \\bar x^\\top

keep sparse X sparse but lose ``log10(x̄²/var)`` digits of a column whose
mean dwarfs its spread (an *offset* column: ``x̄_j² Σw > Σ w (x_j - x̄_j)²``).
:class:`CenteredX` therefore centres only the offset columns explicitly (a
dense block: by Cauchy-Schwarz they are more than half nonzero) and uses the
shortcut elsewhere, where it cancels at most a factor of two. Means get one
step of iterative refinement, ``x̄ += Σ w (x - x̄) / Σw``, and the part of the
mean below its rounding (``mean_lo``) is kept, so a constant column centres
to exact zeros and an offset column's centred values are exact to their own
round-off. Column spreads ``Σ w (x - x̄)²`` are summed from the deviations
(never as ``Σ w x² - Σw x̄²``). Dense temporaries are formed a bounded row
block at a time.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = [
    "CenteredX",
    "abs_max",
    "center_dot",
    "center_rdot",
    "centered_sq_norms",
    "weighted_center",
]

#: Bytes of one dense temporary of a row-blocked pass (a row block of a
#: centred matrix, of a pool's scores): pools and designs are processed this
#: many bytes at a time.
BLOCK_BYTES = 32 * 2**20
#: Bytes of one row block of kernel ridge's products ``K V`` (conjugate
#: gradients beyond the rows whose K is kept in memory): each product
#: recomputes K block by block, and a block four times :data:`BLOCK_BYTES`
#: (128 MiB) makes fewer, larger kernel evaluations.
KERNEL_BLOCK_BYTES = 4 * BLOCK_BYTES
# Numerically constant column: rms(x - x̄) at most this many ulps of |x̄|.
_CONSTANT_ULPS = 16.0


def row_block(n_cols, block_bytes=None):
    """Rows per block of a dense float64 temporary with ``n_cols`` columns
    and at most ``block_bytes`` bytes (None: :data:`BLOCK_BYTES`, read at
    the call); at least one row."""
    if block_bytes is None:
        block_bytes = BLOCK_BYTES
    return max(1, block_bytes // (8 * max(int(n_cols), 1)))


def abs_max(X):
    """Largest absolute entry of a dense or sparse array (0 when empty)."""
    data = X.data if sp.issparse(X) else np.asarray(X)
    return float(np.abs(data).max(initial=0.0))


def _scale_error(X, what="their weighted sums or squares overflow float64"):
    """The ValueError for an X beyond what float64 sums of squares can hold."""
    return ValueError(
        f"X is too large in scale: its entries reach {abs_max(X):.3g} in "
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
        cols = X.indices
        # only fully stored columns: elsewhere each zero entry adds -w x̄
        full = np.bincount(cols, minlength=p) == n
        if not full.any():
            return np.zeros(p)
        rows = np.repeat(np.arange(n), np.diff(X.indptr))
        dev = np.bincount(cols, weights=w[rows] * (X.data - x_mean[cols]), minlength=p)
        return np.where(full, dev, 0.0)
    out = np.zeros(p)
    step = row_block(p)
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
        step = row_block(p)
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
            step = row_block(p)
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


def center_rdot(X, x_mean, M):
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
    step = row_block(cols.size)
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
        step = row_block(X.shape[1])
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
        step = row_block(cols.size)
        for start in range(0, n, step):
            block = _dense_columns(X[start : start + step], cols) - x_mean[cols]
            block -= lo[cols]
            out[start : start + step] += np.einsum("ij,ij->i", block, block)
    return np.maximum(out, 0.0)
