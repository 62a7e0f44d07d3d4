"""Renderers of a :class:`~sigmax.study.result.CompareResult`: terminal, HTML, JSON.

The result is plain data; each renderer only reads it (as pyinstrument renders
one session to console, HTML or JSON). :data:`RENDERERS` maps a format name to
its renderer; :func:`write_report` draws the figures and writes the report
folder::

    sigmax-report/
        index.html      one self-contained page (CSS inline, figures as data: URIs)
        results.json    the CompareResult (CompareResult.from_json reads it back)
        figures/*.png   the same figures as files

The folder is built beside its destination and swapped in at the end, so an
interrupted run leaves the previous report (or nothing), never half of one.
"""

from __future__ import annotations

import base64
import datetime as _dt
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..io import atomic_write_bytes, atomic_write_text
from .formatting import (
    cand_label,
    esc,
    fmt_value,
    html_table,
    key_verdicts,
    png_size,
    pretty_key,
    slug,
)
from .result import CompareResult, ProblemResult
from .section import SECTIONS as _REGISTRY
from .section import Section

__all__ = ["RENDERERS", "SECTIONS", "HtmlRenderer", "JsonRenderer", "Renderer", "Section",
           "TerminalRenderer", "fmt_value", "key_verdicts", "png_size", "pretty_key",
           "write_report"]

#: Name of the marker file that identifies a folder as a sigmax report (and so
#: safe to replace as a whole).
REPORT_MARKER = ".sigmax-report"

Progress = Callable[[str, int, int], None]


#: The report's sections, in order (a live view of the registry
#: :data:`sigmax.study.section.SECTIONS`: each item is a Section, with ``id``,
#: ``title``, ``question``, ``lead``, ``render_html`` and ``figures``).
SECTIONS = _REGISTRY.values()


# -- renderer protocol -------------------------------------------------------------------------
class Renderer(Protocol):
    """Turns a result into text in one format."""

    name: str

    def render(self, result: CompareResult, figures: Mapping[str, Any] | None = None) -> str:
        """The rendered text; ``figures`` maps ``(problem index, figure id)`` to
        :class:`~sigmax.study.plots.RenderedFigure`."""
        ...  # pragma: no cover


class JsonRenderer:
    """``results.json``: the CompareResult as JSON (NaN/inf refused: strict JSON)."""

    name = "json"

    def render(self, result: CompareResult, figures: Mapping[str, Any] | None = None) -> str:
        return result.to_json(indent=2) + "\n"


# -- terminal ----------------------------------------------------------------------------------
class TerminalRenderer:
    """A summary for the terminal with rich tables, ending in the advice.

    Per problem: the performance table, the paired verdicts on the key
    metrics, the compute table, and one line for each other question; then
    one advice panel for all problems.

    Parameters
    ----------
    console : rich.console.Console, optional
        Where to print; without one a recording console is used and
        :meth:`render` returns the text.
    """

    name = "terminal"

    def __init__(self, console: Any = None) -> None:
        self.console = console

    def render(self, result: CompareResult, figures: Mapping[Any, Any] | None = None) -> str:
        from rich.console import Console

        console = self.console or Console(record=True, width=110, force_terminal=False)
        for problem in result.problems:
            self._problem(console, problem)
        self._advice(console, result)
        if getattr(console, "record", False):
            return console.export_text()
        return ""

    def _problem(self, console: Any, p: ProblemResult) -> None:
        from rich.rule import Rule

        console.print(Rule(f"[bold]{_escape_rich(p.dataset)}[/] · {_task_words(p)} · "
                           f"{p.n_samples:,} rows × {p.n_features} features", style="cyan"))
        for sid, section in _REGISTRY.items():
            for item in section.render_terminal(getattr(p, sid), p):
                console.print(item)
        console.print()

    def _advice(self, console: Any, result: CompareResult) -> None:
        from rich.panel import Panel

        parts = []
        for p in result.problems:
            a = p.advice
            if not a.summary:
                continue
            if parts:
                parts.append("")
            parts.append(f"[bold]{_escape_rich(p.dataset)}[/] ({_task_words(p)}): "
                         f"[bold green]{_escape_rich(a.summary)}[/]")
            if a.fit_command:
                parts.append(f"  [dim]build it:[/] {_escape_rich(a.fit_command)}")
            parts.extend(f"  – {_escape_rich(r)}" for r in (a.reasons or [])[:2])
        if parts:
            console.print(Panel("\n".join(parts), title="[bold]Advice[/]", border_style="green",
                                expand=True))


def _escape_rich(text: Any) -> str:
    from rich.markup import escape

    return escape(str(text))


# -- HTML --------------------------------------------------------------------------------------
_CSS = """
:root{--fg:#1d2330;--muted:#5b6475;--line:#e3e6ec;--bg:#fff;--soft:#f6f7f9;--accent:#1f5fbf;
--good:#0a7a3d;--goodbg:#e8f5ed;--warn:#8a5a00;--warnbg:#fff6e0}
*{box-sizing:border-box}
html{scroll-behavior:smooth}
body{margin:0;color:var(--fg);background:var(--bg);font:15px/1.55 system-ui,-apple-system,
"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.page{display:grid;grid-template-columns:minmax(0,1fr);max-width:1080px;margin:0 auto;
padding:0 24px 64px}
@media (min-width:1280px){.page{grid-template-columns:210px minmax(0,1fr);gap:36px;
max-width:1320px}nav.toc{position:sticky;top:0;align-self:start;max-height:100vh;overflow:auto;
padding-top:28px}}
header{padding:28px 0 8px;border-bottom:1px solid var(--line);margin-bottom:8px}
h1{font-size:27px;line-height:1.2;margin:0 0 6px;letter-spacing:-.01em}
h2{font-size:22px;margin:44px 0 4px;padding-top:8px;border-top:2px solid var(--fg)}
h3{font-size:17px;margin:28px 0 8px}
h4{font-size:14px;margin:18px 0 6px;color:var(--muted);text-transform:uppercase;
letter-spacing:.04em}
p{margin:6px 0 10px}
.sub{color:var(--muted);margin:0}
.q{font-style:italic;color:var(--muted);margin-top:0}
.lead{max-width:78ch}
nav.toc{font-size:14px}
nav.toc ol{list-style:none;padding:0;margin:8px 0}
nav.toc li{margin:2px 0}
nav.toc a{color:var(--fg);text-decoration:none;display:block;padding:3px 8px;border-radius:5px}
nav.toc a:hover{background:var(--soft)}
nav.toc .toc-title{font-weight:600;color:var(--muted);font-size:12px;text-transform:uppercase;
letter-spacing:.05em;padding:0 8px}
nav.toc .sub-toc{display:flex;flex-wrap:wrap;gap:0 2px;margin:0 0 6px 12px}
nav.toc .sub-toc a{padding:1px 5px;color:var(--muted);font-size:12px}
@media (max-width:1279px){nav.toc{border:1px solid var(--line);border-radius:8px;
padding:10px 12px;margin:14px 0;background:var(--soft)}nav.toc>ol{columns:2}
nav.toc .sub-toc{display:none}}
.answer{background:var(--goodbg);border-left:4px solid var(--good);padding:12px 16px;
border-radius:6px;margin:16px 0}
.answer h2{border:0;margin:0 0 6px;padding:0;font-size:18px}
.answer ul{margin:4px 0;padding-left:20px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:10px;
margin:12px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:var(--soft);
color:inherit;text-decoration:none}
a.card:hover{border-color:var(--accent)}
.card b{display:block;font-size:15px}
.card span{color:var(--muted);font-size:13px}
.badge{display:inline-block;font-size:12px;padding:1px 8px;border-radius:10px;
background:#e6eefb;color:var(--accent);vertical-align:middle;margin-left:6px;font-weight:500}
.tablewrap{overflow-x:auto;margin:8px 0 12px}
table{border-collapse:collapse;font-size:13.5px;font-variant-numeric:tabular-nums}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600;background:var(--soft);white-space:nowrap}
td.num{text-align:right;white-space:nowrap}
td:first-child{min-width:11em}
td.best{color:var(--good);font-weight:700}
.sd{color:var(--muted);font-size:12px}
ul.verdicts{padding-left:20px;margin:6px 0}
ul.verdicts li{margin:3px 0}
figure{margin:14px 0 22px}
figure img{max-width:100%;height:auto;display:block;border:1px solid var(--line);
border-radius:6px}
figcaption{color:var(--muted);font-size:13px;margin-top:6px;max-width:85ch}
.skip{color:var(--warn);background:var(--warnbg);padding:6px 10px;border-radius:6px;
font-size:13px}
details{margin:6px 0 10px}
summary{cursor:pointer;color:var(--accent);font-size:14px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
pre{background:var(--soft);padding:8px 10px;border-radius:6px;overflow-x:auto}
footer{color:var(--muted);font-size:12.5px;margin-top:48px;border-top:1px solid var(--line);
padding-top:10px}
@media print{nav.toc{display:none}.page{display:block;max-width:none}figure{break-inside:avoid}}
"""


class HtmlRenderer:
    """One self-contained HTML page: inline CSS, figures as base64 PNG data URIs.

    It works offline and from a single file (mail it, open it from a USB key):
    no script, no font, no stylesheet is fetched.
    """

    name = "html"

    def render(self, result: CompareResult, figures: Mapping[Any, Any] | None = None) -> str:
        figures = figures or {}
        toc = ["<nav class='toc' aria-label='Contents'><div class='toc-title'>Contents</div>"
               "<ol><li><a href='#answer'>In short</a></li>"]
        for s in _REGISTRY.values():
            toc.append(f"<li><a href='#{s.id}'>{esc(s.title)}</a>")
            if len(result.problems) > 1:
                toc.append("<ol class='sub-toc'>" + "".join(
                    f"<li><a href='#{s.id}-{slug(p.dataset)}'>{esc(p.dataset)}</a></li>"
                    for p in result.problems) + "</ol>")
            toc.append("</li>")
        toc.append("<li><a href='#setup'>Setup</a></li></ol></nav>")
        body = [self._header(result), self._answer(result)]
        for s in _REGISTRY.values():
            body.append(self._section(s, result, figures))
        body.append(self._setup(result))
        title = "sigmax: logistic or softmax regression?"
        return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                "<meta name='viewport' content='width=device-width,initial-scale=1'>"
                "<meta name='generator' content='sigmax compare'>"
                f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"
                f"<div class='page'>{''.join(toc)}<main>{''.join(body)}</main></div>"
                "</body></html>\n")

    # -- parts -------------------------------------------------------------------------------
    def _header(self, result: CompareResult) -> str:
        names = ", ".join(p.dataset for p in result.problems) or "no data"
        when = result.environment.get("report_written", "")
        cards = "".join(
            f"<a class='card' href='#performance-{slug(p.dataset)}'><b>{esc(p.dataset)}"
            f"<span class='badge'>{esc(p.task)}</span></b><span>{p.n_samples:,} rows · "
            f"{p.n_features} features · K = {p.n_classes}</span></a>"
            for p in result.problems)
        return ("<header><h1>Logistic or softmax regression? Measured on your data</h1>"
                f"<p class='sub'>sigmax compare on {esc(names)}"
                f"{' · ' + esc(when) if when else ''}</p>"
                f"<div class='cards'>{cards}</div></header>")

    def _answer(self, result: CompareResult) -> str:
        items = []
        for p in result.problems:
            a = p.advice
            est = a.estimator or a.model or ""
            label = cand_label(p, a.model) if a.model else ""
            if not est:
                continue
            why = short_why(p)
            items.append(f"<li><b>{esc(p.dataset)}</b> ({esc(_task_words(p))}): "
                         f"<b>{esc(label)}</b> <code>{esc(est)}</code>"
                         + (f" — {esc(why)}" if why else "") + "</li>")
        short = _REGISTRY["advice"].lead if "advice" in _REGISTRY else ""
        return ("<section class='answer' id='answer'><h2>In short</h2>"
                + (f"<ul>{''.join(items)}</ul>" if items else "")
                + f"<p class='sub'>{esc(short)} Each section below answers one question with "
                  "numbers measured in this run.</p></section>")

    def _section(self, s: Section, result: CompareResult, figures: Mapping[Any, Any]) -> str:
        out = [f"<section id='{s.id}'><h2>{esc(s.title)}</h2><p class='q'>{esc(s.question)}</p>"
               f"<p class='lead'>{esc(s.lead)}</p>"]
        out.append(s.intro_html(result))
        for i, p in enumerate(result.problems):
            block = self._problem_block(s, p, i, figures)
            out.append(f"<div class='problem' id='{s.id}-{slug(p.dataset)}'>"
                       f"<h3>{esc(p.dataset)}<span class='badge'>{esc(_task_words(p))}</span>"
                       f"</h3>{block}</div>")
        out.append("</section>")
        return "".join(out)

    def _problem_block(self, s: Section, p: ProblemResult, index: int,
                       figures: Mapping[Any, Any]) -> str:
        parts = [s.render_html(getattr(p, s.id), p)]
        for (pi, _fid), fig in figures.items():
            if pi == index and fig.spec.section == s.id:
                parts.append(_figure_html(fig))
        html_ = "".join(x for x in parts if x)
        return html_ or "<p class='skip'>Not measured for this problem.</p>"

    def _setup(self, result: CompareResult) -> str:
        settings = {k: v for k, v in result.settings.items() if k not in ("budget",)}
        rows = [[(esc(pretty_key(k)), ""), (esc(fmt_value(v, k)), "")]
                for k, v in {**settings, **result.environment}.items()
                if not isinstance(v, (dict, list)) or (isinstance(v, list) and len(v) <= 8
                                                       and not any(isinstance(t, dict)
                                                                   for t in v))]
        blas = result.environment.get("blas") or []
        if blas:
            rows.append([("BLAS", ""), (esc("; ".join(
                f"{b.get('library')} {b.get('version')} ({b.get('threads')} thread(s))"
                for b in blas if isinstance(b, dict))), "")])
        data = []
        for p in result.problems:
            bits = [p.description, *p.notes]
            secs = p.seconds.get("total")
            if secs:
                bits.append(f"study time {secs:.1f} s")
            data.append(f"<li><b>{esc(p.dataset)}</b>: {esc('; '.join(b for b in bits if b))}"
                        "</li>")
        return ("<section id='setup'><h2>Setup</h2>"
                + (f"<h4>Data</h4><ul>{''.join(data)}</ul>" if data else "")
                + (html_table(["setting", "value"], rows) if rows else "")
                + "<footer>Made by <code>sigmax compare</code>. Every number on this page "
                  "was measured in this run; <code>results.json</code> beside this file holds "
                  "them all, and <code>figures/</code> the figures.</footer></section>")


def short_why(p: ProblemResult) -> str:
    """One clause: why the advised model, from the label structure and the log-loss test."""
    a = p.advice
    s = a.label_structure or {}
    bits = []
    if p.task == "binary":
        bits.append("two classes: logistic is 2-class softmax with half the parameters")
    elif p.task == "multiclass":
        bits.append(f"{p.n_classes} exclusive classes: one softmax, probabilities sum to 1")
    elif s.get("kind") == "non-exclusive":
        share = s.get("share_multi")
        bits.append("labels co-occur" + (f" ({share:.0%} of rows carry 2 or more)"
                                         if isinstance(share, (int, float)) else ""))
    choice = a.model
    groups: dict[str, list[str]] = {}
    for c in p.comparisons:
        if c.metric != "log_loss" or choice not in (c.a, c.b):
            continue
        other = cand_label(p, c.b if c.a == choice else c.a)
        if c.conclusion in ("a_better", "b_better"):
            won = (c.conclusion == "a_better") == (c.a == choice)
            groups.setdefault("better" if won else "worse", []).append(other)
        elif c.conclusion:
            groups.setdefault(c.conclusion, []).append(other)
    words = {"better": "log-loss lower than {} beyond fold noise",
             "worse": "log-loss higher than {} beyond fold noise (see Advice)",
             "no_difference": "log-loss as good as {} (within fold noise)",
             "identical": "the same predictions as {} on every fold"}
    for key, text in words.items():
        if key in groups:
            bits.append(text.format(" and ".join(groups[key])))
    return "; ".join(bits)


def _task_words(p: ProblemResult) -> str:
    """The header's description of the target: what the data show, not what the task assumes.

    A multi-label target is described by its measured label counts per row
    (the advice section's label structure): "7 labels, up to 3 per row", or
    "at most one per row" where no row carries two, never "non-exclusive" for
    labels that never occur together.
    """
    if p.task != "multilabel":
        return {"binary": "binary",
                "multiclass": f"{p.n_classes} exclusive classes"}.get(p.task, p.task)
    card = (p.advice.label_structure or {}).get("cardinality") or []
    most = max((i for i, count in enumerate(card) if count), default=None)
    if most is None:
        return f"{p.n_classes} labels"
    if most <= 1:
        return f"{p.n_classes} labels, at most one per row"
    return f"{p.n_classes} labels, up to {most} per row"


def _figure_html(fig: Any) -> str:
    spec = fig.spec
    if fig.png is None and fig.quiet:
        return ""
    if fig.png is None:
        return (f"<figure><h4>{esc(spec.title)}</h4>"
                f"<p class='skip'>Not drawn: {esc(fig.skipped)}.</p></figure>")
    from .figure import DPI

    w, h = png_size(fig.png)
    # Show the figure at its physical size (96 CSS px per inch), never wider than the page.
    cw, ch = round(w * 96 / DPI), round(h * 96 / DPI)
    b64 = base64.b64encode(fig.png).decode("ascii")
    return (f"<figure><h4>{esc(spec.title)}</h4><img alt='{esc(spec.title)}' width='{cw}' "
            f"height='{ch}' src='data:image/png;base64,{b64}'>"
            f"<figcaption>{esc(spec.caption)}</figcaption></figure>")


#: Registry of renderers by format name.
RENDERERS: dict[str, type] = {r.name: r for r in (TerminalRenderer, HtmlRenderer, JsonRenderer)}


# -- the report folder -------------------------------------------------------------------------
def _is_replaceable(path: Path) -> bool:
    path = Path(path).resolve()
    if path == Path.cwd().resolve() or path in Path.cwd().resolve().parents:
        return False  # never swap away the folder we are running in
    if not path.exists():
        return True
    if not path.is_dir():
        return False
    return (path / REPORT_MARKER).exists() or not any(path.iterdir())


def write_report(result: CompareResult, out: str | os.PathLike, *, plots: bool = True,
                 callback: Progress | None = None,
                 figures: Sequence[Sequence[Any]] | None = None) -> Path:
    """Draw the figures and write ``index.html``, ``results.json`` and ``figures/``.

    Parameters
    ----------
    result : CompareResult
        Its ``ProblemResult.figures`` are filled with the written file names.
    out : path-like
        The report folder. It must be absent, empty, or an earlier sigmax
        report (which is replaced as a whole); any other folder is refused so
        that a typo never deletes a user's files.
    plots : bool, default=True
        Draw the figures (False: tables only, faster).
    callback : callable, optional
        ``callback(step, done, total)`` after each figure and file.
    figures : list of lists of RenderedFigure, optional
        Each problem's figures, drawn already (in order;
        :class:`~sigmax.study.figure_pool.FigurePool`); None: drawn here.

    Returns
    -------
    Path
        The path of ``index.html``.

    Raises
    ------
    ValueError
        When ``out`` is a file or a non-empty folder that is not a sigmax report.
    """
    out = Path(out).resolve()
    if not _is_replaceable(out):
        raise ValueError(
            f"--out {out} is {'a file' if out.is_file() else 'a folder with other files'}, not "
            "a sigmax report; choose a new or empty folder (it would be replaced as a whole).")
    rendered: dict[tuple[int, str], Any] = {}
    if plots:
        from .plots import FIGURES, draw_figures

        total = len(result.problems) * len(FIGURES)
        done = 0
        for i, p in enumerate(result.problems):
            p.figures = {}
            drawn = figures[i] if figures is not None and i < len(figures) else None
            for fig in draw_figures(p) if drawn is None else drawn:
                rendered[(i, fig.spec.id)] = fig
                if fig.png is not None:
                    p.figures[fig.spec.id] = f"figures/{slug(p.dataset)}-{fig.spec.id}.png"
                done += 1
                if callback:
                    callback("drawing figures", done, total)
    else:
        for p in result.problems:
            p.figures = {}
    result.environment.setdefault("report_written", _dt.datetime.now(
        _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    json_text = JsonRenderer().render(result)
    html_text = HtmlRenderer().render(result, rendered)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        # mkdtemp makes the folder 0700; a report folder is as readable as any other.
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)
        (tmp / "figures").mkdir()
        atomic_write_text(tmp / REPORT_MARKER, "This folder is a sigmax report; `sigmax "
                          "compare --out` replaces it as a whole.\n")
        for (i, fid), fig in rendered.items():
            if fig.png is not None:
                atomic_write_bytes(tmp / result.problems[i].figures[fid], fig.png)
        atomic_write_text(tmp / "results.json", json_text)
        atomic_write_text(tmp / "index.html", html_text)  # last: its presence marks completion
        if callback:
            callback("writing report", 1, 1)
        _swap_in(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out / "index.html"


def _swap_in(tmp: Path, out: Path) -> None:
    """Put the finished folder ``tmp`` at ``out`` (old or new report under any interrupt)."""
    from ..outputs import replace_folder

    replace_folder(tmp, out)
