"""Independent fits of a section, side by side on the cores (outer folds x candidates).

The performance and calibration sections fit every candidate on every outer
fold, the minima section probes every candidate for separation and measures
five models: tasks that share nothing but the (read-only) data. A C search inside one
task can use only as many threads as it has inner folds (2), and the refit at
the chosen C, the shared trunk's epochs and every fixed-C fit are serial
chains; run one task after another and a core idles through all of them
(R's ggplot2movies: 123% CPU over 250 s on 2 cores). Here the tasks run
:func:`width` at a time on threads, each task's own work on one thread (its
C search with ``n_jobs=1``, the BLAS at one thread, every pass over ``X`` on
one worker: :func:`sigmax._parallel.fit_scope`).

Each task's warnings stay its own (:mod:`sigmax._thread_warnings`), and the
results come back in task order, whatever order the tasks finished in: the
study's numbers do not depend on the scheduling, only its timings do (two fits
share the machine's memory bandwidth; every section that reports times per
fold says the folds ran side by side).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Generic, TypeVar

from .. import _parallel, _thread_warnings

__all__ = ["Shared", "by_cost", "cores", "fit_every_fold", "jobs_of", "run_side_by_side",
           "width"]

T = TypeVar("T")


def jobs_of(n_jobs: int | None) -> int:
    """Cores for fits side by side from ``compare(n_jobs=...)``: None and -1 mean every core
    this process may use (:func:`sigmax._parallel.usable_cores`)."""
    return _parallel.usable_cores() if n_jobs is None or n_jobs == -1 else int(n_jobs)


def cores(n_jobs: int | None, estimator_params: Mapping[str, Any] | None = None) -> int:
    """Cores for fits side by side: :func:`jobs_of` ``n_jobs``, and 1 where the candidates
    fit on a backend other than NumPy (``estimator_params``): a device or a dask cluster
    schedules its own work, and fits sharing it would only queue behind each other."""
    if (estimator_params or {}).get("backend", "numpy") != "numpy":
        return 1
    return jobs_of(n_jobs)


def width(run: Any, n_tasks: int) -> int:
    """Tasks of ``run`` (a :class:`~sigmax.study.run.StudyRun`) to run at once: one per core
    the study may use (:attr:`~sigmax.study.run.StudyRun.search_jobs`; :func:`cores`), at
    most ``n_tasks``."""
    return max(1, min(cores(run.search_jobs, run.estimator_params), n_tasks))


def by_cost(run: Any, specs: Sequence[Any]) -> list[Any]:
    """``specs`` with the longest fits first (:attr:`~sigmax.study.run.StudyRun.fit_cost`:
    seconds of each candidate's C search and fit on all rows)."""
    return sorted(specs, key=lambda s: -run.fit_cost.get(s.name, 0.0))


def run_side_by_side(tasks: Sequence[Callable[[], T]], n_at_once: int, *,
                     done: Callable[[int, T], Any] | None = None) -> list[T]:
    """``[task() for task in tasks]``, ``n_at_once`` at a time on threads.

    Parameters
    ----------
    tasks : sequence of callables
        Independent pieces of work (each fits its own estimators), started in
        this order: put the long ones of a fold first, so that no core idles at
        the end while one long task runs, and the folds in order, so that few
        folds' data are alive at once (:class:`Shared`).
    n_at_once : int
        Threads; 1 runs the tasks in order in this thread.
    done : callable, optional
        ``done(i, result)`` in this thread as task ``i`` finishes (progress; work
        on the result that need not wait for the others, such as filing its large
        arrays and dropping them).

    Returns
    -------
    list
        The results in task order. The first exception a task raised is raised
        here, after the running tasks finish; the tasks not yet started are dropped.
    """
    if n_at_once <= 1 or len(tasks) <= 1:
        out = []
        for i, task in enumerate(tasks):
            out.append(task())
            if done is not None:
                done(i, out[-1])
        return out
    results: dict[int, T] = {}
    # The warnings hook is process-wide: in force around every worker.
    with _thread_warnings.capture(), _parallel.serial_blas(), \
            ThreadPoolExecutor(n_at_once, thread_name_prefix="sigmax-task") as pool:
        pending: dict[Future[Any], int] = {pool.submit(task): i for i, task in enumerate(tasks)}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    i = pending.pop(fut)
                    results[i] = fut.result()
                    if done is not None:
                        done(i, results[i])
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    return [results[i] for i in range(len(tasks))]


def fit_every_fold(run: Any, fold_data: Sequence[Callable[[], Any]], specs: Sequence[Any],
                   make: Callable[[int, Any, bool], Any], fit: Callable[[Any, Any, Any], T],
                   step: Callable[[int, Any], str],
                   on_done: Callable[[int, Any, T], Any] | None = None
                   ) -> tuple[list[tuple[int, Any, T]], int]:
    """Every model of ``specs`` fitted on every fold, side by side (a section's tasks).

    Parameters
    ----------
    run : StudyRun
    fold_data : sequence of callables
        ``fold_data[f]()`` makes fold ``f``'s data (its standardized copies): made
        once, by the first of that fold's fits to start, dropped after its last
        (:class:`Shared`).
    specs : sequence of CandidateSpec
    make : callable
        ``make(f, spec, alone)`` builds the estimator, here in this thread (a C
        search's inner folds are drawn here); ``alone`` is False when the fits run
        side by side, so that its own work should stay on one thread.
    fit : callable
        ``fit(spec, est, data)``: the task, in a worker.
    step : callable
        ``step(f, spec)``: the progress words of a finished task.
    on_done : callable, optional
        ``on_done(f, spec, result)`` here as each task finishes (file its large
        arrays, then drop them).

    Returns
    -------
    results : list of (fold, spec, result)
        Fold by fold; within a fold the longest fits first (:func:`by_cost`), the
        order they were started in.
    at_once : int
        Tasks that ran side by side (:func:`width`).
    """
    at_once = width(run, len(fold_data) * len(specs))
    keys, tasks = [], []
    for f, make_data in enumerate(fold_data):
        shared = Shared(make_data, len(specs))
        for spec in by_cost(run, specs):
            est = make(f, spec, at_once == 1)
            keys.append((f, spec))
            tasks.append(lambda spec=spec, est=est, shared=shared: _fit_on(shared, fit, spec,
                                                                           est))

    def done(i: int, result: T) -> None:
        f, spec = keys[i]
        if on_done is not None:
            on_done(f, spec, result)
        run.progress(step(f, spec))

    results = run_side_by_side(tasks, at_once, done=done)
    return [(f, spec, r) for (f, spec), r in zip(keys, results)], at_once


def _fit_on(shared: Shared[Any], fit: Callable[[Any, Any, Any], T], spec: Any, est: Any) -> T:
    """``fit`` on the fold's shared data, which is released afterwards whatever happens."""
    try:
        return fit(spec, est, shared.get())
    finally:
        shared.release()


class Shared(Generic[T]):
    """A value the tasks of one fold share: made by the first that needs it, dropped after
    the last (``users`` calls of :meth:`release`), so that only the folds at work hold
    their standardized copies of the data."""

    def __init__(self, make: Callable[[], T], users: int) -> None:
        self._make, self._users = make, users
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._make()
            return self._value

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users <= 0:
                self._value = None
