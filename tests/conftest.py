"""Shared fixtures: small, seeded data sets (kept tiny so the suite stays fast)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

try:  # hypothesis is a dev dependency; the property tests skip without it.
    from hypothesis import HealthCheck, settings

    settings.register_profile("sigmax", deadline=None, max_examples=60,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("sigmax")
except ImportError:  # pragma: no cover
    pass


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def make_classification_data(n: int = 80, d: int = 4, k: int = 3, seed: int = 0,
                             noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping Gaussian classes (not separable), labels ``0..k-1``, all present."""
    r = np.random.default_rng(seed)
    y = np.arange(n) % k
    centers = r.normal(size=(k, d))
    X = centers[y] + noise * r.normal(size=(n, d))
    return X, y


def make_multilabel_data(n: int = 80, d: int = 4, n_labels: int = 3, seed: int = 0
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Indicator matrix ``(n, n_labels)`` from noisy linear scores; every column has 0s and 1s."""
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, d))
    scores = X @ r.normal(size=(d, n_labels)) + 1.5 * r.normal(size=(n, n_labels))
    Y = (scores > 0).astype(np.int64)
    Y[0], Y[1] = 1, 0  # both values in every column
    return X, Y


@pytest.fixture
def binary_data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification_data(k=2)


@pytest.fixture
def multiclass_data() -> tuple[np.ndarray, np.ndarray]:
    return make_classification_data(k=3)


@pytest.fixture
def multilabel_data() -> tuple[np.ndarray, np.ndarray]:
    return make_multilabel_data()
