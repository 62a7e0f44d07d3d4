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
            noise = 8 * eps * max(1.0, abs(f))
            for _ in range(MAX_HALVINGS):
                w_new = w + t * step
                f_new, g_new = objective.value_and_grad(w_new)
                gnorm_new = float(np.max(np.abs(g_new)))
                # Armijo only where the predicted decrease is above the rounding
                # level of f: below it, comparing f values compares noise and
                # would accept (and wander) forever.
                if -t * slope > noise and f_new <= f + ARMIJO * t * slope:
                    accepted = True
                    break
                # Where a decrease cannot be seen, a much smaller gradient still
                # shows progress (near the optimum Newton steps shrink it
                # quadratically); a merely smaller one is rounding noise.
                if abs(f_new - f) <= noise and gnorm_new <= 0.5 * gnorm:
                    accepted = True
                    break
                if -t * slope <= noise:
                    break  # shorter steps can only be less measurable
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
        return hist.result(objective, w, f, gnorm, it, converged, message)


@register_solver
class NewtonCholesky(_Newton):
    """Newton's method with the full Hessian and a Cholesky solve."""

    name = "newton-cholesky"

    def direction(self, objective, w, g, gnorm):
        H = objective.hessian(w)
        # Solve in the Jacobi-scaled system D^-1/2 H D^-1/2 (D = diag H): its
        # diagonal is 1 whatever the feature scales, so the ridge below is
        # relative to each parameter's own curvature. A ridge relative to the
        # largest diagonal entry would swamp the intercept (curvature ~ 1) when
        # a feature takes values ~1e6 (curvature ~ 1e12) and stall Newton.
        dscale = np.sqrt(np.diag(H).copy())
        dscale[~(dscale > 0)] = 1.0  # all-zero feature columns: g is 0 there
        S = H / dscale[:, None]
        S /= dscale[None, :]
        # A relative ridge of 1e-12 keeps Cholesky defined on the flat
        # directions of the softmax (an unpenalized intercept shift): the
        # gradient has no component there, so the step is unchanged elsewhere.
        S[np.diag_indices_from(S)] += 1e-12
        rhs = g / dscale
        try:
            x = la.cho_solve(la.cho_factor(S, lower=False, check_finite=False), rhs,
                             check_finite=False)
        except la.LinAlgError:
            # Singular (flat directions of the unpenalized softmax, or collinear
            # features): the minimum-norm Newton step stays in the row space.
            x = la.lstsq(S, rhs, cond=1e-12, check_finite=False)[0]
        return -x / dscale


@register_solver
class NewtonCG(_Newton):
    """Truncated Newton: conjugate gradients on Hessian-vector products.

    CG stops at relative residual ``eta = min(0.5, sqrt(||g||))`` (the
    Eisenstat-Walker forcing term that gives superlinear convergence) or on
    negative curvature, and is capped at 200 inner iterations. With
    ``precondition = True`` CG is preconditioned by the Hessian's diagonal
    (``LinearObjective.hessian_diag``); off by default, see below.
    """

    name = "newton-cg"
    max_inner = 200
    #: Jacobi (diagonal) preconditioning of CG. Off: measured on the
    #: benchmark it cost more CG iterations than it saved (sparse_text 70 vs
    #: 54 Hessian products, many_classes 157 vs 205 but more outer steps,
    #: multilabel 15 vs 10), and each Newton step pays one more pass for it.
    precondition = False

    def direction(self, objective, w, g, gnorm):
        eta = min(0.5, np.sqrt(np.linalg.norm(g)))
        # Jacobi preconditioner: the Hessian's diagonal (one extra pass over
        # X per Newton step). Floored at a small share of its mean so that an
        # unused feature (zero column) or the flat softmax directions do not
        # make it singular.
        diag = (objective.hessian_diag(w) if self.precondition
                and hasattr(objective, "hessian_diag") else None)
        if diag is not None:
            floor = 1e-3 * float(np.mean(diag)) if diag.size else 0.0
            inv = 1.0 / np.maximum(diag, max(floor, 1e-300))
        else:
            inv = None
        x = np.zeros_like(g)
        r = -g.copy()
        z = r * inv if inv is not None else r
        p = z.copy()
        rz = float(r @ z)
        stop = (eta * np.linalg.norm(g)) ** 2
        for _ in range(self.max_inner):
            if float(r @ r) <= stop:
                break
            Hp = objective.hessp(w, p)
            curv = float(p @ Hp)
            if curv <= 1e-14 * float(p @ p):
                # Non-positive curvature along p: return what we have (or -g).
                return x if x.any() else -g
            a = rz / curv
            x += a * p
            r -= a * Hp
            z = r * inv if inv is not None else r
            rz_new = float(r @ z)
            p *= rz_new / rz
            p += z
            rz = rz_new
        return x
