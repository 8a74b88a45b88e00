"""Influence diagnostics of a model fitted on array-API arrays.

:func:`skrt._influence.influence_diagnostics` (``docs/math.rst`` §
``math-influence``) on a :class:`skrt._spectral_xp.SpectralXP`: the same
closed forms in the model's namespace and on its device, every output an
array there. Where the identity for the refit's RSS cancels, the refit's
squared residuals are summed directly, in row blocks, as on the numpy path.
"""

from __future__ import annotations

from ._centering import row_block
from ._spectral_xp import leave_one_out_change, positive_part, removed

__all__ = ["influence_diagnostics"]

# digits the RSS identity may lose before the refit's RSS is summed directly
# (skrt._influence._CANCELLATION)
_CANCELLATION = 1e4


def influence_diagnostics(spec, s, dfbeta_basis=None):
    """Leverage, studentized residuals, Cook's distance, DFFITS, DFBETA(S)
    of one target (:func:`skrt._influence.influence_diagnostics`).

    Parameters
    ----------
    spec : SpectralXP
    s : float
    dfbeta_basis : (V, x_mean) or None
        Arrays of the model's namespace; None skips DFBETA(S).

    Returns
    -------
    diagnostics : dict of arrays in the model's namespace and device
    """
    xp, device = spec.namespace
    e, resid, denom = leave_one_out_change(spec, s)
    e, resid = e[:, 0], resid[:, 0]
    w, lam = spec.w, spec.lam
    m = removed(xp, w)
    g = spec.unit_leverage(s)
    finite = denom > spec.singular()
    safe = xp.where(finite, denom, 1.0)
    e = xp.where(finite, e, 0.0)  # inf at the end, without inf - inf
    df = float(spec.fit_intercept) + float(xp.sum(lam / (lam + s)))
    dof = spec.residual_dof(s)
    m_max = float(xp.max(m))
    if not dof - m_max > 1e-8 * spec.w_sum:
        raise ValueError(
            "influence_diagnostics needs more residual degrees of freedom than "
            f"one left-out observation takes (Σw - df = {dof:.3g}, an "
            f"observation weighs up to {m_max:.3g}): too few samples for "
            "leave-one-out variance estimates; add samples or raise alpha."
        )
    rss = float(w @ resid**2)
    if not rss > 0.0:
        raise ValueError(
            "The model fits its training targets exactly (residual sum of "
            "squares 0): studentized residuals and Cook's distance are undefined."
        )
    sigma2 = rss / dof
    theta_c = spec.c[:, 0] / (lam + s)  # θ* in the basis V
    cross = spec.P @ (theta_c / (lam + s))
    sq_inverse = spec.P2 @ (1.0 / (lam + s)) ** 2
    theta_sq = float(xp.sum(theta_c * theta_c))
    theta_loo_sq = theta_sq + 2.0 * e * cross + e**2 * sq_inverse
    dropped = m * resid**2 / safe
    rss_loo = rss + s * theta_sq - dropped - s * theta_loo_sq
    terms = rss + s * theta_sq + dropped + s * theta_loo_sq
    redo = finite & (terms > _CANCELLATION * positive_part(xp, rss_loo))
    if bool(xp.any(redo)):
        rows = xp.nonzero(redo)[0]
        rss_loo = xp.where(redo, _refit_rss(spec, s, resid, e, m, rows), rss_loo)
    sigma2_loo = positive_part(xp, rss_loo) / (dof - m)
    y_minus_f = -resid
    scale = xp.sqrt(m / safe)
    external = y_minus_f * scale / xp.sqrt(sigma2_loo)
    out = {
        "studentized_residuals_internal": y_minus_f * scale / sigma2**0.5,
        "studentized_residuals_external": external,
        "cooks_distance": e**2 * (g - s * sq_inverse) / (df * sigma2),
        "dffits": external * xp.sqrt(m * g / safe),
        "loo_noise_variance": sigma2_loo,
    }
    if dfbeta_basis is not None:
        V, x_mean = dfbeta_basis
        d_theta = -((spec.P / (lam + s)) * e[:, None]) @ V.T
        diag = _inverse_diagonal(xp, V, lam, s, spec.null)
        if spec.fit_intercept:
            # M⁻¹x̃_i = (1/Σw - x̄ᵀA⁻¹(x_i - x̄), A⁻¹(x_i - x̄))
            d_b = -e / spec.w_sum - d_theta @ x_mean
            d_theta = xp.concat([d_b[:, None], d_theta], axis=1)
            diag_b = 1.0 / spec.w_sum + _inverse_quadratic(
                xp, V, lam, s, x_mean, spec.null
            )
            first = xp.asarray([diag_b], dtype=diag.dtype, device=device)
            diag = xp.concat([first, diag])
        out["dfbeta"] = d_theta
        out["dfbetas"] = (d_theta / xp.sqrt(diag)) * (1.0 / xp.sqrt(sigma2_loo))[
            :, None
        ]
    if not bool(xp.all(finite)):
        for key, value in out.items():
            mask = finite if value.ndim == 1 else finite[:, None]
            out[key] = xp.where(mask, value, xp.inf)
    out["residuals"] = y_minus_f
    out["leverage"] = w * g
    out["self_influence"] = 2.0 * resid**2 * g
    return out


def _refit_rss(spec, s, resid, e, m, rows):
    """The refits' weighted RSS of ``rows`` (``skrt._influence.refit_rss``),
    summed directly in row blocks and placed at those rows of an (n,) array
    (zero elsewhere)."""
    xp, device = spec.namespace
    n = spec.P.shape[0]
    scaled = spec.P / (spec.lam + s)
    every = xp.arange(n, dtype=rows.dtype, device=device)
    out = xp.zeros(n, dtype=spec.dtype, device=device)
    step = row_block(n)
    for start in range(0, rows.shape[0], step):
        idx = rows[start : min(start + step, rows.shape[0])]
        kappa = spec.intercept_leverage + xp.take(scaled, idx, axis=0) @ spec.P.T
        refit = resid[None, :] + xp.take(e, idx)[:, None] * kappa
        own = xp.astype(idx[:, None] == every[None, :], spec.dtype)  # (b, n)
        weights = spec.w[None, :] - own * xp.take(m, idx)[:, None]  # w_i - m_i at i
        out = out + xp.sum(weights * refit**2, axis=1) @ own
    return out


def _inverse_diagonal(xp, V, lam, s, null):
    """diag(A⁻¹) (``skrt._influence._inverse_diagonal``)."""
    v_sq = V**2
    diag = v_sq @ (1.0 / (lam + s))
    if null is not None:
        return diag + xp.sum(null**2, axis=1) / s
    if V.shape[1] < V.shape[0]:
        return diag + positive_part(xp, 1.0 - xp.sum(v_sq, axis=1)) / s
    return diag


def _inverse_quadratic(xp, V, lam, s, x, null):
    """xᵀA⁻¹x (``skrt._influence._inverse_quadratic``)."""
    proj = V.T @ x
    value = float(xp.sum(proj**2 / (lam + s)))
    if null is not None:
        value += float(xp.sum((null.T @ x) ** 2)) / s
    elif V.shape[1] < V.shape[0]:
        value += max(float(xp.sum(x * x) - xp.sum(proj * proj)), 0.0) / s
    return value
