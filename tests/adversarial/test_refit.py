"""A refit leaves nothing of the last fit, for every estimator: after fit A
(other settings, other data) then fit B, the fitted attributes (names ending
in ``_``) and the predictions equal those of a fresh fit B."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from skrt import (
    MultiUserRegularity,
    RegularityKernelRidge,
    RegularityLasso,
    RegularityRidge,
    SGDFRegressor,
)


def _data(n, p, seed):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    return X, X @ rng.randn(p) + 0.1 * rng.randn(n)


def _fitted(model):
    return {k: v for k, v in vars(model).items() if k.endswith("_")}


def _same(a, b):
    if hasattr(a, "get_params"):
        return type(a) is type(b) and _fitted(a).keys() == _fitted(b).keys()
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if sp.issparse(a):
        return sp.issparse(b) and (a != b).nnz == 0
    try:
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    except TypeError:
        return a == b


# (estimator, params of fit A, fit A on (n, p) data with weights?)
REFITS = [
    (RegularityRidge(alpha="loo"), {"solver": "cg", "alpha": 1.0}),
    (RegularityRidge(solver="cg", alpha=1.0), {"solver": "eigen", "alpha": "loo"}),
    (RegularityRidge(alpha=2.0), {"prior": {"coef": np.ones(3)}}),
    (RegularityKernelRidge(kernel="rbf", alpha="loo"), {"solver": "cg", "alpha": 1.0}),
    (
        RegularityKernelRidge(kernel="rbf", solver="cg", alpha=1.0),
        {"gamma": "loo", "solver": "eigen"},
    ),
    (RegularityLasso(alpha=1.0), {"alpha": 10.0, "fit_intercept": False}),
    (SGDFRegressor(alpha=5.0, random_state=0), {"alpha": "online", "alpha_init": 2.0}),
    (SGDFRegressor(alpha=5.0, random_state=0), {"tangent_solver": "cg"}),
    (MultiUserRegularity(alpha=2.0), {"user_alpha": "loo"}),
]


@pytest.mark.parametrize(
    "model, params_a",
    REFITS,
    ids=lambda x: type(x).__name__ if hasattr(x, "fit") else str(x),
)
def test_refit_leaves_nothing_of_the_last_fit(model, params_a):
    XA, yA = _data(40, 3, 0)
    XB, yB = _data(25, 3, 1)
    kwargs_a, kwargs_b = {}, {}
    if isinstance(model, MultiUserRegularity):
        kwargs_a["groups"] = np.repeat([0, 1, 2, 3], 10)
        kwargs_b["groups"] = np.repeat(["x", "y"], [12, 13])
    refit = clone(model).set_params(**params_a)
    refit.fit(XA, yA, sample_weight=np.linspace(0.5, 2.0, 40), **kwargs_a)
    refit.set_params(**model.get_params()).fit(XB, yB, **kwargs_b)
    fresh = clone(model).fit(XB, yB, **kwargs_b)
    a, b = _fitted(refit), _fitted(fresh)
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))
    stale = [k for k in a if not _same(a[k], b[k])]
    assert not stale, stale
    if isinstance(model, MultiUserRegularity):
        np.testing.assert_array_equal(
            refit.predict(XB, groups=kwargs_b["groups"]),
            fresh.predict(XB, groups=kwargs_b["groups"]),
        )
    else:
        np.testing.assert_array_equal(refit.predict(XB), fresh.predict(XB))
