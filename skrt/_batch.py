r"""Greedy batches: scores of a pool after virtually labelling chosen points.

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


class PoolScorer:
    """Unlabeled scores of a candidate pool under greedy virtual labelling.

    Parameters
    ----------
    model : fitted estimator
        Provides ``_noise_variance``, ``_influence_terms``, ``_pool_cross``
        and, for the SSI heuristics, ``_ssi_parts`` (pool coordinates ``q``
        and training coordinates ``t`` with ``κ(j, c) = t_jᵀ q_c``).
    X : ndarray or sparse matrix of shape (n_candidates, n_features)
        Validated pool.
    heuristic : str
    """

    def __init__(self, model, X, heuristic):
        self.model = model
        self.X = X
        self.heuristic = heuristic
        self.sigma2 = model._noise_variance
        self._cols, self._ds = [], []
        self._cache = {}  # the model's per-pool intermediates for _pool_cross
        if heuristic in ("sld", "sti"):
            self.response = model._influence_terms(X, heuristic, squared=False)
        elif heuristic == "variance":
            self.variance = model._influence_terms(X, "variance")
        else:
            # term_c = Σ_j ω_j (t_jᵀ q_c - Σ_b a_jb β_cb)², one ω per output
            self.Q, self.T, self.omegas = model._ssi_parts(X, heuristic)
            self.base = [
                np.einsum(
                    "ij,ij->i", self.Q @ (self.T.T @ (om[:, None] * self.T)), self.Q
                )
                for om in self.omegas
            ]
            self.A = np.zeros((self.T.shape[0], 0))
            self.B = np.zeros((X.shape[0], 0))

    def scores(self):
        """Current scores, shape (n_candidates,); larger = more worth labelling."""
        h = self.heuristic
        if h in ("sld", "sti"):
            return 4.0 * (self.sigma2[None, :] * self.response**2).sum(axis=1)
        if h == "variance":
            return self.variance.copy()
        terms = []
        for om, base in zip(self.omegas, self.base, strict=True):
            if self.A.shape[1]:
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
        k = self.model._pool_cross(self.X, i, self._cache)  # κ(c, i)
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
