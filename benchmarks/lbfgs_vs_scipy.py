"""sigmax's L-BFGS against SciPy's L-BFGS-B on the same objective, interleaved.

Both minimize the same :class:`sigmax.objective.LinearObjective` (one fused
value+gradient pass per evaluation) from zero with 30 stored pairs, stopping
at the same gradient tolerance; SciPy's run uses ``ftol`` = sigmax's
``FTOL``. The runs alternate (SciPy, sigmax, SciPy, ...) and the best time of
each is kept, under one thread and then default threads, so a change of
machine load cannot favour either. Prints time, evaluations and the objective
reached, and the ratio sigmax / SciPy.

Run::

    python benchmarks/lbfgs_vs_scipy.py            # a few minutes on 2 vCPUs
"""

from __future__ import annotations

import argparse
import time

from scipy.optimize import minimize

from sigmax import _parallel
from sigmax.bench import runner
from sigmax.bench.problems import PROBLEMS
from sigmax.solvers import SOLVERS
from sigmax.solvers.lbfgs import FTOL, MAXCOR

#: (problem, share of rows, gradient tolerance): tolerances at which the
#: benchmark's ladder reaches its gap on each problem.
SPECS = [("digits", 1.0, 1e-6), ("movies", 1.0, 1e-5), ("dense_multinomial", 0.5, 1e-4),
         ("many_classes", 0.3, 1e-5), ("multilabel", 0.5, 1e-4), ("dense_binary", 0.5, 1e-4)]


def scipy_lbfgs(obj, tol: float) -> float:
    res = minimize(obj.value_and_grad, obj.zeros(), jac=True, method="L-BFGS-B",
                   options={"maxiter": 2000, "maxfun": 40000, "gtol": tol, "ftol": FTOL,
                            "maxcor": MAXCOR})
    return float(res.fun)


def sigmax_lbfgs(obj, tol: float) -> float:
    return SOLVERS["lbfgs"].solve(obj, obj.zeros(), tol=tol, max_iter=2000).objective


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    for name, scale, tol in SPECS:
        data = PROBLEMS[name].load(scale)
        for setting in ("1", "default"):
            best: dict[str, tuple[float, int, float]] = {}
            with runner.thread_limit(setting), _parallel.serial_blas():
                for _ in range(args.repeats):
                    for label, fit in (("scipy", scipy_lbfgs), ("sigmax", sigmax_lbfgs)):
                        obj = runner._sigmax_objective(data, "float64")
                        t0 = time.perf_counter()
                        f = fit(obj, tol)
                        dt = time.perf_counter() - t0
                        if label not in best or dt < best[label][0]:
                            best[label] = (dt, obj.n_grad_evals, f)
            s, m = best["scipy"], best["sigmax"]
            print(f"{name:17s} rows {scale:4.0%} threads {setting:7s}  "
                  f"scipy {s[0] * 1e3:8.1f} ms {s[1]:4d} evals f={s[2]:.10g}  "
                  f"sigmax {m[0] * 1e3:8.1f} ms {m[1]:4d} evals f={m[2]:.10g}  "
                  f"ratio {m[0] / s[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
