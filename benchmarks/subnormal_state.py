"""float32 Hessian products with and without flushing subnormal state entries.

A confident softmax's probabilities fall below float32's normal range, and
products on subnormal operands are slow on x86. ``Float32Hessp.state`` stores
entries below ``FLUSH_BELOW`` (1e-30) in magnitude as 0 (``FLUSH_BELOW = 0``
switches that off here). The path of the first training fold of
dense_multinomial at ``--scale`` of the paths group's rows (the paths bench's Cs,
``tol=1e-6``, one thread), with the float32 products flushed, not flushed, and
with exact float64 products; alternating, best of ``--rounds``.

    python benchmarks/subnormal_state.py
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import sigmax.dataterms.float32_hessp as f32
import sigmax.dataterms.numpy_term as numpy_term
from sigmax import SoftmaxRegression, regularization_path
from sigmax.bench import paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=0.02, help="of the paths group's rows")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    case = paths.load_case("dense_multinomial", args.scale)
    train = case.folds[0][0]
    X, y = case.data.X[train], case.data.y[train]
    keep_flush, keep_switch = f32.FLUSH_BELOW, numpy_term.NumpyData.float32_hessp
    variants = {"float32, flushed": (keep_flush, keep_switch),
                "float32, not flushed": (np.float32(0), keep_switch),
                "float64 products": (keep_flush, lambda self, on=True: False)}
    best = {label: np.inf for label in variants}
    with threadpool_limits(1):
        for _ in range(args.rounds):
            for label, (flush, switch) in variants.items():
                f32.FLUSH_BELOW, numpy_term.NumpyData.float32_hessp = flush, switch
                try:
                    t = time.perf_counter()
                    regularization_path(SoftmaxRegression(tol=1e-6), X, y, case.Cs)
                    best[label] = min(best[label], time.perf_counter() - t)
                finally:
                    f32.FLUSH_BELOW, numpy_term.NumpyData.float32_hessp = (keep_flush,
                                                                          keep_switch)
    print(f"dense_multinomial fold 0, {X.shape[0]} x {X.shape[1]}, K=10, {len(case.Cs)} Cs, "
          f"tol 1e-6, one thread, best of {args.rounds}")
    for label, seconds in best.items():
        print(f"  {label:22s} {seconds:.3f} s")


if __name__ == "__main__":
    main()
