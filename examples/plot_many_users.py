"""
Many users: a new user inherits the shared model's curiosity
============================================================

A simulated panel: every user's target is a shared linear function plus a
small user-specific deviation of the weights and the intercept, with noise.
Twenty existing users have 40 labels each; a shared
:class:`~skrt.MultiUserRegularity` model is fitted on them. Then a new user
arrives with **no labels** and a pool of 300 unlabeled points, and labels
one point at a time, up to 20. Four ways to choose the points and model
them are compared (test RMSE on the new user's noiseless function, mean of
40 new users):

- **inherited + SLD**: the user's model is pulled toward the shared one
  (``RegularityRidge(prior=prior_from(shared))``) and queries by its
  squared prediction tangent, which it inherits: even the very first query
  is informed;
- **inherited + random**: same model, random queries;
- **isolated + SLD**: a model of the user's own labels only (the other
  users ignored), querying by its own tangent (randomly while it has fewer
  than 3 labels);
- **isolated + random**.

The pool's inputs have very different scales per feature, so where one
labels matters.
"""

import warnings

import numpy as np

from skrt import MultiUserRegularity, RegularityRidge, prior_from
from skrt.exceptions import RegularityBoundWarning

warnings.simplefilter("ignore", RegularityBoundWarning)  # tiny label sets

P = 8
SCALES = np.array([3.0, 2.0, 1.5, 1.0, 0.7, 0.5, 0.3, 0.2])
BUDGET = 20


def make_user(rng, base, n):
    coef = base + 0.4 * rng.randn(P)
    intercept = 1.0 + 0.5 * rng.randn()
    X = rng.randn(n, P) * SCALES

    def truth(Z):
        return Z @ coef + intercept

    return X, truth


def learning_curve(rng, shared, X_pool, truth, X_test, inherited, strategy):
    y_pool = truth(X_pool) + 0.5 * rng.randn(len(X_pool))
    prior = prior_from(shared.shared_)

    def fit(labeled):
        n = len(labeled)
        if inherited:  # pulled toward the shared model (also with no labels)
            model = RegularityRidge(alpha=shared.alpha_, prior=prior)
        elif n == 0:
            return None
        else:  # the user's own labels only
            model = RegularityRidge(alpha="loo" if n >= 3 else 1.0)
        return model.fit(X_pool[labeled].reshape(n, P), y_pool[labeled])

    labeled, errors = [], []
    model = fit(labeled)
    for _ in range(BUDGET):
        free = np.setdiff1d(np.arange(len(X_pool)), labeled)
        if strategy == "sld" and (inherited or len(labeled) >= 3):
            scores = model.score_samples(X_pool[free], heuristic="sld")
            pick = free[int(np.argmax(scores))]
        else:
            pick = int(rng.choice(free))
        labeled.append(pick)
        model = fit(labeled)
        errors.append(np.sqrt(np.mean((model.predict(X_test) - truth(X_test)) ** 2)))
    return np.array(errors)


rng = np.random.RandomState(0)
base = rng.randn(P)
X_all, y_all, groups = [], [], []
for user in range(20):
    X_u, truth_u = make_user(rng, base, 40)
    X_all.append(X_u)
    y_all.append(truth_u(X_u) + 0.5 * rng.randn(40))
    groups += [user] * 40
shared = MultiUserRegularity(alpha="loo").fit(
    np.vstack(X_all), np.concatenate(y_all), groups=np.array(groups)
)

setups = {
    "inherited + SLD": (True, "sld"),
    "inherited + random": (True, "random"),
    "isolated + SLD": (False, "sld"),
    "isolated + random": (False, "random"),
}
curves = {name: [] for name in setups}
for _ in range(40):
    X_pool, truth = make_user(rng, base, 300)
    X_test = rng.randn(500, P) * SCALES
    for name, (inherited, strategy) in setups.items():
        curves[name].append(
            learning_curve(rng, shared, X_pool, truth, X_test, inherited, strategy)
        )
curves = {name: np.mean(c, axis=0) for name, c in curves.items()}

# the first query of a brand-new user, straight from the meta-estimator
idx, _ = shared.query(X_pool, "a brand-new user", n_instances=1)
print(
    f"first query of a new user: pool row {idx[0]}, |x| = "
    f"{np.abs(X_pool[idx[0]]).round(1).tolist()}"
)
print("test RMSE (noiseless truth) after n labels, mean of 40 new users")
marks = [1, 2, 3, 5, 10, 20]
print(f"{'labels':<22}" + "".join(f"{m:>8}" for m in marks))
for name, curve in curves.items():
    print(f"{name:<22}" + "".join(f"{curve[m - 1]:8.3f}" for m in marks))

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    plt = None
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        ax.plot(np.arange(1, BUDGET + 1), curve, marker=".", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("labels of the new user")
    ax.set_ylabel("test RMSE (mean of 40 new users)")
    ax.set_title("A new user: inherited curiosity vs. starting alone")
    ax.legend()
    fig.tight_layout()
    fig.savefig("many_users.png", dpi=100)
