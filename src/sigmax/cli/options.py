"""Options and helpers shared by the commands (data loading, placement, C, inference)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from .group import _one_line


# -- shared pieces ----------------------------------------------------------------------------
class CValue(click.ParamType):
    """``cv`` or a float in (0, inf]."""

    name = "cv|positive float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        if isinstance(value, str) and value.strip().lower() == "cv":
            return "cv"
        try:
            float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is neither a positive number nor 'cv'.", param, ctx)
        return PositiveFloat().convert(value, param, ctx)


class PositiveFloat(click.FloatRange):
    """A float in (0, inf]: click's range lets NaN through (every comparison with it is False)."""

    name = "positive float"

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        out = super().convert(value, param, ctx)
        if out != out:  # NaN
            self.fail(f"{value!r} is not a number; give a float > 0 (inf: no penalty).",
                      param, ctx)
        return out


class Seconds(click.FloatRange):
    """A finite number of seconds > 0 (``--budget``)."""

    name = "seconds"

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        try:
            out = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds; give a number > 0, e.g. 60.",
                      param, ctx)
        if not (0 < out < float("inf")):  # also NaN, for which every comparison is False
            self.fail(f"{value!r} is not a usable time; give a finite number of seconds > 0, "
                      "e.g. 60.", param, ctx)
        return out


def process_started() -> float:
    """The ``time.perf_counter()`` reading at which this process started (Linux: from
    ``/proc``, so that ``--budget`` counts Python's start and the imports; elsewhere: now)."""
    import os
    import time

    now = time.perf_counter()
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return now - min(max(age, 0.0), 3600.0)


def _stdout_console():
    from rich.console import Console

    return Console(highlight=False)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


class _Bars:
    """``callback(step, done, total)`` driving one rich bar per dataset, and
    ``callback.time_left(dataset, seconds)`` (:func:`sigmax.study.eta.tell`) setting the
    "about N s left" of that dataset's bar."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}
        self.left: dict[str, str] = {}

    def time_left(self, key: str, seconds: float | None) -> None:
        from ..study.eta import time_left_text

        self.left[key] = time_left_text(seconds)

    def __call__(self, step: str, done: int, total: int) -> None:
        # The study reports "<dataset>: <what it is doing>" with one running count
        # per dataset: one bar per dataset, its text the current step.
        key, _, what = step.partition(": ")
        label = f"{key}: {what}" if what else key
        left = "" if done >= total and total > 0 else self.left.get(key, "")
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(label, total=max(int(total), 1), left=left)
        self.progress.update(self.tasks[key], completed=int(done), total=max(int(total), 1),
                             description=label[:44], left=left)


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A ``callback(step, done, total)`` that drives one rich progress bar per step.

    Bars go to stderr (stdout keeps the summary) and only on a terminal. Each bar ends
    in the study's estimate of the time left for its dataset ("about 40 s left";
    "estimating" until there is one: :mod:`sigmax.study.eta`).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = _stderr_console()
    progress = Progress(SpinnerColumn(), TextColumn("{task.description:<44}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("[dim]{task.fields[left]}"), console=console,
                        disable=not (enabled and console.is_terminal), transient=False)
    with progress:
        yield _Bars(progress)


def _load(data: str, targets: Sequence[str], *, seed: int, max_rows: int | None,
          drop: Sequence[str], dropna: bool, missing: str = "error",
          groups: str | None = None, reference: bool = False, targets_only: bool = False):
    import warnings as _warnings

    from ..datasets import load_dataset

    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always", UserWarning)
        ds = load_dataset(data, list(targets) or None, seed=seed, max_rows=max_rows,
                          drop=drop, dropna=dropna, missing=missing, groups=groups,
                          reference=reference, targets_only=targets_only)
    for w in caught:  # e.g. "dropping rows removes 75% of the table"
        click.echo(f"Warning: {_one_line(w.message)}", err=True)
    return ds


_data_options = [
    click.option("-t", "--target", "targets", multiple=True, metavar="COL",
                 help="Column to predict. Repeat it for several 0/1 label columns "
                      "(a multi-label problem)."),
    click.option("--drop", multiple=True, metavar="COL",
                 help="Leave this column out of the features (ids, free text). Repeatable."),
    click.option("--missing", default="error", show_default=True,
                 type=click.Choice(["error", "drop", "indicator"]),
                 help="Missing values: stop and name them (error), leave those rows out "
                      "(drop), or impute numbers with a missing flag and give text a "
                      "'(missing)' level (indicator; stored with the model)."),
    click.option("--dropna", is_flag=True, hidden=True,
                 help="Same as --missing drop (older scripts)."),
    click.option("--groups", default=None, metavar="COL",
                 help="Column of group labels (a person, a site): folds keep each group "
                      "together, and the column is not a feature."),
    click.option("--seed", default=0, show_default=True, type=int,
                 help="Seed of subsampling, folds and random starts."),
    click.option("--max-rows", type=click.IntRange(min=10), default=None,
                 help="Subsample the data to at most this many rows."),
]


def data_options(f: Callable) -> Callable:
    for opt in reversed(_data_options):
        f = opt(f)
    return f


_backend_options = [
    click.option("--backend", default="auto", show_default=True,
                 type=click.Choice(["auto", "numpy", "torch", "dask"]),
                 help="Where the products with X run (see docs/scaling.md)."),
    click.option("--device", default=None, metavar="DEVICE",
                 help="torch device for --backend torch: cpu, cuda, cuda:1."),
    click.option("--scheduler", default=None, metavar="ADDRESS",
                 help="dask.distributed scheduler to fit on (tcp://host:8786), with "
                      "--backend dask; without it dask uses this machine's threads."),
]


def backend_options(f: Callable) -> Callable:
    """``--backend``, ``--device``, ``--scheduler``; check them with :func:`_check_backend`."""
    for opt in reversed(_backend_options):
        f = opt(f)
    return f


def _check_backend(backend: str, device: str | None, scheduler: str | None) -> None:
    """Fail early, in one line, on a backend choice that cannot run (before any data load)."""
    if scheduler is not None and backend != "dask":
        raise click.UsageError("--scheduler is the address of a dask cluster: use it with "
                               "--backend dask.")
    import numpy as np

    from ..backends import resolve_backend

    try:  # the CLI's data are NumPy: "auto" is NumPy, or torch for a GPU --device
        resolve_backend(backend, np.empty((1, 1)), device)
    except ImportError as exc:
        raise click.ClickException(_one_line(exc)) from None


def _check_sections(ctx: click.Context, param: click.Parameter, value: str | None
                    ) -> list[str] | None:
    """``--sections`` as section ids, checked against the registry (read when used, so
    the CLI starts without importing the study)."""
    if value is None:
        return None
    from ..study.section import SECTIONS

    try:
        return SECTIONS.resolve(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


_inference_options = [
    click.option("--cov-type", default="nonrobust", show_default=True, metavar="TYPE",
                 help="Covariance of the estimates: nonrobust, HC0, HC1 or cluster "
                      "(with --groups)."),
    click.option("--alpha", default=0.05, show_default=True,
                 type=click.FloatRange(0, 1, min_open=True, max_open=True),
                 help="Confidence intervals at level 1 - alpha."),
]


def inference_options(f: Callable) -> Callable:
    """``--cov-type``, ``--groups``, ``--alpha`` of the coefficient table."""
    for opt in reversed(_inference_options):
        f = opt(f)
    return f




@contextmanager
def _dask_client(address: str | None) -> Iterator[None]:
    """Connect to the dask scheduler at ``address`` for the duration (no-op for None)."""
    if address is None:
        yield
        return
    try:
        from distributed import Client
    except ImportError as exc:
        raise click.UsageError("--scheduler needs dask.distributed: pip install "
                               "'sigmax[dask]'.") from exc
    try:
        client = Client(address, timeout="10s")
    except OSError as exc:
        raise click.UsageError(f"Cannot reach the dask scheduler at {address}: "
                               f"{_one_line(exc)}") from exc
    with client:
        yield


