"""How big each section's work is: the full run, the quick run, the smallest run, and what
``--budget`` cuts first.

:class:`Budget` holds the sizes every section reads (``run.budget``). A time budget
(``compare(budget=SECONDS)``, ``sigmax compare --budget``) starts from :data:`FULL`
(or :data:`QUICK` with ``quick=True``) and walks :data:`CUT_ORDER`: each step moves a
group of sizes one value down its ladder (:data:`LADDERS`), in this order, until the
estimated time (:mod:`sigmax.study.cost`) fits; never below :data:`SMALLEST`.

1. diagnostic rows: the rows of the minima subproblem, of the derivative checks, of
   the K sweep, and the points of the decision-region plots;
2. sweep sizes: the classes of the K sweep and the decision-region grids;
3. the separation programs' time limit;
4. restarts: random starts of the minima section;
5. path length: the C grid of a tuned comparison (``C="cv"``);
6. folds: outer cross-validation folds, down to 3.

Why this order: the diagnostics on subproblems answer their question at a few hundred
rows as well as at a thousand, so they go first; the folds are the headline comparison's
sample size, so they go last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = ["CUT_ORDER", "FULL", "LADDERS", "QUICK", "SMALLEST", "Budget", "Cut", "CutStep",
           "budget_for", "cut_steps"]


@dataclass(frozen=True)
class Budget:
    """Sizes of the sections (full run / quick run)."""

    max_folds: int | None = None
    k_sweep: tuple[int, ...] = (2, 4, 8, 16, 32)
    sweep_rows: int = 2000
    grad_timing_seconds: float = 0.05
    fd_rows: int = 500
    fd_directions: int = 6
    starts: int = 4
    minima_rows: int = 1000
    grid: int = 60
    grid_multilabel: int = 30
    points: int = 600
    simplex_points: int = 400
    unpenalized_max_iter: int = 200
    lp_seconds: float = 4.0
    #: Largest separation linear program (constraints x variables) built at all: HiGHS's
    #: model of a larger one took ~2 GB and overran its time limit before solving
    #: (450,000 x 10 rows); above it the check is skipped and the report says so.
    lp_max_size: float = 5e6
    #: Points of the C grid of a tuned comparison (``C="cv"``), log-spaced 1e-3 .. 1e3.
    path_length: int = 13
    #: Rows x parameters^2 under which the minima section uses more rows than
    #: ``minima_rows`` (at most :data:`sigmax.study.sections.minima.HESSIAN_ROW_BUDGET`).
    hessian_row_budget: float = 2e8

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


FULL = Budget()
QUICK = Budget(max_folds=3, k_sweep=(2, 4, 8), sweep_rows=400, grad_timing_seconds=0.01,
               fd_rows=200, fd_directions=3, starts=3, minima_rows=300,
               grid=25, grid_multilabel=15,
               points=300, simplex_points=200, unpenalized_max_iter=50, lp_seconds=1.5,
               lp_max_size=2e6, path_length=7)
#: The floor of a time budget: below these sizes a section no longer answers its question
#: (3 folds for a paired test, 2 random starts to see two minima, 5 values of C for a curve).
SMALLEST = Budget(max_folds=3, k_sweep=(2, 4), sweep_rows=200, grad_timing_seconds=0.01,
                  fd_rows=100, fd_directions=2, starts=2, minima_rows=150,
                  grid=15, grid_multilabel=10, points=150, simplex_points=100,
                  unpenalized_max_iter=50, lp_seconds=0.5, lp_max_size=2e6, path_length=5,
                  hessian_row_budget=2e7)


def budget_for(quick: bool) -> Budget:
    """The sizes of a quick or a full run."""
    return QUICK if quick else FULL


@dataclass(frozen=True)
class CutStep:
    """One group of sizes that a time budget lowers together (see :data:`CUT_ORDER`)."""

    name: str
    #: Budget fields it lowers (``max_folds`` stands for the folds actually used).
    fields: tuple[str, ...]


#: What a time budget cuts, first to last (the module docstring says why).
CUT_ORDER: tuple[CutStep, ...] = (
    CutStep("diagnostic rows", ("minima_rows", "hessian_row_budget", "fd_rows", "sweep_rows",
                                "points", "simplex_points")),
    CutStep("sweep sizes", ("k_sweep", "grid", "grid_multilabel")),
    CutStep("separation time limit", ("lp_seconds",)),
    CutStep("restarts", ("starts",)),
    CutStep("path length", ("path_length",)),
    CutStep("folds", ("max_folds",)),
)

#: Each field's values from large to small: FULL's, QUICK's, SMALLEST's, and the folds' and
#: path's intermediate steps.
LADDERS: dict[str, tuple[Any, ...]] = {
    **{f: (getattr(FULL, f), getattr(QUICK, f), getattr(SMALLEST, f))
       for step in CUT_ORDER for f in step.fields if f not in ("max_folds", "path_length")},
    "path_length": (13, 9, 7, 5),
    "max_folds": (10, 5, 4, 3),
}

#: The section whose work each field sizes (a field of a section that does not run is not cut).
FIELD_SECTION: dict[str, str] = {
    "minima_rows": "minima", "hessian_row_budget": "minima", "lp_seconds": "minima",
    "starts": "minima",
    "fd_rows": "derivatives", "sweep_rows": "computation", "k_sweep": "computation",
    "points": "visualization", "simplex_points": "visualization", "grid": "visualization",
    "grid_multilabel": "visualization", "path_length": "performance",
    "max_folds": "performance",
}

#: How each field is named in a sentence.
FIELD_WORDS: dict[str, str] = {
    "minima_rows": "rows of the minima subproblem",
    "hessian_row_budget": "rows × parameters² of the Hessian",
    "fd_rows": "rows of the derivative checks",
    "sweep_rows": "rows of the K sweep", "points": "points of the decision-region plots",
    "simplex_points": "points of the simplex plot", "k_sweep": "classes of the K sweep",
    "grid": "decision-region grid", "grid_multilabel": "multi-label decision-region grid",
    "lp_seconds": "separation time limit (s)", "starts": "random starts",
    "path_length": "values of C on the path", "max_folds": "folds",
}


@dataclass(frozen=True)
class Cut:
    """One size a time budget lowered: ``field`` from ``before`` to ``after``."""

    field: str
    before: Any
    after: Any

    def text(self) -> str:
        def show(v: Any) -> str:
            return ", ".join(str(x) for x in v) if isinstance(v, (tuple, list)) else f"{v:g}"
        return f"{FIELD_WORDS.get(self.field, self.field)} {show(self.before)} → " \
               f"{show(self.after)}"

    def to_dict(self) -> dict[str, Any]:
        def v(x: Any) -> Any:
            return list(x) if isinstance(x, tuple) else x
        return {"field": self.field, "before": v(self.before), "after": v(self.after)}


def _lower(field: str, value: Any) -> Any:
    """The next value below ``value`` on ``field``'s ladder (``value`` when at its floor)."""
    ladder = LADDERS[field]
    if field == "k_sweep":
        smaller = [v for v in ladder if len(v) < len(value)]
    else:
        smaller = [v for v in ladder if v < value]
    return smaller[0] if smaller else value


def cut_steps(start: Budget, n_folds: int, tuned: bool, sections: Sequence[str] | None = None,
              multilabel: bool = False) -> list[tuple[Budget, int]]:
    """Every (budget, folds) a time budget may choose, from ``start`` to the smallest.

    Element 0 is ``start`` itself; each next one lowers the first group of
    :data:`CUT_ORDER` that can still go down by one ladder value. The folds never go
    below 3 nor above ``n_folds``; the path length moves only when ``tuned``; a field
    moves only when its section (:data:`FIELD_SECTION`) is in ``sections`` (None: all),
    and only the decision-region grid of the task (``multilabel``).
    """
    def used(f: str) -> bool:
        if (f == "grid" and multilabel) or (f == "grid_multilabel" and not multilabel):
            return False
        return sections is None or FIELD_SECTION.get(f) in sections

    out = [(start, n_folds)]
    b, folds = start, n_folds
    for step in CUT_ORDER:
        while True:
            if step.name == "folds":
                if not used("max_folds"):
                    break
                nxt = _lower("max_folds", folds)
                if nxt == folds:
                    break
                folds = nxt
                b = replace(b, max_folds=folds)
            elif step.name == "path length" and not tuned:
                break
            else:
                changes = {f: _lower(f, getattr(b, f)) for f in step.fields if used(f)}
                changes = {f: v for f, v in changes.items() if v != getattr(b, f)}
                if not changes:
                    break
                b = replace(b, **changes)
            out.append((b, folds))
    return out


def cuts_between(start: Budget, chosen: Budget, n_folds: int, folds: int) -> list[Cut]:
    """The sizes that differ between ``start`` and ``chosen``, in :data:`CUT_ORDER`."""
    out = []
    for step in CUT_ORDER:
        for f in step.fields:
            if f == "max_folds":
                if folds != n_folds:
                    out.append(Cut("max_folds", n_folds, folds))
            elif getattr(start, f) != getattr(chosen, f):
                out.append(Cut(f, getattr(start, f), getattr(chosen, f)))
    return out
