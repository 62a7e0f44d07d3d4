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
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from .result import CandidateResult, ProblemResult

__all__ = ["FIGURES", "FigureSpec", "RenderedFigure", "Skip", "draw_figures", "figure_to_png"]

#: Resolution of the PNGs: 7 in wide figures become ~900 px, sharp on a laptop
#: screen in a 1000 px column and still small files.
DPI = 130

#: One colour per candidate model, the same in every figure (colour-blind safe,
#: Okabe & Ito 2008).
MODEL_COLORS: dict[str, str] = {
    "logistic": "#0072B2", "softmax": "#D55E00", "ovr": "#009E73", "multilabel": "#0072B2",
    "powerset": "#CC79A7", "mixed": "#E69F00", "multitask": "#56B4E9",
    "softmax_reference": "#F0E442",
}
_FALLBACK = ["#000000", "#999999", "#882255", "#44AA99", "#117733", "#332288"]
#: Class colours (tab10, then tab20 beyond ten classes).
_STYLE = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": False, "figure.dpi": DPI,
    "savefig.dpi": DPI, "font.family": "DejaVu Sans",
}


class Skip(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by a draw function: nothing to draw for this problem, and why."""


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
    cols = min(n, max_cols)
    return math.ceil(n / cols), cols


# -- Performance ----------------------------------------------------------------------------
def draw_confusion(problem: ProblemResult) -> Figure:
    """Row-normalized confusion matrices (recall per true class), one panel per model."""
    if problem.task == "multilabel":
        raise Skip("multi-label problems have no single confusion matrix: see the per-label "
                   "F1 and calibration bars instead")
    mats = _per_model(problem.visualization.get("confusion"), "confusion-matrix")
    names = problem.class_names
    k = len(names)
    rows, cols = _grid(len(mats), 2 if k > 5 else 3)
    cell = 0.42 if k > 5 else 0.9
    side = max(2.6, cell * k + 1.2)
    fig = _new_figure(side * cols + 0.6, side * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    im = None
    for ax, (model, m) in zip(axes, mats.items()):
        m = np.asarray(m, dtype=np.float64)
        totals = m.sum(axis=1, keepdims=True)
        norm = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
        im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        acc = np.trace(m) / max(m.sum(), 1)
        ax.set_title(f"{_label(problem, model)}\naccuracy {acc:.1%}")
        ticks = np.arange(k)
        ax.set_xticks(ticks, _short(names, 8), rotation=45 if k > 4 else 0,
                      ha="right" if k > 4 else "center")
        ax.set_yticks(ticks, _short(names, 12))
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        fs = 7 if k > 8 else 8
        for i in range(k):
            for j in range(k):
                v = norm[i, j]
                if v >= 0.005 or i == j:
                    ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=fs,
                            color="white" if v > 0.6 else "#222")
    for ax in axes[len(mats):]:
        ax.set_visible(False)
    if im is not None:
        fig.colorbar(im, ax=list(axes[: len(mats)]), shrink=0.6, label="share of true class")
    return fig


def draw_reliability(problem: ProblemResult) -> Figure:
    """Reliability diagrams: observed frequency against predicted probability."""
    curves = _per_model(problem.visualization.get("reliability"), "calibration")
    fig = _new_figure(7.0, 3.6)
    ax, axh = fig.subplots(1, 2, width_ratios=[1.25, 1])
    ax.plot([0, 1], [0, 1], ls="--", color="#888", lw=1, label="perfect calibration")
    for i, (model, b) in enumerate(curves.items()):
        conf = np.array([np.nan if v is None else v for v in b.get("mean_confidence", [])],
                        dtype=np.float64)
        freq = np.array([np.nan if v is None else v for v in b.get("frequency", [])],
                        dtype=np.float64)
        ok = np.isfinite(conf) & np.isfinite(freq)
        color = model_color(model, i)
        ax.plot(conf[ok], freq[ok], marker="o", ms=3.5, lw=1.5, color=color,
                label=_label(problem, model))
        edges = np.asarray(b.get("edges", np.linspace(0, 1, len(conf) + 1)))
        count = np.asarray(b.get("count", np.zeros(len(conf))), dtype=np.float64)
        if len(edges) == len(count) + 1 and count.sum() > 0:
            centers = 0.5 * (edges[:-1] + edges[1:])
            axh.step(centers, count / count.sum(), where="mid", color=color, lw=1.3,
                     label=_label(problem, model))
    what = ("label probability" if problem.task == "multilabel"
            else "confidence (probability of the predicted class)")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=f"predicted {what}", ylabel="observed frequency",
           title="Reliability diagram")
    ax.set_aspect("equal")
    ax.legend(loc="upper left", frameon=False)
    axh.set(xlim=(0, 1), xlabel="predicted probability", ylabel="share of predictions",
            title="How often each probability is predicted")
    axh.set_yscale("log")
    return fig


def draw_per_label(problem: ProblemResult) -> Figure:
    """Per-label F1 and Brier score of each model (multi-label problems)."""
    if problem.task != "multilabel":
        raise Skip("per-label views apply to multi-label problems only")
    labels = problem.class_names
    families = [("f1", "F1 (higher is better)"), ("brier", "Brier score (lower is better)")]
    fig = _new_figure(7.4, 3.4)
    axes = fig.subplots(1, len(families))
    n_models = len(problem.candidates)
    width = 0.8 / max(n_models, 1)
    x = np.arange(len(labels))
    drew = False
    for ax, (family, title) in zip(axes, families):
        for i, cand in enumerate(problem.candidates):
            vals = [np.mean(cand.metrics.get(f"{family}:{lab}", [np.nan])) for lab in labels]
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
    axes[0].legend(frameon=False, fontsize=7, loc="upper left")
    return fig


def draw_cooccurrence(problem: ProblemResult) -> Figure:
    """Label co-occurrence: P(column label | row label), with label frequencies."""
    if problem.task != "multilabel":
        raise Skip("classes are exclusive: no label co-occurs with another")
    co = problem.visualization.get("cooccurrence")
    if co is None:
        raise Skip("no co-occurrence data in this result")
    counts = np.asarray(co["counts"] if isinstance(co, dict) else co, dtype=np.float64)
    labels = problem.class_names
    diag = np.diag(counts).copy()
    cond = np.divide(counts, diag[:, None], out=np.zeros_like(counts), where=diag[:, None] > 0)
    n = len(labels)
    fig = _new_figure(max(4.2, 0.55 * n + 2.4), max(3.6, 0.5 * n + 1.6))
    ax = fig.subplots()
    shown = cond.copy()
    np.fill_diagonal(shown, np.nan)
    im = ax.imshow(shown, cmap="Purples", vmin=0, vmax=max(0.05, np.nanmax(shown)))
    for i in range(n):
        for j in range(n):
            if i == j:
                ax.text(j, i, f"n={int(diag[i])}", ha="center", va="center", fontsize=6.5,
                        color="#555")
            else:
                ax.text(j, i, f"{100 * cond[i, j]:.0f}%", ha="center", va="center",
                        fontsize=7, color="white" if cond[i, j] > 0.6 * np.nanmax(shown)
                        else "#222")
    ax.set_xticks(range(n), _short(labels, 11), rotation=35, ha="right")
    ax.set_yticks(range(n), _short(labels, 11))
    ax.set_xlabel("… also has this label")
    ax.set_ylabel("rows with this label …")
    ax.set_title("Labels overlap: not exclusive classes")
    fig.colorbar(im, ax=ax, shrink=0.8, label="share of rows")
    return fig


# -- Computational requirements ------------------------------------------------------------
def draw_k_sweep(problem: ProblemResult) -> Figure:
    """Time per gradient evaluation against the number of classes K."""
    sweep = problem.computation.get("k_sweep")
    if not isinstance(sweep, dict) or not sweep.get("K"):
        raise Skip("no K sweep in this result")
    K = np.asarray(sweep["K"], dtype=np.float64)
    series = sweep.get("seconds_per_grad") or sweep.get("seconds") or {}
    if not series:
        raise Skip("no K sweep timings in this result")
    fig = _new_figure(6.2, 3.4)
    ax = fig.subplots()
    for i, (model, secs) in enumerate(series.items()):
        s = np.asarray([np.nan if v is None else v for v in secs], dtype=np.float64) * 1e3
        ax.plot(K, s, marker="o", ms=3.5, lw=1.6, color=model_color(model, i),
                label=_label(problem, model) if _candidate(problem, model) else model)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("number of classes K")
    ax.set_ylabel("ms per gradient evaluation")
    n, d = sweep.get("n_samples"), sweep.get("n_features")
    shape = f" (n={n}, d={d})" if n and d else ""
    ax.set_title(f"Cost of one gradient evaluation grows ~linearly in K{shape}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(frameon=False)
    return fig


def _series(values: Sequence[Any] | None) -> np.ndarray:
    return np.asarray([np.nan if v is None else v for v in (values or [])], dtype=np.float64)


def draw_loss_curves(problem: ProblemResult) -> Figure:
    """Objective gap and gradient norm per iteration of each model's full-data fit."""
    cands = [c for c in problem.candidates if c.history.get("objective")]
    if not cands:
        raise Skip("no per-iteration history in this result")
    fig = _new_figure(7.4, 3.3)
    ax1, ax2 = fig.subplots(1, 2)
    for i, c in enumerate(cands):
        obj = _series(c.history.get("objective"))
        it = _series(c.history.get("iteration")) if c.history.get("iteration") else np.arange(
            len(obj), dtype=np.float64)
        # Gap to the best value this run reached: the last few points sit at
        # the float64 floor, so a tiny floor keeps the log scale finite.
        gap = obj - np.nanmin(obj)
        floor = max(1e-16, 1e-16 * abs(np.nanmin(obj)))
        color = model_color(c.name, i)
        ax1.plot(it, np.maximum(gap, floor), lw=1.6, color=color, label=c.label)
        g = _series(c.history.get("grad_norm"))
        if len(g):
            ax2.plot(it[: len(g)], np.maximum(g, 1e-300), lw=1.6, color=color, label=c.label)
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3, which="major")
    ax1.set_ylabel("f(w_t) − min f")
    ax1.set_title("Objective gap")
    ax2.set_ylabel("‖∇f(w_t)‖∞")
    ax2.set_title("Gradient norm")
    ax1.legend(frameon=False, fontsize=7)
    return fig


# -- Minima -------------------------------------------------------------------------------
def draw_hessian_spectrum(problem: ProblemResult) -> Figure:
    """Eigenvalues of the Hessian at the solution, sorted, on a log scale."""
    spec = problem.minima.get("spectrum") or problem.minima.get("hessian_spectrum")
    spectra = _per_model(spec, "Hessian spectrum")
    fig = _new_figure(6.6, 3.4)
    ax = fig.subplots()
    tiny = 1e-16
    for i, (model, ev) in enumerate(spectra.items()):
        if isinstance(ev, dict):
            ev = ev.get("eigenvalues", [])
        ev = np.sort(np.abs(_series(ev)))
        if not len(ev):
            continue
        ax.plot(np.arange(1, len(ev) + 1), np.maximum(ev, tiny), marker="o", ms=2.5, lw=1.2,
                color=model_color(model, i), label=_label(problem, model))
    ax.axhline(1e-10, color="#888", ls=":", lw=1)
    ax.text(1, 1e-10, " numerically zero below here", va="bottom", fontsize=7, color="#666")
    ax.set_yscale("log")
    ax.set_xlabel("eigenvalue index (sorted)")
    ax.set_ylabel("|eigenvalue| of the Hessian")
    ax.set_title("Hessian spectrum at the solution (no penalty): zeros are flat directions")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return fig


# -- Visualization --------------------------------------------------------------------------
def draw_decision_regions(problem: ProblemResult) -> Figure:
    """Predicted class over a 2-D projection of the features, with the data on top."""
    proj = problem.visualization.get("projection")
    if not isinstance(proj, dict) or "points" not in proj:
        raise Skip("no 2-D projection in this result")
    regions = _per_model(proj.get("regions"), "decision-region")
    pts = np.asarray(proj["points"], dtype=np.float64)
    labels = np.asarray(proj.get("labels", np.zeros(len(pts))))
    gx = np.asarray(proj["grid_x"], dtype=np.float64)
    gy = np.asarray(proj["grid_y"], dtype=np.float64)
    names = proj.get("class_names") or problem.class_names
    k = len(names)
    colors = _class_colors(k)
    cmap = ListedColormap(colors)
    rows, cols = _grid(len(regions), 3)
    fig = _new_figure(min(9.5, 3.2 * cols + 1.6), 3.1 * rows + 0.3)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
                         ).ravel()
    for ax, (model, reg) in zip(axes, regions.items()):
        R = np.asarray(reg, dtype=np.float64)
        ax.imshow(R, origin="lower", extent=(gx[0], gx[-1], gy[0], gy[-1]), cmap=cmap,
                  vmin=-0.5, vmax=k - 0.5, alpha=0.28, aspect="auto", interpolation="nearest")
        ax.contour(gx, gy, R, levels=np.arange(k) + 0.5, colors="#333", linewidths=0.6)
        ax.scatter(pts[:, 0], pts[:, 1], c=labels, cmap=cmap, vmin=-0.5, vmax=k - 0.5, s=7,
                   edgecolors="white", linewidths=0.25)
        ax.set_title(_label(problem, model))
        ax.set_xlabel(proj.get("xlabel", "component 1"))
        ax.set_ylabel(proj.get("ylabel", "component 2"))
    for ax in axes[len(regions):]:
        ax.set_visible(False)
    handles = [ax.scatter([], [], color=colors[i], s=14, label=str(n))
               for i, n in enumerate(_short(names, 12))]
    fig.legend(handles=handles, loc="outside right center", frameon=False,
               title="true label" if problem.task != "multilabel" else "label")
    return fig


_SIMPLEX_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])


def draw_simplex(problem: ProblemResult) -> Figure:
    """Predicted probabilities of a K = 3 problem as points in the triangle."""
    simplex = problem.visualization.get("simplex")
    if not isinstance(simplex, dict) or not simplex.get("proba"):
        if problem.task == "multiclass" and problem.n_classes == 3:
            raise Skip("no simplex data in this result")
        raise Skip(f"the probability simplex is a triangle only for K = 3 classes; this "
                   f"problem has K = {problem.n_classes}"
                   + (" labels that do not sum to one" if problem.task == "multilabel"
                      else "") + " (see iris in the default run)")
    probas = _per_model(simplex["proba"], "simplex")
    labels = np.asarray(simplex.get("labels", []))
    names = simplex.get("class_names") or problem.class_names
    colors = _class_colors(3)
    n = len(probas)
    fig = _new_figure(min(9.5, 3.1 * n + 0.4), 3.2)
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, (model, P) in zip(axes, probas.items()):
        P = np.asarray(P, dtype=np.float64)
        xy = P @ _SIMPLEX_CORNERS
        tri = np.vstack([_SIMPLEX_CORNERS, _SIMPLEX_CORNERS[:1]])
        ax.plot(tri[:, 0], tri[:, 1], color="#444", lw=1)
        # The three pairwise decision boundaries meet at the centre (1/3, 1/3, 1/3).
        centre = _SIMPLEX_CORNERS.mean(axis=0)
        for a in range(3):
            mid = 0.5 * (_SIMPLEX_CORNERS[a] + _SIMPLEX_CORNERS[(a + 1) % 3])
            ax.plot([centre[0], mid[0]], [centre[1], mid[1]], color="#aaa", lw=0.8, ls="--")
        c = [colors[int(v)] for v in labels] if len(labels) == len(P) else "#333"
        ax.scatter(xy[:, 0], xy[:, 1], c=c, s=9, alpha=0.75, edgecolors="none")
        for (x, y), name, va in zip(_SIMPLEX_CORNERS, names, ("top", "top", "bottom")):
            ax.text(x, y + (-0.04 if va == "top" else 0.04), str(name), ha="center", va=va,
                    fontsize=8)
        ax.set_title(_label(problem, model))
        ax.set_aspect("equal")
        ax.set_xlim(-0.12, 1.12)
        ax.set_ylim(-0.14, 1.0)
        ax.axis("off")
    return fig


#: Registry of figures, in report order within each section.
FIGURES: dict[str, FigureSpec] = {f.id: f for f in (
    FigureSpec("confusion", "performance", "Confusion matrices",
               "Each row is a true class, normalized to 100%: the diagonal is the recall of "
               "that class, off-diagonal cells show which classes get confused.",
               draw_confusion),
    FigureSpec("reliability", "performance", "Calibration",
               "Points on the diagonal mean that predicted probabilities match observed "
               "frequencies; the right panel shows how confident the models are.",
               draw_reliability),
    FigureSpec("per_label", "performance", "Per-label scores",
               "One group of bars per label: independent sigmoids (and other heads) per "
               "label, scored label by label.", draw_per_label),
    FigureSpec("k_sweep", "computation", "Cost against the number of classes",
               "Time of one value+gradient evaluation on synthetic data with the same n and "
               "d, as K grows.", draw_k_sweep),
    FigureSpec("loss_curves", "computation", "Convergence",
               "Objective gap and gradient norm per solver iteration of the fit on all the "
               "data (log scale): steeper is faster.", draw_loss_curves),
    FigureSpec("hessian_spectrum", "minima", "Hessian spectrum",
               "Eigenvalues of the unpenalized Hessian at the solution. Eigenvalues at zero "
               "are directions along which the cost is flat: a valley of minima, not one "
               "point.", draw_hessian_spectrum),
    FigureSpec("decision_regions", "visualization", "Decision regions",
               "The plane of the first two principal components of the features: shading "
               "is the predicted class, dots the true class.", draw_decision_regions),
    FigureSpec("simplex", "visualization", "Probability simplex",
               "Each dot is a sample's predicted (p1, p2, p3); corners are certainty, the "
               "centre is indifference, dashed lines are the decision boundaries.",
               draw_simplex),
    FigureSpec("cooccurrence", "visualization", "Label co-occurrence",
               "Share of rows with the row's label that also carry the column's label: "
               "overlap means the labels are not exclusive classes, so softmax does not fit.",
               draw_cooccurrence),
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
                out.append(RenderedFigure(spec, None, str(why)))
                continue
            except (KeyError, ValueError, TypeError, IndexError) as exc:
                # A malformed section must not cost the whole report: say so.
                out.append(RenderedFigure(spec, None, f"could not draw ({type(exc).__name__}: "
                                                      f"{exc})"))
                continue
            out.append(RenderedFigure(spec, figure_to_png(fig)))
    return out
