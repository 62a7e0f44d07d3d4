r"""Calibration: do the models' probabilities need rescaling after the fit?

On every outer fold of the first repeat (the folds of the performance
section, :func:`sigmax.study.folds.outer_folds`), the training rows are split,
stratified, into a *fit part* (80%) and a *calibration part* (20%,
:data:`HOLD_OUT`). Each candidate is fitted on the fit part, then
:func:`sigmax.calibrate` fits a map of its logits on the calibration part:

- softmax models: temperature scaling, :math:`\tilde z = z / T` (one
  parameter; every argmax unchanged);
- sigmoid models (logistic, one-vs-rest, independent sigmoids, one-vs-rest
  over label sets): Platt scaling per sigmoid, :math:`\tilde z_k = a_k z_k + c_k`,
  fitted to Platt's smoothed targets (``smooth=True``,
  :func:`sigmax.calibration.platt_targets`), so that each map stays finite when the
  calibration rows of a sigmoid are separated or lack one side (a rare class).

Temperature scaling has no such prior: when the model makes no error on the
calibration rows, its log-loss falls toward 0 as :math:`T \to 0`; the section
detects this (:func:`separated`) and says what it did to the test log-loss.

Both the model as fitted ("before") and the calibrated model ("after") are
scored on the outer test fold, which neither the fit nor the map saw, on the
study's ECE and log-loss (:mod:`sigmax.study.metrics`). Per candidate and
metric, the per-fold differences go through the study's paired test (corrected
resampled t-test, :func:`~sigmax.study.metrics.paired_comparison`), and all
tests of the section are Holm-corrected together
(:func:`~sigmax.study.metrics.correct_family`).

A candidate **needs calibration** when calibrating improves its ECE or its
log-loss significantly (after the correction) and worsens neither; when no
change survives the correction the section says so, with the numbers (and
when a metric is lower on every fold without the change being significant).

Cost: one extra fit per candidate and outer fold (the fits of the performance
section use the whole training fold, so their probabilities cannot be
calibrated honestly: no held-out training rows are left; the fits on all rows
have seen the test rows). In a tuned comparison (``C="cv"``) each fit uses the C
the performance section chose inside that outer fold, so no inner search is rerun.
Without the performance section it uses the C chosen on all rows, and says so.
The class-frequency baseline and models that :func:`sigmax.calibrate` does not
take (heads on a shared trunk, mixed heads) are left out, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ...calibration import LINKS, calibrate
from ...preprocessing import StableScaler
from .. import fitting, side_by_side
from ..candidates import CandidateSpec
from ..fitting import predict, record_warnings, scores, warning_notes, y_for
from ..folds import outer_folds
from ..formatting import esc, fmt_value, html_table, num_cell, sentences
from ..metrics import correct_family, metric_info, paired_comparison
from ..record import Record
from ..result import Comparison, ProblemResult
from ..run import StudyRun
from ..section import Section
from ..verdict import more_folds_sentence

__all__ = ["CALIBRATION_METRICS", "HOLD_OUT", "METHOD_FOR_FAMILY", "BeforeAfter", "Calibration",
           "CalibrationResult", "CandidateCalibration"]

#: Share of each outer training fold held out to fit the calibration map.
HOLD_OUT = 0.2
#: The map :func:`sigmax.calibrate` fits, by the candidate's family.
METHOD_FOR_FAMILY = {"softmax": "temperature", "sigmoid": "platt"}
#: The map in words.
_METHOD_TITLES = {"temperature": "temperature scaling", "platt": "Platt scaling per sigmoid",
                  "vector": "vector scaling"}
#: Metrics measured before and after (both: lower is better).
CALIBRATION_METRICS = ("ece", "log_loss")
#: Significance level of the Holm-corrected family.
ALPHA = 0.05


@dataclass(eq=False)
class BeforeAfter(Record):
    """One metric of one candidate on the outer test folds, before and after calibration."""

    before: list[float] = field(metadata={"doc": "per outer fold, the model as fitted"})
    after: list[float] = field(metadata={"doc": "per outer fold, the calibrated model"})
    mean_before: float
    sd_before: float
    mean_after: float
    sd_after: float
    test: Comparison = field(metadata={
        "doc": "paired test of after (a) against before (b), Holm-corrected over the section"})
    change: Literal["improves", "worsens", "no_change"] = field(metadata={
        "doc": "the test's conclusion after the correction"})


@dataclass(eq=False)
class CandidateCalibration(Record):
    """What calibrating one candidate changes on the outer test folds."""

    name: str
    label: str
    method: Literal["temperature", "platt", "vector"]
    metrics: dict[str, BeforeAfter] = field(metadata={"doc": "metric -> before and after"})
    verdict: Literal["improves", "worsens", "mixed", "no_change"] = field(metadata={
        "doc": "improves: better on ECE or log-loss and worse on neither (it needs "
               "calibration); mixed: better on one, worse on the other"})
    temperature: list[float] | None = field(default=None, metadata={
        "doc": "fitted T per fold (temperature scaling; T > 1: the model was overconfident)"})
    mean_scale: list[float] | None = field(default=None, metadata={
        "doc": "mean of the Platt slopes a_k per fold (< 1: the model was overconfident)"})
    calibration_rows: list[int] | None = field(default=None, metadata={
        "doc": "rows the map was fitted on, per fold"})
    separated: list[bool] | None = field(default=None, metadata={
        "doc": "temperature scaling, per fold: the model made no error on the calibration "
               "rows, so the map's log-loss has no finite minimum (T -> 0)"})
    notes: list[str] | None = None


@dataclass(eq=False)
class CalibrationResult(Record):
    """Before and after post-hoc calibration, per candidate, on the outer test folds."""

    protocol: str | None = None
    hold_out: float | None = field(default=None, metadata={
        "doc": "share of each training fold held out to fit the map"})
    n_folds: int | None = None
    candidates: list[CandidateCalibration] | None = None
    left_out: dict[str, str] | None = field(default=None, metadata={
        "doc": "candidate -> why it is not calibrated"})
    n_tests: int | None = field(default=None, metadata={"doc": "size of the Holm family"})
    needs_calibration: list[str] | None = field(default=None, metadata={
        "doc": "candidates whose verdict is 'improves'"})
    summary: list[str] | None = field(default=None, metadata={
        "doc": "the answer first, then one sentence per candidate"})


# -- measuring ------------------------------------------------------------------------------------
def _calibratable(spec: CandidateSpec) -> str | None:
    """None when :func:`sigmax.calibrate` takes ``spec``'s model; else why not."""
    if spec.name == "baseline":
        return ("it predicts the same probabilities for every row (the training frequencies): "
                "there are no per-row scores to rescale")
    if not any(c.__name__ in LINKS for c in spec.estimator.__mro__):
        return (f"sigmax.calibrate takes {', '.join(LINKS)}; this model is a "
                f"{spec.estimator.__name__}")
    return None


def _hold_out(strata: np.ndarray, share: float, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the fit part and the calibration part, stratified on ``strata``.

    Every stratum keeps at least one row in the fit part (scikit-learn's
    stratified splitters refuse a stratum of one row, which rare classes and
    pooled label sets produce).
    """
    fit, cal = [], []
    for s in np.unique(strata):
        rows = rng.permutation(np.flatnonzero(strata == s))
        n_cal = min(len(rows) - 1, round(share * len(rows)))
        cal.append(rows[:n_cal])
        fit.append(rows[n_cal:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(cal))


def _link(est: Any) -> Any:
    return next(LINKS[c.__name__] for c in type(est).__mro__ if c.__name__ in LINKS)


def separated(est: Any, X: np.ndarray, y: np.ndarray) -> bool:
    r"""Whether the calibration map of ``est`` on ``(X, y)`` (0/1 targets) has no finite optimum.

    Temperature scaling: when the model classifies every row right, the
    log-loss of :math:`\operatorname{softmax}(z / T)` falls toward 0 as
    :math:`T \to 0`. Platt scaling: when one sigmoid's logits split its
    rows perfectly (every positive above every negative, or the reverse, or
    one side empty), the log-loss of :math:`\sigma(a z + c)` falls toward 0 as
    :math:`|a| \to \infty`. Either way the fitted map is wherever the
    optimizer stopped, and the calibrated probabilities are nearly 0 or 1.
    """
    link = _link(est)
    Z = np.asarray(est._logits(X), dtype=np.float64)  # the logits calibrate() maps
    Y = link.targets(est, y)
    if not link.sigmoid:
        return bool(np.all(np.argmax(Z, axis=1) == np.argmax(Y, axis=1)))
    pos, neg = Y == 1, Y == 0
    lo_pos = np.where(pos, Z, np.inf).min(axis=0)
    hi_pos = np.where(pos, Z, -np.inf).max(axis=0)
    lo_neg = np.where(neg, Z, np.inf).min(axis=0)
    hi_neg = np.where(neg, Z, -np.inf).max(axis=0)
    return bool(np.any((lo_pos > hi_neg) | (hi_pos < lo_neg)))


def _model(run: StudyRun, spec: CandidateSpec, fold: int) -> Any:
    """``spec``'s estimator for outer fold ``fold``: in a tuned comparison at the C the
    performance section chose inside that fold (no inner search rerun), else at its C.

    Where the performance section ran, the fit starts from its solution on the whole
    training fold at that same C (``run.fold_solutions``): the fit part is 80% of
    those rows, so its optimum is close, and a few Newton steps replace a cold solve
    (R's ggplot2movies, 79 label sets: the cold fits took most of the section's 30 s).
    """
    per = run.cand(spec.name).params.C_per_fold
    if run.tuned_class(spec) is not None and per and len(per) > fold:
        placement = run.estimator_params if run.placed(spec) else {}
        est = spec.make(per[fold] / spec.C_factor, **placement)
    else:
        est = run.make(spec)
    start = run.fold_solutions.get(spec.name, [])
    if fold < len(start) and "warm_start" in est.get_params():
        est.set_params(warm_start=True)
        est.coef_, est.intercept_ = (np.array(a) for a in start[fold])
    return est


def _fold_data(run: StudyRun, tr: np.ndarray, te: np.ndarray, fit_pos: np.ndarray,
               cal_pos: np.ndarray) -> tuple[Any, ...]:
    """One outer fold's fit, calibration and test parts, standardized as in the performance
    section (on the whole training fold), and their targets."""
    fit_rows, cal_rows = tr[fit_pos], tr[cal_pos]
    scaler = StableScaler().fit(run.X[tr])  # as in the performance section
    Xfit, Xcal, Xte = (scaler.transform(run.X[r]) for r in (fit_rows, cal_rows, te))
    tfit, tcal, tte = (run.target.subset(r) for r in (fit_rows, cal_rows, te))
    return Xfit, Xcal, Xte, tfit, tcal, tte


def _fold_fit(spec: CandidateSpec, est: Any, method: str,
              data: tuple[Any, ...]) -> dict[str, Any]:
    """Fit, calibrate and score one candidate on one outer fold (a task, in a worker)."""
    Xfit, Xcal, Xte, tfit, tcal, tte = data
    est, _, caught = fitting.fit(est, Xfit, y_for(spec, tfit))
    y_cal, X_cal = y_for(spec, tcal), Xcal
    if y_cal.ndim == 1:  # a class (or label set) the fit part lacks cannot be calibrated
        seen = np.isin(y_cal, np.asarray(est.classes_))
        y_cal, X_cal = y_cal[seen], Xcal[seen]
    # Platt's smoothed targets keep each sigmoid's map finite when the calibration
    # rows are separated or lack one side (a rare class): Platt (1999) defines them.
    cal = calibrate(est, X_cal, y_cal, method=method, smooth=method == "platt")
    out: dict[str, Any] = {"caught": caught, "rows": len(y_cal)}
    if method == "temperature":  # (Platt's smoothed targets keep its map finite)
        out["separated"] = separated(est, X_cal, y_cal)
        out["temperature"] = float(cal.temperature_)
    else:
        out["scale"] = float(np.mean(cal.scale_))
    out["before"] = scores(predict(spec, est, Xte, tte), tte)
    out["after"] = scores(predict(spec, cal, Xte, tte), tte)
    return out


def _record(p: dict[str, Any], r: dict[str, Any], f: int) -> None:
    """One task's measurements into the candidate's lists (``per[name]``)."""
    record_warnings(p["records"], r["caught"], f)
    p["rows"].append(r["rows"])
    for key in ("separated", "temperature", "scale"):
        if key in r:
            p[key].append(r[key])
    for m in CALIBRATION_METRICS:
        p["before"][m].append(r["before"][m])
        p["after"][m].append(r["after"][m])


def _calibration(run: StudyRun) -> CalibrationResult:
    left_out = {s.name: why for s in run.specs if (why := _calibratable(s)) is not None}
    specs = [s for s in run.specs if s.name not in left_out]
    outer = outer_folds(run)
    folds = outer.folds[:run.n_folds]  # the first repeat: every row tested once
    strata = (outer.strata if outer.strata is not None
              else np.zeros(run.target.n_samples, dtype=np.intp))
    per = {s.name: {"method": METHOD_FOR_FAMILY[s.family], "records": {}, "rows": [],
                    "separated": [], "temperature": [], "scale": [],
                    "before": {m: [] for m in CALIBRATION_METRICS},
                    "after": {m: [] for m in CALIBRATION_METRICS}} for s in specs}
    fold_data = []
    for f, (tr, te) in enumerate(folds):
        rng = np.random.default_rng([run.seed, f])
        fit_pos, cal_pos = _hold_out(strata[tr], HOLD_OUT, rng)
        if len(cal_pos) < 2:
            why = "the training folds are too small to hold rows out for calibration"
            return CalibrationResult(left_out={s.name: why for s in run.specs},
                                     summary=[f"Not measured: {why}."])
        fold_data.append(lambda tr=tr, te=te, fp=fit_pos, cp=cal_pos: _fold_data(
            run, tr, te, fp, cp))
    results, _ = side_by_side.fit_every_fold(
        run, fold_data, specs, make=lambda f, spec, alone: _model(run, spec, f),
        fit=lambda spec, est, data: _fold_fit(spec, est, per[spec.name]["method"], data),
        step=lambda f, spec: f"calibration fold {f + 1}/{run.n_folds}: {spec.name}")
    for f, spec, r in results:
        _record(per[spec.name], r, f)
    labels = {c.name: c.label for c in run.problem.candidates}
    tests = _tests(specs, per, labels, ratio=1.0 / (run.n_folds - 1))
    cands = [_candidate(s, per[s.name], tests[s.name], labels) for s in specs]
    tuned = [s for s in specs if run.tuned_class(s) is not None]
    where_C = ("" if not tuned else
               " at the C chosen inside that outer fold" if all(
                   run.cand(s.name).params.C_per_fold for s in tuned) else
               " at the C chosen by cross-validation on all rows (the performance section, "
               "which chooses C inside each outer fold, did not run)")
    protocol = (f"On each of the {len(folds)} outer folds ({outer.how}), the training rows are "
                f"split, stratified, into a fit part ({1 - HOLD_OUT:.0%}) and a calibration "
                f"part ({HOLD_OUT:.0%}); each model is fitted on the fit part{where_C}, its "
                "logits are calibrated on the calibration part (temperature scaling for "
                "softmax, Platt scaling per sigmoid with Platt's smoothed targets for sigmoid "
                "models), and the model before and after is scored on the outer test fold")
    n_tests = sum(len(t) for t in tests.values())
    return CalibrationResult.from_dict({
        "protocol": protocol, "hold_out": HOLD_OUT, "n_folds": len(folds),
        "candidates": [c.to_dict() for c in cands], "left_out": left_out or None,
        "n_tests": n_tests,
        "needs_calibration": [c.name for c in cands if c.verdict == "improves"],
        "summary": _summary(cands, left_out, n_tests, labels, tests, len(folds)),
    }, strict=True)


def _describe(labels: dict[str, str], per: dict[str, Any]) -> Any:
    def name(key: str) -> str:
        base, _, tag = key.partition(" ")
        label = labels.get(base, base)
        return (f"{label} after {_METHOD_TITLES[per[base]['method']]}" if tag
                else f"{label} as fitted")
    return name


def _tests(specs: list[CandidateSpec], per: dict[str, Any], labels: dict[str, str],
           ratio: float) -> dict[str, dict[str, Comparison]]:
    """Paired tests of after against before, every candidate and metric, Holm-corrected."""
    describe = _describe(labels, per)
    out: dict[str, dict[str, Comparison]] = {}
    for s in specs:
        p = per[s.name]
        out[s.name] = {m: paired_comparison(m, f"{s.name} calibrated", s.name, p["after"][m],
                                            p["before"][m], test_train_ratio=ratio,
                                            describe=describe)
                       for m in CALIBRATION_METRICS}
    correct_family([c for t in out.values() for c in t.values()], alpha=ALPHA,
                   describe=describe)
    return out


_CHANGE = {"a_better": "improves", "b_better": "worsens"}


def _candidate(spec: CandidateSpec, p: dict[str, Any], tests: dict[str, Comparison],
               labels: dict[str, str]) -> CandidateCalibration:
    metrics = {}
    for m in CALIBRATION_METRICS:
        b, a = np.asarray(p["before"][m]), np.asarray(p["after"][m])
        metrics[m] = BeforeAfter(
            before=b.tolist(), after=a.tolist(), mean_before=float(b.mean()),
            sd_before=float(b.std(ddof=1)), mean_after=float(a.mean()),
            sd_after=float(a.std(ddof=1)), test=tests[m],
            change=_CHANGE.get(tests[m].conclusion, "no_change"))
    changes = {v.change for v in metrics.values()}
    verdict = ("mixed" if {"improves", "worsens"} <= changes else
               "improves" if "improves" in changes else
               "worsens" if "worsens" in changes else "no_change")
    notes = warning_notes(p["records"], len(p["rows"]), "fits on the fit parts")
    return CandidateCalibration(
        name=spec.name, label=labels.get(spec.name, spec.name), method=p["method"],
        metrics=metrics, verdict=verdict,
        temperature=p["temperature"] or None, mean_scale=p["scale"] or None,
        calibration_rows=p["rows"], separated=p["separated"] or None, notes=notes or None)


# -- sentences -------------------------------------------------------------------------------
def _n(x: float) -> str:
    """A number as the sentences and the terminal print it (3 significant digits)."""
    return f"{x:.3g}"


def _arrows(c: CandidateCalibration) -> str:
    """``ECE 0.081 → 0.024, log-loss 0.52 → 0.47`` (means over the folds)."""
    return ", ".join(f"{metric_info(m).title} {_n(v.mean_before)} → {_n(v.mean_after)}"
                     for m, v in c.metrics.items())


def _direction(c: CandidateCalibration) -> str:
    """What the fitted map says about the model, when every fold agrees; else ""."""
    vals, what = ((c.temperature, "fitted temperature") if c.temperature
                  else (c.mean_scale, "mean Platt slope"))
    if not vals:
        return ""
    above = c.temperature is not None  # T > 1 and slope < 1 both mean overconfident
    v = np.asarray(vals)
    mid = _n(float(np.median(v)))  # the table's "fitted map" column shows the same median
    if np.all(v > 1):
        side = "overconfident" if above else "underconfident"
        return f"; the {what} is above 1 on every fold (median {mid}): it was {side}"
    if np.all(v < 1):
        side = "underconfident" if above else "overconfident"
        return f"; the {what} is below 1 on every fold (median {mid}): it was {side}"
    return ""


def _titles(c: CandidateCalibration, change: str) -> list[str]:
    return [metric_info(m).title for m, v in c.metrics.items() if v.change == change]


def _and(items: Sequence[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def candidate_sentence(c: CandidateCalibration, n_tests: int) -> str:
    """One sentence on one candidate, from its verdict and numbers."""
    how = _METHOD_TITLES[c.method]
    fam = f"Holm's correction over the {n_tests} calibration tests"
    better, worse = _titles(c, "improves"), _titles(c, "worsens")
    if c.verdict == "improves":
        sig = (f"both significant after {fam}" if len(better) == len(c.metrics) else
               f"the {_and(better)} drop significant after {fam}, the rest within the "
               "fold-to-fold noise")
        return (f"{c.label}'s probabilities improve with {how} ({_arrows(c)}; "
                f"{sig}{_direction(c)}).")
    if c.verdict == "worsens":
        return (f"{c.label}: {how} makes the probabilities worse ({_arrows(c)}; the "
                f"{_and(worse)} rise significant after {fam}): the map fitted on the held-out "
                "rows does not carry over to the test folds.")
    if c.verdict == "mixed":
        return (f"{c.label}: {how} lowers {_and(better)} but raises {_and(worse)} "
                f"({_arrows(c)}; both significant after {fam}): no clear gain.")
    every = [metric_info(m).title for m, v in c.metrics.items()
             if np.all(np.asarray(v.after) < np.asarray(v.before))]
    folds = len(next(iter(c.metrics.values())).before)
    lower = (f" ({_and(every)} lower on every one of the {folds} folds, but not "
             "significantly)" if every else "")
    return (f"{c.label}: with {how}, {_arrows(c)}; no change is significant after "
            f"{fam}{lower}.")


def separation_sentence(c: CandidateCalibration) -> str:
    """Said when the map had no finite optimum on some fold (:func:`separated`); else ""."""
    flags = np.asarray(c.separated or [], dtype=bool)
    if not flags.any():
        return ""
    ll = c.metrics["log_loss"]
    before = float(np.mean(np.asarray(ll.before)[flags]))
    after = float(np.mean(np.asarray(ll.after)[flags]))
    fitted = _n(min(np.asarray(c.temperature)[flags])) if c.temperature else "?"
    return (f"On {int(flags.sum())} of the {len(flags)} folds {c.label} made no error on the "
            "calibration rows, so the log-loss of temperature scaling has no finite minimum "
            f"and the fit pushes the probabilities toward 0 and 1 (fitted T down to {fitted}); "
            f"on those folds the test log-loss goes from {_n(before)} to {_n(after)}.")


def answer_sentence(cands: list[CandidateCalibration]) -> str:
    """The section's answer: which models need calibration on this data."""
    need = [c.label for c in cands if c.verdict == "improves"]
    rest = [c for c in cands if c.verdict != "improves"]
    if not cands:
        return "No model could be calibrated on this data (see below why)."
    if not rest:
        return (f"Every model needs calibration on this data: {_and(need)} "
                f"{'improves' if len(need) == 1 else 'improve'} on the held-out folds.")
    why = {"no_change": "no significant change",
           "worsens": "calibrating makes it significantly worse",
           "mixed": "better on one metric, worse on the other"}
    others = "; ".join(f"{c.label}: {why[c.verdict]}" for c in rest)
    if need:
        return (f"{_and(need)} {'needs' if len(need) == 1 else 'need'} calibration on this "
                f"data; the other model(s) do not gain measurably ({others}).")
    return f"No model measurably gains from calibration on this data ({others})."


def _summary(cands: list[CandidateCalibration], left_out: dict[str, str], n_tests: int,
             labels: dict[str, str], tests: dict[str, dict[str, Comparison]],
             n_folds: int) -> list[str]:
    out = [answer_sentence(cands)]
    for c in cands:
        out += [t for t in (candidate_sentence(c, n_tests), separation_sentence(c)) if t]
    raw = [t.p_value for ts in tests.values() for t in ts.values()
           if t.p_value < ALPHA and t.conclusion == "no_difference"]
    if raw:
        out.append(f"{len(raw)} change(s) have p < {ALPHA:g} alone (smallest {min(raw):.2g}) "
                   f"but not after correcting for the {n_tests} tests; "
                   + more_folds_sentence(n_folds))
    out += [f"{labels.get(n, n)} is left out of this section: {why}."
            for n, why in left_out.items()]
    return out


# -- rendering -------------------------------------------------------------------------------
_SHORT_METHOD = {"temperature": "temperature", "platt": "Platt", "vector": "vector"}
_CHANGE_WORDS = {"improves": "improves", "worsens": "worsens",
                 "no_change": "no measurable change"}
_VERDICT_WORDS = {"improves": "needs calibration", "worsens": "worse after calibration",
                  "mixed": "mixed", "no_change": "no measurable change"}


def _cell(v: BeforeAfter, which: str) -> tuple[str, str]:
    mean, sd = getattr(v, f"mean_{which}"), getattr(v, f"sd_{which}")
    cls = "num best" if which == "after" and v.change == "improves" else "num"
    return f"{mean:.4f} <span class='sd'>± {sd:.4f}</span>", cls


def _map_cell(c: CandidateCalibration) -> tuple[str, str]:
    if c.temperature:
        return esc(f"T = {np.median(c.temperature):.3g}"), "num"
    if c.mean_scale:
        return esc(f"slope {np.median(c.mean_scale):.3g}"), "num"
    return "–", ""


def _calibration_html(r: CalibrationResult, p: ProblemResult) -> str:
    if not r or not r.candidates:
        return sentences(r.summary) if r else ""
    heads = ["model", "map", "fitted map (median over folds)"]
    for m in CALIBRATION_METRICS:
        t = metric_info(m).title
        heads += [f"{t} before ↓", f"{t} after ↓"]
    heads.append("verdict")
    rows = []
    for c in r.candidates:
        row = [(esc(c.label), ""), (esc(_METHOD_TITLES[c.method]), ""), _map_cell(c)]
        for m in CALIBRATION_METRICS:
            row += [_cell(c.metrics[m], "before"), _cell(c.metrics[m], "after")]
        row.append((esc(_VERDICT_WORDS[c.verdict]), ""))
        rows.append(row)
    out = [f"<p>{esc(r.protocol)}. Mean ± standard deviation over the {r.n_folds} test folds; "
           "an improvement that survives the correction in green.</p>",
           html_table(heads, rows), sentences(r.summary)]
    tests = [(c, v.test) for c in r.candidates for v in c.metrics.values()]
    crow = [[(esc(metric_info(t.metric).title), ""), (esc(c.label), ""), num_cell(t.diff),
             (esc(f"[{fmt_value(t.ci_low)}, {fmt_value(t.ci_high)}]"), "num"),
             num_cell(t.p_value), num_cell(t.p_adjusted),
             (esc(_CHANGE_WORDS[c.metrics[t.metric].change]), "")]
            for c, t in tests]
    if tests:
        out.append(f"<details><summary>All {len(tests)} paired tests (after − before)</summary>"
                   f"<p class='sub'>{esc(tests[0][1].method)}; Holm's correction over the "
                   f"{len(tests)} tests of this section gives the adjusted p.</p>"
                   + html_table(["metric", "model", "after − before", "95% CI", "p", "Holm p",
                                 "change"], crow) + "</details>")
    notes = [f"{c.label}: {n}" for c in r.candidates for n in (c.notes or [])]
    if notes:
        out.append("<details><summary>Warnings during the fits</summary>"
                   + sentences(notes) + "</details>")
    return "".join(out)


def _calibration_terminal(r: CalibrationResult) -> list[Any]:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    if not r or not r.candidates:
        return [f"[bold]Calibration:[/] {escape(r.summary[0])}"] if r and r.summary else []
    t = Table(title=f"Calibration: held-out, mean over {r.n_folds} folds, before → after",
              box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    for col in ("model", "map", "ECE ↓", "log-loss ↓", "verdict"):
        # The numbers never wrap: a long model name or verdict does instead.
        t.add_column(col, justify="right" if "↓" in col else "left", no_wrap="↓" in col,
                     min_width=14 if col == "model" else None)
    for c in r.candidates:
        cells = [f"{_n(v.mean_before)} → {_n(v.mean_after)}" for v in c.metrics.values()]
        verdict = _VERDICT_WORDS[c.verdict]
        t.add_row(escape(c.label), _SHORT_METHOD[c.method], *cells,
                  f"[bold green]{verdict}[/]" if c.verdict == "improves" else verdict)
    return [t, f"  • {escape(r.summary[0])}"]


class Calibration(Section):
    """Post-hoc calibration on held-out rows of each training fold, scored on the test folds."""

    id = "calibration"
    aliases = ("calib",)
    title = "Calibration"
    question = "Do the probabilities need calibrating?"
    lead = ("A model is calibrated when, of the rows it gives probability p, a fraction p "
            "belong to the class. Fitting a small map of the logits on held-out rows "
            "(temperature scaling for softmax, Platt scaling per sigmoid) can repair a "
            "miscalibrated model; measured on test rows that neither the model nor the map saw, "
            "the expected calibration error and the log-loss before and after say whether it "
            "is worth doing.")
    result_type = CalibrationResult
    depends_on = ("performance",)

    def units(self, run: StudyRun) -> int:
        return run.n_folds * sum(_calibratable(s) is None for s in run.specs)

    def compute(self, run: StudyRun) -> CalibrationResult:
        return _calibration(run)

    def render_html(self, result: CalibrationResult, problem: ProblemResult) -> str:
        return _calibration_html(result, problem)

    def render_terminal(self, result: CalibrationResult, problem: ProblemResult) -> list[Any]:
        return _calibration_terminal(result)
