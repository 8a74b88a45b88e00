"""Training-data curation by unique sample information (SUI paper, section 6).

:func:`rank_by_information` orders the training samples of a fitted model
from least to most informative; :func:`summarize` removes the least (or
most) informative fraction of a training set, at once or in rounds that
recompute the scores after each removal (the paper's "bottom iterative").
Both accept a :class:`~skrt.RegularityRidge`, a
:class:`~skrt.RegularityKernelRidge`, or a :class:`~sklearn.pipeline.Pipeline`
ending in one (validation inputs then pass through the earlier steps).
"""

from __future__ import annotations

import numbers
import time

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state

from ._fit_log import FitLog, check_verbose, seconds
from ._influence import check_kind
from ._querying import split_pipeline

__all__ = ["rank_by_information", "summarize"]


def _final_model(estimator):
    """(model with sample_information, transform for validation inputs)."""
    model, transform = split_pipeline(estimator)
    if not hasattr(model, "sample_information") and hasattr(
        model, "__skrt_acquisition__"
    ):  # a tangent-only skrt model (SGDFRegressor, RegularityLasso)
        raise TypeError(
            "sample_information needs the exact leave-one-out change of every "
            f"training sample, which {type(model).__name__} does not keep; use "
            "a RegularityRidge, a RegularityKernelRidge or a Pipeline ending in "
            "one."
        )
    if not hasattr(model, "sample_information"):
        raise TypeError(
            "estimator must be a RegularityRidge, a RegularityKernelRidge or a "
            f"Pipeline ending in one; got {type(model).__name__}."
        )
    return model, transform


def rank_by_information(estimator, X_val=None, *, kind="function"):
    """Training samples of a fitted model, least informative first.

    Parameters
    ----------
    estimator : RegularityRidge, RegularityKernelRidge or Pipeline
        Fitted; a Pipeline must end in one of the two.
    X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
        Validation inputs for ``kind="function"`` (raw: a Pipeline's earlier
        steps transform them); None uses the training inputs.
    kind : {"function", "weights"}, default="function"
        F-SI or SI (see ``sample_information``).

    Returns
    -------
    order : ndarray of shape (n_samples_fit,)
        Training-row indices from least to most informative (ties keep
        row order).
    information : ndarray of shape (n_samples_fit,)
        The scores, in training-row order.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skrt import RegularityRidge
    >>> from skrt.data import rank_by_information
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(60, 3) * [1.0, 10.0, 100.0]
    >>> y = X @ [1.0, 0.1, 0.01] + rng.randn(60)
    >>> y[5] += 8.0
    >>> pipe = make_pipeline(StandardScaler(), RegularityRidge(alpha="loo"))
    >>> order, info = rank_by_information(pipe.fit(X, y))
    >>> int(order[-1])
    5
    """
    model, transform = _final_model(estimator)
    if X_val is not None and transform is not None:
        X_val = transform(X_val)
    information = model.sample_information(X_val, kind=kind, as_frame=False)
    return np.argsort(information, kind="stable"), information


def _fit(estimator, X, y, sample_weight):
    if sample_weight is None:
        return estimator.fit(X, y)
    if isinstance(estimator, Pipeline):
        return estimator.fit(
            X, y, **{f"{estimator.steps[-1][0]}__sample_weight": sample_weight}
        )
    return estimator.fit(X, y, sample_weight=sample_weight)


def _indexable(a, name):
    """A row-indexable array (pandas and sparse input kept as they are)."""
    if sp.issparse(a) or hasattr(a, "iloc"):
        return a
    if a is None or isinstance(a, (str, bytes)):
        raise TypeError(f"{name} must be array-like; got {type(a).__name__}.")
    out = np.asarray(a)
    if out.ndim == 0:
        raise ValueError(
            f"{name} must be an array with one row per sample; got a scalar."
        )
    return out


def _rows(a, idx):
    if a is None:
        return None
    return a.iloc[idx] if hasattr(a, "iloc") else a[idx]


def summarize(
    estimator,
    X,
    y,
    remove_fraction=0.5,
    *,
    step=None,
    kind="function",
    remove="least",
    X_val=None,
    sample_weight=None,
    random_state=None,
    verbose=0,
):
    """Remove the least (or most) informative fraction of a training set.

    Parameters
    ----------
    estimator : RegularityRidge, RegularityKernelRidge or Pipeline
        Unfitted template: it is cloned and fitted on ``X, y`` (and again
        after every round).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    remove_fraction : float, default=0.5
        Share of the samples to remove, in [0, 1).
    step : float or None, default=None
        None removes everything at once from one set of scores. A float in
        (0, 1) removes at most this share of the original set per round and
        refits and rescores in between (SUI section 6 uses 0.05): a sample's
        unique information grows when its neighbours go.
    kind : {"function", "weights"}, default="function"
        F-SI or SI (see ``sample_information``).
    remove : {"least", "most", "random"}, default="least"
        Which samples go first; "most" and "random" are the paper's baselines.
    X_val : {array-like, sparse matrix} of shape (n_val, n_features), default=None
        Validation inputs for F-SI; None uses the current training inputs.
    sample_weight : array-like of shape (n_samples,), default=None
    random_state : int, RandomState instance or None, default=None
        For ``remove="random"``.
    verbose : int, default=0
        0 writes nothing; 1 writes a line on stderr per round (the refit's
        size and time, how many samples went, how many remain to remove).
        The estimator's own ``verbose`` is separate.

    Returns
    -------
    kept : ndarray of shape (n_kept,)
        Sorted row indices of the samples that remain.

    Examples
    --------
    >>> import numpy as np
    >>> from skrt import RegularityRidge
    >>> from skrt.data import summarize
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(100, 3)
    >>> y = X @ [1.0, -2.0, 0.5] + 0.1 * rng.randn(100)
    >>> kept = summarize(RegularityRidge(alpha=1.0), X, y, 0.8, step=0.2)
    >>> kept.shape
    (20,)
    >>> model = RegularityRidge(alpha=1.0).fit(X[kept], y[kept])
    >>> bool(np.allclose(model.coef_, [1.0, -2.0, 0.5], atol=0.1))
    True
    """
    check_kind(kind)  # before any fitting
    log = FitLog(check_verbose(verbose), "summarize")
    if remove not in ("least", "most", "random"):
        raise ValueError(f"remove must be 'least', 'most' or 'random'; got {remove!r}.")
    if (
        isinstance(remove_fraction, bool)
        or not isinstance(remove_fraction, numbers.Real)
        or not 0 <= remove_fraction < 1
    ):
        raise ValueError(f"remove_fraction must be in [0, 1); got {remove_fraction!r}.")
    if step is not None and (
        isinstance(step, bool) or not isinstance(step, numbers.Real) or not 0 < step < 1
    ):
        raise ValueError(f"step must be None or in (0, 1); got {step!r}.")
    _final_model(estimator)  # type check before any fitting
    X, y = _indexable(X, "X"), _indexable(y, "y")
    n = X.shape[0]
    if n == 0:
        raise ValueError("X has no rows: there is no training set to summarize.")
    if y.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {y.shape[0]}.")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=float)
        if sample_weight.shape != (n,):
            raise ValueError(
                f"sample_weight must have shape ({n},); got {sample_weight.shape}."
            )
    n_remove = int(np.floor(remove_fraction * n))
    per_round = n_remove if step is None else max(1, int(np.floor(step * n)))
    kept = np.arange(n)
    if remove == "random":
        rng = check_random_state(random_state)
        log(f"removing {n_remove} of {n} samples at random")
        return np.sort(rng.permutation(n)[: n - n_remove])
    rounds = -(-n_remove // per_round) if n_remove else 0
    log(
        f"removing {n_remove} of {n} samples, the {remove} informative first "
        f"({kind} information), in {rounds} round{'s' * (rounds != 1)}"
    )
    started = time.perf_counter()
    for done in range(1, rounds + 1):
        k = min(per_round, n_remove - (n - kept.size))
        now = time.perf_counter()
        model = _fit(
            clone(estimator),
            _rows(X, kept),
            _rows(y, kept),
            _rows(sample_weight, kept),
        )
        order, _ = rank_by_information(model, X_val, kind=kind)
        gone = order[:k] if remove == "least" else order[::-1][:k]
        log(
            f"round {done}/{rounds}: refit on {kept.size} samples and scored, "
            f"{seconds(time.perf_counter() - now)}; removed {k}, "
            f"{n_remove - (n - kept.size) - k} to go"
        )
        kept = np.delete(kept, gone)
    log(f"kept {kept.size} of {n} samples: {seconds(time.perf_counter() - started)}")
    return kept
