"""RegularityKernelRidge: kernel ridge regression with its regularity tangent."""

from __future__ import annotations

import numbers
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics.pairwise import (
    PAIRWISE_KERNEL_FUNCTIONS,
    pairwise_kernels,
)
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _centering
from ._base import RegularityMixin, reset_fitted
from ._batch import block_rows, map_rows
from ._centering import row_block
from ._fit_log import SILENT, FitLog, check_verbose, fit_summary, seconds
from ._fitted_xp import array_api_inputs, check_numpy_input
from ._influence import leave_one_out_record
from ._kernel_cg import fit_kernel_cg, kernel_system
from ._kernel_exact import (
    GRADED_WEIGHTS,
    ExactKernelSystem,
    check_fit_shape,
    check_input_scale,
    check_kernel_scale,
    exact_leave_one_out,
    weight_spread,
)
from ._kernel_search import choose_gamma
from ._kernel_xp import KernelView, fit_kernel
from ._krylov import solve_cg
from ._linalg import decompose_kernel
from ._solutions import KernelSolution, set_fit_record
from ._validation import (
    check_bounds,
    check_choice,
    check_positive,
    check_regularity,
    check_sample_weight,
)

_SOLVERS = ("auto", "eigen", "cg")
# solver="auto" decomposes K up to this many samples (an n x n eigh), then
# switches to conjugate gradients (alpha="loo" needs the decomposition).
_AUTO_EIGEN_MAX_N = 6000
# Conjugate gradients keep K in memory up to this many samples (512 MiB);
# beyond, K is recomputed in row blocks at every product.
_DENSE_KERNEL_MAX_N = 8000
_SPECTRAL_RTOL = 1e-6


# Private per-fit state (besides the public ``*_``), forgotten at each fit;
# none of it a copy of a public attribute (``_dual``, ``_dual_tangent`` and
# ``_noise_variance`` are views, see the properties).
_FIT_STATE = (
    "_spectral",
    "_exact",
    "_spectral_error",
    "_weight_spread",
    "_sti_dual",
    "_cg_rows",
    "_max_iter",
    "_w",
    "_kernel_center",
    "_y_ndim",
)


class RegularityKernelRidge(RegularityMixin, RegressorMixin, BaseEstimator):
    """Kernel ridge regression with its regularity tangent, exact
    leave-one-out and the leave-one-out-optimal regularity.

    Same model as :class:`sklearn.kernel_ridge.KernelRidge` (no intercept):
    ``f(x) = k(x, X) α`` with ``α = (K + alpha W⁻¹)⁻¹ y``, plus the tangent
    ``dα/d alpha``, leverages, exact leave-one-out residuals and the
    query scores of :meth:`score_samples`, from one eigendecomposition of K
    (or conjugate gradients for large n).

    Parameters
    ----------
    alpha : float or {"loo", "gcv"}, default=1.0
        The regularity ``s``; ``"loo"`` minimises the exact leave-one-out
        error over the continuum ``alpha_bounds``, ``"gcv"`` generalised
        cross-validation (the criterion of ``solver="cg"``).
    kernel : str or callable, default="linear"
        As in :class:`~sklearn.kernel_ridge.KernelRidge`: a name of
        :func:`~sklearn.metrics.pairwise.pairwise_kernels`, a callable, or
        ``"precomputed"`` (then X is the kernel matrix). The kernel must be
        positive semi-definite.
    gamma : float, "loo" or None, default=None
        Parameter of the rbf, laplacian, polynomial, exponential chi2 and
        sigmoid kernels. ``"loo"`` (rbf and laplacian kernels) minimises the
        exact LOO error over gamma too: for each gamma alpha is chosen as
        usual (LOO-optimal on its continuum with ``alpha="loo"``, or fixed),
        and gamma is refined by a root of the analytic derivative of that
        error in log gamma (with ``alpha="loo"``, the partial derivative at
        the optimal alpha, by the envelope theorem). Costs one
        eigendecomposition per gamma tried (9 on a grid over four decades
        around the inverse mean pairwise distance, then a few per basin).
        While the smallest error sits at an end of the grid, the grid is
        extended past it (two decades at a time) until the optimum is
        interior or ``gamma_bounds`` is reached.
    degree : float, default=3
        Degree of the polynomial kernel.
    coef0 : float, default=1
        Zero coefficient of the polynomial and sigmoid kernels.
    kernel_params : dict, default=None
        Further keyword arguments of a callable kernel.
    alpha_bounds : (float, float) or None, default=None
        Search range for ``"loo"``/``"gcv"``; None means ``(1e-8, 1e4)`` times
        the largest eigenvalue of the weighted kernel matrix.
    gamma_bounds : (float, float) or None, default=None
        Search range for ``gamma="loo"``. None extends the search until the
        optimum is interior, at most to where the kernel is numerically flat
        (``gamma * max distance = 1e-4``) or the identity
        (``gamma * min distance = 50``). An optimum at a bound warns with
        :class:`~skrt.exceptions.RegularityBoundWarning`.
    solver : {"auto", "eigen", "cg"}, default="auto"
        ``"eigen"``: one eigendecomposition of K, then every alpha costs
        O(n²). ``"cg"``: conjugate gradients on ``(K + alpha W⁻¹) v = b``
        with K kept in memory up to 8000 samples and computed in row blocks
        beyond (memory O(n * block)); alpha must then be a float or
        ``"gcv"`` (stochastic Lanczos trace estimate), and leverages, exact
        LOO, the predictive std and the "ssi"/"variance" scores are not
        available. ``"auto"``: "eigen" up to 6000 samples, else "cg".
    tol : float, default=1e-6
        Relative residual tolerance of conjugate gradients.
    max_iter : int or None, default=None
        Iteration cap of conjugate gradients (None: ``10 * n_samples``).
    random_state : int, RandomState instance or None, default=None
        Seeds the trace-estimate probes of ``solver="cg"``.
    verbose : int, default=0
        0 writes nothing; 1 writes progress lines on stderr: the kernel
        matrix, each eigendecomposition, Cholesky factor or
        conjugate-gradient solve and its time, the gamma search's grid,
        each gamma it evaluates and its result, the chosen alpha; 2 adds
        the conjugate-gradient iterations per target.

    Attributes
    ----------
    dual_coef_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        α.
    dual_coef_tangent_ : ndarray, same shape as ``dual_coef_``
        ``dα/d alpha = -(K + alpha W⁻¹)⁻¹ W⁻¹ α``.
    alpha_ : float
    gamma_ : float or None
        The gamma used (the chosen one when ``gamma="loo"``).
    leverage_ : ndarray of shape (n_samples,)
        Diagonal of the weighted hat matrix ``K̃ (K̃ + alpha I)⁻¹``,
        ``K̃ = W^{1/2} K W^{1/2}``. Not set by ``solver="cg"``.
    loo_residuals_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Exact leave-one-out residuals ``y_i - f_(-i)(x_i)`` (sample weights
        count observations, as in :class:`~skrt.RegularityRidge`).
        Not set by ``solver="cg"``.
    loo_error_ : float or ndarray of shape (n_targets,)
        Weighted mean squared LOO residual at ``alpha_``. Not set by "cg".
    gcv_error_ : float or ndarray of shape (n_targets,)
    noise_variance_ : float or ndarray of shape (n_targets,)
        ``Σ w r² / (Σw - df)``, ``df = tr(K̃ (K̃ + alpha I)⁻¹)``.
    X_fit_ : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Training data (the kernel matrix's rows for "precomputed").
    solver_ : str
    n_iter_ : ndarray of shape (n_targets,) of int
        Conjugate-gradient iterations per target (the larger of the dual and
        tangent solves) with ``solver="cg"``; 1 for the eigendecomposition.
    n_samples_fit_ : int
        Number of training rows (zero-weight rows included).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    See Also
    --------
    sklearn.kernel_ridge.KernelRidge : the same model at a fixed alpha.
    RegularityRidge : the linear model, with an intercept.

    Notes
    -----
    With ``K̃ = W^{1/2} K W^{1/2} = U diag(λ) Uᵀ`` (:ref:`math-kernel`):

    .. math::

        \\alpha = W^{1/2} U \\frac{U^\\top W^{1/2} y}{\\lambda + s}, \\quad
        \\dot\\alpha = -W^{1/2} U \\frac{U^\\top W^{1/2} y}{(\\lambda + s)^2}, \\quad
        h_i = \\sum_k U_{ik}^2 \\frac{\\lambda_k}{\\lambda_k + s},

    and ``r_(-i) = r_i / (1 - h_i)``: the linear model's closed forms with
    the feature map implicit. The decomposition serves the search over alpha
    (and gamma); the reported fit at ``alpha_`` (``dual_coef_``, its tangent,
    ``leverage_``, the LOO residuals) comes from a Cholesky factorisation of
    ``K̃ + alpha I``, which stays accurate when the sample weights span many
    orders of magnitude (the eigendecomposition of the graded ``K̃`` is only
    accurate relative to its largest eigenvalue); with ``B = K̃ + alpha I``
    the identities ``1 - h_i = alpha (B⁻¹)_ii`` and
    ``r_i = -alpha α_i / w_i`` leave nothing to cancel.

    With scikit-learn's ``array_api_dispatch`` on, a PyTorch, CuPy or
    ``array_api_strict`` X is fitted on its device (one ``eigh`` there, also
    above 6000 samples under ``solver="auto"``), every fitted array and
    output there (:ref:`gpu`).

    For very large n, a feature map fed to the linear model is the
    alternative:
    ``make_pipeline(Nystroem(...), RegularityRidge(alpha="loo"))``.

    Examples
    --------
    >>> import numpy as np
    >>> from skrt import RegularityKernelRidge
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(60, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.randn(60)
    >>> model = RegularityKernelRidge(alpha="loo", kernel="rbf", gamma=0.5).fit(X, y)
    >>> bool(model.loo_error_ < np.var(y))
    True
    >>> model.predict_tangent(X[:3]).shape
    (3,)
    """

    _fit_state = _FIT_STATE

    def __init__(
        self,
        alpha=1.0,
        *,
        kernel="linear",
        gamma=None,
        degree=3,
        coef0=1,
        kernel_params=None,
        alpha_bounds=None,
        gamma_bounds=None,
        solver="auto",
        tol=1e-6,
        max_iter=None,
        random_state=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.alpha_bounds = alpha_bounds
        self.gamma_bounds = gamma_bounds
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self.kernel != "precomputed"
        tags.input_tags.pairwise = self.kernel == "precomputed"
        tags.target_tags.multi_output = True
        # the eigendecomposition runs on array-API inputs (skrt._kernel_xp)
        tags.array_api_support = self.solver != "cg" and not callable(self.kernel)
        return tags

    # -------------------------------------------------------------- kernel
    def _check_params(self):
        check_regularity(self.alpha)
        check_bounds(self.alpha_bounds)
        check_bounds(self.gamma_bounds, "gamma_bounds")
        check_choice(self.solver, "solver", _SOLVERS)
        check_positive(self.tol, "tol")
        check_positive(
            self.max_iter, "max_iter", kind=numbers.Integral, allow_none=True
        )
        check_verbose(self.verbose)
        if not (callable(self.kernel) or isinstance(self.kernel, str)):
            raise TypeError(
                "kernel must be a string or a callable; "
                f"got {type(self.kernel).__name__}."
            )
        if isinstance(self.kernel, str) and self.kernel != "precomputed":
            if self.kernel not in PAIRWISE_KERNEL_FUNCTIONS:
                raise ValueError(
                    f"kernel must be 'precomputed', a callable or one of "
                    f"{sorted(PAIRWISE_KERNEL_FUNCTIONS)}; got {self.kernel!r}."
                )
        if self.gamma == "loo":
            if self.kernel not in ("rbf", "laplacian"):
                raise ValueError(
                    "gamma='loo' needs kernel='rbf' or 'laplacian'; "
                    f"got kernel={self.kernel!r}."
                )
        elif self.gamma is not None and not (
            isinstance(self.gamma, numbers.Real) and self.gamma > 0
        ):
            raise ValueError(
                f"gamma must be None or a positive float; got {self.gamma!r}."
            )
        if self.kernel_params is not None and not isinstance(self.kernel_params, dict):
            raise TypeError("kernel_params must be None or a dict.")

    def _kernel_kwargs(self):
        if callable(self.kernel):
            return dict(self.kernel_params or {})
        gamma = getattr(self, "gamma_", self.gamma)
        return {"gamma": gamma, "degree": self.degree, "coef0": self.coef0}

    def _get_kernel(self, X, Y=None):
        center = getattr(self, "_kernel_center", None)
        dense = not sp.issparse(X) and (Y is None or not sp.issparse(Y))
        if center is not None and dense:  # rbf: centred rows lose no digits
            X = X - center
            Y = None if Y is None else Y - center
        return pairwise_kernels(
            X, Y, metric=self.kernel, filter_params=True, **self._kernel_kwargs()
        )

    def _kernel_diag(self, X):
        """k(x, x) for each row, without the full matrix."""
        name = self.kernel
        if name in ("rbf", "laplacian", "cosine", "chi2"):
            return np.ones(X.shape[0])
        sq = (
            np.asarray(X.multiply(X).sum(axis=1)).ravel()
            if sp.issparse(X)
            else np.einsum("ij,ij->i", X, X)
        )
        gamma = self._kernel_kwargs()["gamma"]
        gamma = gamma if gamma is not None else 1.0 / X.shape[1]
        if name == "linear":
            return sq
        if name in ("poly", "polynomial"):
            return (gamma * sq + self.coef0) ** self.degree
        if name == "sigmoid":
            return np.tanh(gamma * sq + self.coef0)
        if name == "additive_chi2":
            return np.zeros(X.shape[0])
        # a callable: one evaluation per row
        return np.array(
            [self._get_kernel(X[i : i + 1])[0, 0] for i in range(X.shape[0])]
        )

    # ----------------------------------------------------------------- fit
    def fit(self, X, y, sample_weight=None):
        """Fit α, its tangent and the leave-one-out quantities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training inputs, or the (n_samples, n_samples) kernel matrix if
            ``kernel="precomputed"``.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : float or array-like of shape (n_samples,), default=None

        Returns
        -------
        self : RegularityKernelRidge
        """
        self._check_params()
        namespace, y, sample_weight = array_api_inputs(X, y, sample_weight)
        if namespace is not None:  # array-API input: skrt._kernel_xp
            return fit_kernel(self, X, y, sample_weight, namespace)
        log = FitLog(check_verbose(self.verbose), "RegularityKernelRidge")
        started = time.perf_counter()
        reset_fitted(self)
        precomputed = self.kernel == "precomputed"
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=False if precomputed else ("csr", "csc"),
            dtype=np.float64,
            multi_output=True,
            y_numeric=True,
        )
        n = X.shape[0]
        check_fit_shape(X.shape, precomputed, self.alpha)
        w = check_sample_weight(sample_weight, n)
        Y = y.reshape(n, -1).astype(np.float64, copy=False)
        solver = self.solver
        if solver == "auto":
            solver = "cg" if n > _AUTO_EIGEN_MAX_N and self.alpha != "loo" else "eigen"
        if solver == "cg" and self.alpha == "loo":
            raise ValueError(
                "alpha='loo' needs the eigendecomposition, which solver='cg' does "
                "not compute; use alpha='gcv' with solver='cg', or solver='eigen'."
            )
        if self.gamma == "loo" and solver == "cg":
            raise ValueError("gamma='loo' needs solver='eigen'.")
        if not precomputed:
            check_input_scale(X)
        # the kernel (training rows, gamma, centre of the rbf distances) is
        # the solvers' input, defined before they run
        self.X_fit_ = X
        # the rbf kernel is translation invariant; its distances are formed as
        # |x|² + |z|² - 2xᵀz, which cancels under a large common offset
        if self.kernel == "rbf" and not sp.issparse(X) and n:
            self._kernel_center = X.mean(axis=0)
        self._w = w
        log(
            f"{n} samples, kernel={getattr(self.kernel, '__name__', self.kernel)}, "
            f"alpha={self.alpha!r}, gamma={self.gamma!r}, solver={solver}"
        )
        gamma = self.gamma
        if gamma == "loo":
            gamma = choose_gamma(
                X,
                Y,
                w,
                kernel=self.kernel,
                gamma_bounds=self.gamma_bounds,
                center=getattr(self, "_kernel_center", None),
                choose_alpha=self._choose_alpha,
                log=log,
            )
        self.gamma_ = gamma
        if solver == "cg":
            sol = fit_kernel_cg(
                X,
                Y,
                w,
                kernel_matmat=self._kernel_matmat,
                select_alpha=self._select_alpha,
                tol=self.tol,
                max_iter=self.max_iter,
                random_state=self.random_state,
                log=log,
            )
        else:
            sol = self._fit_spectral(X, Y, w, log)
        self._set_solution(sol, y.ndim)
        log(f"fitted in {seconds(time.perf_counter() - started)}: {fit_summary(self)}")
        return self

    def _set_solution(self, sol, y_ndim):
        """Assign every fitted attribute from a solver's
        :class:`KernelSolution`, and remove those its path does not produce
        (the leave-one-out record without a decomposition)."""
        set_fit_record(self, sol, y_ndim)
        self.dual_coef_ = self._unravel_rows(sol.dual)
        self.dual_coef_tangent_ = self._unravel_rows(sol.dual_tangent)
        self._sti_dual = sol.sti_dual
        self._spectral = sol.spectral
        self._exact = sol.exact
        self._spectral_error = sol.spectral_error
        self._weight_spread = sol.weight_spread
        self._cg_rows = sol.cg_rows
        self._max_iter = sol.max_iter
        return self

    # Views of the public duals and σ² in the layout of the computations
    # (n_samples, n_targets) / (n_targets,): private names, no private copies.
    @property
    def _dual(self):
        return self.dual_coef_.reshape(self.dual_coef_.shape[0], -1)

    @property
    def _dual_tangent(self):
        return self.dual_coef_tangent_.reshape(self.dual_coef_tangent_.shape[0], -1)

    @property
    def _noise_variance(self):
        """σ² per target, shape (n_targets,) (read by the scorers)."""
        return np.atleast_1d(self.noise_variance_)

    def _training_kernel(self, X):
        """K of the training data, checked finite and of a usable scale."""
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            K = self._get_kernel(X)  # a fresh array unless precomputed
        check_kernel_scale(K, X, self.kernel == "precomputed")
        return K

    def _fit_spectral(self, X, Y, w, log=SILENT):
        """One eigendecomposition for the search; the fit at alpha_ from the
        exact (Cholesky) solve where K + alpha W⁻¹ is numerically PD."""
        precomputed = self.kernel == "precomputed"
        n = X.shape[0]
        with log.timed(f"kernel matrix {n} x {n}"):
            K = self._training_kernel(X)
        with log.timed(f"eigendecomposition of a {n} x {n} kernel"):
            spec = decompose_kernel(K, Y, w, check_symmetric=precomputed)
        searched = time.perf_counter() if isinstance(self.alpha, str) else None
        s = self._choose_alpha(spec, Y)
        if searched is not None:
            took = seconds(time.perf_counter() - searched)
            log(f"alpha search ({self.alpha}): alpha_={s:.4g}, {took}")
        exact = None
        if not getattr(spec, "negative_dropped", False):
            with log.timed(f"Cholesky factor at alpha={s:.4g}"):
                exact = ExactKernelSystem.factor(K, w, s)
        spread = weight_spread(w)
        common = dict(
            solver="eigen",
            alpha=s,
            n_samples=Y.shape[0],
            n_iter=np.ones(Y.shape[1], dtype=int),
            spectral=spec,
        )
        if exact is None:
            if spread > GRADED_WEIGHTS:
                warnings.warn(
                    f"The sample weights span {spread:.3g} (largest/smallest), "
                    f"and K + alpha W⁻¹ is not numerically positive definite at "
                    f"alpha={s:.3g}: the fit comes from the eigendecomposition, "
                    "which loses the directions carried by small weights. Raise "
                    "alpha or narrow the weights' range.",
                    UserWarning,
                    stacklevel=3,
                )
            loo = leave_one_out_record(spec, s)
            dual, dual_tangent, sti_dual = spec.weights_at(s, loo.residual, dual=True)
            return KernelSolution(
                dual=dual,
                dual_tangent=dual_tangent,
                sti_dual=sti_dual,
                noise_variance=loo.noise_variance,
                gcv_error=loo.gcv_error,
                loo=loo,
                **common,
            )
        with log.timed("duals, tangents, leverages and LOO residuals"):
            dual, dual_tangent, loo = exact_leave_one_out(exact, K, Y, w, s)
        error = self._spectral_disagreement(spec, dual, s, spread)
        return KernelSolution(
            dual=dual,
            dual_tangent=dual_tangent,
            # with T = training set, H⁻¹σ_T = (K + s W⁻¹)⁻¹ r = s α̇
            # (docs/math.rst § math-kernel)
            sti_dual=s * dual_tangent,
            noise_variance=loo.noise_variance,
            gcv_error=loo.gcv_error,
            loo=loo,
            # graded weights: the variance and greedy batches use the factor
            exact=exact if spread > GRADED_WEIGHTS else None,
            spectral_error=error,
            weight_spread=spread if spread > GRADED_WEIGHTS else None,
            **common,
        )

    def _spectral_disagreement(self, spec, alpha_dual, s, spread):
        """How far (relative) the eigendecomposition that loo_curve,
        sample_information, the SSI scores and the alpha/gamma search rest on
        is from the exact solve (graded weights only; 0 otherwise); warns
        after a search."""
        if spread <= GRADED_WEIGHTS:
            return 0.0
        approx = spec.dual_dot(spec.c / (spec.lam + s)[:, None])
        approx = approx + spec.w[:, None] * spec.resid_perp / s
        scale = np.linalg.norm(alpha_dual)
        err = np.linalg.norm(approx - alpha_dual) / scale if scale > 0 else 0.0
        err = float(err) if np.isfinite(err) else np.inf
        searched = isinstance(self.alpha, str) or self.gamma == "loo"
        if searched and err > _SPECTRAL_RTOL:
            warnings.warn(
                f"The sample weights span {spread:.3g} (largest/smallest): the "
                "eigendecomposition behind the alpha/gamma search is off by "
                f"{err:.2g} relative there, so alpha_ (and "
                "gamma_) may miss the optimum; the fit at alpha_ is exact. "
                "Narrow the weights' range or pass a float alpha.",
                UserWarning,
                stacklevel=4,
            )
        return err

    def _require_spectral(self, what):
        spec = super()._require_spectral(what)
        err = getattr(self, "_spectral_error", 0.0)
        if err > _SPECTRAL_RTOL:
            warnings.warn(
                f"{what} rests on the eigendecomposition of W^(1/2) K W^(1/2), "
                f"which is off by {err:.2g} relative here: the sample weights "
                f"span {self._weight_spread:.3g} (largest/smallest). Narrow "
                "the weights' range for exact results.",
                UserWarning,
                stacklevel=3,
            )
        return spec

    def _device_view(self):
        """The methods of a fit on array-API arrays (:mod:`skrt._kernel_xp`)."""
        return KernelView(self)

    def _no_decomposition_advice(self):
        return (
            "needs the eigendecomposition of the kernel matrix, which "
            f"solver={self.solver_!r} does not compute; refit with "
            "solver='eigen'."
        )

    def _kernel_matmat(self, X):
        """V -> K V, with K dense up to 8000 samples, else in row blocks."""
        n = X.shape[0]
        if n <= _DENSE_KERNEL_MAX_N:
            K = self._training_kernel(X)
            return lambda V: K @ V
        block = row_block(n, _centering.KERNEL_BLOCK_BYTES)  # read per fit

        def blocked(V):
            out = np.empty((n,) + V.shape[1:])
            for start in range(0, n, block):
                rows = slice(start, start + block)
                out[rows] = self._get_kernel(X[rows], X) @ V
            return out

        return blocked

    # --------------------------------------------------------- prediction
    def _validate_X(self, X):
        check_is_fitted(self)
        check_numpy_input(self, X)
        precomputed = self.kernel == "precomputed"
        X = validate_data(
            self,
            X,
            accept_sparse=False if precomputed else ("csr", "csc"),
            dtype=np.float64,
            reset=False,
        )
        return X

    def _cross_kernel(self, X):
        """k(X, X_fit_), shape (n_rows, n_train)."""
        return X if self.kernel == "precomputed" else self._get_kernel(X, self.X_fit_)

    def _predict_raw(self, X):
        return self._cross_kernel(X) @ self._dual

    def _tangent(self, X):
        return self._cross_kernel(X) @ self._dual_tangent

    def _sti_response(self, X):
        return self._cross_kernel(X) @ self._sti_dual

    def _projections(self, X, spec, cache=None):
        """z = Pᵀ W k(X_fit, x) per row: the pool in the eigenbasis."""
        if cache is not None and "z" in cache:
            return cache["z"]
        PW = spec.P * spec.w[:, None]
        z = map_rows(
            lambda Z: self._cross_kernel(Z) @ PW, X, block_rows(X, self._block_width())
        )
        if cache is not None:
            cache["z"] = z
        return z

    def _acquisition_parts(self):
        """The linear model's parts, plus the Cholesky factor (``_exact``:
        variance and columns); a ``"precomputed"`` kernel gives no
        ``k(x, x)`` nor ``k(x_c, x_i)`` between candidates, so neither."""
        spec, exact = self._spectral, self._exact
        variance = None if spec is None and exact is None else self._variance
        cross, reasons = self._pool_cross, {}
        if self.kernel == "precomputed":
            if variance is not None:
                reasons["variance"] = (
                    "needs k(x, x), which kernel='precomputed' does not give; "
                    "use a named or callable kernel."
                )
            variance = cross = None
            reasons["cross"] = (
                "needs k(x_c, x_i) between candidates, which kernel='precomputed' "
                "does not give; use batch='topk'."
            )
        return self._sti_response, self._curvature(spec, variance, cross), reasons

    def _variance(self, X):
        """φ(x)ᵀ (ΦᵀWΦ + sI)⁻¹ φ(x) = (k(x,x) - kᵀ(K + sW⁻¹)⁻¹k) / s, the
        inner term ``Σ z²/(λ(λ+s))`` from the decomposition, or ``‖L⁻¹W^½k‖²``
        from the Cholesky factor (graded weights)."""
        if self._exact is None:
            spec = self._require_spectral("The predictive variance")
        if self.kernel == "precomputed":
            raise ValueError(
                "The predictive variance needs k(x, x), which kernel='precomputed' "
                "does not give; use a named or callable kernel."
            )
        s = self.alpha_
        if self._exact is not None:
            z = self._exact.project(self._cross_kernel(X)[:, self._exact.rows].T)
            inside = np.einsum("ij,ij->j", z, z)
        else:
            z = self._projections(X, spec)
            inside = (z**2) @ (1.0 / (spec.lam * (spec.lam + s)))
        return np.maximum(self._kernel_diag(X) - inside, 0.0) / s

    def _influence_coordinates(self, X, spec):
        """q(x) with φ(x_j)ᵀ M⁻¹ φ(x) = P_j · q(x) for training rows j."""
        return self._projections(X, spec) / (spec.lam * (spec.lam + self.alpha_))

    def _pool_cross(self, X, i, cache=None):
        """κ(c, i) = φ(x_c)ᵀ (ΦᵀWΦ + sI)⁻¹ φ(x_i) for every row c of X.

        ``i`` is one row index (result (n,)) or an array of them (result
        (n, len(i)), one kernel block for all).
        """
        if self.kernel == "precomputed":
            raise ValueError(
                "Greedy batches need k(x_c, x_i) between candidates, which "
                "kernel='precomputed' does not give; use batch='topk'."
            )
        idx = np.atleast_1d(i)
        s = self.alpha_
        k_ci = self._get_kernel(X, X[idx])
        k_ci[idx, np.arange(idx.size)] = self._kernel_diag(X[idx])  # no inf - inf
        block = block_rows(X, self._block_width())
        cache = {} if cache is None else cache
        if self._exact is not None:
            if "exact_z" not in cache:
                rows = self._exact.rows
                cache["exact_z"] = map_rows(
                    lambda Z: self._exact.project(self._cross_kernel(Z)[:, rows].T).T,
                    X,
                    block,
                ).T
            z = cache["exact_z"]
            out = (k_ci - z.T @ z[:, idx]) / s
        elif self._spectral is not None:
            spec = self._spectral
            z = self._projections(X, spec, cache)
            out = (k_ci - z @ (z[idx] / (spec.lam * (spec.lam + s))).T) / s
        else:
            # (K + s W⁻¹)⁻¹ k(X_fit, x_i) by conjugate gradients, per column
            rows = self._cg_rows
            X_fit = self.X_fit_[rows]
            if "kernel_matmat" not in cache:
                cache["kernel_matmat"] = self._kernel_matmat(X_fit)
                cache["k_pool"] = map_rows(
                    lambda Z: self._get_kernel(Z, X_fit), X, block
                )
            A = kernel_system(cache["kernel_matmat"], self._w[rows], s)
            what = "greedy batch update"
            opts = dict(tol=self.tol, max_iter=self._max_iter, what=what)
            kp = cache["k_pool"]
            v = np.column_stack([solve_cg(A, kp[j], **opts)[0] for j in idx])
            out = (k_ci - kp @ v) / s
        return out[:, 0] if np.ndim(i) == 0 else out
