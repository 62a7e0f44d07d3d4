"""What relative objective gap the default tolerances reach (issue 17 item 0).

For each benchmark problem: the reference optimum ``F*`` (the bench's, sigmax
Newton at gradient tolerance 1e-10), then sigmax ``solver="auto"`` at
``tol`` = 1e-6 (the default), 1e-5 and 1e-4, and scikit-learn's
``LogisticRegression`` at its defaults (binary and multinomial L2 problems):
the relative gap ``(F - F*) / |F*|``, the share of training predictions equal
to the optimum's, iterations and seconds (one fit each: indicative only).

Run::

    python benchmarks/default_tol_gap.py --scale 0.1
    python benchmarks/default_tol_gap.py digits film_labelsets --scale 0.1
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from sigmax.bench import ADAPTERS, PROBLEMS, sklearn_objective
from sigmax.bench.runner import reference_optimum

TOLS = (1e-6, 1e-5, 1e-4)


def predictions(data, coef, intercept) -> np.ndarray:
    Z = np.asarray(data.X @ np.asarray(coef).T) + np.asarray(intercept)
    return Z.argmax(axis=1) if data.problem.kind == "multinomial" else Z > 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("problems", nargs="*", default=[p for p in PROBLEMS if p != "sparse_text"])
    ap.add_argument("--scale", type=float, default=0.1)
    args = ap.parse_args()
    print("| problem | fit | solver | iterations | gap | predictions as at F* | ms |")
    print("|---|---|---|---|---|---|---|")
    for name in args.problems:
        data = PROBLEMS[name].load(args.scale)
        ref = reference_optimum(data)
        best = predictions(data, ref["coef"], ref["intercept"])

        def row(label, solver, n_iter, coef, intercept, seconds, name=name, data=data, ref=ref,
                best=best):
            gap = (sklearn_objective(data, coef, intercept) - ref["objective"]) / abs(
                ref["objective"])
            same = float(np.mean(predictions(data, coef, intercept) == best))
            print(f"| {name} | {label} | {solver} | {n_iter} | {gap:.1e} | {same:.5f} "
                  f"| {seconds * 1e3:.0f} |", flush=True)

        for tol in TOLS:
            t = time.perf_counter()
            fit = ADAPTERS["sigmax"].fit(data.X, data, solver="auto", tol=tol, max_iter=100_000,
                                         dtype="float64")
            row(f"sigmax tol={tol:g}", fit.solver_used, fit.n_iter, fit.coef, fit.intercept,
                time.perf_counter() - t)
        if data.problem.kind != "multilabel" and data.problem.penalty == "l2":
            from sklearn.linear_model import LogisticRegression

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                sk = LogisticRegression(C=data.problem.C).fit(data.X, data.y)
                seconds = time.perf_counter() - t
            row("scikit-learn defaults", "lbfgs", int(np.max(sk.n_iter_)), sk.coef_,
                sk.intercept_, seconds)


if __name__ == "__main__":
    main()
