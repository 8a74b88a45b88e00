r"""RegularityLasso: an L1 pull toward a shared model, with its tangent on the
active set (paper eq. 97-98; docs/math.rst, :ref:`math-lasso`).

The deviation ``δ = θ - θ₀`` from the prior minimises

.. math::

    \lVert Z\delta - r_0 \rVert^2 + s \lVert \delta \rVert_1, \qquad
    Z = W^{1/2}(X - 1\bar x^\top),\; r_0 = W^{1/2}(y' - \bar y'),\;
    y' = y - X\theta_0,

which is scikit-learn's ``Lasso(alpha=s / (2 Σw))`` on ``(X, y')`` with
sample weights: :func:`solve_l1_deviation` hands it to scikit-learn's
coordinate descent and checks the optimality (KKT) conditions
``2 Z_Sᵀ(Zδ - r0) + s sign(δ_S) = 0``, ``|2 Z_jᵀ(Zδ - r0)| <= s`` off the
support ``S`` itself, to ``tol`` relative to ``s``. What this module adds
is the tangent: ``S`` is fixed under a small change of ``s``, so
differentiating the conditions on it (θ₀ moving along θ̇₀, ``G = ZᵀZ``)

.. math::

    \dot\delta_S = -G_{SS}^{-1}\big((G\dot\theta_0)_S
                     + \tfrac12 \mathrm{sign}(\delta_S)\big),
    \qquad \dot\delta_{\bar S} = 0,

``θ̇ = θ̇₀ + δ̇`` and ``ḃ = -x̄ᵀθ̇`` (:func:`active_set_tangent`).
"""

from __future__ import annotations

import numbers
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso
from sklearn.utils.validation import check_is_fitted, validate_data

from ._array_api import DEVICE_ESTIMATORS, refuse_device_arrays
from ._base import TangentMixin, WeightsOnlyMixin, reset_fitted
from ._centering import weighted_center
from ._fit_log import SILENT, FitLog, check_verbose, seconds
from ._krylov import CenteredDesign
from ._linalg import noise_variance
from ._prior import check_prior_param, prior_arrays, validate_empty
from ._validation import check_bool, check_positive, check_sample_weight


def _kkt_met(design, delta, r0, s, tol):
    """Whether δ is optimal to ``tol``, with ``g = 2 Zᵀ(Zδ - r0)``.

    Optimal: ``|g_j| <= s`` off the support and ``|g_j + s sign δ_j| <= tol s``
    on it, each up to the round-off floor ``128 eps d_j ‖r0‖`` of ``g_j``
    (``d_j`` the centred column norm; it matters for columns of large scale).
    """
    g = 2.0 * design.rmatmat(design.matmat(delta) - r0)
    kkt = np.where(
        delta != 0, np.abs(g + s * np.sign(delta)), np.maximum(np.abs(g) - s, 0.0)
    )
    if not np.all(np.isfinite(kkt)):
        raise ValueError("RegularityLasso diverged (non-finite gradient); scale X.")
    d = np.sqrt(design.diagonal())
    floor = 128.0 * np.finfo(float).eps * d * float(np.linalg.norm(r0))
    return bool(np.all(kkt <= tol * s + floor))


def _cd_problem(X, yc, w, design, s, fit_intercept):
    """scikit-learn ``Lasso`` arguments that solve for δ, and their column order.

    Dense X is handed over centred and weighted, ``Z = W^{1/2}(X - 1x̄ᵀ)``,
    with targets ``r0 = W^{1/2} yc`` and no intercept:
    ``(1/2n)‖r0 - Zδ‖² + (s/2n)‖δ‖₁`` (``x - x̄`` is exact for a column
    with a large offset). Sparse X stays sparse (CSC with 32-bit indices, as
    scikit-learn's solver needs), with ``sample_weight=w`` and the centred
    targets ``yc`` (uncentred targets with a large mean cost its sparse
    solver digits): ``(1/2Σw) Σ w (yc - x̃ᵀδ)² + (s/2Σw)‖δ‖₁``. Its solver
    centres the columns implicitly, which cancels every digit of a column
    with a large offset, so the columns stored on more than half the rows
    (the only ones whose spread can be small next to their mean) are stored
    in full, explicitly centred, after the others. Returns
    ``(data, target, weight, fit_intercept, alpha, order)``: coefficient
    ``k`` of the solution is ``δ[order[k]]``.
    """
    n, p = X.shape
    if not sp.issparse(X):
        Z = np.asfortranarray(design.sw[:, None] * (X - design.x_mean))
        return Z, design.sw * yc, None, False, s / (2.0 * n), np.arange(p)
    Xc = sp.csc_matrix(X)
    order = np.arange(p)
    if fit_intercept:
        full = np.diff(Xc.indptr) > n // 2
        if full.any():
            order = np.r_[np.flatnonzero(~full), np.flatnonzero(full)]
            block = Xc[:, full].toarray() - design.x_mean[full]
            Xc = sp.hstack([Xc[:, ~full], sp.csc_matrix(block)], format="csc")
    if Xc.nnz < np.iinfo(np.int32).max and n < np.iinfo(np.int32).max:
        Xc.indices = Xc.indices.astype(np.int32, copy=False)
        Xc.indptr = Xc.indptr.astype(np.int32, copy=False)
    return Xc, yc, w, fit_intercept, s / (2.0 * float(w.sum())), order


@dataclass(frozen=True)
class L1Solution:
    """What :func:`solve_l1_deviation` returns.

    ``delta`` is δ, ``n_iter`` the coordinate-descent epochs, ``converged``
    whether the KKT conditions hold to ``tol``; ``gram`` is
    ``G_SS = Z_Sᵀ Z_S`` on the support of δ when the active-set step formed
    it (the tangent reuses it), else None.
    """

    delta: np.ndarray
    n_iter: int
    converged: bool
    gram: np.ndarray | None = None


def _active_set_step(design, delta, r0, s, tol):
    """δ solving the KKT conditions exactly on the support and signs of ``delta``.

    On the support ``S`` with signs ``σ`` the conditions ``g_S + s σ = 0``
    are linear, ``G_SS δ_S = Z_Sᵀ r0 - s σ / 2``. The result is the lasso
    solution when its signs are ``σ`` and ``|g_j| <= s`` off ``S``; returns
    ``(δ, G_SS)`` when it is (to ``tol``), else None.
    """
    cols = np.flatnonzero(delta)
    if cols.size == 0:
        return None
    gram = design.centered.column_gram(cols)
    rhs = design.rmatmat(r0)[cols] - 0.5 * s * np.sign(delta[cols])
    try:
        step = np.zeros_like(delta)
        step[cols] = np.linalg.solve(gram, rhs)
    except np.linalg.LinAlgError:
        return None
    if not np.array_equal(np.sign(step[cols]), np.sign(delta[cols])):
        return None
    return (step, gram) if _kkt_met(design, step, r0, s, tol) else None


def solve_l1_deviation(
    X, yc, w, design, s, *, fit_intercept, tol, max_iter, log=SILENT
):
    """δ minimising ``‖Z δ - r0‖² + s ‖δ‖₁`` by scikit-learn's coordinate descent.

    ``Z = W^{1/2}(X - 1x̄ᵀ)`` is ``design``, ``r0 = W^{1/2} yc`` with ``yc``
    the weighted centred targets ``y' - ȳ'`` of ``y' = y - Xθ₀``.
    scikit-learn's ``Lasso`` (cyclic coordinate descent with per-coordinate
    steps, so graded columns converge alike) runs warm-started with a
    duality-gap tolerance that tightens until the KKT conditions of
    :func:`_kkt_met` hold to ``tol``, or ``max_iter`` epochs in all are spent.
    The duality gap is quadratic in the distance to the optimum, so it cannot
    certify KKT violations much below ``sqrt(eps)``: where coordinate descent
    stops short of ``tol`` by its own criterion (not for want of
    iterations), :func:`_active_set_step` solves the conditions on its
    support and signs exactly. Returns an :class:`L1Solution`; ``log``
    (a :class:`~skrt._fit_log.FitLog`) gets one line per round of
    coordinate descent at ``verbose >= 2``.
    """
    r0 = design.sw * yc
    data, target, weight, center, a, order = _cd_problem(
        X, yc, w, design, s, fit_intercept
    )
    lasso = Lasso(
        alpha=a,
        fit_intercept=center,
        precompute=False,
        copy_X=False,
        warm_start=True,
        selection="cyclic",
    )
    delta, used = np.full(X.shape[1], np.nan), 0
    cd_tol = float(tol)
    while used < max_iter:
        lasso.set_params(tol=cd_tol, max_iter=int(max_iter - used))
        with warnings.catch_warnings():
            # reaching max_iter is judged below, by the KKT conditions
            warnings.simplefilter("ignore", ConvergenceWarning)
            try:
                lasso.fit(data, target, sample_weight=weight)
            except ValueError as exc:
                if "non-finite" not in str(exc):
                    raise
                raise ValueError(
                    "RegularityLasso diverged (non-finite coefficients); scale X."
                ) from None
        budget_spent = lasso.n_iter_ >= max_iter - used
        used += int(lasso.n_iter_)
        previous, delta = delta, np.empty(X.shape[1])
        delta[order] = lasso.coef_
        met = _kkt_met(design, delta, r0, s, tol)
        log(
            f"coordinate descent to a duality gap {cd_tol:.2g}: "
            f"{int(lasso.n_iter_)} epochs ({used} in all), "
            f"{np.count_nonzero(delta)} active, KKT {'met' if met else 'not met'}",
            2,
        )
        if met:
            return L1Solution(delta, used, True)
        # stopped by its duality gap: finish on the support it found
        step = None if budget_spent else _active_set_step(design, delta, r0, s, tol)
        if step is not None:
            return L1Solution(step[0], used, True, step[1])
        if np.array_equal(delta, previous):
            break  # coordinate descent cannot improve on it
        cd_tol *= 1e-2  # a tighter duality gap, from where it stopped
    return L1Solution(delta, used, False)


def active_set_tangent(design, delta, theta0_dot, gram=None):
    """``δ̇``: zero off the support ``S`` of δ, ``-G_SS⁻¹((G θ̇₀)_S + sign(δ_S)/2)``
    on it (``G = Zᵀ Z``; ``gram`` is ``G_SS`` when already formed)."""
    delta_dot = np.zeros_like(delta)
    cols = np.flatnonzero(delta)
    if cols.size == 0:
        return delta_dot
    if gram is None:
        # X_cSᵀ W X_cS for the active columns only, without cancellation
        gram = design.centered.column_gram(cols)
    rhs = design.rmatmat(design.matmat(theta0_dot))[cols] + 0.5 * np.sign(delta[cols])
    try:
        delta_dot[cols] = -np.linalg.solve(gram, rhs)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"The active set ({cols.size} coordinates) has a singular "
            "Gram matrix, so the tangent is not defined there; raise alpha."
        ) from None
    return delta_dot


class RegularityLasso(WeightsOnlyMixin, TangentMixin, RegressorMixin, BaseEstimator):
    """Linear regression with an L1 pull toward a prior, and its tangent.

    Minimises ``Σ_i w_i (x_iᵀθ + b - y_i)² + alpha ‖θ - θ₀(alpha)‖₁``
    (paper eq. 97): a user's model differs from the shared model ``θ₀`` in
    few coordinates. Without a prior ``θ₀ = 0`` and this is the lasso (in
    :class:`RegularityRidge`'s scaling: ``sklearn.linear_model.Lasso(a)`` is
    ``RegularityLasso(alpha=2 a n)`` for unit weights). Solved by
    scikit-learn's coordinate descent; the tangent is exact on the active
    set. There is no exact leave-one-out for the L1 penalty, so no
    ``loo_curve``, ``sample_information``, ``influence_diagnostics`` or
    ``predict(return_std=True)``; the query scores are those the tangent
    gives (``heuristic="sld"``, ``batch="topk"``).

    Parameters
    ----------
    alpha : float, default=1.0
        The regularity ``s`` (positive; there is no closed-form leave-one-out
        for the L1 penalty, so no ``"loo"``).
    prior : dict or None, default=None
        As in :class:`RegularityRidge` (:func:`skrt.prior_from` builds it):
        θ₀, θ̇₀, and the intercept, its tangent and the noise variance used
        when fitted on zero samples (the model is then its prior).
    fit_intercept : bool, default=True
        Unpenalised intercept.
    tol : float, default=1e-6
        Tolerance of the optimality (KKT) conditions, relative to alpha.
    max_iter : int, default=10000
        Coordinate-descent epochs (passes over the features), in all; a
        ``ConvergenceWarning`` names it when they run out before ``tol``.
    verbose : int, default=0
        0 writes nothing; 1 writes progress lines on stderr (the size of
        the problem, then the epochs, active set and time of coordinate
        descent); 2 adds one line per round of coordinate descent.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    coef_tangent_ : ndarray of shape (n_features,)
        ``dθ*/d alpha`` with θ₀ moving along θ̇₀: ``θ̇₀ + δ̇`` where the
        deviation ``δ = θ - θ₀`` has ``δ̇ = 0`` off the active set and
        ``δ̇_S = -G_SS⁻¹((G θ̇₀)_S + sign(δ_S)/2)`` on it,
        ``G = Xcᵀ W Xc``.
    intercept_tangent_ : float
    active_ : ndarray of shape (n_features,), dtype=bool
        Coordinates where the model differs from θ₀.
    alpha_ : float
    noise_variance_ : float
        ``Σ w r² / (Σw - |active| - [intercept])``.
    n_iter_ : int
        Coordinate-descent epochs run (0 for a fit on no samples). An int,
        as the model has one target (the ridge and kernel models give one
        count per target).
    n_samples_fit_ : int
        Training samples of the last fit; 0 for a fit on no samples (the
        model is then its prior).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    Notes
    -----
    On the active set ``S`` (fixed under small changes of alpha) the
    stationarity condition ``2 X_cSᵀ W r + s sign(δ_S) = 0`` with
    ``r = Xc(θ₀ + δ) - yc`` differentiates to

    .. math::

        2 G_{SS} \\dot\\delta_S + 2 (G \\dot\\theta_0)_S + \\sigma_S = 0,
        \\qquad \\sigma_S = \\mathrm{sign}(\\delta_S).

    Examples
    --------
    >>> import numpy as np
    >>> from skrt import RegularityLasso, RegularityRidge, prior_from
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 5)
    >>> shared = RegularityRidge(alpha=1.0).fit(X, X @ [1.0, 1, 1, 1, 1])
    >>> y = X @ [1.0, 1, 1, 3, 1] + 0.1 * rng.randn(200)  # differs in one weight
    >>> user = RegularityLasso(alpha=50.0, prior=prior_from(shared)).fit(X, y)
    >>> user.active_
    array([False, False, False,  True, False])
    """

    # private per-fit state, forgotten by a refit (besides the public ``*_``)
    _fit_state = ("_y_ndim",)

    def __init__(
        self,
        alpha=1.0,
        *,
        prior=None,
        fit_intercept=True,
        tol=1e-6,
        max_iter=10000,
        verbose=0,
    ):
        self.alpha = alpha
        self.prior = prior
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _check_params(self):
        check_positive(self.alpha, "alpha")
        check_bool(self.fit_intercept, "fit_intercept")
        check_positive(self.tol, "tol")
        check_positive(self.max_iter, "max_iter", kind=numbers.Integral)
        check_prior_param(self.prior)
        check_verbose(self.verbose)

    def fit(self, X, y, sample_weight=None):
        """Fit θ by coordinate descent, then the tangent on the active set.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : RegularityLasso
        """
        self._check_params()
        log = FitLog(check_verbose(self.verbose), "RegularityLasso")
        reset_fitted(self)
        prior_set = self.prior is not None
        if prior_set and np.shape(y)[:1] == (0,):
            X, y = validate_empty(self, X, y)
            prior = prior_arrays(self.prior, X.shape[1], y)
            return self._set(
                prior,
                prior["coef"][:, 0],
                prior["coef_tangent"][:, 0],
                prior["intercept"][0],
                prior["intercept_tangent"][0],
                prior["noise_variance"][0],
                n_iter=0,
                n_samples=0,
            )
        refuse_device_arrays(
            "RegularityLasso", DEVICE_ESTIMATORS, X=X, y=y, sample_weight=sample_weight
        )
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=np.float64, y_numeric=True
        )
        n, p = X.shape
        w = check_sample_weight(sample_weight, n)
        if prior_set:
            prior = prior_arrays(self.prior, p, y)
        else:
            prior = prior_arrays({"coef": np.zeros(p)}, p, y)
        theta0, theta0_dot = prior["coef"][:, 0], prior["coef_tangent"][:, 0]
        y_dev = y - np.asarray(X @ theta0)  # θ = θ₀ + δ: the lasso for δ
        x_mean, y_mean, w_sum = weighted_center(
            X, y_dev[:, None], w, self.fit_intercept
        )
        design = CenteredDesign(X, x_mean, w)
        log(
            f"{n} samples x {p} features{' (sparse)' if sp.issparse(X) else ''}, "
            f"alpha={self.alpha:.4g}{', toward a prior' if prior_set else ''}"
        )
        started = time.perf_counter()
        solution = solve_l1_deviation(
            X, y_dev - y_mean[0], w, design, float(self.alpha),
            fit_intercept=self.fit_intercept, tol=self.tol, max_iter=self.max_iter,
            log=log,
        )  # fmt: skip
        log(
            f"coordinate descent: {solution.n_iter} epochs, "
            f"{'converged' if solution.converged else 'not converged'}, "
            f"{np.count_nonzero(solution.delta)} of {p} coordinates active, "
            f"{seconds(time.perf_counter() - started)}"
        )
        if not solution.converged:
            warnings.warn(
                f"RegularityLasso did not reach tol={self.tol:g} in "
                f"max_iter={self.max_iter} iterations; increase max_iter.",
                ConvergenceWarning,
                stacklevel=2,
            )
        delta = solution.delta
        active = delta != 0
        delta_dot = active_set_tangent(design, delta, theta0_dot, solution.gram)
        coef = theta0 + delta
        coef_tangent = theta0_dot + delta_dot
        intercept = y_mean[0] - x_mean @ delta  # b = ȳ' - x̄ᵀδ = ȳ - x̄ᵀθ
        resid = np.asarray(X @ coef) + intercept - y
        dof = w_sum - active.sum() - float(self.fit_intercept)
        rss = float(w @ resid**2)
        noise = noise_variance(rss, w_sum, dof)
        return self._set(
            prior,
            coef,
            coef_tangent,
            intercept,
            -x_mean @ coef_tangent,
            noise,
            solution.n_iter,
            n,
        )

    def _set(
        self,
        prior,
        coef,
        coef_tangent,
        intercept,
        intercept_tangent,
        noise,
        n_iter,
        n_samples,
    ):
        """Assign every fitted attribute (the one place that does)."""
        self.coef_ = np.asarray(coef, dtype=float)
        self.coef_tangent_ = np.asarray(coef_tangent, dtype=float)
        self.intercept_ = float(intercept)
        self.intercept_tangent_ = float(intercept_tangent)
        self.active_ = self.coef_ != prior["coef"][:, 0]
        self.alpha_ = float(self.alpha)
        self.noise_variance_ = float(noise)
        self.n_iter_ = int(n_iter)
        self.n_samples_fit_ = int(n_samples)
        self._y_ndim = 1
        return self

    def _validate_X(self, X):
        check_is_fitted(self)
        refuse_device_arrays("RegularityLasso", DEVICE_ESTIMATORS, X=X)
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, reset=False)
        return X.tocsr() if sp.issparse(X) else X

    def _no_decomposition_advice(self):
        return (
            "needs (X̃ᵀWX̃ + sP)⁻¹, which the L1 model does not define; use "
            "heuristic='sld' (and batch='topk' for batches) or RegularityRidge."
        )
