"""Exact leave-one-out changes of a fitted ridge or kernel ridge model.

Array-in/array-out closed forms on one :class:`~skrt._linalg.Spectral`
decomposition: the sample information of the SUI paper (``docs/math.rst``
§ ``math-sample-information``) and the classical influence diagnostics
(leverage, studentized residuals, Cook's distance, DFFITS, DFBETA(S)). No
refits and no loop over samples: every quantity is a product with ``P``
(n x rank) or a Gram of it.

Notation (``docs/math.rst`` §§ ``math-notation``, ``math-loo``):
``M = X̃ᵀWX̃ + sP`` in augmented coordinates, ``g_i = x̃_iᵀM⁻¹x̃_i`` (unit
leverage), ``h_i = w_i g_i``, residual ``r_i = f(x_i) - y_i``. Leaving out
one observation of sample i removes ``m_i = min(w_i, 1)`` of its weight (the
package's frequency-weight convention); by Sherman-Morrison the parameters
then change by

.. math::

    \\tilde\\theta^* - \\tilde\\theta^*_{(-i)} = -M^{-1}\\tilde x_i\\, e_i,
    \\qquad e_i = \\frac{m_i r_i}{1 - m_i g_i},

exactly, for any ``s``. Everything below is a function of ``e``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._centering import row_block
from ._linalg import SINGULAR, Spectral, gcv_path, noise_variance, removed_fraction


@dataclass(frozen=True)
class LeaveOneOut:
    """The exact leave-one-out record of a fit at one alpha.

    Per-target arrays keep the target axis (the estimator drops it for 1-D
    y). Sign convention: ``residual`` is ``r = f - y`` like every residual
    inside the package; ``loo_residual`` is the public ``y - f_(-i)``.

    Attributes
    ----------
    residual : ndarray of shape (n_samples, n_targets)
        ``r = f(x_i) - y_i`` on the training set.
    leverage : ndarray of shape (n_samples,)
        ``h_i = w_i g_i``.
    loo_residual : ndarray of shape (n_samples, n_targets)
        ``y_i - f_(-i)(x_i) = -r_i / (1 - m_i g_i)``; ``inf`` where the sample
        pins the fit (``1 - m g <=`` :data:`~skrt._linalg.SINGULAR`).
    loo_error : ndarray of shape (n_targets,)
        ``Σ w loo_residual² / Σw`` (``inf`` if any is infinite).
    gcv_error : ndarray of shape (n_targets,)
    noise_variance : ndarray of shape (n_targets,)
        ``Σ w r² / (Σw - df)`` (:func:`~skrt._linalg.noise_variance`).
    """

    residual: np.ndarray
    leverage: np.ndarray
    loo_residual: np.ndarray
    loo_error: np.ndarray
    gcv_error: np.ndarray
    noise_variance: np.ndarray


def _pinned(spec: Spectral, s: float):
    """``r = f - y``, ``1 - m g`` and where the latter is above round-off."""
    resid = spec.residual(s)
    denom = spec.loo_denominator(s)
    return resid, denom, denom > SINGULAR


def leave_one_out_record(spec: Spectral, s: float) -> LeaveOneOut:
    """Leverages, exact leave-one-out residuals and error, GCV and ``σ²`` at
    alpha ``s`` from the decomposition: ``y_i - f_(-i)(x_i) = -r_i/(1 - m_i
    g_i)`` (``m_i = min(w_i, 1)``, one observation of sample i left out)."""
    w, w_sum = spec.w, spec.w_sum
    resid, denom, ok = _pinned(spec, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        loo = np.where(ok[:, None], -resid / denom[:, None], np.inf)
    finite = np.isfinite(loo).all()
    loo_error = (w @ loo**2) / w_sum if finite else np.full(loo.shape[1], np.inf)
    dof = float(spec.residual_dof(s))
    return LeaveOneOut(
        residual=resid,
        leverage=w * spec.unit_leverage(s),
        loo_residual=loo,
        loo_error=np.atleast_1d(loo_error),
        gcv_error=gcv_path(spec, s)[0],
        noise_variance=np.atleast_1d(noise_variance(w @ resid**2, w_sum, dof)),
    )


def leave_one_out_change(spec: Spectral, s: float):
    """``e_i = m_i r_i / (1 - m_i g_i)`` per sample and target.

    Returns ``e`` of shape (n_samples, n_targets), the residuals ``r = f - y``
    and ``1 - m g`` (n_samples,). Samples whose removal leaves the fit
    undetermined (``1 - m g`` at round-off) get ``e = inf``.
    """
    resid, denom, ok = _pinned(spec, s)
    m = removed_fraction(spec.w)
    safe = np.where(ok, denom, 1.0)
    e = np.where(ok[:, None], (m / safe)[:, None] * resid, np.inf)
    return e, resid, denom


def training_coordinates(spec: Spectral):
    """``t_j`` with ``x̃ᵀ M⁻¹ x̃_j = t_jᵀ q(x)``: ``(1/Σw, P_j)`` or ``P_j``."""
    if spec.fit_intercept:
        return np.hstack([np.full((spec.P.shape[0], 1), 1.0 / spec.w_sum), spec.P])
    return spec.P


def training_influence_coordinates(spec: Spectral, s: float):
    """``q(x_j)`` of the training rows: ``(1, P_j/(λ+s))`` or ``P_j/(λ+s)``."""
    q = spec.P / (spec.lam + s)
    if spec.fit_intercept:
        return np.hstack([np.ones((q.shape[0], 1)), q])
    return q


KINDS = ("function", "weights")


def check_kind(kind):
    """The ``kind`` of sample information."""
    if kind not in KINDS:
        raise ValueError(f"kind must be 'function' or 'weights'; got {kind!r}.")
    return kind


def check_noise_variance(noise_variance, n_targets):
    """``σ²`` as an array of shape (n_targets,): a positive finite float or
    one per target."""
    try:
        sigma2 = np.asarray(noise_variance, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(
            "noise_variance must be a positive float or an array of "
            f"{n_targets} of them (one per target); got {noise_variance!r}."
        ) from None
    if sigma2.ndim > 1 or sigma2.size not in (1, n_targets):
        raise ValueError(
            "noise_variance must be a float or have shape "
            f"({n_targets},), one per target of the fitted model; got shape "
            f"{sigma2.shape}."
        )
    sigma2 = np.broadcast_to(sigma2.ravel(), (n_targets,))
    if not np.all(np.isfinite(sigma2)) or np.any(sigma2 <= 0):
        raise ValueError(
            "noise_variance must be positive and finite; got "
            f"{np.asarray(noise_variance)!r} (a model that fits its training "
            "targets exactly has noise_variance_ 0: pass noise_variance=1.0 "
            "for the unscaled scores)."
        )
    return sigma2


def weight_information(spec: Spectral, s: float, noise_variance):
    """SI of every sample (SUI eq. 5 with the posterior smoothing ``σ²A⁻¹``).

    .. math::

        SI_i = \\tfrac{1}{2\\sigma^2} \\Delta\\theta_i^\\top A\\, \\Delta\\theta_i
             = \\frac{e_i^2\\,(x_i-\\bar x)^\\top A^{-1}(x_i-\\bar x)}{2\\sigma^2}

    with ``Δθ_i = -A⁻¹(x_i - x̄) e_i`` the change of the penalised weights:
    the KL divergence between the Gaussian posteriors ``N(θ*, σ²A⁻¹)`` with
    and without the sample (equal covariances). Summed over targets.
    """
    e, _, _ = leave_one_out_change(spec, s)
    sigma2 = check_noise_variance(noise_variance, e.shape[1])
    quad = spec.P2 @ (1.0 / (spec.lam + s))
    with np.errstate(invalid="ignore"):
        return ((e**2 / (2.0 * sigma2)) * quad[:, None]).sum(axis=1)


def functional_information(spec: Spectral, s: float, noise_variance, Q_val):
    """F-SI of every sample (SUI eq. 16) over validation coordinates ``Q_val``.

    .. math::

        F\\text{-}SI_i = \\frac{1}{2\\sigma^2 n_{val}} \\sum_v
            \\big(f(x_v) - f_{(-i)}(x_v)\\big)^2
          = \\frac{e_i^2}{2\\sigma^2 n_{val}}\\; t_i^\\top (Q^\\top Q)\\, t_i

    since ``f(x_v) - f_(-i)(x_v) = -x̃_vᵀM⁻¹x̃_i e_i = -(q_vᵀ t_i) e_i``: one
    (rank x rank) Gram of the validation coordinates, never the
    n_val x n matrix. Summed over targets.
    """
    return functional_information_gram(
        spec, s, noise_variance, Q_val.T @ Q_val, Q_val.shape[0]
    )


def functional_information_gram(spec: Spectral, s: float, noise_variance, gram, n_val):
    """F-SI of every sample from the validation coordinates' Gram
    ``QᵀQ`` ((r+1) x (r+1), or r x r without an intercept) and their number
    ``n_val``: :func:`functional_information` where the Gram was summed
    elsewhere (over the chunks of a Dask array, ``skrt._dask_fitted``)."""
    e, _, _ = leave_one_out_change(spec, s)
    sigma2 = check_noise_variance(noise_variance, e.shape[1])
    T = training_coordinates(spec)
    quad = np.einsum("ij,ij->i", T @ gram, T) / n_val
    with np.errstate(invalid="ignore"):
        return ((e**2 / (2.0 * sigma2)) * quad[:, None]).sum(axis=1)


# digits the RSS identity of influence_diagnostics may lose (10^4) before
# the refit's RSS is summed directly
_CANCELLATION = 1e4


def refit_rss(spec: Spectral, s: float, resid, e, m, rows):
    """Weighted RSS of each leave-one-out refit in ``rows``, summed directly.

    The refit without ``m_i`` units of sample ``i`` predicts
    ``f_(-i)(x_j) = f(x_j) + e_i κ_ij`` with ``κ_ij = x̃_jᵀM⁻¹x̃_i =
    [1/Σw] + Σ_k P_jk P_ik/(λ_k + s)``, so its RSS is
    ``Σ_j w'_j (r_j + e_i κ_ij)²`` with ``w' = w - m_i`` at ``j = i``: a sum
    of squares, free of the cancellation of ``RSS - m r²/(1 - m g) + ...``.
    O(n · rank) per row, in row blocks of bounded size.
    """
    n = spec.P.shape[0]
    scaled = spec.P / (spec.lam + s)
    out = np.empty(rows.size)
    step = row_block(n)
    for start in range(0, rows.size, step):
        idx = rows[start : start + step]
        kappa = spec.intercept_leverage + scaled[idx] @ spec.P.T  # (b, n)
        refit = resid[None, :] + e[idx, None] * kappa
        weights = np.repeat(spec.w[None, :], idx.size, axis=0)
        weights[np.arange(idx.size), idx] -= m[idx]  # exactly w_i - m_i
        out[start : start + idx.size] = np.einsum("ij,ij->i", weights, refit**2)
    return out


def influence_diagnostics(
    spec: Spectral, s: float, dfbeta_basis=None, *, rss=None, refit=None
):
    """Leverage, studentized residuals, Cook's distance, DFFITS, DFBETA(S).

    One target. ``dfbeta_basis`` is ``(V, x_mean)`` for a linear model (the
    eigenbasis of the centred design and the weighted means), or None to
    skip DFBETA(S) (kernel models have no finite weight vector).

    Definitions, each reducing to statsmodels' ``OLSInfluence`` at ``s = 0``
    with unit weights (``k`` = number of parameters, here the effective
    ``df = [intercept] + Σ λ/(λ+s)``; ``σ²`` = weighted RSS / (Σw - df)):

    - residuals ``y - f`` and ``h_i = w_i g_i``;
    - internal studentized ``√m (y - f) / (σ √(1 - m g))``;
    - ``σ²_(i)``: the refit's weighted RSS over ``Σw - df - m``, exactly
      ``RSS + s‖θ‖² - m r²/(1 - m g) - s‖θ_(-i)‖²`` (the penalised minimum
      drops by ``m r²/(1 - m g)``); external studentized uses it for σ²;
    - Cook's ``Σ_j w_j (f(x_j) - f_(-i)(x_j))² / (df σ²)``
      ``= e²(g - s‖A⁻¹(x_i - x̄)‖²) / (df σ²)``;
    - DFFITS ``external · √(m g / (1 - m g))``;
    - DFBETA ``θ̃ - θ̃_(-i) = -M⁻¹x̃_i e_i`` (intercept first) and DFBETAS
      ``DFBETA / (σ_(i) √diag(M⁻¹))``;
    - self-influence ``σ_iᵀH⁻¹σ_i = 2 r² g`` (``docs/math.rst`` § ``math-loo``).

    ``spec`` may hold only some of the training rows (one chunk of a Dask
    array, ``skrt._dask_fitted``): then ``rss`` is the whole training set's
    weighted RSS (its checks are the caller's) and ``refit(rows, e,
    identity)`` returns the directly summed refit RSS of the rows (indices
    into ``spec``) where the identity (its values given) cancels; by default
    both come from ``spec`` itself.
    """
    e, resid, denom = leave_one_out_change(spec, s)
    e, resid = e[:, 0], resid[:, 0]
    w, lam = spec.w, spec.lam
    m = removed_fraction(w)
    g = spec.unit_leverage(s)
    finite = denom > SINGULAR
    safe = np.where(finite, denom, 1.0)
    e = np.where(finite, e, 0.0)  # set to inf at the end, without inf - inf
    df = float(spec.fit_intercept) + float(np.sum(lam / (lam + s)))
    dof = float(spec.residual_dof(s))
    if rss is None:
        rss = float(w @ resid**2)
        check_diagnostics_defined(dof, float(m.max()), spec.w_sum, rss)
    sigma2 = rss / dof
    # ‖θ‖², θᵀA⁻¹(x_i - x̄) and ‖A⁻¹(x_i - x̄)‖² in the eigenbasis
    theta_c = spec.c[:, 0] / (lam + s)  # θ* in the basis V
    cross = spec.P @ (theta_c / (lam + s))
    sq_inverse = spec.P2 @ (1.0 / (lam + s)) ** 2
    theta_sq = float(theta_c @ theta_c)
    # θ_(-i) = θ + A⁻¹(x_i - x̄) e_i; the penalised RSS drops by m r²/(1 - m g)
    theta_loo_sq = theta_sq + 2.0 * e * cross + e**2 * sq_inverse
    rss_loo = rss + s * theta_sq - m * resid**2 / safe - s * theta_loo_sq
    # where that identity cancels (the left-out row carried nearly all of
    # the penalised RSS: more than _CANCELLATION times what is left), sum the
    # refit's squared residuals directly instead
    terms = rss + s * theta_sq + m * resid**2 / safe + s * theta_loo_sq
    redo = np.flatnonzero(finite & (terms > _CANCELLATION * np.maximum(rss_loo, 0.0)))
    if redo.size:
        if refit is None:
            rss_loo[redo] = refit_rss(spec, s, resid, e, m, redo)
        else:
            rss_loo[redo] = refit(redo, e, rss_loo[redo])
    sigma2_loo = np.maximum(rss_loo, 0.0) / (dof - m)
    y_minus_f = -resid
    scale = np.sqrt(m / safe)
    with np.errstate(divide="ignore", invalid="ignore"):
        external = y_minus_f * scale / np.sqrt(sigma2_loo)
    out = {
        "studentized_residuals_internal": y_minus_f * scale / np.sqrt(sigma2),
        "studentized_residuals_external": external,
        "cooks_distance": e**2 * (g - s * sq_inverse) / (df * sigma2),
        "dffits": external * np.sqrt(m * g / safe),
        "loo_noise_variance": sigma2_loo,
    }
    if dfbeta_basis is not None:
        V, x_mean = dfbeta_basis
        d_theta = -((spec.P / (lam + s)) * e[:, None]) @ V.T
        diag = _inverse_diagonal(V, lam, s, spec.null)
        if spec.fit_intercept:
            # M⁻¹x̃_i = (1/Σw - x̄ᵀA⁻¹(x_i - x̄), A⁻¹(x_i - x̄))
            d_b = -e / spec.w_sum - d_theta @ x_mean
            d_theta = np.hstack([d_b[:, None], d_theta])
            diag_b = 1.0 / spec.w_sum + _inverse_quadratic(V, lam, s, x_mean, spec.null)
            diag = np.concatenate([[diag_b], diag])
        out["dfbeta"] = d_theta
        with np.errstate(divide="ignore", invalid="ignore"):
            out["dfbetas"] = (d_theta / np.sqrt(diag)) * (1.0 / np.sqrt(sigma2_loo))[
                :, None
            ]
    if not finite.all():
        for value in out.values():
            value[~finite] = np.inf
    out["residuals"] = y_minus_f
    out["leverage"] = w * g
    out["self_influence"] = 2.0 * resid**2 * g
    return out


def check_diagnostics_defined(dof, m_max, w_sum, rss):
    """The ValueErrors of :func:`influence_diagnostics` where its quantities
    are undefined: no residual degree of freedom left once an observation
    (weighing up to ``m_max``) is left out, or a fit with zero RSS."""
    if not dof - m_max > 1e-8 * w_sum:
        raise ValueError(
            "influence_diagnostics needs more residual degrees of freedom than "
            f"one left-out observation takes (Σw - df = {dof:.3g}, an "
            f"observation weighs up to {m_max:.3g}): too few samples for "
            "leave-one-out variance estimates; add samples or raise alpha."
        )
    if not rss > 0.0:
        raise ValueError(
            "The model fits its training targets exactly (residual sum of "
            "squares 0): studentized residuals and Cook's distance are undefined."
        )


def _inverse_diagonal(V, lam, s, null=None):
    """diag(A⁻¹): ``Σ_k V_jk²/(λ_k+s)`` plus ``(1 - Σ_k V_jk²)/s`` off span(V)
    (``Σ_k N_jk²/s`` with ``null`` the complement's basis N, no cancellation)."""
    v_sq = V**2
    diag = v_sq @ (1.0 / (lam + s))
    if null is not None:
        diag += (null**2).sum(axis=1) / s
    elif V.shape[1] < V.shape[0]:
        diag += np.maximum(1.0 - v_sq.sum(axis=1), 0.0) / s
    return diag


def _inverse_quadratic(V, lam, s, x, null=None):
    """xᵀA⁻¹x, with ``A⁻¹ = 1/s`` off span(V) (projected on ``null`` when
    given, rather than ``‖x‖² - ‖Vᵀx‖²``)."""
    proj = V.T @ x
    value = float(proj**2 @ (1.0 / (lam + s)))
    if null is not None:
        value += float(np.sum((null.T @ x) ** 2)) / s
    elif V.shape[1] < V.shape[0]:
        value += max(float(x @ x - proj @ proj), 0.0) / s
    return value
