"""A/B of ``solver="auto"`` between two source trees: solver picked, iterations, seconds.

For each benchmark problem (built once by the NEW tree, so that problems only
the new tree defines run on both), a fresh subprocess per tree fits sigmax's
estimator with ``solver="auto"`` (a short warm-up fit first: numba's cache,
first touches), then times one fit (short fits: the median of runs filling 0.5 s, at
most 25), and reports the solver ``auto`` picked, its
iterations, the seconds and scikit-learn's objective of the result. The trees
alternate (old, new, new, old, ...) so that a shared machine's drifts fall on
both alike; the table shows the median seconds per tree and their ratio.

Run::

    python benchmarks/ab_auto.py OLD/src NEW/src --scale 0.1 --rounds 2
    python benchmarks/ab_auto.py OLD/src NEW/src film_labelsets --scale 1 --rounds 1

Issue 14 item 6 / issue 17 item 2: ``auto`` on the film label sets (rare
classes) against the tree before the class-spread rule, and no slowdown on
the other problems.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_PROBLEMS = ("dense_multinomial", "dense_binary", "sparse_text", "many_classes",
                    "multilabel", "digits", "movies", "breast_cancer_l1", "zipf_classes",
                    "film_labelsets", "credit_onehot")


def child(path: str, solver: str, dtype: str, tol: float) -> None:
    """In the subprocess: fit the pickled problem with this tree's sigmax, print JSON."""
    import numpy as np

    from sigmax.bench.adapters import ADAPTERS
    from sigmax.bench.problems import Problem, ProblemData, sklearn_objective

    with open(path, "rb") as fh:
        raw = pickle.load(fh)
    prob = Problem(raw["name"], raw["kind"], "", make=None, penalty=raw["penalty"], C=raw["C"])
    data = ProblemData(prob, raw["X"], raw["X"].astype(np.float32), raw["y"])
    adapter = ADAPTERS["sigmax"]
    X = adapter.prepare(data, dtype)
    # Warm-up: a short fit (numba's cache, first touches), not a whole one.
    adapter.fit(X, data, solver=solver, tol=tol, max_iter=3, dtype=dtype)
    times: list[float] = []
    while not times or (sum(times) < 0.5 and len(times) < 25):  # short fits: several runs
        t = time.perf_counter()
        fit = adapter.fit(X, data, solver=solver, tol=tol, max_iter=100_000, dtype=dtype)
        times.append(time.perf_counter() - t)
    seconds = statistics.median(times)
    print(json.dumps({"solver": fit.solver_used, "n_iter": fit.n_iter, "seconds": seconds,
                      "F": sklearn_objective(data, fit.coef, fit.intercept)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("problems", nargs="*", default=list(DEFAULT_PROBLEMS))
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--solver", default="auto")
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--tol", type=float, default=1e-6)
    args = ap.parse_args()
    trees = {"old": str(Path(args.old).resolve()), "new": str(Path(args.new).resolve())}
    folder = Path(tempfile.mkdtemp(prefix="ab_auto_"))
    build = ("import pickle, sys\nfrom sigmax.bench.problems import PROBLEMS\n"
             "p = PROBLEMS[sys.argv[1]]; d = p.load(float(sys.argv[2]))\n"
             "pickle.dump({'name': p.name, 'kind': p.kind, 'penalty': p.penalty, 'C': p.C, "
             "'X': d.X, 'y': d.y}, open(sys.argv[3], 'wb'))\n")
    rows: dict[tuple[str, str], list[dict]] = {}
    print(f"scale {args.scale}, solver={args.solver!r}, {args.dtype}, tol {args.tol:g}; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    for name in args.problems:
        path = folder / f"{name}.pkl"
        subprocess.run([sys.executable, "-c", build, name, str(args.scale), str(path)],
                       check=True, env=dict(os.environ, PYTHONPATH=trees["new"]))
        for r in range(args.rounds):
            for tree in (("old", "new") if r % 2 == 0 else ("new", "old")):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(path), args.solver, args.dtype,
                     str(args.tol)], capture_output=True, text=True,
                    env=dict(os.environ, PYTHONPATH=trees[tree]))
                if out.returncode:
                    print(f"{name} {tree}: failed\n{out.stderr[-1500:]}")
                    continue
                rec = json.loads(out.stdout.strip().splitlines()[-1])
                rows.setdefault((name, tree), []).append(rec)
                print(f"  {name} {tree}: {rec}", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.2f}\n")
    print("| problem | old: auto -> solver, iterations, s | new: auto -> solver, iterations, s "
          "| new/old time | F new/old - 1 |")
    print("|---|---|---|---|---|")
    for name in args.problems:
        old, new = rows.get((name, "old")), rows.get((name, "new"))
        if not old or not new:
            continue
        t_old = statistics.median(r["seconds"] for r in old)
        t_new = statistics.median(r["seconds"] for r in new)
        print(f"| {name} | {old[0]['solver']}, {old[0]['n_iter']}, {t_old:.3g} "
              f"| {new[0]['solver']}, {new[0]['n_iter']}, {t_new:.3g} | {t_new / t_old:.2f} "
              f"| {new[0]['F'] / old[0]['F'] - 1:.1e} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
    else:
        main()
