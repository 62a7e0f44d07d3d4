r"""Compiled (numba) conjugate gradients of a Newton step on one dense block of ``X``.

Newton-CG on a small problem spends most of its time in Python between its
Hessian-vector products: on a digits fold (1,437 x 64, K = 10, float32, one
thread) :func:`hessp` forms a product in 44 us where ``Objective.hessp`` (the
objective, data term, row blocks, thread pool, loss kernel and penalty around
the same two matrix products) takes 93 us, before CG's own vector updates
(``python benchmarks/compiled_cg.py``). Where ``X`` is one dense block,
:func:`cg_solve` runs the whole inner solve of one Newton step here, in one
call:

.. math:: H p = s\, \tilde X^\top \big(h \odot \tilde X P\big) + \lambda \begin{pmatrix} P_{1:d}
          \\ 0\end{pmatrix}

with ``P`` the ``(D, k)`` layout of ``p`` (``D = d + 1`` with intercepts,
which carry no penalty), ``s`` the objective's scale, :math:`\lambda` the
isotropic L2 weight, and ``h`` the loss's per-row Hessian applied in place
(:func:`apply_state`): the softmax's :math:`p_i \odot (v_i - \langle p_i,
v_i\rangle)\, w_i` or a diagonal loss's :math:`h_i \odot v_i` (its weights
already in ``h``). The products are BLAS calls in the dtype of ``X`` (float32
for the paths' twin, as :class:`~sigmax.dataterms.float32_hessp.Float32Hessp`
forms them; the intercepts' row sums too, as a matrix-vector product); the CG
recurrences are float64. The iteration is the one of
:meth:`sigmax.solvers.newton.NewtonCG.direction`, step for step (same stops,
same preconditioners, same projection onto rows summing to zero); a test
holds the two to the same directions.

Module-level functions, so that numba's disk cache finds them (compiled once
per dtype and memory order of ``X``).
"""

from __future__ import annotations

import numba
import numpy as np

from ._partition_kernels import softmax_hessp

__all__ = ["CHOLESKY_BLOCKS", "DIAGONAL_STATE", "JACOBI", "NO_PRECONDITIONER", "OUTPUT_BLOCKS",
           "SOFTMAX_STATE", "apply_state", "cg_solve", "cg_turn", "cg_update", "curvature",
           "hessp", "residual_norms"]

#: Kinds of the per-row Hessian (``kind`` of :func:`hessp`).
SOFTMAX_STATE, DIAGONAL_STATE = 0, 1
#: Preconditioners (``pre`` of :func:`cg_solve`): none, ``diag`` (Jacobi's inverse
#: diagonal), ``blocks`` (the inverse ``(D, D)`` block of each output, or its lower
#: Cholesky factor).
NO_PRECONDITIONER, JACOBI, OUTPUT_BLOCKS, CHOLESKY_BLOCKS = 0, 1, 2, 3


@numba.njit(nogil=True, cache=True, boundscheck=False)
def apply_state(Zt, bias, S, w, kind):  # pragma: no cover - compiled
    """Overwrite the ``(k, n)`` block ``Zt`` plus ``bias`` with the per-row Hessian (state
    ``S``, C-contiguous ``(k, n)``) times it.

    ``bias``: ``(k,)`` intercepts added to each column first, or empty; ``w``: ``(n,)``
    weights of the softmax, or empty (unit); a diagonal state holds its own. The
    softmax's is the row blocks' own kernel
    (:func:`sigmax._partition_kernels.softmax_hessp`).
    """
    k, n = Zt.shape
    if bias.size:
        for a in range(k):
            ba = bias[a]
            for i in range(n):
                Zt[a, i] += ba
    if kind == SOFTMAX_STATE:
        softmax_hessp(S, 0, Zt, w)
    else:
        for a in range(k):
            for i in range(n):
                Zt[a, i] *= S[a, i]


@numba.njit(nogil=True, cache=True, boundscheck=False)
def hessp(X, S, w, kind, intercept, scale, lam, p, out):  # pragma: no cover - compiled
    r"""``out = H p`` (flat ``(D k,)`` float64, see the module docstring).

    ``X`` ``(n, d)`` dense (C or F order, float32 or float64), ``S`` the
    ``(k, n)`` state in the dtype of ``X``, ``p`` ``(D k,)`` float64.
    """
    n, d = X.shape
    k = S.shape[0]
    P = p.reshape(-1, k)
    Wt = np.empty((k, d), dtype=X.dtype)
    for j in range(d):
        for a in range(k):
            Wt[a, j] = P[j, a]
    Zt = np.dot(Wt, X.T)  # (k, n)
    # The intercepts in the dtype of X, as the row blocks add them.
    bias = np.empty(k if intercept else 0, dtype=Zt.dtype)
    for a in range(bias.size):
        bias[a] = P[d, a]
    apply_state(Zt, bias, S, w, kind)
    Gt = np.dot(Zt, X)  # (k, d)
    Out = out.reshape(-1, k)
    for j in range(d):
        for a in range(k):
            Out[j, a] = scale * Gt[a, j] + lam * P[j, a]
    if intercept:
        # Row sums as a BLAS matrix-vector product (as the row blocks form
        # them): a scalar float64 loop over (k, n) took a third of the product.
        sums = np.dot(Zt, np.ones(n, dtype=Zt.dtype))
        for a in range(k):
            Out[d, a] = scale * sums[a]


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _precondition(r, z, pre, diag, blocks, k):  # pragma: no cover - compiled
    """``z = M^{-1} r`` for the preconditioner kind ``pre``."""
    if pre == JACOBI:
        for j in range(r.size):
            z[j] = r[j] * diag[j]
    elif pre == CHOLESKY_BLOCKS:  # L L^T z_a = r_a for column a of the (D, k) layout
        R = r.reshape(-1, k)
        Z = z.reshape(-1, k)
        D = R.shape[0]
        y = np.empty(D)
        for a in range(k):
            L = blocks[a]
            for i in range(D):
                acc = R[i, a]
                for j in range(i):
                    acc -= L[i, j] * y[j]
                y[i] = acc / L[i, i]
            for i in range(D - 1, -1, -1):
                acc = y[i]
                for j in range(i + 1, D):
                    acc -= L[j, i] * Z[j, a]
                Z[i, a] = acc / L[i, i]
    else:  # OUTPUT_BLOCKS: block a times column a of the (D, k) layout
        R = r.reshape(-1, k)
        Z = z.reshape(-1, k)
        D = R.shape[0]
        for a in range(k):
            B = blocks[a]
            for i in range(D):
                acc = 0.0
                for j in range(D):
                    acc += B[i, j] * R[j, a]
                Z[i, a] = acc


@numba.njit(nogil=True, cache=True, boundscheck=False)
def _center(v, k):  # pragma: no cover - compiled
    """Rows of the ``(D, k)`` layout of ``v`` less their means (in place)."""
    V = v.reshape(-1, k)
    for i in range(V.shape[0]):
        m = 0.0
        for a in range(k):
            m += V[i, a]
        m /= k
        for a in range(k):
            V[i, a] -= m


@numba.njit(nogil=True, cache=True, boundscheck=False)
def residual_norms(r):  # pragma: no cover - compiled
    """``(r^T r, max |r_j|)`` in one pass."""
    rr, rmax = 0.0, 0.0
    for j in range(r.size):
        rr += r[j] * r[j]
        rmax = max(rmax, abs(r[j]))
    return rr, rmax


@numba.njit(nogil=True, cache=True, boundscheck=False)
def curvature(p, Hp):  # pragma: no cover - compiled
    """``(p^T H p, p^T p)`` in one pass."""
    curv, pp = 0.0, 0.0
    for j in range(p.size):
        curv += p[j] * Hp[j]
        pp += p[j] * p[j]
    return curv, pp


@numba.njit(nogil=True, cache=True, boundscheck=False)
def cg_update(x, r, p, Hp, z, alpha, pre, diag, blocks, k, center):  # pragma: no cover
    r"""One CG update in place: :math:`x \mathrel{+}= \alpha p`, :math:`r \mathrel{-}=
    \alpha Hp`, :math:`z = M^{-1} r` (rows centered where ``center``).

    Returns :math:`(r^\top z, r^\top r, \max_j |r_j|)` at the new ``r``. With
    Jacobi all of it is one sweep over the ``(D, k)`` rows (the vectors are
    read once: on text data each is half an ``(n, k)`` buffer; see
    :mod:`sigmax.solvers.cg_updates` for what that saves).
    ``pre == NO_PRECONDITIONER``: ``z`` is ``r`` itself.
    """
    m = r.size
    rz, rr, rmax = 0.0, 0.0, 0.0
    if pre == JACOBI:
        for i0 in range(0, m, k):
            mean = 0.0
            for j in range(i0, i0 + k):
                x[j] += alpha * p[j]
                rj = r[j] - alpha * Hp[j]
                r[j] = rj
                zj = rj * diag[j]
                z[j] = zj
                mean += zj
                rr += rj * rj
                rmax = max(rmax, abs(rj))
            if center:
                mean /= k
                for j in range(i0, i0 + k):
                    z[j] -= mean
            for j in range(i0, i0 + k):
                rz += r[j] * z[j]
        return rz, rr, rmax
    for j in range(m):
        x[j] += alpha * p[j]
        r[j] -= alpha * Hp[j]
    if pre != NO_PRECONDITIONER:
        _precondition(r, z, pre, diag, blocks, k)
        if center:
            _center(z, k)
    for j in range(m):
        rz += r[j] * z[j]
        rr += r[j] * r[j]
        rmax = max(rmax, abs(r[j]))
    return rz, rr, rmax


@numba.njit(nogil=True, cache=True, boundscheck=False)
def cg_turn(p, z, beta):  # pragma: no cover - compiled
    """The next search direction in place: ``p = z + beta p``."""
    for j in range(p.size):
        p[j] = z[j] + beta * p[j]


@numba.njit(nogil=True, cache=True, boundscheck=False)
def cg_solve(X, S, w, kind, intercept, scale, lam, r, x, pre, diag, blocks, center,
             stop, enough, max_inner):  # pragma: no cover - compiled
    r"""Preconditioned CG on :math:`H x = r` from ``x``, in place; ``(steps, products, flat)``.

    ``r`` (the residual at ``x``, centered where ``center``) and ``x`` are
    flat float64 ``(D k,)`` and overwritten (``x`` with the solution). CG stops
    at :math:`\|r\|^2 \le` ``stop``, :math:`\max|r_j| \le` ``enough``,
    non-positive curvature (:math:`p^\top H p \le 10^{-14} p^\top p`) or
    ``max_inner`` steps. ``products`` counts the Hessian products formed
    (one more than the steps where curvature stopped CG). ``flat`` is True
    when the very first direction had no positive curvature (the caller then
    steps along the negative gradient).
    ``center``: the preconditioned residual is projected onto rows summing to
    zero (the symmetric softmax's split, see ``_RowMeans``).
    """
    k = S.shape[0]
    m = r.size
    if pre == NO_PRECONDITIONER:
        z = r  # plain CG: z is r itself, as in NewtonCG.direction
    else:
        z = np.empty(m)
        _precondition(r, z, pre, diag, blocks, k)
        if center:
            _center(z, k)
    p = z.copy()
    Hp = np.empty(m)
    rz = 0.0
    for j in range(m):
        rz += r[j] * z[j]
    rr, rmax = residual_norms(r)
    steps = 0
    for _ in range(max_inner):
        if rr <= stop or rmax <= enough:
            break
        hessp(X, S, w, kind, intercept, scale, lam, p, Hp)
        curv, pp = curvature(p, Hp)
        if curv <= 1e-14 * pp:
            return steps, steps + 1, steps == 0
        steps += 1
        rz_new, rr, rmax = cg_update(x, r, p, Hp, z, rz / curv, pre, diag, blocks, k, center)
        cg_turn(p, z, rz_new / rz)
        rz = rz_new
    return steps, steps, False
