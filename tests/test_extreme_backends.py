"""Huge features on the torch and dask backends fit like NumPy (issue 16, item 6)."""

from __future__ import annotations

import numpy as np
import pytest

from sigmax import LogisticRegression, SoftmaxRegression


def _data(k=2):
    r = np.random.default_rng(0)
    y = np.arange(120) % k
    X = r.normal(size=(120, 3)) + y[:, None]
    return X * 1e200, y


@pytest.mark.parametrize("Est", [LogisticRegression, SoftmaxRegression])
def test_torch_fits_huge_features_like_numpy(Est):
    torch = pytest.importorskip("torch")
    X, y = _data(3 if Est is SoftmaxRegression else 2)
    ref = Est().fit(X, y)
    assert np.abs(ref.coef_).max() > 0
    m = Est(backend="torch").fit(torch.from_numpy(X), y)
    # At this scale the L2 penalty is ~1e-400: the fit is unpenalized in effect,
    # so the coefficients are compared through what they predict.
    assert np.abs(m.coef_).max() > 0
    np.testing.assert_allclose(np.asarray(m.predict_proba(torch.from_numpy(X))),
                               ref.predict_proba(X), atol=1e-6)
    P = np.asarray(m.predict_proba(torch.from_numpy(X[:5] * 1e100)))
    assert np.all(np.isfinite(P)) and np.allclose(P.sum(axis=1), 1.0)


@pytest.mark.parametrize("Est", [LogisticRegression, SoftmaxRegression])
def test_dask_fits_huge_features_like_numpy(Est):
    da = pytest.importorskip("dask.array")
    import dask

    X, y = _data(3 if Est is SoftmaxRegression else 2)
    ref = Est().fit(X, y)
    with dask.config.set(scheduler="synchronous"):
        m = Est(backend="dask").fit(da.from_array(X, chunks=40), y)
        P = np.asarray(m.predict_proba(da.from_array(X[:5] * 1e100, chunks=5)))
    assert np.abs(m.coef_).max() > 0
    np.testing.assert_allclose(m.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    assert np.all(np.isfinite(P)) and np.allclose(P.sum(axis=1), 1.0)
