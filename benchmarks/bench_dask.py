"""skrt on Dask: a design far larger than the workers' memory, same run as dask-ml.

Run:  python benchmarks/bench_dask.py [--quick] [--rows 20000000] [--cols 50]
          [--chunk-rows 250000] [--workers 2] [--memory-limit 1GiB]
          [--dask-ml-timeout 1800] [--check] [--out dask.json]

A lazily generated design (``dask.array`` random, fixed seed: every pass
regenerates its chunks on the workers, nothing is persisted) of ``--rows``
x ``--cols`` float64 (20,000,000 x 50 = 8 GB by default) and
``y = X β + 5 ε``, on a ``LocalCluster`` of ``--workers`` worker processes
(one thread each) with ``--memory-limit`` each (1 GiB: the design is 4x the
whole cluster's memory). Timed, in this order, on the same arrays:

1. ``RegularityRidge(alpha="loo").fit(X, y)``: the exact leave-one-out
   alpha on a continuum, ``coef_tangent_``, and ``leverage_`` (lazy; its sum,
   the degrees of freedom, is computed and timed apart);
2. ``regularity_sampling(model, X, n_instances=10, heuristic="sld")``: a
   greedy batch of 10 with the same array as the pool;
3. dask-ml's ``LinearRegression(penalty="l2")`` (its defaults: ADMM, C=1)
   on the same X and y: the ratio ours (1) / dask-ml (target <= 1.0). A
   dask-ml fit still running after ``--dask-ml-timeout`` seconds is stopped
   (the cluster restarted): its time is then a lower bound, and so the ratio
   an upper bound.

Memory: every worker's process memory (RSS, the scheduler's view, sampled
every 0.2 s) and its peak, the cluster total from
``distributed.diagnostics.MemorySampler``, bytes spilled to disk, and
whether any worker died or restarted (a "spilling failure"). ``--check``
(designs of at most 2 GB) also fits the numpy path on the computed array
and reports the largest differences (target 1e-8).

Until skrt's Dask support is installed (``RegularityRidge.fit`` on a dask
array, queries on a dask pool), the parts that need it say so and are
skipped. ``--quick``: 2,000,000 x 50 (800 MB) in chunks of 250,000 rows,
for a small machine. Print lines go to stdout unbuffered enough to follow
(``python -u``); results in ``benchmarks/results/dask.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import threading
import time

import numpy as np

# 250,000-row chunks (100 MB): with 500,000 (200 MB) the fit's per-chunk
# working set pushes 1 GiB workers to pause and spill (measured at 5M rows)
FULL = {"rows": 20_000_000, "cols": 50, "chunk_rows": 250_000}
QUICK = {"rows": 2_000_000, "cols": 50, "chunk_rows": 250_000}


class WorkerMemory:
    """Peak process memory of each worker (the scheduler's heartbeat
    metrics), spilled bytes, and worker deaths, sampled in a thread."""

    def __init__(self, client, interval=0.2):
        self.client, self.interval = client, interval
        self.peak, self.spilled, self.seen = {}, 0, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        for address, info in workers.items():
            metrics = info.get("metrics", {})
            memory = metrics.get("memory", 0) or 0
            self.peak[address] = max(self.peak.get(address, 0), memory)
            spilled = metrics.get("spilled_bytes", {}).get("disk", 0) or 0
            self.spilled = max(self.spilled, spilled)
            self.seen.add(address)

    def _run(self):
        while not self._stop.is_set():
            try:
                self._sample()
            except Exception:  # noqa: BLE001 - a sample lost in a restart
                pass
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    def report(self, n_workers):
        return {
            "peak_worker_memory_bytes": max(self.peak.values(), default=0),
            "peak_by_worker_bytes": dict(self.peak),
            "spilled_to_disk_bytes": self.spilled,
            "workers_seen": len(self.seen),
            "worker_restarts": max(0, len(self.seen) - n_workers),
        }


def design(rows, cols, chunk_rows, seed=0):
    """Lazy X (rows x cols) and y = X β + 5 ε, generated chunk by chunk."""
    import dask.array as da

    rng = np.random.RandomState(seed)
    beta = rng.randn(cols) / np.sqrt(cols)
    X = da.random.RandomState(seed + 1).standard_normal(
        (rows, cols), chunks=(chunk_rows, cols)
    )
    noise = da.random.RandomState(seed + 2).standard_normal(rows, chunks=chunk_rows)
    return X, X @ beta + 5.0 * noise


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def gib(n):
    return f"{n / 2**30:.2f} GiB"


def supported(what, fn):
    """Run ``fn``; a missing skrt Dask support is reported and None returned."""
    try:
        return fn()
    except (TypeError, NotImplementedError, ValueError) as exc:
        text = str(exc).lower()
        if "dask" in text or "array-like" in text or "namespace" in text:
            print(f"  {what}: skrt's Dask support is not there ({exc}); skipped")
            return None
        raise


def bench_skrt(client, X, y, batch, out):
    from skrt import RegularityRidge
    from skrt.query import regularity_sampling

    with WorkerMemory(client) as memory:
        fit = supported(
            "RegularityRidge(alpha='loo').fit on dask",
            lambda: timed(lambda: RegularityRidge(alpha="loo").fit(X, y)),
        )
    if fit is None:
        out["skrt_fit"] = None
        return None
    seconds, model = fit
    leverage = getattr(model, "leverage_", None)
    out["skrt_fit"] = {
        "seconds": seconds,
        "alpha_": float(model.alpha_),
        "loo_error_": float(np.ravel(model.loo_error_)[0]),
        "coef_tangent_norm": float(np.linalg.norm(model.coef_tangent_)),
        "leverage_type": type(leverage).__module__ + "." + type(leverage).__name__,
        **memory.report(len(client.scheduler_info()["workers"])),
    }
    print(
        f"  RegularityRidge(alpha='loo').fit: {seconds:.1f} s, alpha_ "
        f"{model.alpha_:.6g}, peak worker memory "
        f"{gib(out['skrt_fit']['peak_worker_memory_bytes'])}, spilled "
        f"{gib(out['skrt_fit']['spilled_to_disk_bytes'])}"
    )
    if leverage is not None and hasattr(leverage, "compute"):
        seconds, dof = timed(lambda: float(leverage.sum().compute()))
        out["skrt_leverage_sum"] = {"seconds": seconds, "sum": dof}
        print(f"  leverage_.sum() (the degrees of freedom): {dof:.4f}, {seconds:.1f} s")
    with WorkerMemory(client) as memory:
        query = supported(
            "regularity_sampling on a dask pool",
            lambda: timed(
                lambda: regularity_sampling(
                    model, X, n_instances=batch, heuristic="sld"
                )
            ),
        )
    if query is None:
        out["skrt_query"] = None
        return model
    seconds, (chosen, scores) = query
    out["skrt_query"] = {
        "seconds": seconds,
        "chosen": [int(i) for i in chosen],
        "scores_type": type(scores).__module__ + "." + type(scores).__name__,
        **memory.report(len(client.scheduler_info()["workers"])),
    }
    print(
        f"  sld greedy batch of {batch} from the {X.shape[0]}-row pool: "
        f"{seconds:.1f} s, peak worker memory "
        f"{gib(out['skrt_query']['peak_worker_memory_bytes'])}"
    )
    return model


def bench_dask_ml(client, X, y, timeout, out):
    try:
        from dask_ml.linear_model import LinearRegression
    except ImportError:
        print("  dask-ml is not installed: no comparison")
        out["dask_ml_fit"] = None
        return
    result, error = {}, []

    def run():
        try:
            result["fit"] = timed(lambda: LinearRegression(penalty="l2").fit(X, y))
        except Exception as exc:  # noqa: BLE001 - reported below
            error.append(exc)

    with WorkerMemory(client) as memory:
        start = time.perf_counter()
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(timeout)
        stopped = thread.is_alive()
        if stopped:  # kill its tasks: the fit raises in its thread
            client.restart()
            thread.join(60)
        elapsed = time.perf_counter() - start
    n_workers = len(client.scheduler_info()["workers"])
    if stopped:
        out["dask_ml_fit"] = {
            "seconds_at_least": elapsed,
            "stopped_after_timeout": True,
            **memory.report(n_workers),
        }
        print(f"  dask-ml LinearRegression(penalty='l2'): stopped at {elapsed:.0f} s")
        return
    if error:
        out["dask_ml_fit"] = {"error": repr(error[0])}
        print(f"  dask-ml LinearRegression(penalty='l2') failed: {error[0]!r}")
        return
    seconds, model = result["fit"]
    out["dask_ml_fit"] = {
        "seconds": seconds,
        "coef_norm": float(np.linalg.norm(model.coef_)),
        **memory.report(n_workers),
    }
    print(
        f"  dask-ml LinearRegression(penalty='l2').fit: {seconds:.1f} s, peak "
        f"worker memory {gib(out['dask_ml_fit']['peak_worker_memory_bytes'])}"
    )


def check(X, y, model, out):
    """The numpy path on the computed design: largest differences."""
    import dask

    from skrt import RegularityRidge

    # in this process: the workers could not hold the whole design
    Xn, yn = dask.compute(X, y, scheduler="threads")
    ref = RegularityRidge(alpha="loo").fit(Xn, yn)
    diffs = {
        "alpha_rel": abs(model.alpha_ - ref.alpha_) / ref.alpha_,
        "coef": float(np.max(np.abs(model.coef_ - ref.coef_))),
        "coef_tangent": float(np.max(np.abs(model.coef_tangent_ - ref.coef_tangent_))),
        "leverage": float(
            np.max(np.abs(model.leverage_.compute(scheduler="threads") - ref.leverage_))
        ),
    }
    out["agreement_with_numpy"] = diffs
    print(
        "  agreement with the numpy path: "
        + ", ".join(f"{k} {v:.2g}" for k, v in diffs.items())
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--cols", type=int, default=None)
    parser.add_argument("--chunk-rows", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="1GiB")
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--dask-ml-timeout", type=float, default=1800.0)
    parser.add_argument("--no-dask-ml", action="store_true")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--out", default=None, help="JSON file of the results")
    args = parser.parse_args(argv)
    sizes = dict(QUICK if args.quick else FULL)
    for key in sizes:
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)
    rows, cols, chunk_rows = sizes["rows"], sizes["cols"], sizes["chunk_rows"]

    import dask
    import distributed

    import skrt

    cluster = distributed.LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=args.memory_limit,
        dashboard_address=":0",
    )
    client = distributed.Client(cluster)
    out = {
        "command": " ".join(sys.argv),
        "rows": rows,
        "cols": cols,
        "chunk_rows": chunk_rows,
        "design_bytes": rows * cols * 8,
        "workers": args.workers,
        "memory_limit": args.memory_limit,
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "dask": dask.__version__,
            "distributed": distributed.__version__,
            "skrt": getattr(skrt, "__version__", "?"),
        },
        "machine": f"{platform.machine()}, {platform.processor() or ''}".strip(", "),
    }
    try:
        import dask_ml

        out["versions"]["dask_ml"] = dask_ml.__version__
    except ImportError:
        pass
    print(
        f"design {rows} x {cols} float64 ({gib(rows * cols * 8)}), chunks of "
        f"{chunk_rows} rows ({gib(chunk_rows * cols * 8)}), {args.workers} "
        f"workers x {args.memory_limit}"
    )
    from distributed.diagnostics import MemorySampler

    sampler = MemorySampler()
    X, y = design(rows, cols, chunk_rows)
    try:
        with sampler.sample("skrt"):
            model = bench_skrt(client, X, y, args.batch, out)
        if args.check and model is not None:
            if rows * cols * 8 > 2e9:
                print("  --check skipped: the design is over 2 GB")
            else:
                check(X, y, model, out)
        if not args.no_dask_ml:
            with sampler.sample("dask-ml"):
                bench_dask_ml(client, X, y, args.dask_ml_timeout, out)
        frame = sampler.to_pandas()
        out["cluster_peak_memory_bytes"] = {
            k: float(frame[k].max()) for k in frame.columns
        }
        ours = (out.get("skrt_fit") or {}).get("seconds")
        theirs = out.get("dask_ml_fit") or {}
        if ours is not None and "seconds" in theirs:
            out["ratio_skrt_over_dask_ml"] = ours / theirs["seconds"]
            print(f"  ratio ours / dask-ml: {out['ratio_skrt_over_dask_ml']:.3f}")
        elif ours is not None and "seconds_at_least" in theirs:
            out["ratio_skrt_over_dask_ml_at_most"] = ours / theirs["seconds_at_least"]
            print(
                "  ratio ours / dask-ml: at most "
                f"{out['ratio_skrt_over_dask_ml_at_most']:.3f}"
            )
    finally:
        client.close()
        cluster.close()
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=2)
        print(f"results written to {args.out}")
    return out


if __name__ == "__main__":
    main()
