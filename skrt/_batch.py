r"""Pool scoring in row blocks, and greedy batches by virtual labelling
(docs/math.rst, :ref:`math-heuristics` and :ref:`math-greedy`).

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
nothing is refitted. The model supplies ``κ`` through its acquisition's
curvature (``Acquisition.curvature.cross``, see :mod:`skrt._acquisition`);
the scorer never sees the estimator.

**Scores.** The terms ``T`` of each heuristic are combined with the weight of
the candidate's label by the one formula :func:`skrt._heuristics.score`.
"""

from __future__ import annotations

import numpy as np

from ._acquisition import require
from ._centering import abs_max, row_block
from ._heuristics import (
    BATCH_NEEDS,
    NEEDS,
    POOL_HEURISTICS,
    score,
    unlabeled_weight,
)

# why PoolScorer does not score a name: "auto" is resolved first
# (skrt._heuristics.resolve_heuristic), the pool heuristics are scored by
# skrt._pool.make_scorer (they weigh a row by its effect on the whole pool)
_NOT_PER_ROW = (
    "heuristic={heuristic!r} {why}: query with skrt.query.regularity_sampling."
)
_WHY = {"auto": "names a choice per model and batch size"}
_WHY.update(
    (h, "weighs a candidate by its effect on the whole pool") for h in POOL_HEURISTICS
)

# overflow in a score is reported by check_finite, not as a RuntimeWarning
_QUIET = {"over": "ignore", "invalid": "ignore"}


def block_rows(X, width):
    """Rows per block of ``X``: one block's widest intermediate (its own
    columns plus ``width`` more, see ``Acquisition.block_width``) stays under
    ``skrt._centering.BLOCK_BYTES``."""
    return row_block(X.shape[1] + width)


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


def ssi_grams(T, omegas):
    """``Tᵀ diag(ω) T`` per target: the training side of the SSI terms
    ``q(x)ᵀ (Tᵀ diag(ω) T) q(x) = Σ_j ω_j κ(j, x)²``, formed once per pool."""
    return [T.T @ (om[:, None] * T) for om in omegas]


def quadratic_rows(Q, G):
    """``q_cᵀ G q_c`` for every row ``c`` of ``Q``."""
    return np.einsum("ij,ij->i", Q @ G, Q)


def quiet():
    """Floating-point overflow without RuntimeWarnings: checked afterwards."""
    return np.errstate(**_QUIET)


def require_needs(acquisition, heuristic, greedy):
    """The named ValueError where ``acquisition`` lacks a part that
    ``heuristic`` (:data:`skrt._heuristics.NEEDS`) or, when ``greedy``, a
    greedy batch needs; checked once per query."""
    require(acquisition, NEEDS[heuristic], f"heuristic={heuristic!r}")
    if greedy:
        require(acquisition, BATCH_NEEDS["greedy"], "A greedy batch")


class PoolScorer:
    """Scores of a candidate pool, under greedy virtual labelling.

    Parameters
    ----------
    acquisition : Acquisition
        What the fitted model offers (see :mod:`skrt._acquisition`): the
        estimator's ``__skrt_acquisition__()``; the scorer never sees the
        estimator itself.
    X : ndarray or sparse matrix of shape (n_candidates, n_features)
        Pool validated by ``acquisition.validate``.
    heuristic : str
    greedy : bool, default=True
        Keep what :meth:`add` needs. False scores the pool once, block by
        block, and keeps only the per-row results (for the SSI heuristics the
        greedy state includes the pool's coordinates, n_candidates x rank).
    weight : ndarray of shape (n_candidates, n_targets), default=None
        ``g`` of :func:`skrt._heuristics.score`: ``L'(r)²`` of known labels
        (the labeled form); None gives the unlabeled form.

    Raises
    ------
    ValueError
        If the heuristic (or, when ``greedy``, the greedy batch) needs a
        part of the acquisition that the model lacks; the message names it.
    """

    def __init__(self, acquisition, X, heuristic, greedy=True, weight=None):
        acq = acquisition
        if heuristic in _WHY:
            why = _WHY[heuristic]
            raise ValueError(_NOT_PER_ROW.format(heuristic=heuristic, why=why))
        require_needs(acq, heuristic, greedy)
        self.acquisition = acq
        self.X = X
        self.heuristic = heuristic
        self.greedy = greedy
        self.weight = (
            unlabeled_weight(heuristic, acq.noise_variance)
            if weight is None
            else weight
        )
        self._cols, self._ds = [], []
        self._cache = {}  # the backend's per-pool intermediates for cross
        rows = row_block(X.shape[1] + acq.block_width)
        curv = acq.curvature
        with quiet():
            if heuristic in ("sld", "sti"):
                self.response = map_rows(acq.part(NEEDS[heuristic][0]), X, rows)
            elif heuristic == "variance":
                self.variance = map_rows(curv.variance, X, rows)
            else:
                # term_c = Σ_j ω_j (t_jᵀ q_c - Σ_b a_jb β_cb)², one ω per output
                T, omegas = curv.reference(heuristic)
                grams = ssi_grams(T, omegas)
                if not greedy:
                    self.base = list(
                        map_rows(
                            lambda Z: np.column_stack(
                                [quadratic_rows(curv.coordinates(Z), G) for G in grams]
                            ),
                            X,
                            rows,
                        ).T
                    )
                else:
                    self.T, self.omegas = T, omegas
                    self.Q = map_rows(curv.coordinates, X, rows)
                    self.base = [quadratic_rows(self.Q, G) for G in grams]
                    self.A = np.zeros((T.shape[0], 0))
                    self.B = np.zeros((X.shape[0], 0))

    def terms(self):
        """``T`` of the heuristic after the picks so far, (n_candidates, n_targets)."""
        h = self.heuristic
        if h in ("sld", "sti"):
            return self.response**2
        if h == "variance":
            return self.variance[:, None]
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
        return np.column_stack(terms)

    def scores(self):
        """Current scores, shape (n_candidates,); larger = more worth labelling."""
        with quiet():
            return score(self.terms(), self.weight)

    def add(self, i):
        """Virtually label candidate ``i`` at its own prediction."""
        if not self.greedy:
            raise RuntimeError("PoolScorer(greedy=False) cannot add picks.")
        cross = self.acquisition.curvature.cross
        with quiet():
            k = np.asarray(cross(self.X, i, self._cache))  # κ(c, i)
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
