"""skrt demo and skrt query, as a user runs them."""

import csv
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skrt import RegularityRidge
from skrt._cli import main
from skrt._heuristics import AUTO
from skrt.query import regularity_sampling


def test_demo_prints_table_and_writes_png(tmp_path, capsys):
    png = tmp_path / "curves.png"
    code = main(
        [
            "demo",
            "--seeds",
            "2",
            "--final",
            "20",
            "--no-peers",
            "--quiet",
            "--plot",
            str(png),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    for name in ("sld (greedy batch)", "sld (top-k)", "variance (greedy)", "random"):
        assert name in out
    assert "AULC" in out and "n=20" in out
    pytest.importorskip("matplotlib")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"learning curves written to {png}\n" in out


def _short_demo(*extra):
    return ["demo", "--seeds", "1", "--initial", "10", "--final", "15",
            "--no-peers", "--quiet", *extra]  # fmt: skip


def test_demo_names_the_png_by_its_full_path(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    assert main(_short_demo("--plot", "curves.png")) == 0
    out = capsys.readouterr().out
    assert f"learning curves written to {tmp_path / 'curves.png'}\n" in out
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_demo_without_matplotlib_says_what_to_install(tmp_path, monkeypatch, capsys):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    png = tmp_path / "curves.png"
    assert main(_short_demo("--plot", str(png))) == 0
    out = capsys.readouterr().out
    assert (
        'matplotlib is not installed: no plot (pip install "scikit-regularity[plot]")'
        in out
    )
    assert not png.exists()


def test_demo_plot_in_a_missing_folder_is_one_line(tmp_path, capsys):
    code = main(_short_demo("--plot", str(tmp_path / "nowhere" / "curves.png")))
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"skrt demo: error: --plot {tmp_path / 'nowhere' / 'curves.png'}: the "
        f"directory {tmp_path / 'nowhere'} does not exist"
    ]


def test_python_dash_m_demo_help():
    out = subprocess.run(
        [sys.executable, "-m", "skrt", "demo", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--seeds" in out.stdout


def _write(path, header, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


@pytest.fixture
def csv_files(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    y = X @ [1.0, -1.0, 2.0] + 0.1 * rng.randn(40)
    lab, pool = tmp_path / "labeled.csv", tmp_path / "pool.csv"
    _write(lab, ["a", "b", "c", "y"], np.column_stack([X[:15], y[:15]]).tolist())
    _write(pool, ["id", "a", "b", "c"], [[f"p{i}", *r] for i, r in enumerate(X[15:])])
    return lab, pool, X


def test_query_prints_rows_to_label(csv_files, capsys):
    lab, pool, X = csv_files
    assert (
        main(
            [
                "query",
                "--labeled",
                str(lab),
                "--pool",
                str(pool),
                "--target",
                "y",
                "--n",
                "4",
            ]
        )
        == 0
    )
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    # the default heuristic="auto" names what it used: a ridge model's batch
    assert rows[0][:3] == ["rank", "pool_row", f"{AUTO[('linear', 'batch')]}_score"]
    assert len(rows) == 5
    chosen = [int(r[1]) for r in rows[1:]]
    assert len(set(chosen)) == 4
    assert all(rows[1 + k][3] == f"p{i}" for k, i in enumerate(chosen))


def test_query_writes_csv(csv_files, tmp_path):
    lab, pool, _ = csv_files
    out = tmp_path / "next.csv"
    assert (
        main(
            [
                "query",
                "--labeled",
                str(lab),
                "--pool",
                str(pool),
                "--target",
                "y",
                "--n",
                "2",
                "--heuristic",
                "variance",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert len(list(csv.reader(open(out)))) == 3


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_target", "no target column 'z'"),
        ("missing_column", "no column(s) 'c'"),
        ("non_numeric", "'abc' is not a number"),
        ("empty", "is empty"),
        ("no_file", "cannot read labeled file"),
    ],
)
def test_query_errors_are_one_line(csv_files, tmp_path, capsys, case, message):
    lab, pool, _ = csv_files
    target, extra = "y", []
    if case == "missing_target":
        target = "z"
    elif case == "missing_column":
        _write(pool, ["a", "b"], [[1, 2]])
        extra = ["--features", "a,b,c"]
    elif case == "non_numeric":
        rows = list(csv.reader(open(lab)))
        rows[3][1] = "abc"
        _write(lab, rows[0], rows[1:])
    elif case == "empty":
        pool.write_text("")
    elif case == "no_file":
        lab = tmp_path / "absent.csv"
    code = main(
        [
            "query",
            "--labeled",
            str(lab),
            "--pool",
            str(pool),
            "--target",
            target,
            *extra,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0]
    assert "Traceback" not in err[0]


# ------------------------------------------------- CSV quirks (issue 13, #11)
def _text(header, rows, sep=",", decimal="."):
    """CSV text; numbers written exactly (repr), with the given decimal mark."""

    def cell(v):
        return v if isinstance(v, str) else repr(float(v)).replace(".", decimal)

    lines = [sep.join(header), *(sep.join(map(cell, r)) for r in rows)]
    return "\n".join(lines) + "\n"


def _python_query(X, y, X_pool, n):
    """The oracle: the same query on the arrays, without any file: the
    numeric columns standardised (issue 16: the ranking must not depend on
    the units), then RegularityRidge(alpha="loo")."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_pipeline(StandardScaler(), RegularityRidge(alpha="loo"))
        model.fit(X, y)
        return regularity_sampling(model, X_pool, n, random_state=0)


def _query(capsys, lab, pool, *extra):
    code = main(["query", "--labeled", str(lab), "--pool", str(pool),
                 "--target", "y", "--n", "4", *extra])  # fmt: skip
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


@pytest.fixture
def arrays():
    rng = np.random.RandomState(3)
    X = np.round(rng.randn(30, 3), 3)
    y = np.round(X @ [1.0, -1.0, 2.0] + 0.1 * rng.randn(30), 3)
    return X[:12], y[:12], X[12:]


@pytest.mark.parametrize(
    "sep, decimal, bom",
    [(",", ".", True), (";", ",", False), (";", ".", True), ("\t", ",", False),
     ("\t", ".", False), ("|", ".", False)],
)  # fmt: skip
def test_query_reads_bom_and_separators_like_python(
    arrays, tmp_path, capsys, sep, decimal, bom
):
    X, y, X_pool = arrays
    lab, pool = tmp_path / "lab.csv", tmp_path / "pool.csv"
    # a byte-order mark on the labeled file only, as when one of the two
    # comes from a spreadsheet's "CSV UTF-8"
    encoding = "utf-8-sig" if bom else "utf-8"
    lab.write_text(_text(["a", "b", "c", "y"], np.column_stack([X, y]), sep, decimal),
                   encoding=encoding)  # fmt: skip
    pool.write_text(_text(["a", "b", "c"], X_pool, sep, decimal))
    code, out, err = _query(capsys, lab, pool)
    assert code == 0, err
    assert "(3 features)" in err[-1]  # the BOM no longer hides column 'a'
    rows = list(csv.reader(out.splitlines(), delimiter=sep))
    idx, scores = _python_query(X, y, X_pool, 4)
    assert [int(r[1]) for r in rows[1:]] == idx.tolist()
    assert np.allclose([float(r[2]) for r in rows[1:]], scores[idx], rtol=1e-5)


@pytest.mark.parametrize(
    "lab_header, pool_header, match",
    [
        (["a", "a", "c", "y"], ["a", "b", "c"], r"repeated.*'a' in columns 1 and 2"),
        (["a", "b", "c", "y"], ["a", "c", "c"], r"pool file.*repeated.*'c'"),
        (["a", "b", "c", "y"], ["a", "c", "id"], r"pool file.*lacks.*'b'"),
        (["a", "b", "c", "y"], ["A", "B", "C"], r"'a', 'b', 'c'.*mean 'A'"),
    ],
)  # fmt: skip
def test_query_column_mismatches_are_named(
    arrays, tmp_path, capsys, lab_header, pool_header, match
):
    X, y, X_pool = arrays
    lab, pool = tmp_path / "lab.csv", tmp_path / "pool.csv"
    lab.write_text(_text(lab_header, np.column_stack([X, y])))
    pool.write_text(_text(pool_header, X_pool))
    code, out, err = _query(capsys, lab, pool)
    assert code == 2 and out == ""
    assert len(err) == 1 and re.search(match, err[0]), err


_BAD_FILES = {
    "latin1": ("ä,b,c,y\n1,2,3,4\n".encode("latin-1"), r"not UTF-8.*0xe4.*line 1"),
    "utf16": ("a,b,c,y\n1,2,3,4\n".encode("utf-16"), "UTF-16"),
    "utf16_no_bom": ("a,b,c,y\n1,2,3,4\n".encode("utf-16-le"), "NUL bytes"),
    "binary": (bytes(range(256)), "NUL bytes"),
    "xlsx": (b"PK\x03\x04" + bytes(40), "zip archive"),
    "overflow": (b"a,b,c,y\n1e308,1,1,1\n1,2,1,2\n2,1,3,1\n3,3,3,0\n", "1e\\+308"),
    "inf": (b"a,b,c,y\n1,2,3,4\n1,inf,3,4\n", r"line 3.*'inf' is infinite"),
    "nan": (b"a,b,c,y\n1,2,3,4\n1,2,3,NaN\n", r"column 'y'.*'NaN' is NaN"),
    "too_big": (b"a,b,c,y\n1,2,3,4\n1,1e400,3,4\n", "beyond the float range"),
}


@pytest.mark.parametrize("kind", list(_BAD_FILES))
def test_query_bad_files_are_one_line(arrays, tmp_path, capsys, kind):
    content, match = _BAD_FILES[kind]
    lab, pool = tmp_path / "lab.csv", tmp_path / "pool.csv"
    lab.write_bytes(content)
    pool.write_text(_text(["a", "b", "c"], arrays[2]))
    code, out, err = _query(capsys, lab, pool)
    assert code == 2 and out == ""
    assert len(err) == 1 and re.search(match, err[0]), err


@pytest.mark.parametrize(
    "where, match",
    [
        ("missing/next.csv", "directory .* does not exist"),
        (".", "is a directory"),
        ("/dev/full", "No space left"),
    ],
)
def test_query_output_problems_are_one_line(csv_files, tmp_path, capsys, where, match):
    lab, pool, _ = csv_files
    if where == "/dev/full" and not os.path.exists(where):
        pytest.skip("no /dev/full")
    output = where if where.startswith("/") else str(tmp_path / where)
    code, out, err = _query(capsys, lab, pool, "--output", output)
    assert code == 2
    assert len(err) == 1 and re.search(match, err[0]), err


def test_python_dash_m_query_error_is_one_line(tmp_path):
    lab, pool = tmp_path / "lab.csv", tmp_path / "pool.csv"
    lab.write_bytes("a;b;y\n1;2;3\n".encode("utf-16"))
    pool.write_text("a,b\n1,2\n")
    run = subprocess.run(
        [sys.executable, "-m", "skrt", "query", "--labeled", str(lab),
         "--pool", str(pool), "--target", "y"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2 and run.stdout == ""
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "UTF-16" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize("sep", [";", "\t"])
def test_thousands_dots_next_to_decimal_commas_are_refused(
    arrays, tmp_path, capsys, sep
):
    # a German export: 3,5 is 3.5 and 1.200 is 1200; float() would read 1.2
    X, y, X_pool = arrays
    lab, pool = tmp_path / "lab.csv", tmp_path / "pool.csv"
    text = _text(["a", "b", "c", "y"], np.column_stack([X, y]), sep, ",")
    lines = text.splitlines()
    cells = lines[3].split(sep)
    cells[1] = "1.200"
    lines[3] = sep.join(cells)
    lab.write_text("\n".join(lines) + "\n")
    pool.write_text(_text(["a", "b", "c"], X_pool, sep, ","))
    code, out, err = _query(capsys, lab, pool)
    assert code == 2 and out == ""
    assert len(err) == 1 and "'1.200' is not a number" in err[0], err
    assert "line 4" in err[0] and "1200 or 1.2" in err[0]
    # the same cell in a file of dot decimals is the number 1.2
    X2 = X.copy()
    X2[2, 1] = 1.2
    lab.write_text(
        _text(["a", "b", "c", "y"], np.column_stack([X2, y]), sep, ".").replace(
            repr(1.2), "1.200"
        )
    )
    pool.write_text(_text(["a", "b", "c"], X_pool, sep, "."))
    code, out, err = _query(capsys, lab, pool)
    assert code == 0, err
    rows = list(csv.reader(out.splitlines(), delimiter=sep))
    idx, scores = _python_query(X2, y, X_pool, 4)
    assert [int(r[1]) for r in rows[1:]] == idx.tolist()
