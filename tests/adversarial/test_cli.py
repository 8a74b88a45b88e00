"""``skrt query`` on hostile CSV files: every case states its outcome.

A case writes a labeled and a pool file (bytes, exactly as a spreadsheet,
pandas or a European locale would), runs ``skrt._cli.main`` and expects

- ``Correct``: exit 0 and the ranking, scores and echoed pool rows of the same
  query done in Python on the arrays the files were written from, with an
  explicitly built scikit-learn pipeline (standardised columns, imputed or
  one-hot encoded where the case has empty cells or text; issue 16) ending
  in ``RegularityRidge(alpha="loo")`` (the oracle never reads a file);
- ``Raises(match)``: exit 2, nothing on stdout, exactly one stderr line that
  matches ``match`` (it names the file, line, column or option at fault).

Anything else fails: an exception escaping ``main`` (a traceback), another
exit code, several stderr lines, a wrong ranking.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
import warnings

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skrt import RegularityRidge
from skrt._cli import main
from skrt.query import regularity_sampling

from ._harness import Case, Correct, Raises, params, run_case

_RNG = np.random.RandomState(13)
X_LAB = np.round(_RNG.randn(14, 3), 3)
Y_LAB = np.round(X_LAB @ [1.0, -2.0, 0.5] + 0.2 * _RNG.randn(14), 3)
X_POOL = np.round(_RNG.randn(18, 3) * 1.5, 3)
LAB_COLS, POOL_COLS = ["a", "b", "c", "y"], ["a", "b", "c"]
LAB_ROWS, POOL_ROWS = np.column_stack([X_LAB, Y_LAB]), X_POOL


class CLIFailed(ValueError):
    """``main`` returned 2 with one stderr line (the message)."""


def table(
    header=LAB_COLS,
    rows=LAB_ROWS,
    *,
    sep=",",
    decimal=".",
    encoding="utf-8",
    newline="\n",
    quote=False,
    pad="",
    blank_every=0,
):
    """CSV bytes: numbers exactly (repr), in the given dialect."""

    def cell(v):
        text = v if isinstance(v, str) else repr(float(v)).replace(".", decimal)
        text = f'"{text}"' if quote else text
        return f"{pad}{text}{pad}"

    lines = [sep.join(f"{pad}{h}{pad}" for h in header)]
    for i, row in enumerate(rows):
        lines.append(sep.join(map(cell, row)))
        if blank_every and i % blank_every == 0:
            lines.append("")
    return (newline.join(lines) + newline).encode(encoding)


def cells(rows, *edits):
    """Rows as text cells, with ``(row, column, text)`` replacements."""
    out = [[repr(float(v)) for v in row] for row in rows]
    for i, j, text in edits:
        out[i][j] = text
    return out


def scaled_ridge():
    """The model the command fits on numeric columns without empty cells
    (issue 16): standardised columns, then RegularityRidge(alpha="loo")."""
    return make_pipeline(StandardScaler(), RegularityRidge(alpha="loo"))


def expect_ranking(
    X=X_LAB, y=Y_LAB, X_pool=X_POOL, pool_text=None, n=4, model=scaled_ridge, **query
):
    """Correct: the query run in Python on the arrays (``model()`` fitted on
    them), and the pool rows echoed."""

    def check(result):
        rows, err = result
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model_ = model().fit(X, y)
            idx, scores = regularity_sampling(
                model_, X_pool, n, random_state=0, **query
            )
        assert [int(r[1]) for r in rows[1:]] == idx.tolist(), (rows, err)
        got = np.array([float(r[2]) for r in rows[1:]])  # printed with 6 digits
        assert np.allclose(got, scores[idx], rtol=1e-5, atol=0), (got, scores[idx])
        if pool_text is not None:
            assert [r[3:] for r in rows[1:]] == [pool_text[i] for i in idx]
        assert err and err[-1].startswith("fitted on"), err

    return Correct(check)


def cli(labeled=None, pool=None, *args, target="y"):
    """A call writing the two files in a fresh folder and running ``main``.

    ``labeled``/``pool`` default to the plain comma files; ``args`` may use
    ``{dir}`` for the folder (later options override earlier ones).
    """
    labeled = table() if labeled is None else labeled
    pool = table(POOL_COLS, POOL_ROWS) if pool is None else pool

    def call():
        with tempfile.TemporaryDirectory() as tmp:
            for name, content in (("labeled.csv", labeled), ("pool.csv", pool)):
                with open(os.path.join(tmp, name), "wb") as fh:
                    fh.write(content)
            argv = ["query", "--labeled", os.path.join(tmp, "labeled.csv"),
                    "--pool", os.path.join(tmp, "pool.csv"), "--target", target,
                    "--n", "4", *(a.format(dir=tmp) for a in args)]  # fmt: skip
            out, err = io.StringIO(), io.StringIO()
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = main(argv)
            except BaseException as exc:  # noqa: BLE001 - a traceback fails
                raise AssertionError(f"main raised {exc!r}") from exc
            lines = err.getvalue().strip().splitlines()
            assert "Traceback" not in err.getvalue()
            if code == 2:
                assert out.getvalue() == "", "exit 2 with output"
                assert len(lines) == 1, f"{len(lines)} stderr lines: {lines}"
                raise CLIFailed(lines[0])
            assert code == 0, (code, lines)
            text = out.getvalue()
            if "--output" in argv:
                assert text == "", "--output given, rows on stdout"
                with open(argv[argv.index("--output") + 1], newline="") as fh:
                    text = fh.read()
            rows = list(csv.reader(text.splitlines(), delimiter=_sep_of(pool)))
            return rows, lines

    return call


def _sep_of(content):
    first = content.decode("utf-8-sig").splitlines()[0]
    return max(",;\t|", key=first.count)


def _error(match):
    return Raises(match, exc=CLIFailed)


def _chmod_case():
    def call():
        with tempfile.TemporaryDirectory() as tmp:
            locked = os.path.join(tmp, "locked")
            os.mkdir(locked, 0o500)
            try:
                return cli(None, None, "--output", os.path.join(locked, "x.csv"))()
            finally:
                os.chmod(locked, 0o700)

    return call


_ROOT = pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root ignores file permissions",
)
_POOL_TEXT = cells(POOL_ROWS)
_EURO = dict(sep=";", decimal=",")


def _with_nan(X, i, j):
    X = X.copy()
    X[i, j] = np.nan
    return X


def _imputed_ridge():
    return make_pipeline(
        SimpleImputer(strategy="median"), StandardScaler(), RegularityRidge(alpha="loo")
    )


# a German export: a date column (text) and a decimal-comma column
_DATES = ["01.02.2024", "08.02.2024", "15.02.2024"]
_DATES_LAB = [[_DATES[i % 3], f"{a:.3f}".replace(".", ","), f"{Y_LAB[i]:.3f}"]
              for i, a in enumerate(X_LAB[:, 0])]  # fmt: skip
_DATES_POOL = [[(_DATES + ["01.03.2024"])[i % 4], f"{a:.3f}".replace(".", ",")]
               for i, a in enumerate(X_POOL[:, 0])]  # fmt: skip
_DATES_X = np.array([[d, float(a.replace(",", "."))] for d, a, _ in _DATES_LAB], object)
_DATES_Y = np.array([float(v) for *_, v in _DATES_LAB])
_DATES_X_POOL = np.array([[d, float(a.replace(",", "."))] for d, a in _DATES_POOL],
                         object)  # fmt: skip


def _dates_model():
    encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    columns = ColumnTransformer([("n", StandardScaler(), [1]), ("t", encode, [0])])
    return make_pipeline(columns, RegularityRidge(alpha="loo"))


CASES = [
    # ------------------------------------------------------------ correct
    Case("comma", cli(), expect_ranking(pool_text=_POOL_TEXT)),
    Case("bom_labeled", cli(table(encoding="utf-8-sig")), expect_ranking()),
    Case(
        "bom_pool",
        cli(None, table(POOL_COLS, POOL_ROWS, encoding="utf-8-sig")),
        expect_ranking(),
    ),
    Case(
        "bom_both",
        cli(
            table(encoding="utf-8-sig"),
            table(POOL_COLS, POOL_ROWS, encoding="utf-8-sig"),
        ),
        expect_ranking(),
    ),
    Case(
        "semicolon_decimal_comma",
        cli(table(**_EURO), table(POOL_COLS, POOL_ROWS, **_EURO)),
        expect_ranking(),
    ),
    Case(
        "semicolon_decimal_point_bom",
        cli(table(sep=";", encoding="utf-8-sig"), table(POOL_COLS, POOL_ROWS, sep=";")),
        expect_ranking(pool_text=_POOL_TEXT),
    ),
    Case(
        "tab",
        cli(table(sep="\t"), table(POOL_COLS, POOL_ROWS, sep="\t")),
        expect_ranking(pool_text=_POOL_TEXT),
    ),
    Case(
        "tab_decimal_comma",
        cli(table(sep="\t", decimal=","), table(POOL_COLS, POOL_ROWS)),
        expect_ranking(),
    ),
    Case(
        "pipe",
        cli(table(sep="|"), table(POOL_COLS, POOL_ROWS, sep="|")),
        expect_ranking(),
    ),
    Case(
        "mixed_separators",
        cli(table(**_EURO), table(POOL_COLS, POOL_ROWS, sep="\t")),
        expect_ranking(),
    ),
    Case(
        "crlf",
        cli(table(newline="\r\n"), table(POOL_COLS, POOL_ROWS, newline="\r\n")),
        expect_ranking(pool_text=_POOL_TEXT),
    ),
    Case(
        "cr_only",
        cli(table(newline="\r"), table(POOL_COLS, POOL_ROWS, newline="\r")),
        expect_ranking(),
    ),
    Case(
        "blank_lines",
        cli(table(blank_every=3), table(POOL_COLS, POOL_ROWS, blank_every=2)),
        expect_ranking(),
    ),
    Case(
        "quoted_cells",
        cli(table(quote=True), table(POOL_COLS, POOL_ROWS, quote=True)),
        expect_ranking(),
    ),
    Case(
        "quoted_decimal_commas_semicolon",
        cli(
            table(quote=True, **_EURO), table(POOL_COLS, POOL_ROWS, quote=True, **_EURO)
        ),
        expect_ranking(),
    ),
    Case(
        "padded_cells_and_names",
        cli(table(pad=" "), table(POOL_COLS, POOL_ROWS, pad="  ")),
        expect_ranking(),
    ),
    Case(
        "pool_extra_columns",
        cli(
            None,
            table(
                ["id", "c", "y", "a", "b"],
                [[f"p{i}", r[2], "?", r[0], r[1]] for i, r in enumerate(POOL_ROWS)],
            ),
        ),
        expect_ranking(
            pool_text=[
                [f"p{i}", *cells([r[[2]]])[0], "?", *cells([r[:2]])[0]]
                for i, r in enumerate(POOL_ROWS)
            ]
        ),
    ),
    Case(
        "pandas_index_column",
        cli(
            table(["", *LAB_COLS], [[str(i), *r] for i, r in enumerate(LAB_ROWS)]),
            table(["", *POOL_COLS], [[str(i), *r] for i, r in enumerate(POOL_ROWS)]),
        ),
        expect_ranking(),
    ),
    Case(
        "features_subset_pool_lacks_c",
        cli(None, table(["a", "b"], POOL_ROWS[:, :2]), "--features", "a,b"),
        expect_ranking(X_LAB[:, :2], Y_LAB, POOL_ROWS[:, :2]),
    ),
    Case(
        "features_with_spaces",
        cli(None, None, "--features", " c , a "),
        expect_ranking(X_LAB[:, [2, 0]], Y_LAB, POOL_ROWS[:, [2, 0]]),
    ),
    Case(
        "scientific_notation",
        cli(
            table(LAB_COLS, cells(LAB_ROWS * 1e-3)),
            table(POOL_COLS, cells(POOL_ROWS * 1e-3)),
        ),
        expect_ranking(X_LAB * 1e-3, Y_LAB * 1e-3, POOL_ROWS * 1e-3),
    ),
    Case(
        "duplicate_pool_rows",
        cli(None, table(POOL_COLS, np.vstack([POOL_ROWS, POOL_ROWS[:5]]))),
        expect_ranking(X_pool=np.vstack([POOL_ROWS, POOL_ROWS[:5]])),
    ),
    Case(
        "large_offset",
        cli(
            table(LAB_COLS, np.column_stack([X_LAB + 1e6, Y_LAB])),
            table(POOL_COLS, POOL_ROWS + 1e6),
        ),
        expect_ranking(X_LAB + 1e6, Y_LAB, POOL_ROWS + 1e6),
    ),
    Case(
        "variance_topk",
        cli(None, None, "--heuristic", "variance", "--batch", "topk"),
        expect_ranking(heuristic="variance", batch="topk"),
    ),
    Case(
        "n_beyond_pool",
        cli(None, table(POOL_COLS, POOL_ROWS[:3])),
        expect_ranking(X_pool=POOL_ROWS[:3]),
    ),
    Case(
        "one_feature",
        cli(table(["a", "y"], LAB_ROWS[:, [0, 3]]), table(["a"], POOL_ROWS[:, :1])),
        expect_ranking(X_LAB[:, :1], Y_LAB, POOL_ROWS[:, :1]),
    ),
    Case(
        "output_file",
        cli(None, None, "--output", "{dir}/next.csv"),
        expect_ranking(pool_text=_POOL_TEXT),
    ),
    # ------------------------------------------------------ column errors
    Case(
        "repeated_header_labeled",
        cli(table(["a", "a", "c", "y"])),
        _error(r"labeled file .*repeated column.*'a' in columns 1 and 2"),
    ),
    Case(
        "repeated_header_pool",
        cli(None, table(["a", "b", "b"], POOL_ROWS)),
        _error(r"pool file .*repeated.*'b' in columns 2 and 3"),
    ),
    Case(
        "repeated_after_strip",
        cli(table(["a", " a", "c", "y"])),
        _error(r"repeated.*'a'"),
    ),
    Case(
        "pool_lacks_feature",
        cli(None, table(["a", "c"], POOL_ROWS[:, [0, 2]])),
        _error(r"pool file .*lacks .*feature column.*'b'.*--features"),
    ),
    Case(
        "pool_case_differs",
        cli(None, table(["A", "b", "c"], POOL_ROWS)),
        _error(r"pool file .*'a'.*did you mean 'A'"),
    ),
    Case(
        "labeled_lacks_target",
        cli(None, None, target="z"),
        _error(r"labeled file .*no target column 'z'"),
    ),
    Case(
        "features_unknown",
        cli(None, None, "--features", "a,zz"),
        _error(r"labeled file .*no column\(s\) 'zz'"),
    ),
    Case(
        "features_missing_in_pool",
        cli(None, table(["a", "b"], POOL_ROWS[:, :2]), "--features", "a,c"),
        _error(r"pool file .*no column\(s\) 'c'"),
    ),
    Case(
        "features_repeated",
        cli(None, None, "--features", "a,b,a"),
        _error(r"--features names column\(s\) twice: 'a'"),
    ),
    Case(
        "features_include_target",
        cli(None, None, "--features", "a,y"),
        _error(r"--features includes the target 'y'"),
    ),
    Case(
        "features_empty_name",
        cli(None, None, "--features", "a,,b"),
        _error(r"--features has an empty name"),
    ),
    Case(
        "only_target",
        cli(table(["y"], LAB_ROWS[:, 3:])),
        _error(r"no feature columns besides the target 'y'"),
    ),
    # --------------------------------------------------- encodings, bytes
    Case(
        "latin1_labeled",
        cli(table(["größe", "b", "c", "y"], encoding="latin-1")),
        _error(r"labeled file .*not UTF-8 \(byte 0xf6 on line 1.*CSV UTF-8"),
    ),
    Case(
        "cp1252_pool",
        cli(None, table(["a", "b", "c"], [["1", "2", "3€"]], encoding="cp1252")),
        _error(r"pool file .*not UTF-8 \(byte 0x80 on line 2"),
    ),
    Case("utf16_bom", cli(table(encoding="utf-16")), _error(r"labeled file .*UTF-16")),
    Case(
        "utf16_le_no_bom",
        cli(None, table(POOL_COLS, POOL_ROWS, encoding="utf-16-le")),
        _error(r"pool file .*NUL bytes"),
    ),
    Case("utf32", cli(table(encoding="utf-32")), _error(r"UTF-16/UTF-32")),
    Case(
        "binary",
        cli(bytes(np.random.RandomState(0).randint(0, 256, 500, dtype=np.uint8))),
        _error(r"labeled file .*(NUL bytes|not UTF-8)"),
    ),
    Case("xlsx", cli(b"PK\x03\x04" + bytes(100)), _error(r"zip archive .*xlsx")),
    Case(
        "labeled_is_a_folder",
        cli(None, None, "--labeled", "{dir}"),
        _error(r"cannot read labeled file .*[Ii]s a directory"),
    ),
    Case(
        "pool_missing",
        cli(None, None, "--pool", "{dir}/absent.csv"),
        _error(r"cannot read pool file .*absent.csv"),
    ),
    # ----------------------------------------------------- shape of files
    Case("empty_file", cli(b""), _error(r"labeled file .*is empty")),
    Case("whitespace_only", cli(None, b"  \n\n \t\n"), _error(r"pool file .*is empty")),
    Case("header_only_labeled", cli(b"a,b,c,y\n"), _error(r"header but no rows")),
    Case(
        "header_only_pool", cli(None, b"a,b,c\r\n\r\n"), _error(r"pool file .*no rows")
    ),
    Case(
        "ragged_row",
        cli(table(LAB_COLS, [*cells(LAB_ROWS[:5]), ["1", "2"]])),
        _error(r"labeled file .*line 7: 2 fields, the header has 4"),
    ),
    Case(
        "ragged_after_blank_lines",
        cli(None, b"a,b,c\n\n1,2,3\n\n\n4,5\n"),
        _error(r"pool file .*line 6: 2 fields"),
    ),
    Case(
        "ragged_semicolon",
        cli(b"a;b;c;y\n1;2;3;4\n1;2\n"),
        _error(r"line 3: 2 fields.*semicolon-separated"),
    ),
    Case(
        "too_few_rows",
        cli(table(LAB_COLS, LAB_ROWS[:2])),
        _error(r"labeled file .*at least 3 rows, has 2"),
    ),
    # ------------------------------------------------------------ cells
    Case(
        "text_cell",
        cli(table(LAB_COLS, cells(LAB_ROWS, (4, 1, "abc")))),
        _error(r"labeled file .*line 6: column 'b': 'abc' is not a number"),
    ),
    # issue 16: a text column is one-hot encoded (it was an error), an empty
    # feature cell filled with the labeled median (it was an error), a row
    # without a target value left out of the fit (it was an error)
    Case(
        "text_column_dates",
        cli(
            table(["Datum", "a", "y"], _DATES_LAB, sep=";"),
            table(["Datum", "a"], _DATES_POOL, sep=";"),
        ),
        expect_ranking(
            _DATES_X, _DATES_Y, _DATES_X_POOL, pool_text=_DATES_POOL, model=_dates_model
        ),
    ),
    Case(
        "empty_cell",
        cli(None, table(POOL_COLS, cells(POOL_ROWS, (2, 0, "")))),
        expect_ranking(X_pool=_with_nan(POOL_ROWS, 2, 0), model=_imputed_ridge),
    ),
    Case(
        "empty_cells_both_files",
        cli(
            table(LAB_COLS, cells(LAB_ROWS, (3, 1, ""), (5, 1, " "), (6, 2, ""))),
            table(POOL_COLS, cells(POOL_ROWS, (0, 1, ""))),
        ),
        expect_ranking(
            _with_nan(_with_nan(_with_nan(X_LAB, 3, 1), 5, 1), 6, 2),
            X_pool=_with_nan(POOL_ROWS, 0, 1),
            model=_imputed_ridge,
        ),
    ),
    Case(
        "empty_target",
        cli(table(LAB_COLS, cells(LAB_ROWS, (0, 3, " ")))),
        expect_ranking(X_LAB[1:], Y_LAB[1:]),
    ),
    Case(
        "text_target",
        cli(table(LAB_COLS, cells(LAB_ROWS, (2, 3, "high")))),
        _error(r"line 4: column 'y': 'high' is not a number \(the target must be"),
    ),
    Case(
        "empty_column",
        cli(table(LAB_COLS, cells(LAB_ROWS, *((i, 1, "") for i in range(14))))),
        _error(r"labeled file .*column 'b' has no value in any labeled row.*--exclude"),
    ),
    Case(
        "text_in_numeric_pool_column",
        cli(None, table(POOL_COLS, cells(POOL_ROWS, (3, 2, "n/a")))),
        _error(r"pool file .*line 5: column 'c': 'n/a' is not a number \(a missing"),
    ),
    Case(
        "too_few_target_values",
        cli(table(LAB_COLS, cells(LAB_ROWS, *((i, 3, "") for i in range(12))))),
        _error(r"at least 3 rows, has 2 with a target value"),
    ),
    Case(
        "drop_missing_every_pool_row",
        cli(
            None,
            table(POOL_COLS, cells(POOL_ROWS, *((i, 0, "") for i in range(18)))),
            "--drop-missing",
        ),
        _error(r"pool file .*every row has an empty cell \(--drop-missing\)"),
    ),  # fmt: skip
    Case(
        "exclude_unknown",
        cli(None, None, "--exclude", "zz"),
        _error(r"--exclude names no column of either file: 'zz'"),
    ),
    Case(
        "exclude_everything",
        cli(None, None, "--exclude", "a,b,c"),
        _error(r"no feature columns besides the target 'y' and the --exclude"),
    ),
    Case(
        "output_named_xlsx",
        cli(None, None, "--output", "{dir}/next.xlsx"),
        _error(r"--output .*next.xlsx: the output is CSV text; name it .csv"),
    ),
    Case(
        "NA_cell",
        cli(table(LAB_COLS, cells(LAB_ROWS, (1, 0, "NA")))),
        _error(r"'NA' is not a number"),
    ),
    Case(
        "nan_text",
        cli(table(LAB_COLS, cells(LAB_ROWS, (1, 3, "nan")))),
        _error(r"column 'y': 'nan' is NaN"),
    ),
    Case(
        "inf_text",
        cli(None, table(POOL_COLS, cells(POOL_ROWS, (5, 2, "inf")))),
        _error(r"pool file .*line 7: column 'c': 'inf' is infinite"),
    ),
    Case(
        "minus_infinity_text",
        cli(table(LAB_COLS, cells(LAB_ROWS, (0, 0, "-Infinity")))),
        _error(r"'-Infinity' is infinite"),
    ),
    Case(
        "1e400",
        cli(table(LAB_COLS, cells(LAB_ROWS, (3, 1, "1e400")))),
        _error(r"'1e400' is beyond the float range"),
    ),
    Case(
        "underscore_digits",
        cli(table(LAB_COLS, cells(LAB_ROWS, (3, 1, "1_000")))),
        _error(r"'1_000' is not a number"),
    ),
    Case(
        "thousands_separator",
        cli(table(LAB_COLS, cells(LAB_ROWS, (2, 1, "1.234,5")), sep=";")),
        _error(r"'1.234,5' is not a number \(thousands separators"),
    ),
    Case(
        "decimal_comma_in_comma_file",
        cli(table(LAB_COLS, cells(LAB_ROWS, (2, 1, "1,5")), quote=True)),
        _error(r"'1,5' is not a number \(a decimal comma in a comma-separated"),
    ),
    Case(
        "1e308_labeled",
        cli(table(LAB_COLS, cells(LAB_ROWS, (0, 0, "1e308")))),
        _error(
            r"fit or the query failed.*column 'a' of the labeled file reaches 1e\+308"
        ),
    ),
    Case(
        "1e308_target",
        cli(table(LAB_COLS, cells(LAB_ROWS, (0, 3, "-1e308")))),
        _error(r"column 'y' of the labeled file reaches 1e\+308"),
    ),
    Case(
        "1e200_pool",
        cli(None, table(POOL_COLS, cells(POOL_ROWS, (0, 1, "1e200")))),
        _error(r"column 'b' of the pool file reaches 1e\+200"),
    ),
    # ---------------------------------------------------- output, options
    Case(
        "output_missing_dir",
        cli(None, None, "--output", "{dir}/nowhere/next.csv"),
        _error(r"--output .*the directory .*nowhere does not exist"),
    ),
    Case(
        "output_is_a_folder",
        cli(None, None, "--output", "{dir}"),
        _error(r"--output .* is a directory"),
    ),
    Case(
        "output_device_full",
        cli(None, None, "--output", "/dev/full"),
        _error(r"cannot write --output /dev/full: No space left"),
        marks=(
            pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full"),
        ),
    ),
    Case(
        "output_no_permission",
        _chmod_case(),
        _error(r"--output .*no permission"),
        marks=(_ROOT,),
    ),
    Case("n_zero", cli(None, None, "--n", "0"), _error(r"--n must be at least 1")),
]


@pytest.mark.parametrize("case", params(CASES))
def test_cli_case(case):
    run_case(case)
