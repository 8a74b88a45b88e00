"""The strategies inside modAL's and scikit-activeml's active-learning loops."""

import importlib

import numpy as np
import pytest
import sklearn

from skrt import RegularityRidge
from skrt.query import sld_sampling

pytestmark = pytest.mark.filterwarnings(
    "ignore::skrt.exceptions.RegularityBoundWarning"
)

SKLEARN_18 = tuple(int(v) for v in sklearn.__version__.split(".")[:2]) >= (1, 8)
MODAL_TEACH_REASON = (
    "modAL 0.4.2.1 calls check_X_y(force_all_finite=...), a keyword scikit-learn "
    "1.8 removed, so modAL's own ActiveLearner.teach raises TypeError; "
    "skrt.modal.ActiveLearner (the same loop below) fixes that call"
)


@pytest.fixture
def pool_problem():
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, size=(300, 4))
    y = X @ [1.0, -2.0, 0.5, 3.0] + 0.3 * rng.randn(300)
    return X, y


def test_modal_query(pool_problem):
    modal = pytest.importorskip("modAL.models")
    from modAL.disagreement import max_std_sampling

    X, y = pool_problem
    learner = modal.ActiveLearner(
        estimator=RegularityRidge(alpha="loo"),
        query_strategy=sld_sampling,
        X_training=X[:8],
        y_training=y[:8],
    )
    idx, instances = learner.query(X[8:], n_instances=3)
    assert len(idx) == 3 and len(set(np.asarray(idx).tolist())) == 3
    assert np.array_equal(instances, X[8:][idx])
    std_learner = modal.ActiveLearner(
        estimator=RegularityRidge(alpha="loo"),
        query_strategy=max_std_sampling,
        X_training=X[:8],
        y_training=y[:8],
    )
    idx_std, _ = std_learner.query(X[8:], n_instances=2)
    _, std = learner.estimator.predict(X[8:], return_std=True)
    assert std[idx_std[0]] == std.max()


@pytest.mark.parametrize(
    "learner_module",
    [
        pytest.param(
            "modAL.models",
            marks=pytest.mark.skipif(SKLEARN_18, reason=MODAL_TEACH_REASON),
        ),
        "skrt.modal",  # every scikit-learn release, 1.8 and later included
    ],
)
def test_modal_query_teach_loop_learns(learner_module):
    pytest.importorskip("modAL")
    modal = importlib.import_module(learner_module)
    rng = np.random.RandomState(1)
    X = rng.uniform(-3, 3, size=(300, 10))
    y = X @ rng.randn(10) + rng.randn(300)  # 8 labels cannot pin 10 weights
    X_test, y_test = X[200:], y[200:]
    X_pool, y_pool = X[8:200].copy(), y[8:200].copy()
    learner = modal.ActiveLearner(
        estimator=RegularityRidge(alpha="loo"),
        query_strategy=sld_sampling,
        X_training=X[:8],
        y_training=y[:8],
    )
    first = np.sqrt(np.mean((learner.predict(X_test) - y_test) ** 2))
    for _ in range(6):
        idx, _ = learner.query(X_pool, n_instances=2)
        learner.teach(X_pool[idx], y_pool[idx])
        X_pool, y_pool = np.delete(X_pool, idx, axis=0), np.delete(y_pool, idx)
    assert learner.X_training.shape[0] == 8 + 12
    last = np.sqrt(np.mean((learner.predict(X_test) - y_test) ** 2))
    assert last < first


def test_skactiveml_loop(pool_problem):
    pytest.importorskip("skactiveml")
    from skactiveml.regressor import SklearnRegressor
    from skactiveml.utils import MISSING_LABEL

    from skrt.skactiveml import RegularityQuery

    X, y_true = pool_problem
    y = np.full(len(y_true), MISSING_LABEL)
    y[:8] = y_true[:8]
    reg = SklearnRegressor(RegularityRidge(alpha="loo"))
    qs = RegularityQuery(random_state=0)
    for _ in range(5):
        idx, util = qs.query(X, y, reg, batch_size=3, return_utilities=True)
        assert util.shape == (3, len(X))
        assert np.all(np.isnan(y[idx]))  # only unlabeled samples are queried
        assert np.all(np.isnan(util[:, ~np.isnan(y)]))  # labeled: no utility
        assert util[0, idx[0]] == np.nanmax(util[0])
        y[idx] = y_true[idx]
    reg.fit(X, y)
    assert np.count_nonzero(~np.isnan(y)) == 8 + 15
    assert reg.estimator_.coef_.shape == (4,)


def test_skactiveml_candidates_as_samples(pool_problem):
    pytest.importorskip("skactiveml")
    from skactiveml.regressor import SklearnRegressor
    from skactiveml.utils import MISSING_LABEL

    from skrt.skactiveml import RegularityQuery

    X, y_true = pool_problem
    y = np.full(50, MISSING_LABEL)
    y[:10] = y_true[:10]
    qs = RegularityQuery(heuristic="variance", batch="topk", random_state=0)
    idx = qs.query(
        X[:50], y, SklearnRegressor(RegularityRidge()), candidates=X[100:130]
    )
    assert idx.shape == (1,) and 0 <= idx[0] < 30
    with pytest.raises(ValueError, match="heuristic"):
        RegularityQuery(heuristic="bald").query(
            X[:50], y, SklearnRegressor(RegularityRidge())
        )


def _skactiveml_problem(pool_problem, n_labeled=10, n=60):
    pytest.importorskip("skactiveml")
    from skactiveml.utils import MISSING_LABEL

    X, y_true = pool_problem
    y = np.full(n, MISSING_LABEL)
    y[:n_labeled] = y_true[:n_labeled]
    return X[:n], y


@pytest.mark.parametrize("batch", ["greedy", "topk"])
@pytest.mark.parametrize("candidates", ["unlabeled", "indices", "samples"])
def test_skactiveml_utilities_mask_earlier_picks(pool_problem, batch, candidates):
    # scikit-activeml's contract: row j of the utilities is NaN at the
    # samples picked in rows < j (and at non-candidates); the pick of row j
    # is that row's best utility
    from skactiveml.regressor import SklearnRegressor

    from skrt.skactiveml import RegularityQuery

    X, y = _skactiveml_problem(pool_problem)
    kwargs = {
        "unlabeled": {},
        "indices": {"candidates": np.arange(20, 45)},
        "samples": {"candidates": pool_problem[0][100:130]},
    }[candidates]
    qs = RegularityQuery(batch=batch, random_state=0)
    reg = SklearnRegressor(RegularityRidge(alpha=1.0))
    idx, util = qs.query(X, y, reg, batch_size=5, return_utilities=True, **kwargs)
    assert len(set(idx.tolist())) == 5
    for j in range(5):
        assert np.all(np.isnan(util[j, idx[:j]]))
        assert util[j, idx[j]] == np.nanmax(util[j])
        assert np.count_nonzero(~np.isnan(util[j])) == (
            np.count_nonzero(~np.isnan(util[0])) - j
        )
    if batch == "topk":  # the remaining utilities do not change
        keep = ~np.isnan(util[4])
        assert np.array_equal(util[4][keep], util[0][keep])
    without = qs.query(X, y, reg, batch_size=5, **kwargs)
    assert np.array_equal(without, idx)


def test_skactiveml_failed_fit_is_a_clear_error(pool_problem):
    # SklearnRegressor catches the failed fit and only warns: the query then
    # met AttributeError: '_noise_variance'
    from skactiveml.regressor import SklearnRegressor

    from skrt.skactiveml import RegularityQuery

    X, y = _skactiveml_problem(pool_problem)
    reg = SklearnRegressor(RegularityRidge(alpha=-1.0))  # fit raises
    with pytest.warns(UserWarning, match="could not be fitted"):
        with pytest.raises(ValueError, match="fit of RegularityRidge failed"):
            RegularityQuery().query(X, y, reg)


@pytest.mark.parametrize("fit_ok", [True, False])
def test_skactiveml_wrapper_without_a_fitted_flag(pool_problem, fit_ok):
    """Older scikit-activeml releases set no ``is_fitted_``: a failed fit
    leaves an unfitted copy in ``estimator_`` (and ``__getattr__`` forwards
    unknown names to the template). Emulated on today's wrapper."""
    from skactiveml.regressor import SklearnRegressor

    from skrt.skactiveml import RegularityQuery

    X, y = _skactiveml_problem(pool_problem)
    reg = SklearnRegressor(RegularityRidge()).fit(X, y)
    reg.__dict__.pop("is_fitted_", None)
    if not fit_ok:
        reg.estimator_ = RegularityRidge()
        with pytest.raises(ValueError, match="fit of RegularityRidge failed"):
            RegularityQuery().query(X, y, reg, fit_reg=False)
        return
    idx = RegularityQuery(heuristic="sld").query(X, y, reg, fit_reg=False)
    unlabeled = np.flatnonzero(np.isnan(y))
    scores = reg.estimator_.score_samples(X[unlabeled], heuristic="sld")
    assert idx[0] == unlabeled[np.argmax(scores)]


def test_skactiveml_unsupported_estimator_names_the_supported_ones(pool_problem):
    from skactiveml.regressor import SklearnRegressor
    from sklearn.linear_model import Ridge

    from skrt.skactiveml import RegularityQuery

    X, y = _skactiveml_problem(pool_problem)
    with pytest.raises(
        TypeError, match="reg must be .*RegularityKernelRidge.*got Ridge"
    ):
        RegularityQuery().query(X, y, SklearnRegressor(Ridge()))


def test_skactiveml_pipeline_regressor(pool_problem):
    from skactiveml.regressor import SklearnRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skrt.query import sld_sampling
    from skrt.skactiveml import RegularityQuery

    X, y = _skactiveml_problem(pool_problem)
    pipe = make_pipeline(StandardScaler(), RegularityRidge(alpha=1.0))
    reg = SklearnRegressor(pipe)
    idx = RegularityQuery(heuristic="sld", random_state=0).query(
        X, y, reg, batch_size=3
    )
    labeled = ~np.isnan(y)
    fitted = pipe.fit(X[labeled], y[labeled])
    unlabeled = np.flatnonzero(~labeled)
    want, _ = sld_sampling(fitted, X[unlabeled], 3, random_state=0)
    assert np.array_equal(idx, unlabeled[want])
