r"""The decomposition of a ridge fitted on Dask arrays, and its per-chunk
closed forms.

A :class:`~skrt.RegularityRidge` fitted on a ``dask.array`` keeps the
``p x p`` side of the decomposition in memory (``docs/math.rst`` §
``math-spectral``: ``V``, ``λ``, ``c = Vᵀ XcᵀW yc``, the centring) and never
the ``n x rank`` training rows ``P = Xc V``: every quantity that needs them
is a sum over row chunks, or a lazy array chunked like the training rows,
computed from one chunk at a time. :meth:`DaskSpectral.chunk` rebuilds the
numpy path's :class:`skrt._linalg.Spectral` of one chunk (its rows of ``P``,
``yc``, ``r⊥``, ``ℓ⊥`` with the global ``λ``, ``c`` and ``Σw``), so that the
numpy closed forms (:func:`skrt._linalg.leave_one_out_path`,
:mod:`skrt._influence`) apply to it unchanged and their sums over rows add
up over chunks.

Sums over the training rows at the basis, taken once by the fit's second
pass (:func:`chunk_sums` with ``stats=True``), make the rest closed forms
in ``s``: with ``u = c ⊙ η(s)``, ``η = s/(λ(λ+s))``,

.. math::

    \mathrm{RSS}(s) = \sum w (r^\perp)^2 + 2\,u^\top P^\top W r^\perp
        + u^\top P^\top W P\, u, \qquad
    P^\top W r(s) = -(P^\top W r^\perp + P^\top W P\, u),

the noise variance, GCV, ``H⁻¹σ_T`` and the SSI reference
(:meth:`DaskSpectral.rss` ...), evaluated as the numpy path evaluates them
from the rows, up to the order of summation.

Nothing here imports dask (:func:`is_dask_collection` looks at
``sys.modules``): these are numpy functions of numpy blocks, which
:mod:`skrt._dask_ridge` and :mod:`skrt._dask_fitted` map over chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ._array_api import is_dask_collection
from ._centering import row_block
from ._linalg import GCV_DOF_MIN, Spectral, leave_one_out_path

__all__ = [
    "DaskSpectral",
    "SpectralBasis",
    "basis_of",
    "chunk_sums",
    "dask_fitted",
    "dask_methods",
    "frame_error",
    "is_dask_collection",
    "map_row_blocks",
    "unpack_sums",
]

# alphas per evaluation of leave_one_out_path inside a chunk: its
# (rows, 2 n_alphas (1 + n_targets)) temporaries stay bounded
_ALPHA_BATCH = 64


def dask_fitted(estimator) -> bool:
    """Whether the estimator was fitted on Dask arrays (skrt._dask_ridge)."""
    return isinstance(getattr(estimator, "_spectral", None), DaskSpectral)


def dask_methods():
    """:mod:`skrt._dask_fitted`, imported (with dask) only where dask is used."""
    from . import _dask_fitted

    return _dask_fitted


def frame_error(method):
    """The ValueError of ``as_frame=True`` on a Dask fit's lazy outputs."""
    return ValueError(
        f"{method} of a model fitted on Dask arrays returns lazy dask arrays; "
        "as_frame=True is not available (use as_frame=False and compute them)."
    )


@dataclass(eq=False)
class SpectralBasis:
    """The covariance side of a decomposition without training rows: what
    the per-row pieces of a fitted ridge need (``A⁻¹ = V(Λ+s)⁻¹Vᵀ + NNᵀ/s``,
    the intercept's leverage ``1/Σw``), as :class:`skrt._linalg.Spectral`
    names it.

    Attributes
    ----------
    V : ndarray of shape (n_features, rank)
    lam : ndarray of shape (rank,)
    null : ndarray of shape (n_features, n_features - rank) or None
    w_sum : float
    fit_intercept : bool
    """

    V: np.ndarray
    lam: np.ndarray
    null: np.ndarray | None
    w_sum: float
    fit_intercept: bool

    def basis(self):
        return self.V

    @property
    def intercept_leverage(self) -> float:
        return 1.0 / self.w_sum if self.fit_intercept else 0.0

    def quadratic_inverse(self, Xc_V, Xc_sq_norm, s, Xc_null=None):
        """``x̃ᵀ M⁻¹ x̃`` (:meth:`skrt._linalg.Spectral.quadratic_inverse`)."""
        return Spectral.quadratic_inverse(self, Xc_V, Xc_sq_norm, s, Xc_null)

    def residual_dof(self, s):
        """``Σw - df(s)`` (:meth:`skrt._linalg.Spectral.residual_dof`)."""
        return Spectral.residual_dof(self, s)


def basis_of(spec):
    """The :class:`SpectralBasis` of a decomposition (numpy or Dask fit)."""
    return SpectralBasis(
        V=spec.basis(),
        lam=spec.lam,
        null=spec.null,
        w_sum=spec.w_sum,
        fit_intercept=spec.fit_intercept,
    )


@dataclass(eq=False)
class DaskSpectral(SpectralBasis):
    """The decomposition of a ridge fitted on Dask arrays.

    Attributes (beyond :class:`SpectralBasis`)
    -----------------------------------------
    c : ndarray of shape (rank, n_targets)
        ``Pᵀ W yc = Vᵀ XcᵀW yc``.
    x_mean, mean_lo : ndarray of shape (n_features,)
        The centring of the training rows, ``Xc = (X - x_mean) - mean_lo``.
    live : ndarray of bool, shape (n_features,)
    y_mean, y_lo : ndarray of shape (n_targets,)
        ``yc = (y - y_mean) - y_lo``.
    n_samples, n_pos : int
        Training rows, and those of positive weight.
    w_max : float
    interpolates : bool
        ``rank + [intercept] >= n_pos``: the model interpolates the weighted
        samples as alpha → 0 (``r⊥`` and ``ℓ⊥`` are zero on them).
    sums : dict of ndarray or None
        The second pass's sums over the training rows at the basis:
        ``rp2 = Σ w r⊥²`` (k,), ``a = PᵀW r⊥`` (rank, k), ``B = PᵀWP``
        (rank, rank), ``a0 = Σ w r⊥`` (k,), ``p0 = Σ w P`` (rank,), and the
        unweighted ``U = PᵀP``, ``u0 = Σ P``.
    data : tuple of dask arrays or None
        ``(X, Y, w)`` of the fit (Y 2-d), re-read (never held in memory) by
        what needs the training rows again; None in a light copy.
    n_passes : int
        Reads of the training data the fit took.
    cache : dict
        Computed once on demand (the SSI reference).
    """

    c: np.ndarray = None
    x_mean: np.ndarray = None
    mean_lo: np.ndarray = None
    live: np.ndarray = None
    y_mean: np.ndarray = None
    y_lo: np.ndarray = None
    n_samples: int = 0
    n_pos: int = 0
    w_max: float = 1.0
    interpolates: bool = False
    sums: dict | None = None
    data: tuple | None = None
    n_passes: int = 0
    cache: dict = field(default_factory=dict)

    def rows_only(self):
        """A copy without the references to the training data and the
        cache: what a chunk's task needs (small to send to the workers)."""
        return replace(self, data=None, cache={})

    # -- one chunk of training rows -----------------------------------------
    def chunk(self, X, Y, w):
        """The :class:`skrt._linalg.Spectral` of some training rows: their
        ``P``, ``yc``, ``r⊥`` and ``ℓ⊥``, with the whole fit's ``λ``, ``c``
        and ``Σw`` (``skrt._linalg._assemble`` for a chunk)."""
        X = np.asarray(X, dtype=float)
        Y = np.asarray(Y, dtype=float).reshape(X.shape[0], -1)
        w = np.asarray(w, dtype=float).reshape(-1)
        Xc = (X - self.x_mean) - self.mean_lo
        Xc[:, ~self.live] = 0.0
        P = Xc @ self.V
        yc = (Y - self.y_mean) - self.y_lo
        lam = self.lam
        free = yc - P @ (self.c / lam[:, None])
        positive = w > 0
        if self.interpolates:
            resid_perp = np.where(positive[:, None], 0.0, free)
            lev_perp = np.where(positive, 0.0, 1.0)
        else:
            resid_perp = free
            intercept = w / self.w_sum if self.fit_intercept else 0.0
            lev_perp = np.maximum(1.0 - intercept - w * ((P**2) @ (1.0 / lam)), 0.0)
        return Spectral(
            V=self.V,
            lam=lam,
            P=P,
            c=self.c,
            yc=yc,
            w=w,
            w_sum=self.w_sum,
            fit_intercept=self.fit_intercept,
            resid_perp=resid_perp,
            lev_perp=lev_perp,
            x_mean=self.x_mean,
            null=self.null,
        )

    def row_block(self, extra=0):
        """Rows of a chunk processed at once: the widest temporary has the
        features, a few rank-wide arrays and ``extra`` columns."""
        return row_block(self.V.shape[0] + 4 * self.lam.size + extra)

    # -- closed forms from the sums ------------------------------------------
    def _u(self, s):
        """``u = c ⊙ η(s)``, ``η = (s/(λ+s))/λ``, shape (rank, k)."""
        return self.c * ((s / (self.lam + s)) / self.lam)[:, None]

    def rss(self, s):
        """``Σ w r(s)²`` per target, shape (k,)."""
        u, S = self._u(s), self.sums
        quad = np.einsum("kj,kl,lj->j", u, S["B"], u)
        return S["rp2"] + 2.0 * np.sum(S["a"] * u, axis=0) + quad

    def residual_products(self, s):
        """``PᵀW r(s)`` (rank, k) and ``Σ w r(s)`` (k,), ``r = f - y``."""
        u, S = self._u(s), self.sums
        return -(S["a"] + S["B"] @ u), -(S["a0"] + S["p0"] @ u)

    def gcv(self, alphas):
        """GCV at every alpha (:func:`skrt._linalg.gcv_path`), (n_alphas, k)."""
        alphas = np.atleast_1d(np.asarray(alphas, dtype=float))
        rss = np.array([self.rss(s) for s in alphas]) / self.w_sum
        dof = np.array([self.residual_dof(s) for s in alphas]) / self.w_sum
        good = dof > GCV_DOF_MIN
        return np.where(
            good[:, None], rss / np.where(good, dof, 1.0)[:, None] ** 2, np.inf
        )

    def training_gram(self, s):
        """``QᵀQ`` of the training rows' influence coordinates
        ``q_j = ([1], P_j/(λ+s))`` (unweighted), for sample information."""
        S, inv = self.sums, 1.0 / (self.lam + s)
        G = S["U"] * np.outer(inv, inv)
        if not self.fit_intercept:
            return G
        top = np.concatenate([[float(self.n_samples)], S["u0"] * inv])
        return np.block([[top[:1], top[None, 1:]], [top[1:, None], G]])

    def unlabeled_reference_gram(self):
        """``Σ w t tᵀ`` of the training coordinates ``t = ([1/Σw], P)``."""
        S = self.sums
        if not self.fit_intercept:
            return S["B"]
        top = np.concatenate([[1.0 / self.w_sum], S["p0"] / self.w_sum])
        return np.block([[top[:1], top[None, 1:]], [top[1:, None], S["B"]]])


# -- the chunk sums of a pass ---------------------------------------------------


def _sum_layout(rank, k, n_alphas, stats, weighted):
    """``[(name, shape)]`` of the flat vector :func:`chunk_sums` returns."""
    layout = [("loo", (n_alphas, k)), ("slope", (n_alphas, k))]
    if stats:
        layout += [
            ("rp2", (k,)),
            ("a", (rank, k)),
            ("B", (rank, rank)),
            ("a0", (k,)),
            ("p0", (rank,)),
        ]
        if weighted:
            layout += [("U", (rank, rank)), ("u0", (rank,))]
    return layout


def unpack_sums(vector, spec, n_alphas, stats, weighted):
    """The dict of arrays in a summed :func:`chunk_sums` vector; with unit
    weights the unweighted sums are the weighted ones."""
    k = spec.c.shape[1]
    out, start = {}, 0
    for name, shape in _sum_layout(spec.lam.size, k, n_alphas, stats, weighted):
        size = int(np.prod(shape))
        out[name] = np.asarray(vector[start : start + size]).reshape(shape)
        start += size
    if stats and not weighted:
        out["U"], out["u0"] = out["B"], out["p0"]
    return out


def chunk_sums(spec, X, Y, w, alphas, stats=False, weighted=True):
    """One chunk's part of a pass over the training rows, as a flat vector
    (summed over chunks, then :func:`unpack_sums`).

    ``Σ_i w_i e_i(s)²/Σw`` and its slope in ``log s`` at every alpha (the
    chunk's share of :func:`skrt._linalg.leave_one_out_path`, which sums
    over rows), and with ``stats`` the sums of :attr:`DaskSpectral.sums`
    (the unweighted ones only where ``weighted``: with unit weights they are
    the weighted ones). Rows and alphas are taken a bounded block at a time.
    """
    alphas = np.atleast_1d(np.asarray(alphas, dtype=float))
    k, rank = spec.c.shape[1], spec.lam.size
    G = alphas.size
    acc = {
        name: np.zeros(shape)
        for name, shape in _sum_layout(rank, k, G, stats, weighted)
    }
    X = np.asarray(X, dtype=float)
    w = np.asarray(w, dtype=float).reshape(-1)
    Y = np.asarray(Y, dtype=float).reshape(X.shape[0], -1)
    step = spec.row_block(4 * min(G, _ALPHA_BATCH) * (1 + k))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for start in range(0, X.shape[0], step):
            rows = slice(start, start + step)
            part = spec.chunk(X[rows], Y[rows], w[rows])
            for a in range(0, G, _ALPHA_BATCH):
                batch = alphas[a : a + _ALPHA_BATCH]
                value, slope = leave_one_out_path(part, batch, return_derivative=True)
                acc["loo"][a : a + batch.size] += value
                acc["slope"][a : a + batch.size] += slope
            if stats:
                wb, P, rp = part.w, part.P, part.resid_perp
                WP = P * wb[:, None]
                acc["rp2"] += wb @ rp**2
                acc["a"] += WP.T @ rp
                acc["B"] += WP.T @ P
                acc["a0"] += wb @ rp
                acc["p0"] += wb @ P
                if weighted:
                    acc["U"] += P.T @ P
                    acc["u0"] += P.sum(axis=0)
    return np.concatenate([v.ravel() for v in acc.values()])[None, :]


def map_row_blocks(spec, fn, X, Y, w, extra=0, base=None):
    """``fn(part)`` over bounded row blocks of one chunk (``part`` the
    block's :class:`skrt._linalg.Spectral`), stacked along rows; with
    ``base`` (the chunk's first row in the whole array) ``fn(part, first)``
    with ``first`` the block's first row."""
    X = np.asarray(X, dtype=float)
    w = np.asarray(w, dtype=float).reshape(-1)
    Y = np.asarray(Y, dtype=float).reshape(X.shape[0], -1)
    step = spec.row_block(extra)
    blocks = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for start in range(0, max(X.shape[0], 1), step):
            rows = slice(start, start + step)
            part = spec.chunk(X[rows], Y[rows], w[rows])
            blocks.append(fn(part) if base is None else fn(part, base + start))
    if blocks and isinstance(blocks[0], tuple):  # several outputs per block
        return tuple(np.concatenate(b, axis=0) for b in zip(*blocks, strict=True))
    return np.concatenate(blocks, axis=0)
