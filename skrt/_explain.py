"""Why ``skrt query --explain`` chose each row: its score, the model's
prediction with its std, and the terms the heuristic's score is made of.

Every number comes from a public call on the fitted pipeline: the
prediction and std from ``predict(X, return_std=True)`` of its final step
on the transformed rows, the tangent from ``predict_tangent``, and each
pool term from :func:`skrt.query.regularity_sampling` with that term as
the heuristic (the same landmarks and random state as the query, so the
terms are those of the query's first round). Nothing reads an estimator's
attributes.

The terms (``κ`` the model's posterior covariance over ``σ²``, ``v`` and
``ivr`` from the pool's factor, :mod:`skrt._pool`):

=====================  ======================  =============================
heuristic              terms                   score
=====================  ======================  =============================
``sld``                tangent ``ẋ``           ``4σ² ẋ²``
``ivr``                pool_variance ``v``     ``Σ_c κ(c, x)² / (n (1 + v))``
``variance_ivr``       pool_variance, ivr      ``v · ivr``
``pool_tangent``       tangent, v, ivr         ``ẋ² · ivr / (1 + v)``
``cluster_distance``   pool_variance           first pick: ``v``
=====================  ======================  =============================

(``sti``, ``ssi``, ``ssi_unlabeled``, ``variance`` and ``pool_variance``
are one term each: the score.) With a greedy batch each pick after the
first maximises the score after the earlier picks were virtually labeled:
the "score when chosen".
"""

from __future__ import annotations

import numpy as np

__all__ = ["FORMULAS", "TERMS", "explain_rows", "format_explanation"]

TERMS = {
    "sld": ("tangent",),
    "sti": (),
    "ssi": (),
    "ssi_unlabeled": (),
    "variance": (),
    "pool_variance": (),
    "ivr": ("pool_variance",),
    "variance_ivr": ("pool_variance", "ivr"),
    "pool_tangent": ("tangent", "pool_variance", "ivr"),
    "cluster_distance": ("pool_variance",),
}

FORMULAS = {
    "sld": "score = 4 sigma^2 tangent^2: the squared change of the prediction "
    "with the regularity alpha (tangent = d prediction / d alpha), times the "
    "expected squared loss gradient",
    "sti": "score = the squared total influence of the row on the training "
    "loss, times the expected squared loss gradient",
    "ssi": "score = the sum of the row's squared influences on the training "
    "rows, times the expected squared loss gradient",
    "ssi_unlabeled": "score = 4 sum_j kappa(j, x)^2 over the training rows",
    "variance": "score = kappa(x, x), the model's variance at the row over sigma^2",
    "pool_variance": "score = kappa(x, x) on the pool's factor: the model's "
    "variance at the row over sigma^2",
    "ivr": "score = sum_c kappa(c, x)^2 / (n_pool (1 + pool_variance)): the "
    "drop of the pool's mean variance were the row labeled",
    "variance_ivr": "score = pool_variance x ivr: uncertain at the row and "
    "informative for the pool",
    "pool_tangent": "score = tangent^2 x ivr / (1 + pool_variance): the mean "
    "squared change of the pool's tangents",
    "cluster_distance": "first pick: score = pool_variance, the squared "
    "distance to the training set; later picks: the squared distance to the "
    "nearest centre (the training set or an earlier pick), within the cluster "
    "of largest mass",
}


def explain_rows(pipeline, X_pool, chosen, heuristic, n_landmarks):
    """Prediction, std and the heuristic's terms at the chosen rows.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline or estimator
        Fitted; its final step a RegularityRidge or RegularityKernelRidge
        (or that estimator alone, the pool then already transformed).
    X_pool : array-like or dask array of shape (n_pool, n_features)
        The pool as the pipeline takes it (a dask array: the chosen rows
        are computed, and the pool terms scored on the dask pool).
    chosen : ndarray of shape (n_chosen,)
        Indices into ``X_pool``.
    heuristic : str
        The concrete heuristic the query used (``"auto"`` resolved).
    n_landmarks : int
        The landmarks the query's pool heuristics used.

    Returns
    -------
    columns : dict of str to ndarray of shape (n_chosen,)
        ``"prediction"``, ``"std"``, then each of ``TERMS[heuristic]``.
    """
    from .query import regularity_sampling

    rows = X_pool[chosen]
    if hasattr(rows, "compute"):  # a dask pool: only these rows
        rows = rows.compute()
    if hasattr(pipeline, "steps"):
        final, Xt = pipeline[-1], pipeline[:-1].transform(rows)
    else:
        final, Xt = pipeline, rows
    prediction, std = final.predict(Xt, return_std=True)
    out = {"prediction": np.asarray(prediction), "std": np.asarray(std)}
    for term in TERMS[heuristic]:
        if term == "tangent":
            out[term] = np.asarray(final.predict_tangent(Xt))
        else:
            _, scores = regularity_sampling(
                pipeline,
                X_pool,
                1,
                heuristic=term,
                batch="topk",
                random_state=0,
                n_landmarks=n_landmarks,
            )
            out[term] = np.asarray(scores[chosen], dtype=float)
    return out


def format_explanation(heuristic, batch, target, pool_rows, scores, at_pick, terms):
    """The lines ``--explain`` prints: a header, then one per chosen row.

    ``scores`` are the first-round scores of the chosen rows, ``at_pick``
    the scores when each was chosen (None when not kept), ``terms`` from
    :func:`explain_rows`, ``pool_rows`` the rows' numbers in the pool file.
    """
    greedy = batch == "greedy" and len(pool_rows) > 1
    lines = [
        f"why these rows ({heuristic}; {FORMULAS[heuristic]}"
        + (
            "; greedy batch: each pick maximises the score after the earlier "
            "picks were virtually labeled, the score when chosen"
            if greedy
            else "; the rows of highest score"
        )
        + "):"
    ]
    for k, row in enumerate(pool_rows):
        parts = [f"score {scores[k]:.4g}"]
        if greedy and at_pick is not None:
            parts[0] += f" (when chosen {at_pick[k]:.4g})"
        parts.append(
            f"predicted {target} {terms['prediction'][k]:.4g} +/- {terms['std'][k]:.3g}"
        )
        parts += [f"{name} {terms[name][k]:.4g}" for name in TERMS[heuristic]]
        lines.append(f"  rank {k + 1}, pool row {row}: " + "; ".join(parts))
    return lines
