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
    list, drawn in this process for any problem whose worker failed.
    """

    def __init__(self) -> None:
        self._problems: list[ProblemResult] = []
        self._futures: list[Future | None] = []
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
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def submit(self, problem: ProblemResult) -> None:
        """Start drawing ``problem``'s figures (the next problem of the result)."""
        future = None
        if self._pool is not None:
            try:
                future = self._pool.submit(_draw, problem.to_dict())
            except (OSError, RuntimeError):  # a broken pool: draw here later
                future = None
        self._problems.append(problem)
        self._futures.append(future)

    def rendered(self) -> list[list[RenderedFigure]]:
        """Every submitted problem's figures, in submission order (waits for the worker)."""
        from .plots import FIGURES, draw_figures

        out = []
        for problem, future in zip(self._problems, self._futures):
            drawn = None
            if future is not None:
                try:
                    drawn = [RenderedFigure(FIGURES[fid], png, skipped, quiet)
                             for fid, png, skipped, quiet in future.result()]
                except Exception:
                    drawn = None
            out.append(draw_figures(problem) if drawn is None else drawn)
        return out
