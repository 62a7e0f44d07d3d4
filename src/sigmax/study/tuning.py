r"""The tuned comparison (``compare(C="cv")``): each model's own C, its grid and its curve.

Every candidate with a cross-validated counterpart picks ``C`` by the
held-out log-loss of a warm-started regularization path
(:func:`sigmax.path.regularization_path`), once on all rows (its model in
the report) and once inside each outer training fold (nested, for the
performance table). This module holds the grid, what a fitted CV estimator
tells the report (:func:`tuning_params`), the table of chosen ``C`` values
(:func:`tuning_html`) and the validation curves (:func:`draw_validation_curves`).

Early stopping
--------------
Each fold's path stops once :data:`PATIENCE` consecutive ``C`` values (rising)
scored worse than its best so far (the CV estimators' ``patience``). Held-out
log-loss against ``C`` falls to a minimum and rises again as the penalty
weakens, and the weak penalties are the slow fits: on R's ggplot2movies
(58,788 films, 79 label sets), the last two of 13 points took 2.7 s of a
fold's 12.7 s for the softmax over label sets (39,000 rows). The curve then stops where
the path did; the report says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..estimators.cv import reached_mean
from .figure import Skip, model_color, new_figure
from .formatting import esc, html_table, num_cell
from .result import ProblemResult

__all__ = ["PATIENCE", "draw_validation_curves", "tuning_grid", "tuning_html",
           "tuning_params"]

#: Consecutive worse points after which a fold's path stops (the CV ``patience``).
PATIENCE = 2


def tuning_grid(quick: bool, points: int | None = None) -> np.ndarray:
    """The C grid of a tuned comparison: 1e-3 .. 1e3, ``points`` points (default 7 quick, 13).

    Wide enough that a model needing a strong penalty (many classes, few rows)
    and one needing almost none both find an interior optimum on most data;
    the report says when the choice sits on an end of the grid.
    """
    return np.logspace(-3, 3, points or (7 if quick else 13))


def tuning_params(est: Any) -> dict[str, Any]:
    """C chosen on all rows, its validation curve and the one-standard-error choice.

    Parameters
    ----------
    est : fitted CV estimator
        With ``Cs_`` (n_Cs,), ``scores_`` (n_folds, n_Cs) of negative log-loss
        (NaN where early stopping ended a fold's path) and a scalar ``C_``
        (``refit=False`` is fine: the chosen C is read from the scores).

    Returns
    -------
    dict
        :class:`~sigmax.study.result.CandidateParams` fields; empty for a
        per-label ``C_``. ``validation_log_loss`` / ``validation_se`` are None
        at the ``C`` values some fold did not reach.
    """
    if not hasattr(est, "C_") or np.ndim(est.C_) != 0:
        return {}
    Cs = np.asarray(est.Cs_, dtype=np.float64)
    S = -np.asarray(est.scores_, dtype=np.float64)  # (folds, Cs) log-loss
    # The CV estimators' own rule: the mean over folds where every fold reached C.
    mean = -reached_mean(-S)
    reached = np.isfinite(mean)
    mean[~reached] = np.nan
    se = (np.nan_to_num(S).std(axis=0, ddof=1) / np.sqrt(S.shape[0]) if S.shape[0] > 1
          else np.zeros(len(Cs)))
    se = np.where(reached, se, np.nan)
    best = int(np.nanargmin(mean))
    ok = np.flatnonzero(reached & (np.nan_to_num(mean, nan=np.inf) <= mean[best] + se[best]))
    # The best mean over the folds among the C values all of them reached (the CV
    # estimators' refit rule), whether or not the search refitted there.
    chosen = float(Cs[best])
    return {"C": chosen, "C_note": "chosen by cross-validation on all rows",
            "C_selected": chosen, "C_1se": float(Cs[ok].min()),
            "Cs": Cs.tolist(), "validation_log_loss": _or_none(mean),
            "validation_se": _or_none(se)}


def _or_none(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


def _stopped_at(params: Any) -> float | None:
    """The largest ``C`` of the grid that every inner fold reached, when the paths stopped
    before the end of the grid; else None."""
    curve = params.validation_log_loss or []
    reached = [C for C, v in zip(params.Cs or [], curve) if v is not None]
    if not curve or len(reached) == len(curve):
        return None
    return max(reached)


def tuning_html(p: ProblemResult) -> str:
    """Each model's own C: chosen on all rows, the 1-SE choice, and per outer fold."""
    tuned = [c for c in p.candidates if c.params.C_selected is not None]
    if not tuned:
        return ""
    grid = tuned[0].params.Cs or []
    rows = []
    for c in tuned:
        per = c.params.C_per_fold or []
        edge = ("; at the edge of the grid" if grid and c.params.C_selected in
                (min(grid), max(grid)) else "")
        stop = _stopped_at(c.params)
        rows.append([(esc(c.label), ""), num_cell(c.params.C_selected),
                     num_cell(c.params.C_1se),
                     (esc(", ".join(f"{v:g}" for v in per)) + esc(edge), ""),
                     ("to the end" if stop is None else f"up to {stop:g}", "")])
    # Untuned models that have a penalty (a shared trunk: not convex, no path); the
    # frequency baseline has no coefficients and so no C to choose.
    fixed = [f"{c.label} at C = {c.params.C:g}" for c in p.candidates
             if c.params.C_selected is None and c.name != "baseline"
             and c.params.C is not None]
    head = (f"<h4>Each model at its own C</h4><p>Every model picks C by cross-validated "
            f"log-loss over {len(grid)} values from {min(grid):g} to {max(grid):g}, inside "
            "each outer training fold (nested), so the test rows above never chose C. The "
            "one-standard-error choice is the strongest penalty within one standard error "
            f"of the best. A fold's path stops once {PATIENCE} values of C in a row score "
            "worse than its best so far (the weak penalties are the slow fits); the last "
            "column says how far the paths on all rows went.</p>") if grid else ""
    said = ([f"Not tuned (no cross-validated version): {'; '.join(fixed)}."] if fixed else [])
    if any(c.name == "baseline" for c in p.candidates):
        said.append("The frequency baseline has no coefficients, so no C.")
    note = f"<p class='sub'>{esc(' '.join(said))}</p>" if said else ""
    return head + html_table(["model", "C on all rows", "1-SE C", "C per outer fold",
                              "path on all rows"], rows) + note


#: What a tuned model's validation log-loss measures, by what it is fitted on.
_CRITERION = {"classes": "log-loss of the class",
              "indicator": "binary log-loss, mean over labels",
              "label sets": "log-loss of the whole label set"}


def draw_validation_curves(problem: ProblemResult) -> Figure:
    """Validation log-loss against C per tuned model, with the chosen and the 1-SE C.

    One line per model that chose its own C (mean over the inner folds on all
    rows, a band of one standard error); a filled marker at the chosen C, an
    open one at the one-standard-error choice. Points the early-stopped paths
    did not reach are not drawn. Models whose criteria differ (per-label
    log-loss of independent sigmoids, log-loss of the label set of a softmax
    over label sets) get a panel each: their numbers are not comparable. The
    baseline's held-out log-loss (class or label frequencies), where it is the
    same criterion, is a dotted line.
    """
    tuned = [c for c in problem.candidates
             if c.params.C_selected is not None and c.params.validation_log_loss]
    if not tuned:
        raise Skip("every model was fitted at one fixed C (run with --C cv for each "
                   "model's own C)", quiet=True)
    kinds = list(dict.fromkeys(c.params.target for c in tuned))
    fig = new_figure(3.6 * len(kinds) + 1.0, 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(kinds)))
    base = next((c for c in problem.candidates if c.name == "baseline"
                 and "log_loss" in c.metrics), None)
    for ax, kind in zip(axes, kinds):
        for i, c in enumerate(tuned):
            if c.params.target == kind:
                _curve(ax, c, model_color(c.name, i))
        if base is not None and kind != "label sets":
            ax.axhline(float(np.mean(base.metrics["log_loss"])), color="#666666", ls=":",
                       label=f"{base.label} (held-out)")
        ax.set_xscale("log")
        ax.set_xlabel("C (inverse penalty strength)")
        ax.set_title(_CRITERION.get(kind, "validation log-loss"), fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False, loc="best")
    axes[0].set_ylabel("validation log-loss (lower is better)")
    return fig


def _curve(ax: Any, c: Any, color: str) -> None:
    """One model's curve, its band, the chosen C (filled) and the 1-SE C (open)."""
    Cs = np.asarray(c.params.Cs, dtype=np.float64)
    mean = np.array([np.nan if v is None else v for v in c.params.validation_log_loss])
    se = np.array([np.nan if v is None else v for v in c.params.validation_se or []])
    keep = ~np.isnan(mean)
    ax.plot(Cs[keep], mean[keep], marker=".", color=color, label=c.label)
    if se.shape == mean.shape:
        ax.fill_between(Cs[keep], (mean - se)[keep], (mean + se)[keep], color=color,
                        alpha=0.15, linewidth=0)
    at = {float(C): float(v) for C, v in zip(Cs[keep], mean[keep])}
    if c.params.C_selected in at:
        ax.plot([c.params.C_selected], [at[c.params.C_selected]], "o", color=color,
                markersize=7)
    if c.params.C_1se in at:
        ax.plot([c.params.C_1se], [at[c.params.C_1se]], "o", mfc="none", color=color,
                markersize=10)
