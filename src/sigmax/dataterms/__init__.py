"""Data terms: the unscaled loss sums of a linear model, where ``X`` is read.

See :mod:`sigmax.dataterms.base` for the protocol. :func:`in_memory` picks the
data term of an in-memory ``X`` (NumPy or SciPy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ..losses import Loss
from .base import DataTerm, total_weight
from .batches import RowBatches, batched, default_batch_count
from .generic import GenericData
from .numpy_term import NumpyData

__all__ = ["DataTerm", "GenericData", "NumpyData", "RowBatches", "batched",
           "default_batch_count", "in_memory", "total_weight"]


def in_memory(loss: Loss, X: Any, Y: np.ndarray, weights: np.ndarray, k: int,
              fit_intercept: bool = True, offset: np.ndarray | None = None) -> DataTerm:
    """The data term of an in-memory ``X``: row blocks for dense / CSR float ``X``.

    ``offset``: ``(n, k)`` known logits added to ``X W + b``, or None.
    """
    blockable = ((isinstance(X, np.ndarray) and X.ndim == 2)
                 or (sp.issparse(X) and X.format == "csr"))
    if blockable and X.dtype in (np.float32, np.float64):
        return NumpyData(loss, X, Y, weights, k, fit_intercept, offset=offset)
    return GenericData(loss, X, Y, weights, k, fit_intercept, offset=offset)
