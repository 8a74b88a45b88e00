"""scikit-activeml integration: regularity-tangent query strategies with its
pool API. Importing this module needs ``scikit-activeml``
(``pip install "scikit-regularity[skactiveml]"``); nothing else in skrt imports it.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from ._array_api import device_namespace, numpy_only
from ._heuristics import check_batch, check_heuristic
from ._querying import check_pool, resolve_learner, run_query

try:
    from skactiveml.base import SingleAnnotatorPoolQueryStrategy, SkactivemlRegressor
    from skactiveml.utils import MISSING_LABEL, check_type
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "skrt.skactiveml needs scikit-activeml: "
        'pip install "scikit-regularity[skactiveml]"'
    ) from exc

__all__ = ["RegularityQuery"]


def _numpy_only_error():
    return numpy_only(
        "skrt.skactiveml.RegularityQuery",
        "skrt.query's strategies (skrt.query.regularity_sampling) or the "
        "model's score_samples",
    )


def _numpy_only(*arrays):
    """The numpy-only TypeError if any of ``arrays`` left the numpy path."""
    if any(device_namespace(a) is not None for a in arrays):
        raise _numpy_only_error()


class RegularityQuery(SingleAnnotatorPoolQueryStrategy):
    """Regularity-tangent query strategy for scikit-activeml.

    Scores candidates with :meth:`skrt.RegularityRidge.score_samples` (or
    the same interface of another skrt estimator) and builds batches greedily
    (virtual labelling at the model's own prediction, a rank-one update per
    pick) or by the top scores. ``reg`` is a scikit-activeml regressor
    wrapping a skrt estimator, e.g.
    ``SklearnRegressor(RegularityRidge(alpha="loo"))``; unlabeled samples are
    marked by ``missing_label``.

    Parameters
    ----------
    heuristic : str, default="auto"
        As in :func:`skrt.query.regularity_sampling`: ``"auto"`` (what the
        benchmark measured best for the model family and batch size), the
        paper's ``"sld"``, ``"sti"``, ``"ssi"``, ``"ssi_unlabeled"``,
        ``"variance"``, or the pool-aware ``"pool_variance"``, ``"ivr"``,
        ``"variance_ivr"``,
        ``"pool_tangent"``, ``"cluster_distance"``.
    batch : {"greedy", "topk"}, default="greedy"
    missing_label : scalar or str or np.nan or None, default=np.nan
    random_state : int, RandomState instance or None, default=None
        Draws the pool-aware heuristics' landmarks, then breaks ties.

    Examples
    --------
    >>> import numpy as np
    >>> from skactiveml.regressor import SklearnRegressor
    >>> from skactiveml.utils import MISSING_LABEL
    >>> from skrt import RegularityRidge
    >>> from skrt.skactiveml import RegularityQuery
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(40, 3)
    >>> y = np.full(40, MISSING_LABEL)
    >>> y[:10] = X[:10] @ [1.0, 2.0, 3.0]
    >>> reg = SklearnRegressor(RegularityRidge(alpha=1.0))
    >>> idx = RegularityQuery(random_state=0).query(X, y, reg, batch_size=3)
    >>> idx.shape, bool(np.all(idx >= 10))
    ((3,), True)
    """

    def __init__(
        self,
        heuristic="auto",
        batch="greedy",
        missing_label=MISSING_LABEL,
        random_state=None,
    ):
        super().__init__(missing_label=missing_label, random_state=random_state)
        self.heuristic = heuristic
        self.batch = batch

    def query(
        self,
        X,
        y,
        reg,
        fit_reg=True,
        sample_weight=None,
        candidates=None,
        batch_size=1,
        return_utilities=False,
    ):
        """Query the next samples to be labeled.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Labeled and unlabeled samples.
        y : array-like of shape (n_samples,)
            Labels, ``missing_label`` where unknown.
        reg : SkactivemlRegressor
            Wraps a skrt estimator (``SklearnRegressor(RegularityRidge())``)
            or a Pipeline ending in one.
        fit_reg : bool, default=True
            Fit a clone of ``reg`` on ``(X, y)`` first.
        sample_weight : array-like of shape (n_samples,), default=None
        candidates : array-like, default=None
            As in scikit-activeml: indices into ``X`` (int, shape
            (n_candidates,)), or the candidate samples themselves (shape
            (n_candidates, n_features)); None means the unlabeled samples.
        batch_size : int, default=1
        return_utilities : bool, default=False

        Returns
        -------
        query_indices : ndarray of shape (batch_size,)
            Indices into ``X`` (or into ``candidates`` when it holds samples).
        utilities : ndarray
            Shape (batch_size, n_samples), or (batch_size, n_candidates) when
            ``candidates`` holds samples. Scores before each pick; NaN for
            samples that were not candidates or were already picked (row
            ``j`` has NaN at the picks of rows ``< j``, for both batch modes).
            Only built when asked for.

        Raises
        ------
        TypeError
            If ``reg`` does not wrap a skrt estimator, or if ``X``, ``y``,
            ``candidates`` or ``reg``'s fitted model are array-API arrays
            (scikit-learn's ``array_api_dispatch``): scikit-activeml's
            utilities compute with numpy, so this strategy does too; query
            such a model with :mod:`skrt.query`'s strategies.
        ValueError
            If ``reg``'s fit failed (scikit-activeml's wrapper only warns) or
            the candidates' scores overflow.
        """
        _numpy_only(X, y, candidates)
        X, y, candidates, batch_size, return_utilities = self._validate_data(
            X, y, candidates, batch_size, return_utilities, reset=True
        )
        check_type(reg, "reg", SkactivemlRegressor)
        check_type(fit_reg, "fit_reg", bool)
        check_heuristic(self.heuristic)
        check_batch(self.batch)
        if fit_reg:
            reg = clone(reg)
            reg = (
                reg.fit(X, y) if sample_weight is None else reg.fit(X, y, sample_weight)
            )
        acquisition, transform = resolve_learner(reg, name="reg")
        if acquisition.namespace is not None:
            raise _numpy_only_error()
        X_cand, mapping = self._transform_candidates(candidates, X, y)
        if len(X_cand) < batch_size:
            raise ValueError(
                f"batch_size={batch_size} exceeds the {len(X_cand)} candidates."
            )
        chosen, _, steps = run_query(
            acquisition,
            check_pool(X_cand, transform, acquisition, name="candidates"),
            batch_size,
            self.heuristic,
            self.batch,
            self.random_state_,
            name="candidates",
            steps=return_utilities,
        )
        query_indices = chosen if mapping is None else mapping[chosen]
        if not return_utilities:
            return query_indices
        steps[~np.isfinite(steps)] = np.nan  # -inf marks the earlier picks
        if mapping is None:
            return query_indices, steps
        utilities = np.full((batch_size, len(X)), np.nan)
        utilities[:, mapping] = steps
        return query_indices, utilities
