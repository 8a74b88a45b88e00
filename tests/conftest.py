# Array-API tests need scipy's array API support, which scipy reads from the
# environment once, when it is first imported: set it before anything here
# (or a test module) imports scipy. An explicit SCIPY_ARRAY_API in the
# environment wins.
import os
import sys

_SCIPY_IMPORTED_FIRST = (
    "scipy" in sys.modules and os.environ.get("SCIPY_ARRAY_API") != "1"
)
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import importlib  # noqa: E402
from typing import Any, NamedTuple  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "default",
    max_examples=int(os.environ.get("SKRT_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.load_profile("default")


@pytest.fixture
def rng():
    return np.random.RandomState(0)


def _peak_traced_bytes(fn):
    """Peak bytes Python allocated while ``fn()`` ran (tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def peak_bytes():
    """``peak_bytes(fn)``: the peak memory ``fn()`` allocated, in bytes."""
    return _peak_traced_bytes


# --- array namespaces (issue 17) -------------------------------------------

#: Parameter ids of the ``array_namespaces`` fixture: the namespace's module
#: name, then the device ("device1" is array_api_strict's second, simulated
#: device: an output left on the default device fails there).
ARRAY_NAMESPACE_IDS = (
    "array_api_strict-CPU_DEVICE",
    "array_api_strict-device1",
    "torch-cpu",
    "torch-cuda",
    "cupy-cuda",
)


def scipy_array_api_enabled() -> bool:
    """Whether scipy was imported with its array API support on."""
    try:
        from scipy._lib._array_api import SCIPY_ARRAY_API
    except ImportError:  # pragma: no cover - moved in some scipy version
        from scipy._lib._array_api_override import SCIPY_ARRAY_API
    return bool(SCIPY_ARRAY_API)


class ArrayNamespace(NamedTuple):
    """One array namespace on one device, as yielded by ``array_namespaces``.

    Unpacks as ``name, xp, device = array_namespaces``.
    """

    name: str
    xp: Any
    device: Any

    def asarray(self, a, dtype=None):
        """``a`` (numpy or array-like) in this namespace, on this device.

        ``dtype``: ``None`` keeps numpy's dtype (float64 stays float64);
        a string such as ``"float32"`` names the namespace's dtype.
        """
        a = np.asarray(a)
        dtype = getattr(self.xp, dtype if dtype is not None else str(a.dtype))
        return self.xp.asarray(a, dtype=dtype, device=self.device)

    def to_numpy(self, a):
        """``a`` back as a numpy array (a copy off the device)."""
        from sklearn.utils._array_api import _convert_to_numpy

        return _convert_to_numpy(a, self.xp)


def _array_namespace(param: str) -> ArrayNamespace:
    """Import ``param``'s namespace, or skip the test saying why."""
    module, device_name = param.split("-", 1)
    if _SCIPY_IMPORTED_FIRST:
        pytest.skip(
            "scipy was imported before tests/conftest.py set SCIPY_ARRAY_API=1 "
            "(by a pytest plugin?): run with SCIPY_ARRAY_API=1 in the environment"
        )
    if os.environ.get("SCIPY_ARRAY_API") != "1" or not scipy_array_api_enabled():
        pytest.skip("SCIPY_ARRAY_API is not 1: array-API tests need it")
    try:
        mod = importlib.import_module(module)
    except ImportError:
        pytest.skip(f"{module} is not installed")
    from sklearn.externals.array_api_compat import get_namespace

    if module == "torch":
        if device_name == "cuda" and not mod.cuda.is_available():
            pytest.skip("torch: no CUDA device")
        device = device_name
    elif module == "cupy":
        try:
            if mod.cuda.runtime.getDeviceCount() == 0:
                pytest.skip("cupy: no CUDA device")
        except mod.cuda.runtime.CUDARuntimeError:
            pytest.skip("cupy: no CUDA device")
        device = None  # cupy arrays live on the current device
    else:
        try:
            device = mod.Device(device_name)
        except (AttributeError, ValueError):
            pytest.skip(
                f"{module} {getattr(mod, '__version__', '')} has no {device_name}"
            )
    xp = get_namespace(mod.asarray(1))
    return ArrayNamespace(param, xp, device)


@pytest.fixture(params=ARRAY_NAMESPACE_IDS)
def array_namespaces(request):
    """Each available array-API namespace and device, with dispatch on.

    Parametrized over ``ARRAY_NAMESPACE_IDS``: array_api_strict on its
    default device and on its simulated second device ("device1"), PyTorch
    on the CPU, and on CUDA and CuPy when a GPU is there. What is not
    importable (or has no device) is skipped with the reason. The test runs
    inside ``sklearn.config_context(array_api_dispatch=True)``; turn it off
    in the test with ``sklearn.config_context(array_api_dispatch=False)``.

    Yields an ``ArrayNamespace`` ``(name, xp, device)``: ``xp`` is the
    array-API namespace (array_api_compat's wrapper for torch and cupy, as
    scikit-learn's ``get_namespace`` returns it), ``device`` what
    ``xp.asarray(..., device=device)`` takes. Helpers:
    ``ns.asarray(numpy_array, dtype=None)`` puts an array on the device
    (numpy's dtype kept unless a dtype name such as ``"float32"`` is given);
    ``ns.to_numpy(a)`` brings one back.

    Examples
    --------
    ::

        def test_fit(array_namespaces):
            name, xp, device = array_namespaces
            Xd = array_namespaces.asarray(X)
            model = RegularityRidge(alpha="loo").fit(Xd, array_namespaces.asarray(y))
            assert array_api_compat.device(model.coef_) == array_api_compat.device(Xd)
            np.testing.assert_allclose(
                array_namespaces.to_numpy(model.coef_), numpy_model.coef_, rtol=1e-10
            )

    With ``hypothesis``'s ``@given``, add
    ``@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])``
    (the fixture holds no state that the examples change).
    """
    from sklearn import config_context

    ns = _array_namespace(request.param)
    try:
        with config_context(array_api_dispatch=True):
            pass
    except (ImportError, RuntimeError) as exc:  # scipy < 1.14, flag off
        pytest.skip(f"scikit-learn refuses array_api_dispatch: {exc}")
    with config_context(array_api_dispatch=True):
        yield ns


@pytest.fixture(scope="session")
def dask_client():
    """A ``dask.distributed`` client on a LocalCluster of 2 worker processes
    (1 thread each, 1 GiB memory limit each), shared by the whole session;
    skipped when dask.distributed is not installed.

    Usage::

        def test_something(dask_client):
            import dask.array as da
            X = da.from_array(np.ones((100, 3)), chunks=25)
            ...  # computations run on the cluster (the client is the default)
    """
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        memory_limit="1GiB",
        dashboard_address=None,
        silence_logs=40,  # logging.ERROR
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
