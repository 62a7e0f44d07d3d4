"""The compiled CSR products (sigmax._csr) against SciPy's, and when a fit uses them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from sigmax import _csr, _parallel
from sigmax.dataterms import tuning as objective_mod
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty

needs_numba = pytest.mark.skipif(not _csr.available(), reason="numba is not importable")


def _csr_case(dtype, index_dtype, n=60, d=15, k=4, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.3, format="csr", random_state=seed, dtype=np.float64)
    X.data = rng.standard_normal(X.nnz) * 3
    X = X.astype(dtype)
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    W = rng.standard_normal((d, k)).astype(dtype)
    Gt = rng.standard_normal((k, n)).astype(dtype)
    return X, W, Gt


@needs_numba
@pytest.mark.parametrize("dtype,index_dtype", list(itertools.product(
    [np.float64, np.float32], [np.int32, np.int64])))
def test_kernels_match_scipy(dtype, index_dtype):
    X, W, Gt = _csr_case(dtype, index_dtype)
    logits_t, rmatmul_acc = _csr.kernels()
    tol = 1e-12 if dtype == np.float64 else 1e-5
    Zt = np.full((W.shape[1], X.shape[0]), np.nan, dtype=dtype)
    logits_t(X.indptr, X.indices, X.data, W, Zt)
    np.testing.assert_allclose(Zt, (X @ W).T, rtol=tol, atol=tol)
    # Accumulates into what is there; square=True reads x_ij ** 2.
    start = np.ones((X.shape[1], W.shape[1]), dtype=dtype)
    acc = start.copy()
    rmatmul_acc(X.indptr, X.indices, X.data, Gt, acc, False)
    np.testing.assert_allclose(acc, start + X.T @ Gt.T, rtol=tol, atol=tol)
    acc = start.copy()
    rmatmul_acc(X.indptr, X.indices, X.data, Gt, acc, True)
    np.testing.assert_allclose(acc, start + X.multiply(X).T @ Gt.T, rtol=tol, atol=tol)


@needs_numba
def test_a_row_block_slice_is_read_in_place():
    """Rebased block pointers with slices of indices/data: the objective's views of ``X``."""
    X, W, _ = _csr_case(np.float64, np.int32, n=40)
    lo, hi = 10, 25
    ip = X.indptr[lo:hi + 1] - X.indptr[lo]
    ind, data = X.indices[X.indptr[lo]:X.indptr[hi]], X.data[X.indptr[lo]:X.indptr[hi]]
    Zt = np.empty((W.shape[1], hi - lo))
    _csr.kernels()[0](ip, ind, data, W, Zt)
    np.testing.assert_allclose(Zt, (X[lo:hi] @ W).T, rtol=1e-12, atol=1e-12)


def _objective(X):
    y = np.arange(X.shape[0]) % 3
    return LinearObjective(LOSSES["multinomial"], X, y, np.ones(X.shape[0]), 3, C=1.0,
                           penalty=make_penalty("l2"))


def test_small_matrices_and_a_missing_numba_use_scipy(monkeypatch):
    X, _, _ = _csr_case(np.float64, np.int32, n=200)
    monkeypatch.setattr(objective_mod, "PARALLEL_MIN_WORK", 1)
    monkeypatch.setattr(objective_mod, "BLOCK_BYTES", 512)
    monkeypatch.setattr("sigmax._parallel.blas_threads", lambda: 2)
    small = _objective(X)  # far below MIN_NNZ
    assert not small.data._blocks.compiled and small.data._blocks.workers() == 1
    monkeypatch.setattr(_csr, "MIN_NNZ", 1)
    monkeypatch.setattr(_csr, "available", lambda: False)
    without = _objective(X)
    assert not without.data._blocks.compiled and without.data._blocks.workers() == 1
    w = np.random.default_rng(0).standard_normal(without.n_params)
    f1, g1 = small.value_and_grad(w)
    f2, g2 = without.value_and_grad(w)
    assert f1 == pytest.approx(f2, rel=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-12)


@needs_numba
def test_large_fit_uses_both_workers_and_matches_scipy(monkeypatch):
    """A fit above MIN_NNZ runs on the compiled kernels and ends where SciPy's path ends."""
    from sigmax import SoftmaxRegression

    rng = np.random.default_rng(5)
    X = sp.random(3000, 400, density=0.05, format="csr", random_state=5)
    y = np.asarray(X[:, :3].sum(axis=1)).ravel().argsort().argsort() * 3 // 3000
    y = (y + rng.integers(0, 2, 3000)) % 3
    monkeypatch.setattr(_csr, "MIN_NNZ", 1)
    monkeypatch.setattr(objective_mod, "BLOCK_BYTES", 8192)
    monkeypatch.setattr(objective_mod, "PARALLEL_MIN_WORK", 1)
    monkeypatch.setattr("sigmax._parallel.blas_threads", lambda: 2)
    workers = []
    run_blocks = _parallel.run_blocks

    def spy(work, n_blocks, n_workers):
        workers.append(n_workers)
        return run_blocks(work, n_blocks, n_workers)

    monkeypatch.setattr(_parallel, "run_blocks", spy)
    compiled = SoftmaxRegression(C=1.0, tol=1e-8).fit(X, y)
    assert workers and set(workers) == {2}
    monkeypatch.setattr(_csr, "MIN_NNZ", 1 << 62)
    reference = SoftmaxRegression(C=1.0, tol=1e-8).fit(X, y)
    np.testing.assert_allclose(compiled.coef_, reference.coef_, atol=1e-6)
    np.testing.assert_allclose(compiled.predict_proba(X), reference.predict_proba(X), atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("two_workers", [False, True])
def test_sparse_pass_sums_every_workers_accumulator_into_the_result(
        monkeypatch, dtype, intercept, two_workers):
    """``X^T G`` of a CSR pass: one worker may accumulate in the result's own rows
    (float64 ``X``); the others' (and float32) accumulators are added to them."""
    from sigmax.dataterms.blocks import BlockProducts

    if two_workers:
        if not _csr.available():
            pytest.skip("numba is not importable")
        monkeypatch.setattr(_csr, "MIN_NNZ", 1)
        monkeypatch.setattr(objective_mod, "PARALLEL_MIN_WORK", 1)
        monkeypatch.setattr("sigmax._parallel.blas_threads", lambda: 2)
    monkeypatch.setattr(objective_mod, "BLOCK_BYTES", 4096)
    X, W, _ = _csr_case(dtype, np.int32, n=900, d=40, k=3, seed=4)
    b = np.linspace(-1.0, 1.0, 3) if intercept else None
    products = BlockProducts(X, 3)
    assert len(products.plan.bounds) > 4
    assert products.plan.plan() == ((2, True) if two_workers else (1, False))

    def op(i, lo, hi, Zt):  # G = 2 Z - 1, value: sum of Z
        value = float(Zt.sum(dtype=np.float64))
        Zt *= 2
        Zt -= 1
        return value

    for _ in range(2):  # a second pass starts from zero in the reused rows
        value, out = products.run(W, b, op)
        Xd = X.toarray().astype(np.float64)
        Z = Xd @ W.astype(np.float64) + (0.0 if b is None else b)
        G = 2 * Z - 1
        tol = 1e-10 if dtype == np.float64 else 2e-4
        assert out.dtype == np.float64 and out.shape == (40 + intercept, 3)
        np.testing.assert_allclose(out[:40], Xd.T @ G, rtol=tol, atol=tol * np.abs(G).sum())
        if intercept:
            np.testing.assert_allclose(out[40], G.sum(axis=0), rtol=tol, atol=tol * np.abs(G).sum())
        np.testing.assert_allclose(value, Z.sum(), rtol=tol)
