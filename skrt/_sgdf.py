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
_RENORMALISE_BELOW = 1e-9
_DIVERGENCE_FACTOR = 1e8
_ONLINE_SETTLED = 0.25  # stationarity residuals that allow an alpha step


class DualSGDState:
    """θ and θ̇ with lazy L2 shrinkage: ``θ = c u``, ``θ̇ = c v + d θ``.

    One step on a mini-batch (rows ``Xb``, targets ``yb``, weights ``wb``)
    with step ``eta`` performs, from the old θ and θ̇,

    .. math::

        \\theta \\leftarrow \\theta - \\eta \\big(g + \\tfrac{2s}{W}\\theta\\big),
        \\quad \\dot\\theta \\leftarrow \\dot\\theta - \\eta \\big(H_B\\dot\\theta
            + \\tfrac{2}{W}\\theta + \\tfrac{2s}{W}\\dot\\theta\\big),

    with ``g`` and ``H_B θ̇`` the batch's weight-averaged loss gradient and
    Hessian-vector product (SGD on the objective divided by the total
    weight ``W``). The shrinkage only touches the scalars ``c`` and ``d``;
    the data part touches the batch's columns of ``u`` and ``v``, so a step
    on sparse rows costs O(nnz of the batch). The intercept is unpenalised.
    """

    def __init__(self, n_features, fit_intercept, tangent=True):
        self.UV = np.zeros((2, n_features))  # rows u and v, each contiguous
        self.c = 1.0
        self.d = 0.0
        self.b = 0.0
        self.b_dot = 0.0
        self.fit_intercept = fit_intercept
        self.tangent = tangent

    @property
    def u(self):
        return self.UV[0]

    @property
    def v(self):
        return self.UV[1]

    @property
    def coef(self):
        return self.c * self.u

    @property
    def coef_tangent(self):
        return self.c * self.v + self.d * self.coef

    def set_tangent(self, coef_tangent):
        """Replace θ̇ (θ unchanged)."""
        self.UV[1] = np.asarray(coef_tangent) / self.c
        self.d = 0.0

    def move_along_tangent(self, ds):
        """θ ← θ + ds θ̇ and b ← b + ds ḃ, θ̇ unchanged (O(n_features))."""
        self.renormalise()  # c = 1, d = 0: θ = u, θ̇ = v
        self.UV[0] += ds * self.UV[1]
        self.b += ds * self.b_dot

    def renormalise(self):
        """Fold c and d into u and v (O(n_features), rarely)."""
        self.UV *= self.c  # in place: no copy of the model
        if self.d != 0.0:
            self.UV[1] += self.d * self.UV[0]
        self.c, self.d = 1.0, 0.0

    def shrink(self, eta, s, W, times=1):
        """The penalty part of ``times`` steps: c ← ρc, d ← d - 2η/(Wρ)."""
        rho = 1.0 - 2.0 * eta * s / W
        if rho <= 0:
            raise ValueError(
                f"the step eta={eta:g} times 2*alpha/W={2 * s / W:g} is >= 1: "
                "the L2 shrinkage would flip the weights; lower eta0"
            )
        self.c *= rho**times
        if self.tangent:
            self.d -= times * 2.0 * eta / (W * rho)
        if abs(self.c) < _RENORMALISE_BELOW:
            self.renormalise()

    def responses(self, Xb):
        """Xb θ + b and Xb θ̇ + ḃ from one product with [u, v]."""
        pred = self.c * np.asarray(Xb @ self.UV[0]) + self.b  # O(nnz of the batch)
        if not self.tangent:
            return pred, None
        xdot = (
            self.c * np.asarray(Xb @ self.UV[1]) + self.d * (pred - self.b) + self.b_dot
        )
        return pred, xdot

    def data_step(self, Xb, residual_grad, hess_dot, wb, eta, update_theta=True):
        """θ ← θ - η g, θ̇ ← θ̇ - η H_B θ̇ on the batch's columns.

        ``residual_grad`` is dL/df per row and ``hess_dot`` d²L/df² · ẋ per
        row; both are weight-averaged over the batch. On sparse rows the
        product back touches only the batch's columns.
        """
        wsum = wb.sum()
        a = wb * residual_grad / wsum if update_theta else None  # per-row weights
        h = wb * hess_dot / wsum if self.tangent else None
        # Δu = -η g / c and Δv = -η (H θ̇) / c - d Δθ / c with Δθ = -η g
        coef_u = -eta * a / self.c if update_theta else 0.0
        coef_v = 0.0
        if self.tangent:
            coef_v = -eta * h / self.c
            if update_theta:
                coef_v = coef_v + self.d * eta * a / self.c
        if sp.issparse(Xb):
            self._sparse_update(Xb, coef_u, coef_v)
        else:
            rows = np.column_stack(
                [np.broadcast_to(coef_u, wb.shape), np.broadcast_to(coef_v, wb.shape)]
            )
            self.UV += (Xb.T @ rows).T
        if update_theta and self.fit_intercept:
            self.b -= eta * a.sum()
        if self.tangent and self.fit_intercept:
            self.b_dot -= eta * h.sum()

    def _sparse_update(self, Xb, coef_u, coef_v):
        """u[j] += Σ_rows Xb[row, j] coef_u[row] (and v alike), O(nnz)."""
        m = Xb.shape[0]
        rows = np.repeat(np.arange(m), np.diff(Xb.indptr))
        for k, coef in enumerate((coef_u, coef_v)):
            if np.ndim(coef) == 0 and coef == 0.0:
                continue
            coef = np.broadcast_to(coef, (m,))
            np.add.at(self.UV[k], Xb.indices, Xb.data * coef[rows])


_BLOCK = 4096  # rows per block for whole-data passes: no n-sized temporaries


def _blocked_sum(X, fn, block=_BLOCK):
    """Σ over row blocks of ``fn(X_block, rows)``; peak memory O(block)."""
    return float(
        sum(
            fn(X[start : start + block], slice(start, start + block))
            for start in range(0, X.shape[0], block)
        )
    )


def _row_sq_norms(X):
    """‖x_i‖² per row of one block (no copy of a large sparse block)."""
    if not sp.issparse(X):
        return np.einsum("ij,ij->i", X, X)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    return np.bincount(rows, weights=X.data**2, minlength=X.shape[0])


def _loss_terms(loss, epsilon, r):
    """Loss value, dL/df and d²L/df² per row for residuals r = f - y."""
    if loss == "squared_error":
        return r**2, 2.0 * r, np.full_like(r, 2.0)
    inside = np.abs(r) <= epsilon
    value = np.where(inside, r**2, 2.0 * epsilon * np.abs(r) - epsilon**2)
    grad = np.where(inside, 2.0 * r, 2.0 * epsilon * np.sign(r))
    return value, grad, np.where(inside, 2.0, 0.0)


class SGDFRegressor(WeightsOnlyMixin, RegularityMixin, RegressorMixin, BaseEstimator):
    """Linear regression by SGD that carries its regularity tangent.

    Minimises ``Σ_i w_i L(x_iᵀθ + b - y_i) + alpha ‖θ‖²`` — the same
    objective as :class:`~skrt.RegularityRidge` for the squared loss — by
    mini-batch SGD on the objective divided by the total weight, pushing the
    dual number ``θ + θ̇ d alpha`` through every step, so that ``θ̇ → dθ*/d
    alpha`` at only a constant extra cost (forward-mode differentiation).

    ``alpha`` here is *not* :class:`~sklearn.linear_model.SGDRegressor`'s:
    that one penalises the per-sample mean, ``(1/n) Σ L_i + a ‖θ‖²/2``
    (``penalty="l2"``, squared loss ``L/2``), so ``SGDRegressor(alpha=a)``
    matches ``SGDFRegressor(alpha=a * n / 2)`` for unit weights.

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
    learning_rate : {"constant", "invscaling", "adaptive", "adam"}, default="invscaling"
        As in SGDRegressor (``eta = eta0 / t**power_t`` for invscaling with
        ``t`` the step count; adaptive divides eta by 5 when the epoch loss
        stops improving); ``"adam"`` (dense X only) preconditions both the
        θ and the θ̇ steps by Adam's second-moment estimate of θ's gradient.
    eta0 : float or "auto", default="auto"
        Initial step. ``"auto"``: ``1 / (2 mean_i w_i‖x̃_i‖² / mean w + 2
        alpha / W)``, the inverse of a bound on the largest curvature of the
        averaged objective (its trace), so full-batch steps are stable on
        data of any scale.
    power_t : float, default=0.25
    batch_size : int, default=32
    max_iter : int, default=100
        Epochs.
    tol : float or None, default=1e-5
        Stop when the epoch objective has not improved by ``tol`` (relative)
        for ``n_iter_no_change`` epochs; None runs ``max_iter`` epochs.
    n_iter_no_change : int, default=5
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
        learning_rate="invscaling",
        eta0="auto",
        power_t=0.25,
        batch_size=32,
        max_iter=100,
        tol=1e-5,
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
        if sample_weight is None:  # unit weights: a read-only view, no memory
            w = np.broadcast_to(np.float64(1.0), (X.shape[0],))
        else:
            w = check_sample_weight(sample_weight, X.shape[0])
        return X, np.asarray(y, dtype=float), w

    # -------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None):
        """Fit θ and θ̇ by SGD over ``max_iter`` epochs.

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
        self._set_eta0(X, w)
        self.n_iter_ = 0
        best, stall = np.inf, 0
        first_loss = None
        for epoch in range(self.max_iter):
            self._epoch(X, y, w, rng, X_val, y_val)
            self.n_iter_ += 1
            if self.alpha == "online" and self._settled(X, y, w):
                self._online_alpha_step(X_val, y_val)
            loss = self._objective(X, y, w)
            first_loss = loss if first_loss is None else first_loss
            self._check_divergence(loss, first_loss)
            if self.verbose:
                print(
                    f"-- epoch {epoch + 1}: objective/W {loss:.6g}, "
                    f"eta {self._eta():.3g}, alpha {self._alpha_now:.4g}, "
                    f"steps {self.t_}"
                )
            if self.tol is None:
                continue
            if loss < best - self.tol * max(abs(best), 1e-12):
                best, stall = loss, 0
            else:
                stall += 1
                if self.learning_rate == "adaptive" and self._eta_scale > 1e-6:
                    if stall >= self.n_iter_no_change:
                        self._eta_scale /= 5.0
                        stall = 0
                        continue
                if stall >= self.n_iter_no_change:
                    break
        else:
            if self.tol is not None:
                warnings.warn(
                    f"SGDFRegressor did not converge in max_iter={self.max_iter} "
                    "epochs; increase max_iter (or tol).",
                    ConvergenceWarning,
                    stacklevel=2,
                )
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

    def partial_fit(self, X, y, sample_weight=None, *, total_sample_weight=None):
        """One pass over a chunk, continuing from the current state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        total_sample_weight : float, default=None
            The total weight ``W`` of the whole stream, which spreads the
            penalty over the steps. With it, chunks fed in the order ``fit``
            would see them (``shuffle=False``) reproduce ``fit`` exactly;
            without it, W is the weight seen so far.

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
        if first:
            self._init_state(X.shape[1])
            self.n_iter_ = 0
            self._seen = 0.0
        self._alpha_now = float(self.alpha)
        self._seen += float(w.sum())
        self._W = float(total_sample_weight) if total_sample_weight else self._seen
        self._set_eta0(X, w)
        rng = check_random_state(self.random_state)
        self._epoch(X, y, w, rng, None, None, shuffle=False)
        self.n_iter_ += 1
        self._check_divergence(self._objective(X, y, w), None)
        self._finish(X, y, w)
        return self

    def _init_state(self, n_features):
        self._state = DualSGDState(n_features, self.fit_intercept, tangent=self.tangent)
        self._seen = 0.0
        self._eta0 = None
        self.t_ = 0
        self._eta_scale = 1.0
        self._since_shrink = 0
        self._adam = None

    def _set_eta0(self, X, w):
        if self._eta0 is not None:
            return
        if self.eta0 != "auto":
            self._eta0 = float(self.eta0)
            return
        w_sq = _blocked_sum(
            X, lambda Xb, rows: w[rows] @ (_row_sq_norms(Xb) + self.fit_intercept)
        )
        curvature = 2.0 * w_sq / w.sum() + 2.0 * self._alpha_now / self._W
        self._eta0 = 1.0 / curvature

    def _eta(self):
        if self.learning_rate == "invscaling":
            return self._eta0 / (self.t_ + 1) ** self.power_t
        return self._eta0 * self._eta_scale

    def _epoch(self, X, y, w, rng, X_val, y_val, shuffle=None):
        n = X.shape[0]
        shuffle = self.shuffle if shuffle is None else shuffle
        # draw each batch's rows from a permutation: no copy of X per epoch
        order = None
        if shuffle:  # int32 indices when they fit: half the memory of a permutation
            order = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
            rng.shuffle(order)
        st = self._state
        interval = self.regularizer_interval or int(np.ceil(n / self.batch_size))
        for start in range(0, n, self.batch_size):
            rows = slice(start, start + self.batch_size)
            if order is not None:
                rows = np.sort(order[rows])
            Xb, yb, wb = X[rows], y[rows], w[rows]
            if wb.sum() <= 0:
                continue
            eta = self._eta()
            s = self._alpha_now
            pred, xdot = st.responses(Xb)
            _, grad, curv = _loss_terms(self.loss, self.epsilon, pred - yb)
            hess_dot = curv * xdot if xdot is not None else None
            if self.regularizer_schedule == "continuous":
                st.shrink(eta, s, self._W)
            if self.learning_rate == "adam":
                self._adam_step(Xb, grad, hess_dot, wb, eta, s)
            else:
                st.data_step(Xb, grad, hess_dot, wb, eta)
            self.t_ += 1
            if self.regularizer_schedule == "intermittent":
                self._since_shrink += 1
                if self._since_shrink >= interval:
                    st.shrink(eta, s, self._W, times=self._since_shrink)
                    self._since_shrink = 0

    def _adam_step(self, Xb, grad, hess_dot, wb, eta, s):
        """Adam on θ (dense); θ̇ takes the same preconditioned step."""
        st = self._state
        st.renormalise()  # adam works on θ and θ̇ directly
        if self._adam is None:
            self._adam = [np.zeros_like(st.u), np.zeros_like(st.u), 0]
        m, v, k = self._adam
        wsum = wb.sum()
        g = np.asarray(Xb.T @ (wb * grad)) / wsum
        k += 1
        m[:] = 0.9 * m + 0.1 * g
        v[:] = 0.999 * v + 0.001 * g**2
        precond = 1.0 / (np.sqrt(v / (1 - 0.999**k)) + 1e-8)
        st.UV[0] -= eta * precond * (m / (1 - 0.9**k))
        if st.tangent:
            h = np.asarray(Xb.T @ (wb * hess_dot)) / wsum
            st.UV[1] -= eta * precond * h
            if st.fit_intercept:
                st.b_dot -= eta * (wb @ hess_dot) / wsum
        if st.fit_intercept:
            st.b -= eta * (wb @ grad) / wsum
        self._adam[2] = k

    def _settled(self, X, y, w):
        """Whether θ and θ̇ are close enough to θ*(s), θ̇*(s) to trust the
        hypergradient.

        Stationarity residuals on the training data, each relative to its
        right-hand side: ``‖∇f(θ)‖ / ‖2sθ‖`` (the optimisation error in units
        of ``s θ̇``, the path's step per unit log s; the hypergradient's
        zero then moves by about this much in log s) and ``‖Hθ̇ + 2θ‖ /
        ‖2θ‖``. One pass over the data (O(nnz)).
        """
        st = self._state
        s = self._alpha_now
        pred, xdot = st.responses(X)
        _, grad, curv = _loss_terms(self.loss, self.epsilon, pred - y)
        back = np.asarray(X.T @ np.column_stack([w * grad, w * curv * xdot]))
        theta, theta_dot = st.coef, st.coef_tangent
        g_theta = back[:, 0] + 2.0 * s * theta
        r_tangent = back[:, 1] + 2.0 * s * theta_dot + 2.0 * theta
        g_b = r_b = 0.0
        if self.fit_intercept:
            g_b, r_b = float(w @ grad), float(w @ (curv * xdot))
        rhs = 2.0 * np.linalg.norm(theta)
        if rhs == 0.0:
            return False
        opt = np.hypot(np.linalg.norm(g_theta), g_b) / (s * rhs)
        tan = np.hypot(np.linalg.norm(r_tangent), r_b) / rhs
        return max(opt, tan) <= _ONLINE_SETTLED

    def _online_alpha_step(self, X_val, y_val):
        """One Rprop step on log s from the whole held-out set's hypergradient.

        ``d L_val / d log s = s σ_valᵀ θ̇`` (mean over the validation set). Only
        its sign is used: the step in log s grows by 1.2 while the sign
        holds and halves when it flips, so the rate is scale-free and settles
        where the hypergradient changes sign (the validation optimum).
        """
        st = self._state
        pred, xdot = st.responses(X_val)
        _, grad, _ = _loss_terms(self.loss, self.epsilon, pred - y_val)
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
        cap = 0.25 * self._W / self._eta0
        new = float(min(s * np.exp(-np.sign(g) * step), cap))
        # follow the path: θ*(s') ≈ θ + (log s' - log s) s θ̇, first order in log s
        dlog = np.log(new / s)
        if st.tangent:
            st.move_along_tangent(dlog * s)
        self._alpha_now = new

    def _objective(self, X, y, w):
        st = self._state

        def loss(Xb, rows):
            pred = st.c * np.asarray(Xb @ st.u) + st.b
            return w[rows] @ _loss_terms(self.loss, self.epsilon, pred - y[rows])[0]

        coef = st.coef
        return (_blocked_sum(X, loss) + self._alpha_now * coef @ coef) / w.sum()

    def _check_divergence(self, loss, first_loss):
        st = self._state
        finite = np.isfinite(loss) and np.isfinite(st.c) and np.isfinite(st.d)
        exploding = first_loss is not None and loss > _DIVERGENCE_FACTOR * max(
            first_loss, 1e-300
        )
        if not finite or exploding:
            raise ValueError(
                f"SGDFRegressor diverged (objective {loss:.3g}) with "
                f"learning_rate={self.learning_rate!r}, eta0={self._eta0:g}: "
                "lower eta0 (or use eta0='auto', or scale X)."
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
        st.set_tangent(tangent)
        st.b_dot = -x_mean @ tangent if self.fit_intercept else 0.0

    def _finish(self, X, y, w):
        st = self._state
        st.renormalise()  # θ = u, θ̇ = v
        self.coef_ = st.u.copy()
        self.coef_tangent_ = st.v.copy()
        self.intercept_ = float(st.b)
        self.intercept_tangent_ = float(st.b_dot)
        self.alpha_ = float(self._alpha_now)
        rss = _blocked_sum(
            X,
            lambda Xb, rows: (
                w[rows] @ (np.asarray(Xb @ self.coef_) + self.intercept_ - y[rows]) ** 2
            ),
        )
        self.noise_variance_ = rss / float(w.sum())
        self._noise_variance = np.array([self.noise_variance_])
        self._y_ndim = 1
        self._spectral = None

    # -------------------------------------------------------- tangent
    def refine_tangent(self, X, y, n_iter=10, sample_weight=None, eta=None):
        """LiSSA with a step size: θ frozen, only θ̇ is updated.

        Each epoch runs ``θ̇ ← θ̇ - η (H_B θ̇ + (2/W)(θ + alpha θ̇))`` over
        the mini-batches in order (paper section 3.6).

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
        for _ in range(n_iter):
            for start in range(0, X.shape[0], self.batch_size):
                rows = slice(start, start + self.batch_size)
                Xb, yb, wb = X[rows], y[rows], w[rows]
                pred, xdot = st.responses(Xb)
                _, _, curv = _loss_terms(self.loss, self.epsilon, pred - yb)
                # shrink the tangent only: θ̇ ← ρ θ̇ - (2η/W) θ, θ unchanged
                rho = 1.0 - 2.0 * eta * s / W
                st.set_tangent(rho * st.coef_tangent - (2.0 * eta / W) * st.coef)
                st.data_step(Xb, None, curv * xdot, wb, eta, update_theta=False)
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
        return _loss_terms(self.loss, self.epsilon, r)[1]

    def _no_decomposition_advice(self):
        return (
            "needs (X̃ᵀWX̃ + sP)⁻¹, which SGDFRegressor does not keep; use "
            "heuristic='sld' (and batch='topk' for batches) or RegularityRidge."
        )
