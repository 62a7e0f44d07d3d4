"""Physical memory available now, and whether a copy made for speed fits in a share of it.

A speed-up must never be what makes a large fit run out of memory: the copies the
data terms make to be faster (the float32 twin of :mod:`.float32_hessp`, the
row-major copy of a column-major ``X`` in :func:`.blocks.row_layout`) are made only
where they take at most :data:`MEMORY_SHARE` of the memory available at that moment.
"""

from __future__ import annotations

import os

__all__ = ["MEMORY_SHARE", "available_memory", "copy_fits"]

#: The largest share of the available memory a copy made for speed may take.
MEMORY_SHARE = 0.25


def available_memory() -> float:
    """Bytes of physical memory available now (inf where the system does not say)."""
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return float("inf")


def copy_fits(nbytes: float, available: float | None = None) -> bool:
    """Whether a copy of ``nbytes`` takes at most :data:`MEMORY_SHARE` of ``available``
    (default: :func:`available_memory` now)."""
    free = available_memory() if available is None else available
    return nbytes <= MEMORY_SHARE * free
