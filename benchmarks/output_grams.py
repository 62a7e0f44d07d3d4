"""The ``k`` weighted Gram matrices of a Newton-Cholesky step: one GEMM over row products
against ``k`` stacked products.

:func:`sigmax.dataterms.hessian.add_weighted_grams` forms
:math:`X_b^\\top \\mathrm{diag}(h_a) X_b` for every output ``a`` of a row block
(one-vs-rest, multi-label and the softmax's diagonal blocks). For ``k >= D`` it
takes the route of :func:`~sigmax.dataterms.hessian._add_grams_by_products`;
below, ``k`` stacked ``(D, D)`` products. This script times both routes on the
same row block (4,096 rows, one BLAS thread, best of 7) and prints their ratio
(below 1: the route over row products is faster) for a few shapes, the film
label sets' (``D = 15, k = 79``) first.

Run::

    python benchmarks/output_grams.py
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax.bench.runner import _best_time
from sigmax.dataterms import hessian

SHAPES = [(15, 79), (15, 20), (15, 15), (15, 7), (15, 1), (65, 10), (65, 65), (201, 3)]


def _stacked(Xb: np.ndarray, h: np.ndarray, out: np.ndarray) -> None:
    # The route for k < D, forced: sqrt(h) X_b stacked, one batched product.
    root = np.sqrt(np.maximum(h, 0))
    R = Xb[None] * root[:, :, None]
    out += np.matmul(R.transpose(0, 2, 1), R)


def _best(fn, Xb: np.ndarray, h: np.ndarray) -> float:
    """Best of 7 of one route (its output buffer allocated inside, a few kB)."""
    return _best_time(lambda: fn(Xb, h, np.zeros((h.shape[0], Xb.shape[1], Xb.shape[1]))))


def main() -> None:
    r = np.random.default_rng(0)
    print(f"{'D':>4} {'k':>4} {'stacked ms':>11} {'products ms':>12} {'ratio':>6}")
    with threadpool_limits(1):
        for D, k in SHAPES:
            Xb = r.normal(size=(4096, D))
            h = r.random((k, 4096))
            a = _best(_stacked, Xb, h)
            b = _best(hessian._add_grams_by_products, Xb, h)
            print(f"{D:>4} {k:>4} {a * 1e3:>11.2f} {b * 1e3:>12.2f} {b / a:>6.2f}")


if __name__ == "__main__":
    main()
