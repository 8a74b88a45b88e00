"""modAL's ActiveLearner on every scikit-learn release skrt supports.

modAL 0.4.2.1 (its last release) checks new training data with
``sklearn.utils.check_X_y(..., force_all_finite=...)``, a keyword
scikit-learn 1.6 renamed ``ensure_all_finite`` and 1.8 removed: on
scikit-learn >= 1.8 ``ActiveLearner.teach`` and ``ActiveLearner.fit`` raise
``TypeError`` inside modAL. :class:`ActiveLearner` here is modAL's with that
one call fixed; existing modAL code works by changing one import::

    from skrt.modal import ActiveLearner  # was: from modAL.models import ...

Importing this module needs modAL (``pip install "scikit-regularity[modal]"``);
nothing else in skrt imports it.
"""

from __future__ import annotations

import inspect

from sklearn.utils import check_X_y

try:
    from modAL.models import ActiveLearner as _ModalActiveLearner
    from modAL.utils.data import data_vstack
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        'skrt.modal needs modAL: pip install "scikit-regularity[modal]" '
        "(or pip install modAL-python)."
    ) from exc

__all__ = ["ActiveLearner"]


def _check_training_data(X, y, all_finite):
    """modAL's check of new training data, with the finiteness keyword that
    this scikit-learn has: ``ensure_all_finite`` (1.6 and later; 1.8 removed
    ``force_all_finite``), else ``force_all_finite``."""
    params = inspect.signature(check_X_y).parameters
    key = "ensure_all_finite" if "ensure_all_finite" in params else "force_all_finite"
    check_X_y(
        X,
        y,
        accept_sparse=True,
        ensure_2d=False,
        allow_nd=True,
        multi_output=True,
        dtype=None,
        **{key: all_finite},
    )


class ActiveLearner(_ModalActiveLearner):
    """modAL's ``ActiveLearner`` that also runs on scikit-learn >= 1.8.

    A drop-in subclass of :class:`modAL.models.ActiveLearner`: the same
    parameters, attributes and methods. The only change is the check of
    the data given to :meth:`fit` and :meth:`teach` (modAL's
    ``_add_training_data``, ``fit`` and ``teach(only_new=True)``): it
    passes modAL's ``force_all_finite`` setting to scikit-learn's
    ``check_X_y`` as ``ensure_all_finite`` where scikit-learn has that
    keyword (1.6 and later; 1.8 removed the old one, so modAL's own call
    raises ``TypeError``), and as ``force_all_finite`` before.

    Parameters
    ----------
    estimator : estimator object
        The regressor or classifier refitted after each :meth:`teach`, e.g.
        ``RegularityRidge(alpha="loo")``.
    query_strategy : callable, default=modAL.uncertainty.uncertainty_sampling
        ``query_strategy(estimator, X_pool, **kwargs) -> (idx, ...)``, e.g.
        :func:`skrt.query.sld_sampling` or
        :func:`skrt.query.regularity_sampling`.
    X_training : array-like of shape (n_samples, n_features), default=None
        Initial training inputs; when given, the estimator is fitted on them.
    y_training : array-like of shape (n_samples,) or (n_samples, n_targets), \
default=None
        Their labels.
    bootstrap_init : bool, default=False
        Fit the first model on a bootstrap sample of the initial data.
    on_transformed : bool, default=False
        Let the query strategy see the inputs transformed by the estimator's
        pipeline.
    **fit_kwargs : dict
        Passed to the estimator's ``fit``. modAL's ``BaseLearner`` takes
        ``force_all_finite`` (default True: refuse NaN and infinity in the
        taught data) from them; it is what reaches ``check_X_y``.

    Attributes
    ----------
    estimator : estimator object
        The fitted estimator.
    X_training : array-like of shape (n_labeled, n_features)
        Everything taught so far.
    y_training : array-like of shape (n_labeled,) or (n_labeled, n_targets)

    See Also
    --------
    skrt.query.regularity_sampling : The regularity-tangent query strategy.
    skrt.skactiveml.RegularityQuery : The same scores for scikit-activeml.

    Examples
    --------
    >>> import numpy as np
    >>> from skrt import RegularityRidge
    >>> from skrt.modal import ActiveLearner
    >>> from skrt.query import sld_sampling
    >>> rng = np.random.RandomState(0)
    >>> X_pool = rng.uniform(-3, 3, size=(200, 3))
    >>> y_pool = X_pool @ [1.0, -2.0, 0.5] + 0.1 * rng.randn(200)
    >>> learner = ActiveLearner(
    ...     estimator=RegularityRidge(alpha="loo"),
    ...     query_strategy=sld_sampling,
    ...     X_training=X_pool[:5],
    ...     y_training=y_pool[:5],
    ... )
    >>> for _ in range(3):
    ...     idx, _ = learner.query(X_pool, n_instances=2)
    ...     learner.teach(X_pool[idx], y_pool[idx])
    >>> learner.X_training.shape
    (11, 3)
    """

    def _add_training_data(self, X, y):
        """Append ``X``, ``y`` to the training data without refitting
        (modAL's method, with the scikit-learn-compatible check)."""
        _check_training_data(X, y, self.force_all_finite)
        if self.X_training is None:
            self.X_training = X
            self.y_training = y
        else:
            try:
                self.X_training = data_vstack((self.X_training, X))
                self.y_training = data_vstack((self.y_training, y))
            except ValueError:
                raise ValueError(
                    "the dimensions of the new training data and label must "
                    "agree with the training data and labels provided so far"
                ) from None

    def fit(self, X, y, bootstrap=False, **fit_kwargs):
        """Fit the estimator on ``X``, ``y`` alone, forgetting earlier data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        bootstrap : bool, default=False
            Fit on a bootstrap sample of ``X``.
        **fit_kwargs : dict
            Passed to the estimator's ``fit``.

        Returns
        -------
        self : ActiveLearner
        """
        _check_training_data(X, y, self.force_all_finite)
        self.X_training, self.y_training = X, y
        return self._fit_to_known(bootstrap=bootstrap, **fit_kwargs)

    def teach(self, X, y, bootstrap=False, only_new=False, **fit_kwargs):
        """Add labelled points and refit the estimator.

        Parameters
        ----------
        X : array-like of shape (n_new, n_features)
            The queried points.
        y : array-like of shape (n_new,) or (n_new, n_targets)
            Their labels.
        bootstrap : bool, default=False
            Fit on a bootstrap sample of the training data.
        only_new : bool, default=False
            Refit on ``X``, ``y`` alone (for estimators whose ``fit``
            continues training); the training data is not extended.
        **fit_kwargs : dict
            Passed to the estimator's ``fit``.
        """
        if not only_new:
            self._add_training_data(X, y)
            self._fit_to_known(bootstrap=bootstrap, **fit_kwargs)
        else:
            _check_training_data(X, y, self.force_all_finite)
            self._fit_on_new(X, y, bootstrap=bootstrap, **fit_kwargs)
