"""sigmax's compiled CSR products (``sigmax._csr``) against SciPy's, on sparse_text.

Times one objective pass's two products, ``X @ W`` and ``X.T @ G``, on the
benchmark's sparse_text matrix (n=100k, d=50k, k=20, ~9M stored values) by
row blocks as ``LinearObjective`` runs them: SciPy's kernels (they hold the
GIL: one thread), and the compiled ones (numba, ``nogil``) on one and two
workers of sigmax's pool. Checks that all give the same products. Then one
objective evaluation (value and gradient, the benchmark's objective) on each
kind of kernel, float64 and float32, at one thread and at default threads:
the figures behind ``BlockPlan.uses_compiled`` (SciPy's kernels on one thread,
the compiled ones on two or more).

Run::

    python benchmarks/sparse_products.py [--scale 0.3]

Milliseconds per product, best of 7 (results of a run are printed).
"""

from __future__ import annotations

import argparse

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax import _csr, _parallel
from sigmax.bench.problems import PROBLEMS
from sigmax.bench.runner import _best_time, _sigmax_objective, thread_limit
from sigmax.dataterms.blocks import BlockPlan, _sparsetools


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    if not _csr.available():
        raise SystemExit("numba is not importable here: the compiled kernels are unavailable")
    data = PROBLEMS["sparse_text"].load(args.scale)
    X = data.X.tocsr()
    n, d = X.shape
    k = 20
    rng = np.random.default_rng(0)
    W = rng.standard_normal((d, k))
    Gt = np.ascontiguousarray(rng.standard_normal((k, n)))
    G = np.ascontiguousarray(Gt.T)
    blocks = BlockPlan(X, k)
    _csr.prepare(X.data.dtype, X.indices.dtype)
    logits_t, rmatmul_acc = _csr.kernels()
    nb = len(blocks.bounds)
    # The transposed gradient blocks, as the objective's scratch holds them.
    Gts = [np.ascontiguousarray(Gt[:, lo:hi]) for lo, hi in blocks.bounds]

    def compiled_mm(idx):
        for i in idx:
            lo, hi = blocks.bounds[i]
            ind, data = blocks.cols[i]
            logits_t(blocks.csr[i], ind, data, W, np.empty((k, hi - lo)))

    def compiled_rm(idx):
        acc = np.zeros((d, k))
        for i in idx:
            ind, data = blocks.cols[i]
            rmatmul_acc(blocks.csr[i], ind, data, Gts[i], acc, False)
        return acc

    def scipy_mm(idx):
        for i in idx:
            lo, hi = blocks.bounds[i]
            ind, data = blocks.cols[i]
            Z = np.zeros((hi - lo, k))
            _sparsetools.csr_matvecs(hi - lo, d, k, blocks.csr[i], ind, data, W.ravel(),
                                     Z.ravel())

    def scipy_rm(idx):
        acc = np.zeros((d, k))
        for i in idx:
            lo, hi = blocks.bounds[i]
            ind, data = blocks.cols[i]
            _sparsetools.csc_matvecs(d, hi - lo, k, blocks.csr[i], ind, data, G[lo:hi].ravel(),
                                     acc.ravel())
        return acc

    def ms(work, workers):
        return _best_time(lambda: _parallel.run_blocks(work, nb, workers)) * 1e3

    print(f"sparse_text at scale {args.scale}: {n:,} x {d:,}, {X.nnz:,} stored values, k={k}")
    with threadpool_limits(1):
        rows = [("SciPy, 1 thread", ms(scipy_mm, 1), ms(scipy_rm, 1)),
                ("compiled, 1 worker", ms(compiled_mm, 1), ms(compiled_rm, 1)),
                ("compiled, 2 workers", ms(compiled_mm, 2), ms(compiled_rm, 2))]
    for name, a, b in rows:
        print(f"{name:20s} X @ W {a:6.1f} ms   X.T @ G {b:6.1f} ms   total {a + b:6.1f} ms")
    ref = X.T @ G
    for got in (sum(_parallel.run_blocks(compiled_rm, nb, 2)), scipy_rm(range(nb))):
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9)
    print("same products as SciPy")
    evaluations(data)


def evaluations(data) -> None:
    """Milliseconds of one value+gradient per kernel choice, dtype and thread setting.

    "sigmax" is what a fit does (compiled kernels on two or more workers,
    SciPy's on one); "compiled always" forces the compiled kernels on one too.
    """
    for dtype in ("float64", "float32"):
        objectives = {}
        for kind, min_nnz in (("SciPy", 1 << 62), ("sigmax", 1), ("compiled always", 1)):
            _csr.MIN_NNZ = min_nnz  # the kernels are chosen when the objective is built
            objectives[kind] = _sigmax_objective(data, dtype)
        forced = objectives["compiled always"].data._blocks
        forced.uses_compiled = lambda n_workers, b=forced: b.compiled
        w = np.random.default_rng(1).standard_normal(objectives["SciPy"].n_params) * 0.01
        for setting in ("1", "default"):
            with thread_limit(setting):
                ms = {kind: _best_time(lambda o=o, w=w: o.value_and_grad(w), 5) * 1e3
                      for kind, o in objectives.items()}
            print(f"evaluation {dtype}, {setting:7s} threads: "
                  + "   ".join(f"{kind} {t:6.1f} ms" for kind, t in ms.items()))


if __name__ == "__main__":
    main()
