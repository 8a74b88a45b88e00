"""Peak memory of a top-k query on a large pool with a kernel model.

Run:  python benchmarks/bench_query_memory.py [--pool 1000000] [--train 1000]
          [--n-instances 1000] [--heuristic sld] [--batch topk]

Fits RegularityKernelRidge(kernel="rbf", alpha=1.0, gamma=0.1) on ``--train``
rows of 10 features, then queries ``--n-instances`` points of a pool of
``--pool`` rows with ``regularity_sampling``. Prints the wall time of the
query, the peak of Python-tracked allocations during it (tracemalloc: numpy
arrays included), the size of the pool itself, and what the unblocked path
would have allocated at once (the pool x training kernel and, for top-k, the
n_instances x n_pool score matrix of the former ``np.tile``). For the whole
process's peak resident memory, run it under ``/usr/bin/time -v`` (Maximum
resident set size; it includes the pool, the interpreter and the libraries).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings

import numpy as np

from skrt import RegularityKernelRidge
from skrt._centering import BLOCK_BYTES
from skrt.exceptions import RegularityBoundWarning
from skrt.query import regularity_sampling

GiB = 2**30


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pool", type=int, default=1_000_000)
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--n-instances", type=int, default=1000)
    parser.add_argument("--heuristic", default="sld")
    parser.add_argument("--batch", default="topk")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.train, args.features))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(args.train)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        model = RegularityKernelRidge(kernel="rbf", alpha=1.0, gamma=0.1).fit(X, y)
    pool = rng.standard_normal((args.pool, args.features))

    tracemalloc.start()
    t = time.perf_counter()
    idx, scores = regularity_sampling(
        model,
        pool,
        args.n_instances,
        heuristic=args.heuristic,
        batch=args.batch,
        random_state=0,
    )
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    unblocked = args.pool * args.train * 8
    if args.batch == "topk":
        unblocked += args.n_instances * args.pool * 8
    print(
        f"pool {args.pool} x {args.features}, kernel model on {args.train} rows, "
        f"n_instances={args.n_instances}, heuristic={args.heuristic!r}, "
        f"batch={args.batch!r}, BLOCK_BYTES={BLOCK_BYTES / 2**20:.0f} MiB"
    )
    print(f"query time                       {seconds:8.2f} s")
    print(f"peak allocations during the query {peak / GiB:7.3f} GiB (tracemalloc)")
    print(f"the pool itself                   {pool.nbytes / GiB:7.3f} GiB")
    print(f"unblocked path would allocate     {unblocked / GiB:7.3f} GiB at once")
    print(f"picked {len(idx)} unique: {len(set(idx.tolist())) == len(idx)}")


if __name__ == "__main__":
    main()
