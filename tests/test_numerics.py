"""sigmax.numerics: agreement with the textbook formulas where those are safe, and
finite, warning-free results where they are not (huge logits, float32)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import special

from sigmax import numerics as nm

ELEMENTWISE = [nm.log1pexp, nm.log_expit, nm.expit]
ROWWISE = [nm.logsumexp, nm.log_softmax, nm.softmax]


# -- agreement with the direct formulas in their safe range ----------------------------

def test_elementwise_match_direct_formulas():
    z = np.linspace(-30, 30, 601)
    np.testing.assert_allclose(nm.log1pexp(z), np.log1p(np.exp(z)), rtol=1e-14, atol=0)
    np.testing.assert_allclose(nm.log_expit(z), -np.log1p(np.exp(-z)), rtol=1e-14, atol=0)
    np.testing.assert_allclose(nm.expit(z), 1 / (1 + np.exp(-z)), rtol=1e-14, atol=0)


def test_rowwise_match_scipy(rng):
    Z = 10 * rng.normal(size=(50, 7))
    np.testing.assert_allclose(nm.logsumexp(Z), special.logsumexp(Z, axis=1), rtol=1e-14)
    np.testing.assert_allclose(nm.logsumexp(Z, axis=0), special.logsumexp(Z, axis=0),
                               rtol=1e-14)
    np.testing.assert_allclose(nm.logsumexp(Z, keepdims=True),
                               special.logsumexp(Z, axis=1, keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(nm.softmax(Z), special.softmax(Z, axis=1), rtol=1e-13,
                               atol=1e-300)
    np.testing.assert_allclose(nm.log_softmax(Z), special.log_softmax(Z, axis=1),
                               rtol=1e-13, atol=1e-13)


def test_tails_keep_relative_precision():
    # log(1 + e^z) ~ e^z for z << 0: the naive formula would return 0 (log1p of
    # a tiny number is fine, but 1 + e^z rounds to 1).
    z = np.array([-40.0, -300.0, -700.0])
    np.testing.assert_allclose(nm.log1pexp(z), np.exp(z), rtol=1e-15)
    # log sigma(z) = -log(1 + e^{-z}) ~ -e^{-z} for z >> 0.
    np.testing.assert_allclose(nm.log_expit(-z), -np.exp(z), rtol=1e-15)
    # sigma(-z) for z >> 0 must not round to 0 through 1 - sigma(z).
    np.testing.assert_allclose(nm.expit(z), np.exp(z), rtol=1e-14)


# -- huge logits: finite and silent -------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_elementwise_extremes_finite_without_warnings(dtype):
    big = np.finfo(dtype).max
    z = np.array([-big, -1e30, -1e4, -100, 0, 100, 1e4, 1e30, big], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        out = {f.__name__: f(z) for f in ELEMENTWISE}
    for name, val in out.items():
        assert val.dtype == dtype, name
        assert np.all(np.isfinite(val)), (name, val)
    np.testing.assert_array_equal(out["log1pexp"][z >= 100], z[z >= 100])
    np.testing.assert_array_equal(out["log1pexp"][z <= -1e4], 0)
    np.testing.assert_array_equal(out["log_expit"][z <= -1e4], z[z <= -1e4])
    assert out["expit"][0] == 0 and out["expit"][-1] == 1
    assert np.all((out["expit"] >= 0) & (out["expit"] <= 1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [1e4, 1e6, 1e30])
def test_rowwise_extremes_finite_without_warnings(dtype, scale):
    # Rows mixing huge positive and negative logits; the spread stays
    # representable (a spread beyond the float maximum has no finite log-prob).
    Z = np.array([[scale, -scale, 0.0],
                  [-scale, -scale, -scale],
                  [scale, scale, scale],
                  [0.0, -scale, 1.0]], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        lse = nm.logsumexp(Z)
        P = nm.softmax(Z)
        L = nm.log_softmax(Z)
    for arr in (lse, P, L):
        assert arr.dtype == dtype
        assert np.all(np.isfinite(arr))
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-6 if dtype == np.float32 else 1e-15)
    np.testing.assert_allclose(P[0], [1, 0, 0])
    np.testing.assert_allclose(P[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(lse[0], scale, rtol=1e-7)
    np.testing.assert_allclose(L[0], [0.0, -2 * scale, -scale], rtol=1e-7)


def test_float32_is_preserved():
    z = np.linspace(-5, 5, 11, dtype=np.float32)
    Z = z.reshape(-1, 1) * np.ones((1, 3), dtype=np.float32)
    for f in ELEMENTWISE:
        assert f(z).dtype == np.float32, f.__name__
    for f in ROWWISE:
        assert f(Z).dtype == np.float32, f.__name__


# -- properties ------------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
rows = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)), elements=finite)


@given(arrays(np.float64, st.integers(1, 20),
              elements=st.floats(-1e300, 1e300, allow_nan=False)))
def test_sigmoid_properties(z):
    p = nm.expit(z)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p + nm.expit(-z), 1, rtol=1e-15)
    lp = nm.log_expit(z)
    assert np.all(np.isfinite(lp)) and np.all(lp <= 0)
    # log sigma(z) = z - log(1 + e^z)
    np.testing.assert_allclose(lp, z - nm.log1pexp(z), rtol=1e-12, atol=1e-12)


@given(rows)
def test_softmax_rows_are_distributions(Z):
    P = nm.softmax(Z)
    assert np.all((P >= 0) & (P <= 1))
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-14)
    L = nm.log_softmax(Z)
    assert np.all(L <= 1e-15)
    # logsumexp is at least the max and at most max + log K.
    lse = nm.logsumexp(Z)
    m = Z.max(axis=1)
    assert np.all(lse >= m) and np.all(lse <= m + np.log(Z.shape[1]) * (1 + 1e-12))


@given(rows, st.floats(-1e5, 1e5, allow_nan=False))
def test_shift_invariance(Z, c):
    Zc = Z + c
    np.testing.assert_allclose(nm.softmax(Zc), nm.softmax(Z), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(nm.log_softmax(Zc), nm.log_softmax(Z), rtol=1e-9,
                               atol=1e-9 * (1 + np.abs(Z).max() + abs(c)))
    np.testing.assert_allclose(nm.logsumexp(Zc), nm.logsumexp(Z) + c, rtol=1e-12,
                               atol=1e-9 * (1 + np.abs(Z).max() + abs(c)))
