"""What the float64 view costs a float32 fit where nothing goes wrong.

float32 fits of the benchmark's small problems whose ``solver="auto"`` forms the
full Hessian (proximal Newton for breast_cancer_l1, Newton-Cholesky for
credit_onehot and movies), with the view of :mod:`sigmax.dataterms.float64_view`
as it is and switched off (proximal Newton on float32 passes, Newton stopping
where float32 stalls), alternating, one thread: best of ``--repeats`` fits,
iterations, and whether it converged.

    python benchmarks/float64_view.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import time
import warnings

from threadpoolctl import threadpool_limits

from sigmax import LogisticRegression, MultiLabelLogistic, SoftmaxRegression
from sigmax.bench.problems import PROBLEMS
from sigmax.solvers import SOLVERS, newton

MODELS = {"binary": LogisticRegression, "multilabel": MultiLabelLogistic,
          "multinomial": SoftmaxRegression}
CASES = ("breast_cancer_l1", "credit_onehot", "movies")


def _switch(on: bool, widen=newton.in_float64_at) -> None:
    type(SOLVERS["proximal-newton"]).float64_evaluations = on
    newton.in_float64_at = widen if on else (lambda *args, **kwargs: None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    print("| problem | solver | view on | view off | ratio |")
    print("|---|---|---|---|---|")
    with threadpool_limits(1):
        for name in CASES:
            data = PROBLEMS[name].load(1.0)
            p = data.problem
            best, cells = {}, {}
            for _ in range(args.repeats):
                for on in (True, False):
                    _switch(on)
                    try:
                        t = time.perf_counter()
                        m = MODELS[p.kind](penalty=p.penalty, C=p.C,
                                           dtype="float32").fit(data.X, data.y)
                        seconds = time.perf_counter() - t
                    finally:
                        _switch(True)
                    best[on] = min(best.get(on, seconds), seconds)
                    rec = m.fit_record_
                    cells[on] = (f"{1e3 * best[on]:.2f} ms, {rec.n_iter} it"
                                 f"{'' if rec.converged else ', not converged'}")
            print(f"| {name} | {rec.solver} | {cells[True]} | {cells[False]} | "
                  f"{best[True] / best[False]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
