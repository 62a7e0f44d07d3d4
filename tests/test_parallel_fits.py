"""Fits in several user threads: one BLAS state, restored; passes on one worker meanwhile."""

from __future__ import annotations

import threading

import numpy as np

from sigmax import LogisticRegression, SoftmaxRegression
from sigmax import _parallel as P


def test_concurrent_fits_restore_the_blas_and_use_one_worker_each(monkeypatch):
    before = [lib.num_threads for lib in P._numpy_blas()]
    r = np.random.default_rng(0)
    X = r.normal(size=(20000, 10))  # above PARALLEL_MIN_WORK: passes may use 2 workers
    y = (X[:, 0] > 0).astype(int)
    seen: list[tuple[int, int]] = []
    real = P.run_blocks

    def spy(work, n_blocks, n_workers):
        seen.append((P._fits, n_workers))
        return real(work, n_blocks, n_workers)

    monkeypatch.setattr(P, "run_blocks", spy)
    inside = threading.Barrier(2)

    def fit(Est):
        inside.wait()
        for _ in range(3):
            Est().fit(X, y)

    threads = [threading.Thread(target=fit, args=(E,))
               for E in (LogisticRegression, SoftmaxRegression)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [lib.num_threads for lib in P._numpy_blas()] == before
    assert P._fits == 0 and P._budget is None
    # While two fits ran, blas_threads() said 1: passes asked for one worker
    # (a pass planned just before the other fit began may still ask for more).
    crowded = [w for fits, w in seen if fits > 1]
    assert crowded, "the two fits never overlapped"
    assert sum(w > 1 for w in crowded) <= 2, crowded


def test_blas_threads_is_one_while_two_fits_run():
    with P.fit_scope():
        alone = P.blas_threads()
        with P.fit_scope():
            assert P.blas_threads() == 1
        assert P.blas_threads() == alone
    assert P._fits == 0


def test_fits_in_user_threads_hold_the_blas_after_a_fit_in_the_main_thread(monkeypatch):
    """Issue 16 item 13: a first fit in the main thread made it threadpoolctl's only
    "controlling" thread for OpenBLAS, so the holds taken by fits in user threads were
    silently ignored and their products ran on every BLAS thread beside each other."""
    from sigmax.dataterms import blocks

    r = np.random.default_rng(1)
    X = r.normal(size=(20000, 10))
    y = (X[:, 0] + r.logistic(size=20000) > 0).astype(int)
    LogisticRegression().fit(X, y)  # in the main thread: it takes control, as a user's would
    before = [lib.num_threads for lib in P._numpy_blas()]
    counts: list[tuple[int, ...]] = []
    real = blocks.BlockProducts.block_logits

    def spy(self, *args, **kwargs):
        counts.append(tuple(lib.num_threads for lib in P._numpy_blas()))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(blocks.BlockProducts, "block_logits", spy)
    start = threading.Barrier(2)

    def fit():
        start.wait()
        LogisticRegression().fit(X, y)

    threads = [threading.Thread(target=fit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts and all(c == (1,) * len(c) for c in counts), sorted(set(counts))
    assert [lib.num_threads for lib in P._numpy_blas()] == before
