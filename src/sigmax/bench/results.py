"""A benchmark result as data: its summary ratios, its JSON text and its file tag.

:func:`~sigmax.bench.runner.run` produces the result (a plain dict, see
:mod:`sigmax.bench.runner`); :mod:`sigmax.bench.report` renders it. Both read
this module, so neither imports the other for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["default_out_dir", "summarize", "tag_for", "to_json", "write_group"]


# -- ratios ---------------------------------------------------------------------------------------
def summarize(out: dict[str, Any]) -> dict[str, Any]:
    """The ratios the issue's acceptance criteria read, per thread setting."""
    summary: dict[str, Any] = {}
    for setting, recs in out["results"].items():
        sk = [r for r in recs if r["library"] == "sklearn" and r["reached"]]
        best_sk = min(sk, key=lambda r: r["seconds"]) if sk else None

        def pick(dtype, solver="auto", recs=recs):
            return next((r for r in recs if r["library"] == "sigmax" and r["solver"] == solver
                         and r["dtype"] == dtype), None)

        s64, s32 = pick("float64"), pick("float32")
        row: dict[str, Any] = {
            "sklearn_best_solver": best_sk["solver"] if best_sk else None,
            "sklearn_best_s": best_sk["seconds"] if best_sk else None,
            "sigmax_f64_s": s64["seconds"] if s64 and s64["reached"] else None,
            "sigmax_f64_solver": s64.get("solver_used") if s64 else None,
            "sigmax_f32_s": s32["seconds"] if s32 and s32["reached"] else None,
            "timing": "ladder medians",
        }
        # Prefer the alternating head-to-head timings when they exist.
        h2h = out.get("head_to_head", {}).get(setting) or {}
        if best_sk and h2h:
            sk_key = f"sklearn/{best_sk['solver']}/float64"
            if sk_key in h2h and h2h[sk_key]["reached"]:
                row["sklearn_best_s"] = h2h[sk_key]["seconds"]
                for dt, col in (("float64", "sigmax_f64_s"), ("float32", "sigmax_f32_s")):
                    h = h2h.get(f"sigmax/auto/{dt}")
                    row[col] = h["seconds"] if h and h["reached"] else None
                row["timing"] = "head to head"
        for key, limit in (("f64", 0.5), ("f32", 0.25)):
            t = row[f"sigmax_{key}_s"]
            ratio = t / row["sklearn_best_s"] if t and row["sklearn_best_s"] else None
            row[f"ratio_{key}"] = ratio
            row[f"ok_{key}"] = bool(ratio is not None and ratio <= limit)
        sig = [r for r in recs if r["library"] == "sigmax" and r["reached"]
               and r["dtype"] == "float64"]
        if sig:
            fastest = min(sig, key=lambda r: r["seconds"])
            row["sigmax_fastest_solver"], row["sigmax_fastest_s"] = (fastest["solver"],
                                                                     fastest["seconds"])
        ev = out["eval"]
        for dt in ("float64", "float32"):
            t = ev[dt].get(setting, {}).get("value_and_grad")
            fl = out["floor"][dt]
            row[f"eval_{dt}_s"] = t
            # Same thread setting: the products the evaluation could use.
            row[f"eval_over_floor_{dt}"] = t / fl[setting]["floor"] if t else None
            # Against the best floor of any setting (stricter where OpenBLAS's
            # second thread makes a product slower).
            row[f"eval_over_best_floor_{dt}"] = t / fl["best"] if t else None
        limit = 1.3 if out["sparse"] else 1.15
        row["eval_limit"] = limit
        row["ok_eval"] = all(row[f"eval_over_floor_{dt}"] is not None
                             and row[f"eval_over_floor_{dt}"] <= limit
                             for dt in ("float64", "float32"))
        sk_eval = ev["float64"].get(setting, {}).get("sklearn_loss_gradient")
        row["sklearn_eval_over_floor"] = sk_eval / out["floor"]["float64"]["best"] \
            if sk_eval else None
        summary[setting] = row
    # The headline evaluation ratio: sigmax's best time over any thread setting
    # against the best floor over any thread setting.
    for dt in ("float64", "float32"):
        times = [v.get("value_and_grad") for v in out["eval"][dt].values()]
        times = [t for t in times if t]
        summary[f"eval_best_over_floor_best_{dt}"] = (min(times) / out["floor"][dt]["best"]
                                                      if times else None)
    limit = 1.3 if out["sparse"] else 1.15
    summary["ok_eval"] = all(summary[f"eval_best_over_floor_best_{dt}"] is not None
                             and summary[f"eval_best_over_floor_best_{dt}"] <= limit
                             for dt in ("float64", "float32"))
    mem = out.get("memory", {})
    sig_mem = {k: v["buffers"] for k, v in mem.items() if k.startswith("sigmax/")}
    summary["memory_buffers"] = sig_mem
    summary["ok_memory"] = bool(sig_mem) and all(v < 3 for v in sig_mem.values())
    return summary


# -- files -------------------------------------------------------------------------------------
def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def to_json(result: dict[str, Any]) -> str:
    """The result as JSON text (NumPy scalars converted, non-finite floats as null)."""
    return json.dumps(_jsonable(result), indent=1)


def tag_for(scale: float) -> str:
    """The file tag of a run at ``scale``: ``full`` or ``scale0.1``."""
    return "full" if scale == 1 else f"scale{scale:g}"


def default_out_dir() -> Path:
    """Where ``sigmax bench`` writes its files by default."""
    return Path("benchmarks/results")


def write_group(result: dict[str, Any], out_dir: Any, group: str, scale: float,
                markdown: Any) -> list[str]:
    """Write a group's ``<group>-<tag>.json`` and ``.md`` (``markdown(result)``) to
    ``out_dir``, each atomically; returns the two paths."""
    from ..io import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{group}-{tag_for(scale)}"
    atomic_write_text(out / f"{stem}.json", to_json(result))
    atomic_write_text(out / f"{stem}.md", markdown(result))
    return [str(out / f"{stem}.json"), str(out / f"{stem}.md")]
