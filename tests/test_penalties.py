"""Penalties: scikit-learn's elastic net, its smooth gradient, the prox and the
minimum-norm subgradient (the KKT residual of the proximal solver)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sigmax.penalties import PENALTIES, ElasticNet, make_penalty

L1_RATIO = 0.3
# The elastic-net family (none, l2, l1, elasticnet); every registered penalty
# is checked against the contract in tests/test_penalty_contract.py.
ALL = [p for p in (make_penalty(name, L1_RATIO) for name in sorted(PENALTIES))
       if isinstance(p, ElasticNet)]
ids = [p.name for p in ALL]


def sklearn_penalty(W: np.ndarray, name: str, l1_ratio: float) -> float:
    """scikit-learn's r(W): l1_ratio ||W||_1 + (1 - l1_ratio)/2 ||W||_F^2 (l2: ratio 0)."""
    ratio = {"none": None, "l2": 0.0, "l1": 1.0, "elasticnet": l1_ratio}[name]
    if ratio is None:
        return 0.0
    return ratio * np.abs(W).sum() + 0.5 * (1 - ratio) * (W**2).sum()


@pytest.mark.parametrize("pen", ALL, ids=ids)
def test_value_is_sklearns_penalty(pen, rng):
    W = rng.normal(size=(5, 3))
    assert pen.value(W) == pytest.approx(sklearn_penalty(W, pen.name, L1_RATIO), rel=1e-14)
    assert pen.smooth == (pen.l1 == 0)


@pytest.mark.parametrize("pen", ALL, ids=ids)
def test_smooth_gradient_matches_finite_differences(pen, rng):
    W = rng.normal(size=(4, 3))
    value, grad = pen.smooth_value_and_grad(W)
    assert value == pytest.approx(0.5 * pen.l2 * (W**2).sum(), rel=1e-14, abs=0)
    if grad is None:
        assert pen.l2 == 0
        return
    h = 1e-6
    num = np.empty_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = h
        num[idx] = (pen.smooth_value_and_grad(W + E)[0]
                    - pen.smooth_value_and_grad(W - E)[0]) / (2 * h)
    np.testing.assert_allclose(grad, num, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("pen", ALL, ids=ids)
def test_prox_minimizes_the_proximal_problem(pen, rng):
    """prox(v) = argmin_x 0.5 ||x - v||^2 + t l1 ||x||_1, checked against a fine grid."""
    t = 0.7
    v = rng.normal(scale=2, size=25)
    x = pen.prox(v.copy(), t)
    grid = np.linspace(-8, 8, 160001)
    for vi, xi in zip(v, x):
        obj = 0.5 * (grid - vi) ** 2 + t * pen.l1 * np.abs(grid)
        assert abs(xi - grid[np.argmin(obj)]) <= 2e-4
    if pen.l1:
        np.testing.assert_array_equal(x[np.abs(v) <= t * pen.l1], 0)


@given(arrays(np.float64, st.integers(1, 30), elements=st.floats(-10, 10)),
       st.floats(0.01, 5))
def test_soft_thresholding_properties(v, t):
    pen = make_penalty("l1")
    x = pen.prox(v, t)
    assert np.all(np.abs(x) <= np.abs(v))  # shrinks
    assert np.all(x * v >= 0)  # never flips a sign
    # Optimality of the prox: v - x is in t * subdifferential of |.| at x.
    r = v - x
    nz = x != 0
    np.testing.assert_allclose(r[nz], t * np.sign(x[nz]), rtol=1e-12, atol=1e-12)
    assert np.all(np.abs(r[~nz]) <= t + 1e-12)


def test_min_norm_subgradient_hand_cases():
    pen = ElasticNet("l1", 1.0, 0.0)
    W = np.array([0.0, 0.0, 0.0, 2.0, -1.0])
    G = np.array([0.5, -3.0, 1.0, 0.2, 0.4])
    out = pen.min_norm_subgradient(W, G)
    # w = 0: soft-threshold g by l1; w != 0: g + l1 sign(w).
    np.testing.assert_allclose(out, [0.0, -2.0, 0.0, 1.2, -0.6])


@pytest.mark.parametrize("pen", ALL, ids=ids)
def test_min_norm_subgradient_vanishes_at_a_prox_fixed_point(pen, rng):
    """x = prox(x - g, 1) iff 0 in g + d(l1 ||x||_1): the residual is then 0."""
    x = rng.normal(size=12)
    x[:5] = 0
    g = np.where(x == 0, rng.uniform(-0.9, 0.9, size=12) * pen.l1, -pen.l1 * np.sign(x))
    np.testing.assert_allclose(pen.prox(x - g, 1.0), x, atol=1e-14)
    np.testing.assert_allclose(pen.min_norm_subgradient(x, g), 0, atol=1e-14)
    # Away from the fixed point the residual is not 0.
    assert np.abs(pen.min_norm_subgradient(x, g + 2.0)).max() > 0


def test_registry_and_make_penalty_errors():
    assert set(PENALTIES) >= {"none", "l2", "l1", "elasticnet"}
    assert make_penalty(None).name == "none"
    en = make_penalty("elasticnet", 0.25)
    assert (en.l1, en.l2) == (0.25, 0.75)
    assert (make_penalty("l1").l1, make_penalty("l2").l2) == (1.0, 1.0)
    with pytest.raises(ValueError, match=r"Unknown penalty 'l3'.*choose one of"):
        make_penalty("l3")
    with pytest.raises(ValueError, match="needs l1_ratio"):
        make_penalty("elasticnet")
    with pytest.raises(ValueError, match=r"l1_ratio must lie in \[0, 1\]"):
        make_penalty("elasticnet", 1.5)
