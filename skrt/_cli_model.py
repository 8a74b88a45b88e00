"""The model ``skrt query`` fits, from scikit-learn parts.

The feature columns of the labeled file are typed on its training rows (the
rows with a target value): a column whose non-empty cells are all numbers is
numeric, one whose cells are mostly text is a text column, and one mostly of
numbers with a few text cells is an error naming the first text cell (a typo
or a missing-value marker, not a category). An empty cell is missing.

:func:`build_pipeline` then assembles

.. code-block:: text

    Pipeline([
        ("columns", ColumnTransformer([
            ("numeric", SimpleImputer(strategy="median") -> StandardScaler()),
            ("text", SimpleImputer(strategy="most_frequent")
                     -> OneHotEncoder(handle_unknown="ignore")),
        ])),
        ("model", RegularityRidge(alpha="loo")
                  or RegularityKernelRidge(kernel="rbf", alpha="loo", gamma="loo")),
    ])

fitted on the labeled rows, so the imputers' medians and most frequent
values, the scaler's means and scales and the encoder's categories are
those of the labeled file, and the pool goes through the same transform.
Standardised columns make the penalty, and so the ranking, independent of
each column's units; a pool value absent from the labeled file encodes as
all zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._cli_table import CLIError

__all__ = [
    "Data",
    "Labeled",
    "MODELS",
    "build_pipeline",
    "check_enough",
    "convert_cells",
    "dropped_note",
    "filled_note",
    "missing_cells",
    "prepare",
    "scale_hint",
    "text_notes",
    "typed_labeled",
    "unseen_values",
]

MODELS = {
    "ridge": "RegularityRidge(alpha='loo')",
    "kernel": "RegularityKernelRidge(kernel='rbf', alpha='loo', gamma='loo')",
}


@dataclass
class Data:
    """The arrays of one query, with what was done to get them.

    ``X``/``X_pool`` are object arrays (numeric columns float with NaN for
    a missing cell, text columns str or NaN), ``y`` floats; ``pool_rows``
    the pool's row indices kept (all unless ``--drop-missing``). A pool of
    several Parquet files (:mod:`skrt._cli_dask`) has ``X_pool`` and
    ``pool_rows`` None.
    """

    features: list
    numeric: list
    X: np.ndarray
    y: np.ndarray
    X_pool: np.ndarray
    pool_rows: np.ndarray
    notes: list = field(default_factory=list)


def _kind(table, column, cells):
    """ "numeric" or "text" from the labeled cells; an error for a column of
    numbers with a few text cells, or with no value at all."""
    values = [c for c in cells if c]
    if not values:
        raise table.error(
            f"column {column!r} has no value in any labeled row: fill it in or "
            f"leave it out with --exclude {column}"
        )
    numbers = sum(table.parse(c) is not None for c in values)
    if numbers == len(values):
        return "numeric"
    if 2 * numbers > len(values):
        return "numeric"  # the first text cell is reported by _numbers
    return "text"


def _numbers(table, column, cells, lines, hint):
    out = np.full(len(cells), np.nan)
    for i, text in enumerate(cells):
        if text:
            out[i] = table.number(text, column, lines[i], hint)
    return out


def _text(cells):
    out = np.empty(len(cells), dtype=object)
    for i, text in enumerate(cells):
        out[i] = text if text else np.nan
    return out


def choose_features(args, lab, pool):
    """Feature columns, checked in both files (never fewer than asked for)."""
    if args.target not in lab.columns:
        raise lab.error(
            f"no target column {args.target!r}; it has "
            f"{', '.join(map(repr, lab.columns))}" + lab.case_hint([args.target])
        )
    exclude = _names(args.exclude, "--exclude") if args.exclude else []
    if args.features is not None:
        features = _names(args.features, "--features")
        if args.target in features:
            raise CLIError(f"--features includes the target {args.target!r}")
    else:
        features = [c for c in lab.columns if c != args.target]
    unknown = [c for c in exclude if c not in lab.columns and c not in pool.columns]
    if unknown:
        raise CLIError(
            f"--exclude names no column of either file: "
            f"{', '.join(map(repr, unknown))}" + lab.case_hint(unknown)
        )
    features = [f for f in features if f not in exclude]
    if not features:
        raise lab.error(
            f"no feature columns besides the target {args.target!r}"
            + (" and the --exclude'd ones" if exclude else "")
        )
    absent = [f for f in features if f not in pool.columns]
    if args.features is None and absent:
        raise pool.error(
            f"lacks the labeled file's feature column(s) "
            f"{', '.join(map(repr, absent))}" + pool.case_hint(absent)
            + "; add them, leave them out with --exclude, or choose columns "
            "with --features"
        )  # fmt: skip
    return features


def _names(text, option):
    names = [f.strip() for f in text.split(",")]
    if not all(names):
        raise CLIError(f"{option} has an empty name: {text!r}")
    repeated = sorted({f for f in names if names.count(f) > 1})
    if repeated:
        raise CLIError(
            f"{option} names column(s) twice: {', '.join(map(repr, repeated))}"
        )
    return names


def prepare(args, lab, pool):
    """The arrays the pipeline is fitted on and scores, from the two tables.

    Rows of the labeled file without a target value are no training rows
    (a note says how many). Missing feature cells are counted per column
    (imputed by the pipeline), or with ``args.drop_missing`` their rows
    dropped from both files.
    """
    columns = {}

    def pool_column(j, f, kind):
        columns[j] = convert_cells(pool, f, kind, pool.cells(f), pool.lines)

    labeled = typed_labeled(args, lab, pool, pool_column)
    features, kinds, X, y = labeled.features, labeled.kinds, labeled.X, labeled.y
    X_pool = np.empty((len(pool.rows), len(features)), dtype=object)
    for j, column in columns.items():
        X_pool[:, j] = column
    notes = labeled.notes
    lab_missing = missing_cells(X)
    pool_missing = missing_cells(X_pool)
    pool_rows = np.arange(len(pool.rows))
    if args.drop_missing:
        keep, keep_pool = ~lab_missing.any(axis=1), ~pool_missing.any(axis=1)
        notes.append(dropped_note(int((~keep).sum()), int((~keep_pool).sum())))
        if not keep_pool.any():
            raise pool.error("every row has an empty cell (--drop-missing)")
        X, y, X_pool = X[keep], y[keep], X_pool[keep_pool]
        pool_rows = pool_rows[keep_pool]
    else:
        filled = filled_note(features, kinds, lab_missing.sum(0), pool_missing.sum(0))
        if filled:
            notes.append(filled)
    check_enough(args, lab, labeled, X)
    notes += text_notes(features, kinds, X, unseen_values(features, kinds, X, X_pool))
    return Data(features, labeled.numeric, X, y, X_pool, pool_rows, notes)


@dataclass
class Labeled:
    """The labeled file's training arrays (:func:`typed_labeled`)."""

    features: list
    kinds: dict
    numeric: list
    X: np.ndarray
    y: np.ndarray
    notes: list
    partial: bool  # some rows have no target value


def typed_labeled(args, lab, pool, pool_column=None):
    """The feature columns, typed on the labeled file's training rows, and
    its arrays; ``pool_column(j, f, kind)`` is called after each labeled
    column is converted (the pool's cells are checked column by column with
    the labeled ones, so the first bad cell of either file is reported)."""
    features = choose_features(args, lab, pool)
    lab.require(features)
    pool.require(features)
    notes = []
    target = lab.cells(args.target)
    labeled = [i for i, c in enumerate(target) if c]
    if len(labeled) < len(target):
        notes.append(
            f"{len(target) - len(labeled)} labeled row(s) without a "
            f"{args.target!r} value are not used for the fit"
        )
    lines = [lab.lines[i] for i in labeled]
    y = _numbers(
        lab,
        args.target,
        [target[i] for i in labeled],
        lines,
        " (the target must be numeric: skrt query fits a regression)",
    )
    lab_cells = {}
    for f in features:
        column = lab.cells(f)
        lab_cells[f] = [column[i] for i in labeled]
    kinds = {f: _kind(lab, f, lab_cells[f]) for f in features}
    numeric = [f for f in features if kinds[f] == "numeric"]
    hint = " (the column's other cells are numbers: fix the cell, or leave the "
    X = np.empty((len(labeled), len(features)), dtype=object)
    for j, f in enumerate(features):
        if kinds[f] == "numeric":
            X[:, j] = _numbers(lab, f, lab_cells[f], lines, hint + "cell empty)")
        else:
            X[:, j] = _text(lab_cells[f])
        if pool_column is not None:
            pool_column(j, f, kinds[f])
    partial = len(labeled) < len(target)
    return Labeled(features, kinds, numeric, X, y, notes, partial)


def convert_cells(table, column, kind, cells, lines):
    """A pool column's stripped cells as the pipeline takes them: floats
    (NaN for an empty cell; a bad cell is an error naming its line or row)
    for a numeric column, str (NaN for an empty cell) for a text column."""
    if kind == "numeric":
        return _numbers(table, column, cells, lines, " (a number in the labeled file)")
    return _text(cells)


def dropped_note(n_labeled, n_pool):
    """The note of ``--drop-missing``."""
    return (
        f"--drop-missing: dropped {n_labeled} labeled and {n_pool} pool row(s) "
        "with an empty cell"
    )


def check_enough(args, lab, labeled, X):
    """At least 3 training rows, or an error saying why there are fewer."""
    if X.shape[0] < 3:
        raise lab.error(
            f"needs at least 3 rows, has {X.shape[0]}"
            + (" with a target value" if labeled.partial else "")
            + (" without an empty cell" if args.drop_missing else "")
        )


def missing_cells(X):
    """Which cells of an object array are missing (a float NaN)."""
    return np.array(
        [[isinstance(v, float) and np.isnan(v) for v in row] for row in X], dtype=bool
    ).reshape(X.shape)


def filled_note(features, kinds, lab_counts, pool_counts):
    """The note on the empty cells the imputers fill, or None."""
    parts = []
    for f, a, b in zip(features, lab_counts, pool_counts, strict=True):
        if a or b:
            how = "median" if kinds[f] == "numeric" else "most frequent value"
            parts.append(f"{f!r} {a} labeled + {b} pool (the {how})")
    if not parts:
        return None
    total = int(sum(lab_counts) + sum(pool_counts))
    return (
        f"filled {total} empty cell(s) with the labeled rows' median (numeric) "
        f"or most frequent value (text): " + "; ".join(parts)
        + " (--drop-missing drops such rows instead)"
    )  # fmt: skip


def unseen_values(features, kinds, X, X_pool):
    """Per text column ``j``: (how many pool cells hold a value the labeled
    rows lack, the first of them or None)."""
    out = {}
    for j, f in enumerate(features):
        if kinds[f] != "text":
            continue
        values = {v for v in X[:, j] if isinstance(v, str)}
        unseen = [v for v in X_pool[:, j] if isinstance(v, str) and v not in values]
        out[j] = (len(unseen), unseen[0] if unseen else None)
    return out


def text_notes(features, kinds, X, unseen):
    """The notes on the text columns: their values, and the pool's values
    the labeled rows lack (``unseen`` from :func:`unseen_values`)."""
    notes = []
    text = [j for j, f in enumerate(features) if kinds[f] == "text"]
    values = {j: {v for v in X[:, j] if isinstance(v, str)} for j in text}
    if text:
        names = ", ".join(f"{features[j]!r} ({len(values[j])} values)" for j in text)
        notes.append(f"text column(s) one-hot encoded: {names}")
    for j in text:
        count, first = unseen[j]
        if count:
            named = sum(isinstance(v, str) for v in X[:, j])
            ident = (
                f" (a different value in every labeled row: an identifier? "
                f"--exclude {features[j]})"
                if named == len(values[j]) and named > 2
                else ""
            )
            notes.append(
                f"pool column {features[j]!r}: {count} row(s) hold a value "
                f"the labeled file lacks (e.g. {first!r}), encoded as none of "
                f"its categories{ident}"
            )
    return notes


def build_pipeline(data, model="ridge"):
    """An unfitted Pipeline: the column transform, then the model.

    Parameters
    ----------
    data : Data
        Which columns are numeric (the others are text).
    model : {"ridge", "kernel"}, default="ridge"
        ``RegularityRidge(alpha="loo")`` or the RBF
        ``RegularityKernelRidge(alpha="loo", gamma="loo")``.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Steps ``"columns"`` (a ColumnTransformer) and ``"model"``.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from . import RegularityKernelRidge, RegularityRidge

    numeric = [j for j, f in enumerate(data.features) if f in data.numeric]
    text = [j for j, f in enumerate(data.features) if f not in data.numeric]
    parts = []
    if numeric:
        steps = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
        parts.append(("numeric", steps, numeric))
    if text:
        steps = make_pipeline(
            SimpleImputer(strategy="most_frequent"),
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
        )
        parts.append(("text", steps, text))
    columns = ColumnTransformer(parts, sparse_threshold=0.0)
    if model == "kernel":
        estimator = RegularityKernelRidge(alpha="loo", kernel="rbf", gamma="loo")
    else:
        estimator = RegularityRidge(alpha="loo")
    return Pipeline([("columns", columns), ("model", estimator)])


def scale_hint(data, target):
    """'; column 'a' of the labeled file reaches 1e+308: ...' for huge values."""
    for what, X, names in (
        ("labeled", data.X, data.features),
        ("labeled", data.y[:, None], [target]),
        ("pool", data.X_pool, data.features),
    ):
        if X is None:  # a pool of several files, never in memory
            continue
        for j, name in enumerate(names):
            if name not in data.numeric and name != target:
                continue
            column = np.abs(X[:, j].astype(float))
            big = np.nanmax(column) if np.isfinite(column).any() else 0.0
            if big > 1e100:  # squares and sums overflow near 1e154
                return (
                    f"; column {name!r} of the {what} file reaches {big:.3g}: "
                    "rescale it (e.g. other units)"
                )
    return ""
