"""Adversarial cases for RegularityKernelRidge (solvers, alpha/gamma modes,
kernels, sample weights) and its loo_curve, sample_information,
predict(return_std=True) and score_samples. Oracles: scikit-learn's
KernelRidge and extended-precision Cholesky solves (tests/test_kernel.py)."""

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import pairwise_kernels, rbf_kernel
from test_kernel import ld_kernel_fit

from skrt import RegularityKernelRidge
from skrt.exceptions import RegularityBoundWarning

from ._harness import Case, Correct, Raises, Warns, params, rel_err, run_case

RNG = np.random.RandomState(0)
X = RNG.uniform(-2, 2, (24, 3))
Y = np.sin(X[:, 0]) + 0.1 * RNG.randn(24)
POOL = RNG.uniform(-2, 2, (6, 3))
W_SPREAD = np.exp(RNG.uniform(np.log(1e-2), np.log(1e14), 24))


def fit(X_=X, y=Y, w=None, **kw):
    return RegularityKernelRidge(**kw).fit(X_, y, sample_weight=w)


def matches_sklearn(alpha, kernel="rbf", w=None, X_=X, tol=1e-8, **kp):
    def check(model):
        ref = KernelRidge(alpha=alpha, kernel=kernel, **kp).fit(X_, Y, sample_weight=w)
        assert rel_err(model.dual_coef_, ref.dual_coef_) < tol

    return check


def exact(alpha, w, kernel="rbf", **kp):
    def check(model):
        K = pairwise_kernels(X, metric=kernel, **kp)
        a, tangent, lev, loo, _ = ld_kernel_fit(K, Y, w, alpha)
        assert rel_err(model.dual_coef_, a) < 1e-6
        assert rel_err(model.dual_coef_tangent_, tangent) < 1e-6
        assert np.abs(model.leverage_ - lev).max() < 1e-6
        assert rel_err(model.loo_residuals_, loo) < 1e-6

    return check


def _with(value, where=(0, 0), base=X):
    Z = base.copy()
    Z[where] = value
    return Z


MODEL = fit(alpha=0.5, kernel="rbf", gamma=0.5)
LINEAR = fit(alpha=0.5, kernel="linear")
CG = fit(alpha=0.5, kernel="rbf", gamma=0.5, solver="cg", tol=1e-10, random_state=0)


def _std(model, pool):
    return model.predict(pool, return_std=True)


CASES = [
    # --- ordinary fits against scikit-learn, every mode
    Case(
        "rbf float",
        lambda: fit(alpha=0.3, kernel="rbf", gamma=0.5),
        Correct(matches_sklearn(0.3, gamma=0.5)),
    ),
    Case("linear", lambda: fit(alpha=0.3), Correct(matches_sklearn(0.3, "linear"))),
    Case(
        "poly",
        lambda: fit(alpha=0.3, kernel="poly", degree=2, gamma=0.5),
        Correct(matches_sklearn(0.3, "poly", degree=2, gamma=0.5)),
    ),
    Case(
        "precomputed",
        lambda: fit(rbf_kernel(X, gamma=0.5), alpha=0.3, kernel="precomputed"),
        Correct(matches_sklearn(0.3, "precomputed", X_=rbf_kernel(X, gamma=0.5))),
    ),
    Case(
        "cg",
        lambda: fit(alpha=0.3, kernel="rbf", gamma=0.5, solver="cg", tol=1e-12),
        Correct(matches_sklearn(0.3, gamma=0.5, tol=1e-7)),
    ),
    Case(
        "alpha loo",
        lambda: fit(alpha="loo", kernel="rbf", gamma=0.5),
        Correct(lambda m: matches_sklearn(m.alpha_, gamma=0.5)(m)),
    ),
    Case(
        "alpha gcv",
        lambda: fit(alpha="gcv", kernel="rbf", gamma=0.5),
        Correct(lambda m: matches_sklearn(m.alpha_, gamma=0.5)(m)),
    ),
    Case(
        "gamma loo",
        lambda: fit(alpha="loo", kernel="rbf", gamma="loo"),
        Correct(lambda m: matches_sklearn(m.alpha_, gamma=m.gamma_)(m)),
    ),
    Case(
        "gamma at user bound",
        lambda: fit(alpha=0.3, kernel="rbf", gamma="loo", gamma_bounds=(50, 100)),
        Warns(RegularityBoundWarning, "bound of gamma_bounds"),
    ),
    # --- sample weights
    Case(
        "weights spread 1e16 rbf",
        lambda: fit(w=W_SPREAD, alpha=1.0, kernel="rbf", gamma=0.5),
        Correct(exact(1.0, W_SPREAD, gamma=0.5)),
    ),
    Case(
        "weights spread 1e16 laplacian",
        lambda: fit(w=W_SPREAD, alpha=0.2, kernel="laplacian", gamma=0.3),
        Correct(exact(0.2, W_SPREAD, "laplacian", gamma=0.3)),
    ),
    Case(
        "weights spread loo_curve warns",
        lambda: fit(w=W_SPREAD, alpha=1.0, kernel="rbf", gamma=0.5).loo_curve([1.0]),
        Warns(UserWarning, "weights span"),
    ),
    Case(
        "weights spread std exact",
        lambda: _std(fit(w=W_SPREAD, alpha=1.0, kernel="rbf", gamma=0.5), POOL),
        Correct(),
    ),
    Case(
        "zero weights",
        lambda: fit(w=np.r_[np.zeros(4), np.ones(20)], alpha=0.4, kernel="rbf"),
        Correct(exact(0.4, np.r_[np.zeros(4), np.ones(20)], gamma=1 / 3)),
    ),
    Case("negative weight", lambda: fit(w=-np.ones(24)), Raises("weight")),
    Case(
        "nan weight", lambda: fit(w=_with(np.nan, 0, np.ones(24))), Raises("weight|NaN")
    ),
    # --- hostile X / y
    Case("nan X", lambda: fit(_with(np.nan)), Raises("NaN")),
    Case("inf X", lambda: fit(_with(np.inf)), Raises("infinity")),
    Case(
        "X 1e300 rbf",
        lambda: fit(_with(1e300), kernel="rbf"),
        Raises("X has entries up to 1e\\+300"),
    ),
    Case("X 1e300 linear", lambda: fit(_with(1e300)), Raises("X has entries")),
    Case(
        "X 1e150 linear", lambda: fit(X * 1e150), Raises("X has entries|kernel matrix")
    ),
    Case("X 1e-150 linear", lambda: fit(X * 1e-150), Raises("kernel matrix of X")),
    Case(
        "X 1e150 rbf",
        lambda: fit(X * 1e150, kernel="rbf", alpha=0.5),
        Raises("X has entries"),
    ),
    Case(
        "X 1e-150 rbf",
        lambda: fit(X * 1e-150, kernel="rbf", alpha=0.5),
        Correct(
            lambda m: np.testing.assert_allclose(
                m.dual_coef_,
                np.linalg.solve(np.ones((24, 24)) + 0.5 * np.eye(24), Y),
                rtol=1e-10,
            )
        ),
    ),
    Case(
        "large offset rbf",
        lambda: fit(X + 1e8, alpha=0.3, kernel="rbf", gamma=0.5),
        # the rbf kernel is translation invariant: the fit on X is the truth
        Correct(matches_sklearn(0.3, gamma=0.5, X_=X, tol=1e-5)),
    ),
    Case(
        "graded columns rbf",
        lambda: fit(X * [1e6, 1, 1e-6], alpha=0.3, kernel="rbf", gamma=1e-12),
        Correct(matches_sklearn(0.3, gamma=1e-12, X_=X * [1e6, 1, 1e-6], tol=1e-6)),
    ),
    Case(
        "duplicate rows",
        lambda: fit(np.vstack([X, X]), np.r_[Y, Y], alpha=0.3, kernel="rbf"),
        Correct(
            lambda m: np.testing.assert_allclose(
                m.predict(POOL),
                fit(
                    X, Y, w=2 * np.ones(24), alpha=0.3, kernel="rbf", gamma=1 / 3
                ).predict(POOL),
                rtol=1e-8,
            )
        ),
    ),
    Case(
        "one row repeated",
        lambda: fit(np.tile(X[:1], (10, 1)), np.full(10, 2.0), alpha=0.7, kernel="rbf"),
        Correct(
            lambda m: np.testing.assert_allclose(
                m.dual_coef_tangent_, -2 / 10.7**2, rtol=1e-10
            )
        ),
    ),
    Case(
        "n=1",
        lambda: fit(X[:1], Y[:1], alpha=0.5, kernel="rbf"),
        Correct(lambda m: np.testing.assert_allclose(m.dual_coef_, Y[:1] / 1.5)),
    ),
    Case("empty", lambda: fit(X[:0], Y[:0]), Raises("0 sample")),
    Case(
        "strings X",
        lambda: fit(np.full((3, 2), "a"), [1.0, 2, 3]),
        Raises("string|could not convert|dtype"),
    ),
    Case(
        "object y",
        lambda: fit(X[:3], np.array([1, "b", None], dtype=object)),
        Raises("could not convert|Unknown label|numeric|float"),
    ),
    Case("wrong y length", lambda: fit(X, Y[:5]), Raises("inconsistent")),
    Case(
        "precomputed not square", lambda: fit(X, kernel="precomputed"), Raises("square")
    ),
    Case(
        "precomputed huge",
        lambda: fit(rbf_kernel(X) * 1e200, kernel="precomputed"),
        Raises("kernel matrix X reaches"),
    ),
    # --- parameters
    Case("alpha 0", lambda: fit(alpha=0.0), Raises("alpha must be a positive")),
    Case("alpha -1", lambda: fit(alpha=-1.0), Raises("alpha must be a positive")),
    Case("alpha nan", lambda: fit(alpha=np.nan), Raises("alpha must be a positive")),
    Case(
        "alpha 1e300",
        lambda: fit(alpha=1e300, kernel="rbf"),
        Correct(
            lambda m: np.testing.assert_allclose(m.dual_coef_ * 1e300, Y, rtol=1e-12)
        ),
    ),
    Case(
        "alpha 1e-300 rbf",
        lambda: fit(alpha=1e-300, kernel="rbf", gamma=0.5),
        Correct(exact(1e-300, np.ones(24), gamma=0.5)),
    ),
    Case("gamma 0", lambda: fit(kernel="rbf", gamma=0.0), Raises("gamma must be")),
    Case("gamma nan", lambda: fit(kernel="rbf", gamma=np.nan), Raises("gamma must be")),
    Case(
        "gamma loo poly", lambda: fit(kernel="poly", gamma="loo"), Raises("gamma='loo'")
    ),
    Case(
        "gamma_bounds reversed",
        lambda: fit(kernel="rbf", gamma="loo", gamma_bounds=(10, 1)),
        Raises("gamma_bounds"),
    ),
    Case(
        "gamma_bounds negative",
        lambda: fit(kernel="rbf", gamma="loo", gamma_bounds=(-1, 1)),
        Raises("gamma_bounds"),
    ),
    Case("loo with cg", lambda: fit(alpha="loo", solver="cg"), Raises("alpha='gcv'")),
    # --- methods on hostile pools
    Case(
        "predict nan pool",
        lambda: MODEL.predict(_with(np.nan, base=POOL)),
        Raises("NaN"),
    ),
    Case(
        "predict far rbf pool",
        lambda: MODEL.predict(_with(1e300, base=POOL)),
        Correct(lambda p: np.testing.assert_equal(p[0], 0.0)),
    ),
    Case(
        "std far rbf pool",
        lambda: _std(MODEL, _with(1e300, base=POOL)),
        Correct(
            lambda r: np.testing.assert_allclose(
                r[1][0] ** 2, MODEL.noise_variance_ * (1 + 1 / 0.5), rtol=1e-12
            )
        ),
    ),
    Case(
        "std linear 1e300 pool",
        lambda: _std(LINEAR, _with(1e300, base=POOL)),
        Raises("not finite in float64 for X"),
    ),
    Case(
        "score linear 1e300 pool",
        lambda: LINEAR.score_samples(_with(1e300, base=POOL)),
        Raises("not finite in float64 for X"),
    ),
    Case(
        "score wrong width",
        lambda: MODEL.score_samples(POOL[:, :2]),
        Raises("features"),
    ),
    Case("std with cg", lambda: _std(CG, POOL), Raises("solver='eigen'")),
    Case("loo_curve nan", lambda: MODEL.loo_curve([np.nan]), Raises("alphas")),
    Case("loo_curve negative", lambda: MODEL.loo_curve([-1.0]), Raises("alphas")),
    Case(
        "sample_information nan sigma",
        lambda: MODEL.sample_information(noise_variance=np.nan),
        Raises("noise_variance"),
    ),
    Case(
        "sample_information ok",
        lambda: MODEL.sample_information(),
        Correct(lambda v: np.testing.assert_array_less(-1e-300, v)),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_kernel_adversarial(case):
    run_case(case)
