"""The host half of an objective whose data live elsewhere (GPU memory, a dask cluster).

:class:`RemoteObjective` sets the attributes that the host-side methods of
:class:`~sigmax.objective.LinearObjective` use (layout, scaling, penalty,
counters) without touching ``X``, and adds the penalty to the data term that a
subclass computes where the data are. ``unpack``, ``zeros``, ``prox``,
``optimality`` and ``sklearn_objective`` are inherited unchanged, so the
solvers see the same objective on every backend.

Why not call ``LinearObjective.__init__``: it may materialize host arrays of
size ``n`` (weights, work buffers) and treats ``X`` as a NumPy/SciPy matrix; a
remote ``X`` must never be pulled to the host.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..losses import Loss
from ..objective import LinearObjective
from ..penalties import Penalty


class RemoteObjective(LinearObjective):
    """Host-side state of ``f(w)``; subclasses implement the ``_data_*`` methods.

    The data term is :math:`D(w) = \\sum_i s_i \\ell(z_i, y_i)` (unscaled);
    ``f(w) = scale * D(w) + alpha * r(W)`` exactly as in
    :class:`~sigmax.objective.LinearObjective`.

    Parameters
    ----------
    loss : Loss
    n_samples, n_features, k : int
    dtype : numpy dtype
        Working precision of the products with ``X``.
    weight_total : float
        :math:`S = \\sum_i s_i` (divided by ``k`` for per-entry weights).
    C : float
    penalty : Penalty
    fit_intercept : bool
    """

    def _init_host(self, loss: Loss, n_samples: int, n_features: int, k: int, dtype: Any,
                   weight_total: float, *, C: float, penalty: Penalty,
                   fit_intercept: bool) -> None:
        self.loss = loss
        self.dtype = np.dtype(dtype)
        self.n_samples, self.n_features = int(n_samples), int(n_features)
        self.k = int(k)
        self.fit_intercept = bool(fit_intercept)
        self.penalty = penalty
        self.C = float(C)
        if not weight_total > 0:
            raise ValueError("The sample weights sum to zero: at least one sample needs a "
                             "positive weight.")
        self.scale = 1.0 / float(weight_total)
        # alpha multiplies the penalty after the objective is divided by C * S.
        self.alpha = 0.0 if (np.isinf(self.C) or penalty.name == "none") else self.scale / self.C
        self.penalty_term = penalty.scaled(self.alpha)
        self.n_rows = self.n_features + int(self.fit_intercept)
        self.n_params = self.n_rows * self.k
        self.n_grad_evals = 0
        self.n_value_evals = 0
        self.n_hessp_evals = 0

    # -- to be provided where the data live ------------------------------------------
    def _data_value_and_grad(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        """``(D(w), dD/dP)`` with the gradient as a float64 ``(n_rows, k)`` array."""
        raise NotImplementedError  # pragma: no cover

    def _data_value(self, w: np.ndarray) -> float:
        return self._data_value_and_grad(w)[0]

    def _data_hessp(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Hessian of ``D`` at ``w`` times ``v``, float64 ``(n_rows, k)``."""
        raise NotImplementedError  # pragma: no cover

    def _data_hessian(self, w: np.ndarray) -> np.ndarray:
        """Full Hessian of ``D`` at ``w``, float64 ``(n_params, n_params)``."""
        raise NotImplementedError  # pragma: no cover

    # -- the LinearObjective interface ---------------------------------------------------
    def value_and_grad(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        """Smooth part of ``f`` and its gradient (float64, ``(n_params,)``), one data pass."""
        self.n_grad_evals += 1
        W, _ = self.unpack(w)
        loss, grad = self._data_value_and_grad(w)
        grad = np.array(grad, dtype=np.float64).reshape(self.n_rows, self.k)
        grad *= self.scale
        return self._add_smooth_penalty(loss * self.scale, grad, W)

    def _loss_sum(self, w: np.ndarray) -> float:
        # LinearObjective.value / .objective add the penalty to this data term.
        return self._data_value(w)

    def hessp(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Hessian of the smooth part at ``w`` applied to ``v``."""
        self.n_hessp_evals += 1
        V, _ = self.unpack(v)
        out = np.array(self._data_hessp(w, v), dtype=np.float64).reshape(self.n_rows, self.k)
        out *= self.scale
        ph = self.penalty_term.smooth_hessp(self.unpack(w)[0], V)
        if ph is not None:
            out[: self.n_features] += ph
        return out.ravel()

    def hessian(self, w: np.ndarray) -> np.ndarray:
        """Full Hessian of the smooth part, ``(n_params, n_params)`` float64."""
        self.n_hessp_evals += 1
        H = np.array(self._data_hessian(w), dtype=np.float64)
        H *= self.scale
        pd = self.penalty_term.smooth_hessian_diag(self.unpack(w)[0])
        if pd is not None:
            idx = np.arange(self.n_features * self.k)
            H[idx, idx] += np.ravel(pd) if np.ndim(pd) else pd
        return H
