"""Hierarchical regularity: user models pulled toward a shared model θ₀(s)
whose tangent they inherit (docs/math.rst, math-prior), against explicit matrices,
finite differences of the whole two-level fit and brute-force refits."""

import pickle
import warnings

import numpy as np
import pytest
from _oracles import regression_data, relative_error
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skrt import MultiUserRegularity, RegularityRidge, prior_from
from skrt.exceptions import RegularityBoundWarning

alphas_st = st.floats(1e-1, 1e2)


def _fit(X, y, w=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        return RegularityRidge(**params).fit(X, y, sample_weight=w)


def _prior(rng, p, k=None):
    shape = (p,) if k is None else (k, p)
    return {"coef": rng.randn(*shape), "coef_tangent": rng.randn(*shape)}


@given(regression_data(multi_output=True), alphas_st, st.booleans())
def test_user_solution_is_the_closed_form(data, alpha, fit_intercept):
    X, y, w = data
    n, p = X.shape
    w_ = np.ones(n) if w is None else w
    rng = np.random.RandomState(n + p)
    prior = _prior(rng, p, None if np.ndim(y) == 1 else y.shape[1])
    model = _fit(X, y, w, alpha=alpha, fit_intercept=fit_intercept, prior=prior)
    # θ* = A⁻¹ (Xcᵀ W yc + s θ₀), θ̇ = -A⁻¹ (θ* - θ₀ - s θ̇₀), written out
    Y = np.reshape(y, (n, -1))
    x_mean = w_ @ X / w_.sum() if fit_intercept else np.zeros(p)
    y_mean = w_ @ Y / w_.sum() if fit_intercept else np.zeros(Y.shape[1])
    Xc, Yc = X - x_mean, Y - y_mean
    A = Xc.T @ (w_[:, None] * Xc) + alpha * np.eye(p)
    theta0 = np.reshape(prior["coef"], (-1, p)).T
    theta0_dot = np.reshape(prior["coef_tangent"], (-1, p)).T
    theta = np.linalg.solve(A, Xc.T @ (w_[:, None] * Yc) + alpha * theta0)
    theta_dot = -np.linalg.solve(A, theta - theta0 - alpha * theta0_dot)
    assert relative_error(np.reshape(model.coef_, (-1, p)).T, theta) < 1e-7
    assert relative_error(np.reshape(model.coef_tangent_, (-1, p)).T, theta_dot) < 1e-6
    assert np.allclose(
        model.intercept_, np.ravel(y_mean - x_mean @ theta), atol=1e-7 * np.abs(Y).max()
    )


def _panel(seed, n_users=4, p=3):
    rng = np.random.RandomState(seed)
    base = rng.randn(p)
    X, y, groups = [], [], []
    for u in range(n_users):
        m = rng.randint(1, 12)
        Xu = rng.randn(m, p) + rng.randn(p)
        X.append(Xu)
        y.append(Xu @ (base + 0.5 * rng.randn(p)) + rng.randn() + 0.3 * rng.randn(m))
        groups += [u] * m
    return np.vstack(X), np.concatenate(y), np.array(groups)


@given(st.integers(0, 2**31 - 1), alphas_st, st.booleans())
def test_user_tangent_is_the_derivative_of_the_two_level_fit(
    seed, alpha, fit_intercept
):
    X, y, groups = _panel(seed)
    user = groups == groups[0]

    def two_level(s):
        shared = RegularityRidge(alpha=s, fit_intercept=fit_intercept).fit(X, y)
        return RegularityRidge(
            alpha=s, fit_intercept=fit_intercept, prior=prior_from(shared)
        ).fit(X[user], y[user])

    model = two_level(alpha)
    h = 1e-4 * alpha
    plus, minus = two_level(alpha + h), two_level(alpha - h)
    fd = (plus.coef_ - minus.coef_) / (2 * h)
    scale = np.linalg.norm(fd) + 1e-6 * np.linalg.norm(model.coef_) / alpha
    assert np.linalg.norm(model.coef_tangent_ - fd) <= 1e-5 * scale
    fd_b = (plus.intercept_ - minus.intercept_) / (2 * h)
    assert np.isclose(
        model.intercept_tangent_, fd_b, rtol=1e-5, atol=1e-5 * scale * np.abs(X).max()
    )
    # the meta-estimator is the same two-level model
    multi = MultiUserRegularity(alpha=alpha, fit_intercept=fit_intercept).fit(
        X, y, groups=groups
    )
    assert np.allclose(multi.users_[groups[0]].coef_tangent_, model.coef_tangent_)


def test_user_tangent_on_the_krylov_path_matches_the_decomposition(rng):
    X, y = rng.randn(60, 8), rng.randn(60)
    prior = _prior(rng, 8)
    exact = RegularityRidge(alpha=3.0, prior=prior).fit(X, y)
    cg = RegularityRidge(alpha=3.0, prior=prior, solver="cg", tol=1e-12).fit(X, y)
    assert relative_error(cg.coef_, exact.coef_) < 1e-8
    assert relative_error(cg.coef_tangent_, exact.coef_tangent_) < 1e-8


def test_a_user_without_data_is_the_shared_model(rng):
    X = rng.randn(80, 4)
    y = X @ [1.0, 0.5, 0.0, -1.0] + rng.randn(80) + 3.0
    shared = RegularityRidge(alpha="loo").fit(X, y)
    user = RegularityRidge(alpha=shared.alpha_, prior=prior_from(shared)).fit(
        np.empty((0, 4)), np.empty(0)
    )
    for name in ("coef_", "coef_tangent_", "intercept_", "intercept_tangent_"):
        assert np.array_equal(getattr(user, name), getattr(shared, name)), name
    pool = rng.randn(30, 4)
    assert np.allclose(user.predict(pool), shared.predict(pool))
    assert np.allclose(user.predict_tangent(pool), shared.predict_tangent(pool))
    assert np.allclose(user.score_samples(pool), shared.score_samples(pool))
    # a new user's first query follows the shared model's curiosity
    multi = MultiUserRegularity().fit(X, y, groups=np.repeat([0, 1], 40))
    idx, scores = multi.query(pool, "new user", n_instances=3)
    inherited = multi.shared_.score_samples(pool)
    assert np.allclose(scores, inherited)
    assert set(idx) == set(np.argsort(inherited)[-3:])
    with pytest.raises(ValueError, match="batch='topk'"):
        from skrt.query import sld_sampling

        sld_sampling(user, pool, 3)
    with pytest.raises(ValueError, match="needs training data"):
        user.score_samples(pool, heuristic="variance")


def test_one_sample_only_moves_the_intercept(rng):
    prior = {"coef": rng.randn(3), "coef_tangent": rng.randn(3)}
    x, y = rng.randn(1, 3), rng.randn(1)
    model = RegularityRidge(alpha=2.0, prior=prior).fit(x, y)
    assert np.allclose(model.coef_, prior["coef"])
    assert np.allclose(model.coef_tangent_, prior["coef_tangent"])
    assert np.allclose(model.predict(x), y)


@pytest.mark.parametrize("weight", [1.0, 0.25, 3.0])
def test_leaving_out_the_only_sample_gives_the_prior(rng, weight):
    """One row with an intercept: its leverage is 1, but the model fitted on
    the data left over is a refit (weight > 1) or the prior (no weight left);
    brute force either way."""
    prior = {"coef": rng.randn(3), "intercept": 0.7}
    X, y = rng.randn(4, 3), rng.randn(4)
    w = np.array([weight, 0.0, 0.0, 0.0])
    model = RegularityRidge(alpha=2.0, prior=prior).fit(X, y, sample_weight=w)
    left = w.copy()
    left[0] = max(weight - 1.0, 0.0)
    if left.sum() > 0:
        ref = RegularityRidge(alpha=2.0, prior=prior).fit(X, y, sample_weight=left)
        want = y[0] - ref.predict(X[:1])[0]
    else:
        want = y[0] - (X[0] @ prior["coef"] + prior["intercept"])
    assert np.isclose(model.loo_residuals_[0], want, rtol=1e-10)
    assert np.all(np.isfinite([model.loo_error_, model.gcv_error_]))


@given(regression_data(), alphas_st, st.booleans())
def test_user_leave_one_out_against_brute_force(data, alpha, fit_intercept):
    X, y, w = data
    n, p = X.shape
    rng = np.random.RandomState(n)
    prior = _prior(rng, p)
    model = _fit(X, y, w, alpha=alpha, fit_intercept=fit_intercept, prior=prior)
    w_full = np.ones(n) if w is None else w
    brute = np.empty(n)
    for i in range(n):
        w_i = w_full.copy()
        w_i[i] = max(w_i[i] - 1.0, 0.0)
        keep = w_i > 0
        ref = _fit(
            X[keep], y[keep], w_i[keep], alpha=alpha,
            fit_intercept=fit_intercept, prior=prior,
        )  # fmt: skip
        brute[i] = y[i] - ref.predict(X[i : i + 1])[0]
    assert relative_error(model.loo_residuals_, brute) < 1e-6
    # the grid lies inside the search range (the default range scales with
    # the data and may start above 1e-3): pass the range explicitly
    bounds = (1e-3, 1e3)
    chosen = _fit(
        X, y, w, alpha="loo", alpha_bounds=bounds,
        fit_intercept=fit_intercept, prior=prior,
    )  # fmt: skip
    grid = np.logspace(*np.log10(bounds), 13)
    assert bounds[0] <= chosen.alpha_ <= bounds[1]
    # the continuum search ends within 1e-4 of the best grid value (flat curves)
    assert chosen.loo_error_ <= chosen.loo_curve(grid).min() * (1 + 1e-4)


def test_strong_pull_gives_the_prior_weak_pull_the_users_own_fit(rng):
    X = rng.randn(50, 3)
    y = X @ [1.0, -1.0, 2.0] + 0.1 * rng.randn(50)
    prior = {"coef": np.array([5.0, 5.0, 5.0])}
    strong = RegularityRidge(alpha=1e9, prior=prior).fit(X, y)
    assert np.allclose(strong.coef_, prior["coef"], atol=1e-5)
    weak = RegularityRidge(alpha=1e-9, prior=prior).fit(X, y)
    ols = RegularityRidge(alpha=1e-9).fit(X, y)
    assert np.allclose(weak.coef_, ols.coef_, atol=1e-6)


@pytest.mark.filterwarnings("ignore::skrt.exceptions.RegularityBoundWarning")
def test_multi_user_matches_individual_fits_and_routes_rows(rng):
    X, y, groups = _panel(7, n_users=5, p=4)
    w = rng.uniform(0.5, 2.0, len(y))
    multi = MultiUserRegularity(alpha=2.0, user_alpha="loo").fit(
        X, y, groups=groups, sample_weight=w
    )
    shared = RegularityRidge(alpha=2.0).fit(X, y, sample_weight=w)
    assert np.allclose(multi.shared_.coef_, shared.coef_)
    for user in np.unique(groups):
        rows = groups == user
        alpha = "loo" if rows.sum() >= 3 else 2.0
        own = _fit(X[rows], y[rows], w[rows], alpha=alpha, prior=prior_from(shared))
        assert np.allclose(multi.users_[user].coef_, own.coef_)
        assert np.allclose(
            multi.predict(X[rows], groups=groups[rows]), own.predict(X[rows])
        )
    assert np.allclose(multi.predict(X), shared.predict(X))  # no groups: shared
    mixed = multi.predict_tangent(X[:6], groups=[0, 1, 0, 99, 1, 99])
    assert np.allclose(mixed[3], shared.predict_tangent(X[3:4])[0])
    idx, scores = multi.query(X[:20], groups[0], n_instances=2, batch="greedy")
    assert len(set(idx.tolist())) == 2 and scores.shape == (20,)
    fixed = MultiUserRegularity(alpha=2.0, user_alpha=0.5).fit(X, y, groups=groups)
    assert all(m.alpha_ == 0.5 for m in fixed.users_.values())


def test_prior_survives_clone_pickle_and_grid_search(rng):
    X, y = rng.randn(40, 3), rng.randn(40)
    model = RegularityRidge(alpha=1.0, prior={"coef": np.ones(3)})
    fitted = clone(model).fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    assert np.allclose(again.predict(X), fitted.predict(X))
    grid = GridSearchCV(model, {"alpha": [0.1, 10.0]}, cv=3).fit(X, y)
    assert grid.best_estimator_.prior["coef"].shape == (3,)


@pytest.mark.parametrize(
    "prior, error, match",
    [
        ([1.0, 2.0, 3.0], TypeError, "dict with at least the key 'coef'"),
        ({"coef_tangent": np.ones(3)}, TypeError, "key 'coef'"),
        ({"coef": np.ones(3), "slope": 1}, ValueError, "unknown keys"),
        ({"coef": np.ones(4)}, ValueError, r"prior\['coef'\] must have shape"),
        ({"coef": np.ones(3), "coef_tangent": np.ones((2, 3))}, ValueError, "shape"),
        ({"coef": [1.0, np.nan, 0.0]}, ValueError, "NaN"),
        ({"coef": np.ones(3), "intercept": [1.0, 2.0]}, ValueError, "intercept"),
        ({"coef": np.ones(3), "noise_variance": -1.0}, ValueError, "non-negative"),
    ],
)
def test_bad_priors(rng, prior, error, match):
    with pytest.raises(error, match=match):
        RegularityRidge(prior=prior).fit(rng.randn(10, 3), rng.randn(10))


def test_bad_multi_user_arguments(rng):
    X, y = rng.randn(20, 3), rng.randn(20)
    with pytest.raises(ValueError, match="user_alpha must be"):
        MultiUserRegularity(user_alpha="own").fit(X, y)
    with pytest.raises(TypeError, match="user_alpha must be"):
        MultiUserRegularity(user_alpha=[1.0]).fit(X, y)
    with pytest.raises(ValueError, match="positive"):
        MultiUserRegularity(user_alpha=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="groups must have shape"):
        MultiUserRegularity().fit(X, y, groups=np.zeros(5))
    with pytest.raises(ValueError, match="needs training data to choose"):
        RegularityRidge(alpha="loo", prior={"coef": np.ones(3)}).fit(
            np.empty((0, 3)), np.empty(0)
        )
    with pytest.raises(TypeError, match="prior comes from a fitted"):
        prior_from(MultiUserRegularity().fit(X, y))


_BAD_GROUPS = [
    ("nan", lambda n: np.r_[np.zeros(n - 1), np.nan], "NaN"),
    ("nan_object", lambda n: np.array(["a"] * (n - 1) + [float("nan")], object), "NaN"),
    ("none", lambda n: ["a"] * (n - 1) + [None], "None"),
    ("inf", lambda n: np.r_[np.zeros(n - 1), np.inf], "inf"),
    ("minus_inf", lambda n: [0.0] * (n - 1) + [-np.inf], "inf"),
    ("mixed_list", lambda n: ["a"] * (n - 1) + [1.0], "mixes"),
    ("mixed_object", lambda n: np.array(["a"] * (n - 1) + [1], object), "mixes"),
    ("nat", lambda n: np.array(["2024-01-01"] * (n - 1) + ["NaT"], "datetime64[D]"),
     "NaT"),
    ("unhashable", lambda n: [{}] * n, "hashable"),
    ("wrong_length", lambda n: np.zeros(n - 1), r"shape \(%d,\)"),
    ("two_d", lambda n: np.zeros((n, 1)), r"shape \(%d,\)"),
    ("empty", lambda n: [], r"shape \(%d,\)"),
    ("scalar", lambda n: 3, r"shape \(%d,\)"),
]  # fmt: skip


@pytest.mark.parametrize("make, match", [c[1:] for c in _BAD_GROUPS],
                         ids=[c[0] for c in _BAD_GROUPS])  # fmt: skip
def test_hostile_groups_are_named_at_fit_and_at_predict(rng, make, match):
    X, y = rng.randn(12, 3), rng.randn(12)
    match = match % 12 if "%d" in match else match
    with pytest.raises((ValueError, TypeError), match="groups") as info:
        MultiUserRegularity(alpha=1.0).fit(X, y, groups=make(12))
    assert info.match(match)
    model = MultiUserRegularity(alpha=1.0).fit(X, y, groups=np.arange(12) % 3)
    for method in ("predict", "predict_tangent", "score_samples"):
        with pytest.raises((ValueError, TypeError), match="groups") as info:
            getattr(model, method)(X, groups=make(12))
        assert info.match(match), method


@pytest.mark.parametrize("user", [np.nan, None, np.inf, float("-inf"), [0], {}])
def test_hostile_query_user_is_named(rng, user):
    X, y = rng.randn(12, 3), rng.randn(12)
    model = MultiUserRegularity(alpha=1.0).fit(X, y, groups=np.arange(12) % 3)
    with pytest.raises((ValueError, TypeError), match="user"):
        model.query(X, user)
    with pytest.raises((ValueError, TypeError), match="user"):
        model.user_model(user)


def test_string_and_number_labels_stay_apart_and_unseen_users_inherit(rng):
    # a list of strings and numbers would become strings silently ('1.0');
    # labels of one type keep their identity, unseen ones get the shared model
    X, y = rng.randn(30, 3), rng.randn(30)
    groups = np.repeat(["a", "b", "c"], 10)
    model = MultiUserRegularity(alpha=1.0).fit(X, y, groups=groups)
    assert set(model.users_) == {"a", "b", "c"}
    for user in ("a", "b", "c"):
        rows = groups == user
        own = RegularityRidge(alpha=1.0, prior=prior_from(model.shared_)).fit(
            X[rows], y[rows]
        )
        assert np.allclose(model.predict(X[:4], groups=[user] * 4), own.predict(X[:4]))
    unseen = model.predict(X[:4], groups=["zed"] * 4)
    assert np.allclose(unseen, model.shared_.predict(X[:4]))
    ints, floats = np.repeat([1, 2, 3], 10), np.repeat([1.0, 2.0, 3.0], 10)
    by_int = MultiUserRegularity(alpha=1.0).fit(X, y, groups=ints)
    by_float = MultiUserRegularity(alpha=1.0).fit(X, y, groups=floats)
    assert np.allclose(
        by_int.predict(X, groups=ints), by_float.predict(X, groups=floats)
    )


@pytest.mark.filterwarnings("ignore::skrt.exceptions.RegularityBoundWarning")
def test_a_user_whose_weights_are_all_zero_is_a_user_without_data(rng):
    # zero weights are no data: the user inherits the shared model (as an
    # unseen user does) instead of failing with "sample_weight sums to zero"
    X, y = rng.randn(30, 3), rng.randn(30)
    groups = np.repeat([0, 1, 2], 10)
    w = np.r_[np.zeros(10), rng.uniform(0.5, 2.0, 20)]
    for user_alpha in ("shared", "loo"):
        model = MultiUserRegularity(alpha=1.0, user_alpha=user_alpha).fit(
            X, y, groups=groups, sample_weight=w
        )
        shared = RegularityRidge(alpha=1.0).fit(X, y, sample_weight=w)
        assert np.allclose(
            model.predict(X[:10], groups=groups[:10]), shared.predict(X[:10])
        )
        assert np.allclose(
            model.predict_tangent(X[:10], groups=groups[:10]),
            shared.predict_tangent(X[:10]),
        )
        # two positive weights: too few for leave-one-out, the shared alpha
        w2 = w.copy()
        w2[10:18] = 0.0
        two = MultiUserRegularity(alpha=1.0, user_alpha=user_alpha).fit(
            X, y, groups=groups, sample_weight=w2
        )
        assert two.users_[1].alpha_ == 1.0


def test_groups_is_keyword_only_with_a_deprecation_path(rng):
    # issue 14 point 6: score_samples(X, y) read y as user labels; a
    # positional groups still works for now, with a FutureWarning
    X, y = rng.randn(40, 3), rng.randn(40)
    groups = np.repeat([0, 1], 20)
    model = MultiUserRegularity(alpha=1.0).fit(X, y, groups=groups)
    want = model.predict(X, groups=groups)
    with pytest.warns(FutureWarning, match=r"groups .*keyword-only.*groups=\.\.\."):
        assert np.array_equal(model.predict(X, groups), want)
    scores = model.score_samples(X, groups=groups, heuristic="sld")
    with pytest.warns(FutureWarning, match="keyword-only"):
        assert np.array_equal(model.score_samples(X, groups), scores)
    with pytest.warns(FutureWarning, match="groups, heuristic"):
        assert np.array_equal(model.score_samples(X, groups, "sld"), scores)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # the keyword form is quiet
        model.predict(X, groups=groups)
        model.score_samples(X, groups=groups)
    with pytest.raises(TypeError, match="multiple values for 'groups'"):
        with pytest.warns(FutureWarning):
            model.predict(X, groups, groups=groups)
    with pytest.raises(TypeError, match="at most 1 more positional"):
        model.predict(X, groups, groups)


def test_an_empty_fit_is_n_samples_fit_zero_and_queries_the_same(rng):
    # issue 14 point 5: no fake solver name; MultiUserRegularity.query on a
    # user without data is regularity_sampling of that user's model with
    # batch="topk" (greedy batches need training data), for both penalties
    from skrt import RegularityLasso
    from skrt.query import regularity_sampling

    X, y = rng.randn(60, 3), rng.randn(60)
    pool = rng.randn(25, 3)
    for penalty, kind in (("l2", RegularityRidge), ("l1", RegularityLasso)):
        model = MultiUserRegularity(alpha=1.0, penalty=penalty).fit(
            X, y, groups=np.repeat([0, 1], 30)
        )
        empty = model.user_model("new")
        assert isinstance(empty, kind) and empty.n_samples_fit_ == 0
        assert model.users_[0].n_samples_fit_ == 30
        idx, scores = model.query(pool, "new", n_instances=3, batch="greedy")
        want_idx, want = regularity_sampling(empty, pool, 3, batch="topk")
        assert np.array_equal(idx, want_idx) and np.array_equal(scores, want)
        with pytest.raises(ValueError, match="batch='topk'"):
            regularity_sampling(empty, pool, 3, batch="greedy")
