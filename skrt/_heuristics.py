"""Query heuristics of ``MATH.md`` section 3, shared by every estimator.

With ``σ_z = 2 r x̃`` the loss gradient of a point and ``H`` the Hessian of
the training objective, each labeled heuristic is ``4 r² T(x)`` and its
unlabeled form ``4 σ² T(x)`` (the label modelled as ``y ~ N(f(x), σ²)``,
so ``E[r²] = σ²``), where ``T`` is:

==========  ==================================================================
``"sld"``   ``ẋ²`` with ``ẋ = df(x)/ds`` (squared loss derivative)
``"sti"``   ``(x̃ᵀ H⁻¹ σ_T)²``, ``σ_T = Σ_j w_j σ_j`` (squared total influence)
``"ssi"``   ``Σ_j w_j (x̃ᵀ H⁻¹ σ_j)² / 4`` (sum of squared influences)
==========  ==================================================================

``"ssi_unlabeled"`` (``Σ_j w_j (2 x̃_jᵀ H⁻¹ 2 x̃)²``) and ``"variance"``
(``x̃ᵀ (X̃ᵀWX̃ + sP)⁻¹ x̃``) do not involve the candidate's label.
Scores of several outputs are summed.
"""

from __future__ import annotations

LABELED_HEURISTICS = ("sld", "sti", "ssi")
UNLABELED_ONLY_HEURISTICS = ("ssi_unlabeled", "variance")
HEURISTICS = LABELED_HEURISTICS + UNLABELED_ONLY_HEURISTICS


def check_heuristic(heuristic, labeled):
    if heuristic not in HEURISTICS:
        raise ValueError(
            f"heuristic must be one of {list(HEURISTICS)}; got {heuristic!r}."
        )
    if labeled and heuristic in UNLABELED_ONLY_HEURISTICS:
        raise ValueError(
            f"heuristic={heuristic!r} has no labeled form: call score_samples "
            "without y."
        )


def combine(term, residual, noise_variance):
    """``4 r² T`` (labeled) or ``4 σ² T`` (unlabeled), summed over outputs.

    Parameters
    ----------
    term : ndarray of shape (n_samples, n_targets)
    residual : ndarray of shape (n_samples, n_targets) or None
    noise_variance : ndarray of shape (n_targets,)
    """
    factor = residual**2 if residual is not None else noise_variance[None, :]
    return 4.0 * (factor * term).sum(axis=1)
