"""The torch backend on CPU: same models as NumPy, tensors in and tensors out."""

from __future__ import annotations

import numpy as np
import pytest
from backend_cases import CASES, PENALTIES, backend_data, quiet_fit, reference_fit

from sigmax import LogisticRegression, SoftmaxRegression
from sigmax.backends.array import ArrayObjective
from sigmax.losses import LOSSES
from sigmax.losses import LOSSES as KERNELS
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")

#: Every test taking ``device`` also runs on a CUDA GPU where one is present
#: (``bash benchmarks/gpu_check.sh`` on a GPU machine); CI has none.
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA GPU here"))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(("penalty", "extra"), PENALTIES)
def test_torch_gives_the_numpy_coefficients(case, penalty, extra, device):
    Est, params, X, y, ref = reference_fit(case, penalty, extra, tol=1e-9)
    Xt = torch.from_numpy(X).to(device)
    got = quiet_fit(Est(**params), Xt, torch.from_numpy(y).to(device))
    assert got.solver_ == ref.solver_
    np.testing.assert_allclose(got.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, atol=1e-6)
    np.testing.assert_array_equal(got.classes_, ref.classes_)
    out = got.predict_proba(Xt)  # stays on the device of X
    assert isinstance(out, torch.Tensor) and out.device == Xt.device
    np.testing.assert_allclose(out.cpu().numpy(), ref.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "newton-cholesky", "minibatch"])
def test_every_solver_runs_on_torch(solver, device):
    X, y3, _ = backend_data(1)
    ref = SoftmaxRegression(C=1.0, solver=solver, tol=1e-8, max_iter=3000).fit(X, y3)
    got = SoftmaxRegression(C=1.0, solver=solver, tol=1e-8, max_iter=3000).fit(
        torch.from_numpy(X).to(device), y3)
    assert got.fit_record_.converged
    np.testing.assert_allclose(got.coef_, ref.coef_, atol=1e-6)


def test_tensors_in_tensors_out():
    X, y3, _ = backend_data(2)
    Xt = torch.from_numpy(X)
    ref = SoftmaxRegression(C=1.0).fit(X, y3)
    est = SoftmaxRegression(C=1.0).fit(Xt, torch.from_numpy(y3))
    for method in ("decision_function", "predict_proba", "predict_log_proba", "predict"):
        out = getattr(est, method)(Xt)
        assert isinstance(out, torch.Tensor), method
        assert out.device == Xt.device
        np.testing.assert_allclose(out.numpy(), getattr(ref, method)(X), rtol=1e-9,
                                   atol=1e-12)
    # NumPy in, NumPy out, whatever the backend the model was fitted on.
    assert isinstance(est.predict_proba(X), np.ndarray)


def test_string_labels_come_back_as_numpy():
    X, y3, _ = backend_data(3)
    names = np.array(["cat", "dog", "eel"])[y3]
    est = SoftmaxRegression().fit(torch.from_numpy(X), names)
    pred = est.predict(torch.from_numpy(X))
    assert isinstance(pred, np.ndarray) and set(pred) <= set(names)
    assert isinstance(est.predict_proba(torch.from_numpy(X)), torch.Tensor)


@pytest.mark.parametrize("device", DEVICES)
def test_float32_is_first_class(device):
    X, y3, _ = backend_data(4)
    X32 = torch.from_numpy(X.astype(np.float32)).to(device)
    est = SoftmaxRegression(C=1.0, dtype="float32").fit(X32, y3)
    ref = SoftmaxRegression(C=1.0).fit(X, y3)
    proba = est.predict_proba(X32)
    assert proba.dtype == torch.float32 and proba.device == X32.device
    assert est.fit_record_.converged
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-4)


def test_numpy_input_with_backend_torch():
    X, y3, _ = backend_data(5)
    ref = LogisticRegression().fit(X, y3 == 0)
    est = LogisticRegression(backend="torch", device="cpu").fit(X, y3 == 0)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-8)


def test_bad_tensors_get_clear_errors():
    X, y3, _ = backend_data(6)
    Xt = torch.from_numpy(X.copy())
    Xt[3, 1] = float("nan")
    with pytest.raises(ValueError, match=r"1 NaN value\(s\), at \(row 3, column 1\)"):
        LogisticRegression().fit(Xt, y3 == 0)
    with pytest.raises(ValueError, match="2-D tensor"):
        LogisticRegression().fit(torch.zeros(5), [0, 1, 0, 1, 0])
    est = LogisticRegression().fit(torch.from_numpy(X), y3 == 0)
    with pytest.raises(ValueError, match="features"):
        est.predict(torch.zeros(3, X.shape[1] + 1, dtype=torch.float64))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_says_so():
    X, y3, _ = backend_data(7)
    with pytest.raises(ValueError, match=r"torch.cuda.is_available\(\) is False"):
        LogisticRegression(backend="torch", device="cuda").fit(X, y3 == 0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_torch_objective_matches_numpy_objective(name, device):
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
    got = ArrayObjective(loss, torch.from_numpy(X).to(device), Y, weights, k, C=2.0,
                         penalty=pen)
    # Logits far beyond exp's overflow stay finite (shifted / |z| tricks).
    w = 300 * rng.normal(size=ref.n_params)
    v = rng.normal(size=ref.n_params)
    f_ref, g_ref = ref.value_and_grad(w)
    f_got, g_got = got.value_and_grad(w)
    assert np.isfinite(f_got) and np.all(np.isfinite(g_got))
    assert f_got == pytest.approx(f_ref, rel=1e-12)
    np.testing.assert_allclose(g_got, g_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.hessp(w, v), ref.hessp(w, v), rtol=1e-9, atol=1e-12)
