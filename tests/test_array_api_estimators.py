"""RegularityRidge and RegularityKernelRidge on array-API inputs (issue 17).

With scikit-learn's ``array_api_dispatch`` on, a fit on ``array_api_strict``
or PyTorch (CPU) arrays computes in that namespace and on that device
(``skrt._spectral_xp``, ``skrt._ridge_xp``, ``skrt._kernel_xp``). The
oracle of every value is the numpy path (float64, unchanged), and, for the
batched leave-one-out and GCV paths and their slopes, formulas independent
of the package: brute-force refits and finite differences. Every fitted
array and output must be in the input's namespace and on its device.
"""

import warnings

import numpy as np
import pytest
import sklearn
from hypothesis import given
from hypothesis import strategies as st

from skrt import RegularityKernelRidge, RegularityRidge
from skrt._array_api import to_numpy
from skrt.exceptions import RegularityBoundWarning

xps = pytest.importorskip("array_api_strict")

try:
    with sklearn.config_context(array_api_dispatch=True):
        pass
except (ImportError, RuntimeError) as exc:  # scipy < 1.14, or the flag off
    pytest.skip(
        f"scikit-learn refuses array API dispatch: {exc}", allow_module_level=True
    )

from skrt import _alpha_xp  # noqa: E402
from skrt._spectral_xp import gcv_path, loo_path, namespace_of  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::skrt.exceptions.RegularityBoundWarning"
)

RTOL_FIXED = 1e-10
RTOL_SEARCHED = 1e-8


class Space:
    """One namespace and device: conversions both ways."""

    def __init__(self, name, device):
        self.name = name
        if name == "torch":
            torch = pytest.importorskip("torch")
            self.module, self.device = torch, torch.device(device)
        else:
            self.module, self.device = xps, xps.Device(device)

    def __repr__(self):
        return f"{self.name}:{self.device}"

    def __call__(self, a, dtype=np.float64):
        a = np.asarray(a, dtype=dtype)
        return self.module.asarray(a, device=self.device)


def host(a):
    """An array-API array (or a numpy value) as numpy."""
    if isinstance(a, (np.ndarray, np.generic, float, int)):
        return np.asarray(a)
    return to_numpy(a, namespace_of(a)[0])


SPACES = [
    pytest.param(("array_api_strict", "CPU_DEVICE"), id="strict"),
    pytest.param(("array_api_strict", "device1"), id="strict-device1"),
    pytest.param(("torch", "cpu"), id="torch-cpu"),
]


@pytest.fixture(params=SPACES)
def space(request):
    return Space(*request.param)


def dispatch():
    return sklearn.config_context(array_api_dispatch=True)


def assert_in_space(a, space):
    xp, device = namespace_of(a)
    assert xp.__name__.rsplit(".", 1)[-1] == space.name
    assert device == space.device


def assert_close(got, ref, rtol, what=""):
    ref = np.asarray(ref, dtype=float)
    got = host(got)
    assert got.shape == ref.shape, what
    scale = np.max(np.abs(ref)) if ref.size else 0.0
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * scale, err_msg=what)


RIDGE_ATTRIBUTES = (
    "coef_",
    "coef_tangent_",
    "intercept_",
    "intercept_tangent_",
    "leverage_",
    "loo_residuals_",
    "loo_error_",
    "gcv_error_",
    "noise_variance_",
    "n_iter_",
)
KERNEL_ATTRIBUTES = (
    "dual_coef_",
    "dual_coef_tangent_",
    "leverage_",
    "loo_residuals_",
    "loo_error_",
    "gcv_error_",
    "noise_variance_",
    "n_iter_",
    "X_fit_",
)


def check_attributes(model, ref, names, space, rtol):
    for name in names:
        value = getattr(model, name)
        assert_in_space(value, space)
        assert_close(value, getattr(ref, name), rtol, name)
    assert isinstance(model.alpha_, float)
    assert model.n_features_in_ == ref.n_features_in_


def data(seed, n, p, k=1, zero_weights=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p) + rng.uniform(-2, 2, p)
    Y = X @ rng.randn(p, k) + 0.5 * rng.randn(n, k)
    w = rng.uniform(0.3, 3.0, n)
    w[:zero_weights] = 0.0
    return X, (Y[:, 0] if k == 1 else Y), w


# -- RegularityRidge ----------------------------------------------------------


@given(
    seed=st.integers(0, 2**16),
    shape=st.sampled_from([(30, 4), (12, 20), (25, 25)]),
    k=st.sampled_from([1, 3]),
    fit_intercept=st.booleans(),
    solver=st.sampled_from(["eigen", "svd", "auto"]),
    zero_weights=st.sampled_from([0, 2]),
)
def test_ridge_fixed_alpha_equals_numpy(
    seed, shape, k, fit_intercept, solver, zero_weights
):
    space = Space("array_api_strict", "device1")
    X, y, w = data(seed, *shape, k=k, zero_weights=zero_weights)
    params = dict(alpha=0.7, fit_intercept=fit_intercept, solver=solver)
    ref = RegularityRidge(**params).fit(X, y, sample_weight=w)
    with dispatch():
        model = RegularityRidge(**params).fit(
            space(X), space(y), sample_weight=space(w)
        )
    check_attributes(model, ref, RIDGE_ATTRIBUTES, space, RTOL_FIXED)
    assert model.solver_ == ref.solver_


@pytest.mark.parametrize("alpha", ["loo", "gcv", 0.3])
@pytest.mark.parametrize("k", [1, 2])
def test_ridge_outputs_equal_numpy(space, alpha, k):
    X, y, w = data(3, 40, 5, k=k, zero_weights=1)
    ref = RegularityRidge(alpha=alpha).fit(X, y, sample_weight=w)
    with dispatch():
        model = RegularityRidge(alpha=alpha).fit(
            space(X), space(y), sample_weight=space(w)
        )
    if alpha == "gcv":
        # numpy's bounded Brent stops near sqrt(eps) in log s on the flat
        # GCV; the device search solves the slope's root: no worse a minimum
        assert model.alpha_ == pytest.approx(ref.alpha_, rel=1e-6)
        assert float(np.mean(host(model.gcv_error_))) <= np.mean(ref.gcv_error_) * (
            1 + 1e-12
        )
        with dispatch():
            model = RegularityRidge(alpha=ref.alpha_).fit(
                space(X), space(y), sample_weight=space(w)
            )
        rtol = RTOL_FIXED
    else:
        assert model.alpha_ == pytest.approx(ref.alpha_, rel=RTOL_SEARCHED)
        rtol = RTOL_SEARCHED if alpha == "loo" else RTOL_FIXED
    check_attributes(model, ref, RIDGE_ATTRIBUTES, space, rtol)
    Xq = np.random.RandomState(9).randn(7, 5)
    with dispatch():
        pred, std = model.predict(space(Xq), return_std=True)
        outputs = {
            "predict": (model.predict(space(Xq)), ref.predict(Xq)),
            "std": (std, ref.predict(Xq, return_std=True)[1]),
            "tangent": (model.predict_tangent(space(Xq)), ref.predict_tangent(Xq)),
            "loss_derivative": (
                model.loss_derivative(space(Xq), space(ref.predict(Xq) + 1.0)),
                ref.loss_derivative(Xq, ref.predict(Xq) + 1.0),
            ),
            "loo_curve": (
                model.loo_curve([0.1, 1.0, 10.0]),
                ref.loo_curve([0.1, 1.0, 10.0]),
            ),
            "sample_information": (
                model.sample_information(),
                ref.sample_information(),
            ),
            "weight_information": (
                model.sample_information(kind="weights"),
                ref.sample_information(kind="weights"),
            ),
            "function_information_val": (
                model.sample_information(space(Xq)),
                ref.sample_information(Xq),
            ),
        }
    for what, (got, want) in outputs.items():
        assert_in_space(got, space)
        assert_close(got, want, rtol, what)
    assert_close(pred, ref.predict(Xq), rtol)


def test_float32_kept_where_the_device_has_no_float64():
    space = Space("array_api_strict", "no_float64")
    X, y, w = data(1, 50, 4)
    # float32 round-off, and its rank cut (10 n eps λ_max), set the tolerance
    for est, names, rtol in [
        (RegularityRidge(alpha="loo"), ("coef_", "coef_tangent_", "leverage_"), 1e-4),
        (
            RegularityKernelRidge(alpha=0.5, kernel="rbf", gamma=0.2),
            ("dual_coef_", "leverage_", "loo_residuals_"),
            1e-2,
        ),
    ]:
        ref = sklearn.clone(est).fit(X, y, sample_weight=w)
        with dispatch():
            model = est.fit(
                space(X, np.float32),
                space(y, np.float32),
                sample_weight=space(w, np.float32),
            )
            pred = model.predict(space(X[:5], np.float32))
        for name in names:
            value = getattr(model, name)
            assert value.dtype == xps.float32
            assert_close(value, getattr(ref, name), rtol, name)
        assert pred.dtype == xps.float32
        assert_close(pred, ref.predict(X[:5]), rtol)


def test_float32_input_computes_in_float64_where_the_device_has_it(space):
    # the numpy path computes in float64 whatever the input; so does the
    # device path where the device has float64 (scikit-learn's array-API
    # estimator checks compare the dtypes with the numpy fit's)
    X, y, _ = data(2, 30, 3)
    with dispatch():
        model = RegularityRidge().fit(space(X, np.float32), space(y, np.float32))
        pred = model.predict(space(X, np.float32))
    assert model.coef_.dtype == space.module.float64
    assert pred.dtype == space.module.float64


# -- RegularityKernelRidge ---------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        dict(alpha=0.2, kernel="rbf", gamma=0.5),
        dict(alpha=0.2, kernel="laplacian", gamma=0.5),
        dict(alpha=2.0, kernel="linear"),
        dict(alpha=1.0, kernel="poly", degree=2, gamma=0.3),
        dict(alpha=1.0, kernel="sigmoid", gamma=0.05, coef0=0.5),
        dict(alpha=0.5, kernel="cosine"),
        dict(alpha="loo", kernel="rbf", gamma=0.5),
        dict(alpha="loo", kernel="rbf", gamma="loo"),
        dict(alpha="loo", kernel="laplacian", gamma="loo"),
    ],
    ids=lambda p: "-".join(f"{v}" for v in p.values()),
)
def test_kernel_equals_numpy(space, params):
    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, (45, 2))
    y = np.sin(2 * X[:, 0]) + 0.3 * rng.randn(45)
    w = rng.uniform(0.5, 2.0, 45)
    w[0] = 0.0
    ref = RegularityKernelRidge(**params).fit(X, y, sample_weight=w)
    with dispatch():
        model = RegularityKernelRidge(**params).fit(
            space(X), space(y), sample_weight=space(w)
        )
    searched = isinstance(params["alpha"], str)
    rtol = RTOL_SEARCHED if searched else RTOL_FIXED
    if params.get("gamma") == "loo":
        # gamma's Brent search stops at 1e-10 in log gamma on either path,
        # on slopes that carry each gamma's searched alpha: the same minimum
        # of the LOO error, gamma_ within 1e-7, the fit at numpy's gamma_
        assert model.gamma_ == pytest.approx(ref.gamma_, rel=1e-7)
        assert float(host(model.loo_error_)) == pytest.approx(
            float(ref.loo_error_), rel=1e-10
        )
        with dispatch():
            model = RegularityKernelRidge(**{**params, "gamma": ref.gamma_}).fit(
                space(X), space(y), sample_weight=space(w)
            )
    assert model.alpha_ == pytest.approx(ref.alpha_, rel=rtol)
    check_attributes(model, ref, KERNEL_ATTRIBUTES, space, rtol)
    Xq = rng.uniform(-3, 3, (6, 2))
    with dispatch():
        pred, std = model.predict(space(Xq), return_std=True)
        tangent = model.predict_tangent(space(Xq))
        info = model.sample_information(space(Xq))
    ref_pred, ref_std = ref.predict(Xq, return_std=True)
    for got, want in [
        (pred, ref_pred),
        (std, ref_std),
        (tangent, ref.predict_tangent(Xq)),
        (info, ref.sample_information(Xq)),
    ]:
        assert_in_space(got, space)
        assert_close(got, want, rtol)


def test_precomputed_kernel_equals_numpy(space):
    rng = np.random.RandomState(4)
    A = rng.randn(30, 3)
    K = np.exp(-0.5 * ((A[:, None] - A[None]) ** 2).sum(-1))
    y = A[:, 0] + 0.2 * rng.randn(30)
    ref = RegularityKernelRidge(alpha="loo", kernel="precomputed").fit(K, y)
    with dispatch():
        model = RegularityKernelRidge(alpha="loo", kernel="precomputed").fit(
            space(K), space(y)
        )
        pred = model.predict(space(K[:5]))
        with pytest.raises(ValueError, match="precomputed"):
            model.predict(space(K[:5]), return_std=True)
    check_attributes(model, ref, KERNEL_ATTRIBUTES, space, RTOL_SEARCHED)
    assert_close(pred, ref.predict(K[:5]), RTOL_SEARCHED)


# -- the acquisition of a device model ------------------------------------------


@pytest.mark.parametrize("kind", ["ridge", "kernel"])
def test_acquisition_parts_on_the_device(space, kind):
    X, y, w = data(5, 35, 3, k=2)
    if kind == "ridge":
        est = RegularityRidge(alpha=0.5)
    else:
        est = RegularityKernelRidge(alpha=0.5, kernel="rbf", gamma=0.3)
    ref = sklearn.clone(est).fit(X, y, sample_weight=w).__skrt_acquisition__()
    Xq = np.random.RandomState(1).randn(9, 3)
    with dispatch():
        acq = est.fit(space(X), space(y), sample_weight=space(w)).__skrt_acquisition__()
        pool = acq.validate(space(Xq))
        idx = space.module.asarray([1, 4], device=space.device)
        T, omegas = acq.curvature.reference("ssi")
        T_ref, omegas_ref = ref.curvature.reference("ssi")
        outputs = [
            (acq.tangent(pool), ref.tangent(Xq)),
            (acq.sti(pool), ref.sti(Xq)),
            (acq.curvature.variance(pool), ref.curvature.variance(Xq)),
            (acq.curvature.cross(pool, 2), ref.curvature.cross(Xq, 2)),
            (acq.curvature.cross(pool, idx), ref.curvature.cross(Xq, np.array([1, 4]))),
            (
                acq.curvature.coordinates(pool) @ T.T,
                ref.curvature.coordinates(Xq) @ T_ref.T,
            ),
            (omegas[1], omegas_ref[1]),
        ]
    assert acq.namespace[1] == space.device
    assert acq.family == ref.family
    np.testing.assert_allclose(acq.noise_variance, ref.noise_variance, rtol=1e-10)
    for got, want in outputs:
        assert_in_space(got, space)
        assert_close(got, want, RTOL_FIXED)


def test_pool_in_another_namespace_is_a_clear_error(space):
    X, y, _ = data(0, 20, 3)
    other = Space("array_api_strict", "device2")
    with dispatch():
        model = RegularityRidge().fit(space(X), space(y))
        acq = model.__skrt_acquisition__()
        for pool in (X, other(X)):
            with pytest.raises(
                ValueError, match=r"X is a .* but the model was fitted on"
            ):
                acq.validate(pool)
            with pytest.raises(ValueError, match="must use the same namespace"):
                model.predict(pool)


def test_score_samples_on_the_device(space):
    X, y, _ = data(6, 40, 3)
    ref = RegularityRidge(alpha=1.0).fit(X, y)
    with dispatch():
        model = RegularityRidge(alpha=1.0).fit(space(X), space(y))
        for heuristic in ("sld", "variance"):
            got = model.score_samples(space(X[:8]), heuristic=heuristic)
            assert_in_space(got, space)
            assert_close(got, ref.score_samples(X[:8], heuristic=heuristic), 1e-10)


# -- dispatch off, and what stays numpy-only ------------------------------------------


def test_dispatch_off_keeps_the_numpy_path():
    torch = pytest.importorskip("torch")
    X, y, w = data(0, 25, 3)
    model = RegularityRidge(alpha="loo").fit(
        torch.asarray(X), torch.asarray(y), sample_weight=torch.asarray(w)
    )
    ref = RegularityRidge(alpha="loo").fit(X, y, sample_weight=w)
    for name in RIDGE_ATTRIBUTES:
        value = getattr(model, name)
        assert isinstance(value, (np.ndarray, np.generic)), name
        np.testing.assert_array_equal(value, getattr(ref, name))
    with dispatch():  # numpy inputs under dispatch: the numpy path too
        again = RegularityRidge(alpha="loo").fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(again.coef_, ref.coef_)
    assert isinstance(again.coef_, np.ndarray)


@pytest.mark.parametrize(
    "est, match",
    [
        (RegularityRidge(solver="cg"), "solver='cg' computes with numpy arrays only"),
        (
            RegularityRidge(prior={"coef": np.zeros(3)}),
            "prior=... computes with numpy arrays only",
        ),
        (
            RegularityKernelRidge(solver="cg"),
            "solver='cg' computes with numpy arrays only",
        ),
        (
            RegularityKernelRidge(kernel=lambda a, b: float(a @ b)),
            "a callable kernel computes with numpy arrays only",
        ),
    ],
)
def test_numpy_only_settings(space, est, match):
    X, y, _ = data(0, 20, 3)
    with dispatch(), pytest.raises(TypeError, match=match):
        est.fit(space(X), space(y))


def test_numpy_only_inputs_and_methods(space):
    X, y, w = data(0, 20, 3)
    graded = X * np.array([1.0, 1e3, 1e-2])
    spread = w.copy()
    spread[0] = 1e-5
    with dispatch():
        with pytest.raises(TypeError, match="graded columns"):
            RegularityRidge().fit(space(graded), space(y))
        with pytest.raises(TypeError, match="Cholesky"):
            RegularityKernelRidge().fit(space(X), space(y), sample_weight=space(spread))
        model = RegularityRidge().fit(space(X), space(y))
        for method in (model.sample_information, model.influence_diagnostics):
            with pytest.raises(TypeError, match="as_frame=True computes with numpy"):
                method(as_frame=True)
        with pytest.raises(TypeError, match="as_frame=True computes with numpy"):
            model.score_samples(space(X), as_frame=True)


def test_numpy_model_rejects_device_inputs_under_dispatch(space):
    X, y, _ = data(0, 20, 3)
    model = RegularityRidge().fit(X, y)
    with dispatch():
        with pytest.raises(ValueError, match="fitted on numpy arrays"):
            model.predict(space(X))
        with pytest.raises(ValueError, match="fitted on numpy arrays"):
            model.__skrt_acquisition__().validate(space(X))
    np.testing.assert_array_equal(
        model.predict(X), RegularityRidge().fit(X, y).predict(X)
    )


@pytest.mark.parametrize(
    "est",
    [
        RegularityRidge(alpha=1e-6),
        RegularityRidge(alpha=0.5, fit_intercept=False),
        RegularityRidge(alpha=2.0, solver="svd"),
        RegularityKernelRidge(alpha=0.3, kernel="rbf", gamma=0.2),
    ],
    ids=["ridge-ols", "ridge-no-intercept", "ridge-svd", "kernel"],
)
def test_influence_diagnostics_equal_numpy(space, est):
    X, y, w = data(7, 40, 3)
    y[3] += 4.0
    ref = sklearn.clone(est).fit(X, y, sample_weight=w).influence_diagnostics()
    with dispatch():
        model = est.fit(space(X), space(y), sample_weight=space(w))
        out = model.influence_diagnostics()
    assert set(out) == set(ref)
    for key, value in out.items():
        assert_in_space(value, space)
        assert_close(value, ref[key], RTOL_FIXED, key)


def test_influence_diagnostics_refit_path_and_pinned_rows():
    # an outlier that carries nearly all of the RSS: the refit's RSS is
    # summed directly (both paths); a far point of leverage 1 gets inf
    space = Space("array_api_strict", "CPU_DEVICE")
    rng = np.random.RandomState(0)
    X = rng.randn(12, 2)
    y = X @ [1.0, 2.0] + 1e-3 * rng.randn(12)
    y[5] += 10.0
    ref = RegularityRidge(alpha=1e-9).fit(X, y).influence_diagnostics()
    with dispatch():
        model = RegularityRidge(alpha=1e-9).fit(space(X), space(y))
        out = model.influence_diagnostics()
    for key, value in out.items():
        assert_close(value, ref[key], 1e-7, key)
    X1 = np.vstack([X, [[30.0, 30.0]]])
    y1 = np.append(y, 100.0)
    pinned = RegularityRidge(alpha=1e-12, fit_intercept=False)
    ref = sklearn.clone(pinned).fit(X1, y1).influence_diagnostics()
    with dispatch():
        out = pinned.fit(space(X1), space(y1)).influence_diagnostics()
    for key, value in out.items():
        np.testing.assert_array_equal(np.isinf(host(value)), np.isinf(ref[key]), key)


def test_mixed_namespace_targets_follow_X():
    torch = pytest.importorskip("torch")
    X, y, w = data(0, 20, 3)
    space = Space("torch", "cpu")
    other = Space("array_api_strict", "device1")
    ref = RegularityRidge(alpha="loo").fit(X, y, sample_weight=w)
    with dispatch():
        model = RegularityRidge(alpha="loo").fit(
            space(X), other(y), sample_weight=other(w)
        )
        on_numpy = RegularityRidge(alpha="loo").fit(
            X, torch.asarray(y), sample_weight=torch.asarray(w)
        )
    assert_in_space(model.coef_, space)
    assert_close(model.coef_, ref.coef_, RTOL_SEARCHED)
    assert isinstance(on_numpy.coef_, np.ndarray)
    np.testing.assert_allclose(on_numpy.coef_, ref.coef_, rtol=1e-14)


# -- the batched criteria: independent oracles -----------------------------------


def brute_force_loo(X, y, w, s):
    """Weighted LOO error by refitting without each observation (integer
    weights: one of the repeated rows; here w <= 1 removes the row)."""
    n = X.shape[0]
    errors = np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        Xk, yk, wk = X[keep], y[keep], w[keep]
        xm = wk @ Xk / wk.sum()
        ym = wk @ yk / wk.sum()
        Xc = Xk - xm
        theta = np.linalg.solve(
            Xc.T @ (Xc * wk[:, None]) + s * np.eye(X.shape[1]), Xc.T @ (wk * (yk - ym))
        )
        errors[i] = y[i] - (ym + (X[i] - xm) @ theta)
    return (w @ errors**2) / w.sum()


def explicit_gcv(X, y, w, s):
    """GCV from the explicit weighted hat matrix with an intercept."""
    n = X.shape[0]
    Xt = np.hstack([np.ones((n, 1)), X])
    E = np.eye(Xt.shape[1])
    E[0, 0] = 0.0
    M = Xt.T @ (Xt * w[:, None]) + s * E
    H = Xt @ np.linalg.solve(M, Xt.T * w)
    r = H @ y - y
    return (w @ r**2 / w.sum()) / (1 - np.trace(H) / w.sum()) ** 2


def device_spec(space, X, y, w):
    with dispatch():
        model = RegularityRidge(alpha=1.0).fit(
            space(X), space(y), sample_weight=space(w)
        )
    return model._spectral


@given(seed=st.integers(0, 2**16))
def test_batched_loo_and_gcv_paths_against_refits(seed):
    space = Space("array_api_strict", "CPU_DEVICE")
    rng = np.random.RandomState(seed)
    X = rng.randn(14, 3)
    y = X @ rng.randn(3) + rng.randn(14)
    w = rng.uniform(0.2, 1.0, 14)
    spec = device_spec(space, X, y, w)
    alphas = np.array([0.05, 0.7, 9.0])
    with dispatch():
        loo = host(loo_path(spec, space(alphas)))[:, 0]
        gcv = host(gcv_path(spec, space(alphas)))[:, 0]
    np.testing.assert_allclose(
        loo, [brute_force_loo(X, y, w, s) for s in alphas], rtol=1e-9
    )
    np.testing.assert_allclose(
        gcv, [explicit_gcv(X, y, w, s) for s in alphas], rtol=1e-9
    )


@pytest.mark.parametrize("path", [loo_path, gcv_path])
def test_slopes_against_finite_differences(path):
    space = Space("array_api_strict", "CPU_DEVICE")
    X, y, w = data(8, 25, 4, k=2)
    spec = device_spec(space, X, y, w)
    alphas = np.array([0.03, 0.5, 4.0, 60.0])
    h = 1e-5
    with dispatch():
        _, slope = path(spec, space(alphas), derivative=True)
        up = path(spec, space(alphas * np.exp(h)))
        down = path(spec, space(alphas * np.exp(-h)))
    numeric = (host(up) - host(down)) / (2 * h)
    np.testing.assert_allclose(host(slope), numeric, rtol=1e-6, atol=1e-9)


def test_grid_is_one_batched_call_and_rounds_are_few(monkeypatch):
    space = Space("array_api_strict", "CPU_DEVICE")
    X, y, w = data(11, 60, 5)
    calls = []
    real = _alpha_xp.loo_path

    def counting(spec, alphas, **kwargs):
        calls.append(alphas.shape[0])
        return real(spec, alphas, **kwargs)

    monkeypatch.setattr(_alpha_xp, "loo_path", counting)
    eighs = []
    real_eigh = xps.linalg.eigh
    monkeypatch.setattr(xps.linalg, "eigh", lambda a: eighs.append(1) or real_eigh(a))
    with dispatch():
        model = RegularityRidge(alpha="loo").fit(
            space(X), space(y), sample_weight=space(w)
        )
    ref = RegularityRidge(alpha="loo").fit(X, y, sample_weight=w)
    assert model.alpha_ == pytest.approx(ref.alpha_, rel=RTOL_SEARCHED)
    assert calls[0] == 33  # the whole grid in one evaluation
    # then a few rounds of 32 points per bracket, and the roots' values
    assert 2 <= len(calls) <= 2 + _alpha_xp._MAX_ROUNDS
    assert all(c % 32 == 0 for c in calls[1:-1]) and calls[-1] <= 3
    assert len(eighs) == 1  # one decomposition for the whole search


def test_minimize_batched_finds_a_known_minimum():
    t0 = np.log(0.037)

    def criterion(alphas):
        t = np.log(alphas)
        return (t - t0) ** 2 + 0.1 * np.cos(3 * t), 2 * (t - t0) - 0.3 * np.sin(3 * t)

    alpha, value, at = _alpha_xp.minimize_batched(criterion, (1e-6, 1e3))
    # the stationary point nearest t0 solves 2(t - t0) = 0.3 sin(3t)
    t = np.log(alpha)
    assert abs(2 * (t - t0) - 0.3 * np.sin(3 * t)) < 1e-10
    assert at is None and value == pytest.approx(criterion(np.array([alpha]))[0][0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RegularityBoundWarning)
        alpha, _, at = _alpha_xp.minimize_batched(
            lambda a: (np.log(a), np.ones_like(a)), (1e-3, 1e3)
        )
    assert at == "lower" and alpha == 1e-3


@pytest.mark.parametrize("kind", ["ridge", "kernel"])
def test_pools_are_scored_in_row_blocks(space, kind, monkeypatch):
    import skrt._centering

    X, y, _ = data(12, 30, 3)
    Xq = np.random.RandomState(2).randn(23, 3)
    if kind == "ridge":
        est = RegularityRidge(alpha="loo")
    else:
        est = RegularityKernelRidge(alpha="loo", kernel="rbf", gamma=0.3)
    ref = sklearn.clone(est).fit(X, y)
    monkeypatch.setattr(skrt._centering, "BLOCK_BYTES", 40 * 5)  # a few rows
    with dispatch():
        model = est.fit(space(X), space(y))
        pred, std = model.predict(space(Xq), return_std=True)
        cross = model.__skrt_acquisition__().curvature.cross(space(Xq), 3)
    ref_pred, ref_std = ref.predict(Xq, return_std=True)
    assert_close(pred, ref_pred, RTOL_SEARCHED)
    assert_close(std, ref_std, RTOL_SEARCHED)
    assert_close(
        cross, ref.__skrt_acquisition__().curvature.cross(Xq, 3), RTOL_SEARCHED
    )


def test_targets_weights_and_arguments_as_lists_or_numpy(space):
    X, y, w = data(3, 25, 3)
    ref = RegularityRidge(alpha="loo").fit(X, y, sample_weight=w)
    with dispatch():
        model = RegularityRidge(alpha="loo").fit(space(X), list(y), sample_weight=w)
        curves = [model.loo_curve(a) for a in ([0.5, 2.0], np.array([0.5, 2.0]))]
        curves.append(model.loo_curve(space([0.5, 2.0])))
        infos = [
            model.sample_information(noise_variance=v)
            for v in (2.0, [2.0], space([2.0]))
        ]
        with pytest.raises(TypeError, match="noise_variance must be"):
            model.sample_information(noise_variance="loud")
        with pytest.raises(ValueError, match="alphas must be"):
            model.loo_curve([-1.0])
    assert_in_space(model.coef_, space)
    assert_close(model.coef_, ref.coef_, RTOL_SEARCHED)
    for curve in curves:
        assert_close(curve, ref.loo_curve([0.5, 2.0]), RTOL_SEARCHED)
    for info in infos:
        assert_close(info, ref.sample_information(noise_variance=2.0), RTOL_SEARCHED)


@pytest.mark.parametrize("scale", [1e120, 1e-120])
def test_kernel_scale_bounds_equal_the_numpy_paths(array_namespaces, scale):
    rng = np.random.RandomState(0)
    A = rng.randn(12, 3)
    K, y = scale * (A @ A.T + np.eye(12)), rng.randn(12)
    model = RegularityKernelRidge(alpha=1.0, kernel="precomputed")
    with sklearn.config_context(array_api_dispatch=False):
        with pytest.raises(ValueError) as numpy_error:
            model.fit(K, y)
    with pytest.raises(ValueError) as device_error:
        model.fit(array_namespaces.asarray(K), array_namespaces.asarray(y))
    assert str(device_error.value) == str(numpy_error.value)
