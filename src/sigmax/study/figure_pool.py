"""Figures drawn in a second process while the study goes on.

Drawing is a CPU-bound, single-threaded job that holds the GIL (matplotlib's
Agg rasterizer): the 31 figures of the built-in ``sigmax compare`` take about
13 s, a fifth of the command, and the study itself keeps one core busy. A
:class:`FigurePool` draws one problem's figures in a worker process as soon as
that problem's study is done, on the other core, while the next problem is
studied; the report then only writes the PNGs. A figure depends on nothing
but its :class:`~sigmax.study.result.ProblemResult`, which crosses to the
worker as its plain ``to_dict()`` form (the form ``results.json`` holds).

Where no worker process can start (a sandbox without ``fork``/``spawn``
rights) or a worker fails, the figures are drawn in this process as before:
the pool only ever changes when they are drawn.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from .figure import RenderedFigure
from .result import ProblemResult

__all__ = ["FigurePool"]


def _draw(data: dict[str, Any]) -> list[tuple[str, bytes | None, str | None, bool]]:
    """In the worker: every figure of one problem, as (id, png, skipped, quiet)."""
    from .plots import draw_figures

    problem = ProblemResult.from_dict(data)
    return [(f.spec.id, f.png, f.skipped, f.quiet) for f in draw_figures(problem)]


class FigurePool:
    """Draws each submitted problem's figures in one worker process (a context manager).

    ``submit(problem)`` in the order of the result's problems; ``rendered()``
    then gives every problem's :class:`~sigmax.study.figure.RenderedFigure`
    list. The worker gets one problem at a time; problems it has not started
    when ``rendered()`` is called are drawn in this process meanwhile (the two
    cores share the tail), and so is any problem whose worker failed.
    """

    def __init__(self) -> None:
        self._problems: list[ProblemResult] = []
        self._futures: dict[int, Future] = {}
        self._queue: list[int] = []  # submitted, not yet handed to the worker
        self._busy = False
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        try:
            # spawn, not fork: this process runs threads (BLAS, numba, the fold
            # workers) that a forked child would inherit mid-operation.
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        except (OSError, ValueError, NotImplementedError):
            self._pool = None

    def __enter__(self) -> FigurePool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._queue.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def submit(self, problem: ProblemResult) -> None:
        """Queue ``problem``'s figures (the next problem of the result)."""
        with self._lock:
            self._problems.append(problem)
            self._queue.append(len(self._problems) - 1)
        self._next()

    def _next(self, done: Any = None) -> None:
        """Hand the next queued problem to the worker when it is free."""
        with self._lock:
            if done is not None:
                self._busy = False
            if self._busy or not self._queue or self._pool is None:
                return
            i = self._queue.pop(0)
            try:
                future = self._pool.submit(_draw, self._problems[i].to_dict())
            except (OSError, RuntimeError):  # a broken pool: drawn here later
                return
            self._futures[i] = future
            self._busy = True
        future.add_done_callback(self._next)

    def rendered(self) -> list[list[RenderedFigure]]:
        """Every submitted problem's figures, in submission order (waits for the worker)."""
        from .plots import FIGURES, draw_figures

        with self._lock:
            left, self._queue = list(self._queue), []
        here = {i: draw_figures(self._problems[i]) for i in left}
        out = []
        for i, problem in enumerate(self._problems):
            drawn = here.get(i)
            future = self._futures.get(i)
            if drawn is None and future is not None:
                try:
                    drawn = [RenderedFigure(FIGURES[fid], png, skipped, quiet)
                             for fid, png, skipped, quiet in future.result()]
                except Exception:  # any worker failure: draw here instead
                    drawn = None
            out.append(draw_figures(problem) if drawn is None else drawn)
        return out
