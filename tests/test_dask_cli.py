"""``skrt query --pool`` on a directory of Parquet files or a glob (read with
dask): the same chosen rows and output as the same pool in one file; only
the chosen rows read back; one-line errors; the dask hint without dask."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
pytest.importorskip("dask.dataframe")

import skrt._cli_dask as cli_dask  # noqa: E402
from skrt._cli import main  # noqa: E402

POOL_COLUMNS = ["area", "promo", "quality", "price", "region", "id"]
LAB_COLUMNS = ["area", "promo", "quality", "price", "region", "id", "sales"]


def _rows(n, seed, with_target):
    """A sales table: text and numeric columns, scales 100x apart, a few
    empty cells (None), an integer id column."""
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame(
        {
            "area": np.round(rng.uniform(100, 5000, n)),
            "promo": rng.choice(["Yes", "No"], n).astype(object),
            "quality": rng.choice(["Good", "Bad", "Medium"], n).astype(object),
            "price": np.round(rng.uniform(5, 50, n), 2),
            "region": rng.choice(["North", "South", "East", "West"], n).astype(object),
            "id": np.arange(n, dtype=np.int64) * 7 + seed,
        }
    )
    empty = zip(rng.choice(n, 6, replace=False), rng.choice(5, 6), strict=True)
    for i, column in empty:
        frame.loc[i, frame.columns[column]] = None  # NaN / None
    if with_target:
        quality = frame["quality"].map({"Good": 20, "Bad": -15, "Medium": 0})
        frame["sales"] = np.round(
            3 * frame["price"].fillna(20)
            + 0.02 * frame["area"].fillna(2000)
            + quality.fillna(0)
            + 5 * rng.randn(n),
            1,
        )
    return frame


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The labeled file, the pool in one file, and the same pool split into
    files named part.0, part.5, part.10, part.15 (natural order), with row
    groups of 40 rows."""
    d = tmp_path_factory.mktemp("dask_cli")
    _rows(40, 0, True).to_parquet(d / "labeled.parquet", index=False)
    pool = _rows(400, 1, False)
    pool.to_parquet(d / "pool.parquet", index=False)
    parts = d / "parts"
    parts.mkdir()
    for k, (a, b) in enumerate([(0, 130), (130, 137), (137, 320), (320, 400)]):
        pool.iloc[a:b].to_parquet(
            parts / f"part.{5 * k}.parquet", index=False, row_group_size=40
        )
    (parts / "_metadata").write_text("ignored")  # names starting _ are skipped
    return d, pool


def _run(capsys, labeled, pool, *args):
    code = main(
        ["query", "--labeled", str(labeled), "--pool", str(pool), "--target", "sales"]
        + list(args)
    )
    out, err = capsys.readouterr()
    return code, out, err


def _csv(text):
    return list(csv.reader(io.StringIO(text)))


OPTIONS = [
    ("--n", "5"),
    ("--n", "4", "--heuristic", "sld", "--batch", "topk"),
    ("--n", "3", "--heuristic", "variance"),
    ("--n", "4", "--drop-missing"),
    ("--n", "3", "--heuristic", "sld", "--explain"),
]


@pytest.mark.parametrize("options", OPTIONS, ids=" ".join)
@pytest.mark.parametrize("where", ["directory", "glob"])
def test_split_pool_equals_one_file(files, capsys, monkeypatch, where, options):
    d, pool = files
    monkeypatch.setattr(cli_dask, "PIECE_CELLS", 6 * 90)  # 90-row partitions
    code, single, _ = _run(capsys, d / "labeled.parquet", d / "pool.parquet", *options)
    assert code == 0
    path = d / "parts" if where == "directory" else d / "parts" / "part.*.parquet"
    code, split, err = _run(capsys, d / "labeled.parquet", path, *options)
    assert code == 0, err
    want = _csv(single)
    if "--explain" in options:  # the scores when chosen need the pool in memory
        at = want[0].index("explain_score_when_chosen")
        want = [row[:at] + row[at + 1 :] for row in want]
    assert _csv(split) == want
    assert "4 Parquet file(s), 400 rows, read with dask in 7 partition(s)" in err
    # the oracle: each output row is the pool's row pool_row, as text
    header, *rows = _csv(split)
    for row in rows:
        original = pool.iloc[int(row[1])]
        for name in POOL_COLUMNS:
            value = original[name]
            cell = row[header.index(name)]
            if value is None or (isinstance(value, float) and np.isnan(value)):
                assert cell == ""
            elif isinstance(value, str):
                assert cell == value
            else:
                assert float(cell) == float(value)


def test_on_a_distributed_cluster(files, capsys, dask_client):
    d, _ = files
    code, single, _ = _run(capsys, d / "labeled.parquet", d / "pool.parquet")
    code, split, err = _run(capsys, d / "labeled.parquet", d / "parts")
    assert code == 0, err
    assert split == single


def test_only_the_chosen_rows_are_read_back(files, monkeypatch):
    """Every column is read only from the partitions holding chosen rows."""
    import dask

    d, pool = files
    monkeypatch.setattr(cli_dask, "PIECE_CELLS", 6 * 40)  # one row group each
    reads = []
    original = cli_dask.read_piece

    def spy(piece, columns=None):
        reads.append((piece, columns))
        return original(piece, columns)

    monkeypatch.setattr(cli_dask, "read_piece", spy)

    class Args:
        target, features, exclude, drop_missing = "sales", None, None, False

    lab = cli_dask.FrameTable(str(d / "labeled.parquet"), "labeled")
    with dask.config.set(scheduler="synchronous"):
        parquet = cli_dask.ParquetPool(d / "parts")
        _, plan = cli_dask.prepare_dataset(Args, lab, parquet)
        assert len(parquet.pieces) == 12 and all(c is not None for _, c in reads)
        reads.clear()
        numbers, cells = plan.chosen([399, 5, 6, 200])
    assert list(numbers) == [399, 5, 6, 200]
    assert [c[-1] for c in cells] == [str(pool["id"][i]) for i in (399, 5, 6, 200)]
    touched = {piece for piece, _ in reads}
    assert len(touched) == 3 and all(columns is None for _, columns in reads)


def test_natural_file_order(tmp_path):
    for name in ("b10.pq", "b2.parquet", "a.parquet", "b1.parquet"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / ".hidden.parquet").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"")
    names = [os.path.basename(f) for f in cli_dask.dataset_files(str(tmp_path))]
    assert names == ["a.parquet", "b1.parquet", "b2.parquet", "b10.pq"]
    assert cli_dask.is_dataset(str(tmp_path))
    assert cli_dask.is_dataset(str(tmp_path / "b*.parquet"))
    assert not cli_dask.is_dataset(str(tmp_path / "a.parquet"))


def _bad_pool(tmp_path, edit):
    parts = tmp_path / "bad"
    parts.mkdir()
    frame = _rows(60, 1, False)
    frame.iloc[:30].to_parquet(parts / "part.0.parquet", index=False)
    second = edit(frame.iloc[30:].reset_index(drop=True))
    second.to_parquet(parts / "part.1.parquet", index=False)
    return parts


def _text_price(frame):  # a column of text in this file only
    frame["price"] = [("" if np.isnan(v) else repr(v)) for v in frame["price"]]
    frame.loc[4, "price"] = "12,5"
    return frame


def _infinite_area(frame):
    frame.loc[2, "area"] = np.inf
    return frame


def _renamed(frame):
    return frame.rename(columns={"area": "surface"})


@pytest.mark.parametrize(
    "edit, message",
    [
        (_text_price, r"part\.1\.parquet, row 5: column 'price': '12,5' is not a "),
        (_infinite_area, r"part\.1\.parquet, row 3: column 'area': 'inf' is infinite"),
        (_renamed, r"part\.1\.parquet: its columns \(.*'surface'.*\) differ from"),
    ],
)
def test_bad_files_are_one_line(files, tmp_path, capsys, edit, message):
    import re

    d, _ = files
    code, out, err = _run(capsys, d / "labeled.parquet", _bad_pool(tmp_path, edit))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "none_*.parquet", "no file matches the pattern"),
        (lambda p: p / "*.csv", "must be Parquet (.parquet, .pq); "),
        (lambda p: p / "empty", "holds no Parquet file"),
    ],
)
def test_bad_patterns_are_one_line(files, tmp_path, capsys, make, message):
    d, _ = files
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    (tmp_path / "empty").mkdir()
    code, out, err = _run(capsys, d / "labeled.parquet", make(tmp_path))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err


def test_without_dask_one_line_names_the_extra(files):
    d, _ = files
    code = textwrap.dedent(
        f"""
        import sys
        sys.modules["dask"] = None  # dask not installed
        from skrt._cli import main
        sys.exit(main(["query", "--labeled", {str(d / "labeled.parquet")!r},
                       "--pool", {str(d / "parts")!r}, "--target", "sales"]))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"skrt query: error: reading the pool {d / 'parts'} (several Parquet files) "
        'needs dask: pip install "scikit-regularity[dask]"'
    ]


def test_a_single_file_imports_no_dask(files):
    d, _ = files
    code = textwrap.dedent(
        f"""
        import sys
        from skrt._cli import main
        main(["query", "--labeled", {str(d / "labeled.parquet")!r},
              "--pool", {str(d / "pool.parquet")!r}, "--target", "sales",
              "--quiet"])
        print("dask" in sys.modules, file=sys.stderr)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "False"
