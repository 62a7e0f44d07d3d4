"""Newton solvers: a template of named steps with two inner solves.

Each iteration: evaluate value and gradient, check convergence, compute a
direction (:meth:`_Newton.direction`), backtrack along it (Armijo), repeat.

- ``newton-cholesky`` forms the full Hessian and solves with a Cholesky
  factorization (least squares when the Hessian is singular, as for the
  unpenalized symmetric softmax): few iterations, ``O(n p^2 + p^3)`` each.
- ``newton-cg`` solves the Newton system inexactly with conjugate gradients on
  Hessian-vector products (two products with ``X`` each), never forming the
  Hessian: for many parameters.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as la

from ..objective import LinearObjective
from .base import STALL_EPS, FitResult, History, Solver, register_solver, working_eps

#: Armijo sufficient-decrease constant.
ARMIJO = 1e-4
#: Halvings of the step before the line search gives up.
MAX_HALVINGS = 40


class _Newton(Solver):
    needs_hessian = True

    def direction(self, objective: LinearObjective, w: np.ndarray, g: np.ndarray,
                  gnorm: float) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def solve(self, objective: LinearObjective, w0: np.ndarray, *, tol: float,
              max_iter: int, verbose: int = 0) -> FitResult:
        self.check(objective)
        hist = History(self.name, verbose)
        w = np.array(w0, dtype=float)
        f, g = objective.value_and_grad(w)
        gnorm = float(np.max(np.abs(g))) if g.size else 0.0
        hist.add(0, f, gnorm)
        converged, message, it = gnorm <= tol, "", 0
        # Rounding level of f in the working precision (float32 objectives sum
        # float32 per-sample losses, so their value is only that exact).
        eps = working_eps(objective)
        while not converged and it < max_iter:
            it += 1
            step = self.direction(objective, w, g, gnorm)
            slope = float(g @ step)
            if not slope < 0:  # not a descent direction (numerical trouble): use -g
                step, slope = -g, -float(g @ g)
            t, accepted = 1.0, False
            for _ in range(MAX_HALVINGS):
                w_new = w + t * step
                f_new, g_new = objective.value_and_grad(w_new)
                gnorm_new = float(np.max(np.abs(g_new)))
                if f_new <= f + ARMIJO * t * slope:
                    accepted = True
                    break
                # At the rounding level of f a decrease cannot be seen; a smaller
                # gradient then still shows progress toward the optimum.
                if abs(f_new - f) <= 8 * eps * max(1.0, abs(f)) and gnorm_new < gnorm:
                    accepted = True
                    break
                t *= 0.5
            if not accepted:
                message = ("line search failed: no decrease measurable in the working "
                           "precision")
                converged = gnorm <= max(tol, STALL_EPS * eps)
                break
            w, f, g, gnorm = w_new, f_new, g_new, gnorm_new
            hist.add(it, f, gnorm)
            converged = gnorm <= tol
        if not message:
            message = "converged" if converged else f"reached max_iter={max_iter}"
        return FitResult(coef=w, objective=float(f), grad_norm=gnorm, n_iter=it,
                         n_grad_evals=objective.n_grad_evals,
                         n_hessp_evals=objective.n_hessp_evals, converged=bool(converged),
                         seconds=hist.elapsed(), solver=self.name, message=message,
                         history=hist.rows)


@register_solver
class NewtonCholesky(_Newton):
    """Newton's method with the full Hessian and a Cholesky solve."""

    name = "newton-cholesky"

    def direction(self, objective, w, g, gnorm):
        H = objective.hessian(w)
        # A relative ridge of 1e-12 keeps Cholesky defined on the flat
        # directions of the softmax (an unpenalized intercept shift): the
        # gradient has no component there, so the step is unchanged elsewhere.
        H[np.diag_indices_from(H)] += 1e-12 * max(float(np.max(np.diag(H))), 1e-300)
        try:
            return -la.cho_solve(la.cho_factor(H, lower=False, check_finite=False), g,
                                 check_finite=False)
        except la.LinAlgError:
            # Singular (flat directions of the unpenalized softmax, or collinear
            # features): the minimum-norm Newton step stays in the row space.
            return -la.lstsq(H, g, cond=1e-12, check_finite=False)[0]


@register_solver
class NewtonCG(_Newton):
    """Truncated Newton: conjugate gradients on Hessian-vector products.

    CG stops at relative residual ``eta = min(0.5, sqrt(||g||))`` (the
    Eisenstat-Walker forcing term that gives superlinear convergence) or on
    negative curvature, and is capped at 200 inner iterations.
    """

    name = "newton-cg"
    max_inner = 200

    def direction(self, objective, w, g, gnorm):
        eta = min(0.5, np.sqrt(np.linalg.norm(g)))
        x = np.zeros_like(g)
        r = -g.copy()
        p = r.copy()
        rr = float(r @ r)
        stop = (eta * np.linalg.norm(g)) ** 2
        for _ in range(self.max_inner):
            if rr <= stop:
                break
            Hp = objective.hessp(w, p)
            curv = float(p @ Hp)
            if curv <= 1e-14 * float(p @ p):
                # Non-positive curvature along p: return what we have (or -g).
                return x if x.any() else -g
            a = rr / curv
            x += a * p
            r -= a * Hp
            rr_new = float(r @ r)
            p *= rr_new / rr
            p += r
            rr = rr_new
        return x
