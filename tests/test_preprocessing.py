"""Overflow-free standardization (issue 16, item 4)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler

from sigmax.datasets import Dataset, fit_dataset
from sigmax.preprocessing import StableScaler


def test_matches_standard_scaler_on_ordinary_data():
    X = np.random.default_rng(0).normal(size=(40, 3)) * [1.0, 10.0, 0.1] + [5, -2, 0]
    np.testing.assert_allclose(StableScaler().fit_transform(X),
                               StandardScaler().fit_transform(X), atol=1e-12)


@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e-310])
def test_extreme_columns_keep_their_information(scale):
    r = np.random.default_rng(1)
    X = r.normal(size=(50, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / underflow warning either
        Z = StableScaler().fit_transform(X * [scale, 1.0])
    ref = StandardScaler().fit_transform(X)
    np.testing.assert_allclose(Z, ref, atol=1e-9 if scale > 1e-308 else 1e-6)


def test_constant_column_is_centred_only():
    X = np.c_[np.full(10, 1e300), np.arange(10.0)]
    Z = StableScaler().fit_transform(X)
    np.testing.assert_allclose(Z[:, 0], 0.0, atol=1e-12)


def test_raw_coefficients_give_the_same_logits():
    r = np.random.default_rng(2)
    X = r.normal(size=(30, 3)) * [3.0, 0.5, 2.0] + [1, 2, 3]
    sc = StableScaler().fit(X)
    W, b = r.normal(size=(2, 3)), r.normal(size=2)
    raw_W, raw_b = sc.raw_coefficients(W, b)
    np.testing.assert_allclose(X @ raw_W.T + raw_b, sc.transform(X) @ W.T + b, atol=1e-10)


def test_fit_dataset_keeps_a_column_near_1e300():
    r = np.random.default_rng(3)
    n = 200
    y = (np.arange(n) % 2)
    x1 = r.normal(size=n) + 2.0 * y  # the informative column
    x2 = r.normal(size=n)
    base = pd.DataFrame({"x1": x1, "x2": x2})
    huge = pd.DataFrame({"x1": x1 * 1e300, "x2": x2})
    labels = pd.Series(np.array(["a", "b"])[y], name="label")
    accs = []
    for X in (base, huge):
        ds = Dataset(name="t", X=X, y=labels, task="binary", description="")
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            est = fit_dataset(ds, "logistic")
        accs.append(float(est.score(X, labels)))
    assert accs[0] > 0.8
    assert accs[1] == pytest.approx(accs[0])
