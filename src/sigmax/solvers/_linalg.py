"""Small positive semi-definite solves shared by the Newton-type solvers.

Every Newton system here is solved in its Jacobi-scaled form
:math:`S = D^{-1/2} H D^{-1/2}` with :math:`D = \\mathrm{diag}(H)`: its
diagonal is 1 whatever the feature scales, so the tiny ridge added to it is
relative to each parameter's own curvature. A ridge relative to the largest
diagonal entry would swamp the intercept (curvature ~ 1) when a feature takes
values ~1e6 (curvature ~ 1e12) and stall Newton. The relative ridge of 1e-12
keeps Cholesky defined on the flat directions of the softmax (an unpenalized
intercept shift); the gradient has no component there, so the step is
unchanged elsewhere.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

__all__ = ["jacobi_scaled", "newton_step", "solve_scaled"]

#: Ridge added to the unit diagonal of a Jacobi-scaled system.
RIDGE = 1e-12


def jacobi_scaled(H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(S, scale)``: ``S = H / (scale scale^T)`` plus :data:`RIDGE` on its diagonal.

    ``H`` is ``(D, D)`` or a stack ``(k, D, D)``; ``scale = sqrt(diag H)``, 1
    where that is 0 (all-zero feature columns, whose gradient is 0 too).
    """
    scale = np.sqrt(np.diagonal(H, axis1=-2, axis2=-1).copy())
    scale[~(scale > 0)] = 1.0
    S = H / (scale[..., :, None] * scale[..., None, :])
    idx = np.arange(H.shape[-1])
    S[..., idx, idx] += RIDGE
    return S, scale


def solve_scaled(S: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``S^-1 b`` for one Jacobi-scaled positive semi-definite ``S`` (not modified).

    LAPACK's Cholesky directly (these systems are small and solved often: the
    wrappers' checks would cost more than the factorization); if ``S`` is
    singular (flat directions, collinear features), the minimum-norm least-squares
    solution, which stays in the row space.
    """
    factor, info = lapack.dpotrf(S, lower=0, clean=0, overwrite_a=0)
    if info == 0:
        x, info = lapack.dpotrs(factor, b, lower=0)
    if info != 0:
        x = np.linalg.lstsq(S, b, rcond=RIDGE)[0]
    return x


def newton_step(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The Newton step ``-H^-1 g``, solved in the Jacobi-scaled system."""
    S, scale = jacobi_scaled(H)
    return -solve_scaled(S, g / scale) / scale
