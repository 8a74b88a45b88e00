r"""Queries and scores on a ``dask`` pool (docs/math.rst, :ref:`math-greedy`;
docs/dask.rst): the numpy scorers of :mod:`skrt._batch` and
:mod:`skrt._pool` applied block by block (:mod:`skrt._dask_blocks`), and the
same indices as the in-memory query for the same ``random_state``.

**Scores** of the per-row heuristics (``"sld"``, ``"sti"``, ``"ssi"``,
``"ssi_unlabeled"``, ``"variance"``) are a lazy dask array: one
:class:`~skrt._batch.PoolScorer` per block (:func:`dask_score_samples`).

**Top-k** (``batch="topk"``, and every batch of one): one pass in which each
block reports its ``k`` best rows and the best score of the rest; the
``k``-th best reported score ``τ`` bounds every row left out, so the
reported rows hold the answer unless rows left out tie with ``τ`` (then one
more pass brings the rows at ``τ``). Ties are broken by the in-memory
permutation (:class:`~skrt._dask_blocks.TieDraws`).

**Greedy batches** of the per-row heuristics: the first pass gathers each
block's ``k`` best rows by first-round score (``k`` = the batch size) and,
for the rest of the block, the largest first-round score ``S`` and variance
``V``; the greedy selection runs on the gathered rows (the existing
:class:`~skrt._batch.PoolScorer` and its rank-one updates, whose per-row
scores do not depend on the other rows) and is *certified* at each step: no
row left out can beat the pick. After picks ``B`` a row's score obeys

.. math::

    \sqrt{\text{score}_B(c)} \le \sqrt{\text{score}(c)}
        + \sqrt{\kappa(c, c)}\;\sigma_B, \qquad
    \sigma_B^2 = \sum_k g_k\,\lambda_{\max}\big(\Gamma^{1/2} F_k \Gamma^{1/2}\big),
    \quad \Gamma = (I + K_{BB})^{-1} K_{BB} (I + K_{BB})^{-1},

(Cauchy–Schwarz in the geometry of ``κ``: the virtual labels move a row's
response by ``κ(c, B)(I + K_BB)⁻¹ r(B)``) with ``F_k = r_k(B) r_k(B)ᵀ`` for
``"sld"``/``"sti"`` (first-round responses of the picks) and
``F_k = Aᵀ diag(ω_k) A``, ``A = κ(train, B)``, for the SSI forms;
``"variance"`` only decreases (``σ_B = 0``). A step is certified when
``(√S + √V σ_B)² < `` the pick's score (relative margin
:data:`CERT_MARGIN`) for every block. A step that is not: ``k`` doubles
(one more pass, up to :data:`MAX_DOUBLINGS` times and
:data:`GATHER_BYTES` of gathered rows), then the step and every later one
are exact passes: each block scores its rows after the picks so far (a
PoolScorer on the block with the picks' rows appended) and reports its
maximum. Passes per greedy batch: 1 when certified (the usual case: a pool
much larger than the batch, a model fitted on many rows), ``1 + doublings``,
at most ``1 + doublings + n_query`` otherwise. A model without
``curvature.variance`` certifies the first pick only.

The pool heuristics are in :mod:`skrt._dask_pool`.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from ._batch import PoolScorer, check_finite, map_rows, require_needs
from ._centering import row_block
from ._dask_blocks import (
    TIE_CAP,
    DaskPool,
    TieDraws,
    first_in_order,
    is_dask_collection,
    ranked_among,
    stack_rows,
    take_rows,
)
from ._heuristics import (
    POOL_HEURISTICS,
    check_heuristic,
    resolve_heuristic,
    resolve_landmarks,
)

__all__ = [
    "CERT_MARGIN",
    "GATHER_BYTES",
    "MAX_DOUBLINGS",
    "DaskPool",
    "GatheredGreedy",
    "best_pass",
    "checked_scores",
    "choose_best",
    "equal_block",
    "dask_run_query",
    "dask_score_samples",
    "is_dask_collection",
    "topk_pass",
    "topk_select",
]

#: relative margin of a certified greedy step (rounding of the bound)
CERT_MARGIN = 1e-9
#: times a greedy batch doubles its rows per block before exact passes
MAX_DOUBLINGS = 3
#: bytes of validated rows a greedy batch gathers on the host at most
GATHER_BYTES = 64 * 2**20


# -- block functions (module level: shipped to the workers by reference) ----


def _first_scores(acquisition, X, offset, heuristic):
    """First-round scores of a block (the in-memory scorer's formulas)."""
    return PoolScorer(acquisition, X, heuristic, greedy=False).scores()


def _after_picks(acquisition, X, heuristic, picked_rows):
    """Greedy scores of ``X``'s rows after virtually labelling
    ``picked_rows`` in order: a PoolScorer on ``X`` with them appended (a
    row's greedy score depends only on itself and the picks)."""
    n = X.shape[0]
    scorer = PoolScorer(acquisition, stack_rows(X, picked_rows), heuristic)
    for j in range(picked_rows.shape[0]):
        scorer.add(n + j)
    return scorer.scores()[:n]


def greedy_block_scores(acquisition, X, offset, heuristic, picked_rows):
    """:func:`_after_picks` in row blocks (``skrt._centering.BLOCK_BYTES``)."""
    width = X.shape[1] + acquisition.block_width + picked_rows.shape[0]
    return map_rows(
        lambda Z: _after_picks(acquisition, Z, heuristic, picked_rows),
        X,
        row_block(width),
    )


def checked_scores(acquisition, X, offset, score_fn, args, what, *labels):
    """``score_fn``'s scores of a block, or the not-finite ValueError naming
    that block's scale."""
    return check_finite(score_fn(acquisition, X, offset, *args, *labels), X, "X", what)


def _labeled_scores(acquisition, X, offset, heuristic, weight, labels):
    """The labeled form on a block: ``weight(rows, y_block)`` or a block of
    ``g``."""
    g = weight(X, labels) if callable(weight) else np.asarray(labels, dtype=float)
    return PoolScorer(acquisition, X, heuristic, greedy=False, weight=g).scores()


def _top_block(acquisition, X, offset, score_fn, args, k, want_rows, want_variance):
    """A block's ``k`` best rows (a stable order: a larger ``k`` keeps them)
    and what bounds the rest: its best score and largest variance."""
    s = np.asarray(score_fn(acquisition, X, offset, *args), dtype=float)
    finite = bool(np.all(np.isfinite(s)))
    order = np.argsort(-s, kind="stable") if finite else np.arange(s.shape[0])
    top, rest = order[:k], order[k:]
    out = {
        "index": top + offset,
        "score": s[top],
        "rest": float(s[rest].max()) if rest.size else -np.inf,
        "finite": finite,
    }
    if want_rows:
        out["rows"] = take_rows(X, top)
    if want_variance:
        rows = row_block(X.shape[1] + acquisition.block_width)
        v = np.asarray(map_rows(acquisition.curvature.variance, X, rows), dtype=float)
        v = v.reshape(-1)
        out["finite"] = finite and bool(np.all(np.isfinite(v)))
        out["rest_variance"] = (
            float(np.maximum(v[rest], 0.0).max()) if rest.size else 0.0
        )
    return out


def _masked(acquisition, X, offset, score_fn, args, picks):
    """A block's scores with -inf at ``picks`` (global), and where finite
    (picks count as finite, as in memory)."""
    s = np.array(score_fn(acquisition, X, offset, *args), dtype=float).reshape(-1)
    local = picks[(picks >= offset) & (picks < offset + s.shape[0])] - offset
    s[local] = -np.inf
    finite = np.isfinite(s)
    finite[local] = True
    return s, bool(finite.all())


def _best_block(acquisition, X, offset, score_fn, args, picks):
    """A block's maximum after ``picks``, its rows there (up to TIE_CAP,
    with their validated rows) and their count."""
    s, finite = _masked(acquisition, X, offset, score_fn, args, picks)
    best = s.max()
    at = np.flatnonzero(s == best)
    return {
        "max": float(best),
        "index": at[:TIE_CAP] + offset,
        "count": int(at.shape[0]),
        "rows": take_rows(X, at[:TIE_CAP]),
        "finite": finite,
    }


def equal_block(acquisition, X, offset, score_fn, args, picks, value):
    """Global indices of a block's rows scoring ``value`` (picks left out)."""
    s, _ = _masked(acquisition, X, offset, score_fn, args, picks)
    return np.flatnonzero(s == value) + offset


# -- passes ------------------------------------------------------------------


def topk_pass(pool, score_fn, args, k, *, want_rows=False, want_variance=False):
    """Every block's ``k`` best rows: a dict of the concatenated ``index``
    and ``score`` (and ``rows``), the per-block best score of the rest
    ``rest`` (and largest variance ``rest_variance``), and ``finite``."""
    parts = pool.run(_top_block, score_fn, args, k, want_rows, want_variance)
    out = {
        "index": np.concatenate([p["index"] for p in parts]),
        "score": np.concatenate([p["score"] for p in parts]),
        "rest": np.array([p["rest"] for p in parts]),
        "finite": all(p["finite"] for p in parts),
    }
    if want_rows:
        out["rows"] = np.vstack([p["rows"] for p in parts])
    if want_variance:
        out["rest_variance"] = np.array([p["rest_variance"] for p in parts])
    return out


def choose_best(pool, parts, best, draws, score_fn, args, picks):
    """The in-memory ``_best`` from blocks' reports at the maximum ``best``
    (dicts with ``index``, ``rows`` and ``count``): the first in a fresh
    permutation among every row at it (a mask pass where a block had more
    than it reported). Returns (index, its validated row)."""
    index = np.concatenate([p["index"] for p in parts])
    rows = np.vstack([p["rows"] for p in parts])
    if sum(p["count"] for p in parts) == 1:
        draws.skip()
        return int(index[0]), rows[0]
    tied = index
    if any(p["count"] > p["index"].shape[0] for p in parts):
        tied = np.concatenate(pool.run(equal_block, score_fn, args, picks, best))
    pick = first_in_order(draws.draw(), tied, pool.n)
    hit = np.flatnonzero(index == pick)
    return pick, (rows[hit[0]] if hit.size else pool.rows([pick])[0])


def best_pass(pool, score_fn, args, picks, draws, fail):
    """The best row after ``picks`` (global indices) over the whole pool:
    one pass (two where more rows tie than the blocks report). ``fail()``
    raises where a score is not finite. Returns (index, validated row)."""
    picks = np.asarray(picks, dtype=np.int64)
    parts = pool.run(_best_block, score_fn, args, picks)
    if not all(p["finite"] for p in parts):
        fail()
    best = max(p["max"] for p in parts)
    at = [p for p in parts if p["max"] == best]
    return choose_best(pool, at, best, draws, score_fn, args, picks)


def topk_select(pool, score_fn, args, k, draws, fail):
    """``skrt._querying._ranked``'s first ``k`` over the whole pool: one
    pass, a second where rows left out tie with the ``k``-th score."""
    top = topk_pass(pool, score_fn, args, k)
    if not top["finite"]:
        fail()
    index, score = top["index"], top["score"]
    kth = np.sort(score)[::-1][min(k, score.shape[0]) - 1]
    if not np.any(top["rest"] == kth):
        return ranked_among(index, score, k, draws, pool.n)
    none = np.empty(0, dtype=np.int64)
    tied = np.concatenate(pool.run(equal_block, score_fn, args, none, kth))
    extra = np.setdiff1d(tied, index)
    index = np.concatenate([index, extra])
    score = np.concatenate([score, np.full(extra.shape[0], kth)])
    return ranked_among(index, score, k, draws, pool.n, complete_ties=False)


# -- greedy batches of the per-row heuristics --------------------------------


class GatheredGreedy:
    """The rows gathered for a greedy batch, their greedy scorer, and the
    certificate that no row left out beats a pick (module docstring).

    Parameters
    ----------
    acquisition : Acquisition
    heuristic : {"sld", "sti", "ssi", "ssi_unlabeled", "variance"}
    top : dict
        :func:`topk_pass`'s result with ``rows`` (and ``rest_variance``
        where the bound needs it).
    picks, picked_rows : sequences
        Picks so far (global indices) and their validated rows, replayed.
    """

    def __init__(self, acquisition, heuristic, top, picks, picked_rows):
        index, rows = top["index"], top["rows"]
        missing = [j for j, p in enumerate(picks) if p not in set(index.tolist())]
        if missing:  # a pick a larger k no longer gathered (ties): keep it
            index = np.concatenate([index, np.asarray(picks)[missing]])
            rows = np.vstack([rows, np.asarray(picked_rows)[missing]])
        self.acquisition, self.heuristic = acquisition, heuristic
        self.index, self.rows = index, rows
        self.rest, self.rest_variance = top["rest"], top.get("rest_variance")
        self.pos = {int(g): i for i, g in enumerate(index)}
        self.scorer = PoolScorer(acquisition, rows, heuristic)
        self.response = (
            np.array(self.scorer.response, dtype=float)
            if heuristic in ("sld", "sti")
            else None
        )
        self.picked = []
        for p in picks:
            self.add(p)

    def add(self, pick):
        self.picked.append(self.pos[int(pick)])
        self.scorer.add(self.picked[-1])

    def current(self):
        """Scores of the gathered rows after the picks, -inf at the picks,
        and whether the others are finite."""
        s = np.array(self.scorer.scores(), dtype=float)
        s[self.picked] = -np.inf
        finite = np.isfinite(s)
        finite[self.picked] = True
        return s, bool(finite.all())

    def sigma(self):
        """``σ_B`` of the bound after the picks (0 for "variance")."""
        if self.heuristic == "variance" or not self.picked:
            return 0.0
        P = np.asarray(self.picked)
        cross = self.acquisition.curvature.cross
        K = np.asarray(cross(self.rows, P, {}), dtype=float).reshape(-1, P.shape[0])[P]
        lam, V = np.linalg.eigh(0.5 * (K + K.T))
        lam = np.maximum(lam, 0.0)
        half = (V * (np.sqrt(lam) / (1.0 + lam))) @ V.T  # Γ^{1/2}
        if self.response is not None:
            R = self.response[P].reshape(P.shape[0], -1)
            rho = np.sum((half @ R) ** 2, axis=0)  # rᵀΓr per target
        else:
            sc = self.scorer
            A = sc.T @ np.asarray(sc.Q)[P].T  # κ(train, B)
            rho = np.array(
                [
                    np.linalg.eigvalsh(half @ (A.T @ (om[:, None] * A)) @ half)[-1]
                    for om in sc.omegas
                ]
            )
        g = np.broadcast_to(np.asarray(self.scorer.weight, dtype=float), rho.shape)
        return float(np.sqrt(max(np.sum(g * np.maximum(rho, 0.0)), 0.0)))

    def bound(self):
        """The largest greedy score a row left out can have now."""
        out = self.rest > -np.inf
        if not out.any():
            return -np.inf
        sigma = self.sigma()
        if sigma == 0.0:
            return float(self.rest[out].max())
        if self.rest_variance is None:
            return np.inf
        s = np.sqrt(np.maximum(self.rest[out], 0.0))
        v = np.sqrt(self.rest_variance[out])
        return float(np.max((s + v * sigma) ** 2))


def _certified(bound, best):
    return bound == -np.inf or (best > 0 and bound * (1.0 + CERT_MARGIN) < best)


def _greedy_rows(pool, acquisition, heuristic, n_query, draws, fail, stats, limits):
    """The greedy batch of a per-row heuristic (module docstring)."""
    max_doublings, gather_bytes = limits
    curv = acquisition.curvature
    with_variance = heuristic != "variance" and curv.variance is not None
    args, longest = (heuristic,), int(pool.lengths.max())
    k = min(n_query, longest)

    def gather(picks, picked_rows):
        top = topk_pass(
            pool, _first_scores, args, k, want_rows=True, want_variance=with_variance
        )
        if not top["finite"]:
            fail(0)
        return GatheredGreedy(acquisition, heuristic, top, picks, picked_rows)

    gathered = gather([], [])
    picks, picked_rows, exact, doublings = [], [], False, 0
    for step in range(n_query):
        while not exact:
            current, finite = gathered.current()
            if not finite:
                fail(step)
            best = current.max()
            if _certified(gathered.bound(), best):
                break
            size = np.minimum(pool.lengths, 2 * k).sum() * pool.n_features * 8
            if doublings < max_doublings and k < longest and size <= gather_bytes:
                k, doublings = min(2 * k, longest), doublings + 1
                gathered = gather(picks, picked_rows)
                continue
            exact = True
        if exact:
            done = np.asarray(picked_rows, dtype=float).reshape(step, pool.n_features)
            block_args = (heuristic, done)
            pick, row = best_pass(
                pool,
                greedy_block_scores,
                block_args,
                picks,
                draws,
                lambda step=step: fail(step),
            )
            stats["exact_steps"] = stats.get("exact_steps", 0) + 1
        else:
            tied = np.flatnonzero(current == best)
            if tied.shape[0] == 1:
                draws.skip()
                pick = int(gathered.index[tied[0]])
            else:
                pick = first_in_order(draws.draw(), gathered.index[tied], pool.n)
            row = gathered.rows[gathered.pos[pick]]
            gathered.add(pick)
        picks.append(pick)
        picked_rows.append(row)
    stats["doublings"], stats["gathered"] = doublings, int(gathered.index.shape[0])
    return np.asarray(picks, dtype=np.int64)


# -- entry points ------------------------------------------------------------


def dask_run_query(
    acquisition,
    pool,
    n_instances,
    heuristic,
    batch,
    rng,
    *,
    name="X_pool",
    steps=False,
    n_landmarks=None,
    settle_rng=True,
    stats=None,
    max_doublings=MAX_DOUBLINGS,
    gather_bytes=GATHER_BYTES,
):
    """:func:`skrt._querying.run_query` on a :class:`DaskPool`.

    Parameters
    ----------
    acquisition, n_instances, heuristic, batch, rng, name, n_landmarks
        As ``run_query``.
    pool : DaskPool
        ``check_pool``'s result for a dask collection.
    steps : bool, default=False
        True is a ValueError: every round's scores (n_query x n_pool) are
        not built for a dask pool.
    settle_rng : bool, default=True
        Leave ``rng`` where the in-memory query leaves it (draws the
        tie-breaking permutations no tie needed, ``n_pool`` int64 each);
        False when ``rng`` is not seen again (an int ``random_state``).
    stats : dict or None, default=None
        Filled with ``passes`` (over the pool), ``draws`` (permutations
        drawn), and for greedy per-row batches ``doublings``, ``gathered``
        (rows on the host) and ``exact_steps`` (picks by a full pass).
    max_doublings, gather_bytes : int
        :data:`MAX_DOUBLINGS`, :data:`GATHER_BYTES`.

    Returns
    -------
    chosen : ndarray of shape (n_query,)
        numpy int64 indices into the pool's rows: those of the in-memory
        query on the computed pool for the same ``rng``.
    scores : dask.array.Array of shape (n_pool,)
        The first-round scores, lazy (computing them is one more pass).
    step_scores : None
    """
    if steps:
        raise ValueError(
            f"Every round's scores (n_query x n_pool) are not built for a dask "
            f"{name}: query without them, or compute {name} first."
        )
    stats = {} if stats is None else stats
    n_query = min(n_instances, pool.n)
    greedy = batch == "greedy" and n_query > 1
    n_landmarks = resolve_landmarks(n_landmarks, heuristic, acquisition, n_query)
    heuristic = resolve_heuristic(heuristic, acquisition, n_query)
    what = f"The heuristic={heuristic!r} score"

    def fail(step):
        if step == 0:
            pool.raise_not_finite(what)
        pool.raise_not_finite(
            f"{what} after virtually labelling {step} greedy pick(s) "
            "(batch='topk' does not update the scores)"
        )

    draws, start = TieDraws(rng, pool.n), pool.passes
    if heuristic in POOL_HEURISTICS:
        from ._dask_pool import dask_pool_query

        chosen, scores = dask_pool_query(
            pool, acquisition, heuristic, n_query, greedy, rng, draws, n_landmarks, fail
        )
    else:
        require_needs(acquisition, heuristic, greedy)
        acquisition = pool.for_heuristic(heuristic)
        args = (heuristic,)
        scores = pool.lazy(checked_scores, _first_scores, args, what)
        if greedy:
            limits = (max_doublings, gather_bytes)
            chosen = _greedy_rows(
                pool, acquisition, heuristic, n_query, draws, fail, stats, limits
            )
        else:
            chosen = topk_select(
                pool, _first_scores, args, n_query, draws, lambda: fail(0)
            )
    if settle_rng:
        draws.settle()
    stats["passes"], stats["draws"] = pool.passes - start, draws.drawn
    return np.asarray(chosen, dtype=np.int64), scores, None


def dask_score_samples(
    acquisition, X, heuristic, weight=None, random_state=None, *, y=None, transform=None
):
    """Scores of a dask pool, lazy: what ``score_samples`` returns for a
    dask ``X``.

    The per-row heuristics compute nothing until the result is (one
    PoolScorer per block); the pool heuristics build their factor first
    (:mod:`skrt._dask_pool`: two or three passes), then score lazily.

    Parameters
    ----------
    acquisition : Acquisition
        The model's ``__skrt_acquisition__()`` (numpy parts).
    X : dask.array.Array of shape (n_samples, n_features) or dask DataFrame
    heuristic : str
        As ``score_samples``; ``"auto"`` resolves as for one pick.
    weight : callable, dask array or None, default=None
        The labeled form's ``g = L'(r)²``: a callable
        ``weight(rows, y_block) -> (n_block, n_targets)`` of a block's
        validated rows and labels (``y`` required), or ``g`` itself as a
        dask array; None: the unlabeled form.
    random_state : int, RandomState instance or None, default=None
        The pool heuristics' landmarks.
    y : dask array, array-like or None, default=None
        The labels ``weight`` takes, split like ``X``'s rows.
    transform : callable or None, default=None
        Applied to each block first (a Pipeline's earlier steps).

    Returns
    -------
    scores : dask.array.Array of shape (n_samples,)
        Float64, chunked like ``X``'s rows. A block whose scores overflow
        raises the not-finite ValueError when computed (naming ``X`` and that
        block's scale).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from skrt import RegularityRidge
    >>> rng = np.random.RandomState(0)
    >>> model = RegularityRidge().fit(rng.randn(30, 3), rng.randn(30))
    >>> X = da.from_array(rng.randn(100, 3), chunks=40)
    >>> s = dask_score_samples(model.__skrt_acquisition__(), X, "sld")
    >>> s.chunks, s.compute().shape
    (((40, 40, 20),), (100,))
    """
    check_heuristic(heuristic, labeled=weight is not None)
    if callable(weight) and y is None:
        raise ValueError("weight as a function of the labels needs y.")
    pool = DaskPool(X, transform, acquisition, "X")
    concrete = resolve_heuristic(heuristic, acquisition, 1)
    what = f"The heuristic={heuristic!r} score"
    if concrete in POOL_HEURISTICS:
        from ._dask_pool import dask_pool_scores

        landmarks = resolve_landmarks(None, heuristic, acquisition, 1)
        rng = check_random_state(random_state)
        return dask_pool_scores(pool, acquisition, concrete, landmarks, rng, what)
    require_needs(acquisition, concrete, False)
    pool.for_heuristic(concrete)
    if weight is None:
        return pool.lazy(checked_scores, _first_scores, (concrete,), what)
    labels = _label_blocks(pool, weight if y is None else y)
    fn = weight if callable(weight) else None
    return pool.lazy(
        checked_scores, _labeled_scores, (concrete, fn), what, per_block=labels
    )


def _label_blocks(pool, y):
    """``y`` (dask or in memory) split like the pool's rows: a list of
    blocks (delayed for a dask ``y``)."""
    if not is_dask_collection(y):
        y = np.asarray(y)
        if y.shape[0] != pool.n:
            raise ValueError(f"y has {y.shape[0]} rows, but X has {pool.n}.")
        return [y[o : o + n] for o, n in zip(pool.offsets, pool.lengths, strict=True)]
    import dask.array as da

    if hasattr(y, "to_dask_array"):  # a dask Series or DataFrame
        y = y.to_dask_array(lengths=True)
    y = da.asarray(y)
    if y.shape[0] != pool.n:
        raise ValueError(f"y has {y.shape[0]} rows, but X has {pool.n}.")
    chunks = (tuple(int(n) for n in pool.lengths),) + tuple((s,) for s in y.shape[1:])
    return list(y.rechunk(chunks).to_delayed().ravel())
