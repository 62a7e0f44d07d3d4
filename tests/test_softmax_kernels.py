"""The compiled float64 softmax pass and the compiled softmax Hessian-vector pass
(issue 17 item 2: the elementwise work over n x K for small d and large K).

They must equal the NumPy passes they replace, to float64 rounding, on blocks with
strips and tails, weights or not, labels or not, the reference parameterization,
and stay finite and silent at huge logits.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sigmax import _partition_kernels as kernels
from sigmax.dataterms import tuning
from sigmax.losses import LOSSES, MultinomialLoss
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty


def block(k, b, seed=0, scale=4.0):
    r = np.random.default_rng(seed)
    Z = scale * r.normal(size=(k, b))
    special = np.array([0.0, 1e-300, -1e-300, 700.0, -700.0, 1e4, -1e4, 0.5, -750.0])
    flat = Z.reshape(-1)
    flat[: min(flat.size, special.size)] = special[: flat.size]
    return Z, r.integers(0, k + 1, size=b), r.random(b)


@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize("shape", [(1, 5), (2, 40), (3, 1030), (79, 700), (700, 70)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("targets", [True, False])
def test_float64_compiled_pass_equals_numpy(reference, shape, weighted, targets):
    k, b = shape
    loss = MultinomialLoss(reference=reference)
    Z, y, w = block(k, b)
    if not reference:
        y = np.minimum(y, k - 1)
    w = w if weighted else None
    T = y if targets else None
    S_np = np.zeros((k, b + 3))[:, 1:b + 1]  # strided, as in a pass
    S_c = S_np.copy()
    v_np, G_np = loss.partition_t(Z.copy(), w, S_np, None, T)
    v_c, G_c = loss.partition_t(Z.copy(), w, S_c, None, T, compiled=True)
    assert G_c.dtype == np.float64 and np.all(np.isfinite(G_c)) and np.all(G_c >= 0)
    # exp below e^-708 is about 3e-308 instead of a subnormal or 0.
    np.testing.assert_allclose(G_c, G_np, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(S_c, S_np, rtol=1e-14, atol=1e-300)
    assert v_c == pytest.approx(v_np, rel=1e-13, abs=1e-13 * b)
    v_c2, G_c2 = loss.partition_t(Z.copy(), w, None, None, T, compiled=True)
    assert v_c2 == v_c
    np.testing.assert_allclose(G_c2, G_c, rtol=1e-15, atol=1e-300)


def test_float64_exp_within_an_ulp():
    """The division-free exp of the float64 pass, against NumPy's, on [-708, 0]."""
    x = -np.linspace(0.0, 708.0, 200_001)
    Z = np.stack([x, np.zeros_like(x)])  # max 0: the pass forms exp(x) and exp(0)
    loss = LOSSES["multinomial"]
    _, P = loss.partition_t(Z.copy(), None, None, None, None, compiled=True)
    expected = np.exp(x) / (1 + np.exp(x))
    np.testing.assert_allclose(P[0], expected, rtol=6e-16)


def test_float64_compiled_pass_huge_logits_finite_and_silent():
    loss = LOSSES["multinomial"]
    big = 1e300  # the loss sum of the block, ~64 x 2e300, stays finite
    row = np.array([big, -big, 0.0, 1e-300, -1e4, 1e4, 40.0])
    Zt = np.resize(row, (5, 64))
    y = np.arange(64) % 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value, G = loss.partition_t(Zt.copy(), None, None, None, y, compiled=True)
    assert np.isfinite(value) and np.all(np.isfinite(G))
    expected, G_np = loss.partition_t(Zt.copy(), None, None, None, y)
    assert value == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(G, G_np, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(1, 7), (5, 1030), (79, 700)])
def test_compiled_hessp_equals_numpy(dtype, weighted, shape):
    k, b = shape
    r = np.random.default_rng(1)
    full = r.random((k, b + 2)).astype(dtype)
    full /= full.sum(axis=0)
    P = full[:, 1:b + 1]  # a column block of the state, as in a pass
    w = r.random(b).astype(dtype) if weighted else np.broadcast_to(dtype(1), (b,))
    V = r.normal(size=(k, b)).astype(dtype)
    loss = LOSSES["multinomial"]
    plain, fast = V.copy(), V.copy()
    loss.hessp_t(P, None, w, plain)
    loss.hessp_t(P, None, w, fast, compiled=True)
    expected = P * (V - (P * V).sum(axis=0)) * w
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(plain, expected, rtol=rtol, atol=rtol * np.abs(expected).max())
    np.testing.assert_allclose(fast, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_objective_uses_the_compiled_passes_and_agrees(monkeypatch):
    """A softmax objective above COMPILED_MIN_LOGITS: value, gradient and Hessian products
    through the compiled float64 passes equal the NumPy passes."""
    r = np.random.default_rng(2)
    n, d, k = 900, 4, 30
    X = r.normal(size=(n, d))
    y = r.integers(0, k, n)
    w = r.normal(size=(d + 1) * k) * 0.5
    v = r.normal(size=(d + 1) * k)
    out = {}
    calls = []
    real = kernels.softmax_hessp

    def spy(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(kernels, "softmax_hessp", spy)
    for compiled in (False, True):
        monkeypatch.setattr(tuning, "COMPILED_MIN_LOGITS", 0 if compiled else 1 << 62)
        obj = LinearObjective(LOSSES["multinomial"], X, y, np.ones(n), k, C=1.0,
                              penalty=make_penalty("l2"))
        assert obj.data._compiled == compiled
        f, g = obj.value_and_grad(w)
        out[compiled] = (f, g, obj.hessp(w, v))
    assert calls  # the compiled Hessian pass ran
    np.testing.assert_allclose(out[True][0], out[False][0], rtol=1e-13)
    np.testing.assert_allclose(out[True][1], out[False][1], rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(out[True][2], out[False][2], rtol=1e-11, atol=1e-15)
