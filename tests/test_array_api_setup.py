"""The test set-up of the array-API tests (tests/conftest.py).

``pytest`` alone (the README's command, CI's) must run them: scipy's array
API support is on, and the ``array_namespaces`` fixture hands out arrays in
the namespace and on the device it names, with scikit-learn's dispatch on.
"""

import os

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import scipy_array_api_enabled


def test_scipy_array_api_flag_is_on():
    # conftest sets SCIPY_ARRAY_API=1 before anything imports scipy; a plugin
    # or an earlier import of scipy would leave scipy's own flag off
    if os.environ.get("SCIPY_ARRAY_API") not in (None, "1"):
        pytest.skip("SCIPY_ARRAY_API was set explicitly to another value")
    assert os.environ.get("SCIPY_ARRAY_API") == "1"
    assert scipy_array_api_enabled(), (
        "scipy was imported before tests/conftest.py set SCIPY_ARRAY_API=1"
    )


def test_fixture_arrays_in_namespace_and_on_device(array_namespaces):
    from sklearn import get_config
    from sklearn.externals import array_api_compat
    from sklearn.utils._array_api import get_namespace

    name, xp, device = array_namespaces
    assert get_config()["array_api_dispatch"]
    X = np.arange(6.0).reshape(3, 2)
    Xd = array_namespaces.asarray(X)
    assert not isinstance(Xd, np.ndarray)
    assert Xd.dtype == xp.float64
    assert array_namespaces.asarray(X, "float32").dtype == xp.float32
    # scikit-learn sees the namespace the fixture names
    got, is_array_api = get_namespace(Xd)
    assert is_array_api
    assert got.__name__.split(".")[-1] == name.split("-")[0]
    if device is not None:
        assert array_api_compat.device(Xd) == array_api_compat.device(
            xp.asarray(1.0, device=device)
        )
    assert str(device) != "CPU_DEVICE" or "device1" not in name
    np.testing.assert_array_equal(array_namespaces.to_numpy(Xd), X)


def test_skrt_leaves_numpy_path_under_the_fixture(array_namespaces):
    # skrt's own dispatch test agrees: a fixture array leaves the numpy path,
    # a numpy one does not
    from skrt._array_api import device_namespace

    Xd = array_namespaces.asarray(np.ones((2, 2)))
    found = device_namespace(Xd)
    assert found is not None  # also torch tensors: no __array_namespace__
    assert device_namespace(np.ones((2, 2))) is None
    assert device_namespace(sp.csr_matrix(np.eye(2)), [1.0], None) is None


def test_dispatch_off_outside_the_fixture():
    from sklearn import get_config

    assert not get_config()["array_api_dispatch"]


def test_strict_second_device_is_distinct():
    strict = pytest.importorskip("array_api_strict")
    if not hasattr(strict, "Device"):
        pytest.skip("array_api_strict without devices")
    a = strict.asarray([1.0], device=strict.Device("device1"))
    b = strict.asarray([1.0])
    assert a.device != b.device
