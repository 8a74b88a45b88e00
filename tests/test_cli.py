"""skrt demo and skrt query, as a user runs them."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from skrt._cli import main


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
    assert rows[0][:3] == ["rank", "pool_row", "sld_score"]
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
        ("missing_column", "lacks column(s): c"),
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
