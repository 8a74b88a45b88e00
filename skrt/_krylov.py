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
from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import LinearOperator
from sklearn.exceptions import ConvergenceWarning

from ._centering import CenteredX
from ._fit_log import SILENT
from ._graded import GRADED_SPREAD, column_scale_spread


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
        op = LinearOperator(
            (p, p),
            matvec=lambda v: self.rmatmat(self.matmat(np.ravel(v))) + s * np.ravel(v),
            dtype=float,
        )
        # for solve_cg: which columns vary, and whether Z can have full
        # column rank (else null(Z) is not invariant under Jacobi scaling)
        op.live = self.centered.live
        op.gram_diagonal = self.diagonal()  # diag(ZᵀZ): diag(A) less s
        op.tall = int(np.count_nonzero(self.sw > 0)) > int(op.live.sum())
        return op

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
    """Conjugate gradients for ``A x = b`` (A symmetric positive definite).

    Parameters
    ----------
    A : LinearOperator
        From :meth:`CenteredDesign.normal_operator` for ridge systems (its
        ``live`` and ``tall`` attributes steer the scaling, see Notes).
    b : ndarray of shape (p,)
    x0 : ndarray of shape (p,) or None
        Starting point.
    tol : float
        Relative tolerance of the stopping rule below.
    max_iter : int
    what : str
        What is solved for, in messages.
    scale : ndarray of shape (p,) or None
        ``d = sqrt(diag A)``: the metric of the stopping rule, and of the
        iteration where the columns are graded.

    Returns
    -------
    x : ndarray of shape (p,)
    n_iter : int
        Iterations run (at least 1).

    Raises
    ------
    FloatingPointError
        If the iterates stop being finite.

    Warns
    -----
    ConvergenceWarning
        If the rule is not met within ``max_iter`` iterations.

    Notes
    -----
    **Stopping rule.** Without ``scale``: ``‖r‖ <= tol ‖b‖``. With it, in
    the units-free coordinates ``û = D x``, ``r̂ = D⁻¹ r``, ``b̂ = D⁻¹ b``
    (``D = diag(d)``, so that ``Â = D⁻¹ A D⁻¹`` has unit diagonal), also
    entry by entry:

    .. math::

        \\|\\hat r\\| \\le \\mathrm{tol}\\,\\|\\hat b\\|
        \\quad\\text{and}\\quad
        |\\hat r_j| \\le \\mathrm{tol}\\,|\\hat u_j| + \\phi_j
        \\ \\forall j, \\qquad
        \\phi_j = 16\\varepsilon\\,\\big(c_j \\textstyle\\sum_k c_k |\\hat u_k|
            + |\\hat u_j|\\big) \\ge 16\\varepsilon\\,(|\\hat A|\\,|\\hat u|)_j,

    the round-off of forming ``Â û``: ``c_j = min(sqrt((ZᵀZ)_jj) / d_j, 1)``
    bounds ``|Â_jk| <= c_j c_k`` off the diagonal (Cauchy-Schwarz), from
    ``A.gram_diagonal`` (``c = 1`` where ``A`` does not give it), and the
    diagonal of ``Â`` is 1. A solution whose entries differ by many orders
    of magnitude (a heavily shrunk small-scale column next to a large one)
    meets the first test long before its small entries are right; the
    second bounds the error entry by entry, ``|δû| <= |Â⁻¹| (tol |û| + φ)``,
    so each coefficient is accurate to about ``tol`` relative to itself
    where ``Â`` is well conditioned (the columns' correlations set that, not
    their units), down to the round-off of the product ``Â û``.

    **Iteration.** Plain CG keeps its iterates in ``x0 + K(A, r0)``; for
    ``A = ZᵀZ + sI`` and ``b = Zᵀz`` that is ``range(Zᵀ)``, so the error has
    no part in ``null(Z)``, where a later solve with ``A`` (the tangent
    ``θ̇ = -A⁻¹θ``) would amplify it by ``λ_max/s``. Jacobi scaling (CG on
    ``Â``) is far faster for graded columns (spread of ``d`` over the varying
    columns beyond :data:`~skrt._graded.GRADED_SPREAD`) but ``Â`` does not
    keep ``D range(Zᵀ)`` invariant (its ``s D⁻²`` is not a multiple of the
    identity): it is used only where ``Z`` can have full column rank
    (``A.tall``: more weighted rows than varying columns).
    """
    b = np.asarray(b, dtype=float)
    # the stopping rule's metric: diag(A)^{1/2} (or none)
    m = None if scale is None else np.asarray(scale, dtype=float)
    # the iteration's coordinates u = d x: scaled only where it pays (Notes)
    scaled = (
        m is not None
        and getattr(A, "tall", True)
        and _graded(m, getattr(A, "live", None))
    )
    d = m if scaled else np.ones_like(b)
    # r̂ = r_iter / k and û = k u for the iteration's residual and iterate
    k = np.ones_like(b) if m is None else m / d
    b_hat = b if m is None else b / m
    b_norm = float(np.linalg.norm(b_hat))
    eps = np.finfo(float).eps
    # |Â_jk| <= c_j c_k off the s-term (Cauchy-Schwarz), c = sqrt(diag ZᵀZ)/d
    gram = getattr(A, "gram_diagonal", None)
    c = None if m is None or gram is None else np.sqrt(gram) / m
    c = np.ones_like(b) if c is None else np.minimum(c, 1.0)

    def floor(u_hat):
        """Round-off of ``r̂`` entry by entry: ``16 eps (|Â| |û|)_j``, bounded."""
        return 16.0 * eps * (c * (c @ np.abs(u_hat)) + np.abs(u_hat))

    def matvec(v):
        return np.ravel(A.matvec(v / d)) / d

    def converged(u, r):
        r_hat = r / k
        if not np.sqrt(r_hat @ r_hat) <= tol * b_norm:
            return False
        u_hat = u * k
        return m is None or bool(
            np.all(np.abs(r_hat) <= tol * np.abs(u_hat) + floor(u_hat))
        )

    if x0 is None:
        u, r = np.zeros_like(b), b / d
    else:
        u = np.array(x0, dtype=float) * d
        r = b / d - matvec(u)
    n_iter, done = 0, b_norm == 0.0 or converged(u, r)
    if b_norm == 0.0:
        u = np.zeros_like(b)
    direction, rho = r.copy(), float(r @ r)
    with np.errstate(over="ignore", invalid="ignore"):
        while not done and n_iter < max_iter:
            q = matvec(direction)
            curvature = float(direction @ q)
            if not np.isfinite(curvature):
                u = u + curvature  # overflow: reported below
                break
            if curvature <= 0.0:
                break  # breakdown: A is not positive definite on the residual
            step = rho / curvature
            u = u + step * direction
            r = r - step * q
            n_iter += 1
            done = converged(u, r)
            rho, rho_old = float(r @ r), rho
            direction = r + (rho / rho_old) * direction
    x = u / d
    if not np.all(np.isfinite(x)):
        raise FloatingPointError(
            f"Conjugate gradients for the {what} produced non-finite values; "
            "check the scale of X and y or use solver='eigen'."
        )
    if not done:
        warnings.warn(
            f"Conjugate gradients for the {what} did not reach tol={tol:g} in "
            f"max_iter={max_iter} iterations; increase max_iter or tol.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return x, max(n_iter, 1)


def _graded(scale, live):
    """Whether the varying columns' scales differ enough to need scaling."""
    return column_scale_spread(scale if live is None else scale[live]) > GRADED_SPREAD


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
        # the tridiagonal is at most k x k (a few dozen): a dense eigh, since
        # scipy < 1.13's eigh_tridiagonal fails on some (stemr, info > 0) and
        # on size 1 (stev)
        e = off[: kk - 1]
        T = np.diag(alphas[:kk, i]) + np.diag(e, 1) + np.diag(e, -1)
        theta, Y = np.linalg.eigh(T)
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


@dataclass(frozen=True)
class KrylovSolution:
    """The conjugate-gradient fit at one alpha, one column per target.

    Attributes
    ----------
    weights : ndarray of shape (m, n_targets)
        ``x = A⁻¹ b`` (θ for the linear model, α for a kernel model).
    tangent : ndarray of shape (m, n_targets)
        ``A⁻¹ t(x)``, the regularity tangent.
    residual : ndarray of shape (n, n_targets)
        ``r = f - y`` on the training rows.
    total_influence : ndarray of shape (m, n_targets)
        ``A⁻¹ u(r)``, the ``H⁻¹σ_T`` part of the "sti" response.
    n_iter : ndarray of shape (n_targets,) of int
        Iterations per target: the larger of the weight and tangent solves.
    """

    weights: np.ndarray
    tangent: np.ndarray
    residual: np.ndarray
    total_influence: np.ndarray
    n_iter: np.ndarray


def krylov_fit(
    A,
    B,
    n_rows,
    *,
    tangent_rhs,
    residual,
    influence_rhs,
    tol,
    max_iter,
    what,
    scale=None,
    log=SILENT,
):
    """The fit skeleton shared by the linear and kernel models on the
    Krylov path: per target ``j``

    1. ``x = A⁻¹ b_j`` (``what`` names it in messages);
    2. ``ẋ = A⁻¹ t`` with ``t = tangent_rhs(x)``, warm-started at the
       multiple of ``x`` closest to ``A⁻¹ t`` in the A-norm,
       ``x (xᵀt)/(xᵀAx)``;
    3. ``r = residual(x, j)`` (``f - y`` on the ``n_rows`` training rows)
       and ``A⁻¹ influence_rhs(r)``.

    ``log`` (a :class:`~skrt._fit_log.FitLog`) gets one line per target at
    ``verbose >= 2``.

    Returns
    -------
    KrylovSolution
    """
    m, k = B.shape
    weights, tangent, influence = (np.empty((m, k)) for _ in range(3))
    resid = np.empty((n_rows, k))
    n_iter = np.zeros(k, dtype=int)
    for j in range(k):
        x, it_x = solve_cg(
            A, B[:, j], tol=tol, max_iter=max_iter, what=what, scale=scale
        )
        t = tangent_rhs(x)
        Ax = A.matvec(x)
        denom = x @ Ax
        x0 = x * ((x @ t) / denom) if denom > 0 else None
        tangent[:, j], it_t = solve_cg(
            A, t, x0=x0, tol=tol, max_iter=max_iter, what="tangent", scale=scale
        )
        weights[:, j] = x
        resid[:, j] = r = residual(x, j)
        influence[:, j], _ = solve_cg(
            A,
            influence_rhs(r),
            tol=tol,
            max_iter=max_iter,
            what="total influence",
            scale=scale,
        )
        n_iter[j] = max(it_x, it_t)
        log(f"target {j}: {it_x} + {it_t} conjugate-gradient iterations", 2)
    return KrylovSolution(weights, tangent, resid, influence, n_iter)
