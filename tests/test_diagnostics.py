"""Diagnostics: derivative checks, flat directions, random starts, separation, K=2."""

import numpy as np
import pytest

from sigmax import (
    LogisticRegression,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SoftmaxRegression,
)
from sigmax import diagnostics as diag


@pytest.fixture(scope="module")
def overlapping():
    """Three overlapping classes, d = 3 full-rank features: a finite unpenalized minimum."""
    rng = np.random.default_rng(0)
    n, d, K = 240, 3, 3
    X = rng.normal(size=(n, d))
    y = np.argmax(X @ rng.normal(size=(d, K)) + rng.gumbel(size=(n, K)), axis=1)
    return X, y


def _fit(est, X, y):
    est.fit(X, y)
    obj = diag.objective_for(est, X, y)
    return obj, diag.params_of(est, obj)


@pytest.mark.parametrize("make", [
    lambda: LogisticRegression(C=2.0),
    lambda: SoftmaxRegression(C=2.0),
    lambda: SoftmaxRegression(C=2.0, parameterization="reference"),
    lambda: OneVsRestLogistic(C=2.0),
    lambda: MultiLabelLogistic(C=2.0),
], ids=["logistic", "softmax", "softmax-ref", "ovr", "multilabel"])
def test_analytic_derivatives_match_finite_differences(overlapping, make):
    X, y = overlapping
    est = make()
    if isinstance(est, LogisticRegression):
        y = (y == 0).astype(int)
    if isinstance(est, MultiLabelLogistic):
        y = np.column_stack([y == 0, y == 1, y != 1]).astype(int)
    obj, w = _fit(est, X, y)
    w = w + np.random.default_rng(1).normal(0, 0.3, w.size)
    check = diag.check_derivatives(obj, w, n_directions=4)
    assert check["grad_max_rel_error"] < 1e-6
    assert check["hessp_max_rel_error"] < 1e-6
    assert check["hessian_vs_hessp_max_rel_error"] < 1e-10


def test_derivative_check_catches_a_wrong_gradient(overlapping):
    X, y = overlapping
    obj, w = _fit(SoftmaxRegression(), X, y)
    value_and_grad = obj.value_and_grad

    def wrong(v):
        f, g = value_and_grad(v)
        return f, 1.05 * g

    obj.value_and_grad = wrong
    check = diag.check_derivatives(obj, w + 0.3, n_directions=3)
    assert check["grad_max_rel_error"] > 1e-2


def test_unpenalized_softmax_has_d_plus_1_flat_directions(overlapping):
    X, y = overlapping
    obj, w = _fit(SoftmaxRegression(penalty=None, tol=1e-10, solver="newton-cholesky"), X, y)
    flat = diag.flat_directions(obj, w)
    d = X.shape[1]
    assert flat["n_flat"] == d + 1
    assert flat["n_flat_coef"] == d and flat["n_flat_intercept"] == 1
    # Flat directions change no prediction; the other eigenvalues are far from 0.
    assert flat["max_prob_change"] < 1e-10
    assert flat["spectral_gap"] > 1e6
    # The null basis is {(a, c) (x) 1_K}: every column constant across classes.
    N = flat["null_basis"].reshape(d + 1, 3, -1)
    assert np.allclose(N - N.mean(axis=1, keepdims=True), 0, atol=1e-8)


def test_l2_leaves_only_the_intercept_shift(overlapping):
    X, y = overlapping
    obj, w = _fit(SoftmaxRegression(C=1.0, tol=1e-10), X, y)
    flat = diag.flat_directions(obj, w)
    assert flat["n_flat_coef"] == 0
    assert flat["n_flat_intercept"] == 1
    assert flat["max_prob_change"] < 1e-10
    # Without an intercept nothing is flat at all.
    obj, w = _fit(SoftmaxRegression(C=1.0, tol=1e-10, fit_intercept=False), X, y)
    assert diag.flat_directions(obj, w)["n_flat"] == 0


@pytest.mark.parametrize("make", [
    lambda: SoftmaxRegression(penalty=None, parameterization="reference", tol=1e-10),
    lambda: OneVsRestLogistic(penalty=None, tol=1e-10),
], ids=["softmax-reference", "ovr"])
def test_unique_minimum_models_have_no_flat_direction(overlapping, make):
    X, y = overlapping
    obj, w = _fit(make(), X, y)
    flat = diag.flat_directions(obj, w)
    assert flat["n_flat"] == 0
    assert flat["smallest_nonzero_eigenvalue"] > 1e-4


def test_random_starts_land_on_different_coefficients_only_without_penalty(overlapping):
    X, y = overlapping
    obj0, _ = _fit(SoftmaxRegression(penalty=None), X, y)
    rs0 = diag.random_starts(obj0, n_starts=3)
    assert rs0["coef_spread"] > 0.1
    assert rs0["objective_spread"] < 1e-10
    assert rs0["centered_coef_spread"] < 1e-4
    assert rs0["max_prob_diff"] < 1e-5
    obj2, _ = _fit(SoftmaxRegression(C=1.0), X, y)
    rs2 = diag.random_starts(obj2, n_starts=3)
    assert rs2["coef_spread"] < 1e-4
    assert rs2["intercept_spread"] > 0.1          # the common shift is still free
    assert rs2["centered_intercept_spread"] < 1e-4


def test_separation_overlap_complete_and_quasi_complete(overlapping):
    X, y = overlapping
    assert diag.separation(X, y)["separated"] is False
    rng = np.random.default_rng(2)
    Xs = np.vstack([rng.normal(-3, 0.5, (30, 2)), rng.normal(3, 0.5, (30, 2))])
    ys = np.repeat([0, 1], 30)
    out = diag.separation(Xs, ys)
    assert out["separated"] is True and out["kind"] == "complete"
    # One indicator column that is 1 only for class-1 rows; the rest overlaps.
    x = rng.normal(size=100)
    yq = (rng.uniform(size=100) < 0.5).astype(int)
    flag = np.zeros(100)
    flag[np.flatnonzero(yq == 1)[:5]] = 1
    out = diag.separation(np.column_stack([x, flag]), yq)
    assert out["separated"] is True and out["kind"] == "quasi-complete"
    assert diag.separates(np.column_stack([-Xs[:, 0], Xs[:, 0]]), ys)


def test_k2_equivalence_holds_to_1e6(overlapping):
    X, y = overlapping
    yb = (y == 1).astype(int)
    out = diag.k2_equivalence(X, yb, C=0.7)
    assert out["holds"]
    assert out["max_abs_prob_diff"] < 1e-6
    assert out["max_abs_coef_diff"] < 1e-6
    assert out["max_abs_symmetry"] < 1e-6
    assert out["C_softmax"] == pytest.approx(0.35)
    # The wrong mapping (same C) gives visibly different probabilities.
    assert out["same_C_max_abs_prob_diff"] > 1e-4
    assert out["unpenalized"]["max_abs_prob_diff"] < 1e-6


def test_full_rank_columns_drops_constant_and_duplicate_columns():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(50, 3))
    X = np.column_stack([A[:, 0], np.full(50, 2.0), A[:, 1], A[:, 0] * 3, A[:, 2]])
    cols = diag.full_rank_columns(X)
    assert len(cols) == 3
    assert 1 not in cols
    assert not {0, 3} <= set(cols)
    assert diag.full_rank_columns(X, max_features=2) == cols[:2]
