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
from .result import CompareResult, ProblemResult

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
            "performance"),
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
        if abs(x) >= 1e6 or abs(x) < 1e-3:
            return f"{x:.3g}" if abs(x) >= 1e6 else f"{x:.2e}"
        if abs(x) >= 1e3:
            return f"{x:,.0f}"
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
        from rich import box
        from rich.rule import Rule
        from rich.table import Table

        console.print(Rule(f"[bold]{_escape_rich(p.dataset)}[/] · {_task_words(p)} · "
                           f"{p.n_samples:,} rows × {p.n_features} features", style="cyan"))
        metrics = [m for m in _headline_metrics(p) if m in _TERMINAL_METRICS]
        if metrics and p.candidates:
            n_folds = max((len(v) for c in p.candidates for v in c.metrics.values()), default=0)
            t = Table(title=f"Performance: held-out, mean ± sd over {n_folds} folds",
                      box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
            t.add_column("model")
            for m in metrics:
                title, hib, _ = _metric_meta(m)
                t.add_column(title + ("" if hib is None else (" ↑" if hib else " ↓")),
                             justify="right")
            best = {m: _best(p, m) for m in metrics}
            for c in p.candidates:
                cells = []
                for m in metrics:
                    mean, sd = _mean_sd(c.metrics.get(m, []))
                    cell = "–" if not math.isfinite(mean) else f"{mean:.4f} ±{sd:.3f}"
                    cells.append(f"[bold green]{cell}[/]" if c.name in best[m] else cell)
                t.add_row(_escape_rich(c.label or c.name), *cells)
            console.print(t)
        for line in key_verdicts(p, ("log_loss", "accuracy", "subset_accuracy")):
            console.print(f"  • {_escape_rich(line)}")
        keys = [k for k in ("n_params", "fit_seconds", "n_iter", "n_grad_evals",
                            "grad_eval_seconds", "peak_memory_bytes")
                if any(k in c.compute for c in p.candidates)]
        if keys:
            t = Table(title="Computational requirements (median over folds)",
                      box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
            t.add_column("model")
            titles = {"fit_seconds": "fit time", "grad_eval_seconds": "time / gradient"}
            for k in keys:
                t.add_column(titles.get(k, pretty_key(k)), justify="right")
            for c in p.candidates:
                t.add_row(_escape_rich(c.label or c.name),
                          *[fmt_value(c.compute.get(k), k) for k in keys])
            console.print(t)
        for title, items in (("Derivatives", p.derivatives.get("summary")),
                             ("Minima", p.minima.get("summary")),
                             ("K=2", p.k2_equivalence.get("summary"))):
            if items:
                console.print(f"[bold]{title}:[/] {_escape_rich(items[0])}")
        console.print()

    def _advice(self, console: Any, result: CompareResult) -> None:
        from rich.panel import Panel

        parts = []
        for p in result.problems:
            a = p.advice or {}
            if not a.get("summary"):
                continue
            if parts:
                parts.append("")
            parts.append(f"[bold]{_escape_rich(p.dataset)}[/] ({_task_words(p)}): "
                         f"[bold green]{_escape_rich(a['summary'])}[/]")
            parts.extend(f"  – {_escape_rich(r)}" for r in (a.get("reasons") or [])[:2])
        if parts:
            console.print(Panel("\n".join(parts), title="[bold]Advice[/]", border_style="green",
                                expand=True))


#: Metrics in the terminal table (the HTML report shows them all).
_TERMINAL_METRICS = ("accuracy", "log_loss", "ece", "macro_f1", "subset_accuracy",
                     "hamming_loss")


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


def _sentences(items: Any) -> str:
    if isinstance(items, str):
        items = [items]
    items = [str(t) for t in (items or []) if t]
    if not items:
        return ""
    return "<ul class='verdicts'>" + "".join(f"<li>{_e(t)}</li>" for t in items) + "</ul>"


def _num_cell(v: Any, key: str = "") -> tuple[str, str]:
    return _e(fmt_value(v, key)), "num" if _is_num(v) else ""


def _cand_label(p: ProblemResult, name: str) -> str:
    return next((c.label for c in p.candidates if c.name == name and c.label), name)


#: Metrics whose paired verdicts are shown in the text (the rest under "all comparisons").
_KEY_METRICS = ("log_loss", "accuracy", "subset_accuracy", "macro_f1")


def key_verdicts(p: ProblemResult, metrics: Sequence[str] = _KEY_METRICS) -> list[str]:
    """The paired verdicts worth reading, as sentences.

    Pairs that are identical on every fold for every key metric (the binary
    candidates: one model in three parameterizations) are merged into one
    sentence instead of one per metric and pair.
    """
    key = [c for c in p.comparisons if c.metric in metrics]
    pairs: dict[tuple[str, str], list[Any]] = {}
    for c in key:
        pairs.setdefault((c.a, c.b), []).append(c)
    same = [ab for ab, cs in pairs.items() if all(c.conclusion == "identical" for c in cs)]
    lines = []
    if same:
        names = list(dict.fromkeys(n for ab in same for n in ab))
        titles = [_metric_meta(m)[0] for m in dict.fromkeys(c.metric for c in key)]
        who = ", ".join(_cand_label(p, n) for n in names[:-1]) + " and " + _cand_label(
            p, names[-1])
        lines.append(f"{who} score the same {', '.join(titles)} on every fold (differences "
                     "below 1e-6): the same predictions, so the same model.")
    for c in key:
        if (c.a, c.b) not in same:
            lines.append(c.verdict)
    return lines


def _perf_html(p: ProblemResult) -> str:
    perf = p.performance or {}
    metrics = [m["name"] for m in perf.get("metrics", []) if isinstance(m, dict)
               and "name" in m] or _headline_metrics(p)
    metrics = [m for m in metrics if any(m in c.metrics for c in p.candidates)]
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
    out = []
    if perf.get("folds"):
        out.append(f"<p>{_e(perf['folds'])}. Mean ± standard deviation over the folds; "
                   "↑ higher is better, ↓ lower is better; best in green.</p>")
    out.append(_html_table(heads, rows))
    lines = key_verdicts(p)
    if lines:
        out.append("<h4>Is the difference real?</h4>" + _sentences(lines))
    if p.comparisons:
        crow = [[(_e(_metric_meta(c.metric)[0]), ""),
                 (_e(f"{_cand_label(p, c.a)} − {_cand_label(p, c.b)}"), ""),
                 _num_cell(c.diff), (_e(f"[{fmt_value(c.ci_low)}, {fmt_value(c.ci_high)}]"),
                                     "num"),
                 _num_cell(c.p_value), (_e((c.conclusion or "").replace("_", " ")), "")]
                for c in p.comparisons]
        method = p.comparisons[0].method
        out.append(f"<details><summary>All {len(p.comparisons)} paired comparisons</summary>"
                   f"<p class='sub'>{_e(method)}.</p>"
                   + _html_table(["metric", "difference of", "mean", "95% CI", "p", "verdict"],
                                 crow) + "</details>")
    described = [(_metric_meta(m)[0], _metric_meta(m)[2]) for m in metrics]
    if any(d for _, d in described):
        out.append("<details><summary>Metric definitions</summary><ul>" + "".join(
            f"<li><b>{_e(t)}</b>: {_e(d)}</li>" for t, d in described if d) + "</ul></details>")
    notes = [f"{c.label}: {n}" for c in p.candidates for n in c.notes]
    if notes:
        out.append("<details><summary>Warnings during the fits</summary>"
                   + _sentences(notes) + "</details>")
    return "".join(out)


#: Columns of the compute table, in order (those present are shown).
_COMPUTE_COLUMNS = ("n_params", "fit_seconds", "n_iter", "n_grad_evals", "grad_eval_seconds",
                    "flops_per_grad_eval", "gflops_per_second", "peak_memory_bytes",
                    "predict_seconds")


def _compute_html(p: ProblemResult) -> str:
    comp = p.computation or {}
    out = [_sentences(comp.get("summary"))]
    keys = [k for k in _COMPUTE_COLUMNS if any(k in c.compute for c in p.candidates)]
    if keys:
        rows = [[(_e(c.label or c.name), "")] + [_num_cell(c.compute.get(k), k) for k in keys]
                for c in p.candidates]
        titles = {"fit_seconds": "fit time", "grad_eval_seconds": "time / gradient",
                  "gflops_per_second": "GFLOP/s"}
        out.append(_html_table(["model"] + [titles.get(k, pretty_key(k)) for k in keys], rows))
    sweep = comp.get("k_sweep") or {}
    if sweep.get("labels"):
        out.append(f"<p class='sub'>K sweep data: {_e(sweep['labels'])}.</p>")
    fm = comp.get("flops_model") or {}
    how = [f"{k}: {comp[k]}" for k in ("timer", "memory_method") if comp.get(k)]
    if comp.get("threads"):
        how.append(f"BLAS threads: {comp['threads']}")
    if fm or how:
        rows = [[(_e(k), ""), (f"<code>{_e(v)}</code>", "")] for k, v in fm.items()
                if k != "notes" and isinstance(v, str)]
        out.append("<details><summary>How this is measured (flops model, timer, memory)"
                   "</summary>" + (_html_table(["count per evaluation", "formula"], rows)
                                   if rows else "")
                   + (f"<p>{_e(fm['notes'])}</p>" if fm.get("notes") else "")
                   + _sentences(how) + "</details>")
    return "".join(out)


_FORMULA_ROWS = (("loss", "loss"), ("gradient", "gradient"), ("hessian", "Hessian"),
                 ("hessp", "Hessian-vector product"), ("hessian_structure", "structure"))


def _deriv_html(p: ProblemResult) -> str:
    d = p.derivatives or {}
    out = [_sentences(d.get("summary"))]
    cands = d.get("candidates") or {}
    if cands:
        rows = []
        for name, c in cands.items():
            chk = c.get("check") or {}
            p2 = c.get("n_params", 0) ** 2
            nnz = c.get("hessian_nonzero_entries")
            share = f" ({nnz / p2:.0%})" if _is_num(nnz) and p2 else ""
            rows.append([
                (_e(_cand_label(p, name)), ""),
                _num_cell(c.get("n_params"), "n_params"),
                (_e(f"{fmt_value(nnz)}{share}"), "num"),
                _num_cell(c.get("hessian_bytes"), "hessian_bytes"),
                _num_cell(c.get("flops_per_hessian")),
                _num_cell(chk.get("grad_max_rel_error")) if "grad_max_rel_error" in chk
                else (_e(chk.get("skipped", "–")), ""),
                _num_cell(chk.get("hessp_max_rel_error")) if "hessp_max_rel_error" in chk
                else ("–", "")])
        out.append("<h4>Measured</h4>" + _html_table(
            ["model", "parameters", "Hessian nonzeros", "dense Hessian", "flops to build it",
             "∇f vs finite diff.", "Hv vs finite diff."], rows))
    if d.get("check_point"):
        out.append(f"<p class='sub'>Finite differences: {_e(d['check_point'])}.</p>")
    return "".join(out)


def formulas_html(result: CompareResult) -> str:
    """The derivative formulas of each loss family, once for the whole report."""
    formulas: dict[str, Any] = {}
    for p in result.problems:
        for fam, f in ((p.derivatives or {}).get("formulas") or {}).items():
            formulas.setdefault(fam, f)
    if not formulas:
        return ""
    titles = {"sigmoid": "sigmoid (logistic, one-vs-rest, multi-label)", "softmax": "softmax"}
    rows = []
    for key, title in _FORMULA_ROWS:
        cells = [(f"<code>{_e(f.get(f'{key}_text', f.get(key, '')))}</code>", "")
                 for f in formulas.values()]
        rows.append([(_e(title), ""), *cells])
    return _html_table([""] + [titles.get(f, f) for f in formulas], rows)


def _minima_html(p: ProblemResult) -> str:
    m = p.minima or {}
    out = [_sentences(m.get("summary"))]
    models = m.get("models") or []
    if models:
        rows = []
        for e in models:
            name = {"ovr": "one-vs-rest", "multilabel": "independent sigmoids"}.get(
                e.get("model"), e.get("model"))
            par = e.get("parameterization")
            what = f"{name}" + (f" ({par})" if par else "")
            pen = "none" if e.get("penalty") in (None, "none") else (
                f"L2, C={fmt_value(e.get('C'))}")
            if "skipped" in e:
                rows.append([(_e(what), ""), (_e(pen), ""),
                             _num_cell(e.get("expected_n_flat")),
                             (_e("not analysed: " + str(e["skipped"])), "")]
                            + [("", "")] * 4)
                continue
            rs = e.get("random_starts") or {}
            ok = e.get("matches_theory")
            rows.append([
                (_e(what), ""), (_e(pen), ""), _num_cell(e.get("expected_n_flat")),
                (_e(f"{e.get('n_flat')}" + ("  ✓" if ok else "  ✗" if ok is False else "")),
                 "num"),
                _num_cell(e.get("smallest_nonzero_eigenvalue")),
                _num_cell(e.get("max_prob_change")),
                _num_cell(rs.get("coef_spread")) if rs else ("–", ""),
                _num_cell(rs.get("objective_spread")) if rs else ("–", "")])
        out.append(_html_table(
            ["model", "penalty", "flat dims: theory", "measured", "smallest λ > 0",
             "max Δp on flat dims", "starts: Δ coef", "starts: Δ f"], rows))
    sub = m.get("subproblem") or {}
    if sub.get("how"):
        out.append(f"<p class='sub'>Hessians computed on {_e(sub['how'])}.</p>")
    sep = m.get("separation") or {}
    if sep:
        rows = []
        for name, e in sep.items():
            state = e.get("separated")
            word = ("yes" + (f" ({e['kind']})" if e.get("kind") else "") if state
                    else "no" if state is False else "not decided")
            outs = e.get("outputs_separated")
            if outs:
                word += f": {len(outs)} output(s)"
            rows.append([(_e(_cand_label(p, name)), ""), (_e(word), ""),
                         (_e(e.get("how", "")), "")])
        out.append("<h4>Are the training data separable (no finite minimum without a "
                   "penalty)?</h4>" + _html_table(["model", "separated", "how we know"], rows))
    return "".join(out)


_K2_KEYS = ("C_logistic", "C_softmax", "max_abs_prob_diff", "max_abs_coef_diff",
            "abs_intercept_diff", "max_abs_symmetry", "same_C_max_abs_prob_diff",
            "ovr_max_abs_prob_diff")
_K2_TITLES = {
    "C_logistic": "C of logistic regression", "C_softmax": "C of 2-class softmax",
    "max_abs_prob_diff": "max |Δ probability|, logistic vs softmax",
    "max_abs_coef_diff": "max |w_logistic − (w₁ − w₀)|",
    "abs_intercept_diff": "|b_logistic − (b₁ − b₀)|",
    "max_abs_symmetry": "max |w₀ + w₁| (softmax rows opposite)",
    "same_C_max_abs_prob_diff": "max |Δ probability| with the same C (no mapping)",
    "ovr_max_abs_prob_diff": "max |Δ probability|, logistic vs one-vs-rest",
}


def _k2_html(p: ProblemResult) -> str:
    k = p.k2_equivalence or {}
    if not k:
        return ""
    out = [_sentences(k.get("summary"))]
    rows = [[(_e(_K2_TITLES[key]), ""), _num_cell(k[key])] for key in _K2_KEYS if key in k]
    if isinstance(k.get("ovr_per_label"), dict):
        for key, title in (("max_abs_coef_diff", "max |Δ coefficient|, L logistic fits vs "
                            "independent sigmoids"),
                           ("max_abs_prob_diff", "max |Δ probability|, L logistic fits vs "
                            "independent sigmoids")):
            if key in k["ovr_per_label"]:
                rows.append([(_e(title), ""), _num_cell(k["ovr_per_label"][key])])
    if rows:
        out.append(_html_table(["quantity", "measured"], rows))
    return "".join(out)


def _viz_html(p: ProblemResult) -> str:
    v = p.visualization or {}
    out = []
    labels = v.get("labels") or {}
    sets = labels.get("top_label_sets") or []
    if sets:
        rows = [[(_e(" & ".join(s.get("labels") or []) or "(no label)"), ""),
                 _num_cell(s.get("count"), "n_rows")] for s in sets]
        card = labels.get("cardinality") or []
        text = ""
        if card:
            total = sum(card) or 1
            text = ("Labels per row: " + ", ".join(f"{i}: {c / total:.0%}"
                                                   for i, c in enumerate(card) if c) + ". ")
        out.append(f"<p>{_e(text)}The most frequent label sets:</p>"
                   + _html_table(["label set", "rows"], rows))
    return "".join(out)


def _advice_html(p: ProblemResult) -> str:
    a = p.advice or {}
    if not a:
        return ""
    out = []
    if a.get("summary"):
        out.append(f"<p class='verdict'><b>{_e(a['summary'])}</b></p>")
    out.append(_sentences(a.get("reasons")))
    if a.get("structural_choice") and a.get("model") and a["structural_choice"] != a["model"]:
        out.append(f"<p>The label structure alone suggests {_e(a['structural_choice'])}; the "
                   "measurements changed the choice.</p>")
    ev = a.get("evidence") or []
    if ev:
        out.append("<details><summary>Evidence used</summary>" + _sentences(
            [e.get("verdict", "") for e in ev if isinstance(e, dict)]) + "</details>")
    return "".join(out)


#: One HTML renderer per section id.
SECTION_HTML: dict[str, Callable[[ProblemResult], str]] = {
    "performance": _perf_html, "computation": _compute_html, "derivatives": _deriv_html,
    "minima": _minima_html, "k2": _k2_html, "visualization": _viz_html,
    "advice": _advice_html,
}


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
            if len(result.problems) > 1:
                toc.append("<ol class='sub-toc'>" + "".join(
                    f"<li><a href='#{s.id}-{_slug(p.dataset)}'>{_e(p.dataset)}</a></li>"
                    for p in result.problems) + "</ol>")
            toc.append("</li>")
        toc.append("<li><a href='#setup'>Setup</a></li></ol></nav>")
        body = [self._header(result), self._answer(result)]
        for s in SECTIONS:
            body.append(self._section(s, result, figures))
        body.append(self._setup(result))
        title = "sigmax: logistic or softmax regression?"
        return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
                "<meta name='viewport' content='width=device-width,initial-scale=1'>"
                "<meta name='generator' content='sigmax compare'>"
                f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
                f"<div class='page'>{''.join(toc)}<main>{''.join(body)}</main></div>"
                "</body></html>\n")

    # -- parts -------------------------------------------------------------------------------
    def _header(self, result: CompareResult) -> str:
        names = ", ".join(p.dataset for p in result.problems) or "no data"
        when = result.environment.get("report_written", "")
        cards = "".join(
            f"<a class='card' href='#performance-{_slug(p.dataset)}'><b>{_e(p.dataset)}"
            f"<span class='badge'>{_e(p.task)}</span></b><span>{p.n_samples:,} rows · "
            f"{p.n_features} features · K = {p.n_classes}</span></a>"
            for p in result.problems)
        return ("<header><h1>Logistic or softmax regression? Measured on your data</h1>"
                f"<p class='sub'>sigmax compare on {_e(names)}"
                f"{' · ' + _e(when) if when else ''}</p>"
                f"<div class='cards'>{cards}</div></header>")

    def _answer(self, result: CompareResult) -> str:
        items = []
        for p in result.problems:
            a = p.advice or {}
            est = a.get("estimator") or a.get("model") or ""
            label = _cand_label(p, a.get("model", "")) if a.get("model") else ""
            if not est:
                continue
            why = short_why(p)
            items.append(f"<li><b>{_e(p.dataset)}</b> ({_e(_task_words(p))}): "
                         f"<b>{_e(label)}</b> <code>{_e(est)}</code>"
                         + (f" — {_e(why)}" if why else "") + "</li>")
        short = _SECTION_BY_ID["advice"].lead
        return ("<section class='answer' id='answer'><h2>In short</h2>"
                + (f"<ul>{''.join(items)}</ul>" if items else "")
                + f"<p class='sub'>{_e(short)} Each section below answers one question with "
                  "numbers measured in this run.</p></section>")

    def _section(self, s: Section, result: CompareResult, figures: Mapping[Any, Any]) -> str:
        out = [f"<section id='{s.id}'><h2>{_e(s.title)}</h2><p class='q'>{_e(s.question)}</p>"
               f"<p class='lead'>{_e(s.lead)}</p>"]
        if s.id == "derivatives":
            out.append(formulas_html(result))
        for i, p in enumerate(result.problems):
            block = self._problem_block(s, p, i, figures)
            out.append(f"<div class='problem' id='{s.id}-{_slug(p.dataset)}'>"
                       f"<h3>{_e(p.dataset)}<span class='badge'>{_e(_task_words(p))}</span>"
                       f"</h3>{block}</div>")
        out.append("</section>")
        return "".join(out)

    def _problem_block(self, s: Section, p: ProblemResult, index: int,
                       figures: Mapping[Any, Any]) -> str:
        parts = [SECTION_HTML[s.id](p)] if s.id in SECTION_HTML else []
        for (pi, _fid), fig in figures.items():
            if pi == index and fig.spec.section == s.id:
                parts.append(_figure_html(fig))
        html_ = "".join(x for x in parts if x)
        return html_ or "<p class='skip'>Not measured for this problem.</p>"

    def _setup(self, result: CompareResult) -> str:
        settings = {k: v for k, v in result.settings.items() if k not in ("budget",)}
        rows = [[(_e(pretty_key(k)), ""), (_e(fmt_value(v, k)), "")]
                for k, v in {**settings, **result.environment}.items()
                if not isinstance(v, (dict, list)) or (isinstance(v, list) and len(v) <= 8
                                                       and not any(isinstance(t, dict)
                                                                   for t in v))]
        blas = result.environment.get("blas") or []
        if blas:
            rows.append([("BLAS", ""), (_e("; ".join(
                f"{b.get('library')} {b.get('version')} ({b.get('threads')} thread(s))"
                for b in blas if isinstance(b, dict))), "")])
        data = []
        for p in result.problems:
            bits = [p.description, *p.notes]
            secs = p.seconds.get("total")
            if secs:
                bits.append(f"study time {secs:.1f} s")
            data.append(f"<li><b>{_e(p.dataset)}</b>: {_e('; '.join(b for b in bits if b))}"
                        "</li>")
        return ("<section id='setup'><h2>Setup</h2>"
                + (f"<h4>Data</h4><ul>{''.join(data)}</ul>" if data else "")
                + (_html_table(["setting", "value"], rows) if rows else "")
                + "<footer>Made by <code>sigmax compare</code>. Every number on this page "
                  "was measured in this run; <code>results.json</code> beside this file holds "
                  "them all, and <code>figures/</code> the figures.</footer></section>")


def short_why(p: ProblemResult) -> str:
    """One clause: why the advised model, from the label structure and the log-loss test."""
    a = p.advice or {}
    s = a.get("label_structure") or {}
    bits = []
    if p.task == "binary":
        bits.append("two classes: logistic is 2-class softmax with half the parameters")
    elif p.task == "multiclass":
        bits.append(f"{p.n_classes} exclusive classes: one softmax, probabilities sum to 1")
    elif s.get("kind") == "non-exclusive":
        share = s.get("share_multi")
        bits.append("labels co-occur" + (f" ({share:.0%} of rows carry 2 or more)"
                                         if isinstance(share, (int, float)) else ""))
    choice = a.get("model")
    groups: dict[str, list[str]] = {}
    for c in p.comparisons:
        if c.metric != "log_loss" or choice not in (c.a, c.b):
            continue
        other = _cand_label(p, c.b if c.a == choice else c.a)
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
    return {"binary": "binary", "multiclass": f"{p.n_classes} exclusive classes",
            "multilabel": f"{p.n_classes} non-exclusive labels"}.get(p.task, p.task)


def _figure_html(fig: Any) -> str:
    spec = fig.spec
    if fig.png is None and fig.quiet:
        return ""
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
    path = Path(path).resolve()
    if path == Path.cwd().resolve() or path in Path.cwd().resolve().parents:
        return False  # never swap away the folder we are running in
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
