r"""Compiled (numba) partition passes of the losses, float32.

``softmax_partition(Z, y, w, S, s, reference)`` for the C-contiguous float32 block
``Z`` (``(k, b)``), labels ``y`` (``(b,)``, or empty: no targets), weights
``w`` (``(b,)``, or empty: unit), state ``S`` (``(k, b)``, or empty) and
``s`` (``(b,)`` float64, written only when weighted): overwrites ``Z``
with :math:`w_i \, \mathrm{softmax}(z_i)` (and ``S`` with the unweighted
softmax) and returns, accumulated in float64,
:math:`\sum_i w_i (m_i - z_{i y_i})` (:math:`\sum_i w_i m_i` without
labels; both terms of each summand are >= 0 with labels: no cancellation),
plus :math:`\sum_i \log s_i` when unweighted (else ``s`` holds the column
sums :math:`s_i = \sum_k e^{z_{ik} - m_i}` and the caller forms
:math:`\sum_i w_i \log s_i`), with :math:`m_i` the column max (and 0 when
``reference``: the fixed logit of class 0, which adds :math:`e^{-m_i}`
to :math:`s_i`).

NumPy does this in about 7 sweeps over the block (max, subtract, gather,
exp, sum, reciprocal, scale), each from L2. Here the block is processed in
strips of columns that stay in L1, with a branch-free ``exp`` that LLVM
vectorizes (Cephes' single-precision polynomial, error below 1 ulp;
arguments below -87 give about 1.6e-38 instead of a subnormal or 0, an
absolute error far below any sum it enters). With it one float32
evaluation of dense_multinomial costs 1.03x the two bare products at
default threads (``sigmax bench``, docs/benchmarks.md). float32 only: a
float64 ``exp`` to 1e-16 in LLVM was far slower than NumPy's SIMD one.
The sums of logs are taken as logs of products of float64 column sums
(each in [1, k + 1]): one scalar ``log`` per strip and ``group`` strips.

Module-level functions (not closures), so that numba's disk cache finds them
again in a new process; imported by :mod:`sigmax.losses` on first use only.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.extending import intrinsic

__all__ = ["softmax_partition"]

f32 = np.float32


@intrinsic
def _as_float32(typingctx, bits):  # pragma: no cover - compiled
    """The float32 whose bits are the int32 ``bits`` (an LLVM bitcast; vectorizes)."""
    if bits != numba.types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return numba.types.float32(numba.types.int32), codegen


@numba.njit(inline="always", fastmath={"nsz", "contract"})
def expneg(x):  # pragma: no cover - compiled
    # e^x for x <= 0 (float32): x = n ln2 + r, |r| <= ln2 / 2 (ln2 in two
    # parts, exact products), e^r by Cephes' expf polynomial, 2^n from its bits.
    x = max(x, f32(-87.0))
    n = np.floor(x * f32(1.44269504088896341) + f32(0.5))
    r = x - n * f32(0.693359375)
    r = r - n * f32(-2.12194440e-4)
    p = f32(1.9875691500e-4)
    p = p * r + f32(1.3981999507e-3)
    p = p * r + f32(8.3334519073e-3)
    p = p * r + f32(4.1665795894e-2)
    p = p * r + f32(1.6666665459e-1)
    p = p * r + f32(5.0000001201e-1)
    e = p * (r * r) + r + f32(1.0)
    return e * _as_float32(np.int32((np.int32(n) + np.int32(127)) << np.int32(23)))


# reassoc: the sums may be vectorized (reordered). Inner loops index row
# slices: with Z[r, j0 + j] numba's negative-index handling kept LLVM
# from vectorizing (4.4 ns per entry instead of 0.9).
@numba.njit(nogil=True, cache=True, boundscheck=False,
            fastmath={"nsz", "contract", "reassoc"})
def softmax_partition(Z, y, w, S, s64, reference):  # pragma: no cover - compiled
    k, b = Z.shape
    targets, weighted, state = y.size > 0, w.size > 0, S.size > 0
    ch = max(16, min(1024, (8192 // max(k, 1)) // 16 * 16))  # strip of <= 32 KB
    m = np.empty(ch, np.float32)
    s = np.empty(ch, np.float32)
    inv = np.empty(ch, np.float32)
    prod = np.ones(ch)
    group = max(1, int(690.0 / np.log(k + 2.0)))  # products of sums <= k + 1 stay < 1e300
    held = 0
    total = 0.0
    for j0 in range(0, b, ch):
        n = min(ch, b - j0)
        if reference:
            m[:n] = 0
        else:
            m[:n] = Z[0, j0:j0 + n]
        for r in range(k):
            zr = Z[r, j0:j0 + n]
            for j in range(n):
                v = zr[j]
                m[j] = v if v > m[j] else m[j]
        lin = 0.0
        for j in range(n):
            d = np.float64(m[j])
            if targets:
                c = y[j0 + j] - 1 if reference else y[j0 + j]
                if c >= 0:
                    d = np.float64(m[j] - Z[c, j0 + j])
            lin += d * w[j0 + j] if weighted else d
        total += lin
        if reference:
            for j in range(n):
                s[j] = expneg(-m[j])
        else:
            s[:n] = 0
        for r in range(k):
            zr = Z[r, j0:j0 + n]
            for j in range(n):
                e = expneg(zr[j] - m[j])
                zr[j] = e
                s[j] += e
        if weighted:
            for j in range(n):
                s64[j0 + j] = s[j]
        else:
            for j in range(n):
                prod[j] *= np.float64(s[j])
            held += 1
            if held == group or j0 + ch >= b:
                lg = 0.0
                for j in range(ch):
                    lg += np.log(prod[j])
                    prod[j] = 1.0
                total += lg
                held = 0
        for j in range(n):
            inv[j] = 1 / s[j]
        if state:
            for r in range(k):
                zr = Z[r, j0:j0 + n]
                sr = S[r, j0:j0 + n]
                for j in range(n):
                    p = zr[j] * inv[j]
                    sr[j] = p
                    zr[j] = p * w[j0 + j] if weighted else p
        else:
            if weighted:
                for j in range(n):
                    inv[j] *= w[j0 + j]
            for r in range(k):
                zr = Z[r, j0:j0 + n]
                for j in range(n):
                    zr[j] *= inv[j]
    return total

