r"""Hessian-vector products of a float64 data term, formed in float32.

Newton-CG spends most of a weakly regularized fit in Hessian-vector products

.. math:: (\nabla^2 D)\, v = \tilde X^\top \big(h(Z) \odot \tilde X V\big)

(for the softmax :math:`h` applies :math:`\mathrm{diag}(p_i) - p_i p_i^\top` per row):
two products with ``X`` and elementwise work on ``(n, k)``. Its conjugate
gradients need only a few digits of them: CG stops at a relative residual of
:math:`\eta = \min(0.5, \sqrt{\|g\|})` or at a quarter of the tolerance
(:class:`~sigmax.solvers.newton.NewtonCG`), far above float32's rounding
(relative error of a product 2-3e-7 on the film and dense_multinomial shapes,
``python benchmarks/mixed_precision_hessp.py``), while the gradient, which
decides every step's acceptance and the convergence test, stays float64. So
the fit converges to the same optimum, at the same tolerance, as with exact
products (an inexact Newton method: the Hessian's error only slows the
local rate, by a factor of about that error times the condition number).

The gain is mostly memory traffic: ``X`` and the elementwise pass read half
the bytes. With plain NumPy a product took 0.37-0.40x the float64 time on
those shapes, and in sigmax's own pass 0.54-0.64x (dense_multinomial fold,
40,000 x 100, K = 10: 6.5 against 10.1 ms, one thread); on a block that stays
in cache (a digits fold, 1,437 x 64) 0.83x (``python
benchmarks/mixed_precision_hessp.py``). The
price is the float32 per-sample state (``(k, n)``, refreshed once per Newton
iterate) and, where ``X`` is one row block or CSR, a float32 copy of ``X`` (of
its values); a dense ``X`` of several blocks is read as float32 blocks, each
converted as it is read (:func:`streams`, as :mod:`.float32_twin` does for
L-BFGS), with no copy. It is kept while the data term lives: the regularization
paths use it (:mod:`sigmax.path`, many Newton-CG fits over one data term), and
every float64 Newton-CG solve asks for it for its own length
(:attr:`sigmax.solvers.newton.NewtonCG.float32_products`: single fits 0.60-0.92x of
the time with exact products, digits 1.08-1.09x; ``python
benchmarks/mixed_precision_hessp.py --fits``). A CSR copy shares the indices of
``X``: only its values are copied (4 bytes per stored value).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .blocks import BlockProducts, twin_order
from .memory import copy_fits

__all__ = ["FLUSH_BELOW", "Float32Hessp", "affordable", "flush_tiny", "project_flat",
           "streams"]

#: Per-sample state entries below this in magnitude are stored as 0 in float32:
#: far under float32's resolution next to the row's other entries, and never
#: subnormal (see :meth:`Float32Hessp.state`).
FLUSH_BELOW = np.float32(1e-30)


def streams(X: Any, k: int) -> bool:
    """Whether the twin reads a dense ``X`` of several row blocks as float32 blocks
    (:meth:`~sigmax.dataterms.blocks.BlockProducts.rows`) instead of copying it."""
    return isinstance(X, np.ndarray) and twin_order(X.shape, k, np.float32) == "C"


def affordable(X: Any, k: int) -> bool:
    """Whether the twin's float32 copy of ``X`` (dense or CSR) fits in
    :data:`~sigmax.dataterms.memory.MEMORY_SHARE` of the available memory (no
    copy where it :func:`streams`)."""
    if streams(X, k):
        return True
    values = X.nnz if hasattr(X, "nnz") else X.size
    return copy_fits(4.0 * values)


class Float32Hessp:
    """float32 twin of a float64 :class:`~sigmax.dataterms.numpy_term.NumpyData`'s ``hessp``.

    Parameters
    ----------
    term : NumpyData
        A float64 data term on dense or CSR ``X`` of shape (n, d). A dense ``X`` of
        several row blocks is read as float32 blocks, each converted as it is read
        (no copy: :func:`streams`); one block (the compiled CG of the paths' folds
        reads it whole) and CSR values are copied once to float32 here.
    """

    def __init__(self, term: Any) -> None:
        self.term = term
        X = term.X
        if streams(X, term.k):
            self.products = BlockProducts(X, term.k, dtype=np.float32)
        else:
            if isinstance(X, np.ndarray):  # one block: column-major (blocks.twin_order)
                X32 = X.astype(np.float32, order="F")
            else:  # CSR: new values on the same indices (astype would copy those too)
                X32 = sp.csr_matrix((X.data.astype(np.float32), X.indices, X.indptr),
                                    shape=X.shape, copy=False)
            self.products = BlockProducts(X32, term.k)
        w = term.weights
        # Unit weights stay a broadcast view (stride 0): the kernels skip them.
        self.weights = (np.broadcast_to(np.ones(1, dtype=np.float32), w.shape)
                        if term._unit_weights else w.astype(np.float32))
        self._St: np.ndarray | None = None  # (k, n) float32 copy of the term's state
        self._version = -1  # the version of the term's state (StatePoint) self._St copies
        self._prepare()

    def _prepare(self) -> None:
        """Compile (or load) the loss's float32 product kernel here, not in a worker thread."""
        t, n = self.term, min(2, self.term.n_samples)
        St = np.zeros((t.k, 2 * n), dtype=np.float32)[:, :n]
        t.loss.hessp_t(St, t.Y[:n], self.weights[:n], np.zeros((t.k, n), dtype=np.float32),
                       compiled=t._compiled)

    def state(self, w: np.ndarray) -> np.ndarray:
        """The per-sample Hessian state at ``w`` in float32 ``(k, n)``, once per ``w``.

        Converted from the float64 term's state (which knows its own ``w``) each
        time that is rewritten: no copy of ``w`` is kept here.
        """
        St64 = self.term._state(w)
        if self._St is None or self._version != self.term._St_at.version:
            if self._St is None:
                self._St = np.empty(St64.shape, dtype=np.float32)
            St = self._St
            np.copyto(St, St64, casting="same_kind")  # in place: no second (k, n) copy
            flush_tiny(St)
            self._version = self.term._St_at.version
        return self._St

    def hessp(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``(nabla^2 D(w)) v`` as a float64 ``(n_rows, k)`` array, products in float32.

        One pass over the float32 ``X`` (``X_b V``, the loss's block kernel,
        ``X_b^T (H V)_b``), each block's product accumulated in float64.
        """
        t = self.term
        St, Y, sw, loss = self.state(w), t.Y, self.weights, t.loss
        V, bv = t.unpack(v)

        def op(i, lo, hi, Vt):
            loss.hessp_t(St[:, lo:hi], Y[lo:hi], sw[lo:hi], Vt, compiled=t._compiled)
            return 0.0

        return project_flat(loss, t.k, self.products.run(V, bv, op)[1])


def flush_tiny(St: np.ndarray) -> np.ndarray:
    """A float32 per-sample state with its entries under :data:`FLUSH_BELOW` set to 0, in place.

    A confident model's probabilities fall below float32's normal range
    (1.2e-38), and products on subnormal operands are slow on x86: a
    dense_multinomial fold path (800 x 100) took 0.178 s with them, 0.074 s
    flushed, 0.107 s with float64 products (``python
    benchmarks/subnormal_state.py``). At float32's 1e-7 relative precision such
    an entry weighs nothing next to the row's others (in (diag(p) - p p^T) v, or
    in a loss's own state), so it is flushed to zero, whatever its sign. One
    reduction first: a state none of whose entries is tiny (the common case)
    needs no masked pass over ``(k, n)``.
    """
    if St.size and St.min() < FLUSH_BELOW:
        St[np.abs(St) < FLUSH_BELOW] = 0.0
    return St


def project_flat(loss: Any, k: int, out: np.ndarray) -> np.ndarray:
    """``out`` (a Hessian product, ``(n_rows, k)``) less its part along the loss's flat
    directions, in place.

    A symmetric softmax's data Hessian maps every vector to rows that sum to
    zero over its classes (``Loss.flat_spans``); float32 rounding leaves sums at
    float32's precision. Left in, plain CG's steps took them along the flat
    intercept shift (no curvature there), and over the Newton steps of an
    ill-conditioned fit the intercepts drifted together further than the 2e-5
    tests/test_path.py allows between two solves. Projected out, as the exact
    products have none.
    """
    for a, b in loss.flat_spans(k):
        span = out[:, a:b]
        span -= span.mean(axis=1, keepdims=True)
    return out
