r"""scikit-learn's elastic net, the family of ``none``, ``l2``, ``l1`` and ``elasticnet``:

.. math:: r(W) = \rho \, \|W\|_1 + \frac{1 - \rho}{2} \|W\|_F^2,

with :math:`\rho` = ``l1_ratio`` (``l2`` is :math:`\rho = 0`, ``l1`` is
:math:`\rho = 1`, ``none`` has both weights 0). This is exactly
scikit-learn's penalty, so that for the same ``C`` the objective
:math:`C \sum_i s_i \ell_i + r(W)` is scikit-learn's.
The smooth part is the L2 term, the non-smooth part the L1 term (its prox is
soft-thresholding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Penalty, sumsq

__all__ = ["ElasticNet", "make"]


@dataclass(frozen=True)
class ElasticNet(Penalty):
    r""":math:`\text{factor}\,(\text{l1} \|W\|_1 + \tfrac{\text{l2}}{2} \|W\|_F^2)`.

    Parameters
    ----------
    name : str
        Registry name (``"none"``, ``"l2"``, ``"l1"``, ``"elasticnet"``).
    l1 : float
        Weight of the L1 norm (:math:`\rho`).
    l2 : float
        Weight of half the squared Frobenius norm (:math:`1 - \rho`).
    factor : float, default=1.0
        Overall multiplier (:meth:`scaled`). Kept apart from ``l1`` and
        ``l2`` so that the scaled penalty rounds exactly as ``factor`` times
        the unscaled one (the objective's values do not depend on where the
        scaling happens).
    """

    name: str
    l1: float
    l2: float
    factor: float = 1.0

    @property
    def smooth(self) -> bool:
        """True when there is no L1 part."""
        return self.l1 == 0

    @property
    def separable_weight(self) -> float:
        return self.factor * self.l1

    def scaled(self, factor: float) -> Penalty:
        if factor == 0:
            return ElasticNet("none", 0.0, 0.0)
        return ElasticNet(self.name, self.l1, self.l2, self.factor * factor)

    def rescaled(self, shift: int) -> ElasticNet:
        # The L1 norm is homogeneous of degree 1, the squared norm of degree 2.
        return ElasticNet(self.name, float(np.ldexp(self.l1, -shift)),
                          float(np.ldexp(self.l2, -2 * shift)), self.factor)

    def value(self, W: np.ndarray) -> float:
        out = 0.0
        if self.l1:
            out += self.l1 * float(np.abs(W).sum(dtype=np.float64))
        if self.l2:
            out += 0.5 * self.l2 * sumsq(W)
        return self.factor * out

    def smooth_value_and_grad(self, W: np.ndarray) -> tuple[float, np.ndarray | None]:
        if not self.l2:
            return 0.0, None
        grad = self.l2 * W
        if self.factor != 1:
            grad = self.factor * grad
        return self.factor * (0.5 * self.l2 * sumsq(W)), grad

    def nonsmooth_value(self, W: np.ndarray) -> float:
        if not self.l1:
            return 0.0
        return self.factor * self.l1 * float(np.abs(W).sum(dtype=np.float64))

    def smooth_hessp(self, W: np.ndarray, V: np.ndarray) -> np.ndarray | None:
        return self.factor * self.l2 * V if self.l2 else None

    def smooth_hessian_diag(self, W: np.ndarray) -> float | None:
        return self.factor * self.l2 if self.l2 else None

    def prox(self, W: np.ndarray, step: float | np.ndarray) -> np.ndarray:
        r"""Soft-thresholding: :math:`\mathrm{sign}(w) \max(|w| - t\,\text{l1}, 0)`,
        :math:`t` = ``step * factor`` (``step`` a float, or an array that
        broadcasts to ``W``: per-entry thresholds)."""
        if not self.l1:
            return W
        t = step * self.factor * self.l1
        return np.sign(W) * np.maximum(np.abs(W) - t, 0)

    def min_norm_subgradient(self, W: np.ndarray, G: np.ndarray) -> np.ndarray:
        r"""Where :math:`w \ne 0`: :math:`g + \lambda\,\mathrm{sign}(w)`; where
        :math:`w = 0`: :math:`g` soft-thresholded by :math:`\lambda` =
        ``factor * l1``."""
        if not self.l1:
            return G
        lam = self.l1 * self.factor
        out = G + lam * np.sign(W)
        zero = W == 0
        g0 = G[zero]
        out[zero] = np.sign(g0) * np.maximum(np.abs(g0) - lam, 0)
        return out


def make(l1_ratio: float | None) -> ElasticNet:
    """``penalty='elasticnet'``: needs ``l1_ratio`` in [0, 1]."""
    if l1_ratio is None:
        raise ValueError(
            "penalty='elasticnet' needs l1_ratio in [0, 1]; for example l1_ratio=0.5.")
    if not 0 <= l1_ratio <= 1:
        raise ValueError(f"l1_ratio must lie in [0, 1]; got {l1_ratio!r}.")
    return ElasticNet("elasticnet", float(l1_ratio), 1.0 - float(l1_ratio))
