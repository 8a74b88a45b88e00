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

from ._batch import check_finite, raise_not_finite
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
    """The pool through ``transform`` and the model's validation."""
    if n_rows(X_pool, name) == 0:
        raise ValueError(f"{name} is empty: there is nothing to query.")
    if transform is not None:
        X_pool = transform(X_pool)
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


def _ranked(scores, rng):
    """Indices by decreasing score, ties in random order."""
    order = rng.permutation(scores.shape[0])
    return order[np.argsort(-scores[order], kind="stable")]


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
    """
    n, n_query = X.shape[0], min(n_instances, X.shape[0])
    greedy = batch == "greedy" and n_query > 1
    n_landmarks = resolve_landmarks(n_landmarks, heuristic, acquisition, n_query)
    heuristic = resolve_heuristic(heuristic, acquisition, n_query)
    scorer = make_scorer(
        acquisition, X, heuristic, greedy, random_state=rng, n_landmarks=n_landmarks
    )
    what = f"The heuristic={heuristic!r} score"
    scores = check_finite(scorer.scores(), X, name, what)
    if not greedy:
        chosen = _ranked(scores, rng)[:n_query]
        if not steps:
            return chosen, scores, None
        step_scores = np.tile(scores, (n_query, 1))
        for j in range(1, n_query):
            step_scores[j, chosen[:j]] = -np.inf
        return chosen, scores, step_scores
    chosen = np.empty(n_query, dtype=int)
    step_scores = np.empty((n_query, n)) if steps else None
    current = scores.copy()
    for step in range(n_query):
        finite = np.isfinite(current)
        finite[chosen[:step]] = True
        current[chosen[:step]] = -np.inf
        if not finite.all():
            raise_not_finite(
                X,
                name,
                f"{what} after virtually labelling {step} greedy pick(s) "
                "(batch='topk' does not update the scores)",
            )
        if steps:
            step_scores[step] = current
        chosen[step] = _best(current, rng)
        if step < n_query - 1:
            scorer.add(chosen[step])
            current = scorer.scores()
    return chosen, scores, step_scores


def _best(scores, rng):
    """``_ranked(scores, rng)[0]`` in O(n): the best score, ties at random."""
    order = rng.permutation(scores.shape[0])
    return int(order[np.argmax(scores[order])])
