r"""The pool heuristics on a ``dask`` pool (docs/math.rst, :ref:`math-pool`;
docs/dask.rst): the same Nyström factor, scores and greedy
picks as :mod:`skrt._pool`, block by block.

**Factor.** The landmarks are drawn on the host with the in-memory draws
(``random_state``'s ``permutation`` or ``choice``, so the same rows), their
validated rows gathered in one pass, and ``K_LL = κ(L, L)`` decomposed
locally (:func:`skrt._pool.nystrom_weights`); a block's factor rows are
``U = κ(·, L) W``, recomputed from the block's rows in every pass (``U`` is
never stored: n_pool x rank). A linear model's check that the factor is
exact (``max |u_xᵀu_x - κ(x, x)| ≤ 10⁻⁹ max κ(x, x)``, doubling the
landmarks while not) is one pass per try, which also sums ``G = UᵀU``
(the ``"ivr"`` family's); a kernel model's ``G`` is one pass.

**Greedy picks.** A pool heuristic's score after picks ``B`` involves the
whole pool only through ``G`` (fixed) and, for ``"cluster_distance"``, the
cluster masses (sums over the pool). Each block therefore replays the
in-memory rank-one updates (:class:`skrt._pool.PoolFactorScorer`, given the
factor and ``G``) on its own rows with the picks' rows appended, and
reports its best rows (``"cluster_distance"``: per cluster, its mass and
its best rows); the host picks as ``run_query`` does. **One pass per pick**:
a greedy batch of ``n`` costs the factor's passes plus ``n``, a top-k one
pass; exact, with the in-memory ties (:class:`skrt._dask_blocks.TieDraws`).
"""

from __future__ import annotations

import numpy as np

from ._batch import map_rows, require_needs
from ._centering import row_block
from ._dask_blocks import first_in_order, stack_rows, take_rows
from ._dask_query import (
    best_pass,
    checked_scores,
    choose_best,
    equal_block,
    topk_select,
)
from ._pool import (
    EIGEN_TOL,
    NEEDS_GRAM,
    PoolFactor,
    PoolFactorScorer,
    check_landmarks,
    nystrom_weights,
)

__all__ = ["DaskFactor", "dask_pool_factor", "dask_pool_query", "dask_pool_scores"]

#: rows a block reports per cluster at its largest distance
_CLUSTER_TIES = 64


class DaskFactor:
    """The Nyström factor of a dask pool, without ``U``.

    Attributes
    ----------
    landmarks : ndarray of shape (n_landmarks,)
        Increasing global row indices.
    rows : ndarray of shape (n_landmarks, n_features)
        Their validated rows.
    W : ndarray of shape (n_landmarks, rank)
        ``U = κ(·, L) W``.
    eigenvalues : ndarray of shape (rank,)
    gram : ndarray of shape (rank, rank) or None
        ``UᵀU`` over the pool, where the heuristic needs it.
    n_pool : int
    """

    def __init__(self, landmarks, rows, W, eigenvalues, gram, n_pool):
        self.landmarks, self.rows, self.W = landmarks, rows, W
        self.eigenvalues, self.gram, self.n_pool = eigenvalues, gram, n_pool

    def U(self, acquisition, X):
        """Factor rows of the validated rows ``X`` (row blocks bounded by
        ``skrt._centering.BLOCK_BYTES``)."""
        L = self.rows.shape[0]
        cross = acquisition.curvature.cross

        def rows_of(Z):
            # the landmarks' rows last: a block row is never BLAS's one-row
            # tail (rounded by its position), as in the pool's whole product
            n = Z.shape[0]
            C = cross(stack_rows(Z, self.rows), n + np.arange(L), {})
            return (np.asarray(C, dtype=float).reshape(n + L, L) @ self.W)[:n]

        width = X.shape[1] + acquisition.block_width + L
        return map_rows(rows_of, X, row_block(width))


# -- block functions -----------------------------------------------------------


def _sub_blocks(acquisition, X, factor, extra=0):
    """``(start, rows)`` of ``X`` in row blocks whose factor intermediates
    (a block's columns ``κ(·, L)``, its ``U``) stay under
    ``skrt._centering.BLOCK_BYTES``."""
    width = X.shape[1] + acquisition.block_width + factor.rows.shape[0]
    step = row_block(width + factor.W.shape[1] + extra)
    for start in range(0, X.shape[0], step):
        yield start, X[start : start + step]


def _factor_block(acquisition, X, offset, factor, check, want_gram):
    """A block's contribution to the factor's check and ``G``."""
    out = {"finite": True, "miss": 0.0, "largest": 0.0}
    rows = row_block(X.shape[1] + acquisition.block_width)
    for _, Z in _sub_blocks(acquisition, X, factor):
        U = factor.U(acquisition, Z)
        out["finite"] = out["finite"] and bool(np.all(np.isfinite(U)))
        if check:
            v = np.asarray(
                map_rows(acquisition.curvature.variance, Z, rows), dtype=float
            )
            gap = np.einsum("ij,ij->i", U, U) - v.reshape(-1)
            out["miss"] = max(out["miss"], float(np.abs(gap).max(initial=0.0)))
            out["largest"] = max(out["largest"], float(np.abs(v).max(initial=0.0)))
        if want_gram:
            out["gram"] = U.T @ U + out.get("gram", 0.0)
    return out


def _augmented(acquisition, X, factor, picked_rows, picked_U):
    """``X``'s rows and factor rows with the picks' appended, and one copy
    of the last row more where that makes an odd count (BLAS rounds the
    one-row tail of a product by its position: an even count has none)."""
    U = np.vstack([factor.U(acquisition, X), picked_U])
    rows = stack_rows(X, picked_rows)
    if U.shape[0] % 2:
        U = np.vstack([U, U[-1:]])
        rows = stack_rows(rows, take_rows(rows, [rows.shape[0] - 1]))
    return rows, PoolFactor(U, factor.landmarks, factor.eigenvalues)


def _scorer(acquisition, X, heuristic, factor, picked_rows, picked_U):
    """A PoolFactorScorer of ``X``'s rows with the picks appended and
    replayed (their rows and factor rows ``picked_U``)."""
    n = X.shape[0]
    rows, aug = _augmented(acquisition, X, factor, picked_rows, picked_U)
    scorer = PoolFactorScorer(
        acquisition,
        rows,
        heuristic,
        factor=aug,
        gram=factor.gram,
        n_pool=factor.n_pool,
    )
    for j in range(picked_rows.shape[0]):
        scorer.add(n + j)
    return scorer


def _scores_block(acquisition, X, offset, heuristic, factor, picked_rows, picked_U):
    """Scores of a block's rows after the picks (not "cluster_distance")."""
    t = picked_rows.shape[0]
    parts = [
        np.asarray(
            _scorer(acquisition, Z, heuristic, factor, picked_rows, picked_U).scores(),
            dtype=float,
        )[: Z.shape[0]]
        for _, Z in _sub_blocks(acquisition, X, factor, 4 + t)
    ]
    return np.concatenate(parts) if parts else np.empty(0)


def _cluster_state(acquisition, X, offset, factor, picks, picked_rows, picked_U):
    """(distance, center) of a block's rows after the picks, as in memory:
    a pick's own row at distance 0 from its centre."""
    parts = [
        _cluster_rows(
            acquisition, Z, offset + start, factor, picks, picked_rows, picked_U
        )
        for start, Z in _sub_blocks(acquisition, X, factor, 4)
    ]
    return (
        np.concatenate([d for d, _ in parts]),
        np.concatenate([c for _, c in parts]).astype(np.int64),
    )


def _cluster_rows(acquisition, X, offset, factor, picks, picked_rows, picked_U):
    """:func:`_cluster_state` of one row block."""
    n = X.shape[0]
    rows, aug = _augmented(acquisition, X, factor, picked_rows, picked_U)
    scorer = PoolFactorScorer(acquisition, rows, "cluster_distance", factor=aug)
    for j, pick in enumerate(picks):
        own = int(pick) - offset
        before = scorer.distance[own] if 0 <= own < n else None
        scorer.add(n + j)
        if before is not None and before > 0.0:  # in memory: dist[i] = 0
            scorer.distance[own], scorer.center[own] = 0.0, j
    return scorer.distance[:n], scorer.center[:n]


def _cluster_scores(
    acquisition, X, offset, factor, picks, picked_rows, picked_U, largest
):
    """``"cluster_distance"`` scores of a block given the largest cluster."""
    distance, center = _cluster_state(
        acquisition, X, offset, factor, picks, picked_rows, picked_U
    )
    return np.where(center == largest, distance, 0.0)


def _cluster_block(acquisition, X, offset, factor, picks, picked_rows, picked_U):
    """Per cluster: the block's mass, and its best rows (picks left out)."""
    distance, center = _cluster_state(
        acquisition, X, offset, factor, picks, picked_rows, picked_U
    )
    groups = len(picks) + 1
    mass = np.bincount(center + 1, weights=distance, minlength=groups)
    local = picks[(picks >= offset) & (picks < offset + X.shape[0])] - offset
    d = np.array(distance, dtype=float)
    finite = np.isfinite(d)
    finite[local] = True
    d[local] = -np.inf
    best = []
    for g in range(groups):
        members = np.flatnonzero(center == g - 1)
        top = d[members].max(initial=-np.inf)
        at = members[d[members] == top] if members.size else members
        best.append(
            {
                "max": float(top),
                "index": at[:_CLUSTER_TIES] + offset,
                "count": int(at.shape[0]),
                "rows": take_rows(X, at[:_CLUSTER_TIES]),
            }
        )
    return {"mass": mass, "best": best, "finite": bool(finite.all())}


# -- the factor ----------------------------------------------------------------


def dask_pool_factor(pool, acquisition, heuristic, n_landmarks, rng, fail):
    """The factor of :func:`skrt._pool.pool_factor` on a dask pool (module
    docstring), with ``G`` where ``heuristic`` needs it; ``fail()`` raises
    where it is not finite."""
    check_landmarks(n_landmarks)
    n, curv = pool.n, acquisition.curvature
    want_gram = heuristic in NEEDS_GRAM
    if acquisition.family == "linear" and curv.variance is not None:
        order = rng.permutation(n) if n_landmarks < n else np.arange(n)
        limit = min(int(n_landmarks), n)
        m = min(limit, 2 * (pool.n_features + 1))
        rows = pool.rows(order[:limit])
        while True:
            picked = np.argsort(order[:m])  # the landmarks increasing
            factor = _factor(acquisition, order[:m][picked], rows[:m][picked], n, fail)
            parts = pool.run(_factor_block, factor, True, want_gram)
            if not all(p["finite"] for p in parts):
                fail()
            miss = max(p["miss"] for p in parts)
            largest = max(p["largest"] for p in parts)
            if m >= limit or miss <= 1e-9 * largest:
                break
            m = min(limit, 2 * m)
    else:
        if n_landmarks >= n:
            landmarks = np.arange(n)
        else:
            landmarks = np.sort(rng.choice(n, int(n_landmarks), replace=False))
        factor = _factor(acquisition, landmarks, pool.rows(landmarks), n, fail)
        parts = pool.run(_factor_block, factor, False, True) if want_gram else []
        if not all(p["finite"] for p in parts):
            fail()
    if want_gram:
        factor.gram = sum(p["gram"] for p in parts)
    return factor


def _factor(acquisition, landmarks, rows, n, fail):
    L = landmarks.shape[0]
    K = np.asarray(acquisition.curvature.cross(rows, np.arange(L), {}), dtype=float)
    weights = nystrom_weights(K.reshape(L, L), EIGEN_TOL)
    if weights is None:
        fail()
    W, kept = weights
    return DaskFactor(landmarks, rows, W, kept, None, n)


# -- entry points ----------------------------------------------------------------


def dask_pool_scores(pool, acquisition, heuristic, n_landmarks, rng, what):
    """First-round scores of a pool heuristic, lazy (after the factor's
    passes): ``score_samples`` on a dask ``X``."""
    require_needs(acquisition, heuristic, False)
    factor = dask_pool_factor(
        pool,
        acquisition,
        heuristic,
        n_landmarks,
        rng,
        lambda: pool.raise_not_finite(what),
    )
    args = _first_args(heuristic, factor, pool.n_features)
    return pool.lazy(checked_scores, _scores_block, args, what)


def _first_args(heuristic, factor, p):
    """Arguments of :func:`_scores_block` before any pick (the
    ``"cluster_distance"`` first round is the variance, as in memory)."""
    h = "pool_variance" if heuristic == "cluster_distance" else heuristic
    return (h, factor, np.empty((0, p)), np.empty((0, factor.W.shape[1])))


def dask_pool_query(
    pool, acquisition, heuristic, n_query, greedy, rng, draws, n_landmarks, fail
):
    """(chosen, lazy first-round scores) of a pool heuristic on a dask pool;
    ``fail(step)`` raises the not-finite error of a round."""
    require_needs(acquisition, heuristic, greedy)
    factor = dask_pool_factor(
        pool, acquisition, heuristic, n_landmarks, rng, lambda: fail(0)
    )
    what = f"The heuristic={heuristic!r} score"
    first = _first_args(heuristic, factor, pool.n_features)
    scores = pool.lazy(checked_scores, _scores_block, first, what)
    if not greedy:
        return topk_select(
            pool, _scores_block, first, n_query, draws, lambda: fail(0)
        ), scores
    picks, picked_rows = [], np.empty((0, pool.n_features))
    for step in range(n_query):
        picked_U = factor.U(acquisition, picked_rows)
        if heuristic == "cluster_distance":
            pick, row = _cluster_pick(
                pool,
                factor,
                np.asarray(picks, dtype=np.int64),
                picked_rows,
                picked_U,
                draws,
                lambda step=step: fail(step),
            )
        else:
            args = (heuristic, factor, picked_rows, picked_U)
            pick, row = best_pass(
                pool, _scores_block, args, picks, draws, lambda step=step: fail(step)
            )
        picks.append(pick)
        picked_rows = np.vstack([picked_rows, np.asarray(row).reshape(1, -1)])
    return np.asarray(picks, dtype=np.int64), scores


def _cluster_pick(pool, factor, picks, picked_rows, picked_U, draws, fail):
    """One greedy ``"cluster_distance"`` pick: a pass for every block's
    cluster masses and best rows, the largest cluster's best on the host."""
    parts = pool.run(_cluster_block, factor, picks, picked_rows, picked_U)
    if not all(p["finite"] for p in parts):
        fail()
    mass = np.sum([p["mass"] for p in parts], axis=0)
    largest = int(np.argmax(mass))  # the group: centre largest - 1
    inside = [p["best"][largest] for p in parts]
    top = max(b["max"] for b in inside)
    args = (factor, picks, picked_rows, picked_U, largest - 1)
    if top > 0.0:  # the farthest member of the largest cluster
        at = [b for b in inside if b["max"] == top]
        return choose_best(pool, at, top, draws, _cluster_scores, args, picks)
    # every row scores 0 (or -inf, the picks): all of them tie
    tied = np.concatenate(pool.run(equal_block, _cluster_scores, args, picks, 0.0))
    pick = first_in_order(draws.draw(), tied, pool.n)
    return pick, pool.rows([pick])[0]
