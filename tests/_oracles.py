"""Independent oracles and data generators for the property tests.

Everything here is written straight from the formulas of docs/math.rst with
dense numpy linear algebra on the augmented design, sharing no code with skrt;
:func:`fit_ridge` is the one exception: the model under test, fitted as the
property tests fit it.
"""

import warnings

import numpy as np
import scipy.linalg
from hypothesis import strategies as st

from skrt import RegularityRidge
from skrt.exceptions import RegularityBoundWarning

alphas_st = st.floats(1e-2, 1e2)


def fit_ridge(X, y, w=None, **params):
    """``RegularityRidge(**params)`` fitted, a minimum at a bound not warned."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        return RegularityRidge(**params).fit(X, y, sample_weight=w)


@st.composite
def regression_data(draw, max_n=25, max_p=8, weights=True, multi_output=False):
    """(X, y, w) with n > p or n <= p, optional weights and several outputs."""
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(4, max_n))
    p = draw(st.integers(1, max_p))
    rng = np.random.RandomState(seed)
    scale = 10.0 ** draw(st.integers(-1, 2))
    X = rng.randn(n, p) * scale + rng.randn(p)
    coef = rng.randn(p)
    y = X @ coef / scale + rng.randn() + 0.5 * rng.randn(n)
    if multi_output and draw(st.booleans()):
        y = np.column_stack([y, y * 0.3 + rng.randn(n)])
    w = None
    if weights and draw(st.booleans()):
        kind = draw(st.sampled_from(["fractional", "integer"]))
        if kind == "fractional":
            w = rng.uniform(0.2, 1.0, size=n)
        else:
            w = rng.randint(1, 4, size=n).astype(float)
    return X, y, w


def augmented_system(X, w, s, fit_intercept=True):
    """Design X̃ and M = X̃ᵀWX̃ + sP (the Hessian is 2M)."""
    n, p = X.shape
    w = np.ones(n) if w is None else w
    if fit_intercept:
        Xt = np.hstack([np.ones((n, 1)), X])
        P = np.diag(np.r_[0.0, np.ones(p)])
    else:
        Xt = X
        P = np.eye(p)
    return Xt, Xt.T @ (w[:, None] * Xt) + s * P, P


def _stacked_qr(X, w, s, fit_intercept):
    """``B = [W^{1/2} X̃; √s P] = QR``: M = BᵀB = RᵀR without forming M."""
    n = X.shape[0]
    w = np.ones(n) if w is None else w
    Xt, _, P = augmented_system(X, w, s, fit_intercept)
    B = np.vstack([np.sqrt(w)[:, None] * Xt, np.sqrt(s) * P])
    Q, R = np.linalg.qr(B)
    return Q, R, w


def system_solver(X, w, s, fit_intercept=True):
    """``v ↦ M⁻¹ v = R⁻¹ R⁻ᵀ v`` from the QR factor of the stacked design.

    Forming ``X̃ᵀWX̃`` in floating point would perturb M by ε‖X̃‖² in every
    direction, which the small eigenvalue s of a direction the data do not
    see (p > n) amplifies by ‖X̃‖²/s²; the perturbations of B stay ε‖B‖.
    """
    _, R, _ = _stacked_qr(X, w, s, fit_intercept)

    def solve(v):
        z = scipy.linalg.solve_triangular(R, v, trans="T")
        return scipy.linalg.solve_triangular(R, z)

    return solve


def ridge_solution(X, y, w, s, fit_intercept=True):
    """θ̃* = M⁻¹ X̃ᵀ W y, as the least-squares solution of
    ``[W^{1/2} X̃; √s P] θ = [W^{1/2} y; 0]`` (no X̃ᵀWy formed: its rounding
    would put a part of size ε‖X̃‖‖y‖ where the data see nothing)."""
    Q, R, w = _stacked_qr(X, w, s, fit_intercept)
    Y = np.reshape(y, (len(y), -1))
    rhs = np.vstack([np.sqrt(w)[:, None] * Y, np.zeros((R.shape[0], Y.shape[1]))])
    return scipy.linalg.solve_triangular(R, Q.T @ rhs)


def ridge_tangent(X, y, w, s, fit_intercept=True):
    """θ̃̇ = -M⁻¹ P θ̃*."""
    _, _, P = augmented_system(X, w, s, fit_intercept)
    solve = system_solver(X, w, s, fit_intercept)
    return -solve(P @ ridge_solution(X, y, w, s, fit_intercept))


def hat_diagonal(X, w, s, fit_intercept=True):
    """diag(W^{1/2} X̃ M⁻¹ X̃ᵀ W^{1/2})."""
    w = np.ones(X.shape[0]) if w is None else w
    Xt, _, _ = augmented_system(X, w, s, fit_intercept)
    solve = system_solver(X, w, s, fit_intercept)
    return w * np.einsum("ij,ji->i", Xt, solve(Xt.T))


def relative_error(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)
