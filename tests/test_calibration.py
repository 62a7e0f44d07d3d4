"""Post-hoc calibration: temperature, vector and Platt scaling."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import log_loss

from sigmax import (
    LogisticRegression,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SoftmaxRegression,
    calibrate,
)
from sigmax.calibration import CalibratedModel, load_calibrated
from sigmax.numerics import softmax


def _blobs(n: int, seed: int, k: int = 3, d: int = 5):
    # The same class centers for every seed: training and validation sets
    # come from one distribution.
    centers = np.random.default_rng(99).normal(size=(k, d))
    y = np.arange(n) % k
    return centers[y] + np.random.default_rng(seed).normal(size=(n, d)), y


def _nll(log_proba, y):
    return -float(np.mean(log_proba[np.arange(len(y)), y]))


def test_temperature_lowers_validation_loss_of_an_overconfident_model():
    X, y = _blobs(30, 0)
    Xv, yv = _blobs(600, 1)
    model = SoftmaxRegression(C=1e6).fit(X, y)  # few rows, nearly no penalty: over-confident
    cal = calibrate(model, Xv, yv, method="temperature")
    before = _nll(model.predict_log_proba(Xv), yv)
    after = _nll(cal.predict_log_proba(Xv), yv)
    assert log_loss(yv, cal.predict_proba(Xv)) < log_loss(yv, model.predict_proba(Xv))
    assert after < before - 0.05
    assert cal.temperature_ > 1.0  # over-confident logits are cooled
    np.testing.assert_allclose(cal.loss_before_, before, rtol=1e-8)
    np.testing.assert_allclose(cal.loss_after_, after, rtol=1e-8)
    np.testing.assert_array_equal(cal.predict(Xv), model.predict(Xv))  # argmax unchanged


def test_temperature_recovers_a_known_temperature():
    # Labels drawn from softmax(Z / T_true) where Z are the model's own logits:
    # the fitted temperature must find T_true.
    X, y = _blobs(300, 2)
    model = SoftmaxRegression(C=1.0).fit(X, y)
    Xv, _ = _blobs(20000, 3)
    Z = model.decision_function(Xv)
    t_true = 2.5
    P = softmax(Z / t_true, axis=1)
    r = np.random.default_rng(4)
    yv = np.array([r.choice(3, p=p) for p in P])
    cal = calibrate(model, Xv, yv)
    assert abs(cal.temperature_ - t_true) < 0.15


@pytest.mark.parametrize("method", ["temperature", "vector", "platt"])
@pytest.mark.parametrize("cls", [LogisticRegression, OneVsRestLogistic])
def test_sigmoid_models_all_methods(cls, method):
    k = 2 if cls is LogisticRegression else 3
    X, y = _blobs(40, 5, k=k)
    Xv, yv = _blobs(400, 6, k=k)
    model = cls(C=1e4).fit(X, y)
    cal = calibrate(model, Xv, yv, method=method)
    P = cal.predict_proba(Xv)
    assert P.shape == (400, k) and np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert cal.loss_after_ <= cal.loss_before_ + 1e-12
    assert set(np.unique(cal.predict(Xv))) <= set(model.classes_)
    if method == "temperature":
        np.testing.assert_array_equal(cal.predict(Xv), model.predict(Xv))


def test_multilabel_platt():
    X, y = _blobs(60, 7)
    Y = np.column_stack([y == 0, y == 1]).astype(float)
    Xv, yv = _blobs(400, 8)
    Yv = np.column_stack([yv == 0, yv == 1]).astype(float)
    model = MultiLabelLogistic(C=1e4).fit(X, Y)
    cal = calibrate(model, Xv, Yv, method="platt")
    assert cal.predict_proba(Xv).shape == (400, 2)
    assert cal.predict(Xv).shape == (400, 2)
    assert cal.loss_after_ <= cal.loss_before_


def test_vector_scaling_softmax_and_platt_refused():
    X, y = _blobs(40, 9)
    Xv, yv = _blobs(300, 10)
    model = SoftmaxRegression(C=1e4).fit(X, y)
    cal = calibrate(model, Xv, yv, method="vector")
    assert cal.scale_.shape == (3,) and cal.bias_.shape == (3,)
    assert cal.loss_after_ <= calibrate(model, Xv, yv).loss_after_ + 1e-9  # more freedom
    with pytest.raises(ValueError, match="softmax"):
        calibrate(model, Xv, yv, method="platt")
    with pytest.raises(ValueError, match="method"):
        calibrate(model, Xv, yv, method="isotonic")
    with pytest.raises(ValueError, match="not fitted on"):
        calibrate(model, Xv, yv + 7)


def test_extreme_logits_stay_finite():
    X, y = _blobs(40, 11)
    model = SoftmaxRegression(C=1e4).fit(X, y)
    cal = calibrate(model, *_blobs(200, 12))
    P = cal.predict_proba(X * 1e6)
    assert np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


@pytest.mark.parametrize("method", ["temperature", "vector"])
def test_save_load_round_trip(tmp_path, method):
    X, y = _blobs(60, 13)
    Xv, yv = _blobs(200, 14)
    cal = calibrate(OneVsRestLogistic(C=100).fit(X, y), Xv, yv, method=method)
    cal.save(tmp_path / "cal.safetensors")
    back = load_calibrated(tmp_path / "cal.safetensors")
    assert isinstance(back, CalibratedModel)
    np.testing.assert_array_equal(back.predict_proba(Xv), cal.predict_proba(Xv))
    np.testing.assert_array_equal(back.predict(Xv), cal.predict(Xv))
    assert back.method == method
    plain = tmp_path / "plain.safetensors"
    cal.estimator.save(plain)
    with pytest.raises(ValueError, match="no calibration"):
        load_calibrated(plain)


def test_sklearn_calibrated_classifier_cv_accepts_our_estimators():
    X, y = _blobs(150, 15)
    clf = CalibratedClassifierCV(SoftmaxRegression(C=10), method="sigmoid", cv=3).fit(X, y)
    P = clf.predict_proba(X)
    assert P.shape == (150, 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert clf.score(X, y) > 0.5
