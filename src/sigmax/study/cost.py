"""The study's cost model: how many seconds each section will take at given sizes.

The model counts the work of every section in two units measured on the data at hand:

- ``t_c(m)``, the seconds of one fit of candidate ``c`` on ``m`` rows: a fit measured on
  ``m0`` rows (:func:`probe_run`: a subsample, before the heavy work; or the fits on all
  rows once they ran), scaled linearly in rows, :math:`t_c(m) = t_c(m_0)\\, m / m_0`;
- ``g(m, p)``, the seconds of one value-and-gradient evaluation on ``m`` rows and ``p``
  parameters, :math:`g = \\rho\\, m\\, p + g_0`, with the rate :math:`\\rho` taken from
  the same fits (their seconds over their gradient evaluations) and :math:`g_0` the
  fixed overhead of one call.

Each section's estimate (:data:`SECTION_COSTS`, one function per section id) counts its
fits and gradient evaluations from its :class:`~sigmax.study.budget.Budget` (folds x
candidates x path length, sweep points, random starts, subproblem rows) and multiplies.
The iteration counts of the diagnostics' own fits (planted-label K sweep, random starts
to ``tol=1e-9``) are not known before they run: :data:`ITERATIONS` holds typical values,
read off the built-in data (``sigmax compare``'s four datasets on 2 vCPUs). The model
is a guide for choosing sizes and for the time left, not a measurement; the progress
display corrects it by the measured time as sections finish (:mod:`sigmax.study.eta`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from .. import _parallel
from ..solvers.base import hessian_products
from . import fitting
from .budget import Budget
from .fitting import n_outputs, n_params, y_for
from .folds import INNER_FOLDS
from .inputs import cover_subsample
from .side_by_side import cores

__all__ = ["ITERATIONS", "PROBE_ROWS", "SECTION_COSTS", "FitTime", "Probe", "Sizes",
           "estimate", "probe_data", "probe_from_fits", "probe_run", "register_cost",
           "report_seconds", "schedule", "schedule_after_fits"]

#: Rows of the subsample each candidate is fitted on to measure its speed.
PROBE_ROWS = 600

#: Rows x parameters of the problem on which the gradient's speed is timed.
RATE_SIZE = 2e6

#: Fixed seconds of one value-and-gradient call (Python and dispatch overhead) when none
#: was measured.
GRAD_OVERHEAD = 1.5e-4

#: Typical iteration counts of fits whose count is unknown before they run.
ITERATIONS: dict[str, float] = {
    "k_sweep_fit": 250.0,     # L-BFGS on planted K-class labels, sweep_rows rows
    "minima_fit": 150.0,      # each minima model's own fit (at most; fewer when small)
    "random_start": 400.0,    # L-BFGS from a random start to tol 1e-9 (at most; max 2000)
    "lobpcg": 200.0,          # Hessian-vector products of LOBPCG above DENSE_MAX_PARAMS
    "fd_evals_per_direction": 4.0,
    "visualization_fit": 60.0,  # a candidate refitted on the 2 principal components
    "coefficients_evals": 120.0,  # gradient evaluations of an unpenalized refit
}

#: Fraction of a cold fit that one more point of a warm-started C path costs.
PATH_POINT = 0.35
#: Share of the ideal speed-up that fits side by side reach (:mod:`sigmax.study.side_by_side`):
#: the film performance section ran 202 task-seconds in 107 s on 2 cores (0.94).
SIDE_BY_SIDE_EFFICIENCY = 0.9
#: A fit of the calibration section (80% of a training fold, warm-started from the
#: performance section's solution), in cold fits of those rows.
WARM_FIT = 0.7
#: tracemalloc's slowdown of the memory fit on all rows.
TRACEMALLOC = 2.0
#: The memory fit of a trunk, in fits (movies, quiet machine: 2.5 s after a 3.9 s fit).
TRUNK_MEMORY_FIT = 0.7
#: Seconds per (row x parameter^2) of forming a Hessian, relative to the gradient rate.
HESSIAN_PER_GRAD = 1.0
#: Seconds per parameter^3 of a dense symmetric eigendecomposition or inverse.
EIG_RATE = 3e-9
#: Seconds per constraint x variable of a separation linear program (HiGHS, measured on the
#: digits: 0.9 s at 1350 x 650, 3.4 s at 2700 x 650), and its fixed cost.
LP_RATE = 2e-6
LP_OVERHEAD = 0.03


@dataclass(frozen=True)
class FitTime:
    """One candidate's measured fit: seconds on ``rows`` rows, and its shape."""

    name: str
    seconds: float
    rows: int
    n_iter: int
    n_evals: int
    n_params: int
    n_outputs: int
    convex: bool = True
    family: str = "softmax"
    #: True when the tuned comparison fits it on a C path (``C="cv"``).
    tuned: bool = False
    #: Seconds grow as rows to this power (:func:`probe_run` measures it on two sizes).
    exponent: float = 1.0
    #: The solver it used: how many iterations its memory fit runs
    #: (:func:`sigmax.study.fitting.memory_fit_iter`).
    solver: str = "lbfgs"

    def at(self, rows: float) -> float:
        """Seconds of one fit on ``rows`` rows: :math:`t(m_0) (m / m_0)^a`."""
        return self.seconds * (max(float(rows), 1.0) / max(self.rows, 1)) ** self.exponent


@dataclass(frozen=True)
class Probe:
    """What the cost model knows about one dataset: its shape and its candidates' speeds."""

    name: str
    n_rows: int
    n_features: int
    task: str
    #: Classes (multi-label: label sets) and labels (multi-label; else 1 or K).
    n_classes: int
    n_labels: int
    fits: tuple[FitTime, ...]
    #: Seconds per (row x parameter) of one gradient evaluation, and its fixed cost.
    grad_rate: float
    grad_overhead: float = GRAD_OVERHEAD
    #: Seconds the probe itself took.
    seconds: float = 0.0
    sections: tuple[str, ...] = ()

    def grad(self, rows: float, params: float) -> float:
        """Seconds of one value-and-gradient evaluation on ``rows`` rows, ``params`` parameters."""
        return self.grad_rate * rows * params + self.grad_overhead

    @property
    def convex(self) -> list[FitTime]:
        return [f for f in self.fits if f.convex]


@dataclass(frozen=True)
class Sizes:
    """The sizes the cost depends on: a :class:`Budget` plus the folds and the tuning."""

    budget: Budget
    n_folds: int
    repeats: int = 1
    tuned: bool = False
    inner_cv: int = INNER_FOLDS
    #: Cores for fits side by side (``compare(n_jobs=...)``).
    cores: int = field(default_factory=_parallel.usable_cores)


def probe_run(run: Any, rows: int = PROBE_ROWS) -> Probe:
    """Fit every candidate of ``run`` (a :class:`~sigmax.study.run.StudyRun`) on a
    subsample of ``rows`` rows (every class kept) and on half of it, and record how long
    each took and how its time grows with the rows.

    The growth exponent ``a`` (:attr:`FitTime.exponent`): a convex model's time is its
    iterations times a pass over the rows, so ``a = 1 + log(iterations ratio) /
    log(rows ratio)``, between 1 and 1.7 (L-BFGS on a softmax over many label sets needs
    more iterations on more rows); a trunk trained by Adam: the time ratio itself, between
    0.2 and 1.2. When the data have no more rows than the probe there is nothing to
    extrapolate and ``a = 1``.
    """
    t0 = time.perf_counter()
    t = run.target
    idx = cover_subsample(t.strata, min(rows, t.n_samples), run.seed)
    sub = t.subset(idx)
    X = run.Xs[idx]
    half = (cover_subsample(t.strata[idx], len(idx) // 2, run.seed)
            if t.n_samples > len(idx) else None)
    fits = []
    grad = None
    for spec in run.specs:
        y = y_for(spec, sub)
        try:
            # The first fit of a model in a process pays imports and caches: not timed.
            fitting.fit(run.make(spec, max_iter=2), X[:50], y[:50])
        except ValueError:
            pass
        try:
            est, seconds, _ = fitting.fit(run.make(spec), X, y)
        except ValueError:  # a subsample the model refuses: no speed to learn from it
            continue
        rec = getattr(est, "fit_record_", None)
        n_iter = int(getattr(rec, "n_iter", 0) or 0)
        n_evals = int((getattr(rec, "n_grad_evals", 0) or 0) + hessian_products(rec))
        exponent = 1.0
        if half is not None and seconds > 1e-3:
            exponent = _exponent(run.make(spec), X[half], y[half], len(idx) / len(half),
                                 seconds, n_iter, spec.convex)
        fits.append(FitTime(spec.name, seconds, len(idx), n_iter, n_evals, n_params(est),
                            n_outputs(est), spec.convex, spec.family,
                            run.tuned_class(spec) is not None, exponent,
                            str(getattr(rec, "solver", "lbfgs"))))
        if grad is None and spec.convex:
            grad = _grad_speed(est, X, y)
    probe = _probe(run, fits, time.perf_counter() - t0)
    if grad is not None:
        probe = Probe(**{**probe.__dict__, "grad_rate": grad[0], "grad_overhead": grad[1]})
    return probe


def _exponent(est: Any, X: np.ndarray, y: np.ndarray, ratio: float, seconds: float,
              n_iter: int, convex: bool) -> float:
    """How a fit's time grows with the rows, from a second fit on ``1 / ratio`` of them."""
    try:
        est, t_half, _ = fitting.fit(est, X, y)
    except ValueError:
        return 1.0
    if convex:
        it_half = int(getattr(getattr(est, "fit_record_", None), "n_iter", 0) or 0)
        if it_half <= 0 or n_iter <= 0:
            return 1.0
        return float(np.clip(1.0 + np.log(n_iter / it_half) / np.log(ratio), 1.0, 1.7))
    return float(np.clip(np.log(seconds / max(t_half, 1e-6)) / np.log(ratio), 0.2, 1.2))


def _grad_speed(est: Any, X: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """(seconds per row x parameter, fixed seconds) of one value-and-gradient evaluation
    of ``est``'s objective: its time on the rows of ``X`` repeated to about
    :data:`RATE_SIZE` rows x parameters (so that the arithmetic, not the call, dominates)
    and on a few rows."""
    from .. import diagnostics as diag

    try:
        obj = diag.objective_for(est, X, y)
        reps = max(1, int(np.ceil(RATE_SIZE / (X.shape[0] * obj.n_params))))
        big = diag.objective_for(est, np.tile(X, (reps, 1)),
                                 np.tile(y, (reps, 1) if np.ndim(y) == 2 else reps))
        # A few rows with every class (the objective's layout is the fitted model's).
        few = (np.arange(min(8, len(X))) if np.ndim(y) == 2 else
               np.union1d(np.unique(y, return_index=True)[1], np.arange(min(8, len(X)))))
        small = diag.objective_for(est, X[few], y[few])
    except (ValueError, TypeError, AttributeError):
        return None
    # Away from w = 0, where a data term may take a closed-form shortcut.
    rng = np.random.default_rng(0)
    # The smaller of two medians: a busy machine only ever adds time.
    w_big, w_small = rng.normal(0.0, 0.01, big.n_params), rng.normal(0.0, 0.01, small.n_params)
    t_big = min(fitting.time_grad(big, w_big, 0.02, repeats=3) for _ in range(2))
    t_small = min(fitting.time_grad(small, w_small, 0.005, repeats=3) for _ in range(2))
    rate = max(t_big - t_small, 0.5 * t_big) / (X.shape[0] * reps * big.n_params)
    return max(rate, 1e-11), t_small


def probe_from_fits(run: Any) -> Probe:
    """The probe read off the fits on all rows (``run.problem.candidates``), once they ran."""
    fits = []
    for spec in run.specs:
        est = run.full.get(spec.name)
        cand = next((c for c in run.problem.candidates if c.name == spec.name), None)
        if est is None or cand is None:
            continue
        comp = cand.compute
        fits.append(FitTime(spec.name, float(comp["full_fit_seconds"] or 0.0),
                            run.target.n_samples, int(comp["n_iter"] or 0),
                            int((comp["n_grad_evals"] or 0) + (comp["n_hessp_evals"] or 0)),
                            int(comp["n_params"]), n_outputs(est), spec.convex, spec.family,
                            run.tuned_class(spec) is not None,
                            solver=str(cand.params.solver or "lbfgs")))
    return _probe(run, fits, 0.0)


def _probe(run: Any, fits: list[FitTime], seconds: float) -> Probe:
    t = run.target
    rates = [max(f.seconds / f.n_evals - GRAD_OVERHEAD, 0.0) / (f.rows * f.n_params)
             for f in fits if f.convex and f.n_evals > 0 and f.n_params > 0]
    grad_rate = float(np.median(rates)) if rates else 1e-9
    n_sets = len(np.unique(t.set_codes)) if t.task == "multilabel" else t.n_classes
    n_labels = t.Y.shape[1] if t.task == "multilabel" else (1 if t.n_classes == 2
                                                            else t.n_classes)
    return Probe(run.name, int(t.n_samples), int(run.Xs.shape[1]), t.task, int(n_sets),
                 int(n_labels), tuple(fits), max(grad_rate, 1e-11), seconds=seconds)


# -- one estimate per section ----------------------------------------------------------------
SectionCost = Callable[[Probe, Sizes], float]

#: Section id -> its cost function; a section without one counts one fit per candidate.
SECTION_COSTS: dict[str, SectionCost] = {}


def register_cost(section_id: str) -> Callable[[SectionCost], SectionCost]:
    """Decorator: ``fn(probe, sizes) -> seconds`` estimates section ``section_id``."""
    def deco(fn: SectionCost) -> SectionCost:
        SECTION_COSTS[section_id] = fn
        return fn
    return deco


def _at_once(s: Sizes, n_tasks: int) -> int:
    """Tasks a section runs side by side (:func:`sigmax.study.side_by_side.width`)."""
    return max(1, min(s.cores, n_tasks))


def _side_by_side(s: Sizes, task_seconds: float, n_tasks: int) -> float:
    """Wall seconds of ``n_tasks`` tasks of ``task_seconds`` in all, run side by side."""
    width = _at_once(s, n_tasks)
    return task_seconds if width == 1 else task_seconds / (width * SIDE_BY_SIDE_EFFICIENCY)


def _path_factor(f: FitTime, s: Sizes, jobs: int | None = None) -> float:
    """A tuned candidate's fit on a training set, in cold fits: the inner folds' paths plus
    the refit at the chosen C (``jobs``: threads of the inner folds; default ``s.cores``)."""
    if not (s.tuned and f.tuned):
        return 1.0
    # The inner folds' paths run side by side, one per thread: ceil(k / threads) rounds.
    threads = s.cores if jobs is None else jobs
    rounds = -(-s.inner_cv // max(1, min(threads, s.inner_cv)))
    return 1.0 + rounds * (1.0 + (s.budget.path_length - 1) * PATH_POINT) \
        * (s.inner_cv - 1) / s.inner_cv


def full_fits_cost(p: Probe, s: Sizes) -> float:
    """Every candidate on all rows: the tuned path, the timed fit and the memory fit."""
    total = 0.0
    for f in p.fits:
        one = f.at(p.n_rows)
        # tracemalloc slows NumPy's many small allocations, hardly a trunk's torch tensors.
        memory = min(1.0, fitting.memory_fit_iter(f.solver) / max(f.n_iter, 1)) * (
            TRACEMALLOC if f.convex else TRUNK_MEMORY_FIT)
        total += one * (_path_factor(f, s) + memory)
    return total


@register_cost("performance")
def _performance(p: Probe, s: Sizes) -> float:
    rows = p.n_rows * (s.n_folds - 1) / s.n_folds
    tasks = s.n_folds * s.repeats * len(p.fits)
    # Side by side, each task's C search runs its inner folds one after the other.
    jobs = 1 if _at_once(s, tasks) > 1 else None
    per_fold = sum(f.at(rows) * _path_factor(f, s, jobs) + f.at(p.n_rows / s.n_folds) * 0.1
                   for f in p.fits)
    return _side_by_side(s, s.n_folds * s.repeats * per_fold, tasks)


@register_cost("calibration")
def _calibration(p: Probe, s: Sizes) -> float:
    # One warm-started fit per convex candidate and outer fold of the first repeat, on the
    # fit part (80%) of the training rows, and two scorings of the test rows.
    rows = 0.8 * p.n_rows * (s.n_folds - 1) / s.n_folds
    per_fold = sum(WARM_FIT * f.at(rows) + 0.2 * f.at(p.n_rows / s.n_folds) for f in p.convex)
    return _side_by_side(s, s.n_folds * per_fold, s.n_folds * len(p.convex))


@register_cost("computation")
def _computation(p: Probe, s: Sizes) -> float:
    b = s.budget
    d1 = p.n_features + 1
    timing = 1.3 * b.grad_timing_seconds + 0.01
    total = len(p.convex) * timing
    rows = min(b.sweep_rows, p.n_rows)
    for K in (k for k in b.k_sweep if k <= rows // 4):
        fit = ITERATIONS["k_sweep_fit"] * p.grad(rows, d1 * K)
        total += 2 * (timing + fit)
    return total


@register_cost("derivatives")
def _derivatives(p: Probe, s: Sizes) -> float:
    b = s.budget
    rows = min(b.fd_rows, p.n_rows)
    evals = ITERATIONS["fd_evals_per_direction"] * b.fd_directions + 10
    return sum(evals * p.grad(rows, f.n_params) for f in p.convex) + 0.05


def minima_rows(p: Probe, b: Budget) -> int:
    """Rows of the minima subproblem (as :func:`sigmax.study.sections.minima` picks them)."""
    from .sections.minima import HESSIAN_ROW_BUDGET

    p_max = max(p.n_classes, p.n_labels) * (p.n_features + 1)
    row_budget = min(HESSIAN_ROW_BUDGET, b.hessian_row_budget)
    return int(min(p.n_rows, max(b.minima_rows, row_budget / p_max ** 2)))


@register_cost("minima")
def _minima(p: Probe, s: Sizes) -> float:
    from .sections.minima import DENSE_MAX_PARAMS

    b = s.budget
    rows = minima_rows(p, b)
    d1 = p.n_features + 1
    models = [p.n_classes * d1] * 2 + [(p.n_classes - 1) * d1]
    if p.task != "multiclass" or any(f.family == "sigmoid" for f in p.convex):
        models += [p.n_labels * d1] * 2
    total = 0.0
    for params in models:
        g = p.grad(rows, params)
        # Small problems converge in tens of iterations, large (often separable) ones in
        # hundreds: iterations grow with the parameters up to the caps.
        fit = min(ITERATIONS["minima_fit"], 20 + params / 4)
        start = min(ITERATIONS["random_start"], 20 + params / 2)
        total += (fit + b.starts * start) * g
        if params <= DENSE_MAX_PARAMS:
            total += HESSIAN_PER_GRAD * p.grad_rate * rows * params ** 2 + EIG_RATE * params ** 3
        else:
            total += ITERATIONS["lobpcg"] * 2 * g
    # The separation programs: the softmax's (rows x (K - 1) constraints, K (d + 1)
    # variables), and one per sigmoid output (rows x (d + 1)).
    total += _lp(rows * (p.n_classes - 1), p.n_classes * d1, b)
    if len(models) > 3:
        total += (p.n_labels if p.n_labels > 1 else 1) * _lp(rows, d1, b)
    # The separation probe of each convex candidate on all rows: an unpenalized L-BFGS
    # fit (at most unpenalized_max_iter iterations) and its linear programs (one time
    # budget per candidate). The probes, and the models above, run side by side.
    sep = sum(b.unpenalized_max_iter * p.grad(p.n_rows, f.n_params)
              + min(b.lp_seconds, f.n_outputs * _lp(p.n_rows, d1, b)) for f in p.convex)
    return _side_by_side(s, total, len(models)) + _side_by_side(s, sep, len(p.convex))


def _lp(constraints: float, variables: float, b: Budget) -> float:
    """Seconds of one separation linear program: skipped above ``lp_max_size``, else
    :data:`LP_RATE` per constraint x variable, at most its time limit."""
    size = constraints * variables
    if size > b.lp_max_size:
        return 0.0
    return min(b.lp_seconds, LP_OVERHEAD + LP_RATE * size)


@register_cost("coefficients")
def _coefficients(p: Probe, s: Sizes) -> float:
    from .sections.coefficients import MAX_FEATURES, MAX_OUTPUTS_FIT, MAX_ROWS

    rows = min(p.n_rows, MAX_ROWS)
    total = 0.0
    for f in p.convex:
        if f.n_outputs > MAX_OUTPUTS_FIT or f.name == "baseline":
            continue
        params = f.n_outputs * (min(p.n_features, MAX_FEATURES) + 1)
        total += ITERATIONS["coefficients_evals"] * p.grad(rows, params)
        # The information matrix, its inverse and the contrasts' covariances (measured on the
        # digits' 650 parameters: about 1.3 s per model).
        total += 2 * HESSIAN_PER_GRAD * p.grad_rate * rows * params ** 2 \
            + 3 * EIG_RATE * params ** 3
    return total + 0.1


@register_cost("k2_equivalence")
def _k2(p: Probe, s: Sizes) -> float:
    d1 = p.n_features + 1
    total = 6 * 20 * p.grad(p.n_rows, d1) + 0.1
    sigmoid = next((f for f in p.convex if f.family == "sigmoid"), None)
    if p.task == "multilabel" and sigmoid is not None:  # one logistic fit per label, and all
        total += sigmoid.at(p.n_rows) * (1 + p.n_labels)
    return total


@register_cost("visualization")
def _visualization(p: Probe, s: Sizes) -> float:
    b = s.budget
    grid = (b.grid_multilabel if p.task == "multilabel" else b.grid) ** 2
    total = 0.0
    for f in p.fits:
        if f.convex:
            total += ITERATIONS["visualization_fit"] * p.grad(p.n_rows, 3 * f.n_outputs)
        else:  # a trunk refitted on 2 columns: as many epochs, and they converge slower
            total += 1.5 * f.at(p.n_rows)
        total += 2 * p.grad(grid + b.points, 3 * f.n_outputs)
    return total + 0.08


@register_cost("advice")
def _advice(p: Probe, s: Sizes) -> float:
    return 0.005


def _default_cost(p: Probe, s: Sizes) -> float:
    return sum(f.at(p.n_rows) for f in p.fits) + 0.02


def estimate(probe: Probe, sizes: Sizes, sections: Sequence[str]) -> dict[str, float]:
    """Estimated seconds of the fits on all rows (``"full_fits"``) and of each section."""
    out = {"full_fits": full_fits_cost(probe, sizes)}
    for sid in sections:
        out[sid] = float(SECTION_COSTS.get(sid, _default_cost)(probe, sizes))
    return out


def schedule(estimates: dict[str, float], units: dict[str, int]) -> list[float]:
    """Estimated seconds of each progress unit, in run order (a section's estimate split
    evenly over its units)."""
    out: list[float] = []
    for key, seconds in estimates.items():
        n = max(int(units.get(key, 1)), 1)
        out += [seconds / n] * n
    return out


def probe_data(X: Any, y: Any, *, name: str = "data", C: float | str = "cv", quick: bool = False,
               random_state: int = 0, max_samples: int | None = None,
               estimator_params: dict[str, Any] | None = None,
               sections: Sequence[str] = (), threads: int = 1) -> Probe:
    """:func:`probe_run` on a dataset before its study: the inputs prepared as
    :func:`sigmax.study.compare.compare` prepares them (without the checks it repeats)."""
    from ..preprocessing import StableScaler
    from .advise import encode_target
    from .candidates import CANDIDATES
    from .inputs import check_X, restore_target, subsample
    from .result import ProblemResult
    from .run import StudyRun

    t0 = time.perf_counter()
    y_len = int(y.shape[0]) if hasattr(y, "shape") else len(y)
    Xa, names, _ = check_X(X, y_len)
    target = encode_target(y, n_samples=Xa.shape[0], min_per_class=2)
    seed = int(random_state)
    if max_samples is not None and Xa.shape[0] > max_samples:
        idx = subsample(Xa.shape[0], target.strata, max_samples, seed)
        Xa = Xa[idx]
        target = encode_target(restore_target(target, idx), n_samples=len(idx), min_per_class=2)
    specs = [s for s in CANDIDATES[target.task]
             if s.applies is None or s.applies(target, quick) is None]
    rows = cover_subsample(target.strata, min(PROBE_ROWS, target.n_samples), seed)
    Xs = np.zeros_like(Xa)
    Xs[rows] = StableScaler().fit_transform(Xa[rows])
    tuned = C == "cv"
    problem = ProblemResult(dataset=name, task=target.task, n_samples=int(Xa.shape[0]),
                            n_features=int(Xa.shape[1]), n_classes=target.n_classes,
                            class_names=target.names)
    run = StudyRun(name=name, X=Xa, Xs=Xs, target=target, feature_names=names, specs=specs,
                   C=1.0 if tuned else float(C), budget=Budget(), seed=seed,
                   progress=lambda step: None, problem=problem,
                   estimator_params=dict(estimator_params or {}),
                   Cs=np.logspace(-3, 3, 7 if quick else 13) if tuned else None)
    with threadpool_limits(limits=threads):  # as the study runs (compare(threads=1))
        probe = probe_run(run)
    return Probe(**{**probe.__dict__, "seconds": time.perf_counter() - t0,
                    "sections": tuple(sections)})


def schedule_after_fits(run: Any, sections: Sequence[str], units: dict[str, int]) -> list[float]:
    """The sections' unit estimates from the fits on all rows (the best speed measurement)."""
    probe = probe_from_fits(run)
    est = estimate(probe, Sizes(run.budget, run.n_folds, run.repeats, run.Cs is not None,
                                INNER_FOLDS, cores(run.search_jobs, run.estimator_params)),
                   sections)
    est.pop("full_fits")
    return schedule(est, units)


#: Seconds of writing one problem's report: tables and results.json; with its figures.
REPORT_SECONDS = (0.3, 1.5)


def report_seconds(n_classes: Sequence[int], plots: bool | None) -> float:
    """Estimated seconds of writing the report of problems with ``n_classes`` classes
    (``plots`` None: no report; the confusion matrices and the figures grow with K)."""
    if plots is None:
        return 0.0
    return float(sum(REPORT_SECONDS[int(bool(plots))] * (1 + k / 20) for k in n_classes))
