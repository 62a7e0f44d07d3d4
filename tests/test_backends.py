"""Backend registry, array-namespace kernels and the mini-batch solver (NumPy only)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from backend_cases import assert_same_objective
from sklearn.base import clone

from sigmax import LogisticRegression, SoftmaxRegression
from sigmax.backends import BACKENDS, infer_backend, resolve_backend
from sigmax.backends.array import ArrayObjective
from sigmax.backends.batches import RowBatches, default_batch_count
from sigmax.losses import LOSSES
from sigmax.losses import LOSSES as KERNELS
from sigmax.losses import array_definition as kernel_for
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty
from sigmax.solvers import SOLVERS

pytest.importorskip("array_api_compat")


def _problem(name: str, rng: np.random.Generator, n: int = 120, d: int = 4, K: int = 3):
    """Features, encoded targets, weights and k for the loss ``name``."""
    loss = LOSSES[name]
    X = rng.normal(size=(n, d))
    if name == "binomial":
        Y = rng.integers(0, 2, n).astype(float)
    elif name == "multilabel":
        Y = rng.integers(0, 2, (n, K)).astype(float)
    else:
        Y = rng.integers(0, K, n)
    weights = rng.uniform(0.2, 2.0, n)
    return loss, X, Y, weights, loss.n_outputs(K)


# -- registry -------------------------------------------------------------------------
def test_registry_names_every_backend():
    assert {"numpy", "torch", "dask"} <= set(BACKENDS)
    for name, backend in BACKENDS.items():
        assert backend.name == name


def test_auto_picks_backend_from_input_type():
    assert infer_backend(np.zeros((2, 2))) == "numpy"
    assert infer_backend([[0.0, 1.0]]) == "numpy"
    # A device names where the work runs: only torch places data on a GPU.
    assert infer_backend(np.zeros((2, 2)), device="cuda") == "torch"
    assert infer_backend(np.zeros((2, 2)), device="cpu") == "numpy"
    torch = pytest.importorskip("torch")
    assert infer_backend(torch.zeros(2, 2)) == "torch"
    da = pytest.importorskip("dask.array")
    assert infer_backend(da.zeros((4, 2), chunks=2)) == "dask"


def test_resolve_backend_errors_name_the_fix():
    with pytest.raises(ValueError, match="Unknown backend 'bogus'"):
        resolve_backend("bogus", np.zeros((2, 2)))
    with pytest.raises(ValueError, match="only applies to backend='torch'"):
        resolve_backend("numpy", np.zeros((2, 2)), device="cuda")


def test_estimator_backend_params_validated_and_cloned():
    X, y = np.random.default_rng(0).normal(size=(20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match="'backend' parameter"):
        LogisticRegression(backend="spark").fit(X, y)
    with pytest.raises(ValueError, match="'device' parameter"):
        LogisticRegression(device=0).fit(X, y)
    est = SoftmaxRegression(backend="numpy", device="cpu")
    params = clone(est).get_params()
    assert params["backend"] == "numpy" and params["device"] == "cpu"


def test_import_sigmax_does_not_import_torch_or_dask():
    code = ("import sys, sigmax, sigmax.backends; "
            "print('torch' in sys.modules, 'dask' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


# -- array-namespace kernels == the NumPy losses ---------------------------------------
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_has_an_array_kernel(name):
    assert kernel_for(LOSSES[name]) is KERNELS[name]


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_generic_kernel_matches_numpy_loss(name, scale):
    """Same value, gradient and Hessian products, including logits far past exp overflow."""
    rng = np.random.default_rng(1)
    loss, _, Y, weights, k = _problem(name, rng)
    kern = KERNELS[name]
    Z = scale * rng.normal(size=(len(weights), k))
    v_np, G_np = loss.value_and_grad(Z.copy(), Y, weights)
    v_gen, G_gen = kern.value_and_grad(Z, Y, weights)
    assert np.isfinite(v_gen) and np.all(np.isfinite(G_gen))
    assert v_gen == pytest.approx(v_np, rel=1e-12)
    np.testing.assert_allclose(G_gen, G_np, rtol=1e-10, atol=1e-12)
    V = rng.normal(size=Z.shape)
    s_np, s_gen = loss.hessian_state(Z, Y, weights), kern.hessian_state(Z, Y, weights)
    np.testing.assert_allclose(kern.hessp(s_gen, V), loss.hessp(s_np, V), rtol=1e-10,
                               atol=1e-12)
    for a in range(k):
        for b in range(k):
            h_np, h_gen = loss.hessian_weights(s_np, a, b), kern.hessian_weights(s_gen, a, b)
            assert (h_np is None) == (h_gen is None)
            if h_np is not None:
                np.testing.assert_allclose(h_gen, h_np, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", sorted(KERNELS))
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_array_objective_matches_linear_objective(name, fit_intercept):
    rng = np.random.default_rng(2)
    loss, X, Y, weights, k = _problem(name, rng)
    pen = make_penalty("elasticnet", 0.3)
    ref = LinearObjective(loss, X, Y, weights, k, C=0.7, penalty=pen,
                          fit_intercept=fit_intercept)
    gen = ArrayObjective(loss, X, Y, weights, k, C=0.7, penalty=pen,
                         fit_intercept=fit_intercept)
    w, v = rng.normal(size=ref.n_params), rng.normal(size=ref.n_params)
    assert_same_objective(ref, gen, w, v)


# -- mini-batches and the mini-batch solver --------------------------------------------
def test_batch_count_rule():
    assert default_batch_count(10) == 1
    assert default_batch_count(320) == 10
    assert default_batch_count(10**6) == 64


@pytest.mark.parametrize("name", ["binomial", "multinomial"])
def test_batch_sums_add_up_to_the_full_data_term(name):
    rng = np.random.default_rng(3)
    loss, X, Y, weights, k = _problem(name, rng, n=200)
    obj = LinearObjective(loss, X, Y, weights, k, C=1.0, penalty=make_penalty("none"))
    batches = RowBatches(obj.data)
    w = rng.normal(size=obj.n_params)
    (value, grad), = batches.batch_sums([w], range(batches.n_batches))
    f, g = obj.value_and_grad(w)
    assert value * obj.scale == pytest.approx(f, rel=1e-12)
    np.testing.assert_allclose(grad * obj.scale, g, rtol=1e-10, atol=1e-14)


def test_minibatch_is_registered_and_takes_l1():
    assert "minibatch" in SOLVERS and SOLVERS["minibatch"].supports_nonsmooth


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_minibatch_reaches_the_same_optimum(penalty):
    """Prox-SVRG stops on the exact optimality test: the fit is as exact as the others."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 3))
    y = (X @ [1.0, -2.0, 0.5] + rng.logistic(size=400) > 0).astype(int)
    ref = LogisticRegression(penalty=penalty, C=0.5, tol=1e-9, max_iter=5000).fit(X, y)
    mb = LogisticRegression(penalty=penalty, C=0.5, solver="minibatch", tol=1e-7,
                            max_iter=3000).fit(X, y)
    rec = mb.fit_record_
    assert rec.converged and rec.grad_norm <= 1e-7
    assert "mini-batch steps" in rec.message
    np.testing.assert_allclose(mb.coef_, ref.coef_, atol=1e-4)
    assert rec.objective == pytest.approx(ref.fit_record_.objective, rel=1e-8)


def test_input_kind_with_torch_import_blocked(monkeypatch):
    """A module entry set to None (import blocked) means "not available", not a crash."""
    from sigmax.backends import input_kind

    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.setitem(sys.modules, "dask", None)
    X = np.random.default_rng(0).normal(size=(30, 2))
    assert input_kind(X) == "numpy"
    y = (X[:, 0] + 0.5 * np.random.default_rng(1).normal(size=30) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    assert clf.predict(X).shape == (30,)
