r"""Pool heuristics: a candidate weighed by its effect on the whole pool
(docs/math.rst, :ref:`math-pool`).

Notation as in :mod:`skrt._batch`: ``κ(a, b) = x̃_aᵀ M⁻¹ x̃_b``, the model's
posterior covariance (over ``σ²``) between pool rows ``a`` and ``b``, read
column by column through ``Acquisition.curvature.cross``.

**The pool factor.** ``L = min(n_landmarks, n_pool)`` pool rows, drawn
uniformly without replacement (every row when ``n_landmarks >= n_pool``),
give ``C = [κ(·, l)]_{l ∈ L}`` (n_pool x L) and ``K_LL = C[L]``. With
``K_LL = V diag(w) Vᵀ`` and the eigenvalues ``w > tol · max(w)`` kept,

.. math::

    U = C\, V_{\text{keep}}\, \mathrm{diag}(w_{\text{keep}})^{-1/2},
    \qquad \hat\kappa(a, b) = u_a^\top u_b = C_a K_{LL}^{+} C_b^\top,

the Nyström approximation of ``κ`` on the pool (n_pool x r). It is exact
where the landmarks span the pool in feature space: every pool row a
landmark, or a linear model with at least ``rank`` landmarks in general
position. No n_pool x n_pool matrix is ever formed.

**Greedy batches in factor space.** After virtual labels ``B`` (each at its
own prediction, unit weight) ``κ_B = U S Uᵀ`` with
``S = (I + U_BᵀU_B)⁻¹`` (Woodbury). A pick ``b`` costs ``O(n_pool r)``:

.. math::

    g = S u_b,\quad \mathrm{col} = U g = \kappa_B(\cdot, b),\quad
    d = \mathrm{col}_b,\quad S \leftarrow S - \frac{g g^\top}{1 + d},\quad
    v \leftarrow v - \frac{\mathrm{col}^2}{1 + d},

with ``v(x) = κ_B(x, x)``. The sums ``N(x) = Σ_c κ_B(c, x)²`` over the pool
follow by ``N ← N - 2βh + β² N(b)``, ``β = col/(1 + d)``,
``h = U S G g = Σ_c κ_B(c, ·) κ_B(c, b)`` with ``G = UᵀU`` formed once; the
tangents by ``ẋ ← ẋ - β ẋ_b``, as for SLD.

**Scores** (larger = more worth labelling):

* ``"pool_variance"``: ``v(x)``; greedy, the max-determinant (MaxDet) batch
  on the factor's subspace;
* ``"ivr"``: ``N(x) / (n_pool (1 + v(x)))``, the drop of the pool-averaged
  variance ``Σ_c κ_B(c, c) / n_pool`` if ``x`` were labelled;
* ``"variance_ivr"``: ``v(x) N(x) / (n_pool (1 + v(x)))``, the candidate's
  own variance times its integrated variance reduction (the square of
  their geometric mean): uncertain *and* informative for the pool;
* ``"pool_tangent"``: ``Σ_k ẋ_k(x)² N(x) / (n_pool (1 + v(x))²)``, the mean
  squared change of the pool's tangents (labelling ``x`` at its prediction
  moves ``ẋ_c`` by ``-κ_B(c, x) ẋ(x) / (1 + v(x))``);
* ``"cluster_distance"`` (LCMD): centres are the training set (squared
  distance ``κ̂(x, x)``) and each pick ``b`` (``‖u_x - u_b‖²``); every row
  belongs to its nearest centre, the mass of a centre is the sum of its
  members' squared distances, and a row scores its squared distance if its
  centre has the largest mass, else 0.

**Array API.** An array-API pool (:class:`skrt._batch.PoolSpace`) is scored
in its namespace and on its device: the landmarks are drawn on the host
(the same draws as for numpy, so the same rows for the same
``random_state``) and passed to ``curvature.cross`` as an integer array on
the device; ``K_LL``'s eigendecomposition is ``xp.linalg.eigh``; the kept
eigenvalues (a suffix of eigh's ascending order) are counted with one host
sync per factor. ``"cluster_distance"``'s cluster masses, a ``bincount`` in
numpy, which the standard lacks, are sums over row blocks of a
(rows x centres) indicator (:func:`group_sums`), all on the device.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from ._batch import (
    PoolScorer,
    PoolSpace,
    check_namespace,
    map_rows,
    quadratic_rows,
    quiet,
    require_needs,
)
from ._centering import row_block
from ._heuristics import DEFAULT_LANDMARKS, POOL_HEURISTICS

__all__ = [
    "NEEDS_GRAM",
    "PoolFactor",
    "PoolFactorScorer",
    "check_landmarks",
    "group_sums",
    "make_scorer",
    "nystrom_weights",
    "pool_factor",
]

# eigenvalues of K_LL kept: above this fraction of the largest. eigh's
# eigenvalues carry an absolute error of about n_L ε max(w) (1e-13 for 200
# landmarks); below it a direction is rounding (a linear model's K_LL has
# rank <= n_features + 1), and dividing its column by √w would amplify that
# rounding without bound. 1e-10 keeps a margin of 1000 above the rounding,
# while on the landmarks what is dropped moves κ̂ by at most tol·max(w) per
# direction: the pseudo-inverse of K_LL, regularised at a relative 1e-10.
EIGEN_TOL = 1e-10
# in a lower precision than float64 (a float32 array-API model), the same
# reasoning with that precision's ε: at least this many times n_L ε
LOW_PRECISION_MARGIN = 100.0

# the heuristics that keep N(x) = Σ_c κ_B(c, x)² (and need G = UᵀU)
NEEDS_GRAM = ("ivr", "variance_ivr", "pool_tangent")
_NEEDS_N = NEEDS_GRAM


class PoolFactor:
    """A Nyström factor ``U`` of the curvature on a pool (module docstring).

    Attributes
    ----------
    U : ndarray of shape (n_pool, rank)
        ``κ̂(a, b) = U[a] @ U[b]``; in the pool's namespace and on its device.
    landmarks : ndarray of shape (n_landmarks,)
        The pool rows whose columns ``κ(·, l)`` span it, increasing; numpy
        ints on the host for every pool.
    eigenvalues : ndarray of shape (rank,)
        The kept eigenvalues of ``K_LL``, in the pool's namespace.
    """

    def __init__(self, U, landmarks, eigenvalues):
        self.U = U
        self.landmarks = landmarks
        self.eigenvalues = eigenvalues


def pool_factor(
    acquisition, X, n_landmarks=DEFAULT_LANDMARKS, random_state=None, tol=EIGEN_TOL
):
    """The Nyström factor of ``κ`` on the pool ``X``.

    Parameters
    ----------
    acquisition : Acquisition
        Needs ``curvature.cross``.
    X : ndarray, array-API array or sparse matrix of shape (n_pool, n_features)
        The pool, validated by ``acquisition.validate``.
    n_landmarks : int, default=200
        Landmarks drawn; every row is one when ``n_landmarks >= n_pool``
        (then nothing is drawn from ``random_state``). A linear model's
        ``κ`` has rank at most ``n_features + 1``: there ``2 (n_features +
        1)`` landmarks are tried first, doubled (up to ``n_landmarks``)
        while the factor's diagonal misses ``κ(x, x)`` by more than 1e-9 of
        its largest value, so the factor is exact at a fraction of the cost.
    random_state : int, RandomState instance or None, default=None
        Draws the landmarks (on the host, for every pool).
    tol : float, default=EIGEN_TOL
        Relative threshold on the eigenvalues of ``K_LL`` (raised to
        ``LOW_PRECISION_MARGIN · n_L · ε`` for a float32 pool).

    Returns
    -------
    factor : PoolFactor
    """
    check_landmarks(n_landmarks)
    n = X.shape[0]
    rng = check_random_state(random_state)
    curv = acquisition.curvature
    space = PoolSpace(X)
    if acquisition.family == "linear" and curv.variance is not None:
        # κ has rank <= n_features + 1 on any pool: start from twice that many
        # landmarks and add more only while the factor misses κ's diagonal
        order = rng.permutation(n) if n_landmarks < n else np.arange(n)
        limit = min(int(n_landmarks), n)
        m = min(limit, 2 * (X.shape[1] + 1))
        rows = row_block(X.shape[1] + acquisition.block_width)
        with quiet():
            diagonal = map_rows(curv.variance, X, rows)
            if space.numpy:
                diagonal = np.asarray(diagonal, dtype=float)
        largest = space.abs_max(diagonal)
        while True:
            factor = _nystrom(curv.cross, X, np.sort(order[:m]), tol, space)
            with quiet():
                gap = space.rowdot(factor.U, factor.U) - diagonal
                miss = space.abs_max(gap)
            if m >= limit or miss <= 1e-9 * largest:
                return factor
            m = min(limit, 2 * m)
    if n_landmarks >= n:
        landmarks = np.arange(n)
    else:
        landmarks = np.sort(rng.choice(n, int(n_landmarks), replace=False))
    return _nystrom(curv.cross, X, landmarks, tol, space)


def _nystrom(cross, X, landmarks, tol, space):
    """:class:`PoolFactor` from the columns ``κ(·, l)`` of ``landmarks``."""
    if not space.numpy:
        with quiet():  # numpy's warnings where the namespace wraps numpy
            return _nystrom_xp(cross, X, landmarks, tol, space)
    n = X.shape[0]
    with quiet():
        C = np.asarray(cross(X, landmarks, {}), dtype=float)
        C = C.reshape(n, landmarks.shape[0])
        weights = nystrom_weights(C[landmarks], tol)
        if weights is None:
            return PoolFactor(np.full((n, 1), np.nan), landmarks, np.ones(1))
        W, kept = weights
        U = C @ W
    return PoolFactor(U, landmarks, kept)


def check_landmarks(n_landmarks):
    """A TypeError or ValueError unless ``n_landmarks`` is an int >= 1."""
    if isinstance(n_landmarks, bool) or not isinstance(n_landmarks, (int, np.integer)):
        raise TypeError(
            f"n_landmarks must be a positive int; got {type(n_landmarks).__name__}."
        )
    if n_landmarks < 1:
        raise ValueError(f"n_landmarks must be >= 1; got {n_landmarks}.")


def nystrom_weights(K, tol=EIGEN_TOL):
    """``(W, kept)`` of the factor ``U = C W`` from ``K = κ(L, L)`` (numpy):
    ``W = V_keep diag(w_keep)^{-1/2}`` over the eigenvalues
    ``w > tol · max(w)`` of the symmetrised ``K``; None where ``K`` is not
    finite."""
    K = 0.5 * (K + K.T)
    if not np.all(np.isfinite(K)):
        return None
    w, V = np.linalg.eigh(K)
    top = w.max(initial=0.0)
    keep = w > tol * top if top > 0 else np.zeros(w.shape, dtype=bool)
    return V[:, keep] / np.sqrt(w[keep]), w[keep]


def _nystrom_xp(cross, X, landmarks, tol, space):
    """:func:`_nystrom` in an array-API namespace: the same factor (eigh's
    eigenvalues ascend, so the kept ones are a suffix)."""
    xp, n, L = space.xp, X.shape[0], landmarks.shape[0]
    index = space.put(landmarks)
    C = xp.reshape(cross(X, index, {}), (n, L))
    if C.dtype != xp.float64:
        tol = max(tol, LOW_PRECISION_MARGIN * L * float(xp.finfo(C.dtype).eps))
    K = xp.take(C, index, axis=0)
    K = 0.5 * (K + K.T)
    if not space.all_finite(K):
        nan = space.full((n, 1), float("nan"), like=C)
        return PoolFactor(nan, landmarks, space.full((1,), 1.0, like=C))
    w, V = xp.linalg.eigh(K)
    top = float(w[L - 1])
    kept = int(xp.sum(xp.astype(w > tol * top, xp.int64))) if top > 0 else 0
    W = V[:, L - kept :] / xp.sqrt(w[L - kept :])
    return PoolFactor(C @ W, landmarks, w[L - kept :])


def group_sums(labels, values, n_groups, space):
    """``Σ values[labels == g]`` for ``g`` in ``0 .. n_groups - 1``.

    numpy's ``bincount(labels, weights=values, minlength=n_groups)``, which
    the array API standard lacks: in row blocks of a (rows x n_groups)
    indicator, bounded like every pool intermediate
    (``skrt._centering.BLOCK_BYTES``), on the device; nothing goes to the
    host. The sums may differ from bincount's in the last bits (another
    summation order).
    """
    if space.numpy:
        return np.bincount(labels, weights=values, minlength=n_groups)
    xp, n = space.xp, labels.shape[0]
    ids = xp.arange(n_groups, dtype=labels.dtype, device=space.device)
    zero = xp.zeros((1, 1), dtype=values.dtype, device=space.device)
    total, rows = None, row_block(n_groups)
    for start in range(0, n, rows):
        stop = min(start + rows, n)  # the standard has no slice past the end
        hit = labels[start:stop, None] == ids[None, :]
        part = xp.sum(xp.where(hit, values[start:stop, None], zero), axis=0)
        total = part if total is None else total + part
    return total


class PoolFactorScorer:
    """Scores of a pool heuristic under greedy virtual labelling.

    The interface of :class:`skrt._batch.PoolScorer`: :meth:`scores` and
    :meth:`add`. Memory: the factor and its state, ``O(n_pool · rank)``
    (for ``"pool_tangent"`` plus the tangents, n_pool x n_targets). An
    array-API pool keeps all of it in its namespace and on its device.

    Parameters
    ----------
    acquisition : Acquisition
    X : ndarray, array-API array or sparse matrix of shape (n_pool, n_features)
        The pool, validated by ``acquisition.validate``.
    heuristic : {"pool_variance", "ivr", "variance_ivr", "pool_tangent", \
"cluster_distance"}
    greedy : bool, default=True
        Keep what :meth:`add` needs (the state costs no more than the scores:
        the factor is needed for the first round already).
    n_landmarks : int, default=200
    random_state : int, RandomState instance or None, default=None
        Draws the landmarks.
    factor : PoolFactor or None, default=None
        A factor of ``X``'s rows built elsewhere (a block of a larger pool,
        :mod:`skrt._dask_pool`); None: :func:`pool_factor` of ``X``.
    gram : ndarray of shape (rank, rank) or None, default=None
        ``UᵀU`` over the whole pool when ``X`` is a block of it; None: over
        ``X``.
    n_pool : int or None, default=None
        Rows of the whole pool (the ``"ivr"`` scores' mean); None: ``X``'s.

    Raises
    ------
    ValueError
        If the model lacks a part the heuristic needs (``NEEDS``).
    """

    def __init__(
        self,
        acquisition,
        X,
        heuristic,
        greedy=True,
        n_landmarks=DEFAULT_LANDMARKS,
        random_state=None,
        *,
        factor=None,
        gram=None,
        n_pool=None,
    ):
        if heuristic not in POOL_HEURISTICS:
            raise ValueError(
                f"heuristic must be one of {list(POOL_HEURISTICS)}; got {heuristic!r}."
            )
        require_needs(acquisition, heuristic, greedy)
        self.acquisition = acquisition
        self.X = X
        self.space = space = PoolSpace(X)
        self.heuristic = heuristic
        self.greedy = greedy
        if factor is None:
            factor = pool_factor(acquisition, X, n_landmarks, random_state)
        self.factor = factor
        U = self.factor.U
        n, r = U.shape
        self.n_pool = n if n_pool is None else n_pool
        with quiet():
            self.S = space.eye(r, like=U)
            self.variance = space.rowdot(U, U)
            if heuristic in _NEEDS_N:
                self.G = U.T @ U if gram is None else gram
                self.N = quadratic_rows(U, self.G)
            if heuristic == "pool_tangent":
                rows = row_block(X.shape[1] + acquisition.block_width)
                self.tangent = map_rows(acquisition.tangent, X, rows)
                if space.numpy:
                    self.tangent = np.asarray(self.tangent)
                if self.tangent.ndim == 1:
                    self.tangent = self.tangent[:, None]
            if heuristic == "cluster_distance":
                # the variance stays κ̂(x, x) here (picks move only centres)
                self.distance = self.variance  # to the training set
                self.center = self._ints(np.full(n, -1))  # -1: the training set
                self.n_picks = 0

    def _ints(self, a):
        """Host ints in the pool's namespace (numpy's as they are)."""
        return a if self.space.numpy else self.space.put(np.asarray(a, dtype=np.int64))

    def scores(self):
        """Current scores, shape (n_pool,); larger = more worth labelling."""
        h, space = self.heuristic, self.space
        with quiet():
            if h == "pool_variance":
                return space.copy(self.variance)
            if h == "cluster_distance":
                mass = group_sums(
                    self.center + 1, self.distance, self.n_picks + 1, space
                )
                if space.numpy:
                    largest = int(np.argmax(mass)) - 1
                    return np.where(self.center == largest, self.distance, 0.0)
                largest = space.xp.argmax(mass) - 1  # stays on the device
                zero = space.xp.zeros_like(self.distance)
                return space.xp.where(self.center == largest, self.distance, zero)
            N = space.positive_part(self.N)
            one_plus = 1.0 + self.variance
            if h == "ivr":
                return N / (self.n_pool * one_plus)
            if h == "variance_ivr":
                return space.positive_part(self.variance) * N / (self.n_pool * one_plus)
            if space.numpy:
                tangent2 = (self.tangent**2).sum(axis=1)
            else:
                tangent2 = space.xp.sum(self.tangent**2, axis=1)
            return tangent2 * N / (self.n_pool * one_plus**2)

    def add(self, i):
        """Virtually label candidate ``i`` at its own prediction."""
        if not self.greedy:
            raise RuntimeError("PoolFactorScorer(greedy=False) cannot add picks.")
        U, space = self.factor.U, self.space
        i = int(i)
        with quiet():
            if self.heuristic == "cluster_distance":
                # centres live in the fixed geometry of κ̂ (not κ_B)
                u = U[i, :]
                near = _rows_dot(U, u)
                dist = space.positive_part(self.variance - 2.0 * near + u @ u)
                dist[i] = 0.0
                closer = dist < self.distance
                if space.numpy:
                    self.distance = np.where(closer, dist, self.distance)
                    self.center = np.where(closer, self.n_picks, self.center)
                else:
                    xp = space.xp
                    pick = xp.full_like(self.center, self.n_picks)
                    self.distance = xp.where(closer, dist, self.distance)
                    self.center = xp.where(closer, pick, self.center)
                self.n_picks += 1
                return
            g = self.S @ U[i, :]
            col = _rows_dot(U, g)  # κ_B(·, i)
            d = float(col[i]) if space.numpy else col[i]
            beta = col / (1.0 + d)
            if self.heuristic in _NEEDS_N:
                h = _rows_dot(U, self.S @ (self.G @ g))  # Σ_c κ_B(c, ·) κ_B(c, i)
                self.N = self.N - 2.0 * beta * h + beta**2 * self.N[i]
            if self.heuristic == "pool_tangent":
                self.tangent = self.tangent - space.outer(beta, self.tangent[i, :])
            self.variance = self.variance - beta * col
            self.S = self.S - space.outer(g, g) / (1.0 + d)


def _rows_dot(U, v):
    """``U @ v``; numpy's by einsum, whose row ``c`` depends on ``U[c]`` and
    ``v`` alone (BLAS's gemv rounds a row by its position), so that equal
    rows tie exactly wherever they sit in a pool or a block of it."""
    if isinstance(U, np.ndarray):
        return np.einsum("ij,j->i", U, v)
    return U @ v


def make_scorer(
    acquisition,
    X,
    heuristic,
    greedy,
    weight=None,
    random_state=None,
    n_landmarks=DEFAULT_LANDMARKS,
):
    """The scorer of ``heuristic`` on the pool ``X``: a
    :class:`PoolFactorScorer` for the pool heuristics, else a
    :class:`skrt._batch.PoolScorer` (unchanged).

    Parameters
    ----------
    acquisition : Acquisition
    X : ndarray or sparse matrix of shape (n_pool, n_features)
        Validated by ``acquisition.validate``.
    heuristic : str
        A concrete name (:data:`skrt._heuristics.HEURISTICS`; resolve
        ``"auto"`` first).
    greedy : bool
        Keep what ``add`` needs.
    weight : ndarray of shape (n_pool, n_targets), default=None
        ``L'(r)²`` of known labels for :class:`PoolScorer`'s labeled form;
        the pool heuristics have none (a ValueError).
    random_state : int, RandomState instance or None, default=None
        Draws the landmarks of the pool heuristics; unused otherwise.
    n_landmarks : int, default=200

    Returns
    -------
    scorer : PoolScorer or PoolFactorScorer
        With ``scores()`` and ``add(i)``.
    """
    check_namespace(acquisition, X, "X")
    if heuristic not in POOL_HEURISTICS:
        return PoolScorer(acquisition, X, heuristic, greedy=greedy, weight=weight)
    if weight is not None:
        raise ValueError(
            f"heuristic={heuristic!r} has no labeled form: score the pool "
            "without labels."
        )
    return PoolFactorScorer(
        acquisition,
        X,
        heuristic,
        greedy=greedy,
        n_landmarks=n_landmarks,
        random_state=random_state,
    )
