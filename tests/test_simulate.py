"""The simulation engine of ``skrt demo`` and the active-learning benchmark.

Oracles: scikit-learn's ``Ridge`` refitted on each labelled set the strategy
saw, an explicit Gaussian-process posterior variance for the kernel model.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.preprocessing import StandardScaler

from skrt import RegularityKernelRidge, RegularityRidge
from skrt._simulate import (
    Curves,
    format_table,
    random_strategy,
    simulate,
    skactiveml_strategy,
    skrt_strategy,
)


def _data(n=40, p=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p) * [1.0, 5.0, 0.2][:p] + 3.0
    y = X @ rng.randn(p) + 0.3 * rng.randn(n)
    return X, y


def _recording(inner, log):
    """A strategy that records what it was given, then asks ``inner``."""

    def choose(model, X, y, labeled, pool, n, rng):
        picked = inner(model, X, y, labeled, pool, n, rng)
        log.append((model, labeled.copy(), pool.copy(), n, np.asarray(picked)))
        return picked

    return choose


def test_make_model_is_used_for_every_refit_and_the_curve_is_its_test_rmse():
    X, y = _data()
    calls = []

    def make_model(n_features):
        calls.append(n_features)
        return Ridge(alpha=0.7)

    log = []
    curves = simulate(
        X,
        y,
        {"random": _recording(random_strategy(), log)},
        seeds=(3,),
        n_initial=4,
        n_final=10,
        batch_size=3,
        make_model=make_model,
        progress=False,
    )
    budgets = curves["random"].budgets
    np.testing.assert_array_equal(budgets, [4, 7, 10])
    assert calls == [3] * budgets.size  # one fresh model per refit
    Xs = StandardScaler().fit_transform(X)
    rows = np.arange(X.shape[0])
    # the labelled set at each budget: the ones the strategy saw, then the last
    # one with its final query
    labeled_sets = [entry[1] for entry in log]
    labeled_sets.append(np.concatenate([log[-1][1], log[-1][4]]))
    for model, labeled, pool, n, _ in log:
        # the strategy gets the model fitted on exactly the labelled rows
        oracle = Ridge(alpha=0.7).fit(Xs[labeled], y[labeled])
        np.testing.assert_allclose(model.coef_, oracle.coef_, rtol=1e-10)
        assert n == 3
        assert np.intersect1d(labeled, pool).size == 0
    test = np.setdiff1d(rows, np.union1d(log[0][1], log[0][2]))
    assert test.size == 10  # 25% of 40
    expected = []
    for labeled in labeled_sets:
        fit = Ridge(alpha=0.7).fit(Xs[labeled], y[labeled])
        expected.append(np.sqrt(np.mean((fit.predict(Xs[test]) - y[test]) ** 2)))
    np.testing.assert_allclose(curves["random"].rmse[0], expected, rtol=1e-10)
    assert len(curves["random"].query_seconds) == 2


def test_default_model_is_regularity_ridge_loo():
    X, y = _data()
    log = []
    simulate(
        X,
        y,
        {"r": _recording(random_strategy(), log)},
        seeds=(0,),
        n_initial=5,
        n_final=6,
        batch_size=1,
        progress=False,
    )
    model = log[0][0]
    assert isinstance(model, RegularityRidge)
    assert model.alpha == "loo" and hasattr(model, "alpha_")


def test_kernel_model_path_picks_the_largest_posterior_variance():
    X, y = _data(n=30)
    Xs = StandardScaler().fit_transform(X)
    alpha = 0.5

    def make_model(n_features):
        return RegularityKernelRidge(kernel="rbf", gamma=1.0 / n_features, alpha=alpha)

    log = []
    simulate(
        X,
        y,
        {"variance": _recording(skrt_strategy("variance", "greedy"), log)},
        seeds=(1,),
        n_initial=5,
        n_final=8,
        batch_size=1,
        make_model=make_model,
        progress=False,
    )
    assert len(log) == 3
    for model, labeled, pool, _, picked in log:
        assert isinstance(model, RegularityKernelRidge)
        np.testing.assert_allclose(model.X_fit_, Xs[labeled])
        # explicit GP posterior variance k(x,x) - k_xᵀ (K + alpha I)⁻¹ k_x
        g = 1.0 / X.shape[1]
        K = rbf_kernel(Xs[labeled], gamma=g)
        Kp = rbf_kernel(Xs[pool], Xs[labeled], gamma=g)
        var = 1.0 - np.einsum(
            "ij,ji->i", Kp, np.linalg.solve(K + alpha * np.eye(len(labeled)), Kp.T)
        )
        assert picked.size == 1 and picked[0] == pool[np.argmax(var)]


@given(
    n=st.integers(20, 60),
    frac=st.floats(0.1, 0.5),
    cap=st.one_of(st.none(), st.integers(1, 30)),
)
def test_test_rows_are_capped_and_disjoint_from_the_pool(n, frac, cap):
    X, y = _data(n=n)
    log = []
    simulate(
        X,
        y,
        {"r": _recording(random_strategy(), log)},
        seeds=(0,),
        n_initial=3,
        n_final=4,
        batch_size=1,
        test_fraction=frac,
        n_test=cap,
        make_model=lambda p: Ridge(),
        progress=False,
    )
    _, labeled, pool, _, _ = log[0]
    expected = int(round(frac * n)) if cap is None else min(int(round(frac * n)), cap)
    assert n - labeled.size - pool.size == expected
    assert np.intersect1d(labeled, pool).size == 0


def test_bad_arguments_are_named():
    X, y = _data()
    with pytest.raises(TypeError, match="make_model"):
        simulate(X, y, {}, make_model="ridge", progress=False)
    with pytest.raises(ValueError, match="n_test"):
        simulate(X, y, {}, n_test=0, progress=False)
    with pytest.raises(ValueError, match="n_final"):
        simulate(X, y, {}, n_final=100, progress=False)
    with pytest.raises(TypeError, match="random_state"):
        skrt_strategy("sld", random_state=0)


def test_skrt_strategy_forwards_keyword_arguments(monkeypatch):
    import skrt._simulate as sim

    seen = {}

    def fake(model, X_pool, n, **kwargs):
        seen.update(kwargs)
        return np.arange(n), np.zeros(len(X_pool))

    monkeypatch.setattr(sim._query, "regularity_sampling", fake)
    choose = skrt_strategy("variance", "topk", option=3)
    rng = np.random.RandomState(0)
    pool = np.array([5, 7, 9])
    out = choose(None, np.zeros((10, 2)), None, np.array([0]), pool, 2, rng)
    np.testing.assert_array_equal(out, [5, 7])
    assert seen == {
        "heuristic": "variance",
        "batch": "topk",
        "random_state": rng,
        "option": 3,
    }


def test_skactiveml_strategy_drives_a_clone_of_the_run_model():
    pytest.importorskip("skactiveml")
    X, y = _data(n=30)
    seen = []

    class Query:
        def __init__(self, random_state):
            pass

        def query(self, X, y, reg, candidates=None, batch_size=1):
            seen.append(reg.estimator)
            return candidates[:batch_size]

    def make_model(n_features):
        return RegularityKernelRidge(kernel="rbf", gamma=0.25, alpha=0.3)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        simulate(
            X,
            y,
            {"q": skactiveml_strategy(Query)},
            seeds=(0,),
            n_initial=4,
            n_final=6,
            batch_size=1,
            make_model=make_model,
            progress=False,
        )
    assert len(seen) == 2
    for est in seen:
        assert isinstance(est, RegularityKernelRidge)
        assert est.get_params() == make_model(3).get_params()
        assert not hasattr(est, "alpha_")  # unfitted copy, not the run's model


@pytest.mark.parametrize("n_budgets", [1, 2, 3, 4, 7])
def test_format_table_shows_each_budget_once(n_budgets):
    budgets = np.arange(n_budgets) * 5 + 10
    rmse = np.arange(2.0 * n_budgets).reshape(2, n_budgets)
    header = format_table({"a": Curves(budgets, rmse)}).splitlines()[0]
    shown = [c for c in header.split() if c.startswith("n=")]
    assert len(shown) == len(set(shown)) == min(n_budgets, 4)
    assert shown[0] == f"n={budgets[0]}" and shown[-1] == f"n={budgets[-1]}"
