r"""The penalty contract: what the objective and the solvers may ask of a penalty.

A penalty :math:`r(W)` acts on the coefficient matrix ``W`` of shape
``(d, k)`` (never on the intercepts) and splits into a smooth part (value,
gradient, Hessian-vector product, Hessian diagonal) and a non-smooth part
handled by its proximal operator:

.. math:: r(W) = s(W) + h(W), \qquad
          \mathrm{prox}_{t h}(V) = \arg\min_W \tfrac12 \|W - V\|_F^2 + t\, h(W).

The objective holds ``penalty.scaled(alpha)`` (the penalty exactly as it
enters the objective) and calls only the methods below; nothing outside this
package reads a penalty's own weights. A solver states what it needs as
*capabilities* (:attr:`Penalty.capabilities`):

``"prox"``
    every penalty: the proximal operator of its non-smooth part;
``"smooth"``
    no non-smooth part (gradient-based solvers: L-BFGS, Newton);
``"separable"``
    the non-smooth part is :math:`\lambda \sum_{ij} |w_{ij}|` with a known
    :attr:`Penalty.separable_weight` :math:`\lambda` (the coordinate-wise
    inner solver of proximal Newton).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

__all__ = ["CAPABILITIES", "Penalty", "sumsq"]

#: What a solver may require of a penalty, with the words its error message uses.
CAPABILITIES: dict[str, str] = {
    "prox": "a proximal operator",
    "smooth": "a smooth penalty",
    "separable": "a penalty whose non-smooth part is a weighted L1 norm",
}


def sumsq(W: np.ndarray) -> float:
    """Sum of squares of ``W`` without BLAS.

    ``np.vdot`` calls the BLAS, whose dot product starts its thread pool on
    long vectors; right after a fused pass that pool would wake and spin
    against the pass's own workers (the reason for
    :func:`sigmax._parallel.serial_blas`; this sum also runs outside a solve,
    e.g. in a bare objective evaluation).
    """
    return float(np.einsum("ij,ij->", W, W) if W.ndim == 2 else np.einsum("i,i->", W, W))


class Penalty(ABC):
    """A penalty on the coefficient matrix ``W`` of shape ``(d, k)``.

    Subclasses implement the abstract methods; the defaults of the others
    describe a penalty without smooth part.
    """

    #: Registry name (``"l2"``, ``"group"``...).
    name: str

    # -- what the penalty offers ----------------------------------------------------
    @property
    @abstractmethod
    def smooth(self) -> bool:
        """True when there is no non-smooth part (a gradient exists everywhere)."""

    @property
    def separable_weight(self) -> float | None:
        r""":math:`\lambda` when the non-smooth part is :math:`\lambda \sum_{ij} |w_{ij}|`
        (0 for a smooth penalty); None when it is not separable by coordinate."""
        return 0.0 if self.smooth else None

    @property
    def capabilities(self) -> frozenset[str]:
        """What this penalty offers to solvers (keys of :data:`CAPABILITIES`)."""
        caps = {"prox"}
        if self.smooth:
            caps.add("smooth")
        if self.separable_weight is not None:
            caps.add("separable")
        return frozenset(caps)

    # -- transformations ------------------------------------------------------------
    @abstractmethod
    def scaled(self, factor: float) -> Penalty:
        """The penalty times ``factor >= 0``: ``factor * r(W)``."""

    @abstractmethod
    def rescaled(self, shift: int) -> Penalty:
        r"""The penalty of ``V = 2**shift * W``: :math:`r'(V) = r(2^{-s} V)`.

        The estimators solve for ``V`` on ``X 2^{-s}`` when ``X`` is too large
        to square (see :func:`sigmax.estimators._base._power_of_two_shift`);
        each part of a penalty is positively homogeneous of a known degree
        :math:`p`, so its weight is multiplied by :math:`2^{-p s}` (exact: only
        the exponent changes).
        """

    # -- values ---------------------------------------------------------------------
    @abstractmethod
    def value(self, W: np.ndarray) -> float:
        """Full penalty value :math:`r(W)`."""

    def smooth_value_and_grad(self, W: np.ndarray) -> tuple[float, np.ndarray | None]:
        """Value and gradient (shape of ``W``) of the smooth part; gradient None when zero."""
        return 0.0, None

    def nonsmooth_value(self, W: np.ndarray) -> float:
        """Value of the non-smooth part :math:`h(W)` alone."""
        return self.value(W) - self.smooth_value_and_grad(W)[0]

    def smooth_hessp(self, W: np.ndarray, V: np.ndarray) -> np.ndarray | None:
        """Hessian of the smooth part at ``W`` times ``V`` (shape of ``W``); None when zero."""
        return None

    def smooth_hessian_diag(self, W: np.ndarray) -> float | np.ndarray | None:
        """Diagonal of the smooth part's Hessian at ``W``: a float when isotropic,
        an array of the shape of ``W`` otherwise, None when zero.

        The objective's full Hessian (Newton-Cholesky, proximal Newton) adds
        this diagonal only: a smooth part with curvature across entries would
        need its own block there.
        """
        return None

    # -- non-smooth part ------------------------------------------------------------
    @abstractmethod
    def prox(self, W: np.ndarray, step: float | np.ndarray) -> np.ndarray:
        """Proximal operator of ``step`` times the non-smooth part (``W`` itself when smooth).

        A separable penalty (:attr:`separable_weight` not None) also takes an
        array ``step`` that broadcasts to ``W``: one step per entry, the
        proximal operator in a diagonal metric (FISTA in standardized
        coordinates, :mod:`sigmax.solvers.coordinates`).
        """

    @abstractmethod
    def min_norm_subgradient(self, W: np.ndarray, G: np.ndarray) -> np.ndarray:
        r"""Smallest element of :math:`G + \partial h(W)` (``G`` the smooth gradient).

        Zero exactly at a KKT point: its max-norm is the stopping criterion of
        the proximal solvers.
        """
