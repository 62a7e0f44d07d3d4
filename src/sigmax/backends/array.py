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

from ..losses import Loss
from ..penalties import Penalty
from ._host import RemoteObjective
from .base import to_numpy
from .kernels import kernel_for

__all__ = ["ArrayObjective", "numpy_dtype"]


def numpy_dtype(dtype: Any) -> np.dtype:
    """NumPy dtype of a NumPy or torch dtype (``torch.float32`` -> ``float32``)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(str(dtype).rsplit(".", 1)[-1])


class ArrayObjective(RemoteObjective):
    """:class:`~sigmax.objective.LinearObjective` for any array-API array ``X``.

    Parameters
    ----------
    loss : Loss
        Must have a kernel in :data:`sigmax.backends.kernels.KERNELS`.
    X : array of shape (n, d)
        NumPy array or torch tensor (any device), float32 or float64; never copied.
    Y : ndarray
        Encoded targets (host NumPy); copied once to ``X``'s device.
    weights : ndarray of shape (n,) or (n, k)
        Host NumPy; copied once to ``X``'s device in ``X``'s dtype.
    k : int
    C : float
    penalty : Penalty
    fit_intercept : bool
    """

    def __init__(self, loss: Loss, X: Any, Y: np.ndarray, weights: np.ndarray, k: int, *,
                 C: float, penalty: Penalty, fit_intercept: bool = True) -> None:
        from array_api_compat import array_namespace, device

        xp = array_namespace(X)
        weights = np.asarray(weights, dtype=np.float64)
        total = float(weights.sum())
        if weights.ndim == 2:
            total /= weights.shape[1]
        n, d = X.shape
        self._init_host(loss, n, d, k, numpy_dtype(X.dtype), total, C=C, penalty=penalty,
                        fit_intercept=fit_intercept)
        self.xp = xp
        self.device = device(X)
        self.X = X
        self.kernel = kernel_for(loss)
        Y = np.asarray(Y)
        self.Y = xp.asarray(Y.astype(np.int64) if Y.dtype.kind in "iu" else Y,
                            device=self.device)
        self.weights = xp.asarray(weights, dtype=X.dtype, device=self.device)
        self._cache_w: np.ndarray | None = None
        self._cache_Z: Any = None
        self._hess_w: np.ndarray | None = None
        self._hess_state: Any = None

    def row_slice(self, lo: int, hi: int) -> ArrayObjective:
        """The unpenalized objective of rows ``lo:hi`` (views: nothing is copied)."""
        from ..penalties import make_penalty

        sub = object.__new__(type(self))
        w = to_numpy(self.weights[lo:hi]).astype(np.float64)
        total = float(w.sum()) / (w.shape[1] if w.ndim == 2 else 1)
        sub._init_host(self.loss, hi - lo, self.n_features, self.k, self.dtype, total,
                       C=np.inf, penalty=make_penalty("none"), fit_intercept=self.fit_intercept)
        sub.xp, sub.device, sub.kernel = self.xp, self.device, self.kernel
        sub.X, sub.Y, sub.weights = self.X[lo:hi], self.Y[lo:hi], self.weights[lo:hi]
        sub._cache_w = sub._cache_Z = sub._hess_w = sub._hess_state = None
        return sub

    def _to_device(self, A: np.ndarray) -> Any:
        return self.xp.asarray(np.ascontiguousarray(A), dtype=self.X.dtype, device=self.device)

    def logits(self, w: np.ndarray) -> Any:
        """``Z = X @ W + b`` of shape (n, k), on ``X``'s device in its dtype."""
        W, b = self.unpack(w)
        Z = self.X @ self._to_device(W)
        if b is not None:
            Z = Z + self._to_device(b)[None, :]
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

    def _data_value_and_grad(self, w):
        Z = self.logits(w)
        self._cache_w, self._cache_Z = w.copy(), Z
        value, G = self.kernel.value_and_grad(Z, self.Y, self.weights)
        return value, self._pack(G)

    def _state(self, w: np.ndarray) -> Any:
        if self._hess_w is None or not np.array_equal(self._hess_w, w):
            if self._cache_w is not None and np.array_equal(self._cache_w, w):
                Z = self._cache_Z
            else:
                Z = self.logits(w)
            self._hess_state = self.kernel.hessian_state(Z, self.Y, self.weights)
            self._hess_w = w.copy()
        return self._hess_state

    def _data_hessp(self, w, v):
        state = self._state(w)
        return self._pack(self.kernel.hessp(state, self.logits(v)))

    def _data_hessian(self, w):
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
