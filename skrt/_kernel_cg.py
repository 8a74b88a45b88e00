"""The conjugate-gradient path (``solver="cg"``) of
:class:`~skrt.RegularityKernelRidge`.

Conjugate gradients on ``(K + s W⁻¹) v = b`` over the rows of positive
weight (zero-weight rows do not enter the system; their duals are 0), with
``s`` chosen by generalised cross-validation from one stochastic Lanczos
quadrature of ``K̃ = W^{1/2} K W^{1/2}`` (:class:`~skrt._krylov.GCVQuadrature`,
which serves every ``s``). K is applied as an operator (``kernel_matmat``,
the estimator's: dense or in row blocks), never decomposed, so leverages
and exact leave-one-out are not computed.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator
from sklearn.utils import check_random_state

from ._base import is_constant
from ._fit_log import SILENT
from ._krylov import GCVQuadrature, krylov_fit
from ._linalg import default_alpha_bounds, gcv_estimate
from ._solutions import KernelSolution

__all__ = ["fit_kernel_cg", "kernel_system"]

_N_PROBES = 16
_N_LANCZOS = 60


def kernel_system(kernel_matmat, w, s):
    """``(K + s W⁻¹)`` as a :class:`~scipy.sparse.linalg.LinearOperator`.

    Parameters
    ----------
    kernel_matmat : callable
        ``V -> K V`` for V of shape (n,) or (n, k).
    w : ndarray of shape (n,)
        Positive sample weights.
    s : float
        The regularity.
    """
    n = w.shape[0]
    return LinearOperator(
        (n, n),
        matvec=lambda v: kernel_matmat(np.ravel(v)) + s * np.ravel(v) / w,
        dtype=float,
    )


def fit_kernel_cg(
    X_all,
    Y_all,
    w_all,
    *,
    kernel_matmat,
    select_alpha,
    tol,
    max_iter,
    random_state,
    log=SILENT,
):
    """The fit by conjugate gradients at the GCV-optimal (or fixed) alpha.

    Parameters
    ----------
    X_all : {ndarray, sparse matrix} of shape (n_samples, n_features)
    Y_all : ndarray of shape (n_samples, n_targets)
    w_all : ndarray of shape (n_samples,)
    kernel_matmat : callable
        ``kernel_matmat(X) -> (V -> K(X, X) V)``.
    select_alpha : callable
        ``select_alpha(criterion, bounds, constant_target) -> s`` (the
        estimator's: a float alpha is returned as is).
    tol : float
        Relative residual tolerance of conjugate gradients.
    max_iter : int or None
        Iteration cap (None: ``10 * n``).
    random_state : int, RandomState instance or None
        Seeds the quadrature's probes.
    log : FitLog, default=SILENT
        Progress lines.

    Returns
    -------
    KernelSolution
    """
    rows = w_all > 0
    X, Y, w = X_all[rows], Y_all[rows], w_all[rows]
    n = X.shape[0]
    sw = np.sqrt(w)
    matmat = kernel_matmat(X)
    max_iter = max_iter if max_iter is not None else 10 * n

    def weighted(V):  # K̃ V = W^{1/2} K W^{1/2} V
        scale = sw if V.ndim == 1 else sw[:, None]
        return scale * matmat(scale * V)

    with log.timed(
        f"Lanczos quadrature of a {n} x {n} kernel "
        f"({_N_PROBES} probes, {_N_LANCZOS} steps)"
    ):
        quad = GCVQuadrature(
            weighted,
            Y * sw[:, None],
            weighted,
            n,
            float(w.sum()),
            False,
            n_probes=_N_PROBES,
            n_steps=_N_LANCZOS,
            random_state=check_random_state(random_state),
        )
    s = select_alpha(
        lambda a: quad.gcv(a).mean(axis=1),
        default_alpha_bounds(quad.lam_max),
        is_constant(Y, Y),
    )
    with log.timed(f"conjugate gradients at alpha={s:.4g}"):
        fit = krylov_fit(
            kernel_system(matmat, w, s),
            Y,
            n,
            tangent_rhs=lambda a: -a / w,
            residual=lambda a, j: matmat(a) - Y[:, j],
            # H⁻¹σ_T in dual form: (K + s W⁻¹)⁻¹ r
            influence_rhs=lambda r: r,
            tol=tol,
            max_iter=max_iter,
            what="dual coefficients",
            log=log,
        )
    w_sum = float(w.sum())
    df = float(quad.df(np.array([s]))[0])
    sigma2, gcv = gcv_estimate(w @ fit.residual**2, w_sum, df)
    full = [np.zeros_like(Y_all) for _ in range(3)]
    for out, part in zip(
        full, (fit.weights, fit.tangent, fit.total_influence), strict=True
    ):
        out[rows] = part
    return KernelSolution(
        solver="cg",
        alpha=s,
        n_samples=Y_all.shape[0],
        n_iter=fit.n_iter,
        dual=full[0],
        dual_tangent=full[1],
        sti_dual=full[2],
        noise_variance=np.atleast_1d(sigma2),
        gcv_error=np.atleast_1d(gcv),
        cg_rows=rows,
        max_iter=max_iter,
    )
