"""Experiment for the next step on sparse text: parallel compiled CSR products against SciPy's.

Not used by sigmax (numba is not a dependency): it measures whether a
compiled CSR kernel that releases the GIL, split over the cores, would beat
SciPy's single-threaded sparse products, which bound sparse_text (Newton-CG
needs about 39 passes over ``X``; see ``docs/benchmarks.md``). It times
``X @ W`` and ``X.T @ G`` on the benchmark's sparse_text matrix (n=100k,
d=50k, k=20, 10M stored values) with numba at one and two threads and with
SciPy at one thread, and checks that the results agree.

Run (needs ``pip install numba``)::

    python benchmarks/sparse_products_numba.py

Measured on the 2-vCPU reference machine (2026-11-28), milliseconds per product:

===============  =======  ========  =====
variant          X @ W    X.T @ G   total
===============  =======  ========  =====
SciPy, 1 thread  44.7     36.0      80.7
numba, 1 thread  35.0     29.6      64.7
numba, 2 threads 17.3     18.1      35.4
===============  =======  ========  =====
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from sigmax.bench.problems import PROBLEMS
from sigmax.bench.runner import _best_time


def main() -> None:
    try:
        import numba
        from numba import njit, prange
    except ImportError:
        raise SystemExit("This experiment needs numba: pip install numba") from None

    @njit(parallel=True, cache=True)
    def csr_mm(ip, ind, val, W, out):  # out = X @ W, rows split over threads
        k = W.shape[1]
        for i in prange(ip.size - 1):
            acc = np.zeros(k)
            for jj in range(ip[i], ip[i + 1]):
                v, j = val[jj], ind[jj]
                for c in range(k):
                    acc[c] += v * W[j, c]
            out[i, :] = acc

    @njit(parallel=True, cache=True)
    def csr_tmm(ip, ind, val, G, d, nthreads):  # X.T @ G, one private (d, k) sum per thread
        n, k = ip.size - 1, G.shape[1]
        acc = np.zeros((nthreads, d, k))
        chunk = (n + nthreads - 1) // nthreads
        for t in prange(nthreads):
            for i in range(t * chunk, min(n, (t + 1) * chunk)):
                for jj in range(ip[i], ip[i + 1]):
                    v, j = val[jj], ind[jj]
                    for c in range(k):
                        acc[t, j, c] += v * G[i, c]
        out = acc[0].copy()
        for t in range(1, nthreads):
            out += acc[t]
        return out

    X = PROBLEMS["sparse_text"].load(1.0).X.tocsr()
    n, d = X.shape
    k = 20
    ip, ind, val = X.indptr, X.indices, X.data
    rng = np.random.default_rng(0)
    W, G, Z = rng.standard_normal((d, k)), rng.standard_normal((n, k)), np.empty((n, k))

    def best(f):
        return _best_time(f) * 1e3  # milliseconds

    for threads in (1, 2):
        numba.set_num_threads(threads)
        a = best(lambda: csr_mm(ip, ind, val, W, Z))
        b = best(lambda: csr_tmm(ip, ind, val, G, d, threads))  # noqa: B023
        print(f"numba, {threads} thread(s): X @ W {a:.1f} ms, X.T @ G {b:.1f} ms, "
              f"total {a + b:.1f}")
    with threadpool_limits(1):
        a, b = best(lambda: X @ W), best(lambda: X.T @ G)
    print(f"SciPy, 1 thread: X @ W {a:.1f} ms, X.T @ G {b:.1f} ms, total {a + b:.1f}")
    np.testing.assert_allclose(Z, X @ W, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(csr_tmm(ip, ind, val, G, d, 2), X.T @ G, rtol=1e-9, atol=1e-9)
    print("same products as SciPy")


if __name__ == "__main__":
    main()
