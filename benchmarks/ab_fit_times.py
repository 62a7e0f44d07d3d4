"""Median fit time of the same small models in two source trees, alternating (issue 12).

    python benchmarks/ab_fit_times.py OLD/src NEW/src [--rounds 2] [--fits 30]

A direct check behind ``ab_revisions.py`` where one bench round is too noisy: the
breast_cancer L1 and L2 logistic fits (standardized, tol 1e-8, one BLAS thread) run
``--fits`` times in a fresh process per tree, trees alternating for ``--rounds``
rounds. Prints per tree and round the median fit time, the solver, the iterations and
the gradient evaluations (equal counts mean the two trees take the same path).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

_CHILD = """
import sys, time, numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from sigmax import LogisticRegression
X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
fits = int(sys.argv[1])
with threadpool_limits(1):
    for pen, kw in (("l1", dict(penalty="l1", C=0.5)), ("l2", dict(C=1.0))):
        m = LogisticRegression(tol=1e-8, **kw).fit(X, y)
        ts = []
        for _ in range(fits):
            t = time.perf_counter(); m.fit(X, y); ts.append(time.perf_counter() - t)
        r = m.fit_record_
        print(pen, f"{1e3 * np.median(ts):.2f} ms", r.solver, r.n_iter, r.n_grad_evals)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--fits", type=int, default=30)
    args = ap.parse_args()
    for r in range(args.rounds):
        for label, tree in (("old", args.old), ("new", args.new)):
            env = {**os.environ, "PYTHONPATH": tree}
            out = subprocess.run([sys.executable, "-c", _CHILD, str(args.fits)], env=env,
                                 capture_output=True, text=True, check=True).stdout
            for line in out.strip().splitlines():
                print(f"round {r + 1} {label}: {line}")


if __name__ == "__main__":
    main()
