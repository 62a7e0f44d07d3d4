"""Per point of a regularization path: Newton iterations, Hessian products, starting gradient.

One training fold of a ``paths`` bench problem (fold 0, the bench's Cs), ``solver="auto"``
at ``--tol``, one BLAS thread: the path as sigmax walks it (each point from the secant
start of :meth:`sigmax._path_fitter.PathFitter.start` where that is lower) and with every
point started at the last solution. Prints, per point, the iterations, the Hessian-vector
products and the max-norm of the gradient where the solve started, then the totals and
the best of ``--repeats`` wall times. ``--block-rule R`` sets
:data:`sigmax._path_fitter.BLOCK_RULE` (when the softmax path switches to block-
preconditioned CG).

    python benchmarks/path_points.py dense_multinomial --tol 1e-5
    python benchmarks/path_points.py digits --tol 1e-7 --block-rule 0
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

import sigmax._path_fitter as path_fitter
from sigmax import LogisticRegression, SoftmaxRegression, regularization_path
from sigmax.bench import paths


def walk(X, y, Cs, model, secant: bool) -> dict:
    """One path, counting per point; returns the per-point records and the path."""
    points: list[dict] = []
    fit, start = path_fitter.PathFitter.fit, path_fitter.PathFitter.start

    def counted_fit(self, C):
        # Products as the objective counts them (the compiled CG forms them outside
        # Objective.hessp); they include the block preconditioner's builds.
        points.append({"C": C, "hessp": 0, "start_grad": np.nan})
        out = fit(self, C)
        points[-1]["hessp"] = int(out.n_hessp_evals)
        return out

    def spied_start(self, objective, C):
        w = start(self, objective, C) if secant else self.w
        points[-1]["start_grad"] = float(np.abs(objective.value_and_grad(w)[1]).max())
        return w

    path_fitter.PathFitter.fit, path_fitter.PathFitter.start = counted_fit, spied_start
    try:
        path = regularization_path(model, X, y, Cs)
    finally:
        path_fitter.PathFitter.fit, path_fitter.PathFitter.start = fit, start
    for p, n in zip(points, path.n_iter):
        p["n_iter"] = int(n)
    return {"points": points, "path": path}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("problem", choices=list(paths.PATH_PROBLEMS))
    ap.add_argument("--scale", type=float, default=1.0, help="of the group's rows")
    ap.add_argument("--tol", type=float, default=1e-5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--block-rule", type=float, default=path_fitter.BLOCK_RULE)
    args = ap.parse_args()
    path_fitter.BLOCK_RULE = args.block_rule
    case = paths.load_case(args.problem, args.scale)
    train = case.folds[0][0]
    X, y = case.data.X[train], case.data.y[train]
    p = case.data.problem
    cls = LogisticRegression if p.kind == "binary" else SoftmaxRegression
    model = cls(penalty=p.penalty, tol=args.tol)
    print(f"{args.problem}: fold 0, {X.shape}, tol {args.tol:g}, block rule "
          f"{args.block_rule:g}, one thread")
    with threadpool_limits(1):
        for secant in (True, False):
            rec = walk(X, y, case.Cs, model, secant)
            seconds = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                walk(X, y, case.Cs, model, secant)
                seconds.append(time.perf_counter() - t)
            pts = rec["points"]
            print(f"  {'secant starts' if secant else 'last-solution starts'}: "
                  f"{sum(q['n_iter'] for q in pts)} iterations, "
                  f"{sum(q['hessp'] for q in pts)} Hessian products, best of "
                  f"{args.repeats} {min(seconds):.3f} s")
            for q in pts:
                print(f"    C={q['C']:<9.3g} iterations {q['n_iter']:>3}  products "
                      f"{q['hessp']:>4}  start max|g| {q['start_grad']:.2e}")


if __name__ == "__main__":
    main()
