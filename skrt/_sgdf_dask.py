"""Row chunks of Dask collections for :class:`~skrt.SGDFRegressor` (docs/dask.rst).

``partial_fit`` and ``fit`` stream a ``dask.array`` (or ``dask.dataframe``)
X through the numpy solver one row chunk at a time: :class:`RowChunks` holds
X's row blocks with y and ``sample_weight`` aligned to them and yields each
chunk computed as numpy (pandas for a dask DataFrame), the next chunk
computed in a background thread while the current one is fitted, so that at
most two chunks are in this process's memory, never the whole array.

Nothing here imports dask unless a dask collection was passed: the check
:func:`is_dask_collection` reads ``sys.modules``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._array_api import is_dask_collection

__all__ = ["RowChunks"]


def _is_frame(obj) -> bool:
    """A dask DataFrame or Series (it has partitions, not blocks)."""
    return hasattr(obj, "divisions") and hasattr(obj, "partitions")


def _blocks(obj, name):
    """The row blocks of a dask array (columns joined into one chunk) or the
    partitions of a dask DataFrame/Series, and their row counts (None where
    unknown)."""
    if _is_frame(obj):
        return [obj.partitions[i] for i in range(obj.npartitions)], None
    if not hasattr(obj, "blocks") or obj.ndim not in (1, 2):
        raise TypeError(
            f"{name} must be a 1-D or 2-D dask array or a dask DataFrame; got "
            f"{type(obj).__name__}."
        )
    if obj.ndim == 2 and obj.numblocks[1] > 1:
        obj = obj.rechunk({1: -1})  # whole rows per block
    sizes = obj.chunks[0]
    known = all(not np.isnan(s) for s in sizes)
    return [obj.blocks[i] for i in range(obj.numblocks[0])], (
        tuple(int(s) for s in sizes) if known else None
    )


class RowChunks:
    """X's row chunks with y and sample_weight aligned, computed on demand.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features) or dask DataFrame
        Its row chunks (partitions) are the chunks, in order.
    y : dask array or Series, array-like of shape (n_samples,) or None
        A dask y with as many row blocks as X is taken block by block (a
        dask array whose chunks differ from X's known chunks is rechunked
        like X); anything else is sliced at X's chunk boundaries.
    sample_weight : like y, default=None

    Attributes
    ----------
    n_chunks : int
    sizes : tuple of int
        Rows per chunk (computed on first use when X's chunks are unknown).
    """

    def __init__(self, X, y, sample_weight=None):
        self._X, self._sizes = _blocks(X, "X")
        self.n_chunks = len(self._X)
        self._y = self._align(y, "y")
        self._w = self._align(sample_weight, "sample_weight")

    def _align(self, v, name):
        """Per-chunk dask blocks (a list), an in-memory array, or None."""
        if v is None:
            return None
        if not is_dask_collection(v):
            v = np.asarray(v)
            if v.ndim == 0:
                raise ValueError(f"{name} must be 1-D or 2-D; got a scalar.")
            if self._sizes is not None and v.shape[0] != sum(self._sizes):
                raise ValueError(
                    f"{name} has {v.shape[0]} rows, X has {sum(self._sizes)}."
                )
            return v
        blocks, sizes = _blocks(v, name)
        if self._sizes is not None and sizes is not None and sizes != self._sizes:
            if sum(sizes) != sum(self._sizes):
                raise ValueError(
                    f"{name} has {sum(sizes)} rows, X has {sum(self._sizes)}."
                )
            blocks, _ = _blocks(v.rechunk({0: self._sizes}), name)
        if len(blocks) != self.n_chunks:
            raise ValueError(
                f"{name} has {len(blocks)} row chunks (partitions), X has "
                f"{self.n_chunks}: chunk {name} like X (e.g. {name}.rechunk"
                f"(X.chunks[0]) or the same npartitions)."
            )
        return blocks

    @property
    def sizes(self):
        """Rows per chunk (one pass over X's graph when they are unknown)."""
        if self._sizes is None:
            import dask

            counts = dask.compute(*[dask.delayed(len)(b) for b in self._X])
            self._sizes = tuple(int(c) for c in counts)
        return self._sizes

    @property
    def n_rows(self):
        """Rows of X."""
        return int(sum(self.sizes))

    def total_weight(self):
        """``Σ w`` (the row count for unit weights), computed in one pass
        over sample_weight alone."""
        if self._w is None:
            return float(self.n_rows)
        if isinstance(self._w, np.ndarray):
            return float(np.sum(self._w, dtype=float))
        import dask

        return float(sum(dask.compute(*[b.sum() for b in self._w])))

    def _compute(self, i):
        import dask

        lazy = [self._X[i]]
        for v in (self._y, self._w):
            if isinstance(v, list):
                lazy.append(v[i])
        computed = list(dask.compute(*lazy))
        X = computed.pop(0)
        if not hasattr(X, "iloc"):  # pandas stays pandas: feature names
            X = np.asarray(X)
        out = [X]
        for v in (self._y, self._w):
            if v is None:
                out.append(None)
            elif isinstance(v, list):
                out.append(np.asarray(computed.pop(0)))
            else:
                start = sum(self.sizes[:i])
                out.append(v[start : start + self.sizes[i]])
        return tuple(out)

    def __call__(self, order=None):
        """Yield ``(X, y, sample_weight)`` of each chunk as numpy (X as
        pandas for a DataFrame), in ``order`` (default: as stored), the next
        chunk computed while the current one is used; empty chunks skipped.

        Parameters
        ----------
        order : sequence of int, default=None
            Chunk indices.
        """
        order = list(range(self.n_chunks) if order is None else order)
        for name, v in (("y", self._y), ("sample_weight", self._w)):
            if isinstance(v, np.ndarray) and v.shape[0] != self.n_rows:
                raise ValueError(f"{name} has {v.shape[0]} rows, X has {self.n_rows}.")
        with ThreadPoolExecutor(max_workers=1) as pool:
            ahead = pool.submit(self._compute, order[0]) if order else None
            for pos in range(len(order)):
                chunk = ahead.result()
                if pos + 1 < len(order):
                    ahead = pool.submit(self._compute, order[pos + 1])
                if chunk[0].shape[0]:
                    yield chunk
