"""
Choosing alpha with the exact leave-one-out curve
=================================================

``RegularityRidge(alpha="loo")`` decomposes the data once and then evaluates
the exact leave-one-out error at any alpha; the chosen ``alpha_`` minimises it
over a continuum. This example prints the curve (and plots it when
matplotlib is installed).
"""

import numpy as np
from sklearn.datasets import load_diabetes

from skrt import RegularityRidge

X, y = load_diabetes(return_X_y=True)
model = RegularityRidge(alpha="loo").fit(X, y)
alphas = np.logspace(-5, 1, 25)
curve = model.loo_curve(alphas)
for a, e in zip(alphas[::4], curve[::4], strict=True):
    print(f"alpha={a:9.3g}  LOO MSE={e:9.2f}")
print(f"alpha_={model.alpha_:.4g}  LOO MSE={model.loo_error_:.2f}")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # pragma: no cover
    plt = None
if plt is not None:
    fig, ax = plt.subplots()
    ax.semilogx(alphas, curve, label="exact LOO error")
    ax.axvline(model.alpha_, ls="--", color="k", label="alpha_")
    ax.set_xlabel("alpha")
    ax.set_ylabel("mean squared LOO residual")
    ax.legend()
    fig.savefig("loo_curve.png", dpi=100)
