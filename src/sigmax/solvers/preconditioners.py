r"""Preconditioners of Newton-CG's inner solve: ``z = M^{-1} r`` for a residual ``r``.

CG on :math:`H x = -g` needs about :math:`\sqrt{\kappa(M^{-1} H)}`
iterations. Two choices of ``M`` from the objective's structure:

- :class:`Jacobi`: the diagonal of :math:`H` (one pass over ``X``). Undoes
  the scales of single parameters: feature frequencies on sparse text, class
  shares on a softmax with rare classes.
- :class:`StandardizedCoordinates`: :math:`M^{-1} = A A^\top`, the map to
  standardized columns of :mod:`sigmax.solvers.coordinates` (no pass over
  ``X`` beyond a few thousand rows' statistics). Undoes the units of badly
  scaled dense features and their means' collinearity with the intercept,
  which the diagonal does not.
- :class:`OutputBlocks`: the ``k`` diagonal ``(D, D)`` blocks of :math:`H`
  over outputs (one pass over ``X`` forming ``n k D (D + 1) / 2``
  multiply-adds, see :meth:`~sigmax.objective.Objective.hessian_output_blocks`).
  Undoes the class shares *and* the correlations of the features within a
  class; what remains is the coupling between classes. For small ``D`` it
  costs a few Hessian products and saves hundreds (measured in
  :class:`~sigmax.solvers.newton.NewtonCG`).

Both take the residual in the flat parameter layout (``(D, k)`` raveled).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._linalg import RIDGE, jacobi_scaled
from .compiled_cg import kernel_args_blocks, kernel_args_jacobi

__all__ = ["Jacobi", "OutputBlocks", "StandardizedCoordinates"]


class Jacobi:
    """``M = diag(H)``, floored at ``1e-3`` times its mean (unused features, flat directions).

    Parameters
    ----------
    diag : ndarray of shape (n_params,)
        The Hessian's diagonal; overwritten by its floored reciprocal.
    """

    def __init__(self, diag: np.ndarray) -> None:
        floor = 1e-3 * float(np.mean(diag)) if diag.size else 0.0
        # In place: each (n_params,) vector is half an (n, k) buffer on text data.
        self.inv = np.reciprocal(np.maximum(diag, max(floor, 1e-300), out=diag), out=diag)

    def apply(self, r: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = M^{-1} r``."""
        return np.multiply(r, self.inv, out=out)

    def kernel_args(self) -> tuple[int, np.ndarray, np.ndarray]:
        """This preconditioner as arrays of the compiled CG (:mod:`.compiled_cg`)."""
        return kernel_args_jacobi(self.inv)


class StandardizedCoordinates:
    r"""``M^{-1} = A A^\top`` (:class:`~sigmax.solvers.coordinates.Standardized`).

    CG preconditioned so runs as plain CG would on the standardized columns
    (``u`` with ``w = A u``). ``A`` maps parameter rows summing to zero to
    such rows, so it keeps the symmetric softmax's row-mean split
    (``_RowMeans`` in :mod:`~sigmax.solvers.newton`).

    Parameters
    ----------
    coords : Standardized
    """

    def __init__(self, coords: Any) -> None:
        self.coords = coords

    def apply(self, r: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = A A^T r``."""
        out[...] = self.coords.step(self.coords.grad(r))
        return out


class OutputBlocks:
    r"""``M`` = the ``k`` diagonal ``(D, D)`` blocks of ``H`` over outputs (block Jacobi).

    The diagonal is floored as in :class:`Jacobi`; each block is inverted
    once in its Jacobi-scaled form (:func:`jacobi_scaled`: a ridge of
    ``1e-12`` relative to each parameter's own curvature); a block that is
    still not positive definite falls back to its diagonal. Applying ``M^{-1}`` is ``k`` products of
    ``(D, D)`` matrices with vectors: :math:`O(k D^2)`, nothing over ``X``.

    Parameters
    ----------
    blocks : ndarray of shape (k, D, D)
        Overwritten (its diagonal floored).
    """

    def __init__(self, blocks: np.ndarray) -> None:
        # As Jacobi: the diagonal floored at 1e-3 of its mean, so that a class
        # without rows (no L2) or an unused feature does not get a near-infinite
        # inverse curvature.
        D = blocks.shape[1]
        diag = blocks[:, np.arange(D), np.arange(D)]
        floor = 1e-3 * float(np.mean(diag)) if diag.size else 0.0
        blocks[:, np.arange(D), np.arange(D)] = np.maximum(diag, max(floor, 1e-300))
        S, scale = jacobi_scaled(blocks)
        try:  # all blocks at once (k small solves cost their per-call overhead)
            np.linalg.cholesky(S)
            inv = np.linalg.inv(S)
        except np.linalg.LinAlgError:
            inv = np.empty_like(S)
            for a in range(S.shape[0]):
                try:
                    np.linalg.cholesky(S[a])
                    inv[a] = np.linalg.inv(S[a])
                except np.linalg.LinAlgError:
                    inv[a] = np.diag(1.0 / (1.0 + RIDGE) * np.ones(S.shape[1]))
        # M^-1 = diag(1/scale) S^-1 diag(1/scale), per block.
        inv /= scale[:, :, None] * scale[:, None, :]
        self.inv = inv

    @classmethod
    def of(cls, objective: Any, w: np.ndarray) -> OutputBlocks | None:
        """From ``objective.hessian_output_blocks(w)``; None where it offers none."""
        get = getattr(objective, "hessian_output_blocks", None)
        blocks = get(w) if get is not None else None
        return None if blocks is None else cls(blocks)

    def apply(self, r: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = M^{-1} r`` (``r`` in the ``(D, k)`` layout, raveled)."""
        k, D = self.inv.shape[0], self.inv.shape[1]
        R = r.reshape(D, k)
        out.reshape(D, k)[...] = np.einsum("aij,ja->ia", self.inv, R)
        return out

    def kernel_args(self) -> tuple[int, np.ndarray, np.ndarray]:
        """This preconditioner as arrays of the compiled CG (:mod:`.compiled_cg`)."""
        return kernel_args_blocks(self.inv)
