"""Greedy batches: scores of a pool after virtually labelling chosen points.

A point labelled at its own prediction has zero residual, so θ* does not move,
but the system matrix ``M = X̃ᵀWX̃ + sP`` gains ``x̃ x̃ᵀ``. With
Sherman–Morrison every pool quantity follows by a rank-one update:

.. math::

    u_b = M_{b-1}^{-1} \\tilde x_b, \\quad d_b = \\tilde x_b^\\top u_b, \\quad
    \\beta_c = \\frac{\\tilde x_c^\\top u_b}{1 + d_b},

    \\dot x_c \\leftarrow \\dot x_c - \\beta_c \\dot x_b, \\qquad
    v_c \\leftarrow v_c - \\beta_c\\, \\tilde x_c^\\top u_b,

for the prediction tangent ``ẋ`` (so SLD and STI, whose ``H⁻¹σ_T`` updates
alike) and the variance ``v``; ``u_b`` itself is ``M⁻¹x̃_b`` corrected by the
earlier ``u_j``. The sums of squared influences keep the training-side
coordinates ``a_jb = x̃_jᵀ u_b`` of each update. Each pick costs one
``M⁻¹`` application and one product with the pool; nothing is refitted.
"""

from __future__ import annotations

import numpy as np


class PoolScorer:
    """Unlabeled scores of a candidate pool under greedy virtual labelling.

    Parameters
    ----------
    model : fitted estimator
        Provides ``_noise_variance``, ``_influence_terms``, ``_augmented_dot``,
        ``_inverse_apply`` and, for the SSI heuristics, ``_ssi_parts``.
    X : ndarray or sparse matrix of shape (n_candidates, n_features)
        Validated pool.
    heuristic : str
    """

    def __init__(self, model, X, heuristic):
        self.model = model
        self.X = X
        self.heuristic = heuristic
        self.sigma2 = model._noise_variance
        self._us, self._ds = [], []
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
        x = self.model._augmented_rows(self.X[i : i + 1])[0]
        u = self.model._inverse_apply(x)
        for u_j, d_j in zip(self._us, self._ds, strict=True):
            u = u - u_j * ((u_j @ x) / (1.0 + d_j))
        d = float(x @ u)
        k = self.model._augmented_dot(self.X, u)  # x̃_cᵀ u, (n_candidates,)
        beta = k / (1.0 + d)
        if self.heuristic in ("sld", "sti"):
            self.response = self.response - np.outer(beta, self.response[i])
        elif self.heuristic == "variance":
            self.variance = self.variance - beta * k
        else:
            a = self.model._training_dot(u)
            self.A = np.column_stack([self.A, a])
            self.B = np.column_stack([self.B, beta])
        self._us.append(u)
        self._ds.append(d)
