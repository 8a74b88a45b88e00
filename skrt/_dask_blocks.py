r"""A ``dask`` collection as a query pool: its row blocks, passes over them,
and the host-side choices that reproduce the in-memory query's ties
(docs/math.rst, :ref:`math-greedy`; :mod:`skrt._dask_query`).

**Blocks.** A dask array (its columns joined into one chunk) or a dask
DataFrame (its partitions) is a list of row blocks with known offsets. Every
computation is a *pass*: one task per block that turns the block into the
validated pool rows (the Pipeline's earlier steps, then
``Acquisition.validate``, :class:`BlockPrep`), applies a module-level numpy
function of the acquisition, and returns something small (a block's best
candidates, its per-row scores, a maximum). The acquisition travels to the
workers once per pass, as one key of the graph: its parts are the numpy
functions of a numpy-fitted (or dask-fitted) model.

**Ties.** The in-memory query breaks ties by a permutation of the whole pool
drawn from ``random_state`` (``skrt._querying._ranked``: a stable sort of the
permuted scores; a greedy pick: the first maximum in a fresh permutation).
A dask query draws the same permutations, on the host and in the same order,
but only when a tie decides (:class:`TieDraws`): a pass reports each block's
candidates at its maximum (up to :data:`TIE_CAP`, with their count), and
where more tie than were reported, a further pass brings a boolean mask
(one byte a row) to the host. A draw costs ``n_pool`` int64 on the host
(160 MB and about a second for 2·10⁷ rows).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from ._acquisition import Acquisition
from ._array_api import is_dask_collection
from ._batch import quiet, raise_not_finite

__all__ = [
    "BlockPrep",
    "DaskPool",
    "ReducedReference",
    "TIE_CAP",
    "TieDraws",
    "first_in_order",
    "is_dask_collection",
    "ranked_among",
    "stack_rows",
]

#: candidates a block reports at its maximum before a mask pass is needed
TIE_CAP = 64


def stack_rows(A, B):
    """``A`` over ``B`` (dense, or sparse when either is)."""
    if sp.issparse(A) or sp.issparse(B):
        return sp.vstack([sp.csr_matrix(A), sp.csr_matrix(B)], format="csr")
    return np.vstack([A, B])


def take_rows(X, index):
    """Rows ``index`` of a dense or sparse block, dense."""
    rows = X[np.asarray(index, dtype=np.int64)]
    return rows.toarray() if sp.issparse(rows) else np.asarray(rows)


class BlockPrep:
    """A row block into validated pool rows, and the acquisition that scores
    them; picklable (an :class:`~skrt._acquisition.Acquisition` is not: its
    ``reasons`` are a read-only mapping), rebuilt once per process.

    Parameters
    ----------
    acquisition : Acquisition
    transform : callable or None
        The Pipeline's steps before the model (row-wise).
    """

    def __init__(self, acquisition, transform):
        fields = {
            f.name: getattr(acquisition, f.name)
            for f in dataclasses.fields(acquisition)
        }
        fields["reasons"] = dict(acquisition.reasons)
        self.fields = fields
        self.transform = transform
        self._acquisition = acquisition

    def __getstate__(self):
        return {"fields": self.fields, "transform": self.transform}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._acquisition = None

    @property
    def acquisition(self):
        """The :class:`~skrt._acquisition.Acquisition`."""
        if self._acquisition is None:
            self._acquisition = Acquisition(**self.fields)
        return self._acquisition

    def __call__(self, block):
        """``block`` through the transform and ``Acquisition.validate``."""
        if self.transform is not None:
            block = self.transform(block)
        return self.acquisition.validate(block)


def _run_block(block, prep, offset, fn, args, *extra):
    """One task of a pass: ``fn(acquisition, rows, offset, *args, *extra)``."""
    rows = prep(block)
    with quiet():
        return fn(prep.acquisition, rows, offset, *args, *extra)


def _block_abs_max(acquisition, X, offset):
    data = X.data if sp.issparse(X) else np.asarray(X)
    return float(np.abs(data).max(initial=0.0))


def _block_rows(acquisition, X, offset, index):
    local = index[(index >= offset) & (index < offset + X.shape[0])] - offset
    return take_rows(X, local)


def _row_blocks(X, name):
    """(delayed row blocks, their lengths, first rows to validate or None)."""

    if hasattr(X, "npartitions") and hasattr(X, "map_partitions"):  # DataFrame
        if getattr(X, "ndim", 2) != 2:
            raise TypeError(
                f"{name} must be a 2-D dask array or a dask DataFrame; got a "
                f"{type(X).__name__}."
            )
        blocks = list(X.to_delayed())
        lengths = [int(n) for n in X.map_partitions(len).compute()]
        return blocks, lengths, None
    if not hasattr(X, "chunks") or not hasattr(X, "to_delayed"):
        raise TypeError(
            f"{name} must be a 2-D dask array or a dask DataFrame; got a "
            f"{type(X).__name__}."
        )
    if X.ndim == 2 and X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    blocks = list(X.to_delayed().ravel())
    dummy = np.zeros((1,) + tuple(X.shape[1:]), dtype=X.dtype)
    return blocks, [int(n) for n in X.chunks[0]], dummy


class DaskPool:
    """A dask array or DataFrame as a query pool (module docstring).

    Nothing is computed but the row counts of a DataFrame's partitions (a
    dask array's are known) and, with a transform or a DataFrame, the first
    row (to validate the pool's columns before any pass).

    Parameters
    ----------
    X : dask.array.Array of shape (n_pool, n_features) or dask DataFrame
    transform : callable or None
    acquisition : Acquisition
        Of a numpy-fitted (or dask-fitted) model: its parts take numpy rows.
    name : str, default="X_pool"

    Attributes
    ----------
    n : int
        Rows of the pool.
    n_features : int
        Columns of a validated row.
    passes : int
        Passes over the pool so far.
    """

    is_dask_pool = True

    def __init__(self, X, transform, acquisition, name="X_pool"):
        import dask

        if getattr(acquisition, "namespace", None) is not None:
            raise ValueError(
                f"{name} is a dask collection, but the model was fitted on "
                "array-API arrays: a dask pool is scored block by block with "
                "numpy; fit the model on numpy (or dask) arrays."
            )
        self.name = name
        self.acquisition = acquisition
        self.prep = BlockPrep(acquisition, transform)
        blocks, lengths, dummy = _row_blocks(X, name)
        kept = [(b, n) for b, n in zip(blocks, lengths, strict=True) if n > 0]
        self.blocks = [b for b, _ in kept]
        self.lengths = np.array([n for _, n in kept], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(
            np.int64
        )
        self.n = int(self.lengths.sum())
        if self.n == 0:
            raise ValueError(f"{name} is empty: there is nothing to query.")
        if dummy is None or transform is not None:
            first = X.head(1, npartitions=-1) if dummy is None else X[:1].compute()
            dummy = first
        with quiet():
            self.n_features = int(self.prep(dummy).shape[1])
        self._prep_key = dask.delayed(self.prep, pure=True)
        self.passes = 0

    def for_heuristic(self, heuristic):
        """The acquisition the passes of ``heuristic`` ship: for the SSI
        forms, ``curvature.reference`` computed once here and reduced to its
        grams (:class:`ReducedReference`: r rows per target, not the
        training set's; a Dask fit's reference re-reads its training rows).
        The blocks are then prepared with it."""
        acquisition = self.acquisition
        curv = acquisition.curvature
        if heuristic not in ("ssi", "ssi_unlabeled") or curv is None:
            return acquisition
        if curv.reference is None or isinstance(curv.reference, ReducedReference):
            return acquisition
        import dask

        reduced = ReducedReference(heuristic, *curv.reference(heuristic))
        acquisition = dataclasses.replace(
            acquisition, curvature=dataclasses.replace(curv, reference=reduced)
        )
        self.acquisition = acquisition
        self.prep = BlockPrep(acquisition, self.prep.transform)
        self._prep_key = dask.delayed(self.prep, pure=True)
        return acquisition

    @property
    def shape(self):
        """``(n, n_features)`` of the validated pool."""
        return (self.n, self.n_features)

    def tasks(self, fn, *args, per_block=None):
        """One delayed ``fn(acquisition, rows, offset, *args)`` per block;
        ``args`` are shipped once (one key). ``per_block``: one more
        argument per block (a list, delayed objects allowed), passed last."""
        import dask

        shared = dask.delayed(args, pure=True, traverse=False)
        run = dask.delayed(_run_block, pure=True)
        extra = (
            [()] * len(self.blocks) if per_block is None else [(b,) for b in per_block]
        )
        return [
            run(block, self._prep_key, int(offset), fn, shared, *more)
            for block, offset, more in zip(
                self.blocks, self.offsets, extra, strict=True
            )
        ]

    def run(self, fn, *args):
        """A pass: every block's ``fn(acquisition, rows, offset, *args)``."""
        import dask

        self.passes += 1
        return list(dask.compute(*self.tasks(fn, *args)))

    def lazy(self, fn, *args, per_block=None, dtype=float):
        """The per-row results of ``fn`` (1-d per block) as a lazy dask array
        chunked like the pool's rows."""
        import dask.array as da

        tasks = self.tasks(fn, *args, per_block=per_block)
        parts = [
            da.from_delayed(task, shape=(int(n),), dtype=dtype)
            for task, n in zip(tasks, self.lengths, strict=True)
        ]
        return parts[0] if len(parts) == 1 else da.concatenate(parts)

    def rows(self, index):
        """The validated rows ``index`` (global, any order), as numpy."""
        index = np.asarray(index, dtype=np.int64)
        order = np.unique(index)
        import dask

        block = np.searchsorted(self.offsets, order, side="right") - 1
        touched = np.unique(block)
        tasks = self.tasks(_block_rows, order)
        self.passes += 1
        parts = dask.compute(*[tasks[b] for b in touched])
        rows = np.vstack(parts) if parts else np.empty((0, self.n_features))
        return rows[np.searchsorted(order, index)]

    def raise_not_finite(self, what):
        """The not-finite ValueError of :func:`skrt._batch.raise_not_finite`,
        with the pool's largest entry (one more pass)."""
        largest = max(self.run(_block_abs_max), default=0.0)
        raise_not_finite(np.array([[largest]]), self.name, what)


class ReducedReference:
    """``curvature.reference`` of one SSI heuristic reduced to its grams.

    The SSI terms use the training coordinates ``T`` and weights ``ω`` only
    through ``Tᵀ diag(ω_k) T = G_k`` (also under greedy updates: a pick's
    training column is ``T y``); rows ``T' = [L_1ᵀ; L_2ᵀ; ...]`` with
    ``G_k = L_k L_kᵀ`` and 0/1 weights selecting block ``k`` give the same
    terms from r rows per target.

    Parameters
    ----------
    heuristic : {"ssi", "ssi_unlabeled"}
    T : ndarray of shape (n_fit, r)
    omegas : list of ndarray of shape (n_fit,)
    """

    def __init__(self, heuristic, T, omegas):
        T = np.asarray(T, dtype=float)
        r, blocks = T.shape[1], []
        for om in omegas:
            G = T.T @ (np.asarray(om, dtype=float)[:, None] * T)
            lam, V = np.linalg.eigh(0.5 * (G + G.T))
            blocks.append((V * np.sqrt(np.maximum(lam, 0.0))).T)
        self.heuristic = heuristic
        self.T = np.vstack(blocks)
        self.omegas = []
        for k in range(len(blocks)):
            w = np.zeros(self.T.shape[0])
            w[k * r : (k + 1) * r] = 1.0
            self.omegas.append(w)

    def __call__(self, heuristic):
        if heuristic != self.heuristic:
            raise ValueError(
                f"this reference was reduced for heuristic={self.heuristic!r}; "
                f"got {heuristic!r}."
            )
        return self.T, self.omegas


class TieDraws:
    """The tie-breaking permutations of the in-memory query, drawn in the
    same order but only when a tie needs one.

    Each decision the in-memory query breaks with ``rng.permutation(n)``
    calls :meth:`skip` (no tie: its permutation is owed) or :meth:`draw`
    (draws the owed ones, then its own). :meth:`settle` draws what is still
    owed, leaving ``rng`` where the in-memory query leaves it.
    """

    def __init__(self, rng, n):
        self.rng, self.n, self.owed, self.drawn = rng, n, 0, 0

    def skip(self):
        self.owed += 1

    def draw(self):
        self.settle()
        self.drawn += 1
        return self.rng.permutation(self.n)

    def settle(self):
        for _ in range(self.owed):
            self.rng.permutation(self.n)
            self.drawn += 1
        self.owed = 0


def first_in_order(perm, candidates, n):
    """The candidate (global index) that comes first in ``perm``."""
    member = np.zeros(n, dtype=bool)
    member[np.asarray(candidates, dtype=np.int64)] = True
    return int(perm[np.argmax(member[perm])])


def ranked_among(index, scores, k, draws, n, complete_ties=True):
    """The first ``k`` of ``skrt._querying._ranked`` restricted to the
    candidates ``index`` (global, distinct) with ``scores``: by decreasing
    score, ties in the order of the permutation ``draws`` gives.

    Exact when every row outside ``index`` scores below the ``k``-th
    candidate's score. ``complete_ties`` False: some rows outside tie with
    the ``k``-th (the caller added them all), a draw is needed.
    """
    index, scores = np.asarray(index, dtype=np.int64), np.asarray(scores, dtype=float)
    k = min(k, index.shape[0])
    order = np.argsort(-scores, kind="stable")
    top = scores[order]
    if complete_ties and not _ties_decide(top, k):
        draws.skip()
        return index[order[:k]]
    perm = draws.draw()
    member = np.zeros(n, dtype=bool)
    member[index] = True
    in_perm = perm[member[perm]]  # the candidates in permutation order
    sorter = np.argsort(index)
    at = sorter[np.searchsorted(index, in_perm, sorter=sorter)]
    return in_perm[np.argsort(-scores[at], kind="stable")[:k]]


def _ties_decide(sorted_scores, k):
    """Whether equal scores among the first ``k`` (or at the ``k``-th and the
    next) make the order depend on the permutation."""
    head = sorted_scores[: k + 1]
    return bool(np.any(head[1:] == head[:-1]))
