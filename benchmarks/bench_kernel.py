"""RegularityKernelRidge(alpha="loo") against KernelRidge, same run.

Run:  python benchmarks/bench_kernel.py [--sizes 2000 5000] [--repeats 1]

Synthetic regression with 20 features (a smooth nonlinear target plus noise),
rbf kernel with gamma=0.02 for every model; 25% held out. Prints the fit time
of RegularityKernelRidge(alpha="loo") (exact LOO over a continuum, plus the
tangent and leverages), of (a) one KernelRidge fit at alpha=1, and of
(b) GridSearchCV(KernelRidge(), 20 alphas in logspace(-4, 2), cv=5), their
ratios, and the held-out RMSE each model reaches.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _timing import timed  # benchmarks/ is on sys.path when run as a script
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV

from skrt import RegularityKernelRidge
from skrt.exceptions import RegularityBoundWarning

GAMMA = 0.02


def make_data(n, p=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w1, w2 = rng.standard_normal(p) / np.sqrt(p), rng.standard_normal(p) / np.sqrt(p)
    y = np.sin(2 * X @ w1) + (X @ w2) ** 2 / 2 + 0.3 * rng.standard_normal(n)
    return X, y


def run_size(n, repeats):
    X, y = make_data(int(n / 0.75))
    X_tr, y_tr, X_te, y_te = X[:n], y[:n], X[n:], y[n:]

    def rmse(model):
        return float(np.sqrt(np.mean((model.predict(X_te) - y_te) ** 2)))

    ours_model = RegularityKernelRidge(alpha="loo", kernel="rbf", gamma=GAMMA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        t_ours, ours = timed(lambda: ours_model.fit(X_tr, y_tr), repeats)
    krr_model = KernelRidge(alpha=1.0, kernel="rbf", gamma=GAMMA)
    t_krr, krr = timed(lambda: krr_model.fit(X_tr, y_tr), repeats)
    grid = GridSearchCV(
        KernelRidge(kernel="rbf", gamma=GAMMA),
        {"alpha": np.logspace(-4, 2, 20)},
        cv=5,
        n_jobs=1,
    )
    t_grid, grid = timed(lambda: grid.fit(X_tr, y_tr), 1)
    print(
        f"{n:>6} {t_ours:8.2f} {t_krr:8.2f} {t_ours / t_krr:9.2f} {t_grid:8.1f} "
        f"{t_grid / t_ours:10.2f} {rmse(ours):10.4f} {rmse(krr):9.4f} "
        f"{rmse(grid):10.4f} {ours.alpha_:9.3g} {grid.best_params_['alpha']:10.3g}",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(
        f"{'n':>6} {'ours s':>8} {'KRR s':>8} {'ours/KRR':>9} {'grid s':>8} "
        f"{'grid/ours':>10} {'RMSE ours':>10} {'RMSE KRR':>9} {'RMSE grid':>10} "
        f"{'alpha_':>9} {'grid alpha':>10}"
    )
    for n in args.sizes:
        run_size(n, args.repeats)
    print("targets: ours/KRR <= 3, grid/ours >= 10 at no worse RMSE")


if __name__ == "__main__":
    main()
