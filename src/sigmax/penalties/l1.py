r"""The lasso: :math:`r(W) = \|W\|_1` (the elastic net at ``l1_ratio = 1``)."""

from __future__ import annotations

from .elasticnet import ElasticNet

__all__ = ["make"]


def make(l1_ratio: float | None = None) -> ElasticNet:
    """The registry factory (``l1_ratio`` is ignored)."""
    return ElasticNet("l1", 1.0, 0.0)
