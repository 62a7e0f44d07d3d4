r"""The vector updates of Newton-CG's inner loop, by NumPy or in compiled sweeps.

Each CG step of :meth:`~sigmax.solvers.newton.NewtonCG.direction` forms one
Hessian product and then updates four vectors of the parameters' size:

.. math:: x \mathrel{+}= \alpha p, \quad r \mathrel{-}= \alpha H p, \quad
          z = P M^{-1} r, \quad p = z + \beta p,

with the inner products :math:`p^\top H p`, :math:`r^\top z`,
:math:`r^\top r` and :math:`\max_j |r_j|` that drive it (``P`` centers the
rows of a symmetric softmax, see ``_RowMeans``). With NumPy that is about a
dozen separate passes over vectors that on text data are each half an
``(n, k)`` buffer (sparse_text: 1M parameters, 8 MB a vector).
:class:`CompiledUpdates` does the same arithmetic in three sweeps
(:func:`sigmax._cg_kernels.cg_update`, :func:`~sigmax._cg_kernels.curvature`,
:func:`~sigmax._cg_kernels.cg_turn`: the recurrences of the one-block compiled
CG), from :data:`FUSED_MIN_PARAMS` parameters where numba is importable;
below that, or without numba, :class:`NumpyUpdates`. Both are bound by memory
traffic: on sparse_text's 1M parameters a step's updates take 4.4-4.5 ms
compiled against 5.6-5.8 ms with NumPy, one thread (0.78-0.79x, ``python
benchmarks/cg_updates.py``): over the 48-107 sampled products of the
sparse_text fits of ``benchmarks/hessian_sample.py``, 60-130 ms, about 2% of
them; the Hessian products are the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg.blas import daxpy

from .compiled_cg import ENABLED, no_preconditioner

__all__ = ["FUSED_MIN_PARAMS", "CompiledUpdates", "NumpyUpdates", "updates"]

#: Parameters from which the updates are compiled sweeps: there a CG step's
#: NumPy passes cost milliseconds, against numba's one-off load (0.2-1 s per
#: process, which a sparse problem this size has paid for its products already:
#: :data:`sigmax._csr.MIN_NNZ`).
FUSED_MIN_PARAMS = 1 << 18


class NumpyUpdates:
    """The updates as NumPy / BLAS calls on the preconditioner and split objects.

    Parameters
    ----------
    pre : Jacobi or OutputBlocks or None
        ``M``; None for plain CG (``z`` is then ``r`` itself).
    split : _RowMeans or None
        Centers ``z`` where given.
    """

    def __init__(self, pre: Any, split: Any) -> None:
        self.pre, self.split = pre, split

    @staticmethod
    def norms(r: np.ndarray) -> tuple[float, float]:
        """``(r^T r, max |r_j|)``."""
        return float(r @ r), float(np.max(np.abs(r)))

    @staticmethod
    def curvature(p: np.ndarray, Hp: np.ndarray) -> tuple[float, float]:
        """``(p^T H p, p^T p)``."""
        return float(p @ Hp), float(p @ p)

    def update(self, x: np.ndarray, r: np.ndarray, p: np.ndarray, Hp: np.ndarray,
               z: np.ndarray, alpha: float) -> tuple[float, float, float]:
        """``x += alpha p``, ``r -= alpha Hp``, ``z = P M^-1 r`` in place;
        ``(r^T z, r^T r, max |r_j|)``."""
        daxpy(p, x, a=alpha)  # in place on contiguous float64, without a temporary
        daxpy(Hp, r, a=-alpha)
        if self.pre is not None:
            self.pre.apply(r, z)
        if self.split is not None:
            self.split.center(z)
        return (float(r @ z), *self.norms(r))

    @staticmethod
    def turn(p: np.ndarray, z: np.ndarray, beta: float) -> None:
        """``p = z + beta p`` in place."""
        p *= beta
        p += z


class CompiledUpdates(NumpyUpdates):
    """The same updates in compiled sweeps (:mod:`sigmax._cg_kernels`).

    Parameters
    ----------
    pre, split
        As :class:`NumpyUpdates`; ``pre`` needs ``kernel_args``.
    k : int
        Columns of the ``(D, k)`` parameter layout.
    """

    def __init__(self, pre: Any, split: Any, k: int) -> None:
        from .. import _cg_kernels

        super().__init__(pre, split)
        self._kernels = _cg_kernels
        self.k = k
        self.args = pre.kernel_args() if pre is not None else no_preconditioner()

    def norms(self, r):
        rr, rmax = self._kernels.residual_norms(r)
        return float(rr), float(rmax)

    def curvature(self, p, Hp):
        curv, pp = self._kernels.curvature(p, Hp)
        return float(curv), float(pp)

    def update(self, x, r, p, Hp, z, alpha):
        kind, diag, blocks = self.args
        rz, rr, rmax = self._kernels.cg_update(x, r, p, Hp, z, float(alpha), kind, diag,
                                               blocks, self.k, self.split is not None)
        return float(rz), float(rr), float(rmax)

    def turn(self, p, z, beta):
        self._kernels.cg_turn(p, z, float(beta))


def updates(pre: Any, split: Any, k: int, size: int) -> NumpyUpdates:
    """The updates for ``size`` parameters: compiled from :data:`FUSED_MIN_PARAMS` where
    numba is importable and ``pre`` has ``kernel_args``, NumPy otherwise."""
    if ENABLED and size >= FUSED_MIN_PARAMS and (pre is None or hasattr(pre, "kernel_args")):
        try:
            return CompiledUpdates(pre, split, k)
        except ImportError:  # no numba here
            pass
    return NumpyUpdates(pre, split)
