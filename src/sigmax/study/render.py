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
import html
import math
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..io import atomic_write_bytes, atomic_write_text
from .result import CandidateResult, CompareResult, ProblemResult

__all__ = ["RENDERERS", "SECTIONS", "HtmlRenderer", "JsonRenderer", "Renderer", "Section",
           "TerminalRenderer", "write_report"]

#: Name of the marker file that identifies a folder as a sigmax report (and so
#: safe to replace as a whole).
REPORT_MARKER = ".sigmax-report"

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Section:
    """One report section: one user question."""

    id: str
    title: str
    question: str
    lead: str
    result_key: str | None  # ProblemResult attribute with this section's data


#: The report's sections, in order: one per question the study answers.
SECTIONS: tuple[Section, ...] = (
    Section("performance", "Performance",
            "Which model predicts better?",
            "Held-out scores on the same cross-validation folds for every model, and a paired "
            "test of each difference: a gap smaller than the fold-to-fold noise is no gap.",
            None),
    Section("computation", "Computational requirements",
            "What does each model cost to fit and to use?",
            "Both models cost one product X·W per gradient evaluation, O(n·d·K) work: softmax "
            "couples the K outputs through one normalization, one-vs-rest and multi-label "
            "logistic keep them independent. Measured: parameters, time, iterations, memory.",
            "computation"),
    Section("derivatives", "Derivatives",
            "How hard are the derivatives?",
            "Both gradients have the same shape, Xᵀ(P − Y): predicted probabilities minus "
            "targets. Logistic's Hessian is Xᵀ diag(p(1 − p)) X; softmax's couples classes, "
            "with blocks Xᵀ diag(p_k([k = l] − p_l)) X. Both are checked here against finite "
            "differences.", "derivatives"),
    Section("minima", "Minima",
            "Does the convex cost have one minimum or many?",
            "The softmax loss only sees differences of logits: adding the same vector to every "
            "class's weights changes no probability. Without a penalty its cost is convex but "
            "not strictly convex, with a flat valley of minima; logistic regression (one "
            "weight vector per binary problem) has a unique minimum on non-separable, "
            "full-rank data. An L2 penalty, or fixing one class as reference, picks one point.",
            "minima"),
    Section("k2", "K=2 equivalence",
            "Are they the same model for two classes?",
            "For K = 2, softmax gives p(class 1) = σ(z₁ − z₀): logistic regression on "
            "w = w₁ − w₀. With an L2 penalty the optimum has w₀ = −w₁, so softmax at C equals "
            "logistic at 2C.", "k2_equivalence"),
    Section("visualization", "Visualization",
            "What do the models look like?",
            "A logistic model is one hyperplane where p = 1/2; softmax splits space into K "
            "convex regions and puts each sample in a probability simplex; independent "
            "sigmoids for non-exclusive labels give one boundary per label, which may overlap.",
            "visualization"),
    Section("advice", "Advice",
            "Which should I implement?",
            "Binary → logistic regression. Mutually exclusive classes → softmax regression. "
            "Labels that can co-occur → one logistic output per label (multi-label), or "
            "softmax heads for the groups of labels that exclude each other.", "advice"),
)
_SECTION_BY_ID = {s.id: s for s in SECTIONS}


# -- formatting helpers ------------------------------------------------------------------------
def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def fmt_value(v: Any, key: str = "") -> str:
    """A number or value as a short string (units from the key name)."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if _is_num(v):
        x = float(v)
        if not math.isfinite(x):
            return str(x)
        k = key.lower()
        if k.endswith("bytes"):
            for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
                if abs(x) >= scale:
                    return f"{x / scale:.1f} {unit}"
            return f"{int(x)} B"
        if k.endswith("seconds") or k.endswith("_s") or k == "seconds":
            if x == 0:
                return "0 s"
            if abs(x) < 1e-3:
                return f"{x * 1e6:.0f} µs"
            if abs(x) < 1:
                return f"{x * 1e3:.1f} ms"
            return f"{x:.2f} s"
        if isinstance(v, int) or (x.is_integer() and abs(x) < 1e15 and ("n_" in k or
                                                                        k.startswith("n"))):
            return f"{int(x):,}"
        if x == 0:
            return "0"
        if abs(x) >= 1e5 or abs(x) < 1e-3:
            return f"{x:.2e}"
        return f"{x:.4g}"
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        if len(v) <= 6 and all(_is_num(t) or isinstance(t, str) for t in v):
            return ", ".join(fmt_value(t, key) for t in v)
        return f"[{len(v)} values]"
    return str(v)


def pretty_key(key: str) -> str:
    """``"n_grad_evals"`` -> ``"grad evals"``: a readable column title."""
    special = {"n_params": "parameters", "n_iter": "iterations", "n_grad_evals": "gradient evals",
               "fit_seconds": "fit time", "predict_seconds": "predict time",
               "peak_memory_bytes": "peak memory", "flops_per_grad_eval": "flops / gradient",
               "n_flat": "flat directions", "k2": "K=2"}
    if key in special:
        return special[key]
    k = re.sub(r"^n_", "number of ", key)
    return k.replace("_", " ")


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return float("nan"), float("nan")
    m = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return m, sd


def _metric_meta(name: str) -> tuple[str, bool | None, str]:
    """(title, higher_is_better or None, description) of a metric key."""
    try:
        from .metrics import metric_info

        info = metric_info(name)
        return info.title, info.higher_is_better, info.description
    except (ImportError, KeyError):
        return pretty_key(name), None, ""


def _headline_metrics(problem: ProblemResult) -> list[str]:
    """Overall metric keys in the order the candidates report them (per-label ones left out)."""
    keys: list[str] = []
    for c in problem.candidates:
        for k in c.metrics:
            if ":" not in k and k not in keys:
                keys.append(k)
    return keys


def _best(problem: ProblemResult, metric: str) -> set[str]:
    _, hib, _ = _metric_meta(metric)
    if hib is None:
        return set()
    means = {c.name: _mean_sd(c.metrics.get(metric, []))[0] for c in problem.candidates}
    means = {k: v for k, v in means.items() if math.isfinite(v)}
    if len(means) < 2:
        return set()
    target = max(means.values()) if hib else min(means.values())
    return {k for k, v in means.items() if abs(v - target) <= 1e-12 * max(1.0, abs(target))}


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")
    return s or "data"


def _advice_lines(advice: Mapping[str, Any]) -> tuple[str, list[str]]:
    """(recommended model, reasons) from an advice dict, whatever its exact keys."""
    model = advice.get("model") or advice.get("recommendation") or advice.get("choice") or ""
    title = advice.get("model_title") or advice.get("title") or ""
    reasons = advice.get("reasons") or advice.get("why") or []
    if isinstance(reasons, str):
        reasons = [reasons]
    head = f"{title} ({model})" if title and model and title != model else (title or model)
    return str(head), [str(r) for r in reasons]


def _text_items(d: Mapping[str, Any]) -> list[str]:
    """Sentences an engine section carries (summary / verdict / notes keys)."""
    out = []
    for key in ("summary", "verdict", "conclusion", "explanation", "text", "note", "notes"):
        v = d.get(key)
        if isinstance(v, str) and v:
            out.append(v)
        elif isinstance(v, list):
            out.extend(str(t) for t in v if isinstance(t, str))
    return out


_TEXT_KEYS = {"summary", "verdict", "conclusion", "explanation", "text", "note", "notes"}


# -- renderer protocol -------------------------------------------------------------------------
class Renderer(Protocol):
    """Turns a result into text in one format."""

    name: str

    def render(self, result: CompareResult, figures: Mapping[str, Any] | None = None) -> str:
        """Return the rendered text (``figures``: ``(problem index, figure id) -> RenderedFigure``)."""
        ...  # pragma: no cover


class JsonRenderer:
    """``results.json``: the CompareResult as JSON (NaN/inf refused: strict JSON)."""

    name = "json"

    def render(self, result: CompareResult, figures: Mapping[str, Any] | None = None) -> str:
        return result.to_json(indent=2) + "\n"


# -- terminal ----------------------------------------------------------------------------------
class TerminalRenderer:
    """A summary for the terminal with rich tables, ending in the advice.

    Parameters
    ----------
    console : rich.console.Console, optional
        Where to print; a recording console is used when absent and the text is
        returned by :meth:`render`.
    """

    name = "terminal"

    def __init__(self, console: Any = None) -> None:
        self.console = console

    def render(self, result: CompareResult, figures: Mapping[str, Any] | None = None) -> str:
        from rich.console import Console

        console = self.console or Console(record=True, width=110)
        for problem in result.problems:
            self._problem(console, problem)
        self._advice(console, result)
        if hasattr(console, "export_text") and getattr(console, "record", False):
            return console.export_text()
        return ""

    def _problem(self, console: Any, problem: ProblemResult) -> None:
        from rich import box
        from rich.rule import Rule
        from rich.table import Table

        kind = {"binary": "binary", "multiclass": f"{problem.n_classes} exclusive classes",
                "multilabel": f"{problem.n_classes} non-exclusive labels"}.get(problem.task,
                                                                                problem.task)
        console.print(Rule(f"[bold]{problem.dataset}[/] · {kind} · {problem.n_samples:,} rows "
                           f"× {problem.n_features} features", style="cyan"))
        if problem.description:
            console.print(f"[dim]{problem.description}[/]")
        metrics = _headline_metrics(problem)
        if metrics and problem.candidates:
            t = Table(title="Performance (held-out, mean ± sd over folds)", box=box.SIMPLE_HEAD,
                      title_justify="left", title_style="bold")
            t.add_column("model")
            for m in metrics:
                title, hib, _ = _metric_meta(m)
                arrow = "" if hib is None else (" ↑" if hib else " ↓")
                t.add_column(title + arrow, justify="right")
            best = {m: _best(problem, m) for m in metrics}
            for c in problem.candidates:
                cells = []
                for m in metrics:
                    mean, sd = _mean_sd(c.metrics.get(m, []))
                    cell = "–" if not math.isfinite(mean) else f"{mean:.4f} ± {sd:.4f}"
                    cells.append(f"[bold green]{cell}[/]" if c.name in best[m] else cell)
                t.add_row(c.label or c.name, *cells)
            console.print(t)
        for cmp in problem.comparisons:
            console.print(f"  • {_escape_rich(cmp.verdict)}")
        compute_keys = _compute_keys(problem.candidates)
        if compute_keys:
            t = Table(title="Computational requirements (median over folds)",
                      box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
            t.add_column("model")
            for k in compute_keys:
                t.add_column(pretty_key(k), justify="right")
            for c in problem.candidates:
                t.add_row(c.label or c.name, *[fmt_value(c.compute.get(k), k)
                                                for k in compute_keys])
            console.print(t)
        for sec in SECTIONS[1:-1]:
            data = getattr(problem, sec.result_key or "", None)
            if not isinstance(data, dict) or not data or sec.id == "visualization":
                continue
            lines = _text_items(data) or _facts(data, limit=4)
            if lines:
                console.print(f"[bold]{sec.title}[/]")
                for line in lines[:4]:
                    console.print(f"  • {_escape_rich(line)}")
        console.print()

    def _advice(self, console: Any, result: CompareResult) -> None:
        from rich.panel import Panel

        parts = []
        for p in result.problems:
            head, reasons = _advice_lines(p.advice)
            if not head and not reasons:
                continue
            parts.append(f"[bold]{_escape_rich(p.dataset)}[/] → [bold green]"
                         f"{_escape_rich(head)}[/]")
            parts.extend(f"   {_escape_rich(r)}" for r in reasons[:4])
        if parts:
            console.print(Panel("\n".join(parts), title="[bold]Advice[/]", border_style="green",
                                expand=True))


def _escape_rich(text: str) -> str:
    from rich.markup import escape

    return escape(str(text))


def _compute_keys(cands: Sequence[CandidateResult]) -> list[str]:
    order = ["n_params", "fit_seconds", "predict_seconds", "n_iter", "n_grad_evals",
             "flops_per_grad_eval", "peak_memory_bytes"]
    present = {k for c in cands for k, v in c.compute.items() if _is_num(v) or v is None}
    return [k for k in order if k in present] + sorted(present - set(order))


def _facts(d: Mapping[str, Any], limit: int = 6) -> list[str]:
    """A few ``key: value`` lines from the scalar entries of a dict."""
    out = []
    for k, v in d.items():
        if k in _TEXT_KEYS:
            continue
        if _is_num(v) or isinstance(v, (bool, str)):
            out.append(f"{pretty_key(k)}: {fmt_value(v, k)}")
        if len(out) >= limit:
            break
    return out


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
nav.toc .sub-toc a{padding-left:20px;color:var(--muted);font-size:13px}
@media (max-width:1279px){nav.toc{border:1px solid var(--line);border-radius:8px;
padding:10px 12px;margin:14px 0;background:var(--soft)}nav.toc>ol{columns:2}
nav.toc .sub-toc{display:none}}
.answer{background:var(--goodbg);border-left:4px solid var(--good);padding:12px 16px;
border-radius:6px;margin:16px 0}
.answer h2{border:0;margin:0 0 6px;padding:0;font-size:18px}
.answer ul{margin:4px 0;padding-left:20px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:10px;
margin:12px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:var(--soft)}
.card b{display:block;font-size:15px}
.card span{color:var(--muted);font-size:13px}
.badge{display:inline-block;font-size:12px;padding:1px 8px;border-radius:10px;
background:#e6eefb;color:var(--accent);vertical-align:middle;margin-left:6px;font-weight:500}
.tablewrap{overflow-x:auto;margin:8px 0 12px}
table{border-collapse:collapse;font-size:13.5px;font-variant-numeric:tabular-nums}
th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600;background:var(--soft);white-space:nowrap}
td.num{text-align:right;white-space:nowrap}
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
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG, read from its IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


def _html_table(headers: Sequence[str], rows: Iterable[Sequence[tuple[str, str]]]) -> str:
    """``rows``: sequences of ``(html, css class)`` cells."""
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="{cls}">{cell}</td>' if cls else
                                     f"<td>{cell}</td>" for cell, cls in row) + "</tr>"
                   for row in rows)
    return (f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _dict_html(d: Mapping[str, Any], depth: int = 0) -> str:
    """Generic rendering of an engine section: sentences, scalar facts, tables."""
    parts = []
    texts = _text_items(d)
    if texts:
        parts.append("<ul class='verdicts'>" + "".join(f"<li>{_e(t)}</li>" for t in texts)
                     + "</ul>")
    scalars = [(k, v) for k, v in d.items() if k not in _TEXT_KEYS
               and (_is_num(v) or isinstance(v, (bool, str)) or v is None
                    or (isinstance(v, list) and len(v) <= 6
                        and all(_is_num(t) or isinstance(t, str) for t in v)))]
    if scalars:
        parts.append(_html_table(["", ""], [[(_e(pretty_key(k)), ""),
                                             (_e(fmt_value(v, k)), "num" if _is_num(v) else "")]
                                            for k, v in scalars]))
    for k, v in d.items():
        if k in _TEXT_KEYS or any(k == s for s, _ in scalars):
            continue
        if isinstance(v, dict) and v and all(isinstance(t, dict) for t in v.values()):
            inner = [t for t in v.values()]
            cols = []
            for t in inner:
                for ck, cv in t.items():
                    if ck not in cols and (_is_num(cv) or isinstance(cv, (bool, str))
                                           or cv is None):
                        cols.append(ck)
            if cols:
                rows = [[(_e(rk), "")] + [(_e(fmt_value(t.get(c), c)),
                                           "num" if _is_num(t.get(c)) else "") for c in cols]
                        for rk, t in v.items()]
                parts.append(f"<h4>{_e(pretty_key(k))}</h4>"
                             + _html_table([""] + [pretty_key(c) for c in cols], rows))
        elif isinstance(v, dict) and v and depth < 2:
            body = _dict_html(v, depth + 1)
            if body:
                parts.append(f"<details><summary>{_e(pretty_key(k))}</summary>{body}</details>")
        elif (isinstance(v, list) and v and all(isinstance(t, dict) for t in v)):
            cols = []
            for t in v:
                for ck, cv in t.items():
                    if ck not in cols and (_is_num(cv) or isinstance(cv, (bool, str))):
                        cols.append(ck)
            if cols:
                rows = [[(_e(fmt_value(t.get(c), c)), "num" if _is_num(t.get(c)) else "")
                         for c in cols] for t in v]
                parts.append(f"<h4>{_e(pretty_key(k))}</h4>"
                             + _html_table([pretty_key(c) for c in cols], rows))
    return "".join(parts)


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
        for s in SECTIONS:
            toc.append(f"<li><a href='#{s.id}'>{_e(s.title)}</a>")
            if s.id != "advice" and len(result.problems) > 1:
                toc.append("<ol class='sub-toc'>" + "".join(
                    f"<li><a href='#{s.id}-{_slug(p.dataset)}'>{_e(p.dataset)}</a></li>"
                    for p in result.problems) + "</ol>")
            toc.append("</li>")
        toc.append("<li><a href='#setup'>Setup</a></li></ol></nav>")
        body = [self._header(result), self._answer(result)]
        for s in SECTIONS:
            body.append(self._section(s, result, figures))
        body.append(self._setup(result))
        title = "sigmax: logistic vs softmax regression"
        return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                "<meta name='viewport' content='width=device-width,initial-scale=1'>"
                f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
                f"<div class='page'>{''.join(toc)}<main>{''.join(body)}</main></div>"
                "</body></html>\n")

    # -- parts -------------------------------------------------------------------------------
    def _header(self, result: CompareResult) -> str:
        names = ", ".join(p.dataset for p in result.problems) or "no data"
        when = result.environment.get("date") or result.settings.get("date") or ""
        cards = "".join(
            f"<div class='card'><b>{_e(p.dataset)}"
            f"<span class='badge'>{_e(p.task)}</span></b><span>{p.n_samples:,} rows · "
            f"{p.n_features} features · K = {p.n_classes}</span></div>"
            for p in result.problems)
        return ("<header><h1>Logistic or softmax regression? Measured on your data</h1>"
                f"<p class='sub'>sigmax compare on {_e(names)}"
                f"{' · ' + _e(when) if when else ''}</p>"
                f"<div class='cards'>{cards}</div></header>")

    def _answer(self, result: CompareResult) -> str:
        items = []
        for p in result.problems:
            head, reasons = _advice_lines(p.advice)
            if head:
                why = f" — {_e(reasons[0])}" if reasons else ""
                items.append(f"<li><b>{_e(p.dataset)}</b> ({_e(p.task)}): use "
                             f"<b>{_e(head)}</b>{why}</li>")
        short = _SECTION_BY_ID["advice"].lead
        return (f"<section class='answer' id='answer'><h2>In short</h2><p>{_e(short)}</p>"
                + (f"<ul>{''.join(items)}</ul>" if items else "") + "</section>")

    def _section(self, s: Section, result: CompareResult, figures: Mapping[Any, Any]) -> str:
        out = [f"<section id='{s.id}'><h2>{_e(s.title)}</h2><p class='q'>{_e(s.question)}</p>"
               f"<p class='lead'>{_e(s.lead)}</p>"]
        for i, p in enumerate(result.problems):
            block = self._problem_block(s, p, i, figures)
            out.append(f"<div class='problem' id='{s.id}-{_slug(p.dataset)}'>"
                       f"<h3>{_e(p.dataset)}<span class='badge'>{_e(p.task)}, "
                       f"K = {p.n_classes}</span></h3>{block}</div>")
        out.append("</section>")
        return "".join(out)

    def _problem_block(self, s: Section, p: ProblemResult, index: int,
                       figures: Mapping[Any, Any]) -> str:
        parts = []
        if s.id == "performance":
            parts.append(self._performance(p))
        elif s.id == "computation":
            parts.append(self._compute(p))
        if s.id == "advice":
            head, reasons = _advice_lines(p.advice)
            if head:
                parts.append(f"<p>Use <b>{_e(head)}</b>.</p>")
            if reasons:
                parts.append("<ul class='verdicts'>" + "".join(f"<li>{_e(r)}</li>"
                                                               for r in reasons) + "</ul>")
            rest = {k: v for k, v in p.advice.items()
                    if k not in {"model", "recommendation", "choice", "reasons", "why",
                                 "model_title", "title"}}
            parts.append(_dict_html(rest))
        elif s.result_key and s.id != "visualization":
            data = getattr(p, s.result_key, None)
            if isinstance(data, dict) and data:
                parts.append(_dict_html({k: v for k, v in data.items()
                                         if not _is_bulk(v)}))
            elif s.id == "k2":
                parts.append("<p class='skip'>The K = 2 check runs on binary problems; this one "
                             f"has K = {p.n_classes}.</p>")
        for (pi, _fid), fig in figures.items():
            if pi != index or fig.spec.section != s.id:
                continue
            parts.append(_figure_html(fig))
        html_ = "".join(x for x in parts if x)
        return html_ or "<p class='skip'>Nothing measured for this problem.</p>"

    def _performance(self, p: ProblemResult) -> str:
        metrics = _headline_metrics(p)
        if not metrics:
            return ""
        heads = ["model"]
        for m in metrics:
            title, hib, _ = _metric_meta(m)
            heads.append(title + ("" if hib is None else (" ↑" if hib else " ↓")))
        best = {m: _best(p, m) for m in metrics}
        rows = []
        for c in p.candidates:
            row = [(_e(c.label or c.name), "")]
            for m in metrics:
                mean, sd = _mean_sd(c.metrics.get(m, []))
                cell = ("–" if not math.isfinite(mean)
                        else f"{mean:.4f} <span class='sd'>± {sd:.4f}</span>")
                row.append((cell, "num best" if c.name in best[m] else "num"))
            rows.append(row)
        n_folds = max((len(v) for c in p.candidates for v in c.metrics.values()), default=0)
        out = [f"<p>Mean ± standard deviation over {n_folds} folds; ↑ higher is better, "
               "↓ lower is better; best in green.</p>", _html_table(heads, rows)]
        if p.comparisons:
            out.append("<h4>Is the difference real?</h4><ul class='verdicts'>"
                       + "".join(f"<li>{_e(c.verdict)}</li>" for c in p.comparisons)
                       + "</ul>")
        described = [(_metric_meta(m)[0], _metric_meta(m)[2]) for m in metrics]
        if any(d for _, d in described):
            out.append("<details><summary>Metric definitions</summary><ul>" + "".join(
                f"<li><b>{_e(t)}</b>: {_e(d)}</li>" for t, d in described if d)
                + "</ul></details>")
        return "".join(out)

    def _compute(self, p: ProblemResult) -> str:
        keys = _compute_keys(p.candidates)
        if not keys:
            return ""
        rows = [[(_e(c.label or c.name), "")]
                + [(_e(fmt_value(c.compute.get(k), k)), "num") for k in keys]
                for c in p.candidates]
        return ("<h4>Measured per model (median over folds)</h4>"
                + _html_table(["model"] + [pretty_key(k) for k in keys], rows))

    def _setup(self, result: CompareResult) -> str:
        rows = [[(_e(pretty_key(k)), ""), (_e(fmt_value(v, k)), "")]
                for k, v in {**result.settings, **result.environment}.items()
                if not isinstance(v, (dict, list)) or (isinstance(v, list) and len(v) <= 6)]
        notes = "".join(f"<li><b>{_e(p.dataset)}</b>: {_e(p.description)}</li>"
                        for p in result.problems if p.description)
        return ("<section id='setup'><h2>Setup</h2>"
                + (f"<ul>{notes}</ul>" if notes else "")
                + (_html_table(["setting", "value"], rows) if rows else "")
                + "<footer>Made by <code>sigmax compare</code>. Every number on this page "
                  "was measured in this run; <code>results.json</code> beside this file holds "
                  "them all.</footer></section>")


def _is_bulk(v: Any) -> bool:
    """Arrays behind figures (long lists, nested lists of numbers): not for tables."""
    if isinstance(v, list):
        return len(v) > 6 or any(isinstance(t, list) for t in v)
    if isinstance(v, dict):
        return bool(v) and all(_is_bulk(t) for t in v.values())
    return False


def _figure_html(fig: Any) -> str:
    spec = fig.spec
    if fig.png is None:
        return (f"<figure><h4>{_e(spec.title)}</h4>"
                f"<p class='skip'>Not drawn: {_e(fig.skipped)}.</p></figure>")
    from .plots import DPI

    w, h = png_size(fig.png)
    # Show the figure at its physical size (96 CSS px per inch), never wider than the page.
    cw, ch = round(w * 96 / DPI), round(h * 96 / DPI)
    b64 = base64.b64encode(fig.png).decode("ascii")
    return (f"<figure><h4>{_e(spec.title)}</h4><img alt='{_e(spec.title)}' width='{cw}' "
            f"height='{ch}' src='data:image/png;base64,{b64}'>"
            f"<figcaption>{_e(spec.caption)}</figcaption></figure>")


#: Registry of renderers by format name.
RENDERERS: dict[str, type] = {r.name: r for r in (TerminalRenderer, HtmlRenderer, JsonRenderer)}


# -- the report folder -------------------------------------------------------------------------
def _is_replaceable(path: Path) -> bool:
    if not path.exists():
        return True
    if not path.is_dir():
        return False
    return (path / REPORT_MARKER).exists() or not any(path.iterdir())


def write_report(result: CompareResult, out: str | os.PathLike, *, plots: bool = True,
                 callback: Progress | None = None) -> Path:
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

    Returns
    -------
    Path
        The path of ``index.html``.

    Raises
    ------
    ValueError
        When ``out`` is a file or a non-empty folder that is not a sigmax report.
    """
    out = Path(out)
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
            for fig in draw_figures(p):
                rendered[(i, fig.spec.id)] = fig
                if fig.png is not None:
                    p.figures[fig.spec.id] = f"figures/{_slug(p.dataset)}-{fig.spec.id}.png"
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
    """Put the finished folder ``tmp`` at ``out``; an old report there is removed after."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except OSError:
        if old is not None:
            os.replace(old, out)  # put the previous report back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
