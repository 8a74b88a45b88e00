"""RegularityRidge: ridge regression that knows its regularity tangent."""

from __future__ import annotations

import copy
import numbers
import time
import warnings
from dataclasses import replace

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import RegularityMixin, is_constant, reset_fitted
from ._dask_spectral import basis_of, is_dask_collection
from ._fit_log import SILENT, FitLog, check_verbose, fit_summary, seconds
from ._fitted_xp import array_api_inputs, check_numpy_input
from ._influence import leave_one_out_record
from ._krylov import CenteredDesign, GCVQuadrature, krylov_fit
from ._linalg import (
    CenteredX,
    center_dot,
    centered_sq_norms,
    decompose,
    default_alpha_bounds,
    gcv_estimate,
    weighted_center,
)
from ._prior import (
    check_prior_param,
    leave_out_to_the_prior,
    prior_arrays,
    prior_from,  # noqa: F401  (public as skrt.prior_from, imported from here)
    validate_empty,
)
from ._ridge_xp import RidgeView, fit_ridge
from ._solutions import (
    RidgeSolution,
    check_finite_fit,
    penalised_inverse,
    ridge_solution,
    set_fit_record,
)
from ._validation import (
    check_bool,
    check_bounds,
    check_choice,
    check_positive,
    check_regularity,
    check_sample_weight,
)
from .exceptions import RegularityBoundWarning

_SOLVERS = ("auto", "svd", "eigen", "cg")
# Sparse inputs whose smaller side exceeds this go to conjugate gradients
# under solver="auto" (unless exact leave-one-out is asked for).
_AUTO_CG_MIN_SIDE = 2000
# Exact leave-one-out needs an eigendecomposition of a square matrix of this
# side at most (about 3 GiB of workspace); beyond it use alpha="gcv".
_MAX_DECOMPOSITION_SIDE = 20000
_N_PROBES = 16
_N_LANCZOS = 60


# Private per-fit state of RegularityRidge (none of it a copy of a public
# attribute: the weights' private names are views, see the properties).
RIDGE_FIT_STATE = (
    "_spectral",
    "_design",
    "_max_iter",
    "_x_mean",
    "_w_sum",
    "_offset",
    "_x_mean_lo",
    "_center_value",
    "_sti_coef",
    "_sti_intercept",
    "_y_ndim",
    "_cg_scale",
)


class RegularityRidge(RegularityMixin, RegressorMixin, BaseEstimator):
    """Ridge regression with its regularity tangent, exact leave-one-out and
    the leave-one-out-optimal regularity.

    Minimises the same objective as :class:`sklearn.linear_model.Ridge`,
    ``Σ_i w_i (x_iᵀθ + b - y_i)² + alpha ‖θ‖²`` (the intercept ``b`` is not
    penalised), and also returns the *regularity tangent* ``dθ*/d alpha``,
    the leverage of every training sample and its exact leave-one-out
    residual, all from one decomposition of the data.

    Parameters
    ----------
    alpha : float or {"loo", "gcv"}, default=1.0
        The regularity ``s``. A positive float fixes it; ``"loo"`` minimises
        the exact leave-one-out error over the continuum ``alpha_bounds``
        (coarse log-grid, then refinement of the best basins by a root of
        the analytic derivative); ``"gcv"`` minimises generalised
        cross-validation instead (the only criterion of ``solver="cg"``).
    alpha_bounds : (float, float) or None, default=None
        Search range for ``"loo"`` and ``"gcv"``. ``None`` means
        ``(1e-8, 1e4) * λ_max`` with ``λ_max`` the largest eigenvalue of the
        weighted centred ``XᵀX``: from practically least squares to
        practically the constant model. A minimum at a bound raises a
        :class:`~skrt.exceptions.RegularityBoundWarning`.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    solver : {"auto", "svd", "eigen", "cg"}, default="auto"
        ``"eigen"`` diagonalises ``XᵀWX`` or ``XWXᵀ``, whichever is smaller
        (dense or sparse X); ``"svd"`` takes the thin SVD of the dense
        design (better conditioned, slower); ``"cg"`` solves by conjugate
        gradients on a matrix-free operator and never forms ``XᵀX``: leverage
        and exact leave-one-out are then unavailable and ``alpha`` must be a
        float or ``"gcv"``. ``"auto"`` picks ``"cg"`` for sparse X whose
        smaller side exceeds 2000 (unless ``alpha="loo"``), else ``"eigen"``.
    tol : float, default=1e-6
        Tolerance of conjugate gradients (``solver="cg"``): iterations stop
        when the residual is within ``tol`` of the right-hand side and, entry
        by entry in units-free coordinates, within ``tol`` of each
        coefficient, so every coefficient (and its tangent) is accurate to
        about ``tol`` relative to itself, also when column scales differ by
        orders of magnitude.
    max_iter : int or None, default=None
        Iteration cap of conjugate gradients (``None``: ``10 * n_features``).
    random_state : int, RandomState instance or None, default=None
        Seeds the Rademacher probes of the stochastic trace estimate
        (``solver="cg"`` only).
    prior : dict or None, default=None
        A shared model to be pulled toward instead of zero
        (:ref:`math-prior`): the penalty becomes ``alpha ‖θ - θ₀(alpha)‖²``,
        where the shared weights move with alpha along their own tangent. Keys:
        ``"coef"`` (θ₀, required, shaped like ``coef_``), ``"coef_tangent"``
        (θ̇₀, default 0), ``"intercept"``, ``"intercept_tangent"`` (used
        only without training data, default 0) and ``"noise_variance"``
        (likewise, default 1). :func:`skrt.prior_from` builds it from a
        fitted shared model. Then ``θ* = A⁻¹(Xcᵀ W yc + alpha θ₀)`` and
        ``θ̇ = -A⁻¹(θ* - θ₀ - alpha θ̇₀)``; leverages, exact leave-one-out and
        ``alpha="loo"`` hold θ₀ fixed (the search picks how strongly this
        user is pulled toward the shared model). Fitted on zero samples the
        model *is* the prior: ``coef_ = θ₀``, ``coef_tangent_ = θ̇₀``.
    verbose : int, default=0
        0 writes nothing; 1 writes progress lines on stderr (the
        decomposition or the Lanczos quadrature and their time, the chosen
        alpha, the conjugate-gradient solve); 2 adds one line per target of
        conjugate gradients.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        θ*, the weights.
    intercept_ : float or ndarray of shape (n_targets,)
    alpha_ : float
        The regularity used.
    coef_tangent_ : ndarray of shape (n_features,) or (n_targets, n_features)
        The regularity tangent ``dθ*/d alpha = -A⁻¹θ*``,
        ``A = Xcᵀ W Xc + alpha I``.
    intercept_tangent_ : float or ndarray of shape (n_targets,)
        ``d b*/d alpha = -x̄ᵀ coef_tangent_``.
    leverage_ : ndarray of shape (n_samples,)
        ``h_i = w_i/Σw + w_i (x_i - x̄)ᵀ A⁻¹ (x_i - x̄)``, the diagonal of the
        weighted hat matrix. Not set by ``solver="cg"``.
    loo_residuals_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Exact leave-one-out residuals ``y_i - f_(-i)(x_i)``, that is
        ``(y_i - f(x_i)) / (1 - h_i)``. A sample weight counts repeated
        observations: a sample of weight ``w_i > 1`` leaves one unit of
        weight out (``h_i/w_i`` replaces ``h_i``), exactly as if it were
        ``w_i`` repeated rows. Not set by ``solver="cg"``.
    loo_error_ : float or ndarray of shape (n_targets,)
        ``Σ_i w_i loo_residuals_i² / Σ_i w_i`` at ``alpha_``.
        Not set by ``solver="cg"``.
    gcv_error_ : float or ndarray of shape (n_targets,)
        Generalised cross-validation error at ``alpha_`` (exact, or a
        stochastic Lanczos estimate with ``solver="cg"``).
    noise_variance_ : float or ndarray of shape (n_targets,)
        Residual variance ``Σ w_i r_i² / (Σ w_i - df)``, ``df = Σ h_i``.
    solver_ : str
        The solver used ("eigen", "svd" or "cg"). Not set for a model
        fitted on no samples (``n_samples_fit_ == 0``: it is its prior).
    n_iter_ : ndarray of shape (n_targets,) of int
        Conjugate-gradient iterations per target (the larger of the weight
        and tangent solves) with ``solver="cg"``; 1 for the closed forms,
        which decompose once; 0 fitted on no samples (the prior).
    n_samples_fit_ : int
        Number of training rows (zero-weight rows included); 0 for a model
        fitted on no data of its own, which is then its prior.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Defined when X has feature names that are all strings.

    See Also
    --------
    sklearn.linear_model.Ridge : same objective and ``coef_``.
    sklearn.linear_model.RidgeCV : leave-one-out over a grid of alphas.

    Notes
    -----
    With ``W^{1/2} Xc = U S Vᵀ`` and ``λ = S²``, every quantity is a
    closed form in ``s`` (:ref:`math-tangent`, :ref:`math-spectral`):

    .. math::

        \\theta^*(s) = V \\frac{S}{S^2 + s} U^\\top W^{1/2} y_c, \\qquad
        \\dot\\theta(s) = -V \\frac{S}{(S^2 + s)^2} U^\\top W^{1/2} y_c,

    .. math::

        h_i(s) = \\frac{w_i}{\\sum w} + \\sum_k U_{ik}^2 \\frac{S_k^2}{S_k^2 + s},
        \\qquad r_{(-i)} = \\frac{r_i}{1 - h_i},

    so after one decomposition every alpha costs ``O(n * rank)``.

    The closed forms stay exact on badly scaled data: columns whose mean
    dwarfs their spread are centred explicitly (no ``XᵀX - Σw x̄x̄ᵀ``
    cancellation, sparse X included), and columns whose centred norms span
    more than a factor 100 (grams next to tonnes) are decomposed by
    relative-accurate one-sided Jacobi instead of a normwise-accurate
    eigensolver, which would lose the small columns. Numerically constant
    columns get exactly zero weight and tangent.

    With scikit-learn's ``array_api_dispatch`` on, a dense PyTorch, CuPy or
    ``array_api_strict`` X is fitted in its own namespace and on its device
    (solvers "eigen", "svd", "auto"), every fitted array and output there
    (:ref:`gpu`).

    A ``dask.array`` X (tall, up to a few thousand columns) is fitted on its
    cluster: the moments by chunked reductions, the ``p x p`` decomposition
    locally, the leave-one-out alpha grid in one pass over the data and its
    refinement in two more (solver "eigen"); ``leverage_`` and
    ``loo_residuals_`` are then lazy dask arrays chunked like X's rows, and
    ``sample_information``, ``influence_diagnostics`` and ``loo_curve``
    re-read the training arrays (they are referenced, not held in memory).

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skrt import RegularityRidge
    >>> X, y = load_diabetes(return_X_y=True)
    >>> model = RegularityRidge(alpha="loo").fit(X, y)
    >>> bool(model.alpha_ > 0)
    True
    >>> model.coef_tangent_.shape
    (10,)
    >>> model.score_samples(X[:3]).shape
    (3,)
    """

    _fit_state = RIDGE_FIT_STATE

    def __init__(
        self,
        alpha=1.0,
        *,
        alpha_bounds=None,
        fit_intercept=True,
        solver="auto",
        tol=1e-6,
        max_iter=None,
        random_state=None,
        prior=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.alpha_bounds = alpha_bounds
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.prior = prior
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self.solver != "svd"
        tags.target_tags.multi_output = True
        # the dense closed forms run on array-API inputs (skrt._ridge_xp)
        tags.array_api_support = self.solver != "cg" and self.prior is None
        return tags

    # ------------------------------------------------------------------ fit
    def _check_params(self):
        check_regularity(self.alpha)
        check_bounds(self.alpha_bounds)
        check_bool(self.fit_intercept, "fit_intercept")
        check_choice(self.solver, "solver", _SOLVERS)
        check_positive(self.tol, "tol")
        check_positive(
            self.max_iter, "max_iter", kind=numbers.Integral, allow_none=True
        )
        check_prior_param(self.prior)
        check_verbose(self.verbose)

    def _resolve_solver(self, X):
        side = min(X.shape)
        solver = self.solver
        if solver == "auto":
            big_sparse = sp.issparse(X) and side > _AUTO_CG_MIN_SIDE
            solver = "cg" if big_sparse and self.alpha != "loo" else "eigen"
        if solver == "svd" and sp.issparse(X):
            raise ValueError(
                "solver='svd' does not accept sparse X (it would have to "
                "densify it); use solver='eigen' or solver='cg'."
            )
        if solver == "cg" and self.alpha == "loo":
            raise ValueError(
                "alpha='loo' needs exact leverages, which solver='cg' does not "
                "compute; use alpha='gcv' with solver='cg', or solver='eigen'."
            )
        if solver in ("eigen", "svd") and side > _MAX_DECOMPOSITION_SIDE:
            raise ValueError(
                f"X has shape {X.shape}: a decomposition of a {side} x {side} "
                "matrix is too large; use solver='cg' with a float alpha or "
                "alpha='gcv'."
            )
        return solver

    def fit(self, X, y, sample_weight=None):
        """Fit the model, its tangent and its leave-one-out quantities.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training inputs; sparse input is never densified; a dask array
            (dense chunks) is fitted chunk by chunk on its cluster.
        y : array-like or dask array of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : float, array-like or dask array of shape (n_samples,), \
default=None
            Non-negative weights; an integer weight is the same as repeating
            the row.

        Returns
        -------
        self : RegularityRidge
            The fitted estimator.
        """
        self._check_params()
        if is_dask_collection(X):  # a dask.array: skrt._dask_ridge
            from ._dask_ridge import fit_dask_ridge

            return fit_dask_ridge(self, X, y, sample_weight)
        namespace, y, sample_weight = array_api_inputs(X, y, sample_weight)
        if namespace is not None:  # array-API input: skrt._ridge_xp
            return fit_ridge(self, X, y, sample_weight, namespace)
        log = FitLog(check_verbose(self.verbose), "RegularityRidge")
        started = time.perf_counter()
        reset_fitted(self)
        if self.prior is not None and np.shape(y)[:1] == (0,):
            # no data of its own: the model is its prior
            X, y = validate_empty(self, X, y)
            prior = prior_arrays(self.prior, X.shape[1], y)
            return self._set_solution(self._prior_solution(prior), y.ndim)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=("csr", "csc", "coo"),
            dtype=np.float64,
            multi_output=True,
            y_numeric=True,
        )
        n_samples = X.shape[0]
        prior = None
        if self.prior is not None:
            prior = prior_arrays(self.prior, X.shape[1], y)
        if self.alpha == "loo" and n_samples < 3:
            raise ValueError(
                "alpha='loo' needs at least 3 samples to choose alpha by "
                f"leave-one-out; got n_samples={n_samples}."
            )
        w = check_sample_weight(sample_weight, n_samples)
        Y = y.reshape(n_samples, -1).astype(np.float64, copy=False)
        solver = self._resolve_solver(X)
        if sp.issparse(X):
            X = X.tocsr()
        if prior is not None:
            # θ = θ₀ + δ: plain ridge for δ on the targets y - Xθ₀
            Y = Y - np.asarray(X @ prior["coef"])
        x_mean, y_mean, w_sum = weighted_center(X, Y, w, self.fit_intercept)
        centered = CenteredX(X, x_mean, w)
        log(
            f"{n_samples} samples x {X.shape[1]} features"
            f"{' (sparse)' if sp.issparse(X) else ''}, alpha={self.alpha!r}, "
            f"solver={solver}"
        )
        solve = self._fit_krylov if solver == "cg" else self._fit_spectral
        sol = solve(X, Y, w, x_mean, y_mean, w_sum, centered, solver, log)
        if prior is not None:
            sol = self._pulled_toward(sol, prior, Y, w)
        check_finite_fit(sol.coef, sol.coef_tangent, X, Y, sol.alpha)
        self._set_solution(sol, y.ndim)
        log(f"fitted in {seconds(time.perf_counter() - started)}: {fit_summary(self)}")
        return self

    def _set_solution(self, sol, y_ndim):
        """Assign every fitted attribute from a solver's
        :class:`RidgeSolution`, and remove those its path does not produce
        (the leave-one-out record without a decomposition)."""
        set_fit_record(self, sol, y_ndim)
        self.coef_ = self._unravel(sol.coef.T)
        self.coef_tangent_ = self._unravel(sol.coef_tangent.T)
        self.intercept_ = self._unravel(sol.intercept)
        self.intercept_tangent_ = self._unravel(sol.intercept_tangent)
        self._x_mean = sol.x_mean
        self._offset = sol.offset
        self._x_mean_lo = sol.x_mean_lo
        self._w_sum = sol.w_sum
        self._center_value = sol.center_value
        self._sti_coef = sol.sti_coef
        self._sti_intercept = sol.sti_intercept
        self._spectral = sol.spectral
        self._design = sol.design
        self._cg_scale = sol.cg_scale
        self._max_iter = sol.max_iter
        return self

    # Views of the public weights in the (n_features, n_targets) / (n_targets,)
    # layout of the computations: private names, no private copies.
    @property
    def _coef(self):
        return np.atleast_2d(self.coef_).T

    @property
    def _coef_tangent(self):
        return np.atleast_2d(self.coef_tangent_).T

    @property
    def _intercept_tangent(self):
        return np.atleast_1d(self.intercept_tangent_)

    @property
    def _noise_variance(self):
        """σ² per target, shape (n_targets,) (read by the scorers)."""
        return np.atleast_1d(self.noise_variance_)

    def _pulled_toward(self, sol, prior, Y, w):
        """The solution for δ = θ - θ₀ turned into the one for θ
        (:mod:`skrt._prior`): θ* = θ₀ + δ*, θ̇ = δ̇ + s A⁻¹θ̇₀, and leaving the
        only weighted sample out leaves the prior."""
        s = sol.alpha
        coef_tangent = sol.coef_tangent + s * penalised_inverse(
            prior["coef_tangent"],
            s,
            sol.spectral,
            sol.design,
            sol.cg_scale,
            sol.max_iter,
            self.tol,
            "prior tangent",
        )
        loo = sol.loo
        if loo is not None and self.fit_intercept:
            loo = leave_out_to_the_prior(loo, Y, w, prior)
        return replace(
            sol,
            coef=sol.coef + prior["coef"],
            coef_tangent=coef_tangent,
            intercept_tangent=-sol.x_mean @ coef_tangent,
            # b + x̄ᵀθ = ȳ' + x̄ᵀθ₀, without cancellation
            center_value=sol.center_value + sol.x_mean @ prior["coef"],
            loo=loo,
            gcv_error=sol.gcv_error if loo is None else loo.gcv_error,
        )

    def _prior_solution(self, prior):
        """No training data: the model is its prior (θ₀, θ̇₀, b₀, ḃ₀)."""
        if isinstance(self.alpha, str):
            raise ValueError(
                f"alpha={self.alpha!r} needs training data to choose alpha; "
                "fitted on zero samples, give a float alpha (the shared model's)."
            )
        k = prior["coef"].shape[1]
        return RidgeSolution(
            solver=None,  # no solver ran: n_samples_fit_ == 0 says it
            alpha=float(self.alpha),
            n_samples=0,
            n_iter=np.zeros(k, dtype=int),
            coef=prior["coef"],
            coef_tangent=prior["coef_tangent"],
            intercept=prior["intercept"],
            intercept_tangent=prior["intercept_tangent"],
            noise_variance=prior["noise_variance"],
            x_mean=np.zeros(prior["coef"].shape[0]),
            w_sum=0.0,
            center_value=prior["intercept"],
            sti_coef=np.zeros_like(prior["coef"]),  # no training set: σ_T = 0
            sti_intercept=np.zeros(k),
        )

    def _fit_spectral(
        self, X, Y, w, x_mean, y_mean, w_sum, centered, solver, log=SILENT
    ):
        """Closed forms on one decomposition ("eigen", "svd")."""
        what = "thin SVD" if solver == "svd" else "eigendecomposition"
        with log.timed(f"{what} of the {X.shape[0]} x {X.shape[1]} design"):
            spec = decompose(
                X,
                Y,
                w,
                x_mean,
                y_mean,
                w_sum,
                self.fit_intercept,
                method=solver,
                centered=centered,
            )
        s = self._logged_alpha(log, self._choose_alpha, spec, Y)
        loo = leave_one_out_record(spec, s)
        resid = loo.residual
        # H⁻¹σ_T in centred coordinates is (Σ w r / Σw, A⁻¹ Xcᵀ W r); an
        # overflow there is reported by check_finite_fit
        with np.errstate(over="ignore", invalid="ignore"):
            coef, coef_tangent, sti_coef = spec.weights_at(s, resid)
        return ridge_solution(
            solver,
            s,
            w,
            (x_mean, y_mean, w_sum),
            centered,
            self.fit_intercept,
            resid,
            coef=coef,
            coef_tangent=coef_tangent,
            sti_coef=sti_coef,
            n_iter=np.ones(Y.shape[1], dtype=int),
            noise_variance=loo.noise_variance,
            gcv_error=loo.gcv_error,
            loo=loo,
            spectral=spec,
        )

    def _fit_krylov(self, X, Y, w, x_mean, y_mean, w_sum, centered, solver, log=SILENT):
        """Conjugate gradients on a matrix-free operator ("cg")."""
        p = X.shape[1]
        design = CenteredDesign(X, x_mean, w, centered=centered)
        Yc = Y - y_mean
        if self.fit_intercept:  # the mean's part below its rounding
            Yc = Yc - (w @ Yc) / w_sum
        max_iter = self.max_iter if self.max_iter is not None else 10 * p
        with log.timed(
            f"Lanczos quadrature ({_N_PROBES} probes, {_N_LANCZOS} steps) of the "
            f"{X.shape[0]} x {p} design"
        ):
            quad = GCVQuadrature(
                lambda V: design.matmat(design.rmatmat(V)),
                Yc * design.sw[:, None],
                design.gram_matmat,
                design.small_dim,
                w_sum,
                self.fit_intercept,
                n_probes=_N_PROBES,
                n_steps=_N_LANCZOS,
                random_state=check_random_state(self.random_state),
            )
        s = self._logged_alpha(
            log,
            self._select_alpha,
            lambda a: quad.gcv(a).mean(axis=1),
            default_alpha_bounds(quad.lam_max),
            is_constant(Yc, Y),
        )
        # Jacobi scaling: CG and its stopping rule independent of column units
        scale = np.sqrt(design.diagonal() + s)
        with log.timed(f"conjugate gradients at alpha={s:.4g}"):
            fit = krylov_fit(
                design.normal_operator(s),
                design.rmatmat(Yc * design.sw[:, None]),
                X.shape[0],
                tangent_rhs=lambda theta: -theta,
                residual=lambda theta, j: design.centered.dot(theta) - Yc[:, j],
                # H⁻¹σ_T needs A⁻¹ Xcᵀ W r
                influence_rhs=lambda r: design.rmatmat(r * design.sw),
                tol=self.tol,
                max_iter=max_iter,
                what="weights",
                scale=scale,
                log=log,
            )
        df = float(quad.df(np.array([s]))[0])
        sigma2, gcv = gcv_estimate(w @ fit.residual**2, w_sum, df)
        return ridge_solution(
            solver,
            s,
            w,
            (x_mean, y_mean, w_sum),
            centered,
            self.fit_intercept,
            fit.residual,
            coef=fit.weights,
            coef_tangent=fit.tangent,
            sti_coef=fit.total_influence,
            n_iter=fit.n_iter,
            noise_variance=np.atleast_1d(sigma2),
            gcv_error=np.atleast_1d(gcv),
            design=design,
            cg_scale=scale,
            max_iter=max_iter,
        )

    # ------------------------------------------------------------ prediction
    def _validate_X(self, X):
        check_is_fitted(self)
        check_numpy_input(self, X)
        X = validate_data(
            self, X, accept_sparse=("csr", "csc", "coo"), dtype=np.float64, reset=False
        )
        return X.tocsr() if sp.issparse(X) else X

    def _centered(self, X, M):
        """(X - x̄) M without cancellation in columns with large offsets."""
        return center_dot(X, self._x_mean, M, self._offset, self._x_mean_lo)

    def _variance(self, X):
        """x̃ᵀ (X̃ᵀWX̃ + sP)⁻¹ x̃ for each row of X."""
        spec = self._require_spectral("The predictive variance")
        proj = self._centered(X, spec.basis())
        if spec.null is not None:
            return spec.quadratic_inverse(
                proj, None, self.alpha_, Xc_null=self._centered(X, spec.null)
            )
        return spec.quadratic_inverse(
            proj,
            centered_sq_norms(X, self._x_mean, self._offset, self._x_mean_lo),
            self.alpha_,
        )

    def _predict_raw(self, X):
        """f(x) = (x - x̄)ᵀθ + (b + x̄ᵀθ), shape (n_samples, n_targets)."""
        return self._centered(X, self._coef) + self._center_value

    def _tangent(self, X):
        """(x - x̄)ᵀθ̇ + (ḃ + x̄ᵀθ̇); the constant is 0 unless fitted on no data."""
        const = self._intercept_tangent + self._x_mean @ self._coef_tangent
        return self._centered(X, self._coef_tangent) + const

    def _sti_response(self, X):
        """x̃ᵀ H⁻¹σ_T = (Σ w r/Σw) + (x - x̄)ᵀ A⁻¹ Xcᵀ W r."""
        return self._centered(X, self._sti_coef) + self._sti_intercept

    def _pool_cross(self, X, i, cache=None):
        """κ(c, i) = x̃_cᵀ (X̃ᵀWX̃ + sP)⁻¹ x̃_i for every row c of X.

        ``i`` is one row index (result (n,)) or an array of them (result
        (n, len(i)), one ``A⁻¹`` application for all).
        """
        idx = np.atleast_1d(i)
        rows = X[idx]
        rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
        if self.n_samples_fit_ == 0:
            self._inverse_apply(rows[0])  # raises the advice
        if not self.fit_intercept:
            a = self._penalised_inverse(rows.T, what="greedy batch update")
            out = np.asarray(X @ a)
        else:
            # M⁻¹x̃_i = (1/Σw - x̄ᵀa, a) with a = A⁻¹(x_i - x̄), so
            # x̃_cᵀ M⁻¹ x̃_i = 1/Σw + (x_c - x̄)ᵀ a, without cancellation
            xc = (rows - self._x_mean) - self._x_mean_lo
            a = self._penalised_inverse(xc.T, what="greedy batch update")
            out = self._centered(X, a) + 1.0 / self._w_sum
        return out[:, 0] if np.ndim(i) == 0 else out

    def _inverse_apply(self, y):
        """(X̃ᵀWX̃ + sP)⁻¹ y for an augmented vector y.

        In centred coordinates the matrix is ``diag(Σw, A)``:
        ``M⁻¹ y = (a₀ - x̄ᵀa₁, a₁)`` with ``a₁ = A⁻¹(y₁ - x̄ y₀)``,
        ``a₀ = y₀/Σw``.
        """
        if self.n_samples_fit_ == 0:
            raise ValueError(
                "Greedy batches condition on the training data, and this model "
                "was fitted on none (it is its prior); use batch='topk'."
            )
        if self.fit_intercept:
            y0, z = y[0], y[1:] - self._x_mean * y[0]
        else:
            z = y
        a1 = self._penalised_inverse(z, what="greedy batch update")
        if not self.fit_intercept:
            return a1
        return np.concatenate([[y0 / self._w_sum - self._x_mean @ a1], a1])

    def _penalised_inverse(self, Z, what="prior tangent"):
        """A⁻¹ Z at ``alpha_`` (:func:`penalised_inverse`)."""
        return penalised_inverse(
            Z,
            self.alpha_,
            self._spectral,
            self._design,
            self._cg_scale,
            self._max_iter,
            self.tol,
            what,
        )

    def _no_decomposition_advice(self):
        if self.n_samples_fit_ == 0:
            return (
                "needs training data, and this model was fitted on none (it is "
                "its prior); fit it on at least one sample."
            )
        return super()._no_decomposition_advice()

    def _logged_alpha(self, log, choose, *args):
        """``choose(*args)``, with a line naming the alpha a search chose."""
        started = time.perf_counter()
        s = choose(*args)
        if isinstance(self.alpha, str):
            took = seconds(time.perf_counter() - started)
            log(f"alpha search ({self.alpha}): alpha_={s:.4g}, {took}")
        return s

    def _choose_alpha(self, spec, Y):
        """alpha_ as in the mixin; a design without variation (every centred
        column zero) makes every alpha the same model: say so."""
        if isinstance(self.alpha, str) and spec.lam.shape[0] == 0:
            return self._no_variation_alpha()
        return super()._choose_alpha(spec, Y)

    def _no_variation_alpha(self):
        """alpha_ of a search on a design without variation (with the warning)."""
        lo, hi = self.alpha_bounds or default_alpha_bounds(0.0)
        s = float(np.sqrt(lo * hi))
        warnings.warn(
            "X has no variation: every column is constant over the "
            "(weighted) training rows, so every alpha gives the same "
            f"model (the weighted mean of y) and alpha={self.alpha!r} has "
            f"nothing to choose; alpha_ set to {s:.3g}.",
            RegularityBoundWarning,
            stacklevel=5,
        )
        return s

    def _light_copy(self):
        """A copy for the per-row pieces on Dask workers: the decomposition's
        basis without the training rows, no per-sample attributes (nor the
        references to a Dask fit's training arrays)."""
        spec = getattr(self, "_spectral", None)
        if spec is None:
            return self
        light = copy.copy(self)
        for name in ("leverage_", "loo_residuals_"):
            vars(light).pop(name, None)
        light._spectral = basis_of(spec)
        return light

    def _influence_coordinates(self, X, spec):
        """q(x) with x̃ᵀ M⁻¹ x̃_j = t_jᵀ q(x) for training rows x_j."""
        q = self._centered(X, spec.basis()) / (spec.lam + self.alpha_)
        if self.fit_intercept:
            q = np.hstack([np.ones((X.shape[0], 1)), q])
        return q

    def _dfbeta_basis(self, spec):
        return spec.basis(), self._x_mean

    def _device_view(self):
        """The methods of a fit on array-API arrays (:mod:`skrt._ridge_xp`)."""
        return RidgeView(self)
