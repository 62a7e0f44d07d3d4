r"""The NumPy data term: an in-memory dense or CSR ``X``, evaluated in row blocks.

Four ways to evaluate the loss sum, chosen once from the problem here (the
objective above sees one data term):

- the fused pass (:meth:`BlockProducts.run` with the loss's per-entry block
  kernel ``value_grad_t``): CSR ``X``, and losses without a partition kernel;
- the partition pass (dense ``X``, see :mod:`sigmax.losses`, "Partition
  kernels"): the part of the loss linear in the logits is summed once
  (:meth:`NumpyData._linear_part`), the block kernel sees no targets; on large
  problems the losses' compiled (numba) passes, float32 blocks as ``(b, k)``
  rows where the loss takes them. Logits near the float range, where the two
  parts of the gradient overflow, fall back to the fused pass;
- at ``w = 0`` for losses whose partition gradient vanishes there: no pass
  (not with an offset: the logits at ``w = 0`` are the offset's).

An offset (``(n, k)`` known logits) is kept transposed, ``(k, n)`` like the
blocks, and added to each block's logits before the loss kernel sees them
(scaled by ``partition_scale`` in the partition pass); the Hessian products
never see it (their logits are a direction's).

The second-order state (``(k, n)``, from the block kernels) is kept current
by :meth:`NumpyData.value_and_grad` once a solver asked for a Hessian
(:meth:`NumpyData.track_second_order`); the Hessian products and blocks are
assembled in :mod:`sigmax.dataterms.hessian`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _parallel
from ..losses import Loss
from . import float32_hessp, float32_twin, float64_view, row_sample, tuning
from . import hessian as _hessian
from . import one_block as _one_block
from .base import DataTerm, HostRows, host_offset, total_weight
from .blocks import BlockProducts
from .state_point import StatePoint

__all__ = ["NumpyData"]


class NumpyData(HostRows, DataTerm):
    """Data term of a dense or CSR ``X`` in float32 / float64.

    Parameters
    ----------
    loss : Loss
    X : ndarray or scipy.sparse CSR matrix of shape (n, d)
        Features, float32 or float64; not copied, except a dense ``X`` in an
        order its row blocks read slowly (see
        :func:`~sigmax.dataterms.blocks.row_layout`).
    Y : ndarray
        Targets encoded for ``loss``.
    weights : ndarray of shape (n,) or (n, k)
        Sample (or entry) weights, already multiplied by class weights.
    k : int
    fit_intercept : bool
    offset : ndarray of shape (n, k), optional
        Known logits added to ``X W + b`` (see :mod:`sigmax.dataterms.base`).
    dtype : float32 or float64, optional
        The working dtype, default ``X``'s; float32 on a dense float64 ``X``
        converts each block as it is read (:class:`~.blocks.BlockProducts`).
    """

    forms_preconditioner = True

    def __init__(self, loss: Loss, X: Any, Y: np.ndarray, weights: np.ndarray, k: int,
                 fit_intercept: bool = True, offset: np.ndarray | None = None,
                 dtype: Any = None) -> None:
        dtype = X.dtype if dtype is None else np.dtype(dtype)
        weights = np.asarray(weights)
        # Unit weights (no sample weights given): a read-only broadcast view,
        # not an (n,) copy in the working dtype; the kernels take None for them.
        self._unit_weights = weights.ndim == 1 and bool(np.all(weights == 1))
        self.weights = (np.broadcast_to(np.ones(1, dtype=dtype), weights.shape)
                        if self._unit_weights else np.asarray(weights, dtype=dtype))
        n, d = X.shape
        super().__init__(loss, n, d, k, dtype, total_weight(self.weights), fit_intercept)
        self.X, self.Y = X, Y
        self.offset = host_offset(offset, n, self.k, dtype)
        # (k, n) like the blocks' logits; times partition_scale for that pass.
        self._Ot = None if self.offset is None else np.ascontiguousarray(self.offset.T)
        self._Ot_scaled: np.ndarray | None = None
        self.products = BlockProducts(X, self.k, dtype)
        self.X = self.products.X  # row-major where it is several blocks (blocks.row_layout)
        self._blocks = self.products.plan
        # Second-order state (k, n), kept up to date by value_and_grad once a
        # solver has asked for a Hessian: saves a pass over X per Newton step.
        self._track_state = False
        self._St: np.ndarray | None = None
        self._St_at = StatePoint()  # where _St was formed (and how often)
        self._hessp32: float32_hessp.Float32Hessp | None = None  # float32_hessp products
        self._use_hessp32 = False
        self._compiled_passes = False  # one-block compiled passes asked for (compiled_passes)
        self._float64: NumpyData | None = None  # in_float64's view, made once
        #: Hessian products less their part along the loss's flat directions
        #: (:func:`~sigmax.dataterms.float32_hessp.project_flat`): a row sample's.
        self.project_flat = False
        # Dense partition path (see sigmax.losses, "Partition kernels"): the part
        # of the loss linear in the logits is summed once (_linear_part), the
        # block kernel sees no targets. Unit weights are passed to it as None.
        self._partition = not self._blocks.sparse and loss.partition_scale is not None
        self._lin: tuple[np.ndarray, np.ndarray] | None = None
        self._vt: np.ndarray | None = None
        self._zero_row: tuple[float, bool] | None = None
        # Large problems: the losses' compiled partition passes (numba).
        self._compiled = self._partition and n * self.k >= tuning.COMPILED_MIN_LOGITS
        self._rowmajor = _rowmajor_blocks(self)
        if self._compiled:
            _prepare_compiled(self)

    def _fused(self, W: np.ndarray, b: np.ndarray | None, block_op: Callable[..., Any],
               quiet: bool = False, rowmajor: bool = False) -> tuple[float, np.ndarray]:
        """One fused pass over ``X`` (:meth:`BlockProducts.run`)."""
        return self.products.run(W, b, block_op, quiet=quiet, rowmajor=rowmajor)

    # -- first order ---------------------------------------------------------------------
    def value_and_grad(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        St = self._state_buffer() if self._track_state else None
        if St is not None:
            self._St_at.forget()
        zero = None if St is not None else self._value_and_grad_at_zero(w)
        value, grad = zero if zero is not None else self._fused_value_and_grad(w, St)
        if St is not None:
            self._St_at.mark(w)
        return value, grad

    def value(self, w: np.ndarray) -> float:
        return self._loss_sum(w)

    def _fused_value_and_grad(self, w: np.ndarray, St: np.ndarray | None
                              ) -> tuple[float, np.ndarray]:
        if self._compiled_passes and (out := _one_block.value_and_grad(self, w, St)) is not None:
            return out
        W, b = self.unpack(w)
        sw, loss = self.weights, self.loss
        if self._partition:
            scale = float(loss.partition_scale)
            unit = self._unit_weights
            T = self._value_targets()
            work_size = self.k * max(hi - lo for lo, hi in self._blocks.bounds)
            # (b, k) blocks come without the intercepts: the kernel adds them.
            bias = None if b is None or not self._rowmajor else (b * scale).astype(self.dtype)
            Os = self._scaled_offset(scale)

            def pop(i, lo, hi, Ut):
                # The scratch block stays with this thread; the kernel may
                # return it as the gradient block, used before the next block.
                key = (threading.get_ident(), "A")
                work = self.products.bufs.get(key)
                if work is None:
                    work = self.products.bufs[key] = np.empty(work_size, dtype=self.dtype)
                if Os is not None:
                    Ut += Os[:, lo:hi]
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
        Y, sw, loss, Ot = self.Y, self.weights, self.loss, self._Ot

        def op(i, lo, hi, Zt):
            if Ot is not None:
                Zt += Ot[:, lo:hi]
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
            f32_products = self._blocks.work >= tuning.LINEAR_F32_MIN_WORK

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
                        # float32 products of tuning.LINEAR_F32_ROWS rows (as the
                        # passes' X_b^T G_b), summed in float64: the error of
                        # the passes' own products, without converting X to
                        # float64 (a third of the time on dense_binary, n=500k).
                        Df = D.astype(np.float32)
                        for a in range(0, hi - lo, tuning.LINEAR_F32_ROWS):
                            B += np.dot(Df[:, a:a + tuning.LINEAR_F32_ROWS],
                                        self.X[lo + a:min(lo + a + tuning.LINEAR_F32_ROWS, hi)])
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

    def _value_targets(self) -> np.ndarray:
        """The targets in the partition kernel's layout (``loss.value_targets``), cached.

        With ``(b, k)`` blocks (``_rowmajor``), stored alike: ``(k, n)`` F-contiguous.
        """
        if self._vt is None:
            vt = self.loss.value_targets(self.Y, self.k)
            self._vt = np.asfortranarray(vt) if self._rowmajor else vt
        return self._vt

    def _scaled_offset(self, scale: float) -> np.ndarray | None:
        """The ``(k, n)`` offset times ``scale`` (the partition pass's logits), cached."""
        if self._Ot is None or scale == 1.0:
            return self._Ot
        if self._Ot_scaled is None:  # a power of two: exact
            self._Ot_scaled = self._Ot * self.dtype.type(scale)
        return self._Ot_scaled

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
        Wt = self.products.block_weights(W * scale, self._rowmajor)
        bb = None if b is None else (b * scale).astype(self.dtype)
        size = self.k * max(hi - lo for lo, hi in self._blocks.bounds)
        T = self._value_targets()
        Os = self._scaled_offset(scale)

        def work(blocks):
            total = 0.0
            buf, tmp = self.products.take("Z", size), self.products.take("V", size)
            for i in blocks:
                lo, hi = self._blocks.bounds[i]
                Ut = self.products.block_logits(i, Wt, None if self._rowmajor else bb, out=buf,
                                        rowmajor=self._rowmajor)
                if Os is not None:
                    Ut += Os[:, lo:hi]
                total += loss.partition_t(Ut, None if unit else sw[lo:hi], None,
                                          self._like(tmp, Ut), T[..., lo:hi],
                                          compiled=self._compiled,
                                          bias=bb if self._rowmajor else None)[0]
            self.products.give("Z", buf)
            self.products.give("V", tmp)
            return total

        parts = _parallel.run_blocks(work, len(self._blocks.bounds), self._blocks.workers())
        return float(sum(parts))
    def _value_and_grad_at_zero(self, w: np.ndarray) -> tuple[float, np.ndarray] | None:
        """The loss sum and unscaled gradient rows at ``w = 0`` without a pass over ``X``.

        At zero logits every row gives the partition kernel the same ``u = 0``.
        Where the kernel's gradient vanishes there (binomial, multi-label:
        ``tanh(0) / 2``) the pass would only form ``X^T 0``: the value is one
        row's times the sum of the weights, the gradient the constant linear
        part. The first evaluation of every cold-started solve: one pass in six
        on dense_binary. None where that does not apply (a pass is needed).
        """
        if not self._partition or self.weights.ndim != 1 or self._Ot is not None:
            return None
        row = self._zero_row
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

    def _loss_sum(self, w: np.ndarray) -> float:
        r""":math:`\sum_i s_i \ell_i` at ``w`` by row blocks (no (n, k) array, no ``X^T``)."""
        W, b = self.unpack(w)
        if self._partition:
            return self._partition_value(W, b)
        products = self.products
        Wb = products.block_weights(W)
        bb = None if b is None else b.astype(self.dtype)
        Y, sw, loss = self.Y, self.weights, self.loss
        n_workers, compiled = self._blocks.plan()

        def work(blocks):
            total = 0.0
            for i in blocks:
                lo, hi = self._blocks.bounds[i]
                Zt = products.block_logits(i, Wb, bb, compiled=compiled)
                if self._Ot is not None:
                    Zt += self._Ot[:, lo:hi]
                total += loss.value_grad_t(Zt, Y[lo:hi], sw[lo:hi])
            return total

        parts = _parallel.run_blocks(work, len(self._blocks.bounds), n_workers)
        return float(sum(parts))

    # -- second order --------------------------------------------------------------------
    def track_second_order(self) -> None:
        self._track_state = True

    def _state_buffer(self) -> np.ndarray:
        if self._St is None:
            self._St = np.empty((self.k, self.n_samples), dtype=self.dtype)
        return self._St

    def _state(self, w: np.ndarray) -> np.ndarray:
        """``St`` (k, n) at ``w`` from the loss's block kernel; kept current from now on."""
        # From now on value_and_grad keeps it current, so Newton steps reuse it.
        self._track_state = True
        if not self._St_at.holds(w):
            self.value_and_grad(w)  # tracking: its pass writes _St and marks it at w
        return self._St

    def float32_hessp(self, on: bool | None = True) -> bool:
        """Hessian products in float32 from now on (:mod:`sigmax.dataterms.float32_hessp`).

        Only for a float64 ``X`` whose float32 copy fits in a quarter of the
        memory available (:func:`~sigmax.dataterms.float32_hessp.affordable`);
        the copy is made at the first request and kept (``on=False`` returns
        to float64 products, ``on=None`` only says which are on).
        """
        if on is None:
            return self._use_hessp32
        if not on or self.dtype != np.float64 or (
                self._hessp32 is None and not float32_hessp.affordable(self.X, self.k)):
            self._use_hessp32 = False
            return False
        if self._hessp32 is None:
            self._hessp32 = float32_hessp.Float32Hessp(self)
        self._use_hessp32 = True
        return True

    def float32_twin(self) -> NumpyData | None:
        """float32 products on this ``X``, not copied (:mod:`~sigmax.dataterms.float32_twin`)."""
        return float32_twin.build(self)

    def in_float64(self) -> NumpyData:
        """float64 passes over this ``X`` (:mod:`~sigmax.dataterms.float64_view`), kept."""
        if self.dtype == np.float64:
            return self
        if self._float64 is None:
            self._float64 = float64_view.build(self)
        return self._float64

    def hessp(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Two products with ``X`` per block (``X_b V``, ``X_b^T (H V)_b``), one pass."""
        if self._use_hessp32:
            return self._hessp32.hessp(w, v)
        state = self._state(w)
        V, bv = self.unpack(v)
        Y, sw, loss = self.Y, self.weights, self.loss

        def op(i, lo, hi, Vt):
            loss.hessp_t(state[:, lo:hi], Y[lo:hi], sw[lo:hi], Vt, compiled=self._compiled)
            return 0.0

        out = self._fused(V, bv, op)[1]
        return float32_hessp.project_flat(loss, self.k, out) if self.project_flat else out

    def hessian_sample(self, w: np.ndarray, rows: np.ndarray, float32: bool = False
                       ) -> NumpyData:
        return row_sample.sample_term(self, w, rows, float32)

    def compiled_passes(self, on: bool = True) -> bool:
        self._compiled_passes = bool(on) and _one_block.operand_products(self) is not None
        return self._compiled_passes

    def hessp_operands(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        return _one_block.hessp_operands(self, w) if self._compiled_passes else None

    def hessian_diag(self, w: np.ndarray) -> np.ndarray:
        return _hessian.hessian_diag(self, self._state(w))

    def hessian(self, w: np.ndarray) -> np.ndarray:
        H = _hessian.blocked_hessian(self, self._state(w))
        return H.reshape(self.n_params, self.n_params)

    def hessian_blocks(self, w: np.ndarray, for_step: bool = False) -> np.ndarray | None:
        if not self.loss.diagonal_hessian:
            return None
        return _hessian.blocked_hessian(self, self._state(w), diagonal=True,
                                        float32=for_step)

    def hessian_output_blocks(self, w: np.ndarray) -> np.ndarray | None:
        if self.loss.diagonal_hessian:
            return self.hessian_blocks(w)
        return _hessian.output_blocks(self, self._state(w))


def _rowmajor_blocks(term: NumpyData) -> bool:
    """Whether ``term``'s dense blocks are stored as ``(b, k)`` rows, where its loss's
    compiled passes take them (``partition_rowmajor``, unit weights, ``k > 1``).

    float32: OpenBLAS's sgemm forms ``X_b @ W`` 1.2-1.45x faster in that layout
    than transposed into ``(k, b)`` (multilabel, many_classes; evaluation / floor at
    default threads: multilabel 1.42 -> 1.14, many_classes 1.21 -> 1.10). float64,
    where the products run in row slices (``products.slice``), only for an
    elementwise pass (``diagonal_hessian``: binomial, multi-label), which runs on
    the ``(b, k)`` rows as on ``(k, b)`` and saves the copy into ``(k, b)`` of
    :attr:`~sigmax.dataterms.blocks.BlockProducts.slice_logits` (multilabel at half
    its rows: 0.87-0.91x of one product per block, 0.93-0.97x copied; ``python
    benchmarks/block_layout.py --part 6``). A compiled float64 softmax pass over
    ``(b, k)`` rows was tried and not kept: on dense_multinomial's blocks its per-row
    reductions over ``k = 10`` entries cost more than the copy saves, and the whole
    fit was no faster.
    """
    loss = term.loss
    if not (term._compiled and term.k > 1 and term._unit_weights and loss.partition_rowmajor):
        return False
    return term.dtype == np.float32 or (term.products.slice > 0 and loss.diagonal_hessian)


def _prepare_compiled(term: NumpyData) -> None:
    """Compile (or load) the loss's compiled partition passes here, not in a worker.

    Runs the kernel once on a two-sample block for each variant a pass may
    use (without and with the Newton state, a strided view as in a pass).
    Where the loss has no compiled pass (or numba is missing) its NumPy
    passes serve: same results.
    """
    k, n = term.k, min(2, term.n_samples)
    T = term._value_targets()[..., :n]
    w = None if term._unit_weights else term.weights[:n]
    shape = (n, k) if term._rowmajor else (k, n)
    bias = np.zeros(k, dtype=term.dtype) if term._rowmajor and term.fit_intercept else None
    for state in (False, True):
        St = np.zeros((k, 2 * n), dtype=term.dtype)[:, :n] if state else None
        Ut = np.zeros(shape, dtype=term.dtype)
        Ut = Ut.T if term._rowmajor else Ut
        term.loss.partition_t(Ut, w, St, np.zeros_like(Ut), T, compiled=True, bias=bias)
    # The Hessian products' pass (a strided state, as in hessp).
    St = np.zeros((k, 2 * n), dtype=term.dtype)[:, :n]
    term.loss.hessp_t(St, term.Y[:n], term.weights[:n], np.zeros((k, n), dtype=term.dtype),
                      compiled=True)
