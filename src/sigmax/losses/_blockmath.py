"""Helpers of the NumPy block and partition kernels of the losses (float64 sums)."""

from __future__ import annotations

import numpy as np

try:  # BLAS sum of |x| in float64: one read, no temporary
    from scipy.linalg.blas import dasum as _dasum
except ImportError:  # pragma: no cover - SciPy without its BLAS wrappers
    _dasum = None

__all__ = ["_EMPTY32", "_EMPTY64", "_LN2", "_LOG_GROUP", "_column_log", "_dasum", "_dot64", "_rows",
           "_sum_log"]

_LN2 = float(np.log(2.0))
_EMPTY32 = np.empty(0, dtype=np.float32)
_EMPTY64 = np.empty(0, dtype=np.float64)
#: Rows multiplied together before one log in :func:`_sum_log`: each factor
#: lies in [1, 2], so a product stays below 2**32 (finite in float32 too).
_LOG_GROUP = 32


def _sum_log(A: np.ndarray) -> float:
    """``sum(log(A))`` for a C-contiguous ``A`` with entries in [1, 2], in float64.

    Products of :data:`_LOG_GROUP` contiguous slices first (a vectorized
    multiply over rows), then one log per product: 1/32 of the logarithms
    of an entrywise ``log``. The rounding error (about ``32 eps`` per product,
    absolute in the log) is of the order of rounding ``A`` itself.
    """
    flat = A.reshape(-1)
    m = flat.size // _LOG_GROUP
    total = 0.0
    if m:
        prod = np.multiply.reduce(flat[: _LOG_GROUP * m].reshape(_LOG_GROUP, m), axis=0)
        total += float(np.log(prod, out=prod).sum(dtype=np.float64))
    tail = flat[_LOG_GROUP * m:]
    if tail.size:
        total += float(np.log(tail).sum(dtype=np.float64))
    return total


def _column_log(A: np.ndarray) -> np.ndarray:
    """``log(A).sum(axis=0)`` in float64 for ``A`` (k, b) with entries in [1, 2].

    Products over at most 64 rows at a time (below 2**64: finite in float32).
    """
    out = np.zeros(A.shape[1])
    for lo in range(0, A.shape[0], 64):
        prod = np.multiply.reduce(A[lo:lo + 64], axis=0)
        out += np.log(prod, out=prod)
    return out


def _rows(A: np.ndarray, k: int) -> np.ndarray:
    """An ``(b,)`` block broadcast against ``(k, b)``; an ``(b, k)`` block transposed."""
    return A.T if A.ndim == 2 else A


def _dot64(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of ``a * b`` (same shape) accumulated in float64."""
    return float(np.vdot(a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)))
