r"""glmnet's grouped multinomial lasso: one L2 norm per feature over its ``k`` outputs.

.. math:: r(W) = \lambda \sum_{j=1}^{d} \|W_{j,:}\|_2,

so a feature is kept or dropped for all classes at once (Friedman, Hastie &
Tibshirani 2010, ``type.multinomial="grouped"``). With ``k = 1`` each group is
one coefficient and this is the L1 norm. The penalty has no smooth part; its
prox is block soft-thresholding of each row,

.. math:: \mathrm{prox}_{t r}(V)_{j,:} = V_{j,:} \max\!\left(1 - \frac{t\lambda}{\|V_{j,:}\|_2},
          0\right),

and the minimum-norm element of :math:`G + \partial r(W)` is, per row,
:math:`G_j + \lambda W_j / \|W_j\|` where :math:`W_j \ne 0` and :math:`G_j`
block soft-thresholded by :math:`\lambda` where :math:`W_j = 0`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import none
from .base import Penalty

__all__ = ["GroupLasso", "make", "row_norms"]


def row_norms(W: np.ndarray) -> np.ndarray:
    """L2 norm of each row of ``W`` (shape ``(d, k)`` or ``(d,)``), shape ``(d,)``.

    Each row is divided by its largest entry before squaring, so any finite
    ``W`` gives finite norms (a plain sum of squares overflows past ~1e154).
    """
    W = W.reshape(W.shape[0], -1)
    top = np.max(np.abs(W), axis=1) if W.size else np.zeros(W.shape[0])
    safe = np.where(top > 0, top, 1.0)
    scaled = W / safe[:, None]
    return top * np.sqrt(np.einsum("ij,ij->i", scaled, scaled))


def _shrink_rows(V: np.ndarray, t: float) -> np.ndarray:
    """Block soft-thresholding: each row of ``V`` times ``max(1 - t / ||row||, 0)``."""
    norms = row_norms(V)
    keep = norms > t
    factor = np.zeros_like(norms)
    factor[keep] = 1.0 - t / norms[keep]
    return V * factor.reshape((-1,) + (1,) * (V.ndim - 1))


@dataclass(frozen=True)
class GroupLasso(Penalty):
    r""":math:`\lambda \sum_j \|W_{j,:}\|_2` with :math:`\lambda` = ``weight``."""

    name: str = "group"
    weight: float = 1.0

    @property
    def smooth(self) -> bool:
        return False

    @property
    def separable_weight(self) -> None:
        return None  # rows couple their k entries

    def scaled(self, factor: float) -> Penalty:
        if factor == 0:
            return none.make()
        return GroupLasso(self.name, self.weight * factor)

    def rescaled(self, shift: int) -> GroupLasso:
        return GroupLasso(self.name, float(np.ldexp(self.weight, -shift)))  # degree 1

    def value(self, W: np.ndarray) -> float:
        return self.weight * float(row_norms(W).sum(dtype=np.float64))

    def nonsmooth_value(self, W: np.ndarray) -> float:
        return self.value(W)

    def prox(self, W: np.ndarray, step: float) -> np.ndarray:
        return _shrink_rows(W, step * self.weight)

    def min_norm_subgradient(self, W: np.ndarray, G: np.ndarray) -> np.ndarray:
        lam = self.weight
        norms = row_norms(W)
        zero = norms == 0
        out = _shrink_rows(G, lam)  # the zero rows' value
        nz = ~zero
        shape = (-1,) + (1,) * (W.ndim - 1)
        out[nz] = G[nz] + lam * W[nz] / norms[nz].reshape(shape)
        return out


def make(l1_ratio: float | None = None) -> GroupLasso:
    """The registry factory (``l1_ratio`` is ignored)."""
    return GroupLasso()
