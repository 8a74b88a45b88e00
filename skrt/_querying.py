"""What the query front ends share (:mod:`skrt.query`, :mod:`skrt.skactiveml`,
:mod:`skrt.data`): finding the fitted model inside a learner, reading its
acquisition (:mod:`skrt._acquisition`), validating a pool through it, and
the query loop over a scorer (:func:`skrt._pool.make_scorer`: a
:class:`~skrt._batch.PoolScorer`, or a
:class:`~skrt._pool.PoolFactorScorer` for the pool heuristics).

Nothing here touches an estimator's attributes: a model is recognised by its
``__skrt_acquisition__`` hook and read only through the object it returns.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._batch import PoolSpace, check_finite, check_namespace, raise_not_finite
from ._dask_blocks import is_dask_collection
from ._heuristics import resolve_heuristic, resolve_landmarks
from ._pool import make_scorer

__all__ = [
    "check_n_instances",
    "check_pool",
    "n_rows",
    "resolve_learner",
    "run_query",
    "split_pipeline",
]

_SUPPORTED = (
    "RegularityRidge, RegularityKernelRidge, SGDFRegressor or RegularityLasso "
    "(for MultiUserRegularity use its query method), a Pipeline ending in one, "
    "or a modAL/scikit-activeml wrapper of one"
)


def split_pipeline(estimator):
    """(final estimator, transform of the steps before it or None)."""
    if isinstance(estimator, Pipeline):
        head = estimator[:-1] if len(estimator.steps) > 1 else None
        return estimator.steps[-1][1], (head.transform if head is not None else None)
    return estimator, None


def _unwrap(learner, name):
    """The estimator inside a modAL or scikit-activeml wrapper."""
    # scikit-activeml's SklearnRegressor keeps its fit in estimator_ (read
    # from vars: its __getattr__ forwards unknown names to the estimator); a
    # failed fit is only a warning there, flagged by is_fitted_ = False, or
    # (older releases, no flag) left as an unfitted copy
    state = getattr(learner, "__dict__", {})
    if "estimator_" in state and not isinstance(learner, type):
        failed = state.get("is_fitted_") is False
        if "is_fitted_" not in state:
            try:
                check_is_fitted(state["estimator_"])
            except NotFittedError:
                failed = True
        if failed:
            raise ValueError(
                f"{name} ({type(learner).__name__}) holds no fitted model: its "
                f"fit of {type(learner.estimator_).__name__} failed (the "
                "wrapper caught the error and warned; see that warning), so "
                "there is nothing to score the pool with."
            )
        return state["estimator_"]
    # modAL's ActiveLearner keeps the fitted model in .estimator
    return getattr(learner, "estimator", learner)


def resolve_learner(learner, name="learner"):
    """(acquisition, transform) from a modAL learner, a Pipeline or an estimator.

    ``acquisition`` is the fitted model's ``__skrt_acquisition__()``;
    ``transform`` the Pipeline's steps before it, or None.
    """
    model, transform = split_pipeline(_unwrap(learner, name))
    if isinstance(model, type):
        raise TypeError(
            f"{name} must be a fitted instance, not the class {model.__name__}: "
            f"fit one first ({model.__name__}().fit(X, y))."
        )
    if not hasattr(model, "__skrt_acquisition__"):
        raise TypeError(
            f"{name} must be a fitted {_SUPPORTED}; got {type(model).__name__}, "
            "which has no regularity tangent to score a pool with."
        )
    check_is_fitted(model)
    return model.__skrt_acquisition__(), transform


def check_pool(X_pool, transform, acquisition, name="X_pool"):
    """The pool through ``transform`` and the model's validation.

    A pool in another array namespace, or on another device, than the
    model's arrays (``Acquisition.namespace``) is a ValueError naming both.
    A dask array or DataFrame is not computed: it comes back as a
    :class:`skrt._dask_blocks.DaskPool` (its blocks go through ``transform``
    and the validation when a pass computes them), which :func:`run_query`
    queries block by block (:mod:`skrt._dask_query`).
    """
    if is_dask_collection(X_pool):
        from ._dask_blocks import DaskPool

        return DaskPool(X_pool, transform, acquisition, name)
    if n_rows(X_pool, name) == 0:
        raise ValueError(f"{name} is empty: there is nothing to query.")
    if transform is not None:
        X_pool = transform(X_pool)
    check_namespace(acquisition, X_pool, name)
    return acquisition.validate(X_pool)


def n_rows(X, name="X_pool"):
    """Rows of a pool, or a TypeError for what is not one."""
    if X is None or isinstance(X, (str, bytes, numbers.Number)):
        raise TypeError(
            f"{name} must be a 2-D array-like or sparse matrix of candidates; "
            f"got {type(X).__name__}."
        )
    if hasattr(X, "shape"):
        if len(X.shape) == 0:
            raise ValueError(f"{name} must be 2-D; got a 0-d array.")
        return X.shape[0]
    return len(X)


def check_n_instances(n_instances):
    """``n_instances`` as an int >= 1."""
    if isinstance(n_instances, bool) or not isinstance(n_instances, numbers.Integral):
        raise TypeError(
            f"n_instances must be a positive int; got {type(n_instances).__name__}."
        )
    if n_instances < 1:
        raise ValueError(f"n_instances must be >= 1; got {n_instances}.")
    return int(n_instances)


def _ranked(scores, rng, k, space):
    """The first ``k`` indices by decreasing score, ties in random order
    (numpy int64 on the host)."""
    order = rng.permutation(scores.shape[0])
    if space.numpy:
        return order[np.argsort(-scores[order], kind="stable")][:k]
    xp, index = space.xp, space.put(order)
    best = xp.argsort(-xp.take(scores, index), stable=True)[:k]
    return space.host(xp.take(index, best)).astype(np.int64)


def run_query(
    acquisition,
    X,
    n_instances,
    heuristic,
    batch,
    rng,
    *,
    name="X_pool",
    steps=False,
    n_landmarks=None,
    settle_rng=True,
):
    """Chosen indices, the first-round scores, and optionally every round's.

    ``heuristic`` may be ``"auto"`` (:func:`skrt._heuristics.resolve_heuristic`
    for this model and ``n_instances``); the pool heuristics draw
    ``n_landmarks`` landmarks (None: :func:`skrt._heuristics.resolve_landmarks`;
    :func:`skrt._pool.pool_factor`) from ``rng``
    before any tie is broken.

    Returns ``chosen`` (n_query,), ``scores`` (n_candidates,) and, when
    ``steps`` is True, ``step_scores`` (n_query, n_candidates): the scores
    seen before each choice with ``-inf`` at the candidates already chosen
    (topk: the first-round scores in every row); otherwise None, and nothing
    of size n_query x n_candidates is built. Every round's scores are
    checked finite: an overflow is a ValueError naming ``name``'s scale,
    never a repeated pick.

    ``chosen`` is a numpy int64 array on the host for every pool (indices,
    as scikit-learn returns them, which modAL and scikit-activeml index
    numpy pools with); ``scores`` and ``step_scores`` are in the pool's
    namespace and on its device (:class:`skrt._batch.PoolSpace`). The
    random draws (landmarks, tie-breaking permutations) are numpy's on the
    host, so an array-API pool gets the indices the numpy pool gets for the
    same ``rng``; a greedy pick brings one small array back from the device
    (its index and whether the scores were finite), nothing else.

    A dask pool (``check_pool``'s :class:`~skrt._dask_blocks.DaskPool`) is
    queried by :func:`skrt._dask_query.dask_run_query`: the same ``chosen``,
    ``scores`` a lazy dask array, ``steps`` a ValueError; ``settle_rng``
    False skips the tie-breaking draws no tie needed (for an ``rng`` nobody
    reads afterwards; numpy pools draw them all).
    """
    if getattr(X, "is_dask_pool", False):
        from ._dask_query import dask_run_query

        return dask_run_query(
            acquisition,
            X,
            n_instances,
            heuristic,
            batch,
            rng,
            name=name,
            steps=steps,
            n_landmarks=n_landmarks,
            settle_rng=settle_rng,
        )
    n, n_query = X.shape[0], min(n_instances, X.shape[0])
    greedy = batch == "greedy" and n_query > 1
    n_landmarks = resolve_landmarks(n_landmarks, heuristic, acquisition, n_query)
    heuristic = resolve_heuristic(heuristic, acquisition, n_query)
    scorer = make_scorer(
        acquisition, X, heuristic, greedy, random_state=rng, n_landmarks=n_landmarks
    )
    space = PoolSpace(X)
    what = f"The heuristic={heuristic!r} score"
    scores = check_finite(scorer.scores(), X, name, what)
    if not greedy:
        chosen = _ranked(scores, rng, n_query, space)
        if not steps:
            return chosen, scores, None
        return chosen, scores, _topk_steps(scores, chosen, space)

    def _fail(step):
        raise_not_finite(
            X,
            name,
            f"{what} after virtually labelling {step} greedy pick(s) "
            "(batch='topk' does not update the scores)",
        )

    chosen = np.empty(n_query, dtype=np.int64)
    step_scores = None
    if steps:
        step_scores = (
            np.empty((n_query, n))
            if space.numpy
            else space.xp.empty((n_query, n), dtype=scores.dtype, device=space.device)
        )
    if not space.numpy:
        return _greedy_xp(scorer, scores, n_query, rng, space, step_scores, _fail)
    current = scores.copy()
    for step in range(n_query):
        finite = np.isfinite(current)
        finite[chosen[:step]] = True
        current[chosen[:step]] = -np.inf
        if not finite.all():
            _fail(step)
        if steps:
            step_scores[step] = current
        chosen[step] = _best(current, rng)
        if step < n_query - 1:
            scorer.add(chosen[step])
            current = scorer.scores()
    return chosen, scores, step_scores


def _greedy_xp(scorer, scores, n_query, rng, space, step_scores, fail):
    """The greedy loop of :func:`run_query` on an array-API pool: the picks
    so far are a boolean mask on the device; a pick brings back two ints
    (its index and the count of non-finite scores among the others)."""
    xp, n = space.xp, scores.shape[0]
    chosen = np.empty(n_query, dtype=np.int64)
    taken = xp.zeros((n,), dtype=xp.bool, device=space.device)
    current = scores
    for step in range(n_query):
        if step:
            current = xp.where(taken, xp.full_like(current, -xp.inf), current)
        if step_scores is not None:
            step_scores[step, :] = current
        order = space.put(rng.permutation(n))  # numpy's draws, numpy's ties
        best = xp.take(order, xp.argmax(xp.take(current, order))[None])
        bad = xp.sum(xp.astype(~(xp.isfinite(current) | taken), best.dtype))
        pick, n_bad = (int(v) for v in space.host(xp.concat([best, bad[None]])))
        if n_bad:
            fail(step)
        chosen[step] = pick
        if step < n_query - 1:
            taken[pick] = True
            scorer.add(pick)
            current = scorer.scores()
    return chosen, scores, step_scores


def _taken(chosen, n, space):
    """A boolean mask of the host indices ``chosen``, on the device."""
    mask = np.zeros(n, dtype=bool)
    mask[chosen] = True
    return space.put(mask)


def _mask_chosen(scores, chosen, space):
    """``scores`` with -inf at ``chosen`` (a new array)."""
    xp = space.xp
    if chosen.shape[0] == 0:
        return scores
    low = xp.full_like(scores, -xp.inf)
    return xp.where(_taken(chosen, scores.shape[0], space), low, scores)


def _topk_steps(scores, chosen, space):
    """The first-round scores in every row, -inf at the earlier picks."""
    n_query = chosen.shape[0]
    if space.numpy:
        step_scores = np.tile(scores, (n_query, 1))
        for j in range(1, n_query):
            step_scores[j, chosen[:j]] = -np.inf
        return step_scores
    rows = [_mask_chosen(scores, chosen[:j], space) for j in range(n_query)]
    return space.xp.stack(rows, axis=0)


def _best(scores, rng):
    """``_ranked(scores, rng)[0]`` in O(n): the best score, ties at random."""
    order = rng.permutation(scores.shape[0])
    return int(order[np.argmax(scores[order])])
