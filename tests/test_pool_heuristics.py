r"""The pool heuristics (:mod:`skrt._pool`, :ref:`math-pool-heuristics`).

Oracles from explicit matrices, sharing no code with skrt: the ridge
model's ``M = X̃ᵀWX̃ + sP`` and the kernel model's posterior covariance
``(K_pp - K_pt (K_tt + sW⁻¹)⁻¹ K_tp) / s`` on the pool, recomputed from
scratch after every virtual label (the pick appended to the training set with
unit weight, labelled at its own prediction: θ* stays, so does the tangent's
right-hand side), and every score written out from its definition.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _oracles import augmented_system
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics.pairwise import rbf_kernel

from skrt import (
    RegularityKernelRidge,
    RegularityLasso,
    RegularityRidge,
    SGDFRegressor,
)
from skrt._acquisition import PARTS, Acquisition
from skrt._batch import PoolScorer
from skrt._heuristics import (
    AUTO,
    AUTO_FALLBACK,
    AUTO_LANDMARKS,
    DEFAULT_LANDMARKS,
    HEURISTIC_CHOICES,
    HEURISTICS,
    POOL_HEURISTICS,
    check_heuristic,
    resolve_heuristic,
    resolve_landmarks,
)
from skrt._pool import PoolFactorScorer, make_scorer, pool_factor
from skrt._querying import run_query
from skrt.query import regularity_sampling

GAMMA = 0.5


def _data(seed, n=15, p=3, pool=12, graded=False, weights=False):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, (n + pool, p))
    y = np.sin(X[:, 0]) + X[:, -1] + 0.2 * rng.randn(n + pool)
    w = None
    if graded:  # weights over four decades: the kernel model's Cholesky path
        w = 10.0 ** rng.uniform(-2, 2, n)
    elif weights:
        w = rng.uniform(0.3, 2.0, n)
    return X[:n], y[:n], w, X[n:]


def _fit(estimator, X, y, w):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(X, y, sample_weight=w)


# name: (estimator, graded weights)
MODELS = {
    "ridge eigen": (lambda: RegularityRidge(alpha=0.7), False),
    "ridge svd": (lambda: RegularityRidge(alpha=0.7, solver="svd"), False),
    "ridge cg": (lambda: RegularityRidge(alpha=0.7, solver="cg", tol=1e-13), False),
    "ridge no intercept": (
        lambda: RegularityRidge(alpha=0.7, fit_intercept=False),
        False,
    ),
    "kernel eigen": (
        lambda: RegularityKernelRidge(alpha=0.3, kernel="rbf", gamma=GAMMA),
        False,
    ),
    "kernel cholesky": (
        lambda: RegularityKernelRidge(alpha=0.3, kernel="rbf", gamma=GAMMA),
        True,
    ),
    "kernel cg": (
        lambda: RegularityKernelRidge(
            alpha=0.3, kernel="rbf", gamma=GAMMA, solver="cg", tol=1e-13
        ),
        False,
    ),
}


# -- the oracle ---------------------------------------------------------------
class RidgeOracle:
    """κ and the tangent on the pool from M = X̃ᵀWX̃ + sP, with the picks
    appended to X̃ (unit weight)."""

    def __init__(self, X, y, w, s, fit_intercept, pool):
        w = np.ones(len(y)) if w is None else w
        self.aug = self._augment(pool, fit_intercept)
        Xt, self.M, P = augmented_system(X, w, s, fit_intercept)
        theta = np.linalg.solve(self.M, Xt.T @ (w * y))
        self.rhs = P @ theta  # θ̇ = -M⁻¹Pθ*

    @staticmethod
    def _augment(Z, fit_intercept):
        return np.hstack([np.ones((len(Z), 1)), Z]) if fit_intercept else Z

    def state(self, picks):
        M = self.M.copy()
        for b in picks:
            M += np.outer(self.aug[b], self.aug[b])
        K = self.aug @ np.linalg.solve(M, self.aug.T)
        tangent = self.aug @ -np.linalg.solve(M, self.rhs)
        return 0.5 * (K + K.T), tangent[:, None]


class KernelOracle:
    """The GP posterior covariance over s on the pool, with the picks
    appended to the training set (unit weight); the tangent
    ``ẋ(c) = -Σ_j κ(c, x_j) α_j`` over the training rows (θ* = Φᵀα)."""

    def __init__(self, X, y, w, s, pool):
        self.X, self.pool, self.s = X, pool, s
        self.w = np.ones(len(y)) if w is None else w
        K = rbf_kernel(X, X, gamma=GAMMA)
        self.alpha = np.linalg.solve(K + s * np.diag(1.0 / self.w), y)

    def state(self, picks):
        Z = np.vstack([self.X, self.pool[list(picks)]])
        wz = np.r_[self.w, np.ones(len(picks))]
        A = rbf_kernel(Z, Z, gamma=GAMMA) + self.s * np.diag(1.0 / wz)
        Kpz = rbf_kernel(self.pool, Z, gamma=GAMMA)
        Kpp = rbf_kernel(self.pool, self.pool, gamma=GAMMA)
        Kzt = rbf_kernel(Z, self.X, gamma=GAMMA)
        K = (Kpp - Kpz @ np.linalg.solve(A, Kpz.T)) / self.s
        to_train = (Kpz[:, : len(self.X)] - Kpz @ np.linalg.solve(A, Kzt)) / self.s
        return 0.5 * (K + K.T), (-to_train @ self.alpha)[:, None]


def _oracle(name, model, X, y, w, pool):
    if name.startswith("ridge"):
        return RidgeOracle(X, y, w, model.alpha_, model.fit_intercept, pool)
    return KernelOracle(X, y, w, model.alpha_, pool)


def oracle_scores(heuristic, K, tangent, K0, picks):
    """The four scores from their definitions: ``K`` = κ_B on the pool,
    ``tangent`` = ẋ_B, ``K0`` = κ before any pick (the LCMD geometry)."""
    n = K.shape[0]
    v = np.diag(K)
    N = (K**2).sum(axis=0)  # Σ_c κ_B(c, x)²
    if heuristic == "pool_variance":
        return v
    if heuristic == "ivr":
        return N / (n * (1 + v))
    if heuristic == "variance_ivr":
        return v * N / (n * (1 + v))
    if heuristic == "pool_tangent":
        return (tangent**2).sum(axis=1) * N / (n * (1 + v) ** 2)
    d0 = np.diag(K0)
    D = np.column_stack(
        [d0] + [d0 + K0[b, b] - 2 * K0[:, b] for b in picks]
    )  # squared distances to the training set, then to each pick
    D = np.maximum(D, 0.0)
    center = np.argmin(D, axis=1)
    dist = D[np.arange(n), center]
    mass = np.bincount(center, weights=dist, minlength=D.shape[1])
    return np.where(center == np.argmax(mass), dist, 0.0)


def _close(got, want, rtol=1e-8, atol=1e-9):
    scale = np.abs(want).max()
    return np.allclose(got, want, rtol=rtol, atol=atol * scale)


def _check_greedy_against_oracle(name, heuristic, seed, steps=4):
    make, graded = MODELS[name]
    X, y, w, pool = _data(seed, graded=graded, weights=seed % 2 == 1)
    model = _fit(make(), X, y, w)
    oracle = _oracle(name, model, X, y, w, pool)
    K0, T0 = oracle.state([])
    # the oracle is the model: its κ and tangent on the pool before any pick
    assert _close(T0[:, 0], model.predict_tangent(pool), rtol=1e-7)
    acq = model.__skrt_acquisition__()
    Xv = acq.validate(pool)
    assert _close(acq.curvature.cross(Xv, 3, {}), K0[:, 3], rtol=1e-7)
    scorer = make_scorer(acq, Xv, heuristic, True, random_state=0)
    assert isinstance(scorer, PoolFactorScorer)
    picks = []
    for step in range(steps):
        K, T = oracle.state(picks)
        want = oracle_scores(heuristic, K, T, K0, picks)
        got = scorer.scores()
        assert got.shape == (len(pool),) and np.all(np.isfinite(got))
        assert _close(got, want), (name, heuristic, step, got, want)
        masked = want.copy()
        masked[picks] = -np.inf
        picks.append(int(np.argmax(masked)))
        scorer.add(picks[-1])


# (a) each greedy step's scores against virtual-label refits from scratch
@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("heuristic", POOL_HEURISTICS)
@settings(max_examples=8)
@given(seed=st.integers(0, 10_000))
def test_greedy_scores_equal_virtual_label_refits(name, heuristic, seed):
    _check_greedy_against_oracle(name, heuristic, seed)


def test_the_oracle_can_fail():
    # a scorer one pick behind the oracle disagrees with it
    X, y, w, pool = _data(1)
    model = _fit(RegularityRidge(alpha=0.7), X, y, w)
    oracle = _oracle("ridge eigen", model, X, y, w, pool)
    K0, T0 = oracle.state([])
    K, T = oracle.state([2])
    acq = model.__skrt_acquisition__()
    for h in POOL_HEURISTICS:
        scorer = make_scorer(acq, acq.validate(pool), h, True)
        scorer.add(2)
        assert _close(scorer.scores(), oracle_scores(h, K, T, K0, [2]))
        assert not _close(scorer.scores(), oracle_scores(h, K0, T0, K0, []))


# (b) with every pool row a landmark, pool_variance is the variance heuristic
@pytest.mark.parametrize("name", ["ridge eigen", "kernel eigen", "kernel cholesky"])
@settings(max_examples=10)
@given(seed=st.integers(0, 10_000), batch=st.sampled_from(["greedy", "topk"]))
def test_pool_variance_picks_equal_variance_picks(name, seed, batch):
    make, graded = MODELS[name]
    X, y, w, pool = _data(seed, pool=60, graded=graded)
    model = _fit(make(), X, y, w)
    a, sa = regularity_sampling(
        model, pool, 8, heuristic="variance", batch=batch, random_state=seed
    )
    b, sb = regularity_sampling(
        model, pool, 8, heuristic="pool_variance", batch=batch, random_state=seed
    )
    assert np.array_equal(a, b)
    assert np.allclose(sa, sb, rtol=1e-8, atol=1e-12 * sa.max())


@pytest.mark.parametrize("heuristic", POOL_HEURISTICS)
def test_topk_ranks_the_first_round_scores(heuristic):
    X, y, w, pool = _data(5, pool=40)
    model = _fit(MODELS["kernel eigen"][0](), X, y, w)
    oracle = _oracle("kernel eigen", model, X, y, w, pool)
    K0, T0 = oracle.state([])
    want = oracle_scores(heuristic, K0, T0, K0, [])
    idx, scores = regularity_sampling(
        model, pool, 6, heuristic=heuristic, batch="topk", random_state=0
    )
    assert _close(scores, want)
    assert np.array_equal(idx, np.argsort(-scores, kind="stable")[:6])


# (c) fewer landmarks: the explicit Nyström formula
@pytest.mark.parametrize("name", ["kernel eigen", "kernel cg", "ridge eigen"])
@settings(max_examples=10)
@given(seed=st.integers(0, 10_000), n_landmarks=st.integers(5, 9))
def test_factor_is_the_nystrom_formula(name, seed, n_landmarks):
    make, graded = MODELS[name]
    X, y, w, pool = _data(seed, pool=30)
    model = _fit(make(), X, y, w)
    K, _ = _oracle(name, model, X, y, w, pool).state([])
    acq = model.__skrt_acquisition__()
    factor = pool_factor(acq, acq.validate(pool), n_landmarks, random_state=seed)
    L = factor.landmarks
    assert len(L) == len(set(L.tolist()))
    assert np.all(np.diff(L) > 0) and 0 <= L.min() and L.max() < len(pool)
    got = factor.U @ factor.U.T
    if name.startswith("ridge"):
        # rank 4 (intercept + 3 features): >= 4 landmarks in general position
        # span the pool, K_LL is singular and the factor is exact; a linear
        # model draws 2 x 4 landmarks first and keeps them when exact
        assert len(L) == min(n_landmarks, 8)
        assert factor.U.shape[1] == 4
        assert _close(got, K, rtol=1e-7, atol=1e-8)
        return
    assert len(L) == n_landmarks
    nystrom = K[:, L] @ np.linalg.solve(K[np.ix_(L, L)], K[L])
    assert factor.U.shape[1] == n_landmarks
    assert _close(got, nystrom, rtol=1e-7, atol=1e-8)
    assert not _close(got, K, rtol=1e-3, atol=1e-3)  # an approximation


@pytest.mark.parametrize("heuristic", POOL_HEURISTICS)
@settings(max_examples=10)
@given(seed=st.integers(0, 10_000))
def test_greedy_updates_on_a_partial_factor_follow_woodbury(heuristic, seed):
    # with κ̂ = U Uᵀ from 6 landmarks, every step equals the definitions on
    # κ̂_B = κ̂ - κ̂[:, B] (I + κ̂[B, B])⁻¹ κ̂[B, :] and
    # ẋ_B = ẋ - κ̂[:, B] (I + κ̂[B, B])⁻¹ ẋ[B]
    X, y, w, pool = _data(seed, pool=30)
    model = _fit(MODELS["kernel eigen"][0](), X, y, w)
    acq = model.__skrt_acquisition__()
    Xv = acq.validate(pool)
    scorer = make_scorer(acq, Xv, heuristic, True, random_state=seed, n_landmarks=6)
    U = pool_factor(acq, Xv, 6, random_state=seed).U
    K0 = U @ U.T
    T0 = model.predict_tangent(pool)[:, None]
    picks = []
    for _ in range(4):
        B = picks
        inner = np.linalg.inv(np.eye(len(B)) + K0[np.ix_(B, B)])
        K = K0 - K0[:, B] @ inner @ K0[B]
        T = T0 - K0[:, B] @ inner @ T0[B]
        want = oracle_scores(heuristic, K, T, K0, picks)
        assert _close(scorer.scores(), want)
        masked = want.copy()
        masked[picks] = -np.inf
        picks.append(int(np.argmax(masked)))
        scorer.add(picks[-1])


# (d) the landmarks come from the query's random state
@pytest.mark.parametrize("heuristic", POOL_HEURISTICS)
def test_reproducible_with_random_state(heuristic):
    X, y, w, pool = _data(3, pool=250)
    model = _fit(MODELS["kernel eigen"][0](), X, y, w)
    first = regularity_sampling(model, pool, 5, heuristic=heuristic, random_state=4)
    again = regularity_sampling(model, pool, 5, heuristic=heuristic, random_state=4)
    assert np.array_equal(first[0], again[0])
    assert np.array_equal(first[1], again[1])
    acq = model.__skrt_acquisition__()
    Xv = acq.validate(pool)
    runs = [
        run_query(
            acq, Xv, 5, heuristic, "greedy", np.random.RandomState(s), n_landmarks=20
        )[:2]
        for s in (7, 7, 8)
    ]
    assert np.array_equal(runs[0][0], runs[1][0])
    assert np.array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][1], runs[2][1])  # other landmarks
    a = pool_factor(acq, Xv, 20, random_state=7).landmarks
    b = pool_factor(acq, Xv, 20, random_state=np.random.RandomState(7)).landmarks
    c = pool_factor(acq, Xv, 20, random_state=8).landmarks
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # every row a landmark: nothing is drawn, the ties alone use the state
    full = pool_factor(acq, Xv, 10_000, random_state=1).landmarks
    assert np.array_equal(full, np.arange(len(pool)))


def test_sparse_pool_gives_the_dense_picks():
    X, y, w, pool = _data(2, pool=50)
    model = _fit(RegularityRidge(alpha=0.7), X, y, w)
    for h in POOL_HEURISTICS:
        dense = regularity_sampling(model, pool, 5, heuristic=h, random_state=0)
        sparse = regularity_sampling(
            model, sp.csr_matrix(pool), 5, heuristic=h, random_state=0
        )
        assert np.array_equal(dense[0], sparse[0])
        assert np.allclose(dense[1], sparse[1], rtol=1e-10)


# (e) models without the columns κ(·, i): the named message
def _no_cross_models():
    X, y, w, pool = _data(7, n=30, p=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prior = {"coef": np.ones(4), "coef_tangent": np.ones(4), "intercept": 1.0}
        yield (
            "sgdf",
            SGDFRegressor(alpha=0.5, random_state=0, max_iter=5, tol=None).fit(X, y),
            pool,
        )
        yield "lasso", RegularityLasso(alpha=0.5).fit(X, y), pool
        yield (
            "prior",
            RegularityRidge(alpha=0.5, prior=prior).fit(np.empty((0, 4)), np.empty(0)),
            pool,
        )
        K = rbf_kernel(X, X)
        yield (
            "precomputed",
            RegularityKernelRidge(alpha=0.5, kernel="precomputed").fit(K, y),
            rbf_kernel(pool, X),
        )


@pytest.mark.parametrize("heuristic", POOL_HEURISTICS)
@pytest.mark.parametrize("batch", ["greedy", "topk"])
def test_a_model_without_cross_gets_the_named_error(heuristic, batch):
    for label, model, pool in _no_cross_models():
        acq = model.__skrt_acquisition__()
        assert acq.part("cross") is None, label
        message = f"heuristic={heuristic!r} " + acq.reason("cross")
        with pytest.raises(ValueError, match=re.escape(message)) as info:
            regularity_sampling(model, pool, 3, heuristic=heuristic, batch=batch)
        assert PARTS["cross"][0] in str(info.value), label


def test_pool_heuristics_have_no_labeled_form():
    X, y, w, pool = _data(0)
    model = _fit(RegularityRidge(alpha=0.7), X, y, w)
    acq = model.__skrt_acquisition__()
    for h in POOL_HEURISTICS + ("variance",):
        with pytest.raises(ValueError, match="no labeled form"):
            check_heuristic(h, labeled=True)
        check_heuristic(h)
    for h in POOL_HEURISTICS:
        with pytest.raises(ValueError, match="no labeled form"):
            make_scorer(acq, acq.validate(pool), h, False, weight=np.ones((12, 1)))
        # score_samples treats X as the pool: the first round of a query
        first = make_scorer(acq, acq.validate(pool), h, False, random_state=0)
        np.testing.assert_allclose(
            model.score_samples(pool, heuristic=h), first.scores(), rtol=1e-12
        )
        # the per-row scorer refuses them with a clear error, not a KeyError
        with pytest.raises(ValueError, match="whole pool"):
            PoolScorer(acq, acq.validate(pool), h)
    with pytest.raises(ValueError, match="heuristic must be one of"):
        check_heuristic("maxdet")


# -- "auto" and the model family ----------------------------------------------
def test_family_and_auto():
    X, y, w, pool = _data(0)
    fits = {
        "ridge": _fit(RegularityRidge(alpha=0.7), X, y, w),
        "kernel": _fit(MODELS["kernel eigen"][0](), X, y, w),
        "sgdf": _fit(SGDFRegressor(random_state=0, max_iter=5, tol=None), X, y, w),
    }
    family = {k: m.__skrt_acquisition__().family for k, m in fits.items()}
    assert family == {"ridge": "linear", "kernel": "kernel", "sgdf": "linear"}
    assert set(AUTO) == {
        (f, b) for f in ("linear", "kernel") for b in ("batch", "single")
    }
    choices = [c for v in AUTO.values() for c in ((v,) if isinstance(v, str) else v)]
    assert set(choices) <= set(HEURISTICS)
    assert HEURISTIC_CHOICES == ("auto",) + HEURISTICS
    assert set(POOL_HEURISTICS) <= set(HEURISTICS)
    acq = fits["kernel"].__skrt_acquisition__()
    assert resolve_heuristic("auto", acq, 5) == AUTO[("kernel", "batch")]
    assert resolve_heuristic("auto", acq, 1) == AUTO[("kernel", "single")]
    assert (
        resolve_landmarks(None, "auto", acq, 1) == AUTO_LANDMARKS[("kernel", "single")]
    )
    assert resolve_landmarks(None, "auto", acq, 5) == DEFAULT_LANDMARKS
    assert resolve_landmarks(None, "ivr", acq, 1) == DEFAULT_LANDMARKS
    assert resolve_landmarks(37, "auto", acq, 1) == 37
    lin = fits["ridge"].__skrt_acquisition__()
    assert resolve_heuristic("auto", lin, 1) == AUTO[("linear", "single")]
    # a choice the model lacks a part for moves on to the next one it has
    lin_cg = _fit(RegularityRidge(alpha=0.7, solver="cg"), X, y, w)
    lin_cg = lin_cg.__skrt_acquisition__()
    saved = dict(AUTO)
    try:
        AUTO[("linear", "single")] = ("ssi_unlabeled", "variance_ivr")
        assert resolve_heuristic("auto", lin, 1) == "ssi_unlabeled"
        assert resolve_heuristic("auto", lin_cg, 1) == "variance_ivr"
    finally:
        AUTO.clear()
        AUTO.update(saved)
    assert resolve_heuristic("auto", lin, 2) == AUTO[("linear", "batch")]
    for h in HEURISTICS:
        assert resolve_heuristic(h, acq, 3) == h
    # a model without the parts of AUTO's choice falls back on one it has
    sgdf = fits["sgdf"].__skrt_acquisition__()
    assert resolve_heuristic("auto", sgdf, 1) == AUTO_FALLBACK
    idx, _ = regularity_sampling(fits["sgdf"], pool, 3, heuristic="auto", batch="topk")
    assert len(set(idx.tolist())) == 3
    for model in fits.values():
        idx, scores = regularity_sampling(model, pool, 1, heuristic="auto")
        assert idx.shape == (1,) and np.all(np.isfinite(scores))
    with pytest.raises(ValueError, match="family"):
        Acquisition(
            validate=None, tangent=None, noise_variance=1.0, advice="", family="tree"
        )


# (f) a big pool: no n_pool x n_pool matrix
@pytest.mark.parametrize("heuristic", POOL_HEURISTICS)
def test_a_big_pool_builds_no_pool_by_pool_matrix(heuristic, peak_bytes):
    rng = np.random.RandomState(0)
    X, y = rng.randn(50, 5), rng.randn(50)
    pool = rng.randn(20_000, 5)
    model = _fit(RegularityRidge(alpha=1.0), X, y, None)
    result = []
    peak = peak_bytes(
        lambda: result.append(
            regularity_sampling(model, pool, 10, heuristic=heuristic, random_state=0)
        )
    )
    idx, scores = result[0]
    assert len(set(idx.tolist())) == 10 and np.all(np.isfinite(scores))
    assert peak < 0.05 * 20_000**2 * 8


@pytest.mark.parametrize("heuristic", POOL_HEURISTICS)
@pytest.mark.parametrize("batch", ["greedy", "topk"])
@pytest.mark.parametrize("n_pool", [60, 300])  # the row a landmark, or not
def test_overflowing_pool_is_a_value_error_naming_its_scale(heuristic, batch, n_pool):
    X, y, w, pool = _data(0, pool=n_pool)
    pool[5] = 1e200
    with pytest.raises(ValueError, match=r"X_pool.*1e\+200"):
        regularity_sampling(
            _fit(RegularityRidge(alpha=1.0), X, y, w),
            pool,
            3,
            heuristic=heuristic,
            batch=batch,
            random_state=0,
        )


@pytest.mark.parametrize("heuristic", POOL_HEURISTICS)
def test_greedy_indices_are_unique_on_duplicate_rows(heuristic):
    X, y, w, pool = _data(0)
    pool = np.vstack([pool[:2]] * 10)
    for name in ("ridge eigen", "kernel eigen"):
        model = _fit(MODELS[name][0](), X, y, w)
        idx, scores = regularity_sampling(
            model, pool, 12, heuristic=heuristic, random_state=0
        )
        assert len(set(idx.tolist())) == 12 and np.all(np.isfinite(scores))


@pytest.mark.parametrize(
    "bad, error", [(0, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_bad_n_landmarks(bad, error):
    X, y, w, pool = _data(0)
    acq = _fit(RegularityRidge(alpha=1.0), X, y, w).__skrt_acquisition__()
    with pytest.raises(error, match="n_landmarks"):
        pool_factor(acq, acq.validate(pool), bad)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), dup=st.integers(1, 20))
def test_linear_factor_adds_landmarks_until_exact(seed, dup):
    # a pool of few distinct rows repeated: 2 x rank landmarks drawn at random
    # may all be copies of fewer rows than the rank; the factor then adds
    # landmarks until it reproduces the explicit κ on the whole pool
    rng = np.random.RandomState(seed)
    X, y, w, _ = _data(seed)
    model = _fit(RegularityRidge(alpha=0.7), X, y, w)
    distinct = rng.randn(5, X.shape[1])
    pool = np.vstack([distinct[:1]] * (dup * 10) + [distinct])
    K, _ = _oracle("ridge eigen", model, X, y, w, pool).state([])
    acq = model.__skrt_acquisition__()
    factor = pool_factor(acq, acq.validate(pool), 200, random_state=seed)
    assert _close(factor.U @ factor.U.T, K, rtol=1e-7, atol=1e-8)
    # rows in general position: the first 2 x (n_features + 1) suffice
    spread = rng.randn(300, X.shape[1])
    factor = pool_factor(acq, acq.validate(spread), 200, random_state=seed)
    assert len(factor.landmarks) == 2 * (X.shape[1] + 1)
