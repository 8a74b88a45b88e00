"""Closed forms of RegularityRidge against independent oracles."""

import numpy as np
import pytest
import scipy.sparse as sp
from _oracles import (
    alphas_st,
    augmented_system,
    fit_ridge,
    hat_diagonal,
    regression_data,
    relative_error,
)
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import Ridge, RidgeCV

from skrt import RegularityRidge
from skrt.exceptions import RegularityBoundWarning


@given(regression_data(multi_output=True), alphas_st, st.booleans())
def test_coef_equals_sklearn_ridge(data, alpha, fit_intercept):
    X, y, w = data
    ours = fit_ridge(X, y, w, alpha=alpha, fit_intercept=fit_intercept)
    ref = Ridge(alpha=alpha, fit_intercept=fit_intercept, solver="svd").fit(
        X, y, sample_weight=w
    )
    assert relative_error(ours.coef_, ref.coef_) < 1e-7
    assert np.allclose(
        ours.intercept_, ref.intercept_, rtol=1e-7, atol=1e-7 * np.abs(y).max()
    )
    assert np.allclose(
        ours.predict(X), ref.predict(X), rtol=1e-7, atol=1e-7 * np.abs(y).max()
    )


@given(regression_data(multi_output=True), alphas_st, st.booleans())
def test_tangent_against_central_differences(data, alpha, fit_intercept):
    X, y, w = data
    model = fit_ridge(X, y, w, alpha=alpha, fit_intercept=fit_intercept)
    h = 1e-4 * alpha
    plus = fit_ridge(X, y, w, alpha=alpha + h, fit_intercept=fit_intercept)
    minus = fit_ridge(X, y, w, alpha=alpha - h, fit_intercept=fit_intercept)
    fd_coef = (plus.coef_ - minus.coef_) / (2 * h)
    fd_intercept = (plus.intercept_ - minus.intercept_) / (2 * h)
    # central differences carry round-off of order eps ‖θ‖ / h
    scale = np.linalg.norm(fd_coef) + 1e-7 * np.linalg.norm(model.coef_) / alpha
    assert np.linalg.norm(model.coef_tangent_ - fd_coef) <= 1e-5 * scale
    assert np.allclose(
        model.intercept_tangent_,
        fd_intercept,
        rtol=1e-4,
        atol=1e-6
        * (np.abs(fd_intercept).max() + np.abs(fd_coef).max() * np.abs(X).max()),
    )
    fd_pred = (plus.predict(X) - minus.predict(X)) / (2 * h)
    pred_scale = np.abs(fd_pred).max() + 1e-8 * np.abs(model.predict(X)).max() / alpha
    assert np.abs(model.predict_tangent(X) - fd_pred).max() <= 1e-4 * pred_scale


@given(regression_data(), st.booleans())
def test_loo_residuals_against_brute_force_refits(data, fit_intercept):
    X, y, w = data
    model = fit_ridge(X, y, w, alpha="loo", fit_intercept=fit_intercept)
    s = model.alpha_
    w_full = np.ones(len(y)) if w is None else w
    brute = np.empty(len(y))
    for i in range(len(y)):
        # one observation out: the whole sample when w_i <= 1, else one unit
        w_i = w_full.copy()
        w_i[i] = max(w_i[i] - 1.0, 0.0)
        keep = w_i > 0
        ref = Ridge(alpha=s, fit_intercept=fit_intercept, solver="svd").fit(
            X[keep], y[keep], sample_weight=w_i[keep]
        )
        brute[i] = y[i] - ref.predict(X[i : i + 1])[0]
    assert relative_error(model.loo_residuals_, brute) < 1e-6
    expected = np.sum(w_full * brute**2) / w_full.sum()
    assert np.isclose(model.loo_error_, expected, rtol=1e-6)


@given(regression_data(multi_output=True), alphas_st, st.booleans())
def test_leverage_is_the_weighted_hat_diagonal(data, alpha, fit_intercept):
    X, y, w = data
    model = fit_ridge(X, y, w, alpha=alpha, fit_intercept=fit_intercept)
    assert np.allclose(
        model.leverage_, hat_diagonal(X, w, alpha, fit_intercept), atol=1e-8
    )


@given(regression_data(weights=False, multi_output=True), st.booleans())
def test_loo_curve_equals_ridgecv(data, fit_intercept):
    X, y, _ = data
    alphas = np.logspace(-3, 3, 13)
    model = fit_ridge(X, y, alpha=1.0, fit_intercept=fit_intercept)
    ref = RidgeCV(
        alphas=alphas, fit_intercept=fit_intercept, store_cv_results=True
    ).fit(X, y)
    expected = ref.cv_results_.mean(axis=0)  # (n_alphas,) or (n_targets, n_alphas)
    assert np.allclose(model.loo_curve(alphas), expected.T, rtol=1e-6)


@given(regression_data(weights=False, multi_output=True))
def test_alpha_never_worse_than_ridgecv_grid(data):
    X, y, _ = data
    bounds = (1e-4, 1e4)
    grid = np.geomspace(*bounds, 50)
    model = fit_ridge(X, y, alpha="loo", alpha_bounds=bounds)
    ref = RidgeCV(alphas=grid).fit(X, y)
    # judge both choices by the same exact LOO error (RidgeCV's own figures
    # carry more round-off near interpolation than the brute-force truth)
    theirs = np.mean(model.loo_curve([ref.alpha_]))
    assert np.mean(model.loo_error_) <= theirs * (1 + 1e-12)
    assert np.mean(model.loo_error_) <= np.mean(
        model.loo_curve(grid), axis=-1
    ).min() * (1 + 1e-12)
    assert bounds[0] <= model.alpha_ <= bounds[1]


def test_leverage_matches_statsmodels_for_tiny_alpha(rng):
    sm = pytest.importorskip("statsmodels.api")
    X = rng.randn(40, 5)
    y = X @ rng.randn(5) + rng.randn(40)
    model = RegularityRidge(alpha=1e-10).fit(X, y)
    ols = sm.OLS(y, sm.add_constant(X)).fit()
    infl = ols.get_influence()
    assert np.allclose(model.leverage_, infl.hat_matrix_diag, atol=1e-8)
    # exact LOO residuals are the statsmodels "deleted" residuals
    assert np.allclose(
        model.loo_residuals_, ols.resid / (1 - infl.hat_matrix_diag), rtol=1e-6
    )


@given(regression_data(), st.floats(1e-1, 10.0))
def test_duality_loss_derivative_is_penalty_change(data, alpha):
    # dL(z)/ds = d‖θ*‖²/dε, z added to the training set with weight ε → 0
    X, y, w = data
    rng = np.random.RandomState(len(y))
    z_x = X.mean(axis=0) + X.std(axis=0) * rng.randn(X.shape[1])
    z_y = float(rng.randn() * np.std(y) + np.mean(y))
    model = fit_ridge(X, y, w, alpha=alpha)
    w_full = np.ones(len(y)) if w is None else w

    def penalty(eps):
        fit = Ridge(alpha=alpha, solver="svd").fit(
            np.vstack([X, z_x]), np.r_[y, z_y], sample_weight=np.r_[w_full, eps]
        )
        return fit.coef_ @ fit.coef_

    # the response to ε is 1/(1 + ε v), v = z̃ᵀM⁻¹z̃: the step must be ≪ 1/v
    _, M, _ = augmented_system(X, w_full, alpha)
    zt = np.r_[1.0, z_x]
    h = 1e-5 / (zt @ np.linalg.solve(M, zt))
    # second-order one-sided difference (weights cannot be negative)
    fd = (-3 * penalty(0.0) + 4 * penalty(h) - penalty(2 * h)) / (2 * h)
    ours = model.loss_derivative(z_x[None, :], [z_y])[0]
    assert np.isclose(ours, fd, rtol=1e-3, atol=1e-9 * abs(penalty(0.0)) / h)


@given(regression_data(multi_output=True), st.sampled_from([0.1, "loo", "gcv"]))
def test_sparse_dense_and_svd_paths_agree(data, alpha):
    X, y, w = data
    X = X.copy()
    X[np.abs(X - X.mean(0)) < 0.3 * X.std(0)] = 0.0
    dense = fit_ridge(X, y, w, alpha=alpha, solver="eigen")
    criterion = {"loo": "loo_error_", "gcv": "gcv_error_"}.get(alpha)
    for X_other, solver in ((X, "svd"), (sp.csr_matrix(X), "eigen")):
        other = fit_ridge(X_other, y, w, alpha=alpha, solver=solver)
        if criterion is not None:
            # the same minimum of the criterion; its argmin can sit in a flat
            # valley (seen 1.5e-5 apart between paths), so the attributes are
            # compared at the dense path's alpha_
            # (summed over targets: one alpha minimises the total)
            got, want = (
                np.sum(getattr(other, criterion)),
                np.sum(getattr(dense, criterion)),
            )
            assert np.isclose(got, want, rtol=1e-7), criterion
            assert np.isclose(other.alpha_, dense.alpha_, rtol=1e-2)
            other = fit_ridge(X_other, y, w, alpha=dense.alpha_, solver=solver)
        for attr in ("coef_", "coef_tangent_", "leverage_", "loo_residuals_"):
            assert relative_error(getattr(other, attr), getattr(dense, attr)) < 1e-5, (
                attr
            )
        Xq = X_other[:5]
        for h in ("sld", "ssi", "variance"):
            assert np.allclose(
                other.score_samples(Xq, heuristic=h),
                dense.score_samples(X[:5], heuristic=h),
                rtol=1e-5,
                atol=1e-12,
            ), h


@given(regression_data(max_n=40, max_p=30, multi_output=True), alphas_st)
def test_cg_path_agrees_with_eigen(data, alpha):
    X, y, w = data
    exact = fit_ridge(X, y, w, alpha=alpha, solver="eigen")
    cg = fit_ridge(
        sp.csr_matrix(X), y, w, alpha=alpha, solver="cg", tol=1e-12, max_iter=5000
    )
    assert relative_error(cg.coef_, exact.coef_) < 1e-6
    assert relative_error(cg.coef_tangent_, exact.coef_tangent_) < 1e-5
    assert np.allclose(
        cg.intercept_, exact.intercept_, rtol=1e-6, atol=1e-6 * np.abs(y).max()
    )
    # labeled forms: the unlabeled ones scale by noise_variance_, whose
    # degrees of freedom the cg path estimates stochastically
    Xq, yq = X[:5], y[:5]
    # natural scale of the scores: (2 |r| ‖x‖ ‖θ̇‖)², times s² for sti
    r_max = np.abs(np.asarray(yq) - exact.predict(Xq)).max()
    bound = (
        2
        * r_max
        * np.linalg.norm(Xq, axis=1).max()
        * np.linalg.norm(exact.coef_tangent_)
    ) ** 2
    for h, factor in (("sld", 1.0), ("sti", alpha**2)):
        a, b = (
            cg.score_samples(Xq, yq, heuristic=h),
            exact.score_samples(Xq, yq, heuristic=h),
        )
        assert np.allclose(a, b, rtol=1e-4, atol=1e-8 * factor * bound), h


def test_cg_gcv_agrees_with_exact_gcv():
    rng = np.random.RandomState(0)
    n, p = 400, 120
    X = sp.random(n, p, density=0.1, random_state=rng, format="csr")
    y = X @ rng.randn(p) + 0.5 * rng.randn(n)
    exact = RegularityRidge(alpha="gcv", solver="eigen").fit(X, y)
    approx = RegularityRidge(alpha="gcv", solver="cg", random_state=0).fit(X, y)
    # the trace is a stochastic estimate: alpha_ within 30%, GCV within 2%
    assert abs(np.log(approx.alpha_ / exact.alpha_)) < np.log(1.3)
    assert np.isclose(approx.gcv_error_, exact.gcv_error_, rtol=0.02)
    assert relative_error(approx.coef_, exact.coef_) < 0.05
    assert np.isclose(approx.noise_variance_, exact.noise_variance_, rtol=0.05)


def test_cg_gcv_is_exact_when_trace_is_exact():
    # with at most 16 features the trace uses the canonical basis
    rng = np.random.RandomState(1)
    X = rng.randn(200, 12)
    y = X @ rng.randn(12) + rng.randn(200)
    exact = RegularityRidge(alpha="gcv", solver="eigen").fit(X, y)
    approx = RegularityRidge(alpha="gcv", solver="cg", tol=1e-12).fit(X, y)
    assert np.isclose(approx.alpha_, exact.alpha_, rtol=1e-4)
    assert np.isclose(approx.gcv_error_, exact.gcv_error_, rtol=1e-8)


def test_loo_curve_with_several_minima_finds_the_global_one():
    # the paper's section 3.3 set-up: degree-5 polynomial, six points with a
    # gap in the middle; random targets give LOO curves with several minima
    x = np.array([-1.0, -0.8, -0.6, 0.6, 0.8, 1.0])
    X = np.vander(x, 6, increasing=True)[:, 1:]
    bounds = (1e-6, 1e3)
    grid = np.geomspace(*bounds, 4001)
    multimodal = 0
    for seed in range(120):
        y = np.random.RandomState(seed).randn(6)
        model = fit_ridge(X, y, alpha="loo", alpha_bounds=bounds)
        curve = model.loo_curve(grid)
        n_minima = np.sum((curve[1:-1] < curve[:-2]) & (curve[1:-1] < curve[2:]))
        multimodal += n_minima >= 2
        assert model.loo_error_ <= curve.min() * (1 + 1e-9), seed
    assert multimodal >= 3  # the property was exercised where it is hard


def test_minimum_at_bound_warns(rng):
    X = rng.randn(30, 3)
    y = rng.randn(30)  # pure noise: the constant model is best
    with pytest.warns(RegularityBoundWarning, match="upper bound"):
        model = RegularityRidge(alpha="loo", alpha_bounds=(1e-3, 1e-1)).fit(X, y)
    assert model.alpha_ == 1e-1


def test_noise_variance_matches_residual_degrees_of_freedom(rng):
    X = rng.randn(50, 4)
    y = X @ rng.randn(4) + rng.randn(50)
    model = RegularityRidge(alpha=2.0).fit(X, y)
    r = y - model.predict(X)
    assert np.isclose(model.noise_variance_, r @ r / (50 - model.leverage_.sum()))


# ---------------------------------------------------------------------------
# Exact rational oracle: graded columns and large offsets (issue 13, 3 and 4)
# ---------------------------------------------------------------------------


def _solve_exact(M, B):
    """Gauss-Jordan elimination over Fractions: M⁻¹B (lists of lists)."""
    m = len(M)
    A = [list(M[i]) + list(B[i]) for i in range(m)]
    for c in range(m):
        pivot = next(r for r in range(c, m) if A[r][c] != 0)
        A[c], A[pivot] = A[pivot], A[c]
        inv = 1 / A[c][c]
        A[c] = [a * inv for a in A[c]]
        for r in range(m):
            if r != c and A[r][c] != 0:
                f = A[r][c]
                A[r] = [a - f * b for a, b in zip(A[r], A[c], strict=True)]
    return [row[m:] for row in A]


def exact_ridge(X, y, s, w=None, fit_intercept=True, X_pool=None):
    """Weighted ridge in exact rational arithmetic on the floats as given.

    Returns floats rounded once from the exact values: ``coef`` (p,),
    ``intercept``, their tangents ``-M⁻¹Pθ̃``, the training ``fit``,
    ``leverage`` ``w x̃ᵀM⁻¹x̃``, the LOO residuals ``y_i - f_(-i)(x_i)`` from
    exact refits without one unit of weight of sample i (all of it when
    ``w_i <= 1``), and for ``X_pool`` the quadratic forms ``x̃ᵀM⁻¹x̃``.
    One target. Shares nothing with skrt.
    """
    from fractions import Fraction as F

    X = np.asarray(X, dtype=float)
    n, p = X.shape
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    rows = [[F(1)] * fit_intercept + [F(v) for v in r] for r in X]
    ys = [F(v) for v in np.asarray(y, dtype=float)]
    ws = [F(v) for v in w]
    q = p + int(fit_intercept)
    pen = [0] * int(fit_intercept) + [1] * p

    def system(weights):
        M = [
            [
                sum(wi * r[a] * r[b] for wi, r in zip(weights, rows, strict=True))
                + (F(s) if a == b and pen[a] else 0)
                for b in range(q)
            ]
            for a in range(q)
        ]
        rhs = [
            sum(wi * r[a] * yi for wi, r, yi in zip(weights, rows, ys, strict=True))
            for a in range(q)
        ]
        return M, rhs

    M, rhs = system(ws)
    extra = (
        []
        if X_pool is None
        else [
            [F(1)] * fit_intercept + [F(v) for v in r]
            for r in np.asarray(X_pool, float)
        ]
    )
    cols = [rhs] + [[r[a] for a in range(q)] for r in rows + extra]
    sol = _solve_exact(M, [[c[a] for c in cols] for a in range(q)])
    theta = [sol[a][0] for a in range(q)]
    tangent = [-v[0] for v in _solve_exact(M, [[theta[a] * pen[a]] for a in range(q)])]
    fit = [sum(r[a] * theta[a] for a in range(q)) for r in rows]
    quad = [
        sum(r[a] * sol[a][1 + i] for a in range(q)) for i, r in enumerate(rows + extra)
    ]
    loo = []
    for i in range(n):
        left = list(ws)
        left[i] -= min(ws[i], F(1))
        Mi, ri = system(left)
        th = [v[0] for v in _solve_exact(Mi, [[v] for v in ri])]
        loo.append(ys[i] - sum(rows[i][a] * th[a] for a in range(q)))
    as_float = lambda v: np.array([float(t) for t in v])  # noqa: E731
    b = float(theta[0]) if fit_intercept else 0.0
    b_dot = float(tangent[0]) if fit_intercept else 0.0
    k = int(fit_intercept)
    return {
        "coef": as_float(theta[k:]),
        "intercept": b,
        "coef_tangent": as_float(tangent[k:]),
        "intercept_tangent": b_dot,
        "fit": as_float(fit),
        "leverage": w * as_float(quad[:n]),
        "loo_residuals": as_float(loo),
        "pool_quadratic": as_float(quad[n:]),
    }


def assert_componentwise(actual, expected, rtol, what):
    """Every entry within rtol of its own exact value (or of the largest,
    for entries that are exactly zero)."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    floor = max(1e-12 * np.abs(expected).max(initial=0.0), np.finfo(float).tiny)
    err = np.abs(actual - expected) / np.maximum(np.abs(expected), floor)
    assert np.all(err <= rtol), f"{what}: relative error {err.max():.2e}"


def assert_matches_exact(model, X, exact, rtol=1e-6, loo=True, intercept_tangent=True):
    assert_componentwise(model.coef_, exact["coef"], rtol, "coef_")
    assert_componentwise(model.intercept_, exact["intercept"], rtol, "intercept_")
    assert_componentwise(model.coef_tangent_, exact["coef_tangent"], rtol, "tangent")
    if intercept_tangent:
        assert_componentwise(
            model.intercept_tangent_,
            exact["intercept_tangent"],
            rtol,
            "intercept tangent",
        )
    assert_componentwise(model.predict(X), exact["fit"], rtol, "predictions")
    if loo:
        assert_componentwise(model.leverage_, exact["leverage"], rtol, "leverage_")
        assert_componentwise(
            model.loo_residuals_, exact["loo_residuals"], rtol, "loo_residuals_"
        )


def graded_data(n=24, p=4, big=1e6, small=1e-6, seed=0, offset=True):
    """Columns in grams next to tonnes: half scaled by ``big``, half by
    ``small`` (interleaved), with targets that need every column."""
    rng = np.random.RandomState(seed)
    scale = np.where(np.arange(p) % 2 == 0, big, small)
    X = rng.randn(n, p) * scale + (rng.randn(p) * scale if offset else 0.0)
    y = X @ (rng.randn(p) / scale) + 0.3 * rng.randn(n) + 2.0
    return X, y


@pytest.mark.parametrize("solver", ["eigen", "svd"])
@pytest.mark.parametrize("alpha", [1e-6, 1e-2, 1.0, 1e3])
def test_graded_columns_against_exact_solution(solver, alpha):
    # issue 13 point 3: grams next to tonnes lost the small columns entirely
    X, y = graded_data()
    model = RegularityRidge(alpha=alpha, solver=solver).fit(X, y)
    assert_matches_exact(model, X, exact_ridge(X, y, alpha))


@pytest.mark.parametrize("shape", [(24, 4), (6, 10)])
def test_graded_columns_sparse_and_wide(shape):
    # covariance side on sparse X; Gram side (p > n) on dense X
    n, p = shape
    X, y = graded_data(n=n, p=p, seed=1)
    exact = exact_ridge(X, y, 0.5)
    for Xin in (X, sp.csr_matrix(X)):
        model = RegularityRidge(alpha=0.5, solver="eigen").fit(Xin, y)
        assert_matches_exact(model, Xin, exact)


def test_graded_columns_with_weights_and_several_spreads(rng):
    w = rng.uniform(0.2, 3.0, size=20).round(1)
    for big, small in [(1e2, 1e-1), (1e4, 1.0), (1e9, 1e-9)]:
        X, y = graded_data(n=20, p=3, big=big, small=small, seed=2)
        model = RegularityRidge(alpha=0.1).fit(X, y, sample_weight=w)
        assert_matches_exact(model, X, exact_ridge(X, y, 0.1, w=w))


def test_graded_columns_leave_one_out_alpha(rng):
    # alpha="loo" on graded data: every reported quantity at alpha_ is exact,
    # and alpha_ is a minimum of the exact LOO error
    X, y = graded_data(n=20, p=4, seed=3)
    model = fit_ridge(X, y, alpha="loo")
    s = model.alpha_
    assert_matches_exact(model, X, exact_ridge(X, y, s))

    def exact_loo_error(a):
        return np.mean(exact_ridge(X, y, a)["loo_residuals"] ** 2)

    at = exact_loo_error(s)
    assert at <= exact_loo_error(s * 1.05) * (1 + 1e-9)
    assert at <= exact_loo_error(s / 1.05) * (1 + 1e-9)
    assert abs(model.loo_error_ - at) <= 1e-6 * at


def test_graded_columns_scores_and_information(rng):
    # the quantities used after the fit are exact too
    X, y = graded_data(n=16, p=4, seed=4)
    pool = graded_data(n=5, p=4, seed=5)[0]
    alpha = 0.3
    exact = exact_ridge(X, y, alpha, X_pool=pool)
    model = RegularityRidge(alpha=alpha).fit(X, y)
    variance = model.score_samples(pool, heuristic="variance")
    assert_componentwise(variance, exact["pool_quadratic"], 1e-6, "variance")
    _, std = model.predict(pool, return_std=True)
    want = np.sqrt(model.noise_variance_ * (1 + exact["pool_quadratic"]))
    assert_componentwise(std, want, 1e-6, "predictive std")
    # SI: e_i² (x_i - x̄)ᵀA⁻¹(x_i - x̄)/2 with σ² = 1, from exact refits
    info = model.sample_information(kind="weights", noise_variance=1.0)
    g = exact["leverage"]  # unit weights: g = h
    e = exact["loo_residuals"] * 1.0  # e_i = r_i/(1-h_i) = y_i - f_(-i)(x_i)
    want = e**2 * (g - 1.0 / len(y)) / 2.0
    assert_componentwise(info, want, 1e-6, "sample_information")


@pytest.mark.parametrize("offset", [1e7, 1e8, 1e10])
def test_sparse_large_offsets_against_exact_solution(offset):
    # issue 13 point 4: XᵀX - Σw x̄x̄ᵀ cancelled every digit of such columns
    rng = np.random.RandomState(0)
    X = rng.randn(30, 5) * (rng.rand(30, 5) < 0.5)
    X[:, :2] = rng.randn(30, 2) + offset
    y = X @ rng.randn(5) + rng.randn(30)
    exact = exact_ridge(X, y, 1.0)
    Xs = sp.csr_matrix(X)
    assert_matches_exact(
        RegularityRidge(alpha=1.0, solver="eigen").fit(Xs, y), Xs, exact
    )
    assert_matches_exact(RegularityRidge(alpha=1.0, solver="eigen").fit(X, y), X, exact)
    cg = RegularityRidge(alpha=1.0, solver="cg", tol=1e-13).fit(Xs, y)
    assert_matches_exact(cg, Xs, exact, loo=False)
    # the Gram side (p > n) too
    Xw = sp.csr_matrix(np.hstack([X[:8], rng.randn(8, 6) * (rng.rand(8, 6) < 0.3)]))
    yw = y[:8]
    wide = RegularityRidge(alpha=1.0, solver="eigen").fit(Xw, yw)
    assert_matches_exact(wide, Xw, exact_ridge(Xw.toarray(), yw, 1.0))
