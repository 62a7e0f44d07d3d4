"""How big each section's work is: the full run and the quick run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["FULL", "QUICK", "Budget", "budget_for"]


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

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


FULL = Budget()
QUICK = Budget(max_folds=3, k_sweep=(2, 4, 8), sweep_rows=400, grad_timing_seconds=0.01,
               fd_rows=200, fd_directions=3, starts=3, minima_rows=300,
               grid=25, grid_multilabel=15,
               points=300, simplex_points=200, unpenalized_max_iter=50, lp_seconds=1.5,
               lp_max_size=2e6)


def budget_for(quick: bool) -> Budget:
    """The sizes of a quick or a full run."""
    return QUICK if quick else FULL
