"""
Asking for the next labels from the shell: ``skrt query``
=========================================================

``skrt query`` fits ``RegularityRidge(alpha="loo")`` on the labeled rows of
one CSV file and ranks the rows of another (the pool) by a query heuristic.
This example writes two CSV files from the diabetes data — 20 labeled rows
with their target ``progression`` and 100 unlabeled pool rows — and runs

.. code-block:: bash

   skrt query --labeled labeled.csv --pool pool.csv --target progression --n 5

(here as ``python -m skrt``, the same program). The output is a CSV of the
rank, the pool row, its score and the pool row's columns; ``--output``
writes it to a file, ``--heuristic`` and ``--batch`` choose the strategy.
With the default greedy batch the score column is each row's score before
the first pick: later picks also account for the earlier ones (a point
close to an earlier pick loses its interest), so the ranks need not follow
the scores. The scores' scale depends on the units of X and y (SLD is in
squared units of y per unit of alpha); only their order matters.
"""

import csv
import pathlib
import subprocess
import sys
import tempfile

from sklearn.datasets import load_diabetes

data = load_diabetes(as_frame=True)
frame = data.frame.rename(columns={"target": "progression"})
folder = pathlib.Path(tempfile.mkdtemp())
frame.iloc[:20].to_csv(folder / "labeled.csv", index=False)
frame.iloc[20:120].drop(columns="progression").to_csv(folder / "pool.csv", index=False)

command = [
    sys.executable, "-m", "skrt", "query",
    "--labeled", str(folder / "labeled.csv"),
    "--pool", str(folder / "pool.csv"),
    "--target", "progression",
    "--n", "5",
]  # fmt: skip
result = subprocess.run(command, capture_output=True, text=True, check=True)
print(result.stdout)
rows = list(csv.DictReader(result.stdout.splitlines()))
print(f"label next: pool rows {[int(r['pool_row']) for r in rows]}")
