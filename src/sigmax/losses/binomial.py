r"""The binomial loss: one sigmoid and the log-loss (see :mod:`sigmax.losses.base`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..numerics import expit, log_expit
from . import _compiled
from ._blockmath import _EMPTY32, _LN2, _LOG_GROUP, _column_log, _dasum, _dot64, _rows, _sum_log
from .base import Loss, namespace, row_weights, weighted_sum

__all__ = ["BinomialLoss"]


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
    hessp_state: ClassVar[str | None] = "diagonal"

    def n_outputs(self, n_classes: int) -> int:
        return 1

    # -- the definition, on any array namespace ------------------------------------------
    @staticmethod
    def _parts(xp: Any, Z: Any) -> tuple[Any, Any]:
        r"""``(softplus(Z), sigmoid(Z))`` from one ``exp`` of :math:`-|z|` (never overflows).

        :math:`\log(1+e^z) = \max(z,0) + \log1p(e)` and :math:`\sigma(z) = 1/(1+e)`
        for :math:`z \ge 0`, :math:`e/(1+e)` otherwise, with :math:`e = e^{-|z|}`.
        """
        e = xp.exp(-xp.abs(Z))
        softplus = xp.where(Z > 0, Z, xp.zeros_like(Z)) + xp.log1p(e)
        one_plus = 1.0 + e
        return softplus, xp.where(Z >= 0, 1.0 / one_plus, e / one_plus)

    @staticmethod
    def _targets(xp: Any, Y: Any, Z: Any) -> Any:
        return xp.astype(Y[:, None] if Y.ndim == 1 else Y, Z.dtype, copy=False)

    def value_and_grad(self, Z, Y, weights):
        xp = namespace(Z)
        Yc = self._targets(xp, Y, Z)
        softplus, p = self._parts(xp, Z)
        value = weighted_sum(xp, softplus - Yc * Z, weights)
        return value, (p - Yc) * row_weights(xp, weights, Z)

    def value(self, Z, Y, weights):
        xp = namespace(Z)
        softplus, _ = self._parts(xp, Z)
        return weighted_sum(xp, softplus - self._targets(xp, Y, Z) * Z, weights)

    def hessian_state(self, Z, Y, weights):
        xp = namespace(Z)
        _, p = self._parts(xp, Z)
        _, q = self._parts(xp, -Z)
        # p(1-p) written as sigmoid(z) * sigmoid(-z): no cancellation in 1 - p.
        return p * q * row_weights(xp, weights, Z)

    def hessp(self, state, V):
        return state * V

    def hessian_weights(self, state, a, b):
        return state[:, a] if a == b else None

    # -- prediction (host NumPy) -------------------------------------------------------------
    def predict_proba(self, Z):
        return expit(Z)

    def predict_log_proba(self, Z):
        return log_expit(Z)

    # -- NumPy block kernels: overrides of the definition above, one pass each ----------
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

    partition_scale: ClassVar[float | None] = 0.5
    # Elementwise: a (b, k) block is the same pass on the transposed views.
    partition_rowmajor: ClassVar[bool] = True

    def linear_targets_t(self, Y, k):
        # log(1 + e^z) - y z = log(2 cosh(z/2)) + (1/2 - y) z.
        return np.subtract(0.5, np.asarray(Y, dtype=np.float64).reshape(len(Y), -1).T)

    def intercept_only(self, Y, weights, k):
        # b = logit of the weighted mean label, per output (entry weights per column).
        Yk = np.asarray(Y, dtype=np.float64).reshape(len(Y), -1)
        w = np.asarray(weights, dtype=np.float64)
        w = w.reshape(len(Y), -1) if w.ndim == 2 else w[:, None]
        pos, total = (w * Yk).sum(axis=0), np.broadcast_to(w, Yk.shape).sum(axis=0)
        if Yk.shape[1] != k or not (np.all(pos > 0) and np.all(pos < total)):
            return None
        return np.log(pos) - np.log(total - pos)

    def value_targets(self, Y, k):
        # c = 1 - 2y, (k, n): int8 (exact) for 0/1 labels, float64 otherwise.
        # Chunks of rows: no (n, k) temporaries.
        Yk = np.asarray(Y).reshape(len(Y), -1)
        step = max(1, (1 << 16) // Yk.shape[1])
        binary = all(bool(np.all((Yk[a:a + step] == 0) | (Yk[a:a + step] == 1)))
                     for a in range(0, len(Yk), step))
        C = np.empty((Yk.shape[1], Yk.shape[0]), dtype=np.int8 if binary else np.float64)
        for a in range(0, len(Yk), step):
            C[:, a:a + step] = 1 - 2 * Yk[a:a + step].T
        return C

    def partition_t(self, Ut, weights, St=None, work=None, targets=None, compiled=False,
                    bias=None):
        # Ut = z/2. With T = tanh(u) (never overflows; SIMD in NumPy):
        #   a(z)  = log(2 cosh u) = |u| + log 2 - log(1 + |T|)
        #           [1 + |T| = 2 / (1 + e^{-2|u|}): the last two terms are
        #            log(1 + e^{-|z|}), in [0, log 2]; nothing is exponentiated]
        #   da/dz = T / 2     (= sigmoid(z) - 1/2; the 1/2 is in d(y))
        # The loss adds (1/2 - y) z = c u (c = 1 - 2y): per entry
        #   r = |u| + c u >= 0   (= c u + |c u| for 0/1 labels, exact),
        # formed entry by entry so that nothing cancels in the sum.
        # The logs are taken of products of 32 factors in [1, 2] (_sum_log).
        if weights is None and Ut.flags.f_contiguous and not Ut.flags.c_contiguous:
            # A block stored as (b, k) rows (partition_rowmajor): everything
            # below is elementwise, so it runs on the C-contiguous transposes.
            Ub, Tb = Ut.T, None if targets is None else targets.T
            if (compiled and Ub.dtype == np.float32 and Tb is not None
                    and Tb.flags.c_contiguous
                    and (mod := _compiled._partition_kernels()) is not None):
                # One compiled float32 pass (exp of -2|u|, see binomial_partition),
                # the intercepts added on the fly, the gradient in place (one
                # block less in cache: 3-4% of an evaluation, multilabel);
                # St may have any strides.
                value = mod.binomial_partition(
                    Ub, Tb, Ub, _EMPTY32.reshape(0, 0) if St is None else St.T,
                    _EMPTY32 if bias is None else bias)
                return float(value), Ut
            A = np.empty_like(Ub) if work is None else work.T
            if bias is not None:
                Ub += bias
            value, G = self.partition_t(Ub, None, None if St is None else St.T, A, Tb, compiled)
            return value, G.T
        if bias is not None:
            Ut += bias[:, None]
        k = Ut.shape[0]
        A = np.empty_like(Ut) if work is None else work
        w = None if weights is None else _rows(weights, k)
        if (compiled and w is None and targets is not None and Ut.dtype == np.float32
                and Ut.flags.c_contiguous and targets.flags.c_contiguous
                and (mod := _compiled._partition_kernels()) is not None):
            # The same, in one compiled float32 pass (exp of -2|u|, see
            # binomial_partition), the gradient in place; St may have any strides.
            value = mod.binomial_partition(Ut, targets, Ut,
                                           _EMPTY32.reshape(0, 0) if St is None else St, _EMPTY32)
            return float(value), Ut
        if St is not None:
            # p (1 - p) = e / (1 + e)^2 with e = exp(-|z|) = exp(-2|u|) in (0, 1]:
            # no cancellation in 1 - p.
            np.abs(Ut, out=St)
            St *= -2
            np.exp(St, out=St)
            np.add(St, 1, out=A)
            St /= A
            St /= A
            if w is not None:
                St *= w
        # T into A, the linear part in Ut, then the roles swap: G = A.
        np.tanh(Ut, out=A)
        if (compiled and w is None and targets is not None
                and (kernel := _compiled._binomial_kernel()) is not None):
            # The same sums in one compiled pass over Ut, targets and T.
            prod = np.empty(max(Ut.size // _LOG_GROUP, 1), dtype=Ut.dtype)
            total = kernel(Ut, targets, A, prod)
            value = float(total) + _LN2 * Ut.size
            value -= float(np.log(prod, out=prod).sum(dtype=np.float64))
            return value, A
        if targets is None:
            np.abs(Ut, out=Ut)
        elif targets.dtype == np.int8:
            # 2 max(v, 0) = v + |v| with v = c u (np.maximum is 3x slower than abs + add).
            np.multiply(Ut, targets, out=Ut)
            Ut += np.abs(Ut)
        else:
            c = np.asarray(targets, dtype=Ut.dtype)
            t = np.abs(Ut)
            Ut *= c
            Ut += t
        if w is None:
            # Entries >= 0 here: float64 sums by BLAS (one read, no temporary).
            total = (float(_dasum(Ut.reshape(-1))) if Ut.dtype == np.float64 and _dasum
                     else float(Ut.sum(dtype=np.float64)))
            value = total + _LN2 * Ut.size
        elif w.ndim == 1:
            w64 = w.astype(np.float64, copy=False)
            value = float(w64 @ Ut.sum(axis=0, dtype=np.float64)) + _LN2 * k * float(w64.sum())
        else:
            value = _dot64(w, Ut) + _LN2 * float(w.sum(dtype=np.float64))
        np.abs(A, out=Ut)
        Ut += 1
        if w is None:
            value -= _sum_log(Ut)
        elif w.ndim == 1:
            value -= float(w.astype(np.float64, copy=False) @ _column_log(Ut))
        else:
            np.log(Ut, out=Ut)
            value -= _dot64(w, Ut)
        if w is not None:
            A *= w
        return value, A

    def hessp_t(self, St, Y, weights, Vt, compiled=False):
        Vt *= St

    def hessian_weights_t(self, St, Y, weights, a, b):
        return St[a] if a == b else None

    def hessian_diag_t(self, St, Y, weights):
        return St
