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
from .base import STALL_EPS, FitResult, History, Solver, hessian_cost, register_solver, working_eps
from .coordinates import IDENTITY, Standardized
from .l1_model import l1_quadratic
from .newton import _track_second_order

#: Multiply-adds of an outer step's Hessian that one more inner solve of
#: proximal Newton is worth (a small Cholesky solve and its Python, some tens
#: of microseconds): :meth:`ProximalNewton.inner_cap`.
INNER_SOLVE_WORTH = 1e5
#: Largest change of a logit along proximal Newton's second try, where the line
#: search along the model's step found no decrease (:func:`_within_reach`).
MAX_LOGIT_STEP = 20.0


def _within_reach(objective: LinearObjective, d: np.ndarray) -> np.ndarray:
    """``d`` shortened so that no logit moves by more than :data:`MAX_LOGIT_STEP`
    (``d`` itself where none does): proximal Newton's second try where the line
    search along ``d`` found no decrease.

    Where a direction has almost no curvature but a gradient (a group of rows
    nearly separated by one coefficient, which L1 alone holds only far out),
    the model's minimizer lies at ``|g| / h``: R's Ecdat Males with a one-hot
    column per person (4,360 x 581, standardized, C = 1) gave a step so long
    that forty halvings of the line search (a factor 1e12) could not bring it
    into reach, and the fit stopped after 8 steps 54% above the optimum. The
    loss is linear in a logit that far out, so the quadratic model says nothing
    about such a step; one pass over ``X`` (``X d``) measures it (``python
    benchmarks/fixed_effects_l1.py [--former]``: 5 of 24 such fits stopped
    short before this and the model's coordinate-descent fallback, none now).
    Not the first try: long steps that are right (AER's CreditCard as loaded,
    nearly separated by its expenditure, L1 at C = 10) took 21 steps, and
    1,000 without converging when every step was shortened so (``python
    benchmarks/one_hot_l1.py --shorten-always``).
    """
    # abs() and .max() of the array where it lives (NumPy, a torch tensor, dask)
    reach = float(abs(objective.logits(d, offset=False)).max())
    return d * (MAX_LOGIT_STEP / reach) if reach > MAX_LOGIT_STEP else d


def _line_search(objective: LinearObjective, w: np.ndarray, g: np.ndarray, F: float,
                 opt: float, d: np.ndarray, rel_slack: float) -> tuple | None:
    """Backtracking (Armijo on ``F``) along ``d`` from ``w``: ``(w, f, g, F)`` of the point
    taken, or None where no decrease is measurable (see :meth:`ProximalNewton.solve`)."""
    u = w + d
    # Predicted decrease of F along d (negative unless at the optimum).
    delta = float(g @ d) + _nonsmooth_part(objective, u) - _nonsmooth_part(objective, w)
    full = None
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
                return w_new, f_new, g_new, F_new
            step *= 0.5
    # At the rounding level of F neither the predicted nor the actual decrease can
    # be seen; the full step still counts as progress when it lowers the
    # optimality measure without raising F.
    if full is None:  # the full step u was not evaluated yet
        f_u, g_u = objective.value_and_grad(u)
        full = (u, f_u, g_u, f_u + _nonsmooth_part(objective, u))
    if full[3] <= F + rel_slack * max(1.0, abs(F)) and objective.optimality(full[0], full[2]) < opt:
        return full
    return None


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
        # the map's point (A^-1), step (A) and gradient (A^T): the identity
        # for the plain steps
        A = coords or IDENTITY
        self.point, self.w, self.grad = A.point, A.step, A.grad
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
    float64_evaluations = True
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
        ``python benchmarks/proximal_newton_inner.py`` (L1, one thread, 5
        solves against the rule's 40): the benchmark's credit_onehot 15 -> 6
        steps (16.7 -> 8.9 ms), movies (multi-label) 56 -> 9 (144 -> 50 ms),
        scikit-learn's digits 0-4 as loaded 41 -> 11 (245 -> 123 ms), R's
        diamonds 37 -> 21 (716 -> 432 ms); breast_cancer_l1 (a Hessian of
        ``569 x 31^2`` multiply-adds) keeps 5.
        """
        cost = hessian_cost(objective)[1]
        return int(np.clip(cost / INNER_SOLVE_WORTH, self.min_inner, self.max_inner))

    def solve(self, objective: LinearObjective, w0: np.ndarray, *, tol: float,
              max_iter: int, verbose: int = 0) -> FitResult:
        self.check(objective)
        objective = self.working_objective(objective)
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
            # The model's curvature in float64: float32 grams leave the flat
            # directions of collinear columns (every level of a one-hot column
            # next to the intercept, which L1 alone does not pin) slightly
            # indefinite, and the model's solves then run off along them with
            # a decrease that is only rounding (R's carData Mroz, one-hot
            # wc / hc, L1 at C = 1: stopped after 3 steps).
            H = objective.hessian(w)
            d, _ = l1_quadratic(H, g, lam, w, tol=max(0.01 * opt, 0.1 * tol),
                                max_iter=inner_cap)
            found = _line_search(objective, w, g, F, opt, d, rel_slack)
            if found is None and (short := _within_reach(objective, d)) is not d:
                found = _line_search(objective, w, g, F, opt, short, rel_slack)
            if found is None:
                message = "no decrease measurable in working precision"
                converged = opt <= max(tol, STALL_EPS * working_eps(objective))
                break
            w, f, g, F = found
            opt = objective.optimality(w, g)
            hist.add(it, F, opt)
            converged = opt <= tol
        if not message:
            message = "converged" if converged else f"reached max_iter={max_iter}"
        return hist.result(objective, w, F, opt, it, converged, message)
