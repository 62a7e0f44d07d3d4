"""The estimator registry: class name -> class (a leaf module).

:func:`sigmax.load` finds the class named in a model file here, and the CLI
finds ``--model`` here. The estimators register into it (``estimators/__init__``),
so the reader of model files depends on this table only, never on the estimators
themselves, and no import cycle ties ``io`` to the models it loads.
"""

from __future__ import annotations

from typing import Any, TypeVar

__all__ = ["ESTIMATORS", "register_estimator"]

#: Estimator classes that can be saved and loaded, by class name.
ESTIMATORS: dict[str, type[Any]] = {}

_T = TypeVar("_T", bound=type)


def register_estimator(cls: _T) -> _T:
    """Add ``cls`` to :data:`ESTIMATORS` under its class name; return it (a decorator).

    Raises
    ------
    ValueError
        When another class is already registered under that name.
    """
    known = ESTIMATORS.get(cls.__name__)
    if known is not None and known is not cls:
        raise ValueError(f"An estimator named {cls.__name__!r} is already registered "
                         f"({known.__module__}); give the new class another name.")
    ESTIMATORS[cls.__name__] = cls
    return cls
