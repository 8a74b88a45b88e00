"""
Asking for the next labels from the shell: ``skrt query``
=========================================================

``skrt query`` fits a model on the labeled rows of one spreadsheet (CSV,
Parquet or Excel) and ranks the rows of another (the pool) by a query
heuristic. This example writes two CSV files from the diabetes data, as a
clinic's spreadsheet would hold them: 20 labeled rows with their target
``progression`` and 100 unlabeled pool rows, the patient's sex as text
(``F``/``M``), a few empty cells, and a patient id. It runs

.. code-block:: bash

   skrt query --labeled labeled.csv --pool pool.csv --target progression \\
       --exclude patient --n 5 --explain

(here as ``python -m skrt``, the same program). The command fits a
scikit-learn Pipeline: empty cells filled with the labeled rows' median
(numbers) or most frequent value (text), numeric columns standardised, text
columns one-hot encoded, then ``RegularityRidge(alpha="loo")``; it says on
stderr how many cells it filled. ``--exclude`` leaves the id out of the
features.

The output is a CSV of the rank, the pool row, its score and the pool row's
columns exactly as in the file (the text, the empty cells); ``--output``
writes it to a file, ``--heuristic`` and ``--batch`` choose the strategy,
``--model kernel`` fits an RBF kernel ridge instead. With the default
greedy batch the score column is each row's score before the first pick:
later picks also account for the earlier ones (a point close to an earlier
pick loses its interest), so the ranks need not follow the scores;
``--explain`` prints each pick's score when it was chosen, the prediction
with its std and the terms of the score. The scores' scale depends on the
units of y; only their order matters. Every flag:
:ref:`command-line`.
"""

import csv
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.datasets import load_diabetes

data = load_diabetes(as_frame=True, scaled=False)
frame = data.frame.rename(columns={"target": "progression"})
frame["sex"] = np.where(frame["sex"] == 1, "F", "M")  # text, as typed in
frame.insert(0, "patient", [f"P{i:03d}" for i in range(len(frame))])
frame = frame.astype(object)
frame.loc[[3, 11], "bmi"] = ""  # empty cells: not measured
frame.loc[[25, 40], "bp"] = ""
folder = pathlib.Path(tempfile.mkdtemp())
frame.iloc[:20].to_csv(folder / "labeled.csv", index=False)
frame.iloc[20:120].drop(columns="progression").to_csv(folder / "pool.csv", index=False)

command = [
    sys.executable, "-m", "skrt", "query",
    "--labeled", str(folder / "labeled.csv"),
    "--pool", str(folder / "pool.csv"),
    "--target", "progression",
    "--exclude", "patient",
    "--n", "5",
    "--explain",
    "--quiet",
]  # fmt: skip
result = subprocess.run(command, capture_output=True, text=True, check=True)
print(result.stdout)
print(result.stderr)
rows = list(csv.DictReader(result.stdout.splitlines()))
print(f"label next: patients {[r['patient'] for r in rows]}")
