"""Batched Newton for per-output Platt maps (sigmax._affine_sigmoids) against independent fits."""

import numpy as np
import pytest
from scipy.optimize import minimize

from sigmax._affine_sigmoids import fit_affine_sigmoids
from sigmax.calibration import platt_targets
from sigmax.numerics import log_expit


def _one_output(z, t):
    """Reference: scipy's BFGS on one output's mean log-loss (known rows, over all n)."""
    known = ~np.isnan(t)
    n = len(z)

    def f(th):
        s = th[0] * z[known] + th[1]
        return np.sum((1 - t[known]) * s - log_expit(s)) / n

    return minimize(f, [1.0, 0.0], method="BFGS", options={"gtol": 1e-12}).x


def _data(seed, n=400, k=5):
    r = np.random.default_rng(seed)
    Z = r.normal(scale=3.0, size=(n, k))
    # Targets from a miscalibrated truth: sigma(0.4 z - 0.7), so (a, c) moves away from (1, 0).
    T = (r.random((n, k)) < 1 / (1 + np.exp(-(0.4 * Z - 0.7)))).astype(float)
    return Z, T


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_independent_fits(seed):
    Z, T = _data(seed)
    T[::7, 1] = np.nan  # unknown labels are left out
    a, c, value = fit_affine_sigmoids(Z, T)
    for j in range(Z.shape[1]):
        ref = _one_output(Z[:, j], T[:, j])
        np.testing.assert_allclose([a[j], c[j]], ref, rtol=1e-5, atol=1e-6)
    known = ~np.isnan(T)
    S = Z * a + c
    expected = np.sum(np.where(known, (1 - np.nan_to_num(T)) * S - log_expit(S), 0.0)) / len(Z)
    assert value == pytest.approx(expected, rel=1e-12)


def test_separated_output_stays_finite_and_smoothed_targets_give_a_finite_optimum():
    z = np.linspace(-3, 3, 200)
    t = (z > 0).astype(float)  # the logits split the rows perfectly: optimum at infinity
    Z, T = np.column_stack([z, z]), np.column_stack([t, 1 - t])
    a, c, value = fit_affine_sigmoids(Z, T, max_iter=50)
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(c)) and np.isfinite(value)
    assert a[0] > 5 and a[1] < -5  # pushed far towards the separating limit
    a_s, c_s, _ = fit_affine_sigmoids(Z, platt_targets(T))
    for j in range(2):
        np.testing.assert_allclose([a_s[j], c_s[j]], _one_output(z, platt_targets(T)[:, j]),
                                   rtol=1e-5, atol=1e-6)


def test_constant_and_unknown_outputs_keep_the_identity_or_a_shift():
    r = np.random.default_rng(3)
    Z = np.column_stack([np.zeros(100), r.normal(size=100)])
    T = np.column_stack([(r.random(100) < 0.3).astype(float), np.full(100, np.nan)])
    a, c, _ = fit_affine_sigmoids(Z, T)
    # A constant logit leaves only the shift to fit: sigma(c) = the share of ones.
    assert 1 / (1 + np.exp(-c[0])) == pytest.approx(T[:, 0].mean(), abs=1e-8)
    assert a[1] == 1.0 and c[1] == 0.0  # nothing known: the identity stays
