"""Per-evaluation A/B of the softmax's elementwise passes between two source trees.

On a problem of few features and many classes (default: the film label sets,
n=58,788, d=14, K=79, where the work per evaluation is the softmax over
``n x K`` as much as the products), a fresh subprocess per tree times one
value+gradient evaluation, one Hessian-vector product and the two bare products
of a pass (``X @ W``, ``X.T @ G``: the floor), best of ``--repeats``, at one
thread and at the default threads; the trees alternate (old, new, new, old).

Run::

    python benchmarks/softmax_eval_ab.py OLD/src NEW/src [--problem film_labelsets]
        [--dtype float64] [--rounds 2]
    PYTHONPATH=src python benchmarks/softmax_eval_ab.py --blocks   # one block, this tree:
                                                # NumPy's passes against the compiled ones
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


def child(path: str, dtype: str, repeats: int) -> None:
    import numpy as np
    from threadpoolctl import threadpool_limits

    from sigmax.losses import LOSSES
    from sigmax.objective import LinearObjective
    from sigmax.penalties import make_penalty

    with open(path, "rb") as fh:
        raw = pickle.load(fh)
    X = np.ascontiguousarray(raw["X"], dtype=dtype)
    y = raw["y"]
    k = int(y.max()) + 1
    obj = LinearObjective(LOSSES["multinomial"], X, y, np.ones(len(y)), k, C=1.0,
                          penalty=make_penalty("l2"))
    r = np.random.default_rng(0)
    w = r.normal(size=obj.n_params) * 0.3
    v = r.normal(size=obj.n_params)
    obj.track_second_order()
    obj.value_and_grad(w)
    W = w.reshape(-1, k)[:-1].astype(dtype)
    G = np.empty((len(y), k), dtype=dtype)

    def best(fn):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    out = {}
    for setting in ("1", "default"):
        with threadpool_limits(1 if setting == "1" else None):
            obj.hessp(w, v)
            out[setting] = {
                "eval_ms": 1e3 * best(lambda: obj.value_and_grad(w)),
                "hessp_ms": 1e3 * best(lambda: obj.hessp(w, v)),
                "floor_ms": 1e3 * (best(lambda: np.dot(X, W, out=G)) + best(lambda: X.T @ G)),
            }
    print(json.dumps(out))


def blocks(repeats: int) -> None:
    """One block of the film label sets' shape (k=79, 3048 rows, float64): NumPy's
    passes against the compiled ones, in this tree, best of ``repeats``."""
    import numpy as np

    from sigmax.losses import LOSSES

    loss = LOSSES["multinomial"]
    r = np.random.default_rng(0)
    k, b, n = 79, 3048, 58_788
    state = r.random((k, n))
    state /= state.sum(axis=0)
    St = state[:, b:2 * b]  # a column block of the Newton state, as in a pass
    Z0 = 3 * r.normal(size=(k, b))
    y = r.integers(0, k, b)
    ones = np.broadcast_to(1.0, (b,))
    Z = np.empty_like(Z0)

    def best(fn):
        times = []
        for _ in range(repeats):
            Z[...] = Z0
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return 1e3 * min(times)

    print("| pass (one block, 79 x 3048, float64, one thread) | NumPy ms | compiled ms |")
    print("|---|---|---|")
    for label, S in (("partition, with the Newton state", St), ("partition", None)):
        t_np = best(lambda S=S: loss.partition_t(Z, None, S, None, y))
        t_c = best(lambda S=S: loss.partition_t(Z, None, S, None, y, compiled=True))
        print(f"| {label} | {t_np:.3f} | {t_c:.3f} |")
    t_np = best(lambda: loss.hessp_t(St, None, ones, Z))
    t_c = best(lambda: loss.hessp_t(St, None, ones, Z, compiled=True))
    print(f"| Hessian-vector | {t_np:.3f} | {t_c:.3f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old", nargs="?")
    ap.add_argument("new", nargs="?")
    ap.add_argument("--blocks", action="store_true",
                    help="time one block's passes, NumPy against compiled, in this tree")
    ap.add_argument("--problem", default="film_labelsets")
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    if args.blocks:
        blocks(max(args.repeats, 30))
        return
    if not args.old or not args.new:
        ap.error("give the OLD and NEW source trees (or --blocks)")
    trees = {"old": str(Path(args.old).resolve()), "new": str(Path(args.new).resolve())}
    path = Path(tempfile.mkdtemp(prefix="softmax_ab_")) / "data.pkl"
    build = ("import pickle, sys\nfrom sigmax.bench.problems import PROBLEMS\n"
             "d = PROBLEMS[sys.argv[1]].load(1.0)\n"
             "pickle.dump({'X': d.X, 'y': d.y}, open(sys.argv[2], 'wb'))\n")
    subprocess.run([sys.executable, "-c", build, args.problem, str(path)], check=True,
                   env=dict(os.environ, PYTHONPATH=trees["new"]))
    print(f"{args.problem}, {args.dtype}; load average {os.getloadavg()[0]:.2f}", flush=True)
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for r in range(args.rounds):
        for tree in (("old", "new") if r % 2 == 0 else ("new", "old")):
            out = subprocess.run([sys.executable, __file__, "--child", str(path), args.dtype,
                                  str(args.repeats)], capture_output=True, text=True,
                                 env=dict(os.environ, PYTHONPATH=trees[tree]), check=True)
            runs[tree].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"  {tree}: {runs[tree][-1]}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}\n")
    print("| threads | what | old ms | new ms | new/old | old/floor | new/floor |")
    print("|---|---|---|---|---|---|---|")
    for setting in ("1", "default"):
        floor = statistics.median(x[setting]["floor_ms"] for t in runs for x in runs[t])
        for what in ("eval_ms", "hessp_ms"):
            old = statistics.median(x[setting][what] for x in runs["old"])
            new = statistics.median(x[setting][what] for x in runs["new"])
            print(f"| {setting} | {what[:-3]} | {old:.1f} | {new:.1f} | {new / old:.2f} "
                  f"| {old / floor:.2f} | {new / floor:.2f} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
