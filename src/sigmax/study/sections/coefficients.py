r"""Coefficients: the statistical tables of the unpenalized models, side by side.

Per problem, each convex linear candidate that :func:`sigmax.inference`
supports (logistic, softmax, one-vs-rest, independent sigmoids) is refitted
**without a penalty** on the study's standardized rows, and its coefficient
table (standard errors, z, p-values, Wald intervals, odds ratios) and fit
statistics (log-likelihood, McFadden's pseudo R², AIC, BIC) are stored. Then:

- K = 2: the softmax contrast "class 1 against class 0" against the logistic
  coefficients (the same model: :math:`p_1 = \sigma(z_1 - z_0)`), with both
  standard errors and their measured largest differences;
- K > 2: the one-vs-rest coefficients against the softmax contrasts with the
  reference class (different questions, so different numbers);
- the flat directions of the symmetric softmax: the symmetric coefficient
  :math:`\theta_{k,j}` has a component along the flat direction
  :math:`1_K \otimes e_j`, so its variance is infinite, while the contrast
  :math:`\theta_{k,j} - \theta_{r,j}` has none and a finite standard error.
  Measured by inverting :math:`H + c NN^\top` for shrinking ``c``: the
  symmetric standard error grows like :math:`1/\sqrt{c}`, the contrast's does
  not move.

Separated or collinear data have no finite maximum-likelihood estimate (or no
unique one): :func:`sigmax.inference` raises or warns, and the section stores
the reason instead of a table of huge numbers.

Size: at most :data:`MAX_ROWS` rows (a subsample keeping every class),
:data:`MAX_FEATURES` features, :data:`MAX_OUTPUTS_FIT` outputs per model; the
stored tables keep at most :data:`MAX_TERMS` terms of :data:`MAX_OUTPUTS`
outputs. Each cap that applies is said in ``notes``.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ... import diagnostics as diag
from ...estimators import (
    LogisticRegression,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SeparableWarning,
    SoftmaxRegression,
)
from ...inference import SeparationWarning
from ...inference import inference as run_inference
from ...inference.information import row_sums
from ...inference.spec import model_spec
from .. import fitting
from ..formatting import esc, fmt_value, html_table, num_cell, sentences
from ..inputs import cover_subsample
from ..record import Record
from ..result import ProblemResult
from ..run import StudyRun
from ..section import Section

#: Rows used at most (a subsample that keeps every class beyond it).
MAX_ROWS = 3000
#: Features used at most (the first ones, in column order).
MAX_FEATURES = 50
#: Models with more outputs (classes, labels, label sets) are not refitted.
MAX_OUTPUTS_FIT = 20
#: Terms stored per output (intercept first).
MAX_TERMS = 30
#: Outputs stored per model table.
MAX_OUTPUTS = 10
#: Feature counts tried, in turn, when a model has no finite estimate on all features.
FALLBACK_FEATURES = (8, 4, 2, 1)
#: Multiples of the mean diagonal of H by which the flat directions are filled in.
FLAT_SWEEP = (1.0, 1e-3, 1e-6)

#: The estimators sigmax.inference supports.
_SUPPORTED = (LogisticRegression, SoftmaxRegression, OneVsRestLogistic, MultiLabelLogistic)


@dataclass(eq=False)
class CoefRow(Record):
    """One row of a coefficient table (see :attr:`sigmax.inference.Inference.table`)."""

    output: str
    term: str
    coef: float
    std_err: float | None = None
    z: float | None = None
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    odds_ratio: float | None = None


@dataclass(eq=False)
class CoefModel(Record):
    """One candidate refitted without a penalty, and its inference."""

    name: str = field(metadata={"doc": "candidate name"})
    status: str = field(metadata={
        "doc": "ok, separation, collinear, failed or skipped"})
    title: str | None = None
    question: str | None = field(default=None, metadata={
        "doc": "what each row's coefficient is the log-odds of (from the definition)"})
    reason: str | None = field(default=None, metadata={
        "doc": "why there is no table (the inference error or warning)"})
    notes: list[str] | None = None
    reference: str | None = None
    n_outputs: int | None = None
    n_terms: int | None = None
    rows_total: int | None = None
    rows: list[CoefRow] | None = field(default=None, metadata={
        "doc": f"at most {MAX_TERMS} terms of {MAX_OUTPUTS} outputs"})
    nobs: float | None = None
    llf: float | None = None
    llnull: float | None = None
    prsquared: float | None = None
    aic: float | None = None
    bic: float | None = None


@dataclass(eq=False)
class PairRow(Record):
    """One (output, term) in two models: coefficient and standard error of each."""

    output: str
    term: str
    coef_a: float
    se_a: float | None = None
    coef_b: float | None = None
    se_b: float | None = None


@dataclass(eq=False)
class CoefComparison(Record):
    """Model ``a``'s coefficients next to model ``b``'s, output by output."""

    a: str
    b: str
    max_abs_coef_diff: float
    max_abs_se_diff: float
    rows_total: int
    rows: list[PairRow]
    reference: str | None = field(default=None, metadata={
        "doc": "the softmax reference class (b's contrasts are against it)"})


@dataclass(eq=False)
class FlatSE(Record):
    """Standard errors from :math:`(H + c NN^\\top)^{-1}`, ``c`` relative to mean diag(H)."""

    c: float
    se_symmetric: float
    se_contrast: float


@dataclass(eq=False)
class FlatDirections(Record):
    """Symmetric softmax without a penalty: which coefficients have a standard error."""

    cls: str
    reference: str
    feature: str
    n_params: int
    n_zero_eigenvalues: int
    expected_zero: int
    smallest_eigenvalue: float
    largest_eigenvalue: float
    flat_component: float = field(metadata={
        "doc": "|component| of e_(k,j) along the flat direction 1_K (x) e_j (1/sqrt K)"})
    sweep: list[FlatSE]
    se_contrast_table: float | None = field(default=None, metadata={
        "doc": "the contrast's standard error in sigmax.inference's table"})


@dataclass(eq=False)
class CoefficientsResult(Record):
    """Unpenalized coefficient tables and what they show about the models."""

    n_rows: int | None = None
    n_features: int | None = None
    features: list[str] | None = field(default=None, metadata={
        "doc": "the features of the tables (all, or the fallback subset)"})
    notes: list[str] | None = None
    models: list[CoefModel] | None = None
    all_features: list[CoefModel] | None = field(default=None, metadata={
        "doc": "models without a table on all features, when the tables use fewer"})
    k2: CoefComparison | None = field(default=None, metadata={
        "doc": "K = 2: logistic (a) against the softmax contrast class 1 vs 0 (b)"})
    ovr_vs_softmax: CoefComparison | None = field(default=None, metadata={
        "doc": "K > 2: one-vs-rest (a) against the softmax contrast with the reference (b)"})
    flat: FlatDirections | None = None
    summary: list[str] | None = None


# -- helpers ---------------------------------------------------------------------------------
def _num(v: Any) -> float | None:
    """A finite float, else None (absent: JSON has no infinity)."""
    x = float(v)
    return x if math.isfinite(x) else None


def _output_names(spec: Any, run: StudyRun, classes: np.ndarray) -> dict[Any, str]:
    t = run.target
    if spec.target == "codes":
        return {c: str(t.names[int(c)]) for c in classes}
    if spec.target == "indicator":
        return {c: str(t.names[int(c)]) if np.issubdtype(type(c), np.integer) else str(c)
                for c in classes}
    return {c: " & ".join(t.names[j] for j in np.flatnonzero(t.set_matrix[int(c)])) or "(none)"
            for c in classes}


def _plain_message(message: str) -> str:
    """A warning or error message for the report: ``np.int64(0)`` written as ``0``."""
    return re.sub(r"np\.\w+\(([^()]*)\)", r"\1", message)


def _status(message: str) -> str:
    m = message.lower()
    if "separation" in m:
        return "separation"
    if "collinear" in m or "singular" in m:
        return "collinear"
    return "failed"


def _question(spec: Any, reference: str | None) -> str:
    if spec.family == "softmax":
        return (f"log-odds of each class against the reference class {reference!r}, "
                "within one model of all classes")
    if spec.estimator is LogisticRegression:
        return "log-odds of the positive class"
    if spec.estimator is MultiLabelLogistic:
        return "log-odds of each label being present, each label its own model"
    return "log-odds of each class against all other classes, each class its own model"


def _data(run: StudyRun) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Rows, the standardized features, their names and the notes on the caps."""
    n, d = run.Xs.shape
    notes = []
    rows = cover_subsample(run.target.strata, MAX_ROWS, run.seed)
    if len(rows) < n:
        notes.append(f"{len(rows)} of {n} rows (a random subsample keeping every class): "
                     "the tables are for that subsample, to keep the study fast")
    m = min(d, MAX_FEATURES)
    if m < d:
        notes.append(f"the first {m} of {d} features ({d - m} left out to keep the "
                     "information matrices small)")
    X = np.ascontiguousarray(run.Xs[np.ix_(rows, np.arange(m))])
    return rows, X, [run.feature_names[j] for j in range(m)], notes


def _fit_model(run: StudyRun, spec: Any, X: pd.DataFrame, y: np.ndarray, feats: list[str]
               ) -> tuple[CoefModel, Any, Any]:
    """Refit ``spec`` without a penalty and run the inference; (record, estimator, result)."""
    n_out = y.shape[1] if y.ndim == 2 else len(np.unique(y))
    entry: dict[str, Any] = {"name": spec.name, "title": spec.title.replace("{K}", str(n_out)),
                             "notes": []}
    est = spec.estimator(penalty=None, solver="newton-cholesky", tol=1e-10,
                         max_iter=max(run.budget.unpenalized_max_iter, 100))
    est, _, caught = fitting.fit(est, X, y)
    if any(issubclass(w.category, SeparableWarning) for w in caught):
        entry["notes"].append("the unpenalized fit warned that the data are separable "
                              "(SeparableWarning)")
    names = _output_names(spec, run, np.asarray(est.classes_))
    with warnings.catch_warnings(record=True) as inf_caught:
        warnings.simplefilter("always")
        try:
            res = run_inference(est, X, y)
        except ValueError as exc:
            entry.update(status=_status(str(exc)), reason=_plain_message(str(exc)))
            return CoefModel.from_dict(entry, strict=True), est, None
    sep = [w for w in inf_caught if issubclass(w.category, SeparationWarning)]
    entry["notes"] += [_plain_message(str(w.message)) for w in inf_caught
                       if not issubclass(w.category, SeparationWarning)]
    ref = None if res.reference is None else names.get(res.reference, str(res.reference))
    entry.update(question=_question(spec, ref), reference=ref, **{
        k: _num(v) for k, v in res.stats().items()
        if k in ("nobs", "llf", "llnull", "prsquared", "aic", "bic")})
    if sep:
        # The table would be drifting coefficients with huge standard errors: say why instead.
        entry.update(status="separation", reason=_plain_message(str(sep[0].message)))
        return CoefModel.from_dict(entry, strict=True), est, None
    terms = ["intercept", *feats]
    table = res.table.assign(term=np.tile(terms, len(res.table) // len(terms)),
                             output=[names.get(o, str(o)) for o in res.table["output"]])
    outputs = list(dict.fromkeys(table["output"]))
    kept = table[table["output"].isin(outputs[:MAX_OUTPUTS])].groupby(
        "output", sort=False).head(MAX_TERMS)
    entry.update(status="ok", n_outputs=len(outputs), n_terms=len(terms),
                 rows_total=len(table), rows=[_row(r) for r in kept.to_dict("records")])
    if len(kept) < len(table):
        entry["notes"].append(f"{len(kept)} of {len(table)} rows stored and shown (at most "
                              f"{MAX_TERMS} terms of {MAX_OUTPUTS} outputs)")
    return CoefModel.from_dict(entry, strict=True), est, res


def _row(r: dict[str, Any]) -> dict[str, Any]:
    out = {"output": str(r["output"]), "term": str(r["term"]), "coef": float(r["coef"])}
    for k in ("std_err", "z", "p_value", "ci_low", "ci_high", "odds_ratio"):
        out[k] = _num(r[k])
    return out


def _compare(a_name: str, a_table: Any, b_name: str, b_table: Any,
             outputs: list[Any], reference: str) -> CoefComparison:
    """Rows of ``outputs`` in both tables (same output labels and term order)."""
    rows, coef_d, se_d = [], 0.0, 0.0
    for o in outputs:
        ta = a_table[a_table["output"] == o]
        tb = b_table[b_table["output"] == o]
        for (_, ra), (_, rb) in zip(ta.iterrows(), tb.iterrows()):
            coef_d = max(coef_d, abs(float(ra["coef"]) - float(rb["coef"])))
            se_d = max(se_d, abs(float(ra["std_err"]) - float(rb["std_err"])))
            rows.append({"output": str(o), "term": str(ra["term"]), "coef_a": float(ra["coef"]),
                         "se_a": _num(ra["std_err"]), "coef_b": _num(rb["coef"]),
                         "se_b": _num(rb["std_err"])})
    # at most MAX_TERMS terms of the first MAX_OUTPUTS outputs
    keep = {str(o) for o in outputs[:MAX_OUTPUTS]}
    seen: dict[str, int] = {}
    shown = []
    for r in rows:
        seen[r["output"]] = seen.get(r["output"], 0) + 1
        if r["output"] in keep and seen[r["output"]] <= MAX_TERMS:
            shown.append(r)
    return CoefComparison.from_dict({"a": a_name, "b": b_name, "max_abs_coef_diff": coef_d,
                                     "max_abs_se_diff": se_d, "rows_total": len(rows),
                                     "rows": shown, "reference": reference}, strict=True)


def _named(res: Any, names: dict[Any, str], terms: list[str]) -> Any:
    t = res if hasattr(res, "columns") else res.table
    return t.assign(term=np.tile(terms, len(t) // len(terms)),
                    output=[names.get(o, str(o)) for o in t["output"]])


def _flat(est: Any, res: Any, X: np.ndarray, y: np.ndarray, names: dict[Any, str],
          feats: list[str]) -> FlatDirections | None:
    r"""Symmetric softmax: standard errors of :math:`\theta_{k,j}` and :math:`\theta_{k,j} -
    \theta_{r,j}`.

    The information :math:`H` of all :math:`K P` symmetric coefficients is
    singular along :math:`N` (the ``P`` flat directions :math:`1_K \otimes e_q /
    \sqrt K`); a variance exists only for combinations orthogonal to them. Filling
    the flat directions in with :math:`c NN^\top` (any ``c > 0``) gives the
    contrasts' covariance whatever ``c``; the symmetric coefficients' variance
    grows like :math:`1/c` without bound.
    """
    spec = model_spec(est)
    if spec.flat is None or not feats:
        return None
    Y, mask = spec.encode(y)
    H = row_sums(spec.family, X, Y, spec.Theta, weights=np.ones(X.shape[0]), mask=mask,
                 fit_intercept=spec.fit_intercept).hessian
    ev = np.linalg.eigvalsh(H)
    P = spec.n_terms
    classes = list(spec.logit_outputs)
    r = classes.index(spec.reference)
    k = next(i for i in range(len(classes)) if i != r)
    # the feature whose contrast is best determined: the largest |z| for class k
    tab = res.table
    feat_rows = tab[(tab["output"] == classes[k]) & (tab["term"] != "intercept")]
    q = 1 + int(np.argmax(np.abs(feat_rows["z"].to_numpy())))
    a = np.zeros(H.shape[0])
    a[k * P + q], a[r * P + q] = 1.0, -1.0
    e = np.zeros(H.shape[0])
    e[k * P + q] = 1.0
    scale = float(np.mean(np.diag(H)))
    NN = spec.flat @ spec.flat.T
    sweep = []
    for c in FLAT_SWEEP:
        S = np.linalg.inv(H + c * scale * NN)
        sweep.append({"c": c, "se_symmetric": float(np.sqrt(max(e @ S @ e, 0.0))),
                      "se_contrast": float(np.sqrt(max(a @ S @ a, 0.0)))})
    return FlatDirections.from_dict({
        "cls": names[classes[k]], "reference": names[classes[r]], "feature": feats[q - 1],
        "n_params": int(H.shape[0]),
        "n_zero_eigenvalues": int(np.sum(ev <= 1e-10 * ev[-1])), "expected_zero": P,
        "smallest_eigenvalue": float(ev[0]), "largest_eigenvalue": float(ev[-1]),
        "flat_component": float(abs(e @ spec.flat[:, q])), "sweep": sweep,
        "se_contrast_table": _num(feat_rows["std_err"].iloc[q - 1])}, strict=True)


# -- the section's measurement ---------------------------------------------------------------
def _attempt(run: StudyRun, rows: np.ndarray, X: np.ndarray, feats: list[str]
             ) -> tuple[list[Any], dict[str, tuple[Any, Any, Any, dict[Any, str], np.ndarray]]]:
    """Every supported candidate refitted and inferred on ``X``; (records, the ok ones)."""
    models: list[Any] = []
    fitted: dict[str, tuple[Any, Any, Any, dict[Any, str], np.ndarray]] = {}
    for spec in run.convex_specs:
        if spec.estimator not in _SUPPORTED:
            continue
        y = fitting.y_for(spec, run.target)[rows]
        n_out = (y.shape[1] if y.ndim == 2 else len(np.unique(y)))
        if n_out > MAX_OUTPUTS_FIT:
            models.append({"name": spec.name, "title": spec.title.replace("{K}", str(n_out)),
                           "status": "skipped",
                           "reason": f"{n_out} outputs (more than {MAX_OUTPUTS_FIT}): left "
                           "out to keep the study fast"})
            continue
        # a frame, so that inference's messages name the features (``x0``... otherwise)
        frame = pd.DataFrame(X, columns=list(dict.fromkeys(feats)) if len(set(feats)) == len(
            feats) else None)
        model, est, res = _fit_model(run, spec, frame, y, feats)
        models.append(model)
        if res is not None:
            fitted[spec.name] = (spec, est, res, _output_names(spec, run,
                                                               np.asarray(est.classes_)), y)
    return models, fitted


def _coefficients(run: StudyRun) -> CoefficientsResult:
    t = run.target
    rows, X, feats, notes = _data(run)
    # All features first; if a model has no table there (separation, collinearity), the
    # full-rank columns, then the most independent few (pivoted QR), fewer and fewer, until
    # every model has one.
    order = diag.full_rank_columns(X)
    tries = [list(range(X.shape[1]))]
    for cols in ([list(order)] + [list(order[:m]) for m in FALLBACK_FEATURES]):
        if cols and len(cols) < len(tries[-1]):
            tries.append(sorted(cols))  # the kept features in column order
    first = None
    for cols in tries:
        models, fitted = _attempt(run, rows, X[:, cols], [feats[j] for j in cols])
        if first is None:
            first = (models, fitted, cols)
        if all(CoefModel.from_dict(m).status in ("ok", "skipped") for m in models):
            break
    else:
        models, fitted, cols = first
    out: dict[str, Any] = {"n_rows": int(X.shape[0]), "n_features": len(cols),
                           "features": [feats[j] for j in cols], "notes": notes,
                           "models": models}
    if len(cols) < X.shape[1]:
        failed = [m for m in first[0] if CoefModel.from_dict(m).status not in ("ok", "skipped")]
        out["all_features"] = [{"name": m.name, "status": m.status, "reason": m.reason}
                               for m in map(CoefModel.from_dict, failed)]
    X, feats = X[:, cols], [feats[j] for j in cols]
    terms = ["intercept", *feats]
    soft = next((n for n, v in fitted.items() if v[0].family == "softmax"), None)
    if soft is not None:
        spec, est, res, names, y = fitted[soft]
        if t.task == "binary" and "logistic" in fitted:
            lres, lnames = fitted["logistic"][2], fitted["logistic"][3]
            c1, c0 = est.classes_[1], est.classes_[0]
            out["k2"] = _compare("logistic", _named(lres, lnames, terms), soft,
                                 _named(res.contrast(c1, c0), names, terms), [names[c1]],
                                 names[c0])
        ovr = next((n for n, v in fitted.items() if v[0].estimator is OneVsRestLogistic
                    and v[0].target == spec.target), None)
        if t.task != "binary" and ovr is not None:
            onames = fitted[ovr][3]
            others = [names[c] for c in est.classes_ if c != res.reference]
            out["ovr_vs_softmax"] = _compare(ovr, _named(fitted[ovr][2], onames, terms), soft,
                                             _named(res, names, terms), others,
                                             names[res.reference])
        if getattr(est, "parameterization", "symmetric") != "reference":
            out["flat"] = _flat(est, res, X, y, names, feats)
    for m in models:
        run.progress(f"coefficients: {CoefModel.from_dict(m).name}")
    result = CoefficientsResult.from_dict(out, strict=True)
    result.summary = _summary(result, run)
    return result


def _summary(r: CoefficientsResult, run: StudyRun) -> list[str]:
    s = []
    if r.k2 is not None:
        k = r.k2
        s.append(f"Without a penalty, the two-class softmax contrast ({k.rows[0].output!r} "
                 f"against {k.reference!r}) "
                 f"equals the logistic coefficients to {k.max_abs_coef_diff:.1e}, and their "
                 f"standard errors agree to {k.max_abs_se_diff:.1e}: the same model "
                 "(p₁ = σ(z₁ − z₀)), the same inference.")
    if r.ovr_vs_softmax is not None:
        c = r.ovr_vs_softmax
        unit, units = (("label set", "label sets") if run.target.task == "multilabel"
                       else ("class", "classes"))
        s.append(f"One-vs-rest ({c.a}) and softmax ({c.b}) answer different questions: a "
                 f"one-vs-rest coefficient is the log-odds of {unit} k against all other "
                 f"{units} pooled, each {unit} its own model; a softmax contrast is the "
                 f"log-odds of k against the reference {unit} ({c.reference!r}), within one "
                 f"model of all {units}. Here they differ by up to {c.max_abs_coef_diff:.3g} "
                 "(coefficients) on the same rows.")
    if r.flat is not None:
        f = r.flat
        lo, hi = f.sweep[0], f.sweep[-1]
        s.append(f"Symmetric softmax without a penalty: the information matrix of its "
                 f"{f.n_params} coefficients has {f.n_zero_eigenvalues} zero eigenvalues "
                 f"(expected d + 1 = {f.expected_zero}, the flat directions), so the symmetric "
                 f"coefficient of {f.feature!r} for class {f.cls!r} has no standard error (not "
                 f"identified: filling the flat directions in with c = {lo.c:g} → {hi.c:g} "
                 f"moves it from {lo.se_symmetric:.3g} to {hi.se_symmetric:.3g}, without "
                 f"bound), while its contrast against {f.reference!r} keeps "
                 f"{lo.se_contrast:.4g} (changes by "
                 f"{abs(hi.se_contrast - lo.se_contrast):.1e}).")
    bad = [m for m in (r.models or []) if m.status in ("separation", "collinear", "failed")]
    for m in bad:
        why = {"separation": "the data are separated: without a penalty there is no finite "
                             "maximum-likelihood estimate, so no standard errors to report "
                             "(an L2 fit is defined but its estimates are shrunk)",
               "collinear": "some features are collinear: their coefficients are not "
                            "identified",
               "failed": "inference failed"}[m.status]
        s.append(f"No coefficient table for {m.name}: {why}.")
    ok = [m for m in (r.models or []) if m.status == "ok"]
    if ok and not s:
        s.append("Unpenalized coefficient tables of " + ", ".join(m.name for m in ok) + ".")
    if r.all_features:
        kinds = sorted({m.status for m in r.all_features})
        why = {"separation": "the classes are separated (no finite maximum-likelihood "
                             "estimate without a penalty)",
               "collinear": "some features are collinear (coefficients not identified)",
               "failed": "inference failed", "skipped": "skipped"}
        s.append(f"With all features, {', '.join(m.name for m in r.all_features)} had no "
                 f"coefficient table: {'; '.join(why[k] for k in kinds)}. The tables here use "
                 f"the {r.n_features} most independent feature(s) (pivoted QR), "
                 f"{', '.join(r.features or [])}, on which every model has a finite estimate.")
    if r.notes:
        s.append("Computed on " + "; ".join(r.notes) + ".")
    return s


# -- rendering --------------------------------------------------------------------------------
def _se(v: Any) -> tuple[str, str]:
    return num_cell(v) if v is not None else ("not finite", "")


def _pair_html(c: CoefComparison, label_a: str, label_b: str) -> str:
    rows = [[(esc(r.output), ""), (esc(r.term), ""), num_cell(r.coef_a), _se(r.se_a),
             num_cell(r.coef_b), _se(r.se_b)] for r in c.rows]
    note = (f"<p class='sub'>{len(c.rows)} of {c.rows_total} rows shown.</p>"
            if len(c.rows) < c.rows_total else "")
    return html_table(["output", "term", f"{label_a} coef", f"{label_a} std err",
                       f"{label_b} coef", f"{label_b} std err"], rows) + note


def _flat_html(f: FlatDirections) -> str:
    rows = [[num_cell(e.c), (esc(fmt_value(e.se_symmetric)), "num"),
             (esc(fmt_value(e.se_contrast)), "num")] for e in f.sweep]
    rows.append([(esc("sigmax.inference table"), ""), (esc("not identified (∞)"), ""),
                 _se(f.se_contrast_table)])
    return (f"<h4>Which softmax coefficients have a standard error? (feature "
            f"{esc(f.feature)}, class {esc(f.cls)})</h4>"
            f"<p>The symmetric fit has {f.n_params} coefficients; its information matrix has "
            f"{f.n_zero_eigenvalues} zero eigenvalue(s) (expected {f.expected_zero}; "
            f"smallest {fmt_value(f.smallest_eigenvalue)}, largest "
            f"{fmt_value(f.largest_eigenvalue)}). θ<sub>{esc(f.cls)}</sub> of this feature "
            f"lies {fmt_value(f.flat_component)} along a flat direction: its variance is "
            "infinite. The contrast with the reference is orthogonal to every flat direction: "
            "finite. Below, the flat directions are filled in with c·mean(diag H)·NNᵀ.</p>"
            + html_table(["c", f"std err of θ[{f.cls}]",
                          f"std err of θ[{f.cls}] − θ[{f.reference}]"], rows))


def _model_html(m: CoefModel) -> str:
    head = f"<strong>{esc(m.title or m.name)}</strong>"
    if m.status != "ok":
        return (f"<p>{head}: no coefficient table ({esc(m.status)}). "
                f"<span class='sub'>{esc(m.reason or '')}</span></p>")
    stats = " · ".join(f"{k} {fmt_value(v)}" for k, v in (
        ("log-likelihood", m.llf), ("pseudo R²", m.prsquared), ("AIC", m.aic), ("BIC", m.bic))
        if v is not None)
    rows = [[(esc(r.output), ""), (esc(r.term), ""), num_cell(r.coef), _se(r.std_err),
             num_cell(r.z), num_cell(r.p_value),
             (esc(f"{fmt_value(r.ci_low)} … {fmt_value(r.ci_high)}")
              if r.ci_low is not None else "–", "num"), num_cell(r.odds_ratio)]
            for r in m.rows or []]
    table = html_table(["output", "term", "coef", "std err", "z", "p", "95% interval",
                        "odds ratio"], rows)
    notes = sentences(m.notes) if m.notes else ""
    return (f"<details><summary>{head}: {esc(m.question or '')} — {esc(stats)}</summary>"
            f"{notes}{table}</details>")


def _coefficients_html(r: CoefficientsResult, p: ProblemResult) -> str:
    if not r:
        return ""
    out = [sentences(r.summary)]
    if r.k2 is not None:
        out.append("<h4>Logistic coefficients against the softmax contrast class 1 − class "
                   "0</h4>" + _pair_html(r.k2, "logistic", "softmax"))
    if r.ovr_vs_softmax is not None:
        out.append("<h4>One-vs-rest (class vs all others) against softmax (class vs the "
                   "reference)</h4>" + _pair_html(r.ovr_vs_softmax, "one-vs-rest", "softmax"))
    if r.flat is not None:
        out.append(_flat_html(r.flat))
    if r.all_features:
        out.append("<p>With all features, no table for: " + "; ".join(
            f"<strong>{esc(m.name)}</strong> ({esc(m.status)}: {esc(m.reason or '')})"
            for m in r.all_features) + "</p>")
    if r.models:
        out.append("<h4>Coefficient tables (no penalty, standardized features)</h4>"
                   + "".join(_model_html(m) for m in r.models))
    return "".join(out)


class Coefficients(Section):
    """Unpenalized coefficient tables: logistic, one-vs-rest and softmax contrasts."""

    id = "coefficients"
    title = "Coefficients"
    question = "What do the coefficients say, and which of them have a standard error?"
    lead = ("Each model refitted without a penalty on the standardized features, with "
            "maximum-likelihood standard errors (sigmax.inference). Softmax sees only "
            "differences of logits: its symmetric coefficients are not identified (no standard "
            "error), every contrast between two classes is. For K = 2 the softmax contrast is "
            "the logistic coefficient; for K > 2 one-vs-rest and softmax contrasts answer "
            "different questions.")
    result_type = CoefficientsResult

    def units(self, run: StudyRun) -> int:
        return sum(1 for s in run.convex_specs if s.estimator in _SUPPORTED)

    def compute(self, run: StudyRun) -> CoefficientsResult:
        return _coefficients(run)

    def render_html(self, result: CoefficientsResult, problem: ProblemResult) -> str:
        return _coefficients_html(result, problem)

    def render_terminal(self, result: CoefficientsResult, problem: ProblemResult
                        ) -> list[Any]:
        from rich.markup import escape

        items = list(result.summary or [])
        fallback = [t for t in items if t.startswith("With all features")]
        items = items[:1] + (fallback or items[1:2]) if items else []
        return [f"[bold]Coefficients:[/] {escape(items[0])}"] + [
            f"  {escape(t)}" for t in items[1:] if t != items[0]] if items else []
