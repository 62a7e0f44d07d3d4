"""Parity with scikit-learn (same C, tight tolerances) and with published results
(Greene's Spector & Mazzeo logit; statsmodels' MNLogit on anes96)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

from sigmax import LogisticRegression, MultiLabelLogistic, OneVsRestLogistic, SoftmaxRegression
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty
from sigmax.solvers import SOLVERS

LOADERS = {"iris": load_iris, "wine": load_wine, "digits": load_digits,
           "breast_cancer": load_breast_cancer}
SMOOTH_SOLVERS = sorted(SOLVERS)
NONSMOOTH_SOLVERS = sorted(n for n, s in SOLVERS.items() if s.supports_nonsmooth)


def standardized(name):
    X, y = LOADERS[name](return_X_y=True)
    return StandardScaler().fit_transform(X), y


def sklearn_objective(coef, intercept, X, y, C, penalty, l1_ratio=None):
    """C sum_i l_i + r(W) at the given coefficients (same function for both libraries)."""
    K = len(np.unique(y))
    binary = coef.shape[0] == 1
    loss = LOSSES["binomial" if binary else "multinomial"]
    codes = np.searchsorted(np.unique(y), y)
    obj = LinearObjective(loss, X, codes.astype(float) if binary else codes, np.ones(len(y)),
                          1 if binary else K, C=C, penalty=make_penalty(penalty, l1_ratio))
    w = np.vstack([np.asarray(coef).T, np.asarray(intercept)[None, :]]).ravel()
    return obj.sklearn_objective(w)


_SK_CACHE: dict = {}


def sklearn_fit(name, C, l1_ratio=0.0):
    """scikit-learn's solution, fitted once per (data, C, penalty)."""
    key = (name, C, l1_ratio)
    if key not in _SK_CACHE:
        X, y = standardized(name)
        if l1_ratio == 0.0:  # newton-cg: the tightest of its smooth solvers (lbfgs stops on ftol)
            sk = SkLogisticRegression(C=C, solver="newton-cg", tol=1e-12, max_iter=1000)
        else:
            sk = SkLogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-10,
                                      max_iter=100000)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a non-converged reference is no reference
            _SK_CACHE[key] = sk.fit(X, y)
    return _SK_CACHE[key]


def ours(name):
    return LogisticRegression if name == "breast_cancer" else SoftmaxRegression


@pytest.mark.parametrize("solver", SMOOTH_SOLVERS)
@pytest.mark.parametrize("name", sorted(LOADERS))
def test_l2_matches_sklearn(name, solver):
    X, y = standardized(name)
    C = 1.0
    sk = sklearn_fit(name, C)
    m = ours(name)(C=C, solver=solver, tol=1e-10, max_iter=20000).fit(X, y)
    assert m.fit_record_.converged
    np.testing.assert_allclose(m.predict_proba(X), sk.predict_proba(X), atol=1e-5)
    f_ours = sklearn_objective(m.coef_, m.intercept_, X, y, C, "l2")
    f_sk = sklearn_objective(sk.coef_, sk.intercept_, X, y, C, "l2")
    assert abs(f_ours - f_sk) <= 1e-7 * abs(f_sk)
    np.testing.assert_array_equal(m.predict(X), sk.predict(X))


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky", "newton-cg"])
def test_without_intercept_matches_sklearn(solver):
    X, y = standardized("wine")
    sk = SkLogisticRegression(C=0.5, fit_intercept=False, solver="newton-cg", tol=1e-12,
                              max_iter=1000).fit(X, y)
    m = SoftmaxRegression(C=0.5, fit_intercept=False, solver=solver, tol=1e-10).fit(X, y)
    assert not m.intercept_.any()
    np.testing.assert_allclose(m.predict_proba(X), sk.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(m.coef_, sk.coef_, atol=1e-5)


@pytest.mark.parametrize("solver", NONSMOOTH_SOLVERS)
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer"])
def test_l1_and_elasticnet_match_sklearn_saga(name, l1_ratio, solver):
    X, y = standardized(name)
    C = 0.5
    sk = sklearn_fit(name, C, l1_ratio)
    penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
    m = ours(name)(penalty=penalty, l1_ratio=l1_ratio, C=C, solver=solver, tol=1e-10,
                   max_iter=100000).fit(X, y)
    assert m.fit_record_.converged
    np.testing.assert_allclose(m.predict_proba(X), sk.predict_proba(X), atol=1e-5)
    f_ours = sklearn_objective(m.coef_, m.intercept_, X, y, C, penalty, l1_ratio)
    f_sk = sklearn_objective(sk.coef_, sk.intercept_, X, y, C, penalty, l1_ratio)
    assert abs(f_ours - f_sk) <= 1e-7 * abs(f_sk)
    # The same coefficients are exactly zero.
    np.testing.assert_array_equal(m.coef_ == 0, np.abs(sk.coef_) < 1e-9)


@pytest.mark.parametrize("name", ["iris", "wine"])
def test_one_vs_rest_matches_sklearn(name):
    X, y = standardized(name)
    sk = OneVsRestClassifier(SkLogisticRegression(C=0.5, tol=1e-10, solver="newton-cg",
                                                  max_iter=1000)).fit(X, y)
    m = OneVsRestLogistic(C=0.5, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(m.predict_proba(X), sk.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(m.decision_function(X), sk.decision_function(X), atol=1e-5)


def test_multilabel_matches_sklearn_one_vs_rest_on_indicators():
    X, y = standardized("wine")
    Y = np.column_stack([y == 0, y == 2, X[:, 0] > 0]).astype(int)
    sk = OneVsRestClassifier(SkLogisticRegression(C=0.5, tol=1e-10, solver="newton-cg",
                                                  max_iter=1000)).fit(X, Y)
    m = MultiLabelLogistic(C=0.5, tol=1e-10).fit(X, Y)
    np.testing.assert_allclose(m.predict_proba(X), sk.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(m.predict(X), sk.predict(X))


# -- published results ---------------------------------------------------------------------

#: Greene, Econometric Analysis (Table 21.1 in the 5th ed.): the logit of Spector and
#: Mazzeo (1980), GRADE on GPA, TUCE and PSI, by maximum likelihood.
SPECTOR_PUBLISHED = {"const": -13.0213, "GPA": 2.8261, "TUCE": 0.0952, "PSI": 2.3787,
                     "llf": -12.8896}


@pytest.mark.parametrize("solver", ["newton-cholesky", "newton-cg", "lbfgs"])
def test_spector_logit_matches_greene(solver):
    sm = pytest.importorskip("statsmodels.api")
    data = sm.datasets.spector.load_pandas()
    X, y = data.exog[["GPA", "TUCE", "PSI"]], data.endog
    m = LogisticRegression(penalty=None, solver=solver, tol=1e-10).fit(X, y)
    got = dict(zip(["GPA", "TUCE", "PSI"], m.coef_[0]), const=m.intercept_[0])
    P = m.predict_proba(X)
    yy = y.to_numpy().astype(int)
    got["llf"] = float(np.sum(np.log(P[np.arange(len(yy)), yy])))
    for key, published in SPECTOR_PUBLISHED.items():
        # Published to 4 decimals: the exact MLE rounds to the printed value.
        assert abs(got[key] - published) <= 0.5e-4 + 1e-6, (key, got[key], published)


@pytest.fixture(scope="module")
def anes96():
    sm = pytest.importorskip("statsmodels.api")
    data = sm.datasets.anes96.load_pandas().data
    exog = data[["logpopul", "selfLR", "age", "educ", "income"]]
    res = sm.MNLogit(data["PID"], sm.add_constant(exog, prepend=True)).fit(
        method="newton", maxiter=100, disp=0)
    assert res.mle_retvals["converged"]
    return exog, data["PID"], res


@pytest.mark.parametrize("solver", ["newton-cholesky", "newton-cg"])
def test_anes96_matches_statsmodels_mnlogit(anes96, solver):
    """statsmodels' MNLogit example: PID (7 parties) on logpopul, selfLR, age, educ, income."""
    exog, pid, res = anes96
    m = SoftmaxRegression(penalty=None, parameterization="reference", solver=solver,
                          tol=1e-10).fit(exog, pid)
    assert m.fit_record_.converged
    params = res.params.to_numpy()  # (1 + 5, K - 1): const first, class 0 is the reference
    np.testing.assert_allclose(m.intercept_[1:], params[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(m.coef_[1:].T, params[1:], rtol=1e-6, atol=1e-8)
    assert not m.coef_[0].any()
    codes = np.searchsorted(m.classes_, pid.to_numpy())
    llf = float(m.predict_log_proba(exog)[np.arange(len(codes)), codes].sum())
    assert llf == pytest.approx(res.llf, rel=1e-10)
    np.testing.assert_allclose(m.predict_proba(exog), res.predict(), atol=1e-8)
