"""SGDFRegressor: stochastic gradient descent carrying the regularity tangent
as a dual number (docs/math.rst, :ref:`math-sgdf`; paper section 3.5-3.7).

The estimator validates its parameters into :class:`skrt._sgdf_solver.SGDSettings`
and keeps one :class:`skrt._sgdf_solver.SGDFitState` in ``_sgd``; the solver
functions of :mod:`skrt._sgdf_solver` run the epochs on it, and ``_finish``
assigns every fitted attribute from it.
"""

from __future__ import annotations

import numbers
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._array_api import DEVICE_ESTIMATORS, refuse_device_arrays
from ._base import TangentMixin, WeightsOnlyMixin
from ._dual_sgd import blocked_sum, loss_terms
from ._fit_log import FitLog, check_verbose, seconds
from ._sgdf_dask import RowChunks, is_dask_collection
from ._sgdf_solver import (
    SGDFitState,
    SGDSettings,
    begin_chunk,
    begin_fit,
    check_divergence,
    full_pass,
    hold_out,
    refine_tangent_epochs,
    run_epoch,
    run_fit,
    run_streamed_fit,
    solve_tangent_cg,
)
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


class SGDFRegressor(WeightsOnlyMixin, TangentMixin, RegressorMixin, BaseEstimator):
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
        Largest number of epochs of ``fit`` (a full-batch step counts as
        one); any integer type (``numbers.Integral``, e.g. ``np.int64``).
    tol : float or None, default=1e-4
        Stopping threshold of ``fit`` on a bound of the relative distance to
        the optimum. After each epoch one pass over the data forms the
        gradient ``g`` of ``F = Σ_i w_i L(f(x_i) - y_i) + alpha ‖θ‖²`` in θ
        and the tangent's residual ``r = ∇²F θ̇ + 2θ``; F's curvature in θ
        is at least ``2 alpha``, so ``‖θ - θ*‖ <= ‖g‖ / (2 alpha)`` and
        ``‖θ̇ - θ̇*‖ <= (‖r‖ + ‖g‖ / alpha) / (2 alpha)``. Fitting stops
        when each bound divided by ``‖θ‖`` (resp. ``‖θ̇‖``), and the
        intercept's ``|∂F/∂β| / (2W)`` divided by ``|β| + ‖m‖‖θ‖`` (and its
        tangent's alike; ``β`` the intercept of the centred model, ``W = Σ_i w_i``
        the training weight), is at most ``tol`` (each denominator floored at
        ``1e-12`` of the data's scale, for a zero optimum). ``tol`` is also
        the relative improvement of the epoch objective below which an epoch
        counts as stalled (see ``n_iter_no_change``); a fixed batch that
        stalls first stops with a ``ConvergenceWarning``, as does reaching
        ``max_iter``. None runs ``max_iter`` epochs without either check.
        Not used by ``alpha="online"`` (``max_iter`` epochs run) nor by
        ``partial_fit`` (one epoch per call).
    n_iter_no_change : int, default=5
        Stalled epochs before the batch grows (or the step shrinks, or a
        fixed batch stops).
    shuffle : bool, default=True
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        ``fit`` continues from the solver state of the last ``fit`` or
        ``partial_fit`` (θ, θ̇, the step and batch size set by the first
        call, the optimiser's buffers, the step count ``t_``); the centre
        moves to the new data's weighted column mean, the model unchanged.
    verbose : int, default=0
        0 writes nothing; 1 writes progress lines on stderr: the problem's
        size, one line per epoch (objective, step, batch, alpha, error
        bound), the outcome and its time; ``partial_fit`` and
        ``refine_tangent`` write one line per call.
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
        ``Σ_i w_i (x_iᵀθ + b - y_i)² / Σ_i w_i``: the weighted mean squared
        training residual, for either loss, over the rows of the last call
        of ``fit`` (without the held-out rows of ``alpha="online"``),
        ``partial_fit`` (its chunk) or ``refine_tangent``. No
        degrees-of-freedom correction (RegularityRidge divides by ``Σw -
        df``): the leverages are not available.
    n_iter_ : int
        Epochs run by the last ``fit`` (a full-batch step counts as one), or
        the number of ``partial_fit`` calls since the state was created (each
        is one epoch). ``refine_tangent`` leaves it unchanged.
    n_samples_fit_ : int
        Training rows behind the weights (zero-weight rows included): the
        rows of the last ``fit`` (without the held-out rows of
        ``alpha="online"``), plus the rows of every ``partial_fit`` chunk
        since (or since the first ``partial_fit`` call).
        ``refine_tangent`` leaves it unchanged.
    t_ : int
        Steps taken (mini-batch and full-batch) since the solver state was
        created: it accumulates over ``partial_fit`` calls and
        ``warm_start`` fits.
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
        check_verbose(self.verbose)

    def _validate_fit_data(self, X, y, sample_weight, reset):
        refuse_device_arrays(
            "SGDFRegressor", DEVICE_ESTIMATORS, X=X, y=y, sample_weight=sample_weight
        )
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

    def _settings(self):
        """The solver's view of the (checked) parameters."""
        return SGDSettings(
            loss=self.loss,
            epsilon=self.epsilon,
            fit_intercept=self.fit_intercept,
            learning_rate=self.learning_rate,
            eta0=self.eta0,
            power_t=self.power_t,
            batch_size=self.batch_size,
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            shuffle=self.shuffle,
            regularizer_schedule=self.regularizer_schedule,
            regularizer_interval=self.regularizer_interval,
            tangent=self.tangent,
            online=self.alpha == "online",
            verbose=check_verbose(self.verbose),
        )

    # -------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None):
        """Fit θ and θ̇ by SGD until they are stationary (or ``max_iter``).

        A dask X (``dask.array`` or ``dask.dataframe``) is streamed, never
        held in memory whole: each epoch runs ``partial_fit``'s steps on
        every row chunk with ``W`` the whole data's weight (the chunks in a
        random order and the rows shuffled within each when ``shuffle``),
        then one more pass over the chunks sums the stopping bounds; the
        first chunk's weighted mean is the centre; an ``"auto"`` batch
        grows to the largest chunk, then to the whole data (full-batch
        steps with momentum, one pass each). At most two chunks are in
        memory at a time (the next one is computed while the current one is
        fitted). ``alpha="online"`` and ``tangent_solver="cg"`` need X in
        memory (ValueError). See docs/dask.rst.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
        y : array-like or dask array of shape (n_samples,)
            With a dask X: a dask y is taken chunk by chunk (rechunked like
            X's rows if its chunks differ), an in-memory y sliced at X's
            chunk boundaries.
        sample_weight : array-like or dask array of shape (n_samples,), default=None
            As y.

        Returns
        -------
        self : SGDFRegressor
        """
        if is_dask_collection(X):
            return self._fit_chunks(X, y, sample_weight)
        self._check_params()
        cfg = self._settings()
        log = FitLog(cfg.verbose, "SGDFRegressor")
        started = time.perf_counter()
        X, y, w = self._validate_fit_data(X, y, sample_weight, reset=True)
        log(
            f"{X.shape[0]} samples x {X.shape[1]} features"
            f"{' (sparse)' if sp.issparse(X) else ''}, alpha={self.alpha!r}, "
            f"learning_rate={self.learning_rate!r}, at most {self.max_iter} epochs"
        )
        rng = check_random_state(self.random_state)
        if not (self.warm_start and hasattr(self, "_sgd")):
            self._sgd = SGDFitState.new(X.shape[1], cfg)
        state = self._sgd
        validation = None
        if cfg.online:
            (X, y, w), validation = hold_out(X, y, w, self.validation_fraction, rng)
        alpha = self.alpha_init if cfg.online else self.alpha
        Xm = begin_fit(state, cfg, X, y, w, alpha, self.alpha_learning_rate)
        stop, error = run_fit(state, cfg, X, Xm, y, w, rng, validation)
        log(
            f"{stop or 'max_iter reached'} after {state.epochs} epochs "
            f"({state.steps} steps), error bound "
            f"{'n/a' if error is None else format(error, '.3g')}, alpha "
            f"{state.alpha:.4g}: {seconds(time.perf_counter() - started)}"
        )
        self._warn_outcome(cfg, stop, error)
        if cfg.tangent and self.tangent_solver == "cg":
            with log.timed("tangent by conjugate gradients"):
                solve_tangent_cg(state, cfg, X, w)
        self._finish(X, y, w, n_samples=X.shape[0])
        return self

    def _fit_chunks(self, X, y, sample_weight):
        """``fit`` on a dask X, streamed chunk by chunk (docs/dask.rst)."""
        self._check_params()
        cfg = self._settings()
        if cfg.online:
            raise ValueError(
                "alpha='online' holds out a random validation set in memory: "
                "not on a dask X; use a fixed alpha (or RegularityRidge("
                "alpha='loo'), which fits dask arrays exactly)."
            )
        if cfg.tangent and self.tangent_solver == "cg":
            raise ValueError(
                "tangent_solver='cg' needs X in memory: not on a dask X; use "
                "tangent_solver='sgd'."
            )
        log = FitLog(cfg.verbose, "SGDFRegressor")
        started = time.perf_counter()
        chunks = RowChunks(X, y, sample_weight)
        W = chunks.total_weight()
        if not W > 0:
            raise ValueError(f"sample_weight must have a positive sum; got {W!r}.")
        shape = (chunks.n_rows, chunks.n_chunks, max(chunks.sizes))
        log(
            f"{shape[0]} samples in {shape[1]} dask chunks, alpha={self.alpha!r}, "
            f"learning_rate={self.learning_rate!r}, at most {self.max_iter} epochs"
        )

        def stream(order, first):
            for k, (Xc, yc, wc) in enumerate(chunks(order)):
                yield self._validate_fit_data(Xc, yc, wc, reset=first and k == 0)

        rng = check_random_state(self.random_state)
        if not (self.warm_start and hasattr(self, "_sgd")):
            self._sgd = SGDFitState.new(X.shape[1], cfg)
        stop, error, rss = run_streamed_fit(
            self._sgd, cfg, stream, shape, self.alpha, W, rng
        )
        state = self._sgd
        log(
            f"{stop or 'max_iter reached'} after {state.epochs} epochs "
            f"({state.steps} steps), error bound {error:.3g}: "
            f"{seconds(time.perf_counter() - started)}"
        )
        self._warn_outcome(cfg, stop, error)
        self._finish(None, None, None, n_samples=shape[0], noise_variance=rss / W)
        return self

    def _warn_outcome(self, cfg, stop, error):
        """A ConvergenceWarning for a fit that stopped short of ``tol``, or
        an online alpha that never moved."""
        if cfg.online:
            if self._sgd.rprop[1] == 0.0:
                warnings.warn(
                    "alpha='online' took no step: θ and θ̇ never came close "
                    "enough to stationarity to trust the held-out hypergradient "
                    "(SGD noise or too few epochs); alpha_ stays "
                    f"alpha_init={self.alpha_init!r}. Increase max_iter or "
                    "batch_size, or use a decaying learning_rate.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
            return
        if cfg.tol is None or stop == "converged":
            return
        where = (
            f"stalled at the noise floor of batch_size={self._sgd.batch} with "
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
        (one chunk holding the whole data, ``shuffle=False``). ``tol`` and
        ``n_iter_no_change`` play no part: each call is one epoch.

        A dask X (``dask.array`` or ``dask.dataframe``) is one call per row
        chunk (partition), in order, each chunk computed (the next one while
        the current one is fitted) and passed as numpy (pandas for a
        DataFrame) with its rows of y and ``sample_weight``: the same
        attributes as those calls on the computed chunks (``n_iter_`` counts
        one per chunk), at most two chunks in memory. dask-ml's
        ``Incremental(SGDFRegressor(...), shuffle_blocks=False).fit(X, y)``
        makes the same calls on the workers (docs/dask.rst).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
        y : array-like or dask array of shape (n_samples,)
            With a dask X: a dask y is taken chunk by chunk (rechunked like
            X's rows if its chunks differ), an in-memory y sliced at X's
            chunk boundaries.
        sample_weight : array-like or dask array of shape (n_samples,), default=None
            As y.
        total_sample_weight : float, default=None
            The total weight ``W`` of the whole stream, which spreads the
            penalty over the steps; without it, W is the weight seen so far.

        Returns
        -------
        self : SGDFRegressor
        """
        if is_dask_collection(X):  # one call per row chunk, in order
            for Xc, yc, wc in RowChunks(X, y, sample_weight)():
                self.partial_fit(Xc, yc, wc, total_sample_weight=total_sample_weight)
            return self
        self._check_params()
        cfg = self._settings()
        if cfg.online:
            raise ValueError(
                "alpha='online' needs fit (it holds out a validation set)."
            )
        first = not hasattr(self, "_sgd")
        X, y, w = self._validate_fit_data(X, y, sample_weight, reset=first)
        if total_sample_weight is not None:
            check_positive(total_sample_weight, "total_sample_weight")
        if first:
            self._sgd = SGDFitState.new(X.shape[1], cfg)
        state = self._sgd
        Xm = begin_chunk(state, cfg, X, y, w, self.alpha, total_sample_weight, first)
        rng = check_random_state(self.random_state)
        run_epoch(state, cfg, X, Xm, y, w, rng, shuffle=False)
        state.epochs += 1
        objective = full_pass(state, cfg, X, Xm, y, w)["objective"]
        check_divergence(state, cfg, objective, None)
        FitLog(cfg.verbose, "SGDFRegressor")(
            f"partial_fit {state.epochs}: {X.shape[0]} rows, objective/W "
            f"{objective:.6g}, eta {state.eta(cfg):.3g}, steps {state.steps}"
        )
        seen = 0 if first else self.n_samples_fit_
        self._finish(X, y, w, n_samples=seen + X.shape[0])
        return self

    def _finish(self, X, y, w, n_samples, noise_variance=None):
        """Assign every fitted attribute from the solver state; ``n_samples``
        is the new ``n_samples_fit_`` (the rows behind the weights); the
        ``noise_variance`` given, or the one of (X, y, w)."""
        state = self._sgd
        st = state.dual
        st.renormalise()  # θ = u, θ̇ = v
        self.coef_ = st.u.copy()
        self.coef_tangent_ = st.v.copy()
        self.intercept_ = float(st.intercept)
        self.intercept_tangent_ = float(st.intercept_tangent)
        self.alpha_ = float(state.alpha)
        self.n_iter_ = int(state.epochs)
        self.t_ = int(state.steps)
        self.n_samples_fit_ = int(n_samples)
        self._y_ndim = 1
        if noise_variance is not None:
            self.noise_variance_ = float(noise_variance)
            return
        rss = blocked_sum(
            X,
            lambda Xb, rows: (
                w[rows] @ (np.asarray(Xb @ self.coef_) + self.intercept_ - y[rows]) ** 2
            ),
        )
        self.noise_variance_ = float(rss) / float(w.sum())

    # -------------------------------------------------------- tangent
    def refine_tangent(self, X, y, n_iter=10, sample_weight=None, eta=None):
        """LiSSA with a step size: θ frozen, only θ̇ is updated.

        Each epoch runs ``θ̇ ← θ̇ - η (H_B θ̇ + (2/W)(θ + alpha θ̇))`` over
        the mini-batches in order (paper section 3.6), on the centred rows
        of ``fit``; a step on sparse rows costs O(nnz of the batch).
        ``n_iter_`` and ``t_`` are unchanged; ``noise_variance_`` is
        recomputed on the rows given.

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
        state = self._sgd
        if not state.dual.tangent:
            raise ValueError("refine_tangent needs tangent=True.")
        if eta is not None:
            eta = check_positive(eta, "eta")
        cfg = self._settings()
        log = FitLog(cfg.verbose, "SGDFRegressor")
        with log.timed(f"refine_tangent: {n_iter} epochs on {X.shape[0]} rows"):
            refine_tangent_epochs(state, cfg, X, y, w, n_iter, eta)
        self._finish(X, y, w, n_samples=self.n_samples_fit_)
        return self

    # ----------------------------------------------------- prediction
    def _validate_X(self, X):
        check_is_fitted(self)
        refuse_device_arrays("SGDFRegressor", DEVICE_ESTIMATORS, X=X)
        return validate_data(
            self, X, accept_sparse="csr", dtype=np.float64, reset=False
        )

    def predict(self, X):
        """Predict with the current weights.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            A lazy dask array, chunked like X's rows, for a dask array X.
        """
        if is_dask_collection(X):
            if not hasattr(X, "map_blocks") or X.ndim != 2:
                raise TypeError(
                    "X must be a 2-d dask array (rows x features) for a lazy "
                    f"prediction; got a {type(X).__name__}"
                    + (f" with {X.ndim} dimension(s)" if hasattr(X, "ndim") else "")
                    + " (a dask DataFrame: X.to_dask_array(lengths=True))."
                )
            check_is_fitted(self)
            if X.numblocks[1] > 1:
                X = X.rechunk({1: -1})
            return X.map_blocks(
                self.predict, drop_axis=1, dtype=np.float64, meta=np.empty(0)
            )
        return self._unravel_rows(self._predict_raw(self._validate_X(X)))

    # ------------------------------------------- hooks of TangentMixin
    def _loss_gradient(self, r):
        return loss_terms(self.loss, self.epsilon, r)[1]

    def _no_decomposition_advice(self):
        return (
            "needs (X̃ᵀWX̃ + sP)⁻¹, which SGDFRegressor does not keep; use "
            "heuristic='sld' (and batch='topk' for batches) or RegularityRidge."
        )
