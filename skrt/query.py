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

Array API: with scikit-learn's ``array_api_dispatch`` on, a model fitted on
PyTorch (CPU or CUDA), CuPy or ``array_api_strict`` arrays scores a pool of
the same namespace and device there: ``scores`` come back in that namespace
and on that device, ``query_idx`` as numpy int64 indices on the host (one
small copy per greedy pick), the same indices as the numpy model's for the
same ``random_state``. A pool in another namespace or on another device
than the model's is a ValueError.

Dask: a ``dask.array`` (or dask DataFrame) pool is scored block by block on
the cluster, never gathered (:mod:`skrt._dask_query`, docs/dask.rst):
``query_idx`` comes back as numpy int64 indices into its rows, the indices
the in-memory query gives on the computed pool for the same
``random_state``, and ``scores`` as a lazy dask array chunked like its
rows. A top-k batch is one pass over the pool; a greedy batch of a per-row
heuristic one pass when each block's best rows provably hold every pick
(more otherwise, at most one per pick); a pool-aware heuristic's greedy
batch one pass per pick after its factor's two.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from ._heuristics import check_batch, check_heuristic
from ._querying import (
    check_n_instances,
    check_pool,
    n_rows,
    resolve_learner,
    run_query,
)

__all__ = [
    "regularity_sampling",
    "sld_sampling",
    "sti_sampling",
    "ssi_sampling",
    "variance_sampling",
    "pool_variance_sampling",
    "ivr_sampling",
    "variance_ivr_sampling",
    "pool_tangent_sampling",
    "cluster_distance_sampling",
    "random_sampling",
]


def regularity_sampling(
    learner,
    X_pool,
    n_instances=1,
    *,
    heuristic="auto",
    batch="greedy",
    random_state=None,
    n_landmarks=None,
):
    """Query the pool points most worth labelling.

    Parameters
    ----------
    learner : modAL learner, fitted RegularityRidge, or fitted Pipeline
        The model that scores the pool.
    X_pool : {array-like, sparse matrix, dask array} of shape (n_candidates, n_features)
        Unlabeled candidates; a ``dask.array`` or dask DataFrame is scored
        block by block without being gathered (see the module docstring).
    n_instances : int, default=1
        How many to query; at most ``n_candidates`` are returned.
    heuristic : {"auto", "sld", "sti", "ssi", "ssi_unlabeled", "variance", \
"pool_variance", "ivr", "variance_ivr", "pool_tangent", "cluster_distance"}, \
default="auto"
        The paper's per-point scores (:ref:`math-heuristics`) or the
        pool-aware ones (:ref:`math-pool`). ``"auto"`` picks what the
        benchmark measured best for the model's family (linear or kernel)
        and the batch size (``skrt._heuristics.AUTO``, the user guide's
        "Which query heuristic"); where the model lacks a part that choice
        needs it falls back on ``"sld"``.
    batch : {"greedy", "topk"}, default="greedy"
        Greedy virtual labelling, or the top scores at once.
    random_state : int, RandomState instance or None, default=None
        Draws the landmarks of the pool-aware heuristics, then breaks ties.
    n_landmarks : int, default=None
        Pool rows whose curvature columns span the pool-aware heuristics'
        factor (:ref:`math-pool`); all of them when the pool is smaller.
        None means 200, or with ``heuristic="auto"`` what the benchmark's
        choice used (500 for a kernel model's single picks).

    Returns
    -------
    query_idx : ndarray of shape (min(n_instances, n_candidates),)
        Indices into ``X_pool``, in the order chosen: numpy int64, also
        for an array-API pool.
    scores : ndarray of shape (n_candidates,)
        Scores of the pool before the first choice, in ``X_pool``'s array
        namespace and on its device; a lazy dask array for a dask pool.

    Raises
    ------
    ValueError
        If ``X_pool`` is in another array namespace or on another device
        than the arrays the model was fitted on (array-API dispatch).

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
    check_heuristic(heuristic)
    check_batch(batch)
    n_instances = check_n_instances(n_instances)
    acquisition, transform = resolve_learner(learner)
    X = check_pool(X_pool, transform, acquisition)
    chosen, scores, _ = run_query(
        acquisition,
        X,
        n_instances,
        heuristic,
        batch,
        check_random_state(random_state),
        n_landmarks=n_landmarks,
        # a generator made from an int seed is not seen again: a dask pool
        # then skips the tie-breaking draws no tie needed
        settle_rng=not isinstance(random_state, numbers.Integral),
    )
    return chosen, scores


def _named(heuristic, doc):
    def strategy(
        learner,
        X_pool,
        n_instances=1,
        *,
        batch="greedy",
        random_state=None,
        n_landmarks=None,
    ):
        return regularity_sampling(
            learner,
            X_pool,
            n_instances,
            heuristic=heuristic,
            batch=batch,
            random_state=random_state,
            n_landmarks=n_landmarks,
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
    n_landmarks : int, default=None
        Used by the pool-aware heuristics only (:ref:`math-pool`); None
        means 200.

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
    ``alpha² ×`` the SLD score (:ref:`math-tangent`).
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


def _pool_example(name):
    return f"""
    Examples
    --------
    >>> import numpy as np
    >>> from skrt import RegularityKernelRidge
    >>> from skrt.query import {name}
    >>> rng = np.random.RandomState(0)
    >>> model = RegularityKernelRidge(alpha="loo").fit(rng.randn(20, 3), rng.randn(20))
    >>> idx, scores = {name}(model, rng.randn(40, 3), n_instances=5, random_state=0)
    >>> idx.shape, scores.shape
    ((5,), (40,))
"""


pool_variance_sampling = _named(
    "pool_variance",
    """Query by the posterior variance on the pool's span (:ref:`math-pool`).

    The model's covariance ``κ`` restricted to the span of landmark pool
    rows (Nyström): candidates far from the pool's mass keep little
    variance there, so a greedy batch (largest log-determinant on that
    span) covers the pool's dense regions before its outliers.
"""
    + _PARAMS
    + _pool_example("pool_variance_sampling"),
)

ivr_sampling = _named(
    "ivr",
    """Query by integrated variance reduction over the pool (:ref:`math-pool`).

    ``Σ_c κ(c, x)² / (n (1 + κ(x, x)))``: how much labelling ``x`` lowers
    the pool's average predictive variance (V-optimal design, Cohn's
    criterion), with exact greedy updates.
"""
    + _PARAMS
    + _pool_example("ivr_sampling"),
)

variance_ivr_sampling = _named(
    "variance_ivr",
    """Query by variance times integrated variance reduction (:ref:`math-pool`).

    ``κ(x, x) · Σ_c κ(c, x)² / (n (1 + κ(x, x)))``: candidates both
    uncertain themselves and informative for the rest of the pool, with
    exact greedy updates.
"""
    + _PARAMS
    + _pool_example("variance_ivr_sampling"),
)

pool_tangent_sampling = _named(
    "pool_tangent",
    """Query by the candidate's effect on the pool's regularity tangents.

    Labelling ``x`` at its prediction changes every pool tangent
    ``df(x_c)/ds`` by ``-κ(c, x) ḟ(x) / (1 + κ(x, x))``; the score is the
    pool-averaged square of that change (:ref:`math-pool`).
"""
    + _PARAMS
    + _pool_example("pool_tangent_sampling"),
)

cluster_distance_sampling = _named(
    "cluster_distance",
    """Query the farthest point of the largest cluster (:ref:`math-pool`).

    LCMD's rule in the model's posterior geometry: the training set and each
    pick are centres, every candidate joins its nearest, and the next pick
    is the farthest member of the cluster with the largest sum of squared
    distances.
"""
    + _PARAMS
    + _pool_example("cluster_distance_sampling"),
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
    n_instances = check_n_instances(n_instances)
    n = n_rows(X_pool)
    if n == 0:
        raise ValueError("X_pool is empty: there is nothing to query.")
    check_array(X_pool, accept_sparse=True, input_name="X_pool")
    rng = check_random_state(random_state)
    scores = rng.uniform(size=n)
    return np.argsort(-scores, kind="stable")[: min(n_instances, n)], scores
