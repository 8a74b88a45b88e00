"""Adversarial cases for the linear models: RegularityRidge (every solver and
alpha mode), RegularityLasso, and the ridge model's loo_curve,
sample_information, influence_diagnostics, score_samples and
predict(return_std=True), over hostile inputs.

Oracles: an exact rational solution with brute-force leave-one-out refits
(``exact_ridge``, Fractions, sharing no code with skrt), scikit-learn's
Ridge and Lasso, and refits on equivalent data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, Ridge
from test_ridge_closed_forms import (
    assert_componentwise,
    assert_matches_exact,
    exact_ridge,
)

from skrt import RegularityLasso, RegularityRidge
from skrt.exceptions import RegularityBoundWarning

from ._harness import Case, Correct, Raises, Warns, params, run_case


def _data(n=20, p=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    return X, X @ rng.randn(p) + 0.3 * rng.randn(n) + 1.0


def _graded(n=20, p=4, seed=0, big=1e6, small=1e-6):
    rng = np.random.RandomState(seed)
    scale = np.where(np.arange(p) % 2 == 0, big, small)
    X = rng.randn(n, p) * scale + rng.randn(p) * scale
    return X, X @ (rng.randn(p) / scale) + 0.3 * rng.randn(n) + 2.0


def _offset(n=24, p=5, offset=1e8, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p) * (rng.rand(n, p) < 0.5)
    X[:, :2] = rng.randn(n, 2) + offset
    return X, X @ rng.randn(p) + rng.randn(n)


def _with(X, value, where=(0, 0)):
    X = np.array(X, dtype=object if isinstance(value, str) else float)
    X[where] = value
    return X


def _ridge(X, y, w=None, **kw):
    return RegularityRidge(**kw).fit(X, y, sample_weight=w)


# -- oracles -----------------------------------------------------------------


def exact_check(X, y, alpha=None, w=None, loo=True, dense_X=None):
    """Correct(check) against the exact solution at the model's alpha_."""

    def check(model):
        s = model.alpha_ if alpha is None else alpha
        Xd = X if dense_X is None else dense_X
        assert_matches_exact(model, X, exact_ridge(Xd, y, s, w=w), loo=loo)

    return Correct(check)


def sklearn_ridge_check(X, y, w=None, rtol=1e-8):
    def check(model):
        ref = Ridge(alpha=model.alpha_, solver="svd").fit(X, y, sample_weight=w)
        scale = np.abs(ref.coef_).max() + 1e-300
        assert np.allclose(model.coef_, ref.coef_, rtol=rtol, atol=rtol * scale)
        assert np.isclose(model.intercept_, ref.intercept_, rtol=rtol, atol=rtol)

    return Correct(check)


def _repeated_rows_equal_weights():
    # integer weights are repeated rows: exactly the same fit and LOO
    X, y = _data(12)
    w = np.arange(1, 13) % 3 + 1.0
    Xr, yr = np.repeat(X, w.astype(int), axis=0), np.repeat(y, w.astype(int))
    a = _ridge(X, y, w, alpha=0.7)
    b = _ridge(Xr, yr, alpha=0.7)
    return a, b, w


def _check_repeated(result):
    a, b, w = result
    assert np.allclose(a.coef_, b.coef_, rtol=1e-10)
    assert np.allclose(a.coef_tangent_, b.coef_tangent_, rtol=1e-10)
    first = np.concatenate([[0], np.cumsum(w.astype(int))[:-1]])
    assert np.allclose(a.loo_residuals_, b.loo_residuals_[first], rtol=1e-10)


def _extreme_weights():
    X, y = _data(16)
    w = np.where(np.arange(16) % 2 == 0, 1e6, 1e-6)
    return _ridge(X, y, w, alpha=0.1), X, y, w


def _check_extreme_weights(result):
    model, X, y, w = result
    assert_matches_exact(model, X, exact_ridge(X, y, 0.1, w=w))


def _zero_weights():
    X, y = _data(16)
    w = np.r_[np.zeros(4), np.ones(12)]
    return _ridge(X, y, w, alpha=0.5), X, y, w


def _check_zero_weights(result):
    model, X, y, w = result
    ref = RegularityRidge(alpha=0.5).fit(X[4:], y[4:])
    assert np.allclose(model.coef_, ref.coef_, rtol=1e-12)
    assert np.allclose(model.loo_residuals_[4:], ref.loo_residuals_, rtol=1e-10)
    assert np.all(model.leverage_[:4] == 0.0)


def _refit_other_solver():
    X, y = _data(20)
    model = _ridge(X, y, alpha="loo", solver="eigen")
    model.set_params(solver="cg", alpha=1.0).fit(X[:15] * 3.0, y[:15])
    fresh = _ridge(X[:15] * 3.0, y[:15], alpha=1.0, solver="cg")
    return model, fresh


def _check_refit(result):
    model, fresh = result

    def names(m):
        return {k for k in vars(m) if k.endswith("_") and not k.startswith("_")}

    assert names(model) == names(fresh)
    assert not hasattr(model, "leverage_") and not hasattr(model, "loo_error_")


def _graded_loo_curve():
    X, y = _graded(16, 4, seed=1)
    model = _ridge(X, y, alpha=1.0)
    alphas = np.array([1e-3, 1.0, 1e3])
    return model.loo_curve(alphas), X, y, alphas


def _check_graded_loo_curve(result):
    curve, X, y, alphas = result
    want = [np.mean(exact_ridge(X, y, a)["loo_residuals"] ** 2) for a in alphas]
    assert_componentwise(curve, want, 1e-6, "loo_curve")


def _graded_information():
    X, y = _graded(14, 4, seed=2)
    model = _ridge(X, y, alpha=0.2)
    return model.sample_information(kind="weights", noise_variance=1.0), X, y


def _check_graded_information(result):
    info, X, y = result
    exact = exact_ridge(X, y, 0.2)
    e, h = exact["loo_residuals"], exact["leverage"]
    assert_componentwise(info, e**2 * (h - 1.0 / len(y)) / 2.0, 1e-6, "SI")


def _graded_function_information():
    X, y = _graded(12, 4, seed=3)
    model = _ridge(X, y, alpha=0.2)
    return model.sample_information(noise_variance=1.0), X, y


def _check_graded_function_information(result):
    # F-SI_i = Σ_v (f(x_v) - f_(-i)(x_v))² / (2 n), by exact refits
    from fractions import Fraction

    info, X, y = result
    fit = exact_ridge(X, y, 0.2)["fit"]
    want = []
    for i in range(len(y)):
        w = np.ones(len(y))
        w[i] = 0.0
        loo_fit = exact_ridge(X, y, 0.2, w=w)["fit"]
        diff = [Fraction(a) - Fraction(b) for a, b in zip(fit, loo_fit, strict=True)]
        want.append(float(sum(d * d for d in diff) / (2 * len(y))))
    assert_componentwise(info, want, 1e-5, "F-SI")


def _graded_diagnostics():
    X, y = _graded(16, 4, seed=4)
    return _ridge(X, y, alpha=0.3).influence_diagnostics(), X, y


def _check_graded_diagnostics(result):
    d, X, y = result
    exact = exact_ridge(X, y, 0.3)
    assert_componentwise(d["leverage"], exact["leverage"], 1e-6, "leverage")
    assert_componentwise(d["residuals"], y - exact["fit"], 1e-6, "residuals")
    # DFBETA of the coefficients: θ - θ_(-i), by exact refits
    for i in (0, 7):
        w = np.ones(len(y))
        w[i] = 0.0
        refit = exact_ridge(X, y, 0.3, w=w)
        want = exact["coef"] - refit["coef"]
        assert_componentwise(d["dfbeta"][i, 1:], want, 1e-5, f"dfbeta[{i}]")


def _graded_pool(heuristic):
    def call():
        X, y = _graded(16, 4, seed=5)
        pool = _graded(6, 4, seed=6)[0]
        model = _ridge(X, y, alpha=0.4)
        if heuristic == "std":
            return model.predict(pool, return_std=True), model, X, y, pool
        return model.score_samples(pool, heuristic="variance"), model, X, y, pool

    return call


def _check_graded_pool(result):
    out, model, X, y, pool = result
    quad = exact_ridge(X, y, 0.4, X_pool=pool)["pool_quadratic"]
    if isinstance(out, tuple):
        assert_componentwise(
            out[1], np.sqrt(model.noise_variance_ * (1 + quad)), 1e-6, "std"
        )
    else:
        assert_componentwise(out, quad, 1e-6, "variance")


def _lasso_check(X, y, s, rtol=1e-8):
    def check(model):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref = Lasso(alpha=s / (2 * len(y)), tol=1e-14, max_iter=10**6).fit(X, y)
        assert np.allclose(model.coef_, ref.coef_, rtol=rtol, atol=1e-12)

    return Correct(check)


def _lasso_offset_sparse():
    X, y = _offset(40, 5)
    a = RegularityLasso(alpha=5.0, tol=1e-12).fit(sp.csr_matrix(X), y)
    b = RegularityLasso(alpha=5.0, tol=1e-12).fit(X, y)
    return a, b


def _check_same_lasso(result):
    a, b = result
    assert np.allclose(a.coef_, b.coef_, rtol=1e-8)
    assert np.allclose(a.coef_tangent_, b.coef_tangent_, rtol=1e-7)


def _sparse_wide_graded():
    # more features than the covariance side takes for sparse X: the Gram
    # side cannot see the small columns, and says so
    rng = np.random.RandomState(9)
    X = sp.random(40, 2100, density=0.05, format="csr", random_state=rng)
    X = X @ sp.diags(np.where(np.arange(2100) % 2 == 0, 1e6, 1e-6))
    return _ridge(X.tocsr(), rng.randn(40), alpha=1e13)


def _n_one():
    m = _ridge([[1.0, 2.0]], [3.0], alpha=1.0)
    return m.coef_, m.coef_tangent_, m.predict([[0.0, 5.0]])


def _check_n_one(result):
    coef, tangent, pred = result
    assert np.array_equal(coef, [0.0, 0.0]) and np.array_equal(tangent, [0.0, 0.0])
    assert pred[0] == 3.0


# -- the table ---------------------------------------------------------------

X0, y0 = _data()
Xg, yg = _graded()
Xo, yo = _offset()
Xr = np.repeat(np.random.RandomState(3).randn(1, 3), 10, axis=0)
yr = np.random.RandomState(4).randn(10)

CASES = [
    # NaN / inf / empty / shapes / types
    *[
        Case(
            f"ridge {solver} NaN in X",
            lambda s=solver: _ridge(_with(X0, np.nan), y0, solver=s),
            Raises("NaN"),
        )
        for solver in ("eigen", "svd", "cg")
    ],
    Case("ridge inf in X", lambda: _ridge(_with(X0, np.inf), y0), Raises("infinity")),
    Case("ridge NaN in y", lambda: _ridge(X0, np.r_[np.nan, y0[1:]]), Raises("NaN")),
    Case("ridge empty X", lambda: _ridge(X0[:0], y0[:0]), Raises("0 sample")),
    Case("ridge 1-D X", lambda: _ridge(X0[:, 0], y0), Raises("Expected 2D array")),
    Case("ridge 3-D X", lambda: _ridge(X0[:, :, None], y0), Raises("dim 3")),
    Case("ridge y length", lambda: _ridge(X0, y0[:5]), Raises("inconsistent numbers")),
    Case(
        "ridge string in X",
        lambda: _ridge(_with(X0, "a"), y0),
        Raises("could not convert string"),
    ),
    Case("ridge complex X", lambda: _ridge(X0 + 1j, y0), Raises("Complex data")),
    Case(
        "lasso NaN in X",
        lambda: RegularityLasso().fit(_with(X0, np.nan), y0),
        Raises("NaN"),
    ),
    Case(
        "lasso two targets",
        lambda: RegularityLasso().fit(X0, np.c_[y0, y0]),
        Raises("1d array"),
    ),
    Case(
        "lasso empty X",
        lambda: RegularityLasso().fit(X0[:0], y0[:0]),
        Raises("0 sample"),
    ),
    # parameters: zero, negative, NaN
    *[
        Case(
            f"ridge alpha={a!r}",
            lambda a=a: _ridge(X0, y0, alpha=a),
            Raises("alpha must be a positive"),
        )
        for a in (0.0, -1.0, np.nan, np.inf)
    ],
    Case(
        "ridge alpha_bounds reversed",
        lambda: _ridge(X0, y0, alpha="loo", alpha_bounds=(1.0, 0.1)),
        Raises("alpha_bounds must satisfy"),
    ),
    Case(
        "ridge tol=0 cg",
        lambda: _ridge(X0, y0, solver="cg", tol=0.0),
        Raises("tol must be positive"),
    ),
    Case(
        "ridge max_iter=0 cg",
        lambda: _ridge(X0, y0, solver="cg", max_iter=0),
        Raises("max_iter must be positive"),
    ),
    Case(
        "ridge loo with cg",
        lambda: _ridge(X0, y0, solver="cg", alpha="loo"),
        Raises("alpha='loo' needs exact leverages"),
    ),
    Case(
        "ridge loo with 2 samples",
        lambda: _ridge(X0[:2], y0[:2], alpha="loo"),
        Raises("at least 3 samples"),
    ),
    Case(
        "ridge svd sparse",
        lambda: _ridge(sp.csr_matrix(X0), y0, solver="svd"),
        Raises("solver='svd' does not accept sparse"),
    ),
    *[
        Case(
            f"lasso alpha={a!r}",
            lambda a=a: RegularityLasso(alpha=a).fit(X0, y0),
            Raises("alpha must be positive"),
        )
        for a in (0.0, -1.0, np.nan)
    ],
    # weights
    Case(
        "ridge NaN weight",
        lambda: _ridge(X0, y0, np.r_[np.nan, np.ones(19)]),
        Raises("sample_weight contains NaN"),
    ),
    Case(
        "ridge negative weight",
        lambda: _ridge(X0, y0, -np.ones(20)),
        Raises("non-negative"),
    ),
    Case(
        "ridge weights sum to inf",
        lambda: _ridge(X0, y0, np.full(20, 1e307)),
        Raises("sample_weight sums to inf"),
    ),
    Case("ridge weights 1e12 apart", _extreme_weights, Correct(_check_extreme_weights)),
    Case("ridge zero weights", _zero_weights, Correct(_check_zero_weights)),
    Case(
        "ridge integer weights are repeated rows",
        _repeated_rows_equal_weights,
        Correct(_check_repeated),
    ),
    # extreme scales
    *[
        Case(
            f"ridge {solver} X*1e300",
            lambda s=solver: _ridge(X0 * 1e300, y0, solver=s),
            Raises(r"X is too large in scale: .*e\+300"),
        )
        for solver in ("eigen", "svd", "cg")
    ],
    Case(
        "ridge sparse X*1e300",
        lambda: _ridge(sp.csr_matrix(X0 * 1e300), y0),
        Raises("X is too large in scale"),
    ),
    Case(
        "lasso X*1e300",
        lambda: RegularityLasso().fit(X0 * 1e300, y0),
        Raises("X is too large in scale"),
    ),
    Case(
        "ridge X*1e-160",
        lambda: _ridge(X0 * 1e-160, y0),
        Raises("X is too small in scale"),
    ),
    Case(
        "ridge y*1e300",
        lambda: _ridge(X0, y0 * 1e300),
        Raises("y is too large in scale"),
    ),
    Case(
        "ridge X*1e150",
        lambda: _ridge(X0[:12] * 1e150, y0[:12], alpha=1e300),
        Correct(
            lambda m: assert_matches_exact(
                m,
                X0[:12] * 1e150,
                exact_ridge(X0[:12] * 1e150, y0[:12], 1e300),
                intercept_tangent=False,
            )
        ),
    ),
    Case(
        "ridge X*1e-150",
        lambda: _ridge(X0[:12] * 1e-150, y0[:12], alpha=1.0),
        exact_check(X0[:12] * 1e-150, y0[:12]),
    ),
    Case(
        "ridge X*1e-150 tiny alpha",
        lambda: _ridge(X0 * 1e-150, y0, alpha=1e-300),
        Raises("tangent overflow float64 at alpha=1e-300"),
    ),
    Case("ridge alpha=1e308", lambda: _ridge(X0, y0, alpha=1e308), exact_check(X0, y0)),
    # graded columns (grams next to tonnes), every solver and alpha mode
    *[
        Case(
            f"ridge {solver} graded alpha={a}",
            lambda s=solver, a=a: _ridge(Xg, yg, alpha=a, solver=s),
            exact_check(Xg, yg),
        )
        for solver in ("eigen", "svd")
        for a in (1e-6, 1.0, 1e3)
    ],
    Case(
        "ridge graded alpha=loo",
        lambda: _ridge(Xg, yg, alpha="loo"),
        exact_check(Xg, yg),
    ),
    Case(
        "ridge graded alpha=gcv",
        lambda: _ridge(Xg, yg, alpha="gcv", solver="svd"),
        exact_check(Xg, yg),
    ),
    Case(
        "ridge sparse graded",
        lambda: _ridge(sp.csr_matrix(Xg), yg, alpha=0.5),
        exact_check(sp.csr_matrix(Xg), yg, dense_X=Xg),
    ),
    Case(
        "ridge cg graded",
        lambda: _ridge(Xg, yg, alpha=0.5, solver="cg", tol=1e-14),
        exact_check(Xg, yg, loo=False),
    ),
    Case(
        "ridge cg graded gcv",
        lambda: _ridge(
            sp.csr_matrix(Xg), yg, alpha="gcv", solver="cg", tol=1e-14, random_state=0
        ),
        exact_check(sp.csr_matrix(Xg), yg, loo=False, dense_X=Xg),
    ),
    Case(
        "ridge graded wide (p > n)",
        lambda: _ridge(_graded(6, 10, seed=7)[0], _graded(6, 10, seed=7)[1], alpha=0.5),
        exact_check(*_graded(6, 10, seed=7)),
    ),
    Case(
        "ridge graded 1e9 spread with weights",
        lambda: _ridge(
            *_graded(16, 3, seed=8, big=1e9, small=1e-9),
            np.linspace(0.5, 2.0, 16),
            alpha=0.1,
        ),
        exact_check(
            *_graded(16, 3, seed=8, big=1e9, small=1e-9), w=np.linspace(0.5, 2.0, 16)
        ),
    ),
    Case(
        "ridge sparse wide graded",
        _sparse_wide_graded,
        Warns(UserWarning, r"columns differ in scale by a factor of \d\.\d+e\+1\d"),
    ),
    Case("loo_curve graded", _graded_loo_curve, Correct(_check_graded_loo_curve)),
    Case(
        "sample_information weights graded",
        _graded_information,
        Correct(_check_graded_information),
    ),
    Case(
        "sample_information function graded",
        _graded_function_information,
        Correct(_check_graded_function_information),
    ),
    Case(
        "influence_diagnostics graded",
        _graded_diagnostics,
        Correct(_check_graded_diagnostics),
    ),
    Case("predict return_std graded", _graded_pool("std"), Correct(_check_graded_pool)),
    Case(
        "score_samples variance graded",
        _graded_pool("variance"),
        Correct(_check_graded_pool),
    ),
    Case(
        "lasso graded",
        lambda: RegularityLasso(alpha=1e-3, tol=1e-12).fit(Xg, yg),
        _lasso_check(Xg, yg, 1e-3),
    ),
    # large offsets, dense and sparse
    *[
        Case(
            f"ridge {name} offset 1e8",
            lambda f=f, s=solver: _ridge(f(Xo), yo, alpha=1.0, solver=s, tol=1e-14),
            exact_check(Xo, yo, alpha=1.0, loo=solver != "cg", dense_X=Xo),
        )
        for name, f, solver in [
            ("dense eigen", np.asarray, "eigen"),
            ("sparse eigen", sp.csr_matrix, "eigen"),
            ("sparse cg", sp.csr_matrix, "cg"),
            ("svd", np.asarray, "svd"),
        ]
    ],
    Case(
        "ridge sparse offset 1e10 loo",
        lambda: _ridge(
            sp.csr_matrix(_offset(offset=1e10)[0]), _offset(offset=1e10)[1], alpha="loo"
        ),
        exact_check(*_offset(offset=1e10)),
    ),
    Case("lasso sparse offset 1e8", _lasso_offset_sparse, Correct(_check_same_lasso)),
    # duplicate rows and degenerate designs
    Case(
        "ridge one row repeated loo",
        lambda: _ridge(Xr, yr, alpha="loo"),
        Warns(
            RegularityBoundWarning,
            "X has no variation",
            lambda m: np.testing.assert_array_equal(m.coef_tangent_, 0.0),
        ),
    ),
    Case(
        "ridge one row repeated sparse gcv",
        lambda: _ridge(sp.csr_matrix(Xr), yr, alpha="gcv"),
        Warns(
            RegularityBoundWarning,
            "X has no variation",
            lambda m: np.testing.assert_array_equal(m.coef_, 0.0),
        ),
    ),
    Case(
        "ridge one row repeated cg",
        lambda: _ridge(Xr, yr, solver="cg"),
        Correct(lambda m: np.testing.assert_array_equal(m.coef_tangent_, 0.0)),
    ),
    Case(
        "ridge constant column",
        lambda: _ridge(np.c_[X0, np.full(20, 0.1)], y0, alpha=0.5),
        Correct(
            lambda m: (
                np.testing.assert_array_equal(m.coef_[3], 0.0),
                np.testing.assert_allclose(
                    m.coef_[:3], Ridge(alpha=0.5).fit(X0, y0).coef_, rtol=1e-10
                ),
            )
        ),
    ),
    Case(
        "ridge duplicated rows loo",
        lambda: _ridge(
            np.repeat(X0[:8], 2, axis=0),
            np.repeat(y0[:8], 2) + np.tile([0.0, 0.1], 8),
            alpha="loo",
        ),
        exact_check(
            np.repeat(X0[:8], 2, axis=0), np.repeat(y0[:8], 2) + np.tile([0.0, 0.1], 8)
        ),
    ),
    Case(
        "ridge p > n duplicated columns",
        lambda: _ridge(np.c_[X0[:6], X0[:6], X0[:6, :1] * 3], y0[:6], alpha=0.3),
        exact_check(np.c_[X0[:6], X0[:6], X0[:6, :1] * 3], y0[:6], alpha=0.3),
    ),
    Case("ridge n=1", _n_one, Correct(_check_n_one)),
    Case(
        "ridge constant y loo",
        lambda: _ridge(X0, np.full(20, 2.5), alpha="loo"),
        Warns(
            RegularityBoundWarning,
            "y is constant",
            lambda m: np.testing.assert_allclose(m.predict(X0), 2.5),
        ),
    ),
    Case("ridge refit other solver", _refit_other_solver, Correct(_check_refit)),
    Case(
        "ridge rank deficient vs sklearn",
        lambda: _ridge(np.c_[X0, X0[:, 0] - X0[:, 1]], y0, alpha="loo"),
        sklearn_ridge_check(np.c_[X0, X0[:, 0] - X0[:, 1]], y0),
    ),
    # methods: bad arguments
    Case(
        "loo_curve negative alpha",
        lambda: _ridge(X0, y0).loo_curve([-1.0]),
        Raises("alphas must be a 1-D array of positive"),
    ),
    Case(
        "loo_curve NaN alpha",
        lambda: _ridge(X0, y0).loo_curve([np.nan]),
        Raises("alphas must be a 1-D array of positive"),
    ),
    Case(
        "loo_curve text alphas",
        lambda: _ridge(X0, y0).loo_curve(["a"]),
        Raises("alphas must be a 1-D array of positive floats"),
    ),
    Case(
        "loo_curve 2-D alphas",
        lambda: _ridge(X0, y0).loo_curve([[1.0]]),
        Raises("alphas must be a 1-D array"),
    ),
    Case(
        "loo_curve with cg",
        lambda: _ridge(X0, y0, solver="cg").loo_curve([1.0]),
        Raises("solver='eigen'"),
    ),
    Case(
        "sample_information noise_variance [1, 2]",
        lambda: _ridge(X0, y0).sample_information(noise_variance=[1, 2]),
        Raises(r"noise_variance must be a float or have shape \(1,\)"),
    ),
    Case(
        "sample_information noise_variance 0",
        lambda: _ridge(X0, y0).sample_information(noise_variance=0.0),
        Raises("noise_variance must be positive"),
    ),
    Case(
        "sample_information noise_variance NaN",
        lambda: _ridge(X0, y0).sample_information(noise_variance=np.nan),
        Raises("noise_variance must be positive"),
    ),
    Case(
        "sample_information X_val NaN",
        lambda: _ridge(X0, y0).sample_information(_with(X0[:2], np.nan)),
        Raises("NaN"),
    ),
    Case(
        "sample_information X_val features",
        lambda: _ridge(X0, y0).sample_information(X0[:, :2]),
        Raises("features"),
    ),
    Case(
        "sample_information kind",
        lambda: _ridge(X0, y0).sample_information(kind="hessian"),
        Raises("kind must be"),
    ),
    Case(
        "influence_diagnostics two targets",
        lambda: _ridge(X0, np.c_[y0, y0]).influence_diagnostics(),
        Raises("one target"),
    ),
    Case(
        "influence_diagnostics exact fit",
        lambda: _ridge(X0, np.full(20, 1.0)).influence_diagnostics(),
        Raises("fits its training targets exactly"),
    ),
    Case(
        "predict std pool NaN",
        lambda: _ridge(X0, y0).predict(_with(X0[:2], np.nan), return_std=True),
        Raises("NaN"),
    ),
    Case(
        "predict std pool features",
        lambda: _ridge(X0, y0).predict(X0[:, :2], return_std=True),
        Raises("features"),
    ),
    Case(
        "predict std pool 1e300",
        lambda: _ridge(X0, y0).predict(X0 * 1e300, return_std=True),
        Raises("not finite in float64 for X"),
    ),
    Case(
        "score_samples heuristic",
        lambda: _ridge(X0, y0).score_samples(X0, heuristic="foo"),
        Raises("heuristic must be one of"),
    ),
    Case(
        "score_samples variance with cg",
        lambda: _ridge(X0, y0, solver="cg").score_samples(X0, heuristic="variance"),
        Raises("solver='eigen'"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_linear_models_adversarial(case):
    run_case(case)
