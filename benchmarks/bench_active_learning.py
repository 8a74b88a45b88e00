"""Active-learning benchmark: skrt's strategies against random and
scikit-activeml's regression strategies, on real data that installs offline.

Run:  python benchmarks/bench_active_learning.py [--seeds 5] [--quick]

Every strategy drives the same model, ``RegularityRidge(alpha="loo")``,
refitted after each batch of 5 labels, from 10 random labels to 80, on the
same splits (25% test). Datasets: scikit-learn's diabetes, and statsmodels'
bundled star98, fair, randhie and grunfeld (the larger two subsampled to
1500 rows). Prints per dataset the RMSE table (``skrt demo``'s format), then
the mean rank of each strategy's area under the learning curve (AULC) over
datasets x seeds, and the median time of one query with the ratio of
sld's to each peer's, all measured in this run.

STI is not listed separately: with the training set as reference it equals
alpha² x SLD, so it ranks exactly as SLD.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from skrt._simulate import (
    format_table,
    random_strategy,
    simulate,
    skactiveml_strategy,
    skrt_strategy,
)
from skrt.exceptions import RegularityBoundWarning


def load_datasets(max_rows=1500, seed=0):
    import statsmodels.api as sm
    from sklearn.datasets import load_diabetes

    rng = np.random.RandomState(seed)
    out = {}
    X, y = load_diabetes(return_X_y=True)
    out["diabetes"] = (X, y)
    d = sm.datasets.star98.load_pandas()
    endog = d.endog.to_numpy(float)
    out["star98"] = (d.exog.to_numpy(float), endog[:, 0] / endog.sum(axis=1))
    d = sm.datasets.fair.load_pandas()
    out["fair"] = (d.exog.to_numpy(float), d.endog.to_numpy(float))
    d = sm.datasets.randhie.load_pandas()
    out["randhie"] = (d.exog.to_numpy(float), np.log1p(d.endog.to_numpy(float)))
    d = sm.datasets.grunfeld.load_pandas().data
    out["grunfeld"] = (
        d[["value", "capital", "year"]].to_numpy(float),
        d["invest"].to_numpy(float),
    )
    for name, (X, y) in out.items():
        if X.shape[0] > max_rows:
            keep = rng.choice(X.shape[0], max_rows, replace=False)
            out[name] = (X[keep], y[keep])
    return out


def strategies():
    from skactiveml.pool import (
        ExpectedModelChangeMaximization,
        GreedySamplingTarget,
        GreedySamplingX,
        QueryByCommittee,
    )

    return {
        "skrt sld (greedy)": skrt_strategy("sld", "greedy"),
        "skrt sld (top-k)": skrt_strategy("sld", "topk"),
        "skrt ssi (greedy)": skrt_strategy("ssi", "greedy"),
        "skrt ssi_unlabeled (greedy)": skrt_strategy("ssi_unlabeled", "greedy"),
        "skrt variance (greedy)": skrt_strategy("variance", "greedy"),
        "random": random_strategy(),
        "skal GSx": skactiveml_strategy(lambda s: GreedySamplingX(random_state=s)),
        "skal GSy": skactiveml_strategy(
            lambda s: GreedySamplingTarget(method="GSy", random_state=s)
        ),
        "skal GSi": skactiveml_strategy(
            lambda s: GreedySamplingTarget(method="GSi", random_state=s)
        ),
        "skal EMCM": skactiveml_strategy(
            lambda s: ExpectedModelChangeMaximization(random_state=s)
        ),
        "skal QBC": skactiveml_strategy(lambda s: QueryByCommittee(random_state=s)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 40 labels")
    args = parser.parse_args()
    seeds = range(2 if args.quick else args.seeds)
    final = 40 if args.quick else 80
    names = list(strategies())
    ranks = {n: [] for n in names}
    times = {n: [] for n in names}
    for name, (X, y) in load_datasets().items():
        print(f"\n== {name}: {X.shape[0]} samples, {X.shape[1]} features ==")
        curves = simulate(
            X,
            y,
            strategies(),
            seeds=seeds,
            n_initial=10,
            n_final=final,
            batch_size=5,
            progress=False,
        )
        print(format_table(curves))
        areas = np.column_stack([curves[n].area for n in names])  # (seeds, strategies)
        order = areas.argsort(axis=1).argsort(axis=1) + 1
        for j, n in enumerate(names):
            ranks[n].extend(order[:, j].tolist())
            times[n].extend(curves[n].query_seconds)
    sld = np.median(times["skrt sld (greedy)"])
    print("\n== summary over datasets x seeds ==")
    head = f"{'strategy':<30}{'mean AULC rank':>16}{'median query s':>16}"
    print(head + f"{'sld / this':>12}")
    for n in sorted(names, key=lambda n: np.mean(ranks[n])):
        t = np.median(times[n])
        print(f"{n:<30}{np.mean(ranks[n]):>16.2f}{t:>16.5f}{sld / t:>12.3f}")
    print(
        "rank 1 = smallest area under the learning curve; 'sld / this' < 1 means "
        "skrt sld (greedy) queries faster."
    )


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        main()
