"""Every loss in LOSSES: derivatives by finite differences, the block kernels against
the row-major methods, the K=2 and reference identities, stability on huge logits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigmax.losses import LOSSES, BinomialLoss, MultilabelLoss, MultinomialLoss
from sigmax.losses import _compiled as losses_module

N_CLASSES = 4


def make_problem(loss, n=12, seed=0, scale=2.0, entry_weights=False, dtype=np.float64):
    """Random logits, targets encoded for ``loss`` and positive weights."""
    r = np.random.default_rng(seed)
    k = loss.n_outputs(N_CLASSES)
    Z = (scale * r.normal(size=(n, k))).astype(dtype)
    w = r.uniform(0.5, 2.0, size=n)
    if isinstance(loss, MultinomialLoss):
        Y = r.integers(0, N_CLASSES, size=n).astype(np.intp)
    elif isinstance(loss, MultilabelLoss):
        Y = r.integers(0, 2, size=(n, k)).astype(dtype)
        if entry_weights:
            w = r.uniform(0.0, 2.0, size=(n, k))
            w[0, 0] = 0.0
    elif isinstance(loss, BinomialLoss):
        Y = r.integers(0, 2, size=n).astype(dtype)
    else:  # pragma: no cover - forces a data maker for every new loss
        pytest.fail(f"no test data maker for loss {type(loss).__name__}; add one here")
    return Z, Y, w.astype(dtype)


def per_row_loss(loss, Z, Y):
    """Unweighted per-row loss from the textbook formula on a safe range (independent code)."""
    if isinstance(loss, MultinomialLoss):
        Zf = np.column_stack([np.zeros(len(Z)), Z]) if loss.reference else Z
        lse = np.log(np.exp(Zf).sum(axis=1))
        return lse - Zf[np.arange(len(Y)), Y]
    p = 1 / (1 + np.exp(-Z))
    Yk = Y.reshape(len(Z), -1)
    return -(Yk * np.log(p) + (1 - Yk) * np.log(1 - p))


losses = pytest.mark.parametrize("name", sorted(LOSSES))


@losses
def test_value_matches_textbook_formula(name):
    loss = LOSSES[name]
    Z, Y, w = make_problem(loss)
    rows = per_row_loss(loss, Z, Y)
    expected = float(np.sum(w * rows.sum(axis=1))) if rows.ndim == 2 else float(w @ rows)
    value, G = loss.value_and_grad(Z.copy(), Y, w)
    assert value == pytest.approx(expected, rel=1e-12)
    assert loss.value(Z.copy(), Y, w) == pytest.approx(expected, rel=1e-12)
    assert G.shape == Z.shape


@losses
@pytest.mark.parametrize("entry_weights", [False, True])
def test_gradient_matches_finite_differences(name, entry_weights):
    loss = LOSSES[name]
    if entry_weights and not isinstance(loss, MultilabelLoss):
        pytest.skip("entry weights are for the multilabel loss only")
    Z, Y, w = make_problem(loss, entry_weights=entry_weights)
    _, G = loss.value_and_grad(Z.copy(), Y, w)
    h = 1e-6
    num = np.empty_like(Z)
    for idx in np.ndindex(*Z.shape):
        E = np.zeros_like(Z)
        E[idx] = h
        num[idx] = (loss.value(Z + E, Y, w) - loss.value(Z - E, Y, w)) / (2 * h)
    np.testing.assert_allclose(G, num, rtol=1e-6, atol=1e-8)


@losses
def test_hessp_matches_finite_differences_of_gradient(name):
    loss = LOSSES[name]
    Z, Y, w = make_problem(loss)
    r = np.random.default_rng(1)
    h = 1e-6
    state = loss.hessian_state(Z.copy(), Y, w)
    for _ in range(3):
        V = r.normal(size=Z.shape)
        Gp = loss.value_and_grad(Z + h * V, Y, w)[1]
        Gm = loss.value_and_grad(Z - h * V, Y, w)[1]
        np.testing.assert_allclose(loss.hessp(state, V.copy()), (Gp - Gm) / (2 * h),
                                   rtol=1e-6, atol=1e-8)


@losses
def test_hessian_weights_are_the_blocks_of_hessp(name):
    loss = LOSSES[name]
    Z, Y, w = make_problem(loss)
    state = loss.hessian_state(Z.copy(), Y, w)
    k = Z.shape[1]
    for b in range(k):
        V = np.zeros_like(Z)
        V[:, b] = 1.0
        HV = loss.hessp(state, V)
        for a in range(k):
            hw = loss.hessian_weights(state, a, b)
            expected = HV[:, a]
            if hw is None:
                np.testing.assert_array_equal(expected, 0)
            else:
                np.testing.assert_allclose(hw, expected, rtol=1e-12, atol=1e-15)
                hw_ba = loss.hessian_weights(state, b, a)
                np.testing.assert_allclose(hw, hw_ba, rtol=1e-12)  # symmetric


@losses
def test_hessian_is_positive_semidefinite(name):
    loss = LOSSES[name]
    Z, Y, w = make_problem(loss)
    state = loss.hessian_state(Z.copy(), Y, w)
    r = np.random.default_rng(2)
    for _ in range(5):
        V = r.normal(size=Z.shape)
        assert float(np.vdot(V, loss.hessp(state, V.copy()))) >= -1e-12


@losses
@pytest.mark.parametrize("scale", [2.0, 1e4])
def test_block_kernels_match_row_major_methods(name, scale):
    loss = LOSSES[name]
    if not hasattr(loss, "value_grad_t"):
        pytest.skip("no block kernels")
    Z, Y, w = make_problem(loss, scale=scale,
                           entry_weights=isinstance(loss, MultilabelLoss))
    value, G = loss.value_and_grad(Z.copy(), Y, w)
    Zt = Z.T.copy()  # C-contiguous (k, n), never a view of Z
    St = np.empty_like(Zt)
    assert loss.value_grad_t(Zt, Y, w, St) == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(Zt.T, G, rtol=1e-12, atol=1e-15)
    state = loss.hessian_state(Z.copy(), Y, w)
    V = np.random.default_rng(3).normal(size=Z.shape)
    Vt = V.T.copy()
    loss.hessp_t(St, Y, w, Vt)
    np.testing.assert_allclose(Vt.T, loss.hessp(state, V.copy()), rtol=1e-12, atol=1e-15)
    for a in range(Z.shape[1]):
        for b in range(Z.shape[1]):
            row = loss.hessian_weights(state, a, b)
            blk = loss.hessian_weights_t(St, Y, w, a, b)
            if row is None:
                assert blk is None or not np.any(blk)
            else:
                np.testing.assert_allclose(blk, row, rtol=1e-12, atol=1e-15)


@losses
def test_weights_are_linear_and_zero_weight_rows_do_not_count(name):
    loss = LOSSES[name]
    Z, Y, w = make_problem(loss)
    v1, G1 = loss.value_and_grad(Z.copy(), Y, w)
    v3, G3 = loss.value_and_grad(Z.copy(), Y, 3 * w)
    assert v3 == pytest.approx(3 * v1, rel=1e-12)
    np.testing.assert_allclose(G3, 3 * G1, rtol=1e-12)
    w0 = w.copy()
    w0[:4] = 0
    Z2 = Z.copy()
    Z2[:4] = 50 * np.sign(Z2[:4]) + 7  # garbage in the zero-weight rows changes nothing
    v_a, G_a = loss.value_and_grad(Z.copy(), Y, w0)
    v_b, G_b = loss.value_and_grad(Z2, Y, w0)
    assert v_a == pytest.approx(v_b, rel=1e-12)
    np.testing.assert_array_equal(G_b[:4], 0)
    np.testing.assert_allclose(G_a[4:], G_b[4:], rtol=1e-12)


@losses
def test_probabilities(name):
    loss = LOSSES[name]
    Z, _, _ = make_problem(loss)
    P = loss.predict_proba(Z.copy())
    assert np.all((P >= 0) & (P <= 1))
    np.testing.assert_allclose(loss.predict_log_proba(Z.copy()), np.log(P), rtol=1e-12)
    if isinstance(loss, MultinomialLoss):
        assert P.shape == (len(Z), N_CLASSES)
        np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-14)


@losses
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [1e4, 1e8, 1e30])
def test_huge_logits_are_finite_and_silent(name, dtype, scale):
    loss = LOSSES[name]
    Z, Y, w = make_problem(loss, dtype=dtype)
    Z = (np.sign(Z) * scale).astype(dtype)
    Z[0] = scale  # a whole row at the same huge logit
    # Numpy's default ignores underflow (exp of a very negative number is 0,
    # the right answer); overflow, invalid and divide-by-zero must not happen.
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise",
                                                divide="raise"):
        warnings.simplefilter("error")
        value, G = loss.value_and_grad(Z.copy(), Y, w)
        state = loss.hessian_state(Z.copy(), Y, w)
        HV = loss.hessp(state, np.ones_like(Z))
        P = loss.predict_proba(Z.copy())
        LP = loss.predict_log_proba(Z.copy())
    assert np.isfinite(value) and value >= 0
    for arr in (G, HV, P, LP):
        assert np.all(np.isfinite(arr))
    assert G.dtype == dtype
    # Each row's gradient is bounded by its weight (|p - y| <= 1 per output).
    assert np.all(np.abs(G) <= 2 * np.abs(w).reshape(len(Z), -1) + 1e-6)


def test_binomial_loss_known_values():
    loss = LOSSES["binomial"]
    Z = np.zeros((5, 1))
    Y = np.array([0.0, 1, 0, 1, 1])
    value, G = loss.value_and_grad(Z, Y, np.ones(5))
    assert value == pytest.approx(5 * np.log(2), rel=1e-15)
    np.testing.assert_allclose(G[:, 0], 0.5 - Y)
    # A confident right answer costs ~e^{-|z|}, a confident wrong one ~|z|.
    v_right = loss.value(np.array([[40.0]]), np.array([1.0]), np.ones(1))
    v_wrong = loss.value(np.array([[40.0]]), np.array([0.0]), np.ones(1))
    assert v_right == pytest.approx(np.exp(-40), rel=1e-12)
    assert v_wrong == pytest.approx(40, rel=1e-15)


def test_k2_softmax_equals_binomial_on_logit_difference(rng):
    """softmax(z0, z1)[1] = sigma(z1 - z0): the identity behind K=2 equivalence."""
    Z2 = 3 * rng.normal(size=(30, 2))
    y = rng.integers(0, 2, size=30)
    w = rng.uniform(0.5, 2, size=30)
    multi, bino = LOSSES["multinomial"], LOSSES["binomial"]
    z = (Z2[:, 1] - Z2[:, 0])[:, None]
    v_m, G_m = multi.value_and_grad(Z2.copy(), y.astype(np.intp), w)
    v_b, G_b = bino.value_and_grad(z.copy(), y.astype(float), w)
    assert v_m == pytest.approx(v_b, rel=1e-12)
    np.testing.assert_allclose(G_m[:, 1], G_b[:, 0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(G_m[:, 0], -G_b[:, 0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(multi.predict_proba(Z2)[:, 1], bino.predict_proba(z)[:, 0],
                               rtol=1e-12)


def test_reference_parameterization_is_symmetric_with_zero_first_logit(rng):
    Z = 2 * rng.normal(size=(20, 3))
    y = rng.integers(0, 4, size=20).astype(np.intp)
    w = rng.uniform(0.5, 2, size=20)
    ref, sym = LOSSES["multinomial_reference"], LOSSES["multinomial"]
    Zf = np.column_stack([np.zeros(20), Z])
    v_r, G_r = ref.value_and_grad(Z.copy(), y, w)
    v_s, G_s = sym.value_and_grad(Zf.copy(), y, w)
    assert v_r == pytest.approx(v_s, rel=1e-13)
    np.testing.assert_allclose(G_r, G_s[:, 1:], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ref.predict_proba(Z), sym.predict_proba(Zf), rtol=1e-13)


def test_multinomial_gradient_rows_sum_to_zero_and_hessian_null_vector(rng):
    """The flat direction of the symmetric softmax: the all-ones vector per row."""
    loss = LOSSES["multinomial"]
    Z, Y, w = make_problem(loss)
    _, G = loss.value_and_grad(Z.copy(), Y, w)
    np.testing.assert_allclose(G.sum(axis=1), 0, atol=1e-14)
    state = loss.hessian_state(Z.copy(), Y, w)
    np.testing.assert_allclose(loss.hessp(state, np.ones_like(Z)), 0, atol=1e-14)


def test_multilabel_is_a_sum_of_binomials_and_entry_weight_masks(rng):
    ml, bino = LOSSES["multilabel"], LOSSES["binomial"]
    Z, Y, W = make_problem(ml, entry_weights=True)
    total = sum(bino.value(Z[:, [j]].copy(), Y[:, j], W[:, j]) for j in range(Z.shape[1]))
    assert ml.value(Z.copy(), Y, W) == pytest.approx(total, rel=1e-12)
    _, G = ml.value_and_grad(Z.copy(), Y, W)
    assert G[0, 0] == 0  # masked entry


@given(st.floats(-1e4, 1e4, allow_nan=False),
       st.integers(0, 2**32 - 1))
def test_softmax_loss_is_shift_invariant(c, seed):
    loss = LOSSES["multinomial"]
    Z, Y, w = make_problem(loss, seed=seed, scale=5.0)
    v, G = loss.value_and_grad(Z.copy(), Y, w)
    vc, Gc = loss.value_and_grad(Z + c, Y, w)
    assert vc == pytest.approx(v, rel=1e-9, abs=1e-9 * (1 + abs(c)))
    np.testing.assert_allclose(Gc, G, atol=1e-9 * (1 + abs(c)))


# -- partition kernels (loss = a(z) + d(y).z, the dense objective's fast path) -----------------
partitioned = pytest.mark.parametrize(
    "name", sorted(n for n, loss in LOSSES.items() if loss.partition_scale is not None))


def partition_parts(loss, Z, Y, w, with_state=True, targets=True):
    """Value, full gradient (n, k) and state from the partition kernel plus the
    constant gradient of the linear part (what LinearObjective assembles)."""
    s = loss.partition_scale
    k = Z.shape[1]
    Ut = (Z.T * Z.dtype.type(s)).copy()
    St = np.empty_like(Ut) if with_state else None
    value, G = loss.partition_t(Ut, w, St, None,
                                loss.value_targets(Y, k) if targets else None)
    D = loss.linear_targets_t(Y, k)
    wt = np.ones(len(Z)) if w is None else (w.T if w.ndim == 2 else w)
    wt = np.asarray(wt, dtype=np.float64)
    G = G.T.astype(np.float64) * s + (wt * D).T
    return value, G, St


@partitioned
@pytest.mark.parametrize("scale", [2.0, 1e4])
@pytest.mark.parametrize("weights", ["row", "entry", "unit"])
def test_partition_kernel_matches_value_grad_t(name, scale, weights):
    loss = LOSSES[name]
    if weights == "entry" and not isinstance(loss, MultilabelLoss):
        pytest.skip("entry weights are for the multilabel loss only")
    Z, Y, w = make_problem(loss, n=50, scale=scale, entry_weights=weights == "entry")
    if weights == "unit":
        w = np.ones(len(Z))
    Zt, St_ref = Z.T.copy(), np.empty((Z.shape[1], len(Z)))
    expected = loss.value_grad_t(Zt, Y, w, St_ref)
    value, G, St = partition_parts(loss, Z, Y, None if weights == "unit" else w)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(G, Zt.T, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(St, St_ref, rtol=1e-12, atol=1e-300)
    # Without targets: the log-partition sum, i.e. the loss minus its linear part.
    a_sum, G2, _ = partition_parts(loss, Z, Y, None if weights == "unit" else w,
                                   targets=False)
    wt = w.T if w.ndim == 2 else w
    linear = float(np.sum(wt * loss.linear_targets_t(Y, Z.shape[1]) * Z.T))
    assert a_sum + linear == pytest.approx(expected, rel=1e-9, abs=1e-9)
    np.testing.assert_array_equal(G2, G)


@pytest.mark.parametrize("name", ["binomial", "multilabel"])
def test_partition_value_is_exact_for_confident_right_answers(name):
    """Entries with large logits of the right sign: the loss is exp(-|z|), tiny,
    and the value keeps it (the parts |z|/2 and (1/2 - y) z cancel entry by entry)."""
    loss = LOSSES[name]
    z = np.array([30.0, -30.0, 40.0, -45.0, 0.5])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    Z, Y = z[:, None], (y if name == "binomial" else y[:, None])
    expected = float(np.sum(np.log1p(np.exp(-np.abs(z)))))
    for targets in ("int8", "float"):
        T = loss.value_targets(Y, 1)
        if targets == "float":
            T = T.astype(np.float64)
        value, _ = loss.partition_t((Z.T * 0.5).copy(), None, None, None, T)
        assert value == pytest.approx(expected, rel=1e-14)


@partitioned
def test_partition_unit_weights_equal_explicit_ones(name):
    """``weights=None`` (the objective's unit-weight fast path) equals weights of one."""
    loss = LOSSES[name]
    Z, Y, _ = make_problem(loss, n=300)  # more than one product group of _sum_log
    v1, G1, S1 = partition_parts(loss, Z, Y, None)
    v2, G2, S2 = partition_parts(loss, Z, Y, np.ones(len(Z)))
    assert v1 == pytest.approx(v2, rel=1e-13)
    np.testing.assert_allclose(G1, G2, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(S1, S2)


@partitioned
@pytest.mark.parametrize("weights", ["unit", "row"])
def test_partition_kernel_float32(name, weights):
    loss = LOSSES[name]
    Z, Y, w = make_problem(loss, n=200, dtype=np.float32)
    w = None if weights == "unit" else w
    v32, G32, S32 = partition_parts(loss, Z, Y, w)
    v64, G64, S64 = partition_parts(loss, Z.astype(np.float64), Y,
                                    None if w is None else w.astype(np.float64))
    assert S32.dtype == np.float32
    assert v32 == pytest.approx(v64, rel=1e-6)
    np.testing.assert_allclose(G32, G64, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(S32, S64, rtol=1e-5, atol=1e-7)


@partitioned
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_partition_kernel_extreme_logits_finite_and_silent(name, dtype):
    loss = LOSSES[name]
    big = np.finfo(dtype).max / 256  # the sum of the 18 k huge terms stays representable
    k = loss.n_outputs(N_CLASSES)
    row = np.array([big, -big, 0.0, 1e-30, -1e4, 1e4, 40.0], dtype=dtype)
    Ut = np.resize(row, (k, 7 * 9)).astype(dtype)  # 63 columns: groups and a tail
    Zt = Ut / dtype(loss.partition_scale)
    St = np.empty_like(Ut)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = np.zeros(Ut.shape[1], dtype=dtype)
        w[2:5] = 1.0  # the moderate columns only: their sum is representable
        n = Ut.shape[1]
        labels = np.arange(n) % (N_CLASSES if isinstance(loss, MultinomialLoss) else 2)
        if isinstance(loss, MultilabelLoss):
            labels = np.tile(labels[:, None], (1, k)).astype(float)
        T = loss.value_targets(labels, k)
        value = loss.partition_t(Ut.copy(), w, St.copy(), None, T)[0]
        value_all, out = loss.partition_t(Ut.copy(), None, St, None, T)
    assert np.isfinite(value) and np.all(np.isfinite(out)) and np.all(np.isfinite(St))
    assert np.all(St >= 0)
    assert np.isfinite(value_all)
    if isinstance(loss, MultinomialLoss):  # probabilities (of the k free classes)
        assert np.all(out >= 0) and np.all(out.sum(axis=0) <= 1 + 1e-6)
    else:  # tanh(u) in [-1, 1]; one term per entry of the huge ones is about |z| / 2
        assert np.all(np.abs(out) <= 1)
        assert value_all >= 0.5 * float(np.abs(Zt.astype(np.float64)).max())


# -- the compiled pass of the binomial partition kernel (numba, large blocks) --------------------
@pytest.fixture(params=["numpy", "compiled"])
def binomial_path(request):
    """``compiled`` argument of the partition kernel: NumPy only, or with its compiled pass."""
    if request.param == "compiled" and losses_module._binomial_kernel() is None:
        pytest.skip("numba is not installed")  # pragma: no cover - numba is a dependency
    return request.param == "compiled"


def binomial_block(k, b, dtype, seed=0):
    """Scaled logits ``(k, b)`` with extreme entries, 0/1 labels ``(b, k)`` and the
    targets ``(k, b + 5)`` whose columns 3:3+b are the strided slice the objective passes."""
    r = np.random.default_rng(seed)
    U = (4 * r.normal(size=(k, b))).astype(dtype)
    special = np.array([0.0, 1e-30, -1e-30, 40.0, -40.0, 1e4, -1e4, 0.5], dtype=dtype)
    flat = U.reshape(-1)
    flat[: min(flat.size, special.size)] = special[: flat.size]
    Y = r.integers(0, 2, size=(b, k)).astype(np.float64)
    loss = LOSSES["multilabel"]
    wide = loss.value_targets(np.vstack([Y[:3], Y, Y[:2]]), k)  # (k, b + 5)
    return U, Y, wide


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 5), (3, 40), (4, 25), (7, 33), (20, 937), (33, 65)])
@pytest.mark.parametrize("targets", ["int8", "float"])
def test_binomial_compiled_pass_equals_numpy_and_per_entry_kernel(dtype, shape, targets,
                                                                 monkeypatch):
    """Same value (float64 sums, another order) and the same gradient block as the NumPy
    passes, and the per-entry kernel's loss; shapes with odd product groups and tails."""
    loss = LOSSES["multilabel"]
    U, Y, wide = binomial_block(*shape, dtype)
    if targets == "float":
        wide = wide.astype(np.float64)
    T = wide[:, 3:3 + shape[1]]
    assert not T.flags.c_contiguous or shape[0] == 1
    calls = []
    kernel, kernels = losses_module._binomial_kernel(), losses_module._partition_kernels()

    def spy(result):
        def get():
            calls.append(1)
            return result
        return get

    monkeypatch.setattr(losses_module, "_binomial_kernel", spy(kernel))
    monkeypatch.setattr(losses_module, "_partition_kernels", spy(kernels))
    v_np, G_np = loss.partition_t(U.copy(), None, None, None, T)
    assert not calls, "the compiled pass ran without compiled=True"
    v_c, G_c = loss.partition_t(U.copy(), None, None, None, T, compiled=True)
    assert calls, "the compiled pass did not run"
    if dtype == np.float32 and T.flags.c_contiguous:
        # binomial_partition: its own tanh (from one exp), within 2 ulp of NumPy's.
        np.testing.assert_allclose(G_c, G_np, rtol=0, atol=1.2e-7)
    else:
        np.testing.assert_array_equal(G_c, G_np)
    rel = 1e-13 if dtype == np.float64 else 1e-6
    assert v_c == pytest.approx(v_np, rel=rel)
    # The per-entry kernel on the same (float64) logits z = 2u.
    Zt = 2 * U.astype(np.float64)
    expected = loss.value_grad_t(Zt, Y, np.ones(shape[1]))
    assert v_c == pytest.approx(expected, rel=1e-12 if dtype == np.float64 else 1e-6)


def test_binomial_compiled_pass_is_exact_for_confident_right_answers(binomial_path):
    """Large logits of the right sign: the loss exp(-|z|) per entry survives (no cancellation)."""
    loss = LOSSES["multilabel"]
    z = np.resize(np.array([30.0, -30.0, 40.0, -45.0, 0.5]), 64)
    y = (z > 0).astype(np.float64)
    Y = np.tile(y[:, None], (1, 3))
    expected = 3 * float(np.sum(np.log1p(np.exp(-np.abs(z)))))
    for T in (loss.value_targets(Y, 3), loss.value_targets(Y, 3).astype(np.float64)):
        value, _ = loss.partition_t(np.tile(0.5 * z, (3, 1)), None, None, None, T,
                                    compiled=binomial_path)
        assert value == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binomial_compiled_pass_huge_logits_finite_and_silent(binomial_path, dtype):
    loss = LOSSES["multilabel"]
    big = np.finfo(dtype).max / 256
    row = np.array([big, -big, 0.0, 1e-30, -1e4, 1e4, 40.0], dtype=dtype)
    Ut = np.resize(row, (5, 7 * 9)).astype(dtype)
    labels = np.tile((np.arange(Ut.shape[1]) % 2)[:, None], (1, 5)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, G = loss.partition_t(Ut.copy(), None, None, None, loss.value_targets(labels, 5),
                                    compiled=binomial_path)
    assert np.isfinite(value) and np.all(np.isfinite(G)) and np.all(np.abs(G) <= 1)
    assert value >= float(np.abs(Ut.astype(np.float64)).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3, 40), (20, 937)])
@pytest.mark.parametrize("state", [False, True])
@pytest.mark.parametrize("biased", [False, True])
def test_binomial_partition_rowmajor_block_equals_kernel_layout(binomial_path, dtype, shape,
                                                                state, biased):
    """A block stored as (b, k) rows (``Ut`` F-contiguous, targets alike, Newton state in
    its (k, b) layout; partition_rowmajor) gives the value, gradient block and state of
    the C-contiguous block, extreme logits included; ``bias`` as if added beforehand."""
    loss = LOSSES["multilabel"]
    assert loss.partition_rowmajor
    k, b = shape
    U, _, wide = binomial_block(k, b, dtype)
    U.reshape(-1)[-4:] = np.array([1e30, -1e30, 3e4, -3e4], dtype=dtype)
    T = wide[:, 3:3 + b]
    bias = np.linspace(-3, 2, k).astype(dtype) if biased else None
    S_c = np.zeros((k, b + 4), dtype=dtype)[:, 2:2 + b] if state else None
    v_c, G_c = loss.partition_t(U + (0 if bias is None else bias[:, None]), None, S_c, None, T,
                                compiled=binomial_path)
    Uf, Tf = np.asfortranarray(U), np.asfortranarray(T)
    assert Uf.flags.f_contiguous and not Uf.flags.c_contiguous
    S_f = np.zeros((k, b + 4), dtype=dtype)[:, 2:2 + b] if state else None
    work = np.asfortranarray(np.empty_like(U))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v_f, G_f = loss.partition_t(Uf, None, S_f, work, Tf, compiled=binomial_path, bias=bias)
    # float32, compiled: binomial_partition on the rows (its tanh and exp within
    # 2 ulp of NumPy's); otherwise the very same operations.
    exact = dtype == np.float64 or not binomial_path
    np.testing.assert_allclose(G_f, G_c, rtol=0, atol=0 if exact else 1.2e-7)
    assert np.isfinite(v_f) and v_f == pytest.approx(v_c, rel=1e-13 if dtype == np.float64
                                                     else 1e-6)
    if state:
        # (expneg: about 1.6e-38 below e^-87 where NumPy gives 0 or a subnormal.)
        np.testing.assert_allclose(S_f, S_c, rtol=0 if exact else 6e-7, atol=0 if exact else 2e-38)


# -- the compiled float32 softmax partition kernel (numba, large problems) ----------------------
def softmax_block(k, b, seed=0, scale=4.0):
    """float32 logits ``(k, b)`` with special entries and labels ``(b,)`` in ``0..k``."""
    r = np.random.default_rng(seed)
    Z = (scale * r.normal(size=(k, b))).astype(np.float32)
    special = np.array([0.0, 1e-30, -1e-30, 40.0, -40.0, 1e4, -1e4, 0.5, -95.0], dtype=np.float32)
    flat = Z.reshape(-1)
    flat[: min(flat.size, special.size)] = special[: flat.size]
    return Z, r.integers(0, k + 1, size=b), r.random(b).astype(np.float32)


@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize("shape", [(1, 5), (2, 40), (3, 1030), (10, 2111), (100, 333), (700, 70)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("targets", [True, False])
@pytest.mark.parametrize("rows", [False, True])
def test_softmax_compiled_pass_equals_numpy(reference, shape, weighted, targets, rows):
    """Value, gradient block and Newton state of the compiled pass equal the NumPy
    passes (strips of columns with tails, one class, many classes, reference variant).
    ``rows``: the block stored as (b, k) rows (softmax_partition_rows), with ``bias``."""
    if losses_module._softmax_kernel() is None:  # pragma: no cover - numba is a dependency
        pytest.skip("numba is not installed")
    k, b = shape
    loss = MultinomialLoss(reference=reference)
    Z, y, w = softmax_block(k, b)
    if not reference:
        y = np.minimum(y, k - 1)
    w = w if weighted else None
    T = y if targets else None
    S_np = np.zeros((k, b + 3), dtype=np.float32)[:, 1:b + 1]  # strided, as in a pass
    S_c = S_np.copy()
    bias = np.linspace(-5, 3, k).astype(np.float32) if rows else None
    v_np, G_np = loss.partition_t(Z + (0 if bias is None else bias[:, None]), w, S_np, None, T)
    def layout(A):  # a fresh copy: the pass overwrites its block
        return np.asfortranarray(A.copy()) if rows else A.copy()

    v_c, G_c = loss.partition_t(layout(Z), w, S_c, None, T, compiled=True, bias=bias)
    assert G_c.flags.f_contiguous if rows else G_c.flags.c_contiguous
    assert np.all(np.isfinite(G_c)) and np.all(G_c >= 0)
    # exp below e^-87 is about 1.6e-38 instead of a subnormal or 0. With the bias
    # added in the pass, z + bias - max may round differently (reassociated): the
    # exp of an argument down to -87 then differs by up to 87 eps.
    rtol = 6e-6 if rows else 2e-6
    np.testing.assert_allclose(G_c, G_np, rtol=rtol, atol=2e-38)
    np.testing.assert_allclose(S_c, S_np, rtol=rtol, atol=2e-38)
    assert v_c == pytest.approx(v_np, rel=2e-6, abs=1e-6 * b)
    v_c2, G_c2 = loss.partition_t(layout(Z), w, None, None, T, compiled=True, bias=bias)
    assert v_c2 == v_c
    np.testing.assert_allclose(G_c2, G_c, rtol=3e-7, atol=2e-38)  # weights applied in another order


def test_softmax_compiled_pass_value_against_float64():
    """With labels the value is a float64 sum of small nonnegative terms: close to the
    exact float64 loss of the same float32 logits."""
    if losses_module._softmax_kernel() is None:  # pragma: no cover
        pytest.skip("numba is not installed")
    loss = LOSSES["multinomial"]
    Z, y, _ = softmax_block(10, 5000, seed=3)
    y = np.minimum(y, 9)
    Z64 = Z.astype(np.float64)
    expected = float(np.sum(np.log(np.exp(Z64 - Z64.max(axis=0)).sum(axis=0))
                            + Z64.max(axis=0) - Z64[y, np.arange(5000)]))
    value, _ = loss.partition_t(Z.copy(), None, None, None, y, compiled=True)
    assert value == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize("rows", [False, True])
def test_softmax_compiled_pass_huge_logits_finite_and_silent(reference, rows):
    if losses_module._softmax_kernel() is None:  # pragma: no cover
        pytest.skip("numba is not installed")
    loss = MultinomialLoss(reference=reference)
    big = np.finfo(np.float32).max / 4
    row = np.array([big, -big, 0.0, 1e-30, -1e4, 1e4, 40.0], dtype=np.float32)
    Zt = np.resize(row, (5, 64)).astype(np.float32)  # columns: 5 of the 7 in turn
    y = np.arange(Zt.shape[1]) % 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, G = loss.partition_t(np.asfortranarray(Zt) if rows else Zt.copy(), None, None,
                                    None, y, compiled=True)
    assert np.isfinite(value) and np.all(np.isfinite(G))
    assert np.all(G >= 0) and np.all(G.sum(axis=0) <= 1 + 1e-6)
    expected, G_np = loss.partition_t(Zt.copy(), None, None, None, y)
    assert value == pytest.approx(expected, rel=1e-6)
    assert value >= float(big)  # some column has max `big` and its label elsewhere
    np.testing.assert_allclose(G, G_np, rtol=2e-6, atol=2e-38)


def _null_cases():
    """(loss, Y, weights, k): every built-in loss, with uneven weights and rare outputs."""
    from sigmax.losses.heads import HeadsLoss

    r = np.random.default_rng(3)
    n = 400
    codes = r.choice(5, size=n, p=[0.6, 0.25, 0.1, 0.04, 0.01])
    codes[:5] = np.arange(5)
    w = r.uniform(0.2, 3.0, n)
    Y = (r.random((n, 3)) < [0.5, 0.1, 0.02]).astype(float)
    Y[:2] = [[1, 1, 1], [0, 0, 0]]
    heads = HeadsLoss((("softmax", 0, 5), ("sigmoid", 5, 6)))
    return [(MultinomialLoss(), codes, w, 5), (MultinomialLoss(reference=True), codes, w, 4),
            (BinomialLoss(), Y[:, 1], w, 1), (MultilabelLoss(), Y, w, 3),
            (MultilabelLoss(), Y, r.uniform(0.0, 2.0, (n, 3)), 3),
            (heads, np.c_[codes, Y[:, 0]], w, 6)]


@pytest.mark.parametrize("case", range(6))
def test_intercept_only_is_the_null_models_optimum(case):
    """Its gradient in the intercepts is zero at W = 0 (one logit per output, same per row)."""
    loss, Y, w, k = _null_cases()[case]
    b = loss.intercept_only(Y, w, k)
    assert b.shape == (k,) and np.all(np.isfinite(b))
    Z = np.broadcast_to(b, (len(Y), k)).copy()
    _, G = loss.value_and_grad(Z, Y, w)
    np.testing.assert_allclose(G.sum(axis=0), 0.0, atol=1e-9 * np.sum(w))
    # ... and lower than zero intercepts (the cold start it replaces).
    assert loss.value(Z, Y, w) < loss.value(np.zeros_like(Z), Y, w)


def test_intercept_only_is_none_without_a_finite_optimum():
    # A class (or a label's side) with no weight: log 0, so no closed form; the fit
    # then starts from zero.
    codes = np.array([0, 1, 1, 2])
    assert MultinomialLoss().intercept_only(codes, np.array([1.0, 1, 1, 0]), 3) is None
    assert BinomialLoss().intercept_only(np.ones(4), np.ones(4), 1) is None
