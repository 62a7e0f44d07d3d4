r"""The ``defaults`` group of ``sigmax bench``: each library as a user runs it, nothing tuned.

sigmax's estimator with no solver and no tolerance given, against
scikit-learn's ``LogisticRegression()`` with none given either (``lbfgs``,
``tol=1e-4``, ``max_iter=100``; ``saga`` where the problem's penalty is L1,
which ``lbfgs`` does not take; one model per label, ``OneVsRestClassifier``,
for multi-label), both at the problem's ``C`` and penalty, float64. Per
problem and thread setting: seconds (median of the timed runs after a
warm-up), iterations, the relative objective gap
:math:`(F - F^*) / |F^*|` to the reference optimum
(:func:`sigmax.bench.runner.reference_optimum`) and the share of training
predictions equal to the optimum's.

The criterion (issue 17): on every problem, at one thread and at the default
threads, sigmax is no slower than scikit-learn (``ratio <= 1``) and at least
as accurate (its gap at most scikit-learn's, or both below :data:`SAME_GAP`,
where the two are the same optimum to the digits a float64 objective
resolves).

    sigmax bench defaults --scale 0.1
    python -c "from sigmax.bench import defaults; defaults.run(['digits', 'movies'])"
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .problems import PROBLEMS, ProblemData, sklearn_objective
from .results import write_group
from .runner import THREAD_SETTINGS, reference_optimum, thread_limit

__all__ = ["LIBRARIES", "SAME_GAP", "markdown", "run"]

#: Gaps below this are the same optimum (float64 sums of many losses resolve
#: about 1e-13 relative; a margin on top): neither library is "more accurate".
SAME_GAP = 1e-10
#: Timed runs stop adding up after this many seconds (at least ``repeats`` runs).
MIN_TIMED_S = 0.5
MAX_RUNS = 25


def _sigmax(data: ProblemData) -> tuple[np.ndarray, np.ndarray, int, str]:
    from .. import LogisticRegression, MultiLabelLogistic, SoftmaxRegression

    cls = {"binary": LogisticRegression, "multinomial": SoftmaxRegression,
           "multilabel": MultiLabelLogistic}[data.problem.kind]
    est = cls(penalty=data.problem.penalty, C=data.problem.C).fit(data.X, data.y)
    rec = est.fit_record_
    return (np.asarray(est.coef_, dtype=np.float64), np.asarray(est.intercept_).reshape(-1),
            int(rec.n_iter), rec.solver)


def _sklearn(data: ProblemData) -> tuple[np.ndarray, np.ndarray, int, str]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    kw: dict[str, Any] = {"C": data.problem.C}
    solver = "lbfgs"
    if data.problem.penalty == "l1":
        solver = "saga"  # lbfgs has no L1: the user must pick liblinear or saga
        kw.update(solver=solver, l1_ratio=1.0)
    est = LogisticRegression(**kw)
    if data.problem.kind == "multilabel":
        fitted = OneVsRestClassifier(est).fit(data.X, data.y).estimators_
        coef = np.vstack([e.coef_ for e in fitted])
        icpt = np.concatenate([e.intercept_ for e in fitted])
        return coef, icpt, max(int(np.max(e.n_iter_)) for e in fitted), solver
    est.fit(data.X, data.y)
    return est.coef_, est.intercept_, int(np.max(est.n_iter_)), solver


#: library -> fit at its defaults: ``(coef, intercept, iterations, solver)``.
LIBRARIES: dict[str, Callable[[ProblemData], tuple[np.ndarray, np.ndarray, int, str]]] = {
    "sigmax": _sigmax, "sklearn": _sklearn}


def _predictions(data: ProblemData, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    Z = np.asarray(data.X @ np.asarray(coef).T) + np.asarray(intercept)
    return Z.argmax(axis=1) if data.problem.kind == "multinomial" else Z > 0


def _timed(fit: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median seconds of ``fit()`` after a warm-up (short fits run more often) and its result."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning at max_iter=100
        t = time.perf_counter()
        out = fit()
        first = time.perf_counter() - t
        runs = max(repeats, min(MAX_RUNS, math.ceil(MIN_TIMED_S / max(first, 1e-9))))
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            out = fit()
            times.append(time.perf_counter() - t)
    return statistics.median(times), out


def run_problem(name: str, *, scale: float, repeats: int, libraries: Sequence[str],
                threads: Sequence[str], verbose: bool = True) -> dict[str, Any]:
    """One problem at every thread setting: each library's time, gap and predictions."""
    data = PROBLEMS[name].load(scale)
    ref = reference_optimum(data)
    best = _predictions(data, ref["coef"], ref["intercept"])
    out: dict[str, Any] = {"problem": name, "rows": int(data.X.shape[0]),
                           "features": int(data.X.shape[1]), "outputs": data.n_outputs,
                           "penalty": data.problem.penalty, "reference": ref["objective"],
                           "settings": {}}
    for setting in threads:
        rows = {}
        with thread_limit(setting):
            for lib in libraries:
                seconds, (coef, icpt, n_iter, solver) = _timed(
                    lambda lib=lib: LIBRARIES[lib](data), repeats)
                value = sklearn_objective(data, coef, icpt)
                rows[lib] = {"seconds": seconds, "n_iter": n_iter, "solver": solver,
                             "gap": (value - ref["objective"]) / abs(ref["objective"]),
                             "same_predictions": float(np.mean(
                                 _predictions(data, coef, icpt) == best))}
                if verbose:
                    r = rows[lib]
                    print(f"{name} threads={setting} {lib} ({solver}): {seconds:.4f} s, "
                          f"{n_iter} it, gap {r['gap']:.1e}", flush=True)
        if {"sigmax", "sklearn"} <= set(rows):
            s, k = rows["sigmax"], rows["sklearn"]
            rows["ratio"] = s["seconds"] / k["seconds"]
            rows["as_accurate"] = bool(s["gap"] <= k["gap"] or max(s["gap"], k["gap"])
                                       <= SAME_GAP)
            rows["ok"] = bool(rows["ratio"] <= 1.0 and rows["as_accurate"])
        out["settings"][setting] = rows
    return out


def run(problems: Sequence[str] | None = None, *, scale: float = 1.0, repeats: int = 3,
        libraries: Sequence[str] | None = None, threads: Sequence[str] = THREAD_SETTINGS,
        out_dir: str | Path | None = "benchmarks/results", verbose: bool = True,
        ) -> dict[str, Any]:
    """Run the ``defaults`` group; write ``defaults-<tag>.json`` / ``.md`` to ``out_dir``.

    Parameters
    ----------
    problems : list of str, optional
        Names from :data:`~sigmax.bench.problems.PROBLEMS` (default: all).
    scale : float
        Share of each problem's rows.
    repeats : int
        Timed runs at least (median; short fits run more, up to :data:`MAX_RUNS`).
    libraries : list of {"sigmax", "sklearn"}, optional
    threads : sequence of {"1", "default"}
    out_dir : path or None
        None writes nothing.
    """
    names = list(problems) if problems else list(PROBLEMS)
    unknown = [p for p in names if p not in PROBLEMS]
    if unknown:
        raise ValueError(f"Unknown problem(s) {unknown}; choose from {list(PROBLEMS)}.")
    libs = list(libraries) if libraries else list(LIBRARIES)
    bad = [lib for lib in libs if lib not in LIBRARIES]
    if bad:
        raise ValueError(f"The defaults group compares {list(LIBRARIES)}; got {bad}.")
    result: dict[str, Any] = {"group": "defaults", "scale": scale, "threads": list(threads),
                              "problems": [run_problem(n, scale=scale, repeats=repeats,
                                                       libraries=libs, threads=threads,
                                                       verbose=verbose) for n in names]}
    if out_dir is not None:
        result["files"] = write_group(result, out_dir, "defaults", scale, markdown)
    return result


def markdown(result: dict[str, Any]) -> str:
    """One row per problem and thread setting: both libraries' time, gap, and the verdict."""
    lines = ["| problem | threads | sigmax (solver, it) | s | gap | predictions as F* "
             "| sklearn (solver, it) | s | gap | predictions as F* | ratio | as accurate | ok |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for p in result["problems"]:
        for setting, rows in p["settings"].items():
            s, k = rows.get("sigmax"), rows.get("sklearn")
            if s is None or k is None:
                continue
            lines.append(
                f"| {p['problem']} | {setting} | {s['solver']}, {s['n_iter']} | "
                f"{s['seconds']:.4f} | {s['gap']:.1e} | {s['same_predictions']:.4f} | "
                f"{k['solver']}, {k['n_iter']} | {k['seconds']:.4f} | {k['gap']:.1e} | "
                f"{k['same_predictions']:.4f} | {rows['ratio']:.2f} | "
                f"{'yes' if rows['as_accurate'] else 'no'} | {'✓' if rows['ok'] else '✗'} |")
    return "\n".join(lines) + "\n"
