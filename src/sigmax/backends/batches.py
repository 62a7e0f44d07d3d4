r"""Mini-batches of an objective: the data interface of ``solver="minibatch"``.

A batched objective exposes

- ``n_batches``: the number of row batches (for dask: the row chunks);
- ``batch_group``: how many batches one step should use (dask: one chunk per
  worker thread, so that the whole cluster works on every step);
- ``batch_sums(ws, batches)``: for each parameter vector in ``ws``, the
  *unscaled* loss sum :math:`\sum_{i \in B} s_i \ell_i` over the rows of the
  batches ``B`` and its gradient (flat float64), from one read of those rows.

:class:`~sigmax.backends.dask_backend.ChunkedObjective` provides this itself;
:func:`batched` wraps any other :class:`~sigmax.objective.LinearObjective`
(NumPy, SciPy sparse, torch) in :class:`RowBatches`, which cuts its rows into
contiguous slices.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..objective import LinearObjective
from ..penalties import make_penalty
from .base import to_numpy

__all__ = ["RowBatches", "batched", "default_batch_count"]

#: In-memory objectives are cut into at most this many batches ...
MAX_BATCHES = 64
#: ... of at least this many rows.
MIN_BATCH_ROWS = 32


def default_batch_count(n: int) -> int:
    """Batches for ``n`` in-memory rows: up to 64 batches, none smaller than 32 rows."""
    rows = max(MIN_BATCH_ROWS, -(-n // MAX_BATCHES))
    return max(1, -(-n // rows))


class RowBatches:
    """Contiguous row slices of an in-memory objective, each its own unpenalized objective."""

    def __init__(self, objective: LinearObjective, n_batches: int | None = None) -> None:
        self.objective = objective
        n = objective.n_samples
        m = default_batch_count(n) if n_batches is None else int(n_batches)
        self.bounds = np.linspace(0, n, m + 1).round().astype(int)
        self.n_batches = m
        self.batch_group = 1
        self._parts: dict[int, Any] = {}

    def _part(self, i: int) -> Any:
        if i not in self._parts:
            obj = self.objective
            a, b = self.bounds[i], self.bounds[i + 1]
            sub = None
            if b > a and float(to_numpy(obj.weights[a:b]).sum(dtype=np.float64)) > 0:
                sub = _sub_objective(obj, a, b)
            self._parts[i] = sub
        return self._parts[i]

    def batch_sums(self, ws: Sequence[np.ndarray], batches: Sequence[int]
                   ) -> list[tuple[float, np.ndarray]]:
        out = [(0.0, np.zeros(self.objective.n_params)) for _ in ws]
        for i in batches:
            sub = self._part(int(i))
            if sub is None:
                continue
            for j, w in enumerate(ws):
                value, grad = sub.value_and_grad(w)
                out[j] = (out[j][0] + value / sub.scale, out[j][1] + grad / sub.scale)
        return out


def _sub_objective(obj: LinearObjective, lo: int, hi: int) -> LinearObjective:
    """The unpenalized objective of rows ``lo:hi``, on the same backend as ``obj``."""
    if hasattr(obj, "row_slice"):
        return obj.row_slice(lo, hi)
    return LinearObjective(obj.loss, obj.X[lo:hi], obj.Y[lo:hi], obj.weights[lo:hi], obj.k,
                           C=np.inf, penalty=make_penalty("none"),
                           fit_intercept=obj.fit_intercept)


def batched(objective: Any) -> Any:
    """``objective`` itself when it can evaluate batches, else its :class:`RowBatches`."""
    if hasattr(objective, "batch_sums"):
        return objective
    return RowBatches(objective)
