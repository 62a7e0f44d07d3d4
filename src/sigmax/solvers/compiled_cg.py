r"""Newton-CG's inner solve in one compiled call, where ``X`` is one dense block.

:meth:`sigmax.solvers.newton.NewtonCG.direction` runs conjugate gradients on
Hessian-vector products. On a small problem each product is a few tens of
microseconds of BLAS and several times that of Python around it (the objective,
the data term's row blocks and thread pool, the loss's kernel, the penalty,
CG's vector updates). :class:`CompiledCG` hands the whole solve to
:func:`sigmax._cg_kernels.cg_solve` instead: the data term's operands
(:meth:`~sigmax.dataterms.base.DataTerm.hessp_operands`: ``X``, the loss's
state, the weights), the objective's scale and isotropic L2 weight, and the
preconditioner as arrays. Same iteration, same stops, same products (float32
where the data term's twin is on); one call per Newton step.

A digits training fold's path (1,437 x 64, K = 10, 8 Cs, tol 1e-7, one
thread) and the digits CV of ``sigmax bench paths``, compiled against the
Python iteration: ``python benchmarks/compiled_cg.py`` (its table is in
docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _parallel

__all__ = ["ENABLED", "CompiledCG", "no_preconditioner"]

#: Whether :meth:`CompiledCG.of` offers the compiled solve (tests and benchmarks compare
#: both; :data:`sigmax.dataterms.one_block.ENABLED` switches the data terms' side).
ENABLED = True


class CompiledCG:
    """The Hessian of ``objective`` at ``w`` as operands of the compiled CG.

    Parameters
    ----------
    objective : LinearObjective
        Its data term gave ``operands``.
    operands : tuple
        ``(X, St, weights)`` of :meth:`~sigmax.dataterms.base.DataTerm.hessp_operands`.
    lam : float
        The isotropic L2 weight on the coefficient rows (0 without).
    """

    def __init__(self, objective: Any, operands: tuple, lam: float) -> None:
        from .. import _cg_kernels

        self._kernels = _cg_kernels
        self.objective = objective
        self.X, self.St, self.weights = operands
        self.kind = (_cg_kernels.SOFTMAX_STATE if objective.loss.hessp_state == "softmax"
                     else _cg_kernels.DIAGONAL_STATE)
        self.intercept = bool(objective.fit_intercept)
        self.scale = float(objective.scale)
        self.lam = lam

    @classmethod
    def of(cls, objective: Any, w: np.ndarray) -> CompiledCG | None:
        """The compiled solve at ``w``, or None where the objective's Hessian is not of its form.

        Needs a data term that offers its operands (one dense block) and a
        smooth penalty whose Hessian is :math:`\\lambda I` on the coefficients.
        """
        if not ENABLED or not objective.penalty_term.smooth:
            return None
        get = getattr(objective.data, "hessp_operands", None)
        if get is None or getattr(objective.loss, "hessp_state", None) is None:
            return None
        lam = objective.penalty_diag(w)
        if lam is not None and np.ndim(lam):
            return None
        operands = get(w)
        if operands is None:
            return None
        return cls(objective, operands, float(lam) if lam is not None else 0.0)

    def hessp(self, v: np.ndarray) -> np.ndarray:
        """``H v`` (flat float64), as :meth:`Objective.hessp` forms it."""
        out = np.empty(v.size)
        self._kernels.hessp(self.X, self.St, self.weights, self.kind, self.intercept,
                            self.scale, self.lam, np.ascontiguousarray(v, dtype=np.float64), out)
        return out

    def solve(self, r: np.ndarray, x: np.ndarray, pre: Any, center: bool, stop: float,
              enough: float, max_inner: int) -> tuple[int, bool]:
        """CG on ``H x = r`` from ``x`` (both overwritten); ``(steps, flat)`` as
        :func:`~sigmax._cg_kernels.cg_solve`. ``pre``: a preconditioner with
        ``kernel_args`` (or None); the products are counted on the objective."""
        k = self._kernels
        kind, diag, blocks = pre.kernel_args() if pre is not None else no_preconditioner()
        with _parallel.compiled_blas():  # numba's products: SciPy's BLAS, one thread
            steps, products, flat = k.cg_solve(
                self.X, self.St, self.weights, self.kind, self.intercept, self.scale, self.lam,
                r, x, kind, diag, blocks, center, float(stop), float(enough), int(max_inner))
        self.objective.n_hessp_evals += int(products)
        return int(steps), bool(flat)


_EMPTY1 = np.empty(0)
_EMPTY3 = np.empty((0, 0, 0))


def no_preconditioner() -> tuple[int, np.ndarray, np.ndarray]:
    """Plain CG as arrays of the compiled CG."""
    from .. import _cg_kernels

    return _cg_kernels.NO_PRECONDITIONER, _EMPTY1, _EMPTY3


def kernel_args_jacobi(inv: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """``(kind, diag, blocks)`` of a Jacobi preconditioner with inverse diagonal ``inv``."""
    from .. import _cg_kernels

    return _cg_kernels.JACOBI, np.ascontiguousarray(inv, dtype=np.float64), _EMPTY3


def kernel_args_blocks(inv: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """``(kind, diag, blocks)`` of inverse per-output blocks ``inv`` ``(k, D, D)``."""
    from .. import _cg_kernels

    return _cg_kernels.OUTPUT_BLOCKS, _EMPTY1, np.ascontiguousarray(inv, dtype=np.float64)


def kernel_args_cholesky(chol: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """``(kind, diag, blocks)`` of per-output blocks given by lower Cholesky factors
    ``chol`` ``(k, D, D)`` (applied by two triangular solves each)."""
    from .. import _cg_kernels

    return _cg_kernels.CHOLESKY_BLOCKS, _EMPTY1, np.ascontiguousarray(chol, dtype=np.float64)
