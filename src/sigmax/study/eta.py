"""The time left of a study: the cost model's estimate per progress unit, corrected by the
time measured so far.

With ``s_i`` the estimated seconds of unit ``i`` (:func:`sigmax.study.cost.schedule`),
``d`` units done since the schedule began (at unit ``b``) and ``T`` seconds measured
over them, the time left is

.. math:: \\hat T_\\text{left} = \\Big(\\sum_{i \\ge d} s_i\\Big)
          \\frac{T + w}{\\sum_{b \\le i < d} s_i + w},
          \\qquad w = \\lambda \\sum_{i \\ge b} s_i

the remaining estimate scaled by how much slower (or faster) the run has been than
estimated; the prior weight ``w`` (a fraction ``lambda`` of the whole schedule) keeps the
first few units from swinging the ratio. Before there is a schedule there is no estimate
(the display says "estimating").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["PRIOR_WEIGHT", "TimeLeft", "tell", "time_left", "time_left_text"]

#: ``lambda`` above: the share of the schedule the initial estimate weighs as.
PRIOR_WEIGHT = 0.2


def time_left(schedule: Sequence[float], done: int, elapsed: float, begin: int = 0,
              prior_weight: float = PRIOR_WEIGHT) -> float:
    """Seconds left after ``done`` units, ``elapsed`` seconds after unit ``begin``.

    Parameters
    ----------
    schedule : sequence of float, shape (n_units,)
        Estimated seconds of every unit of the run, in order.
    done : int
        Units finished (``begin <= done <= n_units``).
    elapsed : float
        Seconds measured since unit ``begin`` started.
    begin : int
        The unit at which the schedule (and ``elapsed``) began.
    """
    s = [max(float(x), 0.0) for x in schedule]
    done = min(max(done, begin), len(s))
    left = sum(s[done:])
    w = prior_weight * sum(s[begin:])
    estimated_done = sum(s[begin:done])
    if estimated_done + w <= 0:
        return left
    return left * (max(elapsed, 0.0) + w) / (estimated_done + w)


def time_left_text(seconds: float | None) -> str:
    """``"about 40 s left"`` (``"estimating"`` without an estimate)."""
    if seconds is None:
        return "estimating"
    if seconds >= 120:
        return f"about {seconds / 60:.0f} min left"
    if seconds >= 20:
        return f"about {5 * round(seconds / 5):.0f} s left"
    return f"about {max(round(seconds), 1):.0f} s left"


class TimeLeft:
    """Tracks one study's progress units against a schedule (:func:`time_left`)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.schedule: list[float] | None = None
        self.begin = 0
        self.t0 = 0.0

    def plan(self, schedule: Sequence[float], begin: int) -> None:
        """Estimated seconds of units ``begin, begin + 1, ...``; the clock starts now."""
        self.schedule = [0.0] * begin + [float(x) for x in schedule]
        self.begin = begin
        self.t0 = self.clock()

    def seconds(self, done: int) -> float | None:
        """Seconds left after ``done`` units; None before there is a schedule."""
        if self.schedule is None:
            return None
        return time_left(self.schedule, done, self.clock() - self.t0, self.begin)


def tell(progress: Any, name: str, seconds: float | None) -> None:
    """Pass the time left to ``progress.time_left(name, seconds)`` when it has that method
    (a plain ``progress(step, done, total)`` callable is left as it is)."""
    hook = getattr(progress, "time_left", None)
    if callable(hook):
        hook(name, seconds)
