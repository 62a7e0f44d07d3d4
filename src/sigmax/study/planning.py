"""A time budget: the sizes of each dataset's study chosen so that the estimate fits.

:func:`plan_budgets` starts every dataset from the same sizes (``FULL``, or ``QUICK``
with ``quick=True``) and, while the estimated total (:func:`sigmax.study.cost.estimate`)
is over the seconds available, moves the dataset with the largest estimate one step down
its ladder (:func:`sigmax.study.budget.cut_steps`, in the order of
:data:`sigmax.study.budget.CUT_ORDER`). When every dataset is at its smallest sizes and
the estimate is still over, it says so and runs the smallest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .budget import CUT_ORDER, Budget, Cut, budget_for, cut_steps, cuts_between
from .cost import Probe, Sizes, estimate, probe_data
from .folds import INNER_FOLDS
from .side_by_side import cores, jobs_of

__all__ = ["Plan", "SuitePlanner", "cut_sentences", "plan_budgets", "plan_time_budget"]


@dataclass
class Plan:
    """A time budget's choice for one dataset: the sizes, what was cut, the estimate."""

    #: The user's budget (seconds, for the whole run).
    seconds: float
    budget: Budget
    n_folds: int
    #: Estimated seconds per part (``full_fits`` and each section id), at these sizes.
    estimate: dict[str, float] = field(default_factory=dict)
    cuts: list[Cut] = field(default_factory=list)
    #: True when even the smallest sizes were estimated over the seconds available.
    over: bool = False
    #: Seconds available to the studies (the budget less what ran before) and the estimate
    #: of all datasets together, at the chosen sizes and at the smallest.
    available: float = 0.0
    total_estimate: float = 0.0
    smallest_estimate: float = 0.0
    probe_seconds: float = 0.0
    #: Datasets planned together (this one and those after it).
    n_datasets: int = 1

    @property
    def estimated_seconds(self) -> float:
        return float(sum(self.estimate.values()))

    def sentences(self) -> list[str]:
        """One sentence per cut (numbers from the plan), and one when nothing could fit."""
        return cut_sentences(self)

    def to_dict(self) -> dict[str, Any]:
        """What ``results.json`` keeps under ``settings["budget"]`` besides the sizes."""
        return {"seconds": self.seconds, "available_seconds": round(self.available, 3),
                "estimated_seconds": round(self.estimated_seconds, 3),
                "estimate": {k: round(v, 4) for k, v in self.estimate.items()},
                "probe_seconds": round(self.probe_seconds, 3),
                "cuts": [c.to_dict() for c in self.cuts], "over": self.over,
                "sentences": self.sentences()}


def _budget_words(seconds: float) -> str:
    return f"the {seconds:g} s budget"


def _secs(x: float) -> str:
    return f"{x:.1f} s" if abs(x) < 10 else f"{x:.0f} s"


def cut_sentences(plan: Plan) -> list[str]:
    """``"Folds 5 → 3 to fit the 60 s budget"``: one per group of :data:`CUT_ORDER` cut
    (no final period: the report joins the notes with semicolons)."""
    out = []
    for step in CUT_ORDER:
        cuts = [c for c in plan.cuts if c.field in step.fields]
        if not cuts:
            continue
        text = ", ".join(c.text() for c in cuts)
        if len(cuts) == 1 and cuts[0].field in ("max_folds", "starts", "path_length",
                                                "lp_seconds"):
            sentence = f"{text} to fit {_budget_words(plan.seconds)}"
        else:
            sentence = f"{step.name.capitalize()} cut to fit {_budget_words(plan.seconds)}: " \
                       f"{text}"
        out.append(sentence[0].upper() + sentence[1:])
    if plan.over:
        which = ("the smallest sizes" if plan.n_datasets == 1 else
                 f"the smallest sizes of this and the {plan.n_datasets - 1} dataset(s) after it")
        out.append(f"Even {which} were estimated at {_secs(plan.smallest_estimate)}, "
                   f"more than the {_secs(max(plan.available, 0.0))} left of "
                   f"{_budget_words(plan.seconds)} after starting up and timing the models: "
                   "the study ran at the smallest sizes and takes longer than the budget")
    return out


def plan_budgets(probes: Sequence[Probe], seconds: float, available: float, *, start: Budget,
                 n_folds: Sequence[int], sections: Sequence[Sequence[str]],
                 repeats: int = 1, tuned: bool = False, inner_cv: int = INNER_FOLDS,
                 scale: float = 1.0, n_jobs: int | None = None) -> list[Plan]:
    """The sizes of each dataset's study so that the estimated total fits ``available``.

    Parameters
    ----------
    probes : sequence of Probe
        One per dataset (:func:`sigmax.study.cost.probe_run`).
    seconds : float
        The user's budget (for the sentences).
    available : float
        Seconds the studies may take (the budget less what already ran and what follows).
    start : Budget
        The sizes before any cut (``FULL`` or ``QUICK``).
    n_folds, sections : per dataset
        The folds asked for and the section ids that run.
    scale : float
        Every estimate times this (the measured over the estimated time of the datasets
        already run: :class:`SuitePlanner`).
    n_jobs : int, optional
        Cores for fits side by side, as ``compare(n_jobs=...)`` (None: every core).

    Returns
    -------
    list of Plan
        One per dataset, in order.
    """
    ladders = [cut_steps(start, int(f), tuned, list(secs), p.task == "multilabel")
               for f, secs, p in zip(n_folds, sections, probes)]
    level = [0] * len(probes)

    def est(j: int, lv: int) -> dict[str, float]:
        b, folds = ladders[j][lv]
        e = estimate(probes[j], Sizes(b, folds, repeats, tuned, inner_cv, jobs_of(n_jobs)),
                     sections[j])
        return {k: v * scale for k, v in e.items()}

    current = [est(j, 0) for j in range(len(probes))]
    total = sum(sum(e.values()) for e in current)
    while total > available:
        movable = [j for j in range(len(probes)) if level[j] + 1 < len(ladders[j])]
        if not movable:
            break
        j = max(movable, key=lambda i: sum(current[i].values()))
        level[j] += 1
        current[j] = est(j, level[j])
        total = sum(sum(e.values()) for e in current)
    smallest = sum(sum(est(j, len(ladders[j]) - 1).values()) for j in range(len(probes)))
    over = total > available
    plans = []
    for j, probe in enumerate(probes):
        b, folds = ladders[j][level[j]]
        plans.append(Plan(seconds=float(seconds), budget=b, n_folds=folds, estimate=current[j],
                          cuts=cuts_between(start, b, int(n_folds[j]), folds), over=over,
                          available=float(available), total_estimate=float(total),
                          smallest_estimate=float(smallest), probe_seconds=probe.seconds,
                          n_datasets=len(probes)))
    return plans


def check_seconds(seconds: float) -> float:
    """``seconds`` as a float > 0, else a one-line ValueError."""
    try:
        out = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"time_budget={seconds!r} is not a number of seconds; give a "
                         "number > 0.") from None
    if not out > 0 or out != out:
        raise ValueError(f"time_budget={seconds!r} must be a number of seconds > 0.")
    return out


def plan_time_budget(X: Any, y: Any, seconds: float, *, name: str = "data", cv: int = 5,
                     repeats: int = 1, C: float | str = "cv", quick: bool = False,
                     random_state: int = 0, max_samples: int | None = None,
                     estimator_params: dict[str, Any] | None = None,
                     sections: Sequence[str] = (), elapsed: float = 0.0,
                     threads: int = 1, n_jobs: int | None = None) -> Plan:
    """The sizes of one dataset's study that fit ``seconds`` (less ``elapsed`` and the
    probe's own time)."""
    seconds = check_seconds(seconds)
    probe = probe_data(X, y, name=name, C=C, quick=quick, random_state=random_state,
                       max_samples=max_samples, estimator_params=estimator_params,
                       sections=sections, threads=threads)
    start = budget_for(quick)
    folds = min(cv, start.max_folds) if start.max_folds else cv
    return plan_budgets([probe], seconds, seconds - elapsed - probe.seconds, start=start,
                        n_folds=[folds], sections=[list(sections)], repeats=repeats,
                        tuned=C == "cv", n_jobs=cores(n_jobs, estimator_params))[0]


class SuitePlanner:
    """Several datasets under one budget: planned together, and again before each next
    dataset with the seconds then left and the estimates scaled by how the datasets
    already run compared with theirs (between 0.5 and 3 times).

    ``clock()`` gives the seconds since the budget started; ``reserve`` is kept for what
    follows the studies (the report).
    """

    def __init__(self, probes: Sequence[Probe], seconds: float, clock: Any, reserve: float,
                 **kw: Any) -> None:
        self.probes, self.seconds, self.clock, self.reserve, self.kw = \
            list(probes), float(seconds), clock, float(reserve), kw
        self.used: list[Plan] = []

    def next(self, measured: Sequence[float] = ()) -> Plan:
        """The plan of the next dataset; ``measured``: study seconds of those already run."""
        import numpy as np

        j = len(self.used)
        done = sum(p.estimated_seconds for p in self.used)
        scale = float(np.clip(sum(measured) / done, 0.5, 3.0)) if done > 0 and measured \
            else 1.0
        n = len(self.probes) - j
        kw = {k: (v[j:] if isinstance(v, list) else v) for k, v in self.kw.items()}
        plan = plan_budgets(self.probes[j:], self.seconds,
                            self.seconds - self.clock() - self.reserve, scale=scale,
                            **{**kw, "n_folds": kw["n_folds"][:n],
                               "sections": kw["sections"][:n]})[0]
        self.used.append(plan)
        return plan
