"""MultiUserRegularity on hostile input: every case states its outcome.

Correct cases are checked against the two-level model solved exactly in
rational arithmetic (``fractions``; docs/math.rst, math-prior): the shared ridge
``θ̃₀ = M₀⁻¹ X̃ᵀWy`` with ``M₀ = X̃ᵀWX̃ + sP`` (P leaves the intercept free),
each user's ``θ̃ᵤ = Mᵤ⁻¹ (X̃ᵤᵀWᵤyᵤ + sPθ̃₀)`` and the tangents
``θ̃̇₀ = -M₀⁻¹Pθ̃₀``, ``θ̃̇ᵤ = Mᵤ⁻¹P(θ̃₀ + sθ̃̇₀ - θ̃ᵤ)``; a user without data (or
with zero weights only) is the shared model. Cases whose alpha is chosen by
leave-one-out use per-user :class:`RegularityRidge` refits as the oracle.
"""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

from skrt import MultiUserRegularity, RegularityLasso, RegularityRidge, prior_from
from skrt.query import regularity_sampling

from ._harness import Case, Correct, Raises, Warns, params, rel_err, run_case

_RNG = np.random.RandomState(8)
N, P = 24, 3
X0 = _RNG.randn(N, P)
G0 = np.repeat([0, 1, 2], [10, 9, 5])
Y0 = X0 @ [1.0, -2.0, 0.5] + 0.3 * G0 * X0[:, 2] + 0.2 * _RNG.randn(N) + 1.0
W0 = _RNG.uniform(0.5, 2.0, N)


# ----------------------------------------------------------------- oracle
def _solve(M, b):
    """Exact Gauss-Jordan on Fractions."""
    k = len(b)
    A = [list(M[i]) + [b[i]] for i in range(k)]
    for c in range(k):
        piv = next(r for r in range(c, k) if A[r][c] != 0)
        A[c], A[piv] = A[piv], A[c]
        for r in range(k):
            if r != c and A[r][c] != 0:
                f = A[r][c] / A[c][c]
                A[r] = [a - f * b for a, b in zip(A[r], A[c], strict=True)]
    return [A[i][k] / A[i][i] for i in range(k)]


def _system(rows, ys, ws, s, pen, prior=None):
    k = len(pen)
    M = [[Fraction(0)] * k for _ in range(k)]
    r = [Fraction(0)] * k
    for x, yi, wi in zip(rows, ys, ws, strict=True):
        for a in range(k):
            r[a] += wi * x[a] * yi
            for b in range(k):
                M[a][b] += wi * x[a] * x[b]
    for a in range(k):
        M[a][a] += s * pen[a]
        if prior is not None:
            r[a] += s * pen[a] * prior[a]
    return M, r


def exact_two_level(X, y, groups, w, s, fit_intercept=True, s_user=None):
    """``{user: (θ̃, θ̃̇)}`` and the shared ``(θ̃₀, θ̃̇₀)``, exactly."""
    F = np.vectorize(Fraction, otypes=[object])
    Xd = X.toarray() if sp.issparse(X) else np.asarray(X, float)
    Xt = F(np.column_stack([np.ones(len(y)), Xd]) if fit_intercept else Xd)
    pen = [0] * fit_intercept + [1] * Xd.shape[1]
    ys, ws, s = F(np.asarray(y, float)), F(np.asarray(w, float)), Fraction(s)
    M0, r0 = _system(Xt, ys, ws, s, pen)
    theta0 = _solve(M0, r0)
    dot0 = [-v for v in _solve(M0, [p * t for p, t in zip(pen, theta0, strict=True)])]
    su = s if s_user is None else Fraction(s_user)
    users = {}
    for u in dict.fromkeys(np.asarray(groups).tolist()):
        rows = [i for i, g in enumerate(np.asarray(groups).tolist()) if g == u]
        rows = [i for i in rows if ws[i] > 0]
        if not rows:
            users[u] = (theta0, dot0)
            continue
        M, r = _system(Xt[rows], ys[rows], ws[rows], su, pen, prior=theta0)
        theta = _solve(M, r)
        drift = [
            p * (t0 + su * d0 - t)
            for p, t0, d0, t in zip(pen, theta0, dot0, theta, strict=True)
        ]
        users[u] = (theta, _solve(M, drift))
    return users, (theta0, dot0)


def _apply(X, theta, fit_intercept):
    Xd = X.toarray() if sp.issparse(X) else np.asarray(X, float)
    Xt = np.column_stack([np.ones(len(Xd)), Xd]) if fit_intercept else Xd
    F = np.vectorize(Fraction, otypes=[object])
    return np.array([float(v) for v in F(Xt) @ np.array(theta, dtype=object)])


def matches_exact(
    X,
    y,
    groups,
    w=None,
    *,
    alpha=2.0,
    fit_intercept=True,
    X_new=None,
    g_new=None,
    s_user=None,
    tangent=True,
    tol=1e-8,
):
    """Correct: predictions (and tangents) of the fitted model at
    ``X_new``/``g_new`` equal the exact two-level solution."""
    w = np.ones(len(y)) if w is None else w
    X_new = X if X_new is None else X_new
    g_new = groups if g_new is None else g_new

    def check(model):
        users, shared = exact_two_level(X, y, groups, w, alpha, fit_intercept, s_user)
        gl = np.asarray(g_new).tolist()
        for method, part in (("predict", 0), ("predict_tangent", 1))[: 1 + tangent]:
            got = getattr(model, method)(X_new, groups=g_new)
            want = np.empty(len(gl))
            for u in dict.fromkeys(gl):
                rows = [i for i, g in enumerate(gl) if g == u]
                theta = users.get(u, shared)[part]
                want[rows] = _apply(X_new[rows], theta, fit_intercept)
            assert rel_err(got, want) < tol, (method, rel_err(got, want))

    return Correct(check)


def matches_refits(X, y, groups, w=None, **params):
    """Correct: per-user RegularityRidge fits pulled toward the shared one."""
    w = np.ones(len(y)) if w is None else w

    def check(model):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            shared = RegularityRidge(alpha=params.get("alpha", "loo")).fit(
                X, y, sample_weight=w
            )
            for u in np.unique(groups):
                mine = groups == u
                rows = mine & (w > 0)  # zero weights are no data
                alpha = params.get("user_alpha", "shared")
                alpha = shared.alpha_ if alpha == "shared" or rows.sum() < 3 else alpha
                own = shared
                if rows.any():
                    own = RegularityRidge(alpha=alpha, prior=prior_from(shared))
                    own.fit(X[rows], y[rows], sample_weight=w[rows])
                g = groups[mine]
                want = own.predict_tangent(X[mine])
                assert np.allclose(
                    model.predict(X[mine], groups=g), own.predict(X[mine])
                )
                assert np.allclose(
                    model.predict_tangent(X[mine], groups=g),
                    want,
                    atol=1e-8 * np.abs(want).max(),
                )

    return Correct(check)


# --------------------------------------------------------------- helpers
def fit(X=X0, y=Y0, groups=G0, w=None, **params):
    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            return MultiUserRegularity(**params).fit(
                X, y, groups=groups, sample_weight=w
            )

    return call


def then(method, *args, **kwargs):
    """Fit on the clean panel, then call ``method`` (predict, query, ...)."""

    def call():
        model = MultiUserRegularity(alpha=2.0).fit(X0, Y0, groups=G0)
        return getattr(model, method)(*args, **kwargs)

    return call


def query_check(user, n=3):
    """Correct: the user's query is the per-user model's query."""

    def check(result):
        idx, scores = result
        model = MultiUserRegularity(alpha=2.0).fit(X0, Y0, groups=G0)
        own = RegularityRidge(alpha=2.0, prior=prior_from(model.shared_))
        rows = G0 == user
        own.fit(X0[rows], Y0[rows])
        want_idx, want = regularity_sampling(own, X0 * 1.5, n, random_state=0)
        assert rel_err(scores, want) < 1e-8
        assert idx.tolist() == want_idx.tolist()

    return Correct(check)


def then_l1(method, *args, **kwargs):
    """Fit ``penalty="l1"`` on the clean panel, then call ``method``."""

    def call():
        model = MultiUserRegularity(alpha=2.0, penalty="l1").fit(X0, Y0, groups=G0)
        return getattr(model, method)(*args, **kwargs)

    return call


def inherited_scores(result):
    """A new user's scores are the shared ridge's (fitted here on its own)."""
    shared = RegularityRidge(alpha=2.0).fit(X0, Y0)
    assert rel_err(result[1], shared.score_samples(X0)) < 1e-10


def lasso_refits(pred):
    """Each user's predictions are a RegularityLasso pulled toward the shared."""
    prior = prior_from(RegularityRidge(alpha=2.0).fit(X0, Y0))
    for u in range(3):
        rows = G0 == u
        own = RegularityLasso(alpha=2.0, prior=prior).fit(X0[rows], Y0[rows])
        assert rel_err(pred[rows], own.predict(X0[rows])) < 1e-8


def _same_as_keyword(method):
    """Check: the result equals ``method(X0, groups=G0)``."""

    def check(result):
        model = MultiUserRegularity(alpha=2.0).fit(X0, Y0, groups=G0)
        assert np.array_equal(result, getattr(model, method)(X0, groups=G0))

    return check


_GRADED = X0 * [1e6, 1.0, 1e-6]
_G_STR = np.array(["ann", "bob", "cy"])[G0]
_G_TUPLE = np.empty(N, dtype=object)
_G_TUPLE[:] = [("u", int(g)) for g in G0]
_NAN_ROW = X0.copy()
_NAN_ROW[3, 1] = np.nan
_INF_ROW = X0.copy()
_INF_ROW[5, 0] = np.inf
_W_ZERO_USER = np.where(G0 == 2, 0.0, W0)
_X_STR = X0.astype(object)
_X_STR[2, 2] = "abc"
_MIXED_NEW = [0, 99, 1, "new"]

# ------------------------------------------------------------------ cases
_GROUPS_BAD = {
    "nan": (np.where(np.arange(N) == 4, np.nan, G0.astype(float)), r"groups holds NaN"),
    "none": (
        [None if i == 4 else int(g) for i, g in enumerate(G0)],
        "groups holds None",
    ),
    "inf": (np.where(np.arange(N) == 4, np.inf, G0.astype(float)), "groups holds inf"),
    "minus_inf_list": ([float(g) for g in G0[:-1]] + [-np.inf], "groups holds inf"),
    "nan_in_strings": (np.array([*_G_STR[:-1], np.nan], object), "groups holds NaN"),
    "nat": (np.array(["2024-01-01"] * (N - 1) + ["NaT"], "datetime64[D]"), "NaT"),
    "mixed_str_float": ([*_G_STR[:-1].tolist(), 1.0], "groups mixes number and str"),
    "mixed_bytes_str": ([*_G_STR[:-1].tolist(), b"ann"], "groups mixes bytes and str"),
    "unhashable": ([{}] * N, "groups labels must be hashable"),
    "wrong_length": (G0[:-1], rf"groups must have shape \({N},\)"),
    "two_d": (G0[:, None], rf"groups must have shape \({N},\).*\({N}, 1\)"),
    "empty": ([], rf"groups must have shape \({N},\)"),
    "scalar": (3, rf"groups must have shape \({N},\)"),
    "ragged": ([[1, 2], [3]] + [[0]] * (N - 2), "groups must have shape .*ragged"),
    "sparse": (sp.csr_matrix(G0[:, None]), "groups must be a 1-D array"),
}

CASES = [
    # ---------------------------------------------------------- correct
    Case("ordinary", fit(alpha=2.0), matches_exact(X0, Y0, G0)),
    Case(
        "no_intercept",
        fit(alpha=2.0, fit_intercept=False),
        matches_exact(X0, Y0, G0, fit_intercept=False),
    ),
    Case("weights", fit(w=W0, alpha=0.7), matches_exact(X0, Y0, G0, W0, alpha=0.7)),
    Case(
        "user_with_zero_weights_only",
        fit(w=_W_ZERO_USER, alpha=2.0),
        matches_exact(X0, Y0, G0, _W_ZERO_USER),
    ),
    Case(
        "extreme_weights_1e12",
        fit(w=np.where(G0 == 1, 1e12, 1.0), alpha=2.0),
        matches_exact(X0, Y0, G0, np.where(G0 == 1, 1e12, 1.0), tol=1e-6),
    ),
    Case(
        "unseen_users_at_predict",
        fit(alpha=2.0),
        matches_exact(X0, Y0, G0, X_new=X0[:4], g_new=[0, 99, 1, 77]),
    ),
    Case(
        "string_groups",
        fit(groups=_G_STR, alpha=2.0),
        matches_exact(X0, Y0, _G_STR, X_new=X0[:4], g_new=["bob", "ann", "dee", "cy"]),
    ),
    Case(
        "tuple_groups", fit(groups=_G_TUPLE, alpha=2.0), matches_exact(X0, Y0, _G_TUPLE)
    ),
    Case(
        "list_groups_ints",
        fit(groups=G0.tolist(), alpha=2.0),
        matches_exact(X0, Y0, G0),
    ),
    Case(
        "one_user",
        fit(groups=np.zeros(N, int), alpha=2.0),
        matches_exact(X0, Y0, np.zeros(N, int)),
    ),
    Case(
        "a_user_per_row",
        fit(groups=np.arange(N), alpha=2.0),
        matches_exact(X0, Y0, np.arange(N)),
    ),
    Case(
        "sparse_X",
        fit(X=sp.csr_matrix(X0), alpha=2.0),
        matches_exact(X0, Y0, G0, X_new=sp.csr_matrix(X0)),
    ),
    Case(
        "user_alpha_float",
        fit(alpha=2.0, user_alpha=0.3),
        matches_exact(X0, Y0, G0, s_user=0.3, tangent=False),
    ),
    Case(
        "duplicate_rows",
        fit(X=np.repeat(X0[:8], 3, 0), alpha=2.0),
        matches_exact(np.repeat(X0[:8], 3, 0), Y0, G0),
    ),
    Case(
        "large_offset_1e6",
        fit(X=X0 + 1e6, alpha=2.0),
        matches_exact(X0 + 1e6, Y0, G0, tol=1e-6),
    ),
    Case(
        "graded_columns",
        fit(X=_GRADED, alpha=1.0),
        matches_exact(_GRADED, Y0, G0, alpha=1.0, tol=1e-6),
    ),
    Case(
        "tiny_scale_1e-150",
        fit(X=X0 * 1e-150, alpha=2e-300),
        Raises(r"overflow float64 at alpha|X is too small in scale"),
    ),
    Case(
        "huge_scale_1e150",
        fit(X=X0 * 1e150, alpha=2e300),
        matches_exact(X0 * 1e150, Y0, G0, alpha=2e300, tol=1e-6),
    ),
    Case("alpha_1e300", fit(alpha=1e300), matches_exact(X0, Y0, G0, alpha=1e300)),
    Case(
        "loo_and_user_loo",
        fit(w=W0, user_alpha="loo"),
        matches_refits(X0, Y0, G0, W0, user_alpha="loo"),
    ),
    Case(
        "loo_zero_weight_user",
        fit(w=_W_ZERO_USER, user_alpha="loo"),
        matches_refits(X0, Y0, G0, _W_ZERO_USER, user_alpha="loo"),
    ),
    Case(
        "query_known_user",
        then("query", X0 * 1.5, 1, n_instances=3, random_state=0),
        query_check(1),
    ),
    Case(
        "query_l1_new_user",
        then_l1("query", X0, "new", n_instances=2),
        Correct(inherited_scores),
    ),
    Case(
        "l1_users_match_lasso_refits",
        then_l1("predict", X0, groups=G0),
        Correct(lasso_refits),
    ),
    # ------------------------------------------------- hostile groups
    *(
        Case(f"groups_{k}_fit", fit(groups=g, alpha=2.0), Raises(m))
        for k, (g, m) in _GROUPS_BAD.items()
    ),
    *(
        Case(f"groups_{k}_{meth}", then(meth, X0, groups=g), Raises(m))
        for k, (g, m) in _GROUPS_BAD.items()
        for meth in ("predict", "predict_tangent", "score_samples")
    ),
    *(
        Case(f"query_user_{k}", then("query", X0, u), Raises(m))
        for k, u, m in [
            ("nan", np.nan, "user .*NaN"),
            ("none", None, "user .*None"),
            ("inf", np.inf, "user .*inf"),
            ("list", [0], "user .*hashable"),
            ("nat", np.datetime64("NaT"), "user .*NaT"),
        ]
    ),
    Case("user_model_nan", then("user_model", float("nan")), Raises("user .*NaN")),
    # --------------------------------------------------- hostile X, y, w
    Case("X_nan", fit(X=_NAN_ROW), Raises("X contains NaN")),
    Case("X_inf", fit(X=_INF_ROW), Raises("X contains infinity")),
    Case("X_text", fit(X=_X_STR), Raises("could not convert|abc")),
    Case("X_1d", fit(X=X0[:, 0]), Raises("Expected 2D array")),
    Case(
        "X_empty", fit(X=np.empty((0, P)), y=np.empty(0), groups=[]), Raises("0 sample")
    ),
    Case(
        "X_1e300",
        fit(X=X0 * 1e300, alpha=2.0),
        Raises(r"\bX\b.*(scale|large|overflow|1e\+?300)"),
    ),
    Case("y_nan", fit(y=np.r_[np.nan, Y0[1:]]), Raises("y contains NaN")),
    Case(
        "y_text",
        fit(y=np.r_[["a"], Y0[1:].astype(str)]),
        Raises("could not convert|numeric"),
    ),
    Case("y_wrong_length", fit(y=Y0[:-1]), Raises("inconsistent numbers of samples")),
    Case("y_two_columns", fit(y=np.c_[Y0, Y0]), Raises("y should be a 1d array")),
    Case("w_negative", fit(w=-W0), Raises("sample_weight must be non-negative")),
    Case("w_nan", fit(w=np.r_[np.nan, W0[1:]]), Raises("sample_weight contains NaN")),
    Case(
        "w_inf",
        fit(w=np.r_[np.inf, W0[1:]]),
        Raises("sample_weight contains NaN or inf"),
    ),
    Case("w_all_zero", fit(w=np.zeros(N)), Raises("sample_weight sums to zero")),
    Case(
        "w_wrong_shape",
        fit(w=W0[:-1]),
        Raises(rf"sample_weight must have shape \({N},\)"),
    ),
    Case("w_text", fit(w=["a"] * N), Raises("sample_weight")),
    # -------------------------------------------------- hostile params
    *(
        Case(f"user_alpha_{k}", fit(user_alpha=v), Raises(m))
        for k, v, m in [
            ("zero", 0.0, "user_alpha must be a positive"),
            ("negative", -1.0, "user_alpha must be a positive"),
            ("nan", np.nan, "user_alpha must be a positive finite"),
            ("inf", np.inf, "user_alpha must be a positive finite"),
            ("gcv", "gcv", r"user_alpha must be .*\['shared', 'loo'\]"),
            ("list", [1.0], "user_alpha must be"),
            ("bool", True, "user_alpha must be"),
        ]
    ),
    *(
        Case(f"alpha_{k}", fit(alpha=v), Raises(m))
        for k, v, m in [
            ("zero", 0.0, "alpha must be a positive"),
            ("nan", np.nan, "alpha must be a positive finite"),
            ("inf", np.inf, "alpha must be a positive finite"),
            ("text", "best", "alpha must be"),
            ("none", None, "alpha must be"),
        ]
    ),
    *(
        Case(f"alpha_bounds_{k}", fit(alpha_bounds=v), Raises(m))
        for k, v, m in [
            ("reversed", (10.0, 1.0), "alpha_bounds must satisfy"),
            ("nan", (np.nan, 1.0), "alpha_bounds must satisfy"),
            ("zero", (0.0, 1.0), "alpha_bounds must satisfy"),
            ("text", "wide", "alpha_bounds must be"),
        ]
    ),
    Case("penalty_l3", fit(penalty="l3"), Raises("penalty must be one of")),
    Case(
        "l1_with_user_loo",
        fit(penalty="l1", user_alpha="loo"),
        Raises("user_alpha='loo' needs exact leave-one-out"),
    ),
    Case(
        "fit_intercept_text", fit(fit_intercept="yes"), Raises("fit_intercept must be")
    ),
    # ------------------------------------------- predict / query inputs
    Case(
        "predict_wrong_width",
        then("predict", X0[:, :2], groups=G0),
        Raises("X has 2 features"),
    ),
    Case("predict_nan", then("predict", _NAN_ROW, groups=G0), Raises("X contains NaN")),
    Case(
        "predict_mixed_unseen",
        then("predict", X0[:4], groups=_MIXED_NEW),
        Raises("groups mixes number and str"),
    ),
    Case("query_n_zero", then("query", X0, 0, n_instances=0), Raises("n_instances")),
    Case(
        "query_heuristic",
        then("query", X0, 0, heuristic="nope"),
        Raises("heuristic must be one of"),
    ),
    Case("query_pool_width", then("query", X0[:, :2], 0), Raises("X has 2 features")),
    Case(
        "query_pool_1e300",
        then("query", X0 * 1e300, 0, n_instances=2),
        Raises(r"X_pool.*1e\+300|X_pool.*scale"),
    ),
    Case(
        "score_samples_heuristic",
        then("score_samples", X0, groups=G0, heuristic="x"),
        Raises("heuristic must be one of"),
    ),
    # ------------------ groups is keyword-only (positional: deprecated)
    Case(
        "predict_groups_by_position",
        then("predict", X0, G0),
        Warns(FutureWarning, "groups .*keyword-only", _same_as_keyword("predict")),
    ),
    Case(
        "score_samples_y_by_position",
        # the estimators' score_samples(X, y): here y would be user labels
        then("score_samples", X0, Y0),
        Warns(FutureWarning, "score_samples by position is deprecated"),
    ),
    Case(
        "predict_groups_twice",
        then("predict", X0, G0, groups=G0),
        Raises("multiple values for 'groups'"),
    ),
    Case(
        "score_samples_three_positional",
        then("score_samples", X0, G0, "sld", "extra"),
        Raises("at most 2 more positional"),
    ),
]


@pytest.mark.parametrize("case", params(CASES))
def test_users_case(case):
    run_case(case)
