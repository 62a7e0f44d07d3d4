r"""Compiled (numba) value, gradient and Newton state of the symmetric softmax on one dense block.

Along a small problem's regularization path the gradient passes sit between
the compiled inner solves (:mod:`sigmax._cg_kernels`); each is two matrix
products and a partition pass of a few microseconds, inside several layers of
Python (the row blocks, their thread pool, the loss's block kernel, the
linear part, the checks). :func:`value_grad` forms the same quantities in one
call:

.. math:: F = \sum_i w_i \big(\log \textstyle\sum_a e^{z_{ia}} - z_{i y_i}\big), \qquad
          \nabla_W F = X^\top G, \quad \nabla_b F = G^\top 1, \qquad
          G_{ia} = w_i (p_{ia} - [a = y_i])

with :math:`Z = X W + b (+ O)` and :math:`p_i = \mathrm{softmax}(z_i)`, the
probabilities also written as the Newton state. The partition pass is
:func:`sigmax._partition_kernels.softmax_partition64` (max-shifted, a
division-free ``exp`` within about 1 ulp, each summand's two terms
non-negative); the products are BLAS calls in float64; the targets are
subtracted from :math:`w_i p_i` entry by entry (no constant linear part to
subtract later). Module-level functions, so that numba's disk cache finds
them.
"""

from __future__ import annotations

import numba
import numpy as np

from ._partition_kernels import softmax_partition64

__all__ = ["value_grad"]


@numba.njit(nogil=True, cache=True, boundscheck=False)
def value_grad(X, Wt, b, Ot, y, w, S, out):  # pragma: no cover - compiled
    r"""The loss sum ``F`` (returned) and its gradient (``out``, ``(D, k)`` float64).

    ``X`` ``(n, d)`` float64 (C or F order); ``Wt`` the C-contiguous ``(k, d)``
    transpose of the coefficients; ``b`` ``(k,)`` intercepts or empty (then
    ``D = d``); ``Ot`` the ``(k, n)`` offset or ``(0, 0)``; ``y`` ``(n,)``
    class indices (intp); ``w`` ``(n,)`` weights or empty (unit); ``S`` the
    C-contiguous ``(k, n)`` state (probabilities) or ``(0, 0)``.
    """
    n, d = X.shape
    k = Wt.shape[0]
    Zt = np.dot(Wt, X.T)  # (k, n), C-contiguous
    if b.size:
        for a in range(k):
            for i in range(n):
                Zt[a, i] += b[a]
    if Ot.size:
        for a in range(k):
            for i in range(n):
                Zt[a, i] += Ot[a, i]
    weighted = w.size > 0
    s = np.empty(n if weighted else 0)
    total = softmax_partition64(Zt, y, w, S, 0, s, False)
    if weighted:  # the kernel leaves the column sums: F gets sum_i w_i log s_i
        for i in range(n):
            total += w[i] * np.log(s[i])
    # Zt holds w_i p_i: the gradient block less the targets' weights.
    for i in range(n):
        Zt[y[i], i] -= w[i] if weighted else 1.0
    Gt = np.dot(Zt, X)  # (k, d)
    for j in range(d):
        for a in range(k):
            out[j, a] = Gt[a, j]
    if b.size:
        sums = np.dot(Zt, np.ones(n))
        for a in range(k):
            out[d, a] = sums[a]
    return total
