r"""One validated data term for a whole regularization path: ``X`` read once, many ``C``.

``estimator.fit`` validates ``X`` (a pass for NaN and the value range),
encodes ``y``, builds the data term (the dense partition pass sums its linear
part: one more pass) and evaluates the starting point (a third pass) on every
call. Along a path only ``C`` changes, and ``C`` enters the objective only
through the penalty's weight :math:`\alpha = 1 / (C S)`
(:mod:`sigmax.objective`): :class:`PathFitter` does the validation, the
encoding and the data term once, and at each ``C`` wraps a new
:class:`~sigmax.objective.Objective` around the same data term. The data
term remembers its last value and gradient (:class:`_LastPoint`): the next
``C`` starts from the previous solution, where the data term's value,
gradient (and the Newton state kept by the NumPy term) are already known, so
its first evaluation reads nothing. Each point is still the same solver
called with the same objective, tolerance and iteration cap as
``estimator.fit`` would use.

Only where ``fit`` itself would take that route: NumPy / CSR input on the
NumPy backend, a penalty with a finite weight, features that need no
power-of-two rescaling; :meth:`PathFitter.build` says None otherwise and the
caller fits through ``estimator.fit``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _parallel, _path_newton
from ._dtypes import DTYPES
from .backends import resolve_backend
from .dataterms import in_memory
from .estimators._base import (
    LinearClassifierBase,
    _checked,
    _checked_range,
    _power_of_two_shift,
    stop_advice,
)
from .objective import Objective
from .solvers import SOLVERS, FitResult, Solver, choose_solver
from .solvers.newton import NewtonCG

__all__ = ["BLOCK_RULE", "PathFitter"]

#: The softmax path switches to block-preconditioned CG once the previous point's plain
#: CG took this many times the Hessian products that building the blocks costs. Lower
#: switches earlier: on a digits fold (tol 1e-7) 0 cuts the path's products from 304 to
#: 180 but not its time, the builds costing what they save
#: (``python benchmarks/path_points.py digits --block-rule 0``).
BLOCK_RULE = 2.0


class _LastPoint:
    """A data term that remembers its last two ``value_and_grad`` (everything else delegated).

    Two: the previous solution and the predicted start of the next point
    (:meth:`PathFitter.start`), whichever the solve then starts from. The
    objective scales the gradient it receives in place: a remembered one is
    handed out as a copy.
    """

    def __init__(self, data: Any) -> None:
        self._data = data
        self._last: list[tuple[np.ndarray, float, np.ndarray]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._data, name)

    def value_and_grad(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        for last in self._last:
            if np.array_equal(last[0], w):
                return last[1], last[2].copy()
        value, grad = self._data.value_and_grad(w)
        self._last = [(np.array(w, copy=True), value, grad.copy()), *self._last[:1]]
        return value, grad


class PathFitter:
    """Fits of one estimator at many ``C`` over one validated data term.

    Use :meth:`build` (None where ``estimator.fit`` takes another route), then
    :meth:`fit` once per ``C``. The estimator ends each :meth:`fit` fitted at
    that ``C`` (``coef_``, ``intercept_``, ``classes_``, ``fit_record_``, ...),
    as ``estimator.fit`` leaves it.
    """

    def __init__(self, est: LinearClassifierBase, data: Any, k: int) -> None:
        self.est = est
        self.data = _LastPoint(data)
        self.k = k
        self.w: np.ndarray | None = None
        # The solution before the last one and its C (PathFitter.start).
        self._before: tuple[np.ndarray, float] | None = None
        self._plain_cg: int | None = None  # CG products of the last plain Newton-CG point
        self._block = False  # block-preconditioned Newton-CG from here on
        self._C = np.nan  # C of the last fit

    @classmethod
    def build(cls, est: LinearClassifierBase, X: Any, y: Any,
              sample_weight: Any = None) -> PathFitter | None:
        """Validate and encode once, as ``est.fit`` does; None where ``fit`` goes elsewhere."""
        if type(est).fit is not LinearClassifierBase.fit or est.penalty is None:
            return None
        est._validate_params()
        backend = resolve_backend(est.backend, X, est.device)
        if backend.name != "numpy":
            return None
        _checked.entry = None
        X, y, sample_weight = backend.prepare_fit(est, X, y, sample_weight, est.device)
        if _power_of_two_shift(X, _checked_range(X)):
            return None  # huge values: fit rescales X (and the penalty) first
        Y, classes, k = est._encode_targets(y, n_samples=X.shape[0])
        est.classes_ = classes
        weights = est._fit_weights(X, Y, sample_weight)
        data = in_memory(est._loss(), X, Y, weights, k, bool(est.fit_intercept))
        if not data.weight_total > 0:
            return None  # fit raises its own message
        return cls(est, data, k)

    def choose(self, objective: Objective) -> tuple[str, Solver]:
        """The solver of one point: the estimator's, or per point for ``solver="auto"``.

        ``"auto"`` takes :func:`~sigmax.solvers.choose_solver`'s pick, but a
        smooth penalty goes to Newton-CG where that pick is L-BFGS: a warm
        start lies next to the optimum, where Newton converges quadratically
        and L-BFGS would rebuild its curvature memory from nothing (digits
        fold, ``np.logspace(-3, 2, 8)``: 4-6 Newton steps per point against
        26-45 L-BFGS iterations), and the first point, the most regularized,
        is well conditioned (digits fold at ``C = 1e-3`` from zero: 6 steps, 26
        products, 17 ms, against 32 L-BFGS evaluations, 30 ms; many_classes at
        10%: 0.9-1.2 s against 1.5-1.6 s). On the symmetric softmax
        (dense ``X``, L2) Newton-CG's CG is block-preconditioned
        (:mod:`sigmax._path_newton`) once the previous point's plain CG took at
        least twice the products that building the blocks costs, and from then
        on along the path (CG's products grow with ``C``).
        """
        requested = self.est.solver
        if requested != "auto":
            return requested, SOLVERS[requested]
        name = choose_solver(objective)
        if not (objective.penalty_term.smooth and name == "lbfgs"):
            return name, SOLVERS[name]
        if not self._block and self._plain_cg is not None and _path_newton.applies(objective):
            h = _path_newton.curvature_weights(objective, self.w)
            if self._plain_cg >= BLOCK_RULE * _path_newton.block_cost(objective, h):
                self._block = True
                return "newton-cg", _path_newton.BlockNewtonCG(h)
        if self._block:
            return "newton-cg", _path_newton.BlockNewtonCG()
        return "newton-cg", SOLVERS["newton-cg"]

    def start(self, objective: Objective, C: float) -> np.ndarray:
        r"""The start of the fit at ``C``: the last solution, or a secant prediction from it.

        With an L2 penalty the solution moves nearly linearly in the penalty
        weight :math:`\lambda \propto 1 / C` where the data dominate (the
        weakly regularized, expensive points: :math:`w(\lambda) \approx w^* -
        \lambda H^{-1} w^*`). From the last two solutions the secant in
        :math:`1/C`,

        .. math:: w_{j-1} + t\,(w_{j-1} - w_{j-2}), \qquad
                  t = \frac{1/C_j - 1/C_{j-1}}{1/C_{j-1} - 1/C_{j-2}},

        starts nearer the new optimum: on dense_multinomial's first training
        fold (``np.logspace(-3, 2, 8)``, :math:`t = 0.19`, tol 1e-5) the
        starting gradient was 1.9-11x smaller than at the last solution, and
        the Newton iterations per point went from 5 4 3 2 1 1 0 0 to
        5 4 2 1 0 0 0 0 (``python benchmarks/path_points.py dense_multinomial``).
        It is taken where its objective at ``C`` is lower than the last
        solution's (one evaluation, which the solve then reuses), and only
        with a smooth penalty (a secant would fill the zeros of an L1 fit).
        """
        if self._before is None or not objective.penalty_term.smooth:
            return self.w
        w_a, C_a = self._before
        step = 1.0 / self._C - 1.0 / C_a
        t = (1.0 / C - 1.0 / self._C) / step if step else np.nan  # NaN: a C without a pair
        if not 0.0 < t <= 1.0:  # C not moving on the same way, or a jump past the last step
            return self.w
        guess = self.w + t * (self.w - w_a)
        f_last, _ = objective.value_and_grad(self.w)
        f_guess, _ = objective.value_and_grad(guess)
        return guess if f_guess < f_last else self.w

    @property
    def weight_total(self) -> float:
        """:math:`S`, the total sample weight (the objective divides by ``C S``)."""
        return float(self.data.weight_total)

    def start_from(self, coef: np.ndarray, intercept: np.ndarray) -> None:
        """Start the next fit from these ``coef_`` / ``intercept_`` (estimator layout)."""
        est = self.est
        est.coef_, est.intercept_ = coef, intercept
        self._before, self._C = None, np.nan  # no secant through a start from elsewhere
        P = np.zeros((self.data.n_rows, self.k))
        W = est._coef_matrix()
        if W.shape != (self.data.n_features, self.k):
            self.w = None
            return
        P[: self.data.n_features] = W
        if self.data.fit_intercept:
            P[self.data.n_features] = est._intercept_vector()
        self.w = P.ravel()

    def fit(self, C: float) -> FitResult:
        """Fit at ``C`` from the last solution (zero at first): ``est.fit``'s solve.

        The solver is the estimator's; with ``solver="auto"`` it is chosen per
        point (:meth:`choose`).
        """
        est = self.est
        est.C = float(C)
        objective = Objective(self.data, C=float(C), penalty=est._effective_penalty())
        name, solver_obj = self.choose(objective)
        solver_obj.check(objective)
        # Conjugate gradients need a few digits of each Hessian product: float32
        # ones on the path's float64 data term (sigmax.dataterms.float32_hessp).
        self.data.float32_hessp(isinstance(solver_obj, NewtonCG))
        # Many solves over this data term: Newton-CG's inner solves compiled where X is
        # one block (sigmax.solvers.compiled_cg), numba's load paid once per process.
        self.data.compiled_passes(isinstance(solver_obj, NewtonCG))
        eps = np.finfo(DTYPES[est.dtype]).eps
        tol = max(float(est.tol), 50 * eps) if est.dtype == "float32" else float(est.tol)
        # compiled_blas: the compiled passes' products run on SciPy's OpenBLAS.
        with _parallel.serial_blas(), _parallel.compiled_blas(), np.errstate(under="ignore"):
            w0 = objective.start() if self.w is None else self.start(objective, float(C))
            result = solver_obj.solve(objective, w0, tol=tol, max_iter=int(est.max_iter),
                                      verbose=int(est.verbose))
        self._before = None if self.w is None else (self.w, self._C)
        self._C = float(C)
        self.w = result.coef
        # Plain Newton-CG's products here predict the next point's (they grow with C).
        self._plain_cg = result.n_hessp_evals if solver_obj is SOLVERS["newton-cg"] else None
        est._unpack(objective, result)
        if not result.converged:
            warnings.warn(
                f"solver={name!r} did not converge at C={C:g}: {result.message}; the "
                f"gradient norm is {result.grad_norm:.2e} > tol={tol:.1e} after "
                f"{result.n_iter} iterations. "
                f"{stop_advice(result, int(est.max_iter), est.dtype)}.",
                ConvergenceWarning, stacklevel=3)
        return result
