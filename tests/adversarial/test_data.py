"""Adversarial cases for skrt.data (rank_by_information, summarize).

Oracle: sample information by brute force, one scikit-learn refit per left-out
sample (Ridge / KernelRidge at the same alpha, no skrt code): F-SI is the
mean squared change of the validation predictions over ``2σ²``, SI the
change of the penalised weights in the ``A``-norm over ``2σ²``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skrt import RegularityKernelRidge, RegularityRidge, SGDFRegressor
from skrt.data import rank_by_information, summarize

from ._harness import Case, Correct, Raises, params, run_case

ALPHA = 0.7
GAMMA = 0.3


def _data(n=30, seed=0, scale=(1.0, 1.0, 1.0)):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 3) * scale
    y = X @ (np.array([1.0, -2.0, 0.5]) / scale) + 0.3 * rng.randn(n)
    y[3] += 3.0  # one corrupted target: the most informative sample
    return X, y


def _val(n=12, seed=5):
    return np.random.RandomState(seed).randn(n, 3)


def _brute_force(X, y, X_val, kind, sigma2, kernel=False):
    """F-SI or SI of every sample by refits without it (scikit-learn)."""
    make = (
        (lambda: KernelRidge(alpha=ALPHA, kernel="rbf", gamma=GAMMA))
        if kernel
        else (lambda: Ridge(alpha=ALPHA))
    )
    full = make().fit(X, y)
    X_val = X if X_val is None else X_val
    Xc = X - X.mean(axis=0)
    A = Xc.T @ Xc + ALPHA * np.eye(X.shape[1])
    out = np.empty(len(X))
    for i in range(len(X)):
        keep = np.arange(len(X)) != i
        loo = make().fit(X[keep], y[keep])
        if kind == "function":
            out[i] = np.mean((full.predict(X_val) - loo.predict(X_val)) ** 2)
        else:
            d = full.coef_ - loo.coef_
            out[i] = d @ A @ d
    return out / (2.0 * sigma2)


def _check_rank(X, y, X_val, kind, kernel=False, transform=None):
    def check(result):
        order, info = result
        model = result_model[0]
        Xt = X if transform is None else transform(X)
        Vt = X_val if (X_val is None or transform is None) else transform(X_val)
        want = _brute_force(Xt, y, Vt, kind, model.noise_variance_, kernel)
        np.testing.assert_allclose(info, want, rtol=1e-6, atol=1e-12 * want.max())
        assert sorted(order.tolist()) == list(range(len(X)))
        assert np.all(np.diff(info[order]) >= 0)

    result_model = []
    return check, result_model


def _rank_case(name, make_model, X, y, X_val=None, kind="function", **kw):
    check, holder = _check_rank(X, y, X_val, kind, **kw)

    def call():
        model = make_model().fit(X, y)
        holder[:] = [model[-1] if hasattr(model, "steps") else model]
        return rank_by_information(model, X_val, kind=kind)

    return Case(name, call, Correct(check))


def _ridge():
    return RegularityRidge(alpha=ALPHA)


def _kernel():
    return RegularityKernelRidge(alpha=ALPHA, kernel="rbf", gamma=GAMMA)


@functools.cache
def _fitted():
    return _ridge().fit(*_data())


def _rank_cases():
    X, y = _data()
    scaler = StandardScaler().fit(X)
    graded = _data(scale=(1e2, 1.0, 1e-2))
    dup = (np.vstack([X[:10]] * 3), np.tile(y[:10], 3))
    cases = [
        _rank_case("rank ridge function", _ridge, X, y),
        _rank_case("rank ridge function X_val", _ridge, X, y, _val()),
        _rank_case("rank ridge weights", _ridge, X, y, kind="weights"),
        _rank_case("rank kernel function", _kernel, X, y, kernel=True),
        _rank_case("rank kernel function X_val", _kernel, X, y, _val(), kernel=True),
        _rank_case(
            "rank pipeline X_val",
            lambda: make_pipeline(StandardScaler(), _ridge()),
            X,
            y,
            _val(),
            transform=scaler.transform,
        ),
        _rank_case("rank ridge X_val 1e-150", _ridge, X, y, _val() * 1e-150),
        _rank_case("rank ridge X_val 1e100", _ridge, X, y, _val() * 1e100),
        _rank_case("rank ridge X_val offset 1e4", _ridge, X, y, _val() + 1e4),
        _rank_case("rank ridge graded columns", _ridge, *graded),
        _rank_case("rank ridge duplicate rows", _ridge, *dup),
        _rank_case("rank ridge duplicate rows weights", _ridge, *dup, kind="weights"),
    ]
    bad_val = {
        "nan": (np.where(np.eye(12, 3) > 0, np.nan, _val()), "NaN"),
        "inf": (np.where(np.eye(12, 3) > 0, np.inf, _val()), "infinity"),
        "empty": (np.empty((0, 3)), "0 sample|no rows"),
        "wrong features": (_val()[:, :2], "features"),
        "1-d": (_val()[:, 0], "2D"),
        "strings": (np.array([["a", "b", "c"]]), "convert|string"),
        "1e200": (_val() * 1e200, r"X_val.*e\+200"),
        "1e300": (_val() * 1e300, r"X_val.*e\+300"),
    }
    for name, (X_val, match) in bad_val.items():
        cases.append(
            Case(
                f"rank X_val {name}",
                lambda v=X_val: rank_by_information(_fitted(), v),
                Raises(match),
            )
        )
    cases += [
        Case(
            "rank kernel X_val 1e300 (rbf vanishes)",
            lambda: rank_by_information(_kernel().fit(X, y), _val() * 1e300),
            Correct(lambda r: np.testing.assert_array_equal(r[1], 0.0)),
        ),
        Case(
            "rank None", lambda: rank_by_information(None), Raises("estimator must be")
        ),
        Case(
            "rank sklearn Ridge",
            lambda: rank_by_information(Ridge().fit(X, y)),
            Raises("got Ridge"),
        ),
        Case(
            "rank pipeline ending in Ridge",
            lambda: rank_by_information(
                make_pipeline(StandardScaler(), Ridge()).fit(X, y)
            ),
            Raises("got Ridge"),
        ),
        Case(
            "rank unfitted", lambda: rank_by_information(_ridge()), Raises("not fitted")
        ),
        Case(
            "rank unfitted pipeline",
            lambda: rank_by_information(
                make_pipeline(StandardScaler(), _ridge()), _val()
            ),
            Raises("not fitted"),
        ),
        Case(
            "rank kind unknown",
            lambda: rank_by_information(_fitted(), kind="both"),
            Raises("kind must be"),
        ),
        Case(
            "rank SGDFRegressor",
            lambda: rank_by_information(
                SGDFRegressor(alpha=1.0, random_state=0).fit(X, y)
            ),
            Raises("sample_information needs"),
        ),
        Case(
            "rank cg solver",
            lambda: rank_by_information(
                RegularityRidge(alpha=1.0, solver="cg").fit(X, y)
            ),
            Raises("solver='eigen' or solver='svd'"),
        ),
    ]
    return cases


# -- summarize ----------------------------------------------------------------
def _check_summary(X, y, fraction, remove, kind="function"):
    """Kept rows: the complement of the n_remove least (most) informative by
    brute force; ties may go either way, so compare information values."""

    def check(kept):
        n = len(X)
        n_remove = int(np.floor(fraction * n))
        assert kept.shape == (n - n_remove,)
        assert np.array_equal(kept, np.unique(kept))
        sigma2 = _ridge().fit(X, y).noise_variance_
        info = _brute_force(X, y, None, kind, sigma2)
        gone = np.setdiff1d(np.arange(n), kept)
        tol = 1e-9 * info.max()
        if gone.size and kept.size:
            if remove == "least":
                assert info[gone].max() <= info[kept].min() + tol
            else:
                assert info[gone].min() >= info[kept].max() - tol

    return check


def _check_iterative(X, y, fraction, step):
    """Rounds of brute-force scoring and removal."""

    def check(kept):
        n = len(X)
        n_remove = int(np.floor(fraction * n))
        per_round = max(1, int(np.floor(step * n)))
        alive = np.arange(n)
        while n - alive.size < n_remove:
            k = min(per_round, n_remove - (n - alive.size))
            sigma2 = _ridge().fit(X[alive], y[alive]).noise_variance_
            info = _brute_force(X[alive], y[alive], None, "function", sigma2)
            alive = np.delete(alive, np.argsort(info, kind="stable")[:k])
        np.testing.assert_array_equal(kept, alive)

    return check


def _summarize_cases():
    X, y = _data()
    dup = (np.vstack([X[:10]] * 3), np.tile(y[:10], 3))
    cases = [
        Case(
            "summarize least at once",
            lambda: summarize(_ridge(), X, y, 0.5),
            Correct(_check_summary(X, y, 0.5, "least")),
        ),
        Case(
            "summarize most at once",
            lambda: summarize(_ridge(), X, y, 0.3, remove="most"),
            Correct(_check_summary(X, y, 0.3, "most")),
        ),
        Case(
            "summarize weights kind",
            lambda: summarize(_ridge(), X, y, 0.4, kind="weights"),
            Correct(_check_summary(X, y, 0.4, "least", "weights")),
        ),
        Case(
            "summarize iterative",
            lambda: summarize(_ridge(), X, y, 0.5, step=0.1),
            Correct(_check_iterative(X, y, 0.5, 0.1)),
        ),
        Case(
            "summarize duplicate rows",
            lambda: summarize(_ridge(), *dup, 0.5),
            Correct(_check_summary(*dup, 0.5, "least")),
        ),
        Case(
            "summarize lists",
            lambda: summarize(_ridge(), X.tolist(), y.tolist(), 0.5),
            Correct(_check_summary(X, y, 0.5, "least")),
        ),
        Case(
            "summarize nothing removed",
            lambda: summarize(_ridge(), X, y, 0.0),
            Correct(lambda kept: np.testing.assert_array_equal(kept, np.arange(30))),
        ),
        Case(
            "summarize random",
            lambda: summarize(_ridge(), X, y, 0.5, remove="random", random_state=0),
            Correct(lambda kept: np.testing.assert_array_equal(kept, np.unique(kept))),
        ),
        Case(
            "summarize pipeline",
            lambda: summarize(make_pipeline(StandardScaler(), _ridge()), X, y, 0.2),
            Correct(lambda kept: np.testing.assert_equal(kept.shape, (24,))),
        ),
        Case(
            "summarize unit weights = no weights",
            lambda: summarize(_ridge(), X, y, 0.5, sample_weight=np.ones(30)),
            Correct(_check_summary(X, y, 0.5, "least")),
        ),
    ]
    bad = {
        "fraction 1": ({"remove_fraction": 1.0}, "remove_fraction must be in"),
        "fraction -0.1": ({"remove_fraction": -0.1}, "remove_fraction must be in"),
        "fraction nan": ({"remove_fraction": np.nan}, "remove_fraction must be in"),
        "fraction True": ({"remove_fraction": True}, "remove_fraction must be in"),
        "fraction string": ({"remove_fraction": "0.5"}, "remove_fraction must be in"),
        "step 0": ({"step": 0.0}, "step must be None or in"),
        "step 1": ({"step": 1.0}, "step must be None or in"),
        "step nan": ({"step": np.nan}, "step must be None or in"),
        "step True": ({"step": True}, "step must be None or in"),
        "remove unknown": ({"remove": "half"}, "remove must be"),
        "kind unknown": ({"kind": "both"}, "kind must be"),
        "weights wrong shape": ({"sample_weight": np.ones(29)}, "sample_weight must"),
        "weights negative": ({"sample_weight": -np.ones(30)}, "sample_weight|negative"),
        "weights nan": ({"sample_weight": np.full(30, np.nan)}, "sample_weight|NaN"),
    }
    for name, (kw, match) in bad.items():
        kw = {"remove_fraction": 0.5, **kw}
        cases.append(
            Case(
                f"summarize {name}",
                lambda kw=kw: summarize(_ridge(), X, y, **kw),
                Raises(match),
            )
        )
    X_nan = X.copy()
    X_nan[2, 1] = np.nan
    cases += [
        Case("summarize X nan", lambda: summarize(_ridge(), X_nan, y), Raises("NaN")),
        Case(
            "summarize X inf",
            lambda: summarize(_ridge(), np.where(X_nan != X_nan, np.inf, X), y),
            Raises("infinity"),
        ),
        Case(
            "summarize y nan",
            lambda: summarize(_ridge(), X, np.where(np.arange(30) == 4, np.nan, y)),
            Raises("NaN"),
        ),
        Case(
            "summarize y wrong length",
            lambda: summarize(_ridge(), X, y[:-1]),
            Raises("30 rows but y has 29"),
        ),
        Case(
            "summarize y scalar",
            lambda: summarize(_ridge(), X, 3.0),
            Raises("y must be an array"),
        ),
        Case(
            "summarize X None",
            lambda: summarize(_ridge(), None, y),
            Raises("X must be"),
        ),
        Case(
            "summarize X empty",
            lambda: summarize(_ridge(), np.empty((0, 3)), np.empty(0)),
            Raises("X has no rows"),
        ),
        Case(
            "summarize X strings",
            lambda: summarize(_ridge(), np.array([["a", "b", "c"]] * 30), y),
            Raises("convert|string"),
        ),
        Case(
            "summarize sklearn Ridge",
            lambda: summarize(Ridge(), X, y),
            Raises("got Ridge"),
        ),
        Case("summarize None", lambda: summarize(None, X, y), Raises("got NoneType")),
        Case(
            "summarize X 1e300",
            lambda: summarize(_ridge(), X * 1e300, y),
            Raises(r"X .*e\+300"),
        ),
    ]
    return cases


CASES = _rank_cases() + _summarize_cases()


@pytest.mark.parametrize("case", params(CASES))
def test_data_case(case):
    run_case(case)
