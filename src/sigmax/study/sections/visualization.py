"""Visualization: what do the models look like?

The data behind the figures: out-of-fold confusion matrices and reliability
bins (from the performance section's predictions), each model refitted on the
first two principal components with its predictions on a grid (decision
regions), the probability simplex of the three most frequent classes, and for
multi-label data the label statistics (co-occurrence, lift, label sets).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import fitting
from ..figure import (
    FigureSpec,
    Skip,
    candidate_label,
    class_colors,
    new_figure,
    panel_grid,
    per_model,
    series,
    short_names,
    wrap_title,
)
from ..fitting import (
    predict,
    y_for,
)
from ..formatting import (
    esc,
    html_table,
    num_cell,
)
from ..inputs import cover_subsample
from ..metrics import reliability_bins
from ..record import Record
from ..result import ProblemResult
from ..run import StudyRun
from ..section import Section


@dataclass(eq=False)
class PcaView(Record):
    """Each model refitted on the first two principal components."""

    explained_variance_ratio: list[float]
    points: dict[str, Any] = field(metadata={
        "doc": "x, y, and label (class code) or labels (0/1 list per point)"})
    grid: dict[str, Any] = field(metadata={"doc": (
        "x, y (axis values), fit_score (candidate -> training score on the 2 coordinates), "
        "predictions (candidate -> {class, confidence} or multi-label {proba: label -> g x g})")})
    n_fit_rows: int | None = field(default=None, metadata={"doc": (
        "rows the 2-D models were refitted on (all rows, or a subsample of PCA_FIT_ROWS "
        "keeping every class or label set)")})


@dataclass(eq=False)
class VisualizationResult(Record):
    """The data behind the figures (loss curves are ``CandidateResult.history``)."""

    confusion: dict[str, Any] | None = field(default=None, metadata={"doc": (
        "candidate -> K x K counts (rows true, columns predicted, out-of-fold, first "
        "repeat); multi-label: candidate -> label -> [[tn, fp], [fn, tp]]")})
    reliability: dict[str, dict[str, Any]] | None = field(default=None, metadata={
        "doc": "candidate -> sigmax.study.metrics.reliability_bins"})
    class_counts: list[int] | None = None
    pca: PcaView | None = None
    simplex: dict[str, Any] | None = field(default=None, metadata={"doc": (
        "K >= 3: classes (3 names), conditional, candidates -> {p: [[p0, p1, p2], ...], "
        "y: [...]}")})
    labels: dict[str, Any] | None = field(default=None, metadata={"doc": (
        "multi-label: names, prevalence, cooccurrence, lift, cardinality, top_label_sets, "
        "f1 (candidate -> mean per-label F1)")})



def _round(a: np.ndarray, digits: int = 4) -> list:
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def _visualization(run: StudyRun) -> VisualizationResult:
    b = run.budget
    t = run.target
    out: dict[str, Any] = {}
    if run.oof:
        out["confusion"], out["reliability"] = {}, {}
        for name, p in run.oof.items():
            if t.task != "multilabel":
                K = t.n_classes
                cm = np.zeros((K, K), dtype=int)
                np.add.at(cm, (t.codes, p["pred"]), 1)
                out["confusion"][name] = cm.tolist()
                prob = np.exp(p["log_proba"])
                conf = prob[np.arange(t.n_samples), p["pred"]]
                out["reliability"][name] = reliability_bins(conf, p["pred"] == t.codes)
            else:
                marg = p["log_p1"] > p["log_p0"]
                out["confusion"][name] = {
                    lab: [[int(np.sum(~marg[:, j] & (t.Y[:, j] == 0))),
                           int(np.sum(marg[:, j] & (t.Y[:, j] == 0)))],
                          [int(np.sum(~marg[:, j] & (t.Y[:, j] == 1))),
                           int(np.sum(marg[:, j] & (t.Y[:, j] == 1)))]]
                    for j, lab in enumerate(t.names)}
                out["reliability"][name] = reliability_bins(np.exp(p["log_p1"]).ravel(),
                                                            t.Y.ravel())
    if t.task != "multilabel":
        out["class_counts"] = np.bincount(t.codes, minlength=t.n_classes).tolist()
    out["pca"] = _pca(run)
    run.progress("visualization: PCA decision regions")
    if t.task != "multilabel" and t.n_classes >= 3 and run.oof:
        top = np.argsort(-np.bincount(t.codes), kind="stable")[:3]
        rows = np.flatnonzero(np.isin(t.codes, top))
        rng = np.random.default_rng(run.seed)
        if len(rows) > b.simplex_points:
            rows = np.sort(rng.choice(rows, size=b.simplex_points, replace=False))
        sim = {"classes": [t.names[c] for c in top], "conditional": bool(t.n_classes > 3),
               "candidates": {}}
        for name, p in run.oof.items():
            P = np.exp(p["log_proba"][rows][:, top])
            P /= P.sum(axis=1, keepdims=True)
            sim["candidates"][name] = {"p": _round(P),
                                       "y": [int(np.flatnonzero(top == c)[0])
                                             for c in t.codes[rows]]}
        out["simplex"] = sim
    if t.task == "multilabel":
        from ..advise import label_structure

        s = label_structure(t)
        order = np.argsort(-np.bincount(t.set_codes), kind="stable")[:10]
        out["labels"] = {
            "names": t.names, "prevalence": t.Y.mean(axis=0).tolist(),
            "cooccurrence": s["cooccurrence"], "lift": s["lift"],
            "cardinality": s["cardinality"],
            "top_label_sets": [{"labels": [t.names[j] for j in np.flatnonzero(t.set_matrix[c])],
                                "count": int(np.sum(t.set_codes == c))} for c in order],
            "f1": {c.name: [float(np.mean(c.metrics[f"f1:{lab}"])) for lab in t.names]
                   for c in run.problem.candidates if f"f1:{t.names[0]}" in c.metrics},
        }
    return VisualizationResult.from_dict(out, strict=True)


#: Rows the 2-D models of the decision regions are refitted on, at most: the regions of a
#: model with 2 inputs are settled by a few thousand rows, and a refit on every row cost as
#: much as the fit on all rows again (a shared trunk: a minute on 58,788 rows).
PCA_FIT_ROWS = 5000


def _pca(run: StudyRun) -> dict[str, Any]:
    from sklearn.decomposition import PCA

    b = run.budget
    t = run.target
    pca = PCA(n_components=min(2, run.Xs.shape[1]), random_state=run.seed)
    P = pca.fit_transform(run.Xs)
    if P.shape[1] == 1:
        P = np.column_stack([P[:, 0], np.zeros(len(P))])
    rng = np.random.default_rng(run.seed)
    pts = np.sort(rng.choice(len(P), size=min(b.points, len(P)), replace=False))
    g = b.grid if t.task != "multilabel" else b.grid_multilabel
    lo, hi = P.min(axis=0), P.max(axis=0)
    pad = 0.05 * (hi - lo + 1e-12)
    gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], g)
    gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], g)
    GX, GY = np.meshgrid(gx, gy)
    grid = np.column_stack([GX.ravel(), GY.ravel()])
    out: dict[str, Any] = {
        "explained_variance_ratio": [float(v) for v in pca.explained_variance_ratio_],
        "points": {"x": _round(P[pts, 0]), "y": _round(P[pts, 1])},
        "grid": {"x": _round(gx), "y": _round(gy), "fit_score": {}, "predictions": {}},
    }
    if t.task != "multilabel":
        out["points"]["label"] = t.codes[pts].tolist()
    else:
        out["points"]["labels"] = t.Y[pts].astype(int).tolist()
    # Every class (label set) stays in the refit rows: the same outputs as the models.
    fit_rows = cover_subsample(t.strata, PCA_FIT_ROWS, run.seed)
    out["n_fit_rows"] = len(fit_rows)
    tf = t.subset(fit_rows) if len(fit_rows) < t.n_samples else t
    Pf = P[fit_rows]
    for spec in run.specs:
        try:
            est, _, _ = fitting.fit(spec.make(run.C), Pf, y_for(spec, tf))
        except ValueError as exc:  # pragma: no cover - a hook candidate refusing 2-D input
            out["grid"]["predictions"][spec.name] = {"skipped": str(exc)}
            continue
        pred = predict(spec, est, grid, t)
        train = predict(spec, est, Pf, tf)
        if t.task != "multilabel":
            lp = pred["log_proba"]
            out["grid"]["predictions"][spec.name] = {
                "class": pred["pred"].reshape(g, g).tolist(),
                "confidence": _round(np.exp(lp.max(axis=1)).reshape(g, g), 3)}
            out["grid"]["fit_score"][spec.name] = float(np.mean(train["pred"] == tf.codes))
        else:
            out["grid"]["predictions"][spec.name] = {"proba": {
                lab: _round(np.exp(pred["log_p1"][:, j]).reshape(g, g), 3)
                for j, lab in enumerate(t.names)}}
            out["grid"]["fit_score"][spec.name] = float(
                1 - np.mean((train["log_p1"] > train["log_p0"]) != tf.Y))
    return out


def _viz_html(v: VisualizationResult, p: ProblemResult) -> str:
    out = []
    labels = v.labels or {}
    sets = labels.get("top_label_sets") or []
    if sets:
        rows = [[(esc(" & ".join(s.get("labels") or []) or "(no label)"), ""),
                 num_cell(s.get("count"), "n_rows")] for s in sets]
        card = labels.get("cardinality") or []
        text = ""
        if card:
            total = sum(card) or 1
            text = ("Labels per row: " + ", ".join(f"{i}: {c / total:.0%}"
                                                   for i, c in enumerate(card) if c) + ". ")
        out.append(f"<p>{esc(text)}The most frequent label sets:</p>"
                   + html_table(["label set", "rows"], rows))
    return "".join(out)


def draw_decision_regions(problem: ProblemResult) -> Figure:
    """Predictions over the plane of the first two principal components, data on top.

    Reads ``visualization["pca"]``: ``points`` (``x``, ``y``, ``label`` or
    ``labels``), ``grid`` (``x``, ``y``, ``predictions``: candidate ->
    ``{"class", "confidence"}`` (g x g) or ``{"proba": label -> g x g}``,
    ``fit_score``), ``explained_variance_ratio``.
    """
    pca = problem.visualization.pca
    if pca is None or not pca.grid or not pca.points:
        raise Skip("no 2-D projection in this result")
    grid = pca.grid
    preds = {k: v for k, v in (grid.get("predictions") or {}).items()
             if isinstance(v, Mapping) and ("class" in v or "proba" in v)}
    if not preds:
        raise Skip("no decision-region predictions in this result")
    gx, gy = series(grid["x"]), series(grid["y"])
    px, py = series(pca.points["x"]), series(pca.points["y"])
    evr = series(pca.explained_variance_ratio)
    names = problem.class_names
    k = len(names)
    colors = class_colors(k)
    rows, cols = panel_grid(len(preds), 3)
    fig = new_figure(min(10.0, 3.15 * cols + 1.5), 3.0 * rows + 0.35)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
                         ).ravel()
    extent = (gx[0], gx[-1], gy[0], gy[-1])
    score = grid.get("fit_score") or {}
    n_fit = pca.n_fit_rows
    on = (f" on {n_fit:,} of {problem.n_samples:,} rows"
          if n_fit is not None and n_fit < problem.n_samples else "")
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
            lab = np.asarray(pca.points.get("label", []), dtype=np.intp)
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
        ax.set_title(wrap_title(candidate_label(problem, model))
                     + (f"\n2-D refit{on}: {s:.0%} {'labels' if 'proba' in pr else 'rows'} "
                        "right" if isinstance(s, (int, float)) else ""))
        ax.set_xlabel("PC1" + (f" ({evr[0]:.0%} of variance)" if len(evr) > 0 else ""))
        ax.set_ylabel("PC2" + (f" ({evr[1]:.0%})" if len(evr) > 1 else ""))
    for ax in axes[len(preds):]:
        ax.set_visible(False)
    handles = [axes[0].scatter([], [], color=colors[i], s=14, label=str(n))
               for i, n in enumerate(short_names(names, 12))]
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
    simplex = problem.visualization.simplex
    if not isinstance(simplex, Mapping) or not simplex.get("candidates"):
        if problem.task == "multilabel":
            raise Skip("label probabilities of a multi-label model do not sum to one, so "
                       "they do not live in a simplex")
        if problem.task == "binary":
            raise Skip("with K = 2 the simplex is a segment: p(class 1) alone says it all "
                       "(see the reliability diagram)")
        raise Skip("no simplex data in this result")
    cands = per_model(simplex["candidates"], "simplex")
    names = simplex.get("classes") or problem.class_names[:3]
    colors = class_colors(3)
    n = len(cands)
    fig = new_figure(min(10.0, 3.1 * n + 0.3), 3.3)
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
            ax.text(x, yy + (-0.05 if va == "top" else 0.04), short_names([name], 14)[0],
                    ha="center", va=va, fontsize=8, color="#222")
        ax.set_title(wrap_title(candidate_label(problem, model), 30))
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
    labels_info = problem.visualization.labels or {}
    co = labels_info.get("cooccurrence")
    if co is None:
        co = (problem.advice.label_structure or {}).get("cooccurrence")
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
    fig = new_figure(max(4.4, 0.6 * n + 2.6), max(3.6, 0.5 * n + 1.7))
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
    ax.set_xticks(range(n), short_names(labels, 11), rotation=35, ha="right")
    ax.set_yticks(range(n), short_names(labels, 11))
    ax.set_xlabel("… also carry this label")
    ax.set_ylabel("rows with this label …")
    ax.set_title("Labels co-occur: they are not exclusive classes")
    fig.colorbar(im, ax=ax, shrink=0.8, label="share of the row label's rows")
    return fig


class Visualization(Section):
    """Decision regions, simplex, calibration and label co-occurrence."""

    id = "visualization"
    aliases = ("viz", "plots")
    title = "Visualization"
    question = "What do the models look like?"
    lead = ("A logistic model is one hyperplane where p = 1/2; softmax splits space into K "
            "convex regions and puts each sample in a probability simplex; independent "
            "sigmoids for non-exclusive labels give one boundary per label, which may overlap.")
    result_type = VisualizationResult
    depends_on = ("performance",)
    figures = (
        FigureSpec("decision_regions", "visualization", "Decision regions",
                   "Each model refitted on the first two principal components of the "
                   "standardized features (above " f"{PCA_FIT_ROWS:,}" " rows on a "
                   "subsample that keeps every class or label set; the panel titles say how "
                   "many rows). Single-label: colour is the predicted class, strong "
                   "where the model is confident, dots are samples in their true class. "
                   "Multi-label: one p = 1/2 boundary per label; regions overlap because labels "
                   "can.", draw_decision_regions),
        FigureSpec("simplex", "visualization", "Probability simplex",
                   "Each dot is one sample's out-of-fold (p1, p2, p3), coloured by its true "
                   "class: corners are certainty, the centre is indifference, dashed lines are "
                   "where the predicted class changes.", draw_simplex),
        FigureSpec("cooccurrence", "visualization", "Label co-occurrence",
                   "Row label A, column label B: the share of rows carrying A that also carry "
                   "B. Non-zero cells mean the labels are not exclusive, so one softmax over "
                   "them cannot represent the data.", draw_cooccurrence),
    )

    def compute(self, run: StudyRun) -> VisualizationResult:
        return _visualization(run)

    def render_html(self, result: VisualizationResult, problem: ProblemResult) -> str:
        return _viz_html(result, problem)
