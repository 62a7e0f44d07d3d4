"""Performance: which model predicts better?

Every candidate on the same cross-validation folds (stratified, a
``StableScaler``, overflow-free, fitted on the training rows of each fold),
scored on the
held-out rows; a paired test (corrected resampled t-test) of every pair on
every headline metric fills ``ProblemResult.comparisons``, the per-fold scores
``CandidateResult.metrics`` and the per-fold costs ``CandidateResult.compute``.
The out-of-fold predictions of the first repeat stay in ``run.oof`` for the
visualization section.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter, PercentFormatter

from ...backends import to_numpy
from ...preprocessing import StableScaler
from ...solvers.base import hessian_products
from .. import fitting, side_by_side
from ..figure import (
    FigureSpec,
    Skip,
    candidate_label,
    model_color,
    new_figure,
    panel_grid,
    per_model,
    series,
    short_names,
    wrap_title,
)
from ..fitting import (
    predict,
    record_warnings,
    scores,
    warning_notes,
    y_for,
)
from ..folds import INNER_FOLDS, outer_folds
from ..formatting import (
    best_of,
    cand_label,
    esc,
    fmt_value,
    headline_metrics,
    html_table,
    key_verdicts,
    mean_sd,
    metric_meta,
    num_cell,
    sentences,
)
from ..metrics import (
    MULTILABEL_METRICS,
    SINGLE_LABEL_METRICS,
    correct_family,
    paired_comparison,
)
from ..record import Record
from ..result import ProblemResult
from ..run import StudyRun
from ..section import Section
from ..tuning import draw_validation_curves, tuning_html


@dataclass(eq=False)
class MetricInfo(Record):
    """A metric of the registry (:mod:`sigmax.study.metrics`)."""

    name: str
    title: str
    higher_is_better: bool
    description: str


@dataclass(eq=False)
class MetricSummary(Record):
    """One metric of one candidate over the folds."""

    mean: float
    std: float
    min: float
    max: float


@dataclass(eq=False)
class PerformanceResult(Record):
    """The cross-validation protocol and the score summaries (scores per fold are in
    ``CandidateResult.metrics``, paired tests in ``ProblemResult.comparisons``)."""

    folds: str | None = None
    n_folds: int | None = None
    repeats: int | None = None
    stratified: bool | None = None
    test_train_ratio: float | None = None
    fold_sizes: list[int] | None = field(default=None, metadata={"doc": "test rows per fold"})
    metrics: list[MetricInfo] | None = None
    summary: dict[str, dict[str, MetricSummary]] | None = field(default=None, metadata={
        "doc": "candidate -> metric -> mean, std, min, max over folds"})
    best: dict[str, str] | None = field(default=None, metadata={
        "doc": "metric -> candidate with the best mean"})



@dataclass
class _FoldFit:
    """What one candidate's fit on one outer fold measured (a task of the section)."""

    pred: dict[str, Any]
    scores: dict[str, float]
    fit_seconds: float
    predict_seconds: float
    caught: list[Any]
    C: float | None
    solution: tuple[Any, Any] | None
    n_iter: int
    n_grad: int
    n_hessp: int


def _fold_data(run: StudyRun, tr: np.ndarray, te: np.ndarray) -> tuple[Any, ...]:
    """One outer fold standardized on its training rows: Xtr, Xte and the two targets."""
    Xtr = run.X[tr]  # one copy of the training rows, standardized in place of it below
    scaler = StableScaler().fit(Xtr)
    return (scaler.transform(Xtr), scaler.transform(run.X[te]), run.target.subset(tr),
            run.target.subset(te))


def _fold_fit(spec: Any, est: Any, data: tuple[Any, ...]) -> _FoldFit:
    """Fit ``est`` on a fold's training rows and score it on its test rows (in a worker)."""
    Xtr, Xte, ttr, tte = data
    est, seconds, caught = fitting.fit(est, Xtr, y_for(spec, ttr))
    t0 = time.perf_counter()
    to_numpy(est.predict_proba(Xte))
    predict_seconds = time.perf_counter() - t0
    pred = predict(spec, est, Xte, tte)
    rec = est.fit_record_
    return _FoldFit(
        pred=pred, scores=scores(pred, tte), fit_seconds=seconds,
        predict_seconds=predict_seconds, caught=caught,
        C=float(est.C_) if hasattr(est, "C_") and np.ndim(est.C_) == 0 else None,
        solution=((np.array(est.coef_), np.array(est.intercept_)) if spec.convex
                  else None),
        n_iter=rec.n_iter, n_grad=rec.n_grad_evals, n_hessp=hessian_products(rec))


def _performance(run: StudyRun) -> PerformanceResult:
    target = run.target
    n_splits, repeats = run.n_folds, run.repeats
    outer = outer_folds(run)
    folds, how, stratified = outer.folds, outer.how, outer.stratified
    n_runs = len(folds)
    per = {s.name: {"metrics": {}, "fit": [], "predict": [], "iter": [], "grad": [],
                    "hessp": [], "records": {}} for s in run.specs}
    for s in run.specs:
        if target.task != "multilabel":
            run.oof[s.name] = {"log_proba": np.full((target.n_samples, target.n_classes),
                                                    -np.inf),
                               "pred": np.zeros(target.n_samples, dtype=np.intp)}
        else:
            L = target.n_classes
            run.oof[s.name] = {"log_p1": np.zeros((target.n_samples, L)),
                               "log_p0": np.zeros((target.n_samples, L)),
                               "pred_set": np.zeros((target.n_samples, L), dtype=np.int64)}

    def file_predictions(f: int, spec: Any, r: _FoldFit) -> None:
        if f < n_splits:  # out-of-fold predictions of the first repeat, filed as they come
            _, te = folds[f]
            for key, val in r.pred.items():
                run.oof[spec.name][key][te] = val
        r.pred = {}  # (n_test, K) arrays: not kept for every task until the last ends

    # Every (fold, candidate) fit is a task of its own, run side by side.
    results, at_once = side_by_side.fit_every_fold(
        run, [lambda tr=tr, te=te: _fold_data(run, tr, te) for tr, te in folds], run.specs,
        make=lambda f, spec, alone: run.make_tuned(spec, folds[f][0],
                                                   jobs=None if alone else 1),
        fit=_fold_fit, step=lambda f, spec: f"fold {f + 1}/{n_runs}: {spec.name}",
        on_done=file_predictions)
    for f, spec, r in results:
        p = per[spec.name]
        record_warnings(p["records"], r.caught, f)
        p["predict"].append(r.predict_seconds)
        for key, val in r.scores.items():
            p["metrics"].setdefault(key, []).append(val)
        if r.C is not None:
            p.setdefault("C", []).append(r.C)  # chosen in this training fold
        p["fit"].append(r.fit_seconds)
        if f < n_splits and r.solution is not None:
            run.fold_solutions.setdefault(spec.name, []).append(r.solution)
        p["iter"].append(r.n_iter)
        p["grad"].append(r.n_grad)
        p["hessp"].append(r.n_hessp)
    for spec in run.specs:
        p = per[spec.name]
        cand = run.cand(spec.name)
        cand.metrics = p["metrics"]
        cand.compute.update({
            "fit_seconds": float(np.median(p["fit"])), "fit_seconds_min": float(min(p["fit"])),
            "fit_seconds_max": float(max(p["fit"])),
            "predict_seconds": float(np.median(p["predict"])),
            "n_iter": float(np.median(p["iter"])), "n_grad_evals": float(np.median(p["grad"])),
            "n_hessp_evals": float(np.median(p["hessp"]))})
        cand.notes += warning_notes(p["records"], n_runs, "cross-validation fits")
        if p.get("C"):
            cand.params.C_per_fold = p["C"]
            inner = (f"side by side on {min(run.search_jobs, INNER_FOLDS)} thread(s)"
                     if at_once == 1 else "one after the other")
            cand.notes.append(
                f"its fit time per fold is the whole C search there ({INNER_FOLDS} inner "
                f"folds x up to {len(run.Cs)} values of C, {inner}, then the refit at the "
                "chosen C); its fit on all rows is one fit at its own C")
    # Paired comparisons on the headline metrics, every pair of candidates.
    registry = MULTILABEL_METRICS if target.task == "multilabel" else SINGLE_LABEL_METRICS
    ratio = 1.0 / (n_splits - 1)
    titles = {c.name: c.label for c in run.problem.candidates}
    names = [s.name for s in run.specs]
    for metric in registry:
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                run.problem.comparisons.append(paired_comparison(
                    metric, a, b, run.cand(a).metrics[metric], run.cand(b).metrics[metric],
                    test_train_ratio=ratio, describe=lambda s: titles.get(s, s)))
    # One family: with dozens of tests some p-values fall below 0.05 by chance.
    correct_family(run.problem.comparisons, describe=lambda s: titles.get(s, s))
    summary, best = {}, {}
    for c in run.problem.candidates:
        summary[c.name] = {m: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)),
                               "min": float(np.min(v)), "max": float(np.max(v))}
                           for m, v in c.metrics.items()}
    for metric, info in registry.items():
        means = {c: summary[c][metric]["mean"] for c in summary}
        best[metric] = (max if info.higher_is_better else min)(means, key=means.get)
    return PerformanceResult.from_dict({
        "folds": (f"{n_splits}-fold cross-validation"
                  + (f" repeated {repeats} times" if repeats > 1 else "")
                  + f", {how}, shuffled with seed {run.seed}; a StableScaler (overflow-free) "
                  "fitted on the training rows of each fold"
                  + ("" if at_once == 1 else
                     f"; the fits of the folds ran {at_once} at a time, one thread each, so "
                     "the times per fold were taken beside another fit")),
        "n_folds": n_splits, "repeats": repeats, "stratified": stratified,
        "test_train_ratio": ratio, "fold_sizes": [len(te) for _, te in folds[:n_splits]],
        "metrics": [m.to_dict() for m in registry.values()],
        "summary": summary, "best": best,
    }, strict=True)


def _perf_html(perf: PerformanceResult, p: ProblemResult) -> str:
    metrics = [m.name for m in perf.metrics or []] or headline_metrics(p)
    metrics = [m for m in metrics if any(m in c.metrics for c in p.candidates)]
    if not metrics:
        return ""
    heads = ["model"]
    for m in metrics:
        title, hib, _ = metric_meta(m)
        heads.append(title + ("" if hib is None else (" ↑" if hib else " ↓")))
    best = {m: best_of(p, m) for m in metrics}
    rows = []
    for c in p.candidates:
        row = [(esc(c.label or c.name), "")]
        for m in metrics:
            mean, sd = mean_sd(c.metrics.get(m, []))
            cell = ("–" if not math.isfinite(mean)
                    else f"{mean:.4f} <span class='sd'>± {sd:.4f}</span>")
            row.append((cell, "num best" if c.name in best[m] else "num"))
        rows.append(row)
    out = []
    if perf.folds:
        out.append(f"<p>{esc(perf.folds)}. Mean ± standard deviation over the folds; "
                   "↑ higher is better, ↓ lower is better; best in green.</p>")
    out.append(html_table(heads, rows))
    out.append(tuning_html(p))
    lines = key_verdicts(p)
    if lines:
        out.append("<h4>Is the difference real?</h4>" + sentences(lines))
    if p.comparisons:
        crow = [[(esc(metric_meta(c.metric)[0]), ""),
                 (esc(f"{cand_label(p, c.a)} − {cand_label(p, c.b)}"), ""),
                 num_cell(c.diff), (esc(f"[{fmt_value(c.ci_low)}, {fmt_value(c.ci_high)}]"),
                                     "num"),
                 num_cell(c.p_value), num_cell(c.p_adjusted),
                 (esc((c.conclusion or "").replace("_", " ")), "")]
                for c in p.comparisons]
        method = p.comparisons[0].method
        out.append(f"<details><summary>All {len(p.comparisons)} paired comparisons</summary>"
                   f"<p class='sub'>{esc(method)}; Holm's correction over all "
                   f"{len(p.comparisons)} tests gives the adjusted p, and a difference is "
                   "called real only when the adjusted p is below 0.05.</p>"
                   + html_table(["metric", "difference of", "mean", "95% CI", "p",
                                 "Holm p", "verdict"], crow) + "</details>")
    described = [(metric_meta(m)[0], metric_meta(m)[2]) for m in metrics]
    if any(d for _, d in described):
        out.append("<details><summary>Metric definitions</summary><ul>" + "".join(
            f"<li><b>{esc(t)}</b>: {esc(d)}</li>" for t, d in described if d) + "</ul></details>")
    notes = [f"{c.label}: {n}" for c in p.candidates for n in c.notes]
    if notes:
        out.append("<details><summary>Warnings during the fits</summary>"
                   + sentences(notes) + "</details>")
    return "".join(out)


def draw_confusion(problem: ProblemResult) -> Figure:
    """Row-normalized confusion matrices (recall per true class), one panel per model.

    Reads ``visualization["confusion"]``: candidate -> K x K out-of-fold counts
    (rows true, columns predicted).
    """
    if problem.task == "multilabel":
        raise Skip("multi-label problems have no single confusion matrix: see the per-label "
                   "F1 and Brier bars instead")
    mats = per_model(problem.visualization.confusion, "confusion-matrix")
    names = problem.class_names
    k = len(names)
    if problem.task == "binary" and len(mats) > 1:
        # Every binary candidate is the same model (the K=2 section proves it): their
        # matrices differ by a handful of rows at most, so one panel per model would
        # repeat itself. Keep them all only when they actually differ.
        first = np.asarray(next(iter(mats.values())))
        if all(np.array_equal(first, np.asarray(m)) for m in mats.values()):
            mats = {next(iter(mats)): first}
    rows, cols = panel_grid(len(mats), 2 if k > 5 else 3)
    cell = 0.36 if k > 5 else 0.75
    side = max(2.5, cell * k + 1.3)
    fig = new_figure(min(side * cols + 0.9, 10.0), side * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    im = None
    for ax, (model, m) in zip(axes, mats.items()):
        m = np.asarray(m, dtype=np.float64)
        totals = m.sum(axis=1, keepdims=True)
        norm = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        acc = np.trace(m) / max(m.sum(), 1)
        same = " (all models)" if len(mats) == 1 and len(problem.candidates) > 1 else ""
        ax.set_title(wrap_title(f"{candidate_label(problem, model)}{same}")
                     + f"\naccuracy {acc:.1%}")
        ticks = np.arange(k)
        wide = max(len(str(n)) for n in names) > 3 and k > 3
        ax.set_xticks(ticks, short_names(names, 8 if k > 5 else 11), rotation=45 if wide else 0,
                      ha="right" if wide else "center")
        ax.set_yticks(ticks, short_names(names, 12))
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        fs = 6.5 if k > 8 else 8
        for i in range(k):
            for j in range(k):
                v = norm[i, j]
                if v >= 0.005 or i == j:
                    ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=fs,
                            color="white" if v > 0.6 else "#222")
    for ax in axes[len(mats):]:
        ax.set_visible(False)
    if im is not None:
        bar = fig.colorbar(im, ax=list(axes[: len(mats)]), shrink=0.6,
                           label="share of the true class")
        bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    return fig


def draw_reliability(problem: ProblemResult) -> Figure:
    """Reliability diagrams: observed frequency against predicted probability.

    Reads ``visualization["reliability"]``: candidate -> reliability bins
    (``edges``, ``count``, ``mean_confidence``, ``frequency``).
    """
    curves = per_model(problem.visualization.reliability, "calibration")
    fig = new_figure(7.4, 3.9)
    ax, axh = fig.subplots(1, 2, width_ratios=[1.15, 1])
    ax.plot([0, 1], [0, 1], ls="--", color="#888", lw=1, label="perfectly calibrated")
    for i, (model, b) in enumerate(curves.items()):
        conf = series(b.get("mean_confidence"))
        freq = series(b.get("frequency"))
        ok = np.isfinite(conf) & np.isfinite(freq)
        color = model_color(model, i)
        ax.plot(conf[ok], freq[ok], marker="o", ms=3.5, lw=1.5, color=color,
                label=candidate_label(problem, model))
        edges = np.asarray(b.get("edges", np.linspace(0, 1, len(conf) + 1)), dtype=np.float64)
        count = series(b.get("count"))
        if len(edges) == len(count) + 1 and np.nansum(count) > 0:
            axh.stairs(count / np.nansum(count), edges, color=color, lw=1.4,
                       label=candidate_label(problem, model))
    what = ("label probability" if problem.task == "multilabel"
            else "probability of the predicted class")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"predicted {what}", ylabel="observed frequency",
           title="Reliability (out-of-fold)")
    ax.set_aspect("equal")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2,
               frameon=False, fontsize=7)
    axh.set(xlim=(0, 1), xlabel=f"predicted {what}", ylabel="share of predictions",
            title="How often each probability is predicted")
    axh.set_yscale("log")
    axh.yaxis.set_major_locator(LogLocator(base=10))
    axh.yaxis.set_minor_formatter(NullFormatter())
    return fig


def draw_per_label(problem: ProblemResult) -> Figure:
    """Per-label F1 and Brier score of each model (multi-label problems).

    Reads the per-label metric keys ``"f1:<label>"`` and ``"brier:<label>"``
    of each candidate (one value per fold; the bar is the mean).
    """
    if problem.task != "multilabel":
        raise Skip("per-label views apply to multi-label problems only", quiet=True)
    labels = problem.class_names
    families = [("f1", "F1 per label (higher is better)"),
                ("brier", "Brier score per label (lower is better)")]
    fig = new_figure(7.6, 3.5)
    axes = fig.subplots(1, len(families))
    n_models = len(problem.candidates)
    width = 0.8 / max(n_models, 1)
    x = np.arange(len(labels))
    drew = False
    for ax, (family, title) in zip(axes, families):
        for i, cand in enumerate(problem.candidates):
            vals = np.array([np.mean(cand.metrics[f"{family}:{lab}"])
                             if f"{family}:{lab}" in cand.metrics else np.nan
                             for lab in labels])
            if np.all(np.isnan(vals)):
                continue
            drew = True
            ax.bar(x + (i - (n_models - 1) / 2) * width, vals, width,
                   color=model_color(cand.name, i), label=cand.label)
        ax.set_xticks(x, short_names(labels, 11), rotation=35, ha="right")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    if not drew:
        raise Skip("no per-label metrics in this result")
    axes[0].set_ylim(0, 1)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2,
               frameon=False, fontsize=7)
    return fig


class Performance(Section):
    """Held-out scores on the same folds for every candidate, and paired tests."""

    id = "performance"
    aliases = ("perf",)
    title = "Performance"
    question = "Which model predicts better?"
    lead = ("Held-out scores on the same cross-validation folds for every model, and a paired "
            "test of each difference: a gap smaller than the fold-to-fold noise is no gap.")
    result_type = PerformanceResult
    figures = (
        FigureSpec("confusion", "performance", "Confusion matrices",
                   "Out-of-fold predictions. Each row is a true class, normalized to 100%: the "
                   "diagonal is the recall of that class, off-diagonal cells show which classes "
                   "get confused with which.", draw_confusion),
        FigureSpec("reliability", "performance", "Calibration",
                   "Left: when a model says p, is it right a fraction p of the time? Points on "
                   "the diagonal are calibrated. Right: how often each probability is predicted "
                   "(log scale).", draw_reliability),
        FigureSpec("validation_curves", "performance", "Each model's own C",
                   "Validation log-loss against C of each model that picks its own C (inner "
                   "folds on all rows; band: one standard error). Filled dot: the chosen C; "
                   "open circle: the one-standard-error choice (the strongest penalty within "
                   "one standard error of the best). A curve ends where its early-stopped "
                   "paths did.", draw_validation_curves),
        FigureSpec("per_label", "performance", "Per-label scores",
                   "Each label scored on its own, averaged over folds: one group of bars per "
                   "label, one bar per model.", draw_per_label),
    )

    def units(self, run: StudyRun) -> int:
        return run.n_folds * run.repeats * len(run.specs)

    def compute(self, run: StudyRun) -> PerformanceResult:
        return _performance(run)

    def render_html(self, result: PerformanceResult, problem: ProblemResult) -> str:
        return _perf_html(result, problem)

    def render_terminal(self, result: PerformanceResult, problem: ProblemResult) -> list[Any]:
        return _perf_terminal(problem)


#: Metrics in the terminal table (the HTML report shows them all).
_TERMINAL_METRICS = ("accuracy", "log_loss", "ece", "macro_f1", "subset_accuracy",
                     "hamming_loss")


def _perf_terminal(p: ProblemResult) -> list[Any]:
    """The terminal's performance table and the paired verdicts on the key metrics."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    out: list[Any] = []
    metrics = [m for m in headline_metrics(p) if m in _TERMINAL_METRICS]
    if metrics and p.candidates:
        n_folds = max((len(v) for c in p.candidates for v in c.metrics.values()), default=0)
        t = Table(title=f"Performance: held-out, mean ± sd over {n_folds} folds",
                  box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
        t.add_column("model")
        for m in metrics:
            title, hib, _ = metric_meta(m)
            t.add_column(title + ("" if hib is None else (" ↑" if hib else " ↓")),
                         justify="right")
        best = {m: best_of(p, m) for m in metrics}
        for c in p.candidates:
            cells = []
            for m in metrics:
                mean, sd = mean_sd(c.metrics.get(m, []))
                cell = "–" if not math.isfinite(mean) else f"{mean:.4f} ±{sd:.3f}"
                cells.append(f"[bold green]{cell}[/]" if c.name in best[m] else cell)
            t.add_row(escape(c.label or c.name), *cells)
        out.append(t)
    for line in key_verdicts(p, ("log_loss", "accuracy", "subset_accuracy")):
        out.append(f"  • {escape(line)}")
    return out
