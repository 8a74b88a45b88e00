"""skrt.data: ranking and summarising training sets by sample information."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skrt import RegularityKernelRidge, RegularityRidge
from skrt.data import rank_by_information, summarize


@pytest.fixture
def problem():
    rng = np.random.RandomState(3)
    X = rng.randn(120, 4) * [1.0, 5.0, 0.5, 2.0] + [0.0, 3.0, 0.0, -1.0]
    y = X @ [1.0, -0.2, 2.0, 0.5] + 0.2 * rng.randn(120)
    return X, y, rng


def test_rank_orders_by_sample_information(problem):
    X, y, rng = problem
    model = RegularityRidge(alpha=2.0).fit(X, y)
    X_val = rng.randn(10, 4)
    for kind, args in [("function", ()), ("function", (X_val,)), ("weights", ())]:
        order, info = rank_by_information(model, *args, kind=kind)
        expected = model.sample_information(*args, kind=kind)
        assert np.array_equal(info, expected)
        assert np.all(np.diff(info[order]) >= 0)
        assert sorted(order.tolist()) == list(range(120))


def test_rank_in_a_pipeline_transforms_the_validation_inputs(problem):
    X, y, rng = problem
    pipe = make_pipeline(StandardScaler(), RegularityRidge(alpha=2.0)).fit(X, y)
    X_val = rng.randn(10, 4)
    _, info = rank_by_information(pipe, X_val)
    scaled = pipe[-1].sample_information(pipe[0].transform(X_val))
    assert np.allclose(info, scaled)
    _, own = rank_by_information(pipe)
    assert np.allclose(own, pipe[-1].sample_information())


def test_summarize_once_removes_the_lowest_scores(problem):
    X, y, _ = problem
    kept = summarize(RegularityRidge(alpha=2.0), X, y, 0.25)
    info = RegularityRidge(alpha=2.0).fit(X, y).sample_information()
    expected = np.sort(np.argsort(info, kind="stable")[30:])
    assert np.array_equal(kept, expected)
    most = summarize(RegularityRidge(alpha=2.0), X, y, 0.25, remove="most")
    assert np.array_equal(most, np.sort(np.argsort(info, kind="stable")[:90]))


def test_summarize_iteratively_recomputes_between_rounds(problem):
    X, y, _ = problem
    kept = summarize(RegularityRidge(alpha=2.0), X, y, 0.5, step=0.1, kind="weights")
    # the same loop by hand: 12 samples per round, rescored after each
    manual = np.arange(120)
    for _ in range(5):
        info = (
            RegularityRidge(alpha=2.0)
            .fit(X[manual], y[manual])
            .sample_information(kind="weights")
        )
        manual = np.delete(manual, np.argsort(info, kind="stable")[:12])
    assert np.array_equal(kept, manual)
    once = summarize(RegularityRidge(alpha=2.0), X, y, 0.5, kind="weights")
    assert not np.array_equal(kept, once)  # recomputing changes the choice


def test_summarize_passes_weights_through_a_pipeline(problem):
    X, y, rng = problem
    w = rng.uniform(0.5, 2.0, 120)
    pipe = make_pipeline(StandardScaler(), RegularityRidge(alpha=2.0))
    kept = summarize(pipe, X, y, 0.3, sample_weight=w)
    fitted = make_pipeline(StandardScaler(), RegularityRidge(alpha=2.0)).fit(
        X, y, regularityridge__sample_weight=w
    )
    info = fitted[-1].sample_information()
    assert np.array_equal(kept, np.sort(np.argsort(info, kind="stable")[36:]))


def test_summarize_works_for_kernel_models_and_random_baseline(problem):
    X, y, _ = problem
    kept = summarize(RegularityKernelRidge(alpha=1.0, kernel="rbf"), X, y, 0.4)
    assert kept.shape == (72,) and np.all(np.diff(kept) > 0)
    a = summarize(RegularityRidge(), X, y, 0.4, remove="random", random_state=0)
    b = summarize(RegularityRidge(), X, y, 0.4, remove="random", random_state=0)
    assert np.array_equal(a, b) and a.shape == (72,)
    assert np.array_equal(summarize(RegularityRidge(), X, y, 0.0), np.arange(120))


def test_removing_the_most_informative_finds_corrupted_targets(problem):
    X, y, rng = problem
    bad = rng.choice(120, 6, replace=False)
    y = y.copy()
    y[bad] += 10.0
    kept = summarize(RegularityRidge(alpha="loo"), X, y, 0.05, remove="most")
    assert set(range(120)) - set(kept.tolist()) == set(bad.tolist())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"remove_fraction": 1.0}, ValueError, "remove_fraction must be in"),
        ({"remove_fraction": -0.1}, ValueError, "remove_fraction must be in"),
        ({"remove_fraction": "half"}, ValueError, "remove_fraction must be in"),
        ({"step": 0.0}, ValueError, "step must be None or in"),
        ({"step": True}, ValueError, "step must be None or in"),
        ({"kind": "fisher"}, ValueError, "kind must be"),
        ({"remove": "worst"}, ValueError, "remove must be"),
        ({"sample_weight": np.ones(3)}, ValueError, "sample_weight must have shape"),
        ({"estimator": Ridge()}, TypeError, "RegularityRidge"),
    ],
)
def test_summarize_bad_arguments(problem, kwargs, error, match):
    X, y, _ = problem
    params = {"estimator": RegularityRidge(), "remove_fraction": 0.5, **kwargs}
    with pytest.raises(error, match=match):
        estimator, fraction = params.pop("estimator"), params.pop("remove_fraction")
        summarize(estimator, X, y, fraction, **params)


def test_rank_bad_arguments(problem):
    X, y, _ = problem
    with pytest.raises(TypeError, match="Pipeline ending in one"):
        rank_by_information(Ridge().fit(X, y))
    with pytest.raises(ValueError, match="kind must be"):
        rank_by_information(RegularityRidge().fit(X, y), kind="x")
    with pytest.raises(ValueError, match="rows"):
        summarize(RegularityRidge(), X, y[:10])


def test_overflowing_validation_inputs_name_x_val_and_its_scale(problem):
    # the Gram of 1e200-scale inputs overflows: today NaN/inf scores
    X, y, rng = problem
    model = RegularityRidge(alpha=2.0).fit(X, y)
    with pytest.raises(ValueError, match=r"X_val.*1e\+200"):
        rank_by_information(model, np.full((3, 4), 1e200))


def test_summarize_takes_lists_and_rejects_empty_or_scalar_input(problem):
    X, y, _ = problem
    model = RegularityRidge(alpha=2.0)
    assert np.array_equal(
        summarize(model, X.tolist(), y.tolist(), 0.25), summarize(model, X, y, 0.25)
    )
    with pytest.raises(ValueError, match="X has no rows"):
        summarize(model, np.empty((0, 4)), np.empty(0))
    with pytest.raises(ValueError, match="y must be an array"):
        summarize(model, X, 1.0)
    with pytest.raises(TypeError, match="X must be array-like"):
        summarize(model, None, y)


def test_rank_returns_arrays_when_the_model_outputs_pandas(problem):
    pd = pytest.importorskip("pandas")
    X, y, _ = problem
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    frame.index = frame.index + 100
    plain = RegularityRidge(alpha="loo").fit(X, y)
    model = RegularityRidge(alpha="loo").set_output(transform="pandas")
    order, info = rank_by_information(model.fit(frame, y))
    assert isinstance(info, np.ndarray) and isinstance(order, np.ndarray)
    expected = plain.sample_information()
    np.testing.assert_allclose(info, expected, rtol=1e-10, atol=1e-12 * expected.max())
    np.testing.assert_array_equal(order, np.argsort(info, kind="stable"))
