r"""Dask backend: the objective evaluated chunk by chunk where the data live.

Cost model of one evaluation of ``f`` and its gradient (``b`` row chunks,
``P = (d+1) k`` parameters):

- one dask graph, one ``compute``: every chunk task evaluates its rows with the
  NumPy data term (:mod:`sigmax.dataterms`, the same kernels as an in-memory
  fit) and returns ``1 + P`` float64 numbers (its loss sum and the
  gradient of that sum); a tree reduction adds them on the workers, and ``1 + P``
  numbers reach the client;
- data read: ``n d`` numbers (from worker memory when ``X`` is persisted, from
  its source -- Parquet, Zarr -- otherwise); flops: about ``4 n d k`` (``X @ W``
  and ``X.T @ G``);
- sent to the workers: ``W`` (``P`` numbers) inside each chunk task.

Labels and sample weights (``n`` numbers, a factor ``d`` smaller than ``X``)
are encoded on the client by the estimator's own code, then sent once to the
workers in ``X``'s row chunks and persisted there; so is an offset (``n k``
known logits, checked on the client like the labels).

``X`` is persisted in the workers' memory once when it fits comfortably (at
most half of what the workers have left under their memory limits); otherwise
every pass streams it from its source, which is how a fit reads data larger
than the cluster's memory.

A lost worker is handled by dask: the tasks and persisted chunks it held are
recomputed from their lineage elsewhere. If the cluster cannot finish an
evaluation (a task keeps killing its workers, every worker is gone), the fit
stops with a :class:`RuntimeError` that says so: a sum over all chunks either
completes or fails, so a partial sum can never become a model.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..dataterms import DataTerm, in_memory, total_weight
from ..dataterms.base import host_offset
from ..losses import Loss
from ..objective import Objective
from ..penalties import Penalty
from .base import Backend, register_backend

__all__ = ["ChunkedData", "ChunkedObjective", "DaskBackend", "WorkerLostError"]

#: Persist ``X`` when it takes at most this fraction of the memory the workers have
#: left under their limits.
PERSIST_FRACTION = 0.5
#: Target bytes per row chunk when a NumPy array is handed to the dask backend.
CHUNK_BYTES = 64 * 2**20


class WorkerLostError(RuntimeError):
    """The dask cluster could not complete an evaluation (workers died or data were lost)."""


# -- tasks that run on the workers (module level so that they pickle by reference) --------
@dataclass(frozen=True)
class _Spec:
    """What a chunk task needs to rebuild the objective of its rows."""

    loss: Loss
    k: int
    fit_intercept: bool
    y_1d: bool
    s_1d: bool
    n_params: int


def _chunk_data(spec: _Spec, X_b: np.ndarray, Y_b: np.ndarray, S_b: np.ndarray,
                O_b: np.ndarray | None = None) -> DataTerm | None:
    """The NumPy data term of one chunk's rows (None when their weights sum to 0).

    ``O_b``: the chunk's ``(rows, k)`` offset, or None.
    """
    Y = Y_b[:, 0] if spec.y_1d else Y_b
    S = S_b[:, 0] if spec.s_1d else S_b
    if X_b.shape[0] == 0 or not float(S.sum(dtype=np.float64)) > 0:
        return None
    return in_memory(spec.loss, X_b, Y, S, spec.k, spec.fit_intercept, offset=O_b)


def _task_value_and_grad(X_b, Y_b, S_b, O_b=None, *, spec: _Spec, ws: tuple[np.ndarray, ...],
                         with_grad: bool = True) -> np.ndarray:
    """``[D_b(w), dD_b/dw]`` for each ``w`` in ``ws``, concatenated, shape ``(1, ...)``.

    ``D_b`` is the chunk's *unscaled* loss sum (its data term's).
    """
    width = 1 + (spec.n_params if with_grad else 0)
    out = np.zeros((1, len(ws) * width))
    data = _chunk_data(spec, X_b, Y_b, S_b, O_b)
    if data is None:
        return out
    for j, w in enumerate(ws):
        if with_grad:
            value, grad = data.value_and_grad(w)
            out[0, j * width + 1:(j + 1) * width] = grad.ravel()
        else:
            value = data.value(w)
        out[0, j * width] = value
    return out


def _task_hessian(X_b, Y_b, S_b, O_b=None, *, spec: _Spec, w: np.ndarray, blocks: bool
                  ) -> np.ndarray:
    """The chunk's Hessian (``blocks``: its ``k`` diagonal blocks), flat, shape ``(1, ...)``."""
    size = spec.k * (spec.n_params // spec.k) ** 2 if blocks else spec.n_params ** 2
    data = _chunk_data(spec, X_b, Y_b, S_b, O_b)
    if data is None:
        return np.zeros((1, size))
    H = data.hessian_blocks(w) if blocks else data.hessian(w)
    return np.asarray(H, dtype=np.float64).reshape(1, size)


def _task_logits(X_b, O_b=None, *, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    Z = X_b @ W
    if b is not None:
        Z += b
    if O_b is not None:
        Z += O_b
    return Z


def _task_hessp(X_b, Z_b, Y_b, S_b, *, spec: _Spec, V: np.ndarray, c: np.ndarray | None
                ) -> np.ndarray:
    """Hessian of the chunk's loss sum times ``v``, from its persisted logits ``Z_b``.

    Two products with ``X_b`` (``X_b @ V`` and ``X_b.T @ HV``); the Hessian
    state is recomputed from ``Z_b`` in ``O(n k)``.
    """
    Y = Y_b[:, 0] if spec.y_1d else Y_b
    S = S_b[:, 0] if spec.s_1d else S_b
    out = np.zeros((1, spec.n_params))
    if X_b.shape[0] == 0:
        return out
    state = spec.loss.hessian_state(Z_b, Y, S.astype(X_b.dtype, copy=False))
    Zv = X_b @ V
    if c is not None:
        Zv += c
    HV = spec.loss.hessp(state, Zv)
    d = X_b.shape[1]
    G = out.reshape(-1, spec.k)
    G[:d] = X_b.T @ HV
    if spec.fit_intercept:
        G[d] = HV.sum(axis=0, dtype=np.float64)
    return out


def _task_check(X_b: np.ndarray) -> np.ndarray:
    """``[[rows, n_nan, n_inf, first bad row, first bad column]]`` of one chunk."""
    bad = ~np.isfinite(X_b)
    n_bad = int(bad.sum())
    if not n_bad:
        return np.array([[X_b.shape[0], 0, 0, -1, -1]], dtype=np.int64)
    n_nan = int(np.isnan(X_b).sum())
    r, c = np.argwhere(bad)[0]
    return np.array([[X_b.shape[0], n_nan, n_bad - n_nan, r, c]], dtype=np.int64)


# -- client side ---------------------------------------------------------------------------
def _client() -> Any:
    """The active ``dask.distributed`` client, or None (dask's local scheduler then)."""
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - distributed is optional
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _memory_budget() -> float:
    """Bytes the cluster can still hold: its workers' memory limits less what they use.

    A worker process holds a few hundred MB of libraries before any data; that
    is subtracted, so that a tight limit streams instead of persisting into a kill.
    Without a distributed client: the free RAM of this machine.
    """
    client = _client()
    if client is not None:
        workers = list(client.scheduler_info(n_workers=-1)["workers"].values())
        limits = [float(w.get("memory_limit") or 0) for w in workers]
        if limits and all(limits):
            used = [float(w.get("metrics", {}).get("memory") or 0) for w in workers]
            return sum(max(0.0, lim - u) for lim, u in zip(limits, used))
    import psutil

    return float(psutil.virtual_memory().available)


def _parallelism() -> int:
    """Chunks the cluster can work on at once (threads over all workers)."""
    client = _client()
    if client is not None:
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        return max(1, sum(int(w.get("nthreads", 1)) for w in workers))
    return max(1, os.cpu_count() or 1)


def _is_cluster_failure(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"KilledWorker", "CommClosedError", "FutureCancelledError",
                         "CancelledError", "WorkerLostError"})


def compute(*collections: Any, what: str = "the objective") -> tuple[Any, ...]:
    """``dask.compute`` with cluster failures turned into a clear :class:`WorkerLostError`."""
    import dask

    try:
        return dask.compute(*collections)
    except Exception as exc:
        if _is_cluster_failure(exc):
            raise WorkerLostError(
                f"The dask cluster could not finish evaluating {what}: "
                f"{type(exc).__name__}: {str(exc).rstrip('. ')}. dask recomputes the work "
                "of a lost worker elsewhere, but here it could not (a task killed its "
                "workers repeatedly, or no worker is left), so the fit stopped instead of "
                "returning a model fitted on part of the data. A worker killed for "
                "exceeding its memory limit is the usual cause: give the workers more "
                "memory or use smaller chunks (X.rechunk / fewer rows per Parquet row "
                "group).") from exc
        raise


class ChunkedData(DataTerm):
    """Data term of a dask array ``X``: the sum of the NumPy data terms of its row chunks.

    Parameters
    ----------
    loss : Loss
    X : dask.array.Array of shape (n, d)
        Known row chunks, one column chunk, float32 or float64.
    Y : ndarray
        Encoded targets on the host; sent once to the workers in ``X``'s row chunks.
    weights : ndarray of shape (n,) or (n, k)
    k : int
    fit_intercept : bool
    offset : ndarray of shape (n, k), optional
        Known logits added to ``X W + b``, on the host; sent once to the
        workers in ``X``'s row chunks, like ``Y``.
    persist : bool or None, default=None
        Keep ``X`` in the workers' memory (one read of the source); ``None``
        persists when ``X`` takes at most half of the memory the workers have
        left under their limits, and otherwise streams ``X`` from its source at
        every pass (out of core).

    Notes
    -----
    The data term counts the passes over ``X`` in :attr:`n_passes`.
    """

    def __init__(self, loss: Loss, X: Any, Y: np.ndarray, weights: np.ndarray, k: int,
                 fit_intercept: bool = True, persist: bool | None = None,
                 offset: np.ndarray | None = None) -> None:
        import dask.array as da

        if any(np.isnan(c) for c in X.chunks[0]):
            raise ValueError("X has unknown chunk sizes; call X.compute_chunk_sizes() (or "
                             "to_dask_array(lengths=True) on a DataFrame) first.")
        if X.numblocks[1] != 1:
            X = X.rechunk({1: -1})
        dtype = np.dtype(X.dtype)
        weights = np.asarray(weights, dtype=np.float64)
        n, d = X.shape
        super().__init__(loss, n, d, k, dtype, total_weight(weights, dtype), fit_intercept)
        if persist is None:
            persist = X.nbytes <= PERSIST_FRACTION * _memory_budget()
        self.persisted = bool(persist)
        if self.persisted:
            X = X.persist()
        self.X = X
        Y = np.asarray(Y)
        self.host_targets = (Y, weights)  # for the null-model start (Objective.start)
        self._spec = _Spec(loss, self.k, self.fit_intercept, Y.ndim == 1, weights.ndim == 1,
                           self.n_params)
        rows = X.chunks[0]
        Y2 = Y.reshape(n, -1)
        S2 = weights.astype(dtype).reshape(n, -1)
        # Host arrays become dask arrays in X's row chunks, persisted once: later
        # graphs refer to the workers' copies instead of re-sending n numbers. The
        # scheduler keeps them as lineage, so a lost worker's share is recomputed
        # (scatter would lose it); distributed warns about that one large graph.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Sending large graph")
            self.Y, self.weights = _persist(da.from_array(Y2, chunks=(rows, Y2.shape[1])),
                                            da.from_array(S2, chunks=(rows, S2.shape[1])))
            off = host_offset(offset, n, self.k, dtype)
            if off is not None:
                (self.offset,) = _persist(da.from_array(off, chunks=(rows, self.k)))
        self.n_passes = 0
        self._hess_w: np.ndarray | None = None
        self._hess_Z: Any = None

    # -- graphs -----------------------------------------------------------------------
    @property
    def n_batches(self) -> int:
        """Number of row chunks (the mini-batches of ``solver='minibatch'``)."""
        return self.X.numblocks[0]

    @property
    def batch_group(self) -> int:
        """Chunks per mini-batch step: one per worker thread, so that all work at once."""
        return min(self.n_batches, _parallelism())

    def _parts(self, ws: Sequence[np.ndarray], blocks: Sequence[int] | None = None,
               with_grad: bool = True) -> np.ndarray:
        import dask.array as da

        arrays = self._row_arrays()
        if blocks is not None:
            idx = list(blocks)
            arrays = [a.blocks[idx] for a in arrays]
        X = arrays[0]
        width = len(ws) * (1 + (self.n_params if with_grad else 0))
        parts = da.map_blocks(_task_value_and_grad, *arrays, spec=self._spec,
                              ws=tuple(np.asarray(w, dtype=np.float64) for w in ws),
                              with_grad=with_grad, dtype=np.float64,
                              chunks=((1,) * X.numblocks[0], (width,)))
        self.n_passes += 1 if blocks is None else 0
        (total,) = compute(parts.sum(axis=0), what="the objective")
        return np.asarray(total)

    def _row_arrays(self) -> list[Any]:
        """``[X, Y, weights]`` and the offset when there is one, in the same row chunks."""
        return [self.X, self.Y, self.weights] + ([] if self.offset is None else [self.offset])

    def value_and_grad(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        total = self._parts([w])
        return float(total[0]), total[1:].reshape(self.n_rows, self.k)

    def value(self, w: np.ndarray) -> float:
        return float(self._parts([w], with_grad=False)[0])

    def batches(self) -> ChunkedData:
        """The row chunks are the mini-batches: this data term serves them itself."""
        return self

    def batch_sums(self, ws: Sequence[np.ndarray], blocks: Sequence[int]
                   ) -> list[tuple[float, np.ndarray]]:
        """Unscaled loss sum and its gradient over the rows of ``blocks``, for each ``w``.

        One compute that reads those chunks once, whatever the number of points.
        """
        total = self._parts(ws, blocks)
        width = 1 + self.n_params
        return [(float(total[j * width]), total[j * width + 1:(j + 1) * width])
                for j in range(len(ws))]

    def logits(self, w: np.ndarray, offset: bool = True) -> Any:
        """Lazy ``Z = X @ W + b (+ O)``, a dask array of shape (n, k)."""
        import dask.array as da

        W, b = self.unpack(w)
        extra = [self.offset] if offset and self.offset is not None else []
        return da.map_blocks(_task_logits, self.X, *extra, W=W.astype(self.dtype),
                             b=None if b is None else b.astype(self.dtype),
                             dtype=self.dtype, chunks=(self.X.chunks[0], (self.k,)))

    def _logits_at(self, w: np.ndarray) -> Any:
        """Logits at ``w`` persisted on the workers: one pass, reused by every ``hessp``."""
        if self._hess_w is None or not np.array_equal(self._hess_w, w):
            self._hess_Z = None  # release the previous point's logits first
            (self._hess_Z,) = _persist(self.logits(w))
            self._hess_w = w.copy()
            self.n_passes += 1
        return self._hess_Z

    def hessp(self, w: np.ndarray, v: np.ndarray) -> np.ndarray:
        import dask.array as da

        Z = self._logits_at(w)
        V, c = self.unpack(v)
        parts = da.map_blocks(_task_hessp, self.X, Z, self.Y, self.weights, spec=self._spec,
                              V=V.astype(self.dtype),
                              c=None if c is None else c.astype(self.dtype),
                              dtype=np.float64,
                              chunks=((1,) * self.X.numblocks[0], (self.n_params,)))
        self.n_passes += 1
        (total,) = compute(parts.sum(axis=0), what="a Hessian-vector product")
        return np.asarray(total).reshape(self.n_rows, self.k)

    def _hessian_sum(self, w: np.ndarray, blocks: bool) -> np.ndarray:
        import dask.array as da

        D, k = self.n_rows, self.k
        size = k * D * D if blocks else (D * k) ** 2
        parts = da.map_blocks(_task_hessian, *self._row_arrays(), spec=self._spec,
                              w=np.asarray(w, dtype=np.float64), blocks=blocks,
                              dtype=np.float64, chunks=((1,) * self.X.numblocks[0], (size,)))
        self.n_passes += 1
        (total,) = compute(parts.sum(axis=0), what="the Hessian")
        return np.asarray(total)

    def hessian(self, w: np.ndarray) -> np.ndarray:
        return self._hessian_sum(w, blocks=False).reshape(self.n_params, self.n_params)

    def hessian_blocks(self, w: np.ndarray, for_step: bool = False) -> np.ndarray | None:
        if not self.loss.diagonal_hessian:
            return None
        return self._hessian_sum(w, blocks=True).reshape(self.k, self.n_rows, self.n_rows)


class ChunkedObjective(Objective):
    """:class:`~sigmax.objective.Objective` of a dask array ``X``: the :class:`ChunkedData` term.

    Parameters as :class:`ChunkedData` (``offset`` included), plus ``C`` and ``penalty``.
    """

    def __init__(self, loss: Loss, X: Any, Y: np.ndarray, weights: np.ndarray, k: int, *,
                 C: float, penalty: Penalty, fit_intercept: bool = True,
                 persist: bool | None = None, offset: np.ndarray | None = None) -> None:
        super().__init__(ChunkedData(loss, X, Y, weights, k, fit_intercept, persist=persist,
                                     offset=offset),
                         C=C, penalty=penalty)


def _persist(*collections: Any) -> tuple[Any, ...]:
    import dask

    return dask.persist(*collections)


# -- the backend ---------------------------------------------------------------------------
def _is_dataframe(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "map_partitions")


def _to_host(a: Any) -> Any:
    """A dask collection (labels, weights) computed to the client; others unchanged."""
    import dask

    if not dask.is_dask_collection(a):
        return a
    (out,) = compute(a, what="the labels / sample weights")
    return out


def _nonfinite_message(report: np.ndarray) -> str | None:
    """The same message as an in-memory fit, from the per-chunk check of :func:`_task_check`."""
    n_nan = int(report[:, 1].sum())
    n_inf = int(report[:, 2].sum())
    if not n_nan + n_inf:
        return None
    offsets = np.concatenate([[0], np.cumsum(report[:, 0])[:-1]])
    where = [f"(row {int(off + r)}, column {int(c)})"
             for off, (_, _, _, r, c) in zip(offsets, report) if r >= 0][:5]
    kinds = " and ".join(s for s in (f"{n_nan} NaN" if n_nan else "",
                                     f"{n_inf} infinite" if n_inf else "") if s)
    return (f"Input X contains {kinds} value(s), at {', '.join(where)} (first bad entry of "
            "each chunk). Remove those rows, or impute them (for example with "
            "X.fillna(...) on a dask DataFrame) before fitting.")


def _with_row_chunks(X: Any, rows: Sequence[int]) -> Any:
    """The same dask array with its (possibly unknown) row chunk sizes set to ``rows``."""
    import dask.array as da

    return da.Array(X.dask, X.name, chunks=(tuple(int(r) for r in rows), X.chunks[1]),
                    meta=X._meta)


@register_backend
class DaskBackend(Backend):
    """Dask arrays and dask DataFrames, on a ``dask.distributed`` cluster or locally."""

    name = "dask"
    requires = ("dask", "distributed")
    install_hint = "pip install 'sigmax[dask]'"

    def _as_array(self, est: Any, X: Any, *, reset: bool) -> Any:
        """Validate ``X``'s type, shape, dtype and feature names; return a 2-D dask array."""
        import dask
        import dask.array as da
        from sklearn.utils.validation import _check_feature_names, _check_n_features

        from .._dtypes import DTYPES as _DTYPES

        dtype = _DTYPES[est.dtype]
        if _is_dataframe(X) and dask.is_dask_collection(X):
            meta = X._meta
            bad = [c for c, t in meta.dtypes.items() if t.kind not in "biuf"]
            if bad:
                raise ValueError(
                    f"X has non-numeric columns {bad[:5]}: sigmax needs numbers. Encode them "
                    "first (for example dask_ml's Categorizer + DummyEncoder), or drop them.")
            _check_feature_names(est, meta, reset=reset)
            Xa = X.to_dask_array()
        elif isinstance(X, da.Array):
            if X.ndim != 2:
                raise ValueError(f"Expected a 2-D dask array X of shape (n_samples, "
                                 f"n_features), got {X.ndim}-D of shape {X.shape}.")
            if np.dtype(X.dtype).kind not in "biuf":
                raise ValueError(f"X has dtype {X.dtype}: sigmax needs a numeric array.")
            _check_feature_names(est, X._meta, reset=reset)
            Xa = X
        elif dask.is_dask_collection(X):
            raise TypeError(f"X is a {type(X).__name__}: the dask backend takes a 2-D dask "
                            "array or a dask DataFrame (use .to_frame() for a Series).")
        else:
            Xn = est._check_X(X, reset=reset)
            import scipy.sparse as sp

            if sp.issparse(Xn):
                raise TypeError("backend='dask' takes dense X; fit sparse X with "
                                "backend='numpy'.")
            rows = max(1, CHUNK_BYTES // max(1, Xn.shape[1] * Xn.itemsize))
            return da.from_array(Xn, chunks=(rows, -1))
        _check_n_features(est, Xa, reset=reset)
        Xa = Xa.astype(dtype)
        if Xa.numblocks[1] != 1 and not any(np.isnan(c) for c in Xa.chunks[0]):
            Xa = Xa.rechunk({1: -1})
        return Xa

    def prepare_fit(self, est, X, y, sample_weight, device):
        Xa = self._as_array(est, X, reset=True)
        y = _to_host(y)
        if hasattr(y, "to_numpy") and not hasattr(y, "columns"):
            y = y.to_numpy()
        sample_weight = _to_host(sample_weight)
        if hasattr(sample_weight, "to_numpy"):
            sample_weight = sample_weight.to_numpy()
        n = getattr(y, "shape", (len(y),))[0] if y is not None else Xa.shape[0]
        if y is not None and not np.isnan(Xa.shape[0]) and Xa.shape[0] != n:
            raise ValueError(f"X has {Xa.shape[0]} samples but y has {n}; they must have the "
                             "same number of samples.")
        nbytes = n * Xa.shape[1] * np.dtype(Xa.dtype).itemsize
        persist = nbytes <= PERSIST_FRACTION * _memory_budget()
        if persist:
            (Xa,) = _persist(Xa)
        # One pass (over the persisted copy when there is one): chunk lengths, which
        # a DataFrame does not know, and the finiteness check with its message.
        report = Xa.map_blocks(_task_check, dtype=np.int64,
                               chunks=((1,) * Xa.numblocks[0], (5,)))
        (report,) = compute(report, what="the input check")
        msg = _nonfinite_message(report)
        if msg:
            raise ValueError(msg)
        rows = report[:, 0]
        if y is not None and int(rows.sum()) != n:
            raise ValueError(f"X has {int(rows.sum())} samples but y has {n}; they must have "
                             "the same number of samples.")
        Xa = _with_row_chunks(Xa, rows)
        if Xa.numblocks[1] != 1:
            Xa = Xa.rechunk({1: -1})
        return Xa, y, sample_weight

    def objective(self, loss, X, Y, weights, k, *, C, penalty, fit_intercept, offset=None):
        # persist=None takes the same decision as prepare_fit did (same size, same
        # cluster); persisting an already persisted X is free.
        return ChunkedObjective(loss, X, Y, weights, k, C=C, penalty=penalty,
                                fit_intercept=fit_intercept, offset=offset)

    def _row_offset(self, est: Any, offset: Any, Xa: Any) -> tuple[Any, Any, bool]:
        """``(Xa, offset as a 2-D dask array in Xa's row chunks, whether it was 1-D)``.

        A NumPy offset is cut into ``X``'s row chunks; a dask one is rechunked
        to them (lazily). Its shape is checked here, its values per chunk.
        """
        import dask
        import dask.array as da

        if any(np.isnan(c) for c in Xa.chunks[0]):
            Xa = Xa.compute_chunk_sizes()
        if dask.is_dask_collection(offset):
            off = (offset.to_dask_array(lengths=True) if hasattr(offset, "to_dask_array")
                 else offset)
            if any(np.isnan(c) for c in off.chunks[0]):
                off = off.compute_chunk_sizes()
        else:
            from .base import to_numpy

            off = np.asarray(to_numpy(offset))
        # The shape (with the estimator's message) on a stand-in of the offset's shape.
        est._check_offset(np.broadcast_to(np.float64(0), off.shape), Xa.shape[0])
        one_d = off.ndim == 1
        if one_d:
            off = off[:, None]
        if isinstance(off, np.ndarray):
            off = da.from_array(off, chunks=(Xa.chunks[0], -1))
        else:
            off = off.rechunk((Xa.chunks[0], -1))
        return Xa, off, one_d

    def predict(self, est: Any, method: Callable[..., Any], X: Any, offset: Any = None) -> Any:
        """``method`` mapped over the row chunks of ``X``: a lazy dask array.

        An ``offset`` (NumPy, or a dask array) is mapped over the same row chunks.
        """
        import dask.array as da
        import pandas as pd
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(est)
        Xa = self._as_array(est, X, reset=False)
        names = getattr(est, "feature_names_in_", None)
        d = Xa.shape[1]

        def on_block(block: np.ndarray) -> np.ndarray:
            if names is not None:
                # The estimator was fitted with column names: hand them back so
                # that each chunk passes the same feature-name check as X did.
                block = pd.DataFrame(block, columns=names)
            return np.asarray(method(est, block))

        probe = on_block(np.zeros((1, d), dtype=Xa.dtype))

        def on_chunk(block: np.ndarray) -> np.ndarray:
            if block.shape[0] == 0:
                return np.empty((0, *probe.shape[1:]), dtype=probe.dtype)
            return on_block(block)

        arrays = [Xa]
        if offset is not None:
            Xa, off, one_d = self._row_offset(est, offset, Xa)
            arrays = [Xa, off]

            def on_chunk(block: np.ndarray, O_b: np.ndarray) -> np.ndarray:
                if block.shape[0] == 0:
                    return np.empty((0, *probe.shape[1:]), dtype=probe.dtype)
                if names is not None:
                    block = pd.DataFrame(block, columns=names)
                return np.asarray(method(est, block, offset=O_b[:, 0] if one_d else O_b))

        if probe.ndim == 1:
            return da.map_blocks(on_chunk, *arrays, dtype=probe.dtype, drop_axis=1,
                                 chunks=(Xa.chunks[0],), meta=np.empty((0,), probe.dtype))
        return da.map_blocks(on_chunk, *arrays, dtype=probe.dtype,
                             chunks=(Xa.chunks[0], (probe.shape[1],)),
                             meta=np.empty((0, 0), probe.dtype))
