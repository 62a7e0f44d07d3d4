r"""The multinomial loss: softmax and cross-entropy (see :mod:`sigmax.losses.base`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..numerics import log_softmax, softmax
from . import _compiled
from ._blockmath import _EMPTY32, _EMPTY64
from .base import Loss, device_of, namespace, row_weights, weighted_sum

__all__ = ["MultinomialLoss"]


def _columns_of(St: np.ndarray) -> tuple[np.ndarray, int]:
    """``(A, lo)`` with ``A`` C-contiguous and ``St == A[:, lo:lo + b]``.

    The passes hand the kernels column blocks of the ``(k, n)`` Newton state;
    a compiled loop vectorizes over rows of a C-contiguous array, not over
    those of a strided view. ``(St, 0)`` where ``St`` is no such block (the
    kernels then run on the view, slower; a copy would lose the state written).
    """
    base = St.base
    if (St.flags.c_contiguous or base is None or not isinstance(base, np.ndarray)
            or base.ndim != 2 or not base.flags.c_contiguous or base.dtype != St.dtype
            or base.shape[0] != St.shape[0] or base.strides != St.strides):
        return St, 0
    offset = St.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    lo, rest = divmod(offset, St.itemsize)
    if rest or lo < 0 or lo + St.shape[1] > base.shape[1]:
        return St, 0
    return base, lo


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
    softmax_hessian: ClassVar[bool] = True
    hessp_state: ClassVar[str | None] = "softmax"

    def flat_spans(self, k: int) -> list[tuple[int, int]]:
        # The reference parameterization fixes class 0's logit at 0: nothing flat.
        return [] if self.reference else [(0, k)]

    def n_outputs(self, n_classes: int) -> int:
        return n_classes - 1 if self.reference else n_classes

    # -- the definition, on any array namespace ------------------------------------------
    def _full(self, Z: Any, xp: Any = None) -> Any:
        """``Z`` with the fixed logit 0 of class 0 in front (reference parameterization)."""
        if not self.reference:
            return Z
        xp = namespace(Z) if xp is None else xp
        return xp.concat([xp.zeros_like(Z[:, :1]), Z], axis=1)

    @staticmethod
    def _onehot(xp: Any, Y: Any, like: Any) -> Any:
        classes = xp.arange(like.shape[1], dtype=Y.dtype, device=device_of(like))
        return xp.astype(Y[:, None] == classes[None, :], like.dtype)

    def value_and_grad(self, Z, Y, weights):
        xp = namespace(Z)
        Zf = self._full(Z, xp)
        # Shift each row by its maximum: every exponent is <= 0 and the row sum
        # lies in [1, K], so its log is finite. One exp per entry gives both
        # log-sum-exp (value) and the probabilities (gradient).
        E = Zf - xp.max(Zf, axis=1, keepdims=True)
        z_true = xp.take_along_axis(E, xp.astype(Y, xp.int64, copy=False)[:, None], axis=1)
        E = xp.exp(E)
        s = xp.sum(E, axis=1, keepdims=True)
        value = weighted_sum(xp, xp.log(s[:, 0]) - z_true[:, 0], weights)
        G = (E / s - self._onehot(xp, Y, Zf)) * row_weights(xp, weights, Z)
        return value, (G[:, 1:] if self.reference else G)

    def hessian_state(self, Z, Y, weights):
        xp = namespace(Z)
        Zf = self._full(Z, xp)
        E = xp.exp(Zf - xp.max(Zf, axis=1, keepdims=True))
        return E / xp.sum(E, axis=1, keepdims=True), weights

    def hessp(self, state, V):
        xp = namespace(V)
        p, w = state
        if self.reference:
            p = p[:, 1:]
        # (diag(p) - p p^T) v = p * (v - <p, v>); in the reference
        # parameterization the fixed logit contributes v_0 = 0 to <p, v>.
        return p * (V - xp.sum(p * V, axis=1, keepdims=True)) * row_weights(xp, w, V)

    def hessian_weights(self, state, a, b):
        p, w = state
        off = 1 if self.reference else 0
        pa = p[:, a + off]
        if a == b:
            return w * pa * (1 - pa)
        return -w * pa * p[:, b + off]

    # -- prediction (host NumPy) -------------------------------------------------------------
    def predict_proba(self, Z):
        return softmax(self._full(Z))

    def predict_log_proba(self, Z):
        return log_softmax(self._full(Z))

    # -- NumPy block kernels: overrides of the definition above, one pass each ----------
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

    partition_scale: ClassVar[float | None] = 1.0

    def linear_targets_t(self, Y, k):
        # lse(z) - z_y: d(y) = -e_y (no column for class 0 when reference).
        Y = np.asarray(Y)
        D = np.zeros((k, len(Y)))
        cols = np.arange(len(Y))
        if self.reference:
            known = Y > 0
            D[Y[known] - 1, cols[known]] = -1.0
        else:
            D[Y, cols] = -1.0
        return D

    def value_targets(self, Y, k):
        return np.asarray(Y)

    def intercept_only(self, Y, weights, k):
        # b_c = log p_c up to a constant: centred (symmetric; the solvers keep the
        # sum of the intercepts), or relative to class 0 (reference).
        Y, w = np.asarray(Y), np.asarray(weights, dtype=np.float64)
        K = k + 1 if self.reference else k
        if Y.ndim != 1 or w.shape != Y.shape:
            return None
        counts = np.bincount(Y.astype(np.intp, copy=False), weights=w, minlength=K)[:K]
        if not np.all(counts > 0):
            return None
        logp = np.log(counts)
        return logp[1:] - logp[0] if self.reference else logp - logp.mean()

    # Per-sample reductions along the rows of a (b, k) block: softmax_partition_rows.
    partition_rowmajor: ClassVar[bool] = True

    def partition_t(self, Zt, weights, St=None, work=None, targets=None, compiled=False,
                    bias=None):
        if (compiled and Zt.dtype == np.float32 and Zt.flags.f_contiguous
                and not Zt.flags.c_contiguous
                and (mod := _compiled._partition_kernels()) is not None):
            # A block stored as (b, k) rows (partition_rowmajor), the
            # intercepts added on the fly.
            s = np.empty(Zt.shape[1]) if weights is not None else np.empty(0)
            value = mod.softmax_partition_rows(
                Zt.T, np.empty(0, dtype=np.intp) if targets is None else targets,
                _EMPTY32 if weights is None else weights,
                _EMPTY32.reshape(0, 0) if St is None else St, s, self.reference,
                _EMPTY32 if bias is None else bias)
            if weights is not None:
                value += float(weights.astype(np.float64, copy=False) @ np.log(s, out=s))
            return float(value), Zt
        if bias is not None:
            Zt += bias[:, None]
        if compiled and Zt.flags.c_contiguous and (kernel := self._compiled_pass(Zt)) is not None:
            # The same, in one compiled pass over L1-sized strips of the block.
            empty = _EMPTY32 if Zt.dtype == np.float32 else _EMPTY64
            s = np.empty(Zt.shape[1]) if weights is not None else np.empty(0)
            value = kernel(Zt, np.empty(0, dtype=np.intp) if targets is None else targets,
                           empty if weights is None else weights,
                           empty.reshape(0, 0) if St is None else St, s, self.reference)
            if weights is not None:
                value += float(weights.astype(np.float64, copy=False) @ np.log(s, out=s))
            return float(value), Zt
        # a(z) = log sum_k e^{z_k} = m + log sum_k e^{z_k - m}, m the column
        # max (with the fixed logit 0 in the reference parameterization): every
        # exponent <= 0 and the largest term is 1. One exp per entry gives both
        # the value and softmax(z) = da/dz (gradient). With the labels, the
        # value per sample is log(s) - (z_y - m): small numbers, as in
        # value_grad_t (m + log(s) and z_y apart would cancel).
        b = Zt.shape[1]
        m = Zt.max(axis=0)
        if self.reference:
            np.maximum(m, 0, out=m)
        Zt -= m
        if targets is not None:
            Y = np.asarray(targets)
            idx = Y.astype(np.intp) * b if not self.reference else (Y.astype(np.intp) - 1) * b
            idx += np.arange(b)
            if self.reference:
                known = Y > 0
                z_true = np.where(known, np.take(Zt.reshape(-1), np.where(known, idx, 0)), -m)
            else:
                z_true = np.take(Zt.reshape(-1), idx)
        np.exp(Zt, out=Zt)
        s = Zt.sum(axis=0)
        if self.reference:
            s += np.exp(-m)
        per = np.log(s.astype(np.float64))
        if targets is not None:
            per -= z_true
        else:
            per += m
        if weights is None:
            value = float(per.sum())
        else:
            value = float(weights.astype(np.float64, copy=False) @ per)
        np.reciprocal(s, out=s)
        if St is not None:
            np.multiply(Zt, s, out=St)  # probabilities
            if weights is None:
                Zt[...] = St
            else:
                np.multiply(St, weights, out=Zt)
        else:
            if weights is not None:
                s *= weights
            Zt *= s
        return value, Zt

    @staticmethod
    def _compiled_pass(Zt):
        """The compiled partition pass for the dtype of ``Zt`` (numba), or None.

        ``kernel(Z, y, w, S, s, reference)``; the float64 pass writes the
        state into the columns of its C-contiguous base (:func:`_columns_of`).
        """
        if Zt.dtype == np.float32:
            return _compiled._softmax_kernel()
        if Zt.dtype == np.float64 and (mod := _compiled._partition_kernels()) is not None:
            def kernel(Z, y, w, S, s, reference):
                return mod.softmax_partition64(Z, y, w, *_columns_of(S), s, reference)
            return kernel
        return None

    def hessp_t(self, St, Y, weights, Vt, compiled=False):
        # (diag(p) - p p^T) v = p * (v - <p, v>), weighted per sample. Unit
        # weights come as a broadcast view of ones (stride 0): not multiplied.
        unit = weights.strides == (0,) and weights.size > 0 and float(weights[0]) == 1.0
        if (compiled and Vt.flags.c_contiguous and St.dtype == Vt.dtype
                and Vt.dtype in (np.float32, np.float64)
                and (mod := _compiled._partition_kernels()) is not None):
            empty = _EMPTY32 if Vt.dtype == np.float32 else _EMPTY64
            S, lo = _columns_of(St)
            mod.softmax_hessp(S, lo, Vt, empty if unit else np.asarray(weights, dtype=Vt.dtype))
            return
        pv = np.einsum("kb,kb->b", St, Vt)
        Vt -= pv
        Vt *= St
        if not unit:
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
