"""Query strategies and scores on dask pools (skrt._dask_query,
skrt._dask_pool): every index equal to the in-memory query's on the computed
pool for the same random_state, every score equal to 1e-12, on a
LocalCluster of two worker processes (the session ``dask_client``)."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from _oracles import augmented_system, ridge_tangent
from hypothesis import given, settings
from hypothesis import strategies as st

from skrt import RegularityKernelRidge, RegularityRidge
from skrt._heuristics import HEURISTICS
from skrt._querying import check_pool, resolve_learner, run_query
from skrt.exceptions import RegularityBoundWarning
from skrt.query import regularity_sampling

da = pytest.importorskip("dask.array")

PER_ROW = ("sld", "sti", "ssi", "ssi_unlabeled", "variance")
POOL = ("pool_variance", "ivr", "variance_ivr", "pool_tangent", "cluster_distance")
ALL = PER_ROW + POOL + ("auto",)
MODELS = {"ridge": RegularityRidge, "kernel": RegularityKernelRidge}


@pytest.fixture(autouse=True)
def _on_the_cluster(dask_client):
    """Every test here computes on the session's LocalCluster."""
    return dask_client


def _fit(name, n_train=30, p=4, seed=0, **params):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_train, p)
    y = X @ rng.randn(p) + 0.3 * rng.randn(n_train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        return MODELS[name](**{"alpha": "loo", **params}).fit(X, y)


def _uneven_chunks(n, rng):
    """Row chunks of random, uneven sizes (some of one row)."""
    cuts = np.sort(rng.choice(np.arange(1, n), size=min(5, n - 1), replace=False))
    return tuple(np.diff(np.r_[0, cuts, n]).tolist())


def _both(model, P, chunks, n, heuristic, batch, seed, **kw):
    """(in-memory indices and scores, dask indices and computed scores, stats)."""
    want, want_scores = regularity_sampling(
        model, P, n, heuristic=heuristic, batch=batch, random_state=seed
    )
    acquisition, transform = resolve_learner(model)
    pool = check_pool(da.from_array(P, chunks=(chunks, -1)), transform, acquisition)
    stats = {}
    from skrt._dask_query import dask_run_query

    got, scores, _ = dask_run_query(
        acquisition,
        pool,
        n,
        heuristic,
        batch,
        np.random.RandomState(seed),
        stats=stats,
        **kw,
    )
    return (want, want_scores), (got, scores.compute()), stats


def _assert_equal(want, got, rtol=1e-12):
    """Indices equal; scores to ``rtol`` of the largest."""
    np.testing.assert_array_equal(got[0], want[0])
    scale = max(np.abs(want[1]).max(), 1e-300)
    np.testing.assert_allclose(got[1], want[1], rtol=rtol, atol=rtol * scale)


# a kernel model's SLD/STI scores on a block of a few rows differ from the
# whole pool's by ~1e-11 in numpy alone (BLAS takes other paths for small
# products, and the tangent's cancellation amplifies the last bits):
# test_kernel_blocks_differ_as_numpy_blocks_do shows the dask path adds
# nothing to it
RTOL = {"ridge": 1e-12, "kernel": 1e-9}


# -- equality with the in-memory query ---------------------------------------


@pytest.mark.parametrize("batch", ["greedy", "topk"])
@pytest.mark.parametrize("heuristic", ALL)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_indices_and_scores_equal_the_in_memory_query(name, heuristic, batch):
    rng = np.random.RandomState(1)
    model = _fit(name)
    P = rng.randn(157, 4)
    want, got, _ = _both(model, P, _uneven_chunks(157, rng), 6, heuristic, batch, 3)
    _assert_equal(want, got, RTOL[name])


@pytest.mark.parametrize("heuristic", PER_ROW)
def test_kernel_blocks_differ_as_numpy_blocks_do(heuristic):
    # the dask scores equal numpy's on the same row blocks to 1e-12
    from skrt._dask_query import dask_score_samples

    rng = np.random.RandomState(1)
    model = _fit("kernel")
    P = rng.randn(157, 4)
    chunks = _uneven_chunks(157, rng)
    cuts = np.cumsum((0,) + chunks)
    by_block = np.concatenate(
        [
            model.score_samples(P[a:b], heuristic=heuristic)
            for a, b in zip(cuts[:-1], cuts[1:], strict=True)
        ]
    )
    Pd = da.from_array(P, chunks=(chunks, -1))
    got = dask_score_samples(model.__skrt_acquisition__(), Pd, heuristic).compute()
    np.testing.assert_allclose(got, by_block, rtol=1e-12, atol=1e-12 * by_block.max())


@settings(max_examples=8)
@given(
    seed=st.integers(0, 2**16),
    heuristic=st.sampled_from(ALL),
    n_train=st.sampled_from([6, 30, 400]),
    n=st.integers(1, 9),
)
def test_random_pools_and_chunks(seed, heuristic, n_train, n):
    rng = np.random.RandomState(seed)
    model = _fit("ridge", n_train=n_train, p=3, seed=seed)
    n_pool = int(rng.randint(n, 120))
    P = rng.standard_t(3, size=(n_pool, 3))  # heavy tails: large variances
    want, got, _ = _both(
        model, P, _uneven_chunks(n_pool, rng), n, heuristic, "greedy", seed
    )
    _assert_equal(want, got)


@pytest.mark.parametrize("batch", ["greedy", "topk"])
@pytest.mark.parametrize("heuristic", ALL)
def test_duplicate_rows_break_ties_as_in_memory(heuristic, batch):
    # copies of a few rows across chunks tie exactly; more copies than a
    # block reports (TIE_CAP) force the mask pass
    rng = np.random.RandomState(4)
    model = _fit("ridge", n_train=40)
    base = rng.randn(6, 4)
    P = base[rng.randint(0, 6, size=300)]
    want, got, stats = _both(model, P, (70, 1, 129, 100), 5, heuristic, batch, 7)
    _assert_equal(want, got)
    assert stats["draws"] >= 1


def test_a_pool_of_one_row_repeated():
    model = _fit("ridge")
    P = np.tile(np.random.RandomState(0).randn(1, 4), (200, 1))
    for heuristic in ("sld", "variance", "cluster_distance", "ivr"):
        for batch in ("greedy", "topk"):
            want, got, _ = _both(model, P, (90, 110), 4, heuristic, batch, 5)
            _assert_equal(want, got)


def test_all_rows_one_chunk_and_batch_larger_than_the_pool():
    model = _fit("kernel")
    P = np.random.RandomState(2).randn(7, 4)
    for heuristic in ("sld", "variance_ivr", "ssi"):
        want, got, _ = _both(model, P, (7,), 20, heuristic, "greedy", 0)
        _assert_equal(want, got, RTOL["kernel"])
        assert got[0].shape == (7,)


# -- the greedy certificate ---------------------------------------------------


@pytest.mark.parametrize("heuristic", PER_ROW)
def test_a_well_determined_model_certifies_in_one_pass(heuristic):
    rng = np.random.RandomState(0)
    model = _fit("ridge", n_train=3000, p=5)
    P = rng.randn(6000, 5)
    want, got, stats = _both(model, P, 500, 10, heuristic, "greedy", 0)
    _assert_equal(want, got)
    assert stats["passes"] == 1 and "exact_steps" not in stats
    assert stats["gathered"] == 12 * 10  # each block's 10 best rows


@pytest.mark.parametrize("heuristic", PER_ROW)
def test_exact_passes_where_the_certificate_fails(heuristic):
    # 6 training rows: large variances, the bound cannot certify; without
    # doublings every pick after the first is a full pass
    rng = np.random.RandomState(3)
    model = _fit("ridge", n_train=6, p=4)
    P = rng.randn(300, 4)
    want, got, stats = _both(
        model, P, (100, 100, 100), 6, heuristic, "greedy", 1, max_doublings=0
    )
    _assert_equal(want, got)
    if heuristic != "variance":
        assert stats["exact_steps"] >= 1
        assert stats["passes"] == 1 + stats["exact_steps"]


def test_topk_is_one_pass_without_boundary_ties():
    model = _fit("ridge")
    P = np.random.RandomState(0).randn(500, 4)
    want, got, stats = _both(model, P, 100, 8, "sld", "topk", 0, settle_rng=False)
    _assert_equal(want, got)
    assert stats["passes"] == 1 and stats["draws"] == 0


def _explicit_greedy_scores(heuristic, X, y, s, pool, picks, noise):
    """Every pool row's greedy score after ``picks`` from explicit matrices:
    M_B = M + Σ_b x̃_b x̃_bᵀ (virtual labels at the predictions)."""
    Xt, M, _ = augmented_system(X, np.ones(len(X)), s)
    Pt = np.hstack([np.ones((len(pool), 1)), pool])
    MB = M + Pt[picks].T @ Pt[picks]
    if heuristic == "variance":
        return np.einsum("ij,ji->i", Pt, np.linalg.solve(MB, Pt.T))
    if heuristic == "ssi_unlabeled":
        return 4.0 * np.sum((Xt @ np.linalg.solve(MB, Pt.T)) ** 2, axis=0)
    a = M @ ridge_tangent(X, y, np.ones(len(X)), s).ravel()  # ẋ = x̃ᵀM⁻¹a
    return 4.0 * noise * (Pt @ np.linalg.solve(MB, a)) ** 2


@pytest.mark.parametrize("heuristic", ["sld", "ssi_unlabeled", "variance"])
@pytest.mark.parametrize("seed", range(4))
def test_the_bound_holds_against_explicit_matrices(heuristic, seed):
    # √score_B(c) ≤ √score(c) + √κ(c, c) σ_B for every row and random picks
    from skrt._dask_query import GatheredGreedy

    rng = np.random.RandomState(seed)
    X = rng.randn(8, 3)
    y = X @ rng.randn(3) + rng.randn(8)
    model = RegularityRidge(alpha=0.7).fit(X, y)
    pool = 2.0 * rng.randn(60, 3)
    acq = model.__skrt_acquisition__()
    first = _explicit_greedy_scores(
        heuristic, X, y, 0.7, pool, [], model.noise_variance_
    )
    variance = _explicit_greedy_scores("variance", X, y, 0.7, pool, [], None)
    top = {"index": np.arange(60), "rows": pool, "rest": np.array([-np.inf])}
    gathered = GatheredGreedy(acq, heuristic, top, [], [])
    picks = list(rng.choice(60, 5, replace=False))
    for t, pick in enumerate(picks, 1):
        gathered.add(pick)
        sigma = gathered.sigma()
        after = _explicit_greedy_scores(
            heuristic, X, y, 0.7, pool, picks[:t], model.noise_variance_
        )
        bound = (np.sqrt(first) + np.sqrt(variance) * sigma) ** 2
        assert np.all(after <= bound * (1 + 1e-9) + 1e-12)
        if heuristic == "variance":
            assert sigma == 0.0
        else:  # the bound is not vacuous: some row comes within 10x of it
            assert np.max(after - first) > 0 or sigma > 0


def test_the_bound_test_can_fail():
    # σ_B = 0 would claim the SLD scores never grow; the explicit greedy
    # scores do grow for some row
    rng = np.random.RandomState(0)
    X = rng.randn(8, 3)
    y = X @ rng.randn(3) + rng.randn(8)
    pool = 2.0 * rng.randn(60, 3)
    noise = RegularityRidge(alpha=0.7).fit(X, y).noise_variance_
    first = _explicit_greedy_scores("sld", X, y, 0.7, pool, [], noise)
    after = _explicit_greedy_scores("sld", X, y, 0.7, pool, [3, 17], noise)
    assert np.any(after > first * (1 + 1e-6))


# -- scores -------------------------------------------------------------------


@pytest.mark.parametrize("heuristic", PER_ROW + ("auto", "ivr"))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_score_samples_is_lazy_and_equal(name, heuristic):
    from skrt._dask_query import dask_score_samples

    model = _fit(name)
    P = np.random.RandomState(0).randn(90, 4)
    Pd = da.from_array(P, chunks=((40, 1, 49), (4,)))
    got = dask_score_samples(
        model.__skrt_acquisition__(), Pd, heuristic, random_state=2
    )
    assert isinstance(got, da.Array) and got.chunks == ((40, 1, 49),)
    want = model.score_samples(P, heuristic=heuristic, random_state=2)
    rtol = RTOL[name]
    np.testing.assert_allclose(got.compute(), want, rtol=rtol, atol=rtol * want.max())


@pytest.mark.parametrize("heuristic", ["sld", "sti", "ssi"])
def test_labeled_scores_with_dask_labels(heuristic):
    from skrt._dask_query import dask_score_samples

    rng = np.random.RandomState(1)
    model = _fit("ridge")
    P, yP = rng.randn(70, 4), rng.randn(70)
    Pd = da.from_array(P, chunks=30)

    def weight(rows, labels):  # L'(r)² of the squared loss, r = f - y
        return (2.0 * (model.predict(rows) - labels))[:, None] ** 2

    got = dask_score_samples(
        model.__skrt_acquisition__(),
        Pd,
        heuristic,
        weight,
        y=da.from_array(yP, chunks=25),
    )
    want = model.score_samples(P, yP, heuristic=heuristic)
    np.testing.assert_allclose(got.compute(), want, rtol=1e-12)


def test_scores_are_not_computed_until_asked():
    from skrt._dask_query import dask_score_samples

    model = _fit("ridge")

    def explode(block):
        raise RuntimeError("computed")

    P = da.from_array(np.zeros((20, 4)), chunks=10).map_blocks(explode, dtype=float)
    scores = dask_score_samples(model.__skrt_acquisition__(), P, "sld")
    with pytest.raises(RuntimeError, match="computed"):
        scores.compute()


@pytest.mark.parametrize("heuristic", ["variance", "sld", "ssi", "ivr"])
def test_score_samples_of_a_dask_pool_is_lazy_and_equal(dask_client, heuristic):
    model = _fit("ridge")
    rng = np.random.RandomState(0)
    P, y = rng.randn(50, 4), rng.randn(50)
    got = model.score_samples(da.from_array(P, chunks=20), heuristic=heuristic)
    assert isinstance(got, da.Array) and got.chunks == ((20, 20, 10),)
    want = model.score_samples(P, heuristic=heuristic)
    np.testing.assert_allclose(got.compute(), want, rtol=1e-12, atol=1e-300)
    if heuristic in ("sld", "ssi"):  # the labeled form, y as dask and as numpy
        want = model.score_samples(P, y, heuristic=heuristic)
        for labels in (da.from_array(y, chunks=20), y):
            got = model.score_samples(da.from_array(P, chunks=20), labels, heuristic)
            np.testing.assert_allclose(got.compute(), want, rtol=1e-12)
    with pytest.raises(ValueError, match="as_frame=True is not available"):
        model.score_samples(da.from_array(P, chunks=20), as_frame=True)


def test_score_samples_of_a_dask_fit(dask_client):
    rng = np.random.RandomState(1)
    X, y = rng.randn(80, 3), rng.randn(80)
    dask_model = RegularityRidge(alpha="loo").fit(
        da.from_array(X, chunks=30), da.from_array(y, chunks=30)
    )
    numpy_model = RegularityRidge(alpha="loo").fit(X, y)
    P, labels = rng.randn(40, 3), rng.randn(40)
    for args in ((), (da.from_array(labels, chunks=15),)):
        got = dask_model.score_samples(da.from_array(P, chunks=15), *args)
        want = numpy_model.score_samples(P, *(labels,) * len(args))
        np.testing.assert_allclose(got.compute(), want, rtol=1e-8)


# -- what a dask pool takes ----------------------------------------------------


def test_a_pipeline_pool_goes_through_the_earlier_steps():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.RandomState(0)
    X, y = 5 + 3 * rng.randn(40, 4), rng.randn(40)
    pipe = make_pipeline(StandardScaler(), RegularityRidge(alpha="loo")).fit(X, y)
    P = 5 + 3 * rng.randn(120, 4)
    for heuristic in ("sld", "cluster_distance"):
        want, _ = regularity_sampling(pipe, P, 4, heuristic=heuristic, random_state=0)
        got, scores = regularity_sampling(
            pipe, da.from_array(P, chunks=50), 4, heuristic=heuristic, random_state=0
        )
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.int64 and isinstance(scores, da.Array)


def test_a_dask_dataframe_pool():
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    model = _fit("ridge")
    P = np.random.RandomState(0).randn(80, 4)
    frame = dd.from_pandas(pd.DataFrame(P), npartitions=3)
    want, _ = regularity_sampling(model, P, 5, heuristic="sld", random_state=1)
    got, _ = regularity_sampling(model, frame, 5, heuristic="sld", random_state=1)
    np.testing.assert_array_equal(got, want)


def test_a_random_state_instance_ends_where_the_in_memory_query_leaves_it():
    model = _fit("ridge")
    P = np.random.RandomState(0).randn(100, 4)
    for heuristic in ("sld", "ivr"):
        a, b = np.random.RandomState(9), np.random.RandomState(9)
        regularity_sampling(model, P, 4, heuristic=heuristic, random_state=a)
        regularity_sampling(
            model, da.from_array(P, chunks=30), 4, heuristic=heuristic, random_state=b
        )
        assert a.randint(2**31) == b.randint(2**31)


# -- errors ---------------------------------------------------------------------


def test_wrong_columns_fail_before_any_pass():
    model = _fit("ridge")
    with pytest.raises(ValueError, match="features"):
        regularity_sampling(model, da.zeros((30, 5), chunks=10))


def test_an_overflowing_pool_names_its_scale():
    model = _fit("ridge")
    P = np.random.RandomState(0).randn(60, 4)
    P[33] = 1e200
    for batch in ("greedy", "topk"):
        with pytest.raises(ValueError, match="not finite in float64 for X_pool"):
            regularity_sampling(
                model, da.from_array(P, chunks=20), 3, heuristic="variance", batch=batch
            )


def test_steps_and_array_api_models_are_value_errors():
    model = _fit("ridge")
    acquisition, transform = resolve_learner(model)
    pool = check_pool(da.zeros((10, 4), chunks=5), transform, acquisition)
    with pytest.raises(ValueError, match="Every round's scores"):
        run_query(
            acquisition, pool, 2, "sld", "greedy", np.random.RandomState(0), steps=True
        )
    from dataclasses import replace

    other = replace(acquisition, namespace=(np, "cpu"))
    with pytest.raises(ValueError, match="array-API"):
        check_pool(da.zeros((10, 4), chunks=5), None, other)


def test_empty_pool_and_missing_parts():
    ridge = _fit("ridge")
    with pytest.raises(ValueError, match="empty"):
        regularity_sampling(ridge, da.zeros((0, 4), chunks=5))
    from skrt import SGDFRegressor

    rng = np.random.RandomState(0)
    sgdf = SGDFRegressor(random_state=0).fit(rng.randn(30, 3), rng.randn(30))
    pool = da.from_array(rng.randn(20, 3), chunks=7)
    with pytest.raises(ValueError, match="heuristic='variance'"):
        regularity_sampling(sgdf, pool, 2, heuristic="variance", batch="topk")
    for heuristic in HEURISTICS:
        if heuristic in POOL:
            with pytest.raises(ValueError):
                regularity_sampling(sgdf, pool, 3, heuristic=heuristic)


def test_nothing_imports_dask_for_numpy_inputs():
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from skrt import RegularityRidge
        from skrt.query import regularity_sampling
        rng = np.random.RandomState(0)
        model = RegularityRidge(alpha="loo").fit(rng.randn(30, 3), rng.randn(30))
        P = rng.randn(50, 3)
        for h in ("sld", "ivr", "cluster_distance"):
            regularity_sampling(model, P, 3, heuristic=h, random_state=0)
        model.score_samples(P)
        top = {m.split(".")[0] for m in sys.modules}
        assert not top & {"dask", "distributed"}, sorted(top & {"dask", "distributed"})
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize(
    "heuristic", ["sld", "ssi", "ivr", "pool_tangent", "cluster_distance"]
)
def test_row_blocks_inside_a_chunk(heuristic, monkeypatch):
    # tiny BLOCK_BYTES: every chunk is scored in blocks of a few rows (the
    # synchronous scheduler, so that the workers see the patched value)
    import dask

    import skrt._centering

    monkeypatch.setattr(skrt._centering, "BLOCK_BYTES", 4096)
    model = _fit("ridge", n_train=50)
    P = np.random.RandomState(5).randn(230, 4)
    with dask.config.set(scheduler="sync"):
        want, got, _ = _both(model, P, (100, 130), 5, heuristic, "greedy", 2)
    _assert_equal(want, got)


@pytest.mark.parametrize("batch", ["greedy", "topk"])
def test_a_dask_fitted_model_queries_a_dask_pool(batch):
    # RegularityRidge fitted on dask arrays (numpy parameters, numpy
    # acquisition parts): the dask pool gets the numpy pool's indices
    rng = np.random.RandomState(0)
    X, y = rng.randn(300, 5), rng.randn(300)
    model = RegularityRidge(alpha="loo").fit(
        da.from_array(X, chunks=70), da.from_array(y, chunks=70)
    )
    P = rng.randn(400, 5)
    for heuristic in ("sld", "sti", "ssi", "variance", "ivr", "auto"):
        want, want_scores = regularity_sampling(
            model, P, 5, heuristic=heuristic, batch=batch, random_state=1
        )
        got, scores = regularity_sampling(
            model,
            da.from_array(P, chunks=((150, 3, 247), (5,))),
            5,
            heuristic=heuristic,
            batch=batch,
            random_state=1,
        )
        _assert_equal((want, want_scores), (got, scores.compute()))


@pytest.mark.parametrize("heuristic", ["ssi", "ssi_unlabeled"])
def test_the_reduced_ssi_reference_scores_as_the_training_set(heuristic):
    # two targets, greedy updates: the r x r rows per target give the terms
    # of the whole training set
    from dataclasses import replace

    from skrt._batch import PoolScorer
    from skrt._dask_blocks import ReducedReference

    rng = np.random.RandomState(0)
    X, Y = rng.randn(50, 4), rng.randn(50, 2)
    model = RegularityRidge(alpha=0.5).fit(X, Y)
    acq = model.__skrt_acquisition__()
    curv = acq.curvature
    T, omegas = curv.reference(heuristic)
    reduced = ReducedReference(heuristic, T, omegas)
    assert T.shape == (50, 5) and reduced.T.shape == (len(omegas) * 5, 5)
    small = replace(acq, curvature=replace(curv, reference=reduced))
    P = rng.randn(40, 4)
    full, light = PoolScorer(acq, P, heuristic), PoolScorer(small, P, heuristic)
    for pick in (None, 3, 17, 8):
        if pick is not None:
            full.add(pick)
            light.add(pick)
        np.testing.assert_allclose(light.scores(), full.scores(), rtol=1e-10)
    with pytest.raises(ValueError, match="reduced for"):
        reduced("ssi" if heuristic == "ssi_unlabeled" else "ssi_unlabeled")


@pytest.mark.parametrize("heuristic", ["sld", "ssi", "variance_ivr"])
def test_two_targets(heuristic):
    rng = np.random.RandomState(2)
    X, Y = rng.randn(60, 3), rng.randn(60, 2)
    model = RegularityRidge(alpha="loo").fit(X, Y)
    P = rng.randn(150, 3)
    want, got, _ = _both(model, P, (40, 60, 50), 6, heuristic, "greedy", 0)
    _assert_equal(want, got)
