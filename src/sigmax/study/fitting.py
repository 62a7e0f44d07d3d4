"""Fitting and reading a candidate: its targets, predictions, scores, timings and warnings.

Sections call these through the module (``fitting.fit(...)``), so a test can
watch every fit of the study by replacing :func:`fit`.
"""

from __future__ import annotations

import statistics
import time
import warnings
from typing import Any

import numpy as np

from .. import _thread_warnings
from ..backends import to_numpy
from ..numerics import log_expit
from .advise import Target
from .candidates import CandidateSpec
from .metrics import multilabel_scores, single_label_scores

#: Iterations of the fit whose memory is traced (the study's fits on all rows): every
#: iteration allocates the same buffers and L-BFGS stores at most 30 pairs, so the
#: peak is reached by then.
MEMORY_FIT_MAX_ITER = 40
#: Iterations of the memory fit of a solver whose every iteration allocates the same
#: buffers from the first on (the Newton solvers: one Hessian or its products, one
#: direction, one line search); only L-BFGS's stored pairs grow (MEMORY_FIT_MAX_ITER).
#: The One-vs-rest model of the 79 film label sets took 21 Newton-Cholesky iterations,
#: 5.6 s, and its memory fit as long again under tracemalloc.
MEMORY_FIT_NEWTON_ITER = 3
#: Solvers whose memory grows with the iterations (their memory fit runs MEMORY_FIT_MAX_ITER).
GROWING_MEMORY_SOLVERS = frozenset({"lbfgs"})
#: Epochs of the memory fit of a network trained by minibatch epochs (the shared trunk):
#: every epoch allocates the same per-step buffers and the best-weights copy is taken after
#: the first, so the peak is reached by the second; a whole training run would cost as
#: much as the timed fit again.
MEMORY_FIT_MAX_EPOCHS = 2

__all__ = ["GROWING_MEMORY_SOLVERS", "MEMORY_FIT_MAX_EPOCHS", "MEMORY_FIT_MAX_ITER",
           "MEMORY_FIT_NEWTON_ITER", "fit", "memory_fit_iter", "n_outputs", "n_params",
           "predict", "record_warnings", "scores", "time_grad", "warning_notes", "y_for"]


def y_for(spec: CandidateSpec, target: Target) -> np.ndarray:
    return {"codes": target.codes, "indicator": target.Y, "sets": target.set_codes}[spec.target]


def _masked_logsumexp(L: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp of the columns of ``L`` where ``mask``; ``-inf`` when none."""
    Z = np.where(mask[None, :], L, -np.inf)
    m = Z.max(axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return (np.log(np.exp(Z - m).sum(axis=1, keepdims=True)) + m)[:, 0]


def predict(spec: CandidateSpec, est: Any, X: np.ndarray, target: Target) -> dict[str, Any]:
    """Predictions in the task's common format.

    Single-label: ``log_proba`` (n, K) over all K classes (``-inf`` for a
    class the model never saw) and ``pred`` (n,) codes. Multi-label:
    ``log_p1``, ``log_p0`` (n, L) marginal log-probabilities and ``pred_set``
    (n, L), the most probable label set.
    """
    # NumPy X gives NumPy predictions on every backend (sigmax.backends.route_by_input);
    # to_numpy keeps the study's arithmetic on the host whatever an estimator returns.
    if target.task != "multilabel":
        K = target.n_classes
        lp = np.full((X.shape[0], K), -np.inf)
        lp[:, np.asarray(est.classes_, dtype=np.intp)] = to_numpy(est.predict_log_proba(X))
        return {"log_proba": lp, "pred": to_numpy(est.predict(X)).astype(np.intp)}
    if spec.target == "indicator":
        P = to_numpy(est.predict_proba(X)).astype(np.float64)
        if hasattr(est, "decision_function"):
            Z = to_numpy(est.decision_function(X)).astype(np.float64)
            l1, l0 = log_expit(Z), log_expit(-Z)
        else:
            with np.errstate(divide="ignore"):
                l1, l0 = np.log(P), np.log1p(-P)
        pred = to_numpy(est.predict(X))
        return {"log_p1": l1, "log_p0": l0, "pred_set": pred}
    lp = to_numpy(est.predict_log_proba(X))
    M = target.set_matrix[np.asarray(est.classes_, dtype=np.intp)].astype(bool)
    l1 = np.column_stack([_masked_logsumexp(lp, M[:, j]) for j in range(M.shape[1])])
    l0 = np.column_stack([_masked_logsumexp(lp, ~M[:, j]) for j in range(M.shape[1])])
    pred = target.set_matrix[to_numpy(est.predict(X)).astype(np.intp)]
    return {"log_p1": l1, "log_p0": l0, "pred_set": pred}


def scores(pred: dict[str, Any], target: Target) -> dict[str, float]:
    if target.task != "multilabel":
        return single_label_scores(target.codes, pred["log_proba"], pred["pred"])
    return multilabel_scores(target.Y, pred["log_p1"], pred["log_p0"], pred["pred_set"],
                             target.names)


def fit(est: Any, X: np.ndarray, y: np.ndarray
         ) -> tuple[Any, float, list[warnings.WarningMessage]]:
    """Fit ``est``: the fitted estimator, the fit's wall seconds and its warnings.

    Every warning is recorded (filter "always"), this fit's only, also when fits run
    side by side in threads (:mod:`sigmax._thread_warnings`).
    """
    with _thread_warnings.capture(), _thread_warnings.recording() as caught:
        t0 = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - t0
    return est, seconds, list(caught)


def memory_fit_iter(solver: str) -> int:
    """Iterations after which a fit by ``solver`` has reached its peak memory."""
    return MEMORY_FIT_MAX_ITER if solver in GROWING_MEMORY_SOLVERS else MEMORY_FIT_NEWTON_ITER


def n_outputs(est: Any) -> int:
    return int(np.asarray(est.coef_).shape[0])


def n_params(est: Any) -> int:
    # A shared trunk's hidden layers count too (coef_ is then only its output layer).
    hidden = sum(np.asarray(a).size for a in (*getattr(est, "hidden_coefs_", ()),
                                              *getattr(est, "hidden_intercepts_", ())))
    return int(np.asarray(est.coef_).size + np.asarray(est.intercept_).size + hidden)



def time_grad(objective: Any, w: np.ndarray, min_seconds: float, repeats: int = 5) -> float:
    """Median seconds of one value-and-gradient evaluation."""
    objective.value_and_grad(w)
    t0 = time.perf_counter()
    objective.value_and_grad(w)
    one = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(min_seconds / repeats / one))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            objective.value_and_grad(w)
        times.append((time.perf_counter() - t0) / number)
    return float(statistics.median(times))



def warning_notes(records: dict[str, list[int]], n_runs: int, where: str) -> list[str]:
    out = []
    for msg, runs in records.items():
        out.append(f"{msg.split(':', 1)[0]} in {len(set(runs))} of {n_runs} {where}: "
                   f"{msg.split(':', 1)[1].strip()}")
    return out


def record_warnings(records: dict[str, list[int]], caught: list[Any], run: int) -> None:
    for w in caught:
        text = str(w.message).split(". ")[0]
        records.setdefault(f"{w.category.__name__}: {text}", []).append(run)
