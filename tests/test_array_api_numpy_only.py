"""Estimators that compute with numpy only refuse array-API inputs with a
TypeError naming the argument and what works instead (issue 17)."""

import numpy as np
import pytest

from skrt import MultiUserRegularity, RegularityLasso, SGDFRegressor


def _data():
    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    return X, X @ [1.0, -2.0, 0.5] + 0.1 * rng.randn(30)


ESTIMATORS = [
    RegularityLasso(alpha=1.0),
    SGDFRegressor(max_iter=5, random_state=0),
    MultiUserRegularity(alpha=1.0),
]


@pytest.mark.parametrize("model", ESTIMATORS, ids=lambda m: type(m).__name__)
def test_device_inputs_are_a_clear_type_error(model, array_namespaces):
    X, y = _data()
    name = type(model).__name__
    expected = name + r" \(given {} from .*\) computes with numpy arrays only.*"
    expected += "RegularityRidge"
    with pytest.raises(TypeError, match=expected.format("X")):
        model.fit(array_namespaces.asarray(X), y)
    with pytest.raises(TypeError, match=expected.format("y")):
        model.fit(X, array_namespaces.asarray(y))
    model.fit(X, y)  # numpy still works under dispatch
    with pytest.raises(TypeError, match=expected.format("X")):
        model.predict(array_namespaces.asarray(X))
    if isinstance(model, SGDFRegressor):
        with pytest.raises(TypeError, match=expected.format("X")):
            model.partial_fit(array_namespaces.asarray(X), y)
    if isinstance(model, MultiUserRegularity):
        with pytest.raises(TypeError, match=expected.format("X_pool")):
            model.query(array_namespaces.asarray(X), "new", n_instances=2)
