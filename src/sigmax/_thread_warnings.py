"""Warnings recorded per thread: fits side by side, each with its own list.

Why not :class:`warnings.catch_warnings`: it swaps the module's filters and its
``showwarning`` hook for the whole process, so two threads that each enter it
restore each other's state on exit, and each one's record holds the other's
warnings too. Here one thread (the one that starts the workers) enters
:func:`capture` once, process-wide; each worker then records into its own list
(:func:`recording`), and a thread the worker starts for its own work (a C
search's folds, a pass's row blocks) records into the same list when it runs a
function wrapped by :func:`carry`. A warning raised in a thread that records
nothing goes where it went before :func:`capture`.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["active", "capture", "carry", "recording"]

T = TypeVar("T")

_local = threading.local()
# Set while capture() is in force (the process-wide hook below is installed).
_active = False


def active() -> bool:
    """True while :func:`capture` is in force."""
    return _active


@contextmanager
def capture() -> Iterator[None]:
    """Route every warning (filter ``"always"``) to the list of the thread that raised it.

    Enter it in one thread, around the workers; it is not reentrant.
    """
    global _active
    if _active:
        raise RuntimeError("sigmax._thread_warnings.capture() is already in force")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        before = warnings.showwarning

        def show(message: Any, category: Any, filename: str, lineno: int,
                 file: Any = None, line: str | None = None) -> None:
            sink = getattr(_local, "sink", None)
            if sink is None:
                before(message, category, filename, lineno, file, line)
            else:  # list.append is atomic: a worker's helper threads may share the list
                sink.append(warnings.WarningMessage(message, category, filename, lineno,
                                                    file, line))

        warnings.showwarning = show
        _active = True
        try:
            yield
        finally:
            _active = False


@contextmanager
def recording() -> Iterator[list[warnings.WarningMessage]]:
    """The warnings this thread raises while inside (under :func:`capture`)."""
    caught: list[warnings.WarningMessage] = []
    outer = getattr(_local, "sink", None)
    _local.sink = caught
    try:
        yield caught
    finally:
        _local.sink = outer


def carry(fn: Callable[..., T]) -> Callable[..., T]:
    """``fn``, run in another thread, records into the calling thread's list (if any)."""
    sink = getattr(_local, "sink", None)
    if sink is None:
        return fn

    def run(*args: Any, **kwargs: Any) -> T:
        outer = getattr(_local, "sink", None)
        _local.sink = sink
        try:
            return fn(*args, **kwargs)
        finally:
            _local.sink = outer

    return run
