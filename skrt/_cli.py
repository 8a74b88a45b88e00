"""Command line: ``skrt demo`` and ``skrt query`` (also ``python -m skrt``)."""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import os
import re
import sys
import warnings

import numpy as np

from ._heuristics import HEURISTIC_CHOICES, resolve_heuristic


class CLIError(Exception):
    """A user error: printed as one line on stderr, exit status 2."""


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
_SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_ROWS = 50
_THOUSANDS = re.compile(r"[+-]?\d{1,3}([.,'\s]\d{3})+([.,]\d*)?")
_DECIMAL_COMMA = re.compile(r"[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?")


class _Table:
    """A CSV file read as text: header, rows and each row's line number."""

    def __init__(self, path, what):
        self.path, self.what = path, what
        text = self._decode(self._bytes())
        self.sep = self._separator(text)
        self.header, self.rows, self.lines = self._parse(text)

    def error(self, message, line=None):
        where = f", line {line}" if line is not None else ""
        return CLIError(f"{self.what} file {self.path}{where}: {message}")

    def _bytes(self):
        try:
            with open(self.path, "rb") as fh:
                return fh.read()
        except OSError as exc:
            raise CLIError(
                f"cannot read {self.what} file {self.path}: {exc.strerror}"
            ) from None

    def _decode(self, raw):
        save_as = "save it as 'CSV UTF-8' (comma-separated)"
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise self.error(f"the file is UTF-16/UTF-32 text, not UTF-8; {save_as}")
        if raw.startswith(b"PK\x03\x04"):
            raise self.error(
                f"the file is a zip archive (an Excel .xlsx?), not CSV text; {save_as}"
            )
        if b"\x00" in raw:
            line = raw[: raw.index(b"\x00")].count(b"\n") + 1
            raise self.error(
                f"the file holds NUL bytes (line {line}): it is binary or "
                f"UTF-16 without a byte-order mark, not CSV text; {save_as}"
            )
        try:
            return raw.decode("utf-8-sig")  # spreadsheets write a BOM
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise self.error(
                f"the file is not UTF-8 (byte 0x{raw[exc.start]:02x} on line "
                f"{line}; Latin-1 or Windows-1252?): {save_as}, or convert it "
                f"(iconv -f latin1 -t utf-8)"
            ) from None

    @staticmethod
    def _separator(text):
        """The separator that splits the first rows like the header.

        A candidate must give the header at least two fields and every one
        of the first rows as many; among those the one with the most fields
        wins (ties: the order of ``_SEPARATORS``). Failing that, the one
        that splits the header most (its ragged rows are reported later);
        a single column is comma-separated.
        """
        best, best_key = ",", (False, 1)
        for sep in _SEPARATORS:
            rows = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
            try:
                sample = [r for r in itertools.islice(rows, _SNIFF_ROWS) if any(r)]
            except csv.Error:
                continue
            if not sample or len(sample[0]) < 2:
                continue
            width = len(sample[0])
            key = (all(len(r) == width for r in sample), width)
            if key > best_key:
                best, best_key = sep, key
        return best

    def _parse(self, text):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.sep)
        rows, lines = [], []
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    rows.append(row)
                    lines.append(reader.line_num)
        except csv.Error as exc:
            raise self.error(f"not readable as CSV: {exc}", reader.line_num) from None
        if not rows:
            raise self.error("the file is empty")
        header = [h.strip().lstrip("\ufeff").strip() for h in rows[0]]
        rows, lines = rows[1:], lines[1:]
        if not rows:
            raise self.error("the file has a header but no rows")
        for row, line in zip(rows, lines, strict=True):
            if len(row) != len(header):
                raise self.error(
                    f"{len(row)} fields, the header has {len(header)}"
                    + self._separator_hint(),
                    line,
                )
        names = [h for h in header if h]
        repeated = sorted({h for h in names if names.count(h) > 1})
        if repeated:
            where = "; ".join(
                f"{h!r} in columns "
                + " and ".join(str(j + 1) for j, g in enumerate(header) if g == h)
                for h in repeated
            )
            raise self.error(f"repeated column name(s): {where}; rename them")
        return header, rows, lines

    def _separator_hint(self):
        if self.sep == ",":
            return ""
        return f" (read as {_SEPARATORS[self.sep]}-separated)"

    @property
    def columns(self):
        """Named columns (an unnamed one, such as a pandas index, is skipped)."""
        return [h for h in self.header if h]

    def describe(self):
        if self.sep == ",":
            return None
        return (
            f"{self.what} file {self.path} read as "
            f"{_SEPARATORS[self.sep]}-separated (decimal commas accepted)"
        )

    def numeric(self, columns, text_hint=""):
        """The named columns as floats; one line names any bad cell."""
        index = {name: j for j, name in enumerate(self.header) if name}
        missing = [c for c in columns if c not in index]
        if missing:
            raise self.error(
                f"no column(s) {', '.join(map(repr, missing))}; it has "
                f"{', '.join(map(repr, self.columns))}" + self.case_hint(missing)
            )
        out = np.empty((len(self.rows), len(columns)))
        for k, c in enumerate(columns):
            j = index[c]
            for i, row in enumerate(self.rows):
                out[i, k] = self._float(row[j], c, self.lines[i], text_hint)
        return out

    def case_hint(self, missing):
        lower = {h.lower(): h for h in self.columns}
        near = [f"{lower[m.lower()]!r}" for m in missing if m.lower() in lower]
        return f" (did you mean {', '.join(near)}?)" if near else ""

    def _float(self, cell, column, line, text_hint=""):
        text = cell.strip()
        where = f"column {column!r}"
        if not text:
            raise self.error(f"{where} is empty: fill it in or drop the row", line)
        value = None
        if "_" not in text:  # float() would read 1_000 as 1000
            try:
                value = float(text)
            except ValueError:
                if self.sep != "," and _DECIMAL_COMMA.fullmatch(text):
                    value = float(text.replace(",", "."))
        if value is None:
            hint = ""
            if self.sep == "," and _DECIMAL_COMMA.fullmatch(text.replace(" ", "")):
                hint = " (a decimal comma in a comma-separated file?)"
            elif _THOUSANDS.fullmatch(text):
                hint = " (thousands separators? remove them)"
            else:
                hint = text_hint
            raise self.error(f"{where}: {cell!r} is not a number{hint}", line)
        if not np.isfinite(value):
            kind = "NaN" if np.isnan(value) else "beyond the float range"
            if kind != "NaN" and "inf" in text.lower():
                kind = "infinite"
            raise self.error(f"{where}: {cell!r} is {kind}", line)
        return value


def _choose_columns(args, lab, pool):
    """Feature columns, checked in both files (never fewer than asked for)."""
    if args.target not in lab.columns:
        raise lab.error(
            f"no target column {args.target!r}; it has "
            f"{', '.join(map(repr, lab.columns))}" + lab.case_hint([args.target])
        )
    if args.features is not None:
        features = [f.strip() for f in args.features.split(",")]
        if not all(features):
            raise CLIError(f"--features has an empty name: {args.features!r}")
        repeated = sorted({f for f in features if features.count(f) > 1})
        if repeated:
            raise CLIError(
                f"--features names column(s) twice: {', '.join(map(repr, repeated))}"
            )
        if args.target in features:
            raise CLIError(f"--features includes the target {args.target!r}")
    else:
        features = [c for c in lab.columns if c != args.target]
        if not features:
            raise lab.error(f"no feature columns besides the target {args.target!r}")
    absent = [f for f in features if f not in pool.columns]
    if args.features is None and absent:
        raise pool.error(
            f"lacks the labeled file's feature column(s) "
            f"{', '.join(map(repr, absent))}" + pool.case_hint(absent)
            + "; add them, or choose columns with --features"
        )  # fmt: skip
    return features


def _check_output(path):
    """Fail before the fit when ``--output`` cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise CLIError(f"--output {path} is a directory; give a file name")
    if not os.path.isdir(folder):
        raise CLIError(f"--output {path}: the directory {folder} does not exist")
    if not os.access(folder, os.W_OK) or (
        os.path.exists(path) and not os.access(path, os.W_OK)
    ):
        raise CLIError(f"--output {path}: no permission to write there")


def _scale_hint(tables):
    """'; column 'a' of the labeled file reaches 1e+308: ...' for huge values."""
    for what, X, names in tables:
        big = np.abs(X).max(axis=0) if X.size else np.zeros(0)
        huge = np.flatnonzero(big > 1e100)  # squares and sums overflow near 1e154
        if huge.size:
            j = huge[np.argmax(big[huge])]
            return (
                f"; column {names[j]!r} of the {what} file reaches {big[j]:.3g}: "
                f"rescale it (e.g. other units)"
            )
    return ""


def _query(args) -> int:
    from . import RegularityRidge
    from .exceptions import RegularityBoundWarning
    from .query import regularity_sampling

    if args.n < 1:
        raise CLIError("--n must be at least 1")
    if args.output:
        _check_output(args.output)
    lab = _Table(args.labeled, "labeled")
    pool = _Table(args.pool, "pool")
    features = _choose_columns(args, lab, pool)
    text_hint = "" if args.features else " (a text column? choose --features)"
    X = lab.numeric(features, text_hint)
    y = lab.numeric([args.target])[:, 0]
    X_pool = pool.numeric(features, text_hint)
    if X.shape[0] < 3:
        raise lab.error(f"needs at least 3 rows, has {X.shape[0]}")
    notes = [t.describe() for t in (lab, pool) if t.describe()]
    unnamed = [t for t in (lab, pool) if len(t.columns) < len(t.header)]
    notes += [f"{t.what} file {t.path}: unnamed column(s) ignored" for t in unnamed]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RegularityBoundWarning)
            warnings.simplefilter("error", RuntimeWarning)  # overflow: no NaN
            model = RegularityRidge(alpha="loo").fit(X, y)
            idx, scores = regularity_sampling(
                model,
                X_pool,
                args.n,
                heuristic=args.heuristic,
                batch=args.batch,
                random_state=0,
            )
        if not (np.isfinite(model.alpha_) and np.all(np.isfinite(scores))):
            raise FloatingPointError("non-finite scores")
    except (ValueError, TypeError, ArithmeticError, RuntimeWarning) as exc:
        hint = _scale_hint(
            [
                ("labeled", np.column_stack([X, y]), [*features, args.target]),
                ("pool", X_pool, features),
            ]
        )
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise CLIError(f"the fit or the query failed: {message}{hint}") from None
    notes += [str(w.message) for w in caught]
    used = resolve_heuristic(args.heuristic, model.__skrt_acquisition__(), args.n)
    header = ["rank", "pool_row", f"{used}_score", *pool.header]
    chosen = [
        [rank, int(i), f"{scores[i]:.6g}", *pool.rows[i]]
        for rank, i in enumerate(idx, 1)
    ]
    try:
        if args.output:
            with open(args.output, "w", newline="") as out:
                csv.writer(out, delimiter=pool.sep).writerows([header, *chosen])
        else:
            csv.writer(sys.stdout, delimiter=pool.sep).writerows([header, *chosen])
    except OSError as exc:
        raise CLIError(
            f"cannot write --output {args.output}: {exc.strerror or exc}"
        ) from None
    for note in notes:
        print(f"note: {' '.join(note.split())}", file=sys.stderr)
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

    q = sub.add_parser(
        "query",
        help="which pool rows to label next",
        description=(
            "Fit RegularityRidge(alpha='loo') on the labeled CSV and rank the "
            "pool CSV's rows. Files are UTF-8 (a spreadsheet's byte-order mark "
            "is fine); the separator (comma, semicolon, tab or pipe) is "
            "detected per file, and outside comma-separated files a decimal "
            "comma is read as a decimal point. Every named column of the "
            "labeled file but the target is a feature (unnamed ones, such as a "
            "pandas index, are skipped) and must be in the pool, unless "
            "--features names the columns. Problems are one line on stderr, "
            "exit status 2."
        ),
    )
    q.add_argument("--labeled", required=True, help="CSV with features and target")
    q.add_argument("--pool", required=True, help="CSV with the feature columns")
    q.add_argument("--target", required=True, help="target column of the labeled CSV")
    q.add_argument("--features", default=None, help="comma-separated feature columns")
    q.add_argument("--n", type=int, default=10, help="how many rows to choose")
    q.add_argument(
        "--heuristic",
        default="auto",
        choices=HEURISTIC_CHOICES,
        help="auto (default): what the benchmark measured best for the model "
        "and batch size; the score column names the heuristic used",
    )
    q.add_argument("--batch", default="greedy", choices=["greedy", "topk"])
    q.add_argument(
        "--output",
        default=None,
        help="write the chosen rows here (CSV with the pool's separator)",
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
