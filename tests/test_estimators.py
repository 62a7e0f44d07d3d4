"""The four estimators: what they return, the K=2 equivalence, bad input, input kinds
(NumPy, pandas, CSR, float32), weights, warm starts, fit records and warnings."""

from __future__ import annotations

import doctest
import importlib
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from conftest import make_classification_data, make_multilabel_data
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.class_weight import compute_class_weight

from sigmax import (
    LogisticRegression,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SeparableWarning,
    SoftmaxRegression,
)
from sigmax.objective import LinearObjective
from sigmax.solvers import SOLVERS

ALL = [LogisticRegression, SoftmaxRegression, OneVsRestLogistic, MultiLabelLogistic]
SINGLE_LABEL = [LogisticRegression, SoftmaxRegression, OneVsRestLogistic]
ids = [c.__name__ for c in ALL]


def data_for(Est, n=80, d=4, seed=0):
    """Training data of the kind ``Est`` takes (not separable)."""
    if Est is MultiLabelLogistic:
        return make_multilabel_data(n=n, d=d, seed=seed)
    return make_classification_data(n=n, d=d, k=2 if Est is LogisticRegression else 3,
                                    seed=seed)


def n_outputs(Est, y):
    return 1 if Est is LogisticRegression else (y.shape[1] if y.ndim == 2 else len(set(y)))


@pytest.fixture(params=ALL, ids=ids)
def Est(request):
    return request.param


# -- outputs -------------------------------------------------------------------------

def test_outputs_have_the_documented_shapes_and_meaning(Est):
    X, y = data_for(Est)
    m = Est().fit(X, y)
    n = len(X)
    P = m.predict_proba(X)
    assert np.all((P >= 0) & (P <= 1))
    np.testing.assert_allclose(m.predict_log_proba(X), np.log(P), rtol=1e-10, atol=1e-12)
    assert m.n_features_in_ == X.shape[1]
    assert m.n_iter_.shape == (1,)
    if Est is MultiLabelLogistic:
        L = y.shape[1]
        assert P.shape == (n, L) and m.coef_.shape == (L, 4) and m.intercept_.shape == (L,)
        np.testing.assert_array_equal(m.classes_, np.arange(L))
        np.testing.assert_array_equal(m.predict(X), (P > 0.5).astype(int))
        assert m.decision_function(X).shape == (n, L)
        return
    K = len(np.unique(y))
    np.testing.assert_array_equal(m.classes_, np.unique(y))
    assert P.shape == (n, K)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_array_equal(m.predict(X), m.classes_[np.argmax(P, axis=1)])
    D = m.decision_function(X)
    if K == 2:
        assert D.shape == (n,)
        np.testing.assert_array_equal(m.predict(X), m.classes_[(D > 0).astype(int)])
    else:
        assert D.shape == (n, K)
    rows = 1 if Est is LogisticRegression else K
    assert m.coef_.shape == (rows, 4) and m.intercept_.shape == (rows,)
    assert m.score(X, y) > 0.6  # the classes overlap but are learnable


@pytest.mark.parametrize("Est2", [SoftmaxRegression, OneVsRestLogistic])
def test_two_classes_give_one_score_per_sample(Est2):
    X, y = make_classification_data(k=2)
    m = Est2().fit(X, y)
    D = m.decision_function(X)
    assert D.shape == (len(X),)
    P = m.predict_proba(X)
    # The score orders samples as the probability of classes_[1] does.
    order = np.argsort(D)
    assert np.all(np.diff(P[order, 1]) >= -1e-12)
    np.testing.assert_array_equal(m.predict(X), m.classes_[(D > 0).astype(int)])


def test_string_labels_are_returned_as_given():
    X, y = make_classification_data(k=3)
    names = np.array(["cat", "dog", "eel"])[y]
    for Est in (SoftmaxRegression, OneVsRestLogistic):
        m = Est().fit(X, names)
        assert set(m.predict(X)) <= {"cat", "dog", "eel"}
        np.testing.assert_array_equal(m.classes_, ["cat", "dog", "eel"])
    m = LogisticRegression().fit(X[y < 2], np.array(["no", "yes"])[y[y < 2]])
    np.testing.assert_array_equal(m.classes_, ["no", "yes"])


# -- K = 2: softmax regression is logistic regression ----------------------------------

def test_k2_softmax_equals_logistic_without_penalty():
    X, y = make_classification_data(k=2)
    lr = LogisticRegression(penalty=None, tol=1e-10).fit(X, y)
    for param in ("symmetric", "reference"):
        sm = SoftmaxRegression(penalty=None, tol=1e-10, parameterization=param).fit(X, y)
        np.testing.assert_allclose(sm.predict_proba(X), lr.predict_proba(X), atol=1e-9)
        # The logistic weights are the difference of the two class rows.
        np.testing.assert_allclose(sm.coef_[1] - sm.coef_[0], lr.coef_[0], rtol=1e-7)
        np.testing.assert_allclose(sm.decision_function(X), lr.decision_function(X),
                                   rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("C_softmax", [0.05, 1.0])
def test_k2_softmax_equals_logistic_with_l2_when_c_doubles(C_softmax):
    """SoftmaxRegression's docstring: w0 = -w1 at the optimum, v = 2 w1, so the
    penalty 1/2(|w0|^2 + |w1|^2) = 1/4 |v|^2 and C_logistic = 2 C_softmax."""
    X, y = make_classification_data(k=2)
    sm = SoftmaxRegression(C=C_softmax, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(sm.coef_[0], -sm.coef_[1], rtol=1e-7, atol=1e-12)
    lr = LogisticRegression(C=2 * C_softmax, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(sm.predict_proba(X), lr.predict_proba(X), atol=1e-8)
    np.testing.assert_allclose(2 * sm.coef_[1], lr.coef_[0], rtol=1e-6)
    # The mapping matters: the same C gives a different model.
    same_c = LogisticRegression(C=C_softmax, tol=1e-10).fit(X, y)
    assert np.abs(same_c.predict_proba(X) - sm.predict_proba(X)).max() > 1e-3
    # The reference parameterization penalizes v itself: same C as logistic.
    ref = SoftmaxRegression(C=C_softmax, tol=1e-10, parameterization="reference").fit(X, y)
    np.testing.assert_allclose(ref.predict_proba(X), same_c.predict_proba(X), atol=1e-8)


def test_softmax_representatives():
    X, y = make_classification_data(k=3)
    free = SoftmaxRegression(penalty=None, tol=1e-10).fit(X, y)
    # The flat valley's centered point: rows and intercepts sum to zero.
    np.testing.assert_allclose(free.coef_.sum(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(free.intercept_.sum(), 0, atol=1e-10)
    ref = SoftmaxRegression(penalty=None, tol=1e-10, parameterization="reference").fit(X, y)
    assert not ref.coef_[0].any() and ref.intercept_[0] == 0
    np.testing.assert_allclose(ref.predict_proba(X), free.predict_proba(X), atol=1e-8)
    # Reference coefficients are log-odds against classes_[0].
    np.testing.assert_allclose(ref.coef_[1:], free.coef_[1:] - free.coef_[0], rtol=1e-6,
                               atol=1e-9)
    l2 = SoftmaxRegression(C=1.0).fit(X, y)
    np.testing.assert_allclose(l2.coef_.sum(axis=0), 0, atol=1e-7)  # L2 centers W itself


def test_one_vs_rest_equals_separate_binary_fits():
    X, y = make_classification_data(k=3)
    ovr = OneVsRestLogistic(C=0.5, tol=1e-10).fit(X, y)
    for k, cls in enumerate(ovr.classes_):
        lr = LogisticRegression(C=0.5, tol=1e-10).fit(X, (y == cls).astype(int))
        np.testing.assert_allclose(ovr.coef_[k], lr.coef_[0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(ovr.intercept_[k], lr.intercept_[0], rtol=1e-6, atol=1e-9)
    S = 1 / (1 + np.exp(-ovr.decision_function(X)))
    np.testing.assert_allclose(ovr.predict_proba(X), S / S.sum(axis=1, keepdims=True),
                               rtol=1e-12)


# -- multi-label ---------------------------------------------------------------------

def test_multilabel_equals_separate_binary_fits_and_masks_unknowns():
    X, Y = make_multilabel_data()
    Yn = Y.astype(float)
    Yn[:10, 0] = np.nan  # label 0 unknown for the first 10 rows
    ml = MultiLabelLogistic(C=0.5, tol=1e-10).fit(X, Yn)
    for j in range(Y.shape[1]):
        keep = ~np.isnan(Yn[:, j])
        lr = LogisticRegression(C=0.5, tol=1e-10).fit(X[keep], Y[keep, j])
        np.testing.assert_allclose(ml.coef_[j], lr.coef_[0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(ml.predict_proba(X)[:, j], lr.predict_proba(X)[:, 1],
                                   atol=1e-8)


def test_multilabel_target_formats():
    X, Y = make_multilabel_data(n_labels=2)
    base = MultiLabelLogistic().fit(X, Y)
    # A list of 0/1 rows is an indicator matrix (as in scikit-learn), not label sets.
    as_lists = MultiLabelLogistic().fit(X, Y.tolist())
    np.testing.assert_array_equal(as_lists.classes_, [0, 1])
    np.testing.assert_allclose(as_lists.coef_, base.coef_)
    df = pd.DataFrame(Y, columns=["comedy", "drama"])
    named = MultiLabelLogistic().fit(X, df)
    np.testing.assert_array_equal(named.classes_, ["comedy", "drama"])
    np.testing.assert_allclose(named.coef_, base.coef_)
    sets = [{name for name, v in zip(["comedy", "drama"], row) if v} for row in Y]
    from_sets = MultiLabelLogistic().fit(X, sets)
    np.testing.assert_array_equal(from_sets.classes_, ["comedy", "drama"])
    np.testing.assert_allclose(from_sets.coef_, base.coef_)
    ragged = [sorted(s) for s in sets]  # lists of label names, ragged rows
    np.testing.assert_allclose(MultiLabelLogistic().fit(X, ragged).coef_, base.coef_)
    np.testing.assert_allclose(MultiLabelLogistic().fit(X, sp.csr_matrix(Y)).coef_, base.coef_)
    np.testing.assert_allclose(MultiLabelLogistic().fit(X, Y.astype(bool)).coef_, base.coef_)


# -- bad input -------------------------------------------------------------------------

def test_nan_and_inf_in_x_are_counted_located_and_explained(Est):
    X, y = data_for(Est)
    X = X.copy()
    X[3, 1] = np.nan
    X[7, 2] = np.inf
    X[9, 0] = np.nan
    with pytest.raises(ValueError) as err:
        Est().fit(X, y)
    msg = str(err.value)
    assert "2 NaN and 1 infinite" in msg
    assert "(row 3, column 1)" in msg and "(row 7, column 2)" in msg
    assert "SimpleImputer" in msg
    fitted = Est().fit(np.nan_to_num(X, nan=0.0, posinf=0.0), y)
    with pytest.raises(ValueError, match=r"1 infinite value\(s\), at \(row 0, column 0"):
        fitted.predict(np.array([[np.inf, 0.0, 0.0, 0.0]]))
    # DataFrame columns are named in the message.
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    with pytest.raises(ValueError, match=r"\(row 3, column 1 \('b'\)\)"):
        Est().fit(df, y)
    # Sparse matrices too.
    with pytest.raises(ValueError, match="2 NaN and 1 infinite"):
        Est().fit(sp.csr_matrix(X), y)


@pytest.mark.parametrize("Est1", SINGLE_LABEL, ids=[c.__name__ for c in SINGLE_LABEL])
def test_one_class_only(Est1):
    X, _ = make_classification_data()
    with pytest.raises(ValueError, match="only one class"):
        Est1().fit(X, np.full(len(X), 7))


def test_multilabel_label_with_one_value():
    # As scikit-learn's OneVsRestClassifier: a constant predictor and a warning
    # (issue 16: refusing it broke cross-validation on rare labels).
    X, Y = make_multilabel_data()
    Y = Y.copy()
    Y[:, 1] = 1
    with pytest.warns(UserWarning, match=r"Label\(s\) 1 \(always 1\).*one class only"):
        m = MultiLabelLogistic().fit(X, Y)
    P = m.predict_proba(X)
    np.testing.assert_allclose(P[:, 1], 1.0)
    assert np.all(m.predict(X)[:, 1] == 1)
    assert np.all(m.coef_[1] == 0)
    # the other labels are fitted as if the constant column were not there
    ref = MultiLabelLogistic().fit(X, np.delete(Y, 1, axis=1))
    np.testing.assert_allclose(np.delete(m.coef_, 1, axis=0), ref.coef_, rtol=1e-5, atol=1e-7)
    Y[:, 0] = 0
    Y[:, 2] = 0
    with pytest.raises(ValueError, match="Every label has one class only"):
        MultiLabelLogistic().fit(X, Y)


def test_mismatched_lengths(Est):
    X, y = data_for(Est)
    with pytest.raises(ValueError, match=r"80 samples.*79|79.*80"):
        Est().fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"sample_weight"):
        Est().fit(X, y, sample_weight=np.ones(len(X) - 1))


def test_one_dimensional_x(Est):
    X, y = data_for(Est)
    with pytest.raises(ValueError, match=r"(?s)Expected 2D array.*Reshape your data"):
        Est().fit(X[:, 0], y)


def test_wrong_feature_count_at_predict(Est):
    X, y = data_for(Est)
    m = Est().fit(X, y)
    for method in ("predict", "predict_proba", "decision_function", "predict_log_proba"):
        with pytest.raises(ValueError, match=r"X has 3 features.*expecting 4 features"):
            getattr(m, method)(X[:, :3])


def test_logistic_regression_names_the_multiclass_estimators():
    X, y = make_classification_data(k=3)
    names = ("SoftmaxRegression", "OneVsRestLogistic", "MultiLabelLogistic")
    with pytest.raises(ValueError) as err:
        LogisticRegression().fit(X, y)
    assert "3 classes" in str(err.value) and all(n in str(err.value) for n in names)
    _, Y = make_multilabel_data()
    with pytest.raises(ValueError) as err:
        LogisticRegression().fit(X, Y)
    assert "shape (80, 3)" in str(err.value) and all(n in str(err.value) for n in names)


def test_multilabel_rejects_class_labels():
    X, y = make_classification_data(k=3)
    with pytest.raises(ValueError, match=r"2-D 0/1 indicator.*SoftmaxRegression"):
        MultiLabelLogistic().fit(X, y)
    with pytest.raises(ValueError, match=r"entries in \{0, 1\}.*found \[2.0\]"):
        MultiLabelLogistic().fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="continuous"):
        MultiLabelLogistic().fit(X, np.random.default_rng(0).normal(size=(80, 2)))


def test_y_with_nan_is_rejected_with_rows(Est):
    if Est is MultiLabelLogistic:
        pytest.skip("NaN marks an unknown label in a multi-label y (tested above)")
    X, y = data_for(Est)
    y = y.astype(float)
    y[[4, 8]] = np.nan
    with pytest.raises(ValueError, match=r"2 NaN or infinite value\(s\), at rows \[4, 8\]"):
        Est().fit(X, y)


INVALID = [
    ("C", -1.0, "'C' parameter .* must be a float in the range \\(0, inf\\]"),
    ("C", 0, "'C' parameter"),
    ("penalty", "l3", "'penalty' parameter .* must be one of"),
    ("solver", "sgd-magic", "'solver' parameter .* must be 'auto' or one of"),
    ("tol", 0.0, "'tol' parameter"),
    ("max_iter", 0, "'max_iter' parameter .* int in the range \\[1, inf\\)"),
    ("max_iter", 2.5, "'max_iter' parameter"),
    ("l1_ratio", 1.5, "'l1_ratio' parameter"),
    ("fit_intercept", "yes", "'fit_intercept' parameter .* a bool"),
    ("class_weight", "even", "'class_weight' parameter"),
    ("dtype", "float16", "'dtype' parameter .* one of"),
]


@pytest.mark.parametrize(("param", "value", "match"), INVALID,
                         ids=[f"{p}={v!r}" for p, v, _ in INVALID])
def test_invalid_parameters(Est, param, value, match):
    X, y = data_for(Est)
    est = Est(**{param: value})
    assert est.get_params()[param] == value  # the constructor only stores
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


def test_invalid_softmax_parameterization():
    X, y = make_classification_data()
    with pytest.raises(ValueError, match="'parameterization' parameter"):
        SoftmaxRegression(parameterization="centered").fit(X, y)


def test_elasticnet_needs_l1_ratio(Est):
    X, y = data_for(Est)
    with pytest.raises(ValueError, match=r"needs l1_ratio.*l1_ratio=0.5"):
        Est(penalty="elasticnet").fit(X, y)


@pytest.mark.parametrize("solver", [n for n, s in sorted(SOLVERS.items())
                                    if not s.supports_nonsmooth])
def test_solver_that_cannot_take_l1_says_what_to_use(Est, solver):
    X, y = data_for(Est)
    with pytest.raises(ValueError, match=rf"solver='{solver}' cannot take penalty='l1'.*"
                                         "solver='auto'.*proximal"):
        Est(solver=solver, penalty="l1").fit(X, y)
    # auto picks a solver that can.
    assert Est(penalty="l1").fit(X, y).solver_ in [n for n, s in SOLVERS.items()
                                                    if s.supports_nonsmooth]


def test_negative_sample_weight(Est):
    X, y = data_for(Est)
    sw = np.ones(len(X))
    sw[0] = -1
    with pytest.raises(ValueError, match="negative"):
        Est().fit(X, y, sample_weight=sw)
    with pytest.raises(ValueError, match=r"(?i)sample weights (must contain at least one "
                                         r"non-zero|sum to zero)"):
        Est().fit(X, y, sample_weight=np.zeros(len(X)))


def test_unfitted(Est):
    X, _ = data_for(Est)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        with pytest.raises(NotFittedError):
            getattr(Est(), method)(X)


# -- separable data --------------------------------------------------------------------

# No finite minimizer exists, so a solver may also report that it did not converge.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_separable_without_penalty_warns_and_stays_finite(Est, solver):
    r = np.random.default_rng(3)
    X = r.normal(size=(40, 2))
    s = X[:, 0] + X[:, 1]
    if Est is MultiLabelLogistic:
        y = np.column_stack([s > 0, X[:, 0] > 0.2]).astype(int)
    elif Est is LogisticRegression:
        y = (s > 0).astype(int)
    else:
        y = np.digitize(s, [-0.7, 0.7])
    with pytest.warns(SeparableWarning, match="linearly separable.*penalty='l2'") as rec:
        m = Est(penalty=None, solver=solver).fit(X, y)
    assert [w.filename for w in rec if w.category is SeparableWarning] == [__file__]
    assert np.all(np.isfinite(m.coef_)) and np.all(np.isfinite(m.intercept_))
    assert np.all(np.isfinite(m.predict_proba(X)))
    # Penalized: a unique finite solution, no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparableWarning)
        Est(solver=solver).fit(X, y)


def test_partly_separable_names_the_outputs():
    r = np.random.default_rng(4)
    X = r.normal(size=(60, 2))
    noisy = (X[:, 1] + r.normal(size=60) > 0).astype(int)
    Y = np.column_stack([(X[:, 0] > 0).astype(int), noisy])
    with pytest.warns(SeparableWarning, match=r"outputs \[np.int64\(0\)\]|outputs \[0\]"):
        MultiLabelLogistic(penalty=None).fit(X, Y)


# -- huge values -------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1e4, 1e10, 1e150, 1e300])
def test_huge_x_gives_finite_results_without_warnings(Est, scale):
    X, y = data_for(Est)
    # all="raise" includes underflow: exp of a very negative logit is 0, and the
    # estimators treat that as the right value under any caller errstate.
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        # tol bounds the gradient in X's units: with X ~ 1e10 float64 resolves it
        # to ~1e-7 only, and saying so (ConvergenceWarning) is right.
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = Est(solver="newton-cholesky", tol=1e-9).fit(X * scale, y)
        P = m.predict_proba(X * scale)
        LP = m.predict_log_proba(X * scale)
        D = m.decision_function(X * scale)
    for arr in (m.coef_, m.intercept_, P, LP, D):
        assert np.all(np.isfinite(arr))
    # X s with C is X with C s^2 (W = W_s s; r(W_s) = r(W) / s^2): the same model.
    ref = Est(solver="newton-cholesky", tol=1e-9,
              C=scale**2 if scale < 1e150 else np.inf).fit(X, y)
    np.testing.assert_allclose(P, ref.predict_proba(X), atol=1e-5)
    coef, ref_coef = m.coef_ * scale, ref.coef_
    if Est is SoftmaxRegression:  # rows are defined up to a common shift when C is huge
        coef, ref_coef = coef - coef.mean(axis=0), ref_coef - ref_coef.mean(axis=0)
    np.testing.assert_allclose(coef, ref_coef, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_huge_logits_at_predict_are_finite_and_silent(Est, dtype):
    X, y = data_for(Est)
    m = Est(dtype=dtype).fit(X, y)
    big = 1e300 if dtype == "float64" else 1e30
    Xbig = np.array([[big, -big, big, -big], [-big, big, -big, big], [1e4, -1e4, 0, 0]])
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        # Logits up to 4 * 10 * big: huge but representable.
        assert np.abs(m.coef_).max() < 10
        P = m.predict_proba(Xbig)
        LP = m.predict_log_proba(Xbig)
    assert np.all(np.isfinite(P)) and np.all(np.isfinite(LP))
    assert np.all((P >= 0) & (P <= 1))


# -- inputs --------------------------------------------------------------------------------

def test_pandas_input_keeps_feature_names(Est):
    X, y = data_for(Est)
    df = pd.DataFrame(X, columns=["age", "income", "height", "score"])
    m = Est().fit(df, y)
    np.testing.assert_array_equal(m.feature_names_in_, ["age", "income", "height", "score"])
    np.testing.assert_allclose(m.predict_proba(df), Est().fit(X, y).predict_proba(X),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="feature names"):
        m.predict(df[["income", "age", "height", "score"]])
    assert not hasattr(Est().fit(X, y), "feature_names_in_")


def test_sparse_csr_equals_dense(Est):
    X, y = data_for(Est)
    X = X.copy()
    X[np.abs(X) < 0.5] = 0.0
    dense = Est(tol=1e-10).fit(X, y)
    for fmt in (sp.csr_matrix, sp.csr_array, sp.csc_matrix):
        sparse = Est(tol=1e-10).fit(fmt(X), y)
        np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(sparse.predict_proba(fmt(X)), dense.predict_proba(X),
                                   rtol=1e-8, atol=1e-12)


def test_float32_computes_in_float32_and_agrees_with_float64(Est, monkeypatch):
    X, y = data_for(Est)
    seen = []
    init = LinearObjective.__init__

    def spy(self, loss, X, *args, **kwargs):
        seen.append(X.dtype)
        init(self, loss, X, *args, **kwargs)

    monkeypatch.setattr(LinearObjective, "__init__", spy)
    m32 = Est(dtype="float32").fit(X, y)
    m64 = Est(dtype="float64").fit(X, y)
    assert seen == [np.float32, np.float64]
    P32 = m32.predict_proba(X)
    assert P32.dtype == np.float32
    np.testing.assert_allclose(P32, m64.predict_proba(X), atol=1e-4)
    np.testing.assert_allclose(m32.coef_, m64.coef_, atol=1e-3)
    assert m32.fit_record_.converged


@pytest.mark.parametrize(("solver", "penalty"),
                         [(s, p) for s in sorted(SOLVERS) for p in ("l2", "l1")
                          if p == "l2" or SOLVERS[s].supports_nonsmooth])
def test_float32_converges_with_every_solver(Est, solver, penalty):
    """Stopping rules scale with the working precision: a float32 objective cannot
    resolve decreases below ~1e-7 of its value, and no solver may chase them."""
    X, y = data_for(Est)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m32 = Est(solver=solver, penalty=penalty, dtype="float32").fit(X, y)
    m64 = Est(solver=solver, penalty=penalty).fit(X, y)
    assert m32.fit_record_.n_iter < 200
    np.testing.assert_allclose(m32.predict_proba(X), m64.predict_proba(X), atol=2e-4)


# -- weights ------------------------------------------------------------------------------

def test_integer_sample_weights_equal_row_repetition(Est):
    X, y = data_for(Est)
    counts = (np.arange(len(X)) // 3) % 3  # 0, 1 or 2 copies, not aligned with the labels
    rep = np.repeat(np.arange(len(X)), counts)
    weighted = Est(tol=1e-10).fit(X, y, sample_weight=counts)
    repeated = Est(tol=1e-10).fit(X[rep], y[rep])
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-7,
                               atol=1e-10)


@pytest.mark.parametrize("Est1", SINGLE_LABEL, ids=[c.__name__ for c in SINGLE_LABEL])
def test_class_weight_is_a_per_class_sample_weight(Est1):
    X, y = data_for(Est1)
    classes = np.unique(y)
    cw = {c: 1.0 + i for i, c in enumerate(classes)}
    a = Est1(class_weight=cw, tol=1e-10).fit(X, y)
    b = Est1(tol=1e-10).fit(X, y, sample_weight=np.array([cw[c] for c in y]))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8, atol=1e-12)
    # 'balanced' is scikit-learn's n / (K n_k), here on imbalanced data.
    keep = np.r_[np.flatnonzero(y == classes[0])[:10], np.flatnonzero(y != classes[0])]
    Xi, yi = X[keep], y[keep]
    bal = compute_class_weight("balanced", classes=classes, y=yi)
    a = Est1(class_weight="balanced", tol=1e-10).fit(Xi, yi)
    b = Est1(tol=1e-10).fit(Xi, yi, sample_weight=bal[np.searchsorted(classes, yi)])
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-8, atol=1e-12)
    # Weighting class 0 up raises its predicted share.
    up = Est1(class_weight={classes[0]: 5.0}).fit(X, y)
    assert up.predict_proba(X)[:, 0].mean() > Est1().fit(X, y).predict_proba(X)[:, 0].mean()


def test_multilabel_balanced_class_weight():
    X, Y = make_multilabel_data()
    m = MultiLabelLogistic(class_weight="balanced", tol=1e-10).fit(X, Y)
    for j in range(Y.shape[1]):
        n, pos = len(Y), Y[:, j].sum()
        sw = np.where(Y[:, j] == 1, n / (2 * pos), n / (2 * (n - pos)))
        lr = LogisticRegression(tol=1e-10).fit(X, Y[:, j], sample_weight=sw)
        np.testing.assert_allclose(m.coef_[j], lr.coef_[0], rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="class_weight=None or 'balanced'"):
        MultiLabelLogistic(class_weight={0: 2.0}).fit(X, Y)


# -- warm start, fit record, convergence --------------------------------------------------------

@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_warm_start_reuses_the_coefficients(Est, solver):
    X, y = data_for(Est)
    cold = Est(C=0.6, solver=solver, tol=1e-8).fit(X, y)
    warm = Est(C=0.5, solver=solver, tol=1e-8, warm_start=True).fit(X, y)
    previous = warm.fit_record_.objective
    warm.set_params(C=0.6)
    warm.fit(X, y)
    # The solve starts from the previous coefficients: near the new optimum.
    start = warm.fit_record_.history
    assert start["grad_norm"][0] < 0.05 * cold.fit_record_.history["grad_norm"][0]
    assert start["objective"][0] < cold.fit_record_.history["objective"][0]
    assert abs(start["objective"][0] - previous) < 0.1 * abs(previous)
    if solver != "proximal":  # FISTA's count depends little on the start (momentum)
        assert warm.fit_record_.n_iter < cold.fit_record_.n_iter
    np.testing.assert_allclose(warm.predict_proba(X), cold.predict_proba(X), atol=1e-6)
    # Refitting at the solution: (almost) nothing left to do.
    warm.fit(X, y)
    assert warm.fit_record_.n_iter <= 2
    # warm_start=False starts from zero every time.
    again = clone(cold).fit(X, y)
    assert again.fit_record_.n_iter == cold.fit_record_.n_iter


def test_fit_record(Est):
    X, y = data_for(Est)
    m = Est().fit(X, y)
    rec = m.fit_record_
    assert rec.converged and rec.grad_norm <= m.tol
    assert m.n_iter_[0] == rec.n_iter and m.solver_ == rec.solver
    for key in ("iteration", "objective", "grad_norm", "seconds"):
        assert len(rec.history[key]) == rec.n_iter + 1
    assert rec.n_grad_evals >= rec.n_iter
    assert rec.seconds > 0
    assert rec.objective == pytest.approx(rec.history["objective"][-1])
    assert rec.objective < rec.history["objective"][0]
    # auto: few parameters and many rows -> Newton-Cholesky; with L1 -> proximal Newton.
    assert rec.solver == "newton-cholesky"
    assert Est(penalty="l1").fit(X, y).solver_ == "proximal-newton"


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_convergence_warning_gives_advice(Est, solver):
    X, y = data_for(Est)
    with pytest.warns(ConvergenceWarning) as rec:
        m = Est(solver=solver, max_iter=1, tol=1e-12).fit(X, y)
    msg = str(rec[0].message)
    assert rec[0].filename == __file__  # points at the caller's fit()
    assert re.search(rf"solver='{solver}' did not converge", msg)
    assert "Increase max_iter (now 1)" in msg and "StandardScaler" in msg
    assert f"try solver='{solver}'" not in msg and f"/ '{solver}'" not in msg
    assert not m.fit_record_.converged and m.fit_record_.n_iter <= 1
    assert np.all(np.isfinite(m.coef_))


def test_fit_does_not_change_parameters_and_clone_works(Est):
    X, y = data_for(Est)
    est = Est(C=0.3, tol=1e-7)
    before = est.get_params()
    est.fit(X, y)
    assert est.get_params() == before
    copy = clone(est)
    assert copy.get_params() == before and not hasattr(copy, "coef_")


@pytest.mark.parametrize("module", ["logistic", "softmax", "ovr", "multilabel"])
def test_docstring_examples_run(module):
    """The Examples sections of the estimator docstrings are correct as printed."""
    mod = importlib.import_module(f"sigmax.estimators.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# -- memory-lean target encoding (issue 4): same results as the plain NumPy forms ----------------
@pytest.mark.parametrize("y", [
    np.array([3, -1, 3, 7, -1]), np.array([-128, 127, 0, -128], dtype=np.int8),
    np.array([5, 200, 5], dtype=np.uint8), np.array([2**64 - 1, 3], dtype=np.uint64),
    np.array([10**12, -(10**12), 0]), np.array([0.5, -2.0, 0.5]), np.array(["b", "a", "b"]),
    np.array([True, False, True]), np.arange(200_000) % 3])
@pytest.mark.parametrize("code_dtype", [np.intp, np.int8])
def test_unique_inverse_equals_numpy_unique(y, code_dtype):
    from sigmax.estimators._base import _unique_inverse

    classes, codes = _unique_inverse(y, code_dtype)
    ref_classes, ref_codes = np.unique(y, return_inverse=True)
    np.testing.assert_array_equal(classes, ref_classes)
    assert classes.dtype == ref_classes.dtype
    np.testing.assert_array_equal(codes, ref_codes)
    assert codes.dtype in (np.dtype(code_dtype), np.dtype(np.intp))


@pytest.mark.parametrize("Est", [LogisticRegression, SoftmaxRegression, MultiLabelLogistic])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_no_sample_weight_equals_unit_sample_weight(Est, dtype):
    """No sample weights (unit weights as a broadcast view, the fast kernels) and explicit
    weights of one give the same model."""
    if Est is MultiLabelLogistic:
        X, y = make_multilabel_data(n=120)
    else:
        X, y = make_classification_data(n=120, k=2 if Est is LogisticRegression else 3)
    a = Est(dtype=dtype, tol=1e-8).fit(X, y)
    b = Est(dtype=dtype, tol=1e-8).fit(X, y, sample_weight=np.ones(len(X)))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-6, atol=1e-7)


def test_multilabel_unknown_entries_and_bad_values_with_lean_checks():
    X, Y = make_multilabel_data(n=60)
    Yn = Y.astype(float)
    Yn[0, 0] = np.nan
    m = MultiLabelLogistic(dtype="float32").fit(X, Yn)
    assert m.coef_.shape == (Y.shape[1], X.shape[1])
    Yb = Y.astype(float)
    Yb[3, 1] = 2.0
    with pytest.raises(ValueError, match=r"entries in \{0, 1\}.*\[2\.0\]"):
        MultiLabelLogistic().fit(X, Yb)


# -- the one pass over X that validates it and sizes it ------------------------------

def test_value_range_is_min_and_max_of_every_layout():
    from sigmax.estimators._base import _RANGE_CHUNK, _value_range

    r = np.random.default_rng(0)
    X = r.normal(size=(3 * _RANGE_CHUNK // 40 + 7, 40))  # several chunks and a partial one
    X[-1, -1] = 9.0  # the extremes in the last, partial chunk
    X[-2, 3] = -11.0
    for A in (X, np.asfortranarray(X), X[:, ::2], X.astype(np.float32), sp.csr_matrix(X)):
        data = A.data if sp.issparse(A) else A
        assert _value_range(A) == (float(np.min(data)), float(np.max(data)))
    assert _value_range(np.empty((0, 3))) == (0.0, 0.0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_value_past_the_first_chunk_is_found(bad):
    from sigmax.estimators._base import _RANGE_CHUNK

    X, y = make_classification_data(n=2 * _RANGE_CHUNK // 4, d=4, k=2, seed=1)
    X = X.copy()
    X[-3, 2] = bad
    kind = "NaN" if np.isnan(bad) else "infinite"
    with pytest.raises(ValueError, match=rf"1 {kind} value\(s\), at \(row {len(X) - 3}, column 2"):
        LogisticRegression().fit(X, y)


def test_huge_x_over_several_chunks_is_rescaled_like_a_small_one():
    # The fit sizes X from the range measured when it was validated; over
    # several chunks the maximum must still be found, or X * 1e200 would be
    # squared unscaled and overflow in the Hessian.
    from sigmax.estimators._base import _RANGE_CHUNK

    X, y = make_classification_data(n=2 * _RANGE_CHUNK // 4, d=4, k=2, seed=2)
    X = X / np.abs(X).max()
    X[-1, 0] = 1.0  # the largest entry in the last chunk
    scale = 1e200
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        big = LogisticRegression(solver="newton-cholesky", tol=1e-9).fit(X * scale, y)
    ref = LogisticRegression(solver="newton-cholesky", tol=1e-9, C=np.inf).fit(X, y)
    assert np.all(np.isfinite(big.coef_))
    np.testing.assert_allclose(big.coef_ * scale, ref.coef_, rtol=1e-4, atol=1e-6)
