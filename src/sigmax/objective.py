r"""The penalized objective of a linear model: the one place where ``X`` enters.

Conventions
-----------
The parameters are a flat float64 vector ``w`` of length ``(d + 1) * k`` (or
``d * k`` without intercept), the C-order ravel of the matrix ``P`` of shape
``(d [+ 1], k)``: ``P[:d]`` holds the coefficients (``coef_ = P[:d].T``) and
``P[d]`` the intercepts. The logits are ``Z = X @ P[:d] + P[d]``.

The objective minimized is scikit-learn's, divided by :math:`C S` with
:math:`S = \sum_i s_i` (so that tolerances do not depend on ``n`` or ``C``):

.. math::

    f(w) = \frac{1}{S} \sum_i s_i \, \ell(z_i, y_i) + \frac{1}{C S} r(W).

The minimizer is the same as that of :math:`C \sum_i s_i \ell_i + r(W)`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .losses import Loss
from .penalties import Penalty

__all__ = ["LinearObjective"]


class LinearObjective:
    """Bind a loss, data, weights, ``C`` and a penalty into ``f(w)``.

    Parameters
    ----------
    loss : Loss
        A loss from :data:`sigmax.losses.LOSSES`.
    X : ndarray or scipy.sparse CSR matrix of shape (n, d)
        Features, float32 or float64; never copied.
    Y : ndarray
        Targets encoded for ``loss``.
    weights : ndarray of shape (n,) or (n, k)
        Sample (or entry) weights, already multiplied by class weights.
    k : int
        Number of outputs (columns of ``Z``).
    C : float
        Inverse penalty strength; ``np.inf`` disables the penalty.
    penalty : Penalty
    fit_intercept : bool
    """

    def __init__(self, loss: Loss, X: Any, Y: np.ndarray, weights: np.ndarray, k: int, *,
                 C: float, penalty: Penalty, fit_intercept: bool = True) -> None:
        self.loss = loss
        self.X = X
        self.Y = Y
        self.dtype = X.dtype
        self.weights = np.asarray(weights, dtype=self.dtype)
        self.n_samples, self.n_features = X.shape
        self.k = int(k)
        self.fit_intercept = bool(fit_intercept)
        self.penalty = penalty
        self.C = float(C)
        total = float(self.weights.sum(dtype=np.float64))
        if self.weights.ndim == 2:
            total /= self.weights.shape[1]
        if not total > 0:
            raise ValueError("The sample weights sum to zero: at least one sample needs a "
                             "positive weight.")
        self.scale = 1.0 / total
        # alpha multiplies the penalty after the objective is divided by C * S.
        self.alpha = 0.0 if (np.isinf(self.C) or penalty.name == "none") else self.scale / self.C
        self.n_rows = self.n_features + int(self.fit_intercept)
        self.n_params = self.n_rows * self.k
        self.n_grad_evals = 0
        self.n_value_evals = 0
        self.n_hessp_evals = 0
        self._cache_w: np.ndarray | None = None
        self._cache_Z: np.ndarray | None = None
        self._hess_w: np.ndarray | None = None
        self._hess_state: Any = None

    # -- layout -----------------------------------------------------------------
    def unpack(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Split ``w`` into ``(W (d, k), b (k,) or None)`` views."""
        P = w.reshape(self.n_rows, self.k)
        return P[: self.n_features], (P[self.n_features] if self.fit_intercept else None)

    def zeros(self) -> np.ndarray:
        return np.zeros(self.n_params)

    def _matmul(self, W: np.ndarray) -> np.ndarray:
        return np.asarray(self.X @ W.astype(self.dtype, copy=False))

    def _rmatmul(self, G: np.ndarray) -> np.ndarray:
        return np.asarray(self.X.T @ G)

    def logits(self, w: np.ndarray) -> np.ndarray:
        """``Z = X @ W + b`` of shape (n, k), in the working dtype."""
        W, b = self.unpack(w)
        Z = self._matmul(W)
        if b is not None:
            Z += b.astype(self.dtype, copy=False)
        return Z

    def _pack_grad(self, G: np.ndarray, W: np.ndarray) -> np.ndarray:
        grad = np.empty((self.n_rows, self.k))
        grad[: self.n_features] = self._rmatmul(G)
        if self.fit_intercept:
            grad[self.n_features] = G.sum(axis=0, dtype=np.float64)
        grad *= self.scale
        return grad

    # -- smooth part ------------------------------------------------------------
    def value_and_grad(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        """Smooth part of ``f`` (loss + L2) and its gradient, from one pass over ``X``.

        Returns
        -------
        value : float
        grad : ndarray of shape (n_params,), float64
        """
        self.n_grad_evals += 1
        W, _ = self.unpack(w)
        Z = self.logits(w)
        self._cache_w, self._cache_Z = w.copy(), Z
        loss, G = self.loss.value_and_grad(Z, self.Y, self.weights)
        grad = self._pack_grad(G, W)
        value = loss * self.scale
        if self.alpha:
            pv, pg = self.penalty.smooth_value_and_grad(W)
            value += self.alpha * pv
            if pg is not None:
                grad[: self.n_features] += self.alpha * pg
        return value, grad.ravel()

    def value(self, w: np.ndarray) -> float:
        """Smooth part of ``f`` only (no gradient): one product ``X @ W``."""
        self.n_value_evals += 1
        W, _ = self.unpack(w)
        value = self.loss.value(self.logits(w), self.Y, self.weights) * self.scale
        if self.alpha:
            value += self.alpha * self.penalty.smooth_value_and_grad(W)[0]
        return value

    def objective(self, w: np.ndarray) -> float:
        """The full objective ``f(w)``, non-smooth part included."""
        W, _ = self.unpack(w)
        value = self.loss.value(self.logits(w), self.Y, self.weights) * self.scale
        return value + self.alpha * self.penalty.value(W)

    def sklearn_objective(self, w: np.ndarray) -> float:
        """scikit-learn's objective :math:`C\\sum_i s_i\\ell_i + r(W)` (``C`` finite)."""
        return self.objective(w) * self.C / self.scale

    # -- non-smooth part --------------------------------------------------------
    def prox(self, w: np.ndarray, step: float) -> np.ndarray:
        """Proximal step of the L1 part on the coefficient rows (intercept untouched)."""
        if not self.alpha or self.penalty.smooth:
            return w
        out = w.copy()
        P = out.reshape(self.n_rows, self.k)
        P[: self.n_features] = self.penalty.prox(P[: self.n_features], step * self.alpha)
        return out

    def optimality(self, w: np.ndarray, grad: np.ndarray) -> float:
        """Max-norm of the minimum-norm subgradient of ``f``: zero exactly at the optimum."""
        if not self.alpha or self.penalty.smooth:
            return float(np.max(np.abs(grad))) if grad.size else 0.0
        sub = grad.copy().reshape(self.n_rows, self.k)
        W, _ = self.unpack(w)
        scaled = Penalty(self.penalty.name, self.penalty.l1 * self.alpha, 0.0)
        sub[: self.n_features] = scaled.min_norm_subgradient(W, sub[: self.n_features])
        return float(np.max(np.abs(sub)))

    # -- second order -----------------------------------------------------------
    def _state(self, w: np.ndarray) -> Any:
        if self._hess_w is None or not np.array_equal(self._hess_w, w):
            if self._cache_w is not None and np.array_equal(self._cache_w, w):
                Z = self._cache_Z
            else:
                Z = self.logits(w)
            self._hess_state = self.loss.hessian_state(Z, self.Y, self.weights)
            self._hess_w = w.copy()
        return self._hess_state

    def hessp(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Hessian of the smooth part at ``w`` applied to ``v`` (two products with ``X``)."""
        self.n_hessp_evals += 1
        state = self._state(w)
        V, _ = self.unpack(v)
        Zv = self.logits(v)
        out = self._pack_grad(self.loss.hessp(state, Zv), V)
        if self.alpha and self.penalty.l2:
            out[: self.n_features] += self.alpha * self.penalty.l2 * V
        return out.ravel()

    def hessian(self, w: np.ndarray) -> np.ndarray:
        """Full Hessian of the smooth part, shape (n_params, n_params), float64.

        Block ``(a, b)`` over outputs is :math:`\\tilde X^\\top \\mathrm{diag}(h_{ab})
        \\tilde X` with :math:`\\tilde X = [X, 1]`; costs ``O(n d^2 k^2 / 2)``, so
        it is meant for small parameter counts (Newton-Cholesky).
        """
        self.n_hessp_evals += 1
        state = self._state(w)
        D, k, d = self.n_rows, self.k, self.n_features
        H = np.zeros((D, k, D, k))
        X = self.X
        for a in range(k):
            for b in range(a, k):
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
                H[:, a, :, b] = block
                if a != b:
                    H[:, b, :, a] = block.T
        H *= self.scale
        H = H.reshape(D * k, D * k)
        if self.alpha and self.penalty.l2:
            idx = np.arange(d * k)
            H[idx, idx] += self.alpha * self.penalty.l2
        return H
