"""RegularityLasso: an L1 pull toward a shared model, with its tangent on the
active set (paper eq. 97-98)."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import RegularityMixin, WeightsOnlyMixin, reset_fitted
from ._centering import weighted_center
from ._krylov import CenteredDesign
from ._ridge import LINEAR_FIT_STATE, check_prior_param, prior_arrays, validate_empty
from ._validation import check_bool, check_positive, check_sample_weight


def _lipschitz(design):
    """2 λ_max(ZᵀZ): the Lipschitz constant of the smooth part's gradient."""
    n, p = design.shape
    if min(n, p) <= 500:
        G = design.gram_matmat(np.eye(min(n, p)))
        top = float(np.linalg.eigvalsh(G)[-1])
    else:
        op = LinearOperator(
            (min(n, p),) * 2, matvec=lambda v: design.gram_matmat(v), dtype=float
        )
        top = float(eigsh(op, k=1, which="LA", tol=1e-3, return_eigenvectors=False)[0])
    return 2.0 * max(top, 1e-300) * 1.01


class _ScaledGram:
    """The Gram operator of ``Z D⁻¹`` (D a positive diagonal), smaller side."""

    def __init__(self, design, d):
        self.design, self.d, self.shape = design, d, design.shape

    def gram_matmat(self, V):
        n, p = self.shape
        d = self.d if V.ndim == 1 else self.d[:, None]
        if p <= n:
            return self.design.rmatmat(self.design.matmat(V / d)) / d
        return self.design.matmat(self.design.rmatmat(V) / d**2)


def _solve_l1_deviation(design, r0, s, tol, max_iter):
    """δ minimising ``‖Z δ - r0‖² + s ‖δ‖₁`` by FISTA with adaptive restart.

    ``r0`` are the weighted centred targets (``W^{1/2}(y' - ȳ')``). The
    iteration runs in the coordinates ``u = D δ`` with ``D`` the centred
    column norms (diagonal preconditioning, a per-coordinate step and
    threshold), so columns of very different scale converge alike. Stops
    when the KKT conditions hold to ``tol`` relative to ``s``: ``|g_j| <= s``
    off the support and ``|g_j + s sign δ_j| <= tol s`` on it, with
    ``g = 2 Zᵀ(Zδ - r0)`` (plus the round-off floor ``128 eps d_j ‖r0‖`` of
    ``g_j``). Returns (δ, gradient g, iterations, converged).
    """
    p = design.shape[1]
    d = np.sqrt(design.diagonal())
    d = np.where(d > 0, d, 1.0)  # zero columns: gradient 0, δ_j stays 0
    step = 1.0 / _lipschitz(_ScaledGram(design, d))
    d2 = d * d
    r0_norm = float(np.linalg.norm(r0))
    delta = np.zeros(p)
    z, t = delta.copy(), 1.0
    converged = False
    for it in range(1, max_iter + 1):
        g_z = 2.0 * design.rmatmat(design.matmat(z) - r0)
        u = z - (step / d2) * g_z
        thresh = (step * s) / d2
        new = np.sign(u) * np.maximum(np.abs(u) - thresh, 0.0)  # prox of s‖·‖₁
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        if (z - new) @ (d2 * (new - delta)) > 0:  # restart: momentum uphill
            t_new, z = 1.0, new.copy()
        else:
            z = new + ((t - 1.0) / t_new) * (new - delta)
        delta, t = new, t_new
        if it % 10 == 0 or it == max_iter:
            g = 2.0 * design.rmatmat(design.matmat(delta) - r0)
            on = delta != 0
            kkt = np.where(
                on,
                np.abs(g + s * np.sign(delta)),
                np.maximum(np.abs(g) - s, 0.0),
            )
            if not np.all(np.isfinite(kkt)):
                raise ValueError(
                    "RegularityLasso diverged (non-finite gradient); scale X."
                )
            # g_j carries round-off of order eps d_j ‖r0‖: no tolerance
            # below that can be met (it matters for columns of large scale)
            floor = 128.0 * np.finfo(float).eps * d * r0_norm
            if np.all(kkt <= tol * s + floor):
                converged = True
                break
    g = 2.0 * design.rmatmat(design.matmat(delta) - r0)
    return delta, g, it, converged


class RegularityLasso(WeightsOnlyMixin, RegularityMixin, RegressorMixin, BaseEstimator):
    """Linear regression with an L1 pull toward a prior, and its tangent.

    Minimises ``Σ_i w_i (x_iᵀθ + b - y_i)² + alpha ‖θ - θ₀(alpha)‖₁``
    (paper eq. 97): a user's model differs from the shared model ``θ₀`` in
    few coordinates. Without a prior ``θ₀ = 0`` and this is the lasso (in
    :class:`RegularityRidge`'s scaling: ``sklearn.linear_model.Lasso(a)`` is
    ``RegularityLasso(alpha=2 a n)`` for unit weights). Solved by FISTA, a
    proximal gradient method; the tangent is exact on the active set.

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
        KKT tolerance relative to alpha.
    max_iter : int, default=10000
        FISTA iterations; a ``ConvergenceWarning`` names it when reached.

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

    _fit_state = LINEAR_FIT_STATE

    def __init__(
        self, alpha=1.0, *, prior=None, fit_intercept=True, tol=1e-6, max_iter=10000
    ):
        self.alpha = alpha
        self.prior = prior
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _check_params(self):
        check_positive(self.alpha, "alpha")
        check_bool(self.fit_intercept, "fit_intercept")
        check_positive(self.tol, "tol")
        check_positive(self.max_iter, "max_iter", kind=int)
        check_prior_param(self.prior)

    def fit(self, X, y, sample_weight=None):
        """Fit θ by FISTA, then the tangent on the active set.

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
        r0 = design.sw * (y_dev - y_mean[0])
        s = float(self.alpha)
        delta, g, n_iter, converged = _solve_l1_deviation(
            design, r0, s, self.tol, self.max_iter
        )
        if not converged:
            warnings.warn(
                f"RegularityLasso did not reach tol={self.tol:g} in "
                f"max_iter={self.max_iter} iterations; increase max_iter.",
                ConvergenceWarning,
                stacklevel=2,
            )
        active = delta != 0
        delta_dot = np.zeros(p)
        if active.any():
            cols = np.flatnonzero(active)
            # X_cSᵀ W X_cS for the active columns only, without cancellation
            G_SS = design.centered.column_gram(cols)
            rhs = design.rmatmat(design.matmat(theta0_dot))[cols] + 0.5 * np.sign(
                delta[cols]
            )
            try:
                delta_dot[cols] = -np.linalg.solve(G_SS, rhs)
            except np.linalg.LinAlgError:
                raise ValueError(
                    f"The active set ({cols.size} coordinates) has a singular "
                    "Gram matrix, so the tangent is not defined there; raise alpha."
                ) from None
        coef = theta0 + delta
        coef_tangent = theta0_dot + delta_dot
        intercept = y_mean[0] - x_mean @ delta  # b = ȳ' - x̄ᵀδ = ȳ - x̄ᵀθ
        resid = np.asarray(X @ coef) + intercept - y
        dof = w_sum - active.sum() - float(self.fit_intercept)
        rss = float(w @ resid**2)
        noise = rss / dof if dof > 1e-8 * w_sum else rss / w_sum
        return self._set(
            prior, coef, coef_tangent, intercept, -x_mean @ coef_tangent, noise, n_iter
        )

    def _set(
        self, prior, coef, coef_tangent, intercept, intercept_tangent, noise, n_iter
    ):
        self.coef_ = np.asarray(coef, dtype=float)
        self.coef_tangent_ = np.asarray(coef_tangent, dtype=float)
        self.intercept_ = float(intercept)
        self.intercept_tangent_ = float(intercept_tangent)
        self.active_ = self.coef_ != prior["coef"][:, 0]
        self.alpha_ = float(self.alpha)
        self.noise_variance_ = float(noise)
        self._noise_variance = np.array([self.noise_variance_])
        self.n_iter_ = int(n_iter)
        self._y_ndim = 1
        self._spectral = None
        return self

    def _validate_X(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, reset=False)
        return X.tocsr() if sp.issparse(X) else X

    def _no_decomposition_advice(self):
        return (
            "needs (X̃ᵀWX̃ + sP)⁻¹, which the L1 model does not define; use "
            "heuristic='sld' (and batch='topk' for batches) or RegularityRidge."
        )
