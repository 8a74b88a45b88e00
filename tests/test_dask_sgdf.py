"""SGDFRegressor on dask collections: partial_fit and fit streamed over the
row chunks, against the same calls on the computed chunks (numpy), explicit
gradients and the closed-form ridge; dask-ml's Incremental wrapper."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

da = pytest.importorskip("dask.array")

from skrt import SGDFRegressor  # noqa: E402

FITTED = (
    "coef_",
    "coef_tangent_",
    "intercept_",
    "intercept_tangent_",
    "alpha_",
    "noise_variance_",
    "n_iter_",
    "t_",
    "n_samples_fit_",
    "n_features_in_",
)


def _problem(seed=0, n=600, p=4):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p) + 2.0
    y = X @ rng.randn(p) + 0.3 * rng.randn(n) + 1.0
    w = rng.uniform(0.5, 2.0, n)
    return X, y, w


def _bounds(sizes):
    edges = np.concatenate([[0], np.cumsum(sizes)])
    return list(zip(edges[:-1], edges[1:], strict=True))


def _chunkwise(model, X, y, sizes, w=None, **kwargs):
    """The oracle: numpy partial_fit on each chunk, in order."""
    for a, b in _bounds(sizes):
        model.partial_fit(X[a:b], y[a:b], None if w is None else w[a:b], **kwargs)
    return model


def _assert_same(a, b):
    """Equal fitted attributes. The calls and their arguments are the same
    (``_recorded`` checks them exactly); numpy's and BLAS's reductions may
    round differently at a different memory alignment of the same values
    (chunks deserialised from the workers), hence 1e-12."""
    for name in FITTED:
        va, vb = getattr(a, name), getattr(b, name)
        np.testing.assert_allclose(va, vb, rtol=1e-12, atol=1e-14, err_msg=name)


def _recorded(monkeypatch, model, *args, **kwargs):
    """The numpy ``partial_fit`` calls a dask ``partial_fit`` makes, in order:
    ``[(X, y, sample_weight, kwargs), ...]``."""
    calls = []
    original = SGDFRegressor.partial_fit

    def spy(self, X, y, sample_weight=None, **kw):
        if not hasattr(X, "dask"):
            calls.append((np.asarray(X), y, sample_weight, kw))
        return original(self, X, y, sample_weight, **kw)

    monkeypatch.setattr(SGDFRegressor, "partial_fit", spy)
    model.partial_fit(*args, **kwargs)
    monkeypatch.undo()
    return calls


def _assert_calls(calls, X, y, sizes, w=None, **kwargs):
    assert len(calls) == len(sizes)
    for (Xc, yc, wc, kw), (a, b) in zip(calls, _bounds(sizes), strict=True):
        np.testing.assert_array_equal(Xc, X[a:b])
        np.testing.assert_array_equal(yc, y[a:b])
        if w is None:
            assert wc is None
        else:
            np.testing.assert_array_equal(wc, w[a:b])
        assert kw == {"total_sample_weight": kwargs.get("total_sample_weight")}


def _params(**kw):
    return {"alpha": 5.0, "random_state": 0, **kw}


# ----------------------------------------------------------------- partial_fit
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("y_kind", ["dask, X's chunks", "dask, other chunks", "numpy"])
def test_partial_fit_is_the_chunks_partial_fits(
    dask_client, monkeypatch, weighted, y_kind
):
    X, y, w = _problem()
    sizes = (150, 200, 50, 200)
    Xd = da.from_array(X, chunks=(sizes, 2))  # column chunks joined per row block
    if y_kind == "numpy":
        yd, wd = y, w
    else:
        chunks = sizes if y_kind == "dask, X's chunks" else 100
        yd, wd = da.from_array(y, chunks=chunks), da.from_array(w, chunks=chunks)
    wd = wd if weighted else None
    got = SGDFRegressor(**_params())
    calls = _recorded(monkeypatch, got, Xd, yd, wd)
    _assert_calls(calls, X, y, sizes, w if weighted else None)
    want = _chunkwise(SGDFRegressor(**_params()), X, y, sizes, w if weighted else None)
    _assert_same(got, want)
    assert got.n_iter_ == len(sizes)
    # a second call continues the stream, as numpy calls would
    got.partial_fit(Xd, yd, wd)
    _chunkwise(want, X, y, sizes, w if weighted else None)
    _assert_same(got, want)


@given(
    cuts=st.lists(st.integers(1, 299), min_size=0, max_size=5, unique=True),
    total=st.none() | st.floats(100.0, 1e4),
    schedule=st.sampled_from(["constant", "invscaling", "adam"]),
)
def test_partial_fit_any_chunking(cuts, total, schedule):
    X, y, _ = _problem(n=300, p=3, seed=1)
    edges = [0, *sorted(cuts), 300]
    sizes = tuple(b - a for a, b in zip(edges[:-1], edges[1:], strict=True))
    Xd, yd = da.from_array(X, chunks=(sizes, 3)), da.from_array(y, chunks=(sizes,))
    params = _params(learning_rate=schedule, batch_size=16)
    got = SGDFRegressor(**params)
    with pytest.MonkeyPatch.context() as monkeypatch:
        calls = _recorded(monkeypatch, got, Xd, yd, total_sample_weight=total)
    _assert_calls(calls, X, y, sizes, total_sample_weight=total)
    want = _chunkwise(SGDFRegressor(**params), X, y, sizes, total_sample_weight=total)
    _assert_same(got, want)


def test_partial_fit_dataframe_and_unknown_chunks(dask_client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y, _ = _problem(n=400, p=3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    Xf = dd.from_pandas(frame, npartitions=4)
    sizes = [len(Xf.partitions[i].compute()) for i in range(Xf.npartitions)]
    assert len(sizes) == 4 and sum(sizes) == 400
    got = SGDFRegressor(**_params()).partial_fit(Xf, y)  # y sliced per partition
    want = SGDFRegressor(**_params())
    for a, b in _bounds(sizes):
        want.partial_fit(frame.iloc[a:b], y[a:b])
    _assert_same(got, want)
    assert list(got.feature_names_in_) == ["a", "b", "c"]
    # a dask array of unknown chunk sizes (a boolean mask), y in memory
    keep = np.arange(400) % 3 != 0
    Xu = da.from_array(X, chunks=(100, 3))[da.from_array(keep, chunks=100)]
    assert np.isnan(Xu.chunks[0][0])
    got = SGDFRegressor(**_params()).partial_fit(Xu, y[keep])
    counts = [int(keep[i : i + 100].sum()) for i in range(0, 400, 100)]
    want = _chunkwise(SGDFRegressor(**_params()), X[keep], y[keep], counts)
    _assert_same(got, want)


# ------------------------------------------------------------------------ fit
def test_fit_without_shuffle_is_epochs_of_chunk_partial_fits(dask_client):
    X, y, w = _problem()
    sizes = (200, 200, 200)
    Xd = da.from_array(X, chunks=(sizes, 4))
    yd, wd = da.from_array(y, chunks=100), da.from_array(w, chunks=300)
    params = _params(shuffle=False, tol=None, max_iter=3, batch_size=32)
    got = SGDFRegressor(**params).fit(Xd, yd, wd)
    want = SGDFRegressor(**params)
    for _ in range(3):  # every chunk step divides the penalty by the whole W
        _chunkwise(want, X, y, sizes, w, total_sample_weight=w.sum())
    for name in ("coef_", "coef_tangent_", "intercept_", "intercept_tangent_", "t_"):
        np.testing.assert_allclose(
            getattr(got, name), getattr(want, name), rtol=1e-12, atol=1e-14
        )
    assert got.n_iter_ == 3 and want.n_iter_ == 9  # epochs vs calls
    assert got.n_samples_fit_ == 600
    r = X @ got.coef_ + got.intercept_ - y
    np.testing.assert_allclose(got.noise_variance_, w @ r**2 / w.sum(), rtol=1e-12)


def _ridge(X, y, w, s, fit_intercept=True):
    """Closed-form weighted ridge and its tangent dθ/ds (explicit solves)."""
    m = w @ X / w.sum() if fit_intercept else np.zeros(X.shape[1])
    ym = w @ y / w.sum() if fit_intercept else 0.0
    Xc = X - m
    A = Xc.T @ (w[:, None] * Xc) + s * np.eye(X.shape[1])
    coef = np.linalg.solve(A, Xc.T @ (w * (y - ym)))
    return coef, -np.linalg.solve(A, coef), ym - m @ coef


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fit_converges_to_the_closed_form(fit_intercept):
    import dask

    X, y, w = _problem(n=1200, p=5, seed=3)
    Xd = da.from_array(X, chunks=(250, 5))  # 5 chunks, the last one short
    model = SGDFRegressor(alpha=20.0, fit_intercept=fit_intercept, random_state=0)
    # ~100 epochs of two passes: in-process (a cluster adds latency per chunk)
    with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model.fit(Xd, da.from_array(y, chunks=250), da.from_array(w, chunks=250))
    coef, tangent, intercept = _ridge(X, y, w, 20.0, fit_intercept)
    # tol=1e-4 bounds the relative distance of coef_ and coef_tangent_
    assert np.linalg.norm(model.coef_ - coef) <= 1e-4 * np.linalg.norm(coef)
    assert np.linalg.norm(model.coef_tangent_ - tangent) <= 1e-4 * np.linalg.norm(
        tangent
    )
    if fit_intercept:
        assert abs(model.intercept_ - intercept) <= 1e-3 * (1 + abs(intercept))


def test_streamed_bounds_are_the_whole_datas(dask_client):
    """The chunk-summed gradient and tangent residual equal the explicit ones."""
    from skrt._sgdf_solver import stream_stationarity

    X, y, w = _problem(n=500, p=3, seed=4)
    s = 7.0
    model = SGDFRegressor(alpha=s, tol=None, max_iter=2, random_state=0)
    model.fit(X[:100], y[:100], w[:100])  # any point θ, θ̇, β, centre
    state = model._sgd
    chunks = [(X[a:b], y[a:b], w[a:b]) for a, b in _bounds((120, 80, 300))]
    state.total_weight = w.sum()
    stats = stream_stationarity(state, model._settings(), iter(chunks), w.sum(), {})
    theta, tdot = model.coef_, model.coef_tangent_
    r = X @ theta + model.intercept_ - y
    xdot = X @ tdot + model.intercept_tangent_
    m = w[:100] @ X[:100] / w[:100].sum()  # the centre: the fit's mean
    g = (X - m).T @ (w * 2 * r) + 2 * s * theta
    res = (X - m).T @ (w * 2 * xdot) + 2 * s * tdot + 2 * theta
    np.testing.assert_allclose(stats["g"], g, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(stats["r"], res, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(stats["g_b"], w @ (2 * r), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(stats["r_b"], w @ (2 * xdot), rtol=1e-9, atol=1e-9)
    objective = (w @ r**2 + s * theta @ theta) / w.sum()
    np.testing.assert_allclose(stats["objective"], objective, rtol=1e-12)
    np.testing.assert_allclose(stats["rss"], w @ r**2, rtol=1e-12)


def test_fit_streams_chunks_not_the_whole_array(peak_bytes):
    """X is 64 MB, generated chunk by chunk; the fit holds a few of its 2 MB
    chunks at a time. In-process scheduler: a LocalCluster's scheduler runs
    in this process and its task bookkeeping would be counted too."""
    import dask

    n = 800_000
    X = da.random.RandomState(0).standard_normal((n, 10), chunks=(25_000, 10))
    y = X @ np.arange(10.0) + da.random.RandomState(1).standard_normal(n, chunks=25_000)
    model = SGDFRegressor(alpha=1.0, batch_size=5000, max_iter=1, tol=None)
    with dask.config.set(scheduler="synchronous"):
        peak = peak_bytes(lambda: model.fit(X, y))
    assert peak < 20e6  # under a third of X's 64 MB
    assert model.n_samples_fit_ == n
    np.testing.assert_allclose(model.coef_, np.arange(10.0), atol=0.05)


def test_predict_is_lazy_and_equal(dask_client):
    X, y, _ = _problem()
    model = SGDFRegressor(**_params()).fit(X, y)
    Xd = da.from_array(X, chunks=(128, 2))
    pred = model.predict(Xd)
    assert isinstance(pred, da.Array) and pred.chunks[0] == Xd.chunks[0]
    np.testing.assert_array_equal(pred.compute(), model.predict(X))


# --------------------------------------------------------------------- errors
def test_bad_dask_inputs_are_clear_errors():
    X, y, _ = _problem(n=100, p=2)
    Xd = da.from_array(X, chunks=(50, 2))
    with pytest.raises(ValueError, match="alpha='online'"):
        SGDFRegressor(alpha="online").fit(Xd, y)
    with pytest.raises(ValueError, match="tangent_solver='cg'"):
        SGDFRegressor(tangent_solver="cg").fit(Xd, y)
    unknown = da.from_array(y, chunks=40)[da.ones(100, dtype=bool, chunks=40)]
    with pytest.raises(ValueError, match="y has 3 row chunks"):
        SGDFRegressor().partial_fit(Xd, unknown)
    with pytest.raises(ValueError, match="y has 99 rows, X has 100"):
        SGDFRegressor().partial_fit(Xd, y[:99])
    with pytest.raises(ValueError, match="sample_weight has 101 rows"):
        SGDFRegressor().fit(Xd, y, da.ones(101, chunks=50))
    with pytest.raises(TypeError, match="X must be a 1-D or 2-D dask array"):
        SGDFRegressor().fit(da.ones((4, 2, 2)), np.ones(4))


def test_nothing_imports_dask_without_a_dask_input():
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from skrt import SGDFRegressor
        X = np.random.RandomState(0).randn(50, 2)
        m = SGDFRegressor(max_iter=3, tol=None).fit(X, X[:, 0])
        m.partial_fit(X, X[:, 0]).predict(X)
        print("dask" in sys.modules)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------ dask-ml wrapper
def test_dask_ml_incremental_equals_the_chunk_partial_fits(dask_client):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y, _ = _problem()
    sizes = (100, 250, 250)
    Xd, yd = da.from_array(X, chunks=(sizes, 4)), da.from_array(y, chunks=(sizes,))
    inc = wrappers.Incremental(SGDFRegressor(**_params()), shuffle_blocks=False)
    inc.fit(Xd, yd)
    want = _chunkwise(SGDFRegressor(**_params()), X, y, sizes)
    _assert_same(inc.estimator_, want)
    # its predict maps the fitted model over the blocks
    np.testing.assert_array_equal(inc.predict(Xd).compute(), want.predict(X))
    # Incremental passes fit keyword arguments to every partial_fit call
    inc = wrappers.Incremental(SGDFRegressor(**_params()), shuffle_blocks=False)
    inc.fit(Xd, yd, total_sample_weight=600.0)
    want = _chunkwise(
        SGDFRegressor(**_params()), X, y, sizes, total_sample_weight=600.0
    )
    _assert_same(inc.estimator_, want)


def test_predict_on_a_dask_input_that_is_not_a_2d_array_is_named(dask_client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    model = SGDFRegressor(max_iter=200, random_state=0).fit(X, X @ [1.0, 2.0, 3.0])
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abc")), npartitions=2)
    for bad in (da.from_array(X[:, 0], chunks=10), frame):
        with pytest.raises(TypeError, match="X must be a 2-d dask array"):
            model.predict(bad)
