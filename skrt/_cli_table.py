"""The spreadsheets ``skrt query`` reads: CSV text (any separator, a
byte-order mark, decimal commas), Parquet and Excel files.

Every file becomes a :class:`Table`: a header and rows of text cells, each
row with the line (CSV) or row (Parquet, Excel) number a message names.
CSV files are read here, byte by byte; Parquet and Excel files through
pandas' optional readers (pandas is imported only for them), their cells
written as text (a number as its shortest round-trip repr, an empty cell as
``""``) so that both kinds are checked by the same code.

Problems are :class:`CLIError`: one line for stderr naming the file, the
line or row, the column and the cell.
"""

from __future__ import annotations

import csv
import importlib
import io
import itertools
import math
import os
import re

__all__ = [
    "CLIError",
    "CsvTable",
    "FrameTable",
    "MISSING_MARKERS",
    "PARQUET_EXTENSIONS",
    "Table",
    "column_text",
    "read_table",
]

SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_ROWS = 50
_THOUSANDS = re.compile(r"[+-]?\d{1,3}([.,'\s]\d{3})+([.,]\d*)?")
_DECIMAL_COMMA = re.compile(r"[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?")
# 1.200 or 12.345.678: a thousands-dot number where decimal commas are in use
_DOT_THOUSANDS = re.compile(r"[+-]?[1-9]\d{0,2}(\.\d{3})+")
# what other programs write for a missing value; skrt query reads only an
# empty cell as missing, and names these in the message
MISSING_MARKERS = ("na", "n/a", "#n/a", "nan", "null", "none", "-", "?")
_PARQUET = PARQUET_EXTENSIONS = (".parquet", ".pq")
_EXCEL = (".xlsx", ".xlsm", ".xls")


class CLIError(Exception):
    """A user error: printed as one line on stderr, exit status 2."""


class Table:
    """A file as a header and rows of text cells.

    Attributes
    ----------
    path, what : str
        The file and its role (``"labeled"`` or ``"pool"``), for messages.
    header : list of str
        Column names; ``""`` for an unnamed one (a pandas index).
    rows : list of list of str
        The data rows' cells, as read (whitespace kept).
    lines : list of int
        Each row's line (CSV) or row (Parquet, Excel) number.
    unit : {"line", "row"}
        What ``lines`` count.
    sep : str
        The separator (CSV), ``","`` otherwise: the output's separator.
    decimal_comma : bool
        Whether a cell such as ``3,5`` is the number 3.5.
    """

    unit = "line"
    sep = ","
    decimal_comma = False

    def __init__(self, path, what):
        self.path, self.what = path, what

    def error(self, message, line=None):
        """A :class:`CLIError` naming the file (and the line or row)."""
        where = f", {self.unit} {line}" if line is not None else ""
        return CLIError(f"{self.what} file {self.path}{where}: {message}")

    @property
    def columns(self):
        """Named columns (an unnamed one, such as a pandas index, is skipped)."""
        return [h for h in self.header if h]

    def describe(self):
        """A note on how the file was read, or None when plainly."""
        return None

    def case_hint(self, missing):
        """`` (did you mean 'A'?)`` for names that differ only in case."""
        lower = {h.lower(): h for h in self.columns}
        near = [f"{lower[m.lower()]!r}" for m in missing if m.lower() in lower]
        return f" (did you mean {', '.join(near)}?)" if near else ""

    def require(self, columns):
        """Each name's column index; an error names the absent ones."""
        index = {name: j for j, name in enumerate(self.header) if name}
        missing = [c for c in columns if c not in index]
        if missing:
            raise self.error(
                f"no column(s) {', '.join(map(repr, missing))}; it has "
                f"{', '.join(map(repr, self.columns))}" + self.case_hint(missing)
            )
        return [index[c] for c in columns]

    def cells(self, column):
        """The stripped cells of a named column."""
        j = self.require([column])[0]
        return [row[j].strip() for row in self.rows]

    def parse(self, text, column=None):
        """The number a stripped, non-empty cell holds, or None (also for
        ``1.200`` in a ``column`` that writes decimal commas: 1200 or 1.2)."""
        if "_" in text:  # float() would read 1_000 as 1000
            return None
        if _DOT_THOUSANDS.fullmatch(text) and self.comma_decimals(column):
            return None  # 1.200 is 1200 where 3,5 is 3.5: ambiguous, refused
        try:
            return float(text)
        except ValueError:
            if self.decimal_comma and _DECIMAL_COMMA.fullmatch(text):
                return float(text.replace(",", "."))
        return None

    def comma_decimals(self, column):
        """Whether ``column`` holds a decimal-comma number (then a dot in its
        ``1.200`` separates thousands, and float() would misread it)."""
        if not self.decimal_comma or column not in self.header:
            return False
        found = self.__dict__.setdefault("_comma_decimals", {})
        if column not in found:
            j = self.header.index(column)
            found[column] = any(
                _DECIMAL_COMMA.fullmatch(row[j].strip())
                for row in self.rows
                if j < len(row)
            )
        return found[column]

    def number(self, text, column, line, hint=""):
        """The finite number in a non-empty cell; one line names a bad one."""
        where = f"column {column!r}"
        value = self.parse(text, column)
        if value is None:
            if not self.decimal_comma and _DECIMAL_COMMA.fullmatch(
                text.replace(" ", "")
            ):
                hint = " (a decimal comma in a comma-separated file?)"
            elif _THOUSANDS.fullmatch(text):
                hint = " (thousands separators? remove them)"
                if _DOT_THOUSANDS.fullmatch(text) and self.comma_decimals(column):
                    hint = (
                        " (the column writes decimal commas, so its dots may "
                        "separate thousands: 1.200 could be 1200 or 1.2; remove "
                        "thousands separators)"
                    )
            elif text.lower() in MISSING_MARKERS:
                hint = " (a missing value? leave the cell empty)"
            raise self.error(f"{where}: {text!r} is not a number{hint}", line)
        if not math.isfinite(value):
            if math.isnan(value):
                raise self.error(
                    f"{where}: {text!r} is NaN (a missing value? leave the cell empty)",
                    line,
                )
            kind = "infinite" if "inf" in text.lower() else "beyond the float range"
            raise self.error(f"{where}: {text!r} is {kind}", line)
        return value


class CsvTable(Table):
    """A CSV file read as UTF-8 text, its separator detected."""

    def __init__(self, path, what):
        super().__init__(path, what)
        text = self._decode(self._bytes())
        self.sep = self._separator(text)
        self.decimal_comma = self.sep != ","
        self.header, self.rows, self.lines = self._parse(text)

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
                f"the file is a zip archive (an Excel .xlsx?), not CSV text; "
                f"{save_as}, or name it .xlsx"
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
        wins (ties: the order of ``SEPARATORS``). Failing that, the one
        that splits the header most (its ragged rows are reported later);
        a single column is comma-separated.
        """
        best, best_key = ",", (False, 1)
        for sep in SEPARATORS:
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
        check_repeated(self, header)
        return header, rows, lines

    def _separator_hint(self):
        if self.sep == ",":
            return ""
        return f" (read as {SEPARATORS[self.sep]}-separated)"

    def describe(self):
        if self.sep == ",":
            return None
        return (
            f"{self.what} file {self.path} read as "
            f"{SEPARATORS[self.sep]}-separated (decimal commas accepted)"
        )


def check_repeated(table, header):
    """An error naming the columns of a repeated name."""
    names = [h for h in header if h]
    repeated = sorted({h for h in names if names.count(h) > 1})
    if repeated:
        where = "; ".join(
            f"{h!r} in columns "
            + " and ".join(str(j + 1) for j, g in enumerate(header) if g == h)
            for h in repeated
        )
        raise table.error(f"repeated column name(s): {where}; rename them")


def _cell_text(value, isna):
    """A spreadsheet value as the text a CSV export would hold."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    try:  # pandas NA/NaT
        if isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):  # a numpy scalar
        return _cell_text(value.item(), isna)
    return str(value)


def _column_text(series, isna):
    """A pandas column's cells as text (Python scalars from ``tolist``)."""
    return [_cell_text(v, isna) for v in series.tolist()]


def column_text(series):
    """A pandas column's cells as the text a CSV export would hold (a
    number as its shortest round-trip repr, an empty cell as ``""``), as
    :class:`FrameTable` reads them."""
    import pandas as pd

    return _column_text(series, pd.isna)


class FrameTable(Table):
    """A Parquet file or an Excel sheet read by pandas, as text cells.

    Rows are numbered as the file shows them: an Excel sheet's row (the
    header is row 1), a Parquet file's data row from 1.
    """

    unit = "row"

    def __init__(self, path, what):
        super().__init__(path, what)
        if not os.path.isfile(path):
            reason = "Is a directory" if os.path.isdir(path) else "No such file"
            raise CLIError(f"cannot read {what} file {path}: {reason}")
        ext = os.path.splitext(path)[1].lower()
        self.kind = "Parquet" if ext in _PARQUET else "Excel"
        self._load(self._read(path, ext))

    @classmethod
    def from_frame(cls, frame, path, what, first_row=1, kind="Parquet"):
        """A table of a pandas DataFrame already read: a piece of a Parquet
        file whose first row is the file's row ``first_row`` (from 1)."""
        table = cls.__new__(cls)
        Table.__init__(table, path, what)
        table.kind = kind
        table._load(frame, first_row)
        return table

    def _load(self, frame, first_row=None):
        """Header, text cells and row numbers from the frame."""
        header = []
        for name in frame.columns:
            text = "" if name is None else str(name).strip()
            if self.kind == "Excel" and re.fullmatch(r"Unnamed: \d+", text):
                text = ""  # a blank header cell
            header.append(text)
        check_repeated(self, header)
        self.header = header
        import pandas as pd

        columns = [_column_text(frame.iloc[:, j], pd.isna) for j in range(len(header))]
        self.rows = [list(row) for row in zip(*columns, strict=True)]
        first = first_row or (2 if self.kind == "Excel" else 1)
        self.lines = list(range(first, first + len(self.rows)))
        if not header:
            raise self.error("the file is empty")
        if not self.rows:
            raise self.error("the file has a header but no rows")

    def _read(self, path, ext):
        if ext in _PARQUET:
            engines, needs = ("pyarrow", "fastparquet"), "pyarrow"
        else:
            needs = "xlrd" if ext == ".xls" else "openpyxl"
            engines = (needs,)
        try:
            import pandas as pd
        except ImportError:
            raise CLIError(
                f"reading {self.kind} files ({self.what} file {path}) needs "
                f"pandas and {needs}: pip install pandas {needs}"
            ) from None
        if not any(_importable(name) for name in engines):
            raise CLIError(
                f"reading {self.kind} files ({self.what} file {path}) needs "
                f"{needs}: pip install {needs}"
            )
        try:
            if ext in _PARQUET:
                return pd.read_parquet(path)
            # "NA" stays text, as in a CSV file: only an empty cell is missing
            return pd.read_excel(path, sheet_name=0, keep_default_na=False)
        except Exception as exc:  # noqa: BLE001 - any reader failure, one line
            message = " ".join(str(exc).split()) or type(exc).__name__
            raise self.error(f"not readable as {self.kind}: {message}") from None

    def describe(self):
        return (
            f"{self.what} file {self.path} read as {self.kind} (first sheet)"
            if (self.kind == "Excel")
            else None
        )


def _importable(name):
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def read_table(path, what):
    """The file at ``path`` as a :class:`Table`, by its extension: Parquet
    (.parquet, .pq) and Excel (.xlsx, .xlsm, .xls) through pandas, anything
    else as CSV text."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext in _PARQUET + _EXCEL:
        return FrameTable(path, what)
    return CsvTable(path, what)
