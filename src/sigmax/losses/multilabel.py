r"""The multi-label loss: independent sigmoids, the sum of ``k`` binomial losses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .binomial import BinomialLoss

__all__ = ["MultilabelLoss"]


@dataclass(frozen=True)
class MultilabelLoss(BinomialLoss):
    r"""Independent sigmoids, one per label: the sum of ``k`` binomial losses.

    ``Y`` is a float 0/1 matrix of shape ``(n, k)``; ``weights`` may be
    ``(n,)`` or ``(n, k)`` (entry weights; 0 masks a missing label). One-vs-rest
    is this loss on the one-hot encoding of a class label.
    """

    name: ClassVar[str] = "multilabel"

    def n_outputs(self, n_classes: int) -> int:
        return n_classes
