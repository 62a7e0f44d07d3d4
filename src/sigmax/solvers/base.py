"""Solver contract, fit record and the solver registry.

A solver takes a :class:`~sigmax.objective.LinearObjective`, a starting point,
a tolerance and an iteration cap, and returns a frozen :class:`FitResult`. It
never touches an estimator. Each solver declares what it needs of the
penalty (``requires``: capabilities of :mod:`sigmax.penalties.base`, such as
``"smooth"`` or ``"separable"``) and whether it needs Hessians
(``needs_hessian``), so that a wrong pairing fails before any work, with the
fix in the message, and ``solver="auto"`` only picks solvers that fit.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from ..objective import LinearObjective
from ..penalties import CAPABILITIES, Penalty
from .conditioning import RARE_CLASS_SPREAD, class_spread, preconditions
from .coordinates import badly_scaled

__all__ = ["SOLVERS", "FitResult", "History", "Solver", "choose_solver", "compatible_solvers",
           "hessian_products", "register_solver", "working_eps"]


@dataclass(frozen=True)
class FitResult:
    """What a solver returns: the solution and how it got there.

    Attributes
    ----------
    coef : ndarray of shape (n_params,)
        Flat parameters in the :class:`~sigmax.objective.LinearObjective` layout.
    objective : float
        Final value of the normalized objective ``f`` (see :mod:`sigmax.objective`).
    grad_norm : float
        Max-norm of the (minimum-norm sub)gradient at ``coef``.
    n_iter : int
        Outer iterations.
    n_grad_evals, n_hessp_evals : int
        Value+gradient evaluations and Hessian(-vector) evaluations.
    converged : bool
        ``grad_norm <= tol`` (or no further decrease possible in float64).
    seconds : float
        Wall time of the solve.
    solver : str
    message : str
    history : dict of lists
        Per iteration: ``iteration``, ``objective``, ``grad_norm``, ``seconds``.
    n_float32_iter : int
        The first iterations, taken with float32 products on a float64 problem
        (:class:`~sigmax.solvers.lbfgs.LBFGS`, :mod:`sigmax.dataterms.float32_twin`):
        their history rows hold the values as float32 products give them (to
        about 1e-7 relative), except the last, re-evaluated in float64.
    n_sampled_hessp_evals : int
        Hessian-vector products over a random sample of the rows
        (:class:`~sigmax.solvers.newton.NewtonCG`'s subsampled Hessian,
        :mod:`sigmax.dataterms.row_sample`), not counted in ``n_hessp_evals``.
    hessp_sample_share : float
        The share of the rows those products read (0 where none was sampled).
    """

    coef: np.ndarray
    objective: float
    grad_norm: float
    n_iter: int
    n_grad_evals: int
    n_hessp_evals: int
    converged: bool
    seconds: float
    solver: str
    message: str = ""
    history: dict[str, list[float]] = field(default_factory=dict)
    n_float32_iter: int = 0
    n_sampled_hessp_evals: int = 0
    hessp_sample_share: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the coefficients)."""
        out = asdict(self)
        out.pop("coef")
        return out


def hessian_products(rec: Any) -> float:
    """Hessian products of a fit record in full products: a product over a sample
    of the rows counts as the share of the rows it read (``rec`` of any solver:
    missing counters count 0)."""
    full = getattr(rec, "n_hessp_evals", 0) or 0
    sampled = getattr(rec, "n_sampled_hessp_evals", 0) or 0
    return float(full + sampled * (getattr(rec, "hessp_sample_share", 0.0) or 0.0))


class History:
    """Collect one row per iteration; prints when ``verbose``."""

    def __init__(self, solver: str, verbose: int = 0) -> None:
        self.solver = solver
        self.verbose = verbose
        self.start = time.perf_counter()
        self.rows: dict[str, list[float]] = {
            "iteration": [], "objective": [], "grad_norm": [], "seconds": []}

    def add(self, iteration: int, objective: float, grad_norm: float) -> None:
        t = time.perf_counter() - self.start
        for key, val in zip(self.rows, (iteration, objective, grad_norm, t)):
            self.rows[key].append(float(val))
        if self.verbose:
            print(f"[{self.solver}] iter {iteration:4d}  objective {objective:.10g}  "
                  f"grad {grad_norm:.3e}  {t:.3f}s")

    def amend(self, objective: float, grad_norm: float) -> None:
        """The last row's iterate re-evaluated (in float64 after float32 products)."""
        if self.rows["objective"]:
            self.rows["objective"][-1] = float(objective)
            self.rows["grad_norm"][-1] = float(grad_norm)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def result(self, objective: Any, coef: np.ndarray, value: float, grad_norm: float,
               n_iter: int, converged: bool, message: str, n_float32_iter: int = 0
               ) -> FitResult:
        """The :class:`FitResult` of a finished solve: counters from ``objective``,
        time and history from this record."""
        return FitResult(coef=coef, objective=float(value), grad_norm=float(grad_norm),
                         n_iter=int(n_iter), n_grad_evals=objective.n_grad_evals,
                         n_hessp_evals=objective.n_hessp_evals, converged=bool(converged),
                         seconds=self.elapsed(), solver=self.solver, message=message,
                         history=self.rows, n_float32_iter=int(n_float32_iter),
                         n_sampled_hessp_evals=int(getattr(objective, "n_sampled_hessp_evals", 0)),
                         hessp_sample_share=float(getattr(objective, "hessp_sample_share", 0.0)))


class Solver:
    """Base class: subclasses set the class attributes and implement :meth:`solve`.

    ``requires`` lists the penalty capabilities the solver relies on (keys of
    :data:`sigmax.penalties.CAPABILITIES`); they are checked against the
    penalty as it enters the objective (``objective.penalty_term``: with
    ``C = inf`` any penalty is absent, hence smooth).
    """

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ("smooth",)
    needs_hessian: ClassVar[bool] = False
    #: Whether a float32 fit runs on the objective's float64 view from its first step
    #: (:meth:`~sigmax.objective.Objective.in_float64`): proximal Newton, whose L1
    #: model reads the gradient to its last digits (:mod:`sigmax.dataterms.float64_view`).
    float64_evaluations: ClassVar[bool] = False

    def working_objective(self, objective: Any) -> Any:
        """The objective this solver evaluates: ``objective.in_float64()`` where
        :attr:`float64_evaluations`, else ``objective`` itself."""
        return objective.in_float64() if self.float64_evaluations else objective

    @property
    def supports_nonsmooth(self) -> bool:
        """True when the solver does not need a smooth penalty."""
        return "smooth" not in self.requires

    def missing(self, penalty: Penalty) -> list[str]:
        """The capabilities this solver needs that ``penalty`` lacks (empty: compatible)."""
        have = penalty.capabilities
        return [cap for cap in self.requires if cap not in have]

    def check(self, objective: LinearObjective) -> None:
        """Fail early, with the fix, when this solver cannot handle ``objective``."""
        lack = self.missing(objective.penalty_term)
        if lack:
            able = compatible_solvers(objective.penalty_term)
            needs = " and ".join(CAPABILITIES.get(cap, cap) for cap in lack)
            raise ValueError(
                f"solver={self.name!r} cannot take penalty={objective.penalty.name!r} "
                f"(needs {needs}); use solver='auto' or one of {able}.")

    def solve(self, objective: LinearObjective, w0: np.ndarray, *, tol: float,
              max_iter: int, verbose: int = 0) -> FitResult:  # pragma: no cover
        raise NotImplementedError


#: Evaluation counters of an objective, carried over to its float64 view by :func:`widened`.
_COUNTERS = ("n_grad_evals", "n_value_evals", "n_hessp_evals", "n_sampled_hessp_evals")


def widened(objective: Any) -> Any:
    """``objective.in_float64()`` with ``objective``'s evaluation counters carried over,
    or None where that is ``objective`` itself (float64 already, or no float64 view).

    For a float32 solve that float32 can no longer resolve: it goes on in float64
    on the same data (:mod:`sigmax.dataterms.float64_view`) instead of stopping
    short, and its :class:`FitResult` still counts every evaluation.
    """
    wider = objective.in_float64()
    if wider is objective:
        return None
    for name in _COUNTERS:
        setattr(wider, name, getattr(wider, name, 0) + getattr(objective, name, 0))
    return wider


def in_float64_at(objective: Any, w: np.ndarray, hist: History, second_order: bool = False
                  ) -> tuple[Any, float, np.ndarray, float] | None:
    """A float32 solve going on in float64 at ``w``: ``(objective's float64 view, f, g,
    max|g|)``, the last history row amended to them; None where ``objective`` has no
    such view (:func:`widened`). ``second_order``: the view keeps its Hessian state from
    this evaluation on (Newton's next step reads it)."""
    wider = widened(objective)
    if wider is None:
        return None
    track = getattr(wider, "track_second_order", None)
    if second_order and track is not None:
        track()
    f, g = wider.value_and_grad(w)
    gnorm = float(np.max(np.abs(g))) if g.size else 0.0
    hist.amend(f, gnorm)
    return wider, f, g, gnorm


def working_eps(objective: Any) -> float:
    """Machine epsilon of the precision ``objective`` computes in (float64 if unknown).

    A float32 objective cannot resolve changes of its value below about this
    epsilon times its size, so the solvers' "no measurable decrease" rules
    scale with it.
    """
    dtype = getattr(objective, "dtype", np.float64)
    try:
        return float(np.finfo(dtype).eps)
    except (TypeError, ValueError):  # e.g. a torch dtype
        small = getattr(dtype, "itemsize", 8) <= 4
        return float(np.finfo(np.float32 if small else np.float64).eps)


#: A line search that cannot find a decrease ends the solve as converged when
#: the gradient is below this many working epsilons: the objective can then no
#: longer be resolved in its working precision.
STALL_EPS = 1e3

#: Registry of solver instances by name (filled by the solver modules).
SOLVERS: dict[str, Solver] = {}


def register_solver(cls: type[Solver]) -> type[Solver]:
    """Class decorator: add one instance of ``cls`` to :data:`SOLVERS`."""
    unknown = [cap for cap in cls.requires if cap not in CAPABILITIES]
    if unknown:
        raise ValueError(f"Solver {cls.name!r} requires unknown penalty capabilities "
                         f"{unknown}; known: {sorted(CAPABILITIES)}.")
    SOLVERS[cls.name] = cls()
    return cls


def compatible_solvers(penalty: Penalty) -> list[str]:
    """Names of the registered solvers that can take ``penalty``, sorted."""
    return sorted(n for n, s in SOLVERS.items() if not s.missing(penalty))


#: Above this many parameters in one Hessian block (``D = d + 1`` per output
#: for losses with a block-diagonal Hessian, all ``D k`` for the softmax) the
#: block (``b^2`` memory, ``b^3`` Cholesky) costs more than the iterations it
#: saves over L-BFGS.
NEWTON_CHOLESKY_MAX_PARAMS = 400
#: Below this many multiply-adds per Hessian (:func:`hessian_cost`) one
#: Hessian costs a few milliseconds: Newton-Cholesky's few iterations then
#: beat L-BFGS at any conditioning. Above it, on well-scaled features, L-BFGS
#: wins (measured on the benchmark's dense_binary, n=50k p=51: L-BFGS
#: 0.025 s, Newton-Cholesky 0.118 s).
NEWTON_CHOLESKY_CHEAP = 5e7
#: Sparse inputs with fewer stored values solve in milliseconds either way;
#: L-BFGS (which also stops on a float64-level decrease) is kept there.
SPARSE_NEWTON_MIN_NNZ = 100_000
def hessian_cost(objective: LinearObjective) -> tuple[int, float]:
    """Size of the largest block of the full Hessian and multiply-adds to build it.

    With ``D = d (+1)`` rows per output: a loss whose per-row Hessian is
    diagonal across outputs (binomial, multi-label) has ``k`` blocks of size
    ``D``, built in ``n D^2 k``; the softmax's single block of size ``D k``
    costs ``n D^2 k`` (its diagonal blocks) plus ``n (D k)^2 / 2`` (one
    symmetric product), see :meth:`LinearObjective.hessian`.
    """
    n, D, k = objective.n_samples, objective.n_rows, objective.k
    if objective.loss.diagonal_hessian:
        return D, float(n) * D * D * k
    return D * k, float(n) * D * D * k * (1 + k / 2)


def _rare_outputs(objective: LinearObjective) -> bool:
    """Sigmoid outputs (one-vs-rest, multi-label) whose positive shares spread the curvature."""
    return (objective.loss.diagonal_hessian and not sp.issparse(objective.X)
            and class_spread(objective) >= RARE_CLASS_SPREAD)


def _rare_classes(objective: LinearObjective) -> bool:
    """A softmax whose class shares make it ill-conditioned, with a preconditioner at hand."""
    return preconditions(objective) and class_spread(objective) >= RARE_CLASS_SPREAD


def choose_solver(objective: LinearObjective) -> str:
    """The solver that ``solver="auto"`` picks for this objective.

    Chosen from the benchmark's measurements (``sigmax bench``, see
    ``docs/benchmarks.md``):

    The rules below give an order of preference; the first solver whose
    ``requires`` the penalty meets is chosen (no rule names a penalty).

    - A non-smooth penalty (L1, elastic net, grouped lasso): ``"proximal-newton"``
      when the penalty is separable (L1, elastic net) and its model fits
      (``p <= 400``, ``n >= 2p``), however many rows and classes (``sigmax bench
      breast_cancer_l1``: 8 Newton steps, 4 ms, where FISTA needed 276 iterations and
      25 ms to the 1e-6 gap), else ``"proximal"`` (FISTA). The alternative is FISTA,
      not L-BFGS, so the Hessian's cost does not send it away as it does
      Newton-Cholesky (below): ``python benchmarks/l1_auto.py``, one thread, default
      ``tol``: the benchmark's dense_binary (a Hessian of 1.3e9 multiply-adds) 4 steps
      in 0.47 s against FISTA's 20 iterations in 0.69 s, a 100,000 x 200 problem 0.93
      against 1.10 s; where the cost rule sent L1 to FISTA, R tables as loaded
      (stevedata's ESS9GB with 12 classes, ggplot2's midwest) ended at
      ``max_iter=1000`` with FISTA and converge in 17 and 48 steps (0.09, 0.11 s).
    - A small Hessian block (:func:`hessian_cost`: ``D <= 400`` per output for
      binomial / multi-label, ``p = D k <= 400`` with ``k <= 10`` for the
      softmax), ``n`` at least twice the block, and either a cheap Hessian
      (``<= 5e7`` multiply-adds) or badly scaled columns:
      ``"newton-cholesky"`` (quadratic convergence; a few Hessians). On
      movies (multi-label, n=4000, D=20, k=7: 1.1e7) it needs 7 Hessians and
      8 evaluations where L-BFGS needs 72 evaluations, and takes 10-14 ms
      against L-BFGS's 24 ms (``sigmax bench movies``); on digits (softmax,
      D=65, K=10: 4.6e8) one Hessian costs about as much as a whole L-BFGS
      solve.
    - Sparse ``X`` with at least 1e5 stored values: ``"newton-cg"``. Text-like
      features (Zipf frequencies) are ill-conditioned: L-BFGS needed 74 passes
      over ``X`` where Newton-CG needed 39 (sparse_text at 20% scale). At
      full size (n=100k, d=50k) Newton-CG's Jacobi preconditioner switches on
      (see ``NewtonCG``): 39 passes to a 1e-6 gap instead of 58; L-BFGS did
      not get there in 20 s; scikit-learn's fastest, SAG, took 14 epochs.
    - A softmax with rare classes: ``"newton-cg"`` when the class shares
      spread the curvature by ``kappa >= 100``
      (:func:`~sigmax.solvers.conditioning.class_spread`, a count of ``y``:
      ``max pi_a (1 - pi_a) / max(min pi_a (1 - pi_a), lambda)``) and the
      data term forms a preconditioner (NumPy ``X``). Newton-CG then
      preconditions CG by the Hessian's output blocks (Jacobi above ``D =
      64``), which undo the class shares that make L-BFGS crawl. On the 79
      label sets of R's ggplot2movies genres (n=58,788, D=15, C=1,
      ``kappa = 1.1e4``), at 25% of the rows (``kappa = 2.7e3``): L-BFGS
      474 iterations (502 evaluations, 4.3-6.6 s), Newton-CG with output
      blocks 10 iterations (18 evaluations, 41 Hessian products and 10
      block builds, 1.3-1.9 s), with Jacobi 15 (283 products), plain CG 20
      (837 products). On the other benchmark problems ``kappa`` stays far
      below 100 (full size / 10% of the rows: many_classes 8.0 / 15,
      dense_multinomial 2.5 / 1.9, digits 1.05 / 1.6; sparse_text 6.7 at
      10%), so their choice is unchanged; the new zipf_classes problem
      (Zipf(1.5) class sizes, K=100) has 430.
    - Sigmoid outputs with rare positives (one-vs-rest over many classes,
      multi-label with rare labels): the same spread over the outputs' positive
      shares (``kappa >= 100``) makes a small block worth building however
      large ``n D^2 k`` is: ``"newton-cholesky"`` solves each output's exact
      ``(D, D)`` block. One-vs-rest over the 79 film label sets at 25% of the
      rows (D=15): L-BFGS 378 iterations, 6.5 s; Newton-Cholesky 11
      iterations, 1.3 s (``kappa`` is 1 for balanced outputs, so movies,
      multilabel and dense_binary keep their choice).
    - Badly scaled dense features (:func:`~sigmax.solvers.coordinates.badly_scaled`:
      columns in their own units): ``"newton-cg"``, whose CG is then
      preconditioned by the map to standardized columns. On scikit-learn's
      digits as loaded (pixels 0-16, p = 650; ``python
      benchmarks/badly_scaled.py``): 12 Newton steps, 455 Hessian products,
      0.11 s, where L-BFGS in the same coordinates needed 417 iterations
      (0.15 s) and without them stopped at ``max_iter=1000`` 1.6e-3 above the
      optimum; on dense_multinomial at 10% with each column in its own units,
      8 steps and 28 products (0.13 s) against L-BFGS's 55 iterations (0.24 s).
    - Otherwise ``"lbfgs"``: one pass over ``X`` per iteration, memory
      ``O(p)``; on well-scaled dense data it needs the fewest passes.
    """
    X = objective.X
    n, p = objective.n_samples, objective.n_params
    block, cost = hessian_cost(objective)
    too_many_classes = not objective.loss.diagonal_hessian and objective.k > 10

    def fits(size: int) -> bool:
        return size <= NEWTON_CHOLESKY_MAX_PARAMS and n >= 2 * size

    def small(size: int) -> bool:
        if too_many_classes:
            return False  # the softmax block grows as k^2
        return fits(size) and (cost <= NEWTON_CHOLESKY_CHEAP or badly_scaled(objective)
                               or _rare_outputs(objective))

    # In order of preference where they apply; the first that can take the
    # penalty wins (proximal Newton's inner solve works on the full p x p model).
    # A non-smooth penalty's alternative is FISTA, not L-BFGS: proximal Newton
    # wherever its model fits (see the docstring).
    nonsmooth = not objective.penalty_term.smooth
    preferred = [("newton-cholesky", small(block)),
                 ("proximal-newton", small(p) or (nonsmooth and fits(p))),
                 ("newton-cg", sp.issparse(X) and X.nnz >= SPARSE_NEWTON_MIN_NNZ),
                 ("newton-cg", _rare_classes(objective)),
                 ("newton-cg", badly_scaled(objective)),
                 ("lbfgs", True), ("proximal", True)]
    penalty = objective.penalty_term
    for name, applies in preferred:
        if applies and name in SOLVERS and not SOLVERS[name].missing(penalty):
            return name
    able = compatible_solvers(penalty)
    if able:
        return able[0]
    raise ValueError(f"No registered solver can take penalty={objective.penalty.name!r} "
                     f"(it offers {sorted(penalty.capabilities)}); register one whose "
                     "`requires` it meets.")
