"""Simulated pool-based active learning: the engine of ``skrt demo`` and of
``benchmarks/bench_active_learning.py``.

Each run splits the data into a test set and a pool, labels a few random pool
points, then repeats: fit a fresh model (``RegularityRidge(alpha="loo")`` unless
``make_model`` says otherwise) on the labels, record the test RMSE, ask the
strategy for a batch, reveal its labels.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

from . import query as _query
from ._progress import ProgressBar
from ._ridge import RegularityRidge
from .exceptions import RegularityBoundWarning


def skrt_strategy(heuristic="sld", batch="greedy", **kwargs):
    """A strategy from :mod:`skrt.query`.

    Parameters
    ----------
    heuristic : str, default="sld"
        Passed to :func:`skrt.query.regularity_sampling`.
    batch : {"greedy", "topk"}, default="greedy"
    **kwargs
        Further keyword arguments of :func:`skrt.query.regularity_sampling`
        (options of a heuristic); ``random_state`` is always the run's
        generator.

    Returns
    -------
    choose : callable
        ``choose(model, X, y, labeled, pool, n, rng) -> indices into X``.
    """
    if "random_state" in kwargs:
        raise TypeError(
            "skrt_strategy sets random_state to the run's generator; do not pass it."
        )

    def choose(model, X, y, labeled, pool, n, rng):
        idx, _ = _query.regularity_sampling(
            model,
            X[pool],
            n,
            heuristic=heuristic,
            batch=batch,
            random_state=rng,
            **kwargs,
        )
        return pool[idx]

    return choose


def random_strategy():
    """Uniform random choice from the pool."""

    def choose(model, X, y, labeled, pool, n, rng):
        return rng.choice(pool, size=min(n, pool.size), replace=False)

    return choose


def skactiveml_strategy(make_query_strategy):
    """A scikit-activeml pool strategy driving the same model.

    ``make_query_strategy(random_state)`` builds it. It sees all samples with
    the unlabeled ones marked missing and, if its ``query`` takes one, the
    regressor ``SklearnRegressor(clone(model))`` (an unfitted copy of the
    run's model, with the same parameters) or an ensemble of five bagged
    copies of it (query by committee).
    """

    def choose(model, X, y, labeled, pool, n, rng):
        import inspect

        from skactiveml.regressor import SklearnRegressor
        from skactiveml.utils import MISSING_LABEL
        from sklearn.ensemble import BaggingRegressor

        y_missing = np.full(X.shape[0], MISSING_LABEL)
        y_missing[labeled] = y[labeled]
        qs = make_query_strategy(int(rng.randint(2**31 - 1)))
        kwargs = {"candidates": pool, "batch_size": int(n)}
        params = inspect.signature(qs.query).parameters
        if "reg" in params:
            kwargs["reg"] = SklearnRegressor(clone(model))
        if "ensemble" in params:
            bagged = BaggingRegressor(
                clone(model),
                n_estimators=5,
                random_state=int(rng.randint(2**31 - 1)),
            )
            kwargs["ensemble"] = SklearnRegressor(bagged)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RegularityBoundWarning)
            return np.asarray(qs.query(X, y_missing, **kwargs))

    return choose


@dataclass
class Curves:
    """Learning curves of one strategy: RMSE per seed and label budget."""

    budgets: np.ndarray
    rmse: np.ndarray  # (n_seeds, n_budgets)
    query_seconds: list = field(default_factory=list)

    @property
    def area(self):
        """Mean RMSE over the budgets (normalised area under the curve)."""
        return self.rmse.mean(axis=1)


def default_model(n_features):
    """The model of ``skrt demo``: ``RegularityRidge(alpha="loo")``.

    Parameters
    ----------
    n_features : int
        Ignored; present for the ``make_model`` signature of :func:`simulate`.

    Returns
    -------
    RegularityRidge
        Unfitted.
    """
    return RegularityRidge(alpha="loo")


def simulate(
    X,
    y,
    strategies,
    *,
    seeds=(0, 1, 2),
    n_initial=10,
    n_final=60,
    batch_size=5,
    test_fraction=0.25,
    n_test=None,
    make_model=None,
    progress=True,
):
    """Run every strategy on the same splits and initial labels.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Standardised here (over all rows) before anything else.
    y : ndarray of shape (n_samples,)
    strategies : dict of str -> callable
        ``choose(model, X, y, labeled, pool, n, rng) -> indices into X``;
        ``model`` is the model fitted on ``labeled``, ``X`` the standardised
        inputs, ``pool`` the unlabeled non-test rows, ``rng`` a
        :class:`numpy.random.RandomState` of the run.
    seeds : sequence of int, default=(0, 1, 2)
        One run per seed: the seed fixes the split and the initial labels
        (the same for every strategy), and ``seed + 1`` seeds each
        strategy's generator.
    n_initial, n_final, batch_size : int, default=10, 60, 5
        Labels at the start and the end, and per query round.
    test_fraction : float, default=0.25
        Share of the rows held out for the test RMSE.
    n_test : int or None, default=None
        Cap on the test rows (None: no cap).
    make_model : callable or None, default=None
        ``make_model(n_features) -> unfitted estimator``, called for every
        refit; None means :func:`default_model`
        (``RegularityRidge(alpha="loo")``).
    progress : bool, default=True
        A progress bar on stderr.

    Returns
    -------
    dict of str -> Curves
        ``rmse`` of shape (len(seeds), n_budgets), budgets
        ``n_initial, n_initial + batch_size, ..., <= n_final``.
    """
    if make_model is None:
        make_model = default_model
    elif not callable(make_model):
        raise TypeError(f"make_model must be callable; got {make_model!r}.")
    if n_test is not None and (
        isinstance(n_test, bool)
        or not isinstance(n_test, (int, np.integer))
        or n_test < 1
    ):
        raise ValueError(f"n_test must be a positive int or None; got {n_test!r}.")
    X = StandardScaler().fit_transform(np.asarray(X, dtype=float))
    y = np.asarray(y, dtype=float)
    budgets = np.arange(n_initial, n_final + 1, batch_size)
    out = {
        name: Curves(budgets, np.empty((len(seeds), budgets.size)))
        for name in strategies
    }
    bar = ProgressBar(len(seeds) * len(strategies), enabled=progress)
    for s, seed in enumerate(seeds):
        rng = np.random.RandomState(seed)
        order = rng.permutation(X.shape[0])
        n_held = int(round(test_fraction * X.shape[0]))
        if n_test is not None:
            n_held = min(n_held, int(n_test))
        test, rest = order[:n_held], order[n_held:]
        if rest.size < n_final:
            raise ValueError(
                f"{rest.size} rows outside the test set cannot supply "
                f"n_final={n_final} labels."
            )
        start = rng.choice(rest, size=n_initial, replace=False)
        for name, choose in strategies.items():
            rmse, seconds = _run(
                X, y, test, rest, start, choose, budgets, seed, make_model
            )
            out[name].rmse[s] = rmse
            out[name].query_seconds.extend(seconds)
            bar.update(f"seed {seed} {name}")
    bar.close()
    return out


def _run(X, y, test, rest, start, choose, budgets, seed, make_model):
    rng = np.random.RandomState(seed + 1)
    labeled = np.array(start)
    rmse, seconds = [], []
    for b, budget in enumerate(budgets):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RegularityBoundWarning)
            model = make_model(X.shape[1]).fit(X[labeled], y[labeled])
        rmse.append(float(np.sqrt(np.mean((model.predict(X[test]) - y[test]) ** 2))))
        if b + 1 == budgets.size:
            break
        pool = np.setdiff1d(rest, labeled)
        n = int(budgets[b + 1] - budget)
        t = time.perf_counter()
        picked = np.asarray(choose(model, X, y, labeled, pool, n, rng))
        seconds.append(time.perf_counter() - t)
        if (
            picked.size != n
            or np.unique(picked).size != n
            or np.setdiff1d(picked, pool).size
        ):
            raise RuntimeError(f"a strategy returned {picked!r} for a batch of {n}")
        labeled = np.concatenate([labeled, picked])
    return np.array(rmse), seconds


def format_table(curves, show_budgets=None):
    """RMSE (mean ± std over seeds) at chosen budgets and the area rank."""
    names = list(curves)
    budgets = next(iter(curves.values())).budgets
    if show_budgets is None:
        picks = np.linspace(0, budgets.size - 1, 4).round().astype(int)
        show_budgets = budgets[np.unique(picks)]  # fewer than 4 budgets: each once
    cols = [int(np.flatnonzero(budgets == b)[0]) for b in show_budgets]
    width = max(len(n) for n in names) + 2
    head = f"{'strategy':<{width}}" + "".join(
        f"{'n=' + str(b):>16}" for b in show_budgets
    )
    head += f"{'AULC':>16}"
    lines = [head, "-" * len(head)]
    areas = {n: curves[n].area for n in names}
    for n in sorted(names, key=lambda n: areas[n].mean()):
        r = curves[n].rmse
        row = f"{n:<{width}}" + "".join(
            f"{r[:, c].mean():>9.4g} ± {r[:, c].std():<4.2g}" for c in cols
        )
        row += f"{areas[n].mean():>9.4g} ± {areas[n].std():<4.2g}"
        lines.append(row)
    lines.append("RMSE on the held-out test set (mean ± std over seeds); AULC: mean")
    lines.append(
        "RMSE over all budgets (area under the learning curve), lower is better."
    )
    return "\n".join(lines)


def plot_curves(curves, path, title):
    """Learning curves to a PNG; returns False when matplotlib is missing.

    Draws on a :class:`matplotlib.figure.Figure` with its own Agg canvas, not
    through ``pyplot``: the caller's matplotlib backend and open figures stay
    as they were.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return False
    fig = Figure(figsize=(6.4, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for name, c in curves.items():
        mean, std = c.rmse.mean(axis=0), c.rmse.std(axis=0)
        ax.plot(c.budgets, mean, marker="o", ms=3, label=name)
        ax.fill_between(c.budgets, mean - std, mean + std, alpha=0.15)
    ax.set_xlabel("labels")
    ax.set_ylabel("test RMSE")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True
