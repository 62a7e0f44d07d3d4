r"""Row blocks of an in-memory ``X`` and the fused passes over them.

:class:`BlockPlan` cuts a dense or CSR ``X`` into row blocks (views, never a
copy) and decides the threads of a pass; :class:`BlockProducts` forms a
block's logits and accumulates ``X_b^T G_b``, and :meth:`BlockProducts.run`
is the fused pass: per block (in cache) ``Z_b = X_b W + b``, a block
operation (a loss kernel) turns ``Z_b`` into ``G_b`` in place, and
``X_b^T G_b`` is accumulated; blocks are shared among the threads NumPy's BLAS
may use. No ``(n, k)`` array is formed for dense ``X``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from .. import _csr, _parallel
from . import memory, tuning

try:  # SciPy's compiled sparse kernels: products that accumulate into our buffers.
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover - a future SciPy without them: public API
    _sparsetools = None

__all__ = ["BlockPlan", "BlockProducts", "dense_block_rows", "row_layout", "twin_order"]

_NO_CONTEXT = contextlib.nullcontext()


class BlockPlan:
    """Row blocks of a dense or CSR ``X``, views only (``X`` is never copied).

    ``itemsize``: bytes per value of the blocks as the products read them
    (default ``X``'s; a float64 ``X`` read as float32 blocks: 4).
    """

    def __init__(self, X: Any, k: int, itemsize: int | None = None) -> None:
        n, d = X.shape
        item = X.dtype.itemsize if itemsize is None else int(itemsize)
        self.sparse = sp.issparse(X)
        if self.sparse:
            ip = X.indptr
            self.work = int(ip[-1])
            # Blocks of about equal stored values (rows of text data vary a lot).
            per_block = max(1, tuning.BLOCK_BYTES // (item + X.indices.dtype.itemsize))
            cuts = np.searchsorted(ip, np.arange(per_block, self.work, per_block))
            edges = np.unique(np.concatenate([[0], cuts, [n]]))
            # Keep the (b, k) logits of a block small too.
            max_rows = max(256, tuning.BLOCK_BYTES // (2 * item * max(k, 1)))
            bounds = []
            for lo, hi in itertools.pairwise(edges):
                bounds.extend((a, min(a + max_rows, hi)) for a in range(lo, hi, max_rows))
            self.bounds = [(int(a), int(b)) for a, b in bounds]
            idx = X.indices.dtype
            self.csr = [(ip[lo:hi + 1] - ip[lo]).astype(idx, copy=False) for lo, hi in self.bounds]
            self.cols = [(X.indices[ip[lo]:ip[hi]], X.data[ip[lo]:ip[hi]])
                         for lo, hi in self.bounds]
            # Compiled kernels (sigmax._csr) release the GIL, so the blocks can
            # share the cores; SciPy's serve small matrices (no compile time)
            # and passes on one thread (see uses_compiled).
            self.compiled = self.work >= _csr.MIN_NNZ and _csr.available()
            if self.compiled:  # compile (or load) once here, not in a worker thread
                _csr.prepare(X.data.dtype, X.indices.dtype)
        else:
            self.compiled = False
            self.work = n * d
            rows = dense_block_rows(d, k, item)
            self.bounds = [(lo, min(lo + rows, n)) for lo in range(0, n, rows)]

    def plan(self) -> tuple[int, bool]:
        """``(workers, compiled)`` of a pass started now: its threads, and whether
        a CSR pass runs on the compiled kernels (:meth:`uses_compiled`)."""
        n_workers = self.workers()
        return n_workers, self.uses_compiled(n_workers)

    def uses_compiled(self, n_workers: int) -> bool:
        """Whether a CSR pass on ``n_workers`` threads runs on the compiled kernels.

        Only on two or more: on one, neither wins (sparse_text, one thread,
        per evaluation: SciPy 191 ms, compiled 177 ms in float64; 115 vs
        144 ms in float32; ``python benchmarks/sparse_products.py``); the
        gain is the second core.
        """
        return self.compiled and n_workers > 1

    def workers(self) -> int:
        # SciPy's sparse kernels hold the GIL: a second thread would only wait
        # for it (measured slower than one), so CSR passes on SciPy's kernels
        # stay on one thread; the compiled ones run on every core.
        if ((self.sparse and not self.compiled) or self.work < tuning.PARALLEL_MIN_WORK
                or len(self.bounds) < 2):
            return 1
        return min(_parallel.blas_threads(), os.cpu_count() or 1, len(self.bounds))


def dense_block_rows(d: int, k: int, itemsize: int) -> int:
    """Rows of a dense block: ``X_b`` (``d`` columns) and its ``(b, k)`` logits in
    :data:`~sigmax.dataterms.tuning.BLOCK_BYTES`, between 256 and 16384."""
    # Plain ints: np.clip on a scalar costs 10 us, a tenth of a small fit's set-up.
    return min(max(tuning.BLOCK_BYTES // (max(d + 2 * k, 1) * itemsize), 256), 16384)


def row_layout(X: np.ndarray, plan: BlockPlan) -> np.ndarray:
    """Dense ``X`` in the memory order its blocks' products read fastest.

    Several blocks: row-major (C). A block of a column-major ``X`` is a strided
    slice, and OpenBLAS forms its ``X_b^T G_b`` 2.1-2.5x slower (40,000 x 100,
    K = 10, one thread: a block's two products 0.99 against 0.63 ms in float64),
    so a fit on a column-major ``X`` (what pandas hands over for a numeric
    DataFrame) took 1.55x as long (SoftmaxRegression, 20,000 x 100: 0.172
    against 0.111 s). Such an ``X`` is copied once to row-major, as
    scikit-learn's linear models copy it (the same fit with the copy: 0.117 s),
    unless the copy would take over a quarter of the available memory
    (:func:`~sigmax.dataterms.memory.copy_fits`).

    One block: as given where it is contiguous (no copy), else copied
    column-major. Column-major is the faster order there: ``X_b W`` 1.8x
    (float64) to 3.3x (float32) faster on the digits and movies shapes, 1.1-1.3x
    on breast_cancer's, ``X_b^T G_b`` up to 1.3x slower (digits); copies made
    anyway (the float32 twin of :mod:`.float32_hessp`) are made column-major by
    :func:`twin_order` (``python benchmarks/block_layout.py``).
    """
    if len(plan.bounds) > 1:
        # Not where the copy would take over a quarter of the free memory: slow
        # strided blocks then, rather than a fit that runs out of memory.
        return (X if X.flags.c_contiguous or not memory.copy_fits(X.nbytes)
                else np.ascontiguousarray(X))
    # A strided view (X[:, ::2]) would be copied by NumPy at every product.
    return X if X.flags.c_contiguous or X.flags.f_contiguous else np.asfortranarray(X)


def slice_rows(d: int, k: int) -> int:
    """Rows of one slice of a row-major block's ``G_b^T X_b`` with ``k > 1`` outputs, or 0.

    Where NumPy's BLAS has small-matrix kernels (:func:`sigmax._parallel.small_gemm_kernels`),
    that product runs in row slices of at most
    :data:`~sigmax.dataterms.tuning.SMALL_GEMM_MACS` multiply-adds: 1.3-1.5x
    faster per row on the bench shapes than one call over the block (``python
    benchmarks/block_layout.py``, part 5). The block stays the unit of the passes
    (its logits in cache between the two products); only the BLAS calls are
    cut. ``X_b W`` gains only as ``(b, k)`` rows from a row-major ``W``
    (:meth:`BlockProducts.block_logits`), and row slices of a column-major ``X``
    are strided (no small kernels: not sliced).
    """
    if k < 2 or not _parallel.small_gemm_kernels():
        return 0
    rows = tuning.SMALL_GEMM_MACS // max(d * k, 1)
    return rows if rows >= tuning.SMALL_GEMM_MIN_ROWS else 0


def twin_order(shape: tuple[int, int], k: int, dtype: Any) -> str:
    """Memory order (``"C"`` / ``"F"``) for a dense copy of ``X`` in ``dtype`` made for its
    blocks' products: column-major where the copy is one block (see :func:`row_layout`)."""
    n, d = shape
    return "F" if n <= dense_block_rows(d, k, np.dtype(dtype).itemsize) else "C"


class BlockProducts:
    """Products of the row blocks of ``X`` with ``W`` and with gradient blocks.

    Parameters
    ----------
    X : ndarray or scipy.sparse CSR matrix of shape (n, d)
        float32 or float64; CSR never copied, dense only to the order
        :func:`row_layout` reads fastest.
    k : int
        Number of outputs.
    dtype : float32 or float64, optional
        The products' dtype, default ``X``'s. A dense ``X`` of another dtype is
        read block by block into a scratch block of this one (:meth:`rows`), which
        both products of the block then read from the cache: float32 products on
        a float64 ``X`` without a copy of it (:mod:`.float32_twin`).
    """

    def __init__(self, X: Any, k: int, dtype: Any = None) -> None:
        self.k = int(k)
        self.dtype = X.dtype if dtype is None else np.dtype(dtype)
        self.n_samples, self.n_features = X.shape
        self.plan = BlockPlan(X, self.k, itemsize=self.dtype.itemsize)
        if self.plan.sparse and self.dtype != X.dtype:
            raise ValueError("CSR blocks are read in the dtype of X.")
        self.X = X if self.plan.sparse else row_layout(X, self.plan)
        #: Dense blocks converted to ``dtype`` as they are read (see :meth:`rows`).
        self.converts = self.dtype != X.dtype
        #: Rows of one slice of a block's ``G_b^T X_b`` (0: unsliced), see :func:`slice_rows`.
        self.slice = (slice_rows(self.n_features, self.k)
                      if not self.plan.sparse and self.X.flags.c_contiguous else 0)
        #: Whether ``X_b W`` into ``(k, b)`` logits is formed as ``(b, k)`` row slices and
        #: copied transposed (see :meth:`block_logits`): where it is cut into slices and
        #: has enough features per output to pay for the copy.
        self.slice_logits = bool(self.slice) and (
            self.n_features >= tuning.SLICED_LOGITS_FEATURES_PER_OUTPUT * self.k)
        # Per-thread scratch blocks of the dense passes, reused across blocks
        # and calls (fresh temporaries per block cost page faults).
        self.bufs: dict[tuple[int, str], np.ndarray] = {}
        self._spans: dict[tuple[int, str], tuple[int, int]] = {}  # rows held by rows()
        self._ones_vec: np.ndarray | None = None
        self._G: np.ndarray | None = None  # (n, k) gradient buffer of the sparse path

    @property
    def max_rows(self) -> int:
        """Rows of the largest block."""
        return max(hi - lo for lo, hi in self.plan.bounds)

    def take(self, key: str, size: int) -> np.ndarray:
        """A flat scratch array of this thread (``size`` entries or more), see :meth:`give`."""
        buf = self.bufs.pop((threading.get_ident(), key), None)
        if buf is None or buf.size < size:
            buf = np.empty(size, dtype=self.dtype)
        return buf

    def give(self, key: str, buf: np.ndarray) -> None:
        """Return a scratch array taken by :meth:`take` for the next block of this thread."""
        self.bufs[(threading.get_ident(), key)] = buf

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Dense ``X[lo:hi]`` in the working dtype: a view, or where the blocks are
        converted (:attr:`converts`), this thread's scratch copy of them.

        A block's two products (logits, then ``X_b^T G_b``) run on one thread one
        after the other: the second finds the block converted by the first.
        """
        if not self.converts:
            return self.X[lo:hi]
        key = (threading.get_ident(), "rows")
        span = self._spans.get(key)
        block = self.bufs.get(key)
        d = self.n_features
        if span != (lo, hi) or block is None:
            if block is None or block.size < (hi - lo) * d:
                block = self.bufs[key] = np.empty(self.max_rows * d, dtype=self.dtype)
            np.copyto(block[: (hi - lo) * d].reshape(hi - lo, d), self.X[lo:hi],
                      casting="same_kind")
            self._spans[key] = (lo, hi)
        return block[: (hi - lo) * d].reshape(hi - lo, d)

    def rowmajor_weights(self, rowmajor: bool = False) -> bool:
        """Whether :meth:`block_weights` gives the row-major ``(d, k)`` ``W`` (else ``(k, d)``)."""
        return self.plan.sparse or rowmajor or self.slice_logits

    def block_weights(self, W: np.ndarray, rowmajor: bool = False) -> np.ndarray:
        """``W`` as the block products read it: one contiguous copy in the working dtype.

        ``(d, k)`` (row-major ``W``) for CSR, and for dense ``X`` whose logits
        are formed as ``(b, k)`` rows: kept so (``rowmajor``) or cut into row
        slices (:attr:`slice_logits`); ``(k, d)`` otherwise (:meth:`rowmajor_weights`).
        On text data ``W`` is half an (n, k) buffer: the layout the products do
        not read is not formed. OpenBLAS forms ``X_b W`` on its small-matrix
        kernels only from a row-major ``W``: from the transpose of a ``(k, d)``
        copy, row slices are no faster than one call (``python
        benchmarks/block_layout.py``, part 6).
        """
        if self.rowmajor_weights(rowmajor):
            return np.ascontiguousarray(W, dtype=self.dtype)
        return np.ascontiguousarray(W.T, dtype=self.dtype)

    def _rows_product(self, lo: int, hi: int, Wb: np.ndarray, Z: np.ndarray) -> None:
        """``Z = X[lo:hi] @ Wb`` (``(b, k)`` rows, ``Wb`` row-major), in row slices where cut."""
        step, Xb = self.slice, self.rows(lo, hi)
        if step and hi - lo > step:
            for s in range(0, hi - lo, step):
                np.matmul(Xb[s:s + step], Wb, out=Z[s:s + step])
        else:
            np.matmul(Xb, Wb, out=Z)

    def block_logits(self, i: int, Wb: np.ndarray, b: np.ndarray | None,
                      out: np.ndarray | None = None, compiled: bool = False,
                      rowmajor: bool = False) -> np.ndarray:
        """``Zt = (X_i @ W + b).T``, shape (k, rows of block i), C-contiguous.

        ``Wb``: ``W`` from :meth:`block_weights` (called with the same ``rowmajor``).

        Dense ``X``, or CSR on the compiled kernels (``compiled``): written into
        ``out`` (a flat scratch array of the working dtype, ``k * rows`` entries
        or more) when given. ``rowmajor`` (dense, with ``out``): stored as the
        C-contiguous ``(b, k)`` product, ``Zt`` its F-contiguous transpose.

        Where the blocks are cut into row slices (:func:`slice_rows`), ``X_b W``
        is formed as ``(b, k)`` rows slice by slice, on OpenBLAS's small-matrix
        kernels. With ``rowmajor`` that is the result; without, the rows are
        copied transposed into ``Zt`` where ``d >= 3 k``
        (:attr:`slice_logits`, :data:`~sigmax.dataterms.tuning.SLICED_LOGITS_FEATURES_PER_OUTPUT`).
        """
        lo, hi = self.plan.bounds[i]
        if compiled:
            ind, data = self.plan.cols[i]
            Zt = (np.empty((self.k, hi - lo), dtype=self.dtype) if out is None
                  else out[: self.k * (hi - lo)].reshape(self.k, hi - lo))
            _csr.kernels()[0](self.plan.csr[i], ind, data, Wb, Zt)
            if b is not None:
                Zt += b[:, None]
            return Zt
        if out is not None and not self.plan.sparse:
            size = self.k * (hi - lo)
            if rowmajor:
                Z = out[:size].reshape(hi - lo, self.k)
                self._rows_product(lo, hi, Wb, Z)
                if b is not None:
                    Z += b
                return Z.T
            Zt = out[:size].reshape(self.k, hi - lo)
            if self.slice_logits:
                rows = self.take("R", size)
                Z = rows[:size].reshape(hi - lo, self.k)
                self._rows_product(lo, hi, Wb, Z)
                np.copyto(Zt, Z.T)
                self.give("R", rows)
            elif self.k == 1:
                np.dot(self.rows(lo, hi), Wb[0], out=Zt[0])
            else:
                # X_b @ W written through the (b, k) view of Zt: BLAS gets the
                # transposed output directly. Never slower than W.T @ X_b.T and
                # 0.55x its time at few features (movies: 4000 x 19, k=7);
                # the gufunc releases the GIL like np.dot.
                np.matmul(self.rows(lo, hi), Wb.T, out=Zt.T)
            if b is not None:
                Zt += b[:, None]
            return Zt
        if self.plan.sparse:
            ind, data = self.plan.cols[i]
            if _sparsetools is not None:
                Z = np.zeros((hi - lo, self.k), dtype=self.dtype)
                _sparsetools.csr_matvecs(hi - lo, self.n_features, self.k, self.plan.csr[i],
                                         ind, data, Wb.ravel(), Z.ravel())
            else:  # pragma: no cover
                Z = sp.csr_matrix((data, ind, self.plan.csr[i]),
                                  shape=(hi - lo, self.n_features)) @ Wb
            Zt = np.ascontiguousarray(Z.T)
        elif self.k == 1:
            Zt = np.dot(self.rows(lo, hi), Wb[0])[None, :]
        else:
            # np.dot, not @: it releases the GIL around the BLAS call.
            Zt = np.dot(Wb.T if self.slice_logits else Wb, self.rows(lo, hi).T)
        if b is not None:
            Zt += b[:, None]
        return Zt

    def block_rmatmul(self, i: int, Gt: np.ndarray, acc: np.ndarray,
                       transposed: bool = True, compiled: bool = False) -> None:
        """``acc += X_i.T @ G_i`` (``Gt`` is ``G_i.T`` unless ``transposed=False``).

        ``acc`` is (k, d) float64 for dense ``X``, (d, k) in the dtype of ``X`` for CSR.
        ``compiled``: CSR on the compiled kernels.
        """
        if compiled:
            ind, data = self.plan.cols[i]
            _csr.kernels()[1](self.plan.csr[i], ind, data, Gt if transposed else Gt.T,
                              acc, False)
        elif self.plan.sparse:
            lo, hi = self.plan.bounds[i]
            ind, data = self.plan.cols[i]
            G = np.ascontiguousarray(Gt.T if transposed else Gt)
            if _sparsetools is not None:
                _sparsetools.csc_matvecs(self.n_features, hi - lo, self.k, self.plan.csr[i],
                                         ind, data, G.ravel(), acc.ravel())
            else:  # pragma: no cover
                acc += sp.csr_matrix((data, ind, self.plan.csr[i]),
                                     shape=(hi - lo, self.n_features)).T @ G
        elif self.k == 1:
            lo, hi = self.plan.bounds[i]
            acc[0] += np.dot(Gt[0], self.rows(lo, hi))
        else:
            lo, hi = self.plan.bounds[i]
            G, step, Xb = (Gt if transposed else Gt.T), self.slice, self.rows(lo, hi)
            if step and hi - lo > step:  # small-matrix kernels (slice_rows)
                for s in range(0, hi - lo, step):
                    acc += np.dot(G[:, s:s + step], Xb[s:s + step])
            else:
                acc += np.dot(G, Xb)

    def ones(self, size: int) -> np.ndarray:
        """A cached vector of ``size`` ones in the working dtype (read only)."""
        ones = self._ones_vec
        if ones is None or ones.size < size:
            ones = self._ones_vec = np.ones(size, dtype=self.dtype)
        return ones[:size]

    def new_acc(self) -> np.ndarray:
        if self.plan.sparse:
            # SciPy's kernel accumulates in the dtype of X.
            return np.zeros((self.n_features, self.k), dtype=self.dtype)
        return np.zeros((self.k, self.n_features))

    def run(self, W: np.ndarray, b: np.ndarray | None, block_op: Callable[..., Any],
            quiet: bool = False, rowmajor: bool = False) -> tuple[float, np.ndarray]:
        """One pass over ``X``: per block, logits -> ``block_op`` -> ``X_b.T @ result``.

        Returns the summed values and the ``(d [+1], k)`` float64 gradient rows
        (unscaled). ``block_op(i, lo, hi, Zt)`` overwrites ``Zt`` and returns a float
        (dense ``X``: or ``(float, G)`` with ``G`` the result block, shaped like ``Zt``).
        ``quiet``: no overflow warnings in the dense pass (the caller checks the result).
        ``rowmajor``: dense blocks in the ``(b, k)`` layout (see :meth:`block_logits`),
        without the intercepts: ``block_op`` adds them (the compiled passes, on the fly).
        """
        Wb = self.block_weights(W, rowmajor)
        bb = None if b is None else b.astype(self.dtype)

        n_blocks = len(self.plan.bounds)
        n_workers, compiled = self.plan.plan()
        out = np.empty((self.n_features + int(b is not None), self.k))
        top = out[: self.n_features]  # the coefficient rows of the float64 result
        if self.plan.sparse:
            # Sparse: two passes. Fused, the gathers from W (d, k) and the
            # scatters into X.T G (d, k) share the cache and both slow down
            # (SciPy's kernels: 1.45x the two separate products on text data;
            # the compiled ones: 1.07-1.16x per evaluation, sparse_text at one
            # and two threads, measured when this variant was tried); the
            # (n, k) gradient in between is the one buffer this costs.
            if self._G is None:
                self._G = np.empty((self.n_samples, self.k), dtype=self.dtype)
            G = self._G

            rows = max(hi - lo for lo, hi in self.plan.bounds)

            def first(blocks):
                gsum, total = np.zeros(self.k), 0.0
                buf = self.take("Z", self.k * rows)
                for i in blocks:
                    lo, hi = self.plan.bounds[i]
                    Zt = self.block_logits(i, Wb, bb, out=buf, compiled=compiled)
                    total += block_op(i, lo, hi, Zt)
                    G[lo:hi] = Zt.T
                    if b is not None:
                        gsum += Zt.sum(axis=1, dtype=np.float64)
                self.give("Z", buf)
                return total, None, gsum

            # On text data a (d, k) buffer is half an (n, k) one: with float64 X one
            # worker accumulates in the result's rows themselves, and float32
            # accumulators are summed into them, with no float64 copy made first.
            # (next() on a list iterator is atomic: one worker gets ``top``.)
            own = iter([top] if top.dtype == self.dtype else [])

            def second(blocks):
                acc = next(own, None)
                if acc is None:
                    acc = self.new_acc()
                else:
                    acc.fill(0.0)
                for i in blocks:
                    lo, hi = self.plan.bounds[i]
                    self.block_rmatmul(i, G[lo:hi], acc, transposed=False, compiled=compiled)
                return acc

            parts = _parallel.run_blocks(first, n_blocks, n_workers)
            accs = _parallel.run_blocks(second, n_blocks, n_workers)
            others = [a for a in accs if a is not top]
            if len(others) == len(accs):  # no worker summed in top
                np.copyto(top, others.pop())
            for a in others:
                top += a
        else:
            rows = max(hi - lo for lo, hi in self.plan.bounds)
            # Row sums of G (intercept gradient) as a BLAS matrix-vector
            # product: 2-7x faster than a NumPy reduction, same accumulation as
            # the X_b.T @ G_b product next to it.
            ones = self.ones(rows) if b is not None else None

            def work(blocks):
                with np.errstate(over="ignore", invalid="ignore") if quiet else _NO_CONTEXT:
                    return dense_work(blocks)

            def dense_work(blocks):
                acc, gsum, total = self.new_acc(), np.zeros(self.k), 0.0
                buf = self.take("Z", self.k * rows)
                for i in blocks:
                    lo, hi = self.plan.bounds[i]
                    Zt = self.block_logits(i, Wb, None if rowmajor else bb, out=buf,
                                            rowmajor=rowmajor)
                    value = block_op(i, lo, hi, Zt)
                    if isinstance(value, tuple):  # (value, block holding the result)
                        value, Zt = value
                    total += value
                    self.block_rmatmul(i, Zt, acc)
                    if b is not None:
                        gsum += np.dot(Zt, ones[: hi - lo])
                self.give("Z", buf)
                return total, acc, gsum

            parts = _parallel.run_blocks(work, n_blocks, n_workers)
            # parts[0][1] is this call's own (k, d) float64 accumulator.
            acc = parts[0][1]
            for part in parts[1:]:
                acc += part[1]
            top[...] = acc.T
        if b is not None:
            out[self.n_features] = sum(part[2] for part in parts)
        return sum(part[0] for part in parts), out
