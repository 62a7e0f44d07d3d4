r"""Compiled products of a CSR row block with a dense matrix, without the GIL.

SciPy's sparse kernels (``_sparsetools.csr_matvecs`` / ``csc_matvecs``) hold
the GIL, so the row blocks of a CSR pass cannot run on two threads. These
kernels do the same products, compiled by numba with ``nogil=True``:
:func:`sigmax._parallel.run_blocks` then runs them on every core, each worker
on its own row blocks (no numba threading layer: the pool is sigmax's own,
so calls from several threads at once are safe).

For one row block :math:`X_b` (``indptr``, ``indices``, ``data`` of ``b``
rows and ``d`` columns):

- :func:`logits_t`: :math:`Z_b^\top = (X_b W)^\top`, shape ``(k, b)``, written
  transposed so the loss kernels get their ``(k, b)`` layout without a copy;
- :func:`rmatmul_acc`: :math:`A \mathrel{+}= X_b^\top G_b` from the transposed
  block ``Gt`` (``(k, b)``, the loss kernels' layout), ``A`` of shape ``(d, k)``;
  ``square=True`` uses :math:`x_{ij}^2` (the Hessian diagonal).

Products accumulate in the dtype of ``W`` / ``G`` (float32 data in float32),
as SciPy's do. Measured on the sparse_text benchmark matrix (100k x 50k,
9.1M stored values, k=20, ``python benchmarks/sparse_products.py``, 2-vCPU
Intel Xeon): both products in 163 ms on one worker against SciPy's 174 ms,
89 ms on two workers. The gain is the second core, which SciPy's kernels
cannot use.

numba is imported on first use (its import costs about half a second), and
each signature compiles once (cached on disk where the package is writable).
:data:`MIN_NNZ` keeps small matrices on SciPy's kernels: there the compile
time of a first call would outweigh the whole fit.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

__all__ = ["MIN_NNZ", "available", "kernels"]

#: Stored values of ``X`` from which a fit uses the compiled kernels.
MIN_NNZ = 1 << 17


def available() -> bool:
    """Whether the kernels can be used here (numba imports and compiles them)."""
    return kernels() is not None


@functools.cache
def kernels() -> tuple[Any, Any] | None:
    """``(logits_t, rmatmul_acc)``, compiled lazily by numba; None without a working numba."""
    try:
        from numba import njit
    except Exception:  # not installed, or built for another NumPy
        return None

    jit = njit(nogil=True, cache=True, fastmath=False, boundscheck=False)

    @jit
    def logits_t(indptr, indices, data, W, out):  # pragma: no cover - compiled
        k = W.shape[1]
        acc = np.empty(k, dtype=W.dtype)
        for i in range(indptr.size - 1):
            acc[:] = 0
            jj, hi = indptr[i], indptr[i + 1]
            # Four stored values per update of acc: each update is a load and
            # a store of acc, a dependency chain from one value to the next;
            # summing four rows of W first cuts that chain fourfold (float32
            # sparse_text logits 1.15-1.2x faster, float64 1.05-1.1x).
            while jj + 4 <= hi:
                v0, v1, v2, v3 = data[jj], data[jj + 1], data[jj + 2], data[jj + 3]
                j0, j1, j2, j3 = indices[jj], indices[jj + 1], indices[jj + 2], indices[jj + 3]
                for c in range(k):
                    acc[c] += (v0 * W[j0, c] + v1 * W[j1, c]) + (v2 * W[j2, c] + v3 * W[j3, c])
                jj += 4
            while jj < hi:
                v = data[jj]
                j = indices[jj]
                for c in range(k):
                    acc[c] += v * W[j, c]
                jj += 1
            for c in range(k):
                out[c, i] = acc[c]

    @jit
    def rmatmul_acc(indptr, indices, data, Gt, acc, square):  # pragma: no cover - compiled
        k = Gt.shape[0]
        g = np.empty(k, dtype=acc.dtype)
        for i in range(indptr.size - 1):
            for c in range(k):
                g[c] = Gt[c, i]
            for jj in range(indptr[i], indptr[i + 1]):
                v = data[jj]
                if square:
                    v = v * v
                j = indices[jj]
                for c in range(k):
                    acc[j, c] += v * g[c]

    return logits_t, rmatmul_acc


@functools.cache
def prepare(dtype: np.dtype, index_dtype: np.dtype) -> None:
    """Compile (or load from the cache) both kernels for one value / index dtype pair.

    Called before a pass starts, so the workers never compile (nor wait on
    numba's compiler lock) inside a timed pass.
    """
    logits_t, rmatmul_acc = kernels()
    indptr = np.zeros(1, dtype=index_dtype)
    empty = np.zeros(0, dtype=index_dtype)
    data = np.zeros(0, dtype=dtype)
    W = np.zeros((1, 1), dtype=dtype)
    logits_t(indptr, empty, data, W, np.zeros((1, 0), dtype=dtype))
    rmatmul_acc(indptr, empty, data, np.zeros((1, 0), dtype=dtype), W, False)
