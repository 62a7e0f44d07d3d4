"""Benchmarks: sigmax against scikit-learn (and statsmodels, PyTorch) to a checked optimum.

``sigmax bench`` (or ``python benchmarks/run.py``) calls :func:`run`: for every
problem of :data:`PROBLEMS` it computes a reference optimum, times every
library x solver (one adapter each, :data:`ADAPTERS`) to a relative objective
gap that is checked on every timed run, measures the floor of one objective
evaluation (the two bare matrix products) and the peak memory of a fit, and
writes a JSON file, a markdown table of ratios and time-to-optimum plots.

Examples
--------
>>> from sigmax.bench import run
>>> result = run(["breast_cancer_l1"], scale=0.5, repeats=1, threads=["1"],
...              libraries=["sigmax"], out_dir=None, memory=False, verbose=False)
>>> result["problems"][0]["results"]["1"][0]["reached"]
True
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import defaults, paths
from .adapters import ADAPTERS, Adapter, Fit
from .problems import PROBLEMS, Problem, ProblemData, sklearn_objective
from .runner import TARGET_GAP, BenchConfig, check_gap, gap, run, time_to_gap

#: Benchmark groups run by name (``sigmax bench paths``), each with its own ``run``.
GROUPS = {"paths": paths.run, "defaults": defaults.run}

__all__ = ["ADAPTERS", "GROUPS", "PROBLEMS", "TARGET_GAP", "Adapter", "BenchConfig", "Fit",
           "Problem",
           "ProblemData", "check_gap", "gap", "main", "run", "sklearn_objective",
           "time_to_gap"]


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry of ``benchmarks/run.py`` (the same options as ``sigmax bench``)."""
    parser = argparse.ArgumentParser(prog="benchmarks/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("problems", nargs="*", help=f"problems to run (default: all of "
                        f"{', '.join(PROBLEMS)})")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="share of rows to keep, e.g. 0.05 for a quick check (default 1)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after the warm-up")
    parser.add_argument("--library", action="append", choices=list(ADAPTERS),
                        help="only these libraries (repeatable)")
    parser.add_argument("--threads", action="append", choices=["1", "default"],
                        help="thread settings (default: 1 then default)")
    parser.add_argument("--out", default="benchmarks/results", help="output folder")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")
    args = parser.parse_args(argv)
    run(args.problems or None, scale=args.scale, repeats=args.repeats, libraries=args.library,
        threads=args.threads or ("1", "default"), out_dir=args.out, memory=not args.no_memory,
        plots=not args.no_plots)
    return 0
