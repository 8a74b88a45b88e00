"""Dual-number SGD state and the data passes of :class:`~skrt.SGDFRegressor`.

The model is written around a fixed centre ``m`` (the weighted column mean
of the training data): ``f(x) = (x - m)ᵀθ + β`` with the intercept
``b = β - mᵀθ``. It is the same model, so the same minimiser, but the
intercept no longer couples to the columns' offsets: the curvature along β
is ``2`` (per unit weight) whatever the columns' means, and the centred
columns' curvature is their spread only. Steps that are stable for the
centred problem are far longer than for the raw one on data with offsets
(sparse non-negative features, large means), and the stationarity residuals
bound the distance to the optimum (docs/math.rst, :ref:`math-sgdf`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_RENORMALISE_BELOW = 1e-9
BLOCK = 4096  # rows per block for whole-data passes: no n-sized temporaries


class DualSGDState:
    """θ, β and their tangents with lazy L2 shrinkage and a lazy centre.

    ``θ = c (u + e_u m)``, ``θ̇ = c (v + e_v m) + d θ``; ``β`` and ``β̇``
    are plain scalars. One step on a mini-batch (rows ``Xb``, targets ``yb``,
    weights ``wb``) with step ``eta`` performs, from the old values,

    .. math::

        \\theta \\leftarrow \\theta - \\eta \\big(g + \\tfrac{2s}{W}\\theta\\big),
        \\quad \\dot\\theta \\leftarrow \\dot\\theta - \\eta \\big(H_B\\dot\\theta
            + \\tfrac{2}{W}\\theta + \\tfrac{2s}{W}\\dot\\theta\\big),
        \\quad \\beta \\leftarrow \\beta - \\eta\\,\\omega\\, g_\\beta,

    with ``g = Σ_B a_i (x_i - m)`` and ``H_B θ̇`` the batch's weight-averaged
    loss gradient and Hessian-vector product of the centred rows (SGD on the
    objective divided by the total weight ``W``) and ``ω`` the intercept's
    step relative to θ's. The shrinkage touches the scalars ``c`` and ``d``;
    the centring the scalars ``e_u`` and ``e_v``; the data part the batch's
    columns of ``u`` and ``v``, so a step on sparse rows costs O(nnz of the
    batch). The intercept is unpenalised.
    """

    def __init__(self, n_features, fit_intercept, tangent=True, center=None):
        self.UV = np.zeros((2, n_features))  # rows u and v, each contiguous
        self.c = 1.0
        self.d = 0.0
        self.e = np.zeros(2)  # e_u, e_v: multiples of the centre in u and v
        self.beta = 0.0
        self.beta_dot = 0.0
        self.omega = 1.0
        self.fit_intercept = fit_intercept
        self.tangent = tangent
        self.center = None
        self.set_center(center)

    def set_center(self, center):
        """Fix the centre ``m`` (zeros without an intercept); θ unchanged."""
        p = self.UV.shape[1]
        if center is None or not self.fit_intercept:
            center = np.zeros(p)
        old_b = self.intercept if self.center is not None else 0.0
        old_bdot = self.intercept_tangent if self.center is not None else 0.0
        self.renormalise()
        self.center = np.asarray(center, dtype=float)
        self.mm = float(self.center @ self.center)
        self.sync()
        # keep b = β - mᵀθ (and ḃ) where they were
        self.beta = old_b + self.center @ self.coef
        self.beta_dot = old_bdot + self.center @ self.coef_tangent

    def sync(self):
        """Recompute ``mᵀu`` and ``mᵀv`` (they are updated incrementally)."""
        self.mUV = self.UV @ self.center

    @property
    def u(self):
        return self.UV[0]

    @property
    def v(self):
        return self.UV[1]

    @property
    def coef(self):
        return self.c * (self.UV[0] + self.e[0] * self.center)

    @property
    def coef_tangent(self):
        return self.c * (self.UV[1] + self.e[1] * self.center) + self.d * self.coef

    @property
    def intercept(self):
        return self.beta - self.c * (self.mUV[0] + self.e[0] * self.mm)

    @property
    def intercept_tangent(self):
        m_theta = self.c * (self.mUV[0] + self.e[0] * self.mm)
        m_dot = self.c * (self.mUV[1] + self.e[1] * self.mm) + self.d * m_theta
        return self.beta_dot - m_dot

    def set_tangent(self, coef_tangent, intercept_tangent=None):
        """Replace θ̇ (and ḃ when given; θ unchanged)."""
        b_dot = self.intercept_tangent if intercept_tangent is None else None
        self.renormalise()
        self.UV[1] = np.asarray(coef_tangent)
        self.mUV[1] = self.UV[1] @ self.center
        if intercept_tangent is None:
            intercept_tangent = b_dot
        self.beta_dot = float(intercept_tangent) + self.mUV[1]

    def move_along_tangent(self, ds):
        """θ ← θ + ds θ̇ and b ← b + ds ḃ, θ̇ unchanged (O(n_features))."""
        self.renormalise()  # c = 1, d = 0, e = 0: θ = u, θ̇ = v
        self.UV[0] += ds * self.UV[1]
        self.mUV[0] += ds * self.mUV[1]
        self.beta += ds * self.beta_dot

    def renormalise(self):
        """Fold c, d and e into u and v (O(n_features), rarely)."""
        if self.center is not None and self.e.any():
            self.UV += np.multiply.outer(self.e, self.center)
            self.e[:] = 0.0
        self.UV *= self.c  # in place: no copy of the model
        if self.d != 0.0:
            self.UV[1] += self.d * self.UV[0]
        self.c, self.d = 1.0, 0.0
        if self.center is not None:
            self.sync()

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

    def responses(self, Xb, Xbm):
        """(x - m)ᵀθ + β and (x - m)ᵀθ̇ + β̇ per row; ``Xbm = Xb @ m``."""
        shift = Xbm - self.mm  # (x - m)ᵀm per row
        pred = self.c * (np.asarray(Xb @ self.UV[0]) - self.mUV[0] + self.e[0] * shift)
        if not self.tangent:
            return pred + self.beta, None
        xdot = (
            self.c * (np.asarray(Xb @ self.UV[1]) - self.mUV[1] + self.e[1] * shift)
            + self.d * pred
            + self.beta_dot
        )
        return pred + self.beta, xdot

    def data_step(self, Xb, Xbm, residual_grad, hess_dot, wb, eta, update_theta=True):
        """θ ← θ - η g, θ̇ ← θ̇ - η H_B θ̇ on the batch's columns.

        ``residual_grad`` is dL/df per row and ``hess_dot`` d²L/df² · ẋ per
        row; both are weight-averaged over the batch. On sparse rows the
        product back touches only the batch's columns.
        """
        wsum = wb.sum()
        a = wb * residual_grad / wsum if update_theta else None  # per-row weights
        h = wb * hess_dot / wsum if self.tangent else None
        # Δθ = -η Σ a_i (x_i - m): Δu = -η Xbᵀa / c, Δe_u = η Σa / c; and
        # Δv = -η (H θ̇) / c - d Δθ / c likewise
        coef_u = -eta * a / self.c if update_theta else None
        coef_v = None
        if self.tangent:
            coef_v = -eta * h / self.c
            if update_theta:
                coef_v = coef_v + self.d * eta * a / self.c
        coefs = [k for k in (coef_u, coef_v) if k is not None]
        rows = [i for i, k in enumerate((coef_u, coef_v)) if k is not None]
        if sp.issparse(Xb):
            self._sparse_update(Xb, rows, coefs)
        elif len(rows) == 2:
            self.UV += (Xb.T @ np.column_stack(coefs)).T
        else:
            self.UV[rows[0]] += Xb.T @ coefs[0]
        for i, k in zip(rows, coefs, strict=True):
            self.mUV[i] += Xbm @ k  # mᵀΔu = (Xb m)ᵀ coef
            self.e[i] -= k.sum()
        if self.fit_intercept:
            if update_theta:
                self.beta -= eta * self.omega * a.sum()
            if self.tangent:
                self.beta_dot -= eta * self.omega * h.sum()

    def _sparse_update(self, Xb, rows, coefs):
        """u[j] += Σ_rows Xb[row, j] coef_u[row] (and v alike), O(nnz)."""
        row_of = np.repeat(np.arange(Xb.shape[0]), np.diff(Xb.indptr))
        for i, coef in zip(rows, coefs, strict=True):
            np.add.at(self.UV[i], Xb.indices, Xb.data * coef[row_of])


def blocked_sum(X, fn, block=BLOCK):
    """Σ over row blocks of ``fn(X_block, rows)``; peak memory O(block)."""
    total = 0.0
    for start in range(0, X.shape[0], block):
        total = total + fn(X[start : start + block], slice(start, start + block))
    return total


def row_sq_norms(X):
    """‖x_i‖² per row of one block (no copy of a large sparse block)."""
    if not sp.issparse(X):
        return np.einsum("ij,ij->i", X, X)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    return np.bincount(rows, weights=X.data**2, minlength=X.shape[0])


def loss_terms(loss, epsilon, r):
    """Loss value, dL/df and d²L/df² per row for residuals r = f - y."""
    if loss == "squared_error":
        return r**2, 2.0 * r, np.full_like(r, 2.0)
    inside = np.abs(r) <= epsilon
    value = np.where(inside, r**2, 2.0 * epsilon * np.abs(r) - epsilon**2)
    grad = np.where(inside, 2.0 * r, 2.0 * epsilon * np.sign(r))
    return value, grad, np.where(inside, 2.0, 0.0)


def safe_norm(v):
    """‖v‖ without overflow of the squares (entries up to ~1e300)."""
    top = float(np.max(np.abs(v))) if np.size(v) else 0.0
    if top == 0.0 or not np.isfinite(top):
        return top
    return top * float(np.linalg.norm(v / top))


def centered_curvature(X, w, center, n_iter=30, seed=0):
    """Largest eigenvalue of ``(2/W) (X - 1mᵀ)ᵀ diag(w) (X - 1mᵀ)`` (power
    iteration, ``2 n_iter`` products with X; a slight overestimate is
    returned, so the step it sets errs on the stable side)."""
    p = X.shape[1]
    W = float(w.sum())
    v = np.random.RandomState(seed).standard_normal(p)
    lam = 0.0
    for _ in range(n_iter):
        norm = safe_norm(v)
        if norm == 0.0 or not np.isfinite(norm):
            break
        v /= norm
        z = w * (np.asarray(X @ v) - center @ v)
        v = (np.asarray(X.T @ z) - center * z.sum()) * (2.0 / W)
        lam_new = safe_norm(v)
        if abs(lam_new - lam) <= 1e-3 * lam_new:
            lam = lam_new
            break
        lam = lam_new
    return 1.1 * lam


def scale_tangent(state, rho, k):
    """θ̇ ← ρ θ̇ - k θ, β̇ unchanged (the penalty part of a tangent step)."""
    state.UV[1] *= rho
    state.e[1] *= rho
    state.mUV[1] *= rho
    state.d = rho * state.d - k


def adam_step(st, adam, Xb, grad, hess_dot, wb, eta):
    """Adam on θ (dense, centred rows); θ̇ takes the same preconditioned
    step. ``adam`` is ``(m, v, k)`` of the previous steps or None; returns
    the updated triple."""
    st.renormalise()  # adam works on θ and θ̇ directly
    if adam is None:
        adam = (np.zeros_like(st.u), np.zeros_like(st.u), 0)
    m, v, k = adam
    wsum = wb.sum()
    Xc = Xb - st.center
    g = np.asarray(Xc.T @ (wb * grad)) / wsum
    k += 1
    m[:] = 0.9 * m + 0.1 * g
    v[:] = 0.999 * v + 0.001 * g**2
    precond = 1.0 / (np.sqrt(v / (1 - 0.999**k)) + 1e-8)
    st.UV[0] -= eta * precond * (m / (1 - 0.9**k))
    if st.tangent:
        h = np.asarray(Xc.T @ (wb * hess_dot)) / wsum
        st.UV[1] -= eta * precond * h
        if st.fit_intercept:
            st.beta_dot -= eta * st.omega * (wb @ hess_dot) / wsum
    if st.fit_intercept:
        st.beta -= eta * st.omega * (wb @ grad) / wsum
    st.sync()
    return m, v, k


def accelerated_step(st, stats, step, momentum):
    """One full-batch step with Nesterov's momentum (FISTA's sequence,
    restarted when the gradient opposes the last move), on θ, β and
    their tangents alike: the tangent is the step's derivative in alpha
    (the momentum weights do not depend on alpha).

    ``st`` is the :class:`DualSGDState`, ``stats`` holds the gradient ``g``
    and its derivative ``r`` at the current point (sums over the data, so
    ``step`` is the learning rate per unit weight), ``momentum`` the
    ``(t, last iterate)`` of the previous step or None. Returns the new
    ``momentum``.
    """
    st.renormalise()
    beta_step = step * st.omega if st.fit_intercept else 0.0
    point = [st.UV[0].copy(), np.array([st.beta])]
    new = [point[0] - step * stats["g"], point[1] - beta_step * stats["g_b"]]
    if st.tangent:
        new += [
            st.UV[1] - step * stats["r"],
            np.array([st.beta_dot - beta_step * stats["r_b"]]),
        ]
    t, old = momentum if momentum is not None else (1.0, new)
    t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
    weight = (t - 1.0) / t_next
    if stats["g"] @ (new[0] - old[0]) + stats["g_b"] * (new[1] - old[1])[0] > 0:
        t_next, weight = 1.0, 0.0  # restart: the momentum went uphill
    moved = [a + weight * (a - b) for a, b in zip(new, old, strict=True)]
    st.UV[0] = moved[0]
    st.beta = float(moved[1][0])
    if st.tangent:
        st.UV[1] = moved[2]
        st.beta_dot = float(moved[3][0])
    st.sync()
    return t_next, new


def stationarity(st, X, Xm, y, w, *, alpha, loss, epsilon, total_weight, trace):
    """Objective and stationarity residuals over the whole data, in blocks.

    ``g = ∇_θ f`` and the tangent's residual ``r = Hθ̇ + 2θ`` bound the
    distance to the optimum: the centred objective's curvature in θ is at
    least ``2 alpha``, so ``‖θ - θ*‖ <= ‖g‖ / (2 alpha)`` and ``‖θ̇ -
    θ̇*‖ <= (‖r‖ + 2‖θ - θ*‖) / (2 alpha)``. ``error`` is the larger of
    the two bounds relative to ‖θ‖ and ‖θ̇‖ (and the intercept's, whose
    curvature is ``2 W`` for the squared loss). One pass, O(nnz).

    ``st`` is the :class:`DualSGDState`; ``total_weight`` the ``W`` the
    objective is divided by; ``trace`` ``Σ w ‖x - m‖²`` (the floors' scale).
    """
    s = alpha
    p = X.shape[1]
    acc = {"loss": 0.0, "back": np.zeros((p, 2)), "g_b": 0.0, "r_b": 0.0}

    def block(Xb, rows):
        pred, xdot = st.responses(Xb, Xm[rows])
        value, grad, curv = loss_terms(loss, epsilon, pred - y[rows])
        wb = w[rows]
        acc["loss"] += float(wb @ value)
        wg = wb * grad
        acc["g_b"] += float(wg.sum())
        if xdot is None:
            acc["back"][:, 0] += np.asarray(Xb.T @ wg)
            return 0.0
        wh = wb * curv * xdot
        acc["r_b"] += float(wh.sum())
        acc["back"] += np.asarray(Xb.T @ np.column_stack([wg, wh]))
        return 0.0

    blocked_sum(X, block)
    theta = st.coef
    m = st.center
    g = acc["back"][:, 0] - m * acc["g_b"] + 2.0 * s * theta
    objective = (acc["loss"] + s * theta @ theta) / total_weight
    # floors for a zero optimum (constant y): 1e-12 of ‖X_cᵀ w y‖'s bound
    g_floor = 1e-12 * 2.0 * np.sqrt(trace * float(w @ y**2))
    norm_theta = float(safe_norm(theta))
    err_theta = float(safe_norm(g)) / (2.0 * s)
    rel = err_theta / max(norm_theta, g_floor / (2.0 * s), 1e-300)
    stats = {"objective": objective, "g": g, "g_b": 0.0, "r_b": 0.0}
    W = float(w.sum())
    m_norm = float(safe_norm(m))
    if st.fit_intercept:
        stats["g_b"] = acc["g_b"]
        err_b = abs(acc["g_b"]) / (2.0 * W)
        scale_b = abs(st.beta) + m_norm * norm_theta
        y_rms = np.sqrt(float(w @ y**2) / W)
        rel = max(rel, err_b / max(scale_b, 1e-12 * y_rms, 1e-300))
    if st.tangent:
        theta_dot = st.coef_tangent
        r = acc["back"][:, 1] - m * acc["r_b"] + 2.0 * s * theta_dot + 2.0 * theta
        stats["r"], stats["r_b"] = r, acc["r_b"]
        err_dot = (float(safe_norm(r)) + 2.0 * err_theta) / (2.0 * s)
        norm_dot = float(safe_norm(theta_dot))
        floor_dot = g_floor / (2.0 * s * s)
        rel = max(rel, err_dot / max(norm_dot, floor_dot, 1e-300))
        if st.fit_intercept:
            err_bd = abs(acc["r_b"]) / (2.0 * W)
            scale_bd = abs(st.beta_dot) + m_norm * norm_dot
            rel = max(rel, err_bd / max(scale_bd, floor_dot, 1e-300))
    stats["error"] = rel
    return stats
