r"""The heuristics' laws (:mod:`skrt._heuristics`, :ref:`math-heuristics`).

Each heuristic scores a candidate as ``Σ_k g_k T_k``: these tests hold the
terms ``T`` against explicit Hessians, the weight ``g`` of the labeled form
(``L'(r)²``, for the Huber loss too) and of the unlabeled one (``4σ²``), and
the identity that ties the total influence to the loss derivative.
"""

import numpy as np
from _oracles import (
    alphas_st,
    augmented_system,
    fit_ridge,
    regression_data,
    ridge_solution,
    system_solver,
)
from hypothesis import given
from hypothesis import strategies as st

from skrt import SGDFRegressor


@given(regression_data(multi_output=True), alphas_st, st.booleans())
def test_heuristics_against_explicit_hessian(data, alpha, fit_intercept):
    X, y, w = data
    model = fit_ridge(X, y, w, alpha=alpha, fit_intercept=fit_intercept)
    n = len(y)
    w_full = np.ones(n) if w is None else w
    Y = np.reshape(y, (n, -1))
    Xt, M, _ = augmented_system(X, w, alpha, fit_intercept)
    solve_M = system_solver(X, w, alpha, fit_intercept)

    def solve_H(v):  # H = 2M, solved without forming M (see system_solver)
        return solve_M(v) / 2.0

    theta = ridge_solution(X, y, w, alpha, fit_intercept)
    R = Xt @ theta - Y  # r = f - y
    rng = np.random.RandomState(1)
    Xq = X[rng.randint(0, n, 6)] + rng.randn(6, X.shape[1]) * X.std(axis=0)
    Yq = np.reshape(model.predict(Xq), (6, -1)) + rng.randn(6, Y.shape[1])
    Xqt = np.hstack([np.ones((6, 1)), Xq]) if fit_intercept else Xq
    Rq = Xqt @ theta - Yq
    Hinv_xq = solve_H(Xqt.T)  # (d, 6)
    sigma2 = np.reshape(model.noise_variance_, -1)
    tangent = (
        -solve_M(np.diag(np.r_[0.0, np.ones(X.shape[1])]) @ theta)
        if (fit_intercept)
        else -solve_M(theta)
    )
    xdot = Xqt @ tangent  # (6, k)

    expected = {}
    expected["sld"] = ((2 * Rq * xdot) ** 2).sum(1), (4 * sigma2 * xdot**2).sum(1)
    sti_lab = np.zeros(6)
    sti_unl = np.zeros(6)
    ssi_lab = np.zeros(6)
    ssi_unl = np.zeros(6)
    for j in range(Y.shape[1]):
        sig = 2 * R[:, j][:, None] * Xt  # σ_i, (n, d)
        sig_T = (w_full[:, None] * sig).sum(0)
        sig_q = 2 * Rq[:, j][:, None] * Xqt
        sti_lab += (sig_q @ solve_H(sig_T)) ** 2
        sti_unl += 4 * sigma2[j] * (Xqt @ solve_H(sig_T)) ** 2
        infl = sig @ solve_H(sig_q.T)  # (n, 6): σ_iᵀH⁻¹σ_z
        ssi_lab += w_full @ infl**2
        ssi_unl += 4 * sigma2[j] * (w_full @ (sig @ Hinv_xq) ** 2)
    expected["sti"] = sti_lab, sti_unl
    expected["ssi"] = ssi_lab, ssi_unl
    expected["ssi_unlabeled"] = (
        None,
        w_full @ (2 * Xt @ solve_H(2 * Xqt.T)) ** 2,
    )
    expected["variance"] = None, np.einsum("ij,ji->i", Xqt, solve_M(Xqt.T))
    yq = Yq[:, 0] if np.ndim(y) == 1 else Yq
    for name, (lab, unl) in expected.items():
        got = model.score_samples(Xq, heuristic=name)
        assert np.allclose(got, unl, rtol=1e-6, atol=1e-7 * np.abs(unl).max()), name
        if lab is not None:
            got = model.score_samples(Xq, yq, heuristic=name)
            assert np.allclose(got, lab, rtol=1e-6, atol=1e-7 * np.abs(lab).max()), name
    # Bayesian-ridge predictive std
    _, std = model.predict(Xq, return_std=True)
    var = expected["variance"][1]
    assert np.allclose(
        np.reshape(std, (6, -1)),
        np.sqrt(sigma2[None, :] * (1 + var[:, None])),
        rtol=1e-8,
    )


@given(regression_data(multi_output=True), alphas_st)
def test_total_influence_identity(data, alpha):
    # σ_Tᵀ H⁻¹ σ_z = s θ̇ᵀσ_z, so labeled STI = s² × labeled SLD
    X, y, w = data
    model = fit_ridge(X, y, w, alpha=alpha)
    rng = np.random.RandomState(2)
    Xq = X + rng.randn(*X.shape) * X.std(axis=0)
    yq = model.predict(Xq) + rng.randn(*np.shape(model.predict(Xq)))
    sti = model.score_samples(Xq, yq, heuristic="sti")
    sld = model.score_samples(Xq, yq, heuristic="sld")
    assert np.allclose(sti, alpha**2 * sld, rtol=1e-6, atol=1e-9 * np.abs(sti).max())


def test_labeled_sld_is_the_squared_loss_derivative_for_huber():
    # the data of test_sgdf._problem(14, n=300, p=5)
    rng = np.random.RandomState(14)
    X = rng.randn(300, 5) + 0.5
    y = X @ rng.randn(5) + 0.5 * rng.randn(300) + 3.0
    y = y + 20.0 * (np.arange(300) % 17 == 0)  # outliers beyond epsilon
    model = SGDFRegressor(
        loss="huber", epsilon=0.5, alpha=10.0, random_state=0, max_iter=20, tol=None
    ).fit(X, y)
    r = model.predict(X) - y
    assert np.any(np.abs(r) > 0.5)  # the linear part of the loss is exercised
    assert np.allclose(model.score_samples(X, y), model.loss_derivative(X, y) ** 2)
