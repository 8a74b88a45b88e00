"""skrt.modal.ActiveLearner: modAL's learner with its one scikit-learn call
fixed (``check_X_y(force_all_finite=...)``, removed in scikit-learn 1.8).

The fake ``check_X_y`` functions below have exactly the finiteness keyword of
scikit-learn >= 1.8 (``ensure_all_finite``) or < 1.6 (``force_all_finite``),
so both sides of the fix are exercised whatever scikit-learn is installed.
"""

import subprocess
import sys

import numpy as np
import pytest
import sklearn

pytest.importorskip("modAL")

import modAL.models.learners as modal_learners  # noqa: E402
from modAL.models import ActiveLearner as ModalActiveLearner  # noqa: E402

import skrt.modal  # noqa: E402
from skrt import RegularityRidge  # noqa: E402
from skrt.modal import ActiveLearner  # noqa: E402
from skrt.query import sld_sampling  # noqa: E402

SKLEARN_18 = tuple(int(v) for v in sklearn.__version__.split(".")[:2]) >= (1, 8)


def _problem(seed=0, n=60, p=3):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, size=(n, p))
    y = X @ rng.randn(p) + 0.1 * rng.randn(n)
    return X, y


def _learner(cls, X, y, n0=6, **kwargs):
    return cls(
        estimator=RegularityRidge(alpha=1.0),
        query_strategy=sld_sampling,
        X_training=X[:n0],
        y_training=y[:n0],
        **kwargs,
    )


def _finite_check(X, y, finite):
    if finite and not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("Input contains NaN or infinity.")
    return X, y


def _fake_check_X_y(keyword, calls):
    """A check_X_y whose only finiteness keyword is ``keyword``."""

    if keyword == "ensure_all_finite":  # scikit-learn >= 1.8

        def check_X_y(
            X,
            y,
            *,
            accept_sparse=False,
            ensure_2d=True,
            allow_nd=False,
            multi_output=False,
            dtype="numeric",
            ensure_all_finite=True,
        ):
            calls.append(("ensure_all_finite", ensure_all_finite))
            return _finite_check(X, y, ensure_all_finite)

    else:  # scikit-learn < 1.6

        def check_X_y(
            X,
            y,
            *,
            accept_sparse=False,
            ensure_2d=True,
            allow_nd=False,
            multi_output=False,
            dtype="numeric",
            force_all_finite=True,
        ):
            calls.append(("force_all_finite", force_all_finite))
            return _finite_check(X, y, force_all_finite)

    return check_X_y


@pytest.fixture(params=["ensure_all_finite", "force_all_finite"])
def sklearn_keyword(request, monkeypatch):
    """Install a fake check_X_y in modAL's module and in skrt.modal."""
    calls = []
    fake = _fake_check_X_y(request.param, calls)
    monkeypatch.setattr(modal_learners, "check_X_y", fake)
    monkeypatch.setattr(skrt.modal, "check_X_y", fake)
    return request.param, calls


def test_drop_in_subclass():
    assert issubclass(ActiveLearner, ModalActiveLearner)
    overridden = {
        name
        for name in vars(ActiveLearner)
        if callable(vars(ActiveLearner)[name]) and not name.startswith("__")
    }
    # the three methods with modAL's check_X_y call, nothing else
    assert overridden == {"_add_training_data", "fit", "teach"}


def test_plain_modal_fails_where_ours_works(sklearn_keyword):
    keyword, calls = sklearn_keyword
    X, y = _problem()
    ours = _learner(ActiveLearner, X, y)
    ours.teach(X[6:8], y[6:8])
    assert calls == [(keyword, True)]
    plain = _learner(ModalActiveLearner, X, y)
    if keyword == "ensure_all_finite":  # what modAL meets on scikit-learn 1.8
        with pytest.raises(TypeError, match="force_all_finite"):
            plain.teach(X[6:8], y[6:8])
    else:
        plain.teach(X[6:8], y[6:8])
        np.testing.assert_array_equal(plain.X_training, ours.X_training)


@pytest.mark.skipif(not SKLEARN_18, reason="modAL's own call works before 1.8")
def test_plain_modal_teach_fails_on_this_sklearn():
    # no fake: the failure this module fixes, on the installed scikit-learn
    X, y = _problem()
    with pytest.raises(TypeError, match="force_all_finite"):
        _learner(ModalActiveLearner, X, y).teach(X[6:8], y[6:8])


@pytest.mark.parametrize("all_finite", [True, False])
def test_force_all_finite_setting_reaches_the_check(sklearn_keyword, all_finite):
    keyword, calls = sklearn_keyword
    X, y = _problem()
    learner = _learner(ActiveLearner, X, y)
    learner.force_all_finite = all_finite
    X_new = X[6:8].copy()
    X_new[0, 1] = np.nan
    if all_finite:
        with pytest.raises(ValueError, match="NaN"):
            learner._add_training_data(X_new, y[6:8])
        assert learner.X_training.shape == (6, 3)
    else:  # the check lets NaN through; the data is appended, not fitted
        learner._add_training_data(X_new, y[6:8])
        assert learner.X_training.shape == (8, 3)
        assert np.isnan(learner.X_training[6, 1])
    assert calls == [(keyword, all_finite)]


def test_real_check_refuses_nan_and_allows_it_when_asked():
    X, y = _problem()
    X_new = X[6:8].copy()
    X_new[1, 0] = np.inf
    learner = _learner(ActiveLearner, X, y)
    with pytest.raises(ValueError, match="infinity"):
        learner.teach(X_new, y[6:8])
    learner.force_all_finite = False
    learner._add_training_data(X_new, y[6:8])
    assert learner.X_training.shape == (8, 3)


def test_teach_refits_on_everything_taught():
    # oracle: a plain RegularityRidge fitted on the rows taught so far
    X, y = _problem(1)
    learner = _learner(ActiveLearner, X, y)
    taught = list(range(6))
    pool = np.arange(6, 60)
    for _ in range(4):
        idx, _ = learner.query(X[pool], n_instances=2)
        learner.teach(X[pool][idx], y[pool][idx])
        taught.extend(pool[idx].tolist())
        pool = np.delete(pool, idx)
    np.testing.assert_array_equal(learner.X_training, X[taught])
    np.testing.assert_array_equal(learner.y_training, y[taught])
    direct = RegularityRidge(alpha=1.0).fit(X[taught], y[taught])
    np.testing.assert_allclose(learner.estimator.coef_, direct.coef_, rtol=1e-12)


def test_teach_only_new_and_fit_replace_the_training_data():
    X, y = _problem(2)
    learner = _learner(ActiveLearner, X, y)
    learner.teach(X[10:15], y[10:15], only_new=True)
    assert learner.X_training.shape == (6, 3)  # not extended
    assert learner.estimator.n_samples_fit_ == 5
    direct = RegularityRidge(alpha=1.0).fit(X[10:15], y[10:15])
    np.testing.assert_allclose(learner.estimator.coef_, direct.coef_, rtol=1e-12)
    assert learner.fit(X[20:30], y[20:30]) is learner
    np.testing.assert_array_equal(learner.X_training, X[20:30])
    assert learner.estimator.n_samples_fit_ == 10
    with pytest.raises(ValueError, match="NaN"):
        learner.fit(np.full((3, 3), np.nan), y[:3])
    with pytest.raises(ValueError, match="NaN"):
        learner.teach(np.full((3, 3), np.nan), y[:3], only_new=True)


def test_mismatched_dimensions_keep_modals_message():
    X, y = _problem()
    learner = _learner(ActiveLearner, X, y)
    with pytest.raises(ValueError, match="dimensions of the new training data"):
        learner.teach(np.ones((2, 5)), np.ones(2))


def test_teach_without_initial_data():
    X, y = _problem()
    learner = ActiveLearner(estimator=RegularityRidge(), query_strategy=sld_sampling)
    assert learner.X_training is None
    learner.teach(X[:5], y[:5])
    np.testing.assert_array_equal(learner.X_training, X[:5])
    assert learner.estimator.n_samples_fit_ == 5


def test_committee_regressor_of_our_learners(sklearn_keyword):
    # modAL's committees call each learner's _add_training_data and fit
    from modAL.disagreement import max_std_sampling
    from modAL.models import CommitteeRegressor

    keyword, calls = sklearn_keyword
    X, y = _problem(3)
    committee = CommitteeRegressor(
        learner_list=[_learner(ActiveLearner, X, y, n0=n0) for n0 in (6, 8)],
        query_strategy=max_std_sampling,
    )
    committee.teach(X[20:23], y[20:23])
    assert [m.X_training.shape[0] for m in committee.learner_list] == [9, 11]
    assert calls == [(keyword, True)] * 2
    committee.fit(X[30:40], y[30:40])
    assert [m.estimator.n_samples_fit_ for m in committee.learner_list] == [10, 10]


def test_missing_modal_names_the_extra(monkeypatch):
    for name in ("modAL", "modAL.models", "modAL.utils", "modAL.utils.data"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "skrt.modal")
    with pytest.raises(ImportError, match=r'pip install "scikit-regularity\[modal\]"'):
        import skrt.modal  # noqa: F401


def test_importing_skrt_does_not_import_modal():
    code = "import sys, skrt; assert 'modAL' not in sys.modules, 'modAL imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
