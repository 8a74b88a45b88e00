r"""The acquisition protocol: what a fitted model offers to score a pool
(docs/math.rst, :ref:`math-heuristics` and :ref:`math-greedy`).

A fitted skrt estimator describes itself to the query code through
``model.__skrt_acquisition__()`` (public by convention, in the style of
scikit-learn's ``__sklearn_tags__``), which returns an :class:`Acquisition`.
The query code (:class:`skrt._batch.PoolScorer`, :mod:`skrt.query`,
:mod:`skrt.skactiveml`) reads only that object; it never touches an
estimator's attributes.

Notation. A model is fitted at regularity ``s`` on inputs ``x_j`` with
weights ``w_j``; ``x̃`` is the centred input (with a leading 1 when there is
an intercept) or, for a kernel model, the feature map ``φ(x)``; ``P`` is the
penalty's projector (no penalty on the intercept) and

.. math::

    M = \tilde X^\top W \tilde X + sP, \qquad
    \kappa(a, b) = \tilde x_a^\top M^{-1} \tilde x_b .

The parts of an acquisition:

``tangent`` (every model)
    ``X -> ẋ``, the prediction tangent ``ẋ = df(x)/ds = x̃ᵀθ̇``, shape
    (n, n_targets).
``sti`` (or None)
    ``X -> x̃ᵀ H⁻¹ σ_T``, the response to the total training gradient
    ``σ_T = Σ_j w_j σ_j`` (``H = 2M`` the Hessian of the objective).
``curvature`` (or None)
    The ``M⁻¹`` operator, through what pool scoring needs of it
    (:class:`Curvature`): the columns ``κ(·, i)`` of greedy batches, the
    variance ``κ(x, x)``, and the sums of squared influences
    ``Σ_j ω_j κ(j, x)² = q(x)ᵀ (Tᵀ diag(ω) T) q(x)`` in coordinates with
    ``κ(j, x) = t_jᵀ q(x)``. Its backend may be a stored decomposition
    (spectral, linear or kernel), a Cholesky factor, or conjugate gradients
    (Krylov, linear or kernel); a part the backend cannot give is None.
``noise_variance``
    ``σ²`` per target, shape (n_targets,): the unlabeled heuristics model a
    candidate's label as ``y ~ N(f(x), σ²)``.
``advice`` and ``reasons``
    What to tell the user when a heuristic needs a part the model lacks:
    ``reasons[part]`` where the model has a part-specific sentence, else
    ``advice``. Each heuristic declares the parts it needs
    (:data:`skrt._heuristics.NEEDS`); :func:`require` checks them once.
``n_samples_fit``
    Training rows behind the fit; 0 for a model fitted on no data (its
    prior), which has no ``M⁻¹`` of training data: its greedy batches fall
    back on, or ask for, ``batch="topk"``. None where the estimator does not
    record it.
``family``
    ``"linear"``: the model's feature space is its centred inputs ``x̃``;
    ``"kernel"``: a kernel's feature map ``φ(x)``. What ``heuristic="auto"``
    reads (:func:`skrt._heuristics.resolve_heuristic`).
``validate`` and ``block_width``
    The model's validation of a pool (``X -> X`` in the layout the parts
    accept), and the columns a pool row costs beyond its own in the widest
    intermediate (a kernel model's training rows, the rank of a stored
    decomposition): pools are scored in row blocks of
    ``skrt._centering.row_block(n_features + block_width)`` rows.
``namespace``
    ``(xp, device)`` of a model fitted on array-API arrays with
    scikit-learn's ``array_api_dispatch`` on (as
    :func:`skrt._array_api.device_namespace` gives it), None for numpy;
    where it is not given, that of ``noise_variance`` when it is such an
    array. A pool must be in the same namespace and on the same device
    (:func:`skrt._batch.check_namespace`).

Array-API models. Every part takes a pool validated by ``validate`` (an
array in the model's namespace, on its device) and returns arrays of that
namespace and device; the index ``i`` of ``curvature.cross`` is a Python
int or a 1-d integer array of that namespace and device (index with
``X[i, :]`` and ``xp.take(X, i, axis=0)``: the standard has no ``X[i]`` on a
2-d array); ``reference`` returns ``T`` and a list of ``ω`` in it too.
``noise_variance`` may be such an array: it is kept here as a numpy copy
(it has n_targets entries).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ._array_api import device_namespace, to_numpy

__all__ = ["Acquisition", "Curvature", "missing_parts", "require"]

# the feature spaces of Acquisition.family
FAMILIES = ("linear", "kernel")

# where each part lives and what it is, for the messages of require()
PARTS = {
    "tangent": ("tangent", "the prediction tangent df(x)/ds"),
    "sti": ("sti", "the total-influence response x̃ᵀH⁻¹σ_T"),
    "cross": ("curvature.cross", "the columns κ(·, i) = x̃ᵀM⁻¹x̃_i"),
    "variance": ("curvature.variance", "the variance x̃ᵀM⁻¹x̃"),
    "influence": (
        "curvature.coordinates and curvature.reference",
        "the influence coordinates of the pool and the training set",
    ),
}


@dataclass(frozen=True)
class Curvature:
    """``M⁻¹ = (X̃ᵀWX̃ + sP)⁻¹`` through what pool scoring needs of it.

    Parameters
    ----------
    cross : callable or None
        ``cross(X, i, cache) -> κ(·, i)``, shape (n,): the column of
        candidate ``i`` against every row of the validated pool ``X``; for
        an int array ``i`` the columns of all of them, shape (n, len(i));
        ``cache`` is a dict the backend may fill with per-pool
        intermediates (one dict per pool).
    variance : callable or None
        ``variance(X) -> κ(x, x)``, shape (n,).
    coordinates : callable or None
        ``coordinates(X) -> q``, shape (n, r), with ``κ(j, x) = t_jᵀ q(x)``
        for training row ``j``.
    reference : callable or None
        ``reference(heuristic) -> (T, omegas)``: the training coordinates
        ``t_j`` as rows of ``T`` (n_fit, r) and one weight vector ``ω`` per
        target: ``w r²`` (``r = f - y``) for ``"ssi"``, ``w`` for
        ``"ssi_unlabeled"``.
    """

    cross: Callable | None = None
    variance: Callable | None = None
    coordinates: Callable | None = None
    reference: Callable | None = None


@dataclass(frozen=True)
class Acquisition:
    """What a fitted model offers to score a pool (see the module docstring).

    Parameters
    ----------
    validate : callable
        ``X -> X``: the model's validation of a pool.
    tangent : callable
        ``X -> ẋ``, shape (n, n_targets).
    noise_variance : ndarray of shape (n_targets,)
    advice : str
        Completes "<what> ..." when a needed part is missing.
    sti : callable or None, default=None
        ``X -> x̃ᵀH⁻¹σ_T``, shape (n, n_targets).
    curvature : Curvature or None, default=None
    n_samples_fit : int or None, default=None
    block_width : int, default=0
    reasons : mapping of str to str, default={}
        Part-specific advice (keys of ``PARTS``), preferred to ``advice``.
    family : {"linear", "kernel"}, default="linear"
        The model's feature space: its centred inputs, or a kernel's
        feature map.
    namespace : (module, device) or None, default=None
        The array namespace and device of a model fitted on array-API
        arrays; None: that of ``noise_variance`` when it is one, else numpy.
    """

    validate: Callable
    tangent: Callable
    noise_variance: np.ndarray
    advice: str
    sti: Callable | None = None
    curvature: Curvature | None = None
    n_samples_fit: int | None = None
    block_width: int = 0
    reasons: Mapping[str, str] = field(default_factory=dict)
    family: str = "linear"
    namespace: Any = None

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(
                f"family must be one of {list(FAMILIES)}; got {self.family!r}."
            )
        noise = self.noise_variance
        ns = device_namespace(noise)
        if ns is not None:
            if self.namespace is None:
                object.__setattr__(self, "namespace", ns)
            noise = to_numpy(noise, ns[0])
        noise = np.atleast_1d(np.asarray(noise, dtype=float))
        object.__setattr__(self, "noise_variance", noise)
        object.__setattr__(self, "reasons", MappingProxyType(dict(self.reasons)))

    def part(self, name):
        """The callable behind part ``name`` (a key of ``PARTS``), or None."""
        if name == "tangent":
            return self.tangent
        if name == "sti":
            return self.sti
        curv = self.curvature
        if curv is None:
            return None
        if name == "influence":
            ok = curv.coordinates is not None and curv.reference is not None
            return curv.coordinates if ok else None
        return getattr(curv, name)

    def reason(self, name):
        """Why part ``name`` is missing: a sentence that starts with a verb."""
        return self.reasons.get(name, self.advice)


def missing_parts(acquisition, needs):
    """The parts among ``needs`` that ``acquisition`` lacks, in order."""
    return [name for name in needs if acquisition.part(name) is None]


def require(acquisition, needs, what):
    """Raise a ValueError naming the first part of ``needs`` that is missing.

    Parameters
    ----------
    acquisition : Acquisition
    needs : sequence of str
        Keys of ``PARTS``, as declared in ``skrt._heuristics.NEEDS``.
    what : str
        Who needs them ("heuristic='sti'", "A greedy batch"): the subject of
        the message.
    """
    missing = missing_parts(acquisition, needs)
    if not missing:
        return
    name = missing[0]
    where, meaning = PARTS[name]
    raise ValueError(
        f"{what} {acquisition.reason(name)} (It uses {meaning}: Acquisition."
        f"{where} is None for this model.)"
    )
