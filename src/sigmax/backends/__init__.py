"""Array backends: where the data-heavy work of a fit runs (NumPy, torch, dask).

:data:`BACKENDS` maps a name to a :class:`Backend`; ``backend="auto"`` picks one
from the type of ``X`` (:func:`infer_backend`). See :mod:`sigmax.backends.base`
for the contract and ``docs/scaling.md`` for the cost model.
"""

from . import dask_backend, numpy_backend, torch_backend  # noqa: F401  (register)
from .base import (
    BACKENDS,
    Backend,
    PrecomputedLogits,
    infer_backend,
    input_kind,
    register_backend,
    resolve_backend,
    route_by_input,
    to_numpy,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "PrecomputedLogits",
    "infer_backend",
    "input_kind",
    "register_backend",
    "resolve_backend",
    "route_by_input",
    "to_numpy",
]
