"""
Learning curves of the query strategies on real data
====================================================

Pool-based active learning on scikit-learn's bundled diabetes data, the
benchmark of the query strategies in small: a quarter of the data is held
out for testing, 10 random pool points are labeled, then batches of 5 are
queried up to 60 labels, refitting ``RegularityRidge(alpha="loo")`` after
each batch. Strategies: SLD with greedy and top-k batches, SSI (greedy),
predictive variance (greedy) and random; 8 random splits. The test RMSE
curves and their mean area (lower is better) are printed and plotted.
``python benchmarks/bench_active_learning.py`` runs the full comparison
(five datasets, scikit-activeml's strategies too).
"""

import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skrt import RegularityRidge
from skrt.exceptions import RegularityBoundWarning
from skrt.query import regularity_sampling

warnings.simplefilter("ignore", RegularityBoundWarning)  # tiny first label sets
X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)
budgets = np.arange(10, 61, 5)
strategies = {
    "SLD (greedy)": dict(heuristic="sld", batch="greedy"),
    "SLD (top-k)": dict(heuristic="sld", batch="topk"),
    "SSI (greedy)": dict(heuristic="ssi", batch="greedy"),
    "variance (greedy)": dict(heuristic="variance", batch="greedy"),
    "random": None,
}
curves = {name: [] for name in strategies}
for seed in range(8):
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed
    )
    start = np.random.RandomState(seed).choice(len(y_pool), 10, replace=False)
    for name, params in strategies.items():
        rng = np.random.RandomState(seed)
        labeled = list(start)
        rmse = []
        for budget in budgets:
            model = RegularityRidge(alpha="loo").fit(X_pool[labeled], y_pool[labeled])
            rmse.append(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2)))
            if budget == budgets[-1]:
                break
            pool = np.setdiff1d(np.arange(len(y_pool)), labeled)
            if params is None:
                picks = rng.choice(pool, 5, replace=False)
            else:
                idx, _ = regularity_sampling(
                    model, X_pool[pool], 5, random_state=rng, **params
                )
                picks = pool[idx]
            labeled += list(picks)
        curves[name].append(rmse)

print("diabetes, test RMSE by labels (mean of 8 splits); area = mean RMSE")
print(f"{'strategy':<20}" + "".join(f"{b:>7}" for b in budgets[::2]) + f"{'area':>8}")
for name, runs in curves.items():
    mean = np.mean(runs, axis=0)
    print(
        f"{name:<20}" + "".join(f"{v:7.1f}" for v in mean[::2]) + f"{mean.mean():8.2f}"
    )

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, runs in curves.items():
        ax.plot(budgets, np.mean(runs, axis=0), marker=".", label=name)
    ax.set_xlabel("labels")
    ax.set_ylabel("test RMSE (mean of 8 splits)")
    ax.set_title("Diabetes: active-learning curves")
    ax.legend()
    fig.tight_layout()
    fig.savefig("learning_curves.png", dpi=100)
