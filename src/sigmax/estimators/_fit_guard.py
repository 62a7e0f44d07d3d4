"""A fit either completes or leaves the previous model as it was; fits of one estimator queue.

``fit`` sets ``classes_`` long before the solver returns ``coef_``; a fit that
fails half-way (negative sample weights found after the labels were encoded,
an interrupt) would leave new labels beside old coefficients, and ``predict``
would silently answer with the wrong classes. Two threads fitting the same
estimator could likewise leave ``classes_`` of one fit and ``coef_`` of the
other. :func:`guarded_fit` wraps every ``fit``: it takes a per-estimator lock
(so fits of one estimator run one after the other, as scikit-learn users
expect from a single object) and restores every fitted attribute on failure.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from .. import _parallel

__all__ = ["guarded_fit"]

F = TypeVar("F", bound=Callable[..., Any])

_locks: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_locks_lock = threading.Lock()


def _lock_for(est: Any) -> threading.RLock:
    # Reentrant: a subclass's fit may call the base class's fit.
    with _locks_lock:
        lock = _locks.get(est)
        if lock is None:
            lock = _locks[est] = threading.RLock()
        return lock


@functools.cache
def _param_names(cls: type) -> frozenset[str]:
    """Constructor parameters of an estimator class (scikit-learn reads them from the
    signature with ``inspect``, on every fit: once per class here)."""
    return frozenset(cls._get_param_names())


def _state(est: Any) -> dict[str, Any]:
    """Every instance attribute that is not a constructor parameter (the fitted state)."""
    cls = type(est)
    params = (_param_names(cls) if hasattr(cls, "_get_param_names")
              else set(est.get_params(deep=False)))
    return {k: v for k, v in vars(est).items() if k not in params}


def guarded_fit(fit: F) -> F:
    """Wrap ``fit``: one fit of an estimator at a time; a failed fit changes nothing."""
    if getattr(fit, "_sigmax_guarded", False):
        return fit

    @functools.wraps(fit)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _lock_for(self), _parallel.fit_scope():
            before = _state(self)
            try:
                return fit(self, *args, **kwargs)
            except BaseException:
                for key in _state(self):
                    delattr(self, key)
                vars(self).update(before)
                raise

    wrapper._sigmax_guarded = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
