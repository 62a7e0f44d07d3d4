r"""Compiled (numba) partition passes of the losses (float32; the softmax's also float64).

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
default threads (``sigmax bench``, docs/benchmarks.md). In float64,
``softmax_partition64`` does the same with a division-free ``exp``
(:func:`expneg64`, within about 1 ulp), which LLVM vectorizes; an earlier
float64 ``exp`` through libm was far slower than NumPy's SIMD one.
``softmax_hessp`` is the softmax's Hessian-vector pass of a block.
The sums of logs are taken as logs of products of float64 column sums
(each in [1, k + 1]): one scalar ``log`` per strip and ``group`` strips.

``softmax_partition_rows`` and ``binomial_partition`` serve float32 blocks
stored as ``(b, k)`` rows, the layout in which OpenBLAS's sgemm forms
``X_b @ W`` fastest (see :class:`sigmax.objective.LinearObjective`); the
binomial pass also serves the ``(k, b)`` layout.

Module-level functions (not closures), so that numba's disk cache finds them
again in a new process; imported by :mod:`sigmax.losses` on first use only.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba.extending import intrinsic

__all__ = ["binomial_partition", "softmax_hessp", "softmax_partition", "softmax_partition64",
           "softmax_partition_rows"]

f32 = np.float32


@intrinsic
def _as_float32(typingctx, bits):  # pragma: no cover - compiled
    """The float32 whose bits are the int32 ``bits`` (an LLVM bitcast; vectorizes)."""
    if bits != numba.types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return numba.types.float32(numba.types.int32), codegen


@intrinsic
def _as_float64(typingctx, bits):  # pragma: no cover - compiled
    """The float64 whose bits are the int64 ``bits`` (an LLVM bitcast; vectorizes)."""
    if bits != numba.types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return numba.types.float64(numba.types.int64), codegen


@intrinsic
def _maxnum(typingctx, a, b):  # pragma: no cover - compiled
    """``max(a, b)`` of two float32 as LLVM's ``maxnum`` with no-NaN flags.

    The one form of a max reduction that LLVM vectorizes here (numba's
    ``max`` or a select: a scalar loop, 0.55 instead of 0.06 ns per entry).
    Finite logits have no NaN; a NaN (from an overflowed product) still
    reaches the ``exp`` pass and the result.
    """
    if a != numba.types.float32 or b != numba.types.float32:
        return None

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.FloatType(), [ir.FloatType(), ir.FloatType()])
        fn = builder.module.declare_intrinsic("llvm.maxnum", [ir.FloatType()], fnty)
        return builder.call(fn, args, fastmath=("nnan", "nsz", "reassoc"))

    return numba.types.float32(numba.types.float32, numba.types.float32), codegen


@numba.njit(inline="always")
def _take_logs(P, n):  # pragma: no cover - compiled
    """Sum of ``log(P[:n])``, resetting those products to 1 (a float64 product-of-factors flush)."""
    lg = 0.0
    for j in range(n):
        lg += np.log(P[j])
        P[j] = 1.0
    return lg


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


@numba.njit(inline="always", fastmath={"nsz", "contract"})
def expneg64(x):  # pragma: no cover - compiled
    # e^x for x <= 0 (float64): x = n ln2 + r (ln2 in two parts, exact
    # products; |r| <= ln2 / 2), e^r by its Taylor polynomial of degree 13
    # (remainder below 5e-18; no division, so LLVM vectorizes it: Cephes'
    # Pade form divides and took 1.9 instead of ~1 ns per entry), 2^n from
    # its bits. Arguments below -708 give e^-708 (about 3e-308) instead of a
    # subnormal or 0: an absolute error far below any sum it enters.
    x = max(x, -708.0)
    n = np.floor(x * 1.4426950408889634 + 0.5)
    r = x - n * 6.93145751953125e-1
    r = r - n * 1.42860682030941723212e-6
    p = 1.6059043836821613e-10
    p = p * r + 2.08767569878681e-09
    p = p * r + 2.505210838544172e-08
    p = p * r + 2.755731922398589e-07
    p = p * r + 2.7557319223985893e-06
    p = p * r + 2.48015873015873e-05
    p = p * r + 1.984126984126984e-04
    p = p * r + 1.388888888888889e-03
    p = p * r + 8.333333333333333e-03
    p = p * r + 4.1666666666666664e-02
    p = p * r + 1.6666666666666666e-01
    p = p * r + 0.5
    p = p * r + 1.0
    e = p * r + 1.0
    return e * _as_float64(np.int64((np.int64(n) + np.int64(1023)) << np.int64(52)))


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
                total += _take_logs(prod, ch)
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



# No reassoc here: inlined into the pass, it would let LLVM fold exp's two-part
# reduction x - n C1 - n C2 into one product (errors of ~100 ulp near x = -10).
@numba.njit(nogil=True, cache=True, boundscheck=False, error_model="numpy",
            fastmath={"nsz", "contract"})
def softmax_partition64(Z, y, w, S, lo, s64, reference):  # pragma: no cover - compiled
    r""":func:`softmax_partition` for a C-contiguous float64 block ``Z`` (``(k, b)``).

    The same strips of columns in L1 and the same results, with
    :func:`expneg64` and float64 sums. The state is written to columns
    ``lo:lo + b`` of ``S`` (a C-contiguous ``(k, n)`` array: its rows
    vectorize, those of a strided view do not), or ``S`` is empty.
    NumPy's float64 pass makes about 7 sweeps over the block from L2 (max,
    subtract, gather, exp, sum, reciprocal, scale): on the film label sets
    (n=58,788, k=79, d=14) about as long as the two products of the pass.
    ``w``, ``S`` and ``s64`` are float64 (or empty) as ``Z``.
    """
    k, b = Z.shape
    targets, weighted, state = y.size > 0, w.size > 0, S.size > 0
    ch = max(16, min(512, (4096 // max(k, 1)) // 8 * 8))  # strip of <= 32 KB
    m = np.empty(ch)
    s = np.empty(ch)
    inv = np.empty(ch)
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
            d = m[j]
            if targets:
                c = y[j0 + j] - 1 if reference else y[j0 + j]
                if c >= 0:
                    d = m[j] - Z[c, j0 + j]
            lin += d * w[j0 + j] if weighted else d
        total += lin
        if reference:
            for j in range(n):
                s[j] = expneg64(-m[j])
        else:
            s[:n] = 0
        for r in range(k):
            zr = Z[r, j0:j0 + n]
            for j in range(n):
                e = expneg64(zr[j] - m[j])
                zr[j] = e
                s[j] += e
        if weighted:
            for j in range(n):
                s64[j0 + j] = s[j]
        else:
            for j in range(n):
                prod[j] *= s[j]
            held += 1
            if held == group or j0 + ch >= b:
                total += _take_logs(prod, ch)
                held = 0
        for j in range(n):
            inv[j] = 1 / s[j]
        if state:
            for r in range(k):
                zr = Z[r, j0:j0 + n]
                sr = S[r, lo + j0:lo + j0 + n]
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


@numba.njit(nogil=True, cache=True, boundscheck=False, error_model="numpy",
            fastmath={"nsz", "contract", "reassoc"})
def softmax_hessp(S, lo, V, w):  # pragma: no cover - compiled
    r"""The softmax Hessian times ``V`` for one block: :math:`v \leftarrow p \odot (v -
    \langle p, v\rangle)\, w`, in place.

    ``S`` (the probabilities, C-contiguous ``(k, n)``: the block is its
    columns ``lo:lo + b``; a C-contiguous array lets LLVM vectorize the row
    loops, a strided view did not and was slower than NumPy), ``V``
    (C-contiguous ``(k, b)``, float32 or float64 as ``S``), ``w`` (``(b,)``
    weights, or empty: unit). Strips of columns that stay in L1: two sweeps
    there instead of NumPy's four over the block (``einsum``, subtract, two
    products).
    """
    k, b = V.shape
    weighted = w.size > 0
    ch = max(16, min(512, (4096 // max(k, 1)) // 8 * 8))
    pv = np.zeros_like(V[0, :min(ch, b)])
    for j0 in range(0, b, ch):
        n = min(ch, b - j0)
        pv[:n] = 0
        for r in range(k):
            sr = S[r, lo + j0:lo + j0 + n]
            vr = V[r, j0:j0 + n]
            for j in range(n):
                pv[j] += sr[j] * vr[j]
        for r in range(k):
            sr = S[r, lo + j0:lo + j0 + n]
            vr = V[r, j0:j0 + n]
            if weighted:
                wr = w[j0:j0 + n]
                for j in range(n):
                    vr[j] = sr[j] * (vr[j] - pv[j]) * wr[j]
            else:
                for j in range(n):
                    vr[j] = sr[j] * (vr[j] - pv[j])


# error_model="numpy" below: no zero-division check, a branch that kept LLVM
# from vectorizing the loops (3.8 instead of 0.5 ns per entry); the divisors
# are >= 1.
@numba.njit(nogil=True, cache=True, boundscheck=False, error_model="numpy",
            fastmath={"nsz", "contract", "reassoc"})
def binomial_partition(U, C, G, S, bias):  # pragma: no cover - compiled
    r"""The binomial partition pass over a float32 block, in either layout.

    ``U`` (the scaled logits :math:`u = z/2`), ``C`` (the targets :math:`c =
    1 - 2y`, int8 or float64) and ``G`` (may be ``U``) are C-contiguous
    ``(m, cols)`` arrays (the ``(k, b)`` block or its ``(b, k)`` transpose, all
    three alike); ``S``
    is ``(m, cols)`` with any strides, or ``(0, 0)``; ``bias`` (float32,
    ``(cols,)`` or empty) is added to every row of ``U`` first (the scaled
    intercepts of a ``(b, k)`` block; ``U`` itself is left as is). Writes
    :math:`G = \tanh u
    = 2\sigma(z) - 1` (and :math:`S = e/(1+e)^2 = \sigma(z)(1 - \sigma(z))`)
    and returns, accumulated in float64, the loss sum
    :math:`\sum |u| + c u + \log(1 + e)` with :math:`e = e^{-|z|} = e^{-2|u|}
    \in (0, 1]`: one ``exp`` of a non-positive number per entry, so any finite
    ``u`` gives finite results, and no term is negative (``c`` in [-1, 1]):
    nothing cancels (:math:`(|u| + cu)/2` is exact for 0/1 labels and never
    overflows). The logs are
    taken of float64 products of the factors :math:`1 + e \in [1, 2]` (``e``
    kept even below float32's epsilon), ``lanes`` products side by side, each
    of at most 1000 factors: one ``log`` per 16 entries or fewer.

    One flat stream over the three blocks in chunks that stay in L1; with
    the state, chunks of whole rows, written to ``S`` by columns (the
    objective's state keeps the ``(k, b)`` layout). The float64 sums run in
    loops of their own: mixed with the float32 ones, LLVM vectorized neither.
    About 0.85 ns per entry against 1.1 for ``tanh`` in NumPy plus the
    compiled pass of :func:`sigmax.losses._binomial_kernel`.
    """
    m, cols = U.shape
    state = S.size > 0
    biased = bias.size > 0
    # Chunks of whole rows when they are written to S by columns, or when
    # the bias repeats along the stream (a tiled copy: a vectorized add).
    rows = max(1, 512 // cols) if state or biased else 0
    size = rows * cols if state or biased else 512
    B = np.zeros(size, np.float32)
    if biased:
        for t in range(rows):
            B[t * cols:(t + 1) * cols] = bias
    lanes = max(16, min(512, (m * cols) // 16))
    P = np.ones(lanes)
    V = np.empty(size, np.float32)
    E = np.empty(size, np.float32)
    H = np.empty(size, np.float32)
    Q = np.empty(size, np.float32)
    u1 = U.reshape(-1)
    c1 = C.reshape(-1)
    g1 = G.reshape(-1)
    pos = 0
    rounds = 0
    total = 0.0
    for j0 in range(0, u1.size, size):
        n = min(size, u1.size - j0)
        ur = u1[j0:j0 + n]
        cr = c1[j0:j0 + n]
        gr = g1[j0:j0 + n]
        if state:
            for j in range(n):
                u = ur[j] + B[j]
                a = abs(u)
                e = expneg(f32(-2.0) * a)
                q = f32(1.0) / (f32(1.0) + e)
                Q[j] = np.copysign((f32(1.0) - e) * q, u)
                H[j] = e * q * q
                V[j] = f32(0.5) * a + f32(0.5) * (f32(cr[j]) * u)
                E[j] = e
            r0 = j0 // cols
            for r in range(cols):
                sc = S[r0:r0 + n // cols, r]
                for t in range(n // cols):
                    sc[t] = H[t * cols + r]
        else:
            for j in range(n):
                u = ur[j] + B[j]
                a = abs(u)
                e = expneg(f32(-2.0) * a)
                Q[j] = np.copysign((f32(1.0) - e) / (f32(1.0) + e), u)
                V[j] = f32(0.5) * a + f32(0.5) * (f32(cr[j]) * u)
                E[j] = e
        # G through L1: G may be U itself (the gradient in place of the logits,
        # one block less in cache); a loop that reads and writes one array is
        # not vectorized (LLVM cannot rule out overlap), a copy is.
        for j in range(n):
            gr[j] = Q[j]
        part = 0.0
        for j in range(n):
            part += np.float64(V[j])
        total += 2.0 * part
        for c0 in range(0, n, lanes):
            nn = min(lanes, n - c0)
            if pos + nn > lanes:
                pos = 0
                rounds += 1
                if rounds == 1000:  # 2**1000 < 1e308
                    total += _take_logs(P, lanes)
                    rounds = 0
            pr = P[pos:pos + nn]
            er = E[c0:c0 + nn]
            for j in range(nn):
                pr[j] *= 1.0 + np.float64(er[j])
            pos += nn
    return total + _take_logs(P, lanes)


@numba.njit(nogil=True, cache=True, boundscheck=False, error_model="numpy",
            fastmath={"nsz", "contract", "reassoc"})
def softmax_partition_rows(Z, y, w, S, s64, reference, bias):  # pragma: no cover - compiled
    r""":func:`softmax_partition` for the block stored as ``(b, k)`` rows.

    ``Z`` is the C-contiguous ``(b, k)`` block (one sample per row); ``S``
    keeps the ``(k, b)`` layout of the Newton state (any strides) or is
    empty; ``bias`` (float32 ``(k,)`` or empty) is added to every row first
    (the intercepts); ``y``, ``w``, ``s64``, ``reference`` and the result as
    in :func:`softmax_partition`. Every per-sample reduction runs along a
    contiguous row (the max as :func:`_maxnum`: vectorized); the state is
    written from strips of 16 rows, by rows of ``S``.
    """
    b, k = Z.shape
    targets, weighted, state = y.size > 0, w.size > 0, S.size > 0
    group = max(1, int(690.0 / np.log(k + 2.0)))  # products of sums <= k + 1 stay < 1e300
    held = 0
    prod = 1.0
    total = 0.0
    strip = 16
    B = np.zeros(k, np.float32)
    if bias.size > 0:
        B[:] = bias
    flat = Z.reshape(-1)
    mxs = np.empty(strip, np.float32)
    for i0 in range(0, b, strip):
        t = min(strip, b - i0)
        for i in range(i0, i0 + t):
            zr = Z[i]
            mx = f32(0.0) if reference else zr[0] + B[0]
            for r in range(k):
                mx = _maxnum(mx, zr[r] + B[r])
            d = np.float64(mx)
            if targets:
                c = y[i] - 1 if reference else y[i]
                if c >= 0:
                    d = np.float64(mx - (zr[c] + B[c]))
            total += d * w[i] if weighted else d
            mxs[i - i0] = mx
            for r in range(k):
                zr[r] = zr[r] + B[r] - mx
        # The exponentials in one pass over the strip's contiguous rows: a pass
        # per row left a remainder of k mod 16 entries to a scalar loop (film's
        # 79 label sets: 15 of every 79; ``python benchmarks/softmax_rows.py``).
        seg = flat[i0 * k:(i0 + t) * k]
        for j in range(t * k):
            seg[j] = expneg(seg[j])
        for i in range(i0, i0 + t):
            zr = Z[i]
            s = expneg(-mxs[i - i0]) if reference else f32(0.0)
            for r in range(k):
                s += zr[r]
            if weighted:
                s64[i] = s
            else:
                prod *= np.float64(s)
                held += 1
                if held == group:
                    total += np.log(prod)
                    prod = 1.0
                    held = 0
            inv = f32(1.0) / s
            if weighted and not state:
                inv = f32(inv * w[i])
            for r in range(k):
                zr[r] *= inv
        if state:
            # The strip's transpose into S: by rows of Z (contiguous reads,
            # scattered stores) from 32 outputs on, by rows of S below. Timed both
            # ways at 10-200 outputs while choosing (a throwaway script): each order
            # was the slower one on the other side of 24-32; ``python
            # benchmarks/softmax_rows.py`` times the kernel as it is.
            if k >= 32:
                for j in range(t):
                    zr = Z[i0 + j]
                    for r in range(k):
                        S[r, i0 + j] = zr[r]
            else:
                for r in range(k):
                    sr = S[r, i0:i0 + t]
                    for j in range(t):
                        sr[j] = Z[i0 + j, r]
            if weighted:
                for i in range(i0, i0 + t):
                    zr = Z[i]
                    wi = f32(w[i])
                    for r in range(k):
                        zr[r] *= wi
    return total + np.log(prod)
