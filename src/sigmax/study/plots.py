"""Figures of the study, drawn from the plain data in a :class:`ProblemResult`.

Each figure is one entry of :data:`FIGURES`: an id, the report section it
belongs to (one per user question), a caption, and a ``draw`` function taking a
:class:`~sigmax.study.result.ProblemResult` and returning a matplotlib
:class:`~matplotlib.figure.Figure`. A draw function raises :class:`Skip` with
a sentence when the problem has nothing to draw (no K = 3 simplex for a
10-class problem, no co-occurrence for exclusive classes); the report shows
that sentence instead of a blank.

Figures are built with the object-oriented API on an Agg canvas (no pyplot,
no global figure state), so drawing never opens a window and is safe in
threads and on headless machines.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter, PercentFormatter

from .result import CandidateResult, ProblemResult

__all__ = ["FIGURES", "FigureSpec", "RenderedFigure", "Skip", "draw_figures", "figure_to_png"]

#: Resolution of the PNGs: 7 in wide figures become ~900 px, sharp on a laptop
#: screen in a 1000 px column and still small files.
DPI = 130

#: One colour per candidate model, the same in every figure (colour-blind safe,
#: Okabe & Ito 2008).
MODEL_COLORS: dict[str, str] = {
    "logistic": "#0072B2", "softmax": "#D55E00", "ovr": "#009E73", "multilabel": "#0072B2",
    "powerset": "#CC79A7", "powerset_ovr": "#009E73", "multitask": "#E69F00",
    "mixed": "#000000",
}
_FALLBACK = ["#56B4E9", "#999999", "#882255", "#44AA99", "#117733", "#332288"]
#: Class colours (tab10, then tab20 beyond ten classes).
_STYLE = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": False, "figure.dpi": DPI,
    "savefig.dpi": DPI, "font.family": "DejaVu Sans",
}


class Skip(Exception):
    """Raised by a draw function: nothing to draw for this problem, and why.

    ``quiet=True`` marks a figure that does not apply to this kind of problem
    at all (per-label bars of a binary problem): the report leaves it out
    instead of printing the reason.
    """

    def __init__(self, reason: str, *, quiet: bool = False) -> None:
        super().__init__(reason)
        self.quiet = quiet


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure.

    Attributes
    ----------
    id : str
        File stem (``figures/<dataset>-<id>.png``) and key in ``ProblemResult.figures``.
    section : str
        Report section id (see :data:`sigmax.study.render.SECTIONS`).
    title : str
    caption : str
        What to look at, in one or two sentences.
    draw : callable
        ``draw(problem) -> Figure``; raises :class:`Skip` when not applicable.
    """

    id: str
    section: str
    title: str
    caption: str
    draw: Callable[[ProblemResult], Figure]


@dataclass(frozen=True)
class RenderedFigure:
    """A drawn figure: PNG bytes and its spec (or the reason it was skipped)."""

    spec: FigureSpec
    png: bytes | None
    skipped: str | None = None
    quiet: bool = False


# -- helpers ------------------------------------------------------------------------------
def model_color(name: str, index: int = 0) -> str:
    """The colour of a candidate model (stable across figures)."""
    return MODEL_COLORS.get(name, _FALLBACK[index % len(_FALLBACK)])


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_to_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig`` (no timestamp metadata, so reruns give the same file)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None},
                facecolor="white")
    return buf.getvalue()


def _candidate(problem: ProblemResult, name: str) -> CandidateResult | None:
    return next((c for c in problem.candidates if c.name == name), None)


def _label(problem: ProblemResult, name: str) -> str:
    c = _candidate(problem, name)
    return c.label if c is not None and c.label else name


def _class_colors(k: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


def _short(names: Sequence[str], width: int = 10) -> list[str]:
    return [n if len(n) <= width else n[: width - 1] + "…" for n in map(str, names)]


def _per_model(data: Any, what: str) -> dict[str, Any]:
    """``{model: payload}`` from a dict keyed by model (skip bookkeeping keys)."""
    if not isinstance(data, dict) or not data:
        raise Skip(f"no {what} data in this result")
    out = {k: v for k, v in data.items() if isinstance(v, (dict, list))}
    if not out:
        raise Skip(f"no {what} data in this result")
    return out


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    """(rows, cols) for n panels, at most max_cols wide, rows as full as possible."""
    rows = math.ceil(n / max_cols)
    return rows, math.ceil(n / rows)


def _wrap(text: str, width: int = 36) -> str:
    """A panel title on as many lines as it needs (model names can be long)."""
    import textwrap

    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


# -- Performance ----------------------------------------------------------------------------
def draw_confusion(problem: ProblemResult) -> Figure:
    """Row-normalized confusion matrices (recall per true class), one panel per model.

    Reads ``visualization["confusion"]``: candidate -> K x K out-of-fold counts
    (rows true, columns predicted).
    """
    if problem.task == "multilabel":
        raise Skip("multi-label problems have no single confusion matrix: see the per-label "
                   "F1 and Brier bars instead")
    mats = _per_model(problem.visualization.get("confusion"), "confusion-matrix")
    names = problem.class_names
    k = len(names)
    if problem.task == "binary" and len(mats) > 1:
        # Every binary candidate is the same model (the K=2 section proves it): their
        # matrices differ by a handful of rows at most, so one panel per model would
        # repeat itself. Keep them all only when they actually differ.
        first = np.asarray(next(iter(mats.values())))
        if all(np.array_equal(first, np.asarray(m)) for m in mats.values()):
            mats = {next(iter(mats)): first}
    rows, cols = _grid(len(mats), 2 if k > 5 else 3)
    cell = 0.36 if k > 5 else 0.75
    side = max(2.5, cell * k + 1.3)
    fig = _new_figure(min(side * cols + 0.9, 10.0), side * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    im = None
    for ax, (model, m) in zip(axes, mats.items()):
        m = np.asarray(m, dtype=np.float64)
        totals = m.sum(axis=1, keepdims=True)
        norm = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        acc = np.trace(m) / max(m.sum(), 1)
        same = " (all models)" if len(mats) == 1 and len(problem.candidates) > 1 else ""
        ax.set_title(_wrap(f"{_label(problem, model)}{same}") + f"\naccuracy {acc:.1%}")
        ticks = np.arange(k)
        wide = max(len(str(n)) for n in names) > 3 and k > 3
        ax.set_xticks(ticks, _short(names, 8 if k > 5 else 11), rotation=45 if wide else 0,
                      ha="right" if wide else "center")
        ax.set_yticks(ticks, _short(names, 12))
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
    curves = _per_model(problem.visualization.get("reliability"), "calibration")
    fig = _new_figure(7.4, 3.9)
    ax, axh = fig.subplots(1, 2, width_ratios=[1.15, 1])
    ax.plot([0, 1], [0, 1], ls="--", color="#888", lw=1, label="perfectly calibrated")
    for i, (model, b) in enumerate(curves.items()):
        conf = _series(b.get("mean_confidence"))
        freq = _series(b.get("frequency"))
        ok = np.isfinite(conf) & np.isfinite(freq)
        color = model_color(model, i)
        ax.plot(conf[ok], freq[ok], marker="o", ms=3.5, lw=1.5, color=color,
                label=_label(problem, model))
        edges = np.asarray(b.get("edges", np.linspace(0, 1, len(conf) + 1)), dtype=np.float64)
        count = _series(b.get("count"))
        if len(edges) == len(count) + 1 and np.nansum(count) > 0:
            axh.stairs(count / np.nansum(count), edges, color=color, lw=1.4,
                       label=_label(problem, model))
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
    fig = _new_figure(7.6, 3.5)
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
        ax.set_xticks(x, _short(labels, 11), rotation=35, ha="right")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    if not drew:
        raise Skip("no per-label metrics in this result")
    axes[0].set_ylim(0, 1)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2,
               frameon=False, fontsize=7)
    return fig


# -- Computational requirements ------------------------------------------------------------
def draw_k_sweep(problem: ProblemResult) -> Figure:
    """Time per gradient evaluation and per fit against the number of classes K.

    Reads ``computation["k_sweep"]``: ``ks`` and ``models`` -> model ->
    ``grad_seconds`` / ``fit_seconds`` (one value per K).
    """
    sweep = problem.computation.get("k_sweep")
    if not isinstance(sweep, dict) or len(sweep.get("ks") or []) < 2:
        raise Skip("no K sweep in this result (it needs at least two values of K)")
    K = np.asarray(sweep["ks"], dtype=np.float64)
    models = sweep.get("models") or {}
    names = {"softmax": "softmax (one K-way model)", "ovr": "one-vs-rest (K sigmoids)"}
    fig = _new_figure(7.6, 3.4)
    ax1, ax2 = fig.subplots(1, 2)
    for i, (model, r) in enumerate(models.items()):
        color = model_color(model, i)
        g = _series(r.get("grad_seconds")) * 1e3
        f = _series(r.get("fit_seconds")) * 1e3
        ax1.plot(K[: len(g)], g, marker="o", ms=3.5, lw=1.6, color=color,
                 label=names.get(model, model))
        ax2.plot(K[: len(f)], f, marker="o", ms=3.5, lw=1.6, color=color,
                 label=names.get(model, model))
    # A guide through the first point, proportional to K: linear cost is a straight
    # line through the origin on these linear axes.
    g0 = [(_series(r.get("grad_seconds")) * 1e3)[0] for r in models.values()
          if r.get("grad_seconds")]
    if g0 and np.isfinite(g0[0]):
        ax1.plot(K, g0[0] * K / K[0], ls=":", color="#888", lw=1, label="∝ K")
    for ax in (ax1, ax2):
        ax.set_xlabel("number of classes K")
        ax.set_xticks(K, [str(int(k)) for k in K])
        ax.set_xlim(0, K[-1] * 1.05)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    n, d = sweep.get("n_rows"), sweep.get("n_features")
    ax1.set_ylabel("ms per value + gradient")
    ax1.set_title(f"One gradient evaluation (n={n}, d={d})")
    ax2.set_ylabel("ms per fit (L-BFGS)")
    ax2.set_title("One full fit")
    ax1.legend(frameon=False, fontsize=7)
    return fig


def _series(values: Sequence[Any] | None) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in (values or [])], dtype=np.float64)


def draw_loss_curves(problem: ProblemResult) -> Figure:
    """Objective gap and gradient norm per iteration of each model's fit on all rows.

    Reads ``CandidateResult.history`` (``iteration``, ``objective``, ``grad_norm``).
    A history without ``grad_norm`` comes from a stochastic solver on a
    non-convex model (the shared trunk): the best value it reached is no
    minimum, so a "gap" to it would be an artefact; such models are named
    under the plot instead.
    """
    with_hist = [c for c in problem.candidates if len(c.history.get("objective") or []) >= 2]
    cands = [c for c in with_hist if c.history.get("grad_norm")]
    if not cands:
        raise Skip("no per-iteration history of a deterministic solver in this result")
    left_out = [c.label for c in with_hist if c not in cands]
    fig = _new_figure(7.6, 3.3 + 0.2 * bool(left_out))
    ax1, ax2 = fig.subplots(1, 2)
    if left_out:
        fig.suptitle("Not shown (stochastic training, no optimality gap): "
                     + "; ".join(left_out), fontsize=7.5, color="#555")
    for i, c in enumerate(cands):
        obj = _series(c.history.get("objective"))
        it = _series(c.history.get("iteration")) if c.history.get("iteration") else np.arange(
            len(obj), dtype=np.float64)
        # Gap to the best value the run reached; the last point is 0 by
        # construction, so it is drawn at a floor near float64 resolution.
        best = np.nanmin(obj)
        floor = max(np.finfo(np.float64).eps * max(abs(best), 1.0), 1e-300)
        gap = np.maximum(obj - best, floor)
        color = model_color(c.name, i)
        solver = c.params.get("solver")
        label = f"{c.label}" + (f" [{solver}]" if solver else "")
        # Identical models give identical curves (binary: logistic = softmax at C/2):
        # distinct dashes keep each visible.
        ls = ("-", "--", ":", "-.")[i % 4]
        mark = "." if len(obj) <= 60 else None
        ax1.plot(it, gap, lw=1.6, ls=ls, marker=mark, ms=4, color=color, label=label)
        g = _series(c.history.get("grad_norm"))
        if len(g):
            ax2.plot(it[: len(g)], np.maximum(g, 1e-300), lw=1.2, ls=ls, marker=mark, ms=4,
                     color=color, label=label)
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3, which="major")
    ax1.set_ylabel("f(w_t) − min f")
    ax1.set_title("Objective gap")
    ax2.set_ylabel("‖∇f(w_t)‖∞")
    ax2.set_title("Gradient norm")
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncols=2,
               frameon=False, fontsize=7)
    return fig


# -- Minima -------------------------------------------------------------------------------
def _minima_label(m: dict[str, Any]) -> str:
    name = {"ovr": "one-vs-rest", "multilabel": "sigmoids"}.get(m.get("model"), m.get("model"))
    par = m.get("parameterization")
    par = f", {par}" if par and par != "symmetric" else ""
    pen = "no penalty" if m.get("penalty") in (None, "none") else f"L2, C={m.get('C'):g}"
    return f"{name}{par} ({pen})"


def draw_hessian_spectrum(problem: ProblemResult) -> Figure:
    """Sorted eigenvalues of the Hessian at the optimum of each model x penalty.

    Reads ``minima["models"]``: entries with ``model``, ``parameterization``,
    ``penalty``, ``eigenvalues``, ``threshold``, ``n_flat``.
    """
    models = [m for m in problem.minima.get("models") or [] if m.get("eigenvalues")]
    if not models:
        skipped = [m.get("skipped") for m in problem.minima.get("models") or []
                   if m.get("skipped")]
        raise Skip(skipped[0] if skipped else "no Hessian spectrum in this result")
    fig = _new_figure(7.6, 3.6)
    ax = fig.subplots()
    styles = {"symmetric": "-", "reference": "--", None: "-"}
    palette = {"softmax": ["#D55E00", "#E69F00", "#CC79A7"],
               "other": ["#0072B2", "#56B4E9", "#009E73"]}
    used = {"softmax": 0, "other": 0}
    eps = np.finfo(np.float64).eps
    thr = []
    for m in models:
        ev = np.sort(np.abs(_series(m["eigenvalues"])))
        fam = "softmax" if m.get("model") == "softmax" else "other"
        color = palette[fam][used[fam] % 3]
        used[fam] += 1
        ls = styles.get(m.get("parameterization"), "-")
        if m.get("penalty") not in (None, "none"):
            ls = ":"
        idx = np.arange(1, len(ev) + 1)
        ax.plot(idx, np.maximum(ev, eps * 1e-2), ls=ls, marker="o", ms=3, lw=1.3, color=color,
                label=f"{_minima_label(m)}: {m.get('n_flat', '?')} flat")
        if m.get("threshold"):
            thr.append(float(m["threshold"]))
    if thr:
        t = max(thr)
        ax.axhspan(eps * 1e-3, t, color="#f3e0d6", alpha=0.6, lw=0)
        ax.text(1, t, " zero (flat) below this line", va="bottom", fontsize=7, color="#8a3b12")
    ax.set_yscale("log")
    ax.set_ylim(bottom=eps * 1e-2)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("eigenvalue index (sorted)")
    ax.set_ylabel("|eigenvalue| of the Hessian")
    sub = problem.minima.get("subproblem") or {}
    nf = sub.get("n_features")
    where = (f" ({sub.get('n_rows')} rows, {nf} feature{'s' if nf != 1 else ''})"
             if sub.get("n_rows") else "")
    ax.set_title(f"Hessian spectrum at the minimum{where}")
    ax.grid(alpha=0.3, which="major")
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    return fig


# -- Visualization --------------------------------------------------------------------------
def draw_decision_regions(problem: ProblemResult) -> Figure:
    """Predictions over the plane of the first two principal components, data on top.

    Reads ``visualization["pca"]``: ``points`` (``x``, ``y``, ``label`` or
    ``labels``), ``grid`` (``x``, ``y``, ``predictions``: candidate ->
    ``{"class", "confidence"}`` (g x g) or ``{"proba": label -> g x g}``,
    ``fit_score``), ``explained_variance_ratio``.
    """
    pca = problem.visualization.get("pca")
    if not isinstance(pca, dict) or "grid" not in pca or "points" not in pca:
        raise Skip("no 2-D projection in this result")
    grid = pca["grid"]
    preds = {k: v for k, v in (grid.get("predictions") or {}).items()
             if isinstance(v, dict) and ("class" in v or "proba" in v)}
    if not preds:
        raise Skip("no decision-region predictions in this result")
    gx, gy = _series(grid["x"]), _series(grid["y"])
    px, py = _series(pca["points"]["x"]), _series(pca["points"]["y"])
    evr = _series(pca.get("explained_variance_ratio"))
    names = problem.class_names
    k = len(names)
    colors = _class_colors(k)
    rows, cols = _grid(len(preds), 3)
    fig = _new_figure(min(10.0, 3.15 * cols + 1.5), 3.0 * rows + 0.35)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
                         ).ravel()
    extent = (gx[0], gx[-1], gy[0], gy[-1])
    score = grid.get("fit_score") or {}
    for ax, (model, pr) in zip(axes, preds.items()):
        if "class" in pr:
            cls = np.asarray(pr["class"], dtype=np.intp)
            conf = np.asarray(pr.get("confidence", np.ones(cls.shape)), dtype=np.float64)
            rgba = np.asarray([colors[c] for c in cls.ravel()]).reshape(*cls.shape, 4)
            # Opacity grows with confidence: faint where the model hesitates.
            lo = 1.0 / k
            rgba[..., 3] = 0.12 + 0.5 * np.clip((conf - lo) / (1 - lo), 0, 1)
            ax.imshow(rgba, origin="lower", extent=extent, aspect="auto",
                      interpolation="nearest")
            # One contour per class indicator: a boundary between classes 0 and 6 is
            # one line, not the six level crossings a contour of the codes would draw.
            for c_ in np.unique(cls):
                ax.contour(gx, gy, (cls == c_).astype(float), levels=[0.5], colors="#333",
                           linewidths=0.6)
            lab = np.asarray(pca["points"].get("label", []), dtype=np.intp)
            c = [colors[v] for v in lab] if len(lab) == len(px) else "#333"
            ax.scatter(px, py, c=c, s=7, edgecolors="white", linewidths=0.3)
        else:
            for j, name in enumerate(names):
                P = np.asarray(pr["proba"].get(name, []), dtype=np.float64)
                if P.ndim != 2:
                    continue
                ax.contourf(gx, gy, P, levels=[0.5, 1.01], colors=[colors[j]], alpha=0.13)
                ax.contour(gx, gy, P, levels=[0.5], colors=[colors[j]], linewidths=1.3)
            ax.scatter(px, py, c="#555", s=4, alpha=0.5, edgecolors="none")
        s = score.get(model)
        ax.set_title(_wrap(_label(problem, model))
                     + (f"\n2-D refit: {s:.0%} {'labels' if 'proba' in pr else 'rows'} right"
                        if isinstance(s, (int, float)) else ""))
        ax.set_xlabel("PC1" + (f" ({evr[0]:.0%} of variance)" if len(evr) > 0 else ""))
        ax.set_ylabel("PC2" + (f" ({evr[1]:.0%})" if len(evr) > 1 else ""))
    for ax in axes[len(preds):]:
        ax.set_visible(False)
    handles = [axes[0].scatter([], [], color=colors[i], s=14, label=str(n))
               for i, n in enumerate(_short(names, 12))]
    fig.legend(handles=handles, loc="outside right center", frameon=False,
               title="p > 1/2 for" if problem.task == "multilabel" else "class")
    return fig


_SIMPLEX_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])


def draw_simplex(problem: ProblemResult) -> Figure:
    """Out-of-fold predicted probabilities of three classes as points in a triangle.

    Reads ``visualization["simplex"]``: ``classes`` (3 names),
    ``conditional`` (K > 3: rows of 3 classes, renormalized), ``candidates``
    -> ``{"p": [[p0, p1, p2], ...], "y": [...]}``.
    """
    simplex = problem.visualization.get("simplex")
    if not isinstance(simplex, dict) or not simplex.get("candidates"):
        if problem.task == "multilabel":
            raise Skip("label probabilities of a multi-label model do not sum to one, so "
                       "they do not live in a simplex")
        if problem.task == "binary":
            raise Skip("with K = 2 the simplex is a segment: p(class 1) alone says it all "
                       "(see the reliability diagram)")
        raise Skip("no simplex data in this result")
    cands = _per_model(simplex["candidates"], "simplex")
    names = simplex.get("classes") or problem.class_names[:3]
    colors = _class_colors(3)
    n = len(cands)
    fig = _new_figure(min(10.0, 3.1 * n + 0.3), 3.3)
    axes = np.atleast_1d(fig.subplots(1, n))
    tri = np.vstack([_SIMPLEX_CORNERS, _SIMPLEX_CORNERS[:1]])
    centre = _SIMPLEX_CORNERS.mean(axis=0)
    for ax, (model, data) in zip(axes, cands.items()):
        P = np.asarray(data.get("p", []), dtype=np.float64)
        y = np.asarray(data.get("y", []), dtype=np.intp)
        ax.fill(tri[:, 0], tri[:, 1], color="#fafafa", lw=0)
        ax.plot(tri[:, 0], tri[:, 1], color="#444", lw=1)
        # Argmax boundaries: from the centre to the midpoint of each edge.
        for a in range(3):
            mid = 0.5 * (_SIMPLEX_CORNERS[a] + _SIMPLEX_CORNERS[(a + 1) % 3])
            ax.plot([centre[0], mid[0]], [centre[1], mid[1]], color="#aaa", lw=0.8, ls="--")
        if P.ndim == 2 and P.shape[1] == 3:
            xy = P @ _SIMPLEX_CORNERS
            c = [colors[v] for v in y] if len(y) == len(P) else "#333"
            ax.scatter(xy[:, 0], xy[:, 1], c=c, s=9, alpha=0.7, edgecolors="none")
        for (x, yy), name, va in zip(_SIMPLEX_CORNERS, names, ("top", "top", "bottom")):
            ax.text(x, yy + (-0.05 if va == "top" else 0.04), _short([name], 14)[0],
                    ha="center", va=va, fontsize=8, color="#222")
        ax.set_title(_wrap(_label(problem, model), 30))
        ax.set_aspect("equal")
        ax.set_xlim(-0.15, 1.15)
        ax.set_ylim(-0.16, 1.0)
        ax.axis("off")
    if simplex.get("conditional"):
        fig.suptitle(f"Rows of the 3 most frequent of {problem.n_classes} classes, "
                     "probabilities renormalized over them", fontsize=8, color="#555")
    return fig


def draw_cooccurrence(problem: ProblemResult) -> Figure:
    """Label co-occurrence: P(column label | row label), with label counts.

    Reads ``visualization["labels"]["cooccurrence"]`` (L x L row counts,
    counts on the diagonal).
    """
    if problem.task != "multilabel":
        raise Skip("the classes are exclusive: no two co-occur", quiet=True)
    labels_info = problem.visualization.get("labels") or {}
    co = labels_info.get("cooccurrence")
    if co is None:
        co = (problem.advice.get("label_structure") or {}).get("cooccurrence")
    if co is None:
        raise Skip("no co-occurrence data in this result")
    counts = np.asarray(co, dtype=np.float64)
    labels = labels_info.get("names") or problem.class_names
    diag = np.diag(counts).copy()
    cond = np.divide(counts, diag[:, None], out=np.zeros_like(counts), where=diag[:, None] > 0)
    n = len(labels)
    shown = cond.copy()
    np.fill_diagonal(shown, np.nan)
    top = max(0.05, float(np.nanmax(shown))) if n > 1 else 1.0
    fig = _new_figure(max(4.4, 0.6 * n + 2.6), max(3.6, 0.5 * n + 1.7))
    ax = fig.subplots()
    im = ax.imshow(shown, cmap="Purples", vmin=0, vmax=top)
    for i in range(n):
        for j in range(n):
            if i == j:
                ax.text(j, i, f"n={int(diag[i])}", ha="center", va="center", fontsize=6.5,
                        color="#555")
            else:
                v = cond[i, j]
                ax.text(j, i, "<1%" if 0 < v < 0.005 else f"{100 * v:.0f}%", ha="center",
                        va="center",
                        fontsize=7, color="white" if v > 0.6 * top else "#222")
    ax.set_xticks(range(n), _short(labels, 11), rotation=35, ha="right")
    ax.set_yticks(range(n), _short(labels, 11))
    ax.set_xlabel("… also carry this label")
    ax.set_ylabel("rows with this label …")
    ax.set_title("Labels co-occur: they are not exclusive classes")
    fig.colorbar(im, ax=ax, shrink=0.8, label="share of the row label's rows")
    return fig


#: Registry of figures, in report order within each section.
FIGURES: dict[str, FigureSpec] = {f.id: f for f in (
    FigureSpec("confusion", "performance", "Confusion matrices",
               "Out-of-fold predictions. Each row is a true class, normalized to 100%: the "
               "diagonal is the recall of that class, off-diagonal cells show which classes "
               "get confused with which.", draw_confusion),
    FigureSpec("reliability", "performance", "Calibration",
               "Left: when a model says p, is it right a fraction p of the time? Points on "
               "the diagonal are calibrated. Right: how often each probability is predicted "
               "(log scale).", draw_reliability),
    FigureSpec("per_label", "performance", "Per-label scores",
               "Each label scored on its own, averaged over folds: one group of bars per "
               "label, one bar per model.", draw_per_label),
    FigureSpec("k_sweep", "computation", "Cost against the number of classes",
               "Same rows and features, K planted classes: time of one value-and-gradient "
               "evaluation (left) and of a full L-BFGS fit (right). The dotted line grows "
               "proportionally to K.", draw_k_sweep),
    FigureSpec("loss_curves", "computation", "Convergence",
               "Each model's fit on all rows, per solver iteration (log scale): distance to "
               "the best objective reached, and the gradient's max-norm.", draw_loss_curves),
    FigureSpec("hessian_spectrum", "minima", "Hessian spectrum",
               "Eigenvalues of the Hessian at the minimum, smallest first (log scale). Those "
               "in the shaded band are zero to rounding: each is a direction along which the "
               "cost is flat, so the minimum is a valley, not a point. Dotted: with L2.",
               draw_hessian_spectrum),
    FigureSpec("decision_regions", "visualization", "Decision regions",
               "Each model refitted on the first two principal components of the "
               "standardized features. Single-label: colour is the predicted class, strong "
               "where the model is confident, dots are samples in their true class. "
               "Multi-label: one p = 1/2 boundary per label; regions overlap because labels "
               "can.", draw_decision_regions),
    FigureSpec("simplex", "visualization", "Probability simplex",
               "Each dot is one sample's out-of-fold (p1, p2, p3), coloured by its true "
               "class: corners are certainty, the centre is indifference, dashed lines are "
               "where the predicted class changes.", draw_simplex),
    FigureSpec("cooccurrence", "visualization", "Label co-occurrence",
               "Row label A, column label B: the share of rows carrying A that also carry B. "
               "Non-zero cells mean the labels are not exclusive, so one softmax over them "
               "cannot represent the data.", draw_cooccurrence),
)}


def draw_figures(problem: ProblemResult, ids: Sequence[str] | None = None
                 ) -> list[RenderedFigure]:
    """Draw every registered figure (or ``ids``) of one problem.

    Returns
    -------
    list of RenderedFigure
        In registry order; a figure with nothing to draw comes back with
        ``png=None`` and the reason in ``skipped``.
    """
    out = []
    with rc_context(_STYLE):
        for fid, spec in FIGURES.items():
            if ids is not None and fid not in ids:
                continue
            try:
                fig = spec.draw(problem)
            except Skip as why:
                out.append(RenderedFigure(spec, None, str(why), quiet=why.quiet))
                continue
            except (KeyError, ValueError, TypeError, IndexError) as exc:
                # A malformed section must not cost the whole report: say so.
                out.append(RenderedFigure(spec, None, f"could not draw ({type(exc).__name__}: "
                                                      f"{exc})"))
                continue
            out.append(RenderedFigure(spec, figure_to_png(fig)))
    return out
