"""Figures of the study: the registry of every section's figures, and drawing them.

Each figure is a :class:`~sigmax.study.figure.FigureSpec` owned by its section
(``Section.figures``, :mod:`sigmax.study.sections`): an id, the section, a
caption, and a ``draw`` function taking a
:class:`~sigmax.study.result.ProblemResult` and returning a matplotlib
:class:`~matplotlib.figure.Figure`. :data:`FIGURES` is a live view of them
all, in section order; :func:`draw_figures` draws them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from matplotlib import rc_context

from .figure import STYLE, FigureSpec, RenderedFigure, Skip, figure_to_png
from .result import ProblemResult
from .section import SECTIONS
from .sections.computation import draw_k_sweep, draw_loss_curves
from .sections.minima import draw_hessian_spectrum
from .sections.performance import draw_confusion, draw_per_label, draw_reliability
from .sections.visualization import draw_cooccurrence, draw_decision_regions, draw_simplex

__all__ = [
    "FIGURES",
    "FigureSpec",
    "RenderedFigure",
    "Skip",
    "draw_confusion",
    "draw_cooccurrence",
    "draw_decision_regions",
    "draw_figures",
    "draw_hessian_spectrum",
    "draw_k_sweep",
    "draw_loss_curves",
    "draw_per_label",
    "draw_reliability",
    "draw_simplex",
    "figure_to_png",
]


class _Figures(Mapping[str, FigureSpec]):
    """Figure id -> spec, over the registered sections, in section order (live)."""

    def _all(self) -> dict[str, FigureSpec]:
        return {f.id: f for s in SECTIONS.values() for f in s.figures}

    def __getitem__(self, key: str) -> FigureSpec:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


#: Every registered figure, by id.
FIGURES: Mapping[str, FigureSpec] = _Figures()


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
    with rc_context(STYLE):
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
