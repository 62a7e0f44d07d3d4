r"""Second-order assembly of the NumPy data term, by row blocks of ``[X, 1]``.

Functions of a :class:`~sigmax.dataterms.numpy_term.NumpyData` (``term``) and
its per-sample Hessian state ``St`` (``(k, n)``, from the loss's block
kernels): the diagonal of the Hessian (the Jacobi preconditioner of
Newton-CG), the ``k`` diagonal blocks of a block-diagonal Hessian, and the
full Hessian. All unscaled sums, float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import _csr, _parallel
from . import tuning
from .blocks import _sparsetools

__all__ = ["add_weighted_grams", "blocked_hessian", "hessian_diag", "output_blocks",
           "weighted_gram"]


def hessian_diag(term: Any, St: np.ndarray) -> np.ndarray:
    r"""Diagonal of the Hessian of the loss sum, ``(n_rows, k)`` float64.

    One pass over ``X`` (row blocks, squares of a block formed in cache):
    :math:`\mathrm{diag} = \sum_i h_{aa,i} x_{ij}^2` per feature ``j`` and
    output ``a``. It is the Jacobi preconditioner of Newton-CG: on features
    of very different scales (tf-idf, counts) it cuts the conjugate-gradient
    iterations.
    """
    Y, sw, loss, d, k = term.Y, term.weights, term.loss, term.n_features, term.k
    products = term.products
    blocks = products.plan
    n_workers, compiled = blocks.plan()

    def work(idx):
        acc, isum = products.new_acc(), np.zeros(k)
        for i in idx:
            lo, hi = blocks.bounds[i]
            Hd = np.ascontiguousarray(loss.hessian_diag_t(St[:, lo:hi], Y[lo:hi], sw[lo:hi]),
                                      dtype=term.dtype)
            isum += Hd.sum(axis=1, dtype=np.float64)
            if blocks.sparse:
                ind, data = blocks.cols[i]
                if compiled:  # squares formed on the fly
                    _csr.kernels()[1](blocks.csr[i], ind, data, Hd, acc, True)
                    continue
                G = np.ascontiguousarray(Hd.T)
                sq = np.square(data)
                if _sparsetools is not None:
                    _sparsetools.csc_matvecs(d, hi - lo, k, blocks.csr[i], ind, sq,
                                             G.ravel(), acc.ravel())
                else:  # pragma: no cover
                    acc += sp.csr_matrix((sq, ind, blocks.csr[i]), shape=(hi - lo, d)).T @ G
            else:
                acc += np.dot(Hd, np.square(term.X[lo:hi]))
        return acc, isum

    parts = _parallel.run_blocks(work, len(blocks.bounds), n_workers)
    acc = parts[0][0].astype(np.float64, copy=True)
    for part in parts[1:]:
        acc += part[0]
    out = np.empty((term.n_rows, k))
    out[:d] = acc if blocks.sparse else acc.T
    if term.fit_intercept:
        out[d] = sum(part[1] for part in parts)
    return out


def output_blocks(term: Any, St: np.ndarray) -> np.ndarray:
    r"""The ``k`` diagonal blocks over outputs of the Hessian, ``(k, D, D)`` float64, unscaled.

    Block ``a`` is :math:`\tilde X^\top \mathrm{diag}(h_{aa}) \tilde X` with
    :math:`h_{aa}` from ``loss.hessian_diag_t`` (the softmax: :math:`s\,p_a
    (1 - p_a)`): the block-Jacobi preconditioner of Newton-CG. Dense ``X``
    only (None for CSR). Per row block, the ``D (D + 1) / 2`` products
    :math:`\tilde x_{ij} \tilde x_{il}` of each row form a ``(b, D(D+1)/2)``
    matrix ``Q_b``, and all ``k`` blocks come from one product
    :math:`Q_b^\top H_b^\top` (``(D(D+1)/2, k)``): a single GEMM instead of
    ``k`` weighted Gram matrices of ``D`` columns, whose per-call overhead
    dominates at small ``D`` (film label sets, n=58,788, D=15, k=79: 0.33 s
    against 0.59 s for :func:`add_weighted_grams`, one thread, busy machine).
    The products run in float32 (a preconditioner, not the Hessian of a
    Newton step: a few digits are enough).
    """
    blocks = term.products.plan
    if blocks.sparse:
        return None
    Y, sw, loss, k, D = term.Y, term.weights, term.loss, term.k, term.n_rows
    rows, cols = np.triu_indices(D)

    def work(idx):
        acc = np.zeros((rows.size, k))
        for i in idx:
            lo, hi = blocks.bounds[i]
            # float32 products (summed in float64 per row block): a
            # preconditioner needs a few digits, and sgemm is twice dgemm.
            Xb = block_design(term, i, np.float32)
            h = np.asarray(loss.hessian_diag_t(St[:, lo:hi], Y[lo:hi], sw[lo:hi]),
                           dtype=np.float32).reshape(k, hi - lo)
            Q = Xb[:, rows]
            Q *= Xb[:, cols]
            acc += np.dot(Q.T, h.T)
        return acc

    parts = _parallel.run_blocks(work, len(blocks.bounds), blocks.workers())
    acc = parts[0]
    for part in parts[1:]:
        acc += part
    out = np.empty((k, D, D))
    out[:, rows, cols] = acc.T
    out[:, cols, rows] = acc.T
    return out


def block_design(term: Any, i: int, dtype: Any = np.float64) -> Any:
    """Row block ``i`` of ``[X, 1]`` in float64 (CSR for sparse ``X``).

    Dense ``X``: in ``dtype`` (float64 unless asked otherwise).
    """
    blocks, d = term.products.plan, term.n_features
    lo, hi = blocks.bounds[i]
    if blocks.sparse:
        ind, data = blocks.cols[i]
        Xb = sp.csr_matrix((data.astype(np.float64), ind, blocks.csr[i]), shape=(hi - lo, d))
        if term.fit_intercept:
            Xb = sp.hstack([Xb, np.ones((hi - lo, 1))], format="csr")
        return Xb
    Xb = np.empty((hi - lo, term.n_rows), dtype=dtype)
    Xb[:, :d] = term.X[lo:hi]
    if term.fit_intercept:
        Xb[:, d] = 1.0
    return Xb


#: Diagonal Hessian blocks from float32 products (see :func:`blocked_hessian`); a switch
#: for the A/B of ``benchmarks/float32_grams.py``.
_FLOAT32_GRAMS = True


def blocked_hessian(term: Any, St: np.ndarray, diagonal: bool = False,
                    float32: bool = False) -> np.ndarray:
    r"""Unscaled Hessian from row blocks of ``[X, 1]`` (float64).

    ``(D, k, D, k)``, or the ``(k, D, D)`` diagonal blocks when ``diagonal``
    (losses with ``diagonal_hessian``). Built from the loss's structure rather
    than pair by pair: for the softmax (``loss.softmax_hessian``),
    :math:`\sum_i (\mathrm{diag}(p_i) - p_i p_i^\top) \otimes \tilde x_i \tilde x_i^\top`
    is ``k`` diagonal blocks minus one Gram matrix (:func:`softmax_hessian_block`).
    """
    D, k = term.n_rows, term.k
    Y, sw, loss, blocks = term.Y, term.weights, term.loss, term.products.plan
    softmax = loss.softmax_hessian and not blocks.sparse
    # The diagonal blocks of a float32 fit, and those a Newton step solves with
    # (``float32``, see DataTerm.hessian_blocks), come from float32 products
    # summed in float64 per row chunk: their 1e-7 relative rounding is far
    # below what a step needs, while the gradient, which decides every step
    # and convergence, stays exact. Newton-Cholesky fits of movies,
    # credit_onehot, dense_binary and multilabel took 0.64-0.82x the time with
    # the same iterations and optimum (``python benchmarks/float32_grams.py``).
    # Diagnostics (spectra, flat directions) get float64 blocks; sparse blocks
    # stay float64.
    fast = diagonal and not blocks.sparse and not term.exact_grams and (
        term.dtype == np.float32 or (float32 and _FLOAT32_GRAMS))
    gram = np.float32 if fast else np.float64

    def work(idx):
        H = np.zeros((k, D, D)) if diagonal else np.zeros((D, k, D, k))
        for i in idx:
            lo, hi = blocks.bounds[i]
            Xb = block_design(term, i, gram)
            if diagonal:
                h = np.asarray(loss.hessian_diag_t(St[:, lo:hi], Y[lo:hi], sw[lo:hi]),
                               dtype=gram).reshape(k, hi - lo)
                add_weighted_grams(Xb, h, H)
            elif softmax:
                softmax_hessian_block(Xb, St[:, lo:hi], sw[lo:hi], H)
            else:
                for a in range(k):
                    for c in range(a, k):
                        h = loss.hessian_weights_t(St[:, lo:hi], Y[lo:hi], sw[lo:hi], a, c)
                        if h is None:
                            continue
                        block = weighted_gram(Xb, np.asarray(h, dtype=np.float64),
                                              symmetric=False)
                        H[:, a, :, c] += block
                        if a != c:
                            H[:, c, :, a] += block.T
        return H

    parts = _parallel.run_blocks(work, len(blocks.bounds), blocks.workers())
    H = parts[0]
    for part in parts[1:]:
        H += part
    if fast and intercept_collinear(H, term.n_features if term.fit_intercept else None):
        # float32 rounding of the grams is above the centred part of a column far
        # from zero next to its spread (see intercept_collinear): exact grams
        # instead, from now on for this data term.
        term.exact_grams = True
        return blocked_hessian(term, St, diagonal, float32=False)
    return H


def intercept_collinear(H: np.ndarray, d: int | None) -> bool:
    r"""Whether a column is nearly collinear with the intercept in the grams ``H``.

    ``H`` ``(k, D, D)`` holds :math:`\tilde X^\top \mathrm{diag}(h_a) \tilde X`
    per output, the intercept's row and column at index ``d`` (None: no
    intercept, nothing to check). Column ``j``'s weighted mean over its weighted
    standard deviation, :math:`r_j`, follows from
    :math:`c_j = H_{jd}^2 / (H_{jj} H_{dd}) = r_j^2 / (1 + r_j^2)`. The centred
    part of :math:`H_{jj}`, what a Newton step solves with once the intercept
    is eliminated, is then :math:`1 / (1 + r_j^2)` of it, and float32 rounding
    of :math:`H_{jj}` is a relative error of about :math:`(1 + r_j^2)\,
    \epsilon_{32}` there. True where some :math:`r_j` exceeds
    :data:`~sigmax.dataterms.tuning.FLOAT32_GRAMS_MAX_OFFSET`.
    """
    if d is None or H.ndim != 3 or H.shape[1] <= d:
        return False
    diag = np.diagonal(H, axis1=1, axis2=2)
    cross = H[:, :d, d]
    denom = diag[:, :d] * diag[:, d:d + 1]
    live = denom > 0
    c = np.zeros_like(cross)
    np.divide(cross * cross, denom, out=c, where=live)
    r2 = tuning.FLOAT32_GRAMS_MAX_OFFSET ** 2
    return bool(np.any(c > r2 / (1.0 + r2)))


def weighted_gram(Xb: Any, h: np.ndarray, symmetric: bool = True) -> np.ndarray:
    r""":math:`X_b^\top \mathrm{diag}(h) X_b` as a dense float64 ``(D, D)`` array.

    Dense, with ``h >= 0`` (``symmetric``): :math:`(\sqrt h X_b)^\top (\sqrt h X_b)`,
    which NumPy hands to BLAS's symmetric rank-k update (half the work of a
    general product).
    """
    if sp.issparse(Xb):
        return (Xb.T @ Xb.multiply(h[:, None]).tocsr()).toarray()
    if symmetric and h.size and float(h.min()) >= 0:
        R = Xb * np.sqrt(h)[:, None]
        return R.T @ R
    return np.dot(Xb.T, Xb * h[:, None])


def add_weighted_grams(Xb: Any, h: np.ndarray, out: np.ndarray) -> None:
    r"""``out[a] += X_b^T diag(h_a) X_b`` for each row ``a`` of ``h`` (``(k, b)``, ``>= 0``).

    Dense: the ``k`` products run as one stacked product of
    :math:`\sqrt{h_a} X_b` with itself (one call instead of ``k``; the
    per-call overhead dominates at small ``D``), over row chunks that keep
    the scaled copies under ``tuning._GRAM_CHUNK`` values.
    """
    k = h.shape[0]
    if sp.issparse(Xb):
        for a in range(k):
            out[a] += weighted_gram(Xb, h[a])
        return
    b, D = Xb.shape
    if k >= D:
        _add_grams_by_products(Xb, np.maximum(h, 0), out)
        return
    root = np.sqrt(np.maximum(h, 0))
    rows = max(1, tuning._GRAM_CHUNK // max(k * D, 1))
    for lo in range(0, b, rows):
        hi = min(lo + rows, b)
        R = Xb[None, lo:hi] * root[:, lo:hi, None]
        out += np.matmul(R.transpose(0, 2, 1), R)


def _add_grams_by_products(Xb: np.ndarray, h: np.ndarray, out: np.ndarray) -> None:
    r""":func:`add_weighted_grams` for many outputs (``k >= D``): one GEMM over row products.

    Row ``i`` of ``Q`` holds the ``T = D (D + 1) / 2`` products
    :math:`x_{ij} x_{il}` (``j <= l``); then :math:`H Q` (``(k, T)``) holds the
    upper triangles of all ``k`` blocks. Half the multiply-adds of the ``k``
    stacked ``(D, D)`` products, in one well-shaped GEMM instead of ``k``
    small ones, at the price of forming ``Q`` (``b T`` products, independent of
    ``k``): faster once ``k >= D``. One-vs-rest over the 79 film label sets (D =
    15, 4,096 rows, one thread): 3.0 ms against 19.5 ms; at ``D = k = 65`` 0.66x
    the time; at ``k = 7`` 1.3x, at ``D = 65, k = 10`` 2.2x
    (``python benchmarks/output_grams.py``). That model's C search on a film
    training fold: 12.4 s -> 5.8 s (``python benchmarks/film_fold.py``).
    """
    b, D = Xb.shape
    T = D * (D + 1) // 2
    acc = np.zeros((h.shape[0], T))
    chunk = max(1, tuning._GRAM_CHUNK // T)
    for lo in range(0, b, chunk):
        hi = min(lo + chunk, b)
        Q = np.empty((hi - lo, T), dtype=Xb.dtype)
        at = 0
        for j in range(D):  # D column products: no gather of (rows, T) indices
            np.multiply(Xb[lo:hi, j:j + 1], Xb[lo:hi, j:], out=Q[:, at:at + D - j])
            at += D - j
        acc += np.dot(np.asarray(h[:, lo:hi], dtype=Xb.dtype), Q)
    rows, cols = np.triu_indices(D)
    out[:, rows, cols] += acc
    strict = rows != cols
    out[:, cols[strict], rows[strict]] += acc[:, strict]


def softmax_hessian_block(Xb: np.ndarray, Pt: np.ndarray, sw: np.ndarray,
                           H: np.ndarray) -> None:
    r"""Add one row block's softmax Hessian to ``H`` (``(D, k, D, k)``, unscaled).

    Block ``(a, c)`` is :math:`X_b^\top \mathrm{diag}(s\, p_a (\delta_{ac} - p_c)) X_b`.
    The off-diagonal blocks come from one symmetric product :math:`B^\top B`,
    where row ``i`` of ``B`` is :math:`\sqrt{s_i}\, \tilde x_i \otimes p_i`
    (flattened in the ``(D, k)`` parameter layout); the ``k`` diagonal blocks
    are weighted Gram matrices with weights :math:`s\, p_a (1 - p_a)`, not
    :math:`\mathrm{diag}(p_a) - p_a^2` from ``B``: that difference cancels
    when a class is predicted with near certainty and would cost Newton its
    last digits. ``Pt`` is ``(k, b)``: the probabilities of the model's ``k``
    outputs (in the reference parameterization the fixed class is absent and
    the formula is unchanged).
    """
    b, D = Xb.shape
    k = Pt.shape[0]
    P = np.asarray(Pt, dtype=np.float64).T  # (b, k)
    w = np.asarray(sw, dtype=np.float64)
    diag = np.zeros((k, D, D))
    add_weighted_grams(Xb, (P * (1 - P) * w[:, None]).T, diag)
    root = np.sqrt(np.maximum(w, 0))
    BtB = np.zeros((D * k, D * k))
    for lo in range(0, b, tuning._SOFTMAX_ROWS):
        hi = min(lo + tuning._SOFTMAX_ROWS, b)
        Bm = (Xb[lo:hi, :, None] * (P[lo:hi] * root[lo:hi, None])[:, None, :]).reshape(hi - lo,
                                                                                       D * k)
        BtB += Bm.T @ Bm
    B4 = BtB.reshape(D, k, D, k)
    for a in range(k):
        B4[:, a, :, a] = -diag[a]  # replaced, not corrected: no cancellation in H
    H -= B4
