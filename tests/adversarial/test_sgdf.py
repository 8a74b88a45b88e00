"""Adversarial cases for SGDFRegressor (fit, partial_fit, refine_tangent)."""

import numpy as np
import pytest
import scipy.sparse as sp
from _oracles import ridge_solution, ridge_tangent
from sklearn.exceptions import ConvergenceWarning

from skrt import SGDFRegressor

from ._harness import Case, Correct, Raises, Warns, params, rel_err, run_case


def _data(n=300, p=4, seed=0, scale=1.0, offset=0.0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p) * scale + offset
    y = (X - offset) / scale @ rng.randn(p) + 0.3 * rng.randn(n) + 2.0
    return X, y


def _fit(X, y, w=None, **kw):
    kw.setdefault("random_state", 0)
    return SGDFRegressor(**kw).fit(X, y, sample_weight=w)


def _matches_oracle(X, y, w=None, alpha=1.0, rtol=1e-3, cos=0.999):
    """coef_/intercept_ within rtol of the closed form (np.linalg.solve on the
    augmented normal equations, tests/_oracles.py), the tangent's cosine."""
    Xd = X.toarray() if sp.issparse(X) else X
    ref = ridge_solution(Xd, y, w, alpha).ravel()
    ref_dot = ridge_tangent(Xd, y, w, alpha).ravel()

    def check(model):
        got = np.r_[model.intercept_, model.coef_]
        assert rel_err(got, ref) <= rtol, rel_err(got, ref)
        dot = np.r_[model.intercept_tangent_, model.coef_tangent_]
        if np.linalg.norm(ref_dot) > 0:
            c = dot @ ref_dot / (np.linalg.norm(dot) * np.linalg.norm(ref_dot))
            assert c >= cos, c

    return check


X0, y0 = _data()
XO, yO = _data(offset=1e4)  # large column offsets
XS, yS = _data(scale=1e150)  # huge, still finite squares
XD, yD = np.vstack([X0, X0]), np.r_[y0, y0]  # every row twice
W_EXT = np.exp(np.random.RandomState(1).uniform(-14, 14, 300))  # 1e±6
X_SP = sp.csr_matrix(np.where(np.random.RandomState(2).rand(300, 6) < 0.3, 1.0, 0.0))
y_SP = np.asarray(X_SP @ np.arange(6.0)).ravel() + 1.0
X_GRADED = X0 * np.array([1e3, 1.0, 1e-3, 1.0])


def _zero_coef(model):
    assert np.allclose(model.coef_, 0.0, atol=1e-10)
    assert np.isclose(model.intercept_, 5.0)


CASES = [
    # -- correct against the closed form
    Case("defaults", lambda: _fit(X0, y0), Correct(_matches_oracle(X0, y0))),
    Case(
        "defaults alpha 300",
        lambda: _fit(X0, y0, alpha=300.0),
        Correct(_matches_oracle(X0, y0, alpha=300.0)),
    ),
    Case(
        "offset 1e4 columns",
        lambda: _fit(XO, yO),
        Correct(_matches_oracle(XO, yO)),
    ),
    Case(
        "scale 1e150",
        lambda: _fit(XS, yS),
        Correct(_matches_oracle(XS, yS)),
    ),
    Case(
        "duplicate rows equal weight 2",
        lambda: _fit(XD, yD),
        Correct(_matches_oracle(X0, y0, w=np.full(300, 2.0))),
    ),
    Case(
        "weights 1e-6..1e6",
        lambda: _fit(X0, y0, W_EXT),
        Correct(_matches_oracle(X0, y0, w=W_EXT)),
    ),
    Case("sparse", lambda: _fit(X_SP, y_SP), Correct(_matches_oracle(X_SP, y_SP))),
    Case("constant y", lambda: _fit(X0, np.full(300, 5.0)), Correct(_zero_coef)),
    Case("one row", lambda: _fit(X0[:1], y0[:1]), Correct()),
    Case(
        "huber",
        lambda: _fit(X0, y0, loss="huber", epsilon=100.0),
        Correct(_matches_oracle(X0, y0)),  # epsilon above every residual
    ),
    Case(
        "no intercept",
        lambda: _fit(X0, y0, fit_intercept=False),
        Correct(
            lambda m: np.testing.assert_allclose(
                m.coef_, ridge_solution(X0, y0, None, 1.0, False).ravel(), rtol=1e-3
            )
        ),
    ),
    # -- warns, naming what to change
    Case(
        "graded columns 1e±3, eta0 auto",
        lambda: _fit(X_GRADED, y0, max_iter=100),
        Warns(ConvergenceWarning, "max_iter=100"),
    ),
    Case(
        "fixed small batch stalls",
        lambda: _fit(X0, y0, batch_size=4, tol=1e-8),
        Warns(ConvergenceWarning, "batch_size"),
    ),
    # -- clear errors
    Case("NaN in X", lambda: _fit(np.where(X0 > 2, np.nan, X0), y0), Raises("NaN")),
    Case("inf in y", lambda: _fit(X0, np.r_[np.inf, y0[1:]]), Raises("inf")),
    Case("1e300 in X", lambda: _fit(X0 * 1e300, y0), Raises("X has entries.*overflow")),
    Case("1e300 in y", lambda: _fit(X0, y0 * 1e300), Raises("y has entries")),
    Case("empty", lambda: _fit(X0[:0], y0[:0]), Raises("0 sample")),
    Case("y wrong length", lambda: _fit(X0, y0[:-1]), Raises("inconsistent")),
    Case("X 1-D", lambda: _fit(X0[:, 0], y0), Raises("2D")),
    Case("X strings", lambda: _fit(np.full((5, 2), "a"), np.ones(5)), Raises("")),
    Case("alpha 0", lambda: _fit(X0, y0, alpha=0.0), Raises("alpha")),
    Case("alpha negative", lambda: _fit(X0, y0, alpha=-1.0), Raises("alpha")),
    Case("alpha NaN", lambda: _fit(X0, y0, alpha=np.nan), Raises("alpha")),
    Case("alpha 'foo'", lambda: _fit(X0, y0, alpha="foo"), Raises("alpha")),
    Case("batch_size 0", lambda: _fit(X0, y0, batch_size=0), Raises("batch_size")),
    Case("batch_size 'big'", lambda: _fit(X0, y0, batch_size="big"), Raises("batch")),
    Case("tol negative", lambda: _fit(X0, y0, tol=-1.0), Raises("tol")),
    Case("max_iter 0", lambda: _fit(X0, y0, max_iter=0), Raises("max_iter")),
    Case("eta0 NaN", lambda: _fit(X0, y0, eta0=np.nan), Raises("eta0")),
    Case(
        "eta0 too large diverges",
        lambda: _fit(X0, y0, eta0=1e3, learning_rate="constant"),
        Raises("diverged|eta0"),
    ),
    Case("weights negative", lambda: _fit(X0, y0, -np.ones(300)), Raises("weight")),
    Case(
        "weights NaN",
        lambda: _fit(X0, y0, np.r_[np.nan, np.ones(299)]),
        Raises("weight"),
    ),
    Case(
        "partial_fit feature mismatch",
        lambda: SGDFRegressor().partial_fit(X0, y0).partial_fit(X0[:, :2], y0),
        Raises("features"),
    ),
    Case(
        "partial_fit total weight negative",
        lambda: SGDFRegressor().partial_fit(X0, y0, total_sample_weight=-1.0),
        Raises("total_sample_weight"),
    ),
    Case(
        "refine_tangent n_iter 0",
        lambda: _fit(X0, y0).refine_tangent(X0, y0, n_iter=0),
        Raises("n_iter"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_sgdf_adversarial(case):
    run_case(case)
