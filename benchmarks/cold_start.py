"""Cold start of a fit: zero against the null model's intercepts, per problem and solver.

:meth:`sigmax.objective.Objective.start` starts at ``W = 0`` and, where the
outputs share one likelihood (the softmax) and the solver is second-order, at
the null model's intercepts (:meth:`sigmax.losses.Loss.intercept_only`: the log
class frequencies). This script fits each problem with each solver from both
starts (patched in, whatever the rule would pick) and prints iterations,
value+gradient evaluations and Hessian-vector products (counts, not times: they
do not depend on the machine).

    python benchmarks/cold_start.py
    python benchmarks/cold_start.py movies zipf_classes --scale 1.0
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import sigmax.objective as objective_module
from sigmax import LogisticRegression, MultiLabelLogistic, SoftmaxRegression
from sigmax.bench.problems import PROBLEMS

#: problem -> share of its rows (small enough for a laptop, large enough to matter)
CASES = {"movies": 1.0, "dense_binary": 0.02, "multilabel": 0.05, "credit_onehot": 1.0,
         "breast_cancer_l1": 1.0, "digits": 1.0, "zipf_classes": 0.1, "film_labelsets": 0.1,
         "dense_multinomial": 0.05}
MODELS = {"binary": LogisticRegression, "multilabel": MultiLabelLogistic,
          "multinomial": SoftmaxRegression}
SOLVERS = ("auto", "newton-cholesky", "lbfgs", "newton-cg")


def null_start(objective, null_model: bool = True):
    """The null model's intercepts for every loss and solver (``null_model`` ignored)."""
    w = objective.zeros()
    if objective.fit_intercept:
        b = objective.loss.intercept_only(objective.Y, objective.weights, objective.k)
        if b is not None and np.all(np.isfinite(b)):
            objective.unpack(w)[1][:] = b
    return w


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("problems", nargs="*", default=list(CASES))
    ap.add_argument("--scale", type=float, default=None, help="override the share of rows")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    Objective = objective_module.Objective
    counts = {"evals": 0, "hessp": 0}
    value_and_grad, hessp, default = Objective.value_and_grad, Objective.hessp, Objective.start

    def counted_vg(self, w):
        counts["evals"] += 1
        return value_and_grad(self, w)

    def counted_hessp(self, w, v):
        counts["hessp"] += 1
        return hessp(self, w, v)

    starts = {"zero": lambda self, null_model=True: self.zeros(), "null model": null_start}
    Objective.value_and_grad, Objective.hessp = counted_vg, counted_hessp
    print("| problem | rows | solver | start | iterations | evaluations | Hessian products |")
    print("|---|---|---|---|---|---|---|")
    try:
        for name in args.problems:
            scale = args.scale if args.scale is not None else CASES.get(name, 1.0)
            data = PROBLEMS[name].load(scale)
            p = data.problem
            for solver in SOLVERS if p.penalty == "l2" else ("auto",):
                for label, start in starts.items():
                    Objective.start = start
                    counts.update(evals=0, hessp=0)
                    model = MODELS[p.kind](penalty=p.penalty, C=p.C, solver=solver, tol=1e-6)
                    model.fit(data.X, data.y)
                    print(f"| {name} | {data.X.shape[0]} | {model.solver_} | {label} | "
                          f"{int(np.max(model.n_iter_))} | {counts['evals']} | "
                          f"{counts['hessp']} |", flush=True)
    finally:
        Objective.value_and_grad, Objective.hessp, Objective.start = (value_and_grad, hessp,
                                                                      default)


if __name__ == "__main__":
    main()
