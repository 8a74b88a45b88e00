"""SGDFRegressor: dual-number SGD against the closed forms and naive updates."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from skrt import RegularityRidge, SGDFRegressor
from skrt.query import sld_sampling


def _problem(seed=0, n=2000, p=20, sparse=False):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p) + 0.5
    if sparse:
        X = sp.csr_matrix(np.where(rng.rand(n, p) < 0.3, X, 0.0))
    y = np.asarray(X @ rng.randn(p)).ravel() + 0.5 * rng.randn(n) + 3.0
    return X, y


def _cos(a, b):
    return a @ b / np.linalg.norm(a) / np.linalg.norm(b)


@pytest.mark.parametrize("sparse", [False, True])
def test_converges_to_the_closed_form_coef_and_tangent(sparse):
    X, y = _problem(sparse=sparse)
    s = 50.0
    ref = RegularityRidge(alpha=s).fit(X, y)
    model = SGDFRegressor(
        alpha=s,
        learning_rate="invscaling",
        eta0=0.02,
        batch_size=64,
        max_iter=300,
        tol=None,
        random_state=0,
    ).fit(X, y)
    assert _cos(model.coef_, ref.coef_) >= 0.999
    assert _cos(model.coef_tangent_, ref.coef_tangent_) >= 0.999
    # relative errors on this problem (stated in the closing note): < 2% / 5%
    assert np.linalg.norm(model.coef_ - ref.coef_) < 0.02 * np.linalg.norm(ref.coef_)
    rel_tangent = np.linalg.norm(model.coef_tangent_ - ref.coef_tangent_)
    assert rel_tangent < 0.05 * np.linalg.norm(ref.coef_tangent_)
    assert np.isclose(model.intercept_, ref.intercept_, rtol=0.02)


def _naive_steps(X, y, w, s, eta, batch, fit_intercept=True, center=None, W=None):
    """Reference: the simultaneous dense update of docs/math.rst, math-sgdf, on rows
    centred at ``center`` (the first chunk's weighted mean): f = (x - m)ᵀθ + β,
    b = β - mᵀθ, unit intercept step for an explicit eta0."""
    n, p = X.shape
    X = X.toarray() if sp.issparse(X) else X
    W = w.sum() if W is None else W
    m = np.zeros(p) if center is None else center
    theta, tdot, beta, bdot = np.zeros(p), np.zeros(p), 0.0, 0.0
    bounds = np.linspace(0, n, -(-n // batch) + 1).astype(int)  # equal batches
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        Xb, yb, wb = X[start:stop] - m, y[start:stop], w[start:stop]
        r = Xb @ theta + beta - yb
        xdot = Xb @ tdot + bdot
        g = Xb.T @ (wb * 2 * r) / wb.sum()
        h = Xb.T @ (wb * 2 * xdot) / wb.sum()
        theta, tdot = (
            theta - eta * (g + 2 * s * theta / W),
            tdot - eta * (h + 2 * theta / W + 2 * s * tdot / W),
        )
        if fit_intercept:
            beta, bdot = (
                beta - eta * (wb @ (2 * r)) / wb.sum(),
                bdot - eta * (wb @ (2 * xdot)) / wb.sum(),
            )
    return theta, tdot, beta - m @ theta, bdot - m @ tdot


@pytest.mark.parametrize("sparse", [False, True])
def test_lazy_scaled_steps_equal_naive_dense_steps(sparse):
    X, y = _problem(1, n=300, p=15, sparse=sparse)
    w = np.random.RandomState(2).uniform(0.5, 2.0, 300)
    s, eta = 40.0, 0.01
    model = SGDFRegressor(alpha=s, learning_rate="constant", eta0=eta, batch_size=16)
    model.partial_fit(X, y, sample_weight=w)
    center = np.asarray(X.T @ w).ravel() / w.sum()
    theta, tdot, b, bdot = _naive_steps(X, y, w, s, eta, 16, center=center)
    assert np.allclose(model.coef_, theta, rtol=1e-10, atol=1e-12)
    assert np.allclose(model.coef_tangent_, tdot, rtol=1e-9, atol=1e-12)
    assert np.isclose(model.intercept_, b) and np.isclose(
        model.intercept_tangent_, bdot
    )


def test_refine_tangent_equals_explicit_lissa():
    X, y = _problem(3, n=200, p=8)
    s, eta = 20.0, 0.02
    model = SGDFRegressor(
        alpha=s,
        learning_rate="constant",
        eta0=eta,
        batch_size=1000,
        max_iter=50,
        tol=None,
        shuffle=False,
    ).fit(X, y)
    theta, b = model.coef_, model.intercept_
    tdot, bdot = model.coef_tangent_.copy(), model.intercept_tangent_
    m = X.mean(axis=0)  # fit's centre: f = (x - m)ᵀθ + β with ḃ = β̇ - mᵀθ̇
    Xt = np.hstack([np.ones((200, 1)), X - m])
    H = 2 * Xt.T @ Xt / 200  # averaged Hessian of the data term
    v = np.r_[bdot + m @ tdot, tdot]
    for _ in range(30):  # LiSSA with a step size, θ frozen
        v = v - eta * (H @ v + np.r_[0.0, 2 * theta / 200 + 2 * s * v[1:] / 200])
    model.refine_tangent(X, y, n_iter=30, eta=eta)
    assert np.allclose(model.coef_, theta)
    assert np.isclose(model.intercept_, b)
    assert np.allclose(model.coef_tangent_, v[1:], rtol=1e-9)
    assert np.isclose(model.intercept_tangent_, v[0] - m @ v[1:], rtol=1e-9)


def test_refine_tangent_converges_to_the_closed_form():
    X, y = _problem(4, n=500, p=10)
    s = 30.0
    model = SGDFRegressor(
        alpha=s,
        learning_rate="constant",
        batch_size=10_000,
        max_iter=3000,
        tol=None,
        tangent=True,
        shuffle=False,
    ).fit(X, y)
    model.refine_tangent(X, y, n_iter=2000)
    # the closed form at the SGD weights: θ̇ = -A⁻¹θ
    ref = RegularityRidge(alpha=s).fit(X, y)
    assert _cos(model.coef_tangent_, ref.coef_tangent_) > 0.9999


# a fixed step on fixed batches in order, no stopping rule: deterministic steps
_FIXED_STEPS = dict(
    alpha=10.0,
    learning_rate="constant",
    eta0=0.01,
    batch_size=20,
    shuffle=False,
    tol=None,
)


def test_partial_fit_over_chunks_equals_the_naive_steps_and_fit():
    X, y = _problem(5, n=320, p=6)
    params = dict(_FIXED_STEPS, max_iter=1)
    stream = SGDFRegressor(**params)
    for start in range(0, 320, 80):  # chunks are whole batches
        stream.partial_fit(
            X[start : start + 80], y[start : start + 80], total_sample_weight=320.0
        )
    # the first chunk's mean is the centre, W the whole stream's weight
    center = X[:80].mean(axis=0)
    theta, tdot, b, bdot = _naive_steps(
        X, y, np.ones(320), 10.0, 0.01, 20, center=center, W=320.0
    )
    assert np.allclose(stream.coef_, theta, rtol=1e-12)
    assert np.allclose(stream.coef_tangent_, tdot, rtol=1e-12)
    assert np.isclose(stream.intercept_, b) and np.isclose(
        stream.intercept_tangent_, bdot
    )
    assert stream.t_ == 16
    # one chunk holding the whole data: fit's steps
    full = SGDFRegressor(**params).fit(X, y)
    once = SGDFRegressor(**params).partial_fit(X, y)
    assert np.allclose(once.coef_, full.coef_, rtol=1e-12)
    assert np.allclose(once.coef_tangent_, full.coef_tangent_, rtol=1e-12)


def test_tangent_solver_cg_matches_closed_form():
    X, y = _problem(6, n=400, p=12)
    model = SGDFRegressor(
        alpha=25.0,
        learning_rate="constant",
        batch_size=10_000,
        max_iter=2000,
        tol=None,
        shuffle=False,
        tangent_solver="cg",
    ).fit(X, y)
    ref = RegularityRidge(alpha=25.0).fit(X, y)
    assert _cos(model.coef_, ref.coef_) > 0.99999
    assert _cos(model.coef_tangent_, ref.coef_tangent_) > 0.9999


def test_huber_tangent_follows_the_quadratic_part():
    # with epsilon above every residual, huber is the squared loss
    X, y = _problem(7, n=300, p=5)
    params = dict(
        alpha=5.0,
        learning_rate="constant",
        batch_size=10_000,
        max_iter=200,
        tol=None,
        shuffle=False,
    )
    sq = SGDFRegressor(**params).fit(X, y)
    hub = SGDFRegressor(loss="huber", epsilon=1e6, **params).fit(X, y)
    assert np.allclose(hub.coef_tangent_, sq.coef_tangent_)
    robust = SGDFRegressor(loss="huber", epsilon=0.5, **params).fit(X, y)
    assert np.all(np.isfinite(robust.coef_tangent_))


def test_divergence_names_the_learning_rate():
    X, y = _problem(8, n=200, p=5)
    with pytest.raises(ValueError, match="eta0=50"):
        SGDFRegressor(learning_rate="constant", eta0=50.0, max_iter=50).fit(X, y)


def test_nonconvergence_warns():
    X, y = _problem(9, n=200, p=5)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        SGDFRegressor(max_iter=2, tol=1e-12, random_state=0).fit(X, y)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"alpha": -1.0}, ValueError, "alpha must be positive"),
        ({"alpha": "loo"}, ValueError, "alpha must be a positive float or 'online'"),
        ({"alpha": "online", "tangent": False}, ValueError, "needs the tangent"),
        ({"loss": "hinge"}, ValueError, "loss must be one of"),
        ({"learning_rate": "optimal"}, ValueError, "learning_rate must be one of"),
        ({"batch_size": 0}, ValueError, "batch_size must be positive"),
        ({"eta0": -0.1}, ValueError, "eta0 must be positive"),
        ({"validation_fraction": 1.5}, ValueError, "validation_fraction"),
        ({"regularizer_schedule": "never"}, ValueError, "regularizer_schedule"),
    ],
)
def test_bad_parameters(params, error, match):
    X, y = _problem(10, n=50, p=3)
    with pytest.raises(error, match=match):
        SGDFRegressor(**params).fit(X, y)


def test_integer_parameters_accept_numpy_integers():
    X, y = _problem(10, n=120, p=4)
    ints = dict(max_iter=30, batch_size=16, n_iter_no_change=3, regularizer_interval=4)
    params = dict(alpha=10.0, regularizer_schedule="intermittent", random_state=0)
    plain = SGDFRegressor(**params, **ints).fit(X, y)
    numpy = SGDFRegressor(**params, **{k: np.int64(v) for k, v in ints.items()})
    numpy.fit(X, y).refine_tangent(X, y, n_iter=np.int32(2))
    plain.refine_tangent(X, y, n_iter=2)
    assert np.array_equal(numpy.coef_tangent_, plain.coef_tangent_)
    assert type(numpy.n_iter_) is int and numpy.n_iter_ == plain.n_iter_


def test_warm_start_continues_the_solver_state():
    # steps, step count (invscaling) and batch carry over: 3 + 2 epochs = 5
    X, y = _problem(5, n=320, p=6)
    params = dict(_FIXED_STEPS, learning_rate="invscaling")
    once = SGDFRegressor(max_iter=5, **params).fit(X, y)
    warm = SGDFRegressor(max_iter=3, warm_start=True, **params).fit(X, y)
    warm.set_params(max_iter=2).fit(X, y)
    assert (warm.n_iter_, once.n_iter_) == (2, 5)
    assert warm.t_ == once.t_ == 80
    assert np.allclose(warm.coef_, once.coef_, rtol=1e-10)
    assert np.allclose(warm.coef_tangent_, once.coef_tangent_, rtol=1e-10)


def test_adam_refuses_sparse():
    X, y = _problem(11, n=50, p=3, sparse=True)
    with pytest.raises(ValueError, match="adam.*dense"):
        SGDFRegressor(learning_rate="adam").fit(X, y)


def test_intermittent_regularizer_converges_to_the_same_point():
    X, y = _problem(12, n=400, p=6)
    params = dict(
        alpha=30.0,
        learning_rate="constant",
        batch_size=10_000,
        max_iter=1500,
        tol=None,
        shuffle=False,
    )
    cont = SGDFRegressor(**params).fit(X, y)
    inter = SGDFRegressor(
        regularizer_schedule="intermittent", regularizer_interval=1, **params
    ).fit(X, y)
    ref = RegularityRidge(alpha=30.0).fit(X, y)
    for m in (cont, inter):
        assert _cos(m.coef_, ref.coef_) > 0.99999
        assert _cos(m.coef_tangent_, ref.coef_tangent_) > 0.999


def test_query_strategies_accept_sgdf():
    X, y = _problem(13, n=300, p=5)
    model = SGDFRegressor(alpha=10.0, random_state=0, max_iter=20, tol=None).fit(X, y)
    idx, scores = sld_sampling(model, X[:50], 3, batch="topk")
    assert len(set(idx.tolist())) == 3 and scores[idx[0]] == scores.max()
    with pytest.raises(ValueError, match="batch='topk'"):
        sld_sampling(model, X[:50], 3)
    for h in ("variance", "sti", "ssi"):
        with pytest.raises(ValueError, match="heuristic='sld'"):
            model.score_samples(X[:5], heuristic=h)
    lab = model.score_samples(X[:5], y[:5])
    assert np.allclose(lab, model.loss_derivative(X[:5], y[:5]) ** 2)


_ONLINE = dict(
    alpha="online",
    learning_rate="constant",
    eta0=0.2,
    max_iter=200,
    tol=None,
    validation_fraction=0.3,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_online_alpha_lands_within_2x_of_the_loo_optimum(seed):
    # p/n = 0.1 and signal-to-noise 2: the held-out and the leave-one-out
    # curves have the same, well-defined minimum (alpha* ~ noise var / coef
    # var = 100). Full-batch steps, so the stationarity gate opens.
    rng = np.random.RandomState(seed)
    X = rng.randn(2000, 200)
    y = X @ (0.1 * rng.randn(200)) + rng.randn(2000)
    loo = RegularityRidge(alpha="loo").fit(X, y).alpha_
    model = SGDFRegressor(
        alpha_init=10.0, batch_size=2000, random_state=seed, **_ONLINE
    ).fit(X, y)
    assert 0.5 <= model.alpha_ / loo <= 2.0, (model.alpha_, loo)


def test_online_alpha_moves_toward_the_held_out_optimum():
    # pure-noise targets: more regularity always helps the held-out loss;
    # nearly noiseless ones: less does. The hypergradient must see both.
    rng = np.random.RandomState(0)
    X = rng.randn(2000, 20)
    params = dict(batch_size=2000, random_state=0, **_ONLINE)
    noise = SGDFRegressor(alpha_init=1.0, **params).fit(X, rng.randn(2000))
    clean = SGDFRegressor(alpha_init=100.0, **params).fit(
        X, X @ rng.randn(20) + 0.01 * rng.randn(2000)
    )
    assert noise.alpha_ > 100.0
    assert clean.alpha_ < 10.0


def test_online_alpha_warns_when_sgd_noise_keeps_it_from_stepping():
    rng = np.random.RandomState(0)
    X = rng.randn(2000, 200)
    y = X @ (0.1 * rng.randn(200)) + rng.randn(2000)
    params = dict(_ONLINE, max_iter=5, eta0="auto")
    with pytest.warns(ConvergenceWarning, match="alpha='online' took no step"):
        model = SGDFRegressor(alpha_init=10.0, random_state=0, **params).fit(X, y)
    assert model.alpha_ == 10.0
    with pytest.raises(ValueError, match="online"):
        SGDFRegressor(alpha="online").partial_fit(X, y)


def _standardised(kind):
    """Standardised regression data of the size issue 13 names (1000 x 8),
    or the bundled diabetes data (442 x 10), standardised."""
    from sklearn.preprocessing import StandardScaler

    if kind == "diabetes":
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
    else:
        rng = np.random.RandomState(0)
        X = rng.randn(1000, 8) @ rng.randn(8, 8)  # correlated columns
        y = X @ rng.randn(8) + rng.randn(1000)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("kind", ["synthetic", "diabetes"])
@pytest.mark.parametrize("alpha", [1.0, 30.0])
def test_defaults_converge_to_the_closed_form(kind, alpha):
    # issue 13.1: with tol set, early stopping used to compare against
    # best=inf (NaN) and stop after n_iter_no_change epochs, 31% off
    X, y = _standardised(kind)
    ref = RegularityRidge(alpha=alpha).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = SGDFRegressor(alpha=alpha, random_state=0).fit(X, y)
    err = np.linalg.norm(model.coef_ - ref.coef_) / np.linalg.norm(ref.coef_)
    assert err <= 1e-3, err
    assert abs(model.intercept_ - ref.intercept_) <= 1e-3 * np.abs(y).mean()
    assert _cos(model.coef_tangent_, ref.coef_tangent_) >= 0.999
    assert model.n_iter_ > model.n_iter_no_change


def test_adaptive_stops_when_converged_not_after_a_fixed_count():
    X, y = _standardised("synthetic")
    ref = RegularityRidge(alpha=1.0).fit(X, y)
    model = SGDFRegressor(learning_rate="adaptive", random_state=0).fit(X, y)
    err = np.linalg.norm(model.coef_ - ref.coef_) / np.linalg.norm(ref.coef_)
    assert err <= 1e-3, err


def test_fixed_small_batch_warns_what_to_change_when_it_stalls():
    # constant steps on batches of 8 stall at their noise floor, far from
    # the tolerance: say so, and name the settings that get there
    X, y = _standardised("synthetic")
    with pytest.warns(ConvergenceWarning, match="batch_size"):
        SGDFRegressor(
            batch_size=8, learning_rate="constant", tol=1e-6, random_state=0
        ).fit(X, y)


def test_alpha_matches_sgdregressor_times_n():
    # SGDRegressor(alpha=a) minimises (1/n) Σ r²/2 + a ‖θ‖²/2, which is
    # (1/2n) (Σ r² + a n ‖θ‖²): Ridge's and SGDFRegressor's objective at
    # alpha = a n. Checked on scikit-learn's own estimators, then on SGDF.
    from sklearn.linear_model import Ridge, SGDRegressor

    rng = np.random.RandomState(0)
    n = 400
    X = rng.randn(n, 3)
    y = X @ [1.0, -2.0, 0.5] + 0.3 * rng.randn(n) + 1.0
    a = 0.5
    sgd = SGDRegressor(
        alpha=a, eta0=0.01, max_iter=3000, tol=None, average=True, random_state=0
    ).fit(X, y)
    ridge = Ridge(alpha=a * n).fit(X, y)
    half = Ridge(alpha=a * n / 2).fit(X, y)
    err_n = np.linalg.norm(sgd.coef_ - ridge.coef_)
    assert err_n < 1e-2 * np.linalg.norm(ridge.coef_)
    assert err_n < 0.1 * np.linalg.norm(sgd.coef_ - half.coef_)
    model = SGDFRegressor(alpha=a * n, random_state=0).fit(X, y)
    assert np.allclose(model.coef_, ridge.coef_, rtol=1e-3)
