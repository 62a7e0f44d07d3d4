"""The DataTerm protocol: every implementation gives the NumPy data term's numbers.

A data term is the unscaled loss sum D(w) = sum_i s_i l(z_i, y_i) and its
derivatives; the objective only scales it and adds the penalty.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from sigmax.dataterms import DataTerm, GenericData, NumpyData, RowBatches, in_memory
from sigmax.losses import LOSSES, BinomialLoss, Loss
from sigmax.objective import Objective
from sigmax.penalties import make_penalty


def _problem(name: str, n: int = 120, d: int = 4, K: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    loss = LOSSES[name]
    k = loss.n_outputs(K)
    X = rng.normal(size=(n, d))
    X[rng.random((n, d)) < 0.3] = 0.0
    if name == "binomial":
        Y = rng.integers(0, 2, n).astype(float)
    elif name == "multilabel":
        Y = rng.integers(0, 2, (n, k)).astype(float)
    else:
        Y = rng.integers(0, K, n)
    weights = rng.uniform(0.5, 2.0, n)
    return loss, X, Y, weights, k


def _terms(name: str, fit_intercept: bool) -> dict[str, DataTerm]:
    """Every data term available here, on the same data."""
    loss, X, Y, weights, k = _problem(name)
    terms: dict[str, DataTerm] = {
        "numpy": NumpyData(loss, X, Y, weights, k, fit_intercept),
        "csr": NumpyData(loss, sp.csr_matrix(X), Y, weights, k, fit_intercept),
        "generic": GenericData(loss, X, Y, weights, k, fit_intercept),
    }
    try:
        import array_api_compat  # noqa: F401
    except ImportError:  # pragma: no cover - the torch extra
        pass
    else:
        from sigmax.backends.array import ArrayData

        terms["array"] = ArrayData(loss, X, Y, weights, k, fit_intercept)
        try:
            import torch
        except ImportError:  # pragma: no cover
            pass
        else:
            terms["torch"] = ArrayData(loss, torch.from_numpy(X), Y, weights, k, fit_intercept)
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover
        pass
    else:
        from sigmax.backends.dask_backend import ChunkedData

        terms["dask"] = ChunkedData(loss, da.from_array(X, chunks=(50, -1)), Y, weights, k,
                                    fit_intercept, persist=False)
    return terms


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_every_data_term_equals_the_numpy_one(name, fit_intercept):
    terms = _terms(name, fit_intercept)
    ref = terms.pop("numpy")
    rng = np.random.default_rng(1)
    w, v = rng.normal(size=ref.n_params), rng.normal(size=ref.n_params)
    f_ref, g_ref = ref.value_and_grad(w.copy())
    hv_ref = ref.hessp(w.copy(), v)
    H_ref = ref.hessian(w.copy())
    assert g_ref.shape == (ref.n_rows, ref.k) and g_ref.dtype == np.float64
    assert H_ref.shape == (ref.n_params, ref.n_params)
    for kind, term in terms.items():
        assert (term.n_rows, term.k, term.n_params) == (ref.n_rows, ref.k, ref.n_params), kind
        assert term.weight_total == pytest.approx(ref.weight_total, rel=1e-12), kind
        f, g = term.value_and_grad(w.copy())
        assert f == pytest.approx(f_ref, rel=1e-10), kind
        assert term.value(w.copy()) == pytest.approx(f_ref, rel=1e-10), kind
        np.testing.assert_allclose(g, g_ref, rtol=1e-9, atol=1e-10, err_msg=kind)
        np.testing.assert_allclose(term.hessp(w.copy(), v), hv_ref, rtol=1e-9, atol=1e-10,
                                   err_msg=kind)
        np.testing.assert_allclose(term.hessian(w.copy()), H_ref, rtol=1e-9, atol=1e-10,
                                   err_msg=kind)
        blocks = term.hessian_blocks(w.copy())
        if blocks is not None:
            H4 = H_ref.reshape(ref.n_rows, ref.k, ref.n_rows, ref.k)
            for a in range(ref.k):
                np.testing.assert_allclose(blocks[a], H4[:, a, :, a], rtol=1e-9, atol=1e-10,
                                           err_msg=kind)
        diag = term.hessian_diag(w.copy())
        if diag is not None:
            np.testing.assert_allclose(diag.ravel(), np.diag(H_ref), rtol=1e-9, atol=1e-10,
                                       err_msg=kind)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_numpy_data_term_finite_differences(name):
    loss, X, Y, weights, k = _problem(name, n=60)
    term = NumpyData(loss, X, Y, weights, k, True)
    rng = np.random.default_rng(2)
    w, v = rng.normal(size=term.n_params), rng.normal(size=term.n_params)
    h = 1e-6
    _, g = term.value_and_grad(w.copy())
    fd = (term.value(w + h * v) - term.value(w - h * v)) / (2 * h)
    assert fd == pytest.approx(float(g.ravel() @ v), rel=1e-6, abs=1e-8)
    gp, gm = term.value_and_grad(w + h * v)[1], term.value_and_grad(w - h * v)[1]
    np.testing.assert_allclose(term.hessp(w.copy(), v).ravel(), (gp - gm).ravel() / (2 * h),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["binomial", "multinomial"])
def test_objective_is_scaled_data_term_plus_penalty(name):
    loss, X, Y, weights, k = _problem(name)
    term = in_memory(loss, X, Y, weights, k, True)
    pen = make_penalty("l2")
    obj = Objective(term, C=0.5, penalty=pen)
    rng = np.random.default_rng(3)
    w, v = rng.normal(size=obj.n_params), rng.normal(size=obj.n_params)
    W, _ = obj.unpack(w)
    S = weights.sum()
    f, g = obj.value_and_grad(w.copy())
    f_d, g_d = term.value_and_grad(w.copy())
    alpha = 1.0 / (0.5 * S)
    assert obj.alpha == pytest.approx(alpha, rel=1e-14)
    assert f == pytest.approx(f_d / S + alpha * 0.5 * (W**2).sum(), rel=1e-12)
    expected = g_d / S
    expected[: obj.n_features] += alpha * W
    np.testing.assert_allclose(g, expected.ravel(), rtol=1e-12, atol=1e-15)
    hv = term.hessp(w.copy(), v) / S
    hv[: obj.n_features] += alpha * obj.unpack(v)[0]
    np.testing.assert_allclose(obj.hessp(w.copy(), v), hv.ravel(), rtol=1e-12, atol=1e-15)
    assert (obj.n_grad_evals, obj.n_hessp_evals) == (1, 1)


def test_in_memory_picks_the_row_block_engine_for_dense_and_csr_floats():
    loss, X, Y, weights, k = _problem("binomial")
    assert isinstance(in_memory(loss, X, Y, weights, k), NumpyData)
    assert isinstance(in_memory(loss, sp.csr_matrix(X), Y, weights, k), NumpyData)
    assert isinstance(in_memory(loss, sp.csc_matrix(X), Y, weights, k), GenericData)


@pytest.mark.parametrize("name", ["multinomial", "multilabel"])
def test_row_batches_of_every_in_memory_term_add_up(name):
    loss, X, Y, weights, k = _problem(name)
    for term in (NumpyData(loss, X, Y, weights, k, True),
                 GenericData(loss, X, Y, weights, k, True)):
        batches = term.batches()
        assert isinstance(batches, RowBatches) and batches.n_batches > 1
        w = np.random.default_rng(4).normal(size=term.n_params)
        (value, grad), = batches.batch_sums([w], range(batches.n_batches))
        f, g = term.value_and_grad(w.copy())
        assert value == pytest.approx(f, rel=1e-12)
        np.testing.assert_allclose(grad, g.ravel(), rtol=1e-10, atol=1e-12)


def test_zero_weight_total_is_an_error_of_the_objective():
    loss, X, Y, _, k = _problem("binomial")
    term = NumpyData(loss, X, Y, np.zeros(len(Y)), k, True)
    assert term.weight_total == 0
    with pytest.raises(ValueError, match="sum to zero"):
        Objective(term, C=1.0, penalty=make_penalty("l2"))


class _DefinitionOnlyBinomial(BinomialLoss):
    """The binomial loss with only its array-namespace definition (no NumPy kernels)."""

    value_grad_t = Loss.value_grad_t
    hessp_t = Loss.hessp_t
    hessian_weights_t = Loss.hessian_weights_t
    hessian_diag_t = Loss.hessian_diag_t
    partition_scale = None


@pytest.mark.parametrize("sparse_X", [False, True])
def test_a_loss_written_once_runs_on_the_row_block_engine(sparse_X):
    """A loss that only writes its definition gets the base class's block kernels:
    the same numbers as the built-in loss's one-pass NumPy overrides."""
    _, X, Y, weights, k = _problem("binomial")
    X = sp.csr_matrix(X) if sparse_X else X
    plain = NumpyData(_DefinitionOnlyBinomial(), X, Y, weights, k, True)
    fast = NumpyData(LOSSES["binomial"], X, Y, weights, k, True)
    assert not plain._partition
    rng = np.random.default_rng(5)
    w, v = rng.normal(size=fast.n_params), rng.normal(size=fast.n_params)
    f, g = plain.value_and_grad(w.copy())
    f_ref, g_ref = fast.value_and_grad(w.copy())
    assert f == pytest.approx(f_ref, rel=1e-12)
    np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(plain.hessp(w.copy(), v), fast.hessp(w.copy(), v), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(plain.hessian_blocks(w.copy()), fast.hessian_blocks(w.copy()),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(plain.hessian_diag(w.copy()), fast.hessian_diag(w.copy()),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k, D", [(1, 5), (4, 6), (6, 6), (40, 9)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weighted_grams_of_every_output_are_the_explicit_sums(k, D, dtype, monkeypatch):
    # k >= D takes the one-GEMM route over row products; a small chunk makes it
    # sum over several row chunks. Negative weights count as 0 on both routes.
    from sigmax.dataterms import hessian, tuning

    monkeypatch.setattr(tuning, "_GRAM_CHUNK", 7 * D * (D + 1) // 2)
    r = np.random.default_rng(k + D)
    Xb = r.normal(size=(50, D)).astype(dtype)
    h = r.random((k, 50))
    h[0, :3] = -1.0
    out = np.ones((k, D, D))
    hessian.add_weighted_grams(Xb, h, out)
    X64 = Xb.astype(np.float64)
    want = 1.0 + np.einsum("ij,ai,il->ajl", X64, np.maximum(h, 0), X64)
    np.testing.assert_allclose(out, want, rtol=1e-12 if dtype == np.float64 else 1e-5,
                               atol=1e-10 if dtype == np.float64 else 1e-4)
    np.testing.assert_array_equal(out, out.transpose(0, 2, 1))


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("sparse_X", [False, True])
def test_float32_hessian_products_are_the_float64_ones_to_float32_rounding(name, sparse_X):
    loss, X, Y, weights, k = _problem(name, n=300)
    X = sp.csr_matrix(X) if sparse_X else X
    term = NumpyData(loss, X, Y, weights, k, True)
    rng = np.random.default_rng(1)
    w, v = 0.3 * rng.normal(size=term.n_params), rng.normal(size=term.n_params)
    term.value_and_grad(w)
    exact = term.hessp(w, v)
    assert term.float32_hessp() is True
    low = term.hessp(w, v)
    assert low.dtype == np.float64 and low.shape == exact.shape
    assert not np.array_equal(low, exact)  # they are float32 products
    np.testing.assert_allclose(low, exact, rtol=0, atol=1e-5 * np.abs(exact).max())
    # A new point refreshes the float32 state (not the first point's probabilities).
    w2 = w + 0.5
    np.testing.assert_allclose(term.hessp(w2, v), NumpyData(
        loss, X, Y, weights, k, True).hessp(w2, v), atol=1e-5 * np.abs(exact).max())
    # Back at w after an evaluation elsewhere (a line search's rejected trial moves
    # the float64 state the twin converts from): w's products again, not w2's.
    term.hessp(w, v)
    term.value_and_grad(w2)
    np.testing.assert_allclose(term.hessp(w, v), low, rtol=0, atol=1e-12 * np.abs(low).max())
    assert term.float32_hessp(None) is True  # None only asks
    assert term.float32_hessp(False) is False
    assert term.float32_hessp(None) is False
    np.testing.assert_array_equal(term.hessp(w, v), exact)
    if sparse_X:  # the float32 twin shares the indices of X: only the values are new
        X32 = term._hessp32.products.X
        assert X32.dtype == np.float32 and np.shares_memory(X32.indices, term.X.indices)
        assert not np.shares_memory(X32.data, term.X.data)


@pytest.mark.parametrize("sparse_X", [False, True])
def test_float32_softmax_hessian_products_keep_rows_summing_to_zero(sparse_X):
    # The symmetric softmax's data Hessian maps any v to rows that sum to zero (its
    # flat directions: a constant added to a parameter row). The float32 products'
    # rounding would leave row sums of ~1e-7 of the entries, which plain CG turns
    # into a drift of the intercepts along their flat shift; they are projected out.
    loss, X, Y, weights, k = _problem("multinomial", n=400, d=6, K=5)
    X = sp.csr_matrix(X) if sparse_X else X
    term = NumpyData(loss, X, Y, weights, k, True)
    rng = np.random.default_rng(2)
    w, v = 0.5 * rng.normal(size=term.n_params), rng.normal(size=term.n_params)
    exact = term.hessp(w, v)
    term.float32_hessp()
    low = term.hessp(w, v)
    scale = np.abs(exact).max()
    np.testing.assert_allclose(low.sum(axis=1), 0.0, atol=1e-13 * scale)
    np.testing.assert_allclose(exact.sum(axis=1), 0.0, atol=1e-13 * scale)
    np.testing.assert_allclose(low, exact, rtol=0, atol=1e-5 * scale)


def test_float32_heads_hessian_products_keep_the_softmax_heads_rows_summing_to_zero():
    # Mixed heads (MultiHeadClassifier): a softmax head's columns are flat as above,
    # a sigmoid head's are not (its entries are left as the products give them).
    from sigmax.losses import MultinomialLoss
    from sigmax.losses.heads import HeadsLoss

    loss = HeadsLoss((("softmax", 0, 3), ("sigmoid", 3, 4), ("softmax", 4, 6)))
    assert loss.flat_spans(6) == [(0, 3), (4, 6)]
    assert MultinomialLoss().flat_spans(4) == [(0, 4)]
    assert MultinomialLoss(reference=True).flat_spans(3) == []
    assert LOSSES["multilabel"].flat_spans(3) == []
    rng = np.random.default_rng(5)
    n = 400
    X = rng.normal(size=(n, 5))
    Y = np.c_[rng.integers(0, 3, n), rng.integers(0, 2, n), rng.integers(0, 2, n)].astype(float)
    term = NumpyData(loss, X, Y, np.ones(n), 6, True)
    w, v = 0.5 * rng.normal(size=term.n_params), rng.normal(size=term.n_params)
    exact = term.hessp(w, v)
    assert term.float32_hessp() is True
    low = term.hessp(w, v)
    scale = np.abs(exact).max()
    for a, b in ((0, 3), (4, 6)):
        np.testing.assert_allclose(low[:, a:b].sum(axis=1), 0.0, atol=1e-13 * scale)
    np.testing.assert_allclose(low, exact, rtol=0, atol=1e-5 * scale)


def test_float32_hessian_products_are_refused_on_float32_data_and_other_terms(monkeypatch):
    from sigmax.dataterms import memory

    loss, X, Y, weights, k = _problem("multinomial")
    assert NumpyData(loss, X.astype(np.float32), Y, weights, k).float32_hessp() is False
    assert GenericData(loss, X, Y, weights, k).float32_hessp() is False
    # ... and where the float32 copy of X would take over a quarter of the free memory.
    monkeypatch.setattr(memory, "available_memory", lambda: 3.9 * X.size * 4)
    assert NumpyData(loss, X, Y, weights, k).float32_hessp() is False
    monkeypatch.setattr(memory, "available_memory", lambda: 4.1 * X.size * 4)
    assert NumpyData(loss, X, Y, weights, k).float32_hessp() is True


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_memory_order_of_X_gives_the_same_evaluations(name, monkeypatch):
    # The row blocks read X in the order blocks.row_layout picks: a column-major
    # X of several blocks is copied to row-major once, one block is used as given
    # (a strided view is copied column-major); the sums are the same either way.
    from sigmax.dataterms import tuning

    loss, X, Y, weights, k = _problem(name, n=300, d=6)
    rng = np.random.default_rng(2)
    base = NumpyData(loss, X, Y, weights, k, True)
    w, v = 0.3 * rng.normal(size=base.n_params), rng.normal(size=base.n_params)
    want_f, want_g = base.value_and_grad(w)
    want_h = base.hessp(w, v)
    for block_bytes, blocks in ((tuning.BLOCK_BYTES, 1), (256 * 8 * (6 + 2 * k), 2)):
        monkeypatch.setattr(tuning, "BLOCK_BYTES", block_bytes)
        wide = np.zeros((300, 12))
        wide[:, ::2] = X
        for A in (np.ascontiguousarray(X), np.asfortranarray(X), wide[:, ::2]):
            term = NumpyData(loss, A, Y, weights, k, True)
            assert len(term.products.plan.bounds) == blocks
            kept = term.X
            if blocks > 1:
                assert kept.flags.c_contiguous
            else:
                assert kept.flags.c_contiguous or kept.flags.f_contiguous
            # Contiguous input that is read well as it is stays the caller's array.
            assert (kept is A) == (A.flags.c_contiguous or (blocks == 1 and A.flags.f_contiguous))
            f, g = term.value_and_grad(w)
            assert f == pytest.approx(want_f, rel=1e-12)
            np.testing.assert_allclose(g, want_g, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(term.hessp(w, v), want_h, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("d", [6, 12])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["multinomial", "multilabel"])
def test_row_slices_for_small_gemm_kernels_give_the_same_passes(name, dtype, d, compiled,
                                                                 monkeypatch):
    # Where NumPy's BLAS has small-matrix kernels, a row-major block's G_b^T X_b runs
    # in row slices (blocks.slice_rows), and so does X_b W: as (b, k) rows copied
    # transposed into the (k, b) logits where d >= 3k (slice_logits: d = 12, k = 3),
    # kept as rows by the compiled passes (rowmajor: unit weights and the compiled
    # passes forced on; float32 always, float64 where sliced and elementwise). Every
    # pass (value and gradient, Hessian products, the value alone) gives the unsliced
    # sums. Forced on here (any BLAS): slices of 256 rows of blocks of 700, so that a
    # block ends in a short slice.
    from sigmax import _parallel
    from sigmax.dataterms import tuning

    loss, X, Y, weights, k = _problem(name, n=1500, d=d)
    X = X.astype(dtype)
    if compiled:
        weights = np.ones_like(weights)
        monkeypatch.setattr(tuning, "COMPILED_MIN_LOGITS", 0)
    rng = np.random.default_rng(3)
    monkeypatch.setattr(tuning, "BLOCK_BYTES", 700 * np.dtype(dtype).itemsize * (d + 2 * k))
    monkeypatch.setattr(_parallel, "small_gemm_kernels", lambda: True)
    results = []
    for macs in (0, 256 * d * k):
        monkeypatch.setattr(tuning, "SMALL_GEMM_MACS", macs)
        term = NumpyData(loss, X, Y, weights, k, True)
        assert term.products.slice == (256 if macs else 0)
        assert term.products.slice_logits == bool(macs and d >= 3 * k)
        assert term._rowmajor == (compiled and (dtype == np.float32
                                                or (bool(macs) and name == "multilabel")))
        assert next(hi - lo for lo, hi in term.products.plan.bounds) == 700
        w = 0.3 * np.random.default_rng(4).normal(size=term.n_params)
        v = rng.normal(size=term.n_params) if not results else results[0][3]
        f, g = term.value_and_grad(w)
        results.append((f, g, term.hessp(w, v), v, term.value(w)))
    (f0, g0, h0, _, v0), (f1, g1, h1, _, v1) = results
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert f1 == pytest.approx(f0, rel=rtol)
    assert v1 == pytest.approx(v0, rel=rtol)
    assert v0 == pytest.approx(f0, rel=rtol)
    np.testing.assert_allclose(g1, g0, rtol=rtol * 100, atol=rtol * 100 * np.abs(g0).max())
    np.testing.assert_allclose(h1, h0, rtol=rtol * 100, atol=rtol * 100 * np.abs(h0).max())


def test_row_slices_only_where_they_pay(monkeypatch):
    # Sliced: k > 1 outputs, a BLAS with small-matrix kernels, slices of at least
    # SMALL_GEMM_MIN_ROWS rows, a row-major X (row slices of a column-major one are
    # strided), dense X.
    from sigmax import _parallel
    from sigmax.dataterms import blocks, tuning

    monkeypatch.setattr(_parallel, "small_gemm_kernels", lambda: True)
    assert blocks.slice_rows(64, 10) == tuning.SMALL_GEMM_MACS // 640
    assert blocks.slice_rows(64, 1) == 0
    assert blocks.slice_rows(200, 100) == 0  # 50 rows: slower than one call (part 5)
    monkeypatch.setattr(_parallel, "small_gemm_kernels", lambda: False)
    assert blocks.slice_rows(64, 10) == 0
    monkeypatch.setattr(_parallel, "small_gemm_kernels", lambda: True)
    X = np.random.default_rng(0).normal(size=(2000, 64))
    assert blocks.BlockProducts(X, 10).slice == tuning.SMALL_GEMM_MACS // 640
    assert blocks.BlockProducts(np.asfortranarray(X), 10).slice == 0
    assert blocks.BlockProducts(sp.csr_matrix(X), 10).slice == 0
    # The logits too, copied transposed, where d >= 3k (the copy costs per logit):
    # digits' 64 features and 10 classes, not 64 features and 25 outputs.
    assert blocks.BlockProducts(X, 10).slice_logits
    assert blocks.BlockProducts(X, 25).slice and not blocks.BlockProducts(X, 25).slice_logits
    assert not blocks.BlockProducts(np.asfortranarray(X), 10).slice_logits


def test_small_gemm_kernels_are_read_from_numpys_blas(monkeypatch):
    from types import SimpleNamespace

    from sigmax import _parallel

    for api, arch, want in (("openblas", "SkylakeX", True), ("openblas", "Haswell", False),
                            ("mkl", None, False), ("openblas", "SapphireRapids", True)):
        lib = SimpleNamespace(internal_api=api, architecture=arch)
        monkeypatch.setattr(_parallel, "_numpy_blas", lambda lib=lib: [lib])
        monkeypatch.setattr(_parallel, "_small_gemm", None)
        assert _parallel.small_gemm_kernels() is want


def test_the_float32_twin_of_one_block_is_column_major(monkeypatch):
    # Column-major is the order a single block's X_b @ W reads fastest
    # (benchmarks/block_layout.py); several blocks are not copied: the twin reads
    # the row-major float64 X as float32 blocks (float32_hessp.streams).
    from sigmax.dataterms import float32_hessp, tuning

    loss, X, Y, weights, k = _problem("multinomial", n=300, d=6)
    term = NumpyData(loss, X, Y, weights, k, True)
    assert term.float32_hessp() is True
    X32 = term._hessp32.products.X
    assert X32.dtype == np.float32 and X32.flags.f_contiguous and not X32.flags.c_contiguous
    assert not term._hessp32.products.converts
    # Blocks of 256 rows in float32 (and in float64: the floor of 256 rows).
    monkeypatch.setattr(tuning, "BLOCK_BYTES", 256 * 4 * (6 + 2 * k))
    term = NumpyData(loss, X, Y, weights, k, True)
    # No copy to make: affordable whatever the free memory.
    monkeypatch.setattr(float32_hessp, "copy_fits", lambda nbytes: False)
    assert term.float32_hessp() is True
    twin = term._hessp32.products
    assert twin.X is term.X and twin.converts and twin.dtype == np.float32
    assert len(twin.plan.bounds) > 1


def test_float32_state_holds_no_subnormal_numbers():
    # A confident softmax has probabilities below float32's normal range; subnormal
    # operands make the float32 products ~10x slower, and at float32's precision such
    # entries weigh nothing: they are stored as 0, and the products stay exact to
    # float32 rounding.
    loss, X, Y, weights, k = _problem("multinomial", n=300)
    term = NumpyData(loss, X, Y, weights, k, True)
    rng = np.random.default_rng(3)
    w = 40.0 * rng.normal(size=term.n_params)  # logit gaps of hundreds
    v = rng.normal(size=term.n_params)
    term.value_and_grad(w)
    exact = term.hessp(w, v)
    probs = term._state(w)
    tiny = np.finfo(np.float32).tiny
    assert np.any((probs > 0) & (probs < tiny))  # the float64 state has such entries
    assert term.float32_hessp() is True
    low = term.hessp(w, v)
    St = term._hessp32.state(w)
    assert not np.any((St != 0) & (np.abs(St) < tiny))
    np.testing.assert_allclose(low, exact, rtol=0, atol=1e-5 * np.abs(exact).max())


def test_a_column_major_copy_is_made_only_where_memory_allows(monkeypatch):
    # The row-major copy of a column-major X of several blocks is for speed: where it
    # would take over a quarter of the free memory, the blocks stay strided views.
    from sigmax.dataterms import memory, tuning

    loss, X, Y, weights, k = _problem("multinomial", n=600, d=6)
    monkeypatch.setattr(tuning, "BLOCK_BYTES", 256 * 8 * (6 + 2 * k))
    XF = np.asfortranarray(X)
    monkeypatch.setattr(memory, "available_memory", lambda: 4.1 * XF.nbytes)
    assert NumpyData(loss, XF, Y, weights, k, True).X.flags.c_contiguous
    monkeypatch.setattr(memory, "available_memory", lambda: 3.9 * XF.nbytes)
    term = NumpyData(loss, XF, Y, weights, k, True)
    assert term.X is XF
    ref = NumpyData(loss, X, Y, weights, k, True)
    w = np.random.default_rng(0).normal(size=ref.n_params)
    np.testing.assert_allclose(term.value_and_grad(w)[1], ref.value_and_grad(w)[1],
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["binomial", "multilabel"])
def test_step_blocks_come_from_float32_products_and_diagnostics_stay_exact(name):
    # The blocks a Newton step solves with may be float32 products (summed in
    # float64); everything else (spectra, flat directions) gets exact blocks.
    loss, X, Y, weights, k = _problem(name, n=300)
    term = NumpyData(loss, X, Y, weights, k, True)
    w = 0.3 * np.random.default_rng(4).normal(size=term.n_params)
    exact = term.hessian_blocks(w)
    step = term.hessian_blocks(w, for_step=True)
    assert exact.dtype == step.dtype == np.float64
    assert not np.array_equal(step, exact)  # float32 products
    np.testing.assert_allclose(step, exact, rtol=0, atol=1e-6 * np.abs(exact).max())
    H = term.hessian(w).reshape(term.n_rows, k, term.n_rows, k)
    for a in range(k):  # the full Hessian's diagonal blocks: float64 sums
        np.testing.assert_allclose(H[:, a, :, a], exact[a], rtol=1e-12, atol=1e-14)


def test_a_pass_stopped_half_way_leaves_no_state_for_the_old_point(monkeypatch):
    """The Hessian state is rewritten by value_and_grad's pass; if that pass stops (an
    interrupt, an error), the half-written buffer belongs to no point, and the next
    Hessian product forms the state again."""
    from sigmax.dataterms import tuning

    monkeypatch.setattr(tuning, "BLOCK_BYTES", 4096)  # 256-row blocks: two of them
    loss, X, Y, weights, k = _problem("multinomial", n=300)
    term = NumpyData(loss, X, Y, weights, k, True)
    assert len(term.products.plan.bounds) == 2
    rng = np.random.default_rng(3)
    w, v = 0.3 * rng.normal(size=term.n_params), rng.normal(size=term.n_params)
    term.value_and_grad(w)
    exact = term.hessp(w, v)  # the state at w, now tracked
    real = term.products.run

    def stops(W, b, block_op, **kwargs):
        def half(i, lo, hi, Zt):
            if i > 0:
                raise KeyboardInterrupt
            return block_op(i, lo, hi, Zt)
        return real(W, b, half, **kwargs)

    monkeypatch.setattr(term.products, "run", stops)
    with pytest.raises(KeyboardInterrupt):  # (w + 1 would be w's softmax: a flat shift)
        term.value_and_grad(w + rng.normal(size=term.n_params))
    monkeypatch.setattr(term.products, "run", real)
    np.testing.assert_allclose(term.hessp(w, v), exact, rtol=1e-12, atol=1e-12)
