"""The float32 softmax partition pass on ``(b, k)`` row blocks, nanoseconds per entry.

``sigmax._partition_kernels.softmax_partition_rows`` on one block of the size the row
blocks cut (``sigmax.dataterms.blocks.dense_block_rows`` for d = 14), labels, unit
weights, intercepts, without and with the Newton state, one thread, best of 200 calls.
K = 79 and 100 are the film label sets and the Zipf classes of ``sigmax bench``; K = 10
and 20 the dense problems'; 24 and 32 straddle where the kernel changes the order of
the state's transpose. To compare two source trees, run it under each one's
``PYTHONPATH``:

    python benchmarks/softmax_rows.py
    PYTHONPATH=/path/to/old/src python benchmarks/softmax_rows.py
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax._partition_kernels import softmax_partition_rows
from sigmax.dataterms.blocks import dense_block_rows

EMPTY = np.empty(0, np.float32)


def ns_per_entry(K: int, state: bool, rng: np.random.Generator, calls: int = 200) -> float:
    b = dense_block_rows(14, K, 4)
    Z0 = (rng.standard_normal((b, K)) * 2).astype(np.float32)
    y = rng.integers(0, K, b).astype(np.intp)
    S = np.empty((K, b), np.float32) if state else EMPTY.reshape(0, 0)
    bias = rng.standard_normal(K).astype(np.float32)
    Z = Z0.copy()
    softmax_partition_rows(Z, y, EMPTY, S, np.empty(0), False, bias)  # compile / load
    best = np.inf
    for _ in range(calls):
        Z[...] = Z0
        t = time.perf_counter()
        softmax_partition_rows(Z, y, EMPTY, S, np.empty(0), False, bias)
        best = min(best, time.perf_counter() - t)
    return best / (b * K) * 1e9


def main() -> None:
    rng = np.random.default_rng(0)
    print("   K   rows   no state   with state   (ns per entry, one thread)")
    with threadpool_limits(1):
        for K in (10, 20, 24, 32, 79, 100):
            b = dense_block_rows(14, K, 4)
            print(f"{K:4d} {b:6d} {ns_per_entry(K, False, rng):10.3f} "
                  f"{ns_per_entry(K, True, rng):12.3f}")


if __name__ == "__main__":
    main()
