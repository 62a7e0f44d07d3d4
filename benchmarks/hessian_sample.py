r"""Newton-CG's subsampled Hessian on sparse text: sampled against full Hessian products.

Fits the benchmark problem ``sparse_text`` (CSR tf-idf, n=100k, d=50k, K=20,
L2; ``--scale`` shrinks it) with ``SoftmaxRegression(solver="newton-cg")`` at
every ``C`` of ``--C`` and every tolerance of ``--tol``, twice per round,
interleaved (sampled, full, sampled, full, ...):

- ``sampled``: the default, :attr:`NewtonCG.hessian_sample` = 0.3 (CG on the
  Hessian of 30% of the rows, drawn anew each Newton step, while
  :mod:`sigmax.solvers.hessian_sampling` keeps it);
- ``full``: ``hessian_sample = 0``, every product over all rows.

and prints, per ``C`` and tolerance, the median seconds of ``--rounds`` fits,
their ratio (sampled / full), the Newton steps, the full and the sampled
Hessian products, the relative objective gap to a reference fit (full
products, ``tol=1e-10``) and the sampled fit's check: the full Hessian's
curvature over the sample's along its first step
(:meth:`HessianSampling.agrees`).

Usage::

    python benchmarks/hessian_sample.py [--threads 1|default] [--scale 1.0]
        [--C 1 100] [--tol 1e-4 1e-6] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax import SoftmaxRegression
from sigmax.bench.problems import PROBLEMS
from sigmax.solvers import SOLVERS
from sigmax.solvers.hessian_sampling import HessianSampling

#: The curvature ratio of each solve's check (HessianSampling.ratio), in order.
CHECKS: list[float] = []


def _recording(agrees):
    def wrapped(self, *args):
        first = self.ratio is None
        out = agrees(self, *args)
        if first and self.ratio is not None:
            CHECKS.append(self.ratio)
        return out
    return wrapped


def fit(X, y, C: float, tol: float, share: float):
    """One Newton-CG fit with ``share`` of the rows per sampled Hessian; (seconds, record,
    the check's curvature ratio or None)."""
    solver = SOLVERS["newton-cg"]
    CHECKS.clear()
    old = solver.hessian_sample
    solver.hessian_sample = share
    try:
        est = SoftmaxRegression(C=C, solver="newton-cg", tol=tol, max_iter=500)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        return time.perf_counter() - t, est.fit_record_, (CHECKS[0] if CHECKS else None)
    finally:
        solver.hessian_sample = old


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", choices=["1", "default"], default="1")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--C", type=float, nargs="+", default=[1.0, 100.0])
    ap.add_argument("--tol", type=float, nargs="+", default=[1e-4, 1e-6])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    HessianSampling.agrees = _recording(HessianSampling.agrees)
    data = PROBLEMS["sparse_text"].load(args.scale)
    X, y = data.X, data.y
    share = SOLVERS["newton-cg"].hessian_sample
    print(f"sparse_text at scale {args.scale}: {X.shape[0]:,} x {X.shape[1]:,}, "
          f"{X.nnz:,} stored values; threads {args.threads}; sampled share {share}; "
          f"median of {args.rounds} interleaved fits")
    print(f"{'C':>6s} {'tol':>7s} {'variant':8s} {'seconds':>8s} {'ratio':>6s} {'steps':>5s} "
          f"{'full hp':>7s} {'sampled':>7s} {'gap':>8s} {'check':>6s}")
    with threadpool_limits(1 if args.threads == "1" else None):
        for C in args.C:
            fstar = fit(X, y, C, 1e-10, 0.0)[1].objective
            for tol in args.tol:
                times: dict[str, list[float]] = {"sampled": [], "full": []}
                recs, ratio = {}, None
                for _ in range(args.rounds):
                    for name, s in (("sampled", share), ("full", 0.0)):
                        sec, recs[name], r = fit(X, y, C, tol, s)
                        times[name].append(sec)
                        ratio = r if r is not None else ratio
                full = float(np.median(times["full"]))
                for name in ("sampled", "full"):
                    sec, r = float(np.median(times[name])), recs[name]
                    check = f"{ratio:6.2f}" if name == "sampled" and ratio is not None else ""
                    print(f"{C:6g} {tol:7.0e} {name:8s} {sec:8.2f} {sec / full:6.2f} "
                          f"{r.n_iter:5d} {r.n_hessp_evals:7d} {r.n_sampled_hessp_evals:7d} "
                          f"{(r.objective - fstar) / abs(fstar):8.1e} {check:>6s}", flush=True)
    print("full hp: Hessian products over all rows (the sample's check, or after the "
          f"switch); sampled: products over {share:.0%} of them; check: the full Hessian's "
          "curvature over the sample's along the first sampled step (sampling stops above "
          "1.5)")


if __name__ == "__main__":
    main()
