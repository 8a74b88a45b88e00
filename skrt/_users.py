"""Many users: per-user ridge models pulled toward a shared model that
carries its own regularity tangent (:ref:`math-prior`, paper 3.4.1)."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._array_api import DEVICE_ESTIMATORS, refuse_device_arrays
from ._fit_log import FitLog, check_verbose
from ._frames import FrameOutputMixin, pandas_series, row_index
from ._lasso import RegularityLasso
from ._prior import prior_from
from ._ridge import RegularityRidge
from ._validation import (
    check_bool,
    check_choice,
    check_regularity,
    check_sample_weight,
)
from .query import regularity_sampling


def _bad_label(value):
    """'NaN', 'inf', 'NaT', 'a missing value' or None for a usable label."""
    if isinstance(value, (str, bytes)):
        return None
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return "NaT" if np.isnat(value) else None
    if isinstance(value, numbers.Number):
        try:
            if np.isnan(value):
                return "NaN"
            return None if np.isfinite(value) else "inf"
        except TypeError:  # e.g. a huge int: finite
            return None
    try:
        if value != value:  # NaT, NaN-like objects
            return "a missing value"
    except (TypeError, ValueError):  # pandas.NA: its comparisons are ambiguous
        return "a missing value"
    return None


def _no_label(name, what, count, value, row):
    return ValueError(
        f"{name} holds {what} ({count} row(s), the first {value!r} at row {row}); "
        f"every row needs a user label: drop those rows or give them a label."
    )


def _check_groups(groups, n, name="groups"):
    """One hashable, present, finite label per row, all of one kind.

    NaN, None, inf and NaT labels, and a mix of strings, bytes and numbers
    (numpy would turn it into strings silently: ``1.0`` becomes ``'1.0'``),
    are a ValueError naming ``name``; unhashable labels a TypeError.
    """
    if sp.issparse(groups):
        raise TypeError(f"{name} must be a 1-D array of labels, not a sparse matrix.")
    try:
        arr = np.asarray(groups)
        if arr.dtype.kind in "USV" and not hasattr(groups, "dtype"):
            # a list with text: numpy may have turned its numbers into text
            arr = np.asarray(groups, dtype=object)
    except ValueError:  # ragged nested lists
        arr = None
    if arr is None or arr.shape != (n,):
        got = "a ragged sequence" if arr is None else str(arr.shape)
        raise ValueError(f"{name} must have shape ({n},), one user per row; got {got}.")
    kind = arr.dtype.kind
    if kind == "O":
        return _check_object_labels(arr, name)
    if kind in "fc":
        bad = ~np.isfinite(arr)
    elif kind in "mM":
        bad = np.isnat(arr)
    else:
        return arr
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = arr[row] if kind in "mM" else arr[row].item()
        raise _no_label(name, _bad_label(arr[row]), np.count_nonzero(bad), value, row)
    return arr


def _label_kind(label_type):
    for kind, base in (("str", str), ("bytes", bytes), ("number", numbers.Number)):
        if issubclass(label_type, base):
            return kind
    return "other"


def _check_object_labels(arr, name):
    types = set(map(type, arr))
    unhashable = sorted(t.__name__ for t in types if t.__hash__ is None)
    if unhashable:
        raise TypeError(
            f"{name} labels must be hashable (str, int, ...); got "
            f"{', '.join(unhashable)}."
        )
    kinds = {_label_kind(t) for t in types}
    if kinds - {"str", "bytes"}:  # text is never missing: look at the rest
        bad = [
            i for i, v in enumerate(arr)
            if not isinstance(v, (str, bytes)) and (v is None or _bad_label(v))
        ]  # fmt: skip
        if bad:
            v = arr[bad[0]]
            raise _no_label(
                name, "None" if v is None else _bad_label(v), len(bad), v, bad[0]
            )
    mixed = sorted(kinds - {"other"})
    if len(mixed) > 1:
        first = {}
        for v in arr:
            first.setdefault(_label_kind(type(v)), v)
        raise ValueError(
            f"{name} mixes {' and '.join(mixed)} labels (e.g. "
            f"{' and '.join(repr(first[k]) for k in mixed)}); use one type of "
            f"label (they would be compared as different users)."
        )
    if "other" not in kinds:  # plain labels: a typed array
        typed = np.asarray(arr.tolist())
        if typed.dtype.kind != "O":
            return typed
    return arr


def _group_rows(groups):
    """``[(user, rows), ...]`` in order of first appearance, in O(n log n)."""
    if groups.dtype.kind == "O":
        codes = {}
        inverse = np.fromiter(
            (codes.setdefault(g, len(codes)) for g in groups.tolist()),
            dtype=np.intp,
            count=groups.shape[0],
        )
        users = list(codes)
    else:
        unique, first, inverse = np.unique(
            groups, return_index=True, return_inverse=True
        )
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        inverse = rank[np.ravel(inverse)]
        users = unique[order].tolist()
    rows = np.argsort(inverse, kind="stable")
    ends = np.cumsum(np.bincount(inverse, minlength=len(users)))[:-1]
    return list(zip(users, np.split(rows, ends), strict=True))


def _keyword_only(method, args, given, defaults):
    """The keyword values ``given``, updated with those passed by position.

    ``groups`` (and ``score_samples``'s ``heuristic``) became keyword-only:
    where the estimators have ``return_std`` and ``y``, a positional
    ``groups`` read ``score_samples(X, y)`` as user labels. A positional
    value still works, with a FutureWarning. ``defaults`` maps the
    parameter names, in their old positional order, to their defaults.
    """
    names = tuple(defaults)
    if not args:
        return given
    if len(args) > len(names):
        raise TypeError(
            f"MultiUserRegularity.{method}() takes X and at most {len(names)} "
            f"more positional argument(s); got {1 + len(args)}."
        )
    passed = names[: len(args)]
    warnings.warn(
        f"Passing {', '.join(passed)} to MultiUserRegularity.{method} by "
        f"position is deprecated; it will be keyword-only in a future release: "
        f"write {method}(X, {', '.join(f'{n}=...' for n in passed)}).",
        FutureWarning,
        stacklevel=3,
    )
    out = dict(given)
    for name, value in zip(passed, args, strict=False):
        default = defaults[name]
        clash = given[name] is not None if default is None else given[name] != default
        if clash:
            raise TypeError(
                f"MultiUserRegularity.{method}() got multiple values for {name!r}."
            )
        out[name] = value
    return out


def _check_user(user):
    """A single groups label for :meth:`MultiUserRegularity.query`."""
    if user is None or type(user).__hash__ is None:
        raise (ValueError if user is None else TypeError)(
            f"user must be one groups label (hashable, not None); got {user!r}."
        )
    what = _bad_label(user)
    if what:
        raise ValueError(f"user must be one groups label, not {what}; got {user!r}.")
    return user


class MultiUserRegularity(FrameOutputMixin, RegressorMixin, BaseEstimator):
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
        two-level model of :ref:`math-prior`, one ``s``); ``"loo"``
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
    verbose : int, default=0
        0: silent; 1: a line on stderr for the shared fit and for each
        user's, with its time; 2: the shared model's own lines too.

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
        verbose=0,
    ):
        self.alpha = alpha
        self.user_alpha = user_alpha
        self.fit_intercept = fit_intercept
        self.alpha_bounds = alpha_bounds
        self.penalty = penalty
        self.verbose = verbose

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
        return check_verbose(self.verbose)

    def fit(self, X, y, groups=None, sample_weight=None):
        """Fit the shared model on all rows, then each user's model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), default=None
            The user of each row (hashable labels of one type: strings or
            numbers; NaN, None and inf are refused); None: one user.
        sample_weight : array-like of shape (n_samples,), default=None
            Rows of zero weight are no data: a user with only such rows
            has the shared model, like a user unseen in ``fit``.

        Returns
        -------
        self : MultiUserRegularity
        """
        log = FitLog(self._check_params(), type(self).__name__)
        refuse_device_arrays(
            "MultiUserRegularity",
            DEVICE_ESTIMATORS,
            X=X,
            y=y,
            sample_weight=sample_weight,
        )
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=np.float64, y_numeric=True
        )
        n = X.shape[0]
        groups = self._check_groups(groups, n)
        w = check_sample_weight(sample_weight, n)
        with log.timed(lambda: f"shared model on {n} rows: alpha_={self.alpha_:.4g}"):
            self.shared_ = RegularityRidge(
                alpha=self.alpha,
                fit_intercept=self.fit_intercept,
                alpha_bounds=self.alpha_bounds,
                verbose=max(log.verbose - 1, 0),
            ).fit(X, y, sample_weight=w)
            self.alpha_ = self.shared_.alpha_
        self._prior = prior_from(self.shared_)
        self.users_ = {}
        users = list(_group_rows(groups))
        for k, (user, rows) in enumerate(users, 1):
            rows = rows[w[rows] > 0]  # zero weights are no data
            with log.timed(f"user {k}/{len(users)} ({user!r}, {rows.size} rows)"):
                self.users_[user] = self._user_estimator(rows.size).fit(
                    X[rows], y[rows], sample_weight=w[rows]
                )
        return self

    @staticmethod
    def _check_groups(groups, n):
        if groups is None:
            return np.zeros(n, dtype=int)
        return _check_groups(groups, n)

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
        user = _check_user(user)
        if user in self.users_:
            return self.users_[user]
        empty = np.empty((0, self.n_features_in_))
        return self._user_estimator(0).fit(empty, np.empty(0))

    def _per_user(self, X, groups, method, **kwargs):
        check_is_fitted(self)
        refuse_device_arrays("MultiUserRegularity", DEVICE_ESTIMATORS, X=X)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        if groups is None:
            return getattr(self.shared_, method)(X, **kwargs)
        groups = self._check_groups(groups, X.shape[0])
        out = np.empty(X.shape[0])
        for user, rows in _group_rows(groups):
            out[rows] = getattr(self.user_model(user), method)(X[rows], **kwargs)
        return out

    def predict(self, X, *args, groups=None):
        """Each row's prediction by its user's model (None: the shared model).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        groups : array-like of shape (n_samples,), default=None
            Keyword-only (by position it is deprecated: FutureWarning).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        given = _keyword_only("predict", args, {"groups": groups}, {"groups": None})
        return self._per_user(X, given["groups"], "predict")

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

    def score_samples(self, X, *args, groups=None, heuristic="sld", as_frame=None):
        """Unlabeled query scores by each row's user model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        groups : array-like of shape (n_samples,), default=None
            Keyword-only (by position it is deprecated: FutureWarning; the
            estimators' second parameter is the labels ``y``).
        heuristic : str, default="sld"
            As in :meth:`RegularityRidge.score_samples`. Keyword-only.
        as_frame : bool, default=None
            True: return a pandas Series named ``"score"`` with ``X``'s
            index (0, 1, ... for an array); False: an ndarray; None: as
            :meth:`set_output` set (default: an ndarray).

        Returns
        -------
        scores : ndarray or pandas.Series of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> import pandas as pd
        >>> from skrt import MultiUserRegularity
        >>> rng = np.random.RandomState(0)
        >>> X = pd.DataFrame(rng.randn(40, 2), columns=["a", "b"])
        >>> y = X["a"] - X["b"] + 0.1 * rng.randn(40)
        >>> model = MultiUserRegularity().fit(X, y, groups=np.repeat([0, 1], 20))
        >>> pool = pd.DataFrame(rng.randn(3, 2), columns=["a", "b"], index=[7, 8, 9])
        >>> model.score_samples(pool, groups=[1, 1, 0], as_frame=True).index.tolist()
        [7, 8, 9]
        """
        given = _keyword_only(
            "score_samples",
            args,
            {"groups": groups, "heuristic": heuristic},
            {"groups": None, "heuristic": "sld"},
        )
        as_frame, index = self._as_frame(as_frame), row_index(X)
        scores = self._per_user(
            X, given["groups"], "score_samples", heuristic=given["heuristic"]
        )
        return pandas_series(scores, index, "score") if as_frame else scores

    def query(
        self,
        X_pool,
        user,
        n_instances=1,
        *,
        heuristic="auto",
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
        heuristic : str, default="auto"
            As in :func:`skrt.query.regularity_sampling`.
        batch : {"greedy", "topk"}, default="greedy"
        random_state : int, RandomState instance or None, default=None
            Draws the pool-aware heuristics' landmarks, then breaks ties.

        Returns
        -------
        query_idx : ndarray of shape (n_instances,)
        scores : ndarray of shape (n_pool,)
        """
        model = self.user_model(user)
        refuse_device_arrays("MultiUserRegularity", DEVICE_ESTIMATORS, X_pool=X_pool)
        X_pool = validate_data(self, X_pool, accept_sparse="csr", reset=False)
        if model.n_samples_fit_ == 0 or self.penalty == "l1":
            batch = "topk"
        return regularity_sampling(
            model,
            X_pool,
            n_instances,
            heuristic=heuristic,
            batch=batch,
            random_state=random_state,
        )
