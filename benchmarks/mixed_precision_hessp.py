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

With ``--fits``: whole single fits at the estimators' defaults whose solver is
Newton-CG (``solver="auto"`` on sparse_text, the film label sets and zipf_classes;
``solver="newton-cg"`` on dense_multinomial, multilabel, movies and digits), float64,
with float32 Hessian products (``NewtonCG.float32_products``, the default) and
without, alternating, best of ``--rounds``; the Newton steps and Hessian products of
each, and the objective's relative difference between the two. With ``--memory``
instead: the extra peak memory of one such fit (``tracemalloc``, over the process
with ``X`` loaded), on and off.

    python benchmarks/mixed_precision_hessp.py
    python benchmarks/mixed_precision_hessp.py --fits [--threads 1|default] [--rounds 5]
    python benchmarks/mixed_precision_hessp.py --fits --memory
"""

from __future__ import annotations

import argparse
import time
import warnings

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


#: (problem, share of its rows, solver) of the single fits of ``--fits``.
FITS = (("sparse_text", 1.0, "auto"), ("film_labelsets", 0.25, "auto"),
        ("zipf_classes", 0.2, "auto"), ("dense_multinomial", 0.5, "newton-cg"),
        ("multilabel", 0.5, "newton-cg"), ("movies", 1.0, "newton-cg"),
        ("digits", 1.0, "newton-cg"))


def _extra_peak(fit) -> float:
    """Extra peak bytes (tracemalloc) of ``fit()`` over what is allocated before it."""
    import tracemalloc

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fit()
        return float(tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()


def memory() -> None:
    from sigmax import MultiLabelLogistic, SoftmaxRegression
    from sigmax.bench.problems import PROBLEMS
    from sigmax.solvers.newton import NewtonCG

    print("single float64 fits, extra peak memory (tracemalloc), float32 Hessian products "
          "on / off")
    for name, scale, solver in FITS:
        data = PROBLEMS[name].load(scale)
        est = MultiLabelLogistic if data.problem.kind == "multilabel" else SoftmaxRegression
        peak = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for on in (True, False):
                NewtonCG.float32_products = on
                try:
                    peak[on] = _extra_peak(
                        lambda e=est, s=solver, d=data: e(solver=s).fit(d.X, d.y))
                finally:
                    NewtonCG.float32_products = True
        X = data.X
        values = X.nnz if hasattr(X, "nnz") else X.size
        print(f"  {name} ({X.shape[0]} x {X.shape[1]}, {values} values of X): on "
              f"{peak[True] / 1e6:.1f} MB, off {peak[False] / 1e6:.1f} MB")


def fits(rounds: int, threads: int | None) -> None:
    from sigmax import MultiLabelLogistic, SoftmaxRegression
    from sigmax.bench.problems import PROBLEMS
    from sigmax.solvers.newton import NewtonCG

    print(f"single float64 fits, float32 Hessian products on / off, threads "
          f"{threads or 'default'}, best of {rounds}")
    for name, scale, solver in FITS:
        data = PROBLEMS[name].load(scale)
        est = MultiLabelLogistic if data.problem.kind == "multilabel" else SoftmaxRegression
        best, last = {}, {}
        with threadpool_limits(threads), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(rounds):
                for on in (True, False):
                    NewtonCG.float32_products = on
                    try:
                        t = time.perf_counter()
                        model = est(solver=solver).fit(data.X, data.y)
                        best[on] = min(best.get(on, np.inf), time.perf_counter() - t)
                    finally:
                        NewtonCG.float32_products = True
                    last[on] = model.fit_record_
        a, b = last[True], last[False]
        print(f"  {name} ({data.X.shape[0]} x {data.X.shape[1]}, {solver} -> {a.solver}): "
              f"on {best[True]:.3f} s ({a.n_iter} steps, {a.n_hessp_evals} products), off "
              f"{best[False]:.3f} s ({b.n_iter}, {b.n_hessp_evals}), "
              f"{best[True] / best[False]:.2f}x; objective "
              f"{abs(a.objective - b.objective) / abs(b.objective):.1e} apart")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fits", action="store_true", help="whole single fits, on / off")
    ap.add_argument("--threads", choices=["1", "default"], default="1")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--memory", action="store_true",
                    help="with --fits: the extra peak memory of one fit, on / off")
    args = ap.parse_args()
    if args.fits and args.memory:
        memory()
        return
    if args.fits:
        fits(args.rounds, 1 if args.threads == "1" else None)
        return
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
