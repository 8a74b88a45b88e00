"""Leave-one-out on an actively chosen design where n is close to p.

Run:  python benchmarks/al_loo_spike.py [--dataset msq] [--seed 2]
      [--heuristic cluster_distance]

Replays one run of ``bench_active_learning.py`` (linear model, batches of
10) and prints, after every batch, the LOO-optimal ``alpha_``, its LOO
error, the test RMSE, and the LOO error of brute-force refits at that
alpha (``sklearn.linear_model.Ridge`` without each row in turn): on msq
(67 features), seed 2, the rows chosen by ``cluster_distance`` make the
exact LOO criterion prefer a tiny alpha at 70 labels, and the test RMSE
doubles there. The LOO value is exact; the design makes it optimistic.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from bench_active_learning import MODELS, N_INITIAL, N_TEST, TEST_FRACTION, dataset
from sklearn.linear_model import Ridge

from skrt._simulate import simulate, skrt_strategy
from skrt.exceptions import RegularityBoundWarning


def brute_force_loo(X, y, alpha):
    errors = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        fit = Ridge(alpha=alpha).fit(X[keep], y[keep])
        errors.append((y[i] - fit.predict(X[i : i + 1])[0]) ** 2)
    return float(np.mean(errors))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="msq")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--heuristic", default="cluster_distance")
    args = parser.parse_args()
    X, y, _ = dataset(args.dataset)
    fits = []

    def make_model(n_features):
        model = MODELS["linear"](n_features)
        fit = model.fit

        def recording_fit(X, y, sample_weight=None):
            fits.append((X.copy(), y.copy(), fit(X, y, sample_weight)))
            return fits[-1][2]

        model.fit = recording_fit
        return model

    curves = simulate(
        X,
        y,
        {args.heuristic: skrt_strategy(args.heuristic, "greedy")},
        seeds=(args.seed,),
        n_initial=N_INITIAL,
        n_final=100,
        batch_size=10,
        test_fraction=TEST_FRACTION,
        n_test=N_TEST,
        make_model=make_model,
        progress=False,
    )
    rmse = curves[args.heuristic].rmse[0]
    print(f"{args.dataset}: {X.shape[1]} features; seed {args.seed}; {args.heuristic}")
    print(f"{'labels':>7}{'alpha_':>11}{'LOO':>9}{'LOO refits':>12}{'test RMSE':>11}")
    for (Xl, yl, model), r in zip(fits, rmse, strict=True):
        loo = brute_force_loo(Xl, yl, model.alpha_)
        print(
            f"{len(yl):>7}{model.alpha_:>11.3g}{model.loo_error_:>9.3f}"
            f"{loo:>12.3f}{r:>11.3f}"
        )


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        main()
