"""The query side on array-API pools (issue 17): scores and greedy batches.

The oracle is the numpy path itself, on an acquisition built by hand from
explicit matrices that share no code with skrt: a weighted ridge with an
intercept, ``x̃ = (1, x)``, ``M = X̃ᵀWX̃ + sP`` (no penalty on the
intercept), ``κ(a, b) = x̃_aᵀ M⁻¹ x̃_b``, the tangent ``x̃ᵀθ̇`` with
``θ̇ = -M⁻¹Pθ*``, the STI response ``x̃ᵀM⁻¹X̃ᵀWr`` and the SSI coordinates
``q(x) = M⁻¹x̃`` against ``t_j = x̃_j``. The same matrices drive one
acquisition whose parts compute in numpy and one whose parts compute in the
fixture's namespace on its device (and check that what they are handed is
there: a pool, index or weight left on the host fails). Every heuristic,
both batch modes: the chosen indices equal, the scores equal to 1e-10 in
float64, and every output where it belongs (scores in the pool's namespace
and on its device, indices numpy int64).

Run as ``SCIPY_ARRAY_API=1 python -m pytest tests/test_array_api_query.py``
(tests/conftest.py sets it when pytest imports scipy first).
"""

import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator
from sklearn.externals import array_api_compat

import skrt._centering
from skrt import RegularityKernelRidge, RegularityRidge
from skrt._acquisition import Acquisition, Curvature
from skrt._batch import PoolScorer
from skrt._heuristics import HEURISTICS
from skrt._pool import group_sums, make_scorer
from skrt._querying import run_query
from skrt.exceptions import RegularityBoundWarning
from skrt.query import regularity_sampling, ssi_sampling

RTOL = 1e-10
ALL = HEURISTICS + ("auto",)


def _system(seed=0, n_fit=25, p=3, n_targets=1, s=0.7):
    """The explicit matrices of a fitted weighted ridge."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n_fit, p)
    Y = X @ rng.randn(p, n_targets) + 0.3 * rng.randn(n_fit, n_targets)
    w = rng.uniform(0.5, 2.0, n_fit)
    Xa = np.hstack([np.ones((n_fit, 1)), X])
    P = np.diag([0.0] + [1.0] * p)
    Minv = np.linalg.inv(Xa.T @ (w[:, None] * Xa) + s * P)
    Minv = 0.5 * (Minv + Minv.T)
    theta = Minv @ Xa.T @ (w[:, None] * Y)
    R = Xa @ theta - Y
    return {
        "Minv": Minv,
        "theta_dot": -Minv @ P @ theta,
        "sti": Minv @ Xa.T @ (w[:, None] * R),
        "T": Xa,
        "omega_ssi": [w * R[:, k] ** 2 for k in range(n_targets)],
        "omega_unl": [w],
        "noise": np.full(n_targets, 0.3 + 0.1 * seed),
    }


def _numpy_acquisition(m, family="linear"):
    def aug(X):
        return np.hstack([np.ones((X.shape[0], 1)), X])

    def cross(X, i, cache):
        A = aug(X)
        out = A @ (m["Minv"] @ A[np.atleast_1d(i)].T)
        return out[:, 0] if np.ndim(i) == 0 else out

    def reference(heuristic):
        return m["T"], m["omega_ssi" if heuristic == "ssi" else "omega_unl"]

    return Acquisition(
        validate=lambda X: np.asarray(X, dtype=float),
        tangent=lambda X: aug(X) @ m["theta_dot"],
        noise_variance=m["noise"],
        advice="is not given by this hand-built model.",
        sti=lambda X: aug(X) @ m["sti"],
        curvature=Curvature(
            cross=cross,
            variance=lambda X: np.einsum("ij,ij->i", aug(X) @ m["Minv"], aug(X)),
            coordinates=lambda X: aug(X) @ m["Minv"],
            reference=reference,
        ),
        n_samples_fit=m["T"].shape[0],
        family=family,
    )


def _xp_acquisition(m, ns, family="linear", dtype=None, noise_on_device=False):
    """The same acquisition computing in ``ns``; each part asserts that its
    input is an array of that namespace on that device."""
    xp = ns.xp
    put = {k: ns.asarray(v, dtype) for k, v in m.items() if isinstance(v, np.ndarray)}
    device = array_api_compat.device(put["Minv"])

    def here(a):
        assert not isinstance(a, np.ndarray), "a numpy array reached a device part"
        assert array_api_compat.device(a) == device, "an array on another device"
        return a

    def aug(X):
        here(X)
        ones = xp.ones((X.shape[0], 1), dtype=X.dtype, device=device)
        return xp.concat([ones, X], axis=1)

    def cross(X, i, cache):
        A = aug(X)
        if isinstance(i, int):
            return A @ (put["Minv"] @ A[i, :])
        return A @ (put["Minv"] @ xp.take(A, here(i), axis=0).T)

    def reference(heuristic):
        omegas = m["omega_ssi" if heuristic == "ssi" else "omega_unl"]
        return put["T"], [ns.asarray(om, dtype) for om in omegas]

    return Acquisition(
        validate=here,
        tangent=lambda X: aug(X) @ put["theta_dot"],
        noise_variance=put["noise"] if noise_on_device else m["noise"],
        advice="is not given by this hand-built model.",
        sti=lambda X: aug(X) @ put["sti"],
        curvature=Curvature(
            cross=cross,
            variance=lambda X: xp.sum((aug(X) @ put["Minv"]) * aug(X), axis=1),
            coordinates=lambda X: aug(X) @ put["Minv"],
            reference=reference,
        ),
        n_samples_fit=m["T"].shape[0],
        family=family,
        namespace=None if noise_on_device else (xp, device),
    )


class _Model(BaseEstimator):
    """A fitted model to the query code: its acquisition hook, no more."""

    def __init__(self, acquisition=None):
        self.acquisition = acquisition

    def fit(self, X, y):  # pragma: no cover - never called
        return self

    def __sklearn_is_fitted__(self):
        return True

    def __skrt_acquisition__(self):
        return self.acquisition


def _pool(seed=1, n=40, p=3):
    return np.random.RandomState(seed).randn(n, p)


def _assert_on(a, ns, like):
    """``a`` is an array of ``ns`` on ``like``'s device, not numpy."""
    assert not isinstance(a, np.ndarray)
    assert array_api_compat.device(a) == array_api_compat.device(like)
    assert ns.xp.isdtype(a.dtype, "real floating")


def _pair(ns, seed=0, n_targets=1, family="linear", **kw):
    m = _system(seed, n_targets=n_targets)
    return (
        _Model(_numpy_acquisition(m, family)),
        _Model(_xp_acquisition(m, ns, family, **kw)),
    )


@pytest.mark.parametrize("batch", ["greedy", "topk"])
@pytest.mark.parametrize("heuristic", ALL)
def test_query_equals_numpy(array_namespaces, heuristic, batch):
    ns = array_namespaces
    model_np, model_xp = _pair(ns, seed=2, family="kernel")
    pool = _pool(3, n=50)
    pool_xp = ns.asarray(pool)
    kw = dict(heuristic=heuristic, batch=batch, random_state=5, n_landmarks=12)
    idx_np, s_np = regularity_sampling(model_np, pool, 6, **kw)
    idx_xp, s_xp = regularity_sampling(model_xp, pool_xp, 6, **kw)
    assert isinstance(idx_xp, np.ndarray) and idx_xp.dtype == np.int64
    np.testing.assert_array_equal(idx_xp, idx_np)
    _assert_on(s_xp, ns, pool_xp)
    np.testing.assert_allclose(ns.to_numpy(s_xp), s_np, rtol=RTOL, atol=1e-300)


@pytest.mark.parametrize("heuristic", ALL)
def test_two_targets_and_linear_family(array_namespaces, heuristic):
    # "auto" resolves per family and batch size; two targets sum their terms
    ns = array_namespaces
    model_np, model_xp = _pair(ns, seed=4, n_targets=2)
    pool = _pool(5, n=30)
    for n in (1, 4):
        idx_np, s_np = regularity_sampling(
            model_np, pool, n, heuristic=heuristic, random_state=1
        )
        idx_xp, s_xp = regularity_sampling(
            model_xp, ns.asarray(pool), n, heuristic=heuristic, random_state=1
        )
        np.testing.assert_array_equal(idx_xp, idx_np)
        np.testing.assert_allclose(ns.to_numpy(s_xp), s_np, rtol=RTOL)


@pytest.mark.parametrize("heuristic", ["sld", "ssi", "cluster_distance", "ivr"])
@pytest.mark.parametrize("batch", ["greedy", "topk"])
def test_every_round_equals_numpy(array_namespaces, heuristic, batch):
    # run_query's step scores: every greedy round after the virtual labels
    ns = array_namespaces
    model_np, model_xp = _pair(ns, seed=6)
    pool = _pool(7, n=35)
    acq_np, acq_xp = model_np.acquisition, model_xp.acquisition
    pool_xp = ns.asarray(pool)
    out_np = run_query(
        acq_np, pool, 5, heuristic, batch, np.random.RandomState(3), steps=True
    )
    out_xp = run_query(
        acq_xp, pool_xp, 5, heuristic, batch, np.random.RandomState(3), steps=True
    )
    np.testing.assert_array_equal(out_xp[0], out_np[0])
    for got, want in zip(out_xp[1:], out_np[1:], strict=True):
        _assert_on(got, ns, pool_xp)
        np.testing.assert_allclose(ns.to_numpy(got), want, rtol=RTOL)


@pytest.mark.parametrize("heuristic", ALL)
def test_row_blocks_stay_on_the_device(array_namespaces, monkeypatch, heuristic):
    # blocks of a few rows: map_rows fills a device array block by block (a
    # host round trip would meet array_api_strict's second device and fail)
    ns = array_namespaces
    monkeypatch.setattr(skrt._centering, "BLOCK_BYTES", 8 * 6 * 7)
    model_np, model_xp = _pair(ns, seed=8, family="kernel")
    pool = _pool(9, n=45)
    kw = dict(heuristic=heuristic, random_state=2, n_landmarks=10)
    idx_np, s_np = regularity_sampling(model_np, pool, 4, **kw)
    idx_xp, s_xp = regularity_sampling(model_xp, ns.asarray(pool), 4, **kw)
    np.testing.assert_array_equal(idx_xp, idx_np)
    np.testing.assert_allclose(ns.to_numpy(s_xp), s_np, rtol=RTOL)


@pytest.mark.parametrize("batch", ["greedy", "topk"])
@pytest.mark.parametrize("heuristic", ["sld", "variance", "pool_variance"])
def test_ties_broken_as_numpy(array_namespaces, heuristic, batch):
    # repeated rows score alike: the host permutations break the ties, so
    # the device picks what numpy picks for every random_state
    ns = array_namespaces
    model_np, model_xp = _pair(ns, seed=10)
    pool = np.repeat(_pool(11, n=4), 6, axis=0)
    for seed in range(4):
        kw = dict(heuristic=heuristic, batch=batch, random_state=seed)
        idx_np, s_np = regularity_sampling(model_np, pool, 3, **kw)
        idx_xp, s_xp = regularity_sampling(model_xp, ns.asarray(pool), 3, **kw)
        assert np.unique(s_np).size <= 4  # ties there are
        np.testing.assert_array_equal(idx_xp, idx_np)


@pytest.mark.parametrize("heuristic", ["sld", "sti", "ssi"])
def test_labeled_form_equals_numpy(array_namespaces, heuristic):
    # the weight L'(r)² of known labels comes in the pool's namespace
    ns = array_namespaces
    model_np, model_xp = _pair(ns, seed=12, n_targets=2)
    pool = _pool(13, n=20)
    weight = np.random.RandomState(0).uniform(0.1, 3.0, (20, 2))
    want = make_scorer(
        model_np.acquisition, pool, heuristic, greedy=False, weight=weight
    ).scores()
    got = make_scorer(
        model_xp.acquisition,
        ns.asarray(pool),
        heuristic,
        greedy=False,
        weight=ns.asarray(weight),
    ).scores()
    _assert_on(got, ns, ns.asarray(pool))
    np.testing.assert_allclose(ns.to_numpy(got), want, rtol=RTOL)


def test_greedy_scorer_state_equals_numpy(array_namespaces):
    # PoolScorer itself, pick after pick, for the per-row heuristics
    ns = array_namespaces
    model_np, model_xp = _pair(ns, seed=14, n_targets=2)
    pool = _pool(15, n=25)
    for heuristic in ("sld", "sti", "ssi", "ssi_unlabeled", "variance"):
        a = PoolScorer(model_np.acquisition, pool, heuristic)
        b = PoolScorer(model_xp.acquisition, ns.asarray(pool), heuristic)
        for i in (3, 17, 0, 9):
            np.testing.assert_allclose(
                ns.to_numpy(b.scores()), a.scores(), rtol=RTOL, atol=1e-300
            )
            a.add(i)
            b.add(i)


def test_noise_variance_on_the_device_names_the_namespace(array_namespaces):
    # a model's noise_variance_ in its namespace: Acquisition keeps a host
    # copy and takes the namespace from it when none is given
    ns = array_namespaces
    m = _system(16)
    acq = _xp_acquisition(m, ns, noise_on_device=True)
    assert isinstance(acq.noise_variance, np.ndarray)
    np.testing.assert_array_equal(acq.noise_variance, m["noise"])
    assert acq.namespace is not None
    assert acq.namespace[0].__name__ == ns.xp.__name__
    idx, scores = regularity_sampling(
        _Model(acq), ns.asarray(_pool(17)), 3, heuristic="sld"
    )
    want = regularity_sampling(
        _Model(_numpy_acquisition(m)), _pool(17), 3, heuristic="sld"
    )
    np.testing.assert_array_equal(idx, want[0])


def test_pool_in_another_namespace_is_a_value_error(array_namespaces):
    ns = array_namespaces
    model_np, model_xp = _pair(ns, seed=18)
    pool = _pool(19)
    with pytest.raises(ValueError, match="X_pool is a numpy array, but the model"):
        regularity_sampling(model_xp, pool, 2, heuristic="sld")
    with pytest.raises(ValueError, match="fitted on numpy arrays"):
        regularity_sampling(model_np, ns.asarray(pool), 2, heuristic="sld")
    with pytest.raises(ValueError, match="X_pool is a numpy array"):
        ssi_sampling(model_xp, pool.tolist(), 2)
    with pytest.raises(ValueError, match="X is a numpy array"):
        make_scorer(model_xp.acquisition, pool, "sld", greedy=False)


def test_pool_on_another_device_is_a_value_error():
    import os

    from conftest import ArrayNamespace, scipy_array_api_enabled

    if os.environ.get("SCIPY_ARRAY_API") != "1" or not scipy_array_api_enabled():
        pytest.skip("SCIPY_ARRAY_API is not 1: array-API tests need it")
    strict = pytest.importorskip("array_api_strict")
    if not hasattr(strict, "Device"):
        pytest.skip("array_api_strict without devices")
    try:
        with sklearn.config_context(array_api_dispatch=True):
            pass
    except (ImportError, RuntimeError) as exc:  # scipy < 1.14
        pytest.skip(f"scikit-learn refuses array API dispatch: {exc}")

    on1 = ArrayNamespace("array_api_strict-device1", strict, strict.Device("device1"))
    on0 = ArrayNamespace(
        "array_api_strict-CPU_DEVICE", strict, strict.Device("CPU_DEVICE")
    )
    with sklearn.config_context(array_api_dispatch=True):
        model = _Model(_xp_acquisition(_system(20), on1))
        with pytest.raises(ValueError, match="device1.*X_pool in the model's"):
            regularity_sampling(model, on0.asarray(_pool(21)), 2, heuristic="sld")


def test_dispatch_off_is_the_numpy_path():
    # without dispatch nothing is an array-API pool: numpy pools, numpy
    # scores, nothing checked against a namespace
    m = _system(22)
    model = _Model(_numpy_acquisition(m))
    assert model.acquisition.namespace is None
    idx, scores = regularity_sampling(model, _pool(23), 3, heuristic="ivr")
    assert isinstance(scores, np.ndarray) and idx.dtype == np.int64


def test_float32_pool_keeps_float32(array_namespaces):
    # a float32 model scores in float32 (loosely equal to float64's)
    ns = array_namespaces
    m = _system(24)
    model = _Model(_xp_acquisition(m, ns, dtype="float32"))
    pool = _pool(25, n=30)
    want = regularity_sampling(_Model(_numpy_acquisition(m)), pool, 3, heuristic="ivr")
    for heuristic in ("sld", "ssi", "ivr", "cluster_distance"):
        idx, scores = regularity_sampling(
            model, ns.asarray(pool, "float32"), 3, heuristic=heuristic, random_state=0
        )
        assert scores.dtype == ns.xp.float32
        assert idx.dtype == np.int64
    idx, scores = regularity_sampling(
        model, ns.asarray(pool, "float32"), 3, heuristic="ivr"
    )
    np.testing.assert_allclose(ns.to_numpy(scores), want[1], rtol=2e-3)


def test_group_sums_is_bincount(array_namespaces, monkeypatch):
    # cluster_distance's masses without bincount, over several row blocks
    from skrt._batch import PoolSpace

    ns = array_namespaces
    monkeypatch.setattr(skrt._centering, "BLOCK_BYTES", 8 * 5 * 3)
    rng = np.random.RandomState(26)
    labels = rng.randint(0, 5, 41)
    labels[labels == 3] = 4  # an empty group
    values = rng.uniform(0, 2, 41)
    labels_xp = ns.asarray(labels.astype(np.int64))
    got = group_sums(labels_xp, ns.asarray(values), 6, PoolSpace(labels_xp))
    _assert_on(got, ns, labels_xp)
    want = np.bincount(labels, weights=values, minlength=6)
    np.testing.assert_allclose(ns.to_numpy(got), want, rtol=1e-13)


def test_skactiveml_names_what_works(array_namespaces):
    pytest.importorskip("skactiveml")
    from skactiveml.regressor import SklearnRegressor

    from skrt import RegularityRidge
    from skrt.skactiveml import RegularityQuery

    ns = array_namespaces
    X = _pool(27, n=20)
    y = np.full(20, np.nan)
    y[:8] = X[:8, 0]
    reg = SklearnRegressor(RegularityRidge(alpha=1.0))
    with pytest.raises(TypeError, match="numpy arrays only.*skrt.query"):
        RegularityQuery(random_state=0).query(ns.asarray(X), y, reg)


@pytest.mark.parametrize("heuristic", ["sld", "variance", "ivr"])
def test_scores_not_finite_is_the_numpy_error(array_namespaces, heuristic):
    # an overflow in the first round, or NaN columns after a virtual label:
    # the ValueError numpy gives, raised from the device's own check
    import dataclasses

    ns = array_namespaces
    model_np, model_xp = _pair(ns, seed=28)
    huge = np.full((6, 3), 1e200)
    for model, pool in ((model_np, huge), (model_xp, ns.asarray(huge))):
        with pytest.raises(ValueError, match="not finite .* X_pool: its entries reach"):
            regularity_sampling(model, pool, 2, heuristic=heuristic)
    for model in (model_np, model_xp):
        acq = model.acquisition
        cross = acq.curvature.cross

        def nan_cross(X, i, cache, cross=cross):
            return cross(X, i, cache) * float("nan")

        curvature = dataclasses.replace(acq.curvature, cross=nan_cross)
        bad = _Model(dataclasses.replace(acq, curvature=curvature))
        pool = _pool(29, n=12)
        pool = pool if model is model_np else ns.asarray(pool)
        match = "after virtually labelling 1 greedy pick"
        with pytest.raises(ValueError, match=match):
            regularity_sampling(bad, pool, 3, heuristic="sld", batch="greedy")


# --- the real estimators fitted on the device --------------------------------

# the device fit equals numpy's to 1e-10 at a fixed alpha, to 1e-8 where
# alpha is searched (tests/test_array_api_estimators.py); so do its scores
# (here they agree to 1e-10 in both cases, a BLAS elsewhere may differ)
RTOL_FIT = {"ridge": 1e-8, "ridge_svd_fixed": 1e-10, "kernel": 1e-8}
_ESTIMATORS = {
    "ridge": lambda: RegularityRidge(alpha="loo"),
    "ridge_svd_fixed": lambda: RegularityRidge(alpha=0.3, solver="svd"),
    "kernel": lambda: RegularityKernelRidge(alpha="loo", kernel="rbf", gamma=0.5),
}


def _data(seed, n=30, p=3, pool=45, n_targets=1):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, (n + pool, p))
    Y = np.sin(X[:, :1]) + X[:, -1:] * np.arange(1, n_targets + 1)
    Y = Y + 0.2 * rng.randn(n + pool, n_targets)
    Y = Y[:, 0] if n_targets == 1 else Y
    return X[:n], Y[:n], X[n:], Y[n:]


def _fitted(ns, name, seed=0, n_targets=1):
    """The numpy fit, the device fit, the pool and its labels."""
    X, y, pool, y_pool = _data(seed, n_targets=n_targets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        with sklearn.config_context(array_api_dispatch=False):
            on_host = _ESTIMATORS[name]().fit(X, y)
        on_device = _ESTIMATORS[name]().fit(ns.asarray(X), ns.asarray(y))
    assert on_device.__skrt_acquisition__().namespace is not None
    return on_host, on_device, pool, y_pool


@pytest.mark.parametrize("batch", ["greedy", "topk"])
@pytest.mark.parametrize("heuristic", ALL)
@pytest.mark.parametrize("name", list(_ESTIMATORS))
def test_fitted_model_query_equals_numpy(array_namespaces, name, heuristic, batch):
    ns = array_namespaces
    on_host, on_device, pool, _ = _fitted(ns, name, seed=30)
    kw = dict(heuristic=heuristic, batch=batch, random_state=4, n_landmarks=15)
    with sklearn.config_context(array_api_dispatch=False):
        idx_np, s_np = regularity_sampling(on_host, pool, 5, **kw)
    pool_xp = ns.asarray(pool)
    idx_xp, s_xp = regularity_sampling(on_device, pool_xp, 5, **kw)
    assert isinstance(idx_xp, np.ndarray) and idx_xp.dtype == np.int64
    np.testing.assert_array_equal(idx_xp, idx_np)
    _assert_on(s_xp, ns, pool_xp)
    np.testing.assert_allclose(
        ns.to_numpy(s_xp), s_np, rtol=RTOL_FIT[name], atol=1e-300
    )


@pytest.mark.parametrize("heuristic", ALL)
@pytest.mark.parametrize("name", list(_ESTIMATORS))
def test_fitted_model_score_samples_equals_numpy(array_namespaces, name, heuristic):
    ns = array_namespaces
    on_host, on_device, pool, y_pool = _fitted(ns, name, seed=31, n_targets=2)
    with sklearn.config_context(array_api_dispatch=False):
        want = on_host.score_samples(pool, heuristic=heuristic)
        labeled = heuristic in ("sld", "sti", "ssi")
        if labeled:
            want_y = on_host.score_samples(pool, y_pool, heuristic=heuristic)
    pool_xp = ns.asarray(pool)
    got = on_device.score_samples(pool_xp, heuristic=heuristic)
    _assert_on(got, ns, pool_xp)
    np.testing.assert_allclose(ns.to_numpy(got), want, rtol=RTOL_FIT[name], atol=1e-300)
    if labeled:
        got_y = on_device.score_samples(
            pool_xp, ns.asarray(y_pool), heuristic=heuristic
        )
        _assert_on(got_y, ns, pool_xp)
        np.testing.assert_allclose(ns.to_numpy(got_y), want_y, rtol=RTOL_FIT[name])


@pytest.mark.parametrize("name", list(_ESTIMATORS))
def test_fitted_model_refuses_a_pool_elsewhere(array_namespaces, name):
    ns = array_namespaces
    _, on_device, pool, _ = _fitted(ns, name, seed=32)
    with pytest.raises(ValueError, match="X_pool is a numpy array, but the model"):
        regularity_sampling(on_device, pool, 2, heuristic="sld")
