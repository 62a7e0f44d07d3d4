"""A/B of two source trees on ``sigmax bench``: do the sigmax/scikit-learn ratios stay the same?

Runs ``python -m sigmax.cli bench --scale S`` in fresh subprocesses, once per
round for each tree, alternating (old, new, old, new, ...) so that drifts of a
shared machine (load, CPU clock) fall on both trees alike. Each subprocess gets
``PYTHONPATH=<tree>`` (checked: the child imports sigmax from that tree, not from
an installed copy). Then it prints, per problem and thread setting, the median
over rounds of each ratio for the old and the new tree and their relative
difference ``new / old - 1``:

- ``ratio_f64`` / ``ratio_f32``: sigmax's time to the target gap (float64 /
  float32) over scikit-learn's best solver's (the bench's headline ratios);
- ``eval/floor``: one sigmax value+gradient evaluation over the floor of the two
  bare matrix products (float64).

Only the libraries the ratios read run (sigmax and scikit-learn), and the peak
memory runs are skipped (they feed no ratio).

Run::

    python benchmarks/ab_revisions.py /path/to/old/src /path/to/new/src
    python benchmarks/ab_revisions.py OLD NEW --scale 0.1 --rounds 2 --threads 1
    python benchmarks/ab_revisions.py OLD NEW --json ab.json   # also write every number

On a machine that other processes share, wall times move by more than the 5%
this check looks for. ``--clock cpu`` (one thread only) times every fit of both
libraries by the CPU time of the bench process instead: each child starts with a
``sitecustomize`` that makes ``time.perf_counter`` read ``time.process_time``
(both trees' benches time with ``time.perf_counter``), so time spent waiting for
a core no longer counts. Cache and memory-bandwidth contention still does::

    python benchmarks/ab_revisions.py OLD NEW --threads 1 --clock cpu --rounds 2

``OLD`` / ``NEW`` are ``src`` folders (holding ``sigmax/``) or checkouts holding
``src/sigmax``. One run of the bench as this script runs it (all 8 problems, both
thread settings, sigmax and scikit-learn, no memory runs) took 49 minutes (2,952 s)
on 2 vCPUs shared with other busy processes, so the default 2 rounds x 2 trees take
hours there: on a shared machine pass fewer problems (``dense_binary digits``) or
``--threads 1``, and compare only runs made by the same call.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: The ratios compared: (column name, key of a per-setting summary row of the bench).
RATIOS = (("ratio_f64", "ratio_f64"), ("ratio_f32", "ratio_f32"),
          ("eval/floor", "eval_over_floor_float64"))
#: The acceptance bound of issue 12: every ratio within this relative difference.
LIMIT = 0.05
#: ``--clock cpu``: the bench's timer reads the process's CPU time (see the module docstring).
CPU_CLOCK = "import time\ntime.perf_counter = time.process_time\n"


def source_root(path: str) -> Path:
    """The folder to put on ``PYTHONPATH``: ``path`` itself or its ``src``."""
    p = Path(path).resolve()
    for root in (p, p / "src"):
        if (root / "sigmax" / "__init__.py").is_file():
            return root
    raise SystemExit(f"{path}: no sigmax package there (expected {p}/sigmax or {p}/src/sigmax).")


def run_bench(root: Path, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """One ``sigmax bench`` run with ``root`` on the path; its result JSON."""
    path = str(root) if args.clock == "wall" else f"{args.shim}{os.pathsep}{root}"
    env = {**os.environ, "PYTHONPATH": path}
    where = subprocess.run([sys.executable, "-c", "import sigmax; print(sigmax.__file__)"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(root):
        raise SystemExit(f"PYTHONPATH={root} imports sigmax from {where}; is the tree complete?")
    cmd = [sys.executable, "-m", "sigmax.cli", "bench", *args.problems, "--scale", str(args.scale),
           "--library", "sigmax", "--library", "sklearn", "--no-memory", "--out", str(out)]
    for t in args.threads:
        cmd += ["--threads", t]
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True,
                   stdout=None if args.verbose else subprocess.DEVNULL)
    print(f"  {root}: {time.perf_counter() - t0:.0f} s", flush=True)
    [path] = out.glob("bench-*.json")
    return json.loads(path.read_text(encoding="utf-8"))


def ratios(result: dict[str, Any]) -> dict[tuple[str, str, str], float | None]:
    """``{(problem, thread setting, ratio): value}`` of one bench result."""
    out = {}
    for p in result["problems"]:
        for setting, row in p["summary"].items():
            if not isinstance(row, dict) or "ratio_f64" not in row:
                continue  # the summary's run-wide entries
            for name, key in RATIOS:
                out[(p["problem"], setting, name)] = row.get(key)
    return out


def _median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def table(old: list[dict], new: list[dict]) -> tuple[str, list[dict[str, Any]]]:
    """The comparison table (text) and its rows."""
    keys = sorted({k for r in old + new for k in r})
    rows = []
    for key in keys:
        a, b = _median([r.get(key) for r in old]), _median([r.get(key) for r in new])
        diff = b / a - 1 if a and b is not None else None
        rows.append({"problem": key[0], "threads": key[1], "ratio": key[2], "old": a, "new": b,
                     "rel_diff": diff, "old_runs": [r.get(key) for r in old],
                     "new_runs": [r.get(key) for r in new]})

    def f(x: float | None, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    lines = [f"{'problem':<22} {'threads':>7} {'ratio':<10} {'old':>8} {'new':>8} "
             f"{'new/old-1':>10}"]
    for r in rows:
        flag = "" if r["rel_diff"] is None or abs(r["rel_diff"]) <= LIMIT else "  > 5%"
        lines.append(f"{r['problem']:<22} {r['threads']:>7} {r['ratio']:<10} "
                     f"{f(r['old'], '.3f'):>8} {f(r['new'], '.3f'):>8} "
                     f"{f(r['rel_diff'], '+.1%'):>10}{flag}")
    return "\n".join(lines), rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old", help="old tree: a src folder or a checkout")
    p.add_argument("new", help="new tree: a src folder or a checkout")
    p.add_argument("problems", nargs="*", help="bench problems (default: all)")
    p.add_argument("--scale", type=float, default=0.1, help="share of rows (default 0.1)")
    p.add_argument("--rounds", type=int, default=2, help="runs of each tree (default 2)")
    p.add_argument("--threads", action="append", choices=["1", "default"],
                   help="thread settings (default: 1 then default, as sigmax bench)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="wall time (default), or the bench process's CPU time (--threads 1 only)")
    p.add_argument("--json", help="also write every number to this file")
    p.add_argument("--verbose", action="store_true", help="show the bench's own progress")
    args = p.parse_args(argv)
    args.threads = args.threads or ["1", "default"]
    trees = {"old": source_root(args.old), "new": source_root(args.new)}
    results: dict[str, list[dict]] = {"old": [], "new": []}
    if args.clock == "cpu" and args.threads != ["1"]:
        p.error("--clock cpu needs --threads 1 (CPU time adds up the threads of a process)")
    with tempfile.TemporaryDirectory(prefix="sigmax-ab-") as tmp:
        args.shim = Path(tmp) / "cpu-clock"
        args.shim.mkdir()
        (args.shim / "sitecustomize.py").write_text(CPU_CLOCK, encoding="utf-8")
        for i in range(args.rounds):
            # Alternate which tree goes first, so neither always runs on a warmer machine.
            order = ("old", "new") if i % 2 == 0 else ("new", "old")
            print(f"round {i + 1}/{args.rounds}", flush=True)
            for label in order:
                out = Path(tmp) / f"{label}-{i}"
                results[label].append(ratios(run_bench(trees[label], args, out)))
    text, rows = table(results["old"], results["new"])
    print(f"\nmedian over {args.rounds} round(s), {args.clock} clock; "
          f"old = {trees['old']}, new = {trees['new']}")
    print(text)
    bad = [r for r in rows if r["rel_diff"] is not None and abs(r["rel_diff"]) > LIMIT]
    print(f"\n{len(bad)} of {len(rows)} ratios differ by more than {LIMIT:.0%}.")
    if args.json:
        used = {k: v for k, v in vars(args).items() if k != "shim"}
        Path(args.json).write_text(json.dumps({"trees": {k: str(v) for k, v in trees.items()},
                                               "args": used, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
