"""SGDFRegressor: stochastic gradient descent carrying the regularity tangent
as a dual number (``MATH.md`` section 5, paper section 3.5-3.7)."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import RegularityMixin, WeightsOnlyMixin
from ._dual_sgd import (
    _BLOCK,
    DualSGDState,
    accelerated_step,
    adam_step,
    blocked_sum,
    centered_curvature,
    loss_terms,
    row_sq_norms,
    scale_tangent,
    stationarity,
)
from ._krylov import CenteredDesign, solve_cg
from ._validation import (
    check_bool,
    check_choice,
    check_positive,
    check_sample_weight,
)

_LOSSES = ("squared_error", "huber")
_SCHEDULES = ("constant", "invscaling", "adaptive", "adam")
_REGULARIZER_SCHEDULES = ("continuous", "intermittent")
_TANGENT_SOLVERS = ("sgd", "cg")
_DIVERGENCE_FACTOR = 1e8
_ONLINE_SETTLED = 0.25  # stationarity residuals that allow an alpha step
_MIN_AUTO_BATCH = 32  # smallest automatic batch: fewer Python steps per epoch


class SGDFRegressor(WeightsOnlyMixin, RegularityMixin, RegressorMixin, BaseEstimator):
    """Linear regression by SGD that carries its regularity tangent.

    Minimises ``Σ_i w_i L(x_iᵀθ + b - y_i) + alpha ‖θ‖²`` — the same
    objective as :class:`~skrt.RegularityRidge` for the squared loss — by
    mini-batch SGD on the objective divided by the total weight, pushing the
    dual number ``θ + θ̇ d alpha`` through every step, so that ``θ̇ → dθ*/d
    alpha`` at only a constant extra cost (forward-mode differentiation).

    ``alpha`` here is *not* :class:`~sklearn.linear_model.SGDRegressor`'s:
    that one minimises ``(1/n) Σ r_i²/2 + a ‖θ‖²/2 = (Σ r_i² + a n ‖θ‖²) /
    (2n)`` (squared loss ``r²/2``, ``penalty="l2"``), so
    ``SGDRegressor(alpha=a)`` has the objective of ``SGDFRegressor(alpha=a *
    n)`` (and of ``Ridge(alpha=a * n)``) for unit weights.

    Defaults: the model is centred on the weighted column mean (``f(x) = (x -
    m)ᵀθ + β``, the same minimiser, far better conditioned on data with
    offsets); batches start at the critical size ``C/L`` (at least 32) with
    the step ``1 / (L + 2 alpha/W + C/batch)`` (``L`` the largest and ``C``
    one row's largest curvature), double whenever the epoch objective stalls,
    and once they hold the whole data the steps take Nesterov's momentum.
    Fitting stops when the stationarity residuals bound the relative distance
    of θ and θ̇ to the optimum by ``tol``, or warns.

    Parameters
    ----------
    alpha : float or "online", default=1.0
        The regularity ``s``; ``"online"`` adapts it during fitting by the
        hypergradient of a held-out set (paper section 3.7): starting at
        ``alpha_init``, after an epoch log alpha takes a step against the
        sign of ``dL_val/d log alpha = alpha σ_valᵀθ̇`` (mean over the
        held-out samples), at its own, adaptive and slower, rate, and θ
        follows the path to the new alpha along θ̇. A step is taken only
        after epochs that end near stationarity — the training gradient
        below 1/4 of ``‖2 alpha θ‖`` and the tangent's residual below 1/4 of
        ``‖2θ‖`` — since the hypergradient of an unconverged iterate is
        biased toward smaller alpha (the iterate is still shrunk). Mini-batch
        noise can keep that gate shut: large batches and a decaying
        learning rate open it (a ``ConvergenceWarning`` says when no step
        was taken).
    loss : {"squared_error", "huber"}, default="squared_error"
        ``"huber"``: ``r²`` for ``|r| <= epsilon``, ``2 epsilon |r| - epsilon²``
        beyond (its Hessian-vector product is the quadratic part's).
    epsilon : float, default=1.0
    fit_intercept : bool, default=True
    learning_rate : {"constant", "invscaling", "adaptive", "adam"}, default="constant"
        As in SGDRegressor (``eta = eta0 / t**power_t`` for invscaling with
        ``t`` the step count; adaptive divides eta by 5 when the epoch loss
        stops improving and the batch cannot grow); ``"adam"`` (dense X only)
        preconditions both the θ and the θ̇ steps by Adam's second-moment
        estimate of θ's gradient.
    eta0 : float or "auto", default="auto"
        Initial step. ``"auto"``: ``1 / (L + 2 alpha / W + C / batch)`` with
        ``L`` the largest eigenvalue of the centred, weight-averaged Hessian
        (power iteration) and ``C`` the largest curvature of one row; the
        intercept's step is scaled to curvature ``L``. Stable for any batch
        size on data of any scale.
    power_t : float, default=0.25
    batch_size : int or "auto", default="auto"
        Rows per step (the epoch is split into ``ceil(n / batch_size)``
        batches of equal size). ``"auto"``: start at ``C / L`` (at least 32)
        and double when the epoch objective has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, up to full batches.
    max_iter : int, default=1000
        Epochs (a full-batch step counts as one).
    tol : float or None, default=1e-4
        Stop when the stationarity residuals bound ``‖θ - θ*‖ / ‖θ‖`` and
        ``‖θ̇ - θ̇*‖ / ‖θ̇‖`` (and the intercept's) by ``tol``; a fixed batch
        that stalls first stops with a ``ConvergenceWarning``. None runs
        ``max_iter`` epochs.
    n_iter_no_change : int, default=5
        Stalled epochs before the batch grows (or the step shrinks, or a
        fixed batch stops).
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
    verbose : int, default=0
        A progress line per epoch.
    regularizer_schedule : {"continuous", "intermittent"}, default="continuous"
        Shrink every step (LiSSA-equivalent form) or every
        ``regularizer_interval`` steps at once (paper eq. 121-125).
    regularizer_interval : int or None, default=None
        Steps between shrinkages for "intermittent" (None: once per epoch).
    tangent : bool, default=True
        Carry θ̇ (False: plain SGD, for comparison).
    tangent_solver : {"sgd", "cg"}, default="sgd"
        ``"cg"``: after fitting θ, solve ``(Xcᵀ W Xc + alpha I) θ̇ = -θ`` by
        conjugate gradients (paper section 3.8), for data that fit one batch.
    validation_fraction : float, default=0.1
        Held-out share for ``alpha="online"``.
    alpha_init : float, default=1.0
    alpha_learning_rate : float, default=0.5
        First step on log alpha; afterwards the step adapts (Rprop: x1.2 while
        the hypergradient's sign holds, x0.5 when it flips), one step per
        epoch.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    coef_tangent_ : ndarray of shape (n_features,)
        dθ*/d alpha as tracked by the dual numbers.
    intercept_tangent_ : float
    alpha_ : float
    noise_variance_ : float
        Mean weighted squared training residual (no degrees-of-freedom
        correction: the leverages are not available).
    n_iter_ : int
        Epochs run in the last call of fit (or partial_fit calls so far).
    t_ : int
        Mini-batch steps performed.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    Examples
    --------
    >>> import numpy as np
    >>> from skrt import SGDFRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(500, 3)
    >>> y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.randn(500)
    >>> model = SGDFRegressor(alpha=10.0, random_state=0).fit(X, y)
    >>> np.round(model.coef_, 1)
    array([ 1. , -2. ,  0.5])
    >>> model.coef_tangent_.shape
    (3,)
    """

    def __init__(
        self,
        alpha=1.0,
        *,
        loss="squared_error",
        epsilon=1.0,
        fit_intercept=True,
        learning_rate="constant",
        eta0="auto",
        power_t=0.25,
        batch_size="auto",
        max_iter=1000,
        tol=1e-4,
        n_iter_no_change=5,
        shuffle=True,
        random_state=None,
        warm_start=False,
        verbose=0,
        regularizer_schedule="continuous",
        regularizer_interval=None,
        tangent=True,
        tangent_solver="sgd",
        validation_fraction=0.1,
        alpha_init=1.0,
        alpha_learning_rate=0.5,
    ):
        self.alpha = alpha
        self.loss = loss
        self.epsilon = epsilon
        self.fit_intercept = fit_intercept
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.regularizer_schedule = regularizer_schedule
        self.regularizer_interval = regularizer_interval
        self.tangent = tangent
        self.tangent_solver = tangent_solver
        self.validation_fraction = validation_fraction
        self.alpha_init = alpha_init
        self.alpha_learning_rate = alpha_learning_rate

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self.learning_rate != "adam"
        return tags

    # ----------------------------------------------------------- checks
    def _check_params(self):
        if isinstance(self.alpha, str):
            if self.alpha != "online":
                raise ValueError(
                    f"alpha must be a positive float or 'online'; got {self.alpha!r}."
                )
        else:
            check_positive(self.alpha, "alpha")
        check_choice(self.loss, "loss", _LOSSES)
        check_positive(self.epsilon, "epsilon")
        check_bool(self.fit_intercept, "fit_intercept")
        check_choice(self.learning_rate, "learning_rate", _SCHEDULES)
        if self.eta0 != "auto":
            check_positive(self.eta0, "eta0")
        check_positive(self.power_t, "power_t")
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            check_positive(self.batch_size, "batch_size", kind=numbers.Integral)
        check_positive(self.max_iter, "max_iter", kind=numbers.Integral)
        if self.tol is not None:
            check_positive(self.tol, "tol")
        check_positive(self.n_iter_no_change, "n_iter_no_change", kind=numbers.Integral)
        check_bool(self.shuffle, "shuffle")
        check_bool(self.warm_start, "warm_start")
        check_choice(
            self.regularizer_schedule, "regularizer_schedule", _REGULARIZER_SCHEDULES
        )
        check_positive(
            self.regularizer_interval,
            "regularizer_interval",
            kind=numbers.Integral,
            allow_none=True,
        )
        check_bool(self.tangent, "tangent")
        check_choice(self.tangent_solver, "tangent_solver", _TANGENT_SOLVERS)
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                "validation_fraction must be in (0, 1); "
                f"got {self.validation_fraction!r}."
            )
        check_positive(self.alpha_init, "alpha_init")
        check_positive(self.alpha_learning_rate, "alpha_learning_rate")
        if self.alpha == "online" and not self.tangent:
            raise ValueError(
                "alpha='online' needs the tangent (its hypergradient is σ_valᵀθ̇); "
                "set tangent=True."
            )

    def _validate_fit_data(self, X, y, sample_weight, reset):
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=np.float64,
            y_numeric=True,
            reset=reset,
        )
        if sp.issparse(X) and self.learning_rate == "adam":
            raise ValueError(
                "learning_rate='adam' needs dense X (its per-coordinate scaling "
                "defeats the lazy sparse updates); use another learning_rate."
            )
        n, p = X.shape
        for name, values in (("X", X.data if sp.issparse(X) else X), ("y", y)):
            top = float(np.max(np.abs(values))) if np.size(values) else 0.0
            if top > np.sqrt(1e306 / max(n, 1) / max(p, 1)):
                raise ValueError(
                    f"{name} has entries of magnitude {top:.3g}: sums of their "
                    "squares overflow float64; scale X and y (e.g. "
                    "StandardScaler) before SGDFRegressor."
                )
        if sample_weight is None:  # unit weights: a read-only view, no memory
            w = np.broadcast_to(np.float64(1.0), (X.shape[0],))
        else:
            w = check_sample_weight(sample_weight, X.shape[0])
        return X, np.asarray(y, dtype=float), w

    # -------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None):
        """Fit θ and θ̇ by SGD until they are stationary (or ``max_iter``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : SGDFRegressor
        """
        self._check_params()
        X, y, w = self._validate_fit_data(X, y, sample_weight, reset=True)
        rng = check_random_state(self.random_state)
        if not (self.warm_start and hasattr(self, "_state")):
            self._init_state(X.shape[1])
        self._alpha_now = (
            float(self.alpha_init) if self.alpha == "online" else float(self.alpha)
        )
        X_val = y_val = None
        self._alpha_rprop = (self.alpha_learning_rate, 0.0)
        if self.alpha == "online":
            n_val = max(1, int(round(self.validation_fraction * X.shape[0])))
            order = rng.permutation(X.shape[0])
            val, train = order[:n_val], order[n_val:]
            X_val, y_val = X[val], y[val]
            X, y, w = X[train], y[train], w[train]
        self._W = float(w.sum())
        self._seen = self._W
        Xm = self._center_on(X, w)
        self._set_eta0(X, w, Xm)
        self.n_iter_ = 0
        best, stall, stop = None, 0, None
        first_loss = stats = None
        self._momentum = None
        for epoch in range(self.max_iter):
            accelerate = stats is not None and self._full_batch_phase(X.shape[0])
            if accelerate:  # the gradient at this point is the last pass's
                self._momentum = accelerated_step(
                    self._state, stats, self._eta() / self._W, self._momentum
                )
                self.t_ += 1
            else:
                self._epoch(X, Xm, y, w, rng)
            self.n_iter_ += 1
            stats = self._full_pass(X, Xm, y, w)
            loss = stats["objective"]
            first_loss = loss if first_loss is None else first_loss
            self._check_divergence(loss, first_loss)
            if self.verbose:
                print(
                    f"-- epoch {epoch + 1}: objective/W {loss:.6g}, "
                    f"eta {self._eta():.3g}, batch {self._batch}, "
                    f"alpha {self._alpha_now:.4g}, error bound "
                    f"{stats['error']:.3g}, steps {self.t_}"
                )
            if self.alpha == "online":
                if self._settled(stats):
                    self._online_alpha_step(X_val, y_val)
                    stats, self._momentum = None, None  # the point moved
                continue  # alpha moves: run max_iter epochs
            if self.tol is None:
                continue
            if stats["error"] <= self.tol:
                stop = "converged"
                break
            if accelerate:
                continue  # deterministic steps: only max_iter stops them
            if best is None or loss < best - self.tol * abs(best):
                best, stall = loss, 0
                continue
            stall += 1
            if stall < self.n_iter_no_change:
                continue
            best, stall = None, 0
            if self.batch_size == "auto" and self._batch < X.shape[0]:
                self._batch = min(2 * self._batch, X.shape[0])
            elif self.learning_rate == "adaptive" and self._eta_scale > 1e-6:
                self._eta_scale /= 5.0
            elif self._batch < X.shape[0] or self.learning_rate != "constant":
                stop = "stalled"  # at the noise floor of this batch and step
                break
        if self.tol is not None and self.alpha != "online" and stop != "converged":
            self._warn_not_converged(stop, stats["error"])
        if self.alpha == "online" and self._alpha_rprop[1] == 0.0:
            warnings.warn(
                "alpha='online' took no step: θ and θ̇ never came close enough "
                "to stationarity to trust the held-out hypergradient (SGD noise "
                f"or too few epochs); alpha_ stays alpha_init={self.alpha_init!r}. "
                "Increase max_iter or batch_size, or use a decaying learning_rate.",
                ConvergenceWarning,
                stacklevel=2,
            )
        if self.tangent and self.tangent_solver == "cg":
            self._solve_tangent_cg(X, w)
        self._finish(X, y, w)
        return self

    def _warn_not_converged(self, stop, error):
        where = (
            f"stalled at the noise floor of batch_size={self._batch} with "
            f"learning_rate={self.learning_rate!r}"
            if stop == "stalled"
            else f"did not converge in max_iter={self.max_iter} epochs"
        )
        advice = (
            "use batch_size='auto' (it grows the batch until the gradient "
            "vanishes), a larger batch_size or learning_rate='adaptive'"
            if stop == "stalled"
            else "increase max_iter"
        )
        warnings.warn(
            f"SGDFRegressor {where}: the relative distance of coef_ (or "
            f"coef_tangent_) to the optimum may be up to {error:.2g} > "
            f"tol={self.tol:g}; {advice} (or raise tol).",
            ConvergenceWarning,
            stacklevel=3,
        )

    def partial_fit(self, X, y, sample_weight=None, *, total_sample_weight=None):
        """One pass over a chunk, continuing from the current state.

        The first chunk's weighted column mean becomes the centre of the
        parametrisation (see ``fit``); the steps on a chunk equal ``fit``'s
        on the same rows when the centre, the step and the batches agree
        (one chunk holding the whole data, ``shuffle=False``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        total_sample_weight : float, default=None
            The total weight ``W`` of the whole stream, which spreads the
            penalty over the steps; without it, W is the weight seen so far.

        Returns
        -------
        self : SGDFRegressor
        """
        self._check_params()
        if self.alpha == "online":
            raise ValueError(
                "alpha='online' needs fit (it holds out a validation set)."
            )
        first = not hasattr(self, "_state")
        X, y, w = self._validate_fit_data(X, y, sample_weight, reset=first)
        if total_sample_weight is not None:
            check_positive(total_sample_weight, "total_sample_weight")
        if first:
            self._init_state(X.shape[1])
            self.n_iter_ = 0
            self._seen = 0.0
        self._alpha_now = float(self.alpha)
        self._seen += float(w.sum())
        self._W = float(total_sample_weight) if total_sample_weight else self._seen
        Xm = self._center_on(X, w) if first else np.asarray(X @ self._state.center)
        self._set_eta0(X, w, Xm)
        rng = check_random_state(self.random_state)
        self._epoch(X, Xm, y, w, rng, shuffle=False)
        self.n_iter_ += 1
        self._check_divergence(self._full_pass(X, Xm, y, w)["objective"], None)
        self._finish(X, y, w)
        return self

    def _init_state(self, n_features):
        self._state = DualSGDState(n_features, self.fit_intercept, tangent=self.tangent)
        self._seen = 0.0
        self._eta0 = None
        self._batch = None
        self.t_ = 0
        self._eta_scale = 1.0
        self._since_shrink = 0
        self._adam = None

    def _center_on(self, X, w):
        """Centre the parametrisation on the weighted column mean; X @ m."""
        st = self._state
        if self.fit_intercept:
            st.set_center(np.asarray(X.T @ w).ravel() / w.sum())
        return np.asarray(X @ st.center)

    def _set_eta0(self, X, w, Xm):
        """The step: ``eta0``, or ``1 / (L + 2 alpha/W + C/m)`` for "auto".

        ``L`` is the largest curvature of the centred, weight-averaged data
        term, ``C`` the largest curvature of one row (``2‖x_i - m‖²`` plus the
        intercept's) and ``m`` the batch size: the mini-batch step that stays
        stable (Gower et al. 2019's expected smoothness), ``1/L`` for full
        batches. The intercept's step is scaled so that its curvature is L.
        """
        if self._eta0 is not None:
            return
        st = self._state
        st_m = st.center
        if sp.issparse(X):  # ‖x - m‖² = ‖x‖² - 2 xᵀm + ‖m‖², no densified rows
            spread = np.maximum(row_sq_norms(X) - 2.0 * Xm + st.mm, 0.0)
        else:  # centred blocks: no cancellation, no copy of X
            spread = np.concatenate(
                [
                    row_sq_norms(X[i : i + _BLOCK] - st_m)
                    for i in range(0, X.shape[0], _BLOCK)
                ]
            )
        self._trace = float(w @ spread)  # Σ w ‖x - m‖²: scale of X_cᵀ w y
        n = X.shape[0]
        if self.eta0 != "auto":
            self._eta0 = float(self.eta0)
            self._curv = None
            self._batch = n if self.batch_size == "auto" else self.batch_size
            return
        L = centered_curvature(X, w, st_m) if self._trace > 0 else 0.0
        st.omega = L / 2.0 if L > 0 and self.fit_intercept else 1.0
        L = max(L, 2.0 * st.omega if self.fit_intercept else L)
        C = 2.0 * (float(spread.max()) + (st.omega if self.fit_intercept else 0.0))
        self._curv = (L, C)
        self._eta0 = 1.0
        if self.batch_size != "auto":
            self._batch = self.batch_size
        elif L <= 0:
            self._batch = n
        else:  # the critical batch: larger batches no longer allow longer steps
            self._batch = int(min(n, max(_MIN_AUTO_BATCH, np.ceil(C / L))))

    def _eta(self):
        eta = self._eta0
        if self._curv is not None:
            L, C = self._curv
            denominator = L + 2.0 * self._alpha_now / self._W + C / self._batch
            eta = 1.0 / denominator if denominator > 0 else 1.0
        if self.learning_rate == "invscaling":
            return eta / (self.t_ + 1) ** self.power_t
        return eta * self._eta_scale

    def _epoch(self, X, Xm, y, w, rng, shuffle=None):
        n = X.shape[0]
        batch = min(self._batch, n)
        shuffle = (self.shuffle if shuffle is None else shuffle) and batch < n
        # draw each batch's rows from a permutation: no copy of X per epoch
        order = None
        if shuffle:  # int32 indices when they fit: half the memory of a permutation
            order = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
            rng.shuffle(order)
        st = self._state
        interval = self.regularizer_interval or int(np.ceil(n / batch))
        # ceil(n / batch) batches of equal size (to one row): no short last
        # batch, whose curvature the step was not chosen for
        bounds = np.linspace(0, n, -(-n // batch) + 1).astype(np.int64)
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            rows = slice(start, stop)
            if order is not None:
                rows = np.sort(order[rows])
            Xb, yb, wb, Xbm = X[rows], y[rows], w[rows], Xm[rows]
            if wb.sum() <= 0:
                continue
            eta = self._eta()
            s = self._alpha_now
            pred, xdot = st.responses(Xb, Xbm)
            _, grad, curv = loss_terms(self.loss, self.epsilon, pred - yb)
            hess_dot = curv * xdot if xdot is not None else None
            if self.regularizer_schedule == "continuous":
                st.shrink(eta, s, self._W)
            if self.learning_rate == "adam":
                self._adam = adam_step(st, self._adam, Xb, grad, hess_dot, wb, eta)
            else:
                st.data_step(Xb, Xbm, grad, hess_dot, wb, eta)
            self.t_ += 1
            if self.regularizer_schedule == "intermittent":
                self._since_shrink += 1
                if self._since_shrink >= interval:
                    st.shrink(eta, s, self._W, times=self._since_shrink)
                    self._since_shrink = 0
        st._sync()  # mᵀu and mᵀv afresh: no drift of the incremental sums

    def _full_batch_phase(self, n):
        """Whether "auto" batches have grown to the whole data set: the
        steps are then deterministic and take Nesterov's momentum."""
        return (
            self.batch_size == "auto"
            and self._batch >= n
            and self._curv is not None
            and self.learning_rate in ("constant", "adaptive")
        )

    def _full_pass(self, X, Xm, y, w):
        """Objective and stationarity bounds (see ``_dual_sgd.stationarity``)."""
        return stationarity(
            self._state,
            X,
            Xm,
            y,
            w,
            alpha=self._alpha_now,
            loss=self.loss,
            epsilon=self.epsilon,
            total_weight=self._W,
            trace=self._trace,
        )

    def _settled(self, stats):
        """Whether θ and θ̇ are close enough to θ*(s), θ̇*(s) to trust the
        hypergradient.

        Stationarity residuals on the training data, each relative to its
        right-hand side: ``‖∇f(θ)‖ / ‖2sθ‖`` (the optimisation error in units
        of ``s θ̇``, the path's step per unit log s; the hypergradient's
        zero then moves by about this much in log s) and ``‖Hθ̇ + 2θ‖ /
        ‖2θ‖``, from the epoch's pass over the data.
        """
        st = self._state
        s = self._alpha_now
        rhs = 2.0 * np.linalg.norm(st.coef)
        if rhs == 0.0:
            return False
        opt = np.hypot(np.linalg.norm(stats["g"]), stats["g_b"]) / (s * rhs)
        tan = np.hypot(np.linalg.norm(stats["r"]), stats["r_b"]) / rhs
        return max(opt, tan) <= _ONLINE_SETTLED

    def _online_alpha_step(self, X_val, y_val):
        """One Rprop step on log s from the whole held-out set's hypergradient.

        ``d L_val / d log s = s σ_valᵀ θ̇`` (mean over the validation set). Only
        its sign is used: the step in log s grows by 1.2 while the sign
        holds and halves when it flips, so the rate is scale-free and settles
        where the hypergradient changes sign (the validation optimum).
        """
        st = self._state
        pred, xdot = st.responses(X_val, np.asarray(X_val @ st.center))
        _, grad, _ = loss_terms(self.loss, self.epsilon, pred - y_val)
        s = self._alpha_now
        g = s * float(np.mean(grad * xdot))  # d L_val / d log s
        step, last = self._alpha_rprop
        if last * g < 0:
            step *= 0.5
        elif last * g > 0:
            step *= 1.2
        step = float(np.clip(step, 1e-4, 2.0))
        self._alpha_rprop = (step, g)
        # keep the shrink factor 1 - 2 eta alpha / W above 1/2
        cap = 0.25 * self._W / self._eta()
        new = float(min(s * np.exp(-np.sign(g) * step), cap))
        # follow the path: θ*(s') ≈ θ + (log s' - log s) s θ̇, first order in log s
        dlog = np.log(new / s)
        if st.tangent:
            st.move_along_tangent(dlog * s)
        self._alpha_now = new

    def _check_divergence(self, loss, first_loss):
        st = self._state
        finite = np.isfinite(loss) and np.isfinite(st.c) and np.isfinite(st.d)
        exploding = first_loss is not None and loss > _DIVERGENCE_FACTOR * max(
            first_loss, 1e-300
        )
        if not finite or exploding:
            raise ValueError(
                f"SGDFRegressor diverged (objective {loss:.3g}) with "
                f"learning_rate={self.learning_rate!r}, eta0={self.eta0!r} "
                f"(step {self._eta():.3g}): lower eta0 (or use eta0='auto', "
                "or scale X and y)."
            )

    def _solve_tangent_cg(self, X, w):
        st = self._state
        st.renormalise()
        x_mean = (
            np.asarray(X.T @ w).ravel() / w.sum()
            if self.fit_intercept
            else np.zeros(X.shape[1])
        )
        design = CenteredDesign(X, x_mean, w)
        A = design.normal_operator(self._alpha_now)
        tangent, _ = solve_cg(
            A, -st.u, tol=1e-10, max_iter=10 * X.shape[1], what="tangent (cg)"
        )
        st.set_tangent(tangent, -x_mean @ tangent if self.fit_intercept else 0.0)

    def _finish(self, X, y, w):
        st = self._state
        st.renormalise()  # θ = u, θ̇ = v
        self.coef_ = st.u.copy()
        self.coef_tangent_ = st.v.copy()
        self.intercept_ = float(st.intercept)
        self.intercept_tangent_ = float(st.intercept_tangent)
        self.alpha_ = float(self._alpha_now)
        rss = blocked_sum(
            X,
            lambda Xb, rows: (
                w[rows] @ (np.asarray(Xb @ self.coef_) + self.intercept_ - y[rows]) ** 2
            ),
        )
        self.noise_variance_ = float(rss) / float(w.sum())
        self._noise_variance = np.array([self.noise_variance_])
        self._y_ndim = 1
        self._spectral = None

    # -------------------------------------------------------- tangent
    def refine_tangent(self, X, y, n_iter=10, sample_weight=None, eta=None):
        """LiSSA with a step size: θ frozen, only θ̇ is updated.

        Each epoch runs ``θ̇ ← θ̇ - η (H_B θ̇ + (2/W)(θ + alpha θ̇))`` over
        the mini-batches in order (paper section 3.6), on the centred rows
        of ``fit``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        n_iter : int, default=10
            Epochs.
        sample_weight : array-like of shape (n_samples,), default=None
        eta : float, default=None
            Step size (None: the current learning rate).

        Returns
        -------
        self : SGDFRegressor
        """
        check_is_fitted(self)
        X, y, w = self._validate_fit_data(X, y, sample_weight, reset=False)
        n_iter = check_positive(n_iter, "n_iter", kind=numbers.Integral)
        st = self._state
        if not st.tangent:
            raise ValueError("refine_tangent needs tangent=True.")
        eta = self._eta() if eta is None else check_positive(eta, "eta")
        W = float(w.sum())
        s = self._alpha_now
        rho = 1.0 - 2.0 * eta * s / W
        if rho <= 0:
            raise ValueError(
                f"eta={eta:g} times 2*alpha/W={2 * s / W:g} is >= 1: lower eta."
            )
        Xm = np.asarray(X @ st.center)
        batch = min(self._batch or X.shape[0], X.shape[0])
        for _ in range(n_iter):
            for start in range(0, X.shape[0], batch):
                rows = slice(start, start + batch)
                Xb, yb, wb = X[rows], y[rows], w[rows]
                pred, xdot = st.responses(Xb, Xm[rows])
                _, _, curv = loss_terms(self.loss, self.epsilon, pred - yb)
                # shrink the tangent only: θ̇ ← ρ θ̇ - (2η/W) θ, θ unchanged
                scale_tangent(st, rho, 2.0 * eta / W)
                st.data_step(
                    Xb, Xm[rows], None, curv * xdot, wb, eta, update_theta=False
                )
        self._finish(X, y, w)
        return self

    # ----------------------------------------------------- prediction
    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(
            self, X, accept_sparse="csr", dtype=np.float64, reset=False
        )

    def predict(self, X):
        """Predict with the current weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._unravel_rows(self._predict_raw(self._validate_X(X)))

    # ----------------------------------------- hooks of RegularityMixin
    def _loss_gradient(self, r):
        return loss_terms(self.loss, self.epsilon, r)[1]

    def _no_decomposition_advice(self):
        return (
            "needs (X̃ᵀWX̃ + sP)⁻¹, which SGDFRegressor does not keep; use "
            "heuristic='sld' (and batch='topk' for batches) or RegularityRidge."
        )
