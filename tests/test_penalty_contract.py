"""The penalty contract, checked for every registered penalty: value splits into a
smooth and a non-smooth part, the smooth part's derivatives match finite
differences, the prox minimizes its problem (against scipy), the minimum-norm
subgradient vanishes at prox fixed points, scaling / rescaling behave, and the
declared capabilities are true."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from sigmax.penalties import CAPABILITIES, PENALTIES, Penalty, make_penalty

L1_RATIO = 0.3
NAMES = sorted(PENALTIES)
registry = pytest.mark.parametrize("name", NAMES)


def pen_of(name: str) -> Penalty:
    return make_penalty(name, L1_RATIO)


@registry
def test_is_a_penalty_with_known_capabilities(name):
    pen = pen_of(name)
    assert isinstance(pen, Penalty) and pen.name == name
    assert "prox" in pen.capabilities
    assert set(pen.capabilities) <= set(CAPABILITIES)
    assert ("smooth" in pen.capabilities) == pen.smooth


@registry
def test_value_is_smooth_plus_nonsmooth_part(name, rng):
    pen = pen_of(name)
    W = rng.normal(size=(5, 3))
    smooth, _ = pen.smooth_value_and_grad(W)
    assert pen.value(W) == pytest.approx(smooth + pen.nonsmooth_value(W), rel=1e-13, abs=1e-15)
    if pen.smooth:
        assert pen.nonsmooth_value(W) == 0
    assert pen.value(np.zeros((5, 3))) == 0
    weight = pen.separable_weight
    if weight is not None:  # "separable": the non-smooth part is weight * |W|_1
        assert pen.nonsmooth_value(W) == pytest.approx(weight * np.abs(W).sum(), rel=1e-13)


@registry
def test_smooth_part_derivatives_match_finite_differences(name, rng):
    pen = pen_of(name)
    W = rng.normal(size=(4, 3))
    _, grad = pen.smooth_value_and_grad(W)
    h = 1e-6
    num = np.empty_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = h
        num[idx] = (pen.smooth_value_and_grad(W + E)[0]
                    - pen.smooth_value_and_grad(W - E)[0]) / (2 * h)
    np.testing.assert_allclose(np.zeros_like(W) if grad is None else grad, num,
                               rtol=1e-7, atol=1e-9)
    # Hessian-vector products and the diagonal, from differences of the gradient.
    V = rng.normal(size=W.shape)

    def g(X):
        out = pen.smooth_value_and_grad(X)[1]
        return np.zeros_like(X) if out is None else out

    hv = pen.smooth_hessp(W, V)
    np.testing.assert_allclose(np.zeros_like(W) if hv is None else hv,
                               (g(W + h * V) - g(W - h * V)) / (2 * h), rtol=1e-6, atol=1e-8)
    diag = pen.smooth_hessian_diag(W)
    expected = np.empty_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = 1.0
        expected[idx] = (g(W + h * E) - g(W - h * E))[idx] / (2 * h)
    got = np.zeros_like(W) if diag is None else np.broadcast_to(diag, W.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)


def _prox_objective(pen: Penalty, V: np.ndarray, t: float):
    def F(x):
        X = x.reshape(V.shape)
        return 0.5 * float(((X - V) ** 2).sum()) + t * pen.nonsmooth_value(X)
    return F


@registry
@pytest.mark.parametrize("seed", range(3))
def test_prox_matches_a_direct_minimization(name, seed):
    """prox(V, t) = argmin_X 1/2 |X - V|^2 + t h(X), against scipy's Powell search."""
    r = np.random.default_rng(seed)
    pen = pen_of(name)
    V = r.normal(scale=1.5, size=(4, 3))
    V[0] *= 0.1  # a row the group prox drops
    t = 0.8
    P = pen.prox(V.copy(), t)
    F = _prox_objective(pen, V, t)
    res = minimize(F, V.ravel(), method="Powell",
                   options={"xtol": 1e-10, "ftol": 1e-14, "maxfev": 200_000})
    # The prox is never worse than scipy's point, and the objective is
    # 1-strongly convex: |P - X|^2 <= 2 (F(X) - F(P)).
    assert F(P.ravel()) <= res.fun + 1e-12
    np.testing.assert_allclose(P.ravel(), res.x, atol=1e-4)
    if pen.smooth:
        np.testing.assert_array_equal(P, V)


@registry
def test_min_norm_subgradient_vanishes_at_prox_points(name, rng):
    """P = prox(V, 1) iff V - P is a subgradient of h at P: G = P - V then
    leaves 0 in G + dh(P), and the residual is 0."""
    pen = pen_of(name)
    V = rng.normal(size=(6, 3))
    V[:2] *= 0.05  # rows / entries the prox sets to zero
    P = pen.prox(V.copy(), 1.0)
    np.testing.assert_allclose(pen.min_norm_subgradient(P, P - V), 0, atol=1e-13)
    if pen.smooth:  # no non-smooth part: the residual is the gradient itself
        G = rng.normal(size=V.shape)
        np.testing.assert_array_equal(pen.min_norm_subgradient(P, G), G)
    else:
        assert np.abs(pen.min_norm_subgradient(P, P - V + 3.0)).max() > 0


@registry
def test_scaled_is_the_penalty_times_a_constant(name, rng):
    pen = pen_of(name)
    c, t = 0.37, 0.9
    sc = pen.scaled(c)
    W = rng.normal(size=(5, 2))
    assert sc.value(W) == pytest.approx(c * pen.value(W), rel=1e-13)
    assert sc.nonsmooth_value(W) == pytest.approx(c * pen.nonsmooth_value(W), rel=1e-13)
    v1, g1 = sc.smooth_value_and_grad(W)
    v0, g0 = pen.smooth_value_and_grad(W)
    assert v1 == pytest.approx(c * v0, rel=1e-13)
    assert (g1 is None) == (g0 is None)
    if g0 is not None:
        np.testing.assert_allclose(g1, c * g0, rtol=1e-13)
    np.testing.assert_allclose(sc.prox(W.copy(), t), pen.prox(W.copy(), c * t), rtol=1e-13)
    assert sc.capabilities == pen.capabilities
    zero = pen.scaled(0.0)
    assert zero.smooth and zero.value(W) == 0 and zero.smooth_value_and_grad(W)[1] is None
    np.testing.assert_array_equal(zero.prox(W, t), W)


@registry
@pytest.mark.parametrize("shift", [3, -2, 40])
def test_rescaled_is_the_penalty_of_scaled_coefficients(name, shift, rng):
    """r'(2^s W) = r(W): the estimators solve for V = 2^s W when X is huge."""
    pen = pen_of(name)
    W = rng.normal(size=(4, 3))
    V = np.ldexp(W, shift)
    assert pen.rescaled(shift).value(V) == pytest.approx(pen.value(W), rel=1e-13)
    assert pen.rescaled(shift).capabilities == pen.capabilities


@registry
def test_prox_and_subgradient_stay_finite_on_huge_input(name):
    pen = pen_of(name)
    W = np.full((3, 2), 1e200)
    W[0] = 0.0
    assert np.all(np.isfinite(pen.prox(W.copy(), 1.0)))
    assert np.all(np.isfinite(pen.min_norm_subgradient(W, np.full_like(W, 1e200))))
