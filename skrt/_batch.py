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

**Array API.** A pool that left the numpy path (scikit-learn's
``array_api_dispatch`` on and a PyTorch, CuPy or ``array_api_strict`` array,
:func:`skrt._array_api.device_namespace`) is scored in its own namespace and
on its own device by the same formulas (:class:`PoolSpace` holds the few
operations whose numpy form is kept as it was, einsum and outer products,
and their array-API forms); the acquisition's parts then take and return
arrays of that namespace and device. Row blocks stay, and nothing comes back
to the host but what a greedy pick needs (its index).
"""

from __future__ import annotations

import numpy as np

from ._acquisition import require
from ._array_api import device_namespace, to_numpy
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


class PoolSpace:
    """The array namespace a pool is scored in.

    numpy (``xp`` None) unless the pool left the numpy path
    (:func:`skrt._array_api.device_namespace`): then its array-API namespace
    ``xp`` and ``device``, where every array the scorers make is created.
    The methods are the operations whose numpy form is kept exactly as it
    was (so the numpy path computes what it always did) beside their
    array-API form.

    Parameters
    ----------
    X : array-like, sparse matrix or None
        The validated pool.
    """

    def __init__(self, X):
        ns = None if X is None else device_namespace(X)
        self.xp, self.device = (None, None) if ns is None else ns

    @property
    def numpy(self):
        """True on the numpy path."""
        return self.xp is None

    def rowdot(self, A, B):
        """``Σ_j A_ij B_ij`` per row ``i``, shape (n,)."""
        if self.xp is None:
            return np.einsum("ij,ij->i", A, B)
        return self.xp.sum(A * B, axis=1)

    def outer(self, a, b):
        """``a bᵀ`` of two vectors."""
        if self.xp is None:
            return np.outer(a, b)
        return a[:, None] * b[None, :]

    def stack_columns(self, columns):
        """Vectors of equal length as the columns of a matrix."""
        if self.xp is None:
            return np.column_stack(columns)
        return self.xp.stack(columns, axis=1)

    def columns(self, M):
        """The columns of a matrix, as a list of vectors."""
        return [M[:, j] for j in range(M.shape[1])]

    def copy(self, a):
        """A copy of ``a`` (the scores a caller may change in place)."""
        if self.xp is None:
            return a.copy()
        return self.xp.asarray(a, copy=True)

    def positive_part(self, a):
        """``max(a, 0)`` elementwise; NaN stays NaN."""
        if self.xp is None:
            return np.maximum(a, 0.0)
        return self.xp.maximum(a, self.xp.zeros_like(a))

    def eye(self, r, like):
        """The r x r identity (``like``'s dtype)."""
        if self.xp is None:
            return np.eye(r)
        return self.xp.eye(r, dtype=like.dtype, device=self.device)

    def put(self, a):
        """A host (numpy) array in this namespace and on this device, its
        dtype kept (landmark indices, permutations)."""
        if self.xp is None:
            return np.asarray(a)
        return self.xp.asarray(np.asarray(a), device=self.device)

    def full(self, shape, value, like):
        """An array of ``value`` with ``like``'s dtype."""
        if self.xp is None:
            return np.full(shape, value, dtype=like.dtype)
        return self.xp.full(shape, value, dtype=like.dtype, device=self.device)

    def host(self, a):
        """``a`` as a numpy array (one copy off the device)."""
        return to_numpy(a, self.xp)

    def all_finite(self, a):
        """Whether every entry of ``a`` is finite (one host sync)."""
        if self.xp is None:
            return bool(np.all(np.isfinite(a)))
        return bool(self.xp.all(self.xp.isfinite(a)))

    def abs_max(self, a):
        """Largest absolute entry (0 when empty)."""
        if self.xp is None:
            return abs_max(a)
        if any(size == 0 for size in a.shape):
            return 0.0
        return float(self.xp.max(self.xp.abs(a)))


def block_rows(X, width):
    """Rows per block of ``X``: one block's widest intermediate (its own
    columns plus ``width`` more, see ``Acquisition.block_width``) stays under
    ``skrt._centering.BLOCK_BYTES``."""
    return row_block(X.shape[1] + width)


def map_rows(fn, X, rows):
    """``fn`` applied to row blocks of ``X`` and stacked along axis 0.

    ``fn`` must be row-wise (row ``i`` of its result depends only on row
    ``i`` of its input). The output is allocated once; no block is kept.
    A pool in an array-API namespace (:class:`PoolSpace`) keeps ``fn``'s
    results in that namespace and on that device: the output is allocated
    there and filled block by block, with no copy to the host.
    """
    n = X.shape[0]
    space = PoolSpace(X)
    if space.numpy:
        if n <= rows:
            return np.asarray(fn(X))
        out = None
        for start in range(0, n, rows):
            part = np.asarray(fn(X[start : start + rows]))
            if out is None:
                out = np.empty((n,) + part.shape[1:], dtype=part.dtype)
            out[start : start + part.shape[0]] = part
        return out
    if n <= rows:
        return fn(X)
    xp, out = space.xp, None
    for start in range(0, n, rows):
        stop = min(start + rows, n)  # the standard has no slice past the end
        part = fn(X[start:stop, ...])
        if out is None:
            shape = (n,) + tuple(part.shape[1:])
            out = xp.empty(shape, dtype=part.dtype, device=space.device)
        out[start:stop, ...] = part
    return out


def check_finite(values, X, name, what):
    """``values``, or a ValueError naming ``name`` and its scale.

    Scores, predictions and variances overflow float64 on pools far outside
    the training data's scale; the result would be inf or NaN. Array-API
    values are checked on their device (one host sync).
    """
    if PoolSpace(values).all_finite(values):
        return values
    raise_not_finite(X, name, what)


def raise_not_finite(X, name, what):
    """The ValueError of :func:`check_finite`."""
    raise ValueError(
        f"{what} is not finite in float64 for {name}: its entries reach "
        f"{PoolSpace(X).abs_max(X):.3g} in absolute value, far outside what the "
        "model's coefficients can score. Rescale "
        f"{name} and the training data alike "
        "(e.g. with a StandardScaler in a Pipeline) or drop the overflowing rows."
    )


def ssi_grams(T, omegas):
    """``Tᵀ diag(ω) T`` per target: the training side of the SSI terms
    ``q(x)ᵀ (Tᵀ diag(ω) T) q(x) = Σ_j ω_j κ(j, x)²``, formed once per pool."""
    return [T.T @ (om[:, None] * T) for om in omegas]


def quadratic_rows(Q, G):
    """``q_cᵀ G q_c`` for every row ``c`` of ``Q``."""
    return PoolSpace(Q).rowdot(Q @ G, Q)


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


def _namespace_name(ns):
    if ns is None:
        return "numpy"
    xp, device = ns
    name = getattr(xp, "__name__", type(xp).__name__).rsplit(".", 1)[-1]
    return f"{name} (device {device})"


def _same_namespace(a, b):
    if a is None or b is None:
        return a is None and b is None
    name_a = getattr(a[0], "__name__", None)
    return name_a == getattr(b[0], "__name__", None) and str(a[1]) == str(b[1])


def check_namespace(acquisition, X, name="X_pool"):
    """A ValueError unless the pool ``X`` is in the namespace and on the
    device of the model's arrays (``Acquisition.namespace``).

    With ``array_api_dispatch`` off, or a numpy model and a numpy pool (or
    list, DataFrame, sparse matrix), nothing is checked.
    """
    pool = device_namespace(X)
    model = getattr(acquisition, "namespace", None)
    if _same_namespace(pool, model):
        return
    raise ValueError(
        f"{name} is a {_namespace_name(pool)} array, but the model was fitted "
        f"on {_namespace_name(model)} arrays: pass {name} in the model's "
        "namespace and on its device, or refit the model on arrays like "
        f"{name}."
    )


class PoolScorer:
    """Scores of a candidate pool, under greedy virtual labelling.

    Parameters
    ----------
    acquisition : Acquisition
        What the fitted model offers (see :mod:`skrt._acquisition`): the
        estimator's ``__skrt_acquisition__()``; the scorer never sees the
        estimator itself.
    X : ndarray, array-API array or sparse matrix of shape (n_candidates, n_features)
        Pool validated by ``acquisition.validate``. An array-API pool is
        scored in its namespace and on its device (:class:`PoolSpace`).
    heuristic : str
    greedy : bool, default=True
        Keep what :meth:`add` needs. False scores the pool once, block by
        block, and keeps only the per-row results (for the SSI heuristics the
        greedy state includes the pool's coordinates, n_candidates x rank).
    weight : ndarray of shape (n_candidates, n_targets), default=None
        ``g`` of :func:`skrt._heuristics.score`: ``L'(r)²`` of known labels
        (the labeled form), in the pool's namespace; None gives the
        unlabeled form.

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
        self.space = space = PoolSpace(X)
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
                    self.base = space.columns(
                        map_rows(
                            lambda Z: space.stack_columns(
                                [quadratic_rows(curv.coordinates(Z), G) for G in grams]
                            ),
                            X,
                            rows,
                        )
                    )
                else:
                    self.T, self.omegas = T, omegas
                    self.Q = map_rows(curv.coordinates, X, rows)
                    self.base = [quadratic_rows(self.Q, G) for G in grams]
                    # the columns a_b (training rows) and β_b (pool) of each pick
                    self._a, self._b = [], []

    def terms(self):
        """``T`` of the heuristic after the picks so far, (n_candidates, n_targets)."""
        h, space = self.heuristic, self.space
        if h in ("sld", "sti"):
            return self.response**2
        if h == "variance":
            return self.variance[:, None]
        terms = []
        if self._cols:
            A, B = space.stack_columns(self._a), space.stack_columns(self._b)
        for j, base in enumerate(self.base):
            if self._cols:
                om = self.omegas[j]
                E = self.T.T @ (om[:, None] * A)  # (r+1, B)
                F = A.T @ (om[:, None] * A)  # (B, B)
                base = base - 2.0 * space.rowdot(B, self.Q @ E) + space.rowdot(B @ F, B)
            terms.append(base)
        return space.stack_columns(terms)

    def scores(self):
        """Current scores, shape (n_candidates,); larger = more worth labelling."""
        with quiet():
            return score(self.terms(), self.weight)

    def add(self, i):
        """Virtually label candidate ``i`` (an int) at its own prediction.

        On an array-API pool nothing leaves the device: ``d = κ(i, i)``
        stays a 0-d array there.
        """
        if not self.greedy:
            raise RuntimeError("PoolScorer(greedy=False) cannot add picks.")
        cross, space = self.acquisition.curvature.cross, self.space
        i = int(i)
        with quiet():
            k = cross(self.X, i, self._cache)  # κ(c, i)
            k = np.asarray(k) if space.numpy else k
            for col, d in zip(self._cols, self._ds, strict=True):
                k = k - col * (col[i] / (1.0 + d))
            d = float(k[i]) if space.numpy else k[i]
            beta = k / (1.0 + d)
            if self.heuristic in ("sld", "sti"):
                self.response = self.response - space.outer(beta, self.response[i, :])
            elif self.heuristic == "variance":
                self.variance = self.variance - beta * k
            else:
                # the same recursion for the training rows: a_j = κ_{b-1}(j, i)
                a = self.T @ self.Q[i, :]
                for j, (col, d_j) in enumerate(zip(self._cols, self._ds, strict=True)):
                    a = a - self._a[j] * (col[i] / (1.0 + d_j))
                self._a.append(a)
                self._b.append(beta)
        self._cols.append(k)
        self._ds.append(d)
