"""LinearObjective: value, gradient, Hessian-vector product and Hessian against an
independent reference and finite differences, for every loss x penalty, dense and
sparse X, with and without intercept, with sample weights."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from sigmax.dataterms import NumpyData
from sigmax.dataterms import tuning as objective_module
from sigmax.losses import LOSSES, MultilabelLoss, MultinomialLoss
from sigmax.losses import _compiled as losses_module
from sigmax.objective import LinearObjective
from sigmax.penalties import PENALTIES, make_penalty

N_CLASSES = 3
C = 0.7


def encode(loss, n, r):
    if isinstance(loss, MultinomialLoss):
        return np.arange(n) % N_CLASSES
    if isinstance(loss, MultilabelLoss):
        return r.integers(0, 2, size=(n, loss.n_outputs(N_CLASSES))).astype(float)
    return (np.arange(n) % 2).astype(float)


def build(loss_name="multinomial", penalty="l2", fmt="dense", intercept=True, n=25, d=3,
          seed=0, dtype=np.float64, weights="random", C=C):
    r = np.random.default_rng(seed)
    loss = LOSSES[loss_name]
    k = loss.n_outputs(N_CLASSES)
    X = r.normal(size=(n, d))
    X[r.random(size=X.shape) < 0.3] = 0.0  # some structural zeros for the sparse cases
    X = X.astype(dtype)
    Xin = {"dense": X, "csr": sp.csr_matrix(X), "csc": sp.csc_matrix(X)}[fmt]
    Y = encode(loss, n, r)
    if weights == "random":
        sw = r.uniform(0.2, 3.0, size=n)
        sw[1] = 0.0
    else:
        sw = np.ones(n)
    obj = LinearObjective(loss, Xin, Y, sw, k, C=C, penalty=make_penalty(penalty, 0.4),
                          fit_intercept=intercept)
    w = 0.5 * r.normal(size=obj.n_params)
    return obj, X.astype(np.float64), Y, sw, w


def reference(obj, X, Y, sw, w):
    """Independent evaluation: dense logits, the loss value, the penalty formula."""
    P = w.reshape(obj.n_rows, obj.k)
    W = P[: obj.n_features]
    Z = X @ W + (P[obj.n_features] if obj.fit_intercept else 0.0)
    S = sw.sum()
    loss_value = obj.loss.value(Z, Y, sw) / S
    pen = obj.penalty
    smooth = 0.5 * pen.l2 * (W**2).sum() / (C * S) if pen.name != "none" else 0.0
    l1 = pen.l1 * np.abs(W).sum() / (C * S) if pen.name != "none" else 0.0
    return loss_value + smooth, loss_value + smooth + l1, S


loss_names = pytest.mark.parametrize("loss_name", sorted(LOSSES))
# reference() reads the elastic net's weights; the grouped lasso: tests/test_group_lasso.py.
penalties = pytest.mark.parametrize("penalty", sorted(n for n in PENALTIES if n != "group"))
formats = pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
intercepts = pytest.mark.parametrize("intercept", [True, False])


def fd_grad(f, w, h=1e-6):
    g = np.empty_like(w)
    for j in range(w.size):
        e = np.zeros_like(w)
        e[j] = h
        g[j] = (f(w + e) - f(w - e)) / (2 * h)
    return g


@loss_names
@penalties
@formats
@intercepts
def test_value_and_gradient(loss_name, penalty, fmt, intercept):
    obj, X, Y, sw, w = build(loss_name, penalty, fmt, intercept)
    smooth_ref, full_ref, S = reference(obj, X, Y, sw, w)
    value, grad = obj.value_and_grad(w.copy())
    assert grad.shape == (obj.n_params,) and grad.dtype == np.float64
    assert value == pytest.approx(smooth_ref, rel=1e-12)
    assert obj.value(w.copy()) == pytest.approx(smooth_ref, rel=1e-12)
    assert obj.objective(w.copy()) == pytest.approx(full_ref, rel=1e-12)
    assert obj.sklearn_objective(w.copy()) == pytest.approx(full_ref * C * S, rel=1e-12)
    np.testing.assert_allclose(grad, fd_grad(obj.value, w), rtol=1e-6, atol=1e-9)


@loss_names
@penalties
@formats
@intercepts
def test_hessp_and_hessian(loss_name, penalty, fmt, intercept):
    obj, *_, w = build(loss_name, penalty, fmt, intercept)
    r = np.random.default_rng(5)
    H = obj.hessian(w.copy())
    assert H.shape == (obj.n_params, obj.n_params)
    np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-15)
    assert np.linalg.eigvalsh(H).min() >= -1e-12
    diag = obj.hessian_diag(w.copy()) if hasattr(obj, "hessian_diag") else None
    if diag is not None:  # optional (a preconditioner); exact when offered
        np.testing.assert_allclose(diag, np.diag(H), rtol=1e-12, atol=1e-15)
    h = 1e-6
    for _ in range(2):
        v = r.normal(size=obj.n_params)
        Hv = obj.hessp(w.copy(), v.copy())
        fd = (obj.value_and_grad(w + h * v)[1] - obj.value_and_grad(w - h * v)[1]) / (2 * h)
        np.testing.assert_allclose(Hv, fd, rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(H @ v, Hv, rtol=1e-10, atol=1e-13)
    # The state is per point: a product at another point is not a stale one.
    w2 = w + 0.3
    v = r.normal(size=obj.n_params)
    obj.value_and_grad(w2)
    np.testing.assert_allclose(obj.hessp(w.copy(), v), H @ v, rtol=1e-10, atol=1e-13)
    H2 = obj.hessian(w2)
    np.testing.assert_allclose(obj.hessp(w2, v), H2 @ v, rtol=1e-10, atol=1e-13)


@formats
@intercepts
def test_entry_weights_of_the_multilabel_loss(fmt, intercept):
    """(n, k) weights (0 masks one label of one row): S counts rows, not entries."""
    obj, X, Y, _, w = build("multilabel", "elasticnet", fmt, intercept)
    r = np.random.default_rng(7)
    E = r.uniform(0.0, 2.0, size=Y.shape)
    E[:5, 0] = 0.0
    masked = LinearObjective(obj.loss, obj.X, Y, E, obj.k, C=C, penalty=obj.penalty,
                             fit_intercept=intercept)
    S = E.sum() / E.shape[1]
    P = w.reshape(masked.n_rows, masked.k)
    Z = X @ P[: masked.n_features] + (P[-1] if intercept else 0.0)
    W = P[: masked.n_features]
    expected = (obj.loss.value(Z, Y, E) + 0.5 * obj.penalty.l2 * (W**2).sum() / C) / S
    value, grad = masked.value_and_grad(w.copy())
    assert value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad, fd_grad(masked.value, w), rtol=1e-6, atol=1e-9)
    v = r.normal(size=w.size)
    np.testing.assert_allclose(masked.hessp(w, v), masked.hessian(w) @ v, rtol=1e-10,
                               atol=1e-13)


@loss_names
def test_many_blocks_and_threads_match_one_pass(loss_name, monkeypatch):
    """The fused row-block path (several blocks, several threads) equals the reference."""
    if not hasattr(objective_module, "BLOCK_BYTES"):
        pytest.skip("no row-block path")
    monkeypatch.setattr(objective_module, "BLOCK_BYTES", 1024)
    if hasattr(objective_module, "PARALLEL_MIN_WORK"):
        monkeypatch.setattr(objective_module, "PARALLEL_MIN_WORK", 0)
    for fmt in ("dense", "csr"):
        obj, X, Y, sw, w = build(loss_name, "l2", fmt, True, n=700, d=3)
        if getattr(obj.data, "_blocks", None) is not None:
            assert len(obj.data._blocks.bounds) > 1
        smooth_ref, _, _ = reference(obj, X, Y, sw, w)
        value, grad = obj.value_and_grad(w.copy())
        assert value == pytest.approx(smooth_ref, rel=1e-11)
        dense = LinearObjective(obj.loss, X, Y, sw, obj.k, C=C, penalty=obj.penalty)
        np.testing.assert_allclose(grad, dense.value_and_grad(w.copy())[1], rtol=1e-10,
                                   atol=1e-13)
        v = np.random.default_rng(1).normal(size=obj.n_params)
        np.testing.assert_allclose(obj.hessp(w, v), obj.hessian(w) @ v, rtol=1e-9,
                                   atol=1e-12)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_equals_dense(fmt):
    for loss_name in sorted(LOSSES):
        dense, *_ , w = build(loss_name, "elasticnet", "dense", True)
        sparse, *_ = build(loss_name, "elasticnet", fmt, True)
        vd, gd = dense.value_and_grad(w.copy())
        vs, gs = sparse.value_and_grad(w.copy())
        assert vs == pytest.approx(vd, rel=1e-13)
        np.testing.assert_allclose(gs, gd, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(sparse.hessian(w), dense.hessian(w), rtol=1e-12, atol=1e-14)


def test_float32_agrees_with_float64():
    for loss_name in sorted(LOSSES):
        o64, *_, w = build(loss_name, "l2", "dense", True, dtype=np.float64)
        o32, *_ = build(loss_name, "l2", "dense", True, dtype=np.float32)
        v64, g64 = o64.value_and_grad(w.copy())
        v32, g32 = o32.value_and_grad(w.copy())
        assert g32.dtype == np.float64  # the solvers always see float64 parameters
        assert v32 == pytest.approx(v64, rel=1e-5)
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-5)


def test_integer_weights_equal_row_repetition():
    obj, X, Y, _, w = build("multinomial", "l2", "dense", True, weights="ones")
    counts = np.arange(len(Y)) % 3  # 0, 1 or 2 copies of each row
    rep = np.repeat(np.arange(len(Y)), counts)
    weighted = LinearObjective(obj.loss, X, Y, counts.astype(float), obj.k, C=C,
                               penalty=obj.penalty)
    repeated = LinearObjective(obj.loss, X[rep], Y[rep], np.ones(len(rep)), obj.k, C=C,
                               penalty=obj.penalty)
    vw, gw = weighted.value_and_grad(w.copy())
    vr, gr = repeated.value_and_grad(w.copy())
    assert vw == pytest.approx(vr, rel=1e-13)
    np.testing.assert_allclose(gw, gr, rtol=1e-12, atol=1e-15)


def test_layout_and_unpack():
    obj, X, *_, w = build("multinomial", "l2", "dense", True, d=3)
    W, b = obj.unpack(w)
    assert W.shape == (3, 3) and b.shape == (3,)
    np.testing.assert_array_equal(W, w.reshape(4, 3)[:3])
    np.testing.assert_array_equal(b, w.reshape(4, 3)[3])
    np.testing.assert_allclose(obj.logits(w), X @ W + b, rtol=1e-14)
    no_b, *_ = build("multinomial", "l2", "dense", False, d=3)
    assert no_b.n_params == 9 and no_b.unpack(np.zeros(9))[1] is None
    assert obj.zeros().shape == (obj.n_params,) and not obj.zeros().any()


def test_prox_and_optimality():
    obj, *_, w = build("multinomial", "l1", "dense", True)
    step = 0.9
    out = obj.prox(w.copy(), step)
    P, Pin = out.reshape(obj.n_rows, obj.k), w.reshape(obj.n_rows, obj.k)
    np.testing.assert_array_equal(P[-1], Pin[-1])  # intercept never penalized
    thr = step * obj.alpha * obj.penalty.l1
    expected = np.sign(Pin[:-1]) * np.maximum(np.abs(Pin[:-1]) - thr, 0)
    np.testing.assert_allclose(P[:-1], expected, rtol=1e-15)
    # Optimality measure: min-norm subgradient of the full objective.
    g = obj.value_and_grad(w)[1]
    W = w.reshape(obj.n_rows, obj.k)[:-1]
    G = g.reshape(obj.n_rows, obj.k).copy()
    lam = obj.alpha * obj.penalty.l1
    G[:-1] = np.where(W != 0, G[:-1] + lam * np.sign(W),
                      np.sign(G[:-1]) * np.maximum(np.abs(G[:-1]) - lam, 0))
    assert obj.optimality(w, g) == pytest.approx(np.abs(G).max(), rel=1e-14)
    smooth, *_ = build("multinomial", "l2", "dense", True)
    assert smooth.prox(w, 1.0) is w
    assert smooth.optimality(w, g) == pytest.approx(np.abs(g).max())


def test_no_penalty_when_c_is_infinite_or_none():
    inf_c, *_, w = build("binomial", "l2", "dense", True, C=np.inf)
    none, *_ = build("binomial", "none", "dense", True)
    assert inf_c.alpha == 0 and none.alpha == 0
    assert inf_c.value(w) == pytest.approx(none.value(w), rel=1e-15)


def test_evaluation_counters():
    obj, *_, w = build()
    obj.value_and_grad(w)
    obj.value_and_grad(w)
    obj.value(w)
    obj.hessp(w, w)
    assert (obj.n_grad_evals, obj.n_value_evals, obj.n_hessp_evals) == (2, 1, 1)


def test_zero_total_weight_is_an_error():
    with pytest.raises(ValueError, match="sample weights sum to zero"):
        LinearObjective(LOSSES["binomial"], np.ones((3, 2)), np.array([0.0, 1, 0]),
                        np.zeros(3), 1, C=1.0, penalty=make_penalty("l2"))


def pairwise_hessian(obj, X, Y, sw, w):
    """Independent Hessian: every output pair from the loss's row-major weights."""
    P = w.reshape(obj.n_rows, obj.k)
    Z = X @ P[: obj.n_features] + (P[obj.n_features] if obj.fit_intercept else 0.0)
    state = obj.loss.hessian_state(Z, Y, sw)
    Xt = np.hstack([X, np.ones((len(X), 1))]) if obj.fit_intercept else X
    D, k = obj.n_rows, obj.k
    H = np.zeros((D, k, D, k))
    for a in range(k):
        for c in range(k):
            h = obj.loss.hessian_weights(state, min(a, c), max(a, c))
            if h is not None:
                H[:, a, :, c] = Xt.T @ (Xt * np.asarray(h)[:, None])
    H = H.reshape(D * k, D * k) / sw.sum()
    idx = np.arange(obj.n_features * k)
    H[idx, idx] += obj.alpha * obj.penalty.l2
    return H


@loss_names
@pytest.mark.parametrize("fmt", ["dense", "csr"])
@intercepts
@pytest.mark.parametrize("many_blocks", [False, True])
def test_structured_hessian_equals_pairwise(loss_name, fmt, intercept, many_blocks,
                                            monkeypatch):
    """The structured Hessian (diagonal blocks; softmax Gram minus B^T B) equals the
    pair-by-pair one, over one or many row blocks; hessian_blocks are its diagonal
    blocks and, for losses with diagonal_hessian, everything else is zero."""
    if many_blocks:
        monkeypatch.setattr(objective_module, "BLOCK_BYTES", 1024)
        monkeypatch.setattr(objective_module, "_SOFTMAX_ROWS", 7)
    obj, X, Y, sw, w = build(loss_name, "elasticnet", fmt, intercept, n=300, d=4)
    if many_blocks:
        assert len(obj.data._blocks.bounds) > 1
    H = obj.hessian(w.copy())
    expected = pairwise_hessian(obj, X, Y, sw, w)
    np.testing.assert_allclose(H, expected, rtol=1e-11, atol=1e-13)
    blocks = obj.hessian_blocks(w.copy())
    if not obj.loss.diagonal_hessian:
        assert blocks is None
        return
    D, k = obj.n_rows, obj.k
    assert blocks.shape == (k, D, D)
    H4 = expected.reshape(D, k, D, k)
    for a in range(k):
        np.testing.assert_allclose(blocks[a], H4[:, a, :, a], rtol=1e-11, atol=1e-13)
        for c in range(k):
            if c != a:
                assert not H4[:, a, :, c].any()


# -- dense partition path (loss = a(z) + d(y).z; linear part summed once) -----------------------
@loss_names
@pytest.mark.parametrize("weights", ["ones", "random"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("compiled", [False, True])
def test_partition_path_equals_per_entry_kernels(loss_name, weights, dtype, compiled, monkeypatch):
    """Several blocks on two workers: value, gradient, loss-only value and Newton state
    of the partition path equal the per-entry kernels (which see the targets).
    ``compiled``: the losses' compiled partition passes (numba) at any size."""
    monkeypatch.setattr(objective_module, "COMPILED_MIN_LOGITS", 0 if compiled else 1 << 62)
    monkeypatch.setattr(objective_module, "BLOCK_BYTES", 1024)
    monkeypatch.setattr(objective_module, "PARALLEL_MIN_WORK", 0)
    obj, X, Y, sw, w = build(loss_name, "l2", "dense", True, n=700, d=3, dtype=dtype,
                             weights=weights)
    if not obj.data._partition:
        pytest.skip("this loss has no partition kernel")
    assert obj.data._unit_weights == (weights == "ones")
    assert len(obj.data._blocks.bounds) > 1
    W, b = obj.unpack(w)
    exp_value, exp_grad = obj.data._fused_targets(W, b, None)
    value, grad = obj.data._fused_value_and_grad(w, None)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    assert value == pytest.approx(exp_value, rel=tol)
    np.testing.assert_allclose(grad, exp_grad, rtol=tol, atol=tol * np.abs(exp_grad).max())
    assert obj.data._loss_sum(w) == pytest.approx(exp_value, rel=tol)
    St_ref = np.empty((obj.k, obj.n_samples), dtype=dtype)
    obj.data._fused_targets(W, b, St_ref)
    St = np.empty_like(St_ref)
    obj.data._fused_value_and_grad(w, St)
    np.testing.assert_allclose(St, St_ref, rtol=tol, atol=1e-30)
    smooth_ref, _, _ = reference(obj, X, Y, sw, w)
    assert obj.value_and_grad(w)[0] == pytest.approx(smooth_ref, rel=1e-11 if tol < 1e-9 else 1e-5)


@pytest.mark.parametrize("loss_name", ["multilabel", "multinomial", "binomial"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rowmajor_blocks_only_for_unit_weights_where_they_pay(loss_name, dtype, monkeypatch):
    """(b, k) blocks serve problems of k > 1 outputs with unit weights: float32 (the
    faster sgemm layout), and float64 multi-label where the products run in row
    slices (blocks.slice_rows; its elementwise pass needs no copy into (k, b)); value,
    gradient, loss-only value and Newton state equal the (k, b) layout's."""
    monkeypatch.setattr(objective_module, "COMPILED_MIN_LOGITS", 0)
    monkeypatch.setattr(objective_module, "BLOCK_BYTES", 2048)
    for weights in ("random", "ones"):
        obj, _, _, _, w = build(loss_name, "l2", "dense", True, n=500, d=4, dtype=dtype,
                                weights=weights)
        sliced = obj.data.products.slice > 0  # where NumPy's BLAS has small kernels
        expected = weights == "ones" and loss_name != "binomial" and (
            dtype == np.float32 or (loss_name == "multilabel" and sliced))
        assert obj.data._rowmajor == expected
    if not expected:
        return
    assert obj.data._value_targets().flags.f_contiguous
    value, grad = obj.value_and_grad(w.copy())
    plain = build(loss_name, "l2", "dense", True, n=500, d=4, dtype=dtype, weights="ones")[0]
    plain.data._rowmajor, plain.data._vt = False, None
    value_c, grad_c = plain.value_and_grad(w.copy())
    assert value == pytest.approx(value_c, rel=1e-6)
    np.testing.assert_allclose(grad, grad_c, rtol=1e-5, atol=1e-5 * np.abs(grad_c).max())
    assert obj.value(w.copy()) == pytest.approx(plain.value(w.copy()), rel=1e-6)
    St, St_c = (np.empty((obj.k, obj.n_samples), dtype=dtype) for _ in range(2))
    obj.data._fused_value_and_grad(w.copy(), St)
    plain.data._fused_value_and_grad(w.copy(), St_c)
    np.testing.assert_allclose(St, St_c, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("loss_name", ["multilabel", "multinomial"])
def test_rowmajor_blocks_huge_logits_finite(loss_name, monkeypatch):
    """float32 (b, k) blocks with logits near the float32 range (+-1e38, right and wrong
    labels, intercepts): finite, silent, and equal to the float64 evaluation."""
    monkeypatch.setattr(objective_module, "COMPILED_MIN_LOGITS", 0)
    X = np.array([[1.0, 0.5], [1.0, -2.0], [-1.0, 0.0], [-1.0, 1.0], [0.5, 0.5]]) * 1e30
    if loss_name == "multilabel":
        loss, k = LOSSES["multilabel"], 3
        Y = np.array([[1, 0, 1], [1, 1, 0], [0, 0, 1], [0, 1, 1], [1, 0, 0]], dtype=float)
    else:
        loss, k = LOSSES["multinomial"], 3
        Y = np.array([0, 1, 2, 0, 1])
    w = np.array([1e8, -3e7, 2e7, 1e8, 0.0, -1e8, 0.5, -2.0, 1.0])  # (d + 1) x k
    values = []
    for dtype in (np.float32, np.float64):
        obj = LinearObjective(loss, X.astype(dtype), Y, np.ones(5), k, C=np.inf,
                              penalty=make_penalty("none"), fit_intercept=True)
        # float64 multi-label blocks are rows too where the products are sliced.
        assert obj.data._rowmajor == (dtype == np.float32 or (
            loss_name == "multilabel" and obj.data.products.slice > 0))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            value, grad = obj.value_and_grad(w.copy())
            assert obj.value(w.copy()) == pytest.approx(value, rel=1e-6)
        assert np.isfinite(value) and np.all(np.isfinite(grad))
        values.append((value, grad))
    assert values[0][0] == pytest.approx(values[1][0], rel=1e-5)
    np.testing.assert_allclose(values[0][1], values[1][1], rtol=1e-5,
                               atol=1e-5 * np.abs(values[1][1]).max())


def test_partition_path_without_intercept_matches_reference():
    for loss_name in sorted(LOSSES):
        obj, X, Y, sw, w = build(loss_name, "l2", "dense", False, n=60)
        smooth_ref, _, _ = reference(obj, X, Y, sw, w)
        value, grad = obj.value_and_grad(w.copy())
        assert value == pytest.approx(smooth_ref, rel=1e-12)
        np.testing.assert_allclose(grad, fd_grad(obj.value, w), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss_name", ["binomial", "multilabel"])
def test_partition_path_falls_back_when_its_parts_overflow(loss_name):
    """Huge logits of the right sign: each loss is ~0 but its two parts (|z|/2 and
    -(y - 1/2) z) overflow when summed separately; the value stays finite."""
    loss = LOSSES[loss_name]
    X = np.array([[1.5e308], [1.5e308], [-1.5e308], [-1.5e308]])
    y = np.array([1.0, 1.0, 0.0, 0.0])
    Y = y if loss_name == "binomial" else y[:, None]
    obj = LinearObjective(loss, X, Y, np.ones(4), 1, C=np.inf, penalty=make_penalty("none"),
                          fit_intercept=True)
    assert obj.data._partition
    w = np.array([1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # silent as well as finite
        value, grad = obj.value_and_grad(w)
        loss_only = obj.value(w)
    assert value == pytest.approx(0.0, abs=1e-300)
    assert loss_only == pytest.approx(0.0, abs=1e-300)
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("loss_name", ["binomial", "multilabel"])
def test_float32_hessian_blocks_match_float64(loss_name):
    """A float32 objective's diagonal Hessian blocks (built from float32 products)
    agree with the float64 ones to float32 rounding, and come back in float64."""
    obj64, *_, w = build(loss_name, "l2", n=300, d=5)
    obj32, *_ = build(loss_name, "l2", n=300, d=5, dtype=np.float32)
    B64, B32 = obj64.hessian_blocks(w), obj32.hessian_blocks(w)
    assert B32.dtype == np.float64
    np.testing.assert_allclose(B32, B64, rtol=2e-5, atol=1e-6 * np.abs(B64).max())


@pytest.mark.parametrize("loss_name", ["binomial", "multilabel", "multinomial"])
def test_tracked_second_order_state_saves_the_extra_pass(loss_name, monkeypatch):
    """After track_second_order(), the evaluation at w leaves the Hessian state:
    hessian(w) makes no pass of its own, and equals the untracked Hessian."""
    ref, *_, w = build(loss_name, "l2")
    H_ref = ref.hessian(w.copy())
    obj, *_ = build(loss_name, "l2")
    obj.track_second_order()
    obj.value_and_grad(w.copy())
    passes = []
    real = NumpyData._fused_value_and_grad
    monkeypatch.setattr(NumpyData, "_fused_value_and_grad",
                        lambda self, *a: passes.append(1) or real(self, *a))
    H = obj.hessian(w.copy())
    assert passes == []
    np.testing.assert_allclose(H, H_ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss_name", ["multinomial", "multilabel"])
def test_compiled_partition_passes_only_for_large_problems(loss_name, monkeypatch):
    """The objective decides from n * k whether the losses' compiled passes (numba)
    run; below COMPILED_MIN_LOGITS they are never called."""
    calls = []
    for name in ("_softmax_kernel", "_binomial_kernel", "_partition_kernels"):
        kernel = getattr(losses_module, name)

        def spy(kernel=kernel):
            calls.append(1)
            return kernel()

        monkeypatch.setattr(losses_module, name, spy)
    obj, *_, w = build(loss_name, "l2", "dense", True, n=300, d=3, dtype=np.float32,
                       weights="ones")
    assert obj.n_samples * obj.k < objective_module.COMPILED_MIN_LOGITS
    assert not obj.data._compiled
    obj.value_and_grad(w)
    assert not calls
    monkeypatch.setattr(objective_module, "COMPILED_MIN_LOGITS", obj.n_samples * obj.k)
    obj, *_, w = build(loss_name, "l2", "dense", True, n=300, d=3, dtype=np.float32,
                       weights="ones")
    assert obj.data._compiled
    calls.clear()
    obj.value_and_grad(w)
    assert calls


@pytest.mark.parametrize("loss_name", ["binomial", "multinomial", "multilabel"])
def test_float32_linear_part_matches_float64(loss_name, monkeypatch):
    # float32 products of LINEAR_F32_ROWS rows, summed in float64: close to
    # the float64 sum at the float32 rounding of X, over many such products.
    n = 5 * objective_module.LINEAR_F32_ROWS + 123
    o64, X, Y, sw, _ = build(loss_name, "l2", "dense", True, n=n, d=6, dtype=np.float64)
    monkeypatch.setattr(objective_module, "LINEAR_F32_MIN_WORK", 0)  # the large-X path
    o32 = LinearObjective(o64.loss, X.astype(np.float32), Y, sw, o64.k, C=C,
                          penalty=o64.penalty)
    if not o32.data._partition:
        pytest.skip("no partition path for this loss")
    o64x = LinearObjective(o64.loss, X.astype(np.float32).astype(np.float64), Y, sw, o64.k,
                           C=C, penalty=o64.penalty)
    (B32, b32), (B64, b64) = o32.data._linear_part(), o64x.data._linear_part()
    assert B32.dtype == np.float64
    np.testing.assert_allclose(B32, B64, rtol=1e-5, atol=1e-6 * np.abs(B64).max())
    np.testing.assert_allclose(b32, b64, rtol=1e-6)  # float32 weights: rounded once


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss_name", ["binomial", "multilabel", "multinomial"])
@pytest.mark.parametrize("weights", ["random", "ones"])
def test_value_and_grad_at_zero_skips_the_pass_only_where_it_is_exact(
        loss_name, dtype, weights, monkeypatch):
    obj, *_ = build(loss_name, "l2", "dense", True, n=40, d=3, dtype=dtype, weights=weights)
    zero = obj.zeros()
    ref_value, ref_grad = obj.data._fused_value_and_grad(zero, None)
    passes = []
    fused = obj.data._fused
    monkeypatch.setattr(obj.data, "_fused", lambda *a, **k: passes.append(1) or fused(*a, **k))
    value, grad = obj.value_and_grad(zero)
    # binomial / multi-label: tanh(0) = 0, no pass; the softmax's gradient at 0 needs one.
    assert bool(passes) == (loss_name == "multinomial")
    assert value == pytest.approx(ref_value * obj.scale, rel=1e-14)
    np.testing.assert_allclose(grad, ref_grad.ravel() * obj.scale + 0.0, rtol=1e-14, atol=0)
    passes.clear()
    obj.value_and_grad(np.full_like(zero, 1e-3))  # anywhere else: the pass
    assert passes
