r"""The losses written once against an array namespace (NumPy, torch, ...).

These kernels follow the contract of :mod:`sigmax.losses` (logit space only,
weighted *sum* accumulated in float64, gradient in the dtype of ``Z``) and its
numerical rules, but use only array-API operations (``xp = array_namespace(Z)``)
so that the same code runs on torch tensors on a GPU. :mod:`sigmax.losses`
stays the fast NumPy implementation (in-place operations and buffers);
``tests/test_backends.py`` checks that both give the same numbers for every
registered loss.

Numerical rules, the same as :mod:`sigmax.numerics`:

- softplus :math:`\log(1+e^z) = \max(z,0) + \log1p(e^{-|z|})`: the exponent is
  never positive;
- sigmoid from the same :math:`e = e^{-|z|}`: :math:`1/(1+e)` for
  :math:`z \ge 0`, :math:`e/(1+e)` otherwise;
- log-sum-exp and softmax shift each row by its maximum before ``exp``.

So every finite logit gives a finite value and gradient.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["KERNELS", "BinomialKernel", "MultinomialKernel", "kernel_for"]


def _namespace(*arrays: Any) -> Any:
    from array_api_compat import array_namespace

    return array_namespace(*arrays)


def _weighted_sum(xp: Any, values: Any, weights: Any) -> float:
    """``sum(weights * values)`` accumulated in float64, as a Python float.

    ``weights`` is ``(n,)`` (one per row) or the shape of ``values``.
    """
    v = xp.astype(values, xp.float64, copy=False)
    w = xp.astype(weights, xp.float64, copy=False)
    if w.ndim == 1 and v.ndim == 2:
        w = w[:, None]
    return float(xp.sum(w * v))


def _row_weights(weights: Any) -> Any:
    return weights[:, None] if weights.ndim == 1 else weights


class BinomialKernel:
    r"""Sigmoid + log-loss, one column (``binomial``) or one per label (``multilabel``).

    :math:`\ell = \log(1+e^z) - y z`, :math:`\ell' = \sigma(z) - y`,
    :math:`\ell'' = \sigma(z)\sigma(-z)`.
    """

    diagonal_hessian: ClassVar[bool] = True

    def _parts(self, xp: Any, Z: Any) -> tuple[Any, Any]:
        e = xp.exp(-xp.abs(Z))
        zero = xp.zeros_like(Z)
        softplus = xp.where(Z > 0, Z, zero) + xp.log1p(e)
        one_plus = 1.0 + e
        p = xp.where(Z >= 0, 1.0 / one_plus, e / one_plus)
        return softplus, p

    def value_and_grad(self, Z: Any, Y: Any, weights: Any) -> tuple[float, Any]:
        xp = _namespace(Z)
        Yc = Y[:, None] if Y.ndim == 1 else Y
        Yc = xp.astype(Yc, Z.dtype, copy=False)
        softplus, p = self._parts(xp, Z)
        value = _weighted_sum(xp, softplus - Yc * Z, weights)
        return value, (p - Yc) * _row_weights(weights)

    def hessian_state(self, Z: Any, Y: Any, weights: Any) -> Any:
        xp = _namespace(Z)
        _, p = self._parts(xp, Z)
        _, q = self._parts(xp, -Z)
        # p(1-p) written as sigmoid(z) * sigmoid(-z): no cancellation in 1 - p.
        return p * q * _row_weights(weights)

    def hessp(self, state: Any, V: Any) -> Any:
        return state * V

    def hessian_weights(self, state: Any, a: int, b: int) -> Any | None:
        return state[:, a] if a == b else None


class MultinomialKernel:
    r"""Softmax + cross-entropy; ``reference=True`` fixes the logit of class 0 to 0.

    :math:`\ell = \log\sum_k e^{z_k} - z_y`, :math:`\nabla\ell = p - e_y`,
    :math:`\nabla^2\ell = \mathrm{diag}(p) - pp^\top`.
    """

    diagonal_hessian: ClassVar[bool] = False

    def __init__(self, reference: bool = False) -> None:
        self.reference = reference

    def _full(self, xp: Any, Z: Any) -> Any:
        if not self.reference:
            return Z
        return xp.concat([xp.zeros_like(Z[:, :1]), Z], axis=1)

    def _onehot(self, xp: Any, Y: Any, n_classes: int, like: Any) -> Any:
        from array_api_compat import device

        classes = xp.arange(n_classes, dtype=Y.dtype, device=device(like))
        return xp.astype(Y[:, None] == classes[None, :], like.dtype)

    def value_and_grad(self, Z: Any, Y: Any, weights: Any) -> tuple[float, Any]:
        xp = _namespace(Z)
        Zf = self._full(xp, Z)
        # Shift each row by its maximum: every exponent is <= 0 and the row sum
        # lies in [1, K], so its log is finite.
        E = Zf - xp.max(Zf, axis=1, keepdims=True)
        z_true = xp.take_along_axis(E, xp.astype(Y, xp.int64, copy=False)[:, None], axis=1)[:, 0]
        E = xp.exp(E)
        s = xp.sum(E, axis=1, keepdims=True)
        value = _weighted_sum(xp, xp.log(s[:, 0]) - z_true, weights)
        G = (E / s - self._onehot(xp, Y, Zf.shape[1], Zf)) * weights[:, None]
        return value, (G[:, 1:] if self.reference else G)

    def hessian_state(self, Z: Any, Y: Any, weights: Any) -> Any:
        xp = _namespace(Z)
        Zf = self._full(xp, Z)
        E = xp.exp(Zf - xp.max(Zf, axis=1, keepdims=True))
        return E / xp.sum(E, axis=1, keepdims=True), weights

    def hessp(self, state: Any, V: Any) -> Any:
        xp = _namespace(V)
        p, w = state
        if self.reference:
            p = p[:, 1:]
        # (diag(p) - p p^T) v = p * (v - <p, v>); in the reference
        # parameterization the fixed logit contributes v_0 = 0 to <p, v>.
        return p * (V - xp.sum(p * V, axis=1, keepdims=True)) * w[:, None]

    def hessian_weights(self, state: Any, a: int, b: int) -> Any | None:
        p, w = state
        off = 1 if self.reference else 0
        pa = p[:, a + off]
        if a == b:
            return w * pa * (1 - pa)
        return -w * pa * p[:, b + off]


#: Array-namespace kernels by loss name (the keys of :data:`sigmax.losses.LOSSES`).
KERNELS: dict[str, Any] = {
    "binomial": BinomialKernel(),
    "multilabel": BinomialKernel(),
    "multinomial": MultinomialKernel(reference=False),
    "multinomial_reference": MultinomialKernel(reference=True),
}


def kernel_for(loss: Any) -> Any:
    """The array-namespace kernel of a :class:`~sigmax.losses.Loss` (by its registry key)."""
    from ..losses import LOSSES

    for key, registered in LOSSES.items():
        if registered == loss and key in KERNELS:
            return KERNELS[key]
    raise NotImplementedError(
        f"No array-namespace kernel for loss {loss!r}: add one to "
        "sigmax.backends.kernels.KERNELS to run it on the torch backend.")
