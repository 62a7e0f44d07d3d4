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
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .result import CandidateResult, ProblemResult

__all__ = ["DPI", "STYLE", "FigureSpec", "RenderedFigure", "Skip", "class_colors",
           "figure_to_png", "model_color", "new_figure", "panel_grid", "per_model", "series",
           "short_names", "wrap_title"]

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
STYLE = {
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


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_to_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig`` (no timestamp metadata, so reruns give the same file)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None},
                facecolor="white")
    return buf.getvalue()


def find_candidate(problem: ProblemResult, name: str) -> CandidateResult | None:
    return next((c for c in problem.candidates if c.name == name), None)


def candidate_label(problem: ProblemResult, name: str) -> str:
    c = find_candidate(problem, name)
    return c.label if c is not None and c.label else name


def class_colors(k: int) -> list:
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if k <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(k)]


def short_names(names: Sequence[str], width: int = 10) -> list[str]:
    return [n if len(n) <= width else n[: width - 1] + "…" for n in map(str, names)]


def per_model(data: Any, what: str) -> dict[str, Any]:
    """``{model: payload}`` from a dict keyed by model (skip bookkeeping keys)."""
    if not isinstance(data, dict) or not data:
        raise Skip(f"no {what} data in this result")
    out = {k: v for k, v in data.items() if isinstance(v, (dict, list))}
    if not out:
        raise Skip(f"no {what} data in this result")
    return out


def panel_grid(n: int, max_cols: int) -> tuple[int, int]:
    """(rows, cols) for n panels, at most max_cols wide, rows as full as possible."""
    rows = math.ceil(n / max_cols)
    return rows, math.ceil(n / rows)


def series(values: Sequence[Any] | None) -> np.ndarray:
    """A list of numbers (``None`` for a missing one) as a float array with NaN."""
    return np.asarray([np.nan if v is None else v for v in (values or [])], dtype=np.float64)


def wrap_title(text: str, width: int = 36) -> str:
    """A panel title on as many lines as it needs (model names can be long)."""
    import textwrap

    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))
