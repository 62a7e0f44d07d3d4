"""Accelerated proximal gradient (FISTA) with backtracking and adaptive restart.

For L1 and elastic-net penalties. The smooth part (loss + L2) is handled by
its gradient, the L1 part by soft-thresholding. Stops when the max-norm of the
minimum-norm subgradient (zero exactly at a KKT point) is ``<= tol``.
"""

from __future__ import annotations

import numpy as np

from ..objective import LinearObjective
from .base import FitResult, History, Solver, register_solver, working_eps


def _l1_part(objective: LinearObjective, w: np.ndarray) -> float:
    """The non-smooth (L1) part of ``f`` at ``w``; the L2 part is already in the smooth value."""
    if not objective.alpha or not objective.penalty.l1:
        return 0.0
    W, _ = objective.unpack(w)
    return objective.alpha * objective.penalty.l1 * float(np.abs(W).sum(dtype=np.float64))


@register_solver
class Proximal(Solver):
    """FISTA (Beck & Teboulle 2009) with the O'Donoghue-Candes gradient restart.

    The Lipschitz estimate ``L`` is found by backtracking and shrunk by 0.9 at
    every step so that the step size adapts to the local curvature.
    """

    name = "proximal"
    supports_nonsmooth = True

    def solve(self, objective: LinearObjective, w0: np.ndarray, *, tol: float,
              max_iter: int, verbose: int = 0) -> FitResult:
        hist = History(self.name, verbose)
        x = np.array(w0, dtype=float)
        fx, gx = objective.value_and_grad(x)
        opt = objective.optimality(x, gx)
        hist.add(0, fx + _l1_part(objective, x), opt)
        # Initial curvature guess from the gradient at a nearby point.
        L = 1.0
        y, fy, gy = x, fx, gx
        t = 1.0
        converged, it = opt <= tol, 0
        # Slack of the sufficient-decrease test: the rounding level of f in the
        # working precision (a float32 objective is only exact to ~1e-7).
        rel_slack = max(1e-12, 8 * working_eps(objective))
        while not converged and it < max_iter:
            it += 1
            L *= 0.9
            while True:
                x_new = objective.prox(y - gy / L, 1.0 / L)
                d = x_new - y
                f_new, g_new = objective.value_and_grad(x_new)
                if (f_new <= fy + float(gy @ d) + 0.5 * L * float(d @ d)
                        + rel_slack * max(1.0, abs(fy))):
                    break
                L *= 2.0
            # Restart momentum when it points uphill (gradient-based restart).
            if float((y - x_new) @ (x_new - x)) > 0:
                t = 1.0
            t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
            y = x_new + ((t - 1) / t_new) * (x_new - x)
            x, fx, gx, t = x_new, f_new, g_new, t_new
            if np.array_equal(y, x):
                fy, gy = fx, gx
            else:
                fy, gy = objective.value_and_grad(y)
            opt = objective.optimality(x, gx)
            hist.add(it, fx + _l1_part(objective, x), opt)
            converged = opt <= tol
        return FitResult(coef=x, objective=float(fx + _l1_part(objective, x)),
                         grad_norm=opt, n_iter=it, n_grad_evals=objective.n_grad_evals,
                         n_hessp_evals=objective.n_hessp_evals, converged=bool(converged),
                         seconds=hist.elapsed(), solver=self.name,
                         message="converged" if converged else f"reached max_iter={max_iter}",
                         history=hist.rows)
