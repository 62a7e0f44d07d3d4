"""Working precisions by name (``dtype="float64"`` / ``"float32"`` of every estimator).

A leaf module: estimators validate ``dtype`` against it and backends cast ``X`` with it,
so neither layer imports the other for this one table.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DTYPES"]

#: The NumPy scalar type of each working precision an estimator accepts.
DTYPES: dict[str, type[np.floating]] = {"float64": np.float64, "float32": np.float32}
