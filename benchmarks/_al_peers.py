"""Peer strategies of the active-learning benchmark.

Each peer is a strategy of :func:`skrt._simulate.simulate`,
``choose(model, X, y, labeled, pool, n, rng) -> indices into X``, driven by
the same fitted model as skrt's own strategies.

scikit-activeml (GSx, GSy, EMCM, QBC)
    Its pool strategies see all rows with the unlabeled ones marked missing;
    the regressor they refit is ``clone(model)`` (the benchmark's model,
    linear or kernel, unfitted), QBC's committee five bagged clones. EMCM's
    expected model change is measured in the model's own feature space
    (``feature_map`` below: the inputs for the linear model, the Nyström map
    for the kernel model); its default, the identity on the inputs, is the
    feature space of a linear model only.

bmdal-reg (Holzmüller et al., "A Framework and Benchmark for Deep Batch
Active Learning for Regression", JMLR 2023)
    ``bmdal_reg.bmdal.algorithms.select_batch`` with the base kernel
    ``"linear"`` on the model's own feature map ``φ`` (:func:`features`), so
    the kernel is the model's. The named methods, as configured in the
    package's ``run_experiments.py`` (name = selection method, mode):

    ============  ==============  ===============  ===========================
    name          selection       sel_with_train   kernel transforms
    ============  ==============  ===============  ===========================
    LCMD-TP       ``lcmd``        True (TP)        none
    MaxDist-TP    ``maxdist``     True (TP)        none
    MaxDet-P      ``maxdet``      False (P)        ``("train", [σ])``
    BAIT-F-P      ``bait``        False (P)        ``("train", [σ])``,
                                                   overselection factor 1
    KMeansPP-P    ``kmeanspp``    False (P)        ``("train", [σ])``
    ============  ==============  ===============  ===========================

    ``("train", [σ])`` is the Gaussian-process posterior after the labelled
    rows with noise standard deviation ``σ = sqrt(model.alpha_)``: prior
    weights ``N(0, I)`` on ``φ`` and noise ``σ²`` give the posterior
    covariance ``σ² φ(a)ᵀ (ΦᵀΦ + σ² I)⁻¹ φ(b)``, the model's own
    ``M = ΦᵀΦ + alpha I`` (the paper rescales the kernel first,
    ``("train", [σ, None])`` with ``σ² = 1e-6``; here the model fixes both
    scale and noise, so there is no rescaling). MaxDet and BAIT add the same
    ``σ²`` to the diagonal (``maxdet_sigma``, ``bait_sigma``), as the paper
    does with its ``σ``. float64 throughout (``allow_float64``).

The feature map ``φ`` (:func:`features`)
    Linear model (:class:`skrt.RegularityRidge`): the standardised inputs,
    centred at the labelled rows' mean, and, when the model fits an
    intercept, a constant column ``INTERCEPT_SCALE = 1e3``: a prior standard
    deviation of 1e3 (in units of the standardised target) on the intercept,
    so the posterior is that of the model's unpenalised intercept to about
    ``σ² / (n 1e6)`` (with centred columns ``ΦᵀΦ`` is block diagonal and the
    constant costs no accuracy). The distance-based TP methods do not see the
    centring or the constant.

    Kernel model (:class:`skrt.RegularityKernelRidge`):
    :class:`sklearn.kernel_approximation.Nystroem` with the fitted model's
    kernel and ``gamma_`` (``degree``, ``coef0``, ``kernel_params`` too),
    ``n_components = min(n_rows, NYSTROEM_COMPONENTS = 500)`` landmarks drawn
    (by the strategy's generator) from the labelled and pool rows, fitted on
    those rows: ``φ(a)ᵀφ(b) = k(a, L) k(L, L)⁺ k(L, b)``, exact wherever
    ``a`` or ``b`` is a landmark (no intercept: the kernel model has none).

bmdal-reg 3.0.2 still uses ``np.Inf``, removed in numpy 2: this module
aliases it (benchmark code only; the package never does) before importing
bmdal-reg.
"""

from __future__ import annotations

import numpy as np
from sklearn.kernel_approximation import Nystroem

from skrt import RegularityKernelRidge, RegularityRidge
from skrt._simulate import skactiveml_strategy

if not hasattr(np, "Inf"):  # bmdal-reg 3.0.2 on numpy >= 2
    np.Inf = np.inf  # noqa: NPY201 (the alias bmdal-reg needs)

NYSTROEM_COMPONENTS = 500
INTERCEPT_SCALE = 1e3

# name -> (selection_method, sel_with_train, posterior transform, extra config)
BMDAL_METHODS = {
    "LCMD-TP": ("lcmd", True, False, {}),
    "MaxDist-TP": ("maxdist", True, False, {}),
    "MaxDet-P": ("maxdet", False, True, {}),
    "BAIT-F-P": ("bait", False, True, {"overselection_factor": 1.0}),
    "KMeansPP-P": ("kmeanspp", False, True, {}),
}
SKACTIVEML_METHODS = ("GSx", "GSy", "EMCM", "QBC")


def _seed(rng):
    return int(rng.randint(2**31 - 1))


def feature_map(model, X, labeled, pool, rng, n_components=NYSTROEM_COMPONENTS):
    """The model's own feature map ``φ``, fitted for one query.

    Parameters
    ----------
    model : fitted RegularityRidge or RegularityKernelRidge
    X : ndarray of shape (n_samples, n_features)
        All rows (standardised inputs).
    labeled, pool : ndarray of int
        Rows of ``X``; the Nyström landmarks are drawn from their union.
    rng : numpy.random.RandomState
        Draws the landmarks (kernel model only).
    n_components : int, default=500
        Nyström landmarks at most.

    Returns
    -------
    phi : callable
        ``phi(rows) -> ndarray of shape (n_rows, d)``.
    """
    if isinstance(model, RegularityKernelRidge):
        rows = np.union1d(labeled, pool)
        ny = Nystroem(
            kernel=model.kernel,
            gamma=model.gamma_,
            degree=model.degree,
            coef0=model.coef0,
            kernel_params=model.kernel_params,
            n_components=min(rows.size, n_components),
            random_state=_seed(rng),
        ).fit(X[rows])
        return ny.transform
    if isinstance(model, RegularityRidge):
        center = X[labeled].mean(axis=0)
        if not model.fit_intercept:
            return lambda A: np.asarray(A, dtype=float)

        def phi(A):
            A = np.asarray(A, dtype=float) - center
            return np.hstack([A, np.full((A.shape[0], 1), INTERCEPT_SCALE)])

        return phi
    raise TypeError(
        f"no feature map for {type(model).__name__}: RegularityRidge or "
        "RegularityKernelRidge expected."
    )


def bmdal_select(method, phi_train, phi_pool, sigma, n, seed):
    """One bmdal-reg batch on given features.

    Parameters
    ----------
    method : str
        A key of :data:`BMDAL_METHODS`.
    phi_train : ndarray of shape (n_labeled, d)
    phi_pool : ndarray of shape (n_pool, d)
    sigma : float
        GP noise standard deviation, ``sqrt(alpha_)``.
    n : int
        Batch size.
    seed : int
        Seeds torch's generator and numpy's global one, the two bmdal-reg
        draws from (KMeansPP's first pick, the random fill-up when a
        selection breaks down).

    Returns
    -------
    idx : ndarray of shape (n,)
        Rows of ``phi_pool``.
    """
    import torch
    from bmdal_reg.bmdal.algorithms import select_batch
    from bmdal_reg.bmdal.feature_data import TensorFeatureData

    selection, with_train, posterior, extra = BMDAL_METHODS[method]
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the generator bmdal-reg reads)
    data = {
        "train": TensorFeatureData(torch.as_tensor(phi_train, dtype=torch.float64)),
        "pool": TensorFeatureData(torch.as_tensor(phi_pool, dtype=torch.float64)),
    }
    idx, _ = select_batch(
        batch_size=int(n),
        models=[None],  # one (unused) model: the linear base kernel needs none
        data=data,
        y_train=None,
        base_kernel="linear",
        kernel_transforms=[("train", [sigma])] if posterior else [],
        selection_method=selection,
        sel_with_train=with_train,
        maxdet_sigma=sigma,
        bait_sigma=sigma,
        allow_float64=True,
        verbosity=0,
        **extra,
    )
    return idx.numpy()


def bmdal_strategy(method, n_components=NYSTROEM_COMPONENTS):
    """bmdal-reg's ``method`` on the model's own feature space.

    Parameters
    ----------
    method : str
        A key of :data:`BMDAL_METHODS`.
    n_components : int, default=500
        Nyström landmarks of the kernel model.

    Returns
    -------
    choose : callable
    """
    if method not in BMDAL_METHODS:
        raise ValueError(
            f"method must be one of {list(BMDAL_METHODS)}; got {method!r}."
        )

    def choose(model, X, y, labeled, pool, n, rng):
        phi = feature_map(model, X, labeled, pool, rng, n_components)
        sigma = float(np.sqrt(model.alpha_))
        idx = bmdal_select(method, phi(X[labeled]), phi(X[pool]), sigma, n, _seed(rng))
        return pool[idx]

    return choose


def skactiveml_peer(name):
    """scikit-activeml's GSx, GSy, EMCM or QBC driving a clone of the model.

    Parameters
    ----------
    name : {"GSx", "GSy", "EMCM", "QBC"}

    Returns
    -------
    choose : callable
    """
    from skactiveml.pool import (
        ExpectedModelChangeMaximization,
        GreedySamplingTarget,
        GreedySamplingX,
        QueryByCommittee,
    )

    if name == "GSx":
        return skactiveml_strategy(lambda s: GreedySamplingX(random_state=s))
    if name == "GSy":
        return skactiveml_strategy(
            lambda s: GreedySamplingTarget(method="GSy", random_state=s)
        )
    if name == "QBC":
        return skactiveml_strategy(lambda s: QueryByCommittee(random_state=s))
    if name != "EMCM":
        raise ValueError(f"name must be one of {SKACTIVEML_METHODS}; got {name!r}.")

    def choose(model, X, y, labeled, pool, n, rng):
        phi = None
        if isinstance(model, RegularityKernelRidge):
            phi = feature_map(model, X, labeled, pool, rng)
        inner = skactiveml_strategy(
            lambda s: ExpectedModelChangeMaximization(
                n_train=1, feature_map=phi, random_state=s
            )
        )
        return inner(model, X, y, labeled, pool, n, rng)

    return choose


def random_peer():
    """Uniform random choice from the pool (the baseline)."""
    from skrt._simulate import random_strategy

    return random_strategy()


def peers(names=None):
    """``{label: choose}`` of every peer (or of those in ``names``).

    Labels: ``"random"``, ``"skal <name>"`` for scikit-activeml and
    ``"bmdal <name>"`` for bmdal-reg.
    """
    out = {"random": random_peer()}
    for name in SKACTIVEML_METHODS:
        out[f"skal {name}"] = skactiveml_peer(name)
    for name in BMDAL_METHODS:
        out[f"bmdal {name}"] = bmdal_strategy(name)
    if names is not None:
        out = {k: v for k, v in out.items() if k in names}
    return out
