"""Newton-CG's vector updates per CG step: NumPy passes against the compiled sweeps.

Times one CG step's vector work (:mod:`sigmax.solvers.cg_updates`: the
curvature's inner products, ``x``/``r`` updates, Jacobi preconditioning with
the row-mean centering of a symmetric softmax, the next direction) on vectors
of sparse_text's parameter count (50,001 x 20: 1M entries, 8 MB each) by
default, NumPy's :class:`NumpyUpdates` against :class:`CompiledUpdates`, at one
thread; best of ``--repeats`` blocks of 20 steps. The Hessian product itself is
not included.

Usage::

    python benchmarks/cg_updates.py [--rows 50001] [--k 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax.solvers.cg_updates import CompiledUpdates, NumpyUpdates
from sigmax.solvers.newton import _RowMeans
from sigmax.solvers.preconditioners import Jacobi


def step_ms(ops, vecs, steps: int = 20) -> float:
    x, r, p, Hp, z = (v.copy() for v in vecs)
    ops.update(x, r, p, Hp, z, 0.1)  # compile / warm the caches
    t = time.perf_counter()
    for _ in range(steps):  # as NewtonCG's loop: the norms come back from update()
        ops.curvature(p, Hp)
        ops.update(x, r, p, Hp, z, 1e-3)
        ops.turn(p, z, 0.5)
    return (time.perf_counter() - t) / steps * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_001)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    m = args.rows * args.k
    vecs = [rng.standard_normal(m) for _ in range(5)]
    pre = Jacobi(rng.uniform(0.5, 2.0, m))
    split = _RowMeans.__new__(_RowMeans)  # only its centering is used
    split.n_rows, split.k = args.rows, args.k
    kinds = {"numpy": NumpyUpdates(pre, split), "compiled": CompiledUpdates(pre, split, args.k)}
    best = {name: np.inf for name in kinds}
    with threadpool_limits(1):
        for _ in range(args.repeats):
            for name, ops in kinds.items():
                best[name] = min(best[name], step_ms(ops, vecs))
    print(f"one CG step's vector updates, {args.rows:,} x {args.k} parameters "
          f"({m * 8 / 2**20:.1f} MiB a vector), Jacobi + row-mean centering, one thread, "
          f"best of {args.repeats}:")
    for name, ms in best.items():
        print(f"  {name:8s} {ms:6.2f} ms")
    print(f"  compiled / numpy: {best['compiled'] / best['numpy']:.2f}")


if __name__ == "__main__":
    main()
