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

Each heuristic declares the parts of the acquisition protocol it needs
(:data:`NEEDS`, parts of :class:`skrt._acquisition.Acquisition`), and each
batch mode likewise (:data:`BATCH_NEEDS`: a greedy batch needs the columns
``κ(·, i)``); :func:`skrt._acquisition.require` checks them once.
"""

from __future__ import annotations

import numpy as np

LABELED_HEURISTICS = ("sld", "sti", "ssi")
UNLABELED_ONLY_HEURISTICS = ("ssi_unlabeled", "variance")
HEURISTICS = LABELED_HEURISTICS + UNLABELED_ONLY_HEURISTICS
BATCHES = ("greedy", "topk")

# the parts of the acquisition protocol each heuristic and batch mode uses
NEEDS = {
    "sld": ("tangent",),
    "sti": ("sti",),
    "ssi": ("influence",),
    "ssi_unlabeled": ("influence",),
    "variance": ("variance",),
}
BATCH_NEEDS = {"greedy": ("cross",), "topk": ()}

# g of the unlabeled forms that do not involve σ² (see the module docstring)
_LABEL_FREE_WEIGHT = {"ssi_unlabeled": 4.0, "variance": 1.0}


def check_heuristic(heuristic, labeled=False):
    """A ValueError unless ``heuristic`` is known (and has a labeled form
    when ``labeled``)."""
    if heuristic not in HEURISTICS:
        raise ValueError(
            f"heuristic must be one of {list(HEURISTICS)}; got {heuristic!r}."
        )
    if labeled and heuristic in UNLABELED_ONLY_HEURISTICS:
        raise ValueError(
            f"heuristic={heuristic!r} has no labeled form: call score_samples "
            "without y."
        )


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
        ``T`` of the heuristic.
    weight : ndarray of shape (n_targets,) or (n_samples, n_targets)
        ``g``: :func:`unlabeled_weight`, or ``L'(r)²`` of known labels.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
    """
    return (np.asarray(weight) * terms).sum(axis=1)
