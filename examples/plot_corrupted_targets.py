"""
Finding corrupted targets with sample information
=================================================

Ten percent of the diabetes targets are replaced by large noise (mean of y
plus three standard deviations of y times a standard normal draw). A ridge
model with the leave-one-out-optimal alpha is fitted to the corrupted data,
and each training sample is scored by four measures of how much it is
unlike the rest: functional sample information (F-SI), weight sample
information (SI), Cook's distance and the absolute residual. The ROC AUC of
each score for telling the corrupted samples from the clean ones is
averaged over 20 corruptions (different rows and noise each time); the ROC
curves of the first one are plotted.

All four come from one fit: the exact leave-one-out change of every sample
is a closed form of the stored decomposition, no refits.
"""

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.preprocessing import StandardScaler

from skrt import RegularityRidge

X, y_clean = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)
n = len(y_clean)
n_bad = n // 10


def scores_for(y):
    model = RegularityRidge(alpha="loo").fit(X, y)
    diagnostics = model.influence_diagnostics(dfbeta=False)
    return {
        "F-SI": model.sample_information(),
        "SI": model.sample_information(kind="weights"),
        "Cook's distance": diagnostics["cooks_distance"],
        "|residual|": np.abs(diagnostics["residuals"]),
    }


aucs = {}
first = None
for seed in range(20):
    rng = np.random.RandomState(seed)
    bad = rng.choice(n, n_bad, replace=False)
    y = y_clean.copy()
    y[bad] = y_clean.mean() + 3 * y_clean.std() * rng.randn(n_bad)
    is_bad = np.zeros(n, dtype=bool)
    is_bad[bad] = True
    scores = scores_for(y)
    for name, score in scores.items():
        aucs.setdefault(name, []).append(roc_auc_score(is_bad, score))
    if first is None:
        first = (is_bad, scores)

print(f"diabetes, n={n}, {n_bad} targets replaced by noise; ROC AUC over 20 draws")
for name, values in aucs.items():
    print(f"  {name:<16} {np.mean(values):.3f} ± {np.std(values):.3f}")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    plt = None
if plt is not None:
    is_bad, scores = first
    fig, ax = plt.subplots(figsize=(5, 5))
    for (name, score), style in zip(
        scores.items(), ["-", "--", "-.", ":"], strict=True
    ):
        fpr, tpr, _ = roc_curve(is_bad, score)
        ax.plot(
            fpr, tpr, ls=style, label=f"{name} (mean AUC {np.mean(aucs[name]):.3f})"
        )
    ax.plot([0, 1], [0, 1], ls=":", color="grey")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("Corrupted diabetes targets: first of 20 draws")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig("corrupted_targets.png", dpi=100)
