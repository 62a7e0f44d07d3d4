r"""Sums over the rows of ``X``, one row chunk at a time, wherever ``X`` lives.

Every quantity of the inference (the log-likelihood, the observed
information :math:`\sum_i w_i\, x_i x_i^\top \otimes (\ldots)`, the sandwich
"meat", the per-cluster score sums, the marginal-effect sums) is a sum over
rows. :func:`sum_over_rows` evaluates one *kernel* per row chunk and adds the
results, so no ``n x p`` temporary is ever formed:

- NumPy (dense or CSR) and pandas: a loop over chunks of ``rows_per_chunk``
  rows (a CSR or pandas chunk is converted to a dense float64 array on its own);
- dask arrays (and DataFrames): one task per row block of ``X``, all in one
  ``dask.compute`` (one pass over the data for every matrix at once);
- torch tensors (CPU or GPU): the kernel runs on the tensor's device through
  the array-API namespace; only the small sums come back to the host.

A kernel has the signature ``kernel(xp, Xt, **rows) -> dict[str, ndarray]``:
``Xt`` is the chunk in float64 with a leading column of ones when the model has
an intercept, ``rows`` the matching slices of the per-row arrays (host NumPy
arrays, moved to the chunk's device), ``xp`` the chunk's array namespace.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["array_kind", "n_rows", "rows_per_chunk", "sum_over_rows", "to_host"]

Kernel = Callable[..., dict[str, Any]]

#: Float64 entries of the largest per-chunk temporary (``rows x width``): 4 MB. Big
#: enough for the matrix products to run at full speed (a thousand rows even for
#: ``K p = 500``), small enough to stay below what statsmodels holds on small data.
CHUNK_ENTRIES = 1 << 19


def array_kind(X: Any) -> str:
    """``"dask"``, ``"torch"``, ``"sparse"`` or ``"numpy"``: where the rows of ``X`` live."""
    module = type(X).__module__
    if module.startswith("dask"):
        return "dask"
    if module.startswith("torch"):
        return "torch"
    if sp.issparse(X):
        return "sparse"
    return "numpy"


def n_rows(X: Any) -> int:
    """Number of rows of ``X`` (computes unknown dask chunk sizes)."""
    if array_kind(X) == "dask" and np.isnan(X.shape[0]):
        X.compute_chunk_sizes()
    return int(X.shape[0])


def rows_per_chunk(width: int) -> int:
    """Rows per chunk so that a ``rows x width`` float64 temporary stays near 4 MB."""
    return max(64, CHUNK_ENTRIES // max(int(width), 1))


def to_host(a: Any) -> np.ndarray:
    """A kernel's output (NumPy or torch) as a float64 NumPy array."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def _add(total: dict[str, np.ndarray] | None, part: Mapping[str, Any]) -> dict[str, np.ndarray]:
    part = {k: to_host(v) for k, v in part.items()}
    if total is None:
        return part
    for k, v in part.items():
        total[k] += v  # in place: no transient copy of a (kP, kP) sum per chunk
    return total


def _with_intercept(xp: Any, Xb: Any, fit_intercept: bool) -> Any:
    Xb = xp.astype(Xb, xp.float64, copy=False)
    if not fit_intercept:
        return Xb
    ones = xp.ones((Xb.shape[0], 1), dtype=xp.float64, device=_device(xp, Xb))
    return xp.concat([ones, Xb], axis=1)


def _device(xp: Any, a: Any) -> Any:
    from array_api_compat import device

    return device(a)


def _run_chunk(kernel: Kernel, Xb: Any, rows: Mapping[str, Any], fit_intercept: bool
               ) -> dict[str, np.ndarray]:
    """The kernel on one chunk (NumPy, CSR or torch), its sums on the host."""
    from array_api_compat import array_namespace

    if sp.issparse(Xb):
        Xb = Xb.toarray()
    elif hasattr(Xb, "iloc"):  # a pandas chunk: converted here, never the whole frame
        Xb = Xb.to_numpy(dtype=np.float64)
    xp = array_namespace(Xb)
    Xt = _with_intercept(xp, Xb, fit_intercept)
    dev = _device(xp, Xt)
    moved = {k: (None if v is None else xp.asarray(np.ascontiguousarray(v), device=dev))
             for k, v in rows.items()}
    return {k: to_host(v) for k, v in kernel(xp, Xt, **moved).items()}


def _dask_blocks(X: Any) -> tuple[Any, list[tuple[int, int]]]:
    """Row blocks of a dask array (or DataFrame) with one column chunk, and their spans."""
    if hasattr(X, "to_dask_array"):
        X = X.to_dask_array(lengths=True)
    if any(np.isnan(c) for c in X.chunks[0]):
        X.compute_chunk_sizes()
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    bounds = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(int)
    return X, [(int(a), int(b)) for a, b in itertools.pairwise(bounds)]


def sum_over_rows(kernel: Kernel, X: Any, rows: Mapping[str, np.ndarray | None], *,
                  fit_intercept: bool, chunk_rows: int) -> dict[str, np.ndarray]:
    """Add ``kernel``'s outputs over the row chunks of ``X``.

    Parameters
    ----------
    kernel : callable
        ``kernel(xp, Xt, **rows) -> dict`` of arrays, evaluated per chunk.
    X : ndarray, CSR matrix, dask array / DataFrame or torch tensor, (n, d)
    rows : dict of ndarray with first dimension n (or None)
        Per-row host arrays (targets, weights, group codes), sliced per chunk.
    fit_intercept : bool
        Prepend a column of ones to every chunk.
    chunk_rows : int
        Rows per chunk for NumPy and torch ``X`` (dask uses its own blocks).

    Returns
    -------
    dict of float64 ndarray
        Each kernel output summed over all rows.
    """
    kind = array_kind(X)
    if kind == "dask":
        import dask

        Xd, spans = _dask_blocks(X)
        blocks = Xd.to_delayed().ravel()
        task = dask.delayed(_run_chunk, pure=True)
        parts = [task(kernel, blk, {k: (None if v is None else v[a:b])
                                    for k, v in rows.items()}, fit_intercept)
                 for blk, (a, b) in zip(blocks, spans)]
        total = None
        for part in dask.compute(*parts):
            total = _add(total, part)
        return total
    n = int(X.shape[0])
    rows_of = X.iloc if hasattr(X, "iloc") else X
    total = None
    for a in range(0, max(n, 1), chunk_rows):
        b = min(a + chunk_rows, n)
        part = _run_chunk(kernel, rows_of[a:b], {k: (None if v is None else v[a:b])
                                           for k, v in rows.items()}, fit_intercept)
        total = _add(total, part)
    return total
