"""The compiled passes of a one-block ``X`` (``sigmax.solvers.compiled_cg``,
``sigmax._softmax_block``, ``sigmax.dataterms.one_block``) against the Python ones.

0. Their price: the first compiled call in a fresh process (numba's import and the
   load of the cached kernels), seconds, in a subprocess.
1. On a digits fold's float32 twin / float64 data (1,437 x 64, K = 10, one thread),
   microseconds: one Hessian-vector product, the compiled kernel
   (``sigmax._cg_kernels.hessp``) against ``Objective.hessp``; one value and gradient,
   compiled (``sigmax._softmax_block.value_grad``) against the fused passes; one
   build of the per-class block preconditioner, float32 Grams and Cholesky factors
   (``sigmax._path_newton._factor_blocks``) against float64 Grams and inverses.
2. A digits training fold's regularization path (8 Cs, ``np.logspace(-3, 2, 8)``,
   tol 1e-7, one thread), compiled and Python, alternating, best of ``--rounds``.
3. The digits CV of ``sigmax bench paths`` (5 folds x 8 Cs, ``neg_log_loss``, refit,
   tol 1e-7, default threads), compiled and Python, each with its folds one after
   the other and side by side (``n_jobs`` 1 / 2), alternating, median of ``--rounds``.

"Python" switches both sides off (``compiled_cg.ENABLED``, ``one_block.ENABLED``).

    python benchmarks/compiled_cg.py
    python benchmarks/compiled_cg.py --rounds 7
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

import sigmax._path_newton as path_newton
import sigmax.solvers.compiled_cg as compiled_cg
from sigmax import SoftmaxRegression, SoftmaxRegressionCV, regularization_path
from sigmax.bench import paths
from sigmax.dataterms import one_block
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty


def per_call(fn, n: int = 400) -> float:
    """Microseconds per call of ``fn``: ``n`` calls in a row, timed."""
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def paired(a, b, n: int = 400, rounds: int = 5) -> tuple[float, float]:
    """Best-of-``rounds`` microseconds per call of ``a`` and ``b``, alternating rounds."""
    a(), b()
    ta, tb = [], []
    for _ in range(rounds):
        ta.append(per_call(a, n))
        tb.append(per_call(b, n))
    return min(ta), min(tb)


FRESH = """
import time, numpy as np
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty
from sigmax.solvers.compiled_cg import CompiledCG
r = np.random.default_rng(0)
X, y = r.standard_normal((300, 8)), r.integers(0, 4, 300)
obj = LinearObjective(LOSSES["multinomial"], X, y, np.ones(300), 4, C=1.0,
                      penalty=make_penalty("l2"))
obj.data.compiled_passes(True)
w = np.zeros(obj.n_params)
t = time.perf_counter()
CompiledCG.of(obj, w).hessp(np.ones(obj.n_params))
first = time.perf_counter() - t
t = time.perf_counter()
CompiledCG.of(obj, w).hessp(np.ones(obj.n_params))
print(first, time.perf_counter() - t)
"""


def switch(on: bool) -> None:
    """Both sides of the compiled passes on or off."""
    compiled_cg.ENABLED = one_block.ENABLED = on


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    case = paths.load_case("digits", 1.0)
    train = case.folds[0][0]
    X, y = case.data.X[train], case.data.y[train]

    out = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True,
                         check=True).stdout.split()
    print("0. first compiled call in a fresh process (numba's import, cached kernels' load)")
    print(f"  first {float(out[0]):.3f} s, second {float(out[1]) * 1e6:.1f} us")

    def digits_objective(compiled: bool) -> LinearObjective:
        obj = LinearObjective(LOSSES["multinomial"], X, y, np.ones(len(y)), 10, C=1.0,
                              penalty=make_penalty("l2"))
        obj.data.float32_hessp(True)
        obj.data.compiled_passes(compiled)
        return obj

    obj, plain = digits_objective(True), digits_objective(False)
    w = np.random.default_rng(0).standard_normal(obj.n_params) * 0.1
    ws = [w, w * 1.01]  # alternating points: each evaluation forms its pass anew
    v = np.random.default_rng(1).standard_normal(obj.n_params)
    obj.value_and_grad(w)
    kernel = compiled_cg.CompiledCG.of(obj, w)
    h = path_newton.curvature_weights(obj, w)

    def old_build():  # float64 Grams and inverses, as before the factors
        return np.linalg.inv(path_newton._block_hessians(obj, w, h, np.float64))

    def evaluate(o: LinearObjective):
        o.data.track_second_order()
        i = [0]

        def run():
            i[0] ^= 1
            return o.value_and_grad(ws[i[0]])
        return run

    with threadpool_limits(1):
        hp = paired(lambda: kernel.hessp(v), lambda: obj.hessp(w, v))
        vg = paired(evaluate(obj), evaluate(plain))
        bb = paired(lambda: path_newton._factor_blocks(obj, w, h), old_build, n=50)
    rows = [("one Hessian product, compiled kernel", hp[0]),
            ("one Hessian product, Objective.hessp", hp[1]),
            ("one value and gradient (float64), compiled", vg[0]),
            ("one value and gradient (float64), fused passes", vg[1]),
            ("block build, float32 Grams + Cholesky factors", bb[0]),
            ("block build, float64 Grams + inverses", bb[1])]
    print(f"\n1. digits fold {X.shape}, K=10, one thread, microseconds (best of 5, alternating)")
    for name, us in rows:
        print(f"  {name:<48} {us:8.1f}")

    times: dict[bool, list[float]] = {True: [], False: []}
    counts = {}
    with threadpool_limits(1):
        for _ in range(args.rounds + 1):
            for on in (True, False):
                switch(on)
                t = time.perf_counter()
                p = regularization_path(SoftmaxRegression(tol=1e-7), X, y, case.Cs)
                times[on].append(time.perf_counter() - t)
                counts[on] = int(p.n_iter.sum())
    print(f"\n2. digits fold path, 8 Cs, tol 1e-7, one thread, best of {args.rounds}")
    for on in (True, False):
        print(f"  {'compiled' if on else 'Python  '}  {min(times[on][1:]):.4f} s  "
              f"({counts[on]} Newton iterations)")

    cv: dict[tuple[bool, int], list[float]] = {}
    for _ in range(args.rounds + 1):
        for on in (True, False):
            for n_jobs in (1, 2):
                switch(on)
                est = SoftmaxRegressionCV(Cs=list(case.Cs), cv=case.folds, tol=1e-7,
                                          n_jobs=n_jobs)
                t = time.perf_counter()
                est.fit(case.data.X, case.data.y)
                cv.setdefault((on, n_jobs), []).append(time.perf_counter() - t)
    switch(True)
    print(f"\n3. digits CV (5 folds x 8 Cs, tol 1e-7, refit), default threads, median of "
          f"{args.rounds}")
    for (on, n_jobs), ts in cv.items():
        print(f"  {'compiled' if on else 'Python  '}  folds "
              f"{'side by side  ' if n_jobs == 2 else 'one by one    '} "
              f"{np.median(ts[1:]):.3f} s")


if __name__ == "__main__":
    main()
