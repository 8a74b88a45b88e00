"""SGDFRegressor against scikit-learn's SGDRegressor: time to accuracy.

Run:  python benchmarks/bench_sgdf.py            (200,000 x 100,000, density 1e-4)
      python benchmarks/bench_sgdf.py --quick    (20,000 x 10,000, density 1e-3)
      python benchmarks/bench_sgdf.py --online   (alpha="online" against LOO)

Data: sparse n x p, y = X θ + 0.1 noise, θ ~ N(0, 1). Both estimators run
with their DEFAULT parameters on the same objective: ``SGDRegressor(alpha=a)``
minimises ``(1/n) Σ r²/2 + a ‖θ‖²/2 = (Σ r² + a n ‖θ‖²) / (2n)``, which is
``SGDFRegressor(alpha=a * n)``'s (and ``Ridge(alpha=a * n)``'s) objective;
``a`` is SGDRegressor's default 1e-4 unless ``--a`` says otherwise. The
optimum comes from conjugate gradients on the centred normal equations
(``skrt._krylov.solve_cg``, relative residual 1e-10). Printed: each fit's
wall time (one fit each, the machine's other load included), its relative
objective gap ``(f - f*) / f*``, the time ratio, and the tangent's cosine to
the CG solution of ``(Xcᵀ Xc + alpha I) θ̇ = -θ`` at SGDF's θ.

``--online``: on X 2000 x 200 standard normal, θ ~ N(0, 0.1²), unit noise
(held-out and leave-one-out curves share a minimum near 100), the alpha_
that ``SGDFRegressor(alpha="online")`` reaches (full-batch steps, 30%
held out) against ``RegularityRidge(alpha="loo").alpha_``, seeds 0-5.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import SGDRegressor

from skrt import RegularityRidge, SGDFRegressor
from skrt._krylov import CenteredDesign, solve_cg


def make_data(n, p, density=1e-4, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=rng)
    y = X @ rng.standard_normal(p) + 0.1 * rng.standard_normal(n)
    return X, y


def online_against_loo():
    print("seed  LOO alpha_  online alpha_  ratio")
    for seed in range(6):
        rng = np.random.RandomState(seed)
        X = rng.randn(2000, 200)
        y = X @ (0.1 * rng.randn(200)) + rng.randn(2000)
        loo = RegularityRidge(alpha="loo").fit(X, y).alpha_
        online = SGDFRegressor(
            alpha="online",
            alpha_init=10.0,
            learning_rate="constant",
            eta0=0.2,
            batch_size=2000,
            max_iter=200,
            tol=None,
            validation_fraction=0.3,
            random_state=seed,
        ).fit(X, y)
        print(f"{seed:4d}{loo:11.1f}{online.alpha_:15.1f}{online.alpha_ / loo:7.2f}")


def optimum(X, y, s):
    """θ*, b* and the objective Σ r² + s‖θ‖² by CG on the normal equations."""
    x_mean = np.asarray(X.mean(axis=0)).ravel()
    design = CenteredDesign(X, x_mean, np.ones(X.shape[0]))
    A = design.normal_operator(s)
    yc = y - y.mean()
    theta, _ = solve_cg(
        A, np.asarray(X.T @ yc).ravel(), tol=1e-10, max_iter=5000, what="optimum"
    )
    return theta, y.mean() - x_mean @ theta, A


def objective(X, y, s, theta, b):
    r = X @ theta + b - y
    return float(r @ r + s * theta @ theta)


def timed_fit(model, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - t
    return seconds, [str(w.message)[:100] for w in caught]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--p", type=int, default=100_000)
    parser.add_argument("--density", type=float, default=1e-4)
    parser.add_argument("--a", type=float, default=1e-4, help="SGDRegressor alpha")
    parser.add_argument("--quick", action="store_true", help="20,000 x 10,000")
    parser.add_argument("--online", action="store_true")
    args = parser.parse_args()
    if args.online:
        online_against_loo()
        return
    if args.quick:
        args.n, args.p, args.density = 20_000, 10_000, 1e-3
    X, y = make_data(args.n, args.p, args.density)
    s = args.a * args.n
    print(
        f"X {X.shape}, nnz={X.nnz}; SGDRegressor(alpha={args.a:g}) and "
        f"SGDFRegressor(alpha={s:g}): the same objective, defaults otherwise"
    )
    t = time.perf_counter()
    theta_opt, b_opt, A = optimum(X, y, s)
    f_opt = objective(X, y, s, theta_opt, b_opt)
    print(f"CG optimum in {time.perf_counter() - t:.2f} s, f* = {f_opt:.8g}")
    rows = []
    for name, model in (
        ("sklearn SGDRegressor", SGDRegressor(alpha=args.a, random_state=0)),
        ("SGDFRegressor", SGDFRegressor(alpha=s, random_state=0)),
    ):
        seconds, caught = timed_fit(model, X, y)
        intercept = float(np.ravel(model.intercept_)[0])
        gap = (objective(X, y, s, model.coef_, intercept) - f_opt) / f_opt
        rows.append((name, seconds, gap, model.n_iter_, caught))
    print(f"{'model':<24}{'fit s':>9}{'rel. gap':>11}{'epochs':>8}  warnings")
    for name, seconds, gap, n_iter, caught in rows:
        print(f"{name:<24}{seconds:>9.2f}{gap:>11.2e}{n_iter:>8}  {caught or ''}")
    (_, t_sk, gap_sk, _, _), (_, t_f, gap_f, _, _) = rows
    print(
        f"time SGDF / SGDRegressor = {t_f / t_sk:.2f} (target <= 2) at objective "
        f"gaps {gap_f:.2e} vs {gap_sk:.2e} (target: SGDF's no worse)"
    )
    tangent = model.coef_tangent_
    ref, _ = solve_cg(A, -model.coef_, tol=1e-10, max_iter=5000, what="tangent")
    cos = tangent @ ref / (np.linalg.norm(tangent) * np.linalg.norm(ref))
    print(f"SGDF tangent cosine to the CG tangent at its θ: {cos:.6f}")


if __name__ == "__main__":
    main()
