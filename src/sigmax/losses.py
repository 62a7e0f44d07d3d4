r"""Losses in logit space.

A loss sees only the raw predictions (logits) ``Z`` of shape ``(n, k)``, the
encoded targets and the per-row (or per-entry) weights. It never sees ``X``:
:class:`sigmax.objective.LinearObjective` lifts a loss to coefficients.

Conventions
-----------
- ``Z``: ``(n, k)`` logits, ``k`` = number of outputs of the loss.
- ``weights``: ``(n,)`` sample weights, or ``(n, k)`` entry weights for
  :class:`MultilabelLoss` (a zero entry masks that label of that row).
- ``value_and_grad`` returns the weighted *sum* :math:`\sum_i s_i \ell_i` as a
  Python float accumulated in float64, and the gradient
  :math:`G_{ik} = s_i \, \partial \ell_i / \partial z_{ik}` in the dtype of ``Z``,
  from one pass (one ``exp`` per entry).
- ``hessian_state`` caches what the Hessian needs at ``Z``;
  ``hessp(state, V)`` applies the per-row Hessian to ``V`` of shape ``(n, k)``,
  and ``hessian_weights(state, a, b)`` gives the ``(n,)`` weights of the block
  ``(a, b)`` of :math:`\nabla^2 \sum_i s_i \ell_i` with respect to
  ``(z_{\cdot a}, z_{\cdot b})``, or ``None`` when the block is zero.

The binary loss is the multinomial loss with K=2 and the logit
:math:`z = z_1 - z_0`: :math:`\mathrm{softmax}(z_0, z_1)_1 = \sigma(z_1 - z_0)`.
That identity is why a K=2 softmax model and a logistic model give the same
probabilities (see :mod:`sigmax.estimators.softmax` for the penalty mapping).

Block kernels (the fast path)
-----------------------------
:class:`~sigmax.objective.LinearObjective` evaluates ``X`` in row blocks whose
logits stay in cache, and hands the loss the *transposed* block ``Zt`` of shape
``(k, b)`` (C-contiguous): every row-wise reduction over the ``k`` outputs
(max, sum) then runs along contiguous rows of length ``b`` in SIMD, which is
3-6x faster than reducing short rows of an ``(b, k)`` block. ``Y`` and
``weights`` are passed as the matching row blocks in their stored layout.

- ``value_grad_t(Zt, Y, w, St=None)`` returns the weighted loss sum (float64)
  and overwrites ``Zt`` with the gradient block; when ``St`` (``(k, b)``) is
  given it also writes the Hessian state of the block into it.
- ``hessp_t(St, Y, w, Vt)`` overwrites ``Vt`` (``(k, b)``) with the per-row
  Hessian (state ``St``) applied to it.
- ``hessian_weights_t(St, Y, w, a, b)``: like ``hessian_weights`` for a block.

The base class implements them through the row-major methods, so a new loss
works unchanged; the built-in losses override them with one-pass kernels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .numerics import expit, log_expit, log_softmax, softmax

__all__ = ["LOSSES", "BinomialLoss", "Loss", "MultilabelLoss", "MultinomialLoss"]


def _weighted_sum(values: np.ndarray, weights: np.ndarray) -> float:
    """Sum of ``weights * values`` accumulated in float64 (exact enough in float32 runs)."""
    if weights.shape == values.shape:
        return float(np.vdot(weights.astype(np.float64, copy=False),
                             values.astype(np.float64, copy=False)))
    # Per-row weights, (n,) or (n, 1), against (n, k) values.
    return float(weights.astype(np.float64, copy=False).reshape(-1)
                 @ values.astype(np.float64, copy=False).sum(axis=1))


def _sigmoid_parts(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Return ``(softplus(Z), sigmoid(Z))`` from a single ``exp``.

    With :math:`e = e^{-|z|} \in (0, 1]`:
    :math:`\log(1+e^z) = \max(z,0) + \log1p(e)` and
    :math:`\sigma(z) = 1/(1+e)` for :math:`z \ge 0`, :math:`e/(1+e)` otherwise.
    The exponent is never positive, so nothing overflows.
    """
    e = np.exp(-np.abs(Z))
    softplus = np.maximum(Z, 0)
    softplus += np.log1p(e)
    p = 1.0 / (1.0 + e)
    neg = Z < 0
    p[neg] *= e[neg]
    return softplus, p


class Loss:
    """Base class of the losses: see the module docstring for the contract."""

    name: ClassVar[str]
    #: True when the per-row Hessian is diagonal across outputs.
    diagonal_hessian: ClassVar[bool]

    def n_outputs(self, n_classes: int) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def value_and_grad(self, Z: np.ndarray, Y: np.ndarray, weights: np.ndarray
                       ) -> tuple[float, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def value(self, Z: np.ndarray, Y: np.ndarray, weights: np.ndarray) -> float:
        return self.value_and_grad(Z, Y, weights)[0]

    def hessian_state(self, Z: np.ndarray, Y: np.ndarray, weights: np.ndarray
                      ) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def hessp(self, state: Any, V: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def hessian_weights(self, state: Any, a: int, b: int
                        ) -> np.ndarray | None:  # pragma: no cover
        raise NotImplementedError

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def predict_log_proba(self, Z: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    # -- block kernels (transposed layout, see the module docstring) ---------------
    def value_grad_t(self, Zt: np.ndarray, Y: np.ndarray, weights: np.ndarray,
                     St: np.ndarray | None = None) -> float:
        """Loss sum of a block; ``Zt`` ``(k, b)`` becomes the gradient block.

        The default goes through :meth:`value_and_grad`; its Hessian state is
        the logits themselves.
        """
        if St is not None:
            St[...] = Zt
        value, G = self.value_and_grad(np.ascontiguousarray(Zt.T), Y, weights)
        Zt[...] = G.T
        return value

    def hessp_t(self, St: np.ndarray, Y: np.ndarray, weights: np.ndarray,
                Vt: np.ndarray) -> None:
        """Overwrite ``Vt`` ``(k, b)`` with the Hessian block (state ``St``) times ``Vt``."""
        state = self.hessian_state(np.ascontiguousarray(St.T), Y, weights)
        Vt[...] = self.hessp(state, np.ascontiguousarray(Vt.T)).T

    def hessian_weights_t(self, St: np.ndarray, Y: np.ndarray, weights: np.ndarray,
                          a: int, b: int) -> np.ndarray | None:
        """``(b,)`` weights of the output pair ``(a, b)`` of a block (None when zero)."""
        state = self.hessian_state(np.ascontiguousarray(St.T), Y, weights)
        return self.hessian_weights(state, a, b)

    def hessian_diag_t(self, St: np.ndarray, Y: np.ndarray, weights: np.ndarray
                       ) -> np.ndarray:
        """``(k, b)`` diagonal Hessian weights ``h_{aa}`` of a block (for preconditioning)."""
        return np.stack([np.asarray(self.hessian_weights_t(St, Y, weights, a, a))
                         for a in range(St.shape[0])])


def _rows(A: np.ndarray, k: int) -> np.ndarray:
    """An ``(b,)`` block broadcast against ``(k, b)``; an ``(b, k)`` block transposed."""
    return A.T if A.ndim == 2 else A


def _dot64(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of ``a * b`` (same shape) accumulated in float64."""
    return float(np.vdot(a.astype(np.float64, copy=False), b.astype(np.float64, copy=False)))


@dataclass(frozen=True)
class BinomialLoss(Loss):
    r"""Sigmoid + log-loss for one binary target.

    With :math:`y \in \{0, 1\}` and logit :math:`z`:

    .. math:: \ell(z, y) = \log(1 + e^{z}) - y z, \quad
              \ell' = \sigma(z) - y, \quad \ell'' = \sigma(z)(1 - \sigma(z)).

    ``Y`` is a float array of shape ``(n,)``; ``Z`` has shape ``(n, 1)``.
    """

    name: ClassVar[str] = "binomial"
    diagonal_hessian: ClassVar[bool] = True

    def n_outputs(self, n_classes: int) -> int:
        return 1

    def value_and_grad(self, Z, Y, weights):
        y = Y.reshape(-1, 1)
        softplus, p = _sigmoid_parts(Z)
        softplus -= y * Z
        value = _weighted_sum(softplus, weights.reshape(-1, 1) if weights.ndim == 1 else weights)
        p -= y
        p *= weights.reshape(-1, 1) if weights.ndim == 1 else weights
        return value, p

    def value(self, Z, Y, weights):
        softplus, _ = _sigmoid_parts(Z)
        softplus -= Y.reshape(-1, 1) * Z
        return _weighted_sum(softplus, weights.reshape(-1, 1) if weights.ndim == 1 else weights)

    def hessian_state(self, Z, Y, weights):
        p = expit(Z)
        # p(1-p) written as sigmoid(z) * sigmoid(-z): no cancellation in 1 - p.
        h = p * expit(-Z)
        h *= weights.reshape(-1, 1) if weights.ndim == 1 else weights
        return h

    def hessp(self, state, V):
        return state * V

    def hessian_weights(self, state, a, b):
        return state[:, a] if a == b else None

    def predict_proba(self, Z):
        return expit(Z)

    def predict_log_proba(self, Z):
        return log_expit(Z)

    def value_grad_t(self, Zt, Y, weights, St=None):
        # With e = exp(-|z|) in (0, 1] (never overflows), one exp gives all:
        #   loss   = log1p(e) + |z|/2 + z (1/2 - y)   (= log(1 + e^z) - y z)
        #   p      = num / (1 + e),  num = 1 if z >= 0 else e
        #   p(1-p) = e / (1 + e)^2                    (no cancellation in 1 - p)
        # Branch-free (np.where costs 5x a multiply): num = max(e, [z >= 0]).
        # The targets enter once, as c = 1/2 - y copied into a contiguous block
        # of the working dtype (cheaper than two passes over a strided,
        # float64 Y.T); the gradient is p - y = p - 1/2 + c.
        c = np.empty_like(Zt)
        np.subtract(0.5, Y.T if Y.ndim == 2 else Y, out=c)
        w = _rows(weights, Zt.shape[0])
        a = np.abs(Zt)
        e = np.negative(a)
        np.exp(e, out=e)
        t = np.log1p(e)
        a *= 0.5
        t += a
        np.multiply(Zt, c, out=a)
        t += a
        value = (_dot64(w, t) if w.ndim == 2
                 else float(w.astype(np.float64, copy=False) @ t.sum(axis=0, dtype=np.float64)))
        np.add(e, 1, out=a)
        if St is not None:
            np.divide(e, a, out=St)
            St /= a
            St *= w
        np.maximum(e, Zt >= 0, out=e)
        np.divide(e, a, out=Zt)  # p
        c -= 0.5
        Zt += c
        Zt *= w
        return value

    def hessp_t(self, St, Y, weights, Vt):
        Vt *= St

    def hessian_weights_t(self, St, Y, weights, a, b):
        return St[a] if a == b else None

    def hessian_diag_t(self, St, Y, weights):
        return St


@dataclass(frozen=True)
class MultilabelLoss(BinomialLoss):
    r"""Independent sigmoids, one per label: the sum of ``k`` binomial losses.

    ``Y`` is a float 0/1 matrix of shape ``(n, k)``; ``weights`` may be
    ``(n,)`` or ``(n, k)`` (entry weights; 0 masks a missing label). One-vs-rest
    is this loss on the one-hot encoding of a class label.
    """

    name: ClassVar[str] = "multilabel"

    def n_outputs(self, n_classes: int) -> int:
        return n_classes

    def value_and_grad(self, Z, Y, weights):
        softplus, p = _sigmoid_parts(Z)
        softplus -= Y * Z
        w = weights.reshape(-1, 1) if weights.ndim == 1 else weights
        value = _weighted_sum(softplus, w)
        p -= Y
        p *= w
        return value, p

    def value(self, Z, Y, weights):
        softplus, _ = _sigmoid_parts(Z)
        softplus -= Y * Z
        return _weighted_sum(softplus, weights.reshape(-1, 1) if weights.ndim == 1 else weights)


@dataclass(frozen=True)
class MultinomialLoss(Loss):
    r"""Softmax + cross-entropy over ``K`` mutually exclusive classes.

    With integer label :math:`y_i` and logits :math:`z_i \in \mathbb{R}^K`:

    .. math:: \ell = \log\sum_k e^{z_k} - z_{y}, \quad
              \nabla \ell = p - e_y, \quad
              \nabla^2 \ell = \mathrm{diag}(p) - p p^\top,

    with :math:`p = \mathrm{softmax}(z)`. The Hessian has the null vector
    :math:`\mathbf 1`: adding a constant to every logit of a row changes
    nothing, which is why the unpenalized symmetric model has a flat valley of
    minima.

    ``reference=True`` fixes the logit of class 0 to 0 (statsmodels' MNLogit
    parameterization): ``Z`` then has ``K - 1`` columns for classes ``1..K-1``.
    ``Y`` is an integer array of shape ``(n,)`` with values in ``0..K-1``.
    """

    reference: bool = False
    name: ClassVar[str] = "multinomial"
    diagonal_hessian: ClassVar[bool] = False

    def n_outputs(self, n_classes: int) -> int:
        return n_classes - 1 if self.reference else n_classes

    def _full(self, Z: np.ndarray) -> np.ndarray:
        if not self.reference:
            return Z
        out = np.empty((Z.shape[0], Z.shape[1] + 1), dtype=Z.dtype)
        out[:, 0] = 0
        out[:, 1:] = Z
        return out

    def value_and_grad(self, Z, Y, weights):
        Zf = self._full(Z)
        rows = np.arange(Zf.shape[0])
        m = Zf.max(axis=1, keepdims=True)
        # One exp per entry: the shifted exponentials give both log-sum-exp
        # (value) and the probabilities (gradient).
        E = Zf - m
        z_true = E[rows, Y]
        np.exp(E, out=E)
        s = E.sum(axis=1, keepdims=True)
        per_row = np.log(s[:, 0]) - z_true
        value = float(np.dot(weights.astype(np.float64, copy=False),
                             per_row.astype(np.float64, copy=False)))
        E /= s
        E[rows, Y] -= 1
        E *= weights[:, None]
        return value, (E[:, 1:] if self.reference else E)

    def value(self, Z, Y, weights):
        Zf = self._full(Z)
        rows = np.arange(Zf.shape[0])
        lse = np.max(Zf, axis=1)
        lse = lse + np.log(np.exp(Zf - lse[:, None]).sum(axis=1))
        per_row = lse - Zf[rows, Y]
        return float(np.dot(weights.astype(np.float64, copy=False),
                            per_row.astype(np.float64, copy=False)))

    def hessian_state(self, Z, Y, weights):
        return softmax(self._full(Z)), weights

    def hessp(self, state, V):
        p, w = state
        if self.reference:
            p = p[:, 1:]
        # (diag(p) - p p^T) v = p * (v - <p, v>); in the reference
        # parameterization the fixed logit contributes v_0 = 0 to <p, v>.
        out = V - np.sum(p * V, axis=1, keepdims=True)
        out *= p
        out *= w[:, None]
        return out

    def hessian_weights(self, state, a, b):
        p, w = state
        off = 1 if self.reference else 0
        pa = p[:, a + off]
        if a == b:
            return w * pa * (1 - pa)
        return -w * pa * p[:, b + off]

    def predict_proba(self, Z):
        return softmax(self._full(Z))

    def predict_log_proba(self, Z):
        return log_softmax(self._full(Z))

    def value_grad_t(self, Zt, Y, weights, St=None):
        # Shift every column (sample) by its max logit so each exponent is
        # <= 0 and the largest term is 1 (see numerics.logsumexp); one exp per
        # entry then gives log-sum-exp (value) and softmax (gradient). In the
        # reference parameterization the fixed logit 0 of class 0 joins the max
        # and contributes exp(-m) to the sum.
        b = Zt.shape[1]
        cols = np.arange(b)
        m = Zt.max(axis=0)
        if self.reference:
            np.maximum(m, 0, out=m)
        Zt -= m
        if self.reference:
            known = Y > 0
            z_true = -m
            z_true[known] = Zt[Y[known] - 1, cols[known]]
        else:
            z_true = Zt[Y, cols]
        np.exp(Zt, out=Zt)
        s = Zt.sum(axis=0)
        if self.reference:
            s += np.exp(-m)
        per_row = np.log(s)
        per_row -= z_true
        value = float(weights.astype(np.float64, copy=False)
                      @ per_row.astype(np.float64, copy=False))
        np.reciprocal(s, out=s)
        Zt *= s  # probabilities
        if St is not None:
            St[...] = Zt
        Zt *= weights
        if self.reference:
            Zt[Y[known] - 1, cols[known]] -= weights[known]
        else:
            Zt[Y, cols] -= weights
        return value

    def hessp_t(self, St, Y, weights, Vt):
        # (diag(p) - p p^T) v = p * (v - <p, v>), weighted per sample.
        pv = np.einsum("kb,kb->b", St, Vt)
        Vt -= pv
        Vt *= St
        Vt *= weights

    def hessian_weights_t(self, St, Y, weights, a, b):
        if a == b:
            return weights * St[a] * (1 - St[a])
        return -weights * St[a] * St[b]

    def hessian_diag_t(self, St, Y, weights):
        out = 1 - St
        out *= St
        out *= weights
        return out


#: Registry of losses by name; ``multinomial_reference`` is the K-1 parameterization.
LOSSES: dict[str, Loss] = {
    "binomial": BinomialLoss(),
    "multinomial": MultinomialLoss(),
    "multinomial_reference": MultinomialLoss(reference=True),
    "multilabel": MultilabelLoss(),
}
