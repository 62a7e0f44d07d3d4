"""The penalty registry: one line per penalty module."""

from __future__ import annotations

from collections.abc import Callable

from . import elasticnet, group, l1, l2, none
from .base import Penalty

__all__ = ["PENALTIES", "make_penalty"]

#: Registry of penalty factories by name; each takes ``l1_ratio`` (used by elasticnet only).
PENALTIES: dict[str, Callable[[float | None], Penalty]] = {
    "none": none.make,
    "l2": l2.make,
    "l1": l1.make,
    "elasticnet": elasticnet.make,
    "group": group.make,
}


def make_penalty(name: str | None, l1_ratio: float | None = None) -> Penalty:
    """Build a penalty from its registry name; ``None`` means ``"none"``."""
    key = "none" if name is None else name
    if key not in PENALTIES:
        raise ValueError(
            f"Unknown penalty {name!r}; choose one of {sorted(PENALTIES)} (or None).")
    return PENALTIES[key](l1_ratio)
