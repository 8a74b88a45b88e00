"""Command line: ``skrt demo`` and ``skrt query`` (also ``python -m skrt``)."""

from __future__ import annotations

import argparse
import csv
import sys
import warnings

import numpy as np

from ._heuristics import HEURISTICS


class CLIError(Exception):
    """A user error: printed as one line on stderr, exit status 2."""


# ----------------------------------------------------------------------- demo
def _demo_strategies(with_peers):
    from ._simulate import random_strategy, skactiveml_strategy, skrt_strategy

    strategies = {
        "sld (greedy batch)": skrt_strategy("sld", "greedy"),
        "sld (top-k)": skrt_strategy("sld", "topk"),
        "variance (greedy)": skrt_strategy("variance", "greedy"),
        "random": random_strategy(),
    }
    if with_peers:
        try:
            from skactiveml.pool import ExpectedModelChangeMaximization, GreedySamplingX
        except ImportError:
            pass
        else:
            strategies["skactiveml GreedySamplingX"] = skactiveml_strategy(
                lambda seed: GreedySamplingX(random_state=seed)
            )
            strategies["skactiveml EMCM"] = skactiveml_strategy(
                lambda seed: ExpectedModelChangeMaximization(random_state=seed)
            )
    return strategies


def _demo(args) -> int:
    from sklearn.datasets import load_diabetes

    from ._simulate import format_table, plot_curves, simulate

    X, y = load_diabetes(return_X_y=True)
    if not 3 <= args.initial < args.final:
        raise CLIError("--initial must be at least 3 and below --final")
    print(
        f"Pool-based active learning on scikit-learn's diabetes data "
        f"({X.shape[0]} samples, {X.shape[1]} features): "
        f"{args.initial} random labels, then batches of {args.batch} up to "
        f"{args.final}; RegularityRidge(alpha='loo') refitted every round; "
        f"{args.seeds} seeds."
    )
    curves = simulate(
        X,
        y,
        _demo_strategies(not args.no_peers),
        seeds=range(args.seeds),
        n_initial=args.initial,
        n_final=args.final,
        batch_size=args.batch,
        progress=not args.quiet,
    )
    print(format_table(curves))
    if args.plot:
        if plot_curves(curves, args.plot, "diabetes: pool-based active learning"):
            print(f"learning curves written to {args.plot}")
        else:
            print("matplotlib is not installed: no plot (pip install 'skrt[plot]')")
    return 0


# ---------------------------------------------------------------------- query
def _read_csv(path, what):
    try:
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise CLIError(f"cannot read {what} file {path}: {exc.strerror}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise CLIError(f"{what} file {path} is empty")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if not body:
        raise CLIError(f"{what} file {path} has a header but no rows")
    for i, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise CLIError(
                f"{what} file {path}, line {i}: {len(row)} fields, "
                f"header has {len(header)}"
            )
    return header, body


def _numeric(header, body, columns, path, what):
    index = {name: j for j, name in enumerate(header)}
    missing = [c for c in columns if c not in index]
    if missing:
        raise CLIError(f"{what} file {path} lacks column(s): {', '.join(missing)}")
    out = np.empty((len(body), len(columns)))
    for i, row in enumerate(body):
        for k, c in enumerate(columns):
            cell = row[index[c]].strip()
            try:
                value = float(cell)
            except ValueError:
                raise CLIError(
                    f"{what} file {path}, line {i + 2}, column {c!r}: "
                    f"{cell!r} is not a number"
                ) from None
            if not np.isfinite(value):
                raise CLIError(
                    f"{what} file {path}, line {i + 2}, column {c!r}: "
                    f"{cell!r} is not finite"
                )
            out[i, k] = value
    return out


def _query(args) -> int:
    from . import RegularityRidge
    from .exceptions import RegularityBoundWarning
    from .query import regularity_sampling

    if args.n < 1:
        raise CLIError("--n must be at least 1")
    lab_header, lab_rows = _read_csv(args.labeled, "labeled")
    pool_header, pool_rows = _read_csv(args.pool, "pool")
    if args.target not in lab_header:
        raise CLIError(
            f"labeled file {args.labeled} has no target column {args.target!r}"
        )
    features = (
        args.features.split(",")
        if args.features
        else [c for c in lab_header if c != args.target and c in pool_header]
    )
    if not features:
        raise CLIError("no feature columns shared by the labeled and pool files")
    X = _numeric(lab_header, lab_rows, features, args.labeled, "labeled")
    y = _numeric(lab_header, lab_rows, [args.target], args.labeled, "labeled")[:, 0]
    X_pool = _numeric(pool_header, pool_rows, features, args.pool, "pool")
    if X.shape[0] < 3:
        raise CLIError(
            f"labeled file {args.labeled} needs at least 3 rows, has {X.shape[0]}"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RegularityBoundWarning)
        model = RegularityRidge(alpha="loo").fit(X, y)
    for w in caught:
        print(f"note: {w.message}", file=sys.stderr)
    idx, scores = regularity_sampling(
        model,
        X_pool,
        args.n,
        heuristic=args.heuristic,
        batch=args.batch,
        random_state=0,
    )
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(["rank", "pool_row", f"{args.heuristic}_score", *pool_header])
        for rank, i in enumerate(idx, 1):
            writer.writerow([rank, int(i), f"{scores[i]:.6g}", *pool_rows[i]])
    finally:
        if args.output:
            out.close()
    print(
        f"fitted on {X.shape[0]} labeled rows ({len(features)} features), "
        f"alpha_={model.alpha_:.4g}; {len(idx)} of {X_pool.shape[0]} pool rows chosen",
        file=sys.stderr,
    )
    return 0


# ----------------------------------------------------------------------- main
def _parser():
    parser = argparse.ArgumentParser(
        prog="skrt", description="Regularity tangents for active learning."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="simulated active learning on the diabetes data: strategies compared",
    )
    demo.add_argument("--seeds", type=int, default=5)
    demo.add_argument("--initial", type=int, default=10, help="labels at the start")
    demo.add_argument("--final", type=int, default=80, help="labels at the end")
    demo.add_argument("--batch", type=int, default=5, help="labels per round")
    demo.add_argument(
        "--plot", default="skrt_demo.png", help="learning-curve PNG ('' for none)"
    )
    demo.add_argument("--no-peers", action="store_true", help="skip scikit-activeml")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=_demo)

    q = sub.add_parser("query", help="which pool rows to label next")
    q.add_argument("--labeled", required=True, help="CSV with features and target")
    q.add_argument("--pool", required=True, help="CSV with the same feature columns")
    q.add_argument("--target", required=True, help="target column of the labeled CSV")
    q.add_argument("--features", default=None, help="comma-separated feature columns")
    q.add_argument("--n", type=int, default=10, help="how many rows to choose")
    q.add_argument("--heuristic", default="sld", choices=HEURISTICS)
    q.add_argument("--batch", default="greedy", choices=["greedy", "topk"])
    q.add_argument("--output", default=None, help="write the chosen rows as CSV here")
    q.set_defaults(func=_query)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``skrt`` console script."""
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"skrt {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
