r"""The shared trunk of :class:`~sigmax.MultiHeadClassifier`: a small network under the heads.

With ``hidden=(h_1, ..., h_L)`` every head reads learned features instead of
``x``:

.. math::

    \phi(x) = a(W_L^\top \cdots a(W_1^\top \tilde x + b_1) \cdots + b_L), \qquad
    z_{i,h} = V_h^\top \phi(x_i) + c_h,

with :math:`\tilde x` the standardized input and :math:`a` the activation.
Trunk and heads are trained jointly on the same objective as the linear heads,

.. math::

    f = \frac{1}{S} \sum_i \sum_h w_{ih} \, \ell_h(z_{i,h}, y_{ih})
        + \frac{1}{C S} \cdot \frac12 \sum_{\text{layers}} \|W\|_F^2,

(weights ``w`` = sample weight x mask x class weight, :math:`S` their total
per head), so ``C`` means what it means for the linear model; biases are not
penalized. The objective is no longer convex: it is minimized by Adam on
minibatches (the batch term is divided by the batch's own total weight, an
estimate of :math:`\frac{1}{S}\sum`), with early stopping on a held-out
validation split and the best epoch's weights kept.

Reproducibility: one integer seed fixes the initialization (drawn inside a
forked torch RNG, so the caller's global RNG is untouched), the validation
split and the minibatch order (both from generators of their own). On CPU
two fits with the same seed give the same weights bit for bit; on a GPU,
cuBLAS reductions may differ in the last bits.

PyTorch is needed to *train* only: the fitted weights are stored as NumPy
arrays and :func:`forward` predicts without torch. It is an optional
dependency, imported lazily: ``pip install 'sigmax[torch]'``.

This module owns everything about the trunk that the estimator uses: the
rules of its parameters (:data:`PARAM_RULES`), its config from the
estimator's parameters (:meth:`TrunkConfig.from_params`), training
(:func:`fit_trunk`), prediction (:func:`forward`) and its arrays in a model
file (:meth:`TrunkState.layer_arrays`, :meth:`TrunkState.from_arrays`).
"""

from __future__ import annotations

import contextlib
import itertools
import numbers
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# One device resolver for the whole package: the torch backend owns it.
from .backends.torch_backend import resolve_device

__all__ = ["ACTIVATIONS", "INSTALL_HINT", "PARAM_RULES", "Activation", "TrunkConfig",
           "TrunkFitRecord",
           "TrunkState", "fit_trunk", "forward", "require_torch", "resolve_device"]

#: How to get the optional dependency.
INSTALL_HINT = "pip install 'sigmax[torch]'"
#: Early stopping counts an epoch as an improvement when the validation loss
#: drops by more than this fraction of the best so far (noise of the order of
#: float32 rounding on a mean log-loss is not progress).
MIN_REL_IMPROVEMENT = 1e-4
#: Rows per chunk when evaluating the full-data loss (bounds peak memory).
EVAL_CHUNK = 65536
#: Below this many multiply-adds per minibatch step (forward and backward), CPU
#: training runs on one thread: the matrices are too small for threads to pay
#: for their synchronization, and on a busy machine spinning threads slow a
#: small network's step by 3x or more (measured on 2 vCPUs).
SINGLE_THREAD_FLOPS = 2e7


def require_torch() -> Any:
    """Import and return ``torch``, or raise an ImportError that says how to install it."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "MultiHeadClassifier(hidden=...) trains its shared trunk with PyTorch, an optional "
            f"dependency that is not installed. Install it with: {INSTALL_HINT} (or use "
            "hidden=None for linear heads, which need no torch).") from exc
    return torch


@dataclass(frozen=True)
class Activation:
    """A nonlinearity, written once for NumPy (prediction) and once for torch (training)."""

    name: str
    numpy: Callable[[np.ndarray], np.ndarray]
    torch_module: str  # class name in torch.nn


#: Activations by name (``activation=`` of MultiHeadClassifier).
ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", lambda H: np.maximum(H, 0.0), "ReLU"),
    "tanh": Activation("tanh", np.tanh, "Tanh"),
}


@dataclass(frozen=True)
class TrunkConfig:
    """Everything :func:`fit_trunk` needs besides the data (see MultiHeadClassifier)."""

    hidden: tuple[int, ...]
    activation: str = "relu"
    learning_rate: float = 3e-3
    batch_size: int = 64
    max_epochs: int = 200
    patience: int = 10
    validation_fraction: float = 0.1
    C: float = 1.0
    fit_intercept: bool = True
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float64"
    verbose: int = 0

    @classmethod
    def from_params(cls, params: Mapping[str, Any], seed: int) -> TrunkConfig:
        """The config of an estimator's parameters (``get_params()`` of MultiHeadClassifier).

        ``penalty=None`` means no weight decay (``C = inf``); ``device=None`` the CPU.
        """
        return cls(
            hidden=tuple(int(h) for h in params["hidden"]), activation=params["activation"],
            learning_rate=float(params["learning_rate"]), batch_size=int(params["batch_size"]),
            max_epochs=int(params["max_epochs"]), patience=int(params["patience"]),
            validation_fraction=float(params["validation_fraction"]),
            C=float(params["C"]) if params["penalty"] is not None else np.inf,
            fit_intercept=bool(params["fit_intercept"]), seed=seed,
            device=params["device"] or "cpu", dtype=params["dtype"],
            verbose=int(params["verbose"]))


@dataclass
class TrunkState:
    """The fitted network as float64 NumPy arrays.

    Attributes
    ----------
    x_mean, x_scale : ndarray of shape (d,)
        Input standardization.
    layers_W : list of ndarray of shape (n_in, n_out)
    layers_b : list of ndarray of shape (n_out,)
    head_W : ndarray of shape (hidden[-1], k)
    head_b : ndarray of shape (k,)
    """

    x_mean: np.ndarray
    x_scale: np.ndarray
    layers_W: list[np.ndarray]
    layers_b: list[np.ndarray]
    head_W: np.ndarray
    head_b: np.ndarray

    # -- model files: the trunk's arrays (the heads' ``coef`` / ``intercept`` are the
    # estimator's), named as in a PyTorch state dict.
    @staticmethod
    def array_names(n_layers: int) -> set[str]:
        """Names of the trunk's arrays in a model file, for ``n_layers`` hidden layers."""
        return {"x_mean", "x_scale"} | {f"hidden.{i}.{part}" for i in range(n_layers)
                                        for part in ("weight", "bias")}

    def layer_arrays(self) -> dict[str, np.ndarray]:
        """Input standardization and hidden layers as named float64 arrays."""
        out = {"x_mean": np.ascontiguousarray(self.x_mean, dtype=np.float64),
               "x_scale": np.ascontiguousarray(self.x_scale, dtype=np.float64)}
        for i, (W, b) in enumerate(zip(self.layers_W, self.layers_b)):
            out[f"hidden.{i}.weight"] = np.ascontiguousarray(W, dtype=np.float64)
            out[f"hidden.{i}.bias"] = np.ascontiguousarray(b, dtype=np.float64)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_features: int,
                    hidden: Sequence[int], head_W: np.ndarray, head_b: np.ndarray
                    ) -> TrunkState:
        """Inverse of :meth:`layer_arrays` (copies), with the heads' ``head_W`` / ``head_b``.

        Raises
        ------
        ValueError
            When a shape does not match ``n_features`` and ``hidden`` or a scale is not
            positive (the names are checked by the caller against :meth:`array_names`).
        """
        x_mean, x_scale = arrays["x_mean"], arrays["x_scale"]
        if (x_mean.shape != (n_features,) or x_scale.shape != (n_features,)
                or not np.all(x_scale > 0)):
            raise ValueError("bad input standardization")
        width = n_features
        for i, h in enumerate(hidden):
            if (arrays[f"hidden.{i}.weight"].shape != (width, h)
                    or arrays[f"hidden.{i}.bias"].shape != (h,)):
                raise ValueError(f"hidden layer {i} shapes do not match hidden={hidden}")
            width = h
        return cls(x_mean.copy(), x_scale.copy(),
                   [arrays[f"hidden.{i}.weight"].copy() for i in range(len(hidden))],
                   [arrays[f"hidden.{i}.bias"].copy() for i in range(len(hidden))],
                   head_W, head_b)


def _is_count(v: Any, low: int = 1) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low


#: The trunk's training parameters (of :class:`~sigmax.MultiHeadClassifier`):
#: name -> (test of a value, what a valid value is, for the error message).
PARAM_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "activation": (lambda v: v in ACTIVATIONS, f"one of {sorted(ACTIVATIONS)}"),
    "learning_rate": (lambda v: isinstance(v, numbers.Real) and v > 0,
                      "a float in the range (0, inf)"),
    "batch_size": (_is_count, "an int >= 1"),
    "max_epochs": (_is_count, "an int >= 1"),
    "patience": (_is_count, "an int >= 1"),
    "validation_fraction": (lambda v: isinstance(v, numbers.Real) and 0 <= v < 1,
                            "a float in the range [0, 1)"),
    "random_state": (lambda v: v is None or (isinstance(v, numbers.Integral)
                                             and not isinstance(v, bool)), "None or an int"),
}


@dataclass(frozen=True)
class TrunkFitRecord:
    """How the trunk was trained; field names follow :class:`sigmax.solvers.FitResult`.

    Attributes
    ----------
    objective : float
        Normalized training objective ``f`` (loss + penalty, as for the linear
        heads) at the kept weights, over all training rows.
    grad_norm : float
        Max-norm of the full-batch gradient of ``f`` at the kept weights.
    n_iter : int
        Epochs run.
    n_grad_evals : int
        Minibatch gradient steps taken.
    n_hessp_evals : int
        Always 0 (first-order training).
    converged : bool
        True when early stopping ended the training (validation loss no longer
        improving), False when ``max_epochs`` did.
    seconds : float
    solver : str
        ``"adam"``.
    message : str
    history : dict of lists
        Per epoch: ``iteration``, ``objective`` (mean minibatch objective),
        ``val_loss`` (when a validation split is used), ``seconds``.
    best_epoch : int
        Epoch whose weights were kept.
    best_val_loss : float or None
        Validation loss (mean weighted log-loss per label) at ``best_epoch``.
    device : str
    seed : int
    n_train, n_val : int
    """

    objective: float
    grad_norm: float
    n_iter: int
    n_grad_evals: int
    converged: bool
    seconds: float
    solver: str = "adam"
    message: str = ""
    history: dict[str, list[float]] = field(default_factory=dict)
    n_hessp_evals: int = 0
    best_epoch: int = 0
    best_val_loss: float | None = None
    device: str = "cpu"
    seed: int = 0
    n_train: int = 0
    n_val: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy."""
        return asdict(self)


def forward(state: TrunkState, X: np.ndarray, activation: str) -> np.ndarray:
    """Logits ``(n, k)`` of the fitted network, in NumPy float64 (no torch needed)."""
    act = ACTIVATIONS[activation].numpy
    H = (np.asarray(X, dtype=np.float64) - state.x_mean) / state.x_scale
    for W, b in zip(state.layers_W, state.layers_b):
        H = act(H @ W + b)
    return H @ state.head_W + state.head_b


def _standardization(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0, dtype=np.float64)
    scale = X.std(axis=0, dtype=np.float64)
    # A constant column carries no information; scale 1 keeps it at 0 instead of 0/0.
    scale[~(scale > 0)] = 1.0
    return mean, scale


def _network(torch: Any, d: int, config: TrunkConfig, k: int) -> Any:
    layers: list[Any] = []
    width = d
    act = getattr(torch.nn, ACTIVATIONS[config.activation].torch_module)
    for h in config.hidden:
        layers += [torch.nn.Linear(width, h), act()]
        width = h
    layers.append(torch.nn.Linear(width, k, bias=config.fit_intercept))
    return torch.nn.Sequential(*layers)


def _linears(net: Any) -> list[Any]:
    return [m for m in net if hasattr(m, "weight")]


def _sigmoid_block(heads: Sequence[tuple[str, int, int]]) -> tuple[int, int, int] | None:
    """``(first head, first column, count)`` of the one-logit sigmoid heads, when they sit
    side by side (head ``h0 + i`` on column ``a0 + i``) and are two or more; else None.

    Their losses are then one ``binary_cross_entropy_with_logits`` call per step
    instead of one per head: the same sum, at a fraction of the per-call overhead
    that dominates a small network's step on a CPU.
    """
    sig = [h for h, (kind, a, b) in enumerate(heads) if kind == "sigmoid" and b - a == 1]
    if len(sig) < 2:
        return None
    h0, a0 = sig[0], heads[sig[0]][1]
    m = 1
    while m < len(sig) and sig[m] == h0 + m and heads[sig[m]][1] == a0 + m:
        m += 1
    return (h0, a0, m) if m >= 2 else None


def _head_losses(torch: Any) -> dict[str, Callable[[Any, Any], Any]]:
    """Per-row loss of each head kind, from torch's stable log-space implementations."""
    F = torch.nn.functional
    return {
        # cross_entropy is log-softmax + NLL: shifted, finite for any finite logits.
        "softmax": lambda Z, y: F.cross_entropy(Z, y, reduction="none"),
        # max(z, 0) - z y + log1p(exp(-|z|)): never exp of a positive number.
        "sigmoid": lambda Z, y: F.binary_cross_entropy_with_logits(Z[:, 0], y,
                                                                   reduction="none"),
    }


def fit_trunk(X: np.ndarray, Y: np.ndarray, weights: np.ndarray,
              heads: Sequence[tuple[str, int, int]], config: TrunkConfig, *,
              init: TrunkState | None = None) -> tuple[TrunkState, TrunkFitRecord]:
    """Train trunk and heads jointly; return the fitted arrays and the training record.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Dense, finite features (float32 or float64).
    Y : ndarray of shape (n, H)
        Encoded targets: class codes of softmax heads, 0/1 of sigmoid heads.
    weights : ndarray of shape (n, H)
        Per row and head: sample weight x mask x class weight (0 = label missing).
    heads : sequence of (kind, start, stop)
        Head kind (``"softmax"`` / ``"sigmoid"``) and its logit columns.
    config : TrunkConfig
    init : TrunkState, optional
        Starting weights (warm start); must match the architecture.

    Returns
    -------
    state : TrunkState
    record : TrunkFitRecord
    """
    torch = require_torch()
    device = resolve_device(torch, config.device)
    widths = [X.shape[1], *config.hidden, heads[-1][2]]
    step_flops = 3 * min(config.batch_size, len(X)) * sum(
        a * b for a, b in itertools.pairwise(widths))
    one = device.type == "cpu" and step_flops < SINGLE_THREAD_FLOPS
    with _one_torch_thread(torch) if one else contextlib.nullcontext():
        return _fit(torch, device, X, Y, weights, heads, config, init)


_torch_lock = threading.Lock()
_init_lock = threading.Lock()
#: Fits inside _one_torch_thread now, and torch's thread count from before the first.
_torch_hold = {"depth": 0, "saved": 1}


@contextlib.contextmanager
def _one_torch_thread(torch: Any) -> Iterator[None]:
    """torch at one thread while any fit needs it (fits may run side by side in threads).

    Counted: the first fit in saves torch's thread count and the last one out
    restores it, so two overlapping fits cannot restore each other's "1".
    """
    with _torch_lock:
        if _torch_hold["depth"] == 0:
            _torch_hold["saved"] = torch.get_num_threads()
            torch.set_num_threads(1)
        _torch_hold["depth"] += 1
    try:
        yield
    finally:
        with _torch_lock:
            _torch_hold["depth"] -= 1
            if _torch_hold["depth"] == 0:
                torch.set_num_threads(_torch_hold["saved"])


def _fit(torch: Any, device: Any, X: np.ndarray, Y: np.ndarray, weights: np.ndarray,
         heads: Sequence[tuple[str, int, int]], config: TrunkConfig,
         init: TrunkState | None) -> tuple[TrunkState, TrunkFitRecord]:
    start_time = time.perf_counter()
    tdtype = torch.float32 if config.dtype == "float32" else torch.float64
    n, d = X.shape
    H, k = len(heads), heads[-1][2]
    losses = _head_losses(torch)

    mean, scale = (init.x_mean, init.x_scale) if init is not None else _standardization(X)
    Xs = (np.asarray(X, dtype=np.float64) - mean) / scale

    # The validation split, the initialization and the batch order each get a
    # generator of their own seeded from config.seed: reproducible, and the
    # caller's global RNG state is left alone.
    rng = np.random.default_rng(config.seed)
    n_val = round(config.validation_fraction * n) if config.validation_fraction else 0
    order = rng.permutation(n)
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    if n_val and (len(train_idx) == 0 or not weights[val_idx].sum() > 0
                  or not weights[train_idx].sum() > 0):
        val_idx, train_idx, n_val = val_idx[:0], np.arange(n), 0
    n_train = len(train_idx)
    S_train = float(weights[train_idx].sum()) / H
    if not S_train > 0:
        raise ValueError("The sample weights sum to zero: at least one labelled row needs a "
                         "positive weight.")
    alpha = 0.0 if not np.isfinite(config.C) else 1.0 / (config.C * S_train)

    # The sigmoid heads in one block of logit columns share one loss call (and one
    # (rows, m) target tensor); the other heads are one call each.
    fused = _sigmoid_block(heads)
    others = [h for h in range(len(heads))
              if fused is None or not fused[0] <= h < fused[0] + fused[2]]

    def tensors(idx: np.ndarray) -> tuple[Any, list[Any], Any]:
        """Rows ``idx`` as tensors: X, the targets (the fused block's first), the weights."""
        Xt = torch.as_tensor(Xs[idx], dtype=tdtype, device=device)
        targets = ([] if fused is None else
                   [torch.as_tensor(Y[idx, fused[0]:fused[0] + fused[2]], dtype=tdtype,
                                    device=device)])
        targets += [torch.as_tensor(Y[idx, h], device=device).long()
                    if heads[h][0] == "softmax"
                    else torch.as_tensor(Y[idx, h], dtype=tdtype, device=device)
                    for h in others]
        Wt = torch.as_tensor(weights[idx], dtype=tdtype, device=device)
        return Xt, targets, Wt

    X_tr, Y_tr, W_tr = tensors(train_idx)
    if n_val:
        X_va, Y_va, W_va = tensors(val_idx)
        S_val = float(weights[val_idx].sum()) / H

    # torch initializes layers from its global generator: seeded and restored under a
    # lock, so that fits side by side in threads (sigmax.study.side_by_side) cannot
    # reseed it between another fit's seed and its layers.
    with _init_lock, torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = _network(torch, d, config, k)
    if init is not None:
        with torch.no_grad():
            for lin, W, b in zip(_linears(net), [*init.layers_W, init.head_W],
                                 [*init.layers_b, init.head_b]):
                lin.weight.copy_(torch.as_tensor(W.T))
                if lin.bias is not None:
                    lin.bias.copy_(torch.as_tensor(b))
    net = net.to(device=device, dtype=tdtype)
    weight_mats = [lin.weight for lin in _linears(net)]
    # foreach: one kernel per step for all parameters, not one per parameter tensor.
    opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate, foreach=True)
    shuffle = torch.Generator().manual_seed(config.seed + 1)

    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def weighted_loss(Z: Any, targets: list[Any], W: Any) -> Any:
        total = Z.new_zeros(())
        rest = targets
        if fused is not None:
            h0, a0, m = fused
            total = total + (W[:, h0:h0 + m] * bce(Z[:, a0:a0 + m], targets[0],
                                                   reduction="none")).sum()
            rest = targets[1:]
        for h, target in zip(others, rest):
            kind, a, b = heads[h]
            total = total + (W[:, h] * losses[kind](Z[:, a:b], target)).sum()
        return total

    def penalty() -> Any:
        return 0.5 * sum((Wm * Wm).sum() for Wm in weight_mats)

    def chunked_loss(Xt: Any, targets: list[Any], Wt: Any) -> Any:
        total = Xt.new_zeros(())
        for s in range(0, Xt.shape[0], EVAL_CHUNK):
            sl = slice(s, s + EVAL_CHUNK)
            total = total + weighted_loss(net(Xt[sl]), [t[sl] for t in targets], Wt[sl])
        return total

    history: dict[str, list[float]] = {"iteration": [], "objective": [], "seconds": []}
    if n_val:
        history["val_loss"] = []
    best = (np.inf, 0, [p.detach().clone() for p in net.parameters()])
    steps, epoch, stale, stopped = 0, 0, 0, False
    bs = min(config.batch_size, n_train)
    row_weight = weights[train_idx].sum(axis=1)
    for epoch in range(1, config.max_epochs + 1):
        net.train()
        perm_cpu = torch.randperm(n_train, generator=shuffle)
        perm = perm_cpu.to(device)
        # Batch totals from the host copy of the weights: no device sync per step.
        starts = np.arange(0, n_train, bs)
        batch_S = np.add.reduceat(row_weight[perm_cpu.numpy()], starts) / H
        run_sum, run_n = X_tr.new_zeros(()), 0
        # The epoch's rows in batch order, gathered once: each step then takes slices
        # (views), not a gather of every tensor: 15 film epochs 1.91 s -> 1.72 s
        # (python benchmarks/film_fold.py).
        X_ep, Y_ep, W_ep = X_tr[perm], [t[perm] for t in Y_tr], W_tr[perm]
        for s, S_b in zip(starts, batch_S):
            if not S_b > 0:  # every label of this batch is masked
                continue
            b = slice(s, s + bs)
            obj = weighted_loss(net(X_ep[b]), [t[b] for t in Y_ep], W_ep[b]) / float(S_b)
            if alpha:
                obj = obj + alpha * penalty()
            opt.zero_grad(set_to_none=True)
            obj.backward()
            opt.step()
            steps += 1
            run_sum, run_n = run_sum + obj.detach(), run_n + 1
        train_obj = float(run_sum) / max(run_n, 1)
        if not np.isfinite(train_obj):
            raise FloatingPointError(
                f"The trunk's training objective became {train_obj} at epoch {epoch}; lower "
                "learning_rate (for example 1e-4) or standardize extreme features.")
        history["iteration"].append(float(epoch))
        history["objective"].append(train_obj)
        history["seconds"].append(time.perf_counter() - start_time)
        if n_val:
            net.eval()
            with torch.no_grad():
                val = float(chunked_loss(X_va, Y_va, W_va)) / S_val
            history["val_loss"].append(val)
            if val < best[0] - MIN_REL_IMPROVEMENT * abs(best[0]) or not np.isfinite(best[0]):
                best = (val, epoch, [p.detach().clone() for p in net.parameters()])
                stale = 0
            else:
                stale += 1
            if config.verbose:
                print(f"[trunk] epoch {epoch:4d}  objective {train_obj:.6g}  "
                      f"val_loss {val:.6g}")
            if stale >= config.patience:
                stopped = True
                break
        elif config.verbose:
            print(f"[trunk] epoch {epoch:4d}  objective {train_obj:.6g}")

    if n_val:
        with torch.no_grad():
            for p, q in zip(net.parameters(), best[2]):
                p.copy_(q)
        best_epoch, best_val = best[1], float(best[0])
    else:
        best_epoch, best_val = epoch, None

    # The full-batch objective and gradient at the kept weights: the same
    # numbers a FitResult reports for the linear heads.
    net.eval()
    opt.zero_grad(set_to_none=True)
    full = chunked_loss(X_tr, Y_tr, W_tr) / S_train
    if alpha:
        full = full + alpha * penalty()
    full.backward()
    grad_norm = max(float(p.grad.abs().max()) for p in net.parameters() if p.grad is not None)
    objective = float(full.detach())

    lins = _linears(net)
    as_np = [(lin.weight.detach().to("cpu", torch.float64).numpy().T.copy(),
              (lin.bias.detach().to("cpu", torch.float64).numpy().copy()
               if lin.bias is not None else np.zeros(lin.weight.shape[0])))
             for lin in lins]
    state = TrunkState(x_mean=np.asarray(mean, dtype=np.float64).copy(),
                       x_scale=np.asarray(scale, dtype=np.float64).copy(),
                       layers_W=[W for W, _ in as_np[:-1]], layers_b=[b for _, b in as_np[:-1]],
                       head_W=as_np[-1][0], head_b=as_np[-1][1])
    message = (f"early stopping: no validation improvement in {config.patience} epochs"
               if stopped else f"reached max_epochs={config.max_epochs}")
    record = TrunkFitRecord(
        objective=objective, grad_norm=grad_norm, n_iter=epoch, n_grad_evals=steps,
        converged=stopped, seconds=time.perf_counter() - start_time, message=message,
        history=history, best_epoch=best_epoch, best_val_loss=best_val, device=str(device),
        seed=config.seed, n_train=n_train, n_val=n_val)
    return state, record
