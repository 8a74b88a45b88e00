"""Query strategies: one contract every strategy inherits, then their laws."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _oracles import augmented_system
from hypothesis import given
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skrt import (
    RegularityKernelRidge,
    RegularityLasso,
    RegularityRidge,
    SGDFRegressor,
)
from skrt._batch import PoolScorer
from skrt.exceptions import RegularityBoundWarning
from skrt.query import (
    random_sampling,
    regularity_sampling,
    sld_sampling,
    ssi_sampling,
    sti_sampling,
    variance_sampling,
)


def _data(seed=0, n=40, p=4, pool=60):
    rng = np.random.RandomState(seed)
    X = rng.randn(n + pool, p)
    y = X @ rng.randn(p) + 0.5 * rng.randn(n + pool)
    return X[:n], y[:n], X[n:]


def _model(X, y, estimator=RegularityRidge, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        return estimator(**{"alpha": "loo", **params}).fit(X, y)


class _Wrapper:
    """What a modAL learner looks like to a strategy."""

    def __init__(self, estimator):
        self.estimator = estimator


class StrategyContract:
    """Every query strategy passes these."""

    strategy = None  # set by subclasses
    kwargs: dict = {}
    model_params: dict = {}

    def query(self, learner, X_pool, n=1, **kw):
        return type(self).strategy(learner, X_pool, n, **{**self.kwargs, **kw})

    def model(self, X, y):
        return _model(X, y, **self.model_params)

    def test_shapes_and_unique_indices(self):
        X, y, pool = _data()
        idx, scores = self.query(self.model(X, y), pool, 5, random_state=0)
        assert idx.shape == (5,) and scores.shape == (len(pool),)
        assert len(set(idx.tolist())) == 5
        assert np.all((0 <= idx) & (idx < len(pool)))
        assert np.all(np.isfinite(scores))

    def test_more_instances_than_pool(self):
        X, y, pool = _data(pool=7)
        idx, _ = self.query(self.model(X, y), pool, 20, random_state=0)
        assert sorted(idx.tolist()) == list(range(7))

    def test_reproducible_with_random_state(self):
        X, y, pool = _data()
        pool = np.vstack([pool[:3]] * 10)  # many exact ties
        model = self.model(X, y)
        a = self.query(model, pool, 4, random_state=3)[0]
        b = self.query(model, pool, 4, random_state=3)[0]
        assert np.array_equal(a, b)

    def test_pool_with_nan_is_a_clear_error(self):
        X, y, pool = _data()
        pool[2, 1] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            self.query(self.model(X, y), pool, 2)

    def test_empty_pool_is_a_clear_error(self):
        X, y, pool = _data()
        with pytest.raises(ValueError, match="empty"):
            self.query(self.model(X, y), pool[:0], 1)

    @pytest.mark.parametrize("bad, error", [(0, ValueError), (1.5, TypeError)])
    def test_bad_n_instances(self, bad, error):
        X, y, pool = _data()
        with pytest.raises(error, match="n_instances"):
            self.query(self.model(X, y), pool, bad)

    def test_learner_forms(self):
        X, y, pool = _data()
        model = self.model(X, y)
        direct = self.query(model, pool, 3, random_state=1)[0]
        wrapped = self.query(_Wrapper(model), pool, 3, random_state=1)[0]
        assert np.array_equal(direct, wrapped)
        pipe = make_pipeline(StandardScaler(), RegularityRidge(alpha=1.0)).fit(X, y)
        idx, scores = self.query(pipe, pool, 3, random_state=1)
        assert idx.shape == (3,) and scores.shape == (len(pool),)


class ModelStrategyContract(StrategyContract):
    """Strategies that use the model."""

    def test_unfitted_learner_is_a_clear_error(self):
        _, _, pool = _data()
        with pytest.raises(NotFittedError):
            self.query(RegularityRidge(), pool, 1)

    def test_first_pick_is_the_best_score(self):
        X, y, pool = _data()
        idx, scores = self.query(self.model(X, y), pool, 3, random_state=0)
        assert scores[idx[0]] == scores.max()

    def test_sparse_pool(self):
        X, y, pool = _data()
        model = self.model(X, y)
        dense = self.query(model, pool, 3, random_state=0)
        sparse = self.query(model, sp.csr_matrix(pool), 3, random_state=0)
        assert np.array_equal(dense[0], sparse[0])
        assert np.allclose(dense[1], sparse[1])


class TestSLD(ModelStrategyContract):
    strategy = staticmethod(sld_sampling)


class TestSLDTopk(ModelStrategyContract):
    strategy = staticmethod(sld_sampling)
    kwargs = {"batch": "topk"}


class TestSTI(ModelStrategyContract):
    strategy = staticmethod(sti_sampling)


class TestSSI(ModelStrategyContract):
    strategy = staticmethod(ssi_sampling)


class TestSSIUnlabeled(ModelStrategyContract):
    strategy = staticmethod(ssi_sampling)
    kwargs = {"reference": "unlabeled"}


class TestVariance(ModelStrategyContract):
    strategy = staticmethod(variance_sampling)


class TestKernelSLD(ModelStrategyContract):
    strategy = staticmethod(sld_sampling)
    model_params = {"estimator": RegularityKernelRidge, "kernel": "rbf"}


class TestKernelSSI(ModelStrategyContract):
    strategy = staticmethod(ssi_sampling)
    model_params = {"estimator": RegularityKernelRidge, "kernel": "rbf"}


class TestKernelVariance(ModelStrategyContract):
    strategy = staticmethod(variance_sampling)
    model_params = {"estimator": RegularityKernelRidge, "kernel": "rbf"}


class TestRandom(StrategyContract):
    strategy = staticmethod(random_sampling)


BAD_PARAMS = [
    ({"heuristic": "entropy"}, "heuristic must be one of"),
    ({"batch": "all"}, "batch must be one of"),
]


@pytest.mark.parametrize("params, match", BAD_PARAMS)
def test_bad_strategy_parameters(params, match):
    X, y, pool = _data()
    with pytest.raises(ValueError, match=match):
        regularity_sampling(_model(X, y), pool, 2, **params)


def test_ssi_reference_is_checked():
    X, y, pool = _data()
    with pytest.raises(ValueError, match="reference"):
        ssi_sampling(_model(X, y), pool, reference="both")


def test_learner_of_the_wrong_kind():
    from sklearn.linear_model import Ridge

    X, y, pool = _data()
    with pytest.raises(TypeError, match="RegularityRidge"):
        sld_sampling(Ridge().fit(X, y), pool)


def test_scores_equal_score_samples():
    X, y, pool = _data()
    model = _model(X, y)
    for h in ("sld", "sti", "ssi", "ssi_unlabeled", "variance"):
        _, scores = regularity_sampling(model, pool, heuristic=h)
        assert np.array_equal(scores, model.score_samples(pool, heuristic=h))


@given(
    st.integers(0, 10_000),
    st.sampled_from(["sld", "sti", "ssi", "variance"]),
    st.booleans(),
)
def test_greedy_update_equals_refit_with_virtual_label(seed, heuristic, fit_intercept):
    # after a pick, the rank-one update must equal a refit with the point
    # labelled at its own prediction (θ* unchanged); σ² is kept from the
    # original fit, so the refit's scores are rescaled to it
    X, y, pool = _data(seed, n=15, p=5, pool=20)
    model = _model(X, y, alpha=0.7, fit_intercept=fit_intercept)
    acq = model.__skrt_acquisition__()
    scorer = PoolScorer(acq, acq.validate(pool), heuristic)
    picks = [3, 11]
    X_aug, y_aug = X, y
    for i in picks:
        scorer.add(i)
        X_aug = np.vstack([X_aug, pool[i]])
        y_aug = np.r_[y_aug, model.predict(pool[i : i + 1])]
    refit = _model(X_aug, y_aug, alpha=0.7, fit_intercept=fit_intercept)
    assert np.allclose(refit.coef_, model.coef_, atol=1e-10)
    expected = refit.score_samples(pool, heuristic=heuristic)
    if heuristic != "variance":
        expected = expected * model.noise_variance_ / refit.noise_variance_
    got = scorer.scores()
    assert np.allclose(got, expected, rtol=1e-8, atol=1e-12 * np.abs(expected).max())


@given(st.integers(0, 10_000), st.booleans())
def test_greedy_doubly_unlabeled_ssi_against_explicit_matrices(seed, fit_intercept):
    X, y, pool = _data(seed, n=15, p=5, pool=20)
    model = _model(X, y, alpha=0.7, fit_intercept=fit_intercept)
    acq = model.__skrt_acquisition__()
    scorer = PoolScorer(acq, acq.validate(pool), "ssi_unlabeled")
    _, M, _ = augmented_system(X, None, 0.7, fit_intercept)

    def aug(Z):
        return np.hstack([np.ones((len(Z), 1)), Z]) if fit_intercept else Z

    for i in (4, 9, 17):
        scorer.add(i)
        M = M + np.outer(aug(pool[i : i + 1])[0], aug(pool[i : i + 1])[0])
    # Σ_j over the original training set of (2 x̃_jᵀ H'⁻¹ 2 x̃)², H' = 2M'
    expected = ((2 * aug(X) @ np.linalg.solve(M, aug(pool).T)) ** 2).sum(axis=0)
    assert np.allclose(scorer.scores(), expected, rtol=1e-8)


def test_greedy_batches_spread_out():
    # a pool of five copies of the most curious point plus ordinary points:
    # top-k takes copies; greedy virtually labels one and moves on
    X, y, pool = _data(1)
    model = _model(X, y)
    scores = model.score_samples(pool, heuristic="variance")
    far = pool[np.argmax(scores)] * 4.0
    crowded = np.vstack([np.tile(far, (5, 1)), pool])
    topk, _ = variance_sampling(model, crowded, 4, batch="topk", random_state=0)
    greedy, _ = variance_sampling(model, crowded, 4, random_state=0)
    assert np.sum(topk < 5) == 4
    assert np.sum(greedy < 5) < 4


def test_ties_are_broken_by_random_state():
    X, y, _ = _data()
    model = _model(X, y)
    pool = np.tile(X[:1], (30, 1))
    picks = {int(sld_sampling(model, pool, random_state=s)[0][0]) for s in range(10)}
    assert len(picks) > 1


def test_cg_model_supports_greedy_sld():
    X, y, pool = _data()
    exact = _model(X, y, alpha=1.0)
    cg = _model(sp.csr_matrix(X), y, alpha=1.0, solver="cg", tol=1e-12)
    a = sld_sampling(exact, pool, 4, random_state=0)[0]
    b = sld_sampling(cg, pool, 4, random_state=0)[0]
    assert np.array_equal(a, b)


# -- overflowing pools: a ValueError naming the pool and its scale ---------
HEURISTICS = ("sld", "sti", "ssi", "ssi_unlabeled", "variance")


@pytest.mark.parametrize("heuristic", HEURISTICS)
@pytest.mark.parametrize("batch", ["greedy", "topk"])
def test_overflowing_pool_is_a_value_error_naming_its_scale(heuristic, batch):
    X, y, pool = _data()
    pool[5] = 1e200
    with pytest.raises(ValueError, match=r"X_pool.*1e\+200"):
        regularity_sampling(
            _model(X, y, alpha=1.0), pool, 3, heuristic=heuristic, batch=batch
        )


@pytest.mark.parametrize("heuristic", HEURISTICS)
def test_score_samples_of_an_overflowing_pool_names_x(heuristic):
    X, y, pool = _data()
    pool[5] = 1e200
    with pytest.raises(ValueError, match=r"for X: .*1e\+200"):
        _model(X, y, alpha=1.0).score_samples(pool, heuristic=heuristic)


def test_predict_std_of_an_overflowing_pool_names_x():
    X, y, pool = _data()
    pool[5] = 1e200
    model = _model(X, y, alpha=1.0)
    with pytest.raises(ValueError, match=r"predictive std .* X: .*1e\+200"):
        model.predict(pool, return_std=True)
    # the prediction itself overflows: coefficients ~1e10, a row of 1e300
    model = _model(X * 1e-10, y, alpha=1e-20)
    pool[5] = 1e300 * np.sign(model.coef_)
    with pytest.raises(ValueError, match=r"prediction .* X: .*1e\+300"):
        model.predict(pool)


def test_greedy_pick_never_repeats_when_scores_overflow_after_the_first():
    # first-round SLD scores are finite (x̃ᵀθ̇ is small) but κ(i, i) overflows
    # once a point is virtually labelled: today's code picked [6, 6, 6, 6]
    X, y, pool = _data()
    pool = pool * 1e156
    model = _model(X, y, alpha=1e3)
    assert np.all(np.isfinite(model.score_samples(pool)))
    with pytest.raises(ValueError, match=r"after virtually labelling 1 greedy"):
        sld_sampling(model, pool, 4, random_state=0)
    idx, _ = sld_sampling(model, pool, 4, batch="topk", random_state=0)
    assert len(set(idx.tolist())) == 4


def test_greedy_indices_are_unique_on_duplicate_rows():
    X, y, pool = _data()
    pool = np.vstack([pool[:2]] * 10)
    model = _model(X, y, alpha=1.0)
    for h in HEURISTICS:
        idx, _ = regularity_sampling(model, pool, 12, heuristic=h, random_state=0)
        assert len(set(idx.tolist())) == 12


# -- learners the strategies cannot use: which ones they can ----------------
def test_unsupported_learner_names_the_supported_estimators():
    from sklearn.linear_model import Ridge

    from skrt import MultiUserRegularity

    X, y, pool = _data()
    for learner in (Ridge().fit(X, y), _Wrapper(Ridge().fit(X, y)), None):
        with pytest.raises(TypeError, match="RegularityKernelRidge.*SGDFRegressor"):
            sld_sampling(learner, pool)
    users = MultiUserRegularity().fit(X, y, groups=np.arange(len(X)) % 2)
    with pytest.raises(TypeError, match="MultiUserRegularity use its query"):
        sld_sampling(users, pool)


def test_unfitted_learner_in_a_wrapper_or_pipeline_says_not_fitted():
    X, y, pool = _data()
    for learner in (
        _Wrapper(RegularityRidge()),
        make_pipeline(StandardScaler(), RegularityRidge()),
    ):
        with pytest.raises(NotFittedError, match="not fitted"):
            sld_sampling(learner, pool)


# -- blocks: bounded memory, the same answer -------------------------------
def _explicit_ridge_query(model, X, y, pool, n, heuristic, batch, seed):
    """Unblocked oracle from explicit matrices (no skrt code): SLD or
    variance scores with picks added to M at their own prediction (θ*
    unchanged), ties broken as the strategies do (a random permutation per
    ranking, then a stable sort)."""
    rng = np.random.RandomState(seed)
    Xt, M, P = augmented_system(X, None, model.alpha_, model.fit_intercept)
    theta = np.linalg.solve(M, Xt.T @ y)
    aug = np.hstack([np.ones((len(pool), 1)), pool]) if model.fit_intercept else pool

    def scores(M):
        if heuristic == "variance":
            return np.einsum("ij,ji->i", aug, np.linalg.solve(M, aug.T))
        tangent = -np.linalg.solve(M, P @ theta)
        return 4 * model.noise_variance_ * (aug @ tangent) ** 2

    def first(s):
        order = rng.permutation(len(s))
        return order[np.argsort(-s[order], kind="stable")]

    s0 = scores(M)
    if batch == "topk":
        return first(s0)[:n], s0
    chosen, s = [], s0
    for _ in range(n):
        s = s.copy()
        s[chosen] = -np.inf
        chosen.append(int(first(s)[0]))
        M = M + np.outer(aug[chosen[-1]], aug[chosen[-1]])
        s = scores(M)
    return np.array(chosen), s0


@pytest.mark.parametrize("heuristic", ["sld", "variance"])
@pytest.mark.parametrize("batch", ["greedy", "topk"])
def test_query_equals_an_explicit_unblocked_oracle(heuristic, batch, monkeypatch):
    import skrt._centering

    X, y, pool = _data(3, pool=50)
    model = _model(X, y, alpha=0.8)
    want, want_scores = _explicit_ridge_query(model, X, y, pool, 6, heuristic, batch, 5)
    for block in (1, 10**12):  # one row per block, and the whole pool at once
        monkeypatch.setattr(skrt._centering, "BLOCK_BYTES", block, raising=False)
        idx, scores = regularity_sampling(
            model, pool, 6, heuristic=heuristic, batch=batch, random_state=5
        )
        assert np.array_equal(idx, want)
        assert np.allclose(scores, want_scores, rtol=1e-9)


@pytest.mark.parametrize(
    "estimator, params",
    [
        (RegularityRidge, {}),
        (RegularityRidge, {"solver": "cg", "tol": 1e-12}),
        (RegularityKernelRidge, {"kernel": "rbf", "gamma": 0.3}),
    ],
)
def test_blocked_and_unblocked_scoring_agree(estimator, params, monkeypatch):
    import skrt._centering

    X, y, pool = _data(4, pool=45)
    model = _model(X, y, estimator, **{"alpha": 0.5, **params})
    solver = getattr(model, "solver_", "eigen")
    heuristics = HEURISTICS if solver != "cg" else ("sld",)

    def everything():
        out = {"predict": model.predict(pool), "tangent": model.predict_tangent(pool)}
        if solver != "cg":
            out["std"] = model.predict(pool, return_std=True)[1]
        for h in heuristics:
            out[h] = model.score_samples(pool, heuristic=h)
            if h in ("sld", "sti", "ssi"):
                out[h + "_labeled"] = model.score_samples(pool, pool[:, 0], h)
            for batch in ("greedy", "topk"):
                out[h + batch] = regularity_sampling(
                    model, pool, 5, heuristic=h, batch=batch, random_state=0
                )
        return out

    monkeypatch.setattr(skrt._centering, "BLOCK_BYTES", 10**12)
    whole = everything()
    for block in (1, 8 * 7 * 40):  # one row, and blocks of a few rows
        monkeypatch.setattr(skrt._centering, "BLOCK_BYTES", block)
        for key, value in everything().items():
            if isinstance(value, tuple):  # (indices, scores) of a strategy
                assert np.array_equal(value[0], whole[key][0]), key
                value, expected = value[1], whole[key][1]
            else:
                expected = whole[key]
            assert np.allclose(value, expected, rtol=1e-12, atol=0), key


@pytest.mark.parametrize("batch", ["topk", "greedy"])
def test_a_batch_builds_no_n_instances_by_n_pool_score_matrix(batch, peak_bytes):
    # today: np.tile (topk) or a list of rows plus np.vstack (greedy) of
    # n_instances x n_pool scores, 80 MB here; greedy's own Sherman-Morrison
    # recursion keeps one pool column per pick (n_instances x n_pool, once)
    rng = np.random.RandomState(0)
    X, y = rng.randn(30, 3), rng.randn(30)
    pool = rng.randn(50_000, 3)
    model = _model(X, y, alpha=1.0)
    n = 200
    peak = peak_bytes(lambda: sld_sampling(model, pool, n, batch=batch, random_state=0))
    matrix = n * pool.shape[0] * 8
    assert peak < (0.25 if batch == "topk" else 1.5) * matrix


def test_kernel_pool_is_scored_in_blocks(monkeypatch, peak_bytes):
    # the pool x training kernel (20,000 x 400: 64 MB) never exists whole
    import skrt._centering

    rng = np.random.RandomState(0)
    X, y = rng.randn(400, 3), rng.randn(400)
    pool = rng.randn(20_000, 3)
    model = _model(X, y, RegularityKernelRidge, alpha=1.0, gamma=0.5)
    monkeypatch.setattr(skrt._centering, "BLOCK_BYTES", 2**20)
    for call in (
        lambda: sld_sampling(model, pool, 100, batch="topk"),
        lambda: model.score_samples(pool, heuristic="variance"),
        lambda: model.predict(pool, return_std=True),
    ):
        assert peak_bytes(call) < 16 * 2**20


# -- the acquisition protocol: one contract over estimators x heuristics -----

# name: (estimator factory, fit on no data, the heuristics it can score, greedy)
_ALL = ("sld", "sti", "ssi", "ssi_unlabeled", "variance")
_PROTOCOL_MODELS = {
    "ridge eigen": (lambda: RegularityRidge(alpha=0.5), False, _ALL, True),
    "ridge svd": (lambda: RegularityRidge(alpha=0.5, solver="svd"), False, _ALL, True),
    "ridge cg": (
        lambda: RegularityRidge(alpha=0.5, solver="cg"),
        False,
        ("sld", "sti"),
        True,
    ),
    "ridge prior": (
        lambda: RegularityRidge(
            alpha=0.5,
            prior={"coef": np.ones(4), "coef_tangent": np.ones(4), "intercept": 1.0},
        ),
        True,
        ("sld", "sti"),
        False,
    ),
    "kernel eigen": (
        lambda: RegularityKernelRidge(alpha=0.5, kernel="rbf"),
        False,
        _ALL,
        True,
    ),
    "kernel cg": (
        lambda: RegularityKernelRidge(alpha=0.5, kernel="rbf", solver="cg"),
        False,
        ("sld", "sti"),
        True,
    ),
    "kernel precomputed": (
        lambda: RegularityKernelRidge(alpha=0.5, kernel="precomputed"),
        False,
        ("sld", "sti", "ssi", "ssi_unlabeled"),
        False,
    ),
    "sgdf": (
        lambda: SGDFRegressor(alpha=0.5, random_state=0, max_iter=5, tol=None),
        False,
        ("sld",),
        False,
    ),
    "lasso": (lambda: RegularityLasso(alpha=0.5), False, ("sld",), False),
}


def _protocol_fit(name):
    make, empty, _, _ = _PROTOCOL_MODELS[name]
    X, y, pool = _data(7, n=30, p=4, pool=12)
    if empty:
        X, y = np.empty((0, 4)), np.empty(0)
    if name == "kernel precomputed":
        from sklearn.metrics.pairwise import rbf_kernel

        X, pool = rbf_kernel(X, X), rbf_kernel(pool, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make().fit(X, y), pool


@pytest.mark.parametrize("name", list(_PROTOCOL_MODELS))
def test_every_estimator_offers_the_documented_acquisition(name):
    from skrt._acquisition import Acquisition, Curvature

    model, pool = _protocol_fit(name)
    acq = model.__skrt_acquisition__()
    assert isinstance(acq, Acquisition)
    with pytest.raises(AttributeError):  # frozen
        acq.advice = ""
    assert acq.curvature is None or isinstance(acq.curvature, Curvature)
    assert isinstance(acq.advice, str) and acq.advice.startswith("needs")
    X = acq.validate(pool)
    k = acq.noise_variance.shape[0]
    assert acq.noise_variance.shape == (k,) and np.all(acq.noise_variance > 0)
    assert np.allclose(acq.tangent(X)[:, 0], model.predict_tangent(pool))
    if acq.sti is not None:
        assert acq.sti(X).shape == (len(pool), k)
    if acq.part("variance") is not None:
        assert np.allclose(
            acq.curvature.variance(X), model.score_samples(pool, heuristic="variance")
        )
    if acq.part("cross") is not None:
        col = acq.curvature.cross(X, 2, {})
        assert col.shape == (len(pool),) and col[2] > 0  # κ(i, i) = x̃ᵀM⁻¹x̃ > 0
    empty = _PROTOCOL_MODELS[name][1]
    assert (acq.n_samples_fit == 0) == empty
    assert acq.n_samples_fit in (None, 0, 30)
    with pytest.raises(NotFittedError):
        _PROTOCOL_MODELS[name][0]().__skrt_acquisition__()


@pytest.mark.parametrize("name", list(_PROTOCOL_MODELS))
@pytest.mark.parametrize("heuristic", _ALL)
def test_a_heuristic_names_the_part_it_misses(name, heuristic):
    import re

    from skrt._acquisition import PARTS
    from skrt._heuristics import BATCH_NEEDS, NEEDS

    model, pool = _protocol_fit(name)
    _, _, supported, greedy = _PROTOCOL_MODELS[name]
    acq = model.__skrt_acquisition__()
    if heuristic in supported:
        scores = model.score_samples(pool, heuristic=heuristic)
        _, want = regularity_sampling(model, pool, 1, heuristic=heuristic)
        assert np.array_equal(scores, want) and np.all(np.isfinite(scores))
    else:
        (part,) = NEEDS[heuristic]
        message = f"heuristic={heuristic!r} " + acq.reason(part)
        for call in (
            lambda: model.score_samples(pool, heuristic=heuristic),
            lambda: regularity_sampling(model, pool, 1, heuristic=heuristic),
        ):
            with pytest.raises(ValueError, match=re.escape(message)) as info:
                call()
            assert PARTS[part][0] in str(info.value)
        return
    # a greedy batch needs the columns κ(·, i)
    query = lambda: regularity_sampling(model, pool, 3, heuristic=heuristic)  # noqa: E731
    if greedy:
        assert len(set(query()[0].tolist())) == 3
    else:
        (part,) = BATCH_NEEDS["greedy"]
        with pytest.raises(ValueError, match=re.escape(acq.reason(part))) as info:
            query()
        assert "batch='topk'" in str(info.value) and PARTS[part][0] in str(info.value)
