"""Cross-validation folds one after the other or side by side, by the size of a fold.

For bench problems of several sizes, the CV estimator of the problem's model
(8 Cs from 1e-3 to 1e2, 5 stratified folds, tol 1e-6, default threads) with its
folds forced sequential (``n_jobs=1``) and forced side by side (``n_jobs=2``,
threads), alternating, best of ``--rounds``. Prints a fold's products (training
rows x features x outputs, :func:`sigmax.estimators.cv._fold_work`), both times
and their ratio, and which one ``n_jobs=None`` now takes
(:data:`sigmax.dataterms.tuning.FOLD_PARALLEL_MIN_WORK`).

    python benchmarks/fold_threads.py
    python benchmarks/fold_threads.py --rounds 5
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.model_selection import StratifiedKFold

from sigmax import LogisticRegressionCV, MultiLabelLogisticCV, SoftmaxRegressionCV
from sigmax.bench.problems import PROBLEMS
from sigmax.dataterms import tuning
from sigmax.estimators.cv import _fold_work

#: (problem, share of its rows)
CASES = (("breast_cancer_l1", 1.0), ("dense_binary", 0.004), ("credit_onehot", 1.0),
         ("movies", 1.0), ("dense_multinomial", 0.005), ("digits", 1.0),
         ("film_labelsets", 0.05), ("zipf_classes", 0.05))
CLASSES = {"binary": LogisticRegressionCV, "multilabel": MultiLabelLogisticCV}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    Cs = list(np.logspace(-3, 2, 8))
    print(f"{'problem':>18} {'rows x d':>10} {'fold work':>10} {'sequential':>11} "
          f"{'side by side':>13} {'ratio':>6}  n_jobs=None")
    for name, scale in CASES:
        data = PROBLEMS[name].load(scale)
        p = data.problem
        cls = CLASSES.get(p.kind, SoftmaxRegressionCV)
        split_y = data.y if p.kind != "multilabel" else data.y[:, 0]
        folds = list(StratifiedKFold(5).split(data.X, split_y))
        work = _fold_work(data.X, data.y, folds)
        times: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(args.rounds):
            for n_jobs in (1, 2):
                est = cls(Cs=Cs, cv=folds, penalty=p.penalty, tol=1e-6, n_jobs=n_jobs)
                t = time.perf_counter()
                est.fit(data.X, data.y)
                times[n_jobs].append(time.perf_counter() - t)
        seq, par = min(times[1]), min(times[2])
        rule = "sequential" if work < tuning.FOLD_PARALLEL_MIN_WORK else "side by side"
        n, d = data.X.shape
        print(f"{name:>18} {f'{n}x{d}':>10} {work / 1e6:9.2f}M {seq:10.3f}s {par:12.3f}s "
              f"{par / seq:6.2f}  {rule}")


if __name__ == "__main__":
    main()
