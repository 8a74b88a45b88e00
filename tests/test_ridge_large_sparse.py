"""The matrix-free path on the issue's 100,000 x 50,000 sparse problem.

Speed is measured in benchmarks/bench_ridge.py; here: memory stays far below
what forming XᵀX would take, and the answer solves the normal equations.
"""

import tracemalloc

import numpy as np
import scipy.sparse as sp

from skrt import RegularityRidge


def test_large_sparse_fit_is_matrix_free_and_solves_the_normal_equations():
    rng = np.random.default_rng(0)
    n, p = 100_000, 50_000
    X = sp.random(n, p, density=1e-4, format="csr", random_state=rng)
    y = X @ rng.standard_normal(p) + 0.1 * rng.standard_normal(n)
    tracemalloc.start()
    model = RegularityRidge(alpha="gcv", random_state=0).fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert model.solver_ == "cg"
    assert peak < 512 * 2**20  # XᵀX alone would be 18.6 GiB
    assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.coef_tangent_))
    # (Xcᵀ Xc + s I) θ = Xcᵀ yc and (Xcᵀ Xc + s I) θ̇ = -θ, checked matrix-free
    x_mean = np.asarray(X.mean(axis=0)).ravel()

    def normal(v):
        u = X @ v - x_mean @ v
        return X.T @ u - x_mean * u.sum() + model.alpha_ * v

    yc = y - y.mean()
    rhs = X.T @ yc - x_mean * yc.sum()
    assert np.linalg.norm(normal(model.coef_) - rhs) <= 1e-5 * np.linalg.norm(rhs)
    assert np.linalg.norm(
        normal(model.coef_tangent_) + model.coef_
    ) <= 1e-5 * np.linalg.norm(model.coef_)
