"""``skrt query`` on real-looking spreadsheets (issue 16, point 3).

The tests write a sales table as a user's spreadsheet would hold it: text
columns ("Good/Bad/Medium", "Yes/No", a region, a store id), numeric columns
whose scales differ by 100x (a price in euros, an area in m²), a few empty
cells, a byte-order mark, and the pool's columns in another order than the
labeled file's. The oracles never read a file: they take the values the
files were written from and fit an explicitly built scikit-learn Pipeline
(imputers, StandardScaler, OneHotEncoder, the model), or compute the
explanation's terms from the ridge's matrices with numpy.
"""

from __future__ import annotations

import csv
import io
import os
import re
import sys
import warnings

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skrt import RegularityKernelRidge, RegularityRidge
from skrt._cli import main
from skrt.query import regularity_sampling

TEXT = ["store", "region", "quality", "promo"]
NUMERIC = ["price", "area"]
LAB_ORDER = ["store", "region", "quality", "promo", "price", "area", "sales"]
POOL_ORDER = ["area", "promo", "quality", "store", "price", "region"]
# (row, column) of the empty cells; labeled row 4 has no target value
LAB_EMPTY = [(2, "price"), (5, "quality"), (9, "area"), (4, "sales")]
POOL_EMPTY = [(0, "area"), (3, "region"), (7, "price"), (7, "quality")]


def _sales(n, seed, offset=0):
    rng = np.random.RandomState(seed)
    rows = []
    for i in range(n):
        quality = ["Good", "Bad", "Medium"][rng.randint(3)]
        promo = ["Yes", "No"][rng.randint(2)]
        price = round(rng.uniform(5, 50), 2)  # euros
        area = float(round(rng.uniform(100, 5000)))  # m²: 100x the price
        sales = (
            3 * price
            + 0.02 * area
            + {"Good": 20, "Bad": -15, "Medium": 0}[quality]
            + (10 if promo == "Yes" else 0)
            + 5 * rng.randn()
        )
        rows.append(
            {
                "store": f"S{offset + i:03d}",
                "region": ["North", "South", "East", "West"][rng.randint(4)],
                "quality": quality,
                "promo": promo,
                "price": price,
                "area": area,
                "sales": round(sales, 1),
            }
        )
    return rows


def sales_data(n_lab=30, n_pool=50, area_unit=1.0):
    """Labeled and pool rows (dicts; None for an empty cell)."""
    lab, pool = _sales(n_lab, 0), _sales(n_pool, 1, offset=n_lab)
    for rows in (lab, pool):
        for r in rows:
            r["area"] = r["area"] * area_unit
    for rows, empty in ((lab, LAB_EMPTY), (pool, POOL_EMPTY)):
        for i, column in empty:
            rows[i][column] = None
    for r in pool:
        del r["sales"]
    return lab, pool


def _cell(v):
    return "" if v is None else (v if isinstance(v, str) else repr(v))


def write_csv(path, rows, order, bom=False):
    with open(path, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(order)
        w.writerows([[_cell(r[c]) for c in order] for r in rows])
    return path


def write_files(tmp_path, lab, pool, kind="csv"):
    """The two files: CSV (labeled with a BOM), Parquet or Excel."""
    if kind == "csv":
        return (
            write_csv(tmp_path / "labeled.csv", lab, LAB_ORDER, bom=True),
            write_csv(tmp_path / "pool.csv", pool, POOL_ORDER),
        )
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow" if kind == "parquet" else "openpyxl")
    ext = {"parquet": ".parquet", "excel": ".xlsx"}[kind]
    paths = []
    for name, rows, order in (("labeled", lab, LAB_ORDER), ("pool", pool, POOL_ORDER)):
        frame = pd.DataFrame([[r[c] for c in order] for r in rows], columns=order)
        path = tmp_path / f"{name}{ext}"
        if kind == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_excel(path, index=False)
        paths.append(path)
    return tuple(paths)


def run(capsys, lab, pool, *args, target="sales"):
    code = main(["query", "--labeled", str(lab), "--pool", str(pool),
                 "--target", target, *args])  # fmt: skip
    out, err = capsys.readouterr()
    rows = list(csv.reader(io.StringIO(out)))
    return code, rows, err.strip().splitlines()


def column(rows, name, cast=float):
    j = rows[0].index(name)
    return np.array([cast(r[j]) for r in rows[1:]])


# -- the oracle ----------------------------------------------------------------
def arrays(lab, pool, features, drop_missing=False):
    """X, y, X_pool, pool row numbers from the values (not the files)."""

    def value(v):
        return np.nan if v is None else v

    lab = [r for r in lab if r["sales"] is not None]
    X = np.array([[value(r[f]) for f in features] for r in lab], dtype=object)
    y = np.array([r["sales"] for r in lab])
    X_pool = np.array([[value(r[f]) for f in features] for r in pool], dtype=object)
    rows = np.arange(len(pool))
    if drop_missing:
        keep = [all(r[f] is not None for f in features) for r in lab]
        keep_pool = [all(r[f] is not None for f in features) for r in pool]
        X, y, X_pool, rows = X[keep], y[keep], X_pool[keep_pool], rows[keep_pool]
    return X, y, X_pool, rows


def oracle_pipeline(features, model=None):
    num = [j for j, f in enumerate(features) if f in NUMERIC]
    txt = [j for j, f in enumerate(features) if f in TEXT]
    parts = [
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num)
    ]
    if txt:
        encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        parts.append(
            ("txt", make_pipeline(SimpleImputer(strategy="most_frequent"), encode), txt)
        )
    model = RegularityRidge(alpha="loo") if model is None else model
    return make_pipeline(ColumnTransformer(parts), model)


def oracle_query(lab, pool, features, n, model=None, drop_missing=False, **query):
    X, y, X_pool, rows = arrays(lab, pool, features, drop_missing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = oracle_pipeline(features, model).fit(X, y)
        idx, scores = regularity_sampling(pipe, X_pool, n, random_state=0, **query)
    return pipe, X_pool, rows[idx], scores[idx], idx


FEATURES = ["region", "quality", "promo", "price", "area"]  # --exclude store


# -- the model is the explicit pipeline ------------------------------------------
@pytest.mark.parametrize("kind", ["csv", "parquet", "excel"])
def test_pipeline_equals_explicit_sklearn_pipeline(tmp_path, capsys, kind):
    lab, pool = sales_data()
    lab_path, pool_path = write_files(tmp_path, lab, pool, kind)
    code, rows, err = run(
        capsys, lab_path, pool_path, "--n", "5", "--exclude", "store", "--explain"
    )
    assert code == 0, err
    pipe, X_pool, want_rows, want_scores, idx = oracle_query(lab, pool, FEATURES, 5)
    assert column(rows, "pool_row", int).tolist() == want_rows.tolist()
    got = column(rows, "explain_score_when_chosen")[:1]  # the first pick's score
    assert np.allclose(got, want_scores[:1], rtol=1e-7)
    assert np.allclose(column(rows, rows[0][2]), want_scores, rtol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = pipe.predict(X_pool[idx])
    assert np.allclose(column(rows, "explain_prediction"), pred, rtol=1e-7)
    assert any("(5 features, 11 columns once encoded)" in line for line in err)


def test_default_features_include_the_text_id_column(tmp_path, capsys):
    lab, pool = sales_data()
    lab_path, pool_path = write_files(tmp_path, lab, pool)
    code, rows, err = run(capsys, lab_path, pool_path, "--n", "4")
    assert code == 0, err
    _, _, want_rows, want_scores, _ = oracle_query(lab, pool, ["store", *FEATURES], 4)
    assert column(rows, "pool_row", int).tolist() == want_rows.tolist()
    assert np.allclose(column(rows, rows[0][2]), want_scores, rtol=1e-5)
    # every pool store id is new: the note says so and suggests --exclude
    assert any("'store': 50 row(s)" in e and "--exclude store" in e for e in err)


def test_ranking_does_not_depend_on_the_units(tmp_path, capsys):
    lab, pool = sales_data()
    picks, scores = [], []
    for unit, folder in ((1.0, "m2"), (100.0, "dm2")):
        (tmp_path / folder).mkdir()
        lab_u, pool_u = sales_data(area_unit=unit)
        code, rows, err = run(
            capsys, *write_files(tmp_path / folder, lab_u, pool_u),
            "--n", "6", "--exclude", "store", "--explain",
        )  # fmt: skip
        assert code == 0, err
        picks.append(column(rows, "pool_row", int).tolist())
        scores.append(column(rows, "explain_score_when_chosen"))
    assert picks[0] == picks[1]
    assert np.allclose(scores[0], scores[1], rtol=1e-6)
    # the oracle can fail: a ridge on the raw columns ranks by the units
    raw = []
    for unit in (1.0, 100.0):
        lab_u, pool_u = sales_data(area_unit=unit)
        X, y, X_pool, _ = arrays(lab_u, pool_u, NUMERIC, drop_missing=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = RegularityRidge(alpha="loo").fit(X.astype(float), y)
            raw.append(
                regularity_sampling(model, X_pool.astype(float), 6, random_state=0)[0]
            )
    assert raw[0].tolist() != raw[1].tolist()


# -- the output is the pool as read ----------------------------------------------
def test_output_keeps_the_pools_columns_and_values(tmp_path, capsys):
    lab, pool = sales_data()
    lab_path, pool_path = write_files(tmp_path, lab, pool)
    out = tmp_path / "next.csv"
    code, _, err = run(
        capsys, lab_path, pool_path, "--n", "50", "--exclude", "store",
        "--output", str(out),
    )  # fmt: skip
    assert code == 0, err
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    with open(pool_path, newline="") as fh:
        written = list(csv.reader(fh))
    assert rows[0][:2] == ["rank", "pool_row"] and rows[0][2].endswith("_score")
    assert rows[0][3:] == POOL_ORDER  # the pool's order, not the labeled file's
    assert len(rows) == 51
    for r in rows[1:]:  # every pool row, its cells exactly as in the file
        assert r[3:] == written[1 + int(r[1])]
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 51))
    assert sorted(int(r[1]) for r in rows[1:]) == list(range(50))
    empty = [(int(r[1]), POOL_ORDER[j]) for r in rows[1:] for j, c in enumerate(r[3:])
             if c == ""]  # fmt: skip
    assert sorted(empty) == sorted(POOL_EMPTY)


@pytest.mark.parametrize("kind", ["parquet", "excel"])
def test_typed_files_give_the_csv_ranking_and_values(tmp_path, capsys, kind):
    lab, pool = sales_data()
    (tmp_path / "csv").mkdir()
    (tmp_path / kind).mkdir()
    results = []
    for k in ("csv", kind):
        code, rows, err = run(
            capsys, *write_files(tmp_path / k, lab, pool, k), "--n", "8",
            "--exclude", "store",
        )  # fmt: skip
        assert code == 0, err
        results.append(rows)
    csv_rows, typed = results
    assert typed[0] == csv_rows[0]
    assert [r[:3] for r in typed] == [r[:3] for r in csv_rows]
    for r in typed[1:]:
        source = pool[int(r[1])]
        for name, cell in zip(POOL_ORDER, r[3:], strict=True):
            value = source[name]
            if value is None:
                assert cell == ""
            elif isinstance(value, str):
                assert cell == value
            else:
                assert float(cell) == value


# -- empty cells ---------------------------------------------------------------------
def _note(err, start):
    found = [e for e in err if e.startswith(f"note: {start}")]
    assert len(found) == 1, err
    return found[0]


def test_empty_cells_are_counted_per_column(tmp_path, capsys):
    lab, pool = sales_data()
    code, _, err = run(
        capsys, *write_files(tmp_path, lab, pool), "--exclude", "store"
    )  # fmt: skip
    assert code == 0, err
    note = _note(err, "filled")
    counts = {
        name: (int(a), int(b))
        for name, a, b in re.findall(r"'(\w+)' (\d+) labeled \+ (\d+) pool", note)
    }
    want = {}
    labeled = {i for i, r in enumerate(lab) if r["sales"] is not None}
    for f in FEATURES:
        a = sum(1 for i, c in LAB_EMPTY if c == f and i in labeled)
        b = sum(1 for _, c in POOL_EMPTY if c == f)
        if a or b:
            want[f] = (a, b)
    assert counts == want
    assert f"filled {sum(a + b for a, b in want.values())} empty cell(s)" in note
    assert "1 labeled row(s) without a 'sales' value" in _note(err, "1 labeled")


def test_drop_missing_drops_rows_and_keeps_pool_row_numbers(tmp_path, capsys):
    lab, pool = sales_data()
    code, rows, err = run(
        capsys, *write_files(tmp_path, lab, pool), "--n", "5", "--exclude", "store",
        "--drop-missing", "--explain",
    )  # fmt: skip
    assert code == 0, err
    _, _, want_rows, want_scores, _ = oracle_query(
        lab, pool, FEATURES, 5, drop_missing=True
    )
    assert column(rows, "pool_row", int).tolist() == want_rows.tolist()
    assert np.allclose(column(rows, "explain_score_when_chosen")[:1], want_scores[:1])
    note = _note(err, "--drop-missing")
    # labeled: rows 2, 5, 9 have an empty feature cell (row 4 has no target)
    assert "dropped 3 labeled and 3 pool row(s)" in note
    assert not any(e.startswith("note: filled") for e in err)
    assert any("fitted on 26 labeled rows" in e for e in err)


def test_target_without_values_is_not_trained_on(tmp_path, capsys):
    lab, pool = sales_data()
    lab[0]["sales"] = lab[1]["sales"] = None
    code, rows, err = run(
        capsys, *write_files(tmp_path, lab, pool), "--n", "3", "--exclude", "store"
    )  # fmt: skip
    assert code == 0, err
    _, _, want_rows, _, _ = oracle_query(lab, pool, FEATURES, 3)
    assert column(rows, "pool_row", int).tolist() == want_rows.tolist()
    assert any("fitted on 27 labeled rows" in e for e in err)
    assert "3 labeled row(s) without a 'sales' value" in _note(err, "3 labeled")


# -- options -------------------------------------------------------------------------
def test_exclude_drops_columns_from_the_features(tmp_path, capsys):
    lab, pool = sales_data()
    code, rows, err = run(
        capsys, *write_files(tmp_path, lab, pool), "--n", "4",
        "--exclude", " store , region,area",
    )  # fmt: skip
    assert code == 0, err
    features = ["quality", "promo", "price"]
    _, _, want_rows, want_scores, _ = oracle_query(lab, pool, features, 4)
    assert column(rows, "pool_row", int).tolist() == want_rows.tolist()
    assert np.allclose(column(rows, rows[0][2]), want_scores, rtol=1e-5)
    assert any("(3 features, 6 columns once encoded)" in e for e in err)
    # the output still has every pool column
    assert rows[0][3:] == POOL_ORDER


def test_model_kernel_is_the_rbf_kernel_ridge(tmp_path, capsys):
    lab, pool = sales_data()
    code, rows, err = run(
        capsys, *write_files(tmp_path, lab, pool), "--n", "4", "--exclude", "store",
        "--model", "kernel", "--explain",
    )  # fmt: skip
    assert code == 0, err
    model = RegularityKernelRidge(alpha="loo", kernel="rbf", gamma="loo")
    pipe, X_pool, want_rows, want_scores, idx = oracle_query(
        lab, pool, FEATURES, 4, model=model
    )
    assert rows[0][2] == "variance_ivr_score"  # auto for a kernel model's batch
    assert column(rows, "pool_row", int).tolist() == want_rows.tolist()
    assert np.allclose(column(rows, "explain_score_when_chosen")[:1], want_scores[:1])
    pred, std = pipe[-1].predict(pipe[:-1].transform(X_pool[idx]), return_std=True)
    assert np.allclose(column(rows, "explain_prediction"), pred, rtol=1e-7)
    assert np.allclose(column(rows, "explain_std"), std, rtol=1e-7)
    assert any("RegularityKernelRidge alpha_=" in e and "gamma_=" in e for e in err)


# -- --explain against the ridge's matrices ------------------------------------------
def _ridge_terms(lab, pool, features, picks):
    """Prediction, std, tangent, v, ivr and the greedy scores from the
    augmented design of the explicitly transformed data (numpy only)."""
    X, y, X_pool, _ = arrays(lab, pool, features)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = oracle_pipeline(features).fit(X, y)
    Z, Zp = pipe[:-1].transform(X), pipe[:-1].transform(X_pool)
    s, sigma2 = pipe[-1].alpha_, pipe[-1].noise_variance_
    aug = np.hstack([np.ones((len(Z), 1)), Z])
    aug_p = np.hstack([np.ones((len(Zp), 1)), Zp])
    P = np.diag(np.r_[0.0, np.ones(Z.shape[1])])
    M = aug.T @ aug + s * P
    theta = np.linalg.solve(M, aug.T @ y)
    K = aug_p @ np.linalg.solve(M, aug_p.T)
    v, n = np.diag(K), len(Zp)
    ivr = (K**2).sum(axis=0) / (n * (1 + v))
    out = {
        "prediction": aug_p @ theta,
        "std": np.sqrt(sigma2 * (1 + v)),
        "tangent": aug_p @ -np.linalg.solve(M, P @ theta),
        "pool_variance": v,
        "ivr": ivr,
    }
    when = []  # variance_ivr after virtually labeling the earlier picks
    for k in range(len(picks)):
        Mk = M + aug_p[picks[:k]].T @ aug_p[picks[:k]]
        Kk = aug_p @ np.linalg.solve(Mk, aug_p.T)
        vk = np.diag(Kk)
        when.append(
            vk[picks[k]] * (Kk[:, picks[k]] ** 2).sum() / (n * (1 + vk[picks[k]]))
        )
    return out, sigma2, np.array(when)


@pytest.mark.parametrize(
    "heuristic, formula",
    [
        ("variance_ivr", lambda t, s2: t["pool_variance"] * t["ivr"]),
        ("ivr", lambda t, s2: t["ivr"]),
        ("sld", lambda t, s2: 4 * s2 * t["tangent"] ** 2),
        ("pool_tangent",
         lambda t, s2: t["tangent"] ** 2 * t["ivr"] / (1 + t["pool_variance"])),
        ("cluster_distance", lambda t, s2: t["pool_variance"]),
    ],
)  # fmt: skip
def test_explain_terms_equal_the_ridge_matrices(tmp_path, capsys, heuristic, formula):
    lab, pool = sales_data()
    code, rows, err = run(
        capsys, *write_files(tmp_path, lab, pool), "--n", "4", "--exclude", "store",
        "--heuristic", heuristic, "--explain",
    )  # fmt: skip
    assert code == 0, err
    picks = column(rows, "pool_row", int)
    want, sigma2, when = _ridge_terms(lab, pool, FEATURES, picks)
    names = [c[len("explain_") :] for c in rows[0] if c.startswith("explain_")]
    for name in names:
        if name == "score_when_chosen":
            continue
        assert np.allclose(column(rows, f"explain_{name}"), want[name][picks],
                           rtol=1e-6, atol=1e-9), name  # fmt: skip
    # the terms make up the score (the first round's, for every pick)
    assert np.allclose(
        column(rows, rows[0][2]), formula(want, sigma2)[picks], rtol=1e-5
    )
    first = column(rows, "explain_score_when_chosen")[0]
    assert np.isclose(first, formula(want, sigma2)[picks[0]], rtol=1e-6)
    if heuristic == "variance_ivr":
        assert names == ["score_when_chosen", "prediction", "std", "pool_variance",
                         "ivr"]  # fmt: skip
        assert np.allclose(column(rows, "explain_score_when_chosen"), when, rtol=1e-6)
    # the text on stderr: a header, then one line per pick
    text = [e for e in err if e.startswith("  rank ")]
    assert len(text) == 4
    assert text[0].startswith(f"  rank 1, pool row {picks[0]}: score ")
    assert f"predicted sales {want['prediction'][picks[0]]:.4g} +/- " in text[0]
    assert any(e.startswith(f"why these rows ({heuristic}; ") for e in err)


def test_explain_does_not_change_the_picks(tmp_path, capsys):
    lab, pool = sales_data()
    files = write_files(tmp_path, lab, pool)
    picks = []
    for extra in ([], ["--explain"]):
        code, rows, err = run(capsys, *files, "--n", "6", *extra)
        assert code == 0, err
        picks.append([r[: 3 + len(POOL_ORDER)] for r in rows])
    assert picks[0] == picks[1]


def test_explain_on_a_large_pool_keeps_no_round_scores(tmp_path, monkeypatch, capsys):
    # every round's scores are n x n_pool floats: beyond a size, not kept
    monkeypatch.setattr("skrt._cli._EXPLAIN_STEPS_MAX", 10)
    lab, pool = sales_data()
    files = write_files(tmp_path, lab, pool)
    code, plain, _ = run(capsys, *files, "--n", "4")
    code, rows, err = run(capsys, *files, "--n", "4", "--explain")
    assert code == 0, err
    assert [r[: 3 + len(POOL_ORDER)] for r in rows] == plain
    assert rows[0][3 + len(POOL_ORDER) :] == [
        "explain_prediction", "explain_std", "explain_pool_variance"
    ]  # fmt: skip
    assert not any("when chosen" in e for e in err if e.startswith("  rank"))


# -- the progress bar --------------------------------------------------------------
class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bar_on_a_terminal(tmp_path, monkeypatch, capsys, quiet):
    lab, pool = sales_data()
    files = write_files(tmp_path, lab, pool)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    argv = ["query", "--labeled", str(files[0]), "--pool", str(files[1]),
            "--target", "sales", "--explain"]  # fmt: skip
    argv += ["--quiet"] if quiet else []
    assert main(argv) == 0
    err = terminal.getvalue()
    if quiet:
        assert "[#" not in err and "\r" not in err
    else:
        assert "\r[------------------------------] 0/5 reading labeled.csv" in err
        assert "] 5/5 done" in err
        assert "fitting: ridge, alpha by LOO" in err
    assert err.rstrip().splitlines()[-1].startswith("fitted on")
    capsys.readouterr()


def test_progress_bar_stops_where_an_error_stops(tmp_path, monkeypatch):
    lab, pool = sales_data()
    lab[3]["sales"] = "many"
    files = write_files(tmp_path, lab, pool)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    argv = ["query", "--labeled", str(files[0]), "--pool", str(files[1]),
            "--target", "sales"]  # fmt: skip
    assert main(argv) == 2
    err = terminal.getvalue()
    assert "done" not in err and "] 1/4 reading pool.csv" in err
    last = err.rstrip().split("\n")[-1]
    assert last.startswith("skrt query: error: labeled file ")


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path, capsys):
    lab, pool = sales_data()
    code, _, err = run(capsys, *write_files(tmp_path, lab, pool))
    assert code == 0
    assert not any("[#" in e or "[-" in e for e in err)


# -- column types ------------------------------------------------------------------
def test_a_mostly_text_column_with_numbers_is_text(tmp_path, capsys):
    lab, pool = sales_data()
    sizes = ["S", "M", "L", "XL", "42"]
    for i, r in enumerate(lab + pool):
        r["region"] = sizes[i % 5]
    code, rows, err = run(
        capsys, *write_files(tmp_path, lab, pool), "--n", "3", "--exclude", "store"
    )  # fmt: skip
    assert code == 0, err
    assert any("'region' (5 values)" in e for e in err)
    _, _, want_rows, _, _ = oracle_query(lab, pool, FEATURES, 3)
    assert column(rows, "pool_row", int).tolist() == want_rows.tolist()


# -- errors: one line, exit 2 ----------------------------------------------------------
def _block_import(monkeypatch, *names):
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize(
    "case, match",
    [
        ("no_pandas_parquet", r"reading Parquet files .*needs pandas and pyarrow: "
                              r"pip install pandas pyarrow"),
        ("no_pyarrow", r"reading Parquet files .*needs pyarrow: pip install pyarrow"),
        ("no_openpyxl", r"reading Excel files .*needs openpyxl: pip install openpyxl"),
        ("no_pandas_excel", r"needs pandas and openpyxl: pip install pandas openpyxl"),
        ("corrupt_parquet", r"labeled file .*labeled.parquet: not readable as Parquet"),
        ("csv_named_xlsx", r"pool file .*pool.xlsx: not readable as Excel"),
        ("missing_xlsx", r"cannot read pool file .*absent.xlsx: No such file"),
        ("text_target", r"column 'sales': 'many' is not a number \(the target must"),
        ("exclude_unknown", r"--exclude names no column of either file: 'Store' "
                            r"\(did you mean 'store'\?\)"),
        ("empty_column", r"column 'price' has no value in any labeled row"),
    ],
)  # fmt: skip
def test_spreadsheet_errors_are_one_line(tmp_path, monkeypatch, capsys, case, match):
    pytest.importorskip("pandas")
    lab, pool = sales_data()
    extra = []
    if case == "text_target":
        lab[3]["sales"] = "many"
    if case == "empty_column":
        for r in lab:
            r["price"] = None
    lab_path, pool_path = write_files(tmp_path, lab, pool)
    if case in ("no_pandas_parquet", "no_pyarrow", "corrupt_parquet"):
        lab_path = tmp_path / "labeled.parquet"
        if case == "corrupt_parquet":
            pytest.importorskip("pyarrow")  # without it: "needs pyarrow"
            lab_path.write_bytes(b"PAR1 not really")
        else:
            pytest.importorskip("pyarrow")
            write_files(tmp_path, lab, pool, "parquet")
        _block_import(
            monkeypatch, *{"no_pandas_parquet": ["pandas"], "no_pyarrow":
                           ["pyarrow", "fastparquet"]}.get(case, [])
        )  # fmt: skip
    if case in ("no_openpyxl", "no_pandas_excel"):
        pool_path = tmp_path / "pool.xlsx"
        pool_path.write_bytes(b"PK\x03\x04")
        _block_import(
            monkeypatch, "pandas" if case == "no_pandas_excel" else "openpyxl"
        )
    if case == "csv_named_xlsx":
        pytest.importorskip("openpyxl")
        pool_path = tmp_path / "pool.xlsx"
        pool_path.write_text("area,promo\n1,Yes\n")
    if case == "missing_xlsx":
        pool_path = tmp_path / "absent.xlsx"
    if case == "exclude_unknown":
        extra = ["--exclude", "Store"]
    code, rows, err = run(capsys, lab_path, pool_path, *extra)
    assert code == 2 and rows == []
    assert len(err) == 1 and re.search(match, err[0]), err
    assert err[0].startswith("skrt query: error: ")


def test_output_with_a_spreadsheet_extension_is_refused(tmp_path, capsys):
    lab, pool = sales_data()
    out = tmp_path / "next.parquet"
    code, _, err = run(
        capsys, *write_files(tmp_path, lab, pool), "--output", str(out)
    )  # fmt: skip
    assert code == 2 and len(err) == 1 and "name it .csv" in err[0]
    assert not os.path.exists(out)


# -- docs/command_line.rst: the example session is what the command prints ----------
DOC = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "command_line.rst")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _doc_blocks(kind):
    """(caption, lines) of each ``.. code-block:: kind`` of the page."""
    with open(DOC, encoding="utf-8") as fh:
        text = fh.read()
    pattern = rf"\.\. code-block:: {kind}\n((?:   :\w+:.*\n)*)\n((?:   .*\n|\n)+)"
    blocks = []
    for options, body in re.findall(pattern, text):
        caption = re.search(r":caption: (.*)", options)
        lines = [line[3:] for line in body.rstrip("\n").split("\n")]
        blocks.append((caption.group(1) if caption else None, lines))
    return blocks


def _same(doc_line, got_line):
    """Equal text, and equal numbers to the printed digits (rtol 1e-3)."""
    if _NUMBER.sub("#", doc_line) != _NUMBER.sub("#", got_line):
        return False
    want = [float(v) for v in _NUMBER.findall(doc_line)]
    got = [float(v) for v in _NUMBER.findall(got_line)]
    return np.allclose(got, want, rtol=1e-3, atol=0)


def test_the_documented_session_is_what_the_command_prints(
    tmp_path, monkeypatch, capsys
):
    import shlex

    monkeypatch.chdir(tmp_path)
    files = {c: lines for c, lines in _doc_blocks("text") if c}
    assert set(files) >= {"labeled.csv", "pool.csv"}
    (tmp_path / "labeled.csv").write_text(
        "\n".join(files["labeled.csv"]) + "\n", encoding="utf-8-sig"
    )
    (tmp_path / "pool.csv").write_text("\n".join(files["pool.csv"]) + "\n")
    sessions = 0
    for _, lines in _doc_blocks("console"):
        commands = [k for k, line in enumerate(lines) if line.startswith("$ ")]
        for k, end in zip(commands, [*commands[1:], len(lines)], strict=True):
            argv = shlex.split(lines[k][2:])
            want = [line for line in lines[k + 1 : end] if not line.startswith("[")]
            if argv[:2] != ["skrt", "query"] or not want:  # a synopsis
                continue
            if "pool.xlsx" in argv:  # the missing-package example
                (tmp_path / "pool.xlsx").write_bytes(b"PK\x03\x04")
                monkeypatch.setitem(sys.modules, "openpyxl", None)
            code = main(argv[1:])
            out, err = capsys.readouterr()
            got = out.splitlines() + err.splitlines()
            assert len(got) == len(want), (lines[k], got)
            for w, g in zip(want, got, strict=True):
                assert _same(w, g), (lines[k], w, g)
            assert code == (2 if "error:" in "".join(want) else 0)
            sessions += 1
    assert sessions == 3
    with open(tmp_path / "next.csv", newline="") as fh:
        header = next(csv.reader(fh))
    assert header[-4:] == ["explain_score_when_chosen", "explain_prediction",
                           "explain_std", "explain_pool_variance"]  # fmt: skip
