"""The ``prior`` of a model pulled toward a shared model.

A user's model is pulled toward a shared model ``θ₀(s)`` that itself moves
with the regularity ``s`` along its own tangent ``θ̇₀ = dθ₀/ds``:

.. math::

    f_u(\\theta, s) = \\sum_i w_i (x_i^\\top\\theta + b - y_i)^2
                     + s \\lVert \\theta - \\theta_0(s) \\rVert^2 .

Writing ``θ = θ₀ + δ`` turns this into plain ridge for ``δ`` on the targets
``y - Xθ₀``; with ``A = Xcᵀ W Xc + s I``,

.. math::

    \\theta^* = A^{-1} (X_c^\\top W y_c + s \\theta_0), \\qquad
    \\dot\\theta = -A^{-1} (\\theta^* - \\theta_0 - s \\dot\\theta_0)
                 = \\dot\\delta + s A^{-1} \\dot\\theta_0 .

Tangent inheritance: fitted on no data of its own the model *is* its prior,
``θ* = θ₀`` and ``θ̇ = θ̇₀`` (and ``b = b₀``, ``ḃ = ḃ₀``, ``σ² = σ₀²``), so a
new user's first query already follows the shared model's curiosity.
Leverages, exact leave-one-out and the ``alpha="loo"`` search hold ``θ₀``
fixed.

This module validates the ``prior`` parameter (:func:`check_prior_param`),
turns it into checked arrays (:func:`prior_arrays`), validates the empty
training set of a prior-only fit (:func:`validate_empty`), builds a prior
from a fitted shared model (:func:`prior_from`, public as
``skrt.prior_from``) and gives the exact leave-one-out residual of a sample
whose removal leaves no data: the prior's (:func:`leave_out_to_the_prior`).

A model fitted on no data of its own records ``n_samples_fit_ == 0`` (and
sets no ``solver_``): that is how the query side recognises a model that is
its prior.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

from ._linalg import removed_fraction

__all__ = [
    "PRIOR_KEYS",
    "check_prior_param",
    "leave_out_to_the_prior",
    "prior_arrays",
    "prior_from",
    "validate_empty",
]

#: The keys ``prior`` may hold; ``"coef"`` is required.
PRIOR_KEYS = (
    "coef",
    "coef_tangent",
    "intercept",
    "intercept_tangent",
    "noise_variance",
)


def check_prior_param(prior):
    """The ``prior`` parameter: None or a dict with "coef" and known keys."""
    if prior is None:
        return
    if not isinstance(prior, Mapping) or "coef" not in prior:
        raise TypeError(
            "prior must be None or a dict with at least the key 'coef' "
            f"(see skrt.prior_from); got {type(prior).__name__}."
        )
    unknown = set(prior) - set(PRIOR_KEYS)
    if unknown:
        raise ValueError(
            f"prior has unknown keys {sorted(unknown)}; allowed: {list(PRIOR_KEYS)}."
        )


def validate_empty(estimator, X, y):
    """X with zero rows (its features recorded) and an empty y, for a model
    fitted on no data of its own."""
    X = validate_data(
        estimator, X, accept_sparse=("csr", "csc", "coo"), ensure_min_samples=0
    )
    y = np.asarray(y, dtype=np.float64)
    if X.shape[0] != 0 or y.ndim not in (1, 2):
        raise ValueError(
            f"X has {X.shape[0]} rows but y is empty with shape {y.shape}."
        )
    return X, y


def prior_arrays(prior, n_features, y):
    """The prior's arrays as (p, k) / (k,) float arrays, checked.

    Parameters
    ----------
    prior : dict
        The ``prior`` parameter (checked by :func:`check_prior_param`).
    n_features : int
        Number of features ``p``.
    y : ndarray of shape (n_samples,) or (n_samples, k)
        The targets; only their number of columns ``k`` is read.

    Returns
    -------
    arrays : dict
        ``"coef"`` and ``"coef_tangent"`` of shape (p, k); ``"intercept"``,
        ``"intercept_tangent"`` and ``"noise_variance"`` of shape (k,),
        missing keys filled with 0 (1 for the noise variance).
    """
    k = 1 if y.ndim == 1 else y.shape[1]

    def weights(key):
        value = prior.get(key)
        if value is None:
            return np.zeros((n_features, k))
        a = np.asarray(value, dtype=float)
        # coef_ convention: (n_features,) or (n_targets, n_features)
        if a.shape not in ((n_features,), (k, n_features)) or (a.ndim == 1 and k != 1):
            raise ValueError(
                f"prior[{key!r}] must have shape ({n_features},) or "
                f"({k}, {n_features}) like coef_; got {a.shape}."
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"prior[{key!r}] contains NaN or infinity.")
        return a.reshape(-1, n_features).T.copy()

    def per_target(key, default):
        value = prior.get(key)
        a = np.full(k, default) if value is None else np.asarray(value, float)
        if a.ndim > 1 or a.size not in (1, k) or not np.all(np.isfinite(a)):
            raise ValueError(
                f"prior[{key!r}] must be a finite float or {k} of them; got {value!r}."
            )
        return np.broadcast_to(a.ravel(), (k,)).copy()

    out = {
        "coef": weights("coef"),
        "coef_tangent": weights("coef_tangent"),
        "intercept": per_target("intercept", 0.0),
        "intercept_tangent": per_target("intercept_tangent", 0.0),
        "noise_variance": per_target("noise_variance", 1.0),
    }
    if np.any(out["noise_variance"] < 0):
        raise ValueError("prior['noise_variance'] must be non-negative.")
    return out


def prior_from(model):
    """The ``prior`` of a user model, taken from a fitted shared model.

    Parameters
    ----------
    model : fitted RegularityRidge or SGDFRegressor
        Anything with ``coef_``, ``coef_tangent_``, ``intercept_``,
        ``intercept_tangent_`` and ``noise_variance_``.

    Returns
    -------
    prior : dict
        Copies of those five, under the keys ``RegularityRidge(prior=...)``
        reads. Use the shared model's ``alpha_`` as the user's alpha for the
        two-level model of :ref:`math-prior`.

    Examples
    --------
    >>> import numpy as np
    >>> from skrt import RegularityRidge, prior_from
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(100, 3)
    >>> shared = RegularityRidge(alpha=5.0).fit(X, X @ [1.0, 2.0, 3.0])
    >>> user = RegularityRidge(alpha=5.0, prior=prior_from(shared))
    >>> user = user.fit(np.empty((0, 3)), np.empty(0))  # no data yet
    >>> bool(np.allclose(user.coef_tangent_, shared.coef_tangent_))
    True
    """
    check_is_fitted(model)
    missing = [
        name
        for name in ("coef_", "coef_tangent_", "intercept_", "noise_variance_")
        if not hasattr(model, name)
    ]
    if missing:
        raise TypeError(
            f"{type(model).__name__} has no {', '.join(missing)}: the prior "
            "comes from a fitted RegularityRidge or SGDFRegressor."
        )
    return {
        "coef": np.array(model.coef_, dtype=float),
        "coef_tangent": np.array(model.coef_tangent_, dtype=float),
        "intercept": np.array(model.intercept_, dtype=float),
        "intercept_tangent": np.array(
            getattr(model, "intercept_tangent_", 0.0), dtype=float
        ),
        "noise_variance": np.array(model.noise_variance_, dtype=float),
    }


def leave_out_to_the_prior(loo, Y, w, prior):
    """Exact LOO where leaving a sample out leaves no weight at all.

    Its leverage is 1 (the unpenalised intercept interpolates it), so
    ``r/(1 - h)`` is undefined; but the model fitted on no data is the
    prior, whose residual there is ``y_i - x_iᵀθ₀ - b₀`` (``Y`` holds
    ``y - Xθ₀``). Only a single positive-weight row can be such a sample;
    GCV, which averages the leverages, then equals the LOO error.
    """
    alone = (w > 0) & (w.sum() - removed_fraction(w) <= 0)
    if not alone.any():
        return loo
    out = np.array(loo.loo_residual, dtype=float)
    out[alone] = Y[alone] - prior["intercept"]
    if not np.isfinite(out).all():
        return replace(loo, loo_residual=out)
    error = (w @ out**2) / w.sum()
    return replace(loo, loo_residual=out, loo_error=error, gcv_error=error)
