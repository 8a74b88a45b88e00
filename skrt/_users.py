"""Many users: per-user ridge models pulled toward a shared model that
carries its own regularity tangent (``MATH.md`` section 6, paper 3.4.1)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._lasso import RegularityLasso
from ._ridge import RegularityRidge, prior_from
from ._validation import (
    check_bool,
    check_choice,
    check_regularity,
    check_sample_weight,
)
from .query import regularity_sampling


class MultiUserRegularity(RegressorMixin, BaseEstimator):
    """One shared ridge model and, per user, a model pulled toward it.

    The shared model ``θ₀(s)`` is fitted on every user's rows; each user's
    model minimises ``Σ_i w_i (x_iᵀθ + b - y_i)² + s ‖θ - θ₀(s)‖²`` on that
    user's rows, so its regularity tangent inherits the shared one,
    ``θ̇ = -A⁻¹(θ* - θ₀ - s θ̇₀)``. A user with no labels has the shared
    model's weights *and tangent*: the first query it makes already follows
    the shared model's curiosity instead of being random.

    Parameters
    ----------
    alpha : float or {"loo", "gcv"}, default="loo"
        Regularity of the shared model (as in :class:`RegularityRidge`).
    user_alpha : "shared", "loo" or float, default="shared"
        ``"shared"`` uses the shared model's ``alpha_`` for every user (the
        two-level model of ``MATH.md`` section 6, one ``s``); ``"loo"``
        chooses each user's own pull toward the shared model by exact
        leave-one-out with θ₀ held fixed (users with fewer than 3 rows fall
        back to the shared alpha); a float fixes it.
    fit_intercept : bool, default=True
        Intercepts are unpenalised: each user's is fitted freely (and
        inherited from the shared model only without data).
    alpha_bounds : (float, float) or None, default=None
        Search range for the ``"loo"``/``"gcv"`` choices.
    penalty : {"l2", "l1"}, default="l2"
        The users' pull toward the shared model: ``s ‖θ - θ₀‖²``
        (:class:`RegularityRidge`, exact LOO) or ``s ‖θ - θ₀‖₁``
        (:class:`RegularityLasso`, paper eq. 97: each user differs from the
        shared model in few weights; its tangent lives on the active set;
        ``user_alpha="loo"`` is not available).

    Attributes
    ----------
    shared_ : RegularityRidge
        Fitted on all rows.
    users_ : dict
        ``{user: RegularityRidge or RegularityLasso}`` for every user seen
        in ``fit``.
    alpha_ : float
        The shared model's regularity.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    Examples
    --------
    >>> import numpy as np
    >>> from skrt import MultiUserRegularity
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(300, 4)
    >>> groups = np.repeat(["ann", "bob", "cy"], 100)
    >>> y = X @ [1.0, 2.0, 0.0, -1.0] + (groups == "bob") * X[:, 2] + rng.randn(300)
    >>> model = MultiUserRegularity().fit(X, y, groups=groups)
    >>> model.predict(X[:2], groups=["bob", "bob"]).shape
    (2,)
    >>> idx, scores = model.query(rng.randn(50, 4), "dee", n_instances=3)
    >>> idx.shape  # a new user's first queries, inherited curiosity
    (3,)
    """

    def __init__(
        self,
        alpha="loo",
        *,
        user_alpha="shared",
        fit_intercept=True,
        alpha_bounds=None,
        penalty="l2",
    ):
        self.alpha = alpha
        self.user_alpha = user_alpha
        self.fit_intercept = fit_intercept
        self.alpha_bounds = alpha_bounds
        self.penalty = penalty

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _check_params(self):
        check_regularity(self.alpha)
        check_bool(self.fit_intercept, "fit_intercept")
        check_choice(self.penalty, "penalty", ("l2", "l1"))
        if self.penalty == "l1" and self.user_alpha == "loo":
            raise ValueError(
                "user_alpha='loo' needs exact leave-one-out, which penalty='l1' "
                "does not have; use 'shared' or a float."
            )
        check_regularity(self.user_alpha, "user_alpha", allowed=("shared", "loo"))

    def fit(self, X, y, groups=None, sample_weight=None):
        """Fit the shared model on all rows, then each user's model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), default=None
            The user of each row (any hashable labels); None: one user.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MultiUserRegularity
        """
        self._check_params()
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=np.float64, y_numeric=True
        )
        n = X.shape[0]
        groups = self._check_groups(groups, n)
        w = check_sample_weight(sample_weight, n)
        self.shared_ = RegularityRidge(
            alpha=self.alpha,
            fit_intercept=self.fit_intercept,
            alpha_bounds=self.alpha_bounds,
        ).fit(X, y, sample_weight=w)
        self.alpha_ = self.shared_.alpha_
        self._prior = prior_from(self.shared_)
        self.users_ = {}
        for user in dict.fromkeys(groups.tolist()):
            rows = np.flatnonzero(groups == user)
            self.users_[user] = self._user_estimator(rows.size).fit(
                X[rows], y[rows], sample_weight=w[rows]
            )
        return self

    @staticmethod
    def _check_groups(groups, n):
        if groups is None:
            return np.zeros(n, dtype=int)
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(
                f"groups must have shape ({n},), one user per row; got {groups.shape}."
            )
        return groups

    def _user_estimator(self, n_rows):
        if self.user_alpha == "shared" or (self.user_alpha == "loo" and n_rows < 3):
            alpha = self.alpha_
        else:
            alpha = self.user_alpha
        if self.penalty == "l1":
            return RegularityLasso(
                alpha=alpha, fit_intercept=self.fit_intercept, prior=self._prior
            )
        return RegularityRidge(
            alpha=alpha,
            fit_intercept=self.fit_intercept,
            alpha_bounds=self.alpha_bounds,
            prior=self._prior,
        )

    def user_model(self, user):
        """The fitted model of ``user``; an unseen user gets the inherited one.

        Parameters
        ----------
        user : hashable
            A label from ``groups``, or a new one.

        Returns
        -------
        model : RegularityRidge or RegularityLasso
            Fitted; for a user without rows it is the prior itself (same
            predictions and tangent as ``shared_``; greedy batches need
            ``batch="topk"`` until it has data).
        """
        check_is_fitted(self)
        if user in self.users_:
            return self.users_[user]
        empty = np.empty((0, self.n_features_in_))
        return self._user_estimator(0).fit(empty, np.empty(0))

    def _per_user(self, X, groups, method, **kwargs):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        if groups is None:
            return getattr(self.shared_, method)(X, **kwargs)
        groups = self._check_groups(groups, X.shape[0])
        out = np.empty(X.shape[0])
        for user in dict.fromkeys(groups.tolist()):
            rows = np.flatnonzero(groups == user)
            out[rows] = getattr(self.user_model(user), method)(X[rows], **kwargs)
        return out

    def predict(self, X, groups=None):
        """Each row's prediction by its user's model (None: the shared model).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        groups : array-like of shape (n_samples,), default=None

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._per_user(X, groups, "predict")

    def predict_tangent(self, X, groups=None):
        """``df(x)/ds`` by each row's user model (None: the shared model).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        groups : array-like of shape (n_samples,), default=None

        Returns
        -------
        tangent : ndarray of shape (n_samples,)
        """
        return self._per_user(X, groups, "predict_tangent")

    def score_samples(self, X, groups=None, heuristic="sld"):
        """Unlabeled query scores by each row's user model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        groups : array-like of shape (n_samples,), default=None
        heuristic : str, default="sld"
            As in :meth:`RegularityRidge.score_samples`.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self._per_user(X, groups, "score_samples", heuristic=heuristic)

    def query(
        self,
        X_pool,
        user,
        n_instances=1,
        *,
        heuristic="sld",
        batch="greedy",
        random_state=None,
    ):
        """The next points for ``user`` to label, from that user's pool.

        Parameters
        ----------
        X_pool : {array-like, sparse matrix} of shape (n_pool, n_features)
        user : hashable
            Any user, also one with no labels yet (then the scores are the
            inherited ones, and a batch is the top ``n_instances``, as always
            with ``penalty="l1"``).
        n_instances : int, default=1
        heuristic : str, default="sld"
        batch : {"greedy", "topk"}, default="greedy"
        random_state : int, RandomState instance or None, default=None
            Breaks ties.

        Returns
        -------
        query_idx : ndarray of shape (n_instances,)
        scores : ndarray of shape (n_pool,)
        """
        model = self.user_model(user)
        X_pool = validate_data(self, X_pool, accept_sparse="csr", reset=False)
        if getattr(model, "solver_", None) == "prior" or self.penalty == "l1":
            batch = "topk"
        return regularity_sampling(
            model,
            X_pool,
            n_instances,
            heuristic=heuristic,
            batch=batch,
            random_state=random_state,
        )
