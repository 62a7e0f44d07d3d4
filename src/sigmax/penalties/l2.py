r"""Ridge: :math:`r(W) = \tfrac12 \|W\|_F^2` (the elastic net at ``l1_ratio = 0``)."""

from __future__ import annotations

from .elasticnet import ElasticNet

__all__ = ["make"]


def make(l1_ratio: float | None = None) -> ElasticNet:
    """The registry factory (``l1_ratio`` is ignored)."""
    return ElasticNet("l2", 0.0, 1.0)
