r"""Pool scoring in row blocks, and greedy batches by virtual labelling.

**Blocks.** Every per-row quantity of a pool (prediction, tangent, variance,
influence terms) is computed ``skrt._centering.BLOCK_BYTES`` at a time: a kernel model's
pool x training kernel, a ridge model's centred pool, the SSI coordinates
never exist for the whole pool at once (:func:`map_rows`). Only the
per-row results (``n_pool x n_targets``) are kept.

**Greedy batches.**
A point labelled at its own prediction has zero residual, so θ* does not move,
but the system matrix ``M = X̃ᵀWX̃ + sP`` (in feature space for kernels)
gains ``x̃ x̃ᵀ``. Write ``κ(a, b) = x̃_aᵀ M⁻¹ x̃_b``. By Sherman–Morrison, after
picks ``1..b-1`` the cross terms with the next pick ``b`` are

.. math::

    \kappa_{b-1}(c, b) = \kappa(c, b) - \sum_{j<b}
        \frac{\kappa_{j-1}(c, j)\, \kappa_{j-1}(b, j)}{1 + d_j},
    \qquad d_j = \kappa_{j-1}(j, j),

a recursion over pool columns only (``κ_{j-1}(b, j)`` is entry ``b`` of
column ``j``). With ``β_c = κ_{b-1}(c, b)/(1 + d_b)`` every score follows by
a rank-one update:

.. math::

    \dot x_c \leftarrow \dot x_c - \beta_c \dot x_b, \qquad
    v_c \leftarrow v_c - \beta_c \kappa_{b-1}(c, b),

for the prediction tangent ``ẋ`` (SLD; STI's ``H⁻¹σ_T`` updates alike) and
the variance ``v``; the sums of squared influences keep the same recursion
for the training rows. Each pick costs one base column ``κ(·, b)`` (one
``M⁻¹`` application or one kernel column) and ``O(n_pool · picks)``;
nothing is refitted. The estimator supplies ``κ`` through ``_pool_cross``.
"""

from __future__ import annotations

import numpy as np

from ._centering import abs_max, row_block

# overflow in a score is reported by check_finite, not as a RuntimeWarning
_QUIET = {"over": "ignore", "invalid": "ignore"}


def block_rows(model, X):
    """Rows per block: one block's widest intermediate stays under BLOCK_BYTES.

    The width counts the pool's columns, a kernel model's training rows
    (the pool x training kernel) and the rank of the stored decomposition
    (the pool in its basis).
    """
    width = X.shape[1]
    fit = getattr(model, "X_fit_", None)
    if fit is not None:
        width += fit.shape[0]
    spec = getattr(model, "_spectral", None)
    if spec is not None:
        width += spec.lam.shape[0]
    return row_block(width)


def map_rows(fn, X, rows):
    """``fn`` applied to row blocks of ``X`` and stacked along axis 0.

    ``fn`` must be row-wise (row ``i`` of its result depends only on row
    ``i`` of its input). The output is allocated once; no block is kept.
    """
    n = X.shape[0]
    if n <= rows:
        return np.asarray(fn(X))
    out = None
    for start in range(0, n, rows):
        part = np.asarray(fn(X[start : start + rows]))
        if out is None:
            out = np.empty((n,) + part.shape[1:], dtype=part.dtype)
        out[start : start + part.shape[0]] = part
    return out


def check_finite(values, X, name, what):
    """``values``, or a ValueError naming ``name`` and its scale.

    Scores, predictions and variances overflow float64 on pools far outside
    the training data's scale; the result would be inf or NaN.
    """
    if np.all(np.isfinite(values)):
        return values
    raise_not_finite(X, name, what)


def raise_not_finite(X, name, what):
    """The ValueError of :func:`check_finite`."""
    raise ValueError(
        f"{what} is not finite in float64 for {name}: its entries reach "
        f"{abs_max(X):.3g} in absolute value, far outside what the model's "
        f"coefficients can score. Rescale {name} and the training data alike "
        "(e.g. with a StandardScaler in a Pipeline) or drop the overflowing rows."
    )


def ssi_reference(model, heuristic):
    """(spec, per-output Grams ``Tᵀ diag(ω) T``) of an SSI heuristic."""
    spec, T, omegas = model._ssi_reference(heuristic)
    return spec, T, omegas, [T.T @ (om[:, None] * T) for om in omegas]


def influence_terms(model, X, heuristic, squared=True):
    """``model._influence_terms`` over the pool, block by block.

    For the SSI heuristics the training-side Gram is formed once, not per
    block.
    """
    rows = block_rows(model, X)
    if heuristic in ("ssi", "ssi_unlabeled"):
        spec, _, _, grams = ssi_reference(model, heuristic)

        def block(Z):
            Q = model._influence_coordinates(Z, spec)
            return np.column_stack([np.einsum("ij,ij->i", Q @ G, Q) for G in grams])

        return map_rows(block, X, rows)
    return map_rows(
        lambda Z: model._influence_terms(Z, heuristic, squared=squared), X, rows
    )


def quiet():
    """Floating-point overflow without RuntimeWarnings: checked afterwards."""
    return np.errstate(**_QUIET)


class PoolScorer:
    """Unlabeled scores of a candidate pool under greedy virtual labelling.

    Parameters
    ----------
    model : fitted estimator
        Provides ``_noise_variance``, ``_influence_terms``, ``_pool_cross``
        and, for the SSI heuristics, ``_ssi_reference`` and
        ``_influence_coordinates`` (pool coordinates ``q`` and training
        coordinates ``t`` with ``κ(j, c) = t_jᵀ q_c``).
    X : ndarray or sparse matrix of shape (n_candidates, n_features)
        Validated pool.
    heuristic : str
    greedy : bool, default=True
        Keep what :meth:`add` needs. False scores the pool once, block by
        block, and keeps only the per-row results (for the SSI heuristics the
        greedy state includes the pool's coordinates, n_candidates x rank).
    """

    def __init__(self, model, X, heuristic, greedy=True):
        self.model = model
        self.X = X
        self.heuristic = heuristic
        self.greedy = greedy
        self.sigma2 = model._noise_variance
        self._cols, self._ds = [], []
        self._cache = {}  # the model's per-pool intermediates for _pool_cross
        with quiet():
            if heuristic in ("sld", "sti"):
                self.response = influence_terms(model, X, heuristic, squared=False)
            elif heuristic == "variance":
                self.variance = influence_terms(model, X, "variance")
            elif not greedy:
                self.base = list(influence_terms(model, X, heuristic).T)
            else:
                # term_c = Σ_j ω_j (t_jᵀ q_c - Σ_b a_jb β_cb)², one ω per output
                spec, self.T, self.omegas, grams = ssi_reference(model, heuristic)
                self.Q = map_rows(
                    lambda Z: model._influence_coordinates(Z, spec),
                    X,
                    block_rows(model, X),
                )
                self.base = [np.einsum("ij,ij->i", self.Q @ G, self.Q) for G in grams]
                self.A = np.zeros((self.T.shape[0], 0))
                self.B = np.zeros((X.shape[0], 0))

    def scores(self):
        """Current scores, shape (n_candidates,); larger = more worth labelling."""
        h = self.heuristic
        with quiet():
            if h in ("sld", "sti"):
                return 4.0 * (self.sigma2[None, :] * self.response**2).sum(axis=1)
            if h == "variance":
                return self.variance.copy()
            terms = []
            for j, base in enumerate(self.base):
                if self._cols:
                    om = self.omegas[j]
                    E = self.T.T @ (om[:, None] * self.A)  # (r+1, B)
                    F = self.A.T @ (om[:, None] * self.A)  # (B, B)
                    base = (
                        base
                        - 2.0 * np.einsum("ij,ij->i", self.B, self.Q @ E)
                        + np.einsum("ij,ij->i", self.B @ F, self.B)
                    )
                terms.append(base)
            if h == "ssi_unlabeled":
                return 4.0 * terms[0]
            return 4.0 * (self.sigma2 * np.column_stack(terms)).sum(axis=1)

    def add(self, i):
        """Virtually label candidate ``i`` at its own prediction."""
        if not self.greedy:
            raise RuntimeError("PoolScorer(greedy=False) cannot add picks.")
        with quiet():
            k = np.asarray(self.model._pool_cross(self.X, i, self._cache))  # κ(c, i)
            for col, d in zip(self._cols, self._ds, strict=True):
                k = k - col * (col[i] / (1.0 + d))
            d = float(k[i])
            beta = k / (1.0 + d)
            if self.heuristic in ("sld", "sti"):
                self.response = self.response - np.outer(beta, self.response[i])
            elif self.heuristic == "variance":
                self.variance = self.variance - beta * k
            else:
                # the same recursion for the training rows: a_j = κ_{b-1}(j, i)
                a = self.T @ self.Q[i]
                for j, (col, d_j) in enumerate(zip(self._cols, self._ds, strict=True)):
                    a = a - self.A[:, j] * (col[i] / (1.0 + d_j))
                self.A = np.column_stack([self.A, a])
                self.B = np.column_stack([self.B, beta])
        self._cols.append(k)
        self._ds.append(d)
