r"""Losses in logit space, one module per loss (see :mod:`sigmax.losses.base`).

:data:`LOSSES` is the registry of the core losses by name;
:class:`~sigmax.losses.heads.HeadsLoss` (several heads on one set of logits)
is built per model from a head layout.
"""

from __future__ import annotations

# The compiled-pass loaders, reachable as sigmax.losses._softmax_kernel & co.
from ._compiled import _binomial_kernel as _binomial_kernel
from ._compiled import _partition_kernels as _partition_kernels
from ._compiled import _softmax_kernel as _softmax_kernel
from .base import Loss, array_definition, namespace
from .binomial import BinomialLoss
from .heads import HEAD_LOSSES, HeadsLoss
from .multilabel import MultilabelLoss
from .multinomial import MultinomialLoss

__all__ = ["HEAD_LOSSES", "LOSSES", "BinomialLoss", "HeadsLoss", "Loss", "MultilabelLoss",
           "MultinomialLoss", "array_definition", "namespace"]

#: Registry of losses by name; ``multinomial_reference`` is the K-1 parameterization.
LOSSES: dict[str, Loss] = {
    "binomial": BinomialLoss(),
    "multinomial": MultinomialLoss(),
    "multinomial_reference": MultinomialLoss(reference=True),
    "multilabel": MultilabelLoss(),
}
