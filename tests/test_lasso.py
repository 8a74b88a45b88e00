"""RegularityLasso: the L1 pull toward a shared model (paper eq. 97) and its
active-set tangent, against scikit-learn's Lasso and finite differences of
the whole two-level fit."""

import warnings

import numpy as np
import pytest
from _oracles import relative_error
from hypothesis import assume, given
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

from skrt import MultiUserRegularity, RegularityLasso, RegularityRidge, prior_from


@st.composite
def sparse_deviation_data(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.RandomState(seed)
    n = draw(st.integers(15, 60))
    p = draw(st.integers(1, 8))
    X = rng.randn(n, p) * rng.uniform(0.5, 3.0, p) + rng.randn(p)
    theta0 = rng.randn(p)
    deviation = np.where(rng.rand(p) < 0.4, 2.0 * rng.randn(p), 0.0)
    y = X @ (theta0 + deviation) + rng.randn() + 0.3 * rng.randn(n)
    w = rng.uniform(0.3, 2.0, n) if draw(st.booleans()) else None
    prior = {"coef": theta0, "coef_tangent": rng.randn(p)}
    return X, y, w, prior


@given(sparse_deviation_data(), st.floats(0.5, 50.0), st.booleans())
def test_weights_equal_sklearn_lasso_on_the_deviation(data, alpha, fit_intercept):
    X, y, w, prior = data
    w_ = np.ones(len(y)) if w is None else w
    model = RegularityLasso(
        alpha=alpha, prior=prior, fit_intercept=fit_intercept, tol=1e-10,
        max_iter=200000,
    ).fit(X, y, sample_weight=w)  # fmt: skip
    # Σ w r² + s‖δ‖₁ is sklearn's (1/(2Σw)) Σ w r² + (s/(2Σw)) ‖δ‖₁
    ref = Lasso(
        alpha=alpha / (2 * w_.sum()), fit_intercept=fit_intercept, tol=1e-14,
        max_iter=1000000,
    ).fit(X, y - X @ prior["coef"], sample_weight=w)  # fmt: skip
    scale = np.linalg.norm(ref.coef_) + np.linalg.norm(prior["coef"])
    assert np.linalg.norm(model.coef_ - prior["coef"] - ref.coef_) <= 1e-5 * scale
    # the active sets agree up to coordinates at the threshold of either solver
    mismatch = model.active_ != (np.abs(ref.coef_) > 1e-9 * scale)
    assert np.all(np.abs(ref.coef_[mismatch]) < 1e-6 * scale)


@given(sparse_deviation_data(), st.floats(1.0, 30.0))
def test_tangent_is_the_derivative_of_the_two_level_fit(data, alpha):
    X, y, w, _ = data
    users = np.arange(len(y)) % 2 == 0

    def two_level(s):
        shared = RegularityRidge(alpha=s).fit(X, y, sample_weight=w)
        wu = None if w is None else w[users]
        return RegularityLasso(
            alpha=s, prior=prior_from(shared), tol=1e-12, max_iter=500000
        ).fit(X[users], y[users], sample_weight=wu)

    model = two_level(alpha)
    h = 1e-5 * alpha
    plus, minus = two_level(alpha + h), two_level(alpha - h)
    # the active set must not change inside the difference (a kink otherwise)
    assume(np.array_equal(plus.active_, model.active_))
    assume(np.array_equal(minus.active_, model.active_))
    fd = (plus.coef_ - minus.coef_) / (2 * h)
    scale = np.linalg.norm(fd) + 1e-5 * np.linalg.norm(model.coef_) / alpha
    assert np.linalg.norm(model.coef_tangent_ - fd) <= 1e-4 * scale
    fd_b = (plus.intercept_ - minus.intercept_) / (2 * h)
    assert abs(model.intercept_tangent_ - fd_b) <= 1e-4 * scale * (1 + np.abs(X).max())


def test_a_user_without_data_inherits_and_few_coordinates_move(rng):
    X = rng.randn(300, 6)
    shared = RegularityRidge(alpha=1.0).fit(X, X @ np.ones(6) + 0.1 * rng.randn(300))
    empty = RegularityLasso(alpha=5.0, prior=prior_from(shared)).fit(
        np.empty((0, 6)), np.empty(0)
    )
    assert np.array_equal(empty.coef_tangent_, shared.coef_tangent_)
    assert np.allclose(empty.predict(X[:5]), shared.predict(X[:5]))
    assert not empty.active_.any()
    y = X @ [1.0, 1.0, 4.0, 1.0, 1.0, -2.0] + 0.1 * rng.randn(300)
    user = RegularityLasso(alpha=100.0, prior=prior_from(shared)).fit(X, y)
    assert np.array_equal(np.flatnonzero(user.active_), [2, 5])
    # off the active set the tangent is the shared one
    assert np.allclose(
        user.coef_tangent_[~user.active_], shared.coef_tangent_[~user.active_]
    )
    scores = user.score_samples(X[:10])
    assert np.allclose(
        scores, 4 * user.noise_variance_ * user.predict_tangent(X[:10]) ** 2
    )
    with pytest.raises(ValueError, match="heuristic='sld'"):
        user.score_samples(X[:10], heuristic="variance")


def test_multi_user_l1(rng):
    X = rng.randn(200, 4)
    groups = np.repeat([0, 1], 100)
    y = X @ [1.0, 2.0, 0.0, 1.0] + (groups == 1) * 3.0 * X[:, 2] + 0.1 * rng.randn(200)
    multi = MultiUserRegularity(alpha=5.0, penalty="l1").fit(X, y, groups=groups)
    assert isinstance(multi.users_[1], RegularityLasso)
    assert multi.users_[1].active_[2]
    idx, _ = multi.query(X[:30], 1, n_instances=3)
    assert len(set(idx.tolist())) == 3
    with pytest.raises(ValueError, match="penalty='l1'"):
        MultiUserRegularity(penalty="l1", user_alpha="loo").fit(X, y)
    with pytest.raises(ValueError, match="penalty must be"):
        MultiUserRegularity(penalty="l0").fit(X, y)


def test_sparse_input_and_bad_arguments(rng):
    import scipy.sparse as sp

    X = sp.random(80, 20, density=0.3, random_state=0, format="csr")
    y = np.asarray(X @ rng.randn(20)).ravel() + 0.1 * rng.randn(80)
    dense = RegularityLasso(alpha=0.5, tol=1e-10).fit(X.toarray(), y)
    sparse = RegularityLasso(alpha=0.5, tol=1e-10).fit(X, y)
    assert relative_error(sparse.coef_, dense.coef_) < 1e-6
    assert relative_error(sparse.coef_tangent_, dense.coef_tangent_) < 1e-5
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        RegularityLasso(alpha=0.01, tol=1e-14, max_iter=10).fit(X, y)
    for params, error in [
        ({"alpha": "loo"}, TypeError),
        ({"alpha": -1.0}, ValueError),
        ({"tol": 0.0}, ValueError),
        ({"prior": [1.0]}, TypeError),
        ({"prior": {"coef": np.zeros(20), "slope": 1.0}}, ValueError),
    ]:
        with pytest.raises(error):
            RegularityLasso(**params).fit(X, y)


def test_sparse_columns_with_large_offsets_keep_their_tangent(rng):
    # issue 13 point 4: Σ w x xᵀ - Σw x̄x̄ᵀ on the active columns cancelled
    # every digit of a column with an offset of 1e8
    import scipy.sparse as sp

    n = 60
    X = rng.randn(n, 5) * (rng.rand(n, 5) < 0.4)
    X[:, :2] = rng.randn(n, 2) + 1e8
    y = X @ [2.0, -1.0, 0.0, 3.0, 0.0] + 0.1 * rng.randn(n)
    model = RegularityLasso(alpha=5.0, tol=1e-12, max_iter=100000)
    fit = model.fit(sp.csr_matrix(X), y)
    S = fit.active_
    Xc = X[:, S] - np.array(
        [np.mean(X[:, j], dtype=np.longdouble) for j in np.flatnonzero(S)]
    )
    G = np.asarray(Xc.T @ Xc, dtype=float)
    want = -np.linalg.solve(G, 0.5 * np.sign(fit.coef_[S]))
    assert relative_error(fit.coef_tangent_[S], want) < 1e-8
    assert np.all(fit.coef_tangent_[~S] == 0.0)
    dense = RegularityLasso(alpha=5.0, tol=1e-12, max_iter=100000).fit(X, y)
    assert relative_error(fit.coef_, dense.coef_) < 1e-8


def test_refit_leaves_no_stale_attributes(rng):
    X, y = rng.randn(30, 4), rng.randn(30)
    prior = {"coef": np.ones(4)}
    fresh = RegularityLasso(alpha=2.0).fit(X[:20], y[:20])
    model = RegularityLasso(alpha=1.0, prior=prior).fit(X, y)
    model.set_params(alpha=2.0, prior=None).fit(X[:20], y[:20])
    names = {k for k in vars(fresh) if k.endswith("_") and not k.startswith("_")}
    assert {
        k for k in vars(model) if k.endswith("_") and not k.startswith("_")
    } == names
    for name in names:
        assert np.array_equal(
            np.asarray(getattr(model, name)), np.asarray(getattr(fresh, name))
        )


@pytest.mark.parametrize("sparse", [False, True])
def test_overflowing_X_is_a_clear_error(rng, sparse):
    # issue 13 point 12: numpy's LinAlgError before
    import scipy.sparse as sp

    X = rng.randn(20, 3) * 1e300
    X = sp.csr_matrix(X) if sparse else X
    with pytest.raises(ValueError, match=r"X is too large in scale: .*e\+300"):
        RegularityLasso().fit(X, rng.randn(20))


def test_graded_columns_converge_and_match_sklearn(rng):
    # grams next to tonnes: plain FISTA (one step for every column) stalled;
    # the diagonally scaled iteration converges as on standardised data
    scale = np.array([1e6, 1e-6, 1e6])
    X = rng.randn(40, 3) * scale + rng.randn(3) * scale
    y = X @ (np.array([1.0, 2.0, 3.0]) / scale) + 0.1 * rng.randn(40)
    for s in (1e-9, 1e-3):
        fit = RegularityLasso(alpha=s, tol=1e-12, max_iter=2000).fit(X, y)
        # sklearn's Lasso: (1/2n)‖r‖² + a‖θ‖₁, i.e. a = s/(2n); its own
        # coordinate descent is scale-aware
        with warnings.catch_warnings():  # sklearn's duality gap at s=1e-9
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref = Lasso(alpha=s / 80, tol=1e-14, max_iter=10**6).fit(X, y)
        assert np.allclose(fit.coef_, ref.coef_, rtol=1e-8, atol=0.0)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sparse_and_dense_meet_kkt_on_offsets_and_extreme_weights(rng, fit_intercept):
    # issue 14 point 7: the solve is scikit-learn's coordinate descent; the
    # columns stored on most rows (offset 1e6 here) are centred before it
    # sees them, and weights over 16 orders of magnitude stay exact
    import scipy.sparse as sp

    n = 50
    X = rng.randn(n, 6) * (rng.rand(n, 6) < 0.3)
    # offsets only with an intercept (without, such columns are nearly
    # collinear and no solver converges in reasonable time)
    X[:, :2] = rng.randn(n, 2) + (1e6 if fit_intercept else 0.0)
    X[:, 2] *= 1e-4  # a small-scale column next to them
    w = 10.0 ** rng.uniform(-8, 8, n)
    y = X @ [1.0, -2.0, 3e4, 0.0, 1.5, 0.0] + 0.1 * rng.randn(n)
    prior = {"coef": rng.randn(6) * 0.1, "coef_tangent": rng.randn(6)}
    s = 1e-3 * w.sum()
    make = lambda: RegularityLasso(  # noqa: E731
        alpha=s, prior=prior, fit_intercept=fit_intercept, tol=1e-10,
        max_iter=10**6,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # none, ours or sklearn's
        dense = make().fit(X, y, sample_weight=w)
        sparse = make().fit(sp.csr_matrix(X), y, sample_weight=w)
    assert relative_error(sparse.coef_, dense.coef_) < 1e-8
    assert relative_error(sparse.coef_tangent_, dense.coef_tangent_) < 1e-7
    assert np.array_equal(sparse.active_, dense.active_)
    # the KKT conditions of Σ w r² + s‖θ - θ₀‖₁ at the returned model
    r = X @ dense.coef_ + dense.intercept_ - y
    g = 2.0 * X.T @ (w * r)
    if fit_intercept:
        g = 2.0 * (X - np.average(X, axis=0, weights=w)).T @ (w * r)
    on = dense.active_
    assert np.all(np.abs(g[~on]) <= s * (1 + 1e-6))
    assert np.allclose(
        g[on], -s * np.sign((dense.coef_ - prior["coef"])[on]), rtol=1e-5
    )


def test_fit_records_and_integer_types(rng):
    # issue 14 points 2, 5, 6: numpy integers for max_iter, n_samples_fit_
    # on every fit (0: the prior), an int n_iter_ (one target); no exact
    # leave-one-out methods at all
    X, y = rng.randn(40, 4), rng.randn(40)
    model = RegularityLasso(alpha=2.0, max_iter=np.int64(500)).fit(X, y)
    assert model.n_samples_fit_ == 40
    assert isinstance(model.n_iter_, int) and 0 < model.n_iter_ <= 500
    with pytest.raises(TypeError, match="max_iter"):
        RegularityLasso(max_iter=500.0).fit(X, y)
    empty = RegularityLasso(prior={"coef": np.ones(4)}).fit(X[:0], y[:0])
    assert empty.n_samples_fit_ == 0 and empty.n_iter_ == 0
    for name in ("loo_curve", "sample_information", "influence_diagnostics"):
        assert not hasattr(model, name)
    with pytest.raises(TypeError, match="return_std"):
        model.predict(X, return_std=True)
    with pytest.warns(ConvergenceWarning, match=r"tol=1e-14 in max_iter=3 "):
        RegularityLasso(alpha=0.01, tol=1e-14, max_iter=3).fit(X, y)
