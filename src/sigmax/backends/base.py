r"""Backend contract and the :data:`BACKENDS` registry.

A backend says where the data-heavy work of a fit runs. The optimizer always
keeps the parameter vector ``w`` (a few thousand float64 numbers at most) on the
host in NumPy; a backend only supplies the pieces whose cost grows with ``n``:

- ``prepare_fit``: validate ``X`` where it lives (shape, dtype, finiteness,
  feature names) and bring the *labels* and sample weights to the host, where
  the estimators encode them with their own code (so the same ``y`` gives the
  same classes, the same errors and the same class weights on every backend);
- ``objective``: an :class:`~sigmax.objective.Objective` over the backend's
  data term (:mod:`sigmax.dataterms`), whose
  ``value_and_grad``, ``hessp`` and ``hessian`` evaluate ``X @ W``,
  ``X.T @ G`` and the Hessian products where ``X`` lives, and return float64
  NumPy results of size ``d * k`` (or ``(d k)^2`` for the full Hessian);
- ``predict``: run a prediction method so that the output has the input's
  kind (NumPy in, NumPy out; tensor in, tensor out; dask in, lazy dask out).

``backend="auto"`` picks the backend from the type of ``X``
(:func:`infer_backend`): dask collections go to ``"dask"``, torch tensors to
``"torch"``, anything else to ``"numpy"``. Heavy libraries (torch, dask) are
imported only when a backend that needs them is used.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "BACKENDS",
    "Backend",
    "PrecomputedLogits",
    "infer_backend",
    "input_kind",
    "register_backend",
    "resolve_backend",
    "route_by_input",
    "to_numpy",
]


@dataclass(frozen=True)
class PrecomputedLogits:
    """Logits ``X @ coef_.T + intercept_`` already computed by a backend, on the host.

    A backend that computes the logits where the data live (a GPU) hands them to
    the estimators' NumPy prediction code wrapped in this marker, so that the
    link functions (sigmoid, softmax, their logs) are the same stable code on
    every backend. ``LinearClassifierBase._logits`` returns ``Z`` unchanged.
    """

    Z: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.Z.shape


class Backend:
    """Base class of the backends; one instance per name lives in :data:`BACKENDS`."""

    name: ClassVar[str]
    #: Python packages the backend imports (named in the error when one is missing).
    requires: ClassVar[tuple[str, ...]] = ()
    #: What to install to get them.
    install_hint: ClassVar[str] = ""

    def available(self) -> bool:
        """True when the packages in :attr:`requires` can be imported."""
        import importlib.util

        return all(importlib.util.find_spec(mod) is not None for mod in self.requires)

    def check_available(self) -> None:
        if not self.available():
            raise ImportError(
                f"backend={self.name!r} needs {' and '.join(self.requires)}, which is not "
                f"installed; install it with {self.install_hint}.")

    def check_device(self, device: Any) -> None:
        """Fail when ``device`` makes no sense for this backend (only torch places data)."""
        if not _host_device(device):
            raise ValueError(
                f"device={device!r} only applies to backend='torch'; backend={self.name!r} "
                "runs where its data are. Use backend='torch', device=... for a GPU.")

    def prepare_fit(self, est: Any, X: Any, y: Any, sample_weight: Any, device: Any
                    ) -> tuple[Any, Any, Any]:  # pragma: no cover - abstract
        """Return ``(X validated where it lives, y on the host, sample_weight on the host)``."""
        raise NotImplementedError

    def objective(self, loss: Any, X: Any, Y: np.ndarray, weights: np.ndarray, k: int, *,
                  C: float, penalty: Any, fit_intercept: bool, offset: Any = None
                  ) -> Any:  # pragma: no cover - abstract
        """The :class:`~sigmax.objective.Objective` for this backend (its data term).

        ``offset``: ``(n, k)`` known logits for the loss's outputs (host NumPy,
        checked by the estimator), or None.
        """
        raise NotImplementedError

    def predict(self, est: Any, method: Callable[..., Any], X: Any, offset: Any = None
                ) -> Any:  # pragma: no cover - abstract
        """``method(est, X, offset=offset)`` with the output in the kind of ``X``.

        ``offset``: the caller's offset for the rows of ``X`` (any kind), or None.
        """
        raise NotImplementedError


#: Registry of backends by name.
BACKENDS: dict[str, Backend] = {}


def register_backend(cls: type[Backend]) -> type[Backend]:
    """Class decorator: add one instance of ``cls`` to :data:`BACKENDS`."""
    BACKENDS[cls.name] = cls()
    return cls


def input_kind(X: Any) -> str:
    """``"dask"`` for dask collections, ``"torch"`` for tensors, else ``"numpy"``.

    Looks only at modules that are already imported: an object cannot be a
    tensor if torch was never imported, so this never imports torch or dask.
    """
    # sys.modules.get: an entry set to None (an import blocked on purpose)
    # means the module is not usable, not that it is imported.
    dask = sys.modules.get("dask")
    if dask is not None and dask.is_dask_collection(X):
        return "dask"
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(X, torch.Tensor):
        return "torch"
    return "numpy"


def infer_backend(X: Any, device: Any = None) -> str:
    """The backend ``backend="auto"`` picks for ``X``.

    The type of ``X`` decides; a NumPy-like ``X`` with an accelerator named as
    ``device`` (``device="cuda"``) goes to torch, since a device only means
    something there (``None``, ``"cpu"`` and ``"auto"`` keep NumPy).
    """
    kind = input_kind(X)
    if kind == "numpy" and not _host_device(device):
        return "torch"
    return kind


def _host_device(device: Any) -> bool:
    """True for the devices every backend accepts: None, ``"cpu"`` and ``"auto"``."""
    return device is None or str(device) in ("cpu", "auto")


def resolve_backend(name: str, X: Any, device: Any = None) -> Backend:
    """The backend instance for ``name`` (``"auto"`` infers it from ``X``), checked.

    Raises
    ------
    ValueError
        Unknown name, or a device given to a backend that does not place data.
    ImportError
        The backend's library is not installed (the message says what to install).
    """
    key = infer_backend(X, device) if name == "auto" else name
    if key not in BACKENDS:
        raise ValueError(f"Unknown backend {name!r}; choose 'auto' or one of "
                         f"{sorted(BACKENDS)}.")
    backend = BACKENDS[key]
    backend.check_available()
    backend.check_device(device)
    return backend


def route_by_input(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a prediction method so that its output has the kind of its input ``X``.

    NumPy-like input calls ``method`` directly (no overhead beyond a type
    check); a tensor or a dask collection goes to that backend's
    :meth:`Backend.predict`, which calls ``method`` on what it can handle.
    The one argument that travels with ``X`` is ``offset`` (by keyword or as
    the only positional argument): its rows are ``X``'s.
    """
    import functools

    @functools.wraps(method)
    def routed(self: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        kind = input_kind(X)
        if kind == "numpy" or len(args) > 1 or set(kwargs) - {"offset"} or (args and kwargs):
            return method(self, X, *args, **kwargs)
        backend = BACKENDS[kind]
        backend.check_available()
        offset = args[0] if args else kwargs.get("offset")
        if offset is None:
            return backend.predict(self, method, X)
        return backend.predict(self, method, X, offset=offset)

    return routed


def to_numpy(A: Any) -> np.ndarray:
    """Bring an array of any backend to the host as NumPy (computes dask arrays)."""
    kind = input_kind(A)
    if kind == "torch":
        return A.detach().cpu().numpy()
    if kind == "dask":
        return np.asarray(A.compute())
    return np.asarray(A)
