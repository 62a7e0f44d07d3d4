"""Checks on sample and class weights: finite, non-negative, with a finite total.

A weight of 1e308 or ``inf`` makes ``C * sum_i s_i * loss_i`` infinite at the
first step; the solver then stops on a non-finite objective and the model is
all zeros, with no error. Such weights are refused up front, with the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["check_class_weight_values", "check_sample_weight_values"]


def check_sample_weight_values(sw: np.ndarray) -> None:
    """Refuse negative, non-finite or overflowing sample weights (shape (n_samples,))."""
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight contains NaN or infinite values; weights must be "
                         "finite numbers >= 0.")
    if np.any(sw < 0):
        raise ValueError("sample_weight has negative values; weights must be >= 0.")
    with np.errstate(over="ignore"):
        total = float(np.sum(sw, dtype=np.float64))
    if not np.isfinite(total):
        raise ValueError("sample_weight sums to more than the float range (weights near "
                         "1e308); rescale them, e.g. sample_weight / sample_weight.max().")


def check_class_weight_values(class_weight: Any) -> None:
    """Refuse a ``class_weight`` mapping with a negative, NaN or infinite weight."""
    if not isinstance(class_weight, dict):
        return
    for label, w in class_weight.items():
        ok = isinstance(w, (int, float, np.number)) and not isinstance(w, bool)
        if not ok or not np.isfinite(w) or w < 0:
            raise ValueError(f"class_weight[{label!r}] = {w!r}; class weights must be finite "
                             "numbers >= 0.")
