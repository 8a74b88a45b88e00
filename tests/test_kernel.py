"""RegularityKernelRidge against KernelRidge, RegularityRidge and brute force."""

import warnings

import numpy as np
import pytest
from _oracles import relative_error
from hypothesis import given
from hypothesis import strategies as st
from sklearn.kernel_approximation import Nystroem
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.pipeline import make_pipeline

from skrt import RegularityKernelRidge, RegularityRidge
from skrt.exceptions import RegularityBoundWarning
from skrt.query import regularity_sampling, sld_sampling

pytestmark = pytest.mark.filterwarnings(
    "ignore::skrt.exceptions.RegularityBoundWarning"
)


@st.composite
def kernel_data(draw, weights=True):
    seed = draw(st.integers(0, 2**31 - 1))
    n = draw(st.integers(4, 30))
    p = draw(st.integers(1, 5))
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, p))
    y = np.sin(X @ rng.randn(p)) + 0.2 * rng.randn(n)
    if draw(st.booleans()):
        y = np.column_stack([y, np.cos(X[:, 0])])
    w = None
    if weights and draw(st.booleans()):
        w = (
            rng.uniform(0.2, 1.0, n)
            if draw(st.booleans())
            else rng.randint(1, 4, n) * 1.0
        )
    return X, y, w


KERNELS = st.sampled_from(
    [
        ("rbf", {"gamma": 0.5}),
        ("poly", {"degree": 2, "gamma": 0.5}),
        ("laplacian", {"gamma": 0.3}),
    ]
)


def _fit(X, y, w=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        return RegularityKernelRidge(**params).fit(X, y, sample_weight=w)


@given(kernel_data(), KERNELS, st.floats(1e-2, 10.0))
def test_equals_kernel_ridge(data, kernel, alpha):
    X, y, w = data
    name, params = kernel
    ours = _fit(X, y, w, alpha=alpha, kernel=name, **params)
    ref = KernelRidge(alpha=alpha, kernel=name, **params).fit(X, y, sample_weight=w)
    assert np.allclose(ours.predict(X), ref.predict(X), rtol=1e-7, atol=1e-8)
    assert relative_error(ours.dual_coef_, ref.dual_coef_) < 1e-6


@given(kernel_data(), st.floats(1e-2, 10.0))
def test_linear_kernel_reproduces_ridge_without_intercept(data, alpha):
    X, y, w = data
    kern = _fit(X, y, w, alpha=alpha, kernel="linear")
    lin = RegularityRidge(alpha=alpha, fit_intercept=False).fit(X, y, sample_weight=w)
    assert (
        relative_error((X.T @ kern._dual).T, np.reshape(lin.coef_, (-1, X.shape[1])))
        < 1e-7
    )
    assert relative_error(kern.predict_tangent(X), lin.predict_tangent(X)) < 1e-6
    assert np.allclose(kern.leverage_, lin.leverage_, atol=1e-9)
    assert relative_error(kern.loo_residuals_, lin.loo_residuals_) < 1e-6
    assert np.allclose(kern.noise_variance_, lin.noise_variance_, rtol=1e-7)
    for h in ("sld", "sti", "ssi", "ssi_unlabeled", "variance"):
        a = kern.score_samples(X, heuristic=h)
        b = lin.score_samples(X, heuristic=h)
        assert np.allclose(a, b, rtol=1e-6, atol=1e-9 * np.abs(b).max()), h


@given(kernel_data(), KERNELS)
def test_loo_residuals_against_brute_force(data, kernel):
    X, y, w = data
    name, params = kernel
    model = _fit(X, y, w, alpha="loo", kernel=name, **params)
    n = len(X)
    w_full = np.ones(n) if w is None else w
    brute = np.empty(np.shape(y))
    for i in range(n):
        w_i = w_full.copy()
        w_i[i] = max(w_i[i] - 1.0, 0.0)  # one observation out
        keep = w_i > 0
        ref = KernelRidge(alpha=model.alpha_, kernel=name, **params).fit(
            X[keep], y[keep], sample_weight=w_i[keep]
        )
        brute[i] = y[i] - ref.predict(X[i : i + 1])[0]
    assert relative_error(model.loo_residuals_, brute) < 1e-6


@given(kernel_data(), KERNELS, st.floats(0.05, 5.0))
def test_tangent_against_central_differences(data, kernel, alpha):
    X, y, w = data
    name, params = kernel
    model = _fit(X, y, w, alpha=alpha, kernel=name, **params)
    h = 1e-4 * alpha
    plus = _fit(X, y, w, alpha=alpha + h, kernel=name, **params)
    minus = _fit(X, y, w, alpha=alpha - h, kernel=name, **params)
    fd = (plus.dual_coef_ - minus.dual_coef_) / (2 * h)
    scale = np.linalg.norm(fd) + 1e-7 * np.linalg.norm(model.dual_coef_) / alpha
    assert np.linalg.norm(model.dual_coef_tangent_ - fd) <= 1e-5 * scale


@given(kernel_data(weights=False), st.floats(0.05, 5.0))
def test_cg_path_agrees_with_eigen(data, alpha):
    X, y, _ = data
    exact = _fit(X, y, alpha=alpha, kernel="rbf", gamma=0.5)
    cg = _fit(
        X,
        y,
        alpha=alpha,
        kernel="rbf",
        gamma=0.5,
        solver="cg",
        tol=1e-12,
        max_iter=5000,
    )
    assert relative_error(cg.dual_coef_, exact.dual_coef_) < 1e-6
    assert relative_error(cg.dual_coef_tangent_, exact.dual_coef_tangent_) < 1e-5
    yq = np.asarray(y)[:5]
    for h in ("sld", "sti"):
        a = cg.score_samples(X[:5], yq, heuristic=h)
        b = exact.score_samples(X[:5], yq, heuristic=h)
        assert np.allclose(a, b, rtol=1e-4, atol=1e-10 * np.abs(b).max() + 1e-300), h


def test_cg_gcv_agrees_with_eigen_gcv():
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(300, 4))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2 / 4 + 0.2 * rng.randn(300)
    exact = _fit(X, y, alpha="gcv", kernel="rbf", gamma=0.2)
    approx = _fit(
        X, y, alpha="gcv", kernel="rbf", gamma=0.2, solver="cg", random_state=0
    )
    assert abs(np.log(approx.alpha_ / exact.alpha_)) < np.log(1.5)
    assert np.isclose(approx.gcv_error_, exact.gcv_error_, rtol=0.05)


def test_blocked_kernel_operator_matches_dense(monkeypatch):
    import skrt._centering
    import skrt._kernel as mod

    rng = np.random.RandomState(1)
    X = rng.randn(120, 3)
    y = np.sin(X[:, 0]) + 0.1 * rng.randn(120)
    dense = _fit(X, y, alpha=0.3, kernel="rbf", solver="cg", tol=1e-12)
    monkeypatch.setattr(mod, "_DENSE_KERNEL_MAX_N", 10)
    monkeypatch.setattr(skrt._centering, "KERNEL_BLOCK_BYTES", 8 * 120 * 7)  # 7 rows
    blocked = _fit(X, y, alpha=0.3, kernel="rbf", solver="cg", tol=1e-12)
    assert np.allclose(blocked.dual_coef_, dense.dual_coef_, rtol=1e-9, atol=1e-12)


def test_precomputed_kernel_matches_named_kernel():
    rng = np.random.RandomState(2)
    X, Xq = rng.randn(40, 3), rng.randn(10, 3)
    y = X[:, 0] ** 2 + 0.1 * rng.randn(40)
    named = _fit(X, y, alpha="loo", kernel="rbf", gamma=0.4)
    pre = _fit(rbf_kernel(X, gamma=0.4), y, alpha="loo", kernel="precomputed")
    assert np.isclose(pre.alpha_, named.alpha_, rtol=1e-6)
    assert np.allclose(pre.predict(rbf_kernel(Xq, X, gamma=0.4)), named.predict(Xq))
    assert np.allclose(pre.loo_residuals_, named.loo_residuals_)


def test_non_psd_precomputed_kernel_is_a_clear_warning():
    rng = np.random.RandomState(3)
    A = rng.randn(20, 20)
    K = A + A.T  # symmetric, indefinite
    y = rng.randn(20)
    with pytest.warns(UserWarning, match="not positive semi-definite"):
        model = RegularityKernelRidge(kernel="precomputed").fit(K, y)
    # the fit is kernel ridge on the PSD part of K, as the warning says
    lam, U = np.linalg.eigh(K)
    K_psd = (U * np.maximum(lam, 0)) @ U.T
    ref = KernelRidge(kernel="precomputed").fit(K_psd, y)
    assert np.allclose(model.dual_coef_, ref.dual_coef_, atol=1e-8)
    with pytest.raises(ValueError, match="not symmetric"):
        RegularityKernelRidge(kernel="precomputed").fit(A, rng.randn(20))
    with pytest.raises(ValueError, match="square"):
        RegularityKernelRidge(kernel="precomputed").fit(A[:, :5], rng.randn(20))


BAD = [
    ({"kernel": "gaussian"}, ValueError, "kernel must be"),
    ({"kernel": 3}, TypeError, "kernel must be a string"),
    ({"gamma": -1.0}, ValueError, "gamma must be"),
    ({"alpha": 0.0}, ValueError, "alpha must be a positive"),
    ({"solver": "svd"}, ValueError, "solver must be one of"),
    ({"alpha": "loo", "solver": "cg"}, ValueError, "alpha='gcv'"),
]


@pytest.mark.parametrize("params, error, match", BAD)
def test_bad_parameters(params, error, match):
    rng = np.random.RandomState(0)
    with pytest.raises(error, match=match):
        RegularityKernelRidge(**params).fit(rng.randn(10, 2), rng.randn(10))


def test_nystroem_pipeline_with_query_strategies():
    rng = np.random.RandomState(4)
    X = rng.uniform(-3, 3, size=(200, 2))
    y = np.sin(X[:, 0]) * np.cos(X[:, 1]) + 0.1 * rng.randn(200)
    pipe = make_pipeline(
        Nystroem(gamma=0.5, n_components=60, random_state=0),
        RegularityRidge(alpha="loo"),
    ).fit(X[:50], y[:50])
    kern = _fit(X[:50], y[:50], alpha="loo", kernel="rbf", gamma=0.5)
    for learner in (pipe, kern):
        idx, scores = sld_sampling(learner, X[50:], 5, random_state=0)
        assert len(set(idx.tolist())) == 5 and scores.shape == (150,)
    # the approximation is close to the exact kernel model on held-out data
    err = np.sqrt(np.mean((pipe.predict(X[50:]) - y[50:]) ** 2))
    err_kern = np.sqrt(np.mean((kern.predict(X[50:]) - y[50:]) ** 2))
    assert err < 1.5 * err_kern


@given(st.integers(0, 1000), st.sampled_from(["sld", "sti", "ssi", "variance"]))
def test_kernel_greedy_update_equals_refit(seed, heuristic):
    from skrt._batch import PoolScorer

    rng = np.random.RandomState(seed)
    X, pool = rng.uniform(-2, 2, (15, 2)), rng.uniform(-2, 2, (20, 2))
    y = np.sin(X[:, 0]) + 0.1 * rng.randn(15)
    model = _fit(X, y, alpha=0.3, kernel="rbf", gamma=0.7)
    acq = model.__skrt_acquisition__()
    scorer = PoolScorer(acq, acq.validate(pool), heuristic)
    X_aug, y_aug = X, y
    for i in (2, 13):
        scorer.add(i)
        X_aug = np.vstack([X_aug, pool[i]])
        y_aug = np.r_[y_aug, model.predict(pool[i : i + 1])]
    refit = _fit(X_aug, y_aug, alpha=0.3, kernel="rbf", gamma=0.7)
    expected = refit.score_samples(pool, heuristic=heuristic)
    if heuristic != "variance":
        expected = expected * model.noise_variance_ / refit.noise_variance_
    got = scorer.scores()
    assert np.allclose(got, expected, rtol=1e-6, atol=1e-10 * np.abs(expected).max())


def test_kernel_model_in_regularity_sampling_topk_and_greedy():
    rng = np.random.RandomState(5)
    X = rng.uniform(-2, 2, (30, 2))
    y = np.cos(X[:, 1])
    model = _fit(X, y, alpha="loo", kernel="rbf")
    for h in ("sld", "sti", "ssi", "ssi_unlabeled", "variance"):
        for batch in ("greedy", "topk"):
            idx, _ = regularity_sampling(model, X + 0.5, 4, heuristic=h, batch=batch)
            assert len(set(idx.tolist())) == 4


@given(kernel_data(), st.sampled_from(["rbf", "laplacian"]), st.floats(0.05, 3.0))
def test_gamma_slope_against_finite_differences(data, kernel, gamma):
    from sklearn.metrics import pairwise_distances

    from skrt._kernel_search import loo_and_gamma_slope
    from skrt._linalg import decompose_kernel, leave_one_out_path

    X, y, w = data
    Y = np.reshape(y, (len(X), -1))
    w = np.ones(len(X)) if w is None else w
    model = RegularityKernelRidge(alpha="loo", kernel=kernel)
    D = pairwise_distances(X, metric="sqeuclidean" if kernel == "rbf" else "manhattan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        value, slope = loo_and_gamma_slope(model._choose_alpha, D, gamma, Y, w)
        s = model._choose_alpha(decompose_kernel(np.exp(-gamma * D), Y, w), Y)

    def loo(g):  # at the fixed alpha s
        spec = decompose_kernel(np.exp(-g * D), Y, w)
        return leave_one_out_path(spec, [s])[0].mean()

    def stencil(h):  # five-point central difference in log gamma
        at = [loo(gamma * np.exp(k * h)) for k in (-2, -1, 1, 2)]
        return (at[0] - 8 * at[1] + 8 * at[2] - at[3]) / (12 * h)

    # two steps: an ill-conditioned K (small gamma) leaves ~1e-9 relative
    # round-off in loo(), which a narrow step amplifies (~1e-9 value / h);
    # a tiny LOO-optimal alpha (nearly singular K + sW⁻¹) makes the higher
    # derivatives large, which a wide step's truncation error shows. The
    # difference of the two stencils estimates that truncation error.
    coarse, fine = stencil(1e-3), stencil(2.5e-4)
    assert np.isclose(value, loo(gamma), rtol=1e-9)
    truncation = abs(coarse - fine)
    assert abs(slope - fine) <= 1e-4 * abs(fine) + 4e-6 * abs(value) + truncation


def test_gamma_loo_beats_a_grid_of_gammas():
    rng = np.random.RandomState(6)
    X = rng.uniform(-3, 3, (70, 2))
    y = np.sin(X[:, 0]) * X[:, 1] + 0.1 * rng.randn(70)
    joint = _fit(X, y, alpha="loo", kernel="rbf", gamma="loo")
    grid = [
        _fit(X, y, alpha="loo", kernel="rbf", gamma=g).loo_error_
        for g in np.geomspace(0.01, 10, 25)
    ]
    assert joint.loo_error_ <= min(grid) * (1 + 1e-9)
    assert joint.gamma_ > 0
    assert np.allclose(
        joint.predict(X),
        _fit(X, y, alpha=joint.alpha_, kernel="rbf", gamma=joint.gamma_).predict(X),
    )


def test_gamma_loo_needs_an_exponential_kernel():
    rng = np.random.RandomState(0)
    with pytest.raises(ValueError, match="gamma='loo'"):
        RegularityKernelRidge(kernel="poly", gamma="loo").fit(
            rng.randn(10, 2), rng.randn(10)
        )


def test_gamma_loo_at_fixed_alpha_beats_a_grid():
    rng = np.random.RandomState(7)
    X = rng.uniform(-3, 3, (60, 2))
    y = np.cos(X[:, 0] + X[:, 1]) + 0.1 * rng.randn(60)
    joint = _fit(X, y, alpha=0.1, kernel="laplacian", gamma="loo")
    grid = [
        _fit(X, y, alpha=0.1, kernel="laplacian", gamma=g).loo_error_
        for g in np.geomspace(0.01, 10, 25)
    ]
    assert joint.alpha_ == 0.1
    assert joint.loo_error_ <= min(grid) * (1 + 1e-9)


# ---------------------------------------------------------------------------
# Extended-precision oracles (np.longdouble; no skrt code): kernel ridge
# α = (K + s W⁻¹)⁻¹ y over the rows with w > 0, by Cholesky of
# B = W^{1/2} K W^{1/2} + sI, which is accurate on such graded matrices.
# ---------------------------------------------------------------------------


def ld_inverse(K, w, s):
    """(K + s W⁻¹)⁻¹ on the rows with w > 0 (zero elsewhere), in longdouble."""
    w = np.asarray(w, float)
    pos = np.flatnonzero(w > 0)
    sw = np.sqrt(w[pos].astype(np.longdouble))
    B = np.asarray(K, dtype=np.longdouble)[np.ix_(pos, pos)] * sw[:, None] * sw
    B += s * np.eye(pos.size, dtype=np.longdouble)
    m = pos.size
    L = np.zeros_like(B)
    for j in range(m):
        L[j, j] = np.sqrt(B[j, j] - L[j, :j] @ L[j, :j])
        L[j + 1 :, j] = (B[j + 1 :, j] - L[j + 1 :, :j] @ L[j, :j]) / L[j, j]
    C = np.zeros_like(L)  # L⁻¹
    for i in range(m):
        C[i, i] = 1 / L[i, i]
        C[i, :i] = -(L[i, :i] @ C[:i, :i]) / L[i, i]
    out = np.zeros((len(w), len(w)), dtype=np.longdouble)
    out[np.ix_(pos, pos)] = sw[:, None] * (C.T @ C) * sw[None, :]
    return out


def ld_kernel_fit(K, y, w, s):
    """Duals, tangent -M⁻¹W⁻¹α, leverage diag(K M⁻¹) and brute-force LOO
    residuals y_i - f_(-i)(x_i) (one unit of weight out, all of it if w <= 1)."""
    w = np.asarray(w, float)
    Kl, yl = np.asarray(K, dtype=np.longdouble), np.asarray(y, dtype=np.longdouble)
    Minv = ld_inverse(K, w, s)
    a = Minv @ yl
    safe_w = np.where(w > 0, w, 1.0).astype(np.longdouble)
    tangent = -Minv @ np.where(w > 0, a / safe_w, 0)
    lev = np.einsum("ij,ji->i", Kl, Minv)
    loo = np.empty(len(w))
    for i in range(len(w)):
        wi = w.copy()
        wi[i] -= min(w[i], 1.0)
        ai = ld_inverse(K, wi, s) @ yl
        # the refit's residual y_i - f(x_i) is s α_i / w_i where w_i > 0
        loo[i] = s * ai[i] / np.longdouble(wi[i]) if wi[i] > 0 else yl[i] - Kl[i] @ ai
    return a.astype(float), tangent.astype(float), lev.astype(float), loo, Minv


def _graded_problem(seed, spread, kernel):
    rng = np.random.RandomState(seed)
    n = 24
    X = rng.uniform(-2, 2, (n, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.randn(n)
    w = np.exp(rng.uniform(np.log(1e-2), np.log(spread), n))
    w[:2] = 1e-2, spread * 1e-2  # the spread itself, some below one
    params = {"rbf": {"gamma": 0.5}, "laplacian": {"gamma": 0.3}}[kernel]
    return X, y, w, params


@pytest.mark.parametrize("spread", [1e12, 1e16])
@pytest.mark.parametrize("kernel", ["rbf", "laplacian"])
@pytest.mark.parametrize("alpha", [0.1, 3.0])
def test_widely_spread_weights_match_extended_precision(spread, kernel, alpha):
    from sklearn.metrics.pairwise import pairwise_kernels

    X, y, w, params = _graded_problem(0, spread, kernel)
    Xq = np.random.RandomState(1).uniform(-2, 2, (7, 3))
    model = RegularityKernelRidge(alpha=alpha, kernel=kernel, **params).fit(
        X, y, sample_weight=w
    )
    K = pairwise_kernels(X, metric=kernel, **params)
    a, tangent, lev, loo, Minv = ld_kernel_fit(K, y, w, alpha)
    Kq = pairwise_kernels(Xq, X, metric=kernel, **params)
    assert relative_error(model.dual_coef_, a) < 1e-6
    assert relative_error(model.predict(Xq), Kq @ a) < 1e-6
    assert relative_error(model.dual_coef_tangent_, tangent) < 1e-6
    assert relative_error(model.predict_tangent(Xq), Kq @ tangent) < 1e-6
    assert np.abs(model.leverage_ - lev).max() < 1e-6
    assert relative_error(model.loo_residuals_, loo) < 1e-6
    # the predictive variance (k(x,x) - kᵀM⁻¹k)/s: the std's second part
    Kl = Kq.astype(np.longdouble)
    var = ((1 - np.einsum("ij,jk,ik->i", Kl, Minv, Kl)) / alpha).astype(float)
    _, std = model.predict(Xq, return_std=True)
    assert relative_error(std**2 / model.noise_variance_ - 1.0, var) < 1e-6


def test_widely_spread_weights_warn_where_the_spectrum_is_used():
    X, y, w, params = _graded_problem(0, 1e16, "rbf")
    model = RegularityKernelRidge(alpha=1.0, kernel="rbf", **params)
    model.fit(X, y, sample_weight=w)
    with pytest.warns(UserWarning, match="weights span"):
        model.loo_curve([1.0])
    with pytest.warns(UserWarning, match="weights span"):
        model.sample_information()
    with pytest.warns(UserWarning, match="weights span"):
        RegularityKernelRidge(
            alpha="loo", kernel="rbf", alpha_bounds=(1e-2, 1e2), **params
        ).fit(X, y, sample_weight=w)


def _real_datasets():
    import statsmodels.api as sm
    from sklearn.datasets import (
        load_diabetes,
        load_linnerud,
        make_friedman1,
        make_friedman2,
        make_friedman3,
    )

    X, y = load_diabetes(return_X_y=True)
    yield "diabetes", X[:100], y[:100]
    X, Y = load_linnerud(return_X_y=True)
    yield "linnerud", X, Y[:, 2]
    for i, make in enumerate((make_friedman1, make_friedman2, make_friedman3)):
        X, y = make(n_samples=80, random_state=0)
        yield f"friedman{i + 1}", X, y
    for name in ("longley", "stackloss", "engel", "fair"):
        data = getattr(sm.datasets, name).load_pandas()
        X = np.asarray(data.exog, float).reshape(len(data.endog), -1)
        yield name, X[:80], np.asarray(data.endog, float).ravel()[:80]


REAL = {name: (X, y) for name, X, y in _real_datasets()}


def _standardised(name):
    X, y = REAL[name]
    X = (X - X.mean(0)) / X.std(0)
    return X, (y - y.mean()) / y.std()


@pytest.mark.parametrize("name", sorted(REAL))
def test_gamma_loo_is_a_minimum_on_real_data(name):
    X, y = _standardised(name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = RegularityKernelRidge(alpha="loo", kernel="rbf", gamma="loo").fit(X, y)
    at_end = [str(w.message) for w in caught if "over gamma" in str(w.message)]
    g = model.gamma_
    # brute force: fresh fits around gamma_ are not better (alpha="loo" each)
    others = g * np.r_[0.5, 2.0, np.logspace(-1.5, 1.5, 13)]
    if at_end:  # only at the automatic end of the search, which it names;
        # the warning says that beyond it the error may still fall
        assert "automatic" in at_end[0]
        others = others[others > g] if "lower" in at_end[0] else others[others < g]
    errors = [_fit(X, y, alpha="loo", kernel="rbf", gamma=o).loo_error_ for o in others]
    assert min(errors) >= model.loo_error_ * (1 - 1e-7), name


@pytest.mark.parametrize("name", ["friedman1", "friedman3", "longley"])
def test_gamma_bounds_warning_exactly_at_a_user_bound(name):
    X, y = _standardised(name)
    free = _fit(X, y, alpha="loo", kernel="rbf", gamma="loo")
    g = free.gamma_
    with warnings.catch_warnings():
        warnings.simplefilter("error", RegularityBoundWarning)
        warnings.filterwarnings("ignore", "The loo criterion", RegularityBoundWarning)
        inside = RegularityKernelRidge(
            alpha="loo", kernel="rbf", gamma="loo", gamma_bounds=(g / 30, g * 30)
        ).fit(X, y)
    assert np.isclose(inside.gamma_, g, rtol=1e-3)
    for bounds, edge in (((3 * g, 100 * g), 3 * g), ((g / 100, g / 3), g / 3)):
        with pytest.warns(RegularityBoundWarning, match="bound of gamma_bounds"):
            model = RegularityKernelRidge(
                alpha="loo", kernel="rbf", gamma="loo", gamma_bounds=bounds
            ).fit(X, y)
        assert np.isclose(model.gamma_, edge, rtol=1e-9)


def test_scale_of_X_is_a_clear_error():
    rng = np.random.RandomState(0)
    X, y = rng.randn(20, 2), rng.randn(20)
    big = X.copy()
    big[0, 0] = 1e300
    for kernel in ("rbf", "linear", "laplacian"):
        with pytest.raises(ValueError, match="X has entries up to 1e\\+300"):
            RegularityKernelRidge(kernel=kernel).fit(big, y)
    with pytest.raises(ValueError, match="kernel matrix of X .* reaches"):
        RegularityKernelRidge(kernel="linear").fit(X * 1e60, y)
    with pytest.raises(ValueError, match="kernel matrix X reaches 1e\\+200"):
        RegularityKernelRidge(kernel="precomputed").fit(rbf_kernel(X) * 1e200, y)
    # a pool entry of 1e300 against a linear kernel: f(x) = xᵀXᵀα is finite
    # and exact, k(x, x) = 1e600 is not (the pool is named)
    model = RegularityKernelRidge(kernel="linear").fit(X, y)
    exact = big.astype(np.longdouble) @ (X.T @ model.dual_coef_)
    np.testing.assert_allclose(model.predict(big), exact.astype(float), rtol=1e-12)
    for call in (
        lambda: model.predict(big, return_std=True),
        lambda: model.score_samples(big),
    ):
        with pytest.raises(ValueError, match="not finite in float64 for X"):
            call()


def test_rbf_pool_far_away_is_exact():
    # k(x, X) underflows to exactly 0 far from the data: f = 0, var = 1/s
    rng = np.random.RandomState(0)
    X, y = rng.randn(20, 2), rng.randn(20)
    model = RegularityKernelRidge(alpha=0.5, kernel="rbf").fit(X, y)
    far = np.array([[1e300, 0.0], [1e200, -1e200]])
    mean, std = model.predict(far, return_std=True)
    assert np.all(mean == 0.0)
    assert np.allclose(std**2, model.noise_variance_ * (1 + 1 / 0.5), rtol=1e-12)
    assert np.all(model.score_samples(far) == 0.0)


def test_degenerate_training_sets():
    rng = np.random.RandomState(0)
    # one row repeated: K = J, α = y/(n + s), α̇ = -y/(n + s)² for constant y
    X = np.tile([[0.3, -1.0]], (10, 1))
    model = RegularityKernelRidge(alpha=0.7, kernel="rbf").fit(X, np.full(10, 2.0))
    assert np.allclose(model.dual_coef_, 2.0 / 10.7, rtol=1e-12)
    assert np.allclose(model.dual_coef_tangent_, -2.0 / 10.7**2, rtol=1e-10)
    assert np.allclose(model.leverage_, 10 / 10.7 / 10, rtol=1e-12)
    # leaving one copy out: the other nine predict 2 * 9 / 9.7
    assert np.allclose(model.loo_residuals_, 2.0 - 18.0 / 9.7, rtol=1e-10)
    # n = 1: α = y / (k + s)
    one = RegularityKernelRidge(alpha=0.5, kernel="rbf").fit(X[:1], [3.0])
    assert np.allclose(one.dual_coef_, 3.0 / 1.5)
    assert np.allclose(one.predict(X[:1] + 100.0), 0.0)
    with pytest.raises(ValueError, match="at least 3 samples"):
        RegularityKernelRidge(alpha="loo").fit(X[:2], [1.0, 2.0])
    # constant y without an intercept is a signal: KernelRidge's fit
    Xr = rng.randn(15, 2)
    model = RegularityKernelRidge(alpha=0.2, kernel="rbf").fit(Xr, np.ones(15))
    ref = KernelRidge(alpha=0.2, kernel="rbf").fit(Xr, np.ones(15))
    assert relative_error(model.dual_coef_, ref.dual_coef_) < 1e-10


def test_refit_leaves_no_stale_attributes():
    rng = np.random.RandomState(0)
    X1, y1 = rng.randn(30, 2), rng.randn(30)
    X2, y2 = rng.randn(25, 2), rng.randn(25)

    def fitted(model):
        return {k: v for k, v in vars(model).items() if k.endswith("_")}

    model = _fit(X1, y1, alpha="loo", kernel="rbf")
    model.set_params(solver="cg", alpha=0.5, tol=1e-10, random_state=0)
    model.fit(X2, y2)
    fresh = _fit(
        X2, y2, alpha=0.5, kernel="rbf", solver="cg", tol=1e-10, random_state=0
    )
    a, b = fitted(model), fitted(fresh)
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), key)
    # and the advice fits the model: a kernel model has no solver='svd'
    with pytest.raises(ValueError, match="solver='eigen'") as info:
        model.predict(X2, return_std=True)
    assert "svd" not in str(info.value)


@pytest.mark.parametrize("alpha", [1e300, 1e-300])
def test_extreme_alpha(alpha):
    rng = np.random.RandomState(0)
    X, y = rng.randn(12, 2), rng.randn(12)
    model = RegularityKernelRidge(alpha=alpha, kernel="rbf").fit(X, y)
    K = rbf_kernel(X)
    a, tangent, lev, loo, _ = ld_kernel_fit(K, y, np.ones(12), alpha)
    assert relative_error(model.dual_coef_, a) < 1e-6
    assert np.all(np.isfinite(model.dual_coef_tangent_))
    assert relative_error(model.loo_residuals_, loo) < 1e-6
    if alpha > 1:
        assert relative_error(model.dual_coef_tangent_, tangent) < 1e-6 or np.all(
            tangent == 0
        )
