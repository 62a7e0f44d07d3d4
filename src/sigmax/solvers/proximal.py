"""Accelerated proximal gradient (FISTA) with backtracking and adaptive restart.

For L1 and elastic-net penalties. The smooth part (loss + L2) is handled by
its gradient, the L1 part by soft-thresholding. Stops when the max-norm of the
minimum-norm subgradient (zero exactly at a KKT point) is ``<= tol``.
"""

from __future__ import annotations

import numpy as np

from ..objective import LinearObjective
from .base import STALL_EPS, FitResult, History, Solver, register_solver, working_eps


def _l1_part(objective: LinearObjective, w: np.ndarray) -> float:
    """The non-smooth (L1) part of ``f`` at ``w``; the L2 part is already in the smooth value."""
    if not objective.alpha or not objective.penalty.l1:
        return 0.0
    W, _ = objective.unpack(w)
    return objective.alpha * objective.penalty.l1 * float(np.abs(W).sum(dtype=np.float64))


def _momentum(x_new: np.ndarray, x: np.ndarray, y: np.ndarray, t: float
              ) -> tuple[np.ndarray, float]:
    """FISTA's extrapolation from ``x`` to ``x_new`` (taken from ``y``), with the
    O'Donoghue-Candes restart: momentum is dropped when it points uphill."""
    if float((y - x_new) @ (x_new - x)) > 0:
        t = 1.0
    t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
    return x_new + ((t - 1) / t_new) * (x_new - x), t_new


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
            y, t = _momentum(x_new, x, y, t)
            x, fx, gx = x_new, f_new, g_new
            if np.array_equal(y, x):
                fy, gy = fx, gx
            else:
                fy, gy = objective.value_and_grad(y)
            opt = objective.optimality(x, gx)
            hist.add(it, fx + _l1_part(objective, x), opt)
            converged = opt <= tol
        message = "converged" if converged else f"reached max_iter={max_iter}"
        return hist.result(objective, x, fx + _l1_part(objective, x), opt, it, converged, message)


@register_solver
class ProximalNewton(Solver):
    r"""Proximal Newton for L1 / elastic net on problems with few parameters.

    Each outer step builds the full Hessian :math:`H` of the smooth part (one
    pass over ``X``, as Newton-Cholesky) and minimizes the local model

    .. math:: q(u) = g^\top (u - w) + \tfrac12 (u - w)^\top H (u - w) + \lambda \|U\|_1

    with FISTA on the ``p x p`` model (no pass over ``X``: each inner step is a
    product with ``H``), then backtracks along ``u - w`` on the true objective
    (Armijo on :math:`F`, Lee, Sun & Saunders 2014). Near the optimum the step
    is a Newton step on the active set, so the outer iterations converge
    superlinearly where FISTA needs hundreds of passes over ``X``; this is the
    scheme of glmnet / liblinear's newGLMNET with a different inner solver.
    The inner solve stops at a tenth of the outer optimality measure.
    """

    name = "proximal-newton"
    supports_nonsmooth = True
    needs_hessian = True
    max_inner = 1000

    def solve(self, objective: LinearObjective, w0: np.ndarray, *, tol: float,
              max_iter: int, verbose: int = 0) -> FitResult:
        from scipy.linalg import eigvalsh

        hist = History(self.name, verbose)
        w = np.array(w0, dtype=float)
        f, g = objective.value_and_grad(w)
        F = f + _l1_part(objective, w)
        opt = objective.optimality(w, g)
        hist.add(0, F, opt)
        rel_slack = max(1e-15, 8 * working_eps(objective))
        converged, it, message = opt <= tol, 0, ""
        p = w.size
        while not converged and it < max_iter:
            it += 1
            H = objective.hessian(w)
            L = float(eigvalsh(H, subset_by_index=[p - 1, p - 1])[0]) if p > 1 else float(H[0, 0])
            L = max(L, 1e-12)
            # FISTA on the quadratic model, started at u = w.
            u, y_, t = w.copy(), w.copy(), 1.0
            inner_tol = max(0.1 * opt, 0.1 * tol)
            for inner in range(1, self.max_inner + 1):
                gq = g + H @ (y_ - w)
                u_new = objective.prox(y_ - gq / L, 1.0 / L)
                y_, t = _momentum(u_new, u, y_, t)
                u = u_new
                # The optimality test costs as much as a step: test every 5th.
                if inner % 5 == 0 and objective.optimality(u, g + H @ (u - w)) <= inner_tol:
                    break
            d = u - w
            # Predicted decrease of F along d (negative unless at the optimum).
            delta = float(g @ d) + _l1_part(objective, u) - _l1_part(objective, w)
            accepted, full = False, None
            if delta < 0:
                step = 1.0
                for _ in range(40):
                    w_new = w + step * d
                    f_new, g_new = objective.value_and_grad(w_new)
                    F_new = f_new + _l1_part(objective, w_new)
                    if full is None:
                        full = (w_new, f_new, g_new, F_new)
                    # Slack at the rounding level of F: below it no decrease is measurable.
                    if F_new <= F + 1e-4 * step * delta + rel_slack * max(1.0, abs(F)):
                        accepted = True
                        break
                    step *= 0.5
            if not accepted:
                # At the rounding level of F neither the predicted nor the actual
                # decrease can be seen; the full step still counts as progress
                # when it lowers the optimality measure without raising F.
                if full is None:  # the full step u was not evaluated yet
                    f_u, g_u = objective.value_and_grad(u)
                    full = (u, f_u, g_u, f_u + _l1_part(objective, u))
                w_new, f_new, g_new, F_new = full
                accepted = (F_new <= F + rel_slack * max(1.0, abs(F))
                            and objective.optimality(w_new, g_new) < opt)
            if not accepted:
                message = "no decrease measurable in working precision"
                converged = opt <= max(tol, STALL_EPS * working_eps(objective))
                break
            w, f, g, F = w_new, f_new, g_new, F_new
            opt = objective.optimality(w, g)
            hist.add(it, F, opt)
            converged = opt <= tol
        if not message:
            message = "converged" if converged else f"reached max_iter={max_iter}"
        return hist.result(objective, w, F, opt, it, converged, message)
