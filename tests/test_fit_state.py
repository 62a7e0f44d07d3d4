"""A failed fit keeps the old model; concurrent fits of one estimator; bad weights (issue 16)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigmax import LogisticRegression, MultiLabelLogistic, OneVsRestLogistic, SoftmaxRegression

ESTIMATORS = [LogisticRegression, SoftmaxRegression, OneVsRestLogistic]


def _data(n=60, k=2, seed=0):
    r = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = r.normal(size=(n, 3)) + y[:, None]
    return X, y


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_failed_refit_keeps_the_previous_model(Est):
    X, y = _data()
    m = Est().fit(X, y)
    coef, classes = m.coef_.copy(), m.classes_.copy()
    expected = m.predict(X)
    labels = np.array(["cat", "dog"])[y]
    with pytest.raises(ValueError, match="negative"):
        m.fit(X, labels, sample_weight=-np.ones(len(y)))
    assert m.classes_.tolist() == classes.tolist()
    np.testing.assert_array_equal(m.coef_, coef)
    np.testing.assert_array_equal(m.predict(X), expected)


def test_concurrent_fits_of_one_estimator_leave_a_consistent_model():
    X2, y2 = _data(k=2)
    X3, y3 = _data(k=3, seed=1)
    labels3 = np.array(["a", "b", "c"])[y3]
    m = SoftmaxRegression()
    errors = []

    def work(X, y):
        try:
            for _ in range(5):
                m.fit(X, y)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=a) for a in ((X2, y2), (X3, labels3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert m.coef_.shape[0] == len(m.classes_)
    # the stored model is the one fit on its own labels
    ref = SoftmaxRegression().fit(*((X2, y2) if len(m.classes_) == 2 else (X3, labels3)))
    np.testing.assert_allclose(m.coef_, ref.coef_, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("kwargs", "fit_kwargs", "needle"), [
    ({}, {"sample_weight": np.full(60, 1e308)}, "float range"),
    ({}, {"sample_weight": np.r_[np.inf, np.ones(59)]}, "infinit"),
    ({"class_weight": {0: np.inf, 1: 1.0}}, {}, "class_weight"),
    ({"tol": np.inf}, {}, "finite float"),
])
def test_weights_and_tol_out_of_range_are_refused(kwargs, fit_kwargs, needle):
    X, y = _data()
    with pytest.raises(ValueError, match=needle):
        LogisticRegression(**kwargs).fit(X, y, **fit_kwargs)


def test_l1_ratio_without_elasticnet_warns():
    X, y = _data()
    with pytest.warns(UserWarning, match="only used with penalty='elasticnet'"):
        LogisticRegression(l1_ratio=0.5).fit(X, y)


def test_mixed_label_types_are_one_clear_error():
    X, _ = _data()
    labels = np.array([1, "a"] * 30, dtype=object)
    with pytest.raises(ValueError, match="mixes text and numeric"):
        SoftmaxRegression().fit(X, labels)


@pytest.mark.parametrize("Est", [*ESTIMATORS])
def test_probabilities_finite_at_huge_features(Est):
    X, y = _data(k=2 if Est is LogisticRegression else 3)
    m = Est().fit(X, y)
    for row in ([[1e308, 1e308, -1e308]], [[1e308, 0, 0]], [[-1e308, 5, 1e-300]]):
        P = m.predict_proba(np.array(row, dtype=float))
        assert np.all(np.isfinite(P)), P
        np.testing.assert_allclose(P.sum(axis=1), 1.0)
        L = m.predict_log_proba(np.array(row, dtype=float))
        assert not np.any(np.isnan(L))
    # agrees with the exact answer on a row that does not overflow
    P = m.predict_proba(X[:5])
    Z = X[:5] @ m.coef_.T + m.intercept_
    assert np.argmax(P, axis=1).tolist() == np.argmax(
        Z if Z.shape[1] > 1 else np.c_[-Z, Z], axis=1).tolist()


_magnitudes = st.floats(min_value=-300, max_value=300)


@given(e=_magnitudes, seed=st.integers(0, 50))
def test_property_probabilities_finite_and_failed_fit_keeps_model(e, seed):
    """Arrays from 1e-300 to 1e300 in magnitude: probabilities finite, rows sum to 1."""
    r = np.random.default_rng(seed)
    n = 30
    y = np.arange(n) % 3
    X = (r.normal(size=(n, 2)) + y[:, None]) * 10.0 ** e
    for Est in (SoftmaxRegression, OneVsRestLogistic, LogisticRegression):
        yy = y if Est is not LogisticRegression else y % 2
        m = Est(max_iter=200).fit(X, yy)
        P = m.predict_proba(X)
        assert np.all(np.isfinite(P))
        np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-9)
        before = m.coef_.copy()
        with pytest.raises(ValueError):
            m.fit(X, yy, sample_weight=np.full(n, -1.0))
        np.testing.assert_array_equal(m.coef_, before)
    Y = np.c_[y == 0, y == 1].astype(int)
    P = MultiLabelLogistic(max_iter=200).fit(X, Y).predict_proba(X)
    assert np.all(np.isfinite(P)) and np.all((P >= 0) & (P <= 1))


def test_warnings_point_at_the_callers_fit():
    X, y = _data()
    with pytest.warns(UserWarning) as rec:
        LogisticRegression(l1_ratio=0.5).fit(X, y)
    assert rec[0].filename == __file__


@pytest.mark.parametrize("Est", [*ESTIMATORS, MultiLabelLogistic])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_coef_dtype_follows_the_working_dtype(Est, dtype):
    X, y = _data(k=2 if Est is LogisticRegression else 3)
    if Est is MultiLabelLogistic:
        y = np.c_[y == 0, y == 1].astype(int)
    m = Est(dtype=dtype).fit(X, y)
    assert m.coef_.dtype == np.dtype(dtype)
    assert m.intercept_.dtype == np.dtype(dtype)
    assert m.predict_proba(X).dtype in (np.float32, np.float64)
