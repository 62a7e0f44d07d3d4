"""What a fit costs beyond its evaluations, with and without ``serial_blas``.

An estimator's solve runs inside :func:`sigmax._parallel.serial_blas`: NumPy's
BLAS at one thread for the solver's own vector work, the fused passes over
``X`` on their usual workers. This script fits ``SoftmaxRegression`` (L-BFGS)
on a benchmark problem at default threads, twice, with that context and with
it replaced by a no-op, and compares each fit's time with the time of its
evaluations alone (evaluations x the best time of one value+gradient pass).

Run::

    python benchmarks/solver_overhead.py                 # many_classes, full size
    python benchmarks/solver_overhead.py --problem dense_multinomial
"""

from __future__ import annotations

import argparse
import contextlib
import time
from unittest import mock

from sigmax import SoftmaxRegression, _parallel
from sigmax.bench import runner
from sigmax.bench.problems import PROBLEMS


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--problem", default="many_classes")
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--tol", type=float, default=1e-5)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    data = PROBLEMS[args.problem].load(args.scale)
    obj = runner._sigmax_objective(data, "float64")
    w = obj.zeros()
    with runner.thread_limit("default"):
        per_eval = runner._best_time(lambda: obj.value_and_grad(w), 5)
        for label, hold in (("serial_blas", _parallel.serial_blas),
                            ("no serial_blas", contextlib.nullcontext)):
            best, evals = float("inf"), 0
            with mock.patch.object(_parallel, "serial_blas", hold):
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    est = SoftmaxRegression(C=data.problem.C, solver="lbfgs", tol=args.tol,
                                            max_iter=2000).fit(data.X, data.y)
                    best = min(best, time.perf_counter() - t0)
                    evals = est.fit_record_.n_grad_evals
            print(f"{args.problem} default threads, {label:15s}: fit {best:.2f} s, "
                  f"{evals} evaluations x {per_eval * 1e3:.1f} ms = {evals * per_eval:.2f} s, "
                  f"the rest {best - evals * per_eval:.2f} s", flush=True)


if __name__ == "__main__":
    main()
