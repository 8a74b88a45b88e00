r"""Query heuristics (:ref:`math-heuristics`), shared by every estimator.

With ``σ_z = L'(r) x̃`` the loss gradient of a point (``2 r x̃`` for the
squared loss, ``r = f(x) - y``) and ``H = 2M`` the Hessian of the training
objective, each heuristic scores a candidate as

.. math::

    \text{score}(x) = \sum_k g_k(x)\, T_k(x),

summed over the targets ``k``, with a term ``T`` per heuristic:

=================  =========================================================
``"sld"``          ``ẋ²``, ``ẋ = df(x)/ds`` (squared loss derivative)
``"sti"``          ``(x̃ᵀ H⁻¹ σ_T)²``, ``σ_T = Σ_j w_j σ_j`` (squared total
                   influence)
``"ssi"``          ``Σ_j w_j r_j² κ(j, x)²`` (sum of squared influences,
                   ``Σ_j w_j (x̃ᵀ H⁻¹ σ_j)²``: ``x̃ᵀH⁻¹σ_j = r_j κ(j, x)``)
``"ssi_unlabeled"``  ``Σ_j w_j κ(j, x)²``
``"variance"``     ``κ(x, x) = x̃ᵀ M⁻¹ x̃`` (predictive variance)
=================  =========================================================

and a weight ``g`` that is the squared loss gradient of the candidate
(:func:`score`): ``L'(r)²`` when its label is known (the labeled form),
``E[L'(r)²] = 4σ²`` under ``y ~ N(f(x), σ²)`` when it is not
(:func:`unlabeled_weight`). ``"ssi_unlabeled"`` does without both labels
(``g = 4``: ``Σ_j w_j (2 x̃_jᵀ H⁻¹ 2 x̃)² = 4 T``) and ``"variance"`` is the
plain baseline (``g = 1``); neither has a labeled form.

The pool heuristics (:data:`POOL_HEURISTICS`, :mod:`skrt._pool`) weigh a
candidate by its effect on the whole pool, from a Nyström factor
``κ̂(a, b) = u_aᵀu_b`` of the curvature on the pool:

======================  ====================================================
``"pool_variance"``     ``κ_B(x, x)``, greedy max variance (MaxDet)
``"ivr"``               ``Σ_c κ_B(c, x)² / (n_pool (1 + κ_B(x, x)))``, the
                        pool-averaged variance reduction (V-optimal)
``"variance_ivr"``      ``κ_B(x, x)`` times the ``"ivr"`` score: uncertain and
                        informative for the pool
``"pool_tangent"``      ``Σ_k ẋ_k² · Σ_c κ_B(c, x)² / (n_pool (1 + κ_B(x,
                        x))²)``, the mean squared change of the pool's
                        tangents ``ẋ_c``
``"cluster_distance"``  the LCMD score: squared distance to the nearest
                        center (training set or pick) inside the cluster of
                        largest mass, else 0
======================  ====================================================

(``κ_B``: after the picks ``B`` of a greedy batch.) They have no labeled
form and no weight ``g``. ``"auto"`` is resolved to one concrete name per
model family and batch size by :func:`resolve_heuristic` (:data:`AUTO`).

Each heuristic declares the parts of the acquisition protocol it needs
(:data:`NEEDS`, parts of :class:`skrt._acquisition.Acquisition`), and each
batch mode likewise (:data:`BATCH_NEEDS`: a greedy batch needs the columns
``κ(·, i)``); :func:`skrt._acquisition.require` checks them once.
"""

from __future__ import annotations

import numpy as np

from ._array_api import device_namespace

LABELED_HEURISTICS = ("sld", "sti", "ssi")
# the heuristics scored from a Nyström factor of the pool (skrt._pool)
POOL_HEURISTICS = (
    "pool_variance",
    "ivr",
    "variance_ivr",
    "pool_tangent",
    "cluster_distance",
)
UNLABELED_ONLY_HEURISTICS = ("ssi_unlabeled", "variance") + POOL_HEURISTICS
# the concrete names; "auto" is resolved to one of them (resolve_heuristic)
HEURISTICS = LABELED_HEURISTICS + UNLABELED_ONLY_HEURISTICS
HEURISTIC_CHOICES = ("auto",) + HEURISTICS
BATCHES = ("greedy", "topk")

# what heuristic="auto" means, per (Acquisition.family, "batch" or "single"):
# the best mean ALC rank of benchmarks/bench_active_learning.py (10 datasets
# x 5 seeds, 20 to 100 labels; docs/user_guide.rst, "Which query
# heuristic"); a tuple lists the choices in order, the first whose parts the
# model has is used
AUTO = {
    ("kernel", "batch"): "variance_ivr",
    ("kernel", "single"): "variance_ivr",
    ("linear", "batch"): "cluster_distance",
    ("linear", "single"): "ivr",
}
# landmarks of the pool factor (skrt._pool) when the caller sets none: the
# default, and where "auto"'s measured choice used a finer factor
DEFAULT_LANDMARKS = 200
AUTO_LANDMARKS = {("kernel", "single"): 500}
# what "auto" falls back on where the model lacks a part AUTO's choice needs
AUTO_FALLBACK = "sld"

# the parts of the acquisition protocol each heuristic and batch mode uses
NEEDS = {
    "sld": ("tangent",),
    "sti": ("sti",),
    "ssi": ("influence",),
    "ssi_unlabeled": ("influence",),
    "variance": ("variance",),
    "pool_variance": ("cross",),
    "ivr": ("cross",),
    "variance_ivr": ("cross",),
    "pool_tangent": ("cross", "tangent"),
    "cluster_distance": ("cross",),
}
BATCH_NEEDS = {"greedy": ("cross",), "topk": ()}

# g of the unlabeled forms that do not involve σ² (see the module docstring)
_LABEL_FREE_WEIGHT = {"ssi_unlabeled": 4.0, "variance": 1.0}


def check_heuristic(heuristic, labeled=False):
    """A ValueError unless ``heuristic`` is one of :data:`HEURISTIC_CHOICES`
    (and has a labeled form when ``labeled``: ``"auto"`` and the unlabeled-
    only heuristics have none)."""
    if not isinstance(heuristic, str) or heuristic not in HEURISTIC_CHOICES:
        raise ValueError(
            f"heuristic must be one of {list(HEURISTIC_CHOICES)}; got {heuristic!r}."
        )
    if labeled and (heuristic in UNLABELED_ONLY_HEURISTICS or heuristic == "auto"):
        raise ValueError(
            f"heuristic={heuristic!r} has no labeled form: call score_samples "
            "without y."
        )


def resolve_heuristic(heuristic, acquisition, n_instances):
    """The concrete heuristic that ``heuristic`` names for this model.

    Parameters
    ----------
    heuristic : str
        One of :data:`HEURISTIC_CHOICES`; every name but ``"auto"`` is
        returned as is.
    acquisition : Acquisition
        The model's (:mod:`skrt._acquisition`); ``"auto"`` reads its
        ``family``.
    n_instances : int
        The batch size: ``"auto"`` picks the entry ``"single"`` of
        :data:`AUTO` for 1, ``"batch"`` above.

    Returns
    -------
    heuristic : str
        One of :data:`HEURISTICS`: for ``"auto"``,
        ``AUTO[(acquisition.family, "batch" | "single")]``, or
        :data:`AUTO_FALLBACK` where the model lacks a part that choice needs
        (:data:`NEEDS`), so that ``"auto"`` works with every model.
    """
    if heuristic != "auto":
        return heuristic
    key = _auto_key(acquisition, n_instances)
    chosen = AUTO.get(key, AUTO[("linear", key[1])])
    for name in (chosen,) if isinstance(chosen, str) else chosen:
        if all(acquisition.part(part) is not None for part in NEEDS[name]):
            return name
    return AUTO_FALLBACK


def resolve_landmarks(n_landmarks, heuristic, acquisition, n_instances):
    """``n_landmarks``, or where it is None, :data:`DEFAULT_LANDMARKS` (for
    ``heuristic="auto"``: what :data:`AUTO_LANDMARKS` measured best)."""
    if n_landmarks is not None:
        return n_landmarks
    if heuristic != "auto":
        return DEFAULT_LANDMARKS
    return AUTO_LANDMARKS.get(_auto_key(acquisition, n_instances), DEFAULT_LANDMARKS)


def _auto_key(acquisition, n_instances):
    size = "single" if n_instances <= 1 else "batch"
    return (getattr(acquisition, "family", "linear"), size)


def check_batch(batch):
    """A ValueError unless ``batch`` is one of :data:`BATCHES`."""
    if batch not in BATCHES:
        raise ValueError(f"batch must be one of {list(BATCHES)}; got {batch!r}.")


def unlabeled_weight(heuristic, noise_variance):
    """``g`` of the unlabeled form, shape (n_targets,) or (1,).

    ``E[L'(r)²] = 4σ²`` for the heuristics with a labeled form (the label
    modelled as ``y ~ N(f(x), σ²)``, the squared loss); 4 for
    ``"ssi_unlabeled"``; 1 for ``"variance"``.
    """
    if heuristic in _LABEL_FREE_WEIGHT:
        return np.array([_LABEL_FREE_WEIGHT[heuristic]])
    return 4.0 * np.asarray(noise_variance, dtype=float)


def score(terms, weight):
    """``Σ_k g_k T_k``: the one score formula, labeled or not.

    Parameters
    ----------
    terms : ndarray of shape (n_samples, n_targets)
        ``T`` of the heuristic; an array-API array (dispatch on) is scored
        in its namespace and on its device.
    weight : ndarray of shape (n_targets,) or (n_samples, n_targets)
        ``g``: :func:`unlabeled_weight` (numpy, moved to ``terms``'s device
        and dtype), or ``L'(r)²`` of known labels (in ``terms``'s namespace).

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        In ``terms``'s namespace and on its device.
    """
    ns = device_namespace(terms)
    if ns is None:
        return (np.asarray(weight) * terms).sum(axis=1)
    xp, device = ns
    if device_namespace(weight) is None:  # a host g (unlabeled_weight)
        weight = xp.asarray(np.asarray(weight), dtype=terms.dtype, device=device)
    return xp.sum(weight * terms, axis=1)
