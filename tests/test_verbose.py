"""``verbose``: silent at 0, progress lines on stderr only at 1 and 2, and
never a change to what is fitted or returned."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

import skrt._kernel_search
from skrt import (
    MultiUserRegularity,
    RegularityKernelRidge,
    RegularityLasso,
    RegularityRidge,
    SGDFRegressor,
)
from skrt.data import summarize
from skrt.exceptions import RegularityBoundWarning


def _data(n=80, p=3, targets=1, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-2, 2, size=(n, p))
    Y = np.column_stack(
        [
            np.sin(X[:, 0] + k) + 0.3 * X[:, 1] + 0.1 * rng.randn(n)
            for k in range(targets)
        ]
    )
    return X, (Y[:, 0] if targets == 1 else Y)


# (estimator, sparse X, targets): one per fit path that writes lines
CASES = [
    (RegularityRidge(alpha="loo"), False, 1),
    (RegularityRidge(alpha=0.5, fit_intercept=False), False, 2),
    (RegularityRidge(alpha="gcv", solver="svd"), False, 1),
    (RegularityRidge(alpha="gcv", solver="cg", random_state=0), True, 2),
    (RegularityKernelRidge(alpha="loo", kernel="rbf", gamma="loo"), False, 1),
    (RegularityKernelRidge(alpha="gcv", kernel="rbf", gamma=0.5), False, 2),
    (
        RegularityKernelRidge(alpha="gcv", kernel="rbf", solver="cg", random_state=0),
        False,
        2,
    ),
    (RegularityLasso(alpha=5.0), False, 1),
    (RegularityLasso(alpha=5.0), True, 1),
    (SGDFRegressor(max_iter=30, random_state=0), False, 1),
    (SGDFRegressor(alpha="online", max_iter=10, random_state=0), False, 1),
]
IDS = [f"{type(e).__name__}-{i}" for i, (e, _, _) in enumerate(CASES)]


def _fit(template, sparse, targets, verbose):
    X, y = _data(targets=targets)
    model = clone(template).set_params(verbose=verbose)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        warnings.simplefilter("ignore", UserWarning)  # SGD convergence
        return model.fit(sp.csr_matrix(X) if sparse else X, y)


def _public_fitted(model):
    return {k: v for k, v in vars(model).items() if k.endswith("_") and k[0] != "_"}


def _assert_same_fit(a, b):
    fa, fb = _public_fitted(a), _public_fitted(b)
    assert fa.keys() == fb.keys()
    for name, value in fa.items():
        other = fb[name]
        if sp.issparse(value):
            assert (value != other).nnz == 0, name
        else:
            np.testing.assert_array_equal(value, other, err_msg=name)


@pytest.mark.parametrize("template, sparse, targets", CASES, ids=IDS)
def test_verbose_writes_on_stderr_only_and_changes_nothing(
    template, sparse, targets, capsys
):
    quiet = _fit(template, sparse, targets, 0)
    out, err = capsys.readouterr()
    assert out == "" and err == ""
    for level in (1, True, 2):
        loud = _fit(template, sparse, targets, level)
        out, err = capsys.readouterr()
        assert out == ""
        lines = err.splitlines()
        assert lines, f"verbose={level!r} wrote nothing"
        who = f"[{type(template).__name__}] "
        assert all(line.startswith(who) for line in lines), lines
        _assert_same_fit(quiet, loud)


ONE_PER_CLASS = [0, 4, 7, 9]


@pytest.mark.parametrize(
    "template",
    [CASES[i][0] for i in ONE_PER_CLASS],
    ids=[IDS[i] for i in ONE_PER_CLASS],
)
@pytest.mark.parametrize(
    "bad, error",
    [(-1, ValueError), (1.5, TypeError), ("yes", TypeError), (None, TypeError)],
)
def test_bad_verbose_is_a_clear_error_at_fit_not_init(template, bad, error):
    model = clone(template).set_params(verbose=bad)  # __init__ only stores
    assert model.get_params()["verbose"] is bad
    X, y = _data()
    with pytest.raises(error, match="verbose"):
        model.fit(X, y)


def test_numpy_integer_verbose_is_accepted(capsys):
    X, y = _data()
    RegularityRidge(alpha="loo", verbose=np.int64(1)).fit(X, y)
    assert capsys.readouterr().err.startswith("[RegularityRidge] ")


def test_gamma_search_lines_count_its_eigendecompositions(monkeypatch, capsys):
    """Each evaluation line of the gamma search is one eigendecomposition,
    and its summary line says how many there were and which gamma won."""
    calls = []
    real = skrt._kernel_search.decompose_kernel

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(skrt._kernel_search, "decompose_kernel", counting)
    X, y = _data(n=60)
    model = RegularityKernelRidge(alpha="loo", kernel="rbf", gamma="loo", verbose=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularityBoundWarning)
        model.fit(X, y)
    lines = capsys.readouterr().err.splitlines()
    n_search = len(calls)
    assert n_search > 0
    evaluations = [line for line in lines if "gamma search, evaluation" in line]
    assert len(evaluations) == n_search
    summary = [line for line in lines if "evaluations, best gamma=" in line]
    assert len(summary) == 1
    assert f"gamma search: {n_search} evaluations" in summary[0]
    assert f"best gamma={model.gamma_:.4g}" in summary[0]


def test_sgdf_writes_one_line_per_epoch(capsys):
    X, y = _data(n=200)
    model = SGDFRegressor(max_iter=25, tol=None, random_state=0, verbose=1)
    model.fit(X, y)
    lines = capsys.readouterr().err.splitlines()
    epochs = [line for line in lines if " epoch " in line]
    assert len(epochs) == model.n_iter_ == 25
    assert epochs[-1].startswith("[SGDFRegressor] epoch 25/25:")


def test_sgdf_partial_fit_and_refine_tangent_are_silent_at_zero(capsys):
    X, y = _data(n=100)
    model = SGDFRegressor(max_iter=5, tol=None, random_state=0)
    model.partial_fit(X, y)
    model.refine_tangent(X, y, n_iter=2)
    assert capsys.readouterr() == ("", "")
    model.set_params(verbose=1).partial_fit(X, y)
    model.refine_tangent(X, y, n_iter=2)
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 2


class _CountingRidge(RegularityRidge):
    fits = 0

    def fit(self, X, y, sample_weight=None):
        type(self).fits += 1
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize(
    "fraction, step, rounds",
    [(0.8, 0.2, 4), (0.5, None, 1), (0.3, 0.07, 5), (0.0, 0.1, 0)],
)
def test_summarize_says_each_refit(fraction, step, rounds, capsys):
    X, y = _data(n=100)
    quiet = summarize(RegularityRidge(alpha=1.0), X, y, fraction, step=step)
    assert capsys.readouterr() == ("", "")
    _CountingRidge.fits = 0
    loud = summarize(_CountingRidge(alpha=1.0), X, y, fraction, step=step, verbose=1)
    out, err = capsys.readouterr()
    np.testing.assert_array_equal(quiet, loud)
    assert out == ""
    lines = err.splitlines()
    assert all(line.startswith("[summarize] ") for line in lines)
    round_lines = [line for line in lines if " round " in line and "/" in line]
    assert len(round_lines) == _CountingRidge.fits == rounds
    assert lines[-1].startswith(f"[summarize] kept {loud.size} of 100 samples")


@pytest.mark.parametrize("bad, error", [(-2, ValueError), ("1", TypeError)])
def test_summarize_bad_verbose_before_any_fit(bad, error):
    _CountingRidge.fits = 0
    X, y = _data()
    with pytest.raises(error, match="verbose"):
        summarize(_CountingRidge(), X, y, 0.5, verbose=bad)
    assert _CountingRidge.fits == 0


def test_many_users_say_the_shared_fit_and_each_user(capsys):
    X, y = _data(n=90)
    groups = np.repeat(["ann", "bob", "cy"], 30)
    quiet = MultiUserRegularity().fit(X, y, groups=groups)
    assert capsys.readouterr() == ("", "")
    loud = MultiUserRegularity(verbose=1).fit(X, y, groups=groups)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 1 + 3
    assert all(line.startswith("[MultiUserRegularity] ") for line in lines)
    assert "shared model on 90 rows" in lines[0]
    assert [line.split("(")[1].split(",")[0] for line in lines[1:]] == [
        "'ann'",
        "'bob'",
        "'cy'",
    ]
    np.testing.assert_array_equal(
        quiet.predict(X, groups=groups), loud.predict(X, groups=groups)
    )
    MultiUserRegularity(verbose=2).fit(X, y, groups=groups)
    assert "[RegularityRidge] " in capsys.readouterr().err
    with pytest.raises(ValueError, match="verbose"):
        MultiUserRegularity(verbose=-1).fit(X, y, groups=groups)
