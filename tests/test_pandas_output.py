"""Pandas in, pandas out: ``as_frame=True`` and ``set_output(transform="pandas")``.

The oracle of every pandas output is the array output of the same model
fitted on the same numbers as an ndarray: values equal, the index is the
training DataFrame's (``sample_information``, ``influence_diagnostics``) or
the pool's (``score_samples``), the names are the documented ones.
"""

import inspect
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skrt import (
    MultiUserRegularity,
    RegularityKernelRidge,
    RegularityLasso,
    RegularityRidge,
    SGDFRegressor,
)
from skrt.exceptions import RegularityBoundWarning

pd = pytest.importorskip("pandas")

pytestmark = pytest.mark.filterwarnings(
    "ignore::skrt.exceptions.RegularityBoundWarning"
)

FEATURES = ["height", "width", "depth"]
DIAGNOSTICS = [
    "residuals",
    "leverage",
    "studentized_residuals_internal",
    "studentized_residuals_external",
    "cooks_distance",
    "dffits",
    "self_influence",
    "loo_noise_variance",
]
EXACT_MODELS = {
    "ridge": lambda: RegularityRidge(alpha=0.5),
    "ridge_loo_svd": lambda: RegularityRidge(alpha="loo", solver="svd"),
    "ridge_no_intercept": lambda: RegularityRidge(alpha=0.5, fit_intercept=False),
    "kernel_rbf": lambda: RegularityKernelRidge(alpha=0.3, kernel="rbf", gamma=0.2),
    "kernel_loo": lambda: RegularityKernelRidge(alpha="loo", kernel="linear"),
}


def _frame(seed=0, n=30, index=None):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 3)
    y = X @ [1.0, -2.0, 0.5] + 0.3 * rng.randn(n)
    if index is None:  # neither sorted nor 0..n-1
        index = pd.Index([f"row{i}" for i in rng.permutation(n)], name="id")
    return pd.DataFrame(X, columns=FEATURES, index=index), pd.Series(y, index=index)


def _pool(seed=1, n=12):
    rng = np.random.RandomState(seed)
    index = pd.Index(rng.choice(1000, size=n, replace=False) * 7, name="pool_id")
    return pd.DataFrame(rng.randn(n, 3), columns=FEATURES, index=index)


def _pair(make, X, y):
    """The model fitted on the DataFrame and on its ndarray."""
    return make().fit(X, y), make().fit(X.to_numpy(), y.to_numpy())


@pytest.mark.parametrize("name", EXACT_MODELS)
@pytest.mark.parametrize("kind", ["function", "weights"])
def test_sample_information_series(name, kind):
    X, y = _frame()
    model, oracle = _pair(EXACT_MODELS[name], X, y)
    info = model.sample_information(kind=kind, as_frame=True)
    assert isinstance(info, pd.Series)
    assert info.index.equals(X.index) and info.index.name == "id"
    assert info.name == f"{'function' if kind == 'function' else 'weight'}_information"
    np.testing.assert_array_equal(info.to_numpy(), oracle.sample_information(kind=kind))
    # a validation DataFrame with its own index: still one row per training row
    X_val = _pool()
    info_val = model.sample_information(X_val, as_frame=True)
    assert info_val.index.equals(X.index)
    np.testing.assert_array_equal(
        info_val.to_numpy(), oracle.sample_information(X_val.to_numpy())
    )


@pytest.mark.parametrize("name", EXACT_MODELS)
def test_influence_diagnostics_frame(name):
    X, y = _frame()
    model, oracle = _pair(EXACT_MODELS[name], X, y)
    frame = model.influence_diagnostics(as_frame=True)
    want = oracle.influence_diagnostics()
    assert isinstance(frame, pd.DataFrame)
    assert frame.index.equals(X.index)
    expected = list(DIAGNOSTICS)
    if "dfbeta" in want:  # linear models: one column per coefficient
        intercept = ["intercept"] if want["dfbeta"].shape[1] == 4 else []
        coef = intercept + FEATURES
        expected += [f"dfbeta_{c}" for c in coef] + [f"dfbetas_{c}" for c in coef]
        for key in ("dfbeta", "dfbetas"):
            block = frame[[f"{key}_{c}" for c in coef]].to_numpy()
            np.testing.assert_array_equal(block, want[key])
    else:
        assert name.startswith("kernel")
    assert frame.columns.tolist() == expected
    for key in DIAGNOSTICS:
        np.testing.assert_array_equal(frame[key].to_numpy(), want[key])
    no_dfbeta = model.influence_diagnostics(dfbeta=False, as_frame=True)
    assert no_dfbeta.columns.tolist() == DIAGNOSTICS


def test_set_output_switches_the_default_and_as_frame_overrides_it():
    X, y = _frame()
    model = RegularityRidge(alpha=0.5).fit(X, y)
    # the default is unchanged: arrays and a dict, also after a DataFrame fit
    assert type(model.sample_information()) is np.ndarray
    assert isinstance(model.influence_diagnostics(), dict)
    assert type(model.score_samples(_pool())) is np.ndarray
    assert model.set_output(transform="pandas") is model
    assert isinstance(model.sample_information(), pd.Series)
    assert isinstance(model.influence_diagnostics(), pd.DataFrame)
    assert isinstance(model.score_samples(_pool()), pd.Series)
    pd.testing.assert_series_equal(
        model.sample_information(), model.sample_information(as_frame=True)
    )
    assert type(model.sample_information(as_frame=False)) is np.ndarray
    assert isinstance(model.influence_diagnostics(as_frame=False), dict)
    assert model.set_output() is model  # None: unchanged
    assert isinstance(model.sample_information(), pd.Series)
    model.set_output(transform="default")
    assert type(model.sample_information()) is np.ndarray


def test_set_output_before_fit_survives_fit_and_clone():
    X, y = _frame()
    template = RegularityKernelRidge(alpha=0.3).set_output(transform="pandas")
    model = clone(template).fit(X, y)
    assert isinstance(model.sample_information(), pd.Series)
    assert model.sample_information().index.equals(X.index)
    restored = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(
        restored.influence_diagnostics(), model.influence_diagnostics()
    )


def test_array_fit_gives_a_range_index_and_x_names():
    X, y = _frame()
    model = RegularityRidge(alpha=0.5).fit(X.to_numpy(), y.to_numpy())
    info = model.sample_information(as_frame=True)
    assert info.index.equals(pd.RangeIndex(30))
    frame = model.influence_diagnostics(as_frame=True)
    assert frame.index.equals(pd.RangeIndex(30))
    assert [c for c in frame.columns if c.startswith("dfbeta_")] == [
        "dfbeta_intercept",
        "dfbeta_x0",
        "dfbeta_x1",
        "dfbeta_x2",
    ]


def test_refit_forgets_the_index():
    X, y = _frame()
    model = RegularityRidge(alpha=0.5).fit(X, y)
    assert model.sample_information(as_frame=True).index.equals(X.index)
    model.fit(X.to_numpy()[:20], y.to_numpy()[:20])
    assert model.sample_information(as_frame=True).index.equals(pd.RangeIndex(20))
    X2, y2 = _frame(seed=3, n=25)
    model.fit(X=X2, y=y2)  # by keyword too
    assert model.sample_information(as_frame=True).index.equals(X2.index)
    with pytest.raises(ValueError):  # a failed fit keeps no stale index
        model.fit(X, y.to_numpy()[:5])
    assert not hasattr(model, "_training_index")


def test_fit_keeps_its_signature_and_metadata_routing():
    for cls in (RegularityRidge, RegularityKernelRidge):
        params = list(inspect.signature(cls.fit).parameters)
        assert params == ["self", "X", "y", "sample_weight"]
        assert "Fit" in cls.fit.__doc__
        assert hasattr(cls(), "set_fit_request")


def test_duplicate_labels_and_a_feature_named_intercept():
    X, y = _frame(index=pd.Index([5, 5, 3, 3, 3] * 6))
    X = X.rename(columns={"width": "intercept"})
    model, oracle = _pair(lambda: RegularityRidge(alpha=0.5), X, y)
    frame = model.influence_diagnostics(as_frame=True)
    assert frame.index.tolist() == [5, 5, 3, 3, 3] * 6
    coef = ["(intercept)", "height", "intercept", "depth"]
    assert frame.columns.tolist()[8:12] == [f"dfbeta_{c}" for c in coef]
    np.testing.assert_array_equal(
        frame[[f"dfbeta_{c}" for c in coef]].to_numpy(),
        oracle.influence_diagnostics()["dfbeta"],
    )


def test_pipeline_with_pandas_steps_passes_the_index_on():
    X, y = _frame()
    pipe = make_pipeline(
        StandardScaler().set_output(transform="pandas"), RegularityRidge(alpha=0.5)
    ).fit(X, y)
    ridge = pipe[-1]
    info = ridge.sample_information(as_frame=True)
    assert info.index.equals(X.index)
    oracle = RegularityRidge(alpha=0.5).fit(StandardScaler().fit_transform(X), y)
    np.testing.assert_allclose(info.to_numpy(), oracle.sample_information(), rtol=1e-12)


SCORERS = {
    "ridge": lambda: RegularityRidge(alpha=0.5),
    "ridge_two_targets": lambda: RegularityRidge(alpha=0.5),
    "kernel": lambda: RegularityKernelRidge(alpha=0.3, kernel="rbf", gamma=0.2),
    "lasso": lambda: RegularityLasso(alpha=0.5),
    "sgdf": lambda: SGDFRegressor(alpha=1.0, random_state=0),
}


@pytest.mark.parametrize("name", SCORERS)
@pytest.mark.parametrize("heuristic", ["sld", "variance"])
def test_score_samples_keeps_the_pool_index(name, heuristic):
    if heuristic == "variance" and name in ("lasso", "sgdf"):
        pytest.skip("tangent-only models have no variance")
    X, y = _frame()
    if name == "ridge_two_targets":
        y = pd.DataFrame({"a": y, "b": 2 * y}, index=X.index)
    model, oracle = _pair(SCORERS[name], X, y)
    pool = _pool()
    scores = model.score_samples(pool, heuristic=heuristic, as_frame=True)
    assert isinstance(scores, pd.Series) and scores.name == "score"
    assert scores.index.equals(pool.index) and scores.index.name == "pool_id"
    np.testing.assert_array_equal(
        scores.to_numpy(), oracle.score_samples(pool.to_numpy(), heuristic=heuristic)
    )
    assert type(model.score_samples(pool, heuristic=heuristic)) is np.ndarray
    # an array pool: 0, 1, ...
    from_array = oracle.score_samples(pool.to_numpy(), as_frame=True)
    assert from_array.index.equals(pd.RangeIndex(len(pool)))


def test_score_samples_labeled_form():
    X, y = _frame()
    model, oracle = _pair(lambda: RegularityRidge(alpha=0.5), X, y)
    pool, y_pool = X.iloc[[4, 9, 2]], y.iloc[[4, 9, 2]]
    scores = model.score_samples(pool, y_pool, heuristic="ssi", as_frame=True)
    assert scores.index.equals(pool.index)
    np.testing.assert_array_equal(
        scores.to_numpy(),
        oracle.score_samples(pool.to_numpy(), y_pool.to_numpy(), heuristic="ssi"),
    )


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_multi_user_score_samples(penalty):
    X, y = _frame(n=40)
    groups = np.repeat(["ann", "bob"], 20)
    make = lambda: MultiUserRegularity(alpha=1.0, penalty=penalty)  # noqa: E731
    model = make().fit(X, y, groups=groups)
    oracle = make().fit(X.to_numpy(), y.to_numpy(), groups=groups)
    pool = _pool()
    pool_groups = np.array(["bob", "ann", "cy"] * 4)
    scores = model.score_samples(pool, groups=pool_groups, as_frame=True)
    assert isinstance(scores, pd.Series) and scores.index.equals(pool.index)
    np.testing.assert_array_equal(
        scores.to_numpy(), oracle.score_samples(pool.to_numpy(), groups=pool_groups)
    )
    assert type(model.score_samples(pool)) is np.ndarray
    model.set_output(transform="pandas")
    pd.testing.assert_series_equal(
        model.score_samples(pool, groups=pool_groups), scores
    )
    shared = model.score_samples(pool)  # no groups: the shared model
    assert shared.index.equals(pool.index)
    np.testing.assert_array_equal(
        shared.to_numpy(), oracle.score_samples(pool.to_numpy())
    )
    assert type(model.score_samples(pool, as_frame=False)) is np.ndarray


@settings(max_examples=20, deadline=None)
@given(
    labels=st.one_of(
        st.lists(st.integers(-(10**6), 10**6), min_size=8, max_size=8),
        st.lists(st.text(min_size=1, max_size=5), min_size=8, max_size=8),
    )
)
def test_any_index_is_carried(labels):
    X, y = _frame(n=8, index=pd.Index(labels))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        model = RegularityRidge(alpha=1.0).fit(X, y)
    info = model.sample_information(kind="weights", as_frame=True)
    assert info.index.tolist() == labels
    scores = model.score_samples(X.iloc[::-1], as_frame=True)
    assert scores.index.tolist() == labels[::-1]


@pytest.mark.parametrize(
    "est", [RegularityRidge(), RegularityLasso(), MultiUserRegularity()]
)
def test_bad_arguments_name_themselves(est):
    with pytest.raises(ValueError, match="transform must be 'default', 'pandas'"):
        est.set_output(transform="polars")
    X, y = _frame()
    est.fit(X, y)
    with pytest.raises(TypeError, match="as_frame must be True or False"):
        est.score_samples(X, as_frame="yes")
    if hasattr(est, "sample_information"):
        with pytest.raises(TypeError, match="as_frame"):
            est.sample_information(as_frame=1)
        with pytest.raises(TypeError, match="as_frame"):
            est.influence_diagnostics(as_frame="pandas")


def test_without_pandas_arrays_work_and_frames_name_the_package():
    # pandas made unimportable before anything imports it (scikit-learn
    # imports it when it is installed): nothing in skrt needs it for arrays
    code = textwrap.dedent(
        """
        import sys

        class NoPandas:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] == "pandas":
                    raise ModuleNotFoundError(f"No module named {name!r}")

        sys.meta_path.insert(0, NoPandas())
        import warnings
        warnings.simplefilter("ignore")
        import numpy as np
        from skrt import MultiUserRegularity, RegularityKernelRidge, RegularityRidge
        rng = np.random.RandomState(0)
        X, y = rng.randn(30, 3), rng.randn(30)
        for model in (RegularityRidge().fit(X, y), RegularityKernelRidge().fit(X, y)):
            model.sample_information()
            model.influence_diagnostics()
            model.score_samples(X)
        users = MultiUserRegularity().fit(X, y, groups=np.repeat([0, 1], 15))
        users.score_samples(X, groups=np.repeat([0, 1], 15))
        assert "pandas" not in sys.modules
        try:
            RegularityRidge().fit(X, y).sample_information(as_frame=True)
        except ImportError as exc:
            assert "pip install pandas" in str(exc), exc
        else:
            raise AssertionError("no ImportError")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
