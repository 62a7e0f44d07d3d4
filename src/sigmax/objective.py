r"""The penalized objective of a linear model: the one place where ``X`` enters.

Conventions
-----------
The parameters are a flat float64 vector ``w`` of length ``(d + 1) * k`` (or
``d * k`` without intercept), the C-order ravel of the matrix ``P`` of shape
``(d [+ 1], k)``: ``P[:d]`` holds the coefficients (``coef_ = P[:d].T``) and
``P[d]`` the intercepts. The logits are ``Z = X @ P[:d] + P[d]``.

The objective minimized is scikit-learn's, divided by :math:`C S` with
:math:`S = \sum_i s_i` (so that tolerances do not depend on ``n`` or ``C``):

.. math::

    f(w) = \frac{1}{S} \sum_i s_i \, \ell(z_i, y_i) + \frac{1}{C S} r(W).

The minimizer is the same as that of :math:`C \sum_i s_i \ell_i + r(W)`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from typing import Any

import numpy as np
import scipy.sparse as sp

from . import _csr, _parallel
from .losses import Loss
from .penalties import Penalty

try:  # SciPy's compiled sparse kernels: products that accumulate into our buffers.
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover - a future SciPy without them: public API
    _sparsetools = None

__all__ = ["LinearObjective"]

_NO_CONTEXT = contextlib.nullcontext()

#: Bytes of one row block of ``X`` (with its logits). A block read from memory
#: for ``X_b @ W`` must still be in the core's cache for ``X_b.T @ G_b``:
#: measured best at 3-6 MB (4096-8192 rows of d=100 float64) on a 2 MB-L2,
#: 32 MB-L3 machine; smaller blocks pay NumPy's per-call overhead.
BLOCK_BYTES = 4 << 20
#: Logits (``n * k``) from which a dense problem uses the losses' compiled
#: (numba) partition passes. Loading numba costs 0.2-1 s once per process
#: (import and disk cache), and the passes save about 0.5 ns per logit and
#: evaluation: below this (digits, movies, breast_cancer: fits of a few ms)
#: numba is never imported. As :data:`sigmax._csr.MIN_NNZ` for CSR products.
COMPILED_MIN_LOGITS = 1 << 18
#: Fewer entries (or stored values) of ``X`` than this: one thread (a pass is
#: then shorter than the cost of waking a second one).
PARALLEL_MIN_WORK = 1 << 17
#: Entries of a float32 ``X`` from which the constant linear-part gradient
#: (``LinearObjective._linear_part``) comes from float32 products of
#: ``LINEAR_F32_ROWS`` rows (summed in float64) instead of float64 copies of
#: ``X``: 5.6 ms instead of 15 ms on dense_binary (500k x 50). Smaller ``X``
#: keeps the exact float64 sums, which cost under a millisecond there; a
#: 1e-7 change of this constant alone moved where digits' float32 L-BFGS
#: (54 iterations) met tol=1e-5: 50 iterations at a 1.9e-5 gap.
LINEAR_F32_MIN_WORK = 1 << 22
#: Rows per float32 product of the linear part: its float32 sums stay this short.
LINEAR_F32_ROWS = 4096


class _Blocks:
    """Row blocks of a dense or CSR ``X``, views only (``X`` is never copied)."""

    def __init__(self, X: Any, k: int) -> None:
        n, d = X.shape
        item = X.dtype.itemsize
        self.sparse = sp.issparse(X)
        if self.sparse:
            ip = X.indptr
            self.work = int(ip[-1])
            # Blocks of about equal stored values (rows of text data vary a lot).
            per_block = max(1, BLOCK_BYTES // (item + X.indices.dtype.itemsize))
            cuts = np.searchsorted(ip, np.arange(per_block, self.work, per_block))
            edges = np.unique(np.concatenate([[0], cuts, [n]]))
            # Keep the (b, k) logits of a block small too.
            max_rows = max(256, BLOCK_BYTES // (2 * item * max(k, 1)))
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
            rows = int(np.clip(BLOCK_BYTES // (max(d + 2 * k, 1) * item), 256, 16384))
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
        if ((self.sparse and not self.compiled) or self.work < PARALLEL_MIN_WORK
                or len(self.bounds) < 2):
            return 1
        return min(_parallel.blas_threads(), os.cpu_count() or 1, len(self.bounds))


class LinearObjective:
    """Bind a loss, data, weights, ``C`` and a penalty into ``f(w)``.

    Parameters
    ----------
    loss : Loss
        A loss from :data:`sigmax.losses.LOSSES`.
    X : ndarray or scipy.sparse CSR matrix of shape (n, d)
        Features, float32 or float64; never copied.
    Y : ndarray
        Targets encoded for ``loss``.
    weights : ndarray of shape (n,) or (n, k)
        Sample (or entry) weights, already multiplied by class weights.
    k : int
        Number of outputs (columns of ``Z``).
    C : float
        Inverse penalty strength; ``np.inf`` disables the penalty.
    penalty : Penalty
    fit_intercept : bool
    """

    def __init__(self, loss: Loss, X: Any, Y: np.ndarray, weights: np.ndarray, k: int, *,
                 C: float, penalty: Penalty, fit_intercept: bool = True) -> None:
        self.loss = loss
        self.X = X
        self.Y = Y
        self.dtype = X.dtype
        weights = np.asarray(weights)
        # Unit weights (no sample weights given): a read-only broadcast view,
        # not an (n,) copy in the working dtype; the kernels take None for them.
        self._unit_weights = weights.ndim == 1 and bool(np.all(weights == 1))
        self.weights = (np.broadcast_to(np.ones(1, dtype=self.dtype), weights.shape)
                        if self._unit_weights else np.asarray(weights, dtype=self.dtype))
        self.n_samples, self.n_features = X.shape
        self.k = int(k)
        self.fit_intercept = bool(fit_intercept)
        self.penalty = penalty
        self.C = float(C)
        total = float(self.weights.sum(dtype=np.float64))
        if self.weights.ndim == 2:
            total /= self.weights.shape[1]
        if not total > 0:
            raise ValueError("The sample weights sum to zero: at least one sample needs a "
                             "positive weight.")
        self.scale = 1.0 / total
        # alpha multiplies the penalty after the objective is divided by C * S.
        self.alpha = 0.0 if (np.isinf(self.C) or penalty.name == "none") else self.scale / self.C
        # The penalty exactly as it enters f: solvers and this class call only it.
        self.penalty_term = penalty.scaled(self.alpha)
        self.n_rows = self.n_features + int(self.fit_intercept)
        self.n_params = self.n_rows * self.k
        self.n_grad_evals = 0
        self.n_value_evals = 0
        self.n_hessp_evals = 0
        self._cache_w: np.ndarray | None = None
        self._cache_Z: np.ndarray | None = None
        self._hess_w: np.ndarray | None = None
        self._hess_state: Any = None
        # The fused row-block path (see _Blocks) serves NumPy and CSR inputs;
        # a subclass that brings its own products (another backend) overrides
        # _matmul/_rmatmul and gets the generic path built on them.
        own = (type(self)._matmul is LinearObjective._matmul
               and type(self)._rmatmul is LinearObjective._rmatmul)
        dense = isinstance(X, np.ndarray) and X.ndim == 2
        csr = sp.issparse(X) and X.format == "csr"
        self._blocks = (_Blocks(X, self.k) if own and (dense or csr)
                        and X.dtype in (np.float32, np.float64) else None)
        # Second-order state (k, n), kept up to date by value_and_grad once a
        # solver has asked for a Hessian: saves a pass over X per Newton step.
        self._track_state = False
        self._St: np.ndarray | None = None
        self._St_w: np.ndarray | None = None
        self._G: np.ndarray | None = None  # (n, k) gradient buffer of the sparse path
        # Dense partition path (see sigmax.losses, "Partition kernels"): the part
        # of the loss linear in the logits is summed once (_linear_part), the
        # block kernel sees no targets. Unit weights are passed to it as None.
        self._partition = (self._blocks is not None and not self._blocks.sparse
                           and getattr(loss, "partition_scale", None) is not None)
        self._lin: tuple[np.ndarray, np.ndarray] | None = None
        self._vt: np.ndarray | None = None
        # Large problems: the losses' compiled partition passes (numba).
        self._compiled = self._partition and self.n_samples * self.k >= COMPILED_MIN_LOGITS
        # float32 blocks as (b, k) rows where the loss's compiled passes take
        # them (partition_rowmajor): OpenBLAS's sgemm forms X_b @ W 1.2-1.45x
        # faster in that layout than transposed into (k, b) (multilabel,
        # many_classes; float64: no difference). Evaluation / floor, float32:
        # multilabel 1.42 -> 1.14, many_classes 1.21 -> 1.10 (default threads).
        self._rowmajor = (self._compiled and self.dtype == np.float32 and self.k > 1
                          and self._unit_weights and getattr(loss, "partition_rowmajor", False))
        if self._compiled:
            self._prepare_compiled()
        # Per-thread scratch blocks of the dense passes, reused across blocks
        # and calls (fresh temporaries per block cost page faults).
        self._bufs: dict[tuple[int, str], np.ndarray] = {}
        self._ones_vec: np.ndarray | None = None

    # -- layout -----------------------------------------------------------------
    def unpack(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Split ``w`` into ``(W (d, k), b (k,) or None)`` views."""
        P = w.reshape(self.n_rows, self.k)
        return P[: self.n_features], (P[self.n_features] if self.fit_intercept else None)

    def zeros(self) -> np.ndarray:
        return np.zeros(self.n_params)

    def _matmul(self, W: np.ndarray) -> np.ndarray:
        return np.asarray(self.X @ W.astype(self.dtype, copy=False))

    def _rmatmul(self, G: np.ndarray) -> np.ndarray:
        return np.asarray(self.X.T @ G)

    def logits(self, w: np.ndarray) -> np.ndarray:
        """``Z = X @ W + b`` of shape (n, k), in the working dtype."""
        W, b = self.unpack(w)
        Z = self._matmul(W)
        if b is not None:
            Z += b.astype(self.dtype, copy=False)
        return Z

    def _pack_grad(self, G: np.ndarray, W: np.ndarray) -> np.ndarray:
        grad = np.empty((self.n_rows, self.k))
        grad[: self.n_features] = self._rmatmul(G)
        if self.fit_intercept:
            grad[self.n_features] = G.sum(axis=0, dtype=np.float64)
        grad *= self.scale
        return grad

    # -- fused row-block passes ---------------------------------------------------
    def _take(self, key: str, size: int) -> np.ndarray:
        """A flat scratch array of this thread (``size`` entries or more), see :meth:`_give`."""
        buf = self._bufs.pop((threading.get_ident(), key), None)
        if buf is None or buf.size < size:
            buf = np.empty(size, dtype=self.dtype)
        return buf

    def _give(self, key: str, buf: np.ndarray) -> None:
        """Return a scratch array taken by :meth:`_take` for the next block of this thread."""
        self._bufs[(threading.get_ident(), key)] = buf

    def _block_weights(self, W: np.ndarray) -> np.ndarray:
        """``W`` as the block products read it: ``(k, d)`` for dense ``X``, ``(d, k)`` for CSR.

        One contiguous copy in the working dtype (on text data ``W`` is half an
        (n, k) buffer); the layout the other kind would read is not formed.
        """
        if self._blocks.sparse:
            return np.ascontiguousarray(W, dtype=self.dtype)
        return np.ascontiguousarray(W.T, dtype=self.dtype)

    def _block_logits(self, i: int, Wb: np.ndarray, b: np.ndarray | None,
                      out: np.ndarray | None = None, compiled: bool = False,
                      rowmajor: bool = False) -> np.ndarray:
        """``Zt = (X_i @ W + b).T``, shape (k, rows of block i), C-contiguous.

        ``Wb``: ``W`` from :meth:`_block_weights` (``W.T`` for dense ``X``).

        Dense ``X``, or CSR on the compiled kernels (``compiled``): written into
        ``out`` (a flat scratch array of the working dtype, ``k * rows`` entries
        or more) when given. ``rowmajor`` (dense, with ``out``): stored as the
        C-contiguous ``(b, k)`` product, ``Zt`` its F-contiguous transpose.
        """
        lo, hi = self._blocks.bounds[i]
        if compiled:
            ind, data = self._blocks.cols[i]
            Zt = (np.empty((self.k, hi - lo), dtype=self.dtype) if out is None
                  else out[: self.k * (hi - lo)].reshape(self.k, hi - lo))
            _csr.kernels()[0](self._blocks.csr[i], ind, data, Wb, Zt)
            if b is not None:
                Zt += b[:, None]
            return Zt
        if out is not None and not self._blocks.sparse:
            if rowmajor:
                Z = out[: self.k * (hi - lo)].reshape(hi - lo, self.k)
                np.matmul(self.X[lo:hi], Wb.T, out=Z)
                if b is not None:
                    Z += b
                return Z.T
            Zt = out[: self.k * (hi - lo)].reshape(self.k, hi - lo)
            if self.k == 1:
                np.dot(self.X[lo:hi], Wb[0], out=Zt[0])
            else:
                # X_b @ W written through the (b, k) view of Zt: BLAS gets the
                # transposed output directly. Never slower than W.T @ X_b.T and
                # 0.55x its time at few features (movies: 4000 x 19, k=7);
                # the gufunc releases the GIL like np.dot.
                np.matmul(self.X[lo:hi], Wb.T, out=Zt.T)
            if b is not None:
                Zt += b[:, None]
            return Zt
        if self._blocks.sparse:
            ind, data = self._blocks.cols[i]
            if _sparsetools is not None:
                Z = np.zeros((hi - lo, self.k), dtype=self.dtype)
                _sparsetools.csr_matvecs(hi - lo, self.n_features, self.k, self._blocks.csr[i],
                                         ind, data, Wb.ravel(), Z.ravel())
            else:  # pragma: no cover
                Z = sp.csr_matrix((data, ind, self._blocks.csr[i]),
                                  shape=(hi - lo, self.n_features)) @ Wb
            Zt = np.ascontiguousarray(Z.T)
        elif self.k == 1:
            Zt = np.dot(self.X[lo:hi], Wb[0])[None, :]
        else:
            # np.dot, not @: it releases the GIL around the BLAS call.
            Zt = np.dot(Wb, self.X[lo:hi].T)
        if b is not None:
            Zt += b[:, None]
        return Zt

    def _block_rmatmul(self, i: int, Gt: np.ndarray, acc: np.ndarray,
                       transposed: bool = True, compiled: bool = False) -> None:
        """``acc += X_i.T @ G_i`` (``Gt`` is ``G_i.T`` unless ``transposed=False``).

        ``acc`` is (k, d) float64 for dense ``X``, (d, k) in the dtype of ``X`` for CSR.
        ``compiled``: CSR on the compiled kernels.
        """
        if compiled:
            ind, data = self._blocks.cols[i]
            _csr.kernels()[1](self._blocks.csr[i], ind, data, Gt if transposed else Gt.T,
                              acc, False)
        elif self._blocks.sparse:
            lo, hi = self._blocks.bounds[i]
            ind, data = self._blocks.cols[i]
            G = np.ascontiguousarray(Gt.T if transposed else Gt)
            if _sparsetools is not None:
                _sparsetools.csc_matvecs(self.n_features, hi - lo, self.k, self._blocks.csr[i],
                                         ind, data, G.ravel(), acc.ravel())
            else:  # pragma: no cover
                acc += sp.csr_matrix((data, ind, self._blocks.csr[i]),
                                     shape=(hi - lo, self.n_features)).T @ G
        elif self.k == 1:
            lo, hi = self._blocks.bounds[i]
            acc[0] += np.dot(Gt[0], self.X[lo:hi])
        else:
            lo, hi = self._blocks.bounds[i]
            acc += np.dot(Gt, self.X[lo:hi])

    def _ones(self, size: int) -> np.ndarray:
        """A cached vector of ``size`` ones in the working dtype (read only)."""
        ones = self._ones_vec
        if ones is None or ones.size < size:
            ones = self._ones_vec = np.ones(size, dtype=self.dtype)
        return ones[:size]

    def _new_acc(self) -> np.ndarray:
        if self._blocks.sparse:
            # SciPy's kernel accumulates in the dtype of X.
            return np.zeros((self.n_features, self.k), dtype=self.dtype)
        return np.zeros((self.k, self.n_features))

    def _fused(self, W: np.ndarray, b: np.ndarray | None, block_op, quiet: bool = False,
               rowmajor: bool = False) -> tuple[float, np.ndarray]:
        """One pass over ``X``: per block, logits -> ``block_op`` -> ``X_b.T @ result``.

        Returns the summed values and the ``(d [+1], k)`` float64 gradient rows
        (unscaled). ``block_op(i, lo, hi, Zt)`` overwrites ``Zt`` and returns a float
        (dense ``X``: or ``(float, G)`` with ``G`` the result block, shaped like ``Zt``).
        ``quiet``: no overflow warnings in the dense pass (the caller checks the result).
        ``rowmajor``: dense blocks in the ``(b, k)`` layout (see :meth:`_block_logits`),
        without the intercepts: ``block_op`` adds them (the compiled passes, on the fly).
        """
        Wb = self._block_weights(W)
        bb = None if b is None else b.astype(self.dtype)

        n_blocks = len(self._blocks.bounds)
        n_workers, compiled = self._blocks.plan()
        if self._blocks.sparse:
            # Sparse: two passes. Fused, the gathers from W (d, k) and the
            # scatters into X.T G (d, k) share the cache and both slow down
            # (SciPy's kernels: 1.45x the two separate products on text data;
            # the compiled ones: 1.07-1.16x per evaluation, sparse_text at one
            # and two threads, measured when this variant was tried); the
            # (n, k) gradient in between is the one buffer this costs.
            if self._G is None:
                self._G = np.empty((self.n_samples, self.k), dtype=self.dtype)
            G = self._G

            rows = max(hi - lo for lo, hi in self._blocks.bounds)

            def first(blocks):
                gsum, total = np.zeros(self.k), 0.0
                buf = self._take("Z", self.k * rows)
                for i in blocks:
                    lo, hi = self._blocks.bounds[i]
                    Zt = self._block_logits(i, Wb, bb, out=buf, compiled=compiled)
                    total += block_op(i, lo, hi, Zt)
                    G[lo:hi] = Zt.T
                    if b is not None:
                        gsum += Zt.sum(axis=1, dtype=np.float64)
                self._give("Z", buf)
                return total, None, gsum

            def second(blocks):
                acc = self._new_acc()
                for i in blocks:
                    lo, hi = self._blocks.bounds[i]
                    self._block_rmatmul(i, G[lo:hi], acc, transposed=False, compiled=compiled)
                return acc

            parts = _parallel.run_blocks(first, n_blocks, n_workers)
            accs = _parallel.run_blocks(second, n_blocks, n_workers)
            parts = [(p[0], a, p[2]) for p, a in zip(parts, accs)]
        else:
            rows = max(hi - lo for lo, hi in self._blocks.bounds)
            # Row sums of G (intercept gradient) as a BLAS matrix-vector
            # product: 2-7x faster than a NumPy reduction, same accumulation as
            # the X_b.T @ G_b product next to it.
            ones = self._ones(rows) if b is not None else None

            def work(blocks):
                with np.errstate(over="ignore", invalid="ignore") if quiet else _NO_CONTEXT:
                    return dense_work(blocks)

            def dense_work(blocks):
                acc, gsum, total = self._new_acc(), np.zeros(self.k), 0.0
                buf = self._take("Z", self.k * rows)
                for i in blocks:
                    lo, hi = self._blocks.bounds[i]
                    Zt = self._block_logits(i, Wb, None if rowmajor else bb, out=buf,
                                            rowmajor=rowmajor)
                    value = block_op(i, lo, hi, Zt)
                    if isinstance(value, tuple):  # (value, block holding the result)
                        value, Zt = value
                    total += value
                    self._block_rmatmul(i, Zt, acc)
                    if b is not None:
                        gsum += np.dot(Zt, ones[: hi - lo])
                self._give("Z", buf)
                return total, acc, gsum

            parts = _parallel.run_blocks(work, n_blocks, n_workers)
        out = np.empty((self.n_rows, self.k))
        # parts[0][1] is this call's own accumulator: no copy when already float64.
        acc = parts[0][1].astype(np.float64, copy=False)
        for part in parts[1:]:
            acc += part[1]
        out[: self.n_features] = acc if self._blocks.sparse else acc.T
        if b is not None:
            out[self.n_features] = sum(part[2] for part in parts)
        return sum(part[0] for part in parts), out

    def _fused_value_and_grad(self, w: np.ndarray, St: np.ndarray | None
                              ) -> tuple[float, np.ndarray]:
        W, b = self.unpack(w)
        sw, loss = self.weights, self.loss
        if self._partition:
            scale = float(loss.partition_scale)
            unit = self._unit_weights
            T = self._value_targets()
            work_size = self.k * max(hi - lo for lo, hi in self._blocks.bounds)
            # (b, k) blocks come without the intercepts: the kernel adds them.
            bias = None if b is None or not self._rowmajor else (b * scale).astype(self.dtype)

            def pop(i, lo, hi, Ut):
                # The scratch block stays with this thread; the kernel may
                # return it as the gradient block, used before the next block.
                key = (threading.get_ident(), "A")
                work = self._bufs.get(key)
                if work is None:
                    work = self._bufs[key] = np.empty(work_size, dtype=self.dtype)
                return loss.partition_t(Ut, None if unit else sw[lo:hi],
                                        None if St is None else St[:, lo:hi],
                                        self._like(work, Ut), T[..., lo:hi],
                                        compiled=self._compiled, bias=bias)

            total, out = self._fused(W * scale, None if b is None else b * scale, pop,
                                     quiet=True, rowmajor=self._rowmajor)
            with np.errstate(over="ignore", invalid="ignore"):
                if scale != 1.0:
                    out *= scale
                out = self._add_linear_part(out, b)
                # One sum instead of an elementwise test: finite exactly when
                # every entry is (or it overflows, and the path below decides).
                finite = np.isfinite(total + float(out.sum()))
            if finite:
                return total, out
            # Logits near the float range: the two parts of the gradient
            # (X^T (s da/dz) and the constant X^T (s D)) can overflow where
            # their sum does not; the per-entry kernel forms p - y first.
        return self._fused_targets(W, b, St)

    def _fused_targets(self, W: np.ndarray, b: np.ndarray | None, St: np.ndarray | None
                       ) -> tuple[float, np.ndarray]:
        """A fused pass with the loss's per-entry kernel ``value_grad_t`` (sees the targets)."""
        Y, sw, loss = self.Y, self.weights, self.loss

        def op(i, lo, hi, Zt):
            return loss.value_grad_t(Zt, Y[lo:hi], sw[lo:hi],
                                     None if St is None else St[:, lo:hi])

        return self._fused(W, b, op)

    def _linear_part(self) -> tuple[np.ndarray, np.ndarray]:
        r"""``(X^T (s * D), sum_i s_i d_i)``: the constant gradient of the linear part.

        ``D`` (``loss.linear_targets_t``) holds the coefficients of the part of
        the loss linear in the logits; computed once, in float64, by row blocks.
        Shapes ``(d, k)`` and ``(k,)``.
        """
        if self._lin is None:
            Y, sw, loss, k = self.Y, self.weights, self.loss, self.k
            f32_products = self._blocks.work >= LINEAR_F32_MIN_WORK

            def work(blocks):
                B, bsum = np.zeros((k, self.n_features)), np.zeros(k)
                for i in blocks:
                    lo, hi = self._blocks.bounds[i]
                    D = loss.linear_targets_t(Y[lo:hi], k)
                    if not self._unit_weights:
                        w = sw[lo:hi]
                        D *= w.T if w.ndim == 2 else w
                    if self.dtype == np.float64:
                        B += np.dot(D, self.X[lo:hi])
                    elif f32_products:
                        # float32 products of LINEAR_F32_ROWS rows (as the
                        # passes' X_b^T G_b), summed in float64: the error of
                        # the passes' own products, without converting X to
                        # float64 (a third of the time on dense_binary, n=500k).
                        Df = D.astype(np.float32)
                        for a in range(0, hi - lo, LINEAR_F32_ROWS):
                            B += np.dot(Df[:, a:a + LINEAR_F32_ROWS],
                                        self.X[lo + a:min(lo + a + LINEAR_F32_ROWS, hi)])
                    else:  # in float64, a few rows of X at a time (small copies)
                        step = max(1, (1 << 18) // (8 * max(self.n_features, 1)))
                        for a in range(0, hi - lo, step):
                            B += np.dot(D[:, a:a + step],
                                        self.X[lo + a:min(lo + a + step, hi)].astype(np.float64))
                    bsum += D.sum(axis=1)
                return B, bsum

            parts = _parallel.run_blocks(work, len(self._blocks.bounds), self._blocks.workers())
            B = sum(part[0] for part in parts[1:]) + parts[0][0]
            bsum = sum(part[1] for part in parts[1:]) + parts[0][1]
            self._lin = (np.ascontiguousarray(B.T), bsum)
        return self._lin

    def _prepare_compiled(self) -> None:
        """Compile (or load) the loss's compiled partition passes here, not in a worker.

        Runs the kernel once on a two-sample block for each variant a pass may
        use (without and with the Newton state, a strided view as in a pass).
        Where the loss has no compiled pass (or numba is missing) its NumPy
        passes serve: same results.
        """
        k, n = self.k, min(2, self.n_samples)
        T = self._value_targets()[..., :n]
        w = None if self._unit_weights else self.weights[:n]
        shape = (n, k) if self._rowmajor else (k, n)
        bias = np.zeros(k, dtype=self.dtype) if self._rowmajor and self.fit_intercept else None
        for state in (False, True):
            St = np.zeros((k, 2 * n), dtype=self.dtype)[:, :n] if state else None
            Ut = np.zeros(shape, dtype=self.dtype)
            Ut = Ut.T if self._rowmajor else Ut
            self.loss.partition_t(Ut, w, St, np.zeros_like(Ut), T, compiled=True, bias=bias)

    def _value_targets(self) -> np.ndarray:
        """The targets in the partition kernel's layout (``loss.value_targets``), cached.

        With ``(b, k)`` blocks (``_rowmajor``), stored alike: ``(k, n)`` F-contiguous.
        """
        if self._vt is None:
            vt = self.loss.value_targets(self.Y, self.k)
            self._vt = np.asfortranarray(vt) if self._rowmajor else vt
        return self._vt

    @staticmethod
    def _like(buf: np.ndarray, Zt: np.ndarray) -> np.ndarray:
        """A view of the flat scratch ``buf`` shaped and laid out like the block ``Zt``."""
        if Zt.flags.c_contiguous:
            return buf[: Zt.size].reshape(Zt.shape)
        return buf[: Zt.size].reshape(Zt.shape[::-1]).T

    def _add_linear_part(self, out: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        """Add the linear part's constant gradient to the gradient rows of a partition pass."""
        B, bsum = self._linear_part()
        out[: self.n_features] += B
        if b is not None:
            out[self.n_features] += bsum
        return out

    def _partition_value(self, W: np.ndarray, b: np.ndarray | None) -> float:
        r""":math:`\sum_i s_i \ell_i` by the partition kernels (no gradient, no ``X^T`` product)."""
        loss, sw, unit = self.loss, self.weights, self._unit_weights
        scale = float(loss.partition_scale)
        Wt = np.ascontiguousarray(W.T * scale, dtype=self.dtype)
        bb = None if b is None else (b * scale).astype(self.dtype)
        size = self.k * max(hi - lo for lo, hi in self._blocks.bounds)
        T = self._value_targets()

        def work(blocks):
            total = 0.0
            buf, tmp = self._take("Z", size), self._take("V", size)
            for i in blocks:
                lo, hi = self._blocks.bounds[i]
                Ut = self._block_logits(i, Wt, None if self._rowmajor else bb, out=buf,
                                        rowmajor=self._rowmajor)
                total += loss.partition_t(Ut, None if unit else sw[lo:hi], None,
                                          self._like(tmp, Ut), T[..., lo:hi],
                                          compiled=self._compiled,
                                          bias=bb if self._rowmajor else None)[0]
            self._give("Z", buf)
            self._give("V", tmp)
            return total

        parts = _parallel.run_blocks(work, len(self._blocks.bounds), self._blocks.workers())
        return float(sum(parts))

    # -- smooth part ------------------------------------------------------------
    def value_and_grad(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        """Smooth part of ``f`` (loss + L2) and its gradient, from one pass over ``X``.

        For NumPy and CSR ``X`` the pass is fused: per row block (in cache),
        ``Z_b = X_b W + b``, the loss kernel turns ``Z_b`` into ``G_b`` in
        place, and ``X_b^T G_b`` is accumulated; blocks are shared among the
        threads NumPy's BLAS may use. No ``(n, k)`` array is formed.

        Returns
        -------
        value : float
        grad : ndarray of shape (n_params,), float64
        """
        self.n_grad_evals += 1
        W, _ = self.unpack(w)
        if self._blocks is not None:
            St = self._state_buffer() if self._track_state else None
            zero = None if St is not None else self._value_and_grad_at_zero(w)
            loss, grad = zero if zero is not None else self._fused_value_and_grad(w, St)
            if St is not None:
                self._St_w = w.copy()
            grad *= self.scale
        else:
            Z = self.logits(w)
            self._cache_w, self._cache_Z = w.copy(), Z
            loss, G = self.loss.value_and_grad(Z, self.Y, self.weights)
            grad = self._pack_grad(G, W)
        return self._add_smooth_penalty(loss * self.scale, grad, W)

    def _value_and_grad_at_zero(self, w: np.ndarray) -> tuple[float, np.ndarray] | None:
        """The loss sum and unscaled gradient rows at ``w = 0`` without a pass over ``X``.

        At zero logits every row gives the partition kernel the same ``u = 0``.
        Where the kernel's gradient vanishes there (binomial, multi-label:
        ``tanh(0) / 2``) the pass would only form ``X^T 0``: the value is one
        row's times the sum of the weights, the gradient the constant linear
        part. The first evaluation of every cold-started solve: one pass in six
        on dense_binary. None where that does not apply (a pass is needed).
        """
        if not self._partition or self.weights.ndim != 1:
            return None
        row = getattr(self, "_zero_row", None)
        if row is not None and row[1]:  # the gradient moves at 0 (softmax): always a pass
            return None
        if w.any():
            return None
        if row is None:  # the kernel on one row of zeros, once
            U = np.zeros((self.k, 1), dtype=self.dtype)
            T = np.ascontiguousarray(self._value_targets()[..., :1])
            value, G = self.loss.partition_t(U, None, None, np.zeros_like(U), T)
            row = self._zero_row = (float(value), bool(np.any(G)))
            if row[1]:
                return None
        value = row[0]
        _, b = self.unpack(w)
        grad = self._add_linear_part(np.zeros((self.n_rows, self.k)), b)
        return value * float(self.weights.sum(dtype=np.float64)), grad

    def _add_smooth_penalty(self, value: float, grad: np.ndarray, W: np.ndarray
                            ) -> tuple[float, np.ndarray]:
        """Add the penalty's smooth (L2) part to the scaled data term and its
        ``(n_rows, k)`` gradient; return ``(value, flat gradient)``. Shared with
        the remote objectives of :mod:`sigmax.backends`."""
        if self.alpha:
            pv, pg = self.penalty_term.smooth_value_and_grad(W)
            value += pv
            if pg is not None:
                grad[: self.n_features] += pg
        return value, grad.ravel()

    def value(self, w: np.ndarray) -> float:
        """Smooth part of ``f`` only (no gradient): one product ``X @ W``."""
        self.n_value_evals += 1
        W, _ = self.unpack(w)
        value = self._loss_sum(w) * self.scale
        if self.alpha:
            value += self.penalty_term.smooth_value_and_grad(W)[0]
        return value

    def objective(self, w: np.ndarray) -> float:
        """The full objective ``f(w)``, non-smooth part included."""
        W, _ = self.unpack(w)
        value = self._loss_sum(w) * self.scale
        return value + self.penalty_term.value(W)

    def _loss_sum(self, w: np.ndarray) -> float:
        r""":math:`\sum_i s_i \ell_i` at ``w``: by row blocks when possible (no (n, k) array)."""
        if self._blocks is None:
            return self.loss.value(self.logits(w), self.Y, self.weights)
        W, b = self.unpack(w)
        if self._partition:
            return self._partition_value(W, b)
        Wb = self._block_weights(W)
        bb = None if b is None else b.astype(self.dtype)
        Y, sw, loss = self.Y, self.weights, self.loss

        n_workers, compiled = self._blocks.plan()

        def work(blocks):
            total = 0.0
            for i in blocks:
                lo, hi = self._blocks.bounds[i]
                Zt = self._block_logits(i, Wb, bb, compiled=compiled)
                total += loss.value_grad_t(Zt, Y[lo:hi], sw[lo:hi])
            return total

        parts = _parallel.run_blocks(work, len(self._blocks.bounds), n_workers)
        return float(sum(parts))

    def sklearn_objective(self, w: np.ndarray) -> float:
        """scikit-learn's objective :math:`C\\sum_i s_i\\ell_i + r(W)` (``C`` finite)."""
        return self.objective(w) * self.C / self.scale

    # -- non-smooth part --------------------------------------------------------
    def prox(self, w: np.ndarray, step: float) -> np.ndarray:
        """Proximal step of the non-smooth part on the coefficient rows (intercept untouched)."""
        if self.penalty_term.smooth:
            return w
        out = w.copy()
        P = out.reshape(self.n_rows, self.k)
        P[: self.n_features] = self.penalty_term.prox(P[: self.n_features], step)
        return out

    def optimality(self, w: np.ndarray, grad: np.ndarray) -> float:
        """Max-norm of the minimum-norm subgradient of ``f``: zero exactly at the optimum."""
        if self.penalty_term.smooth:
            return float(np.max(np.abs(grad))) if grad.size else 0.0
        sub = grad.copy().reshape(self.n_rows, self.k)
        W, _ = self.unpack(w)
        sub[: self.n_features] = self.penalty_term.min_norm_subgradient(W, sub[: self.n_features])
        return float(np.max(np.abs(sub)))

    # -- second order -----------------------------------------------------------
    def track_second_order(self) -> None:
        """Keep the Hessian's per-sample state current from the next evaluation on.

        A second-order solver calls this before its first ``value_and_grad``:
        that pass then also leaves the state its first Hessian needs, instead
        of a separate pass at the same point (one pass in nine on the
        benchmark's small problems).
        """
        # Other backends (subclasses without the row-block layout) keep their own state.
        if getattr(self, "_blocks", None) is not None:
            self._track_state = True

    def _state_buffer(self) -> np.ndarray:
        if self._St is None:
            self._St = np.empty((self.k, self.n_samples), dtype=self.dtype)
        return self._St

    def _state(self, w: np.ndarray) -> Any:
        if self._blocks is not None:
            # Block layout: St (k, n) from the loss's block kernel. From now on
            # value_and_grad keeps it current, so Newton steps reuse it.
            self._track_state = True
            if self._St_w is None or not np.array_equal(self._St_w, w):
                self._fused_value_and_grad(w, self._state_buffer())
                self._St_w = w.copy()
            return self._St
        if self._hess_w is None or not np.array_equal(self._hess_w, w):
            if self._cache_w is not None and np.array_equal(self._cache_w, w):
                Z = self._cache_Z
            else:
                Z = self.logits(w)
            self._hess_state = self.loss.hessian_state(Z, self.Y, self.weights)
            self._hess_w = w.copy()
        return self._hess_state

    def hessp(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Hessian of the smooth part at ``w`` applied to ``v`` (two products with ``X``)."""
        self.n_hessp_evals += 1
        state = self._state(w)
        V, bv = self.unpack(v)
        if self._blocks is not None:
            Y, sw, loss = self.Y, self.weights, self.loss

            def op(i, lo, hi, Vt):
                loss.hessp_t(state[:, lo:hi], Y[lo:hi], sw[lo:hi], Vt)
                return 0.0

            out = self._fused(V, bv, op)[1]
            out *= self.scale
        else:
            Zv = self.logits(v)
            out = self._pack_grad(self.loss.hessp(state, Zv), V)
        ph = self.penalty_term.smooth_hessp(self.unpack(w)[0], V)
        if ph is not None:
            out[: self.n_features] += ph
        return out.ravel()

    def hessian_diag(self, w: np.ndarray) -> np.ndarray | None:
        r"""Diagonal of the smooth part's Hessian at ``w``, shape (n_params,); None if unavailable.

        One pass over ``X`` (row blocks, squares of a block formed in cache):
        :math:`\mathrm{diag} = \sum_i h_{aa,i} x_{ij}^2` per feature ``j`` and
        output ``a``, plus the L2 term. It is the Jacobi preconditioner of
        Newton-CG: on features of very different scales (tf-idf, counts) it
        cuts the conjugate-gradient iterations.
        """
        if self._blocks is None:
            return None
        St = self._state(w)
        Y, sw, loss, blocks, d = self.Y, self.weights, self.loss, self._blocks, self.n_features
        n_workers, compiled = blocks.plan()

        def work(idx):
            acc, isum = self._new_acc(), np.zeros(self.k)
            for i in idx:
                lo, hi = blocks.bounds[i]
                Hd = np.ascontiguousarray(loss.hessian_diag_t(St[:, lo:hi], Y[lo:hi], sw[lo:hi]),
                                          dtype=self.dtype)
                isum += Hd.sum(axis=1, dtype=np.float64)
                if blocks.sparse:
                    ind, data = blocks.cols[i]
                    if compiled:  # squares formed on the fly
                        _csr.kernels()[1](blocks.csr[i], ind, data, Hd, acc, True)
                        continue
                    G = np.ascontiguousarray(Hd.T)
                    sq = np.square(data)
                    if _sparsetools is not None:
                        _sparsetools.csc_matvecs(d, hi - lo, self.k, blocks.csr[i], ind, sq,
                                                 G.ravel(), acc.ravel())
                    else:  # pragma: no cover
                        acc += sp.csr_matrix((sq, ind, blocks.csr[i]),
                                             shape=(hi - lo, d)).T @ G
                else:
                    acc += np.dot(Hd, np.square(self.X[lo:hi]))
            return acc, isum

        parts = _parallel.run_blocks(work, len(blocks.bounds), n_workers)
        acc = parts[0][0].astype(np.float64, copy=True)
        for part in parts[1:]:
            acc += part[0]
        out = np.empty((self.n_rows, self.k))
        out[:d] = acc if blocks.sparse else acc.T
        if self.fit_intercept:
            out[d] = sum(part[1] for part in parts)
        out *= self.scale
        pd = self.penalty_term.smooth_hessian_diag(self.unpack(w)[0])
        if pd is not None:
            out[:d] += pd
        return out.ravel()

    def hessian(self, w: np.ndarray) -> np.ndarray:
        """Full Hessian of the smooth part, shape (n_params, n_params), float64.

        Block ``(a, b)`` over outputs is :math:`\\tilde X^\\top \\mathrm{diag}(h_{ab})
        \\tilde X` with :math:`\\tilde X = [X, 1]`. Built from the loss's
        structure rather than pair by pair: for a loss with a diagonal per-row
        Hessian (binomial, multi-label) only the ``k`` diagonal blocks are
        nonzero (``O(n D^2 k)``, see :meth:`hessian_blocks`); for the softmax,
        :math:`\\sum_i (\\mathrm{diag}(p_i) - p_i p_i^\\top) \\otimes \\tilde x_i
        \\tilde x_i^\\top` is ``k`` diagonal blocks minus one Gram matrix
        :math:`B^\\top B` with rows :math:`B_i = \\sqrt{s_i}\\, \\tilde x_i \\otimes
        p_i` (one symmetric product, ``O(n D^2 k^2 / 2)``). Meant for small
        parameter counts (Newton-Cholesky, proximal Newton).
        """
        D, k, d = self.n_rows, self.k, self.n_features
        if getattr(self.loss, "diagonal_hessian", False):
            blocks = self.hessian_blocks(w)
            if k == 1:
                return blocks[0]
            H = np.zeros((D, k, D, k))
            for a in range(k):
                H[:, a, :, a] = blocks[a]
            return H.reshape(D * k, D * k)
        self.n_hessp_evals += 1
        state = self._state(w)
        if self._blocks is not None:
            H = self._blocked_hessian(state)
        else:
            H = self._generic_hessian(state)
        H *= self.scale
        H = H.reshape(D * k, D * k)
        pd = self.penalty_term.smooth_hessian_diag(self.unpack(w)[0])
        if pd is not None:
            idx = np.arange(d * k)
            H[idx, idx] += np.ravel(pd) if np.ndim(pd) else pd
        return H

    def hessian_blocks(self, w: np.ndarray) -> np.ndarray | None:
        r"""The ``k`` diagonal blocks of a block-diagonal Hessian, shape (k, D, D), float64.

        For losses whose per-row Hessian is diagonal across outputs
        (``loss.diagonal_hessian``: binomial, multi-label, one-vs-rest) the
        outputs decouple: block ``a`` is :math:`\tilde X^\top \mathrm{diag}(h_a)
        \tilde X` (plus the L2 term) and every other block is zero, so Newton
        solves ``k`` systems of size ``D = d (+1)`` instead of one of size
        ``D k``. Costs ``O(n D^2 k)``. ``None`` for other losses.
        """
        # A subclass with its own full Hessian (another backend computes it
        # where the data live) keeps it: no blocks from here.
        if (not getattr(self.loss, "diagonal_hessian", False)
                or type(self).hessian is not LinearObjective.hessian):
            return None
        self.n_hessp_evals += 1
        state = self._state(w)
        d = self.n_features
        if getattr(self, "_blocks", None) is not None:
            B = self._blocked_hessian(state, diagonal=True)
        else:
            B = self._generic_hessian(state, diagonal=True)
        B *= self.scale
        pd = self.penalty_term.smooth_hessian_diag(self.unpack(w)[0])
        if pd is not None:
            idx = np.arange(d)
            B[:, idx, idx] += np.transpose(pd) if np.ndim(pd) else pd
        return B

    def _block_design(self, i: int, dtype: Any = np.float64) -> Any:
        """Row block ``i`` of ``[X, 1]`` in float64 (CSR for sparse ``X``).

        Dense ``X``: in ``dtype`` (float64 unless asked otherwise).
        """
        blocks, d = self._blocks, self.n_features
        lo, hi = blocks.bounds[i]
        if blocks.sparse:
            ind, data = blocks.cols[i]
            Xb = sp.csr_matrix((data.astype(np.float64), ind, blocks.csr[i]), shape=(hi - lo, d))
            if self.fit_intercept:
                Xb = sp.hstack([Xb, np.ones((hi - lo, 1))], format="csr")
            return Xb
        Xb = np.empty((hi - lo, self.n_rows), dtype=dtype)
        Xb[:, :d] = self.X[lo:hi]
        if self.fit_intercept:
            Xb[:, d] = 1.0
        return Xb

    def _blocked_hessian(self, St: np.ndarray, diagonal: bool = False) -> np.ndarray:
        """Unscaled Hessian from row blocks of ``[X, 1]`` (float64).

        ``(D, k, D, k)``, or the ``(k, D, D)`` diagonal blocks when ``diagonal``
        (losses with ``diagonal_hessian``).
        """
        D, k = self.n_rows, self.k
        Y, sw, loss, blocks = self.Y, self.weights, self.loss, self._blocks
        softmax = getattr(loss, "softmax_hessian", False) and not blocks.sparse
        # The diagonal blocks of a float32 fit come from float32 products
        # (summed in float64 per row chunk): their 1e-7 relative rounding is
        # far below what a Newton step needs, while the gradient, which
        # decides convergence, is untouched. Half the time of the products
        # (movies: 4000 x 20, k=7: 0.9 ms instead of 1.6 ms per Hessian).
        gram = self.dtype if diagonal and self.dtype == np.float32 else np.float64

        def work(idx):
            H = np.zeros((k, D, D)) if diagonal else np.zeros((D, k, D, k))
            for i in idx:
                lo, hi = blocks.bounds[i]
                Xb = self._block_design(i, gram)
                if diagonal:
                    h = np.asarray(loss.hessian_diag_t(St[:, lo:hi], Y[lo:hi], sw[lo:hi]),
                                   dtype=gram).reshape(k, hi - lo)
                    _add_weighted_grams(Xb, h, H)
                elif softmax:
                    _softmax_hessian_block(Xb, St[:, lo:hi], sw[lo:hi], H)
                else:
                    for a in range(k):
                        for c in range(a, k):
                            h = loss.hessian_weights_t(St[:, lo:hi], Y[lo:hi], sw[lo:hi], a, c)
                            if h is None:
                                continue
                            block = _weighted_gram(Xb, np.asarray(h, dtype=np.float64),
                                                   symmetric=False)
                            H[:, a, :, c] += block
                            if a != c:
                                H[:, c, :, a] += block.T
            return H

        parts = _parallel.run_blocks(work, len(blocks.bounds), blocks.workers())
        H = parts[0]
        for part in parts[1:]:
            H += part
        return H

    def _generic_hessian(self, state: Any, diagonal: bool = False) -> np.ndarray:
        D, k, d = self.n_rows, self.k, self.n_features
        H = np.zeros((k, D, D)) if diagonal else np.zeros((D, k, D, k))
        X = self.X
        for a in range(k):
            for b in range(a, a + 1 if diagonal else k):
                h = self.loss.hessian_weights(state, a, b)
                if h is None:
                    continue
                h = np.asarray(h, dtype=np.float64)
                block = np.empty((D, D))
                if sp.issparse(X):
                    XH = X.multiply(h[:, None]).tocsr()
                    block[:d, :d] = (X.T @ XH).toarray()
                else:
                    Xd = X.astype(np.float64, copy=False)
                    block[:d, :d] = Xd.T @ (Xd * h[:, None])
                if self.fit_intercept:
                    xh = np.asarray(X.T @ h).ravel()
                    block[:d, d] = xh
                    block[d, :d] = xh
                    block[d, d] = h.sum()
                if diagonal:
                    H[a] = block
                    continue
                H[:, a, :, b] = block
                if a != b:
                    H[:, b, :, a] = block.T
        return H


def _weighted_gram(Xb: Any, h: np.ndarray, symmetric: bool = True) -> np.ndarray:
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


#: Values of the scaled row copies formed at a time by :func:`_add_weighted_grams`.
_GRAM_CHUNK = 1 << 17


def _add_weighted_grams(Xb: Any, h: np.ndarray, out: np.ndarray) -> None:
    r"""``out[a] += X_b^T diag(h_a) X_b`` for each row ``a`` of ``h`` (``(k, b)``, ``>= 0``).

    Dense: the ``k`` products run as one stacked product of
    :math:`\sqrt{h_a} X_b` with itself (one call instead of ``k``; the
    per-call overhead dominates at small ``D``), over row chunks that keep
    the scaled copies under ``_GRAM_CHUNK`` values.
    """
    k = h.shape[0]
    if sp.issparse(Xb):
        for a in range(k):
            out[a] += _weighted_gram(Xb, h[a])
        return
    b, D = Xb.shape
    root = np.sqrt(np.maximum(h, 0))
    rows = max(1, _GRAM_CHUNK // max(k * D, 1))
    for lo in range(0, b, rows):
        hi = min(lo + rows, b)
        R = Xb[None, lo:hi] * root[:, lo:hi, None]
        out += np.matmul(R.transpose(0, 2, 1), R)


#: Rows of the softmax factor ``B`` formed at a time: bounds its memory by
#: this many rows of ``D k`` values (the Hessian itself holds ``(D k)^2``).
_SOFTMAX_ROWS = 512


def _softmax_hessian_block(Xb: np.ndarray, Pt: np.ndarray, sw: np.ndarray,
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
    _add_weighted_grams(Xb, (P * (1 - P) * w[:, None]).T, diag)
    root = np.sqrt(np.maximum(w, 0))
    BtB = np.zeros((D * k, D * k))
    for lo in range(0, b, _SOFTMAX_ROWS):
        hi = min(lo + _SOFTMAX_ROWS, b)
        Bm = (Xb[lo:hi, :, None] * (P[lo:hi] * root[lo:hi, None])[:, None, :]).reshape(hi - lo,
                                                                                       D * k)
        BtB += Bm.T @ Bm
    B4 = BtB.reshape(D, k, D, k)
    for a in range(k):
        B4[:, a, :, a] = -diag[a]  # replaced, not corrected: no cancellation in H
    H -= B4
