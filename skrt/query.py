"""Query strategies: which unlabeled points to label next.

Every strategy has the modAL signature
``f(learner, X_pool, n_instances=1, *, random_state=None, **kwargs)`` and
returns ``(query_idx, scores)``: the indices into ``X_pool`` to label, best
first, and the scores of the whole pool before any of them was chosen.

``learner`` may be a modAL learner (its ``.estimator`` is used), a fitted
:class:`~skrt.RegularityRidge` (or any estimator with the same query
interface), or a fitted :class:`~sklearn.pipeline.Pipeline` ending in one;
the pool is then passed through the pipeline's earlier steps.

Batches: ``batch="greedy"`` (default) picks one point, then updates the model
as if that point were labelled at its own prediction (θ* is unchanged, the
system matrix gains the point: a rank-one update, no refit), rescores and
picks again, so that a batch spreads out; ``batch="topk"`` takes the ``n``
best scores at once. Ties are broken at random with ``random_state``. Pools
are scored in row blocks (``skrt._centering.BLOCK_BYTES``), so a pool of a
million rows never has its pool x training kernel built whole.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from ._batch import PoolScorer, check_finite, raise_not_finite
from ._heuristics import HEURISTICS

__all__ = [
    "regularity_sampling",
    "sld_sampling",
    "sti_sampling",
    "ssi_sampling",
    "variance_sampling",
    "random_sampling",
]

_BATCHES = ("greedy", "topk")
_SUPPORTED = (
    "RegularityRidge, RegularityKernelRidge, SGDFRegressor or RegularityLasso "
    "(for MultiUserRegularity use its query method), a Pipeline ending in one, "
    "or a modAL/scikit-activeml wrapper of one"
)


def _split_pipeline(estimator):
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


def _resolve_learner(learner, name="learner"):
    """(model, transform) from a modAL learner, a Pipeline or an estimator."""
    model, transform = _split_pipeline(_unwrap(learner, name))
    if isinstance(model, type):
        raise TypeError(
            f"{name} must be a fitted instance, not the class {model.__name__}: "
            f"fit one first ({model.__name__}().fit(X, y))."
        )
    if not hasattr(model, "_influence_terms"):
        raise TypeError(
            f"{name} must be a fitted {_SUPPORTED}; got {type(model).__name__}, "
            "which has no regularity tangent to score a pool with."
        )
    check_is_fitted(model)
    return model, transform


def _check_pool(X_pool, transform, model, name="X_pool"):
    if _n_rows(X_pool, name) == 0:
        raise ValueError(f"{name} is empty: there is nothing to query.")
    if transform is not None:
        X_pool = transform(X_pool)
    return model._validate_X(X_pool)


def _n_rows(X, name="X_pool"):
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


def _check_n_instances(n_instances):
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


def regularity_sampling(
    learner,
    X_pool,
    n_instances=1,
    *,
    heuristic="sld",
    batch="greedy",
    random_state=None,
):
    """Query the pool points with the largest regularity-tangent scores.

    Parameters
    ----------
    learner : modAL learner, fitted RegularityRidge, or fitted Pipeline
        The model that scores the pool.
    X_pool : {array-like, sparse matrix} of shape (n_candidates, n_features)
        Unlabeled candidates.
    n_instances : int, default=1
        How many to query; at most ``n_candidates`` are returned.
    heuristic : {"sld", "sti", "ssi", "ssi_unlabeled", "variance"}, default="sld"
        See :meth:`skrt.RegularityRidge.score_samples`.
    batch : {"greedy", "topk"}, default="greedy"
        Greedy virtual labelling, or the top scores at once.
    random_state : int, RandomState instance or None, default=None
        Breaks ties.

    Returns
    -------
    query_idx : ndarray of shape (min(n_instances, n_candidates),)
        Indices into ``X_pool``, in the order chosen.
    scores : ndarray of shape (n_candidates,)
        Scores of the pool before the first choice.

    Examples
    --------
    >>> import numpy as np
    >>> from skrt import RegularityRidge
    >>> from skrt.query import regularity_sampling
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.randn(20, 3), rng.randn(20)
    >>> model = RegularityRidge(alpha="loo").fit(X, y)
    >>> idx, scores = regularity_sampling(model, rng.randn(50, 3), n_instances=3)
    >>> idx.shape, scores.shape
    ((3,), (50,))
    """
    if heuristic not in HEURISTICS:
        raise ValueError(
            f"heuristic must be one of {list(HEURISTICS)}; got {heuristic!r}."
        )
    if batch not in _BATCHES:
        raise ValueError(f"batch must be one of {list(_BATCHES)}; got {batch!r}.")
    n_instances = _check_n_instances(n_instances)
    model, transform = _resolve_learner(learner)
    X = _check_pool(X_pool, transform, model)
    chosen, scores, _ = _query(
        model, X, n_instances, heuristic, batch, check_random_state(random_state)
    )
    return chosen, scores


def _query(model, X, n_instances, heuristic, batch, rng, *, name="X_pool", steps=False):
    """Chosen indices, the first-round scores, and optionally every round's.

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
    scorer = PoolScorer(model, X, heuristic, greedy=greedy)
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


def _named(heuristic, doc):
    def strategy(learner, X_pool, n_instances=1, *, batch="greedy", random_state=None):
        return regularity_sampling(
            learner,
            X_pool,
            n_instances,
            heuristic=heuristic,
            batch=batch,
            random_state=random_state,
        )

    strategy.__name__ = f"{heuristic}_sampling"
    strategy.__qualname__ = strategy.__name__
    strategy.__doc__ = doc
    return strategy


_PARAMS = """
    Parameters
    ----------
    learner : modAL learner, fitted RegularityRidge, or fitted Pipeline
    X_pool : {array-like, sparse matrix} of shape (n_candidates, n_features)
    n_instances : int, default=1
    batch : {"greedy", "topk"}, default="greedy"
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    query_idx : ndarray of shape (min(n_instances, n_candidates),)
    scores : ndarray of shape (n_candidates,)
"""

sld_sampling = _named(
    "sld",
    """Query by the squared loss derivative ``4 σ² ((x - x̄)ᵀθ̇)²``.

    One dot product per candidate: the points whose prediction the model
    would change most if it were allowed to fit more or less.
"""
    + _PARAMS
    + """
    Examples
    --------
    >>> import numpy as np
    >>> from skrt import RegularityRidge
    >>> from skrt.query import sld_sampling
    >>> rng = np.random.RandomState(0)
    >>> model = RegularityRidge().fit(rng.randn(20, 3), rng.randn(20))
    >>> idx, scores = sld_sampling(model, rng.randn(30, 3), n_instances=2)
    >>> len(idx)
    2
""",
)

sti_sampling = _named(
    "sti",
    """Query by the squared total influence over the training set.

    ``4 σ² (x̃ᵀ H⁻¹ σ_T)²``; with the training set as reference it equals
    ``alpha² ×`` the SLD score (``MATH.md`` section 1).
"""
    + _PARAMS
    + """
    Examples
    --------
    >>> import numpy as np
    >>> from skrt import RegularityRidge
    >>> from skrt.query import sti_sampling
    >>> rng = np.random.RandomState(0)
    >>> model = RegularityRidge().fit(rng.randn(20, 3), rng.randn(20))
    >>> sti_sampling(model, rng.randn(30, 3))[0].shape
    (1,)
""",
)

variance_sampling = _named(
    "variance",
    """Query by the predictive variance ``x̃ᵀ (X̃ᵀWX̃ + sP)⁻¹ x̃`` (baseline).
"""
    + _PARAMS
    + """
    Examples
    --------
    >>> import numpy as np
    >>> from skrt import RegularityRidge
    >>> from skrt.query import variance_sampling
    >>> rng = np.random.RandomState(0)
    >>> model = RegularityRidge().fit(rng.randn(20, 3), rng.randn(20))
    >>> variance_sampling(model, rng.randn(30, 3), n_instances=4)[0].shape
    (4,)
""",
)


def ssi_sampling(
    learner,
    X_pool,
    n_instances=1,
    *,
    reference="labeled",
    batch="greedy",
    random_state=None,
):
    """Query by the sum of squared influences over the training set.

    Parameters
    ----------
    learner : modAL learner, fitted RegularityRidge, or fitted Pipeline
    X_pool : {array-like, sparse matrix} of shape (n_candidates, n_features)
    n_instances : int, default=1
    reference : {"labeled", "unlabeled"}, default="labeled"
        ``"labeled"``: ``4 σ² Σ_j w_j (x̃ᵀ H⁻¹ σ_j)²`` with the training
        gradients ``σ_j``; ``"unlabeled"``: the doubly unlabeled form
        ``Σ_j (2 x̃_jᵀ H⁻¹ 2 x̃)²`` (paper eq. 96).
    batch : {"greedy", "topk"}, default="greedy"
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    query_idx : ndarray of shape (min(n_instances, n_candidates),)
    scores : ndarray of shape (n_candidates,)

    Examples
    --------
    >>> import numpy as np
    >>> from skrt import RegularityRidge
    >>> from skrt.query import ssi_sampling
    >>> rng = np.random.RandomState(0)
    >>> model = RegularityRidge().fit(rng.randn(20, 3), rng.randn(20))
    >>> ssi_sampling(model, rng.randn(30, 3), reference="unlabeled")[0].shape
    (1,)
    """
    if reference not in ("labeled", "unlabeled"):
        raise ValueError(
            f"reference must be 'labeled' or 'unlabeled'; got {reference!r}."
        )
    heuristic = "ssi" if reference == "labeled" else "ssi_unlabeled"
    return regularity_sampling(
        learner,
        X_pool,
        n_instances,
        heuristic=heuristic,
        batch=batch,
        random_state=random_state,
    )


def random_sampling(learner, X_pool, n_instances=1, *, random_state=None):
    """Query uniformly at random (the baseline every strategy must beat).

    Parameters
    ----------
    learner : object
        Ignored; present for the common signature.
    X_pool : {array-like, sparse matrix} of shape (n_candidates, n_features)
    n_instances : int, default=1
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    query_idx : ndarray of shape (min(n_instances, n_candidates),)
    scores : ndarray of shape (n_candidates,)
        Uniform random numbers; the query takes the largest.

    Examples
    --------
    >>> import numpy as np
    >>> from skrt.query import random_sampling
    >>> idx, _ = random_sampling(None, np.zeros((10, 2)), n_instances=3, random_state=0)
    >>> len(set(idx))
    3
    """
    n_instances = _check_n_instances(n_instances)
    n = _n_rows(X_pool)
    if n == 0:
        raise ValueError("X_pool is empty: there is nothing to query.")
    check_array(X_pool, accept_sparse=True, input_name="X_pool")
    rng = check_random_state(random_state)
    scores = rng.uniform(size=n)
    return np.argsort(-scores, kind="stable")[: min(n_instances, n)], scores
