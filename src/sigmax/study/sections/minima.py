"""Minima: does the convex cost have one minimum or many?

On a small full-rank subproblem where the Hessian can be formed: its spectrum
and flat directions (:func:`sigmax.diagnostics.flat_directions`) for the
symmetric and reference softmax and the sigmoid model, without a penalty and
with L2, against what theory expects, plus random starts; and on all rows,
whether each candidate's training data are linearly separated (no finite
unpenalized minimum).
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
from .. import fitting
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
from ..inputs import subsample
from ..record import Record, nullable
from ..result import ProblemResult
from ..run import StudyRun
from ..section import Section


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
    parameterization: str | None = nullable("symmetric or reference (softmax), else null")
    penalty: str | None = None
    C: float | None = nullable("null without a penalty")
    expected_n_flat: int | None = None
    expected_why: str | None = None
    skipped: str | None = None
    separable_warning: bool | None = field(default=None, metadata={
        "doc": "the fit raised sigmax.SeparableWarning"})
    eigenvalues: list[float] | None = None
    threshold: float | None = None
    n_params: int | None = None
    n_flat: int | None = None
    n_flat_coef: int | None = None
    n_flat_intercept: int | None = None
    smallest_nonzero_eigenvalue: float | None = nullable()
    largest_eigenvalue: float | None = None
    largest_zero_eigenvalue: float | None = nullable()
    condition_number: float | None = nullable()
    spectral_gap: float | None = nullable()
    max_prob_change: float | None = None
    max_objective_change: float | None = None
    matches_theory: bool | None = field(default=None, metadata={
        "doc": "n_flat == expected_n_flat (L2 softmax: 1, the intercept shift)"})
    fit: MinimaFit | None = None
    random_starts: RandomStarts | None = field(default=None, metadata={
        "doc": "symmetric softmax and the sigmoid model"})


@dataclass(eq=False)
class Subproblem(Record):
    """The small full-rank problem on which the Hessians are formed."""

    n_rows: int
    n_features: int
    features: list[str]
    classes: list[str]
    rank_full: bool
    separated: bool | None = nullable("linear program on the subproblem; null: undecided")
    how: str | None = None


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


def _minima(run: StudyRun) -> MinimaResult:
    b = run.budget
    t = run.target
    out: dict[str, Any] = {"models": [], "summary": []}
    out["separation"] = _separation(run)
    run.progress("minima: separation")
    # A small, full-rank, overlapping subproblem on which the Hessian can be formed.
    codes = t.codes if t.task != "multilabel" else t.set_codes
    counts = np.bincount(codes)
    keep_classes = np.argsort(-counts, kind="stable")[:b.minima_max_classes]
    keep_classes = keep_classes[counts[keep_classes] >= 2]
    rows = np.flatnonzero(np.isin(codes, keep_classes))
    rows = rows[subsample(len(rows), np.unique(codes[rows], return_inverse=True)[1].ravel(),
                           b.minima_rows, run.seed)]
    y_soft = np.unique(codes[rows], return_inverse=True)[1].ravel()
    Xm, feat_names, how_features, sep_sub = _minima_features(run, run.Xs[rows], y_soft)
    dm = Xm.shape[1]
    if t.task == "multilabel":
        kept = sorted(set(codes[rows].tolist()))
        names = [" & ".join(t.names[j] for j in np.flatnonzero(t.set_matrix[s])) or "(none)"
                 for s in kept]
    else:
        names = [t.names[c] for c in sorted(set(codes[rows].tolist()))]
    K = len(names)
    out["subproblem"] = {
        "n_rows": len(rows), "n_features": dm, "features": feat_names, "classes": names,
        "rank_full": bool(len(diag.full_rank_columns(Xm)) == dm),
        "separated": None if sep_sub is None else sep_sub["separated"],
        "how": (f"{len(rows)} rows of the {K} most frequent "
                f"{'label sets' if t.task == 'multilabel' else 'classes'}; features: "
                f"{how_features}"),
    }
    soft = run.softmax_spec
    C_soft = run.C * (soft.C_factor if soft is not None else 1.0)
    d1 = dm + 1
    models = [
        ("softmax", "symmetric", None, d1,
         f"{dm} features + 1 intercept: adding the same vector to every class's coefficients "
         "(and the same number to every intercept) changes no logit difference"),
        ("softmax", "symmetric", "l2", 1,
         "L2 makes the coefficients unique; the intercepts are not penalized, so the common "
         "intercept shift b -> b + c 1 stays flat (it changes no prediction)"),
        ("softmax", "reference", None, 0,
         "class 0's logit is fixed to 0: K-1 free rows, no redundancy"),
    ]
    sig = run.sigmoid_spec
    sig_name = sig.name if sig is not None else None
    models += [(sig_name, None, None, 0,
                "each output is a strictly convex binary problem on full-rank overlapping data"),
               (sig_name, None, "l2", 0, "L2 adds a positive definite term")]
    for model, param, pen, expected, why in models:
        if model is None:
            continue
        entry: dict[str, Any] = {"model": model, "parameterization": param,
                                 "penalty": "none" if pen is None else "l2",
                                 "C": None if pen is None else (
                                     C_soft if model == "softmax" else run.C),
                                 "expected_n_flat": expected, "expected_why": why}
        est, y = _minima_estimator(run, model, param, pen, entry["C"], y_soft, rows)
        if pen is None:
            sep = (sep_sub if model == "softmax" else
                   _sigmoid_separation(Xm, y, model, b.lp_seconds))
            if not (sep and sep["separated"] is False):
                entry["skipped"] = ("the classes are linearly separated on the subproblem (or "
                                    "it could not be decided): without a penalty there is no "
                                    "finite minimum to analyse")
                out["models"].append(entry)
                continue
        est, _, caught = fitting.fit(est, Xm, y)
        entry["separable_warning"] = any(issubclass(w.category, SeparableWarning)
                                         for w in caught)
        obj = diag.objective_for(est, Xm, y)
        w = diag.params_of(est, obj)
        flat = diag.flat_directions(obj, w)
        flat.pop("null_basis")
        entry.update(flat)
        entry["matches_theory"] = bool(flat["n_flat"] == expected)
        rec = est.fit_record_
        entry["fit"] = {"converged": bool(rec.converged), "grad_norm": float(rec.grad_norm),
                        "n_iter": int(rec.n_iter), "objective": float(rec.objective)}
        if param != "reference":
            entry["random_starts"] = diag.random_starts(obj, n_starts=b.starts,
                                                        random_state=run.seed)
        out["models"].append(entry)
        run.progress(f"minima: {model} {entry['penalty']}")
    out["summary"] = _minima_summary(out, dm)
    return MinimaResult.from_dict(out, strict=True)


def _minima_features(run: StudyRun, Xr: np.ndarray, y: np.ndarray
                     ) -> tuple[np.ndarray, list[str], str, dict[str, Any] | None]:
    """Features of the minima subproblem: full rank, few, and classes that overlap.

    Tries, in order, the first m principal components of the standardized
    features, the first m original features in pivoted-QR order (m from the
    budget's ``minima_features``), then single original features; keeps the
    first on which the linear program finds no separation (a finite
    unpenalized minimum exists). Returns ``(X_sub, names, how, separation)``.
    """
    from sklearn.decomposition import PCA

    b = run.budget
    tries: list[tuple[np.ndarray, list[str], str]] = []
    cols = diag.full_rank_columns(Xr)
    # PCA scores of a rank-r matrix beyond the r-th are zero: at most r components.
    m_max = min(max(b.minima_features), len(cols), Xr.shape[0] - 1)
    if m_max >= 1:
        pcs = PCA(n_components=m_max, random_state=run.seed).fit_transform(Xr)
        for m in sorted({min(m, m_max) for m in b.minima_features if m >= 1}, reverse=True):
            tries.append((pcs[:, :m], [f"PC{i + 1}" for i in range(m)],
                          f"the first {m} principal component(s) of the standardized "
                          "features"))
    for m in sorted({min(m, len(cols)) for m in b.minima_features}, reverse=True):
        if m > 1:
            tries.append((Xr[:, cols[:m]], [run.feature_names[j] for j in cols[:m]],
                          f"{m} standardized features (pivoted-QR order)"))
    for j in cols[:5]:
        tries.append((Xr[:, [j]], [run.feature_names[j]], "one standardized feature"))
    sep = None
    for Xm, names, how in tries:
        sep = diag.separation(Xm, y, time_limit=b.lp_seconds)
        if sep["separated"] is False:
            return Xm, names, how + (" ([X, 1] full column rank; the classes overlap, checked "
                                     "by linear program, so the unpenalized models have a "
                                     "finite minimum)"), sep
    Xm, names, how = tries[-1] if tries else (Xr[:, :1], run.feature_names[:1], "")
    return Xm, names, how + " (every choice tried is linearly separated)", sep


def _minima_estimator(run: StudyRun, model: str, param: str | None, pen: str | None,
                      C: float | None, y_soft: np.ndarray, rows: np.ndarray
                      ) -> tuple[Any, np.ndarray]:
    kw = {"penalty": pen, "tol": 1e-10, "max_iter": 500, "solver": "newton-cholesky"}
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


def _sigmoid_separation(X: np.ndarray, y: np.ndarray, model: str, lp_seconds: float
                        ) -> dict[str, Any]:
    """Separation of every binary problem of a sigmoid model; separated if any one is."""
    if model == "logistic":
        return diag.separation(X, y, time_limit=lp_seconds)
    cols = (y if y.ndim == 2 else np.eye(int(y.max()) + 1, dtype=np.intp)[y]).astype(np.intp)
    results = [diag.separation(X, cols[:, j], time_limit=lp_seconds)
               for j in range(cols.shape[1])]
    states = [r["separated"] for r in results]
    sep = True if any(s is True for s in states) else (None if None in states else False)
    return {"separated": sep, "per_output": states}


def _separation(run: StudyRun) -> dict[str, Any]:
    """Is each candidate's training problem on all rows separated (no finite unpenalized minimum)?

    First the candidate is fitted without a penalty (``max_iter`` from the
    budget), recording the estimator's own ``SeparableWarning``: when that
    fit, or the L2 fit, classifies every row correctly it is a separating
    hyperplane (a proof of complete separation). Otherwise a linear program
    decides (:func:`sigmax.diagnostics.separation`), which also finds
    quasi-complete separation.
    """
    b = run.budget
    t = run.target
    out = {}
    for spec in run.convex_specs:
        est = run.full[spec.name]
        y = y_for(spec, t)
        est0, _, caught = fitting.fit(spec.estimator(penalty=None, max_iter=b.unpenalized_max_iter),
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
                s = diag.separation(run.Xs, codes, time_limit=b.lp_seconds)
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
                s = diag.separation(run.Xs, Y[:, j].astype(np.intp), time_limit=left)
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
        out[spec.name] = entry
    return out


def _minima_summary(out: dict[str, Any], dm: int) -> list[str]:
    s = []
    by = {(m["model"], m["parameterization"], m["penalty"]): m for m in out["models"]}
    sym0 = by.get(("softmax", "symmetric", "none"))
    if sym0 and "n_flat" in sym0:
        rs = sym0.get("random_starts", {})
        s.append(
            f"Unpenalized softmax (symmetric): the Hessian at the optimum has {sym0['n_flat']} "
            f"zero eigenvalues (expected d+1 = {dm + 1}: {sym0['n_flat_coef']} coefficient "
            f"direction(s) + {sym0['n_flat_intercept']} intercept shift); moving one unit along "
            f"them changes no probability (max change {sym0['max_prob_change']:.1e}) and the "
            f"loss by {sym0['max_objective_change']:.1e}. {rs.get('n_starts', 0)} random starts "
            f"reached coefficients up to {rs.get('coef_spread', float('nan')):.3g} apart with "
            f"losses within {rs.get('objective_spread', float('nan')):.1e}: infinitely many "
            "minima, one set of predictions.")
    elif sym0:
        s.append(f"Unpenalized softmax: {sym0.get('skipped', '')}.")
    sym2 = by.get(("softmax", "symmetric", "l2"))
    if sym2 and "n_flat" in sym2:
        rs = sym2.get("random_starts", {})
        s.append(
            f"With L2 (C={sym2['C']:g}): {sym2['n_flat_coef']} flat coefficient directions "
            f"(smallest coefficient eigenvalue {sym2['smallest_nonzero_eigenvalue']:.2e}): the "
            f"coefficients are unique ({rs.get('n_starts', 0)} random starts agree to "
            f"{rs.get('coef_spread', float('nan')):.1e}); only the common intercept shift "
            f"remains flat ({sym2['n_flat_intercept']} direction, max probability change "
            f"{sym2['max_prob_change']:.1e}).")
    ref = by.get(("softmax", "reference", "none"))
    if ref and "n_flat" in ref:
        s.append(f"Reference parameterization (class 0 fixed at 0), no penalty: "
                 f"{ref['n_flat']} flat directions, a unique minimum.")
    for m in out["models"]:
        if m["model"] != "softmax" and "n_flat" in m:
            s.append(f"{m['model']} ({m['penalty']}): {m['n_flat']} flat directions, "
                     f"smallest eigenvalue {m['smallest_nonzero_eigenvalue']:.2e}: a unique "
                     "minimum.")
    seps = out.get("separation", {})
    sep_names = [f"{n} ({e.get('kind') or 'separated'})" for n, e in seps.items()
                 if e.get("separated")]
    if sep_names:
        s.append(f"On all rows the training data are linearly separated for "
                 f"{', '.join(sep_names)}: without a penalty these have no finite minimum (the "
                 "loss keeps decreasing as the coefficients grow); the L2 penalty is what makes "
                 "the fit defined.")
    quiet = [n for n, e in seps.items() if e.get("separated")
             and not e.get("unpenalized_fit", {}).get("separable_warning")]
    if quiet:
        s.append(f"The unpenalized fit of {', '.join(quiet)} raised no SeparableWarning: the "
                 "estimators warn only when their fit classifies every row correctly (a proof "
                 "of complete separation); quasi-complete separation, or a fit stopped early, "
                 "is found by the linear program.")
    clear = [n for n, e in seps.items() if e.get("separated") is False]
    if clear:
        s.append(f"For {', '.join(clear)} the classes overlap on all rows (linear program): "
                 "the unpenalized minimum is finite.")
    return s


def _minima_html(m: MinimaResult, p: ProblemResult) -> str:
    out = [sentences(m.summary)]
    models = m.models or []
    if models:
        rows = []
        for e in models:
            name = {"ovr": "one-vs-rest", "multilabel": "independent sigmoids"}.get(
                e.model, e.model)
            what = f"{name}" + (f" ({e.parameterization})" if e.parameterization else "")
            pen = "none" if e.penalty in (None, "none") else f"L2, C={fmt_value(e.C)}"
            if e.skipped is not None:
                rows.append([(esc(what), ""), (esc(pen), ""), num_cell(e.expected_n_flat),
                             (esc("not analysed: " + e.skipped), "")] + [("", "")] * 4)
                continue
            rs = e.random_starts
            ok = e.matches_theory
            rows.append([
                (esc(what), ""), (esc(pen), ""), num_cell(e.expected_n_flat),
                (esc(f"{e.n_flat}" + ("  ✓" if ok else "  ✗" if ok is False else "")), "num"),
                # nullable: .get gives None both for null and for absent
                num_cell(e.get("smallest_nonzero_eigenvalue")),
                num_cell(e.max_prob_change),
                num_cell(rs.coef_spread) if rs else ("–", ""),
                num_cell(rs.objective_spread) if rs else ("–", "")])
        out.append(html_table(
            ["model", "penalty", "flat dims: theory", "measured", "smallest λ > 0",
             "max Δp on flat dims", "starts: Δ coef", "starts: Δ f"], rows))
    if m.subproblem is not None and m.subproblem.how:
        out.append(f"<p class='sub'>Hessians computed on {esc(m.subproblem.how)}.</p>")
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
                label=f"{_minima_label(m)}: {n_flat} flat")
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
    ax.set_title(f"Hessian spectrum at the minimum{where}")
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
                   "Eigenvalues of the Hessian at the minimum, smallest first (log scale). "
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
