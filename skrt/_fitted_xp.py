"""The methods of an estimator fitted on array-API arrays.

A :class:`~skrt.RegularityRidge` or :class:`~skrt.RegularityKernelRidge`
fitted with scikit-learn's ``array_api_dispatch`` on a PyTorch, CuPy or
``array_api_strict`` array keeps its fitted arrays in that namespace and on
that device, with a :class:`skrt._spectral_xp.SpectralXP` as its
decomposition. Its public methods (``predict``, ``predict_tangent``,
``loss_derivative``, ``score_samples``, ``loo_curve``,
``sample_information`` and the acquisition ``__skrt_acquisition__``) then
come here (:func:`skrt._base.device_view`): :class:`DeviceView` holds what
both models share, its subclasses (``skrt._ridge_xp.RidgeView``,
``skrt._kernel_xp.KernelView``) the per-row pieces of each model, the same
closed forms as the numpy path's ``_predict_raw``, ``_tangent``,
``_sti_response``, ``_variance``, ``_influence_coordinates`` and
``_pool_cross``. Every input must be in the model's namespace and on its
device (a clear ValueError otherwise), every output is there too, and
pools are processed in row blocks of ``skrt._centering.BLOCK_BYTES``.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn import config_context, get_config
from sklearn.externals.array_api_compat import is_array_api_obj
from sklearn.utils import check_random_state
from sklearn.utils._array_api import get_namespace_and_device
from sklearn.utils.validation import validate_data

from . import _centering
from ._acquisition import Acquisition, Curvature
from ._array_api import move_to, to_numpy
from ._centering import row_block
from ._heuristics import check_heuristic, resolve_heuristic, resolve_landmarks
from ._influence import check_kind, check_noise_variance
from ._pool import make_scorer
from ._spectral_xp import (
    leave_one_out_change,
    loo_path,
    namespace_of,
    training_coordinates,
    with_intercept,
)

__all__ = [
    "DeviceView",
    "array_api_inputs",
    "check_numpy_input",
    "check_same_namespace",
    "sample_weights",
    "short_name",
]


# a device's row blocks are this many of the numpy path's BLOCK_BYTES (32 MiB):
# fewer, larger kernel evaluations and products, still bounded
_DEVICE_BLOCKS = 8


def short_name(xp):
    """``"torch"``, ``"array_api_strict"``, ``"numpy"``... of a namespace."""
    return getattr(xp, "__name__", str(xp)).rsplit(".", 1)[-1]


def check_same_namespace(estimator, X, namespace, name="X", method=None):
    """A ValueError unless ``X`` is in ``namespace = (xp, device)``, naming
    ``name`` and both namespaces and devices (and, with ``method``, the
    estimator's method, as scikit-learn's ``check_same_namespace`` does)."""
    xp, device = namespace
    with config_context(array_api_dispatch=True):
        xp_X, _, device_X = get_namespace_and_device(X)
    if short_name(xp_X) == short_name(xp) and device_X == device:
        return
    what = type(X).__name__ if device_X is None else f"{short_name(xp_X)} array"
    where = "" if device_X is None else f" on device {device_X}"
    detail = (
        f"{name} is a {what}{where}, but the model was fitted on {short_name(xp)} "
        f"arrays on device {device}"
    )
    advice = (
        f"Pass {name} in the model's namespace and on its device (e.g. "
        f"xp.asarray({name}, device=...)), or refit the model on arrays like {name}."
    )
    if method is None:
        raise ValueError(f"{detail}. {advice}")
    raise ValueError(
        f"Inputs passed to {type(estimator).__name__}.{method}() must use the same "
        f"namespace and the same device as those passed to fit(): {detail}. {advice}"
    )


def array_api_inputs(X, y, sample_weight):
    """``(namespace, y, sample_weight)`` for a fit: X's ``(xp, device)``
    when it leaves the numpy path (None otherwise), with y and the weights
    moved to X's namespace and device where dispatch is on (scikit-learn's
    "everything follows X")."""
    if not get_config()["array_api_dispatch"] or not is_array_api_obj(X):
        return None, y, sample_weight
    xp, device = namespace_of(X)
    if short_name(xp) == "numpy":
        return None, *_follow(np, "cpu", y, sample_weight)
    return (xp, device), *_follow(xp, device, y, sample_weight)


def _follow(xp, device, *arrays):
    """Array-API arrays among ``arrays`` moved to ``(xp, device)``."""
    out = []
    for a in arrays:
        if a is not None and is_array_api_obj(a):
            with config_context(array_api_dispatch=True):
                a = move_to(a, xp=xp, device=device)
        out.append(a)
    return out


def sample_weights(sample_weight, n, xp, device, dtype):
    """Weights on the device, checked as ``skrt._validation.check_sample_weight``
    checks them (one host sync)."""
    if sample_weight is None:
        return xp.ones(n, dtype=dtype, device=device)
    if isinstance(sample_weight, (int, float)) and not isinstance(sample_weight, bool):
        return xp.full(n, float(sample_weight), dtype=dtype, device=device)
    try:
        w = xp.asarray(sample_weight, dtype=dtype, device=device)
    except (TypeError, ValueError):
        raise TypeError("sample_weight must be numeric.") from None
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(
            f"sample_weight must have shape ({n},) to match X; "
            f"got shape {tuple(w.shape)}."
        )
    finite = bool(xp.all(xp.isfinite(w)))
    if not finite:
        raise ValueError("sample_weight contains NaN or infinity.")
    if bool(xp.any(w < 0)):
        raise ValueError("sample_weight must be non-negative; got negative weights.")
    total = float(xp.sum(w))
    if not total < float("inf"):
        raise ValueError(
            f"sample_weight sums to {total}: the weights overflow "
            f"{str(dtype).rsplit('.', 1)[-1]}; rescale them (only their ratios "
            "matter to the fit, alpha aside)."
        )
    if not total > 0:
        raise ValueError("sample_weight sums to zero: nothing to fit.")
    return w


def host_floats(a):
    """A float, list or array (numpy or array-API) as a float64 numpy array."""
    if is_array_api_obj(a) and not isinstance(a, np.ndarray):
        a = to_numpy(a, namespace_of(a)[0])
    return np.asarray(a, dtype=float)


def check_numpy_input(estimator, X):
    """A model fitted on numpy arrays takes numpy inputs: with dispatch on,
    an array-API ``X`` is the ValueError of :func:`check_same_namespace`
    (with dispatch off scikit-learn converts it, as it always did)."""
    if not get_config()["array_api_dispatch"] or not is_array_api_obj(X):
        return
    if short_name(namespace_of(X)[0]) != "numpy":
        check_same_namespace(estimator, X, (np, "cpu"))


class DeviceView:
    """What both models' device fits share; subclasses give the pieces
    ``predict_raw``, ``tangent``, ``sti``, ``variance``, ``coordinates``,
    ``cross``, ``reference`` and ``parts``.

    Parameters
    ----------
    estimator : RegularityRidge or RegularityKernelRidge
        Fitted on array-API arrays.
    """

    family = "linear"

    def __init__(self, estimator):
        self.est = estimator
        self.spec = estimator._spectral
        self.xp, self.device = self.spec.namespace
        self.dtype = self.spec.dtype

    # -- inputs and row blocks ----------------------------------------------
    def validate(self, X, method=None, name="X"):
        """``X`` checked to be in the model's namespace and on its device,
        with the model's number of features, in the model's dtype."""
        check_same_namespace(self.est, X, (self.xp, self.device), name, method)
        with config_context(array_api_dispatch=True):
            return validate_data(self.est, X, reset=False, dtype=self.dtype)

    def validate_y(self, y, n_rows, method):
        """Targets of a method (``loss_derivative``, labeled scores), shape
        (n_rows, n_targets)."""
        check_same_namespace(self.est, y, (self.xp, self.device), "y", method)
        y = self.xp.astype(y, self.dtype)
        k = self.spec.c.shape[1]
        Y = self.xp.reshape(y, (y.shape[0], -1)) if y.ndim <= 2 else y
        if y.ndim > 2 or Y.shape != (n_rows, k):
            raise ValueError(
                f"y has shape {tuple(y.shape)}, but X has {n_rows} rows and the "
                f"model has {k} target(s)."
            )
        if not bool(self.xp.all(self.xp.isfinite(Y))):
            raise ValueError("y contains NaN or infinity.")
        return Y

    def map_rows(self, fn, X):
        """``fn`` over row blocks of X, stacked (``skrt._batch.map_rows``),
        each block's widest intermediate under 8 x ``BLOCK_BYTES``."""
        n = X.shape[0]
        width = X.shape[1] + self.est._block_width()
        rows = row_block(width, _DEVICE_BLOCKS * _centering.BLOCK_BYTES)
        if n <= rows:
            return fn(X)
        blocks = [
            fn(X[start : min(start + rows, n), ...]) for start in range(0, n, rows)
        ]
        return self.xp.concat(blocks, axis=0)

    def check_finite(self, values, X, name, what):
        """``values``, or the ValueError of ``skrt._batch.check_finite``."""
        xp = self.xp
        if bool(xp.all(xp.isfinite(values))):
            return values
        top = float(xp.max(xp.abs(X))) if X.shape[0] and X.shape[1] else 0.0
        raise ValueError(
            f"{what} is not finite in {str(self.dtype).rsplit('.', 1)[-1]} for "
            f"{name}: its entries reach {top:.3g} in absolute value, far outside "
            f"what the model's coefficients can score. Rescale {name} and the "
            "training data alike (e.g. with a StandardScaler in a Pipeline) or "
            "drop the overflowing rows."
        )

    def rowwise(self, piece, X, what, name="X"):
        return self.check_finite(self.map_rows(piece, X), X, name, what)

    def unravel_rows(self, a):
        return a[:, 0] if self.est._y_ndim == 1 else a

    def noise_variance(self):
        """σ² per target, shape (n_targets,)."""
        return self.xp.reshape(self.est.noise_variance_, (-1,))

    def residual(self, X, y, method):
        """r = f(x) - y, shape (n, n_targets)."""
        pred = self.rowwise(self.predict_raw, X, "The prediction")
        return pred - self.validate_y(y, X.shape[0], method)

    # -- the public methods ------------------------------------------------------
    def predict(self, X, return_std=False):
        X = self.validate(X, "predict")
        pred = self.rowwise(self.predict_raw, X, "The prediction")
        if not return_std:
            return self.unravel_rows(pred)
        var = self.map_rows(self.variance, X)
        std = self.xp.sqrt(self.noise_variance()[None, :] * (1.0 + var[:, None]))
        self.check_finite(std, X, "X", "The predictive std")
        return self.unravel_rows(pred), self.unravel_rows(std)

    def predict_tangent(self, X):
        X = self.validate(X, "predict_tangent")
        return self.unravel_rows(self.rowwise(self.tangent, X, "The tangent"))

    def loss_derivative(self, X, y):
        X = self.validate(X, "loss_derivative")
        grad = 2.0 * self.residual(X, y, "loss_derivative")
        tangent = self.rowwise(self.tangent, X, "The tangent")
        out = self.check_finite(grad * tangent, X, "X", "The loss derivative")
        return self.unravel_rows(out)

    def score_samples(self, X, y, heuristic, random_state):
        X = self.validate(X, "score_samples")
        check_heuristic(heuristic, labeled=y is not None)
        weight = None
        if y is not None:
            weight = (2.0 * self.residual(X, y, "score_samples")) ** 2
        acquisition = self.acquisition()
        with config_context(array_api_dispatch=True):
            scorer = make_scorer(
                acquisition,
                X,
                resolve_heuristic(heuristic, acquisition, 1),
                n_landmarks=resolve_landmarks(None, heuristic, acquisition, 1),
                greedy=False,
                weight=weight,
                random_state=check_random_state(random_state),
            )
            scores = scorer.scores()
        return self.check_finite(scores, X, "X", f"The heuristic={heuristic!r} score")

    def acquisition(self):
        """The :class:`~skrt._acquisition.Acquisition` of the device fit:
        every part takes a pool validated by ``validate`` (in the model's
        namespace, on its device) and returns arrays there."""
        sti, curvature, reasons = self.parts()
        return Acquisition(
            validate=self.validate,
            tangent=self.tangent,
            noise_variance=self.noise_variance(),
            advice=self.est._no_decomposition_advice(),
            sti=sti,
            curvature=curvature,
            n_samples_fit=int(self.est.n_samples_fit_),
            block_width=self.est._block_width(),
            reasons=reasons,
            family=self.family,
            namespace=(self.xp, self.device),
        )

    def parts(self):
        """(sti, curvature, reasons): every part of the decomposition."""
        return self.sti, self.curvature(self.variance, self.cross), {}

    def curvature(self, variance, cross):
        return Curvature(cross, variance, self.coordinates, self.reference)

    def loo_curve(self, alphas):
        xp = self.xp
        try:
            alphas = host_floats(alphas)
        except (TypeError, ValueError):
            raise TypeError(
                f"alphas must be a 1-D array of positive floats; got {alphas!r}."
            ) from None
        if alphas.ndim > 1 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
            raise ValueError("alphas must be a 1-D array of positive finite floats.")
        a = xp.asarray(np.atleast_1d(alphas), dtype=self.dtype, device=self.device)
        out = loo_path(self.spec, a)
        return out[:, 0] if self.est._y_ndim == 1 else out

    def sample_information(self, X_val, kind, noise_variance):
        xp, spec, s = self.xp, self.spec, self.est.alpha_
        check_kind(kind)
        e, _, _ = leave_one_out_change(spec, s)
        sigma2 = self.information_noise(noise_variance, e.shape[1])
        if kind == "weights":
            quad = spec.P2 @ (1.0 / (spec.lam + s))
        else:
            if X_val is None:
                Q = with_intercept(spec, spec.P / (spec.lam + s))
            else:
                X_val = self.validate(X_val, "sample_information", "X_val")
                if X_val.shape[0] == 0:
                    raise ValueError("X_val has no rows.")
                Q = self.coordinates(X_val)
            gram = self.check_finite(
                Q.T @ Q,
                X_val if X_val is not None else Q,
                "X_val",
                "The Gram of the validation inputs",
            )
            T = training_coordinates(spec)
            quad = xp.sum((T @ gram) * T, axis=1) / Q.shape[0]
        return xp.sum((e**2 / (2.0 * sigma2)) * quad[:, None], axis=1)

    def information_noise(self, noise_variance, k):
        """σ² of sample information, shape (k,), checked as the numpy path
        checks it (a positive finite float or one per target)."""
        value = self.noise_variance() if noise_variance is None else noise_variance
        try:
            value = host_floats(value)
        except (TypeError, ValueError):
            pass  # check_noise_variance names what it is
        host = np.array(check_noise_variance(value, k))
        return self.xp.asarray(host, dtype=self.dtype, device=self.device)

    # -- shared pieces ---------------------------------------------------------
    def reference(self, heuristic):
        """(T, ω per target) of the SSI heuristics, on the device."""
        spec = self.spec
        T = training_coordinates(spec)
        if heuristic == "ssi_unlabeled":
            return T, [spec.w]
        resid = spec.residual(self.est.alpha_)
        return T, [spec.w * resid[:, j] ** 2 for j in range(resid.shape[1])]

    def indices(self, i):
        """``(idx, scalar)``: the 1-d index array of ``cross``'s ``i`` (a
        Python int or a 1-d integer array of the model's namespace)."""
        if isinstance(i, numbers.Integral):
            return self.xp.asarray([int(i)], device=self.device), True
        return i, False
