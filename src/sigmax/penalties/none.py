"""No penalty: :math:`r(W) = 0`, the elastic net with both weights 0.

Every method of :class:`~sigmax.penalties.elasticnet.ElasticNet` skips a part
whose weight is 0, so this costs nothing: no value, gradient ``None``, prox
the identity. It is also what any penalty becomes when scaled by 0.
"""

from __future__ import annotations

from .elasticnet import ElasticNet

__all__ = ["make"]


def make(l1_ratio: float | None = None) -> ElasticNet:
    """The registry factory (``l1_ratio`` is ignored)."""
    return ElasticNet("none", 0.0, 0.0)
