"""The benchmark runner: reference optimum, time to a checked gap, floor, memory.

For each problem:

1. **Reference optimum** ``F*``: sigmax in float64 with a very tight tolerance
   (two solvers, the lower objective kept), then lowered further if any timed
   fit ever reaches a lower objective (recorded as ``reference_improved``).
2. **Time to the target gap** for each library x solver x dtype, under each
   thread setting (``threadpoolctl`` limit of one thread first, then the
   defaults): the library's own tolerance is walked down a ladder
   (``1e-2, 1e-3, ...``) until the relative gap ``(F - F*) / |F*|`` of the
   returned coefficients, evaluated by :func:`~sigmax.bench.problems.sklearn_objective`,
   is at most the target (1e-6 in float64, 1e-5 in float32). The ladder runs
   are the warm-up; then ``repeats`` more runs at that tolerance are timed
   (more for fits shorter than a fraction of a second: :func:`n_runs`) and
   the median is reported. Every timed run is checked again: a run that
   misses the target marks the result as not reached. Nothing is assumed from
   a library's convergence flag.
3. **Floor**: the best time of the two bare products ``X @ W`` and
   ``X.T @ G`` on the problem's shape (best over NumPy/SciPy call variants and
   over the thread settings), and sigmax's time for one objective evaluation
   (value and gradient) as a ratio to it.
4. **Peak memory** of one fit over the process with ``X`` loaded
   (``tracemalloc``, which sees every NumPy allocation), in units of one
   ``(n, k)`` buffer of the working dtype.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..io import atomic_write_text
from .adapters import ADAPTERS, Adapter, Fit
from .problems import PROBLEMS, Problem, ProblemData, sklearn_objective
from .results import summarize, tag_for, to_json

__all__ = ["TARGET_GAP", "BenchConfig", "check_gap", "gap", "measure_floor", "reference_optimum",
           "run", "time_to_gap"]

#: Relative objective gap each run must reach, per working dtype.
TARGET_GAP = {"float64": 1e-6, "float32": 1e-5}
#: Tolerances tried, loosest first.
TOL_LADDER = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12)
THREAD_SETTINGS = ("1", "default")


@dataclass
class BenchConfig:
    """Knobs of one benchmark run.

    Attributes
    ----------
    scale : float
        Share of each synthetic problem's rows to keep (1 = full size).
    repeats : int
        Timed runs after the warm-up; the median is reported.
    min_timed_s : float
        Short fits get more timed runs, up to ``max_repeats``: enough for about
        this many seconds in all (see :func:`n_runs`). A median of three fits of
        a few milliseconds moves with every hiccup of a shared machine (movies,
        float32: 16.4 / 12.5 / 15.9 ms in one run).
    max_repeats : int
    budget_s : float
        Most seconds spent on one library x solver x dtype x thread setting;
        past it the solver is reported as not reaching the target.
    slack : float
        A scikit-learn (or other non-sigmax) solver is dropped once one of its
        runs, still short of the target, takes ``slack`` times the fastest
        time already found for that problem: it cannot be the fastest.
    slack_min_s : float
        ... unless that run took less than this: walking on down the ladder is
        then cheap, and one slow run of a millisecond fit (a hiccup of a shared
        machine) must not drop a solver (it once dropped scikit-learn's
        newton-cg, the fastest on digits, after a 0.22 s run).
    max_iter : int
    long_fit_s : float
        Fits whose ladder run took at least this get one timed run, not
        ``repeats``: such fits vary by a few per cent between runs (film_labelsets,
        scikit-learn's newton-cg: 69.8 s as the median of three, 69.3 s head to
        head, ``benchmarks/results/bench-full-2026-12-07.log``), and two more runs
        of each cost a full run minutes per solver.
    """

    scale: float = 1.0
    repeats: int = 3
    min_timed_s: float = 0.5
    max_repeats: int = 25
    budget_s: float = 120.0
    slack: float = 3.0
    slack_min_s: float = 1.0
    max_iter: int = 100_000
    long_fit_s: float = 20.0
    threads: tuple[str, ...] = THREAD_SETTINGS
    memory: bool = True


# -- helpers --------------------------------------------------------------------------------------
def n_runs(cfg: BenchConfig, seconds: float) -> int:
    """Timed runs for a fit of about ``seconds``: ``repeats``, more for short fits.

    At least ``cfg.repeats``; short fits get enough runs for about
    ``cfg.min_timed_s`` seconds in all, at most ``cfg.max_repeats``; fits of
    ``cfg.long_fit_s`` or more one run.
    """
    if not seconds > 0:
        return cfg.repeats
    if seconds >= cfg.long_fit_s:
        return 1
    return max(cfg.repeats, min(cfg.max_repeats, math.ceil(cfg.min_timed_s / seconds)))


@contextmanager
def thread_limit(setting: str):
    """Limit every BLAS/OpenMP pool (and PyTorch's) to one thread, or leave the defaults."""
    from threadpoolctl import threadpool_limits

    torch_mod = None
    try:
        import torch as torch_mod
    except ImportError:
        torch_mod = None
    if setting == "default":
        yield
        return
    n = int(setting)
    before = torch_mod.get_num_threads() if torch_mod is not None else None
    with threadpool_limits(limits=n):
        if torch_mod is not None:
            torch_mod.set_num_threads(n)
        try:
            yield
        finally:
            if torch_mod is not None:
                torch_mod.set_num_threads(before)


def gap(value: float, reference: float) -> float:
    """Relative objective gap ``(F - F*) / |F*|`` (negative when below the reference)."""
    return (value - reference) / abs(reference)


def check_gap(value: float, reference: float, target: float) -> bool:
    """True when ``value`` is within ``target`` (relative) of the optimum ``reference``."""
    return bool(np.isfinite(value)) and gap(value, reference) <= target


def _timed_fit(adapter: Adapter, prepared: Any, data: ProblemData, solver: str, tol: float,
               max_iter: int, dtype: str) -> tuple[float, Fit]:
    gc.collect()
    t0 = time.perf_counter()
    fit = adapter.fit(prepared, data, solver=solver, tol=tol, max_iter=max_iter, dtype=dtype)
    return time.perf_counter() - t0, fit


def _score(data: ProblemData, fit: Fit) -> float:
    try:
        return sklearn_objective(data, fit.coef, fit.intercept)
    except (ValueError, FloatingPointError):  # pragma: no cover - a broken fit
        return float("inf")


# -- reference optimum ----------------------------------------------------------------------------
def reference_optimum(data: ProblemData) -> dict[str, Any]:
    """Minimize the problem's objective with sigmax (float64) far past the target gap.

    Newton (conjugate gradients, or Cholesky for few parameters; the proximal
    solver for L1) with tolerance 1e-10 on the normalized objective's
    gradient; when two run, the lower objective is kept.
    """
    adapter = ADAPTERS["sigmax"]
    if data.problem.penalty == "l1":
        candidates = ["proximal", "proximal-newton"]
    elif data.n_params <= 400 and not sp.issparse(data.X):
        candidates = ["newton-cholesky", "newton-cg"]
    else:
        candidates = ["newton-cg"]
    best: dict[str, Any] = {}
    for solver in candidates:
        # Newton's quadratic convergence: a gradient of 1e-10 puts the
        # objective within ~1e-16 relative of the optimum (gap ~ |g|^2 / mu).
        seconds, fit = _timed_fit(adapter, data.X, data, solver, 1e-10, 200_000, "float64")
        value = _score(data, fit)
        if not best or value < best["objective"]:
            best = {"objective": value, "solver": solver, "seconds": seconds,
                    "n_iter": fit.n_iter, "coef": fit.coef, "intercept": fit.intercept}
    return best


# -- time to the target ---------------------------------------------------------------------------
def time_to_gap(adapter: Adapter, data: ProblemData, prepared: Any, *, solver: str, dtype: str,
                reference: float, target: float, cfg: BenchConfig,
                ladder: Sequence[float] = TOL_LADDER, give_up_after: float | None = None,
                ) -> dict[str, Any]:
    """Walk the tolerance ladder until the gap is reached, then time ``repeats`` runs.

    Returns a JSON-ready record: ``reached``, ``tol``, ``seconds`` (median),
    ``runs`` (each timed run's seconds and gap), ``ladder`` (tolerance,
    seconds, gap of every warm-up run), ``note``.
    """
    rec: dict[str, Any] = {"library": adapter.name, "solver": solver, "dtype": dtype,
                           "target_gap": target, "reached": False, "ladder": [], "runs": [],
                           "note": ""}
    spent = 0.0
    found: float | None = None
    last_fit: Fit | None = None
    cap = cfg.max_iter
    for tol in ladder:
        seconds, fit = _timed_fit(adapter, prepared, data, solver, tol, cap, dtype)
        spent += seconds
        value = _score(data, fit)
        g = gap(value, reference)
        rec["ladder"].append({"tol": tol, "seconds": seconds, "gap": g, "objective": value,
                              "n_iter": fit.n_iter})
        last_fit = fit
        if check_gap(value, reference, target):
            found = tol
            break
        if cap < cfg.max_iter and fit.n_iter >= cap:
            rec["note"] = (f"stopped: capped at {cap} iterations (the time left, at the "
                           "last run's pace), still short of the target")
            break
        if give_up_after is not None and seconds > max(give_up_after, cfg.slack_min_s):
            rec["note"] = (f"stopped: one run ({seconds:.3g} s) took longer than {cfg.slack:g}x "
                           "the fastest time found, still short of the target")
            break
        if spent > cfg.budget_s:
            rec["note"] = f"stopped: over the {cfg.budget_s:g} s budget"
            break
        cap = _iteration_cap(cfg, seconds, fit.n_iter, cfg.budget_s - spent, give_up_after)
    else:
        rec["note"] = "the tightest tolerance did not reach the target"
    if found is None:
        rec["seconds"] = None
        return rec
    rec["tol"] = found
    rec["solver_used"] = last_fit.solver_used if last_fit else solver
    for _ in range(n_runs(cfg, rec["ladder"][-1]["seconds"])):
        seconds, fit = _timed_fit(adapter, prepared, data, solver, found, cfg.max_iter, dtype)
        value = _score(data, fit)
        rec["runs"].append({"seconds": seconds, "gap": gap(value, reference),
                            "objective": value, "n_iter": fit.n_iter})
        last_fit = fit
    ok = all(check_gap(r["objective"], reference, target) for r in rec["runs"])
    rec["reached"] = ok
    rec["seconds"] = statistics.median(r["seconds"] for r in rec["runs"]) if rec["runs"] \
        else rec["ladder"][-1]["seconds"]
    if not ok:
        rec["note"] = "a timed run missed the target (nondeterministic solver)"
    if last_fit is not None and last_fit.history:
        rec["history"] = last_fit.history
    rec["n_iter"] = last_fit.n_iter if last_fit else None
    return rec


def _iteration_cap(cfg: BenchConfig, seconds: float, n_iter: int, left_s: float,
                   give_up_after: float | None) -> int:
    """``max_iter`` of the next ladder run: what fits in the time it may take at the pace
    of the last run (``seconds`` for ``n_iter`` iterations).

    The time it may take: what is left of the budget (``left_s``) and, where given,
    ``give_up_after`` (at least ``cfg.slack_min_s``). A run is never cut in its
    middle otherwise, and the slowest solvers' runs at tight tolerances ran past
    the budget many times over (film_labelsets, one thread: scikit-learn's ``saga``
    442 s in one run against a 120 s budget). The cap is one iteration past that
    time, so a capped run that stops short of the target is over it.
    """
    limit = left_s
    if give_up_after is not None:
        limit = min(limit, max(give_up_after, cfg.slack_min_s))
    if not (n_iter > 0 and seconds > 0 and np.isfinite(limit)):
        return cfg.max_iter
    return int(min(cfg.max_iter, max(1, math.floor(limit * n_iter / seconds)) + 1))


# -- floor and per-evaluation cost ----------------------------------------------------------------
def _best_time(fn: Callable[[], Any], repeats: int = 7) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_floor(data: ProblemData, dtype: str, threads: Iterable[str] = THREAD_SETTINGS,
                  repeats: int = 7) -> dict[str, Any]:
    """Best time of ``X @ W`` plus best time of ``X.T @ G`` on the problem's shape.

    ``W`` is ``(d, k)`` and ``G`` is ``(n, k)`` with ``k`` the number of
    outputs; for ``k = 1`` the matrix-vector forms are tried as well. Each
    product takes the best over call variants; the floor is reported per
    thread setting and overall (``best``).
    """
    X = data.X32 if dtype == "float32" else data.X
    n, d = X.shape
    k = data.n_outputs
    rng = np.random.default_rng(0)
    W = rng.standard_normal((d, k)).astype(X.dtype) * 0.01
    G = rng.standard_normal((n, k)).astype(X.dtype)
    Wt, Gt = np.ascontiguousarray(W.T), np.ascontiguousarray(G.T)
    fwd: list[Callable[[], Any]] = [lambda: X @ W]
    bwd: list[Callable[[], Any]] = [lambda: X.T @ G]
    if not sp.issparse(X):
        fwd.append(lambda: np.dot(Wt, X.T))
        bwd.append(lambda: np.dot(Gt, X))
        if k == 1:
            fwd.append(lambda: X @ W[:, 0])
            bwd.append(lambda: G[:, 0] @ X)
    out: dict[str, Any] = {}
    for setting in threads:
        with thread_limit(setting):
            a = min(_best_time(f, repeats) for f in fwd)
            b = min(_best_time(f, repeats) for f in bwd)
        out[setting] = {"matmul": a, "rmatmul": b, "floor": a + b}
    out["best"] = min(v["floor"] for v in out.values())
    return out


def _sigmax_objective(data: ProblemData, dtype: str):
    from ..losses import LOSSES
    from ..objective import LinearObjective
    from ..penalties import make_penalty

    X = data.X32 if dtype == "float32" else data.X
    kind = data.problem.kind
    loss = LOSSES[{"binary": "binomial", "multinomial": "multinomial",
                   "multilabel": "multilabel"}[kind]]
    Y = data.y if kind == "multinomial" else data.y.astype(np.float64)
    return LinearObjective(loss, X, Y, np.ones(X.shape[0]), data.n_outputs, C=data.problem.C,
                           penalty=make_penalty(data.problem.penalty), fit_intercept=True)


def measure_eval(data: ProblemData, dtype: str, threads: Iterable[str] = THREAD_SETTINGS,
                 repeats: int = 7) -> dict[str, Any]:
    """Seconds of one sigmax value+gradient (and Hessian-vector product) per thread setting.

    scikit-learn's own loss+gradient (``LinearModelLoss.loss_gradient``) is
    timed alongside in float64, for reference.
    """
    out: dict[str, Any] = {}
    sk = _sklearn_loss(data) if dtype == "float64" else None
    for setting in threads:
        # A fresh objective per setting, its value+gradient timed before any
        # Hessian product: after one, evaluations also keep the Newton state
        # current (what a Newton solver wants, not a plain evaluation; it made
        # float32 many_classes read 1.69x the floor instead of 1.24x).
        obj = _sigmax_objective(data, dtype)
        w = np.random.default_rng(1).standard_normal(obj.n_params) * 0.01
        with thread_limit(setting):
            row = {"value_and_grad": _best_time(lambda: obj.value_and_grad(w), repeats)}  # noqa: B023
            row["hessp"] = _best_time(lambda: obj.hessp(w, w), repeats)  # noqa: B023
            if sk is not None:
                try:
                    row["sklearn_loss_gradient"] = _best_time(sk, repeats)
                except Exception as exc:  # pragma: no cover - private sklearn API moved
                    row["sklearn_loss_gradient_error"] = repr(exc)
        out[setting] = row
    return out


def _sklearn_loss(data: ProblemData) -> Callable[[], Any] | None:
    """scikit-learn's loss+gradient at a random point (private API; None if unavailable)."""
    try:
        from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:  # pragma: no cover
        return None
    kind = data.problem.kind
    if kind == "multilabel":
        return None  # scikit-learn fits one head at a time; no joint loss to time
    X, y = data.X, data.y.astype(np.float64)
    d = X.shape[1]
    if kind == "multinomial":
        K = data.n_outputs
        lml = LinearModelLoss(HalfMultinomialLoss(n_classes=K), fit_intercept=True)
        coef = np.random.default_rng(2).standard_normal((K, d + 1)) * 0.01
    else:
        lml = LinearModelLoss(HalfBinomialLoss(), fit_intercept=True)
        coef = np.random.default_rng(2).standard_normal(d + 1) * 0.01
    sw = np.ones(X.shape[0])
    n_threads = os.cpu_count() or 1
    from threadpoolctl import threadpool_info

    omp = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"]
    n_threads = min(omp) if omp else n_threads
    return lambda: lml.loss_gradient(coef, X, y, sw, l2_reg_strength=1.0 / data.problem.C,
                                     n_threads=n_threads)


# -- memory ---------------------------------------------------------------------------------------
def measure_memory(adapter: Adapter, data: ProblemData, prepared: Any, *, solver: str,
                   tol: float, dtype: str, max_iter: int) -> dict[str, Any]:
    """Peak memory of one fit above the memory in use before it (X already loaded).

    ``traced_mb``: peak of ``tracemalloc`` (every NumPy/Python allocation);
    ``rss_mb``: peak resident set size sampled every 2 ms (sees native
    allocations too, e.g. PyTorch's). ``buffers``: traced bytes over one
    ``(n, k)`` array of the working dtype.
    """
    import psutil

    proc = psutil.Process()
    gc.collect()
    base_rss = proc.memory_info().rss
    peak = [base_rss]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    tracemalloc.start()
    sampler.start()
    try:
        adapter.fit(prepared, data, solver=solver, tol=tol, max_iter=max_iter, dtype=dtype)
    finally:
        stop.set()
        sampler.join()
        _, traced = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    item = 4 if dtype == "float32" else 8
    buffer = data.X.shape[0] * data.n_outputs * item
    return {"traced_mb": traced / 2**20, "rss_mb": (peak[0] - base_rss) / 2**20,
            "buffer_mb": buffer / 2**20, "buffers": traced / buffer}


# -- one problem ----------------------------------------------------------------------------------
def _log(msg: str, verbose: bool) -> None:
    if verbose:
        print(msg, flush=True)


def run_problem(problem: Problem, cfg: BenchConfig, libraries: Sequence[str] | None = None,
                verbose: bool = True) -> dict[str, Any]:
    """Everything the runner measures for one problem, as a JSON-ready dict."""
    t_start = time.perf_counter()
    data = problem.load(cfg.scale)
    n, d = data.X.shape
    out: dict[str, Any] = {
        "problem": problem.name, "kind": problem.kind, "description": problem.description,
        "penalty": problem.penalty, "C": problem.C, "n": n, "d": d, "k": data.n_outputs,
        "sparse": bool(sp.issparse(data.X)),
        "density": (data.X.nnz / (n * d)) if sp.issparse(data.X) else 1.0,
        "real": problem.real, "results": {}}
    _log(f"== {problem.name}: n={n} d={d} k={data.n_outputs}", verbose)
    ref = reference_optimum(data)
    out["reference"] = {k: v for k, v in ref.items() if k not in ("coef", "intercept")}
    reference = ref["objective"]
    _log(f"   reference F* = {reference:.12g} ({ref['solver']}, {ref['seconds']:.2f} s)", verbose)

    out["floor"] = {dt: measure_floor(data, dt, cfg.threads) for dt in ("float64", "float32")}
    out["eval"] = {dt: measure_eval(data, dt, cfg.threads) for dt in ("float64", "float32")}

    names = [a for a in (libraries or ADAPTERS) if a in ADAPTERS and ADAPTERS[a].available()]
    # scikit-learn first: its fastest time is the bar that lets the runner
    # drop hopeless solvers of the other libraries early.
    names.sort(key=lambda a: (a != "sklearn", a != "sigmax"))
    found_tol: dict[tuple[str, str, str], float] = {}
    failed: set[tuple[str, str, str]] = set()
    for setting in cfg.threads:
        records: list[dict[str, Any]] = []
        fastest = float("inf")
        with thread_limit(setting):
            for name in names:
                adapter = ADAPTERS[name]
                for dtype in adapter.dtypes:
                    solvers = adapter.solvers(data, dtype)
                    if not solvers:
                        continue
                    prepared = adapter.prepare(data, dtype)
                    for solver in solvers:
                        key = (name, solver, dtype)
                        if key in failed and not (name == "sigmax" and solver == "auto"):
                            # It already missed the target (or was dropped as too
                            # slow) under the first setting: not re-run.
                            records.append({"library": name, "solver": solver, "dtype": dtype,
                                            "target_gap": TARGET_GAP[dtype], "reached": False,
                                            "ladder": [], "runs": [], "seconds": None,
                                            "threads": setting,
                                            "note": f"not re-run: missed under threads="
                                                    f"{cfg.threads[0]}"})
                            continue
                        ladder = TOL_LADDER
                        if key in found_tol:  # start where the first setting ended
                            ladder = tuple(t for t in TOL_LADDER if t <= found_tol[key])
                        # sigmax's "auto" always runs to the end: it is what is judged.
                        give_up = None if (name == "sigmax" and solver == "auto") \
                            or not np.isfinite(fastest) else cfg.slack * fastest
                        rec = time_to_gap(adapter, data, prepared, solver=solver, dtype=dtype,
                                          reference=reference, target=TARGET_GAP[dtype],
                                          cfg=cfg, ladder=ladder, give_up_after=give_up)
                        rec["threads"] = setting
                        if not rec["reached"]:
                            failed.add(key)
                        if rec["reached"]:
                            found_tol.setdefault(key, rec["tol"])
                            if name != "sigmax" and dtype == "float64":
                                fastest = min(fastest, rec["seconds"])
                        records.append(rec)
                        _log(f"   [{setting:>7}] {name:11s} {solver:15s} {dtype}: "
                             + (f"{rec['seconds']:.3f} s (tol {rec['tol']:g}, gap "
                                f"{max(r['gap'] for r in rec['runs']):.1e})" if rec["reached"]
                                else f"not reached ({rec['note']})"), verbose)
        out["results"][setting] = records
        # Head to head: the judged fits (scikit-learn's fastest, sigmax "auto"
        # in both dtypes) timed again in alternation, so that a change in the
        # machine's load between the ladders above cannot favour either side.
        with thread_limit(setting):
            out.setdefault("head_to_head", {})[setting] = _head_to_head(
                data, records, cfg, reference, verbose, setting)

    # The reference may be beaten by a timed fit: then lower it and re-check every gap.
    lowest = min([reference] + [r["objective"] for recs in out["results"].values()
                                for rec in recs for r in rec["runs"] + rec["ladder"]])
    out["reference"]["improved_by"] = gap(reference, lowest) if lowest < reference else 0.0
    if lowest < reference:
        reference = lowest
        for recs in out["results"].values():
            for rec in recs:
                for r in rec["runs"] + rec["ladder"]:
                    r["gap"] = gap(r["objective"], reference)
                if rec["reached"]:
                    rec["reached"] = all(r["gap"] <= rec["target_gap"] for r in rec["runs"])
                    if not rec["reached"]:
                        rec["note"] = "missed the target once the reference was lowered"
    out["reference"]["objective"] = reference

    if cfg.memory:
        out["memory"] = _memory_section(data, out, cfg, verbose)
    out["summary"] = summarize(out)
    out["seconds_total"] = time.perf_counter() - t_start
    if hasattr(os, "getloadavg"):
        out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def _memory_section(data: ProblemData, out: dict[str, Any], cfg: BenchConfig,
                    verbose: bool) -> dict[str, Any]:
    mem: dict[str, Any] = {}
    recs = out["results"].get("default") or next(iter(out["results"].values()))
    picks = [r for r in recs if r["library"] == "sigmax" and r["solver"] == "auto"]
    sk = [r for r in recs if r["library"] == "sklearn" and r["reached"]]
    if sk:
        picks.append(min(sk, key=lambda r: r["seconds"]))
    for rec in picks:
        if not rec.get("tol"):
            continue
        adapter = ADAPTERS[rec["library"]]
        prepared = adapter.prepare(data, rec["dtype"])
        m = measure_memory(adapter, data, prepared, solver=rec["solver"], tol=rec["tol"],
                           dtype=rec["dtype"], max_iter=cfg.max_iter)
        mem[f"{rec['library']}/{rec['solver']}/{rec['dtype']}"] = m
        _log(f"   memory {rec['library']}/{rec['solver']}/{rec['dtype']}: traced "
             f"{m['traced_mb']:.1f} MB = {m['buffers']:.2f} (n x k) buffers, rss "
             f"{m['rss_mb']:.1f} MB", verbose)
    return mem


def _head_to_head(data: ProblemData, records: list[dict[str, Any]], cfg: BenchConfig,
                  reference: float, verbose: bool, setting: str) -> dict[str, Any]:
    sk = [r for r in records if r["library"] == "sklearn" and r["reached"]]
    picks = [min(sk, key=lambda r: r["seconds"])] if sk else []
    picks += [r for r in records if r["library"] == "sigmax" and r["solver"] == "auto"
              and r["reached"]]
    if len(picks) < 2:
        return {}
    prepared = {r["dtype"]: None for r in picks}
    timings: dict[str, list[dict[str, float]]] = {}
    # Rounds sized by the shortest fit: every pick gets the same number of runs.
    for _ in range(n_runs(cfg, min(r["seconds"] for r in picks))):
        for r in picks:
            adapter = ADAPTERS[r["library"]]
            if prepared.get((r["library"], r["dtype"])) is None:
                prepared[(r["library"], r["dtype"])] = adapter.prepare(data, r["dtype"])
            seconds, fit = _timed_fit(adapter, prepared[(r["library"], r["dtype"])], data,
                                      r["solver"], r["tol"], cfg.max_iter, r["dtype"])
            key = f"{r['library']}/{r['solver']}/{r['dtype']}"
            timings.setdefault(key, []).append(
                {"seconds": seconds, "gap": gap(_score(data, fit), reference)})
    out = {}
    for key, runs in timings.items():
        target = TARGET_GAP[key.rsplit("/", 1)[1]]
        out[key] = {"seconds": statistics.median(x["seconds"] for x in runs),
                    "reached": all(x["gap"] <= target for x in runs), "runs": runs}
    _log(f"   [{setting:>7}] head to head: " + ", ".join(
        f"{k} {v['seconds']:.3f} s" for k, v in out.items()), verbose)
    return out


# -- the whole run --------------------------------------------------------------------------------
def machine_info() -> dict[str, Any]:
    """CPU, memory, library versions and the BLAS each library uses (threadpoolctl)."""
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    from .. import __version__

    info: dict[str, Any] = {
        "platform": platform.platform(), "processor": platform.processor(),
        "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__,
        "sigmax": __version__,
        "threadpools": [{k: v for k, v in i.items() if k != "filepath"}
                        for i in threadpool_info()],
        "env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                           "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
                if k in os.environ},
    }
    if hasattr(os, "getloadavg"):
        # Other processes share the machine: the load says how much (1, 5, 15 min).
        info["loadavg_start"] = [round(x, 2) for x in os.getloadavg()]
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        info["cpu"] = names[0] if names else ""
        with open("/proc/meminfo") as fh:
            info["mem_gb"] = round(int(fh.readline().split()[1]) / 2**20, 1)
    except OSError:  # pragma: no cover - not Linux
        pass
    for mod in ("statsmodels", "torch"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:  # pragma: no cover
            pass
    return info


def run(problems: Sequence[str] | None = None, *, scale: float = 1.0, repeats: int = 3,
        libraries: Sequence[str] | None = None, threads: Sequence[str] = THREAD_SETTINGS,
        out_dir: str | os.PathLike | None = "benchmarks/results", budget_s: float | None = None,
        memory: bool = True, plots: bool = True, verbose: bool = True,
        min_timed_s: float = 0.5) -> dict[str, Any]:
    """Run the benchmark and write ``bench-<tag>.json``, ``bench-<tag>.md`` and plots.

    While it runs, ``bench-<tag>.partial.json`` holds the problems finished so far
    (removed at the end); ``sigmax.bench.report.rerender`` renders a stopped run's.

    Parameters
    ----------
    problems : list of str, optional
        Names from :data:`~sigmax.bench.problems.PROBLEMS` (default: all).
    scale : float
        Share of the rows of each synthetic problem to keep (1 = full size).
    repeats : int
        Timed runs after the warm-up (median reported).
    min_timed_s : float
        Short fits get more timed runs (at most 25): enough for about this many
        seconds (0: always ``repeats``).
    libraries : list of str, optional
        Names from :data:`~sigmax.bench.adapters.ADAPTERS` (default: all installed).
    threads : list of {"1", "default"}
    out_dir : path or None
        Where to write the results; None writes nothing.
    budget_s : float, optional
        Seconds per library x solver x dtype x thread setting (default 120 x scale,
        at least 10).

    Returns
    -------
    dict
        ``{"machine": ..., "config": ..., "problems": [...]}``, as written to the JSON file.
    """
    names = list(problems) if problems else list(PROBLEMS)
    unknown = [p for p in names if p not in PROBLEMS]
    if unknown:
        raise ValueError(f"Unknown benchmark problem(s) {unknown}; choose from {list(PROBLEMS)}.")
    bad = [t for t in threads if t not in THREAD_SETTINGS]
    if bad:
        raise ValueError(f"Unknown thread setting(s) {bad}; choose from {list(THREAD_SETTINGS)}.")
    if libraries:
        missing = [a for a in libraries if a not in ADAPTERS]
        if missing:
            raise ValueError(f"Unknown library adapter(s) {missing}; choose from "
                             f"{list(ADAPTERS)}.")
    cfg = BenchConfig(scale=scale, repeats=repeats, min_timed_s=min_timed_s,
                      threads=tuple(threads), memory=memory,
                      budget_s=budget_s if budget_s is not None else max(10.0, 120.0 * scale))
    result: dict[str, Any] = {"machine": machine_info(),
                              "config": {**cfg.__dict__, "threads": list(cfg.threads),
                                         "problems": names,
                                         "libraries": list(libraries or ADAPTERS),
                                         "target_gap": TARGET_GAP, "tol_ladder": TOL_LADDER},
                              "problems": []}
    t0 = time.perf_counter()
    # What a run has measured so far, rewritten after each problem: a run stopped
    # before its end (a full one takes hours) keeps its finished problems, and
    # ``sigmax.bench.report.rerender`` makes its tables and plots from this file.
    partial = None if out_dir is None else Path(out_dir) / f"bench-{tag_for(scale)}.partial.json"
    for name in names:
        result["problems"].append(run_problem(PROBLEMS[name], cfg, libraries, verbose))
        if partial is not None:
            partial.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(partial, to_json(result))
    result["seconds_total"] = time.perf_counter() - t0
    if out_dir is not None:
        from .report import write_results

        paths = write_results(result, out_dir, plots=plots)
        partial.unlink(missing_ok=True)
        result["files"] = [str(p) for p in paths]
        _log("wrote " + ", ".join(str(p) for p in paths), verbose)
    return result
