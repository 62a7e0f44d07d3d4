"""MultiHeadClassifier with a shared trunk (PyTorch): reproducible, better on nonlinear data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sigmax import MultiHeadClassifier, load
from sigmax.trunk import ACTIVATIONS, INSTALL_HINT, require_torch

torch = pytest.importorskip("torch")

HEADS = {"ring": "softmax", "xor": "sigmoid"}


def nonlinear(n, seed):
    """Rings (3 exclusive classes by radius) and XOR (signs agree): no linear model can."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    ring = np.digitize(np.hypot(X[:, 0], X[:, 1]), [0.45, 0.8])
    xor = (X[:, 0] * X[:, 1] > 0).astype(int)
    return X, pd.DataFrame({"ring": ring, "xor": xor})


def log_loss(model, X, y):
    P = model.predict_proba(X)
    return {h: float(-np.mean(np.log(P[h][np.arange(len(y)), y[h].to_numpy()])))
            for h in model.heads_}


@pytest.fixture(scope="module")
def data():
    return nonlinear(600, 0), nonlinear(2000, 1)


@pytest.fixture(scope="module")
def trunk(data):
    (X, y), _ = data
    return MultiHeadClassifier(heads=HEADS, hidden=(32,), random_state=0).fit(X, y)


def test_trunk_beats_independent_linear_heads_on_nonlinear_data(data, trunk):
    (X, y), (Xt, yt) = data
    linear = MultiHeadClassifier(heads=HEADS).fit(X, y)
    lin, deep = log_loss(linear, Xt, yt), log_loss(trunk, Xt, yt)
    for h in HEADS:
        assert deep[h] < 0.5 * lin[h], (h, deep, lin)
    assert trunk.score(Xt, yt) > linear.score(Xt, yt) + 0.2


def test_same_seed_same_model_other_seed_other_model(data, trunk):
    (X, y), _ = data
    again = MultiHeadClassifier(heads=HEADS, hidden=(32,), random_state=0).fit(X, y)
    for a, b in zip([*trunk.hidden_coefs_, trunk.coef_], [*again.hidden_coefs_, again.coef_]):
        np.testing.assert_array_equal(a, b)
    assert again.fit_record_.history["objective"] == trunk.fit_record_.history["objective"]
    other = MultiHeadClassifier(heads=HEADS, hidden=(32,), random_state=1).fit(X, y)
    assert not np.allclose(other.coef_, trunk.coef_)


def test_global_rng_states_are_left_alone(data):
    (X, y), _ = data
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()[1].copy()  # noqa: NPY002
    MultiHeadClassifier(heads=HEADS, hidden=(4,), max_epochs=2, random_state=3).fit(X, y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002


def test_fits_in_threads_side_by_side_equal_fits_one_after_the_other(data):
    # The study fits the trunk of several folds at once: each fit seeds torch's global
    # generator for its layers, which must not interleave with another fit's seeding.
    from concurrent.futures import ThreadPoolExecutor

    (X, y), _ = data

    def fit(seed):
        m = MultiHeadClassifier(heads=HEADS, hidden=(16,), max_epochs=2, random_state=seed)
        return m.fit(X, y).hidden_coefs_[0]

    threads = torch.get_num_threads()
    alone = [fit(s) for s in range(6)]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(fit, range(6)))
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a, b)
    # Small networks train on one torch thread; the last overlapping fit restores the count.
    assert torch.get_num_threads() == threads


def test_training_record(trunk):
    rec = trunk.fit_record_
    assert rec.solver == "adam" and rec.device == "cpu" and rec.seed == 0
    assert 1 <= rec.best_epoch <= rec.n_iter <= trunk.max_epochs
    assert rec.n_val == 60 and rec.n_train == 540
    assert len(rec.history["val_loss"]) == rec.n_iter == len(rec.history["objective"])
    # The kept weights are the best epoch's: the best validation loss is the minimum seen.
    assert rec.best_val_loss == pytest.approx(min(rec.history["val_loss"]))
    if rec.converged:  # stopped by patience
        assert rec.n_iter - rec.best_epoch >= trunk.patience
    assert np.isfinite(rec.objective) and np.isfinite(rec.grad_norm)


def test_reported_objective_matches_numpy_forward():
    X, y = nonlinear(200, 2)
    C = 3.0
    m = MultiHeadClassifier(heads=HEADS, hidden=(8,), C=C, max_epochs=5,
                            validation_fraction=0.0, random_state=0).fit(X, y)
    L = m.predict_log_proba(X)
    loss = sum(-L[h][np.arange(len(y)), y[h].to_numpy()].sum() for h in HEADS)
    S = len(y)  # unit weights: the total per head
    penalty = 0.5 * sum(float((W ** 2).sum()) for W in [*m.hidden_coefs_, m.coef_])
    assert m.fit_record_.objective == pytest.approx(loss / S + penalty / (C * S), rel=1e-9)
    assert m.fit_record_.best_val_loss is None and m.fit_record_.n_iter == 5


def test_masked_labels_in_the_trunk():
    X, y = nonlinear(300, 3)
    y = y.astype(float)
    y.loc[:149, "xor"] = np.nan
    m = MultiHeadClassifier(heads=HEADS, hidden=(8,), max_epochs=20, random_state=0).fit(X, y)
    assert m.fit_record_.n_grad_evals > 0 and np.isfinite(m.fit_record_.objective)
    P = m.predict_proba(X)
    assert np.all(np.isfinite(P["ring"])) and np.all(np.isfinite(P["xor"]))


def test_zero_weight_rows_do_not_matter():
    X, y = nonlinear(300, 4)
    kw = dict(heads={"ring": "softmax", "xor": "sigmoid"}, hidden=(8,), max_epochs=5,
              random_state=0, validation_fraction=0.0)
    a = MultiHeadClassifier(**kw).fit(X, y, sample_weight=np.r_[np.zeros(50), np.ones(250)])
    y2 = y.copy()
    y2.loc[:49, "ring"] = (y2.loc[:49, "ring"] + 1) % 3
    y2.loc[:49, "xor"] = 1 - y2.loc[:49, "xor"]
    b = MultiHeadClassifier(**kw).fit(X, y2, sample_weight=np.r_[np.zeros(50), np.ones(250)])
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-12)


def test_save_load_roundtrip(tmp_path, trunk, data):
    _, (Xt, _) = data
    path = tmp_path / "trunk.safetensors"
    trunk.save(path)
    m = load(path)
    assert m.hidden == (32,) and type(m.fit_record_).__name__ == "TrunkFitRecord"
    for h in HEADS:
        np.testing.assert_array_equal(m.predict_proba(Xt)[h], trunk.predict_proba(Xt)[h])
    assert m.fit_record_.best_epoch == trunk.fit_record_.best_epoch


def test_warm_start_continues_from_the_fitted_weights():
    X, y = nonlinear(300, 5)
    m = MultiHeadClassifier(heads=HEADS, hidden=(8,), max_epochs=3, random_state=0,
                            validation_fraction=0.0, warm_start=True).fit(X, y)
    first = m.fit_record_.objective
    m.fit(X, y)
    assert m.fit_record_.objective < first


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_activations_and_float32(activation):
    X, y = nonlinear(200, 6)
    m = MultiHeadClassifier(heads=HEADS, hidden=(8, 4), activation=activation,
                            dtype="float32", max_epochs=3, random_state=0).fit(X, y)
    assert [W.shape for W in m.hidden_coefs_] == [(2, 8), (8, 4)]
    assert m.coef_.shape == (4, 4)


def test_device_errors():
    X, y = nonlinear(100, 7)
    with pytest.raises(ValueError, match="not a torch device"):
        MultiHeadClassifier(heads=HEADS, hidden=(4,), device="gpu0").fit(X, y)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            MultiHeadClassifier(heads=HEADS, hidden=(4,), device="cuda").fit(X, y)


def test_require_torch_message_names_the_install_command(monkeypatch):
    import sys

    assert require_torch() is torch
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=INSTALL_HINT.replace("[", r"\[").replace("]", r"\]")):
        require_torch()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_shared_trunk_trains_on_cuda(data):
    (X, y), (Xt, yt) = data
    gpu = MultiHeadClassifier(heads=HEADS, hidden=(32,), device="cuda", random_state=0).fit(X, y)
    # Same seed and data as on the CPU: the GPU learns the nonlinear heads as
    # well (not bitwise equal: cuBLAS and the CPU sum in different orders).
    linear = MultiHeadClassifier(heads=HEADS).fit(X, y)
    assert gpu.score(Xt, yt) > linear.score(Xt, yt) + 0.2
    assert gpu.predict_proba(Xt)["ring"].shape == (len(Xt), 3)
