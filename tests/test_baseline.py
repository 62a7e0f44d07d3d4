"""The class-frequency baseline of the study."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import log_loss

from sigmax import SoftmaxRegression
from sigmax.study.baseline import FrequencyBaseline


def test_frequencies_and_the_intercept_only_model():
    y = np.array(["a"] * 60 + ["b"] * 30 + ["c"] * 10)
    X = np.zeros((100, 2))
    b = FrequencyBaseline().fit(X, y)
    np.testing.assert_allclose(b.frequencies_, [60.5 / 101.5, 30.5 / 101.5, 10.5 / 101.5])
    assert b.predict(X[:3]).tolist() == ["a", "a", "a"]
    # the unpenalized intercept-only softmax gives the raw frequencies (close to these)
    m = SoftmaxRegression(penalty=None).fit(X, y)
    np.testing.assert_allclose(m.predict_proba(X[:1])[0], [0.6, 0.3, 0.1], atol=1e-6)
    assert log_loss(y, b.predict_proba(X), labels=b.classes_) > 0


def test_weighted_and_multilabel():
    Y = np.array([[1, 0], [1, 1], [0, 0], [1, 0]])
    b = FrequencyBaseline().fit(np.zeros((4, 1)), Y, sample_weight=[1, 1, 1, 3])
    np.testing.assert_allclose(b.frequencies_, [(5 + 0.5) / 7, (1 + 0.5) / 7])
    assert b.predict(np.zeros((2, 1))).tolist() == [[1, 0], [1, 0]]
