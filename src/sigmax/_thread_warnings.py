"""Warnings recorded per thread: fits side by side, each with its own list.

Why not :class:`warnings.catch_warnings`: it swaps the module's filters and its
``showwarning`` hook for the whole process, so two threads that each enter it
restore each other's state on exit, and each one's record holds the other's
warnings too. Here the thread that starts the workers enters :func:`capture`
(one process-wide hook, counted: studies in several threads share it); each
worker then records into its own list
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
_lock = threading.Lock()
# How many capture() blocks are open (in any thread), and the catch_warnings that the
# first one entered (the last one out exits it, whichever thread that is).
_depth = 0
_saved: Any = None


def active() -> bool:
    """True while :func:`capture` is in force."""
    return _depth > 0


@contextmanager
def capture() -> Iterator[None]:
    """Route every warning (filter ``"always"``) to the list of the thread that raised it.

    Enter it in the thread that starts the workers, around them. Counted: blocks
    may nest or overlap from several threads (two studies at once); the first one
    in installs the hook, the last one out restores the filters and the hook.
    """
    global _depth, _saved
    with _lock:
        if _depth == 0:
            saved = warnings.catch_warnings()
            saved.__enter__()
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
            _saved = saved
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _saved.__exit__(None, None, None)
                _saved = None


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
