"""Proximal solvers: FISTA with backtracking and adaptive restart, and proximal Newton.

For penalties with a non-smooth part (L1, elastic net, grouped lasso). The
smooth part (loss + the penalty's smooth part) is handled by its gradient, the
non-smooth part by the penalty's proximal operator (soft-thresholding for L1,
block soft-thresholding for the grouped lasso). Stops when the max-norm of the
minimum-norm subgradient (zero exactly at a KKT point) is ``<= tol``.
"""

from __future__ import annotations

import numpy as np

from ..objective import LinearObjective
from ._linalg import jacobi_scaled, solve_scaled
from .base import STALL_EPS, FitResult, History, Solver, hessian_cost, register_solver, working_eps
from .coordinates import Standardized
from .newton import _track_second_order

#: Multiply-adds of an outer step's Hessian that one more inner solve of
#: proximal Newton is worth (a small Cholesky solve and its Python, some tens
#: of microseconds): :meth:`ProximalNewton.inner_cap`.
INNER_SOLVE_WORTH = 1e5


def _nonsmooth_part(objective: LinearObjective, w: np.ndarray) -> float:
    """The non-smooth part of ``f`` at ``w``; the smooth part is already in the smooth value."""
    W, _ = objective.unpack(w)
    return objective.penalty_term.nonsmooth_value(W)


def _momentum(x_new: np.ndarray, x: np.ndarray, y: np.ndarray, t: float
              ) -> tuple[np.ndarray, float]:
    """FISTA's extrapolation from ``x`` to ``x_new`` (taken from ``y``), with the
    O'Donoghue-Candes restart: momentum is dropped when it points uphill."""
    if float((y - x_new) @ (x_new - x)) > 0:
        t = 1.0
    t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
    return x_new + ((t - 1) / t_new) * (x_new - x), t_new


class _Steps:
    r"""Where FISTA takes its steps: in ``w`` itself, or in standardized coordinates ``u``.

    With the map :math:`w = A u` of :mod:`sigmax.solvers.coordinates`
    (:math:`W_{j\cdot} = s_j U_{j\cdot}`, the intercept carrying the
    centring), a separable non-smooth part stays separable:
    :math:`\lambda \sum_j \|W_{j\cdot}\|_1 = \lambda \sum_j s_j \|U_{j\cdot}\|_1`,
    whose proximal operator is soft-thresholding with the per-row steps
    :math:`t s_j`. An exact zero in ``U`` is an exact zero in ``W``.
    """

    def __init__(self, objective: LinearObjective, coords: Standardized | None) -> None:
        self.objective, self.coords = objective, coords
        # the prox's step per coefficient row in u (broadcast over the outputs)
        self._rows = None if coords is None else coords.scale[:, None]

    @classmethod
    def of(cls, objective: LinearObjective, standardize: bool) -> _Steps:
        separable = objective.penalty_term.separable_weight is not None
        # Always (not only where X is badly scaled): FISTA's iterations grow with
        # any spread of the columns' curvatures (benchmarks/badly_scaled.py:
        # sparse_text at 5% of its rows, spread 26, L1: 240 iterations scaled,
        # max_iter=1000 plain).
        coords = (Standardized.of(objective, sparse=True, always=True)
                  if standardize and separable else None)
        return cls(objective, coords)

    def point(self, w: np.ndarray) -> np.ndarray:
        """The step space's point of ``w`` (a copy)."""
        return np.array(w, dtype=float) if self.coords is None else self.coords.point(w)

    def w(self, v: np.ndarray) -> np.ndarray:
        """The parameters ``w`` of the point ``v``."""
        return v if self.coords is None else self.coords.step(v)

    def grad(self, g: np.ndarray) -> np.ndarray:
        """The gradient ``g`` of ``f`` in ``w`` as a gradient in the step space."""
        return g if self.coords is None else self.coords.grad(g)

    def prox(self, v: np.ndarray, step: float) -> np.ndarray:
        """The proximal step of the non-smooth part in the step space."""
        return self.objective.prox(v, step if self._rows is None else step * self._rows)


@register_solver
class Proximal(Solver):
    """FISTA (Beck & Teboulle 2009) with the O'Donoghue-Candes gradient restart.

    The Lipschitz estimate ``L`` is found by backtracking and shrunk by 0.9 at
    every step so that the step size adapts to the local curvature.

    **Standardized coordinates** (``standardize``): where the penalty is
    separable (L1, elastic net) the iterates live in standardized coordinates
    ``u`` (``w = A u``, :class:`_Steps`, :mod:`sigmax.solvers.coordinates`;
    sparse ``X`` scaled, not centred), on any spread of the columns (one
    Lipschitz constant for all of them is what makes FISTA slow): the same
    problem and optimum, a gradient step that no longer sees the columns'
    units. The objective and the stopping test stay those of ``w``.
    Measured at ``C = 1`` with L1 (``python benchmarks/badly_scaled.py``):
    scikit-learn's digits as loaded 420 iterations where the plain steps
    stopped at ``max_iter=1000`` 2.6% above the optimum; R's airquality 218
    and birthwt 440 where they stopped 18% and 16% above it; the benchmark's
    sparse_text at 5% of its rows (CSR, spread 26) 240 where they stopped at
    ``max_iter`` 2.2e-7 above it.
    """

    name = "proximal"
    requires = ("prox",)
    #: Take the steps in standardized coordinates (sparse ``X``: scaled) where
    #: the penalty is separable (:mod:`sigmax.solvers.coordinates`).
    standardize = True

    def solve(self, objective: LinearObjective, w0: np.ndarray, *, tol: float,
              max_iter: int, verbose: int = 0) -> FitResult:
        self.check(objective)
        hist = History(self.name, verbose)
        steps = _Steps.of(objective, self.standardize)
        # x, y: points of the step space; wx: the parameters of x.
        x = steps.point(w0)
        wx = steps.w(x)
        fx, gx = objective.value_and_grad(wx)
        opt = objective.optimality(wx, gx)
        hist.add(0, fx + _nonsmooth_part(objective, wx), opt)
        # Initial curvature guess from the gradient at a nearby point.
        L = 1.0
        y, fy, gy = x, fx, steps.grad(gx)
        t = 1.0
        converged, it = opt <= tol, 0
        # Slack of the sufficient-decrease test: the rounding level of f in the
        # working precision (a float32 objective is only exact to ~1e-7).
        rel_slack = max(1e-12, 8 * working_eps(objective))
        while not converged and it < max_iter:
            it += 1
            L *= 0.9
            while True:
                x_new = steps.prox(y - gy / L, 1.0 / L)
                d = x_new - y
                w_new = steps.w(x_new)
                f_new, g_new = objective.value_and_grad(w_new)
                if (f_new <= fy + float(gy @ d) + 0.5 * L * float(d @ d)
                        + rel_slack * max(1.0, abs(fy))):
                    break
                L *= 2.0
            y, t = _momentum(x_new, x, y, t)
            x, wx, fx, gx = x_new, w_new, f_new, g_new
            if np.array_equal(y, x):
                fy, gy = fx, steps.grad(gx)
            else:
                fy, gy = objective.value_and_grad(steps.w(y))
                gy = steps.grad(gy)
            opt = objective.optimality(wx, gx)
            hist.add(it, fx + _nonsmooth_part(objective, wx), opt)
            converged = opt <= tol
        message = "converged" if converged else f"reached max_iter={max_iter}"
        return hist.result(objective, wx, fx + _nonsmooth_part(objective, wx), opt, it,
                           converged, message)


def _l1_weights(objective: LinearObjective) -> np.ndarray:
    """Per-parameter L1 weight of ``f`` (flat layout): the penalty's separable
    weight on the coefficients, 0 on the intercepts."""
    lam = np.zeros((objective.n_rows, objective.k))
    weight = objective.penalty_term.separable_weight
    if weight:
        lam[: objective.n_features] = weight
    return lam.ravel()


def _model_values(Dm: np.ndarray, g: np.ndarray, H: np.ndarray, lam: np.ndarray,
                  w: np.ndarray) -> np.ndarray:
    """``q(d) = g.d + d.H d / 2 + lam.|w + d|`` for each row ``d`` of ``Dm``."""
    return Dm @ g + 0.5 * ((Dm @ H) * Dm).sum(axis=1) + np.abs(w + Dm) @ lam


def l1_quadratic(H: np.ndarray, g: np.ndarray, lam: np.ndarray, w: np.ndarray, *,
                 tol: float, max_iter: int) -> tuple[np.ndarray, int]:
    r"""The step ``d`` minimizing :math:`q(d) = g^\top d + \tfrac12 d^\top H d + \sum_j
    \lambda_j |w_j + d_j|`, started at ``d = 0``.

    The feature-sign search of Lee, Battle, Raina & Ng (2007), an active-set
    method on :math:`u = w + d`: guess the signs of the nonzero entries of
    ``u`` (kept, or opposite to the gradient for a zero entry whose gradient
    exceeds its :math:`\lambda_j`), solve the smooth quadratic on those
    entries exactly (one small Cholesky solve), then keep the best point of
    the segment towards that solution among the points where an entry
    crosses zero (that entry becomes an exact zero). Every step lowers ``q``,
    and at most as many sign patterns as there are can be visited, so it ends
    at the exact minimizer; warm-started near the solution it needs one or
    two solves. The unknown is the step ``d``, not ``u``: the gradient
    :math:`g + H d` then has no cancellation (``H w`` is never formed), which
    keeps Newton's last digits. ``H`` must be positive semi-definite with
    ``g`` in its range.

    Returns the step and the number of solves. Stops when the largest
    minimum-norm subgradient of ``q`` is ``<= tol`` or after ``max_iter`` solves.
    """
    d = np.zeros_like(w)
    pen = lam > 0
    S, scale = jacobi_scaled(H)
    q_d = float(np.abs(w) @ lam)
    solves = 0
    while solves < max_iter:
        u = w + d
        grad = g + H @ d
        sign = np.sign(u)
        zero = pen & (sign == 0)
        # Minimum-norm subgradient, split: free entries |grad + lam sign(u)|,
        # zero entries max(|grad| - lam, 0) (their violation).
        free_res = np.abs(grad + lam * sign)
        free_res[zero] = 0.0
        viol = np.maximum(np.abs(grad) - lam, 0.0)
        viol[~zero] = 0.0
        worst_free, worst_zero = float(free_res.max()), float(viol.max())
        if max(worst_free, worst_zero) <= tol:
            break
        # While the free entries are not optimal, optimize them first; else
        # let zero entries with a violated condition enter: all at once, or
        # (when that gives no decrease: an entering entry may want the other
        # sign) the worst one alone, for which a decrease is guaranteed.
        # (A free step that cannot move means the free entries are optimal to
        # rounding: entering is tried next.)
        tries = []
        if worst_free > tol:
            tries.append(None)
        if worst_zero > 0:
            entering = viol > 0
            worst = np.zeros_like(zero)
            worst[int(np.argmax(viol))] = True
            if np.count_nonzero(entering) > 1:
                tries.append(entering)
            tries.append(worst)
        for enter in tries:
            solves += 1
            moved, d_new, q_new = _sign_step(H, S, scale, g, lam, pen, w, d, u, sign, q_d,
                                             grad, zero, enter)
            if moved:
                break
        if not moved:
            break  # no decrease left in floating point
        d, q_d = d_new, q_new
    return d, solves


def _sign_step(H, S, scale, g, lam, pen, w, d, u, sign, q_d, grad, zero, enter):
    """One feature-sign step of :func:`l1_quadratic`: ``(decreased, d_new, q(d_new))``.

    ``S`` and ``scale`` are the Jacobi-scaled ``H`` and its scale (:func:`jacobi_scaled`);
    ``enter`` marks the zero entries let in (``None``: none).
    """
    theta = sign
    act = ~zero
    if enter is not None:
        theta = sign.copy()
        theta[enter] = -np.sign(grad[enter])
        act |= enter
    # The minimizer over the free entries with these signs, as a step from d
    # (theta is 0 on unpenalized entries, where lam is 0 too).
    rhs = (grad + lam * theta) / scale
    if act.all():
        delta = -solve_scaled(S, rhs) / scale
    else:
        delta = np.zeros(d.size)
        # compress: the cheapest sub-matrix gather at these sizes (p ~ 30:
        # 1.7 us, np.ix_ 5.3 us; it runs a few times per outer step).
        delta[act] = -solve_scaled(S.compress(act, 0).compress(act, 1), rhs[act]) / scale[act]
    target = u + delta
    # Candidate points: the full step and every zero crossing of an entry
    # that is nonzero now (entering entries start at 0: no crossing).
    idx = np.flatnonzero(pen & ((sign * target < 0) | ((target == 0) & (sign != 0))))
    t_cross = u[idx] / (u[idx] - target[idx])
    inside = t_cross < 1
    idx, ts = idx[inside], t_cross[inside]
    Dm = np.empty((ts.size + 2, d.size))
    np.multiply(ts[:, None], delta, out=Dm[:-2])
    Dm[:-2] += d
    Dm[np.arange(idx.size), idx] = -w[idx]  # an entry at its crossing is an exact zero
    Dm[-2] = d + delta
    # One more candidate: the full step with every crossing entry at zero (the
    # orthant projection); often the lowest, it drops many entries in one solve.
    Dm[-1] = Dm[-2]
    Dm[-1, idx] = -w[idx]
    vals = _model_values(Dm, g, H, lam, w)
    best = int(np.argmin(vals))
    # A crossing right at u lowers q by less than its rounding, yet still
    # progresses: the entry leaves the free set.
    if float(vals[best]) < q_d or (best != idx.size and float(vals[best])
                                   <= q_d + 1e-13 * max(1.0, abs(q_d))):
        return True, Dm[best], float(vals[best])
    # No entry crosses zero and the entering ones take their guessed signs:
    # the full step is the exact minimizer of q on the closed orthant of
    # these signs, which holds the current point, so q
    # cannot rise, even where its decrease (about g^2/h near the optimum) is
    # below the rounding of q's value (dominated by lam.|u|). Taking it lets
    # proximal Newton finish its quadratic convergence (seen: an outer step
    # at a 2e-9 gradient with a model decrease of 1e-18 against q = 0.1).
    if idx.size == 0 and np.any(delta) and bool(np.all(theta[act] * target[act] >= 0)):
        return True, Dm[-2], min(q_d, float(vals[-2]))
    return False, d, q_d


@register_solver
class ProximalNewton(Solver):
    r"""Proximal Newton for L1 / elastic net (separable penalties) on problems with few parameters.

    Each outer step builds the full Hessian :math:`H` of the smooth part (one
    pass over ``X``, as Newton-Cholesky) and minimizes the local model

    .. math:: q(u) = g^\top (u - w) + \tfrac12 (u - w)^\top H (u - w) + \lambda \|U\|_1

    by an active-set method on the ``p x p`` model (:func:`l1_quadratic`:
    a few small Cholesky solves, no pass over ``X``), then backtracks along
    ``u - w`` on the true objective (Armijo on :math:`F`, Lee, Sun & Saunders
    2014). Near the optimum the step is a Newton step on the active set, so the
    outer iterations converge quadratically where FISTA needs hundreds of
    passes over ``X``; this is the scheme of glmnet / liblinear's newGLMNET
    with an active-set inner solver. The inner solve stops at a hundredth of
    the outer optimality measure or after :meth:`inner_cap` solves.
    """

    name = "proximal-newton"
    #: The inner solver works coordinate by coordinate (signs of entries).
    requires = ("prox", "separable")
    needs_hessian = True
    #: Bounds of :meth:`inner_cap`, the inner solves allowed per outer step.
    min_inner, max_inner = 5, 40

    def inner_cap(self, objective: LinearObjective) -> int:
        """Inner solves allowed per outer step: one per :data:`INNER_SOLVE_WORTH`
        multiply-adds of the outer step's Hessian (:func:`~sigmax.solvers.base.hessian_cost`),
        between :attr:`min_inner` and :attr:`max_inner`.

        An inexact inner solution is still a descent direction (every inner
        step lowers the model), but where the model's signs change a lot (a
        softmax, many labels, one-hot columns) a few solves leave it far from
        its minimizer, and each outer step then buys little for its Hessian.
        ``python benchmarks/proximal_newton_inner.py`` (L1, one thread): the
        benchmark's credit_onehot (one-hot text columns, every level kept) did
        not converge with 5 (its free set became singular: stopped 2.1e-4
        above the optimum) and does in 6 steps with the rule's 40; movies
        (multi-label) 56 -> 9 steps, scikit-learn's digits 0-4 as loaded 41 ->
        11, R's diamonds 37 -> 21 (one thread: 23 -> 13 ms, 298 -> 191 ms, 276
        -> 130 ms, 769 -> 466 ms); breast_cancer_l1 (a Hessian of ``569 x 31^2``
        multiply-adds) keeps 5.
        """
        cost = hessian_cost(objective)[1]
        return int(np.clip(cost / INNER_SOLVE_WORTH, self.min_inner, self.max_inner))
    def solve(self, objective: LinearObjective, w0: np.ndarray, *, tol: float,
              max_iter: int, verbose: int = 0) -> FitResult:
        self.check(objective)
        hist = History(self.name, verbose)
        w = np.array(w0, dtype=float)
        _track_second_order(objective)
        f, g = objective.value_and_grad(w)
        F = f + _nonsmooth_part(objective, w)
        opt = objective.optimality(w, g)
        hist.add(0, F, opt)
        rel_slack = max(1e-15, 8 * working_eps(objective))
        lam = _l1_weights(objective)
        inner_cap = self.inner_cap(objective)
        converged, it, message = opt <= tol, 0, ""
        while not converged and it < max_iter:
            it += 1
            H = objective.hessian(w, for_step=True)  # the model's curvature: float32 grams
            d, _ = l1_quadratic(H, g, lam, w, tol=max(0.01 * opt, 0.1 * tol),
                                max_iter=inner_cap)
            u = w + d
            # Predicted decrease of F along d (negative unless at the optimum).
            delta = float(g @ d) + _nonsmooth_part(objective, u) - _nonsmooth_part(objective, w)
            accepted, full = False, None
            if delta < 0:
                step = 1.0
                for _ in range(40):
                    w_new = w + step * d
                    f_new, g_new = objective.value_and_grad(w_new)
                    F_new = f_new + _nonsmooth_part(objective, w_new)
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
                    full = (u, f_u, g_u, f_u + _nonsmooth_part(objective, u))
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
