"""Two user threads fitting separate estimators, against the same fits one after the other.

    python benchmarks/threaded_fits.py [--n 50000] [--d 30] [--rounds 5]

Prints, per estimator and solver, the median wall time of two fits run one
after the other and of the same two fits run in two threads (issue 16, item 13:
the threads once took 7-29 s against 0.12 s). A ratio near 1 (or below, with
two cores) means the fits share the machine without oversubscription.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np
from threadpoolctl import threadpool_info

from sigmax import LogisticRegression, OneVsRestLogistic, SoftmaxRegression


def _two_threads(fit) -> float:
    threads = [threading.Thread(target=fit) for _ in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def _one_after_other(fit) -> float:
    t0 = time.perf_counter()
    fit()
    fit()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--d", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    r = np.random.default_rng(0)
    X = r.normal(size=(args.n, args.d))
    y = (X[:, 0] + r.normal(size=args.n) > 0).astype(int)
    blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()
            if i["user_api"] == "blas"]
    print(f"n={args.n} d={args.d} rounds={args.rounds} BLAS={blas}")
    print(f"{'estimator':<22}{'solver':<18}{'sequential s':>14}{'threads s':>12}{'ratio':>8}")
    cases = [(LogisticRegression, s) for s in ("lbfgs", "newton-cholesky", "newton-cg")]
    cases += [(SoftmaxRegression, "auto"), (OneVsRestLogistic, "auto")]
    for Est, solver in cases:
        def fit(Est=Est, solver=solver):
            Est(solver=solver).fit(X, y)

        fit()  # warm-up: compiled kernels, thread pool
        seq = statistics.median(_one_after_other(fit) for _ in range(args.rounds))
        par = statistics.median(_two_threads(fit) for _ in range(args.rounds))
        print(f"{Est.__name__:<22}{solver:<18}{seq:>14.3f}{par:>12.3f}{par / seq:>8.2f}")


if __name__ == "__main__":
    main()
