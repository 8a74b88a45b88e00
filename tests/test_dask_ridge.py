"""RegularityRidge fitted on dask arrays (issue 18, the estimator side).

Every result of a fit on ``dask.array`` X and y (on the session's
LocalCluster, 2 worker processes) is compared with the numpy path's fit on
the same data computed in memory, which is itself tested against explicit
matrices and refits elsewhere; a few values are checked against oracles of
their own here (the explicit hat matrix, rational refits). The passes over
the data are counted by the chunks a generating function is asked for.
"""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from _oracles import augmented_system, regression_data
from hypothesis import given, settings
from hypothesis import strategies as st

from skrt import RegularityRidge
from skrt.exceptions import RegularityBoundWarning
from skrt.query import regularity_sampling

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

pytestmark = pytest.mark.filterwarnings(
    "ignore::skrt.exceptions.RegularityBoundWarning"
)

FIXED, SEARCHED = 1e-10, 1e-8


def close(got, want, rtol, scale=None, what=""):
    """max |got - want| <= rtol * max(|want|, scale)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    ref = max(np.abs(want).max(initial=0.0), scale or 0.0, 1e-300)
    err = np.abs(got - want).max(initial=0.0) / ref
    assert err <= rtol, f"{what}: relative error {err:.3g} > {rtol:g}"


def make_data(n=240, p=5, k=1, offset=False, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p) * rng.uniform(0.5, 2.0, p)
    if offset:
        X[:, 1] += 1e6
        X[:, 3] -= 3e6
    coef = rng.randn(p, k)
    Y = (X - X.mean(axis=0)) @ coef + 0.7 * rng.randn(n, k) + 2.0
    return X, (Y[:, 0] if k == 1 else Y)


def weights(kind, n, seed=1):
    rng = np.random.RandomState(seed)
    if kind == "fractional":
        return rng.uniform(0.2, 1.0, n)
    if kind == "integer":
        return rng.randint(1, 4, n).astype(float)
    if kind == "zeros":  # zero weights, a whole chunk of them included
        w = rng.uniform(0.5, 2.0, n)
        w[:30] = 0.0
        w[100:103] = 0.0
        return w
    return None


CHUNKS = {
    "even": (60, -1),
    "uneven": ((1, 49, 90, 70, 30), -1),
    "columns": ((70, 70, 70, 30), (2, 3)),
}


def assert_same_fit(got, want, rtol, x_scale=0.0):
    """Every fitted attribute of a dask fit against the numpy fit's."""
    close(got.alpha_, want.alpha_, rtol, what="alpha_")
    for name in ("coef_", "coef_tangent_", "loo_error_", "noise_variance_"):
        close(getattr(got, name), getattr(want, name), rtol, what=name)
    close(got.gcv_error_, want.gcv_error_, rtol, what="gcv_error_")
    # b = ȳ - x̄ᵀθ: relative to the terms it is the difference of
    theta = np.abs(np.atleast_2d(want.coef_)).sum()
    close(got.intercept_, want.intercept_, rtol, x_scale * theta, "intercept_")
    tangent = np.abs(np.atleast_2d(want.coef_tangent_)).sum()
    close(
        got.intercept_tangent_,
        want.intercept_tangent_,
        rtol,
        x_scale * tangent,
        "intercept_tangent_",
    )
    assert isinstance(got.leverage_, da.Array)
    assert isinstance(got.loo_residuals_, da.Array)
    leverage, loo = dask.compute(got.leverage_, got.loo_residuals_)
    close(leverage, want.leverage_, rtol, what="leverage_")
    close(loo, want.loo_residuals_, rtol, what="loo_residuals_")
    assert got.solver_ == "eigen"
    assert got.n_samples_fit_ == want.n_samples_fit_
    assert got.n_features_in_ == want.n_features_in_
    np.testing.assert_array_equal(got.n_iter_, want.n_iter_)
    for name in ("coef_", "alpha_", "loo_error_", "noise_variance_"):
        assert not isinstance(getattr(got, name), da.Array), name


CASES = [
    # alpha, chunks, weights, targets, fit_intercept, offset, dask weights
    pytest.param("loo", "even", None, 1, True, False, False, id="loo-even"),
    pytest.param("loo", "uneven", "fractional", 2, True, True, False, id="loo-w-2y"),
    pytest.param("loo", "columns", "integer", 1, True, True, True, id="loo-cols-dw"),
    pytest.param("loo", "uneven", "zeros", 1, True, False, True, id="loo-zero-w"),
    pytest.param("loo", "even", None, 2, False, False, False, id="loo-no-b"),
    pytest.param(2.5, "uneven", "fractional", 1, True, True, True, id="fixed-dw"),
    pytest.param(2.5, "even", None, 2, False, False, False, id="fixed-no-b"),
]


@pytest.mark.parametrize(
    "alpha, chunks, wkind, k, fit_intercept, offset, dask_w", CASES
)
def test_fit_equals_numpy(
    dask_client, alpha, chunks, wkind, k, fit_intercept, offset, dask_w
):
    X, y = make_data(k=k, offset=offset)
    w = weights(wkind, X.shape[0])
    Xd = da.from_array(X, chunks=CHUNKS[chunks])
    yd = da.from_array(y, chunks=55)  # chunked unlike X: realigned
    wd = da.from_array(w, chunks=80) if dask_w and w is not None else w
    params = dict(alpha=alpha, fit_intercept=fit_intercept)
    want = RegularityRidge(**params).fit(X, y, sample_weight=w)
    got = RegularityRidge(**params).fit(Xd, yd, sample_weight=wd)
    rtol = SEARCHED if alpha == "loo" else FIXED
    assert_same_fit(got, want, rtol, x_scale=3e6 if offset else 1.0)
    assert got.leverage_.chunks[0] == Xd.chunks[0]
    assert got.loo_residuals_.shape == np.shape(want.loo_residuals_)


@settings(max_examples=15, deadline=None)
@given(
    data=regression_data(multi_output=True),
    chunk=st.integers(1, 9),
    alpha=st.sampled_from([1.0, "loo"]),
    fit_intercept=st.booleans(),
)
def test_random_small_fits_equal_numpy(dask_client, data, chunk, alpha, fit_intercept):
    """n <= p or n > p (the numpy path then decomposes the n x n side),
    weights, one or two targets, chunks of 1 to 9 rows."""
    X, y, w = data
    params = dict(alpha=alpha, fit_intercept=fit_intercept)
    want = RegularityRidge(**params).fit(X, y, sample_weight=w)
    got = RegularityRidge(**params).fit(
        da.from_array(X, chunks=chunk), y, sample_weight=w
    )
    rtol = SEARCHED if alpha == "loo" else FIXED
    for name in ("alpha_", "coef_", "coef_tangent_", "loo_error_", "noise_variance_"):
        close(getattr(got, name), getattr(want, name), rtol, what=name)
    close(got.leverage_.compute(), want.leverage_, rtol, what="leverage_")


def test_leave_one_out_against_the_hat_matrix(dask_client):
    """Oracle of its own: leverages and LOO residuals from the explicit
    augmented hat matrix at the searched alpha, weights and offsets."""
    X, y = make_data(n=120, p=4, offset=True, seed=3)
    w = weights("fractional", 120)
    got = RegularityRidge(alpha="loo").fit(
        da.from_array(X, chunks=25), da.from_array(y, chunks=25), sample_weight=w
    )
    Xt, M, _ = augmented_system(X - X.mean(axis=0), w, got.alpha_)
    H = (Xt @ np.linalg.solve(M, Xt.T)) * w[None, :]
    resid = y - H @ y
    h = np.diag(H)
    close(got.leverage_.compute(), h, 1e-7, what="leverage")
    close(got.loo_residuals_.compute(), resid / (1 - h), 1e-7, what="LOO residuals")
    close(got.loo_error_, w @ (resid / (1 - h)) ** 2 / w.sum(), 1e-7, what="LOO")


def test_gcv_equals_numpy(dask_client):
    """alpha="gcv" searches closed forms (no pass per alpha): the minimum's
    value equals numpy's; alpha_ to the flatness of GCV at its minimum
    (both are bounded Brent on the value), and every other attribute equals
    a numpy fit at that alpha_."""
    X, y = make_data(k=2, offset=True, seed=5)
    w = weights("fractional", X.shape[0])
    want = RegularityRidge(alpha="gcv").fit(X, y, sample_weight=w)
    got = RegularityRidge(alpha="gcv").fit(
        da.from_array(X, chunks=50), da.from_array(y, chunks=50), sample_weight=w
    )
    close(got.alpha_, want.alpha_, 1e-5, what="alpha_")
    close(got.gcv_error_, want.gcv_error_, 1e-10, what="gcv_error_")
    assert got._spectral.n_passes == 3
    at = RegularityRidge(alpha=got.alpha_).fit(X, y, sample_weight=w)
    assert_same_fit(got, at, FIXED, x_scale=3e6)


def test_graded_columns_equal_numpy(dask_client):
    """Columns in units 1e9 apart: the relative-accurate decomposition of
    the summed XᵀWX (graded_eigh) against numpy's one-sided Jacobi on Z."""
    rng = np.random.RandomState(2)
    scales = np.array([1e-4, 1.0, 1e3, 10.0, 1e5])
    X = rng.randn(300, 5) * scales
    X[:, 1] += 1e4
    y = X @ (rng.randn(5) / scales) + 0.3 * rng.randn(300)
    for alpha in (1e-3, "loo"):
        want = RegularityRidge(alpha=alpha).fit(X, y)
        got = RegularityRidge(alpha=alpha).fit(
            da.from_array(X, chunks=77), da.from_array(y, chunks=77)
        )
        assert_same_fit(got, want, SEARCHED, x_scale=1e4)


def counting_design(path, chunks, p=5, k=1, offset=True):
    """(X, y) generated chunk by chunk; every generated chunk appends a
    line to ``path`` (from whichever worker process makes it)."""

    def make(block_info=None):
        start, stop = block_info[None]["array-location"][0]
        with open(path, "a") as f:
            f.write(f"{start}\n")
        rng = np.random.RandomState(start)
        Z = rng.randn(stop - start, p + k)
        if offset:
            Z[:, 0] += 1e6
        Z[:, p:] += Z[:, :p] @ np.linspace(-1, 1, p)[:, None]
        return Z

    Z = da.map_blocks(make, chunks=(chunks, (p + k,)), dtype=float)
    return Z[:, :p], (Z[:, p] if k == 1 else Z[:, p:])


def reads(path):
    with open(path) as f:
        return len(f.read().split())


def test_passes_over_the_data(dask_client, tmp_path):
    """The alpha grid costs one pass: a fixed alpha reads every chunk twice
    (moments, then the LOO sums at alpha), alpha="loo" with its minimum at
    a bound twice too (moments, then all 33 grid alphas at once), and an
    interior minimum two refinement passes more; X and y share their
    chunks' source and it is read once per pass."""
    path = tmp_path / "reads.txt"
    path.write_text("")
    chunks = (90, 60, 110, 40)
    X, y = counting_design(str(path), chunks)
    nc = len(chunks)
    model = RegularityRidge(alpha=1.0).fit(X, y)
    assert reads(path) == 2 * nc and model._spectral.n_passes == 2
    path.write_text("")
    with pytest.warns(RegularityBoundWarning, match="lower bound"):
        model = RegularityRidge(alpha="loo", alpha_bounds=(1e3, 1e6)).fit(X, y)
    assert reads(path) == 2 * nc and model._spectral.n_passes == 2
    path.write_text("")
    model = RegularityRidge(alpha="loo").fit(X, y)
    assert reads(path) == nc * model._spectral.n_passes
    assert model._spectral.n_passes == 4
    # the lazy outputs re-read the training chunks once when computed
    path.write_text("")
    dask.compute(model.leverage_, model.loo_residuals_, model.sample_information())
    assert reads(path) == nc
    Xn, yn = dask.compute(X, y)
    assert_same_fit(model, RegularityRidge(alpha="loo").fit(Xn, yn), SEARCHED, 1e6)


def test_predictions_on_dask_inputs(dask_client):
    """predict, predict(return_std=True) and predict_tangent of dask-fitted
    and numpy-fitted models on a dask X: lazy, chunked like X, equal to the
    numpy path on numpy X (which stays numpy)."""
    X, Y = make_data(k=2, offset=True, seed=7)
    Xv, _ = make_data(n=90, k=2, offset=True, seed=8)
    Xvd = da.from_array(Xv, chunks=(40, 2))
    want = RegularityRidge(alpha="loo").fit(X, Y)
    fitted = RegularityRidge(alpha="loo").fit(da.from_array(X, chunks=70), Y)
    for model in (want, fitted):
        pred = model.predict(Xvd)
        mean, std = model.predict(Xvd, return_std=True)
        tangent = model.predict_tangent(Xvd)
        for out in (pred, mean, std, tangent):
            assert isinstance(out, da.Array) and out.chunks[0] == (40, 40, 10)
            assert out.shape == (90, 2)
        want_mean, want_std = want.predict(Xv, return_std=True)
        close(pred.compute(), want.predict(Xv), SEARCHED, what="predict")
        close(mean.compute(), want_mean, SEARCHED, what="mean")
        close(std.compute(), want_std, SEARCHED, what="std")
        close(tangent.compute(), want.predict_tangent(Xv), SEARCHED, what="tangent")
        assert isinstance(model.predict(Xv), np.ndarray)
    y1 = RegularityRidge(alpha=1.0).fit(da.from_array(X, chunks=70), Y[:, 0])
    assert y1.predict(Xvd).shape == (90,)
    with pytest.raises(ValueError, match="expecting 5 features"):
        fitted.predict(da.ones((10, 4), chunks=5))


@pytest.mark.parametrize("k", [1, 2])
def test_sample_information(dask_client, k):
    """SI and F-SI (on the training rows, a numpy X_val and a dask X_val)
    of a dask fit: lazy, chunked like the training rows, equal to numpy's."""
    X, y = make_data(k=k, offset=True, seed=11)
    w = weights("integer", X.shape[0])
    Xv, _ = make_data(n=70, offset=True, seed=12)
    Xd = da.from_array(X, chunks=CHUNKS["uneven"])
    want = RegularityRidge(alpha="loo").fit(X, y, sample_weight=w)
    got = RegularityRidge(alpha="loo").fit(Xd, y, sample_weight=w)
    for kind in ("function", "weights"):
        for X_val in (None, Xv, da.from_array(Xv, chunks=30)):
            info = got.sample_information(X_val, kind=kind)
            assert isinstance(info, da.Array) and info.chunks == (Xd.chunks[0],)
            ref = want.sample_information(None if X_val is None else Xv, kind=kind)
            close(info.compute(), ref, SEARCHED, what=f"{kind} information")
    got1 = got.sample_information(noise_variance=1.0).compute()
    close(got1, want.sample_information(noise_variance=1.0), SEARCHED)
    with pytest.raises(ValueError, match="noise_variance must be positive"):
        got.sample_information(noise_variance=-1.0)
    with pytest.raises(ValueError, match="as_frame=True is not available"):
        got.sample_information(as_frame=True)


def test_influence_diagnostics(dask_client):
    """Every diagnostic of a dask fit (DFBETA(S) included) is a lazy array
    chunked like the training rows and equals numpy's."""
    X, y = make_data(offset=True, seed=13)
    y[17] += 25.0
    w = weights("fractional", X.shape[0])
    Xd = da.from_array(X, chunks=CHUNKS["uneven"])
    want = RegularityRidge(alpha="loo").fit(X, y, sample_weight=w)
    got = RegularityRidge(alpha="loo").fit(Xd, y, sample_weight=w)
    ref = want.influence_diagnostics()
    out = got.influence_diagnostics()
    assert list(out) == list(ref)
    for key, value in out.items():
        assert isinstance(value, da.Array) and value.chunks[0] == Xd.chunks[0]
        close(value.compute(), ref[key], SEARCHED, what=key)
    assert "dfbeta" not in got.influence_diagnostics(dfbeta=False)
    with pytest.raises(ValueError, match="as_frame=True is not available"):
        got.influence_diagnostics(as_frame=True)
    two = RegularityRidge(alpha=1.0).fit(Xd, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="supports one target"):
        two.influence_diagnostics()


def test_refit_noise_variance_where_the_identity_cancels(dask_client):
    """4 x 3, no intercept, small alpha (tests/test_influence.py): each
    left-out row takes nearly all of the RSS, so the refit's RSS is summed
    over the other chunks' rows. Oracle: exact rational refits."""
    from fractions import Fraction as F

    X = np.array(
        [
            [177.16627232, 40.13739585, 98.31766164],
            [224.85035765, 186.87747403, -97.28392475],
            [95.76987948, -15.01404581, -9.87802195],
            [41.82088792, 14.52603213, 145.87121393],
        ]
    )
    y = np.array([0.87515582, 2.77852396, 0.75538036, 0.80259492])
    s, (n, p) = 0.0625, X.shape
    Xf = [[F(v) for v in row] for row in X.tolist()]
    yf = [F(v) for v in y.tolist()]

    def solve(A, b):
        M = [row[:] + [bb] for row, bb in zip(A, b, strict=True)]
        for c in range(len(M)):
            piv = next(r for r in range(c, len(M)) if M[r][c] != 0)
            M[c], M[piv] = M[piv], M[c]
            for r in range(len(M)):
                if r != c and M[r][c] != 0:
                    f = M[r][c] / M[c][c]
                    M[r] = [a - f * b for a, b in zip(M[r], M[c], strict=True)]
        return [M[i][-1] / M[i][i] for i in range(len(M))]

    def system(rows):
        A = [
            [sum(Xf[k][i] * Xf[k][j] for k in rows) + (F(s) if i == j else 0)
             for j in range(p)]
            for i in range(p)
        ]  # fmt: skip
        return A, [sum(Xf[k][i] * yf[k] for k in rows) for i in range(p)]

    A, _ = system(range(n))
    df = sum(sum(Xf[k][i] * v for i, v in enumerate(solve(A, Xf[k]))) for k in range(n))
    want = []
    for i in range(n):
        rows = [k for k in range(n) if k != i]
        theta = solve(*system(rows))
        rss = sum(
            (yf[k] - sum(a * b for a, b in zip(Xf[k], theta, strict=True))) ** 2
            for k in rows
        )
        want.append(float(rss / (n - df - 1)))
    model = RegularityRidge(alpha=s, fit_intercept=False).fit(
        da.from_array(X, chunks=2), da.from_array(y, chunks=2)
    )
    got = model.influence_diagnostics()["loo_noise_variance"].compute()
    close(got, np.array(want), 1e-8, what="loo_noise_variance")


def test_loo_curve_and_acquisition_on_numpy_pools(dask_client):
    """loo_curve (one pass) and the acquisition of a dask fit with numpy
    pools: every heuristic's scores and greedy batches equal numpy's; the
    acquisition's parts pickle without the training data's graph."""
    import cloudpickle

    X, Y = make_data(k=2, offset=True, seed=21)
    w = weights("fractional", X.shape[0])
    pool, _ = make_data(n=80, offset=True, seed=22)
    want = RegularityRidge(alpha="loo").fit(X, Y, sample_weight=w)
    got = RegularityRidge(alpha="loo").fit(
        da.from_array(X, chunks=60), Y, sample_weight=w
    )
    alphas = [0.01, 1.0, 100.0]
    close(got.loo_curve(alphas), want.loo_curve(alphas), SEARCHED, what="loo_curve")
    for heuristic in ("sld", "sti", "variance", "ssi", "ssi_unlabeled"):
        close(
            got.score_samples(pool, heuristic=heuristic),
            want.score_samples(pool, heuristic=heuristic),
            1e-7,
            what=heuristic,
        )
    for heuristic in ("sld", "sti", "variance", "ssi", "ssi_unlabeled"):
        picks = regularity_sampling(got, pool, 6, heuristic=heuristic)[0]
        ref = regularity_sampling(want, pool, 6, heuristic=heuristic)[0]
        np.testing.assert_array_equal(picks, ref, err_msg=heuristic)
    acquisition = got.__skrt_acquisition__()
    size = len(cloudpickle.dumps(acquisition.tangent))
    assert size < 20000, size
    assert isinstance(acquisition.tangent(pool), np.ndarray)


def test_settings_the_dask_path_refuses(dask_client):
    X, y = make_data(n=60)
    Xd, yd = da.from_array(X, chunks=20), da.from_array(y, chunks=20)
    for solver in ("svd", "cg"):
        with pytest.raises(ValueError, match="solver='auto' or solver='eigen'"):
            RegularityRidge(solver=solver).fit(Xd, yd)
    with pytest.raises(ValueError, match="prior=None"):
        RegularityRidge(prior={"coef": np.zeros(5)}).fit(Xd, yd)
    sparse = pytest.importorskip("scipy.sparse")
    Xs = Xd.map_blocks(sparse.csr_matrix, meta=sparse.csr_matrix((0, 0)))
    with pytest.raises(TypeError, match="dense chunks"):
        RegularityRidge().fit(Xs, yd)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        RegularityRidge().fit(Xd[Xd[:, 0] > -10], yd)
    with pytest.raises(ValueError, match="shape"):
        RegularityRidge().fit(Xd, yd[:50])
    for y_short in (y[:50], list(y[:50]), y[:, None][:50]):  # numpy y: named too
        with pytest.raises(ValueError, match=r"y must have shape \(60,\)"):
            RegularityRidge().fit(Xd, y_short)
    with pytest.raises(ValueError, match="at least 3 samples"):
        RegularityRidge(alpha="loo").fit(Xd[:2], yd[:2])
    with pytest.raises(TypeError, match="real numbers"):
        RegularityRidge().fit(Xd.astype(str), yd)


def test_bad_values_found_in_the_first_pass(dask_client):
    X, y = make_data(n=60)
    Xbad = X.copy()
    Xbad[41, 2] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        RegularityRidge().fit(da.from_array(Xbad, chunks=20), y)
    ybad = y.copy()
    ybad[3] = np.inf
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        RegularityRidge().fit(da.from_array(X, chunks=20), da.from_array(ybad, 20))
    w = np.ones(60)
    w[50] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        RegularityRidge().fit(da.from_array(X, chunks=20), y, da.from_array(w, 20))
    with pytest.raises(ValueError, match="non-negative"):
        RegularityRidge().fit(da.from_array(X, chunks=20), y, w)
    with pytest.raises(ValueError, match="sums to zero"):
        RegularityRidge().fit(da.from_array(X, chunks=20), y, da.zeros(60, chunks=20))
    with pytest.raises(ValueError, match="X is too large in scale"):
        RegularityRidge().fit(da.from_array(X * 1e160, chunks=20), y)


def test_constant_inputs_warn_as_numpy(dask_client):
    X, y = make_data(n=60)
    Xd = da.from_array(X, chunks=20)
    with pytest.warns(RegularityBoundWarning, match="y is constant"):
        got = RegularityRidge(alpha="loo").fit(Xd, np.full(60, 3.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        want = RegularityRidge(alpha="loo").fit(X, np.full(60, 3.0))
    close(got.alpha_, want.alpha_, FIXED)
    close(got.intercept_, want.intercept_, FIXED)
    with pytest.warns(RegularityBoundWarning, match="no variation"):
        RegularityRidge(alpha="loo").fit(da.ones((60, 3), chunks=20), y)


def test_nothing_imports_dask_without_a_dask_input():
    """The numpy path, its queries and diagnostics never import dask."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from skrt import RegularityRidge
        from skrt.query import regularity_sampling
        rng = np.random.RandomState(0)
        X, y = rng.randn(40, 3), rng.randn(40)
        m = RegularityRidge(alpha="loo").fit(X, y)
        m.predict(X, return_std=True), m.predict_tangent(X), m.loo_curve([1.0])
        m.sample_information(), m.influence_diagnostics()
        m.score_samples(X, heuristic="ssi"), regularity_sampling(m, X, 3)
        loaded = [k for k in sys.modules if k.split(".")[0] in ("dask", "distributed")]
        assert not loaded, loaded
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_dask_validation_inputs_are_named(dask_client):
    X, y = make_data(n=60)
    model = RegularityRidge(alpha=1.0).fit(
        da.from_array(X, chunks=20), da.from_array(y, chunks=20)
    )
    V = np.random.RandomState(5).randn(30, X.shape[1])
    V[4, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.sample_information(da.from_array(V, chunks=10)).compute()
    with pytest.raises(ValueError, match="expecting"):
        model.sample_information(da.from_array(V[:, 1:], chunks=10))
