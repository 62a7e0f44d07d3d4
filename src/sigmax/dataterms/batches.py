r"""Mini-batches of a data term: the data interface of ``solver="minibatch"``.

A batched data term exposes

- ``n_batches``: the number of row batches (for dask: the row chunks);
- ``batch_group``: how many batches one step should use (dask: one chunk per
  worker thread, so that the whole cluster works on every step);
- ``batch_sums(ws, batches)``: for each parameter vector in ``ws``, the
  *unscaled* loss sum :math:`\sum_{i \in B} s_i \ell_i` over the rows of the
  batches ``B`` and its gradient (flat float64), from one read of those rows.

:class:`~sigmax.backends.dask_backend.ChunkedData` provides this itself; every
other data term gets :class:`RowBatches` (``DataTerm.batches``), which cuts its
rows into contiguous slices (``DataTerm.row_slice``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["RowBatches", "batched", "default_batch_count"]

#: In-memory data are cut into at most this many batches ...
MAX_BATCHES = 64
#: ... of at least this many rows.
MIN_BATCH_ROWS = 32


def default_batch_count(n: int) -> int:
    """Batches for ``n`` in-memory rows: up to 64 batches, none smaller than 32 rows."""
    rows = max(MIN_BATCH_ROWS, -(-n // MAX_BATCHES))
    return max(1, -(-n // rows))


class RowBatches:
    """Contiguous row slices of a data term, each its own data term.

    Parameters
    ----------
    data : DataTerm
    n_batches : int, optional
        Default: :func:`default_batch_count`.
    """

    def __init__(self, data: Any, n_batches: int | None = None) -> None:
        self.data = data
        n = data.n_samples
        m = default_batch_count(n) if n_batches is None else int(n_batches)
        self.bounds = np.linspace(0, n, m + 1).round().astype(int)
        self.n_batches = m
        self.batch_group = 1
        self._parts: dict[int, Any] = {}

    def _part(self, i: int) -> Any:
        if i not in self._parts:
            a, b = int(self.bounds[i]), int(self.bounds[i + 1])
            self._parts[i] = self.data.row_slice(a, b) if b > a else None
        return self._parts[i]

    def batch_sums(self, ws: Sequence[np.ndarray], batches: Sequence[int]
                   ) -> list[tuple[float, np.ndarray]]:
        out = [(0.0, np.zeros(self.data.n_params)) for _ in ws]
        for i in batches:
            sub = self._part(int(i))
            if sub is None or not sub.weight_total > 0:
                continue
            for j, w in enumerate(ws):
                value, grad = sub.value_and_grad(w)
                out[j] = (out[j][0] + value, out[j][1] + grad.ravel())
        return out


def batched(objective: Any) -> Any:
    """The mini-batch view of ``objective``'s data term (see the module docstring)."""
    return objective.data.batches()
