"""The generic in-memory data term: the loss's row-major methods on the full logits.

Serves an in-memory ``X`` that the row-block engine does not take (another
sparse format, an integer dtype, a matrix-like object with ``@``): one
``(n, k)`` logit array per evaluation, products ``X @ W`` and ``X.T @ G``.
It is also the reference the faster data terms are tested against.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..losses import Loss
from .base import DataTerm, HostRows, StateCache, host_offset, total_weight

__all__ = ["GenericData"]


class GenericData(HostRows, StateCache, DataTerm):
    """Data term of any in-memory ``X`` with ``X @ W`` and ``X.T @ G``.

    Parameters
    ----------
    loss : Loss
    X : array-like or scipy.sparse matrix of shape (n, d)
    Y : ndarray
    weights : ndarray of shape (n,) or (n, k)
    k : int
    fit_intercept : bool
    offset : ndarray of shape (n, k), optional
        Known logits added to ``X W + b`` (see :mod:`sigmax.dataterms.base`).
    """

    def __init__(self, loss: Loss, X: Any, Y: np.ndarray, weights: np.ndarray, k: int,
                 fit_intercept: bool = True, offset: np.ndarray | None = None) -> None:
        dtype = X.dtype
        self.weights = np.asarray(weights, dtype=dtype)
        n, d = X.shape
        super().__init__(loss, n, d, k, dtype, total_weight(self.weights), fit_intercept)
        self.X, self.Y = X, Y
        self.offset = host_offset(offset, n, self.k, dtype)
        self._clear_state()

    def _pack(self, G: np.ndarray) -> np.ndarray:
        out = np.empty((self.n_rows, self.k))
        out[: self.n_features] = np.asarray(self.X.T @ G)
        if self.fit_intercept:
            out[self.n_features] = G.sum(axis=0, dtype=np.float64)
        return out

    def value_and_grad(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        Z = self.logits(w)
        self._remember(w, Z)
        value, G = self.loss.value_and_grad(Z, self.Y, self.weights)
        return value, self._pack(G)

    def value(self, w: np.ndarray) -> float:
        return self.loss.value(self.logits(w), self.Y, self.weights)

    def _state(self, w: np.ndarray) -> Any:
        return self._state_for(w, self.loss)

    def hessp(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        return self._pack(self.loss.hessp(self._state(w), self.logits(v, offset=False)))

    def hessian(self, w: np.ndarray) -> np.ndarray:
        return self._hessian(self._state(w)).reshape(self.n_params, self.n_params)

    def hessian_blocks(self, w: np.ndarray, for_step: bool = False) -> np.ndarray | None:
        if not self.loss.diagonal_hessian:
            return None
        return self._hessian(self._state(w), diagonal=True)

    def _hessian(self, state: Any, diagonal: bool = False) -> np.ndarray:
        """``(D, k, D, k)`` pair by pair, or the ``(k, D, D)`` diagonal blocks."""
        D, k, d = self.n_rows, self.k, self.n_features
        H = np.zeros((k, D, D)) if diagonal else np.zeros((D, k, D, k))
        X = self.X
        for a in range(k):
            for b in range(a, a + 1 if diagonal else k):
                h = self.loss.hessian_weights(state, a, b)
                if h is None:
                    continue
                h = np.asarray(h, dtype=np.float64)
                block = np.empty((D, D))
                if sp.issparse(X):
                    XH = X.multiply(h[:, None]).tocsr()
                    block[:d, :d] = (X.T @ XH).toarray()
                else:
                    Xd = X.astype(np.float64, copy=False)
                    block[:d, :d] = Xd.T @ (Xd * h[:, None])
                if self.fit_intercept:
                    xh = np.asarray(X.T @ h).ravel()
                    block[:d, d] = xh
                    block[d, :d] = xh
                    block[d, d] = h.sum()
                if diagonal:
                    H[a] = block
                    continue
                H[:, a, :, b] = block
                if a != b:
                    H[:, b, :, a] = block.T
        return H

