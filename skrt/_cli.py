"""Command line: ``skrt demo`` and ``skrt query`` (also ``python -m skrt``).

``skrt query`` reads the two spreadsheets (:mod:`skrt._cli_table`), builds
and fits the scikit-learn pipeline (:mod:`skrt._cli_model`), queries the
pool through :func:`skrt.query.regularity_sampling` and, with ``--explain``,
says why each row was chosen (:mod:`skrt._explain`). A pool of several
Parquet files is read with dask and never held whole (:mod:`skrt._cli_dask`).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import warnings
from typing import NamedTuple

import numpy as np

from ._cli_dask import is_dataset
from ._cli_model import MODELS, build_pipeline, prepare, scale_hint
from ._cli_table import CLIError, read_table
from ._explain import explain_rows, format_explanation
from ._heuristics import HEURISTIC_CHOICES, resolve_heuristic, resolve_landmarks
from ._progress import ProgressBar
from ._querying import check_pool, resolve_learner, run_query

__all__ = ["CLIError", "main"]

PLOT_HINT = 'pip install "scikit-regularity[plot]"'


# ----------------------------------------------------------------------- demo
def _demo_strategies(with_peers):
    from ._simulate import random_strategy, skactiveml_strategy, skrt_strategy

    strategies = {
        "auto (default, greedy batch)": skrt_strategy("auto", "greedy"),
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
    if args.plot:
        _check_writable(args.plot, "--plot")
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
        try:
            drawn = plot_curves(
                curves, args.plot, "diabetes: pool-based active learning"
            )
        except OSError as exc:
            raise CLIError(
                f"cannot write --plot {args.plot}: {exc.strerror or exc}"
            ) from None
        if drawn:
            print(f"learning curves written to {os.path.abspath(args.plot)}")
        else:
            print(f"matplotlib is not installed: no plot ({PLOT_HINT})")
    return 0


# ---------------------------------------------------------------------- query
# an explanation keeps every round's scores (n_query x n_pool floats) up to this
_EXPLAIN_STEPS_MAX = 20_000_000
_TABLE_EXTENSIONS = (".parquet", ".pq", ".xlsx", ".xlsm", ".xls")
_FIT_LABEL = {
    "ridge": "fitting: ridge, alpha by LOO",
    "kernel": "fitting: RBF kernel, alpha+gamma by LOO",
}


class _Stages:
    """``skrt demo``'s progress bar over the stages of a query: a stage is
    drawn when it starts, and counted done when the next one starts."""

    def __init__(self, total, enabled):
        self.bar = ProgressBar(total, enabled=enabled)
        self.started = self.closed = False

    def start(self, label):
        self.bar.update(label, step=1 if self.started else 0)
        self.started = True

    def finish(self):
        """The last stage done: the bar full, its line ended."""
        self.bar.update("done", step=1)
        self.close()

    def close(self):
        """End the bar's line (where it stopped, on an error)."""
        if not self.closed:
            self.bar.close()
            self.closed = True


def _check_writable(path, option):
    """Fail before the long work when ``path`` cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CLIError(f"{option} {path} is a directory; give a file name")
    if not os.path.isdir(folder):
        raise CLIError(f"{option} {path}: the directory {folder} does not exist")
    if not os.access(folder, os.W_OK) or (
        os.path.exists(path) and not os.access(path, os.W_OK)
    ):
        raise CLIError(f"{option} {path}: no permission to write there")


def _check_output(path):
    """``--output`` is a writable CSV file name."""
    _check_writable(path, "--output")
    if os.path.splitext(path)[1].lower() in _TABLE_EXTENSIONS:
        raise CLIError(f"--output {path}: the output is CSV text; name it .csv")


class _Picks(NamedTuple):
    """What ``skrt query`` writes: the fitted pipeline, the heuristic used,
    the chosen rows' pool row numbers, text cells and scores (first round),
    the scores when chosen (or None), the explanation columns (or None),
    the warnings caught and the pool's rows."""

    pipeline: object
    used: str
    rows: np.ndarray
    cells: list
    scores: np.ndarray
    at_pick: np.ndarray | None
    terms: dict | None
    caught: list
    n_pool: int


def _fit_and_query(args, data, pool, stages):
    """:class:`_Picks` of a pool read into memory."""
    from .exceptions import RegularityBoundWarning
    from .query import regularity_sampling

    stages.start(_FIT_LABEL[args.model])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RegularityBoundWarning)
        warnings.simplefilter("error", RuntimeWarning)  # overflow: no NaN
        pipeline = build_pipeline(data, args.model).fit(data.X, data.y)
        acquisition, transform = resolve_learner(pipeline)
        n_query = min(args.n, data.X_pool.shape[0])
        used = resolve_heuristic(args.heuristic, acquisition, n_query)
        landmarks = resolve_landmarks(None, args.heuristic, acquisition, n_query)
        stages.start(f"scoring {data.X_pool.shape[0]} rows: {used}")
        at_pick, terms = None, None
        if args.explain and n_query * data.X_pool.shape[0] <= _EXPLAIN_STEPS_MAX:
            # what regularity_sampling runs, with every round's scores kept
            chosen, scores, steps = run_query(
                acquisition,
                check_pool(data.X_pool, transform, acquisition),
                n_query,
                used,
                args.batch,
                np.random.RandomState(0),
                steps=True,
                n_landmarks=landmarks,
            )
            at_pick = steps[np.arange(len(chosen)), chosen]
        else:
            chosen, scores = regularity_sampling(
                pipeline,
                data.X_pool,
                args.n,
                heuristic=used,
                batch=args.batch,
                random_state=0,
                n_landmarks=landmarks,
            )
        if args.explain:
            stages.start("explaining the picks")
            terms = explain_rows(pipeline, data.X_pool, chosen, used, landmarks)
        _check_finite(pipeline, scores)
    rows = data.pool_rows[chosen]
    cells = [pool.rows[i] for i in rows]
    n_pool = data.X_pool.shape[0]
    return _Picks(
        pipeline, used, rows, cells, scores[chosen], at_pick, terms, caught, n_pool
    )


def _check_finite(pipeline, scores):
    alpha = getattr(pipeline[-1], "alpha_", np.nan)  # for the summary line
    if not (np.isfinite(alpha) and np.all(np.isfinite(scores))):
        raise FloatingPointError("non-finite scores")


def _fit_and_query_dataset(args, data, plan, stages):
    """:class:`_Picks` of a pool of several Parquet files (docs/dask.rst):
    the pipeline's column transform applied per partition, the encoded pool
    a lazy dask array, only the chosen rows read back."""
    from ._cli_dask import fit_dataset
    from .exceptions import RegularityBoundWarning
    from .query import regularity_sampling

    stages.start(_FIT_LABEL[args.model])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RegularityBoundWarning)
        warnings.simplefilter("error", RuntimeWarning)  # overflow: no NaN
        pipeline, X_pool = fit_dataset(data, plan, args.model)
        model = pipeline[-1]
        acquisition, _ = resolve_learner(model)
        n_query = min(args.n, X_pool.shape[0])
        used = resolve_heuristic(args.heuristic, acquisition, n_query)
        landmarks = resolve_landmarks(None, args.heuristic, acquisition, n_query)
        stages.start(f"scoring {X_pool.shape[0]} rows (dask): {used}")
        chosen, scores = regularity_sampling(
            model,
            X_pool,
            args.n,
            heuristic=used,
            batch=args.batch,
            random_state=0,
            n_landmarks=landmarks,
        )
        chosen = np.asarray(chosen, dtype=np.int64)
        picked = np.asarray(scores[chosen], dtype=float)  # computes a dask one
        terms = None
        if args.explain:
            stages.start("explaining the picks")
            terms = explain_rows(model, X_pool, chosen, used, landmarks)
        _check_finite(pipeline, picked)
        rows, cells = plan.chosen(chosen)
    return _Picks(
        pipeline, used, rows, cells, picked, None, terms, caught, X_pool.shape[0]
    )


def _write_rows(args, pool, header, rows):
    try:
        if args.output:
            with open(args.output, "w", newline="") as out:
                csv.writer(out, delimiter=pool.sep).writerows([header, *rows])
        else:
            csv.writer(sys.stdout, delimiter=pool.sep).writerows([header, *rows])
    except OSError as exc:
        raise CLIError(
            f"cannot write --output {args.output}: {exc.strerror or exc}"
        ) from None


def _query(args) -> int:
    if args.n < 1:
        raise CLIError("--n must be at least 1")
    if args.output:
        _check_output(args.output)
    stages = _Stages(4 + args.explain, not args.quiet and sys.stderr.isatty())
    dataset = is_dataset(args.pool)
    try:
        stages.start(f"reading {os.path.basename(args.labeled)}")
        lab = read_table(args.labeled, "labeled")
        stages.start(f"reading {os.path.basename(args.pool) or args.pool}")
        if dataset:
            from ._cli_dask import ParquetPool, prepare_dataset

            pool = ParquetPool(args.pool)
            data, plan = prepare_dataset(args, lab, pool)
        else:
            pool = read_table(args.pool, "pool")
            data = prepare(args, lab, pool)
        try:
            if dataset:
                picks = _fit_and_query_dataset(args, data, plan, stages)
            else:
                picks = _fit_and_query(args, data, pool, stages)
            stages.finish()
        except (ValueError, TypeError, ArithmeticError, RuntimeWarning) as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            raise CLIError(
                f"the fit or the query failed: {message}"
                + scale_hint(data, args.target)
            ) from None
    finally:
        stages.close()
    notes = [t.describe() for t in (lab, pool) if t.describe()]
    unnamed = [t for t in (lab, pool) if len(t.columns) < len(t.header)]
    notes += [f"{t.what} file {t.path}: unnamed column(s) ignored" for t in unnamed]
    pipeline, used, rows, at_pick, terms = (
        picks.pipeline, picks.used, picks.rows, picks.at_pick, picks.terms
    )  # fmt: skip
    notes += data.notes + [str(w.message) for w in picks.caught]
    header = ["rank", "pool_row", f"{used}_score", *pool.header]
    out = [
        [rank, int(i), f"{score:.6g}", *cells]
        for rank, (i, score, cells) in enumerate(
            zip(rows, picks.scores, picks.cells, strict=True), 1
        )
    ]
    if terms is not None:
        extra = (
            {"score_when_chosen": at_pick, **terms} if at_pick is not None else terms
        )
        header += [f"explain_{name}" for name in extra]
        for k, line in enumerate(out):
            line += [f"{float(v[k]):.10g}" for v in extra.values()]
    _write_rows(args, pool, header, out)
    for note in notes:
        print(f"note: {' '.join(note.split())}", file=sys.stderr)
    if terms is not None:
        for line in format_explanation(
            used, args.batch, args.target, rows, picks.scores, at_pick, terms
        ):
            print(line, file=sys.stderr)
    model = pipeline[-1]
    fitted = f"alpha_={model.alpha_:.4g}"  # public fitted values, for the user
    if args.model == "kernel":
        fitted += f", gamma_={model.gamma_:.4g}"
    width = pipeline[:-1].transform(data.X[:1]).shape[1]
    encoded = f", {width} columns once encoded" if width != len(data.features) else ""
    print(
        f"fitted on {data.X.shape[0]} labeled rows ({len(data.features)} features"
        f"{encoded}), {type(model).__name__} {fitted}; {len(rows)} of "
        f"{picks.n_pool} pool rows chosen",
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
    demo.add_argument(
        "--seeds", type=int, default=5, help="repetitions (random initial labels)"
    )
    demo.add_argument("--initial", type=int, default=10, help="labels at the start")
    demo.add_argument("--final", type=int, default=80, help="labels at the end")
    demo.add_argument("--batch", type=int, default=5, help="labels per round")
    demo.add_argument(
        "--plot", default="skrt_demo.png", help="learning-curve PNG ('' for none)"
    )
    demo.add_argument("--no-peers", action="store_true", help="skip scikit-activeml")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=_demo)

    q = sub.add_parser(
        "query",
        help="which pool rows to label next",
        description=(
            "Fit a model on the labeled file and rank the pool file's rows by "
            "how much labeling them would teach it. Files are CSV (UTF-8, a "
            "spreadsheet's byte-order mark is fine; the separator - comma, "
            "semicolon, tab or pipe - is detected per file, and outside "
            "comma-separated files a decimal comma is read as a decimal "
            "point), Parquet (.parquet, .pq: needs pandas and pyarrow) or "
            "Excel (.xlsx: needs pandas and openpyxl; the first sheet). Every "
            "named column of the labeled file but the target is a feature "
            "(unnamed ones, such as a pandas index, are skipped) and must be "
            "in the pool, unless --features names the columns; --exclude "
            "leaves columns out. The model is a scikit-learn Pipeline: empty "
            "cells filled with the labeled rows' median (numeric columns) or "
            "most frequent value (text columns), numeric columns "
            "standardised, text columns one-hot encoded, then the model. "
            "Labeled rows without a target value are not used. The output is "
            "the chosen pool rows as read, after their rank, row number and "
            "score. A pool of several Parquet files (a directory or a glob) is "
            "read with dask partition by partition, never whole; its row "
            "numbers run over the files in natural name order. Problems are "
            "one line on stderr, exit status 2."
        ),
    )
    q.add_argument(
        "--labeled", required=True, help="CSV, Parquet or Excel file with the target"
    )
    q.add_argument(
        "--pool",
        required=True,
        help="file with the feature columns; or a directory of Parquet files, "
        "or a quoted glob such as 'pool/*.parquet', for a pool larger than "
        "memory (read with dask, files in natural name order: needs "
        'pip install "scikit-regularity[dask]")',
    )
    q.add_argument("--target", required=True, help="target column of the labeled file")
    q.add_argument("--features", default=None, help="comma-separated feature columns")
    q.add_argument(
        "--exclude",
        default=None,
        metavar="COLS",
        help="comma-separated columns to leave out of the features",
    )
    q.add_argument("--n", type=int, default=10, help="how many rows to choose")
    q.add_argument(
        "--model",
        default="ridge",
        choices=list(MODELS),
        help="ridge (default): RegularityRidge(alpha='loo'); kernel: "
        "RegularityKernelRidge with an RBF kernel, alpha and gamma by "
        "leave-one-out",
    )
    q.add_argument(
        "--heuristic",
        default="auto",
        choices=HEURISTIC_CHOICES,
        help="auto (default): what the benchmark measured best for the model "
        "and batch size; the score column names the heuristic used",
    )
    q.add_argument("--batch", default="greedy", choices=["greedy", "topk"])
    q.add_argument(
        "--drop-missing",
        action="store_true",
        help="drop rows with an empty feature cell instead of filling it",
    )
    q.add_argument(
        "--explain",
        action="store_true",
        help="say on stderr why each row was chosen (score, prediction +/- "
        "std, the heuristic's terms) and add them as explain_* columns",
    )
    q.add_argument(
        "--output",
        default=None,
        help="write the chosen rows here (CSV with the pool's separator)",
    )
    q.add_argument(
        "--quiet", action="store_true", help="no progress bar (drawn on a terminal)"
    )
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
