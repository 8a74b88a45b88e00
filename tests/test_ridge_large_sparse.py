"""The matrix-free path on the issue's 100,000 x 50,000 sparse problem.

Speed is measured in benchmarks/bench_ridge.py; here: memory stays far below
what forming XᵀX would take, and the answer solves the normal equations.
"""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from skrt import RegularityRidge


@pytest.mark.slow  # a notable share of the suite; pytest -m 'not slow' skips it
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


def _exact_centred(X, w):
    """Xc = X - 1 x̄ᵀ with the exact weighted mean, as Fractions."""
    from fractions import Fraction as F

    ws = [F(v) for v in w]
    rows = [[F(v) for v in r] for r in X]
    mean = [
        sum(wi * r[j] for wi, r in zip(ws, rows, strict=True)) / sum(ws)
        for j in range(X.shape[1])
    ]
    return [[v - m for v, m in zip(r, mean, strict=True)] for r in rows], ws


def _close(actual, exact, scale, rtol=1e-12):
    want = np.array([[float(v) for v in r] for r in exact])
    err = np.abs(np.asarray(actual).reshape(want.shape) - want)
    assert np.all(err <= rtol * scale), err.max() / scale


def test_centred_products_do_not_cancel_on_large_offsets():
    # issue 13 point 4: XᵀX - Σw x̄x̄ᵀ, X M - x̄ᵀM and ‖x‖² - 2xᵀx̄ + ‖x̄‖²
    # lost every digit of a column offset by 1e8
    from fractions import Fraction as F

    from skrt._centering import (
        CenteredX,
        center_dot,
        centered_sq_norms,
        weighted_center,
    )
    from skrt._krylov import CenteredDesign

    rng = np.random.RandomState(0)
    n, p = 30, 5
    X = rng.randn(n, p) * (rng.rand(n, p) < 0.4)
    X[:, 0] = rng.randn(n) + 1e8
    X[:, 3] = 1e8 + rng.randn(n) * 1e-3  # offset 1e11 times the spread
    w = rng.uniform(0.5, 2.0, n)
    Xs = sp.csr_matrix(X)
    x_mean, _, _ = weighted_center(Xs, np.zeros((n, 1)), w, True)
    cx = CenteredX(Xs, x_mean, w)
    Xc, ws = _exact_centred(X, w)
    M = rng.randn(p, 2)
    U = rng.randn(n, 2)
    norms = np.abs(np.array([[float(v) for v in r] for r in Xc])).sum(axis=0)
    scale = norms.max()
    Mf, Uf = [[F(v) for v in r] for r in M], [[F(v) for v in r] for r in U]
    XcM = [
        [sum(a * b for a, b in zip(r, c, strict=True)) for c in zip(*Mf, strict=True)]
        for r in Xc
    ]
    XcTU = [
        [sum(Xc[i][j] * Uf[i][k] for i in range(n)) for k in range(2)] for j in range(p)
    ]
    gram = [
        [sum(ws[i] * Xc[i][a] * Xc[i][b] for i in range(n)) for b in range(p)]
        for a in range(p)
    ]
    sq = [[sum(v * v for v in r)] for r in Xc]
    _close(cx.dot(M), XcM, scale * np.abs(M).max())
    _close(cx.rdot(U), XcTU, scale * np.abs(U).max())
    _close(cx.weighted_gram(), gram, scale**2)
    _close(
        cx.column_gram(np.array([0, 2, 3])),
        [[gram[a][b] for b in (0, 2, 3)] for a in (0, 2, 3)],
        scale**2,
    )
    rows = [
        [sum(Xc[i][j] * Xc[k][j] for j in range(p)) for k in range(n)] for i in range(n)
    ]
    _close(cx.cross(slice(None), slice(None)), rows, scale**2)
    design = CenteredDesign(Xs, x_mean, w, centered=cx)
    sw = np.sqrt(w)
    _close(design.matmat(M) / sw[:, None], XcM, scale * np.abs(M).max())
    _close(design.rmatmat(U / sw[:, None]), XcTU, scale * np.abs(U).max())
    # pool-side helpers: the training offsets and the mean's low part
    _close(
        center_dot(Xs, x_mean, M, cx.offset, cx.mean_lo), XcM, scale * np.abs(M).max()
    )
    _close(
        center_dot(X, x_mean, M, cx.offset, cx.mean_lo), XcM, scale * np.abs(M).max()
    )
    _close(centered_sq_norms(Xs, x_mean, cx.offset, cx.mean_lo)[:, None], sq, scale**2)
    _close(centered_sq_norms(X, x_mean, cx.offset, cx.mean_lo)[:, None], sq, scale**2)


def test_offset_columns_are_the_only_dense_block():
    # a sparse design with a few offset columns: only those are densified
    rng = np.random.default_rng(1)
    n, p = 20_000, 5_000
    X = sp.random(n, p, density=1e-3, format="csr", random_state=rng).tolil()
    for j in (0, 1, 2):
        X[:, j] = (1e7 + rng.standard_normal(n))[:, None]
    X = X.tocsr()
    y = np.asarray(X[:, :3].sum(axis=1)).ravel() * 1e-7 + rng.standard_normal(n)
    tracemalloc.start()
    model = RegularityRidge(alpha=1.0, solver="cg", tol=1e-10).fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 2**20  # X dense would be 800 MB
    assert np.all(np.isfinite(model.coef_))
