r"""The ``paths`` benchmark group: cross-validated ``C``, sigmax against scikit-learn.

``sigmax bench paths`` times sigmax's CV estimators (:class:`~sigmax.LogisticRegressionCV`,
:class:`~sigmax.SoftmaxRegressionCV`) and scikit-learn's ``LogisticRegressionCV``
(every solver it offers for the problem) on the same ``Cs``, the same folds
and the same scoring (``neg_log_loss``), refit included, on:

- ``dense_multinomial`` at 25% of its rows, ``many_classes``, ``digits``
  (L2, multinomial) and ``breast_cancer_l1`` (L1, binary).

Every path point (fold x ``C``) is checked: the coefficients fitted on the
fold's training rows at that ``C`` must be within a relative objective gap of
``1e-6`` of a tight reference fit at that ``C`` (sigmax's plain estimator, one
independent fit per point, tolerance ``1e-10``; lowered when a timed fit ever
goes lower), judged by the one objective
:func:`~sigmax.bench.problems.sklearn_objective`. Each library x solver walks
its tolerance down a ladder until every point reaches the gap, then is timed
``repeats`` more times (median). The judged pair (sigmax and scikit-learn's
fastest) is then timed ``repeats`` more times in alternation (head to head,
every gap checked again): on a shared machine the load can change between the
ladders, and the table's times and ratio come from these alternating runs.
Default threads only.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .problems import PROBLEMS, ProblemData, sklearn_objective
from .results import write_group

__all__ = ["PATH_PROBLEMS", "PathCase", "load_case", "reference_objectives", "run",
           "time_path"]

#: The problems of the group and the share of their rows each keeps.
PATH_PROBLEMS: dict[str, float] = {"dense_multinomial": 0.25, "many_classes": 1.0,
                                   "digits": 1.0, "breast_cancer_l1": 1.0}
#: The grid of C shared by every library (eight values over five decades).
DEFAULT_CS = tuple(np.logspace(-3, 2, 8).tolist())
TARGET_GAP = 1e-6
LADDER = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10)


@dataclass(frozen=True)
class PathCase:
    """One problem's data, folds and grid, shared by every library."""

    data: ProblemData
    folds: list[tuple[np.ndarray, np.ndarray]]
    Cs: np.ndarray

    def fold_data(self, f: int, C: float) -> ProblemData:
        """The training rows of fold ``f`` with the problem's ``C`` replaced (its objective)."""
        train = self.folds[f][0]
        X = self.data.X[train]
        return ProblemData(dataclasses.replace(self.data.problem, C=float(C)), X, X,
                           self.data.y[train])


def load_case(name: str, scale: float = 1.0, n_folds: int = 5,
              Cs: Sequence[float] = DEFAULT_CS) -> PathCase:
    """The data of ``name`` at ``PATH_PROBLEMS[name] * scale`` of its rows, stratified folds."""
    from sklearn.model_selection import StratifiedKFold

    data = PROBLEMS[name].load(PATH_PROBLEMS[name] * scale)
    counts = np.bincount(data.y)
    if counts.min() < n_folds:
        raise ValueError(f"{name} at scale {scale:g} has a class with {counts.min()} rows, "
                         f"fewer than the {n_folds} folds (each fold must see every class, "
                         "or the libraries fit different problems); use a larger scale.")
    folds = list(StratifiedKFold(n_folds).split(np.empty((len(data.y), 0)), data.y))
    return PathCase(data, folds, np.asarray(Cs, dtype=np.float64))


# -- the libraries ------------------------------------------------------------------------
def _sigmax_cv(case: PathCase, solver: str, tol: float, max_iter: int) -> Any:
    from .. import LogisticRegressionCV, SoftmaxRegressionCV

    p = case.data.problem
    cls = LogisticRegressionCV if p.kind == "binary" else SoftmaxRegressionCV
    est = cls(Cs=list(case.Cs), cv=case.folds, scoring="neg_log_loss", penalty=p.penalty,
              solver=solver, tol=tol, max_iter=max_iter)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(case.data.X, case.data.y)
    k, d = est.coef_.shape
    return (est.coefs_paths_.reshape(len(case.folds), len(case.Cs), k, d),
            est.intercepts_paths_.reshape(len(case.folds), len(case.Cs), k))


def _sklearn_cv(case: PathCase, solver: str, tol: float, max_iter: int) -> Any:
    from sklearn.linear_model import LogisticRegressionCV

    p = case.data.problem
    kw: dict[str, Any] = {"l1_ratios": (1.0 if p.penalty == "l1" else 0.0,)}
    if "use_legacy_attributes" in LogisticRegressionCV().get_params():
        kw["use_legacy_attributes"] = False
    est = LogisticRegressionCV(Cs=list(case.Cs), cv=case.folds, scoring="neg_log_loss",
                               solver=solver, tol=tol, max_iter=max_iter, random_state=0,
                               **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(case.data.X, case.data.y)
    paths = np.asarray(est.coefs_paths_)[:, 0]  # (folds, Cs, k, d + 1)
    return paths[..., :-1], paths[..., -1]


#: library -> (solvers for a case, fit returning per-point coefs and intercepts).
LIBRARIES: dict[str, Any] = {
    "sigmax": (lambda case: ["auto"], _sigmax_cv),
    "sklearn": (lambda case: _sklearn_solvers(case), _sklearn_cv),
}


def _sklearn_solvers(case: PathCase) -> list[str]:
    from .adapters import ADAPTERS

    return ADAPTERS["sklearn"].solvers(case.data)


# -- checking -----------------------------------------------------------------------------
def _objectives(case: PathCase, coefs: np.ndarray, intercepts: np.ndarray) -> np.ndarray:
    out = np.empty((len(case.folds), len(case.Cs)))
    for f in range(len(case.folds)):
        for j, C in enumerate(case.Cs):
            out[f, j] = sklearn_objective(case.fold_data(f, C), coefs[f, j], intercepts[f, j])
    return out


def reference_objectives(case: PathCase) -> np.ndarray:
    """Objective of a tight independent sigmax fit at every (fold, C): shape (n_folds, n_Cs)."""
    from .. import LogisticRegression, SoftmaxRegression

    p = case.data.problem
    cls = LogisticRegression if p.kind == "binary" else SoftmaxRegression
    solver = "proximal-newton" if p.penalty == "l1" else "newton-cg"
    out = np.empty((len(case.folds), len(case.Cs)))
    for f, (train, _) in enumerate(case.folds):
        for j, C in enumerate(case.Cs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est = cls(penalty=p.penalty, C=float(C), solver=solver, tol=1e-10,
                          max_iter=100_000).fit(case.data.X[train], case.data.y[train])
            out[f, j] = sklearn_objective(case.fold_data(f, C), est.coef_, est.intercept_)
    return out


def _gaps(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return (values - reference) / np.abs(reference)


def time_path(library: str, solver: str, case: PathCase, reference: np.ndarray, *,
              repeats: int = 3, budget_s: float = 120.0, max_iter: int = 100_000,
              give_up_after: float | None = None) -> dict[str, Any]:
    """Walk the tolerance ladder until every path point reaches the gap, then time ``repeats``.

    Returns a JSON-ready record: ``reached``, ``tol``, ``seconds`` (median of the
    timed runs), ``max_gap``, ``ladder`` (each warm-up's tolerance, seconds,
    largest gap), ``objectives`` of the last run (for lowering the reference).
    """
    fit = LIBRARIES[library][1]
    rec: dict[str, Any] = {"library": library, "solver": solver, "reached": False,
                           "ladder": [], "runs": [], "note": ""}
    spent, found = 0.0, None
    for tol in LADDER:
        t0 = time.perf_counter()
        coefs, icpts = fit(case, solver, tol, max_iter)
        seconds = time.perf_counter() - t0
        spent += seconds
        values = _objectives(case, coefs, icpts)
        worst = float(np.max(_gaps(values, reference)))
        rec["ladder"].append({"tol": tol, "seconds": seconds, "max_gap": worst})
        rec["objectives"] = values.tolist()
        if worst <= TARGET_GAP:
            found = tol
            break
        if give_up_after is not None and seconds > give_up_after:
            rec["note"] = "stopped: slower than 3x the fastest, still short of the gap"
            break
        if spent > budget_s:
            rec["note"] = f"stopped: over the {budget_s:g} s budget"
            break
    else:
        rec["note"] = "the tightest tolerance did not reach the gap"
    if found is None:
        return rec
    rec["tol"] = found
    for _ in range(repeats):
        t0 = time.perf_counter()
        coefs, icpts = fit(case, solver, found, max_iter)
        seconds = time.perf_counter() - t0
        values = _objectives(case, coefs, icpts)
        rec["runs"].append({"seconds": seconds,
                            "max_gap": float(np.max(_gaps(values, reference)))})
    rec["seconds"] = statistics.median(r["seconds"] for r in rec["runs"])
    rec["max_gap"] = max(r["max_gap"] for r in rec["runs"])
    rec["reached"] = rec["max_gap"] <= TARGET_GAP
    return rec


# -- the run ------------------------------------------------------------------------------
def run_problem(name: str, *, scale: float, n_folds: int, Cs: Sequence[float], repeats: int,
                libraries: Sequence[str], budget_s: float, verbose: bool) -> dict[str, Any]:
    case = load_case(name, scale, n_folds, Cs)
    X = case.data.X
    t0 = time.perf_counter()
    reference = reference_objectives(case)
    out: dict[str, Any] = {"problem": name, "rows": int(X.shape[0]), "features": int(X.shape[1]),
                           "outputs": case.data.n_outputs, "penalty": case.data.problem.penalty,
                           "Cs": case.Cs.tolist(), "folds": n_folds,
                           "reference_seconds": time.perf_counter() - t0, "results": []}
    _log(f"{name}: {X.shape[0]} x {X.shape[1]}, {n_folds} folds x {len(case.Cs)} C "
         f"(reference {out['reference_seconds']:.1f} s)", verbose)
    best = None
    for library in libraries:
        for solver in LIBRARIES[library][0](case):
            rec = time_path(library, solver, case, reference, repeats=repeats,
                            budget_s=budget_s, give_up_after=None if best is None
                            else max(3 * best, 1.0))
            if rec["reached"]:
                best = rec["seconds"] if best is None else min(best, rec["seconds"])
            out["results"].append(rec)
            _log(f"   {library}/{solver}: " + (
                f"{rec['seconds']:.3f} s (tol {rec['tol']:g}, max gap {rec['max_gap']:.1e})"
                if rec["reached"] else f"not reached ({rec['note']})"), verbose)
    out["head_to_head"] = _head_to_head(case, out["results"], reference, repeats, verbose)
    # A timed fit below the reference lowers it; every gap is then re-read.
    lowest = np.minimum.reduce([reference] + [np.asarray(r["objectives"])
                                              for r in out["results"]])
    out["reference_improved_by"] = float(np.max(_gaps(reference, lowest)))
    for rec in out["results"]:
        rec["max_gap_final_reference"] = float(np.max(_gaps(np.asarray(rec["objectives"]),
                                                            lowest)))
        del rec["objectives"]
    out["summary"] = _summary(out["results"], out["head_to_head"])
    return out


def _picks(results: list[dict[str, Any]]) -> tuple[Any, Any]:
    """The judged records: sigmax's, and scikit-learn's fastest that reached the gap."""
    sk = [r for r in results if r["library"] == "sklearn" and r["reached"]]
    sig = next((r for r in results if r["library"] == "sigmax" and r["reached"]), None)
    return sig, (min(sk, key=lambda r: r["seconds"]) if sk else None)


def _head_to_head(case: PathCase, results: list[dict[str, Any]], reference: np.ndarray,
                  repeats: int, verbose: bool) -> dict[str, Any]:
    """The judged pair timed again in alternation (sigmax, scikit-learn, sigmax, ...).

    The ladders above run one library after the other; on a shared machine the
    load can change in between. Alternating runs see the same load, so their
    medians give the ratio the table reports. Every run's gap is checked again.
    """
    sig, best = _picks(results)
    if sig is None or best is None:
        return {}
    runs: dict[str, list[dict[str, float]]] = {"sigmax": [], "sklearn": []}
    for _ in range(repeats):
        for rec in (sig, best):
            fit = LIBRARIES[rec["library"]][1]
            t0 = time.perf_counter()
            coefs, icpts = fit(case, rec["solver"], rec["tol"], 100_000)
            seconds = time.perf_counter() - t0
            worst = float(np.max(_gaps(_objectives(case, coefs, icpts), reference)))
            runs[rec["library"]].append({"seconds": seconds, "max_gap": worst})
    out = {lib: {"solver": rec["solver"], "tol": rec["tol"],
                 "seconds": statistics.median(r["seconds"] for r in runs[lib]),
                 "max_gap": max(r["max_gap"] for r in runs[lib]), "runs": runs[lib]}
           for lib, rec in (("sigmax", sig), ("sklearn", best))}
    _log(f"   head to head: sigmax {out['sigmax']['seconds']:.3f} s, sklearn/{best['solver']} "
         f"{out['sklearn']['seconds']:.3f} s", verbose)
    return out


def _summary(results: list[dict[str, Any]], h2h: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    sig, best = _picks(results)
    sig_s = sig["seconds"] if sig else None
    best_s = best["seconds"] if best else None
    if h2h and all(v["max_gap"] <= TARGET_GAP for v in h2h.values()):
        sig_s, best_s = h2h["sigmax"]["seconds"], h2h["sklearn"]["seconds"]
    ratio = sig_s / best_s if sig_s and best_s else None
    return {"sigmax_s": sig_s, "sklearn_best_solver": best["solver"] if best else None,
            "sklearn_best_s": best_s, "ratio": ratio,
            "head_to_head": bool(h2h), "ok": bool(ratio is not None and ratio <= 0.25)}


def run(problems: Sequence[str] | None = None, *, scale: float = 1.0, n_folds: int = 5,
        Cs: Sequence[float] = DEFAULT_CS, repeats: int = 3,
        libraries: Sequence[str] | None = None, budget_s: float | None = None,
        out_dir: str | Path | None = "benchmarks/results", verbose: bool = True,
        ) -> dict[str, Any]:
    """Run the ``paths`` group; write ``paths-<tag>.json`` and ``paths-<tag>.md`` to ``out_dir``.

    Parameters
    ----------
    problems : list of str, optional
        Names from :data:`PATH_PROBLEMS` (default: all).
    scale : float
        Multiplies each problem's share of rows (1: the group's sizes).
    n_folds : int
    Cs : sequence of float
    repeats : int
        Timed runs after the ladder (median).
    libraries : list of {"sigmax", "sklearn"}, optional
    budget_s : float, optional
        Seconds per library x solver ladder (default ``max(10, 300 * scale)``).
    out_dir : path or None
        None writes nothing.
    """
    names = list(problems) if problems else list(PATH_PROBLEMS)
    unknown = [p for p in names if p not in PATH_PROBLEMS]
    if unknown:
        raise ValueError(f"Unknown paths problem(s) {unknown}; choose from "
                         f"{list(PATH_PROBLEMS)}.")
    libs = list(libraries) if libraries else list(LIBRARIES)
    bad = [lib for lib in libs if lib not in LIBRARIES]
    if bad:
        raise ValueError(f"The paths group compares {list(LIBRARIES)}; got {bad}.")
    budget = budget_s if budget_s is not None else max(10.0, 300.0 * scale)
    result: dict[str, Any] = {"group": "paths", "scale": scale, "target_gap": TARGET_GAP,
                              "threads": "default", "problems": [], "skipped": {}}
    for n in names:
        try:
            result["problems"].append(run_problem(
                n, scale=scale, n_folds=n_folds, Cs=Cs, repeats=repeats, libraries=libs,
                budget_s=budget, verbose=verbose))
        except ValueError as exc:  # too few rows at this scale: said, not fatal
            result["skipped"][n] = str(exc)
            _log(f"{n}: skipped: {exc}", verbose)
    if out_dir is not None:
        result["files"] = write_group(result, out_dir, "paths", scale, markdown)
        _log("wrote " + ", ".join(result["files"]), verbose)
    return result


def markdown(result: dict[str, Any]) -> str:
    """The group's table: per problem, sigmax's time, scikit-learn's fastest solver, ratio."""
    lines = ["| problem | n x d, outputs | folds x Cs | sigmax CV (s) | sklearn fastest (s) "
             "| ratio | every point within 1e-6 |",
             "|---|---|---|---|---|---|---|"]
    for p in result["problems"]:
        s = p["summary"]
        fmt = (lambda v: f"{v:.3f}" if v is not None else "not reached")  # noqa: E731
        sk = (f"{s['sklearn_best_s']:.3f} ({s['sklearn_best_solver']})"
              if s["sklearn_best_s"] is not None else "not reached")
        ratio = f"{s['ratio']:.3f}" if s["ratio"] is not None else "-"
        ok = all(r["max_gap_final_reference"] <= TARGET_GAP for r in p["results"]
                 if r["reached"])
        lines.append(f"| {p['problem']} ({p['penalty']}) | {p['rows']} x {p['features']}, "
                     f"{p['outputs']} | {p['folds']} x {len(p['Cs'])} | {fmt(s['sigmax_s'])} "
                     f"| {sk} | {ratio} | {'yes' if ok else 'no'} |")
    lines += [f"\n{name}: skipped ({why})" for name, why in result.get("skipped", {}).items()]
    return "\n".join(lines) + "\n"


def _log(msg: str, verbose: bool) -> None:
    if verbose:
        print(msg, flush=True)
