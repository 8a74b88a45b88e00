"""scikit-learn's estimator contract for every estimator, with no expected failures.

One parametrised test over every public estimator and the configurations
whose fit paths differ (closed form, leave-one-out or GCV alpha, the
iterative solvers, the kernel and user models). With ``SCIPY_ARRAY_API=1``
(tests/conftest.py sets it) they include scikit-learn's array-API checks:
the ridge and kernel models declare ``array_api_support`` and fit
array_api_strict and PyTorch inputs on their device. The kernel model's checks
run with :class:`~skrt.exceptions.RegularityBoundWarning` ignored (an alpha
or gamma chosen at a bound of its search warns), as in ``test_kernel.py``,
whose module-wide filter covered them when they lived there.
"""

import os
import warnings

import pytest
import sklearn
from sklearn.utils.estimator_checks import parametrize_with_checks

from skrt import (
    MultiUserRegularity,
    RegularityKernelRidge,
    RegularityLasso,
    RegularityRidge,
    SGDFRegressor,
)
from skrt.exceptions import RegularityBoundWarning


@parametrize_with_checks(
    [
        RegularityRidge(),
        RegularityRidge(alpha="loo"),
        RegularityRidge(alpha="gcv", solver="svd"),
        RegularityRidge(alpha="gcv", solver="cg", tol=1e-10, random_state=0),
        MultiUserRegularity(),
        MultiUserRegularity(alpha=1.0, user_alpha="loo"),
        MultiUserRegularity(alpha=1.0, penalty="l1"),
        RegularityLasso(),
        RegularityKernelRidge(),
        RegularityKernelRidge(alpha="loo", kernel="rbf"),
        RegularityKernelRidge(
            alpha="gcv", kernel="rbf", solver="cg", tol=1e-10, random_state=0
        ),
        RegularityKernelRidge(kernel="precomputed"),
        RegularityKernelRidge(alpha="loo", kernel="rbf", gamma="loo"),
        # full-batch gradient descent with the automatic step: deterministic,
        # so weights equal repeated rows exactly
        SGDFRegressor(
            batch_size=100_000,
            learning_rate="constant",
            max_iter=500,
            tol=None,
            shuffle=False,
        ),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    name = getattr(check, "func", check).__name__
    if name.startswith("check_array_api") and os.environ.get("SCIPY_ARRAY_API") != "1":
        # scikit-learn skips them only where the variable is unset (and
        # tests/conftest.py sets it then): an explicit SCIPY_ARRAY_API=0 too
        pytest.skip("the array-API checks need SCIPY_ARRAY_API=1")
    if name.startswith("check_array_api"):
        try:
            with sklearn.config_context(array_api_dispatch=True):
                pass
        except ImportError as exc:  # SciPy < 1.14 (the oldest supported set)
            pytest.skip(f"scikit-learn refuses array API dispatch: {exc}")
    if isinstance(estimator, RegularityKernelRidge):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=RegularityBoundWarning)
            check(estimator)
    else:
        check(estimator)
