"""Influence diagnostics and sample information against statsmodels, same run.

Run:  python benchmarks/bench_influence.py [--repeats 3]

Data: X standard normal with correlated columns, y = X θ + noise, 5% of the
targets shifted by 5 noise std. Part 1, n = 4000, p = 21 (statsmodels adds
the constant: 22 parameters): statsmodels' ``OLSInfluence`` — its
``dfbetas`` (and the external studentized residuals, DFFITS, σ²_(i)) refit
n leave-one-out OLS models — against ``RegularityRidge(alpha=1e-10)`` fitted
and asked for ``influence_diagnostics()`` (everything, DFBETAS included) and
both kinds of ``sample_information()``; the largest relative difference
from statsmodels is printed for each quantity. Part 2, n = 20000, p = 200:
ours alone (fit + all diagnostics + SI + F-SI). Times: median of repeats
(statsmodels once: it takes long).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _timing import timed  # benchmarks/ is on sys.path when run as a script

from skrt import RegularityRidge


def make_data(n, p, seed=0):
    rng = np.random.default_rng(seed)
    mix = np.eye(p) + 0.3 * rng.standard_normal((p, p)) / np.sqrt(p)
    X = rng.standard_normal((n, p)) @ mix
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    bad = rng.choice(n, n // 20, replace=False)
    y[bad] += 5.0
    return X, y


def ours(X, y):
    model = RegularityRidge(alpha=1e-10).fit(X, y)
    d = model.influence_diagnostics()
    d["si"] = model.sample_information(kind="weights")
    d["fsi"] = model.sample_information()
    return d


def part_statsmodels(repeats):
    import statsmodels.api as sm

    n, p = 4000, 21
    X, y = make_data(n, p)
    t_ours, d = timed(lambda: ours(X, y), repeats)
    t_diag_only, _ = timed(
        lambda: RegularityRidge(alpha=1e-10).fit(X, y).influence_diagnostics(),
        repeats,
    )
    t = time.perf_counter()
    infl = sm.OLS(y, sm.add_constant(X)).fit().get_influence()
    dfbetas = infl.dfbetas  # the n leave-one-out refits happen here
    t_dfbetas = time.perf_counter() - t
    t = time.perf_counter()
    theirs = {
        "leverage": infl.hat_matrix_diag,
        "studentized_residuals_internal": infl.resid_studentized_internal,
        "studentized_residuals_external": infl.resid_studentized_external,
        "cooks_distance": infl.cooks_distance[0],
        "dffits": infl.dffits[0],
        "dfbeta": infl.dfbeta,
        "dfbetas": dfbetas,
    }
    t_rest = time.perf_counter() - t  # cached refits: the closed forms only
    print(f"Part 1: n={n}, p={p} (+ intercept), statsmodels OLSInfluence")
    print(f"  statsmodels dfbetas (n refits)        {t_dfbetas:9.3f} s")
    print(f"  statsmodels other diagnostics (cached) {t_rest:8.3f} s")
    print(f"  skrt fit + influence_diagnostics      {t_diag_only:9.4f} s")
    print(f"  skrt fit + diagnostics + SI + F-SI    {t_ours:9.4f} s")
    print(
        f"  speed-up on dfbetas: {t_dfbetas / t_diag_only:,.0f}x "
        f"(target >= 1000x); with SI and F-SI too: {t_dfbetas / t_ours:,.0f}x"
    )
    for key, value in theirs.items():
        diff = np.linalg.norm(d[key] - value) / np.linalg.norm(value)
        print(f"  relative difference {key:<32}{diff:.1e}")


def part_large(repeats):
    n, p = 20000, 200
    X, y = make_data(n, p, seed=1)
    t_all, d = timed(lambda: ours(X, y), repeats)
    t_fit, _ = timed(lambda: RegularityRidge(alpha=1e-10).fit(X, y), repeats)
    print(f"Part 2: n={n}, p={p}, skrt alone")
    print(f"  fit                                   {t_fit:9.3f} s")
    print(
        f"  fit + all diagnostics + SI + F-SI     {t_all:9.3f} s (target <= 1 s); "
        f"dfbeta {d['dfbeta'].shape}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    part_statsmodels(args.repeats)
    part_large(args.repeats)


if __name__ == "__main__":
    main()
