"""What float32 would save in a softmax Hessian-vector product (issue 17 item 4, planning).

A Newton-CG solve of the softmax spends its time in Hessian-vector products
:math:`X^\\top (P \\odot (Z - \\mathrm{rowsum}(P \\odot Z)))`, :math:`Z = X V`: two
products with ``X`` and elementwise work on ``(n, k)``. CG needs only a few digits of
them (its own stopping rule asks a relative residual of about 1e-3 near the optimum),
while the gradient, which decides convergence, stays float64. This script times the
product in float64 and float32 on the shapes of the study's slowest fits (the softmax
over the 79 film label sets on an inner and an outer training fold) and of the paths
benchmark's dense_multinomial and digits training folds, one BLAS thread, best of 7,
and prints the ratio and the relative error of the float32 result, first in plain
NumPy, then through sigmax's own data term (``NumpyData.hessp`` with
``float32_hessp`` off and on: what the regularization paths use,
:mod:`sigmax.dataterms.float32_hessp`).

    python benchmarks/mixed_precision_hessp.py
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax.bench.runner import _best_time
from sigmax.dataterms import NumpyData
from sigmax.losses import LOSSES

SHAPES = [(23_500, 15, 79), (47_000, 15, 79), (40_000, 100, 10), (1_437, 64, 10)]


def _hessp(X: np.ndarray, V: np.ndarray, P: np.ndarray) -> np.ndarray:
    Z = X @ V
    R = P * (Z - (P * Z).sum(axis=1, keepdims=True))
    return X.T @ R


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'n':>7} {'d':>4} {'k':>4} {'f64 ms':>8} {'f32 ms':>8} {'ratio':>6} {'rel err':>8}")
    with threadpool_limits(1):
        for n, d, k in SHAPES:
            X, V = rng.normal(size=(n, d)), rng.normal(size=(d, k))
            P = rng.dirichlet(np.ones(k), size=n)
            args64 = (X, V, P)
            args32 = tuple(a.astype(np.float32) for a in args64)
            a, b = _hessp(*args64), _hessp(*args32)
            t64 = _best_time(lambda: _hessp(*args64))  # noqa: B023
            t32 = _best_time(lambda: _hessp(*args32))  # noqa: B023
            err = float(np.abs(a - b).max() / np.abs(a).max())
            print(f"{n:>7} {d:>4} {k:>4} {t64 * 1e3:>8.2f} {t32 * 1e3:>8.2f} "
                  f"{t32 / t64:>6.2f} {err:>8.1e}")
        print("sigmax's NumpyData.hessp (softmax, intercept), float32_hessp off / on:")
        for n, d, k in SHAPES:
            X = rng.normal(size=(n, d))
            term = NumpyData(LOSSES["multinomial"], X, rng.integers(0, k, n), np.ones(n), k)
            w = 0.1 * rng.normal(size=term.n_params)
            v = rng.normal(size=term.n_params)
            term.value_and_grad(w)
            exact = term.hessp(w, v)
            t64 = _best_time(lambda: term.hessp(w, v))  # noqa: B023
            term.float32_hessp()
            low = term.hessp(w, v)
            t32 = _best_time(lambda: term.hessp(w, v))  # noqa: B023
            err = float(np.abs(low - exact).max() / np.abs(exact).max())
            print(f"{n:>7} {d:>4} {k:>4} {t64 * 1e3:>8.2f} {t32 * 1e3:>8.2f} "
                  f"{t32 / t64:>6.2f} {err:>8.1e}")


if __name__ == "__main__":
    main()
