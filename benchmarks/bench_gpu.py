"""skrt on a GPU (array API) against scikit-learn on the same device, same run.

Run:  python benchmarks/bench_gpu.py [--device cuda|cpu] [--namespace torch|cupy]
          [--repeats 3] [--cpu-max-n 10000] [--out results.json] [--quick]

Everything in float64, every array on the device, scikit-learn's
``array_api_dispatch`` on (``SCIPY_ARRAY_API=1`` is set here before scipy is
imported). The device is synchronised before every clock reading; each time
is the median of ``--repeats`` runs after one untimed warm-up on a small
problem (CUDA context, cuBLAS/cuSOLVER handles).

1. Linear: ``RegularityRidge(alpha="loo")`` (continuum alpha, tangent,
   leverages, exact LOO) against ``RidgeCV(alphas=np.logspace(-6, 6, 50))``
   with array-API dispatch, both on the device; shapes (20000, 200),
   (2000, 2000), (200000, 500). Ratio ours / RidgeCV (target <= 1.0).
2. Kernel: ``RegularityKernelRidge(alpha="loo", kernel="rbf")`` at n = 5,000,
   10,000, 20,000 against ``KernelRidge(alpha=1)`` on the device (scikit-learn's
   KernelRidge has no array-API support: when it refuses device arrays, its
   computation -- ``pairwise_kernels`` on the device, then a Cholesky solve of
   ``K + alpha I`` -- is timed instead, and said so) and against skrt's own CPU
   numpy path (up to ``--cpu-max-n`` rows; target n = 20,000 <= 10 s on an H100).
3. Query: the 20,000-row kernel fit, then ``regularity_sampling`` picking a
   greedy batch of 10 from a 100,000-row pool (target <= 15 s together).
4. Agreement: the largest absolute difference between the device results
   (coefficients, predictions, pool scores) and skrt's CPU float64 path on the
   same data (target 1e-8).

Parts whose skrt support is not there (a device array refused, or fitted
attributes left on the host) are skipped with a printed line. ``--quick``
runs small shapes on the CPU through PyTorch, so the script can be exercised
without a GPU; its times say nothing about a GPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before scipy is imported

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.linear_model import RidgeCV  # noqa: E402

from skrt import RegularityKernelRidge, RegularityRidge  # noqa: E402
from skrt.exceptions import RegularityBoundWarning  # noqa: E402
from skrt.query import regularity_sampling  # noqa: E402

GRID = np.logspace(-6, 6, 50)
GAMMA = 0.02  # rbf, 20 features: as benchmarks/bench_kernel.py
KRR_ALPHA = 1.0
FULL = {
    "linear": [(20000, 200), (2000, 2000), (200000, 500)],
    "kernel": [5000, 10000, 20000],
    "query": (20000, 100000, 10),
}
QUICK = {
    "linear": [(2000, 50), (300, 300), (5000, 100)],
    "kernel": [300, 600, 1000],
    "query": (1000, 5000, 10),
}


# --- device ----------------------------------------------------------------


class Device:
    """One namespace on one device: moving arrays there and back, syncing."""

    def __init__(self, namespace, device):
        self.namespace, self.device = namespace, device
        if namespace == "torch":
            import torch

            if device == "cuda" and not torch.cuda.is_available():
                sys.exit("--device cuda: torch sees no CUDA device (use --device cpu)")
            self.mod = torch
            self.name = (
                torch.cuda.get_device_name(0) if device == "cuda" else "CPU (torch)"
            )
            self.version = torch.__version__
        elif namespace == "cupy":
            if device != "cuda":
                sys.exit("--namespace cupy runs on --device cuda only")
            import cupy

            self.mod = cupy
            props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
            self.name = props["name"].decode()
            self.version = cupy.__version__
        else:
            sys.exit(f"--namespace {namespace!r}: torch or cupy")

    def put(self, a):
        """A numpy array on the device, dtype kept."""
        if self.namespace == "torch":
            return self.mod.asarray(np.ascontiguousarray(a), device=self.device)
        return self.mod.asarray(a)

    def host(self, a):
        """A device array (or numpy array, or float) as numpy."""
        if isinstance(a, (np.ndarray, float, int, np.generic)):
            return np.asarray(a)
        if self.namespace == "torch":
            return a.detach().cpu().numpy()
        return self.mod.asnumpy(a)

    def on_device(self, a):
        """Whether ``a`` is an array of this namespace (not numpy, not a float)."""
        if self.namespace == "torch":
            return isinstance(a, self.mod.Tensor) and a.device.type == self.device
        return isinstance(a, self.mod.ndarray)

    def sync(self):
        if self.namespace == "torch" and self.device == "cuda":
            self.mod.cuda.synchronize()
        elif self.namespace == "cupy":
            self.mod.cuda.Device().synchronize()

    def reset_peak(self):
        if self.namespace == "torch" and self.device == "cuda":
            self.mod.cuda.reset_peak_memory_stats()

    def peak_gib(self):
        """Peak device memory allocated since ``reset_peak`` (GiB), or None."""
        if self.namespace == "torch" and self.device == "cuda":
            return self.mod.cuda.max_memory_allocated() / 2**30
        return None

    def timed(self, fn, repeats):
        """Median wall time of ``fn()`` (device synchronised), its last result."""
        times, out = [], None
        for _ in range(repeats):
            self.sync()
            t = time.perf_counter()
            out = fn()
            self.sync()
            times.append(time.perf_counter() - t)
        return statistics.median(times), out


def cpu_timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def quiet(fn):
    """``fn()`` without skrt's bound warnings (alpha at an end of its bounds)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        return fn()


def dispatch(fn):
    """``fn()`` with scikit-learn's array-API dispatch on."""
    with sklearn.config_context(array_api_dispatch=True):
        return fn()


def on_device_or_skip(dev, what, fn, attributes):
    """``fn()`` on device arrays, or None (and a printed line) when skrt lacks it.

    Support is detected by trying: a refusal (any exception), or a fitted
    attribute in ``attributes`` left on the host, means no device path yet.
    """
    try:
        out = dispatch(lambda: quiet(fn))
    except Exception as exc:  # noqa: BLE001 - any refusal means "not supported"
        head = str(exc).splitlines()[0][:120] if str(exc) else ""
        print(f"  skipped {what} on the device: {type(exc).__name__}: {head}")
        return None
    for name in attributes:
        value = out[name] if isinstance(out, dict) else getattr(out, name)
        if not dev.on_device(value):
            print(
                f"  skipped {what} on the device: {name} came back as "
                f"{type(value).__name__}, not on the device (no device path yet)"
            )
            return None
    return out


def max_abs(dev, pairs):
    """Largest absolute difference over (device value, CPU value) pairs."""
    return max(
        float(np.max(np.abs(dev.host(a) - np.asarray(b)), initial=0.0))
        for a, b in pairs
    )


# --- data --------------------------------------------------------------------


def make_dense(n, p, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    coef = rng.standard_normal(p) / np.sqrt(p)
    return X, X @ coef + rng.standard_normal(n)


def make_kernel_data(n, p=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    w1, w2 = rng.standard_normal(p) / np.sqrt(p), rng.standard_normal(p) / np.sqrt(p)
    y = np.sin(2 * X @ w1) + (X @ w2) ** 2 / 2 + 0.3 * rng.standard_normal(n)
    return X, y


# --- parts -------------------------------------------------------------------


def linear_part(dev, shapes, repeats):
    print(
        "\n1. RegularityRidge(alpha='loo') / RidgeCV(alphas=logspace(-6, 6, 50)), "
        "both on the device"
    )
    print(
        f"{'shape':>14} {'ours s':>8} {'RidgeCV s':>10} {'ratio':>6} "
        f"{'ours CPU s':>11} {'max |diff|':>11} {'ours alpha':>11} {'RCV alpha':>10}"
    )
    rows = []
    for n, p in shapes:
        X, y = make_dense(n, p)
        Xd, yd = dev.put(X), dev.put(y)
        row = {"shape": [n, p]}

        def ridgecv(Xd=Xd, yd=yd):
            return RidgeCV(alphas=GRID).fit(Xd, yd)

        t_ref, ref = dev.timed(lambda f=ridgecv: dispatch(f), repeats)
        row.update(ridgecv_s=t_ref, ridgecv_alpha=float(ref.alpha_))

        def ours_fit(Xd=Xd, yd=yd):
            return RegularityRidge(alpha="loo", alpha_bounds=(1e-6, 1e6)).fit(Xd, yd)

        ours = on_device_or_skip(
            dev,
            f"RegularityRidge {(n, p)}",
            ours_fit,
            ["coef_", "coef_tangent_", "leverage_"],
        )
        if ours is not None:
            t_ours, ours = dev.timed(
                lambda f=ours_fit: dispatch(lambda: quiet(f)), repeats
            )
            row.update(ours_s=t_ours, ratio=t_ours / t_ref, alpha=float(ours.alpha_))
        t_cpu, cpu = cpu_timed(lambda X=X, y=y: quiet(lambda: ours_fit(X, y)), repeats)
        row.update(ours_cpu_s=t_cpu, cpu_alpha=float(cpu.alpha_))
        if ours is not None:
            row["max_abs_diff"] = max_abs(
                dev,
                [
                    (ours.coef_, cpu.coef_),
                    (ours.coef_tangent_, cpu.coef_tangent_),
                    (ours.leverage_, cpu.leverage_),
                    (dispatch(lambda o=ours, Xd=Xd: o.predict(Xd)), cpu.predict(X)),
                ],
            )
        rows.append(row)
        print(
            f"{str((n, p)):>14} {fmt(row, 'ours_s', 8, '.3f')} {t_ref:10.3f} "
            f"{fmt(row, 'ratio', 6, '.2f')} {fmt(row, 'ours_cpu_s', 11, '.3f')} "
            f"{fmt(row, 'max_abs_diff', 11, '.1e')} {fmt(row, 'alpha', 11, '.4g')} "
            f"{ref.alpha_:10.4g}",
            flush=True,
        )
    return rows


def kernel_fit(X, y):
    return RegularityKernelRidge(alpha="loo", kernel="rbf", gamma=GAMMA).fit(X, y)


def krr_on_device(dev, Xd, yd):
    """KernelRidge(alpha=1, rbf) on the device, or its computation.

    Returns (predict function on the training rows, what was timed).
    """
    from sklearn.kernel_ridge import KernelRidge

    try:
        model = dispatch(
            lambda: KernelRidge(alpha=KRR_ALPHA, kernel="rbf", gamma=GAMMA).fit(Xd, yd)
        )
        if dev.on_device(model.dual_coef_):
            return (
                lambda: KernelRidge(alpha=KRR_ALPHA, kernel="rbf", gamma=GAMMA).fit(
                    Xd, yd
                ),
                "KernelRidge",
            )
    except Exception:  # noqa: BLE001, S110 - refused: time its computation
        pass
    from sklearn.metrics.pairwise import pairwise_kernels

    xp = dev.mod

    def fit():
        K = pairwise_kernels(Xd, metric="rbf", gamma=GAMMA)
        K = K + KRR_ALPHA * xp.eye(K.shape[0], dtype=K.dtype, **dev_kw(dev))
        if dev.namespace == "torch":
            L = xp.linalg.cholesky(K)
            return xp.cholesky_solve(yd[:, None], L)[:, 0]
        return xp.linalg.solve(K, yd)

    return (lambda: dispatch(fit)), "its computation (rbf kernel + Cholesky)"


def dev_kw(dev):
    return {"device": dev.device} if dev.namespace == "torch" else {}


def kernel_part(dev, sizes, repeats, cpu_max_n):
    print(
        "\n2. RegularityKernelRidge(alpha='loo', rbf) on the device / KernelRidge "
        "(alpha=1) on the device, and / skrt's CPU numpy path"
    )
    print(
        f"{'n':>6} {'ours s':>8} {'KRR s':>8} {'ours/KRR':>9} {'ours CPU s':>11} "
        f"{'CPU/ours':>9} {'max |diff|':>11} {'peak GiB':>9} {'alpha_':>9}"
    )
    rows, krr_note = [], None
    for n in sizes:
        X, y = make_kernel_data(n + 1000)
        X, y, X_te = X[:n], y[:n], X[n:]
        Xd, yd, X_ted = dev.put(X), dev.put(y), dev.put(X_te)
        row = {"n": n}
        krr_fit, krr_note = krr_on_device(dev, Xd, yd)
        t_krr, _ = dev.timed(krr_fit, repeats)
        row.update(krr_s=t_krr, krr_timed=krr_note)
        dev.reset_peak()
        ours = on_device_or_skip(
            dev,
            f"RegularityKernelRidge n={n}",
            lambda Xd=Xd, yd=yd: kernel_fit(Xd, yd),
            ["dual_coef_"],
        )
        if ours is not None:
            t_ours, ours = dev.timed(
                lambda Xd=Xd, yd=yd: dispatch(
                    lambda: quiet(lambda: kernel_fit(Xd, yd))
                ),
                repeats,
            )
            row.update(
                ours_s=t_ours,
                ratio_krr=t_ours / t_krr,
                alpha=float(ours.alpha_),
                peak_gib=dev.peak_gib(),
            )
        if n <= cpu_max_n:
            t_cpu, cpu = cpu_timed(
                lambda X=X, y=y: quiet(lambda: kernel_fit(X, y)), min(repeats, 1)
            )
            row.update(ours_cpu_s=t_cpu, cpu_alpha=float(cpu.alpha_))
            if ours is not None:
                row["cpu_over_ours"] = t_cpu / row["ours_s"]
                row["max_abs_diff"] = max_abs(
                    dev,
                    [
                        (ours.dual_coef_, cpu.dual_coef_),
                        (
                            dispatch(lambda o=ours, X=X_ted: o.predict(X)),
                            cpu.predict(X_te),
                        ),
                    ],
                )
        else:
            print(
                f"  (skrt's CPU path at n={n} skipped: above --cpu-max-n {cpu_max_n})"
            )
        rows.append(row)
        print(
            f"{n:>6} {fmt(row, 'ours_s', 8, '.2f')} {t_krr:8.2f} "
            f"{fmt(row, 'ratio_krr', 9, '.2f')} {fmt(row, 'ours_cpu_s', 11, '.2f')} "
            f"{fmt(row, 'cpu_over_ours', 9, '.1f')} "
            f"{fmt(row, 'max_abs_diff', 11, '.1e')} "
            f"{fmt(row, 'peak_gib', 9, '.2f')} {fmt(row, 'alpha', 9, '.3g')}",
            flush=True,
        )
    print(f"  KRR timed: {krr_note}")
    return rows


def query_part(dev, n, n_pool, batch, cpu_max_n):
    print(
        f"\n3. RegularityKernelRidge fit on {n} rows + a greedy batch of {batch} "
        f"from a {n_pool}-row pool (regularity_sampling)"
    )
    X, y = make_kernel_data(n + n_pool, seed=1)
    X, y, pool = X[:n], y[:n], X[n:]
    Xd, yd, poold = dev.put(X), dev.put(y), dev.put(pool)
    row = {"n": n, "pool": n_pool, "batch": batch}

    def fit_and_query(X, y, pool):
        model = kernel_fit(X, y)
        idx, scores = regularity_sampling(
            model, pool, n_instances=batch, batch="greedy", random_state=0
        )
        return {"model": model, "idx": idx, "scores": scores}

    ours = on_device_or_skip(
        dev,
        "the fit + greedy query",
        lambda: fit_and_query(Xd, yd, poold),
        ["scores"],
    )
    if ours is not None:
        dev.reset_peak()
        dev.sync()
        t0 = time.perf_counter()
        model = dispatch(lambda: quiet(lambda: kernel_fit(Xd, yd)))
        dev.sync()
        t1 = time.perf_counter()
        idx, scores = dispatch(
            lambda: regularity_sampling(
                model, poold, n_instances=batch, batch="greedy", random_state=0
            )
        )
        dev.sync()
        t2 = time.perf_counter()
        row.update(
            fit_s=t1 - t0, query_s=t2 - t1, total_s=t2 - t0, peak_gib=dev.peak_gib()
        )
        print(
            f"  fit {t1 - t0:.2f} s + query {t2 - t1:.2f} s = {t2 - t0:.2f} s "
            f"(target <= 15 s on an H100 at 20,000 + 100,000)"
        )
    if n <= cpu_max_n:
        t0 = time.perf_counter()
        cpu = quiet(lambda: fit_and_query(X, y, pool))
        row["cpu_total_s"] = time.perf_counter() - t0
        print(f"  skrt's CPU numpy path: {row['cpu_total_s']:.2f} s")
        if ours is not None:
            row["max_abs_diff"] = max_abs(dev, [(scores, cpu["scores"])])
            row["same_indices"] = bool(
                np.array_equal(dev.host(idx), np.asarray(cpu["idx"]))
            )
            print(
                f"  scores max |diff| {row['max_abs_diff']:.1e}, "
                f"same picks: {row['same_indices']}"
            )
    else:
        print(f"  (skrt's CPU path skipped: n={n} above --cpu-max-n {cpu_max_n})")
    return row


def fmt(row, key, width, spec):
    value = row.get(key)
    return f"{'-':>{width}}" if value is None else f"{value:{width}{spec}}"


def warm_up(dev):
    """One small untimed pass of every kernel the parts use."""
    X, y = make_kernel_data(200)
    Xd, yd = dev.put(X), dev.put(y)
    dispatch(lambda: RidgeCV(alphas=GRID).fit(Xd, yd))
    krr_on_device(dev, Xd, yd)[0]()
    try:
        dispatch(lambda: quiet(lambda: kernel_fit(Xd, yd)))
        dispatch(lambda: quiet(lambda: RegularityRidge(alpha="loo").fit(Xd, yd)))
    except Exception:  # noqa: BLE001, S110 - reported by the parts themselves
        pass
    dev.sync()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--namespace", choices=["torch", "cupy"], default="torch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--cpu-max-n",
        type=int,
        default=10000,
        help="largest n for skrt's CPU numpy path in parts 2-3 (default 10000)",
    )
    parser.add_argument("--out", help="write the measurements as JSON here")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small shapes on the CPU through PyTorch (no GPU needed)",
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=["linear", "kernel", "query"],
        default=["linear", "kernel", "query"],
    )
    args = parser.parse_args(argv)
    shapes = FULL
    if args.quick:
        args.device, args.namespace, shapes = "cpu", "torch", QUICK
    if args.device == "cpu":
        # before torch starts its OpenMP threads: left spinning after each op,
        # they and OpenBLAS's threads (skrt's numpy path, same process, same
        # cores) slow each other down -- fits up to 70x slower on 2 cores
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    dev = Device(args.namespace, args.device)
    import scipy

    print(
        f"device: {dev.name} ({args.namespace} {dev.version}, {args.device}); "
        f"scikit-learn {sklearn.__version__}, scipy {scipy.__version__}, "
        f"numpy {np.__version__}; {os.cpu_count()} CPU cores; float64; "
        f"median of {args.repeats}"
    )
    if args.quick:
        print("--quick: small shapes on the CPU; these times say nothing about a GPU")
    warm_up(dev)
    result = {
        "device": dev.name,
        "namespace": args.namespace,
        "namespace_version": dev.version,
        "device_kind": args.device,
        "quick": args.quick,
        "repeats": args.repeats,
        "cpu_cores": os.cpu_count(),
        "platform": platform.platform(),
        "versions": {
            "sklearn": sklearn.__version__,
            "scipy": scipy.__version__,
            "numpy": np.__version__,
        },
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if "linear" in args.parts:
        result["linear"] = linear_part(dev, shapes["linear"], args.repeats)
        ratios = [r["ratio"] for r in result["linear"] if "ratio" in r]
        if ratios:
            print(f"worst ours/RidgeCV {max(ratios):.2f} (target <= 1.0)")
    if "kernel" in args.parts:
        result["kernel"] = kernel_part(
            dev, shapes["kernel"], args.repeats, args.cpu_max_n
        )
    if "query" in args.parts:
        result["query"] = query_part(dev, *shapes["query"], args.cpu_max_n)
    diffs = [
        r["max_abs_diff"]
        for part in ("linear", "kernel")
        for r in result.get(part, [])
        if "max_abs_diff" in r
    ]
    if "max_abs_diff" in result.get("query", {}):
        diffs.append(result["query"]["max_abs_diff"])
    if diffs:
        result["max_abs_diff"] = max(diffs)
        print(f"\nlargest |device - CPU float64| {max(diffs):.1e} (target <= 1e-8)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
