r"""The methods of a ridge fitted on Dask arrays, and predictions on a Dask X.

A :class:`~skrt.RegularityRidge` fitted on a ``dask.array``
(:mod:`skrt._dask_ridge`) keeps a :class:`skrt._dask_spectral.DaskSpectral`
and references to its training arrays; the methods that need the training
rows again come here (``skrt._base`` dispatches) and **re-read** them from
those references, a chunk at a time (they are never held in memory):

* :func:`sample_information` and :func:`influence_diagnostics`: lazy dask
  arrays chunked like the training rows, the numpy path's closed forms
  (:mod:`skrt._influence`) applied to each chunk's rows;
* :func:`loo_curve`: one pass;
* :func:`reference`: the SSI reference (``heuristic="ssi"``), a Gram summed
  in one pass (then kept), returned as an equivalent small set of
  coordinates.

:func:`predict_rows` maps ``predict``, ``predict_tangent`` or
``predict(return_std=True)`` of any fitted estimator over the row chunks of
a Dask X (lazy; on the workers a light copy of the model, without training
rows).
"""

from __future__ import annotations

import warnings

import dask
import dask.array as da
import numpy as np

from ._dask_ridge import Passes, lazy_rows, sum_all
from ._dask_spectral import map_row_blocks
from ._influence import (
    check_diagnostics_defined,
    check_kind,
    check_noise_variance,
    functional_information_gram,
    training_coordinates,
    weight_information,
)
from ._influence import influence_diagnostics as diagnostics_of
from ._linalg import removed_fraction

__all__ = [
    "influence_diagnostics",
    "loo_curve",
    "predict_rows",
    "reference",
    "sample_information",
]

# the order of influence_diagnostics' outputs (as the numpy path's dict)
_DIAGNOSTICS = (
    "studentized_residuals_internal",
    "studentized_residuals_external",
    "cooks_distance",
    "dffits",
    "loo_noise_variance",
    "dfbeta",
    "dfbetas",
    "residuals",
    "leverage",
    "self_influence",
)


def _check_X(est, X, name="X"):
    """A dask X for a fitted model: 2-d, its number of features."""
    if not isinstance(X, da.Array):
        raise TypeError(
            f"{name} is a {type(X).__name__}: give a dask.array (or a numpy array)."
        )
    if X.ndim != 2 or X.shape[1] != est.n_features_in_:
        raise ValueError(
            f"{name} has shape {X.shape}, but {type(est).__name__} is expecting "
            f"{est.n_features_in_} features as input."
        )
    return X.rechunk({1: -1})


def _call(model, method, block, kwargs):
    """``model.<method>(block)``; a model fitted with feature names takes
    the dask array's unnamed blocks without a warning per block."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "X does not have valid feature names")
        return getattr(model, method)(block, **kwargs)


def _rows_call(block, model, method, kwargs):
    out = _call(model, method, block, kwargs)
    parts = out if isinstance(out, tuple) else (out,)
    return np.hstack([np.reshape(a, (a.shape[0], -1)) for a in parts])


def predict_rows(est, X, method="predict", **kwargs):
    """``est.<method>(X, **kwargs)`` over the row chunks of a dask X: lazy
    dask arrays (a tuple of them where the method returns a tuple)."""
    X = _check_X(est, X)
    model = est._light_copy()
    probe = _call(model, method, np.zeros((1, X.shape[1])), kwargs)
    parts = probe if isinstance(probe, tuple) else (probe,)
    shapes = [np.shape(a)[1:] for a in parts]
    widths = [int(np.prod(s)) for s in shapes]
    model = dask.delayed(model, pure=True)
    stacked = da.map_blocks(
        _rows_call,
        X,
        model,
        method,
        kwargs,
        dtype=float,
        chunks=(X.chunks[0], (sum(widths),)),
        meta=np.empty((0, sum(widths))),
    )
    out, start = [], 0
    for shape, width in zip(shapes, widths, strict=True):
        piece = stacked[:, start : start + width]
        out.append(piece[:, 0] if shape == () else piece.reshape((-1, *shape)))
        start += width
    return tuple(out) if isinstance(probe, tuple) else out[0]


def _data(est, what):
    spec = est._spectral
    if spec.data is None:
        raise ValueError(
            f"{what} re-reads the Dask training data, and this copy of the model "
            "has no reference to it; refit it."
        )
    return spec, spec.data


def loo_curve(est, alphas):
    """Exact LOO error at each alpha: one pass over the training rows."""
    spec, (X, Y, w) = _data(est, "loo_curve")
    return Passes(X, Y, w).sums(spec, np.atleast_1d(alphas))["loo"]


# -- sample information ---------------------------------------------------------


def _information_block(X, Y, w, spec, s, sigma2, gram, n_val):
    def block(part):
        if gram is None:
            return weight_information(part, s, sigma2)[:, None]
        return functional_information_gram(part, s, sigma2, gram, n_val)[:, None]

    return map_row_blocks(spec, block, X, Y, w)


def _coordinates_gram(X, model, spec):
    # validated as a numpy X_val is: NaN, text, a wrong width are named
    Q = model._influence_coordinates(model._validate_X(X), spec)
    return np.concatenate([[Q.shape[0]], (Q.T @ Q).ravel()])


def _validation_gram(est, X_val):
    """``(QᵀQ, n_val)`` of validation inputs (numpy, or dask: one pass)."""
    spec = est._spectral
    if not isinstance(X_val, da.Array):
        X_val = est._validate_X(X_val)
        if X_val.shape[0] == 0:
            raise ValueError("X_val has no rows.")
        Q = est._influence_coordinates(X_val, spec)
        gram, n_val = Q.T @ Q, Q.shape[0]
    else:
        X_val = _check_X(est, X_val, "X_val")
        light = est._light_copy()
        model = dask.delayed(light, pure=True)
        basis = dask.delayed(light._spectral, pure=True)
        parts = [
            dask.delayed(_coordinates_gram, pure=True)(b, model, basis)
            for b in X_val.to_delayed().ravel()
        ]
        (total,) = dask.compute(dask.delayed(sum, pure=True)(parts))
        n_val, gram = int(total[0]), total[1:]
        gram = gram.reshape(int(np.sqrt(gram.size)), -1)
        if n_val == 0:
            raise ValueError("X_val has no rows.")
    if not np.all(np.isfinite(gram)):
        raise ValueError(
            "The Gram of the validation inputs is not finite in float64 for "
            "X_val: rescale X_val and the training data alike."
        )
    return gram, n_val


def sample_information(est, X_val, kind, noise_variance):
    """SI or F-SI of every training sample: a lazy dask array chunked like
    the training rows (``ExactLOOMixin.sample_information``)."""
    check_kind(kind)
    spec, (X, Y, w) = _data(est, "sample_information")
    s = est.alpha_
    sigma2 = noise_variance
    if sigma2 is None:
        sigma2 = np.atleast_1d(est.noise_variance_)
    sigma2 = check_noise_variance(sigma2, spec.c.shape[1])
    gram = n_val = None
    if kind == "function":
        if X_val is None:
            gram, n_val = spec.training_gram(s), spec.n_samples
        else:
            gram, n_val = _validation_gram(est, X_val)
    return lazy_rows(_information_block, spec, 1, X, Y, w, s, sigma2, gram, n_val)[:, 0]


# -- influence diagnostics ------------------------------------------------------


def _redo_rows(X, Y, w, spec, s, rss, offset):
    """The rows of a chunk whose refit RSS is summed directly: their global
    index, ``e``, ``m`` and ``P/(λ+s)`` (``_influence.influence_diagnostics``
    finds them; its values are not kept)."""
    found = []

    def block(part, first):
        def refit(rows, e, identity):
            scaled = part.P[rows] / (part.lam + s)
            m = removed_fraction(part.w[rows])
            found.append(np.column_stack([first + rows, e[rows], m, scaled]))
            return identity

        diagnostics_of(part, s, None, rss=rss, refit=refit)
        return np.zeros((part.P.shape[0], 0))

    map_row_blocks(spec, block, X, Y, w, base=offset)
    width = 3 + spec.lam.size
    return np.concatenate(found, axis=0) if found else np.zeros((0, width))


def _refit_sums(X, Y, w, spec, s, redo, offset):
    """Each redo row's refit RSS summed over this chunk's rows (the
    chunk's part of ``_influence.refit_rss``)."""
    idx, e, m, scaled = redo[:, 0], redo[:, 1], redo[:, 2], redo[:, 3:]

    def block(part, first):
        resid = part.residual(s)[:, 0]
        kappa = part.intercept_leverage + scaled @ part.P.T  # (R, b)
        refit = resid[None, :] + e[:, None] * kappa
        weights = np.repeat(part.w[None, :], idx.size, axis=0)
        rows = idx.astype(np.int64) - first
        mine = (rows >= 0) & (rows < part.P.shape[0])
        weights[np.flatnonzero(mine), rows[mine]] -= m[mine]
        return np.einsum("ij,ij->i", weights, refit**2)[None, :]

    return map_row_blocks(spec, block, X, Y, w, extra=idx.size, base=offset).sum(axis=0)


def _diagnostics_block(X, Y, w, spec, s, basis, rss, redone, block_info=None):
    offset = block_info[0]["array-location"][0][0]

    def block(part, first):
        def refit(rows, e, identity):
            return np.array(
                [
                    redone.get(int(first + r), v)
                    for r, v in zip(rows, identity, strict=True)
                ]
            )

        out = diagnostics_of(part, s, basis, rss=rss, refit=refit)
        return np.column_stack(
            [
                np.reshape(out[key], (part.P.shape[0], -1))
                for key in _DIAGNOSTICS
                if key in out
            ]
        )

    return map_row_blocks(spec, block, X, Y, w, base=offset)


def _concat(parts):
    return np.concatenate(parts, axis=0)


def influence_diagnostics(est, dfbeta):
    """The diagnostics of every training sample as lazy dask arrays chunked
    like the training rows (``ExactLOOMixin.influence_diagnostics``).

    The call reads the training rows once to find the rare samples whose
    refit RSS the closed form cannot give without cancellation (and once
    more to sum those RSS when there are any); computing the result reads
    them again.
    """
    spec, (X, Y, w) = _data(est, "influence_diagnostics")
    s = est.alpha_
    rss = float(spec.rss(s)[0])
    dof = float(spec.residual_dof(s))
    check_diagnostics_defined(dof, min(spec.w_max, 1.0), spec.w_sum, rss)
    passes = Passes(X, Y, w)
    redo = passes.reduce(_redo_rows, _concat, spec, s, rss, offsets=True)
    redone = {}
    if redo.shape[0]:
        sums = passes.reduce(_refit_sums, sum_all, spec, s, redo, offsets=True)
        redone = dict(zip(redo[:, 0].astype(int).tolist(), sums.tolist(), strict=True))
    basis = (spec.V, spec.x_mean) if dfbeta else None
    q = spec.V.shape[0] + int(spec.fit_intercept)
    widths = {key: 1 for key in _DIAGNOSTICS}
    if dfbeta:
        widths["dfbeta"] = widths["dfbetas"] = q
    else:
        del widths["dfbeta"], widths["dfbetas"]
    stacked = lazy_rows(
        _diagnostics_block, spec, sum(widths.values()), X, Y, w, s, basis, rss, redone
    )
    out, start = {}, 0
    for key, width in widths.items():
        piece = stacked[:, start : start + width]
        out[key] = piece if key in ("dfbeta", "dfbetas") else piece[:, 0]
        start += width
    return out


# -- the SSI reference ----------------------------------------------------------


def _ssi_grams(X, Y, w, spec, s):
    def block(part):
        T = training_coordinates(part)
        r = part.residual(s)
        return np.stack(
            [(T * (part.w * r[:, j] ** 2)[:, None]).T @ T for j in range(r.shape[1])]
        )[None]

    return map_row_blocks(spec, block, X, Y, w).sum(axis=0)


def _square_root(G):
    """R with ``RᵀR = G`` (G symmetric positive semi-definite)."""
    d, U = np.linalg.eigh(G)
    return (U * np.sqrt(np.maximum(d, 0.0))).T


def reference(est, heuristic):
    """``(T, omegas)`` of the SSI heuristics for a Dask fit: for each
    target a square root ``R_j`` of ``Σ_i ω_ij t_i t_iᵀ`` (the only thing the
    pool scorer takes of the training coordinates), stacked, with
    ``ω_j`` the indicator of its rows. ``"ssi_unlabeled"`` is a closed form;
    ``"ssi"`` sums one Gram per target in one pass (then cached)."""
    spec = est._spectral
    if heuristic == "ssi_unlabeled":
        R = _square_root(spec.unlabeled_reference_gram())
        return R, [np.ones(R.shape[0])]
    grams = spec.cache.get("ssi")
    if grams is None:
        _, (X, Y, w) = _data(est, "heuristic='ssi'")
        grams = Passes(X, Y, w).reduce(_ssi_grams, sum_all, spec, est.alpha_)
        spec.cache["ssi"] = grams
    roots = [_square_root(G) for G in grams]
    T = np.vstack(roots)
    size = roots[0].shape[0]
    omegas = []
    for j in range(len(roots)):
        om = np.zeros(T.shape[0])
        om[j * size : (j + 1) * size] = 1.0
        omegas.append(om)
    return T, omegas


def score_samples(est, X, y, heuristic, random_state):
    """``est.score_samples`` of a dask ``X`` (and dask or array ``y``): a
    lazy dask array chunked like ``X``'s rows (:func:`skrt._dask_query.
    dask_score_samples`); the labeled form's ``L'(r)²`` is computed per block
    by a light copy of ``est``, so a Dask fit's training references stay off
    the workers."""
    from ._batch import quiet
    from ._dask_query import dask_score_samples

    weight = None
    if y is not None:
        model = est._light_copy()

        def weight(rows, labels):  # L'(r)² of a block's validated rows
            with quiet():
                return model._loss_gradient(model._residual(rows, labels)) ** 2

    acquisition = est.__skrt_acquisition__()
    return dask_score_samples(acquisition, X, heuristic, weight, random_state, y=y)
