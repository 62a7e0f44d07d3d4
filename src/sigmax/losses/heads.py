r"""The joint loss of several heads (softmax groups and sigmoid labels) on one set of logits.

Used by :class:`~sigmax.estimators.multihead.MultiHeadClassifier`: each head
is a core loss on its own block of logit columns, so the joint loss is their
sum and its Hessian is block diagonal over heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import Loss
from .binomial import BinomialLoss
from .multinomial import MultinomialLoss

__all__ = ["HEAD_LOSSES", "HeadsLoss"]

#: The loss of each kind of head and whether its classes are mutually exclusive
#: (integer class codes, ``K`` logits) or one binary label (one logit).
HEAD_LOSSES: dict[str, tuple[Loss, bool]] = {
    "softmax": (MultinomialLoss(), True),
    "sigmoid": (BinomialLoss(), False),
}


@dataclass(frozen=True)
class HeadsLoss(Loss):
    r"""The sum of several head losses, each on its own block of logit columns.

    .. math:: \sum_i \sum_h w_{ih} \, \ell_h(Z_{i, a_h:b_h}, y_{ih})

    Follows the :class:`~sigmax.losses.Loss` contract, so
    :class:`~sigmax.objective.Objective` and every solver take it as is.
    Its Hessian is block diagonal over heads (the heads share no logit), so
    ``hessian_weights`` is ``None`` across heads and Newton-Cholesky only
    builds the diagonal blocks.

    Parameters
    ----------
    heads : tuple of (kind, start, stop)
        Head kind (a key of :data:`HEAD_LOSSES`) and its columns ``start:stop``
        of ``Z``, in column order.

    Notes
    -----
    ``Y`` is an ``(n, H)`` float matrix: the class code of each softmax head
    (cast to int here, which costs one pass over ``n`` per head) and the 0/1
    label of each sigmoid head. ``weights`` is ``(n,)`` (every head) or
    ``(n, H)``, one weight per row and head; a 0 masks that head's label.
    This loss is parameterized by the head layout, so it is built per model
    and not an entry of :data:`sigmax.losses.LOSSES`.
    """

    heads: tuple[tuple[str, int, int], ...]
    name: ClassVar[str] = "heads"
    diagonal_hessian: ClassVar[bool] = False
    #: NumPy only (its parts are assembled with NumPy in-place writes).
    array_api: ClassVar[bool] = False

    def __post_init__(self) -> None:
        stop = 0
        for kind, a, b in self.heads:
            if kind not in HEAD_LOSSES or a != stop or b <= a:
                raise ValueError(f"bad head layout {self.heads!r}: each head is (kind in "
                                 f"{sorted(HEAD_LOSSES)}, start, stop) with contiguous columns.")
            stop = b

    def flat_spans(self, k: int) -> list[tuple[int, int]]:
        return [(a, b) for kind, a, b in self.heads
                if b - a > 1 and HEAD_LOSSES[kind][0].flat_spans(b - a)]

    def n_outputs(self, n_classes: int | None = None) -> int:
        return self.heads[-1][2] if self.heads else 0

    def _parts(self, Y: np.ndarray, weights: np.ndarray):
        for h, (kind, a, b) in enumerate(self.heads):
            loss, exclusive = HEAD_LOSSES[kind]
            y = Y[:, h].astype(np.intp) if exclusive else Y[:, h]
            w = weights if weights.ndim == 1 else weights[:, h]
            yield loss, a, b, y, w

    def intercept_only(self, Y, weights, k):
        b = np.empty(self.n_outputs())
        for loss, a, c, y, w in self._parts(Y, weights):
            part = loss.intercept_only(y, w, c - a)
            if part is None:
                return None
            b[a:c] = part
        return b

    def value_and_grad(self, Z, Y, weights):
        G = np.empty_like(Z)
        total = 0.0
        for loss, a, b, y, w in self._parts(Y, weights):
            value, G[:, a:b] = loss.value_and_grad(Z[:, a:b], y, w)
            total += value
        return total, G

    def value(self, Z, Y, weights):
        return sum(loss.value(Z[:, a:b], y, w) for loss, a, b, y, w in self._parts(Y, weights))

    def hessian_state(self, Z, Y, weights):
        return [loss.hessian_state(Z[:, a:b], y, w)
                for loss, a, b, y, w in self._parts(Y, weights)]

    def hessp(self, state, V):
        out = np.empty_like(V)
        for (kind, a, b), st in zip(self.heads, state):
            out[:, a:b] = HEAD_LOSSES[kind][0].hessp(st, V[:, a:b])
        return out

    def _head_of(self, col: int) -> int:
        for h, (_, a, b) in enumerate(self.heads):
            if a <= col < b:
                return h
        raise IndexError(col)

    def hessian_weights(self, state, a, b):
        h = self._head_of(a)
        if self._head_of(b) != h:
            return None
        kind, start, _ = self.heads[h]
        return HEAD_LOSSES[kind][0].hessian_weights(state[h], a - start, b - start)

    # -- block kernels: in the transposed layout a head's logits are contiguous rows
    # Zt[a:b] of the (k, b) block, so each head's own one-pass kernel runs in place.
    def value_grad_t(self, Zt, Y, weights, St=None):
        total = 0.0
        for loss, a, b, y, w in self._parts(Y, weights):
            total += loss.value_grad_t(Zt[a:b], y, _contiguous(w),
                                       None if St is None else St[a:b])
        return total

    def hessp_t(self, St, Y, weights, Vt, compiled=False):
        for loss, a, b, y, w in self._parts(Y, weights):
            loss.hessp_t(St[a:b], y, _contiguous(w), Vt[a:b])

    def hessian_weights_t(self, St, Y, weights, a, b):
        h = self._head_of(a)
        if self._head_of(b) != h:
            return None
        loss, start, stop, y, w = list(self._parts(Y, weights))[h]
        return loss.hessian_weights_t(St[start:stop], y, _contiguous(w), a - start, b - start)

    def predict_proba(self, Z):
        return np.concatenate([HEAD_LOSSES[kind][0].predict_proba(Z[:, a:b])
                               for kind, a, b in self.heads], axis=1)

    def predict_log_proba(self, Z):
        return np.concatenate([HEAD_LOSSES[kind][0].predict_log_proba(Z[:, a:b])
                               for kind, a, b in self.heads], axis=1)


def _contiguous(w: np.ndarray) -> np.ndarray:
    # A head's column of an (n, H) weight matrix is strided; the kernels stream it.
    return np.ascontiguousarray(w)
