"""The compiled passes of a :class:`~sigmax.dataterms.numpy_term.NumpyData` whose ``X`` is one
dense block (:meth:`~sigmax.dataterms.base.DataTerm.compiled_passes`).

Small problems spend their passes in Python around products of a few tens of
microseconds; where a caller runs many solves over one data term (the
regularization paths) it asks for these instead:

- :func:`hessp_operands`: the arrays from which the compiled Newton-CG
  (:mod:`sigmax.solvers.compiled_cg`) forms the Hessian products itself;
- :func:`value_and_grad`: the symmetric softmax's value, gradient and Newton
  state in one compiled call (:mod:`sigmax._softmax_block`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _parallel

__all__ = ["ENABLED", "hessp_operands", "operand_products", "value_and_grad"]

#: Whether data terms offer the compiled passes when asked (benchmarks compare both).
ENABLED = True

_EMPTY64 = np.empty(0)
_EMPTY64_2D = np.empty((0, 0))


def _one_contiguous_block(products: Any) -> bool:
    X = products.X
    return (not products.plan.sparse and len(products.plan.bounds) == 1
            and (X.flags.c_contiguous or X.flags.f_contiguous))


def operand_products(term: Any) -> Any:
    """The products :func:`hessp_operands` hands over (the float32 twin's where it is
    on), or None where they are not of the compiled CG's form."""
    products = term._hessp32.products if term._use_hessp32 else term.products
    if not ENABLED or term.loss.hessp_state is None or not _one_contiguous_block(products):
        return None
    return products


def hessp_operands(term: Any, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(X, St, weights)`` of :meth:`~sigmax.dataterms.base.DataTerm.hessp_operands`."""
    products = operand_products(term)
    if products is None:
        return None
    twin = term._hessp32 if term._use_hessp32 else None
    X = products.X
    St = twin.state(w) if twin is not None else term._state(w)
    unit = term._unit_weights or term.loss.hessp_state != "softmax"
    weights = twin.weights if twin is not None else term.weights
    return X, St, (np.empty(0, dtype=X.dtype) if unit else weights)


def value_and_grad(term: Any, w: np.ndarray, St: np.ndarray | None
                   ) -> tuple[float, np.ndarray] | None:
    """``term.value_and_grad(w)`` of the symmetric softmax in one compiled call, the state
    written to ``St`` where given; None where it does not apply (the reference
    parameterization, float32, several blocks) or its result is not finite (the
    fused passes then decide, with their per-entry kernel for huge logits)."""
    loss = term.loss
    if (not loss.softmax_hessian or loss.reference or term.dtype != np.float64
            or not _one_contiguous_block(term.products)):
        return None
    from .. import _softmax_block

    W, b = term.unpack(w)
    out = np.empty((term.n_rows, term.k))
    with _parallel.compiled_blas():  # numba's products: SciPy's BLAS, one thread
        value = _softmax_block.value_grad(
            term.X, np.ascontiguousarray(W.T), _EMPTY64 if b is None else b,
            _EMPTY64_2D if term._Ot is None else term._Ot,
            term._value_targets().astype(np.intp, copy=False),
            _EMPTY64 if term._unit_weights else term.weights,
            _EMPTY64_2D if St is None else St, out)
    with np.errstate(over="ignore", invalid="ignore"):
        finite = np.isfinite(value + float(out.sum()))
    return (float(value), out) if finite else None
