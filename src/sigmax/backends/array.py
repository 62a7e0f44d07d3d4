r"""An objective written once against an array namespace: NumPy, torch (CPU or CUDA).

``X``, the encoded targets and the weights stay where ``X`` is (GPU memory for a
CUDA tensor); the parameter vector stays float64 NumPy on the host. Per
evaluation the host sends ``W`` (``(d+1) k`` numbers) and receives the value and
the gradient (``(d+1) k + 1`` numbers): the ``O(n d k)`` work, ``X @ W`` and
``X.T @ G``, runs on the device.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..dataterms.base import DataTerm, StateCache, total_weight
from ..losses import Loss, array_definition
from ..objective import Objective
from ..penalties import Penalty
from .base import to_numpy

__all__ = ["ArrayData", "ArrayObjective", "numpy_dtype"]


def numpy_dtype(dtype: Any) -> np.dtype:
    """NumPy dtype of a NumPy or torch dtype (``torch.float32`` -> ``float32``)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(str(dtype).rsplit(".", 1)[-1])


class ArrayData(StateCache, DataTerm):
    """Data term of any array-API array ``X`` (NumPy, torch on any device).

    Parameters
    ----------
    loss : Loss
        Written against the array namespace (``loss.array_api``; every core loss is).
    X : array of shape (n, d)
        NumPy array or torch tensor (any device), float32 or float64; never copied.
    Y : ndarray
        Encoded targets (host NumPy); copied once to ``X``'s device.
    weights : ndarray of shape (n,) or (n, k)
        Host NumPy; copied once to ``X``'s device in ``X``'s dtype.
    k : int
    fit_intercept : bool
    offset : array of shape (n, k), optional
        Known logits added to ``X W + b`` (host NumPy, or already on ``X``'s
        device); copied once to ``X``'s device in ``X``'s dtype.
    """

    def __init__(self, loss: Loss, X: Any, Y: Any, weights: Any, k: int,
                 fit_intercept: bool = True, offset: Any = None) -> None:
        from array_api_compat import array_namespace, device

        xp = array_namespace(X)
        self.xp = xp
        self.device = device(X)
        self.X = X
        self.kernel = array_definition(loss)
        # The host targets, for the null-model start (Objective.start); None for a
        # row slice, which passes device views.
        self.host_targets = ((Y, np.asarray(weights)) if isinstance(Y, np.ndarray)
                             else None)
        if isinstance(Y, np.ndarray):  # host targets (a row slice passes device views)
            Y = xp.asarray(Y.astype(np.int64) if Y.dtype.kind in "iu" else Y, device=self.device)
        self.Y = Y
        self.weights = xp.asarray(weights, dtype=X.dtype, device=self.device)
        n, d = X.shape
        total = total_weight(to_numpy(weights).astype(np.float64))
        super().__init__(loss, n, d, k, numpy_dtype(X.dtype), total, fit_intercept)
        if offset is not None:
            if tuple(offset.shape) != (n, self.k):
                raise ValueError(f"The offset of a data term has shape (n, k) = ({n}, "
                                 f"{self.k}); got {tuple(offset.shape)}.")
            self.offset = xp.asarray(offset, dtype=X.dtype, device=self.device)
        self._clear_state()
        self._float64: ArrayData | None = None  # in_float64's copy, made once

    def in_float64(self) -> ArrayData:
        """The same data in float64 on ``X``'s device, for a float32 fit's solver that
        reads the gradient to its last digits (:mod:`sigmax.dataterms.float64_view`);
        ``self`` where ``X`` is float64.

        A float64 copy of ``X`` (the array API offers no conversion on the fly),
        made at the first request and kept: the size of the copy :meth:`hessian`
        forms at each call.
        """
        if self.dtype == np.float64:
            return self
        if self._float64 is None:
            xp = self.xp
            view = ArrayData(self.loss, xp.astype(self.X, xp.float64), self.Y, self.weights,
                             self.k, self.fit_intercept, offset=self.offset)
            view.host_targets = self.host_targets
            self._float64 = view
        return self._float64

    def row_slice(self, lo: int, hi: int) -> ArrayData:
        """The data term of rows ``lo:hi`` (views: nothing is copied)."""
        return ArrayData(self.loss, self.X[lo:hi], self.Y[lo:hi], self.weights[lo:hi], self.k,
                         self.fit_intercept,
                         offset=None if self.offset is None else self.offset[lo:hi])

    def _to_device(self, A: np.ndarray) -> Any:
        return self.xp.asarray(np.ascontiguousarray(A), dtype=self.X.dtype, device=self.device)

    def logits(self, w: np.ndarray, offset: bool = True) -> Any:
        """``Z = X @ W + b (+ O)`` of shape (n, k), on ``X``'s device in its dtype."""
        W, b = self.unpack(w)
        Z = self.X @ self._to_device(W)
        if b is not None:
            Z = Z + self._to_device(b)[None, :]
        if offset and self.offset is not None:
            Z = Z + self.offset
        return Z

    def _pack(self, G: Any) -> np.ndarray:
        xp = self.xp
        out = np.empty((self.n_rows, self.k))
        # (G^T X)^T, not X^T G: torch's CPU matmul is several times slower on the
        # transposed view of a row-major X (measured 90 ms vs 35 ms, 200k x 100).
        out[: self.n_features] = to_numpy(G.T @ self.X).T
        if self.fit_intercept:
            out[self.n_features] = to_numpy(xp.sum(xp.astype(G, xp.float64, copy=False), axis=0))
        return out

    def value_and_grad(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        Z = self.logits(w)
        self._remember(w, Z)
        value, G = self.kernel.value_and_grad(Z, self.Y, self.weights)
        return value, self._pack(G)

    def _state(self, w: np.ndarray) -> Any:
        return self._state_for(w, self.kernel)

    def hessp(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self._pack(self.kernel.hessp(self._state(w), self.logits(v, offset=False)))

    def hessian(self, w: np.ndarray) -> np.ndarray:
        xp = self.xp
        state = self._state(w)
        D, k, d = self.n_rows, self.k, self.n_features
        H = np.zeros((D, k, D, k))
        Xd = xp.astype(self.X, xp.float64)
        for a in range(k):
            for b in range(a, k):
                h = self.kernel.hessian_weights(state, a, b)
                if h is None:
                    continue
                h = xp.astype(h, xp.float64)
                block = np.empty((D, D))
                block[:d, :d] = to_numpy((Xd * h[:, None]).T @ Xd)
                if self.fit_intercept:
                    xh = to_numpy(h @ Xd)
                    block[:d, d] = xh
                    block[d, :d] = xh
                    block[d, d] = float(xp.sum(h))
                H[:, a, :, b] = block
                if a != b:
                    H[:, b, :, a] = block.T
        return H.reshape(D * k, D * k)


class ArrayObjective(Objective):
    """:class:`~sigmax.objective.Objective` of an array-API ``X``: the :class:`ArrayData` term.

    Parameters as :class:`ArrayData` (``offset`` included), plus ``C`` and ``penalty``.
    """

    def __init__(self, loss: Loss, X: Any, Y: np.ndarray, weights: np.ndarray, k: int, *,
                 C: float, penalty: Penalty, fit_intercept: bool = True,
                 offset: Any = None) -> None:
        super().__init__(ArrayData(loss, X, Y, weights, k, fit_intercept, offset=offset),
                         C=C, penalty=penalty)
