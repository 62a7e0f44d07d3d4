"""Newton-CG's inner solve compiled (``sigmax.solvers.compiled_cg``) against the Python iteration.

1. One Hessian-vector product on a digits fold's float32 twin (1,437 x 64, K = 10,
   one thread): the compiled kernel (``sigmax._cg_kernels.hessp``) against
   ``Objective.hessp`` (the data term's row blocks, thread pool, loss kernel,
   penalty), microseconds.
2. A digits training fold's regularization path (8 Cs, ``np.logspace(-3, 2, 8)``,
   tol 1e-7, one thread), compiled and Python, alternating, best of ``--rounds``.
3. The digits CV of ``sigmax bench paths`` (5 folds x 8 Cs, ``neg_log_loss``, refit,
   tol 1e-7, default threads), compiled and Python, each with its folds one after
   the other and side by side (``n_jobs`` 1 / 2), alternating, median of ``--rounds``.

    python benchmarks/compiled_cg.py
    python benchmarks/compiled_cg.py --rounds 7
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import sigmax.solvers.compiled_cg as compiled_cg
from sigmax import SoftmaxRegression, SoftmaxRegressionCV, regularization_path
from sigmax.bench import paths
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty


def per_call(fn, n: int = 2000) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    case = paths.load_case("digits", 1.0)
    train = case.folds[0][0]
    X, y = case.data.X[train], case.data.y[train]

    obj = LinearObjective(LOSSES["multinomial"], X, y, np.ones(len(y)), 10, C=1.0,
                          penalty=make_penalty("l2"))
    obj.data.float32_hessp(True)
    obj.data.compiled_passes(True)
    w = np.random.default_rng(0).standard_normal(obj.n_params) * 0.1
    v = np.random.default_rng(1).standard_normal(obj.n_params)
    obj.value_and_grad(w)
    kernel = compiled_cg.CompiledCG.of(obj, w)
    with threadpool_limits(1):
        t_kernel = per_call(lambda: kernel.hessp(v))
        t_python = per_call(lambda: obj.hessp(w, v))
    print(f"1. one Hessian product, digits fold {X.shape}, K=10, float32, one thread")
    print(f"  compiled kernel  {t_kernel:7.1f} us")
    print(f"  Objective.hessp  {t_python:7.1f} us")

    times: dict[bool, list[float]] = {True: [], False: []}
    counts = {}
    with threadpool_limits(1):
        for _ in range(args.rounds + 1):
            for on in (True, False):
                compiled_cg.ENABLED = on
                t = time.perf_counter()
                p = regularization_path(SoftmaxRegression(tol=1e-7), X, y, case.Cs)
                times[on].append(time.perf_counter() - t)
                counts[on] = int(p.n_iter.sum())
    print(f"\n2. digits fold path, 8 Cs, tol 1e-7, one thread, best of {args.rounds}")
    for on in (True, False):
        print(f"  {'compiled' if on else 'Python  '}  {min(times[on][1:]):.4f} s  "
              f"({counts[on]} Newton iterations)")

    cv: dict[tuple[bool, int], list[float]] = {}
    for _ in range(args.rounds + 1):
        for on in (True, False):
            for n_jobs in (1, 2):
                compiled_cg.ENABLED = on
                est = SoftmaxRegressionCV(Cs=list(case.Cs), cv=case.folds, tol=1e-7,
                                          n_jobs=n_jobs)
                t = time.perf_counter()
                est.fit(case.data.X, case.data.y)
                cv.setdefault((on, n_jobs), []).append(time.perf_counter() - t)
    compiled_cg.ENABLED = True
    print(f"\n3. digits CV (5 folds x 8 Cs, tol 1e-7, refit), default threads, median of "
          f"{args.rounds}")
    for (on, n_jobs), ts in cv.items():
        print(f"  {'compiled' if on else 'Python  '}  folds "
              f"{'side by side  ' if n_jobs == 2 else 'one by one    '} "
              f"{np.median(ts[1:]):.3f} s")


if __name__ == "__main__":
    main()
