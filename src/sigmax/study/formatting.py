"""Formatting shared by the renderers and the sections' HTML: numbers, keys, tables."""

from __future__ import annotations

import html
import math
import re
import struct
from collections.abc import Iterable, Sequence
from typing import Any

from .result import ProblemResult

__all__ = ["best_of", "cand_label", "esc", "fmt_value", "headline_metrics", "html_table",
           "is_num", "key_verdicts", "mean_sd", "metric_meta", "num_cell", "png_size",
           "pretty_key", "sentences", "slug"]


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def fmt_value(v: Any, key: str = "") -> str:
    """A number or value as a short string (units from the key name)."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if is_num(v):
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
        if len(v) <= 6 and all(is_num(t) or isinstance(t, str) for t in v):
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


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return float("nan"), float("nan")
    m = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else 0.0
    return m, sd


def metric_meta(name: str) -> tuple[str, bool | None, str]:
    """(title, higher_is_better or None, description) of a metric key."""
    try:
        from .metrics import metric_info

        info = metric_info(name)
        return info.title, info.higher_is_better, info.description
    except (ImportError, KeyError):
        return pretty_key(name), None, ""


def headline_metrics(problem: ProblemResult) -> list[str]:
    """Overall metric keys in the order the candidates report them (per-label ones left out)."""
    keys: list[str] = []
    for c in problem.candidates:
        for k in c.metrics:
            if ":" not in k and k not in keys:
                keys.append(k)
    return keys


def best_of(problem: ProblemResult, metric: str) -> set[str]:
    _, hib, _ = metric_meta(metric)
    if hib is None:
        return set()
    means = {c.name: mean_sd(c.metrics.get(metric, []))[0] for c in problem.candidates}
    means = {k: v for k, v in means.items() if math.isfinite(v)}
    if len(means) < 2:
        return set()
    target = max(means.values()) if hib else min(means.values())
    return {k for k, v in means.items() if abs(v - target) <= 1e-12 * max(1.0, abs(target))}


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")
    return s or "data"


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels of a PNG, read from its IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", data[16:24])


def html_table(headers: Sequence[str], rows: Iterable[Sequence[tuple[str, str]]]) -> str:
    """``rows``: sequences of ``(html, css class)`` cells."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="{cls}">{cell}</td>' if cls else
                                     f"<td>{cell}</td>" for cell, cls in row) + "</tr>"
                   for row in rows)
    return (f'<div class="tablewrap"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def sentences(items: Any) -> str:
    if isinstance(items, str):
        items = [items]
    items = [str(t) for t in (items or []) if t]
    if not items:
        return ""
    return "<ul class='verdicts'>" + "".join(f"<li>{esc(t)}</li>" for t in items) + "</ul>"


def num_cell(v: Any, key: str = "") -> tuple[str, str]:
    return esc(fmt_value(v, key)), "num" if is_num(v) else ""


def cand_label(p: ProblemResult, name: str) -> str:
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
        titles = [metric_meta(m)[0] for m in dict.fromkeys(c.metric for c in key)]
        who = ", ".join(cand_label(p, n) for n in names[:-1]) + " and " + cand_label(
            p, names[-1])
        lines.append(f"{who} score the same {', '.join(titles)} on every fold (differences "
                     "below 1e-6): the same predictions, so the same model.")
    for c in key:
        if (c.a, c.b) not in same:
            lines.append(c.verdict)
    return lines


def summary_line(title: str, items: Sequence[str] | None) -> list[str]:
    """The terminal's one line for a section: its title and first summary sentence."""
    from rich.markup import escape

    return [f"[bold]{title}:[/] {escape(str(items[0]))}"] if items else []
