"""Matrix-free path for large (sparse) designs.

Nothing here forms ``XᵀX`` or densifies ``X``: the weighted centred design
``Z = W^{1/2}(X - 1 x̄ᵀ)`` is applied as an operator, linear systems
``(ZᵀZ + sI) v = b`` are solved by conjugate gradients, and the quantities
that generalised cross-validation needs at *every* s come from Lanczos
quadrature:

.. math::

    \\mathrm{RSS}(s) = s^2 z^\\top (G + s)^{-2} z
    \\approx s^2 \\|z\\|^2 \\sum_j \\frac{\\tau_j^2}{(\\vartheta_j + s)^2},

with ``G = ZZᵀ`` (or a kernel matrix), ``z`` the weighted targets and
``(ϑ_j, τ_j)`` the Ritz values and first eigenvector components of the
Lanczos tridiagonal started at ``z``; the degrees of freedom
``tr(G (G+s)⁻¹)`` use the same quadrature over Rademacher
probes (stochastic Lanczos quadrature). The Krylov space does not depend on
s, so one run serves the whole curve.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, cg
from sklearn.exceptions import ConvergenceWarning

from ._centering import CenteredX


class CenteredDesign:
    """``Z = W^{1/2} (X - 1 x̄ᵀ)`` as an operator on dense or sparse ``X``.

    Products go through :class:`~skrt._centering.CenteredX`: a column whose
    mean dwarfs its spread is centred explicitly, so nothing cancels.
    """

    def __init__(self, X, x_mean, w, centered=None):
        self.centered = CenteredX(X, x_mean, w) if centered is None else centered
        self.X = self.centered.X
        self.x_mean = x_mean
        self.sw = np.sqrt(w)
        self.shape = X.shape

    def matmat(self, V):
        """Z V for V of shape (p,) or (p, m)."""
        out = self.centered.dot(V)
        return out * (self.sw if out.ndim == 1 else self.sw[:, None])

    def rmatmat(self, U):
        """Zᵀ U for U of shape (n,) or (n, m)."""
        return self.centered.rdot(U * (self.sw if U.ndim == 1 else self.sw[:, None]))

    def diagonal(self):
        """``diag(ZᵀZ)``: the centred weighted column sums of squares."""
        return self.centered.sq_spread

    def normal_operator(self, s):
        """``A = ZᵀZ + sI`` as a :class:`~scipy.sparse.linalg.LinearOperator`."""
        p = self.shape[1]
        return LinearOperator(
            (p, p),
            matvec=lambda v: self.rmatmat(self.matmat(np.ravel(v))) + s * np.ravel(v),
            dtype=float,
        )

    def gram_matmat(self, V):
        """(ZᵀZ) V when p <= n, else (ZZᵀ) V: the smaller side."""
        n, p = self.shape
        if p <= n:
            return self.rmatmat(self.matmat(V))
        return self.matmat(self.rmatmat(V))

    @property
    def small_dim(self):
        return min(self.shape)


def solve_cg(A, b, *, x0=None, tol, max_iter, what, scale=None):
    """Conjugate gradients with a warning on non-convergence.

    ``scale`` (positive, shape (p,)), when given, solves the symmetrically
    scaled system ``(D⁻¹AD⁻¹)(Dx) = D⁻¹b`` with ``D = diag(scale)`` (Jacobi
    preconditioning): with ``scale = sqrt(diag A)`` the iteration and its
    stopping rule no longer depend on the columns' units, so columns of very
    different scale converge alike.

    Raises
    ------
    FloatingPointError
        If the iterates stop being finite.
    """
    count = [0]

    def _count(_):
        count[0] += 1

    if scale is not None:
        d = np.asarray(scale, dtype=float)
        A_scaled = LinearOperator(
            A.shape, matvec=lambda v: A.matvec(np.ravel(v) / d) / d, dtype=float
        )
        x, info = cg(
            A_scaled,
            b / d,
            x0=None if x0 is None else x0 * d,
            rtol=tol,
            atol=0.0,
            maxiter=max_iter,
            callback=_count,
        )
        x = x / d
    else:
        x, info = cg(A, b, x0=x0, rtol=tol, atol=0.0, maxiter=max_iter, callback=_count)
    if not np.all(np.isfinite(x)):
        raise FloatingPointError(
            f"Conjugate gradients for the {what} produced non-finite values; "
            "check the scale of X and y or use solver='eigen'."
        )
    if info > 0:
        warnings.warn(
            f"Conjugate gradients for the {what} did not reach tol={tol:g} in "
            f"max_iter={max_iter} iterations; increase max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return x, max(count[0], 1)


def lanczos(matmat, V0, n_steps, *, reorthogonalize=False):
    """Run ``m`` independent Lanczos recurrences from the columns of ``V0``.

    Returns the Ritz values ``nodes`` (m, k) and quadrature weights
    ``weights`` (m, k) with ``Σ_j weights_j f(nodes_j) ≈ v₀ᵀ f(C) v₀``.
    """
    V = np.array(V0, dtype=float, copy=True)
    if V.ndim == 1:
        V = V[:, None]
    dim, m = V.shape
    norms = np.linalg.norm(V, axis=0)
    safe = np.where(norms > 0, norms, 1.0)
    V = V / safe
    k = int(min(n_steps, dim))
    alphas = np.zeros((k, m))
    betas = np.zeros((k, m))
    basis = [V] if reorthogonalize else None
    V_prev = np.zeros_like(V)
    beta_prev = np.zeros(m)
    steps = k
    for j in range(k):
        W = matmat(V)
        a = np.einsum("ij,ij->j", V, W)
        W = W - a * V - beta_prev * V_prev
        if reorthogonalize:
            for _ in range(2):
                for Q in basis:
                    W -= Q * np.einsum("ij,ij->j", Q, W)
        b = np.linalg.norm(W, axis=0)
        alphas[j], betas[j] = a, b
        if j == k - 1 or np.all(b <= 1e-12 * max(np.abs(a).max(), 1e-300)):
            steps = j + 1
            break
        V_prev, V = V, W / np.where(b > 0, b, 1.0)
        beta_prev = b
        if reorthogonalize:
            basis.append(V)
    nodes = np.zeros((m, steps))
    weights = np.zeros((m, steps))
    for i in range(m):
        # a breakdown (b≈0) ends that recurrence: truncate its tridiagonal
        off = betas[: steps - 1, i]
        stop = np.flatnonzero(
            off <= 1e-12 * max(np.abs(alphas[:steps, i]).max(), 1e-300)
        )
        kk = int(stop[0]) + 1 if stop.size else steps
        theta, Y = scipy.linalg.eigh_tridiagonal(alphas[:kk, i], off[: kk - 1])
        nodes[i, :kk] = np.maximum(theta, 0.0)
        weights[i, :kk] = norms[i] ** 2 * Y[0] ** 2
    return nodes, weights


# Up to this side the trace uses the canonical basis (exact, n probes).
_EXACT_TRACE_DIM = 128


class GCVQuadrature:
    """GCV(s) for every s from one Krylov run (see module docstring).

    Parameters
    ----------
    gram_matmat : callable
        ``V -> G V`` with ``G = ZZᵀ`` (n x n), e.g. the weighted Gram or
        kernel matrix.
    Z_targets : ndarray of shape (n_samples, n_targets)
        Weighted (centred) targets ``z = W^{1/2} yc``.
    trace_matmat : callable
        A matrix with the same nonzero spectrum as G (the smaller of ZᵀZ and
        ZZᵀ), for the degrees of freedom.
    trace_dim : int
        Its side.
    w_sum : float
    fit_intercept : bool
    n_probes, n_steps : int
        Rademacher probes and Lanczos steps of the trace estimate.
    random_state : numpy.random.RandomState

    Notes
    -----
    ``RSS(s) = ‖(I - G(G+s)⁻¹) z‖² = s² zᵀ(G+s)⁻²z ≈ s² Σ_j ω_j/(ϑ_j+s)²``
    from Lanczos on G started at z (with full reorthogonalisation), and
    ``df(s) = [intercept] + tr(G(G+s)⁻¹)`` by stochastic Lanczos quadrature
    (exact, with the canonical basis, when ``trace_dim <= 128``).
    """

    def __init__(
        self,
        gram_matmat,
        Z_targets,
        trace_matmat,
        trace_dim,
        w_sum,
        fit_intercept,
        *,
        n_probes,
        n_steps,
        random_state,
    ):
        self.w_sum = w_sum
        self.fit_intercept = fit_intercept
        self.rss_quad = [
            lanczos(gram_matmat, Z_targets[:, j], n_steps, reorthogonalize=True)
            for j in range(Z_targets.shape[1])
        ]
        if trace_dim <= max(n_probes, _EXACT_TRACE_DIM):
            probes = np.eye(trace_dim)  # exact trace: Σ_i e_iᵀ f(C) e_i
            self._trace_scale = 1.0
        else:
            probes = random_state.choice([-1.0, 1.0], size=(trace_dim, n_probes))
            self._trace_scale = 1.0 / n_probes
        self.trace_nodes, self.trace_weights = lanczos(trace_matmat, probes, n_steps)
        self.lam_max = float(
            max(
                self.trace_nodes.max(initial=0.0),
                max(q[0].max(initial=0.0) for q in self.rss_quad),
            )
        )

    def df(self, alphas):
        """Estimated ``[fit_intercept] + tr(G (G+s)⁻¹)`` per alpha."""
        alphas = np.atleast_1d(alphas)
        th = self.trace_nodes[..., None]
        f = th / (th + alphas)
        tr = np.einsum("ij,ijk->k", self.trace_weights, f) * self._trace_scale
        return float(self.fit_intercept) + tr

    def rss(self, alphas):
        """Quadrature of the weighted residual sum of squares, (n_alphas, k)."""
        alphas = np.atleast_1d(alphas)
        out = np.empty((alphas.size, len(self.rss_quad)))
        for j, (nodes, weights) in enumerate(self.rss_quad):
            th = nodes[0][:, None]
            out[:, j] = weights[0] @ (alphas / (th + alphas)) ** 2
        return out

    def gcv(self, alphas):
        dof = 1.0 - self.df(alphas) / self.w_sum
        with np.errstate(divide="ignore"):
            return np.where(
                (dof > 1e-12)[:, None],
                self.rss(alphas) / self.w_sum / np.maximum(dof, 1e-300)[:, None] ** 2,
                np.inf,
            )
