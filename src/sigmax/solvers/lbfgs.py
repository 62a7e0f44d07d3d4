"""L-BFGS through SciPy's L-BFGS-B, with value and gradient from one pass over ``X``."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from ..objective import LinearObjective
from .base import STALL_EPS, FitResult, History, Solver, register_solver, working_eps

#: Relative decrease below which L-BFGS-B stops (about 1.4e-14): progress is
#: then at the rounding level of a float64 objective, so stopping is right even
#: when the gradient is above ``tol``.
FTOL = 64 * np.finfo(float).eps


@register_solver
class LBFGS(Solver):
    """Limited-memory BFGS (SciPy's L-BFGS-B without bounds).

    Each iteration costs one or a few value+gradient evaluations (two matrix
    products with ``X`` each) and ``O(m p)`` vector work with ``m = 30``
    stored pairs. Stops when the max-norm of the gradient is ``<= tol``.
    """

    name = "lbfgs"

    def solve(self, objective: LinearObjective, w0: np.ndarray, *, tol: float,
              max_iter: int, verbose: int = 0) -> FitResult:
        self.check(objective)
        hist = History(self.name, verbose)
        last: dict[str, object] = {}

        def fun(w: np.ndarray) -> tuple[float, np.ndarray]:
            f, g = objective.value_and_grad(w)
            last["w"], last["f"], last["g"] = w, f, g
            return f, g

        f0, g0 = fun(w0)
        hist.add(0, f0, float(np.max(np.abs(g0))) if g0.size else 0.0)

        def callback(intermediate_result) -> None:
            g = last["g"]
            hist.add(len(hist.rows["iteration"]), float(intermediate_result.fun),
                     float(np.max(np.abs(g))))

        res = minimize(fun, w0, jac=True, method="L-BFGS-B", callback=callback,
                       options={"maxiter": max_iter, "maxfun": max(15000, 20 * max_iter),
                                "gtol": tol, "ftol": FTOL, "maxcor": 30})
        w = res.x
        if not np.array_equal(last["w"], w):
            fun(w)
        f, g = float(last["f"]), last["g"]
        gnorm = float(np.max(np.abs(g))) if g.size else 0.0
        # status 2: the line search found no decrease. At a gradient that small
        # the objective cannot be resolved further in its working precision
        # (float32 objectives reach this well above a tight tol).
        stalled = res.status == 2 and gnorm <= STALL_EPS * working_eps(objective)
        converged = res.status == 0 or gnorm <= tol or stalled
        return hist.result(objective, w, f, gnorm, res.nit, converged, str(res.message))
