"""MultiHeadClassifier with linear heads: the joint loss, equality with separate fits, masks, io."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from sigmax import (
    ESTIMATORS,
    LogisticRegression,
    MultiHeadClassifier,
    MultiLabelHeads,
    MultiLabelLogistic,
    SeparableWarning,
    SoftmaxRegression,
    load,
)
from sigmax.estimators.multihead import HEAD_KINDS, HeadsLoss
from sigmax.objective import LinearObjective
from sigmax.penalties import make_penalty

HEADS = {"kind": "softmax", "big": "sigmoid"}


def make_data(n=300, seed=0, missing=True):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    kind = np.array(["a", "b", "c"])[np.argmax(X[:, :3] + rng.normal(size=(n, 3)), axis=1)]
    big = (X.sum(axis=1) + rng.normal(size=n) > 0).astype(float)
    if missing:
        big[rng.choice(n, 40, replace=False)] = np.nan
        kind = kind.astype(object)
        kind[rng.choice(n, 25, replace=False)] = None
    return X, pd.DataFrame({"kind": kind, "big": big})


# -- the joint loss -------------------------------------------------------------------
LAYOUT = (("softmax", 0, 3), ("sigmoid", 3, 4), ("softmax", 4, 6))


def loss_problem(seed=0):
    rng = np.random.default_rng(seed)
    n = 40
    Z = rng.normal(scale=3, size=(n, 6))
    Y = np.column_stack([rng.integers(0, 3, n), rng.integers(0, 2, n),
                         rng.integers(0, 2, n)]).astype(float)
    W = rng.uniform(0, 2, size=(n, 3)) * (rng.random((n, 3)) > 0.2)
    return Z, Y, W


def test_heads_loss_gradient_matches_finite_differences():
    loss = HeadsLoss(LAYOUT)
    Z, Y, W = loss_problem()
    value, G = loss.value_and_grad(Z, Y, W)
    assert value == pytest.approx(loss.value(Z, Y, W), rel=1e-12)
    eps = 1e-6
    num = np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):
        E = np.zeros_like(Z)
        E[idx] = eps
        num[idx] = (loss.value(Z + E, Y, W) - loss.value(Z - E, Y, W)) / (2 * eps)
    np.testing.assert_allclose(G, num, atol=1e-7)


def test_heads_loss_is_the_sum_of_its_head_losses():
    loss = HeadsLoss(LAYOUT)
    Z, Y, W = loss_problem(1)
    parts = [HEAD_KINDS[k].loss.value(Z[:, a:b], Y[:, h].astype(np.intp)
                                      if HEAD_KINDS[k].exclusive else Y[:, h], W[:, h])
             for h, (k, a, b) in enumerate(LAYOUT)]
    assert loss.value(Z, Y, W) == pytest.approx(sum(parts), rel=1e-12)


def test_heads_loss_hessp_and_hessian_blocks():
    loss = HeadsLoss(LAYOUT)
    Z, Y, W = loss_problem(2)
    state = loss.hessian_state(Z, Y, W)
    rng = np.random.default_rng(0)
    V = rng.normal(size=Z.shape)
    eps = 1e-6
    num = (loss.value_and_grad(Z + eps * V, Y, W)[1]
           - loss.value_and_grad(Z - eps * V, Y, W)[1]) / (2 * eps)
    np.testing.assert_allclose(loss.hessp(state, V), num, atol=1e-6)
    # hessian_weights: per-row blocks, zero across heads.
    HV = np.zeros_like(V)
    for a in range(6):
        for b in range(6):
            h = loss.hessian_weights(state, a, b)
            if h is not None:
                HV[:, a] += h * V[:, b]
    np.testing.assert_allclose(HV, loss.hessp(state, V), atol=1e-12)
    assert loss.hessian_weights(state, 0, 3) is None
    assert loss.hessian_weights(state, 3, 4) is None


@pytest.mark.parametrize("row_weights", [False, True])
def test_heads_loss_block_kernels_match_the_row_major_methods(row_weights):
    loss = HeadsLoss(LAYOUT)
    Z, Y, W = loss_problem(6)
    if row_weights:
        W = W[:, 0].copy()
    value, G = loss.value_and_grad(Z, Y, W)
    Zt, St = np.ascontiguousarray(Z.T), np.empty(Z.T.shape)
    assert loss.value_grad_t(Zt, Y, W, St) == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(Zt, G.T, atol=1e-14)
    V = np.random.default_rng(1).normal(size=Z.shape)
    Vt = np.ascontiguousarray(V.T)
    loss.hessp_t(St, Y, W, Vt)
    np.testing.assert_allclose(Vt, loss.hessp(loss.hessian_state(Z, Y, W), V).T, atol=1e-12)
    state = loss.hessian_state(Z, Y, W)
    for a, b in [(0, 0), (0, 2), (3, 3), (4, 5), (1, 4)]:
        ht, h = loss.hessian_weights_t(St, Y, W, a, b), loss.hessian_weights(state, a, b)
        assert (ht is None) == (h is None)
        if h is not None:
            np.testing.assert_allclose(ht, h, atol=1e-14)


def test_objective_gradient_matches_finite_differences():
    X, y = make_data(60, seed=7)
    m = MultiHeadClassifier(heads=HEADS)
    Y, _, k = m._encode_targets(y, n_samples=len(X))
    obj = LinearObjective(HeadsLoss(m._layout), X, Y, m._known.astype(float), k, C=2.0,
                          penalty=make_penalty("l2"))
    w = np.random.default_rng(0).normal(size=obj.n_params)
    f, g = obj.value_and_grad(w)
    assert f == pytest.approx(obj.value(w), rel=1e-12)
    eps = 1e-6
    num = np.array([(obj.value(w + eps * e) - obj.value(w - eps * e)) / (2 * eps)
                    for e in np.eye(obj.n_params)])
    np.testing.assert_allclose(g, num, atol=1e-7)


def test_heads_loss_is_finite_for_extreme_logits():
    loss = HeadsLoss(LAYOUT)
    Z, Y, W = loss_problem(3)
    Z = Z * 1e6
    value, G = loss.value_and_grad(Z, Y, W)
    assert np.isfinite(value) and np.all(np.isfinite(G))
    P = loss.predict_proba(Z)
    assert np.all(np.isfinite(P)) and np.all(np.isfinite(loss.predict_log_proba(Z)))
    np.testing.assert_allclose(P[:, 0:3].sum(axis=1), 1.0)


def test_heads_loss_rejects_a_bad_layout():
    with pytest.raises(ValueError, match="contiguous"):
        HeadsLoss((("softmax", 0, 3), ("sigmoid", 4, 5)))
    with pytest.raises(ValueError, match="kind"):
        HeadsLoss((("tanh", 0, 3),))


def test_full_hessian_matches_hessp_through_the_objective():
    X, y = make_data(80, seed=4)
    m = MultiHeadClassifier(heads=HEADS, tol=1e-8).fit(X, y)
    assert m.fit_record_.converged
    # Rebuild the objective exactly as fit does and compare H @ v with hessp.
    m2 = clone(m)
    Y, _, k = m2._encode_targets(y, n_samples=len(X))
    weights = m2._known.astype(float)
    obj = LinearObjective(HeadsLoss(m2._layout), X, Y, weights, k, C=1.0,
                          penalty=make_penalty("l2"))
    w = np.random.default_rng(0).normal(size=obj.n_params)
    v = np.random.default_rng(1).normal(size=obj.n_params)
    np.testing.assert_allclose(obj.hessian(w) @ v, obj.hessp(w, v), rtol=1e-9, atol=1e-12)


# -- equality with separately fitted heads --------------------------------------------
@pytest.mark.parametrize("solver", ["auto", "lbfgs", "newton-cg"])
@pytest.mark.parametrize("penalty,C", [("l2", 0.5), ("l2", 10.0), (None, 1.0)])
def test_linear_heads_equal_separate_fits(solver, penalty, C):
    X, y = make_data(seed=1)
    tol = 1e-10
    m = MultiHeadClassifier(heads=HEADS, penalty=penalty, C=C, solver=solver, tol=tol,
                            max_iter=5000).fit(X, y)
    known_k = y["kind"].notna().to_numpy()
    known_b = y["big"].notna().to_numpy()
    s = SoftmaxRegression(penalty=penalty, C=C, tol=tol, max_iter=5000).fit(
        X[known_k], y["kind"][known_k].astype(str))
    lg = LogisticRegression(penalty=penalty, C=C, tol=tol, max_iter=5000).fit(
        X[known_b], y["big"][known_b])
    sk, sb = m.head_slices_["kind"], m.head_slices_["big"]
    np.testing.assert_allclose(m.coef_[sk], s.coef_, atol=1e-6)
    np.testing.assert_allclose(m.intercept_[sk], s.intercept_, atol=1e-6)
    np.testing.assert_allclose(m.coef_[sb], lg.coef_, atol=1e-6)
    np.testing.assert_allclose(m.intercept_[sb], lg.intercept_, atol=1e-6)
    P = m.predict_proba(X)
    np.testing.assert_allclose(P["kind"], s.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(P["big"], lg.predict_proba(X), atol=1e-6)
    assert list(m.classes_["kind"]) == list(s.classes_)


def test_l1_heads_equal_separate_fits():
    X, y = make_data(seed=2, missing=False)
    kw = dict(penalty="l1", C=0.05, tol=1e-10, max_iter=20000)
    m = MultiHeadClassifier(heads=HEADS, **kw).fit(X, y)
    s = SoftmaxRegression(**kw).fit(X, y["kind"])
    lg = LogisticRegression(**kw).fit(X, y["big"])
    assert m.fit_record_.solver in ("proximal", "proximal-newton")  # an L1-capable solver
    np.testing.assert_allclose(m.coef_[m.head_slices_["kind"]], s.coef_, atol=1e-6)
    np.testing.assert_allclose(m.coef_[m.head_slices_["big"]], lg.coef_, atol=1e-6)
    assert np.any(m.coef_ == 0)  # L1 zeroed some coefficients


def test_sample_and_class_weights_equal_separate_fits():
    X, y = make_data(seed=3)
    sw = np.random.default_rng(0).uniform(0.2, 3, size=len(X))
    kw = dict(C=2.0, tol=1e-10, class_weight="balanced")
    m = MultiHeadClassifier(heads=HEADS, **kw).fit(X, y, sample_weight=sw)
    kk, kb = y["kind"].notna().to_numpy(), y["big"].notna().to_numpy()
    s = SoftmaxRegression(**kw).fit(X[kk], y["kind"][kk].astype(str), sample_weight=sw[kk])
    lg = LogisticRegression(**kw).fit(X[kb], y["big"][kb], sample_weight=sw[kb])
    np.testing.assert_allclose(m.coef_[m.head_slices_["kind"]], s.coef_, atol=1e-6)
    np.testing.assert_allclose(m.coef_[m.head_slices_["big"]], lg.coef_, atol=1e-6)


def test_float32_is_close_to_float64():
    X, y = make_data(seed=5)
    m64 = MultiHeadClassifier(heads=HEADS).fit(X, y)
    m32 = MultiHeadClassifier(heads=HEADS, dtype="float32").fit(X, y)
    np.testing.assert_allclose(m32.coef_, m64.coef_, atol=1e-4)


# -- masks --------------------------------------------------------------------------
def test_masked_labels_are_masked_not_dropped():
    X, y = make_data(seed=6, missing=False)
    y2 = y.copy()
    y2.loc[:99, "big"] = np.nan          # 100 rows lose their sigmoid label only
    m = MultiHeadClassifier(heads=HEADS, tol=1e-10).fit(X, y2)
    full = SoftmaxRegression(tol=1e-10).fit(X, y["kind"])
    dropped = SoftmaxRegression(tol=1e-10).fit(X[100:], y["kind"][100:])
    sk = m.head_slices_["kind"]
    # The rows whose other label is missing still train the softmax head...
    np.testing.assert_allclose(m.coef_[sk], full.coef_, atol=1e-6)
    assert np.abs(m.coef_[sk] - dropped.coef_).max() > 1e-3


def test_a_masked_entry_has_no_influence_on_the_loss():
    loss = HeadsLoss(LAYOUT)
    Z, Y, W = loss_problem(5)
    masked = W == 0
    assert masked.any()
    Y2 = Y.copy()
    Y2[masked[:, 0], 0] = (Y[masked[:, 0], 0] + 1) % 3
    Y2[masked[:, 1], 1] = 1 - Y[masked[:, 1], 1]
    v1, g1 = loss.value_and_grad(Z, Y, W)
    v2, g2 = loss.value_and_grad(Z, Y2, W)
    assert v1 == v2
    np.testing.assert_array_equal(g1, g2)


def test_string_sigmoid_and_none_labels():
    X, y = make_data(seed=8, missing=False)
    sex = np.where(y["big"] == 1, "male", "female").astype(object)
    sex[:10] = None
    yy = pd.DataFrame({"kind": y["kind"], "sex": sex})
    m = MultiHeadClassifier(heads={"kind": "softmax", "sex": "sigmoid"}).fit(X, yy)
    assert list(m.classes_["sex"]) == ["female", "male"]
    assert set(m.predict(X)["sex"]) <= {"female", "male"}


# -- API ----------------------------------------------------------------------------
def test_prediction_api():
    X, y = make_data(seed=9)
    Xdf = pd.DataFrame(X, columns=list("pqrs"), index=np.arange(100, 100 + len(X)))
    m = MultiHeadClassifier(heads=HEADS).fit(Xdf, y)
    P, L, D = m.predict_proba(Xdf), m.predict_log_proba(Xdf), m.decision_function(Xdf)
    pred = m.predict(Xdf)
    assert list(pred.columns) == ["kind", "big"] and list(pred.index) == list(Xdf.index)
    assert P["kind"].shape == (len(X), 3) and P["big"].shape == (len(X), 2)
    assert D["kind"].shape == (len(X), 3) and D["big"].shape == (len(X),)
    for h in HEADS:
        np.testing.assert_allclose(P[h].sum(axis=1), 1.0)
        np.testing.assert_allclose(np.exp(L[h]), P[h], rtol=1e-10)
        np.testing.assert_array_equal(pred[h].to_numpy(), m.classes_[h][np.argmax(P[h], axis=1)])
    assert m.coef_.shape == (4, 4) and m.intercept_.shape == (4,)
    assert m.heads_ == HEADS
    # score: mean over heads of the accuracy on known labels.
    acc = []
    for h in HEADS:
        known = y[h].notna().to_numpy()
        truth = y[h][known].to_numpy()
        acc.append(np.mean(pred[h].to_numpy()[known] == truth))
    assert m.score(Xdf, y) == pytest.approx(np.mean(acc))


def test_heads_inferred_and_other_y_forms():
    X, y = make_data(seed=10, missing=False)
    m = MultiHeadClassifier().fit(X, y)
    assert m.heads_ == {"kind": "softmax", "big": "sigmoid"}
    d = MultiHeadClassifier(heads=HEADS).fit(X, {"kind": y["kind"].to_numpy(),
                                                  "big": y["big"].to_numpy()})
    np.testing.assert_allclose(d.coef_, m.coef_)
    codes = np.unique(y["kind"], return_inverse=True)[1]
    a = MultiHeadClassifier(heads=HEADS).fit(X, np.column_stack([codes, y["big"]]))
    np.testing.assert_allclose(a.coef_, m.coef_, atol=1e-9)
    single = MultiHeadClassifier().fit(X, y["kind"])
    assert single.heads_ == {"kind": "softmax"}


@pytest.mark.parametrize("heads,y_change,match", [
    ({"kind": "softmax"}, None, "not declared"),
    ({"kind": "softmax", "big": "sigmoid", "z": "sigmoid"}, None, "not columns of y"),
    ({"kind": "sigmoid", "big": "sigmoid"}, None, "declare it 'softmax'"),
    ({"kind": "softmax", "big": "multinomial"}, None, "heads"),
    (HEADS, "constant", "only one value"),
    (HEADS, "all_missing", "every label is missing"),
    (HEADS, "continuous", "continuous"),
])
def test_bad_heads_or_y_raise_clear_errors(heads, y_change, match):
    X, y = make_data(seed=11, missing=False)
    if y_change == "constant":
        y["big"] = 1.0
    elif y_change == "all_missing":
        y["big"] = np.nan
    elif y_change == "continuous":
        y["kind"] = np.random.default_rng(0).normal(size=len(y))
    with pytest.raises(ValueError, match=match):
        MultiHeadClassifier(heads=heads).fit(X, y)


@pytest.mark.parametrize("params,match", [
    (dict(hidden=()), "hidden"),
    (dict(hidden=(0,)), "hidden"),
    (dict(hidden=(8,), penalty="l1"), "weight decay"),
    (dict(hidden=(8,), solver="lbfgs"), "Adam"),
    (dict(class_weight={"a": 2}), "class_weight"),
    (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(activation="sigmoid"), "activation"),
])
def test_bad_parameters_raise_clear_errors(params, match):
    X, y = make_data(seed=12, missing=False)
    with pytest.raises(ValueError, match=match):
        MultiHeadClassifier(heads=HEADS, **params).fit(X, y)


def test_wrong_row_count_and_nan_features():
    X, y = make_data(seed=13, missing=False)
    with pytest.raises(ValueError, match="one label per row"):
        MultiHeadClassifier(heads=HEADS).fit(X[:-1], y)
    X = X.copy()
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MultiHeadClassifier(heads=HEADS).fit(X, y)


def test_separable_head_warns_without_penalty():
    X, y = make_data(seed=14, missing=False)
    y["big"] = (X[:, 0] > 0).astype(int)
    with pytest.warns(SeparableWarning, match="'big'"):
        MultiHeadClassifier(heads=HEADS, penalty=None, max_iter=200).fit(X, y)


def test_sklearn_tools_work():
    X, y = make_data(seed=15)
    est = MultiHeadClassifier(heads=HEADS, C=0.3)
    assert clone(est).get_params() == est.get_params()
    # A DataFrame of mixed heads cannot be stratified: pass an explicit KFold.
    scores = cross_val_score(est, X, y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and np.all((scores > 0.4) & (scores <= 1))
    assert "MultiHeadClassifier" in ESTIMATORS


# -- save / load ------------------------------------------------------------------------
def test_save_load_roundtrip(tmp_path):
    X, y = make_data(seed=16)
    Xdf = pd.DataFrame(X, columns=list("pqrs"))
    m = MultiHeadClassifier(heads=HEADS, C=0.7).fit(Xdf, y)
    path = tmp_path / "m.safetensors"
    m.save(path)
    m2 = load(path)
    assert isinstance(m2, MultiHeadClassifier) and m2.get_params() == m.get_params()
    for h in HEADS:
        np.testing.assert_array_equal(m2.predict_proba(Xdf)[h], m.predict_proba(Xdf)[h])
        np.testing.assert_array_equal(m2.classes_[h], m.classes_[h])
    pd.testing.assert_frame_equal(m2.predict(Xdf), m.predict(Xdf))
    assert list(m2.feature_names_in_) == list("pqrs")
    assert m2.fit_record_.n_iter == m.fit_record_.n_iter


def _rewrite(path, out, edit_meta=None, edit_tensors=None):
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(path), framework="np") as fh:
        meta = json.loads(fh.metadata()["sigmax"])
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    if edit_meta:
        edit_meta(meta)
    if edit_tensors:
        edit_tensors(tensors)
    save_file(tensors, str(out), metadata={"sigmax": json.dumps(meta)})


@pytest.mark.parametrize("meta_edit,tensor_edit,match", [
    (lambda m: m["heads"][0].__setitem__(3, 2), None, "does not match its classes"),
    (lambda m: m["heads"][1].__setitem__(1, "relu"), None, "bad head entry"),
    (lambda m: m["classes"].pop("big"), None, "bad classes"),
    (lambda m: m["params"].__setitem__("heads", {"kind": "exec"}), None, "heads"),
    (lambda m: m["params"].__setitem__("__class__", "os.system"), None, "parameters"),
    (None, lambda t: t.__setitem__("coef", t["coef"][:, :2].copy()), "shapes"),
    (None, lambda t: t.__setitem__("extra", np.zeros(2)), "expected tensors"),
    (None, lambda t: t["intercept"].__setitem__(0, np.inf), "finite"),
])
def test_load_rejects_altered_files(tmp_path, meta_edit, tensor_edit, match):
    X, y = make_data(seed=17)
    path = tmp_path / "m.safetensors"
    MultiHeadClassifier(heads=HEADS).fit(X, y).save(path)
    bad = tmp_path / "bad.safetensors"
    _rewrite(path, bad, meta_edit, tensor_edit)
    with pytest.raises(ValueError, match=match):
        load(bad)


def test_missing_torch_gives_install_command(monkeypatch):
    X, y = make_data(seed=18, missing=False)
    with monkeypatch.context() as mp:
        mp.setitem(sys.modules, "torch", None)  # makes `import torch` fail
        with pytest.raises(ImportError, match=r"pip install 'sigmax\[torch\]'"):
            MultiHeadClassifier(heads=HEADS, hidden=(4,)).fit(X, y)
    # Linear heads never import torch.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MultiHeadClassifier(heads=HEADS).fit(X, y)


# -- MultiLabelHeads: discovered heads behind the multi-label API ------------------------
def planted_indicator(n=900, seed=0):
    rng = np.random.default_rng(seed)
    cat = rng.choice(4, size=n, p=[0.3, 0.3, 0.2, 0.2])
    d = rng.random(n) < 0.4
    X = rng.normal(size=(n, 4))
    X[:, 0] += cat
    X[:, 1] += 2.0 * (cat == 1)
    X[:, 2] += 1.5 * d
    Y = pd.DataFrame({"a": cat == 0, "b": cat == 1, "c": cat == 2, "d": d}).astype(int)
    return X, Y


def test_multilabel_heads_use_a_softmax_for_the_planted_group():
    from sigmax.numerics import expit

    X, Y = planted_indicator()
    m = MultiLabelHeads().fit(X, Y)
    assert m.heads_ == {"a|b|c": "softmax", "d": "sigmoid"}
    assert list(m.classes_) == ["a", "b", "c", "d"]
    assert list(m.head_classes_["a|b|c"]) == ["a", "b", "c", "none"]
    P = m.predict_proba(X)
    assert P.shape == Y.shape and np.all(P[:, :3].sum(axis=1) <= 1 + 1e-12)
    np.testing.assert_allclose(expit(m.decision_function(X)), P, rtol=1e-10)
    np.testing.assert_allclose(np.exp(m.predict_log_proba(X)), P, rtol=1e-10)
    pred = m.predict(X)
    assert pred.shape == Y.shape and np.all(pred[:, :3].sum(axis=1) <= 1)
    # Independent sigmoids can claim two exclusive labels at once; the mixed model cannot.
    ind = MultiLabelLogistic().fit(X, Y).predict_proba(X)
    assert np.any(ind[:, :3].sum(axis=1) > 1)
    assert m.score(X, Y) == pytest.approx(np.mean(np.all(pred == Y.to_numpy(), axis=1)))


def test_multilabel_heads_equal_independent_sigmoids_without_groups():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    Y = (X @ rng.normal(size=(3, 4)) + rng.normal(size=(400, 4)) > 0).astype(int)
    m = MultiLabelHeads(tol=1e-10).fit(X, Y)
    ml = MultiLabelLogistic(tol=1e-10).fit(X, Y)
    assert set(m.heads_.values()) == {"sigmoid"}
    np.testing.assert_allclose(m.coef_, ml.coef_, atol=1e-6)
    np.testing.assert_allclose(m.predict_proba(X), ml.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(m.predict(X), ml.predict(X))


def test_multilabel_heads_errors():
    X, Y = planted_indicator(300, seed=2)
    Y["const"] = 0
    with pytest.raises(ValueError, match="only one value"):
        MultiLabelHeads().fit(X, Y)
    with pytest.raises(ValueError, match="2-D"):
        MultiLabelHeads().fit(X, Y["a"])
    m = MultiLabelHeads().fit(X, Y.drop(columns="const"))
    assert "heads" not in m.get_params() and clone(m).get_params() == m.get_params()


@pytest.mark.parametrize("hidden", [None, (4,)])
@pytest.mark.parametrize("frame", [True, False])
def test_multilabel_heads_model_file_round_trip(tmp_path, hidden, frame):
    from sigmax import load

    X, Y = planted_indicator(300, seed=2)
    y = Y if frame else Y.to_numpy()
    m = MultiLabelHeads(hidden=hidden, max_epochs=5, random_state=0).fit(X, y)
    assert m.layout_.has_groups  # a mixed layout: softmax and sigmoid heads
    m.save(tmp_path / "m.safetensors")
    back = load(tmp_path / "m.safetensors")
    assert type(back) is MultiLabelHeads and back.get_params() == m.get_params()
    np.testing.assert_array_equal(back.classes_, m.classes_)
    assert back.layout_.to_dict() == m.layout_.to_dict()
    np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), m.predict(X))


def test_multilabel_heads_model_file_with_an_edited_layout_is_refused(tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from sigmax import load

    X, Y = planted_indicator(300, seed=2)
    path = tmp_path / "m.safetensors"
    MultiLabelHeads().fit(X, Y).save(path)
    with safe_open(str(path), framework="np") as fh:
        original = json.loads(fh.metadata()["sigmax"])
    tensors = load_file(str(path))

    def edited(change, match):
        meta = json.loads(json.dumps(original))
        change(meta)
        save_file(tensors, str(path), metadata={"sigmax": json.dumps(meta)})
        with pytest.raises(ValueError, match=match):
            load(path)

    edited(lambda m: m["layout"]["sigmoid"].pop(), "every label exactly once")
    edited(lambda m: m["layout"].update(groups=[{"name": 1}]), "malformed layout group")
    def drop_a_sigmoid(meta):
        label = meta["layout"]["sigmoid"].pop()
        meta["layout"]["labels"].remove(label)

    edited(drop_a_sigmoid, "does not match the heads and labels")
    edited(lambda m: m.pop("layout"), "malformed head layout")


# -- scikit-learn's estimator checks -------------------------------------------------------
_PER_HEAD = (
    "MultiHeadClassifier returns one result per head: predict a DataFrame, predict_proba / "
    "decision_function a dict {head: array}; the check does arithmetic or indexing on a "
    "single array (the per-head arrays themselves are tested above)")
_CLASS_WEIGHT_DICT = (
    "class_weight is None or 'balanced' (applied to every head); a {class: weight} dict "
    "would be ambiguous across heads with different classes")
MULTIHEAD_EXPECTED_FAILURES = {
    name: _PER_HEAD for name in (
        "check_sample_weight_equivalence_on_dense_data",
        "check_sample_weight_equivalence_on_sparse_data", "check_estimator_sparse_array",
        "check_estimator_sparse_matrix", "check_estimators_pickle", "check_classifiers_classes",
        "check_classifier_multioutput", "check_classifiers_train",
        "check_decision_proba_consistency", "check_methods_sample_order_invariance",
        "check_methods_subset_invariance", "check_fit_idempotent")}
MULTIHEAD_EXPECTED_FAILURES["check_class_weight_classifiers"] = _CLASS_WEIGHT_DICT

# MultiLabelHeads has MultiLabelLogistic's interface and fails exactly its checks, for
# the same reasons (see tests/test_sklearn_checks.py), plus the class_weight dict.
_ML_REASON = ("a multi-label estimator: it takes a 2-D 0/1 indicator matrix, as "
              "MultiLabelLogistic (same expected failures, same reasons, in "
              "tests/test_sklearn_checks.py)")
MULTILABEL_HEADS_EXPECTED_FAILURES = {
    name: _ML_REASON for name in (
        "check_estimators_dtypes", "check_sample_weights_pandas_series",
        "check_sample_weights_not_an_array", "check_sample_weights_shape",
        "check_sample_weights_not_overwritten", "check_classifier_data_not_an_array",
        "check_fit2d_1feature", "check_classifiers_classes", "check_classifiers_train",
        "check_decision_proba_consistency", "check_classifier_not_supporting_multiclass",
        "check_estimator_sparse_array", "check_estimator_sparse_matrix")}
MULTILABEL_HEADS_EXPECTED_FAILURES["check_class_weight_classifiers"] = _CLASS_WEIGHT_DICT


def _expected_failed_checks(estimator):
    if isinstance(estimator, MultiLabelHeads):
        return MULTILABEL_HEADS_EXPECTED_FAILURES
    return MULTIHEAD_EXPECTED_FAILURES


@parametrize_with_checks([MultiHeadClassifier(), MultiLabelHeads()],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
