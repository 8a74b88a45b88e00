"""Command line: ``skrt demo`` (also ``python -m skrt demo``)."""

from __future__ import annotations

import argparse
import sys

import numpy as np


def _demo(args) -> int:
    from sklearn.datasets import load_diabetes

    from . import RegularityRidge

    X, y = load_diabetes(return_X_y=True)
    rng = np.random.RandomState(args.seed)
    labeled = rng.choice(X.shape[0], size=args.n_labeled, replace=False)
    pool = np.setdiff1d(np.arange(X.shape[0]), labeled)
    model = RegularityRidge(alpha="loo").fit(X[labeled], y[labeled])
    scores = model.score_samples(X[pool], heuristic=args.heuristic)
    top = np.argsort(-scores, kind="stable")[: args.top]
    print(f"diabetes: {args.n_labeled} labeled samples, {pool.size} in the pool")
    print(f"alpha_ (leave-one-out optimal) = {model.alpha_:.6g}")
    print(f"leave-one-out RMSE at alpha_    = {np.sqrt(model.loo_error_):.4g}")
    print(f"{args.top} most curious pool points ({args.heuristic}):")
    print("  rank  row  score")
    for rank, i in enumerate(top, 1):
        print(f"  {rank:>4}  {pool[i]:>3}  {scores[i]:.4g}")
    return 0


def main(argv=None) -> int:
    """Entry point of the ``skrt`` console script."""
    parser = argparse.ArgumentParser(
        prog="skrt", description="Regularity tangents for active learning."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="fit RegularityRidge on the diabetes data and rank a pool"
    )
    demo.add_argument("--n-labeled", type=int, default=40)
    demo.add_argument("--top", type=int, default=10)
    demo.add_argument(
        "--heuristic",
        default="sld",
        choices=["sld", "sti", "ssi", "ssi_unlabeled", "variance"],
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
