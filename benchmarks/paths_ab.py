"""A/B of two source trees on the ``paths`` group: sigmax's CV time at one tolerance.

For each problem of ``sigmax bench paths`` (its data, folds and ``Cs``), fits
sigmax's CV estimator (``LogisticRegressionCV`` / ``SoftmaxRegressionCV``, refit
included, the bench's own ``_sigmax_cv``) in fresh subprocesses, once per round
for each tree, alternating (old, new, old, new, ...) so that drifts of a shared
machine fall on both alike, at default threads and at one thread
(``threadpoolctl.threadpool_limits(1)``). Each child also reports the largest
relative objective gap of its path points against the tight reference fits
(computed once, by the new tree, and cached under ``--cache``), so a faster
tree that stops short of the bench's 1e-6 shows it.

Run::

    python benchmarks/paths_ab.py OLD_SRC NEW_SRC digits --tol 1e-7
    python benchmarks/paths_ab.py OLD NEW dense_multinomial --scale 0.4 --tol 1e-5 --rounds 3

``OLD`` / ``NEW`` are ``src`` folders (holding ``sigmax/``). Prints one line per
problem and thread setting: the median seconds of each tree and ``new / old``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, sys, time, warnings
import numpy as np
from threadpoolctl import threadpool_limits
from sigmax.bench.paths import load_case, reference_objectives, _sigmax_cv, _objectives, _gaps
name, scale, folds, tol, threads, ref_path = sys.argv[1:7]
case = load_case(name, float(scale), int(folds))
ref = None
if ref_path != "-":
    p = __import__("pathlib").Path(ref_path)
    if not p.exists():
        np.save(p, reference_objectives(case))
    ref = np.load(p)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    ctx = threadpool_limits(1) if threads == "1" else __import__("contextlib").nullcontext()
    with ctx:
        t0 = time.perf_counter()
        coefs, icpts = _sigmax_cv(case, "auto", float(tol), 100000)
        seconds = time.perf_counter() - t0
gap = float(np.max(_gaps(_objectives(case, coefs, icpts), ref))) if ref is not None else None
print(json.dumps({"seconds": seconds, "max_gap": gap}))
"""


def _run(src: Path, args: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("problems", nargs="+")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", nargs="+", default=["default", "1"])
    ap.add_argument("--cache", default="/tmp/sigmax_paths_ab")
    a = ap.parse_args()
    trees = {"old": Path(a.old).resolve(), "new": Path(a.new).resolve()}
    Path(a.cache).mkdir(parents=True, exist_ok=True)
    for name in a.problems:
        ref = str(Path(a.cache) / f"ref-{name}-{a.scale:g}-{a.folds}.npy")
        _run(trees["new"], [name, str(a.scale), str(a.folds), str(a.tol), "default", ref]) \
            if not Path(ref).exists() else None
        for threads in a.threads:
            times: dict[str, list[float]] = {"old": [], "new": []}
            gaps: dict[str, float] = {"old": 0.0, "new": 0.0}
            for _ in range(a.rounds):
                for tag in ("old", "new"):
                    r = _run(trees[tag], [name, str(a.scale), str(a.folds), str(a.tol),
                                          threads, ref])
                    times[tag].append(r["seconds"])
                    gaps[tag] = max(gaps[tag], r["max_gap"])
            old, new = statistics.median(times["old"]), statistics.median(times["new"])
            print(f"{name} scale {a.scale:g} tol {a.tol:g} threads {threads}: old {old:.3f} s "
                  f"(gap {gaps['old']:.1e})  new {new:.3f} s (gap {gaps['new']:.1e})  "
                  f"new/old {new / old:.3f}   runs old {[round(t, 3) for t in times['old']]} "
                  f"new {[round(t, 3) for t in times['new']]}", flush=True)


if __name__ == "__main__":
    main()
