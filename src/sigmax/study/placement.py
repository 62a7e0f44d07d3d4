"""Where the candidate fits run: ``compare(estimator_params=...)``, checked and described."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["ESTIMATOR_PARAMS", "NUMPY_SECTIONS", "check_estimator_params", "cuda_device",
           "placement", "placement_text"]

#: Keys of ``compare(estimator_params=...)``: where the candidate fits run.
ESTIMATOR_PARAMS: tuple[str, ...] = ("backend", "device")

#: What stays on NumPy whatever the backend (named in the notes).
NUMPY_SECTIONS = ("gradient timings and the K sweep, derivative checks, minima and Hessian "
                  "spectrum, separation, K=2 equivalence, PCA decision regions")


def cuda_device(params: dict[str, Any]) -> Any:
    """The CUDA device of a torch placement (``estimator_params``), else None."""
    if params.get("backend") != "torch":
        return None
    from ..backends.torch_backend import _torch_device

    dev = _torch_device(params.get("device"), None)
    return dev if dev.type == "cuda" else None



def check_estimator_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``estimator_params`` checked: ``{"backend": name}`` plus the torch ``"device"``.

    The study's arrays are NumPy, so ``backend="auto"`` is NumPy, or torch when
    ``device`` names an accelerator (:func:`sigmax.backends.infer_backend`). The
    torch device is resolved (``"auto"`` -> ``"cuda"`` or ``"cpu"``). ``None``
    gives ``{}``: every candidate on its default backend (NumPy).

    Raises
    ------
    ValueError
        A key other than ``backend`` / ``device``, an unknown backend, or a
        device the backend cannot use (a GPU that torch does not see).
    ImportError
        The backend's library is not installed (the message says what to install).
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValueError(f"estimator_params must be a dict such as {{'backend': 'torch', "
                         f"'device': 'cuda'}}; got {type(params).__name__}.")
    bad = [str(k) for k in params if k not in ESTIMATOR_PARAMS]
    if bad:
        raise ValueError(
            f"estimator_params takes only 'backend' and 'device' (where the candidate fits "
            f"run); got {', '.join(map(repr, bad))}. The study sets every other parameter "
            "itself so that the candidates are fitted alike (the penalty: compare(C=...)).")
    backend, device = params.get("backend", "auto"), params.get("device")
    if not isinstance(backend, str):
        raise ValueError(f"estimator_params['backend'] must be a backend name ('auto', "
                         f"'numpy', 'torch', 'dask'); got {backend!r}.")
    if device is not None and not isinstance(device, str):
        raise ValueError(f"estimator_params['device'] must be None or a device name such as "
                         f"'cpu', 'cuda' or 'cuda:1'; got {device!r}.")
    from ..backends import resolve_backend

    name = resolve_backend(backend, np.empty((1, 1)), device).name
    out: dict[str, Any] = {"backend": name}
    if name == "torch":
        from ..backends.torch_backend import _torch_device

        out["device"] = str(_torch_device(device, None))
    return out


def placement(params: dict[str, Any]) -> dict[str, Any]:
    """``backend``, ``device`` and ``scheduler`` of the candidate fits, for the settings."""
    backend = params.get("backend", "numpy")
    scheduler = None
    if backend == "dask":
        from ..backends.dask_backend import _client

        client = _client()
        scheduler = (client.scheduler.address if client is not None
                     else "local threads (no dask.distributed client)")
    return {"backend": backend, "device": params.get("device"), "scheduler": scheduler}


def placement_text(params: dict[str, Any]) -> str:
    where = placement(params)
    extra = (f" (device {where['device']})" if where["device"] else
             f" (scheduler {where['scheduler']})" if where["scheduler"] else "")
    return f"the {where['backend']} backend{extra}"
