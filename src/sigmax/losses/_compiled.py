"""Loaders of the losses' compiled (numba) partition passes, each None without numba.

Called through this module at every use (``_compiled._softmax_kernel()``), so
that one place decides, and a test can watch, whether numba is loaded.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["_binomial_kernel", "_partition_kernels", "_softmax_kernel"]


@functools.cache
def _binomial_kernel() -> Any:
    r"""The compiled pass of the binomial partition kernel, or None without numba.

    ``kernel(U, C, T, P)`` with ``U``, ``C`` of shape ``(k, b)`` (the scaled
    logits ``u`` and the targets ``c = 1 - 2y``, any strides) and ``T`` the
    C-contiguous ``tanh(U)``: returns :math:`\sum |u| + c u` accumulated in
    float64 and fills ``P`` (``(m,)``, ``m = max(k b // 32, 1)``) with
    products of the factors ``1 + |T|`` of the flat ``T`` taken ``m`` apart
    (at most 64 factors in [1, 2], finite in float32). One read of the three
    blocks instead of the five NumPy passes (product with the targets, its
    absolute value and sum, ``|T|``, ``+ 1``) that cost more than ``tanh``
    itself. ``tanh`` stays in NumPy, which has SIMD transcendental functions
    (numba's calls libm one entry at a time).
    """
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba is a dependency
        return None

    # reassoc: the sums and products may be vectorized (reordered); no
    # assumption of finite values (huge logits give inf, which the objective checks).
    @njit(nogil=True, cache=True, boundscheck=False, fastmath={"reassoc", "nsz", "contract"})
    def kernel(U, C, T, P):  # pragma: no cover - compiled
        k, b = U.shape
        total = 0.0
        for r in range(k):
            part = 0.0
            for j in range(b):
                u = U[r, j]
                part += abs(u) + C[r, j] * u
            total += part
        flat = T.reshape(-1)
        m = P.size
        groups = flat.size // m
        for j in range(m):
            P[j] = 1.0
        # Two groups per sweep over P: half the loads and stores of P
        # (measured 0.28 against 0.48 ns per entry for one group per sweep).
        for g in range(0, groups - 1, 2):
            base = g * m
            for j in range(m):
                P[j] *= (1.0 + abs(flat[base + j])) * (1.0 + abs(flat[base + m + j]))
        base = (groups - groups % 2) * m
        for j in range(flat.size - base):  # an odd group, then the tail (< m entries)
            P[j % m] *= 1.0 + abs(flat[base + j])
        return total

    return kernel


@functools.cache
def _partition_kernels() -> Any:
    """The module :mod:`sigmax._partition_kernels` (numba), or None without numba."""
    try:
        from .. import _partition_kernels
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return _partition_kernels


@functools.cache
def _softmax_kernel() -> Any:
    """The compiled float32 softmax partition pass
    (:func:`sigmax._partition_kernels.softmax_partition`), or None without numba."""
    try:
        from .._partition_kernels import softmax_partition
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return softmax_partition
