r"""Penalties on the coefficient matrix (never on the intercept).

Every penalty is an elastic net

.. math:: r(W) = \rho \, \|W\|_1 + \frac{1 - \rho}{2} \|W\|_F^2,

with :math:`\rho` = ``l1_ratio``: ``l2`` is :math:`\rho = 0`, ``l1`` is
:math:`\rho = 1`, ``none`` is :math:`r = 0`. This is exactly scikit-learn's
penalty, so that for the same ``C`` the objective

.. math:: C \sum_i s_i \ell_i + r(W)

is scikit-learn's. A penalty splits into a smooth part (value, gradient,
Hessian-vector product: the L2 term) and a non-smooth part handled by its
proximal operator (soft-thresholding: the L1 term).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["PENALTIES", "Penalty", "make_penalty"]


def _sumsq(W: np.ndarray) -> float:
    """Sum of squares of ``W`` without BLAS.

    ``np.vdot`` calls the BLAS, whose dot product starts its thread pool on
    long vectors; right after a fused pass that pool would wake and spin
    against the pass's own workers (the reason for
    :func:`sigmax._parallel.serial_blas`; this sum also runs outside a solve,
    e.g. in a bare objective evaluation).
    """
    return float(np.einsum("ij,ij->", W, W) if W.ndim == 2 else np.einsum("i,i->", W, W))


@dataclass(frozen=True)
class Penalty:
    """Elastic-net penalty :math:`\\text{l1} \\|W\\|_1 + \\tfrac{\\text{l2}}{2} \\|W\\|_F^2`.

    Parameters
    ----------
    name : str
        Registry name (``"none"``, ``"l2"``, ``"l1"``, ``"elasticnet"``).
    l1 : float
        Weight of the L1 norm (:math:`\\rho`).
    l2 : float
        Weight of half the squared Frobenius norm (:math:`1 - \\rho`).
    """

    name: str
    l1: float
    l2: float

    @property
    def smooth(self) -> bool:
        """True when the penalty has no L1 part (a gradient exists everywhere)."""
        return self.l1 == 0

    def scaled(self, factor: float) -> Penalty:
        """This penalty times ``factor`` (how it enters the objective: ``factor = alpha``)."""
        return Penalty(self.name, self.l1 * factor, self.l2 * factor)

    def smooth_hessp(self, W: np.ndarray, V: np.ndarray) -> np.ndarray | None:
        """Hessian of the smooth (L2) part times ``V`` (shape ``(d, k)``); None when zero."""
        return self.l2 * V if self.l2 else None

    def smooth_hessian_diag(self, W: np.ndarray) -> float | None:
        """Diagonal of the smooth part's Hessian: the float ``l2`` (isotropic); None when zero."""
        return self.l2 if self.l2 else None

    def value(self, W: np.ndarray) -> float:
        """Full penalty value at ``W`` (shape ``(d, k)``)."""
        out = 0.0
        if self.l1:
            out += self.l1 * float(np.abs(W).sum(dtype=np.float64))
        if self.l2:
            out += 0.5 * self.l2 * _sumsq(W)
        return out

    def smooth_value_and_grad(self, W: np.ndarray) -> tuple[float, np.ndarray | None]:
        """Value and gradient of the smooth (L2) part; gradient ``None`` when zero."""
        if not self.l2:
            return 0.0, None
        return 0.5 * self.l2 * _sumsq(W), self.l2 * W

    def prox(self, W: np.ndarray, step: float) -> np.ndarray:
        r"""Proximal operator of ``step`` times the L1 part: soft-thresholding.

        :math:`\mathrm{prox}(w) = \mathrm{sign}(w) \max(|w| - t\,\text{l1}, 0)`.
        """
        if not self.l1:
            return W
        t = step * self.l1
        return np.sign(W) * np.maximum(np.abs(W) - t, 0)

    def min_norm_subgradient(self, W: np.ndarray, G: np.ndarray) -> np.ndarray:
        r"""Smallest element of :math:`G + \partial(\text{l1}\|W\|_1)`.

        Zero exactly at a KKT point, so its norm is the stopping criterion of
        the proximal solver: where :math:`w \ne 0` it is
        :math:`g + \text{l1}\,\mathrm{sign}(w)`; where :math:`w = 0` it is
        :math:`g` soft-thresholded by ``l1``.
        """
        if not self.l1:
            return G
        out = G + self.l1 * np.sign(W)
        zero = W == 0
        g0 = G[zero]
        out[zero] = np.sign(g0) * np.maximum(np.abs(g0) - self.l1, 0)
        return out


def make_penalty(name: str | None, l1_ratio: float | None = None) -> Penalty:
    """Build a penalty from its registry name; ``None`` means ``"none"``."""
    key = "none" if name is None else name
    if key not in PENALTIES:
        raise ValueError(
            f"Unknown penalty {name!r}; choose one of {sorted(PENALTIES)} (or None)."
        )
    return PENALTIES[key](l1_ratio)


def _elasticnet(l1_ratio: float | None) -> Penalty:
    if l1_ratio is None:
        raise ValueError(
            "penalty='elasticnet' needs l1_ratio in [0, 1]; for example l1_ratio=0.5."
        )
    if not 0 <= l1_ratio <= 1:
        raise ValueError(f"l1_ratio must lie in [0, 1]; got {l1_ratio!r}.")
    return Penalty("elasticnet", float(l1_ratio), 1.0 - float(l1_ratio))


#: Registry of penalty factories by name; each takes ``l1_ratio`` (used by elasticnet only).
PENALTIES: dict[str, Callable[[float | None], Penalty]] = {
    "none": lambda _r: Penalty("none", 0.0, 0.0),
    "l2": lambda _r: Penalty("l2", 0.0, 1.0),
    "l1": lambda _r: Penalty("l1", 1.0, 0.0),
    "elasticnet": _elasticnet,
}
