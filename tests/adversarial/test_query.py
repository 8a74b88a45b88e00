"""Adversarial cases for the query strategies (skrt.query) and RegularityQuery.

Every strategy, greedy and top-k, with each learner kind; hostile pools
(NaN/inf, empty, wrong shapes, strings, objects, 1e±150, 1e200, 1e300,
graded columns, large offsets, duplicate rows), hostile ``n_instances`` and
learners. The oracles: top-k indices are the ranking of ``score_samples``;
greedy's first pick is its best score, its scores are ``score_samples``, and
every index is unique and in range.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import Ridge
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
from skrt.query import (
    random_sampling,
    regularity_sampling,
    sld_sampling,
    ssi_sampling,
    sti_sampling,
    variance_sampling,
)

from ._harness import Case, Correct, Raises, Warns, params, run_case

HEURISTICS = ("sld", "sti", "ssi", "ssi_unlabeled", "variance")
N_FEATURES = 3


def _data(n=30, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, N_FEATURES)
    return X, X @ [1.0, -2.0, 0.5] + 0.3 * rng.randn(n)


def _pool(n=25, seed=1):
    return np.random.RandomState(seed).randn(n, N_FEATURES)


@functools.cache
def _learner(kind):
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        make = {
            "ridge": lambda: RegularityRidge(alpha="loo"),
            "ridge_cg": lambda: RegularityRidge(alpha=1.0, solver="cg", tol=1e-12),
            "kernel": lambda: RegularityKernelRidge(alpha=0.5, kernel="rbf", gamma=0.3),
            "sgdf": lambda: SGDFRegressor(alpha=1.0, random_state=0),
            "lasso": lambda: RegularityLasso(alpha=0.1),
            "pipeline": lambda: make_pipeline(
                StandardScaler(), RegularityRidge(alpha=1.0)
            ),
            "kernel_pipeline": lambda: make_pipeline(
                StandardScaler(), RegularityKernelRidge(alpha=0.5, gamma=0.3)
            ),
        }[kind]
        return make().fit(X, y)


def _final(learner):
    return learner[-1] if hasattr(learner, "steps") else learner


def _scores(learner, pool, heuristic):
    """The oracle's scores: score_samples of the final model on the pool as
    it reaches that model."""
    model = _final(learner)
    if hasattr(learner, "steps"):
        pool = learner[:-1].transform(pool)
    return model.score_samples(pool, heuristic=heuristic)


def _checks_query(learner, pool, heuristic, batch, n):
    """Oracle of a (query_idx, scores) result."""
    n_pool = pool.shape[0]

    def check(result):
        idx, scores = result
        expected = _scores(learner, pool, heuristic)
        assert idx.shape == (min(n, n_pool),)
        assert idx.dtype.kind == "i"
        assert np.all((idx >= 0) & (idx < n_pool))
        assert len(set(idx.tolist())) == idx.size, f"repeated index in {idx}"
        np.testing.assert_allclose(scores, expected, rtol=1e-12, atol=0)
        if batch == "topk":
            # the n best scores, in order (ties in any order)
            best = np.sort(expected)[::-1][: idx.size]
            np.testing.assert_array_equal(expected[idx], best)
        else:
            assert expected[idx[0]] == expected.max()

    return check


# -- each strategy x batch x learner on an ordinary pool -----------------------
def _strategy_cases():
    cases = []
    named = {
        "sld_sampling": (sld_sampling, "sld", {}),
        "sti_sampling": (sti_sampling, "sti", {}),
        "ssi_sampling": (ssi_sampling, "ssi", {}),
        "ssi_sampling_unlabeled": (
            ssi_sampling,
            "ssi_unlabeled",
            {"reference": "unlabeled"},
        ),
        "variance_sampling": (variance_sampling, "variance", {}),
    }
    full = ("ridge", "kernel", "pipeline", "kernel_pipeline")
    for batch in ("greedy", "topk"):
        for kind in full:
            for h in HEURISTICS:
                cases.append(
                    Case(
                        f"regularity_sampling {kind} {h} {batch}",
                        functools.partial(
                            lambda k, h, b: regularity_sampling(
                                _learner(k),
                                _pool(),
                                4,
                                heuristic=h,
                                batch=b,
                                random_state=0,
                            ),
                            kind,
                            h,
                            batch,
                        ),
                        Correct(_lazy_check(kind, h, batch, 4)),
                    )
                )
            for name, (fn, h, kw) in named.items():
                cases.append(
                    Case(
                        f"{name} {kind} {batch}",
                        functools.partial(
                            lambda f, k, b, kw: f(
                                _learner(k), _pool(), 3, batch=b, random_state=1, **kw
                            ),
                            fn,
                            kind,
                            batch,
                            kw,
                        ),
                        Correct(_lazy_check(kind, h, batch, 3)),
                    )
                )
        # cg keeps no decomposition: SLD/STI only (greedy by CG solves)
        for h in ("sld", "sti"):
            cases.append(
                Case(
                    f"regularity_sampling ridge_cg {h} {batch}",
                    functools.partial(
                        lambda h, b: regularity_sampling(
                            _learner("ridge_cg"),
                            _pool(),
                            4,
                            heuristic=h,
                            batch=b,
                            random_state=0,
                        ),
                        h,
                        batch,
                    ),
                    Correct(_lazy_check("ridge_cg", h, batch, 4)),
                )
            )
        cases.append(
            Case(
                f"regularity_sampling ridge_cg variance {batch}",
                functools.partial(
                    lambda b: regularity_sampling(
                        _learner("ridge_cg"), _pool(), 2, heuristic="variance", batch=b
                    ),
                    batch,
                ),
                Raises("solver='eigen' or solver='svd'"),
            )
        )
    # weights-only models: SLD top-k is exact; the rest need M⁻¹ and say so
    for kind in ("sgdf", "lasso"):
        cases.append(
            Case(
                f"sld_sampling {kind} topk",
                lambda k=kind: sld_sampling(_learner(k), _pool(), 4, batch="topk"),
                Correct(_lazy_check(kind, "sld", "topk", 4)),
            )
        )
        cases.append(
            Case(
                f"sld_sampling {kind} greedy",
                lambda k=kind: sld_sampling(_learner(k), _pool(), 4),
                Raises("greedy batch needs .*batch='topk'"),
            )
        )
        cases.append(
            Case(
                f"sld_sampling {kind} greedy single",
                lambda k=kind: sld_sampling(_learner(k), _pool(), 1),
                Correct(_lazy_check(kind, "sld", "greedy", 1)),
            )
        )
        for h in ("sti", "ssi", "ssi_unlabeled", "variance"):
            cases.append(
                Case(
                    f"regularity_sampling {kind} {h}",
                    lambda k=kind, h=h: regularity_sampling(
                        _learner(k), _pool(), 2, heuristic=h, batch="topk"
                    ),
                    Raises("needs .*heuristic='sld'"),
                )
            )
    return cases


def _lazy_check(kind, heuristic, batch, n):
    def check(result):
        _checks_query(_learner(kind), _pool(), heuristic, batch, n)(result)

    return check


# -- hostile pools ---------------------------------------------------------
def _graded():
    return _pool() * [1e6, 1.0, 1e-6]


def _duplicates():
    return np.vstack([_pool(3)] * 8)


def _pool_cases():
    cases = []
    bad_pools = {
        "nan": (lambda: np.where(np.eye(25, 3) > 0, np.nan, _pool()), "NaN"),
        "inf": (lambda: np.where(np.eye(25, 3) > 0, np.inf, _pool()), "infinity"),
        "empty": (lambda: np.empty((0, N_FEATURES)), "empty"),
        "1-d": (lambda: _pool()[:, 0], "2D array"),
        "3-d": (lambda: _pool()[None], "dim 3|3 dimensions|2D"),
        "wrong features": (lambda: _pool()[:, :2], "features"),
        "strings": (lambda: np.array([["a", "b", "c"]] * 4), "convert|string"),
        "objects": (lambda: np.array([[{}, 1, 2]] * 4, dtype=object), "float|convert"),
        "none": (lambda: None, "X_pool must be"),
        "scalar": (lambda: 3.0, "X_pool must be"),
        "1e200 row": (
            lambda: np.vstack([_pool(), np.full(3, 1e200)]),
            r"X_pool.*1e\+200",
        ),
        "1e300": (lambda: _pool() * 1e300, r"X_pool.*e\+300"),
    }
    for kind in ("ridge", "kernel", "sgdf", "pipeline"):
        for name, (make, match) in bad_pools.items():
            if kind == "kernel" and name in ("1e200 row", "1e300"):
                continue  # rbf scores of far points are finite: below
            if kind == "pipeline" and name in ("1e200 row", "1e300"):
                continue  # the scaler maps them back: below
            for batch in ("greedy", "topk") if kind != "sgdf" else ("topk",):
                cases.append(
                    Case(
                        f"{kind} pool {name} {batch}",
                        lambda k=kind, m=make, b=batch: sld_sampling(
                            _learner(k), m(), 2, batch=b
                        ),
                        Raises(match),
                    )
                )
    # scales and shapes that must give the right answer
    good_pools = {
        "1e-150": lambda: _pool() * 1e-150,
        "1e150 ridge-safe": lambda: _pool() * 1e100,
        "graded columns": _graded,
        "offset 1e7": lambda: _pool() + 1e7,
        "duplicate rows": _duplicates,
        "sparse": lambda: sp.csr_matrix(_pool()),
        "single row": lambda: _pool(1),
        "list": lambda: _pool().tolist(),
    }
    for kind in ("ridge", "kernel", "pipeline"):
        for name, make in good_pools.items():
            if kind != "ridge" and name == "sparse":
                continue
            for h in HEURISTICS:
                for batch in ("greedy", "topk"):
                    cases.append(
                        Case(
                            f"{kind} pool {name} {h} {batch}",
                            lambda k=kind, m=make, h=h, b=batch: _checked_query(
                                k, m(), h, b, 6
                            ),
                            Correct(),
                        )
                    )
    # far-away points: rbf scores are finite (the kernel vanishes) but the
    # greedy update overflows; top-k is exact, greedy a named error
    for h in HEURISTICS:
        cases.append(
            Case(
                f"kernel pool 1e200 row {h} topk",
                lambda h=h: _checked_query(
                    "kernel", np.vstack([_pool(), np.full(3, 1e200)]), h, "topk", 3
                ),
                Correct(),
            )
        )
        cases.append(
            Case(
                f"kernel pool 1e300 {h} greedy",
                lambda h=h: regularity_sampling(
                    _learner("kernel"), _pool() * 1e300, 3, heuristic=h
                ),
                Raises(r"greedy pick.*X_pool.*e\+300"),
            )
        )
        cases.append(
            Case(
                f"pipeline pool 1e200 row {h} topk",
                lambda h=h: regularity_sampling(
                    _learner("pipeline"),
                    np.vstack([_pool(), np.full(3, 1e200)]),
                    3,
                    heuristic=h,
                    batch="topk",
                ),
                Raises(r"X_pool.*e\+"),
            )
        )
    # scores finite at first, κ(i, i) overflows after the first pick: today
    # greedy returned [6, 6, 6, 6]
    cases.append(
        Case(
            "ridge greedy overflows after the first pick",
            lambda: sld_sampling(_overflowing_after_first(), _pool() * 1e156, 4),
            Raises(r"after virtually labelling 1 greedy pick.*X_pool.*e\+156"),
        )
    )
    cases.append(
        Case(
            "ridge topk of the same pool",
            lambda: _checked_query(
                _overflowing_after_first(), _pool() * 1e156, "sld", "topk", 4
            ),
            Correct(),
        )
    )
    return cases


@functools.cache
def _overflowing_after_first():
    X, y = _data()
    return RegularityRidge(alpha=1e3).fit(X, y)


def _checked_query(learner, pool, heuristic, batch, n):
    """Query, then check against the oracle; returns the result."""
    learner = _learner(learner) if isinstance(learner, str) else learner
    result = regularity_sampling(
        learner, pool, n, heuristic=heuristic, batch=batch, random_state=0
    )
    dense = pool.toarray() if sp.issparse(pool) else np.asarray(pool)
    model = learner.estimator if isinstance(learner, _Wrapper) else learner
    _checks_query(model, dense, heuristic, batch, n)(result)
    return result


# -- n_instances and learners -----------------------------------------------
def _argument_cases():
    cases = []
    bad_n = {
        "0": (0, "n_instances must be >= 1"),
        "-1": (-1, "n_instances must be >= 1"),
        "1.5": (1.5, "n_instances must be a positive int"),
        "True": (True, "n_instances must be a positive int"),
        "nan": (np.nan, "n_instances must be a positive int"),
        "string": ("3", "n_instances must be a positive int"),
        "None": (None, "n_instances must be a positive int"),
    }
    strategies = {
        "regularity_sampling": regularity_sampling,
        "sld_sampling": sld_sampling,
        "sti_sampling": sti_sampling,
        "ssi_sampling": ssi_sampling,
        "variance_sampling": variance_sampling,
        "random_sampling": random_sampling,
    }
    for sname, fn in strategies.items():
        for label, (n, match) in bad_n.items():
            cases.append(
                Case(
                    f"{sname} n_instances={label}",
                    lambda f=fn, n=n: f(_learner("ridge"), _pool(), n),
                    Raises(match),
                )
            )
        for batch in ("greedy", "topk") if sname != "random_sampling" else ("",):
            kw = {"batch": batch} if batch else {}
            cases.append(
                Case(
                    f"{sname} n_instances larger than the pool {batch}",
                    lambda f=fn, kw=kw: f(_learner("ridge"), _pool(7), 50, **kw),
                    Correct(_all_indices(7)),
                )
            )
            cases.append(
                Case(
                    f"{sname} n_instances numpy int {batch}",
                    lambda f=fn, kw=kw: f(
                        _learner("ridge"), _pool(), np.int64(3), random_state=0, **kw
                    ),
                    Correct(lambda r: _unique_in_range(r[0], 3, 25)),
                )
            )
    for name, learner, match in [
        ("sklearn Ridge", lambda: Ridge().fit(*_data()), "got Ridge"),
        ("None", lambda: None, "got NoneType"),
        ("a class", lambda: RegularityRidge, "learner must be a fitted instance"),
        (
            "modAL-like wrapper of Ridge",
            lambda: _Wrapper(Ridge().fit(*_data())),
            "got Ridge",
        ),
        ("unfitted RegularityRidge", RegularityRidge, "not fitted"),
        ("unfitted wrapper", lambda: _Wrapper(RegularityRidge()), "not fitted"),
        (
            "unfitted pipeline",
            lambda: make_pipeline(StandardScaler(), RegularityRidge()),
            "not fitted",
        ),
        (
            "pipeline ending in Ridge",
            lambda: make_pipeline(StandardScaler(), Ridge()).fit(*_data()),
            "got Ridge",
        ),
        (
            "MultiUserRegularity",
            lambda: MultiUserRegularity().fit(*_data(), groups=np.arange(30) % 3),
            "MultiUserRegularity use its query",
        ),
    ]:
        for h in ("sld", "variance"):
            cases.append(
                Case(
                    f"learner {name} {h}",
                    lambda make=learner, h=h: regularity_sampling(
                        make(), _pool(), heuristic=h
                    ),
                    Raises(match),
                )
            )
    cases += [
        Case(
            "heuristic unknown",
            lambda: regularity_sampling(_learner("ridge"), _pool(), heuristic="bald"),
            Raises("heuristic must be one of"),
        ),
        Case(
            "heuristic None",
            lambda: regularity_sampling(_learner("ridge"), _pool(), heuristic=None),
            Raises("heuristic must be one of"),
        ),
        Case(
            "batch unknown",
            lambda: regularity_sampling(_learner("ridge"), _pool(), batch="all"),
            Raises("batch must be one of"),
        ),
        Case(
            "ssi reference unknown",
            lambda: ssi_sampling(_learner("ridge"), _pool(), reference="both"),
            Raises("reference must be"),
        ),
        Case(
            "modAL-like wrapper",
            lambda: _checked_query(
                _Wrapper(_learner("ridge")), _pool(), "sld", "greedy", 3
            ),
            Correct(),
        ),
        Case(
            "random_sampling unique",
            lambda: random_sampling(None, _duplicates(), 10, random_state=0),
            Correct(lambda r: _unique_in_range(r[0], 10, 24)),
        ),
        Case(
            "random_sampling nan pool",
            lambda: random_sampling(None, np.full((3, 2), np.nan)),
            Raises("NaN"),
        ),
        Case(
            "random_sampling empty pool",
            lambda: random_sampling(None, np.empty((0, 2))),
            Raises("empty"),
        ),
        Case(
            "random_sampling strings",
            lambda: random_sampling(None, [["a"]]),
            Raises("convert|string"),
        ),
        Case(
            "random_sampling None",
            lambda: random_sampling(None, None),
            Raises("X_pool must be"),
        ),
    ]
    return cases


class _Wrapper:
    """What a modAL learner looks like to a strategy."""

    def __init__(self, estimator):
        self.estimator = estimator


def _unique_in_range(idx, n, n_pool):
    assert idx.shape == (n,)
    assert len(set(idx.tolist())) == n
    assert np.all((idx >= 0) & (idx < n_pool))


def _all_indices(n_pool):
    def check(result):
        assert sorted(result[0].tolist()) == list(range(n_pool))

    return check


# -- scikit-activeml's RegularityQuery ---------------------------------------
def _skactiveml_cases():
    try:
        import skactiveml  # noqa: F401
    except ImportError:  # pragma: no cover - the extra is not installed
        return []
    from skactiveml.regressor import SklearnRegressor

    from skrt.skactiveml import RegularityQuery

    def problem(n=40, n_labeled=8, scale=1.0):
        X, y = _data(n)
        y = y.astype(float).copy()
        y[n_labeled:] = np.nan
        return X * scale, y

    def query(reg, batch="greedy", heuristic="sld", X=None, batch_size=4, **kw):
        X_, y = problem()
        X = X_ if X is None else X
        return RegularityQuery(heuristic=heuristic, batch=batch, random_state=0).query(
            X, y, reg, batch_size=batch_size, return_utilities=True, **kw
        )

    def contract(result):
        idx, util = result
        assert len(set(idx.tolist())) == idx.size
        for j in range(idx.size):
            assert np.all(np.isnan(util[j, idx[:j]])), "earlier picks not masked"
            assert util[j, idx[j]] == np.nanmax(util[j])
        _, y = problem()
        assert np.all(np.isnan(util[:, ~np.isnan(y)]))

    # the harness fails on NaN: the NaN utilities are checked by `contract`
    def run(*a, **kw):
        result = query(*a, **kw)
        contract(result)
        return result[0]

    cases = []
    for batch in ("greedy", "topk"):
        for h in HEURISTICS:
            cases.append(
                Case(
                    f"RegularityQuery ridge {h} {batch}",
                    lambda b=batch, h=h: run(
                        SklearnRegressor(RegularityRidge(alpha=1.0)), b, h
                    ),
                    Correct(),
                )
            )
        cases.append(
            Case(
                f"RegularityQuery kernel pipeline {batch}",
                lambda b=batch: run(
                    SklearnRegressor(
                        make_pipeline(
                            StandardScaler(), RegularityKernelRidge(gamma=0.3)
                        )
                    ),
                    b,
                ),
                Correct(),
            )
        )
        cases.append(
            Case(
                f"RegularityQuery duplicate rows {batch}",
                lambda b=batch: run(
                    SklearnRegressor(RegularityRidge(alpha=1.0)),
                    b,
                    X=np.vstack(
                        [problem()[0][:8], np.tile(problem()[0][8:12], (8, 1))]
                    ),
                ),
                Correct(),
            )
        )
    cases += [
        Case(
            "RegularityQuery sgdf topk",
            lambda: run(
                SklearnRegressor(SGDFRegressor(alpha=1.0, random_state=0)), "topk"
            ),
            Correct(),
        ),
        Case(
            "RegularityQuery sklearn Ridge",
            lambda: query(SklearnRegressor(Ridge())),
            Raises("reg must be .*RegularityRidge.*got Ridge"),
        ),
        Case(
            "RegularityQuery failed fit",
            lambda: query(SklearnRegressor(RegularityRidge(alpha=-1.0))),
            Raises("fit of RegularityRidge failed"),
        ),
        Case(
            "RegularityQuery unfitted, fit_reg=False",
            lambda: query(SklearnRegressor(RegularityRidge()), fit_reg=False),
            Raises("not fitted"),
        ),
        Case(
            "RegularityQuery overflowing candidates",
            lambda: query(
                SklearnRegressor(RegularityRidge(alpha=1.0)),
                candidates=np.full((3, N_FEATURES), 1e200),
                batch_size=2,
            ),
            Raises(r"candidates.*1e\+200"),
        ),
        Case(
            "RegularityQuery batch_size larger than candidates",
            lambda: query(
                SklearnRegressor(RegularityRidge(alpha=1.0)),
                candidates=np.arange(8, 11),
                batch_size=5,
            )[0],
            Warns(
                UserWarning,
                "batch_size=3' was set",
                lambda r: _unique_in_range(r, 3, 40),
            ),
        ),
        Case(
            "RegularityQuery heuristic unknown",
            lambda: query(SklearnRegressor(RegularityRidge()), heuristic="bald"),
            Raises("heuristic must be one of"),
        ),
        Case(
            "RegularityQuery batch unknown",
            lambda: query(SklearnRegressor(RegularityRidge()), batch="all"),
            Raises("batch must be one of"),
        ),
        Case(
            "RegularityQuery not a regressor",
            lambda: query(RegularityRidge()),
            Raises("reg"),
        ),
    ]
    return cases


CASES = _strategy_cases() + _pool_cases() + _argument_cases() + _skactiveml_cases()


@pytest.mark.parametrize("case", params(CASES))
def test_query_case(case):
    run_case(case)
