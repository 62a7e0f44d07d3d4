"""NumPy backend: in-memory NumPy arrays and SciPy sparse matrices (the core's own code)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..objective import LinearObjective
from .base import Backend, register_backend

__all__ = ["NumpyBackend"]


@register_backend
class NumpyBackend(Backend):
    """Everything scikit-learn's ``validate_data`` accepts; :class:`LinearObjective` as is."""

    name = "numpy"

    def prepare_fit(self, est, X, y, sample_weight, device):
        return est._check_X(X, reset=True), y, sample_weight

    def objective(self, loss, X, Y, weights, k, *, C, penalty, fit_intercept, offset=None):
        return LinearObjective(loss, X, Y, weights, k, C=C, penalty=penalty,
                               fit_intercept=fit_intercept, offset=offset)

    def predict(self, est: Any, method: Callable[..., Any], X: Any, offset: Any = None) -> Any:
        return method(est, X) if offset is None else method(est, X, offset=offset)
