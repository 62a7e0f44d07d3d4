"""Render a benchmark result: JSON (everything), a markdown table of ratios, plots.

Rendering is separate from measuring: :func:`write_results` only reads the
plain dict that :func:`sigmax.bench.run` returns, so a stored JSON file can be
rendered again (``render_markdown(json.load(...))``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..io import atomic_write_bytes, atomic_write_text
from .results import summarize, tag_for, to_json

__all__ = ["plot_problem", "render_markdown", "rerender", "write_results"]


def _s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3g} s" if x >= 0.01 else f"{x * 1e3:.3g} ms"


def _r(x: float | None, limit: float | None = None) -> str:
    if x is None:
        return "—"
    mark = "" if limit is None else (" ✓" if x <= limit else " ✗")
    return f"{x:.2f}{mark}"


def render_markdown(result: dict[str, Any]) -> str:
    """Markdown: machine, command, the ratio table per thread setting, then details."""
    m, cfg = result["machine"], result["config"]
    lines = ["# sigmax benchmark", ""]
    cmd = "sigmax bench" + ("" if cfg["scale"] == 1 else f" --scale {cfg['scale']:g}")
    more = (f" (short fits: enough runs for {cfg['min_timed_s']:g} s, at most "
            f"{cfg['max_repeats']})" if "min_timed_s" in cfg else "")
    lines += [f"Command: `{cmd}` (same as `python benchmarks/run.py`), "
              f"{cfg['repeats']} timed runs after a warm-up{more}, median.", ""]
    blas = sorted({f"{t.get('internal_api')} {t.get('version')} ({t.get('architecture', '')}, "
                   f"{t.get('threading_layer', '')})" for t in m.get("threadpools", [])
                   if t.get("user_api") == "blas"})
    lines += [f"Machine: {m.get('cpu', m.get('processor', ''))}, {m.get('cpu_count')} CPUs, "
              f"{m.get('mem_gb', '?')} GiB; Python {m['python']}, NumPy {m['numpy']}, "
              f"SciPy {m['scipy']}, scikit-learn {m['sklearn']}, sigmax {m['sigmax']}"
              + (f", statsmodels {m['statsmodels']}" if "statsmodels" in m else "")
              + (f", PyTorch {m['torch']}" if "torch" in m else "") + ".", "",
              f"BLAS: {'; '.join(blas)}. Environment: {m.get('env') or 'none set'}.", ""]
    loads = [p["loadavg_end"][0] for p in result["problems"] if p.get("loadavg_end")]
    if "loadavg_start" in m:
        lines += [f"Load average (1 min) at the start: {m['loadavg_start'][0]:g}"
                  + (f"; after each problem: {', '.join(f'{x:g}' for x in loads)}" if loads
                     else "")
                  + f" (on {m.get('cpu_count')} CPUs: above that, other processes shared "
                  "the cores during the run).", ""]
    if cfg.get("rerun"):  # problems replaced by a later run of the same code (merged JSON)
        lines += [f"Re-run: {', '.join(cfg['rerun']['problems'])}: {cfg['rerun']['note']}.", ""]
    lines += ["Targets: relative objective gap (F - F*) / |F*| <= "
              f"{cfg['target_gap']['float64']:g} (float64) and "
              f"{cfg['target_gap']['float32']:g} (float32), checked on every timed run with "
              "one objective function (scikit-learn's C·Σ loss + penalty, float64).", ""]
    for setting in cfg["threads"]:
        title = "one thread (threadpoolctl limit 1)" if setting == "1" else "default threads"
        lines += [f"## {title}", "",
                  "| problem | n × d, k | best scikit-learn | sigmax f64 (auto) | ratio ≤ 0.5 "
                  "| sigmax f32 | ratio ≤ 0.25 | eval/floor f64 | eval/floor f32 "
                  "| sklearn eval/floor |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for p in result["problems"]:
            s = p["summary"].get(setting)
            if not s:
                continue
            shape = f"{p['n']:,} × {p['d']:,}, {p['k']}" + (" (CSR)" if p["sparse"] else "")
            sk = (f"{s['sklearn_best_solver']} {_s(s['sklearn_best_s'])}"
                  if s["sklearn_best_solver"] else "—")
            sig = f"{s['sigmax_f64_solver'] or ''} {_s(s['sigmax_f64_s'])}"
            lines.append(
                f"| {p['problem']} | {shape} | {sk} | {sig} | {_r(s['ratio_f64'], 0.5)} | "
                f"{_s(s['sigmax_f32_s'])} | {_r(s['ratio_f32'], 0.25)} | "
                f"{_r(s['eval_over_floor_float64'], s['eval_limit'])} | "
                f"{_r(s['eval_over_floor_float32'], s['eval_limit'])} | "
                f"{_r(s['sklearn_eval_over_floor'])} |")
        lines.append("")
    lines += ["eval/floor: one sigmax objective evaluation (value and gradient) over the "
              "floor, the best time of the two bare products X @ W and X.T @ G on that shape "
              "(best over call variants) under the same thread setting; limit 1.15 dense, "
              "1.3 sparse. sklearn eval/floor: scikit-learn's own loss+gradient "
              "(LinearModelLoss.loss_gradient), float64.", "",
              "## Evaluation cost, best of both thread settings", "",
              "sigmax's fastest evaluation (either setting) over the fastest floor (either "
              "setting).", "",
              "| problem | eval/floor f64 | eval/floor f32 | limit |", "|---|---|---|---|"]
    for p in result["problems"]:
        s = p["summary"]
        if "eval_best_over_floor_best_float64" not in s:
            continue
        limit = 1.3 if p["sparse"] else 1.15
        lines.append(f"| {p['problem']} | {_r(s['eval_best_over_floor_best_float64'], limit)} "
                     f"| {_r(s['eval_best_over_floor_best_float32'], limit)} | {limit} |")
    lines.append("")
    lines += ["## Peak memory during fit", "",
              "Extra peak (tracemalloc) over the process with X loaded, in (n × k) buffers of "
              "the working dtype (limit: under 3).", "",
              "| problem | fit | traced MB | buffers | RSS MB |", "|---|---|---|---|---|"]
    for p in result["problems"]:
        for key, mem in p.get("memory", {}).items():
            lines.append(f"| {p['problem']} | {key} | {mem['traced_mb']:.1f} | "
                         f"{mem['buffers']:.2f} | {mem['rss_mb']:.1f} |")
    lines += ["", "## Every solver", ""]
    for p in result["problems"]:
        lines += [f"### {p['problem']}", "", p["description"] + f"; penalty {p['penalty']}, "
                  f"C={p['C']:g}. Reference F* = {p['reference']['objective']:.12g} "
                  f"({p['reference']['solver']}).", "",
                  "| threads | library | solver | dtype | time to target | tol | iterations "
                  "| worst gap | note |", "|---|---|---|---|---|---|---|---|---|"]
        for setting, recs in p["results"].items():
            for r in recs:
                worst = max((x["gap"] for x in r["runs"]), default=None)
                lines.append(
                    f"| {setting} | {r['library']} | {r['solver']}"
                    + (f" → {r['solver_used']}" if r.get("solver_used")
                       and r["solver_used"] != r["solver"] else "")
                    + f" | {r['dtype']} | {_s(r['seconds']) if r['reached'] else 'not reached'}"
                    f" | {r.get('tol', '—')} | {r.get('n_iter', '—')} | "
                    f"{'—' if worst is None else f'{worst:.1e}'} | {r['note']} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def plot_problem(p: dict[str, Any], setting: str = "1"):
    """Figure: objective gap vs seconds for every library x solver of one problem.

    Points are the tolerance-ladder runs (each a full fit); sigmax's line is
    its per-iteration history from a timed run.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ref = p["reference"]["objective"]
    scale_to_sklearn = p["C"] * p["n"]  # normalized objective -> scikit-learn's
    for r in p["results"].get(setting, []):
        pts = [(x["seconds"], max(x["gap"], 1e-16)) for x in r["ladder"] + r["runs"]]
        if not pts:
            continue
        pts.sort()
        label = f"{r['library']} {r['solver']} {r['dtype'].replace('float', 'f')}"
        style = "-" if r["library"] == "sigmax" else "--"
        hist = r.get("history")
        if r["library"] == "sigmax" and hist and hist.get("objective"):
            xs = hist["seconds"]
            ys = [max((f * scale_to_sklearn - ref) / abs(ref), 1e-16) for f in hist["objective"]]
            (line,) = ax.plot(xs, ys, style, lw=1.4, label=label)
            ax.plot(*zip(*pts), "o", ms=3, color=line.get_color())
        else:
            ax.plot(*zip(*pts), style + "o", ms=3, lw=1, label=label)
    ax.axhline(1e-6, color="k", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("seconds")
    ax.set_ylabel("relative objective gap")
    ax.set_title(f"{p['problem']} (threads: {setting})")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    return fig


def write_results(result: dict[str, Any], out_dir: str | os.PathLike,
                  plots: bool = True) -> list[Path]:
    """Write ``bench-<tag>.json``, ``bench-<tag>.md`` and ``plots/<tag>-<problem>.png``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tag = tag_for(result["config"]["scale"])
    paths = [out / f"bench-{tag}.json", out / f"bench-{tag}.md"]
    atomic_write_text(paths[0], to_json(result))
    atomic_write_text(paths[1], render_markdown(result))
    if plots:
        import io

        import matplotlib.pyplot as plt

        (out / "plots").mkdir(exist_ok=True)
        for p in result["problems"]:
            fig = plot_problem(p, result["config"]["threads"][0])
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110)
            plt.close(fig)
            path = out / "plots" / f"{tag}-{p['problem']}.png"
            atomic_write_bytes(path, buf.getvalue())
            paths.append(path)
    return paths


def rerender(json_path: str | os.PathLike, plots: bool = True) -> list[Path]:
    """Re-render a stored ``bench-<tag>.json`` (summaries recomputed) next to it."""
    import json

    path = Path(json_path)
    result = json.loads(path.read_text(encoding="utf-8"))
    for p in result["problems"]:
        p["summary"] = summarize(p)
    return write_results(result, path.parent, plots=plots)
