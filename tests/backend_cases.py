"""Shared data and cases of the backend tests (NumPy vs torch vs dask)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sigmax import LogisticRegression, MultiLabelLogistic, OneVsRestLogistic, SoftmaxRegression

PENALTIES = [("none", {}), ("l2", {}), ("l1", {}), ("elasticnet", {"l1_ratio": 0.5})]

CASES = {
    "logistic": (LogisticRegression, {}, "binary"),
    "softmax": (SoftmaxRegression, {}, "classes"),
    "softmax-reference": (SoftmaxRegression, {"parameterization": "reference"}, "classes"),
    "ovr": (OneVsRestLogistic, {}, "classes"),
    "multilabel": (MultiLabelLogistic, {}, "labels"),
}


def backend_data(seed: int = 0, n: int = 240, d: int = 4):
    """``X``, a 3-class label vector and a 3-label indicator drawn from one linear model."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, 3))
    y3 = np.argmax(X @ W + rng.gumbel(size=(n, 3)), axis=1)
    Yml = (X @ W + rng.logistic(size=(n, 3)) > 0).astype(int)
    return X, y3, Yml


def target(kind: str, y3: np.ndarray, Yml: np.ndarray) -> np.ndarray:
    """The target of a case's kind: binary, exclusive classes or labels."""
    return {"binary": (y3 == 0).astype(int), "classes": y3, "labels": Yml}[kind]


def quiet_fit(est, X, y, **kw):
    """Fit with separable / convergence warnings silenced (they are not the point here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y, **kw)


def reference_fit(case: str, penalty: str, extra: dict, tol: float):
    """A case fitted on NumPy: ``(Est, params, X, y, ref)``, ``params`` to refit on a backend."""
    Est, kw, kind = CASES[case]
    X, y3, Yml = backend_data()
    y = target(kind, y3, Yml)
    params = dict(penalty=None if penalty == "none" else penalty, C=0.1, tol=tol,
                  max_iter=3000, **kw, **extra)
    return Est, params, X, y, quiet_fit(Est(**params), X, y)

def assert_same_objective(ref, got, w: np.ndarray, v: np.ndarray) -> None:
    """``got`` (a backend's objective) equals ``ref`` (LinearObjective) at ``w``, along ``v``."""
    f_ref, g_ref = ref.value_and_grad(w)
    f_got, g_got = got.value_and_grad(w)
    assert f_got == pytest.approx(f_ref, rel=1e-12)
    np.testing.assert_allclose(g_got, g_ref, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(got.hessp(w, v), ref.hessp(w, v), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(got.hessian(w), ref.hessian(w), rtol=1e-10, atol=1e-13)
    assert got.value(w) == pytest.approx(ref.value(w), rel=1e-12)
    assert got.objective(w) == pytest.approx(ref.objective(w), rel=1e-12)
    assert got.optimality(w, g_got) == pytest.approx(ref.optimality(w, g_ref), rel=1e-9)
