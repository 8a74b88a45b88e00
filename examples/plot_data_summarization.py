"""
Summarising a training set by sample information
================================================

How much of a training set can go before the model notices? The diabetes
data are split in half (train/test) ten times; from each training half a
growing fraction (0 to 90%) is removed by four rules (SUI paper, section 6):

- least informative first, scores computed once (``summarize``);
- least informative first, iteratively: 5% at a time, refitting and
  rescoring in between (``summarize(..., step=0.05)``);
- at random;
- most informative first.

Each time ``RegularityRidge(alpha="loo")`` is refitted on what is left and
its test RMSE is recorded; the table and the plot give the mean over the ten
splits. The information measure is F-SI on the training inputs.
"""

import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skrt import RegularityRidge
from skrt.data import summarize
from skrt.exceptions import RegularityBoundWarning

# with 90% removed, 22 samples remain: their LOO curve can be smallest at the
# constant model (alpha at its upper bound), which is then the right choice
warnings.simplefilter("ignore", RegularityBoundWarning)

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)
fractions = np.round(np.arange(0.0, 0.95, 0.1), 2)
rules = {
    "least informative (once)": dict(remove="least"),
    "least informative (iterative)": dict(remove="least", step=0.05),
    "random": dict(remove="random"),
    "most informative": dict(remove="most"),
}
estimator = RegularityRidge(alpha="loo")
rmse = {name: np.zeros((10, fractions.size)) for name in rules}
for split in range(10):
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.5, random_state=split)
    for name, params in rules.items():
        for j, fraction in enumerate(fractions):
            kept = summarize(
                estimator, X_tr, y_tr, fraction, random_state=split, **params
            )
            model = RegularityRidge(alpha="loo").fit(X_tr[kept], y_tr[kept])
            rmse[name][split, j] = np.sqrt(np.mean((model.predict(X_te) - y_te) ** 2))

print(f"diabetes, {len(y_tr)} training samples; test RMSE, mean of 10 splits")
print(f"{'removed':<32}" + "".join(f"{f:>7.0%}" for f in fractions))
for name, values in rmse.items():
    print(f"{name:<32}" + "".join(f"{v:7.1f}" for v in values.mean(axis=0)))

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in rmse.items():
        ax.plot(100 * fractions, values.mean(axis=0), marker="o", label=name)
    ax.set_xlabel("training samples removed (%)")
    ax.set_ylabel("test RMSE (mean of 10 splits)")
    ax.set_title("Diabetes: removing samples by F-SI")
    ax.legend()
    fig.tight_layout()
    fig.savefig("data_summarization.png", dpi=100)
