"""Bad input gets a clear error; odd but valid input gets a correct answer."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from test_ridge_closed_forms import assert_matches_exact, exact_ridge

from skrt import RegularityRidge
from skrt.exceptions import RegularityBoundWarning


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(30, 4)
    y = X @ rng.randn(4) + 0.1 * rng.randn(30)
    return X, y


BAD_PARAMS = [
    ({"alpha": 0.0}, ValueError, "alpha must be a positive"),
    ({"alpha": -1.0}, ValueError, "alpha must be a positive"),
    ({"alpha": np.nan}, ValueError, "alpha must be a positive"),
    ({"alpha": "cv"}, ValueError, "alpha must be a positive float or one of"),
    ({"alpha": [1.0]}, TypeError, "alpha must be a positive float"),
    ({"alpha": True}, TypeError, "alpha must be a positive float"),
    ({"alpha_bounds": (1.0, 0.1)}, ValueError, "alpha_bounds must satisfy"),
    ({"alpha_bounds": (0.0, 1.0)}, ValueError, "alpha_bounds must satisfy"),
    ({"alpha_bounds": "wide"}, TypeError, "alpha_bounds must be None or a pair"),
    ({"solver": "lsqr"}, ValueError, "solver must be one of"),
    ({"fit_intercept": "yes"}, TypeError, "fit_intercept must be True or False"),
    ({"tol": 0.0}, ValueError, "tol must be positive"),
    ({"max_iter": 2.5}, TypeError, "max_iter must be a positive int"),
    ({"max_iter": 0}, ValueError, "max_iter must be positive"),
]


@pytest.mark.parametrize("params, error, match", BAD_PARAMS)
def test_bad_parameters_are_named(data, params, error, match):
    X, y = data
    model = RegularityRidge(**params)  # __init__ only stores
    with pytest.raises(error, match=match):
        model.fit(X, y)


def _with(X, i, j, value):
    X = X.copy()
    X[i, j] = value
    return X


BAD_DATA = [
    ("nan in X", lambda X, y: (_with(X, 0, 0, np.nan), y), ValueError, "NaN"),
    ("inf in X", lambda X, y: (_with(X, 1, 2, np.inf), y), ValueError, "infinity"),
    ("nan in y", lambda X, y: (X, np.r_[np.nan, y[1:]]), ValueError, "NaN"),
    (
        "lengths",
        lambda X, y: (X, y[:-1]),
        ValueError,
        "inconsistent numbers of samples",
    ),
    (
        "strings",
        lambda X, y: (X.astype(str).astype(object) + "x", y),
        ValueError,
        "convert",
    ),
    ("1-D X", lambda X, y: (X[:, 0], y), ValueError, "2D array"),
    ("3-D y", lambda X, y: (X, y[:, None, None]), ValueError, "y"),
]


@pytest.mark.parametrize(
    "case, make, error, match", BAD_DATA, ids=[c[0] for c in BAD_DATA]
)
def test_bad_data_is_named(data, case, make, error, match):
    X, y = make(*data)
    with pytest.raises(error, match=match):
        RegularityRidge().fit(X, y)


BAD_WEIGHTS = [
    (np.ones(29), "sample_weight must have shape"),
    (-np.ones(30), "non-negative"),
    (np.r_[np.nan, np.ones(29)], "NaN or infinity"),
    (np.zeros(30), "sums to zero"),
]


@pytest.mark.parametrize("sample_weight, match", BAD_WEIGHTS)
def test_bad_sample_weight_is_named(data, sample_weight, match):
    with pytest.raises(ValueError, match=match):
        RegularityRidge().fit(*data, sample_weight=sample_weight)


def test_too_few_samples_for_loo(data):
    X, y = data
    with pytest.raises(ValueError, match="at least 3 samples.*n_samples=2"):
        RegularityRidge(alpha="loo").fit(X[:2], y[:2])


def test_loo_refused_by_cg_with_advice(data):
    with pytest.raises(ValueError, match="alpha='gcv'"):
        RegularityRidge(alpha="loo", solver="cg").fit(*data)


def test_svd_refuses_sparse(data):
    X, y = data
    with pytest.raises(ValueError, match="sparse"):
        RegularityRidge(solver="svd").fit(sp.csr_matrix(X), y)


def test_cg_only_heuristics_are_named(data):
    X, y = data
    model = RegularityRidge(solver="cg").fit(X, y)
    for h in ("ssi", "ssi_unlabeled", "variance"):
        with pytest.raises(ValueError, match="solver='eigen'"):
            model.score_samples(X, heuristic=h)
    with pytest.raises(ValueError, match="solver='eigen'"):
        model.predict(X, return_std=True)
    with pytest.raises(ValueError, match="loo_curve"):
        model.loo_curve([1.0])


def test_score_samples_arguments(data):
    X, y = data
    model = RegularityRidge().fit(X, y)
    with pytest.raises(ValueError, match="heuristic must be one of"):
        model.score_samples(X, heuristic="entropy")
    with pytest.raises(ValueError, match="no labeled form"):
        model.score_samples(X, y, heuristic="variance")
    with pytest.raises(ValueError, match="y has shape"):
        model.score_samples(X, y[:3], heuristic="sld")
    with pytest.raises(ValueError, match="X has 3 features"):
        model.score_samples(X[:, :3])
    with pytest.raises(ValueError, match="alphas must be"):
        model.loo_curve([-1.0, 1.0])


def test_cg_nonconvergence_warns_with_the_setting(data):
    X, y = data
    with pytest.warns(ConvergenceWarning, match="increase max_iter"):
        RegularityRidge(solver="cg", max_iter=1, alpha=1e-3).fit(X, y)


def test_constant_target_is_a_correct_answer(data):
    X, _ = data
    y = np.full(X.shape[0], 3.5)
    with pytest.warns(RegularityBoundWarning, match="constant"):
        model = RegularityRidge(alpha="loo").fit(X, y)
    assert np.allclose(model.coef_, 0.0)
    assert np.allclose(model.coef_tangent_, 0.0)
    assert np.allclose(model.predict(X), 3.5)
    assert model.loo_error_ == pytest.approx(0.0, abs=1e-20)
    assert np.all(np.isfinite(model.score_samples(X)))


def test_rank_deficient_X_matches_ridge(data):
    X, y = data
    X = np.column_stack([X, X[:, 0], 2 * X[:, 1] - X[:, 2]])  # rank 4 of 6
    model = RegularityRidge(alpha="loo").fit(X, y)
    ref = Ridge(alpha=model.alpha_, solver="svd").fit(X, y)
    assert np.allclose(model.coef_, ref.coef_, atol=1e-9)
    assert np.all(np.isfinite(model.loo_residuals_))
    assert np.all(np.isfinite(model.score_samples(X, heuristic="variance")))


def test_single_sample_fixed_alpha_gives_infinite_loo_not_nan(data):
    X, y = data
    model = RegularityRidge(alpha=1.0).fit(X[:1], y[:1])
    assert np.isinf(model.loo_residuals_).all()
    assert not np.isnan(model.predict(X)).any()


def test_pickle_round_trip(data):
    X, y = data
    model = RegularityRidge(alpha="loo").fit(X, y)
    clone_ = pickle.loads(pickle.dumps(model))
    for method in ("predict", "predict_tangent", "score_samples"):
        assert np.array_equal(getattr(model, method)(X), getattr(clone_, method)(X))
    assert np.array_equal(model.loo_curve([0.1, 1.0]), clone_.loo_curve([0.1, 1.0]))


def test_float32_input(data):
    X, y = data
    m32 = RegularityRidge(alpha="loo").fit(X.astype(np.float32), y.astype(np.float32))
    m64 = RegularityRidge(alpha="loo").fit(
        X.astype(np.float32).astype(float), y.astype(np.float32).astype(float)
    )
    assert np.allclose(m32.coef_, m64.coef_)
    assert m32.predict(X.astype(np.float32)).dtype == np.float64


def test_pipeline_and_grid_search(data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), RegularityRidge())
    search = GridSearchCV(pipe, {"regularityridge__alpha": [0.1, 1.0, "loo"]}, cv=3)
    search.fit(X, y)
    assert search.best_params_["regularityridge__alpha"] in (0.1, 1.0, "loo")
    assert search.predict(X).shape == (30,)
    fitted = clone(pipe).fit(X, y)
    assert fitted[-1].coef_tangent_.shape == (4,)


def test_dataframe_feature_names(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    df = pd.DataFrame(X, columns=list("abcd"))
    model = RegularityRidge().fit(df, y)
    assert list(model.feature_names_in_) == list("abcd")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(df)
        model.score_samples(df)


def test_multi_output_shapes(data):
    X, y = data
    Y = np.column_stack([y, -2 * y + 1])
    model = RegularityRidge(alpha="loo").fit(X, Y)
    assert model.coef_.shape == model.coef_tangent_.shape == (2, 4)
    assert model.intercept_.shape == model.noise_variance_.shape == (2,)
    assert model.loo_residuals_.shape == (30, 2)
    assert model.loo_curve([0.1, 1.0, 10.0]).shape == (3, 2)
    mean, std = model.predict(X, return_std=True)
    assert mean.shape == std.shape == (30, 2)
    assert model.score_samples(X, Y).shape == (30,)
    # one tangent per output: each equals the single-output fit at alpha_
    single = RegularityRidge(alpha=model.alpha_).fit(X, Y[:, 1])
    assert np.allclose(model.coef_tangent_[1], single.coef_tangent_)


# ---------------------------------------------------------------------------
# issue 13: degenerate designs (7a), stale attributes (9), extreme scales (12)
# ---------------------------------------------------------------------------


def _fitted_attributes(model):
    return {k for k in vars(model) if k.endswith("_") and not k.startswith("_")}


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("alpha", ["loo", "gcv"])
def test_one_row_repeated_has_zero_tangent_and_says_why(sparse, alpha):
    # the tangent was 2.4e24 (sparse centring noise) with a misleading
    # "smallest at the lower bound" warning
    rng = np.random.RandomState(0)
    X = np.repeat(rng.randn(1, 3) * [1.0, 1e3, 1e-3], 10, axis=0)
    y = rng.randn(10)
    Xin = sp.csr_matrix(X) if sparse else X
    with pytest.warns(RegularityBoundWarning, match="X has no variation") as rec:
        model = RegularityRidge(alpha=alpha).fit(Xin, y)
    assert not any("lower bound" in str(r.message) for r in rec)
    assert np.array_equal(model.coef_, np.zeros(3))
    assert np.array_equal(model.coef_tangent_, np.zeros(3))
    assert model.intercept_tangent_ == 0.0
    assert model.intercept_ == pytest.approx(y.mean(), rel=1e-14)
    assert np.allclose(model.predict(Xin), y.mean(), rtol=1e-14)
    loo = (y - y.mean()) * 10 / 9  # leaving one out of a mean of 10
    assert np.allclose(model.loo_residuals_, loo, rtol=1e-12)
    assert np.all(np.isfinite(model.score_samples(Xin)))


@pytest.mark.parametrize("solver", ["eigen", "svd", "cg"])
def test_constant_columns_get_exactly_zero_weight(solver):
    rng = np.random.RandomState(1)
    X = rng.randn(25, 4)
    X[:, 1] = 3.7  # constant, mean not a float-exact sum
    X[:, 3] = 0.1
    y = X @ [1.0, 2.0, -1.0, 5.0] + rng.randn(25)
    model = RegularityRidge(alpha=0.5, solver=solver, tol=1e-12).fit(X, y)
    assert model.coef_[1] == 0.0 and model.coef_[3] == 0.0
    assert model.coef_tangent_[1] == 0.0 and model.coef_tangent_[3] == 0.0
    ref = Ridge(alpha=0.5).fit(X[:, [0, 2]], y)
    assert np.allclose(model.coef_[[0, 2]], ref.coef_, rtol=1e-10)
    assert model.intercept_ == pytest.approx(ref.intercept_, rel=1e-10)


def test_identical_rows_with_different_targets_and_p_greater_than_n():
    rng = np.random.RandomState(2)
    # two distinct rows, each repeated: the model fits their two means
    X = np.repeat(rng.randn(2, 3), [4, 6], axis=0)
    y = rng.randn(10)
    model = RegularityRidge(alpha="loo").fit(X, y)
    assert_matches_exact(model, X, exact_ridge(X, y, model.alpha_))
    # p > n with duplicated rows and duplicated columns
    Xw = np.repeat(rng.randn(4, 9), 2, axis=0)
    Xw[:, 5] = Xw[:, 0]
    yw = rng.randn(8)
    wide = RegularityRidge(alpha=0.3).fit(Xw, yw)
    assert_matches_exact(wide, Xw, exact_ridge(Xw, yw, 0.3))


def test_single_sample_is_the_intercept_only_model():
    model = RegularityRidge(alpha=1.0).fit([[1.0, 2.0]], [3.0])
    assert np.array_equal(model.coef_, [0.0, 0.0])
    assert np.array_equal(model.coef_tangent_, [0.0, 0.0])
    assert model.predict([[5.0, -1.0]]) == pytest.approx([3.0])


def _refit_leaves_no_stale_attributes(make, first, second, X, y, X2, y2):
    fresh = make(**second).fit(X2, y2)
    model = make(**first).fit(X, y)
    model.set_params(**second).fit(X2, y2)
    assert _fitted_attributes(model) == _fitted_attributes(fresh)
    for name in _fitted_attributes(fresh):
        assert np.array_equal(
            np.asarray(getattr(model, name)), np.asarray(getattr(fresh, name))
        ), name


@pytest.mark.parametrize(
    "first, second",
    [
        ({"solver": "eigen", "alpha": "loo"}, {"solver": "cg", "alpha": 1.0}),
        ({"solver": "svd", "alpha": 0.5}, {"solver": "cg", "alpha": "gcv"}),
        ({"solver": "cg", "alpha": 1.0}, {"solver": "eigen", "alpha": 1.0}),
    ],
)
def test_refit_with_another_solver_leaves_no_stale_attributes(data, first, second):
    # issue 13 point 9: leverage_, loo_error_, loo_residuals_ survived a cg refit
    X, y = data
    X2, y2 = X[:20] * 2.0, y[:20] + 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        _refit_leaves_no_stale_attributes(
            lambda **p: RegularityRidge(random_state=0, **p),
            first,
            second,
            X,
            y,
            X2,
            y2,
        )


def test_refit_drops_feature_names(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    model = RegularityRidge().fit(pd.DataFrame(X, columns=list("abcd")), y)
    model.fit(X, y)
    assert not hasattr(model, "feature_names_in_")


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("solver", ["eigen", "cg"])
def test_overflowing_X_is_a_clear_error(data, sparse, solver):
    # issue 13 point 12: numpy's LinAlgError "Eigenvalues did not converge"
    X, y = data
    X = X * 1e300
    X = sp.csr_matrix(X) if sparse else X
    with pytest.raises(
        ValueError, match=r"X is too large in scale: .* reach 2\.\d+e\+300"
    ):
        RegularityRidge(solver=solver).fit(X, y)


def test_huge_y_and_tiny_X_are_clear_errors(data):
    X, y = data
    with pytest.raises(ValueError, match="y is too large in scale"):
        RegularityRidge().fit(X, y * 1e300)
    with pytest.raises(ValueError, match="X is too small in scale: column 0"):
        RegularityRidge().fit(X * 1e-160, y)


@pytest.mark.parametrize(
    "scale, alphas", [(1e150, (1.0, 1e300)), (1e-150, (1.0, 1e-200))]
)
def test_extreme_but_representable_scales_are_exact(data, scale, alphas):
    X, y = data
    X, y = X[:12] * scale, y[:12]
    for alpha in alphas:
        model = RegularityRidge(alpha=alpha).fit(X, y)
        # at 1e150 dθ/dα (~1e-450) underflows to 0, exactly as the exact
        # value rounds; only x̄ᵀθ̇ (~1e-300) would still be representable
        exact = exact_ridge(X, y, alpha)
        assert_matches_exact(model, X, exact, intercept_tangent=scale < 1)


def test_unrepresentable_tangent_is_a_clear_error(data):
    # θ ~ 1e150 and dθ/dα ~ θ/α ~ 1e450: beyond float64
    X, y = data
    with pytest.raises(ValueError, match="tangent overflow float64 at alpha=1e-300"):
        RegularityRidge(alpha=1e-300).fit(X * 1e-150, y)


def _graded_columns(n=24, p=6, seed=0):
    """Columns alternately x1e6 and x1e-6 (grams next to tonnes), offsets too."""
    rng = np.random.RandomState(seed)
    scale = np.where(np.arange(p) % 2 == 0, 1e6, 1e-6)
    X = rng.randn(n, p) * scale + rng.randn(p) * scale
    return X, X @ (rng.randn(p) / scale) + 0.3 * rng.randn(n) + 2.0


@pytest.mark.parametrize("alpha", [1e-6, 1.0, 1e3])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("shape", [(24, 6), (6, 10)])
def test_default_tol_cg_is_accurate_per_coefficient_on_graded_columns(
    shape, sparse, alpha
):
    # issue 13: cg stopped on the norm of the Jacobi-scaled residual, which
    # the (heavily shrunk) small-scale columns barely enter: at the default
    # tol their coefficients were ~10% off and their tangents several-fold.
    # Wide X: Jacobi-scaled iterates left range(Zᵀ), and the tangent solve
    # amplified that error by λ_max/alpha (coefficients 300x off).
    X, y = _graded_columns(*shape, seed=7)
    exact = exact_ridge(X, y, alpha)
    eigen = RegularityRidge(alpha=alpha, solver="eigen").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = RegularityRidge(alpha=alpha, solver="cg").fit(
            sp.csr_matrix(X) if sparse else X, y
        )
    for attr, key in (("coef_", "coef"), ("coef_tangent_", "coef_tangent")):
        got = getattr(model, attr)
        for ref in (exact[key], getattr(eigen, attr)):
            err = np.abs(got - ref) / np.abs(ref)
            assert err.max() < 1e-4, (attr, err)
    assert np.isclose(model.intercept_, exact["intercept"], rtol=1e-6)
