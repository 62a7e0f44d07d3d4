"""Minima: does the convex cost have one minimum or many?

On the user's model (every encoded feature; rows subsampled only above the
budget, and said): the rank of the design ``[X, 1]`` and its collinear
columns by name (:func:`sigmax.diagnostics.design_dependencies`); the Hessian
spectrum and flat directions for the symmetric and reference softmax and the
sigmoid model, without a penalty and with L2 (dense,
:func:`sigmax.diagnostics.flat_directions`, up to :data:`DENSE_MAX_PARAMS`
parameters; above, the smallest eigenvalues by LOBPCG on Hessian-vector
products, :func:`sigmax.diagnostics.smallest_eigenvalues`) against the count
theory expects (:func:`expected_flat`), plus random starts; and on all rows,
whether each candidate's training data are linearly separated (no finite
unpenalized minimum). Where the unpenalized cost has no finite minimum (or it
is undecided) its Hessian is measured at the L2 fit: its flat directions do
not depend on the point. The sentences are in :mod:`.minima_claims`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ... import diagnostics as diag
from ...estimators import (
    LogisticRegression,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SeparableWarning,
    SoftmaxRegression,
)
from .. import fitting, side_by_side
from ..figure import (
    FigureSpec,
    Skip,
    new_figure,
    series,
)
from ..fitting import (
    y_for,
)
from ..formatting import (
    cand_label,
    esc,
    fmt_value,
    html_table,
    num_cell,
    sentences,
    summary_line,
)
from ..inputs import cover_subsample
from ..record import Record, nullable
from ..result import ProblemResult
from ..run import StudyRun
from ..section import Section
from .minima_claims import minima_summary, model_label


@dataclass(eq=False)
class MinimaFit(Record):
    """The solver's record of a fit on the subproblem."""

    converged: bool
    grad_norm: float
    n_iter: int
    objective: float


@dataclass(eq=False)
class RandomStarts(Record):
    """:func:`sigmax.diagnostics.random_starts`: minima reached from random starts."""

    n_starts: int
    solver: str
    scale: float
    objectives: list[float]
    objective_spread: float
    coef_spread: float
    coef_norm: float
    centered_coef_spread: float
    intercept_spread: float
    centered_intercept_spread: float
    max_prob_diff: float
    converged: list[bool]
    n_iter: list[int]


@dataclass(eq=False)
class MinimaModel(Record):
    """One model x penalty on the subproblem: theory, the measured spectrum, random starts.

    The spectrum keys are those of :func:`sigmax.diagnostics.flat_directions`
    (``null_basis`` left out); ``skipped`` replaces them when the unpenalized
    model has no finite minimum.
    """

    model: str = field(metadata={"doc": "softmax, logistic, ovr or multilabel"})
    point: str | None = field(default=None, metadata={
        "doc": "minimum, or 'L2 fit' where the unpenalized cost has no finite minimum "
               "(separated) or it is undecided: its flat directions are measured there"})
    method: str | None = field(default=None, metadata={
        "doc": "dense Hessian, or LOBPCG on Hessian-vector products (large models)"})
    separated: bool | None = nullable("unpenalized only: linear program on the measured rows")
    separation_how: str | None = None
    conclusion: str | None = field(default=None, metadata={
        "doc": "unique, unique coefficients, not unique, no finite minimum, undecided (why)"})
    parameterization: str | None = nullable("symmetric or reference (softmax), else null")
    penalty: str | None = None
    C: float | None = nullable("null without a penalty")
    expected_n_flat: int | None = None
    expected_why: str | None = None
    skipped: str | None = None
    separable_warning: bool | None = field(default=None, metadata={
        "doc": "the fit raised sigmax.SeparableWarning"})
    eigenvalues: list[float] | None = None
    threshold: float | None = nullable()
    n_params: int | None = nullable()
    n_flat: int | None = nullable()
    n_flat_coef: int | None = nullable()
    n_flat_intercept: int | None = nullable()
    smallest_nonzero_eigenvalue: float | None = nullable()
    largest_eigenvalue: float | None = nullable()
    largest_zero_eigenvalue: float | None = nullable()
    condition_number: float | None = nullable()
    spectral_gap: float | None = nullable()
    max_prob_change: float | None = nullable("dense Hessian only")
    max_objective_change: float | None = nullable("dense Hessian only")
    matches_theory: bool | None = nullable(
        "n_flat == expected_n_flat (L2 softmax: 1, the intercept shift); null: undecided")
    fit: MinimaFit | None = None
    random_starts: RandomStarts | None = field(default=None, metadata={
        "doc": "symmetric softmax and the sigmoid model"})


@dataclass(eq=False)
class Subproblem(Record):
    """The problem on which the Hessians are formed: the fitted model's, rows subsampled if needed.

    (The name is historical: every encoded feature is used.)
    """

    n_rows: int
    n_features: int
    features: list[str]
    classes: list[str]
    rank_full: bool = field(metadata={"doc": "[X, 1] has full column rank"})
    separated: bool | None = nullable("softmax classes, linear program; null: undecided")
    how: str | None = None
    n_rows_total: int | None = None


@dataclass(eq=False)
class Design(Record):
    """:func:`sigmax.diagnostics.design_dependencies` of ``[X, 1]`` on the measured rows."""

    rank: int
    n_columns: int
    deficiency: int
    dependencies: list[list[str]] = field(metadata={
        "doc": "one group of linearly dependent columns per null vector"})


@dataclass(eq=False)
class UnpenalizedFit(Record):
    """A candidate fitted without a penalty on all rows."""

    separable_warning: bool
    converged: bool
    n_iter: int
    coef_max_abs: float


@dataclass(eq=False)
class Separation(Record):
    """Is a candidate's training problem on all rows linearly separated?"""

    separated: bool | None = nullable("null: undecided in the time budget")
    kind: str | None = nullable("complete, quasi-complete or null")
    how: str | None = None
    outputs_separated: list[str] | None = field(default=None, metadata={
        "doc": "sigmoid models: outputs whose binary problem is separated"})
    outputs_undecided: int | None = None
    unpenalized_fit: UnpenalizedFit | None = None


@dataclass(eq=False)
class MinimaResult(Record):
    """Flat directions and spectra on a subproblem, separation on all rows."""

    models: list[MinimaModel] | None = None
    summary: list[str] | None = None
    separation: dict[str, Separation] | None = field(default=None, metadata={
        "doc": "candidate -> separation of its training problem on all rows"})
    subproblem: Subproblem | None = None
    design: Design | None = None


DENSE_MAX_PARAMS = 1500
"""Above this parameter count the Hessian is not formed: LOBPCG on Hessian-vector products."""

HESSIAN_ROW_BUDGET = 5e7
"""Rows x parameters^2 (the dense Hessian's cost) under which every row is used; above it
the rows are subsampled to the budget's ``minima_rows`` at least (every class kept).

Every model of the section is fitted to a tight tolerance (Newton, random starts) on
these rows, so they cost several Hessians each: at 2e8, 413,000 of 450,000 rows for a
binary problem of 10 features took 7 s of the study's CPU time, at 5e7 (103,000
rows) 3.5 s, with the same flat-direction counts and conclusions."""


def _minima(run: StudyRun) -> MinimaResult:
    b = run.budget
    t = run.target
    out: dict[str, Any] = {"models": [], "summary": []}
    out["separation"] = _separation(run)
    run.progress("minima: separation")
    # The user's model: every encoded feature; rows subsampled only above the budget, keeping
    # every class (or label set) so that the parameter layout is the fitted model's.
    codes = t.codes if t.task != "multilabel" else t.set_codes
    n_all = len(codes)
    K = len(np.unique(codes))
    p_max = max(K, run.target.Y.shape[1] if t.task == "multilabel" else K) * (
        run.Xs.shape[1] + 1)
    # (a time budget may lower the row budget: Budget.hessian_row_budget)
    row_budget = min(HESSIAN_ROW_BUDGET, b.hessian_row_budget)
    rows = cover_subsample(codes, max(b.minima_rows, int(row_budget / p_max ** 2)),
                           run.seed)
    X = run.Xs[rows]
    d = X.shape[1]
    y_soft = np.unique(codes[rows], return_inverse=True)[1].ravel()
    if t.task == "multilabel":
        names = [" & ".join(t.names[j] for j in np.flatnonzero(t.set_matrix[s])) or "(none)"
                 for s in sorted(set(codes[rows].tolist()))]
    else:
        names = [t.names[c] for c in sorted(set(codes[rows].tolist()))]
    deps = diag.design_dependencies(X, run.feature_names)
    out["design"] = {k: deps[k] for k in ("rank", "n_columns", "deficiency", "dependencies")}
    sep_soft = diag.separation(X, y_soft, time_limit=b.lp_seconds,
                                        max_size=b.lp_max_size)
    out["subproblem"] = {
        "n_rows": len(rows), "n_rows_total": n_all, "n_features": d,
        "features": list(run.feature_names), "classes": names,
        "rank_full": deps["deficiency"] == 0, "separated": sep_soft["separated"],
        "how": (f"all {n_all} rows" if len(rows) == n_all else
                f"{len(rows)} of the {n_all} rows (subsampled for the Hessian, every "
                f"{'label set' if t.task == 'multilabel' else 'class'} kept)")
               + f" and all {d} encoded features",
    }
    C_soft = C_soft_of(run)
    sig = run.sigmoid_spec
    plan = [("softmax", "symmetric", None), ("softmax", "symmetric", "l2"),
            ("softmax", "reference", None)]
    if sig is not None:
        plan += [(sig.name, None, None), (sig.name, None, "l2")]
    tasks = [lambda model=model, param=param, pen=pen: _measure_model(
        run, model, param, pen, None if pen is None else (C_soft if model == "softmax"
                                                          else run.C),
        X, y_soft, rows, deps, sep_soft) for model, param, pen in plan]
    # Each model's measurement is its own (a fit, its spectrum, its random starts).
    out["models"] = side_by_side.run_side_by_side(
        tasks, side_by_side.width(run, len(tasks)),
        done=lambda i, entry: run.progress(f"minima: {plan[i][0]} {entry['penalty']}"))
    out["summary"] = minima_summary(out)
    return MinimaResult.from_dict(out, strict=True)


def expected_flat(model: str, param: str | None, penalty: str | None, n_params: int,
                  n_outputs: int, rank: int) -> int:
    r"""Zero eigenvalues the Hessian must have, from the model and the rank of ``[X, 1]``.

    The loss sees the parameters only through the logits :math:`[X, 1] V`
    (``V`` of shape ``(d + 1, k)``). Its Hessian is null exactly on the
    directions that change no *identified* logit: a symmetric softmax
    identifies the ``k - 1`` logit differences, the reference softmax and the
    sigmoid models each of their ``k`` logits. With ``rank = rank([X, 1])``
    the identified part has ``free x rank`` dimensions, so

    .. math:: n_\text{flat} = n_\text{params} - \text{free} \cdot \text{rank}

    (symmetric softmax: :math:`(d + 1) + (k - 1)\,r` with :math:`r` the rank
    deficiency; logistic: :math:`r`). An L2 penalty on the coefficients, with
    free intercepts, leaves only the directions that move intercepts alone
    and no logit difference: the symmetric softmax's common intercept shift
    (1), nothing otherwise.
    """
    symmetric = model == "softmax" and param == "symmetric"
    if penalty is not None:
        return 1 if symmetric else 0
    free = n_outputs - 1 if symmetric else n_outputs
    return int(n_params - free * rank)


def _measure_model(run: StudyRun, model: str, param: str | None, pen: str | None,
                   C: float | None, X: np.ndarray, y_soft: np.ndarray, rows: np.ndarray,
                   deps: dict[str, Any], sep_soft: dict[str, Any]) -> dict[str, Any]:
    """Spectrum, flat directions and random starts of one model x penalty on ``X``."""
    b = run.budget
    entry: dict[str, Any] = {"model": model, "parameterization": param,
                             "penalty": "none" if pen is None else "l2", "C": C}
    est, y = _minima_estimator(run, model, param, pen, C, y_soft, rows)
    at_minimum = True
    if pen is None:
        sep = (sep_soft if model == "softmax" else
               _sigmoid_separation(X, y, model, b.lp_seconds, b.lp_max_size))
        entry["separated"] = sep["separated"]
        entry["separation_how"] = sep.get("method")
        at_minimum = sep["separated"] is False
    if at_minimum:
        est, _, caught = fitting.fit(est, X, y)
        entry["separable_warning"] = any(issubclass(w.category, SeparableWarning)
                                         for w in caught)
        point_est = est
        entry["point"] = "minimum"
    else:
        # No finite minimum (or undecided): the unpenalized cost is measured at the L2 fit.
        # Its flat directions do not depend on the point: along them no logit changes.
        l2, _ = _minima_estimator(run, model, param, "l2",
                                  C_soft_of(run) if model == "softmax" else run.C, y_soft, rows)
        point_est, _, _ = fitting.fit(l2, X, y)
        entry["point"] = "L2 fit"
    obj = diag.objective_for(est, X, y)
    w = diag.params_of(point_est, obj)
    n_out = int(obj.k)
    entry["expected_n_flat"] = expected_flat(model, param, pen, int(obj.n_params), n_out,
                                             int(deps["rank"]))
    entry["expected_why"] = _expected_why(model, param, pen, X.shape[1], n_out,
                                          int(deps["deficiency"]))
    entry.update(_spectrum(obj, w, entry["expected_n_flat"]))
    n_flat = entry.get("n_flat")
    entry["matches_theory"] = None if n_flat is None else bool(
        n_flat == entry["expected_n_flat"])
    if at_minimum:
        rec = point_est.fit_record_
        entry["fit"] = {"converged": bool(rec.converged), "grad_norm": float(rec.grad_norm),
                        "n_iter": int(rec.n_iter), "objective": float(rec.objective)}
        if param != "reference":
            entry["random_starts"] = diag.random_starts(obj, n_starts=b.starts,
                                                        random_state=run.seed)
    entry["conclusion"] = conclusion(entry)
    return entry


def C_soft_of(run: StudyRun) -> float:
    """The C of the softmax fits (two-class softmax at C/2: the K = 2 equivalence)."""
    soft = run.softmax_spec
    return run.C * (soft.C_factor if soft is not None else 1.0)


def _expected_why(model: str, param: str | None, pen: str | None, d: int, k: int,
                  deficiency: int) -> str:
    symmetric = model == "softmax" and param == "symmetric"
    if pen is not None:
        return ("L2 makes the coefficients unique; the intercepts are not penalized, so the "
                "common intercept shift b -> b + c 1 stays flat (it changes no prediction)"
                if symmetric else "L2 adds a positive definite term on the coefficients and "
                "every intercept is identified")
    parts = []
    if symmetric:
        parts.append(f"d + 1 = {d + 1}: adding the same vector to every class's coefficients "
                     "and intercept changes no logit difference")
    elif model == "softmax":
        parts.append("class 0's logit is fixed to 0: no softmax redundancy")
    else:
        parts.append("each output is its own binary problem: no softmax redundancy")
    if deficiency:
        per = k - 1 if symmetric else k
        parts.append(f"{deficiency} x {per} = {deficiency * per} from the rank deficiency of "
                     f"[X, 1] ({deficiency} per {'logit difference' if symmetric else 'output'})")
    return "; ".join(parts)


def _spectrum(obj: Any, w: np.ndarray, expected: int, rtol: float = 1e-8) -> dict[str, Any]:
    """Dense eigendecomposition when small, else LOBPCG for the smallest eigenvalues."""
    p = int(obj.n_params)
    if p <= DENSE_MAX_PARAMS:
        flat = diag.flat_directions(obj, w, rtol=rtol)
        flat.pop("null_basis")
        flat["method"] = f"dense Hessian ({p} parameters, all eigenvalues)"
        return flat
    from scipy.sparse.linalg import LinearOperator, eigsh

    k = min(p, expected + 6)
    ev = diag.smallest_eigenvalues(obj, w, k=k)
    H = LinearOperator((p, p), matvec=lambda v: obj.hessp(w, np.ravel(v)), dtype=np.float64)
    lam_max = float(eigsh(H, k=1, which="LA", return_eigenvectors=False, tol=1e-3)[0])
    thr = rtol * lam_max
    zero = ev <= thr
    m = int(zero.sum())
    nonzero = ev[~zero]
    # No eigenvectors here: whether the common intercept shift is one of the flat directions
    # is checked directly (the only direction that moves intercepts alone in these models).
    n_icpt = 0
    if m and obj.n_params > obj.n_features * obj.k:
        v = np.zeros((obj.n_features + 1, obj.k))
        v[-1] = 1.0 / np.sqrt(obj.k)
        n_icpt = int(np.linalg.norm(obj.hessp(w, v.ravel())) <= thr)
    return {
        "eigenvalues": ev.tolist(), "threshold": thr, "n_params": p,
        # every computed eigenvalue is zero: there may be more than k, the count is undecided
        "n_flat": m if m < k else None,
        "n_flat_coef": m - n_icpt if m < k else None,
        "n_flat_intercept": n_icpt if m < k else None,
        "smallest_nonzero_eigenvalue": float(nonzero[0]) if nonzero.size else None,
        "largest_eigenvalue": lam_max,
        "largest_zero_eigenvalue": float(ev[zero][-1]) if m else None,
        "method": (f"LOBPCG on Hessian-vector products ({p} parameters, too many for the "
                   f"dense Hessian; the {k} smallest eigenvalues)"),
    }


def conclusion(e: dict[str, Any]) -> str:
    """One model's verdict on its minimum, from the measured count and the separation check.

    ``"unique"``, ``"unique coefficients"`` (L2 softmax: only the common intercept
    shift is flat), ``"not unique"``, ``"no finite minimum"`` (separated) or
    ``"undecided (...)"``; never "unique" when a flat direction is measured or
    the measurement disagrees with theory.
    """
    sep = e.get("separated", False)
    if e["penalty"] == "none" and sep is True:
        return "no finite minimum"
    if e["penalty"] == "none" and sep is None:
        how = e.get("separation_how") or ""
        why = how[how.find("(") + 1:how.find(")")] if how.startswith("undecided (") else (
            "separation not decided")
        return f"undecided ({why})"
    n, exp = e.get("n_flat"), e["expected_n_flat"]
    if n is None:
        return "undecided (every computed eigenvalue is zero)"
    if n != exp:
        return "undecided (measured and expected flat directions differ)"
    if n == 0:
        return "unique"
    if e["penalty"] != "none" and e["model"] == "softmax" and e.get("n_flat_coef") == 0:
        return "unique coefficients"
    return "not unique"


def _minima_estimator(run: StudyRun, model: str, param: str | None, pen: str | None,
                      C: float | None, y_soft: np.ndarray, rows: np.ndarray
                      ) -> tuple[Any, np.ndarray]:
    # Newton-Cholesky factors the Hessian: above the dense limit, Newton-CG (Hessian-vector
    # products only) reaches the same tight tolerance.
    n_out = {"logistic": 1, "multilabel": len(run.target.names)}.get(model,
                                                                     len(np.unique(y_soft)))
    big = (run.Xs.shape[1] + 1) * n_out > DENSE_MAX_PARAMS
    kw = {"penalty": pen, "tol": 1e-10, "max_iter": 500,
          "solver": "newton-cg" if big else "newton-cholesky"}
    if pen is not None:
        kw["C"] = C
    if model == "softmax":
        return SoftmaxRegression(parameterization=param, **kw), y_soft
    if model == "logistic":
        return LogisticRegression(**kw), y_soft
    if model == "ovr":
        return OneVsRestLogistic(**kw), y_soft
    return MultiLabelLogistic(**kw), _drop_constant(run.target.Y[rows])


def _drop_constant(Y: np.ndarray) -> np.ndarray:
    keep = (Y.min(axis=0) != Y.max(axis=0))
    return Y[:, keep]


def _sigmoid_separation(X: np.ndarray, y: np.ndarray, model: str, lp_seconds: float,
                        max_size: float = 5e6) -> dict[str, Any]:
    """Separation of every binary problem of a sigmoid model; separated if any one is."""
    if model == "logistic":
        return diag.separation(X, y, time_limit=lp_seconds, max_size=max_size)
    cols = (y if y.ndim == 2 else np.eye(int(y.max()) + 1, dtype=np.intp)[y]).astype(np.intp)
    results = [diag.separation(X, cols[:, j], time_limit=lp_seconds, max_size=max_size)
               for j in range(cols.shape[1])]
    states = [r["separated"] for r in results]
    sep = True if any(s is True for s in states) else (None if None in states else False)
    undecided = [r["method"] for r in results if r["separated"] is None]
    return {"separated": sep, "per_output": states,
            "method": undecided[0] if sep is None else results[0]["method"]}


def _separation(run: StudyRun) -> dict[str, Any]:
    """Is each candidate's training problem on all rows separated (no finite unpenalized minimum)?

    First the candidate is fitted without a penalty (``max_iter`` from the
    budget), recording the estimator's own ``SeparableWarning``: when that
    fit, or the L2 fit, classifies every row correctly it is a separating
    hyperplane (a proof of complete separation). Otherwise a linear program
    decides (:func:`sigmax.diagnostics.separation`), which also finds
    quasi-complete separation.
    """
    specs = run.convex_specs
    longest_first = side_by_side.by_cost(run, specs)
    # The candidates' probes share nothing: side by side (HiGHS releases the GIL too);
    # the results come back in task order.
    entries = side_by_side.run_side_by_side(
        [lambda spec=spec: _separation_of(run, spec) for spec in longest_first],
        side_by_side.width(run, len(specs)))
    by_name = {spec.name: e for spec, e in zip(longest_first, entries)}
    return {spec.name: by_name[spec.name] for spec in specs}


def _separation_of(run: StudyRun, spec: Any) -> dict[str, Any]:
    """:func:`_separation` of one candidate (a task: it may run beside the others)."""
    b = run.budget
    t = run.target
    est = run.full[spec.name]
    y = y_for(spec, t)
    # L-BFGS, named: the budget counts passes over X. Without a penalty "auto" sees
    # rare classes as infinitely ill-conditioned and picks a Newton method, whose
    # iterations on separated data (no finite minimum) each cost many passes: the
    # film label sets spent 62 s here in 3 Newton-CG fits, against a few s for L-BFGS.
    est0, _, caught = fitting.fit(spec.estimator(penalty=None, solver="lbfgs",
                                                 max_iter=b.unpenalized_max_iter),
                                  run.Xs, y)
    rec = est0.fit_record_
    unpen = {
        "separable_warning": any(issubclass(w.category, SeparableWarning) for w in caught),
        "converged": bool(rec.converged), "n_iter": int(rec.n_iter),
        "coef_max_abs": float(np.max(np.abs(est0.coef_)))}
    fits = [np.asarray(m._logits(run.Xs), dtype=np.float64) for m in (est0, est)]
    if spec.family == "softmax" or spec.name == "logistic":
        codes = np.searchsorted(est.classes_, y)
        if spec.name == "logistic":
            fits = [np.column_stack([-Z[:, 0], Z[:, 0]]) for Z in fits]
        if any(diag.separates(Z, codes) for Z in fits):
            entry = {"separated": True, "kind": "complete", "how": (
                "a fitted model classifies every row correctly: it is a separating "
                "hyperplane (complete separation)")}
        else:
            s = diag.separation(run.Xs, codes, time_limit=b.lp_seconds,
                                    max_size=b.lp_max_size)
            entry = {"separated": s["separated"], "kind": s["kind"], "how": s["method"]}
    else:
        Y = y if y.ndim == 2 else np.eye(fits[0].shape[1])[np.searchsorted(est.classes_, y)]
        states: list[bool | None] = [None] * Y.shape[1]
        kinds: list[str | None] = [None] * Y.shape[1]
        # Rarest outputs first (the likeliest to be separated); the linear programs
        # share one time budget per candidate, outputs left over stay undecided.
        deadline = time.perf_counter() + b.lp_seconds
        for j in np.argsort(Y.sum(axis=0), kind="stable"):
            sign = 2 * Y[:, j] - 1
            if any(np.all(sign * Z[:, j] > 0) for Z in fits):
                states[j], kinds[j] = True, "complete"
                continue
            left = deadline - time.perf_counter()
            # With many outputs one separated output settles the model: stop there.
            if left <= 0.05 or (Y.shape[1] > 10 and True in states):
                continue
            s = diag.separation(run.Xs, Y[:, j].astype(np.intp), time_limit=left,
                               max_size=b.lp_max_size)
            states[j], kinds[j] = s["separated"], s["kind"]
        names = ([str(n) for n in t.names] if spec.target == "indicator" else
                 [t.names[c] for c in est.classes_] if spec.target == "codes" else
                 [" & ".join(t.names[j] for j in np.flatnonzero(t.set_matrix[c]))
                  or "(none)" for c in est.classes_])
        entry = {"separated": True if any(s is True for s in states) else (
            None if None in states else False),
            "kind": ("complete" if "complete" in kinds else
                     "quasi-complete" if "quasi-complete" in kinds else None),
            "how": ("per output: a fitted model separates it, else a linear program "
                    f"(HiGHS) on its binary problem, rarest outputs first, "
                    f"{b.lp_seconds:g} s in all (with more than 10 outputs, until one is "
                    "separated)"),
            "outputs_separated": [n for n, s in zip(names, states) if s],
            "outputs_undecided": int(sum(s is None for s in states))}
    entry["unpenalized_fit"] = unpen
    return entry


def _minima_html(m: MinimaResult, p: ProblemResult) -> str:
    out = [sentences(m.summary)]
    models = m.models or []
    if models:
        rows = []
        for e in models:
            pen = "none" if e.penalty in (None, "none") else f"L2, C={fmt_value(e.C)}"
            n, ok = e.get("n_flat"), e.get("matches_theory")
            rs = e.random_starts
            rows.append([
                (esc(model_label(e.to_dict()).split(",")[0]), ""), (esc(pen), ""),
                (esc(e.point or ""), ""), num_cell(e.expected_n_flat),
                (esc(("?" if n is None else f"{n}")
                     + ("  ✓" if ok else "  ✗" if ok is False else "")), "num"),
                num_cell(e.get("smallest_nonzero_eigenvalue")),
                num_cell(e.get("max_prob_change")) if n and e.get("max_prob_change") is not None
                else ("–", ""),
                num_cell(rs.coef_spread) if rs else ("–", ""),
                num_cell(rs.objective_spread) if rs else ("–", ""),
                (esc(e.conclusion or ""), "")])
        out.append(html_table(
            ["model", "penalty", "measured at", "flat dims: theory", "measured",
             "smallest λ > 0", "max Δp on flat dims", "starts: Δ coef", "starts: Δ f",
             "minimum"], rows))
    if m.subproblem is not None and m.subproblem.how:
        out.append(f"<p class='sub'>Hessians computed on the fitted model: "
                   f"{esc(m.subproblem.how)}.</p>")
    if m.separation:
        rows = []
        for name, e in m.separation.items():
            state, kind = e.get("separated"), e.get("kind")
            word = ("yes" + (f" ({kind})" if kind else "") if state
                    else "no" if state is False else "not decided")
            if e.outputs_separated:
                word += f": {len(e.outputs_separated)} output(s)"
            rows.append([(esc(cand_label(p, name)), ""), (esc(word), ""),
                         (esc(e.how or ""), "")])
        out.append("<h4>Are the training data separable (no finite minimum without a "
                   "penalty)?</h4>" + html_table(["model", "separated", "how we know"], rows))
    return "".join(out)


def _minima_label(m: MinimaModel) -> str:
    name = {"ovr": "one-vs-rest", "multilabel": "sigmoids"}.get(m.model, m.model)
    par = m.parameterization
    par = f", {par}" if par and par != "symmetric" else ""
    pen = "no penalty" if m.penalty in (None, "none") else f"L2, C={m.C:g}"
    return f"{name}{par} ({pen})"


def draw_hessian_spectrum(problem: ProblemResult) -> Figure:
    """Sorted eigenvalues of the Hessian at the optimum of each model x penalty.

    Reads ``problem.minima.models`` (:class:`MinimaModel`): ``model``,
    ``parameterization``, ``penalty``, ``eigenvalues``, ``threshold``, ``n_flat``.
    """
    all_models = problem.minima.models or []
    models = [m for m in all_models if m.eigenvalues]
    if not models:
        skipped = [m.skipped for m in all_models if m.skipped]
        raise Skip(skipped[0] if skipped else "no Hessian spectrum in this result")
    fig = new_figure(7.6, 3.6)
    ax = fig.subplots()
    styles = {"symmetric": "-", "reference": "--", None: "-"}
    palette = {"softmax": ["#D55E00", "#E69F00", "#CC79A7"],
               "other": ["#0072B2", "#56B4E9", "#009E73"]}
    used = {"softmax": 0, "other": 0}
    eps = np.finfo(np.float64).eps
    thr = []
    for m in models:
        ev = np.sort(np.abs(series(m.eigenvalues)))
        fam = "softmax" if m.model == "softmax" else "other"
        color = palette[fam][used[fam] % 3]
        used[fam] += 1
        ls = styles.get(m.parameterization, "-")
        if m.penalty not in (None, "none"):
            ls = ":"
        idx = np.arange(1, len(ev) + 1)
        n_flat = "?" if m.n_flat is None else m.n_flat
        ax.plot(idx, np.maximum(ev, eps * 1e-2), ls=ls, marker="o", ms=3, lw=1.3, color=color,
                label=f"{_minima_label(m)}: {n_flat} flat"
                      + (" (at the L2 fit)" if m.point == "L2 fit" else ""))
        if m.threshold:
            thr.append(float(m.threshold))
    if thr:
        t = max(thr)
        ax.axhspan(eps * 1e-3, t, color="#f3e0d6", alpha=0.6, lw=0)
        ax.text(1, t, " zero (flat) below this line", va="bottom", fontsize=7, color="#8a3b12")
    ax.set_yscale("log")
    ax.set_ylim(bottom=eps * 1e-2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("eigenvalue index (sorted)")
    ax.set_ylabel("|eigenvalue| of the Hessian")
    sub = problem.minima.subproblem
    where = (f" ({sub.n_rows} rows, {sub.n_features} feature"
             f"{'s' if sub.n_features != 1 else ''})" if sub is not None else "")
    ax.set_title(f"Hessian spectrum of the fitted model{where}")
    ax.grid(alpha=0.3, which="major")
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    return fig


class Minima(Section):
    """Flat directions of the softmax cost, uniqueness with L2 or a reference class."""

    id = "minima"
    title = "Minima"
    question = "Does the convex cost have one minimum or many?"
    lead = ("The softmax loss only sees differences of logits: adding the same vector to every "
            "class's weights changes no probability. Without a penalty its cost is convex but "
            "not strictly convex, with a flat valley of minima; logistic regression (one "
            "weight vector per binary problem) has a unique minimum on non-separable, "
            "full-rank data. An L2 penalty, or fixing one class as reference, picks one point.")
    result_type = MinimaResult
    figures = (
        FigureSpec("hessian_spectrum", "minima", "Hessian spectrum",
                   "Eigenvalues of the Hessian at the minimum (at the L2 fit where the "
                   "unpenalized cost has none), smallest first (log scale). "
                   "Those in the shaded band are zero to rounding: each is a direction along "
                   "which the cost is flat, so the minimum is a valley, not a point. Dotted: "
                   "with L2.", draw_hessian_spectrum),
    )

    def units(self, run: StudyRun) -> int:
        return 6

    def compute(self, run: StudyRun) -> MinimaResult:
        return _minima(run)

    def render_html(self, result: MinimaResult, problem: ProblemResult) -> str:
        return _minima_html(result, problem)

    def render_terminal(self, result: MinimaResult, problem: ProblemResult) -> list[Any]:
        return summary_line("Minima", result.summary)
