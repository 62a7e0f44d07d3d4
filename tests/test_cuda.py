"""The torch backend on a CUDA GPU: same models as NumPy, tensors stay on the device.

Skipped where ``torch.cuda.is_available()`` is False (CI has no GPU); run on a
GPU machine with ``python -m pytest tests/test_cuda.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from backend_cases import CASES, PENALTIES, backend_data, quiet_fit, target

from sigmax import SoftmaxRegression
from sigmax.backends.array import ArrayObjective
from sigmax.backends.kernels import KERNELS
from sigmax.losses import LOSSES
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(("penalty", "extra"), PENALTIES)
def test_cuda_gives_the_numpy_coefficients(case, penalty, extra):
    Est, kw, kind = CASES[case]
    X, y3, Yml = backend_data()
    y = target(kind, y3, Yml)
    params = dict(penalty=None if penalty == "none" else penalty, C=0.1, tol=1e-9,
                  max_iter=3000, **kw, **extra)
    ref = quiet_fit(Est(**params), X, y)
    Xc = torch.from_numpy(X).to("cuda")
    got = quiet_fit(Est(**params), Xc, torch.from_numpy(y).to("cuda"))
    np.testing.assert_allclose(got.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, atol=1e-6)
    out = got.predict_proba(Xc)
    assert isinstance(out, torch.Tensor) and out.device.type == "cuda"
    np.testing.assert_allclose(out.cpu().numpy(), ref.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_cuda_objective_matches_numpy_objective_at_extreme_logits(name):
    rng = np.random.default_rng(8)
    loss = LOSSES[name]
    n, d, K = 150, 5, 3
    X = rng.normal(size=(n, d))
    Y = (rng.integers(0, 2, n).astype(float) if name == "binomial" else
         rng.integers(0, 2, (n, K)).astype(float) if name == "multilabel" else
         rng.integers(0, K, n))
    weights, k = rng.uniform(0.5, 2, n), loss.n_outputs(K)
    pen = make_penalty("l2")
    ref = LinearObjective(loss, X, Y, weights, k, C=2.0, penalty=pen)
    got = ArrayObjective(loss, torch.from_numpy(X).to("cuda"), Y, weights, k, C=2.0,
                         penalty=pen)
    w = 300 * rng.normal(size=ref.n_params)  # logits far beyond exp's overflow
    v = rng.normal(size=ref.n_params)
    f_ref, g_ref = ref.value_and_grad(w)
    f_got, g_got = got.value_and_grad(w)
    assert np.isfinite(f_got) and np.all(np.isfinite(g_got))
    assert f_got == pytest.approx(f_ref, rel=1e-12)
    np.testing.assert_allclose(g_got, g_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.hessp(w, v), ref.hessp(w, v), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "newton-cholesky", "minibatch"])
def test_every_solver_runs_on_cuda(solver):
    X, y3, _ = backend_data(1)
    ref = SoftmaxRegression(C=1.0, solver=solver, tol=1e-8, max_iter=3000).fit(X, y3)
    got = SoftmaxRegression(C=1.0, solver=solver, tol=1e-8, max_iter=3000,
                            backend="torch", device="cuda").fit(X, y3)
    assert got.fit_record_.converged
    np.testing.assert_allclose(got.coef_, ref.coef_, atol=1e-6)


def test_float32_on_cuda():
    X, y3, _ = backend_data(4)
    X32 = torch.from_numpy(X.astype(np.float32)).to("cuda")
    est = SoftmaxRegression(C=1.0, dtype="float32").fit(X32, y3)
    ref = SoftmaxRegression(C=1.0).fit(X, y3)
    proba = est.predict_proba(X32)
    assert proba.dtype == torch.float32 and proba.device.type == "cuda"
    assert est.fit_record_.converged
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-4)


def test_shared_trunk_trains_on_cuda():
    import pandas as pd

    from sigmax import MultiHeadClassifier

    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, size=(600, 2))
    y = pd.DataFrame({"ring": np.digitize(np.hypot(X[:, 0], X[:, 1]), [0.45, 0.8]),
                      "xor": (X[:, 0] * X[:, 1] > 0).astype(int)})
    kw = dict(heads={"ring": "softmax", "xor": "sigmoid"}, hidden=(32,), random_state=0)
    gpu = MultiHeadClassifier(device="cuda", **kw).fit(X, y)
    cpu = MultiHeadClassifier(device="cpu", **kw).fit(X, y)
    # Same seed and data: both devices learn the nonlinear heads (not bitwise
    # equal: cuBLAS and the CPU sum in different orders).
    for model in (gpu, cpu):
        assert model.score(X, y) > 0.9
    P = gpu.predict_proba(X)
    assert P["ring"].shape == (len(X), 3)
