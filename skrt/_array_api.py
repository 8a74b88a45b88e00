"""Array API inputs: which arrays leave the numpy path, and how to leave it.

scikit-learn's convention (``sklearn.set_config(array_api_dispatch=True)``
with ``SCIPY_ARRAY_API=1`` set before scipy is imported): an estimator fitted
on a PyTorch, CuPy or ``array_api_strict`` array computes in that array's
namespace, on its device, and keeps its fitted arrays there. With dispatch
off, or on numpy input, nothing here changes a computation: the numpy path
is the one it always was. Nothing here imports torch or cupy; the namespace
comes from the arrays themselves (``array_api_compat``, vendored by
scikit-learn).
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.externals.array_api_compat import is_array_api_obj
from sklearn.utils import _array_api as _sk
from sklearn.utils._array_api import (
    _convert_to_numpy,
    _is_numpy_namespace,
    get_namespace_and_device,
)

__all__ = [
    "DEVICE_ESTIMATORS",
    "device_namespace",
    "float_dtypes",
    "is_dask_collection",
    "move_to",
    "numpy_only",
    "refuse_device_arrays",
    "to_numpy",
]

#: what fits on array-API inputs, for the messages of the numpy-only estimators
DEVICE_ESTIMATORS = "RegularityRidge or RegularityKernelRidge (solver='eigen' or 'svd')"


def device_namespace(*arrays):
    """``(xp, device)`` of ``arrays`` when they leave the numpy path, else None.

    They leave it when scikit-learn's ``array_api_dispatch`` is on and they
    are not numpy arrays (nor lists, scalars or sparse matrices, which
    scikit-learn treats as numpy).

    Parameters
    ----------
    *arrays : array-like or None
        None entries are ignored.

    Returns
    -------
    namespace : (module, device) or None

    Examples
    --------
    >>> import numpy as np
    >>> device_namespace(np.ones(3)) is None
    True
    """
    if not get_config()["array_api_dispatch"]:
        return None
    # torch tensors have no __array_namespace__: ask array_api_compat
    present = [a for a in arrays if is_array_api_obj(a) and not sp.issparse(a)]
    if not present:
        return None
    xp, _, device = get_namespace_and_device(*present)
    if _is_numpy_namespace(xp):
        return None
    return xp, device


def to_numpy(a, xp=None):
    """``a`` as a numpy array (a copy off the device when it is on one).

    Examples
    --------
    >>> to_numpy([1.0, 2.0])
    array([1., 2.])
    """
    if xp is None or _is_numpy_namespace(xp):
        return np.asarray(a)
    return _convert_to_numpy(a, xp)


def numpy_only(what, instead):
    """The TypeError for a part that computes with numpy only.

    Parameters
    ----------
    what : str
        The setting or method, e.g. ``"solver='cg'"``.
    instead : str
        What works with array-API inputs, e.g. ``"solver='eigen' or 'svd'"``.

    Examples
    --------
    >>> str(numpy_only("solver='cg'", "solver='eigen'"))[:30]
    "solver='cg' computes with nump"
    """
    return TypeError(
        f"{what} computes with numpy arrays only; with array-API inputs "
        f"(array_api_dispatch=True) use {instead}, or pass numpy arrays."
    )


def refuse_device_arrays(what, instead, **arrays):
    """Raise :func:`numpy_only`'s TypeError when any of ``arrays`` leaves the
    numpy path (:func:`device_namespace`), naming the argument.

    Parameters
    ----------
    what : str
        Who computes with numpy only, e.g. ``"SGDFRegressor"``.
    instead : str
        What works with array-API inputs.
    **arrays : array-like or None
        The arguments by name.

    Examples
    --------
    >>> import numpy as np
    >>> refuse_device_arrays("SGDFRegressor", "RegularityRidge", X=np.ones(2))
    """
    for name, a in arrays.items():
        found = device_namespace(a)
        if found is not None:
            xp, device = found
            raise numpy_only(
                f"{what} (given {name} from {xp.__name__} on device {device})",
                instead,
            )


def move_to(array, *, xp, device):
    """``array`` in namespace ``xp`` on ``device``.

    scikit-learn's ``move_to`` (1.8 and later); before it (where array-API
    dispatch needs SciPy >= 1.14 anyway), through numpy.

    Examples
    --------
    >>> import numpy as np
    >>> move_to(np.ones(2), xp=np, device="cpu")
    array([1., 1.])
    """
    if hasattr(_sk, "move_to"):
        return _sk.move_to(array, xp=xp, device=device)
    host = to_numpy(array, get_namespace_and_device(array)[0])
    if _is_numpy_namespace(xp):
        return host
    return xp.asarray(host, device=device)


def float_dtypes(xp, device):
    """The floating dtypes ``xp`` supports on ``device``, most precise first
    (scikit-learn's ``supported_float_dtypes``; its ``device`` argument is
    1.8's).

    Examples
    --------
    >>> import numpy as np
    >>> np.dtype(float_dtypes(np, "cpu")[0]) == np.float64
    True
    """
    try:
        return _sk.supported_float_dtypes(xp, device)
    except TypeError:  # scikit-learn < 1.8: no device argument
        return _sk.supported_float_dtypes(xp)


def is_dask_collection(obj) -> bool:
    """Whether ``obj`` is a dask collection (array, DataFrame, ...), without
    importing dask: an object can only be one when dask was imported already.

    Examples
    --------
    >>> import numpy as np
    >>> is_dask_collection(np.ones(3))
    False
    """
    dask = sys.modules.get("dask")
    return dask is not None and bool(dask.is_dask_collection(obj))
