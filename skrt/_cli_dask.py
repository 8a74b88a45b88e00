"""``skrt query --pool`` on a directory of Parquet files or a glob pattern:
a pool that need not fit in memory, read with dask (docs/dask.rst).

The files (natural name order: ``part.2`` before ``part.10``) are scanned
for their Parquet metadata only: the columns (every file must have the
same) and the row groups, grouped into pieces of about :data:`PIECE_CELLS`
cells, each a partition of a ``dask.dataframe`` (``dd.from_map``). Then, on
the dask scheduler (threads, or the workers of a ``dask.distributed``
client), without ever holding the pool:

1. one pass checks every feature cell as :mod:`skrt._cli_model` checks a
   pool file's (a bad cell is one line naming its file and row) and counts
   the empty cells and the text values the labeled file lacks, for the
   notes (and, with ``--drop-missing``, the rows kept);
2. the pipeline's column transform, fitted on the labeled file, is applied
   to each partition (``map_partitions``): a lazy ``dask.array`` of the
   encoded pool (``to_dask_array`` with the rows kept per partition as chunk
   lengths) that :func:`skrt.query.regularity_sampling` scores;
3. the chosen rows alone are read back, every column as text, from the
   partitions that hold them.

Numeric columns stored as numbers are converted as arrays (the same floats
the cell-by-cell text round trip of a single file gives), so the chosen
rows, scores and output equal those of the same pool in one file.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

import numpy as np

from ._cli_model import (
    Data,
    build_pipeline,
    check_enough,
    convert_cells,
    dropped_note,
    filled_note,
    missing_cells,
    text_notes,
    typed_labeled,
)
from ._cli_table import PARQUET_EXTENSIONS, CLIError, FrameTable, Table, column_text

__all__ = [
    "DASK_HINT",
    "PIECE_CELLS",
    "ParquetPool",
    "Piece",
    "is_dataset",
    "prepare_dataset",
]

DASK_HINT = 'pip install "scikit-regularity[dask]"'
#: cells (rows x columns) per partition: small next to a worker's memory,
#: also as the object array the column transform takes (~32 bytes a cell)
PIECE_CELLS = 2_000_000


def is_dataset(path) -> bool:
    """Whether ``--pool`` names several files: a directory or a glob pattern
    (``*``, ``?`` or ``[``) that is not itself a file's name."""
    path = str(path)
    return os.path.isdir(path) or (not os.path.exists(path) and glob.has_magic(path))


def _natural(path):
    """Sort key: digit runs compared as numbers (``part.2 < part.10``)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


def _is_parquet(name):
    return name.lower().endswith(PARQUET_EXTENSIONS)


def dataset_files(path, what="pool"):
    """The Parquet files of a directory (recursively; names starting with
    ``.`` or ``_``, such as ``_metadata``, skipped) or of a glob pattern, in
    natural order; an error when there are none or a match is not Parquet."""
    path = str(path)
    if os.path.isdir(path):
        files = []
        for root, dirs, names in os.walk(path):
            dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
            files += [
                os.path.join(root, n)
                for n in names
                if _is_parquet(n) and not n.startswith((".", "_"))
            ]
        if not files:
            raise CLIError(
                f"{what} directory {path} holds no Parquet file (.parquet, .pq)"
            )
    else:
        files = [f for f in glob.glob(path, recursive=True) if os.path.isfile(f)]
        if not files:
            raise CLIError(f"{what} {path}: no file matches the pattern")
        other = [f for f in files if not _is_parquet(f)]
        if other:
            raise CLIError(
                f"{what} {path}: a pool of several files must be Parquet "
                f"(.parquet, .pq); {other[0]} is not"
            )
    return sorted(files, key=_natural)


def require_dask(path, what="pool"):
    """dask.dataframe (and pyarrow) importable, or one line saying what to
    install."""
    try:
        import dask.dataframe  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise CLIError(
            f"reading the {what} {path} (several Parquet files) needs dask: {DASK_HINT}"
        ) from None


@dataclass(frozen=True)
class Piece:
    """A partition: row groups of one file.

    Attributes
    ----------
    path : str
    row_groups : tuple of int
    first_row : int
        The file's row number (from 1) of the piece's first row.
    n_rows : int
    """

    path: str
    row_groups: tuple
    first_row: int
    n_rows: int


def read_piece(piece, columns=None):
    """The piece's rows as a pandas DataFrame (pyarrow, as pandas reads a
    Parquet file)."""
    import pyarrow.parquet as pq

    columns = None if columns is None else list(columns)
    table = pq.ParquetFile(piece.path).read_row_groups(
        list(piece.row_groups), columns=columns
    )
    return table.to_pandas()


def _scan(files, what):
    """(header, pieces, meta) from the files' Parquet metadata."""
    import pyarrow.parquet as pq

    cells = PIECE_CELLS

    header, pieces, meta = None, [], None
    for path in files:
        try:
            handle = pq.ParquetFile(path)
            empty = handle.schema_arrow.empty_table().to_pandas()
        except Exception as exc:  # noqa: BLE001 - any reader failure, one line
            message = " ".join(str(exc).split()) or type(exc).__name__
            raise CLIError(
                f"{what} file {path}: not readable as Parquet: {message}"
            ) from None
        names = [str(c).strip() for c in empty.columns]
        if header is None:
            header, meta = names, empty
            rows_per_piece = max(1, cells // max(1, len(names)))
        elif names != header:
            raise CLIError(
                f"{what} file {path}: its columns ({', '.join(map(repr, names))}) "
                f"differ from {files[0]}'s ({', '.join(map(repr, header))})"
            )
        groups, start, count = [], 1, 0
        for g in range(handle.metadata.num_row_groups):
            n = handle.metadata.row_group(g).num_rows
            if groups and count + n > rows_per_piece:
                pieces.append(Piece(path, tuple(groups), start, count))
                groups, start, count = [], start + count, 0
            groups.append(g)
            count += n
        if count:
            pieces.append(Piece(path, tuple(groups), start, count))
    return header, pieces, meta


class ParquetPool(Table):
    """A pool of several Parquet files, read with dask.

    Parameters
    ----------
    path : str
        A directory or a glob pattern.
    what : str, default="pool"

    Attributes
    ----------
    files : list of str
        In natural order: the order of ``pool_row``.
    header : list of str
    pieces : list of Piece
        The partitions, in order.
    n_rows : int
    """

    unit = "row"

    def __init__(self, path, what="pool"):
        super().__init__(str(path), what)
        require_dask(self.path, what)
        self.files = dataset_files(self.path, what)
        self.header, self.pieces, self._meta = _scan(self.files, what)
        self.n_rows = sum(p.n_rows for p in self.pieces)
        if not self.header:
            raise self.error("the files have no columns")
        if not self.n_rows:
            raise self.error("the files have a header but no rows")
        self.offsets = np.cumsum([0] + [p.n_rows for p in self.pieces])

    def error(self, message, line=None):
        return CLIError(f"{self.what} {self.path}: {message}")

    def describe(self):
        return (
            f"{self.what} {self.path}: {len(self.files)} Parquet file(s), "
            f"{self.n_rows} rows, read with dask in {len(self.pieces)} partition(s)"
        )

    def frame(self, columns=None):
        """The pool as a lazy ``dask.dataframe``, one partition per piece."""
        import dask.dataframe as dd

        meta = self._meta if columns is None else self._meta[list(columns)]
        return dd.from_map(
            read_piece,
            self.pieces,
            columns=None if columns is None else tuple(columns),
            meta=meta,
            label="skrt-pool",
            enforce_metadata=False,
        )

    def partitions(self, columns=None):
        """One delayed pandas DataFrame per piece."""
        return self.frame(columns).to_delayed()


# ------------------------------------------------------------- per partition
def _plain_numbers(series):
    """A column of numbers (not booleans): converted as an array."""
    from pandas.api import types

    return types.is_numeric_dtype(series.dtype) and not types.is_bool_dtype(
        series.dtype
    )


def piece_features(frame, piece, features, kinds):
    """The piece's feature cells as the pipeline takes them (an object array
    of shape (n, p)) and which are empty; a bad cell is a CLIError naming
    its file and row."""
    table = Table(piece.path, "pool")
    table.unit = "row"
    n = len(frame)
    lines = list(range(piece.first_row, piece.first_row + n))
    X = np.empty((n, len(features)), dtype=object)
    missing = np.zeros((n, len(features)), dtype=bool)
    for j, f in enumerate(features):
        column = frame[f]
        if kinds[f] == "numeric" and _plain_numbers(column):
            values = column.to_numpy(dtype=float, na_value=np.nan)
            bad = np.flatnonzero(np.isinf(values))
            if bad.size:  # the error a file's cell gets
                i = int(bad[0])
                table.number(column_text(column.iloc[i : i + 1])[0], f, lines[i])
            X[:, j] = values
            missing[:, j] = np.isnan(values)
        else:
            cells = [c.strip() for c in column_text(column)]
            X[:, j] = convert_cells(table, f, kinds[f], cells, lines)
            missing[:, j] = [not c for c in cells]
    return X, missing


def _summary(frame, piece, features, kinds, drop, values):
    """(empty cells per column, rows kept, {text column: (unseen, first)})."""
    X, missing = piece_features(frame, piece, features, kinds)
    keep = ~missing.any(axis=1) if drop else np.ones(len(X), dtype=bool)
    unseen = {}
    for j, known in values.items():
        new = [v for v in X[keep, j] if isinstance(v, str) and v not in known]
        unseen[j] = (len(new), new[0] if new else None)
    return missing.sum(axis=0), int(keep.sum()), unseen


def _encode(frame, piece, features, kinds, drop, head):
    """The piece's kept rows through the fitted column transform (float64)."""
    X, missing = piece_features(frame, piece, features, kinds)
    if drop:
        X = X[~missing.any(axis=1)]
    return np.ascontiguousarray(head.transform(X), dtype=np.float64)


def _encode_partition(frame, pieces, features, kinds, drop, head, partition_info=None):
    """:func:`_encode` of a partition, as a DataFrame (``map_partitions``)."""
    import pandas as pd

    piece = pieces[partition_info["number"]]
    return pd.DataFrame(_encode(frame, piece, features, kinds, drop, head))


def _chosen_rows(frame, piece, features, kinds, drop, local):
    """(row numbers within the piece, text cells of every column) of the
    piece's kept rows ``local``."""
    rows = np.asarray(local, dtype=np.int64)
    if drop:
        _, missing = piece_features(frame[features], piece, features, kinds)
        rows = np.flatnonzero(~missing.any(axis=1))[rows]
    table = FrameTable.from_frame(
        frame.iloc[rows], piece.path, "pool", first_row=piece.first_row
    )
    return rows, table.rows


# --------------------------------------------------------------------- query
@dataclass
class DatasetPlan:
    """What the passes over a dataset pool need, after the summary pass."""

    pool: ParquetPool
    features: list
    kinds: dict
    drop: bool
    kept: np.ndarray  # rows kept per piece

    def encoded(self, head, width):
        """The pool through ``head`` (the fitted column transform), as a lazy
        dask array of shape (kept rows, width), one chunk per piece: the
        dataframe's ``map_partitions``, then ``to_dask_array`` with the kept
        rows' counts as chunk lengths."""
        import dask
        import pandas as pd

        frame = self.pool.frame(self.features)
        meta = pd.DataFrame(np.empty((0, width)), columns=range(width))
        encoded = frame.map_partitions(
            _encode_partition,
            dask.delayed(self.pool.pieces, pure=True),  # one key, not per task
            self.features,
            self.kinds,
            self.drop,
            dask.delayed(head, pure=True),
            meta=meta,
            enforce_metadata=False,
            align_dataframes=False,
        )
        return encoded.to_dask_array(lengths=[int(k) for k in self.kept])

    def chosen(self, index):
        """(pool row numbers, text cells) of the kept rows ``index`` (in
        that order), read from the pieces that hold them."""
        import dask

        index = np.asarray(index, dtype=np.int64)
        starts = np.cumsum(np.concatenate([[0], self.kept]))
        piece_of = np.searchsorted(starts, index, side="right") - 1
        frames = self.pool.partitions()
        tasks, where = [], []
        for p in np.unique(piece_of):
            local = index[piece_of == p] - starts[p]
            tasks.append(
                dask.delayed(_chosen_rows)(
                    frames[p], self.pool.pieces[p], self.features, self.kinds,
                    self.drop, local,
                )
            )  # fmt: skip
            where.append((p, np.flatnonzero(piece_of == p)))
        numbers = np.empty(len(index), dtype=np.int64)
        cells = [None] * len(index)
        for (p, at), (rows, texts) in zip(where, dask.compute(*tasks), strict=True):
            numbers[at] = self.pool.offsets[p] + rows
            for k, text in zip(at, texts, strict=True):
                cells[k] = text
        return numbers, cells


def prepare_dataset(args, lab, pool):
    """:func:`skrt._cli_model.prepare` for a pool of several files: the
    labeled arrays, the notes, and the :class:`DatasetPlan` of the pool
    (one pass over it)."""
    import dask

    labeled = typed_labeled(args, lab, pool)
    features, kinds, X, y = labeled.features, labeled.kinds, labeled.X, labeled.y
    notes = labeled.notes
    lab_missing = missing_cells(X)
    if args.drop_missing:
        keep = ~lab_missing.any(axis=1)
        X, y = X[keep], y[keep]
    values = {
        j: {v for v in X[:, j] if isinstance(v, str)}
        for j, f in enumerate(features)
        if kinds[f] == "text"
    }
    summarise = dask.delayed(_summary, pure=True)
    frames = pool.partitions(features)
    shared = dask.delayed(values, pure=True)  # one key, not per task
    parts = dask.compute(
        *[
            summarise(frame, piece, features, kinds, args.drop_missing, shared)
            for frame, piece in zip(frames, pool.pieces, strict=True)
        ]
    )
    kept = np.array([k for _, k, _ in parts], dtype=np.int64)
    if args.drop_missing:
        notes.append(dropped_note(int((~keep).sum()), int(pool.n_rows - kept.sum())))
        if not kept.any():
            raise pool.error("every row has an empty cell (--drop-missing)")
    else:
        pool_counts = np.sum([c for c, _, _ in parts], axis=0)
        filled = filled_note(features, kinds, lab_missing.sum(0), pool_counts)
        if filled:
            notes.append(filled)
    check_enough(args, lab, labeled, X)
    unseen = {}
    for j in values:
        count = sum(u[j][0] for _, _, u in parts)
        first = next((u[j][1] for _, _, u in parts if u[j][0]), None)
        unseen[j] = (count, first)
    notes += text_notes(features, kinds, X, unseen)
    data = Data(features, labeled.numeric, X, y, None, None, notes)
    return data, DatasetPlan(pool, features, kinds, args.drop_missing, kept)


def fit_dataset(data, plan, model):
    """The pipeline fitted on the labeled rows, and the encoded pool."""
    pipeline = build_pipeline(data, model).fit(data.X, data.y)
    head = pipeline[:-1]
    width = head.transform(data.X[:1]).shape[1]
    return pipeline, plan.encoded(head, width)
