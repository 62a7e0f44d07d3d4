"""PyTorch backend: ``X`` on a CPU or CUDA device, tensors in, tensors out.

The data-heavy products run on ``X``'s device in the estimator's working dtype
(``dtype="float32"`` is the natural choice on a GPU); the optimizer's parameter
vector stays float64 NumPy on the host, and each evaluation moves only
``(d+1) k`` numbers each way. The loss maths is the losses' own definition,
written against the array namespace (:mod:`sigmax.losses`), with the same
stability rules on every device (shift before ``exp``; softplus and sigmoid
from ``exp(-|z|)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .array import ArrayObjective
from .base import Backend, PrecomputedLogits, input_kind, register_backend, to_numpy

__all__ = ["TorchBackend"]


def resolve_device(torch: Any, name: str) -> Any:
    """The ``torch.device`` for ``name``; ``'auto'`` is CUDA when available, else CPU.

    The one place sigmax turns a device name into a device (the backend, the
    shared trunk and the study all call it), so every misuse gets the same
    message with the fix.
    """
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={name!r} is not a torch device; use 'cpu', 'cuda', 'cuda:0', "
                         "'mps' or 'auto' (a GPU when there is one).") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={name!r} was asked but torch sees no CUDA GPU (torch "
            f"{torch.__version__}, torch.cuda.is_available() is False; a '+cpu' build never "
            "does). Use device='cpu' (or 'auto'), or install a CUDA build of torch on a "
            "machine with a GPU.")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device={name!r}: only {torch.cuda.device_count()} CUDA device(s).")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={name!r} was asked but MPS is not available; use 'cpu'.")
    return dev


def _torch_device(device: Any, X: Any) -> Any:
    """The torch device to fit on: ``device`` if given, else ``X``'s (CPU for non-tensors)."""
    import torch

    if device is None:
        return X.device if isinstance(X, torch.Tensor) else torch.device("cpu")
    return resolve_device(torch, device)


def _nonfinite_message(X: Any) -> str | None:
    import torch

    bad = ~torch.isfinite(X)
    n_bad = int(bad.sum())
    if not n_bad:
        return None
    n_nan = int(torch.isnan(X).sum())
    n_inf = n_bad - n_nan
    idx = to_numpy(torch.nonzero(bad)[:6])
    where = ", ".join(f"(row {r}, column {c})" for r, c in idx[:5])
    more = f" and {n_bad - 5} more" if n_bad > 5 else ""
    kinds = " and ".join(s for s in (f"{n_nan} NaN" if n_nan else "",
                                     f"{n_inf} infinite" if n_inf else "") if s)
    return (f"Input X contains {kinds} value(s), at {where}{more}. Remove those rows, or "
            "impute them before fitting.")


@register_backend
class TorchBackend(Backend):
    """Torch tensors (or array-likes moved to ``device``), CPU or CUDA."""

    name = "torch"
    requires = ("torch", "array_api_compat")
    install_hint = "pip install 'sigmax[torch]'"

    def check_device(self, device: Any) -> None:
        if device is not None:
            _torch_device(device, None)

    def _tensor(self, est: Any, X: Any, device: Any, *, reset: bool) -> Any:
        """``X`` validated, as a tensor on the chosen device in the working dtype."""
        import torch
        from sklearn.utils.validation import _check_feature_names, _check_n_features

        from .._dtypes import DTYPES as _DTYPES

        dtype = getattr(torch, est.dtype)
        dev = _torch_device(device, X)
        if isinstance(X, torch.Tensor):
            if X.layout != torch.strided:
                raise TypeError(f"X is a sparse tensor ({X.layout}); the torch backend takes "
                                "dense tensors. Use X.to_dense() or backend='numpy' with a "
                                "scipy.sparse matrix.")
            if X.ndim != 2:
                raise ValueError(f"Expected a 2-D tensor X of shape (n_samples, n_features), "
                                 f"got {X.ndim}-D of shape {tuple(X.shape)}.")
            if X.is_complex() or X.dtype == torch.bool:
                raise ValueError(f"X has dtype {X.dtype}: sigmax needs a real tensor.")
            if X.shape[0] < 1 or X.shape[1] < 1:
                raise ValueError(f"Found array with shape {tuple(X.shape)}: at least one "
                                 "sample and one feature are required.")
            _check_n_features(est, X, reset=reset)
            _check_feature_names(est, X, reset=reset)
            Xt = X.detach().to(device=dev, dtype=dtype)
        else:
            Xn = est._check_X(X, reset=reset)
            import scipy.sparse as sp

            if sp.issparse(Xn):
                raise TypeError("backend='torch' takes dense X; fit sparse X with "
                                "backend='numpy'.")
            Xt = torch.from_numpy(np.ascontiguousarray(Xn, dtype=_DTYPES[est.dtype])).to(dev)
        msg = _nonfinite_message(Xt)
        if msg:
            raise ValueError(msg)
        return Xt

    def prepare_fit(self, est, X, y, sample_weight, device):
        Xt = self._tensor(est, X, device, reset=True)
        return Xt, _host(y), _host(sample_weight)

    def objective(self, loss, X, Y, weights, k, *, C, penalty, fit_intercept, offset=None):
        return ArrayObjective(loss, X, Y, weights, k, C=C, penalty=penalty,
                              fit_intercept=fit_intercept, offset=offset)

    def predict(self, est: Any, method: Callable[..., Any], X: Any, offset: Any = None) -> Any:
        """Logits on ``X``'s device; the link (sigmoid, softmax) on the host; a tensor back.

        Class labels that are not numbers (strings) cannot be a tensor and come
        back as a NumPy array. An ``offset`` (tensor or array) joins the logits
        on the host, checked by the estimator like a NumPy one.
        """
        import torch
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(est)
        Xt = self._tensor(est, X, None, reset=False)
        coef = torch.as_tensor(np.asarray(est.coef_), dtype=Xt.dtype, device=Xt.device)
        b = torch.as_tensor(np.asarray(est.intercept_), dtype=Xt.dtype, device=Xt.device)
        Z = Xt @ coef.T + b
        Zn = to_numpy(Z)
        bad = ~np.isfinite(Zn).all(axis=1)
        if bad.any():  # overflowed rows: rescaled on the host (see estimators._logits)
            from ..estimators._logits import finite_logits

            rows = torch.as_tensor(np.flatnonzero(bad), device=Xt.device)
            Zn[bad] = finite_logits(to_numpy(Xt[rows]), np.asarray(est.coef_),
                                    np.asarray(est.intercept_))
        # A tensor offset comes to the host; others (a DataFrame keeps its names) as given.
        kw = {} if offset is None else {
            "offset": offset if input_kind(offset) == "numpy" else to_numpy(offset)}
        out = np.asarray(method(est, PrecomputedLogits(Zn), **kw))
        if out.dtype.kind not in "biuf":
            return out
        return torch.from_numpy(np.ascontiguousarray(out)).to(Xt.device)


def _host(a: Any) -> Any:
    """Labels or weights given as tensors, on the host as NumPy."""
    import torch

    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return a
