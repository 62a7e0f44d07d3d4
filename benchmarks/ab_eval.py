"""A/B of one objective evaluation (value and gradient) between two source trees.

For each ``PROBLEM SCALE`` pair, a fresh subprocess per tree builds the bench problem's
objective (``sigmax.bench.runner._sigmax_objective``) in ``--dtype`` and times
``value_and_grad`` at one point, best of 9 calls, at one thread and at default threads;
the trees alternate for ``--rounds`` rounds, and the best of each tree is printed.

    python benchmarks/ab_eval.py OLD/src NEW/src film_labelsets 1 zipf_classes 1
    python benchmarks/ab_eval.py OLD/src NEW/src dense_multinomial 0.1 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

CHILD = """
import sys, time, warnings
import numpy as np
from threadpoolctl import threadpool_limits
from sigmax.bench.problems import PROBLEMS
from sigmax.bench.runner import _sigmax_objective
warnings.simplefilter("ignore")
name, scale, dtype = sys.argv[1], float(sys.argv[2]), sys.argv[3]
obj = _sigmax_objective(PROBLEMS[name].load(scale), dtype)
w = np.random.default_rng(1).standard_normal(obj.n_params) * 0.01
out = []
for setting in (1, None):
    with threadpool_limits(setting):
        obj.value_and_grad(w)
        best = float("inf")
        for _ in range(9):
            t = time.perf_counter()
            obj.value_and_grad(w)
            best = min(best, time.perf_counter() - t)
    out.append(best * 1e3)
print(*out)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("cases", nargs="+", help="PROBLEM SCALE pairs")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    pairs = list(zip(args.cases[::2], args.cases[1::2]))
    for name, scale in pairs:
        best: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for tree in ("old", "new"):
                env = dict(os.environ, PYTHONPATH=getattr(args, tree))
                out = subprocess.run([sys.executable, "-c", CHILD, name, scale, args.dtype],
                                     capture_output=True, text=True, env=env, check=True)
                ms = [float(x) for x in out.stdout.split()]
                prev = best.get(tree, [float("inf")] * 2)
                best[tree] = [min(a, b) for a, b in zip(prev, ms)]
        for tree in ("old", "new"):
            one, default = best[tree]
            print(f"{name} x{scale} {args.dtype} {tree}: one thread {one:.2f} ms, "
                  f"default threads {default:.2f} ms")


if __name__ == "__main__":
    main()
