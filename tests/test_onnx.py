"""ONNX export: the file run in onnxruntime gives predict / predict_proba."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from click.testing import CliRunner  # noqa: E402

from sigmax import (  # noqa: E402
    LogisticRegression,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SoftmaxRegression,
    export_onnx,
    load,
)
from sigmax.cli import main  # noqa: E402
from sigmax.datasets import encode_like  # noqa: E402

TOL = {"float64": 1e-6, "float32": 1e-5}


def _data(k: int, n: int = 60, d: int = 4, seed: int = 0):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, d))
    y = np.arange(n) % k
    X[:, 0] += 1.5 * y
    return X, y


def _fitted(name: str):
    if name == "logistic":
        X, y = _data(2)
        return LogisticRegression(C=10).fit(X, np.array(["no", "yes"])[y]), X
    if name == "softmax":
        X, y = _data(3)
        return SoftmaxRegression(C=10).fit(X, y + 5), X
    if name == "ovr":
        X, y = _data(3)
        return OneVsRestLogistic(C=10).fit(X, y), X
    X, y = _data(3)
    Y = np.column_stack([y == 0, y >= 1, X[:, 1] > 0]).astype(int)
    return MultiLabelLogistic(C=10).fit(X, Y), X


def _run(path, X, dtype):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["label", "probabilities"]
    return sess.run(None, {"X": np.asarray(X, dtype=dtype)})


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["logistic", "softmax", "ovr", "multilabel"])
def test_onnx_matches_predict_proba(tmp_path, name, dtype):
    model, X = _fitted(name)
    path = tmp_path / "m.onnx"
    model.to_onnx(path, dtype=dtype)
    label, proba = _run(path, X, dtype)
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=0, atol=TOL[dtype])
    np.testing.assert_array_equal(label, model.predict(X))
    # Extreme logits: every row scaled by 1e3; the stable forms keep the
    # probabilities finite and equal to the model's.
    Xe = X * 1e3
    label, proba = _run(path, Xe, dtype)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba, model.predict_proba(Xe), rtol=0, atol=TOL[dtype])
    np.testing.assert_array_equal(label, model.predict(Xe))
    if name != "multilabel":
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=TOL[dtype])


def test_ovr_all_sigmoids_underflow(tmp_path):
    # Every logit of a row below -1e3: all K sigmoids underflow to 0, yet the
    # normalized probabilities are well defined (the log-sigmoid form).
    model, X = _fitted("ovr")
    model.intercept_ = model.intercept_ - 2e3
    path = tmp_path / "m.onnx"
    export_onnx(model, path, dtype="float64")
    _, proba = _run(path, X, "float64")
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-6)


def test_metadata_and_opset(tmp_path):
    model, X = _fitted("softmax")
    cols = [f"f{j}" for j in range(X.shape[1])]
    model.fit(pd.DataFrame(X, columns=cols), model.predict(X))
    path = tmp_path / "m.onnx"
    model.to_onnx(path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["feature_names"]) == cols
    assert meta["model_type"] == "SoftmaxRegression"
    assert json.loads(meta["classes"]) == model.classes_.tolist()
    assert proto.opset_import[0].version >= 13


def test_unfitted_and_unsupported_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        SoftmaxRegression().to_onnx(tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="supports"):
        export_onnx(object(), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("model", ["softmax", "multilabel"])
def test_cli_export_scores_like_predict(tmp_path, model):
    r = np.random.default_rng(1)
    n = 90
    y = np.arange(n) % 3
    df = pd.DataFrame({"x1": r.normal(size=n) + y, "x2": r.normal(size=n) - 0.5 * y,
                       "shape": np.array(["round", "square", "oval"])[np.arange(n) % 3],
                       "label": np.array(["a", "b", "c"])[y],
                       "l1": (y == 0).astype(int), "l2": (r.normal(size=n) > 0).astype(int)})
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    runner = CliRunner()
    targets = ["-t", "label"] if model == "softmax" else ["-t", "l1", "-t", "l2",
                                                          "--drop", "label"]
    fit = runner.invoke(main, ["fit", str(data), *targets, "-m", model,
                               "-o", str(tmp_path / "m.safetensors")])
    assert fit.exit_code == 0, fit.output
    out = runner.invoke(main, ["export", str(tmp_path / "m.safetensors"),
                               "-o", str(tmp_path / "m.onnx"), "--dtype", "float64"])
    assert out.exit_code == 0, out.output
    pred = runner.invoke(main, ["predict", str(tmp_path / "m.safetensors"), str(data),
                                "-o", str(tmp_path / "pred.csv")])
    assert pred.exit_code == 0, pred.output
    table = pd.read_csv(tmp_path / "pred.csv")
    est = load(tmp_path / "m.safetensors")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    names = json.loads({p.key: p.value for p in proto.metadata_props}["feature_names"])
    X = encode_like(est, df)[names].to_numpy(dtype=np.float64)
    label, proba = _run(tmp_path / "m.onnx", X, "float64")
    p_cols = [c for c in table.columns if c.startswith("p:")]
    np.testing.assert_allclose(proba, table[p_cols].to_numpy(), atol=1e-6)
    if model == "softmax":
        assert label.astype(str).tolist() == table["predicted"].astype(str).tolist()
    else:
        pred_cols = [c for c in table.columns if c.startswith("predicted:")]
        np.testing.assert_array_equal(label, table[pred_cols].to_numpy())


def test_cli_export_refuses_overwriting_the_model(tmp_path):
    X, y = _data(2)
    model = LogisticRegression().fit(X, y)
    model.save(tmp_path / "m.safetensors")
    res = CliRunner().invoke(main, ["export", str(tmp_path / "m.safetensors"),
                                    "-o", str(tmp_path / "m.safetensors")])
    assert res.exit_code != 0
    assert load(tmp_path / "m.safetensors").coef_.shape == (1, 4)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_multihead_linear_heads(tmp_path, dtype):
    from sigmax import MultiHeadClassifier

    r = np.random.default_rng(3)
    X = r.normal(size=(80, 3))
    y = pd.DataFrame({"kind": np.arange(80) % 3,
                      "flag": np.array(["no", "yes"])[(X[:, 0] > 0).astype(int)]})
    model = MultiHeadClassifier(heads={"kind": "softmax", "flag": "sigmoid"}, C=10).fit(X, y)
    path = tmp_path / "m.onnx"
    model.to_onnx(path, dtype=dtype)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    assert names == ["label_kind", "probabilities_kind", "label_flag", "probabilities_flag"]
    for scale in (1.0, 1e3):
        out = dict(zip(names, sess.run(None, {"X": (X * scale).astype(dtype)})))
        proba, pred = model.predict_proba(X * scale), model.predict(X * scale)
        for head in ("kind", "flag"):
            assert np.all(np.isfinite(out[f"probabilities_{head}"]))
            np.testing.assert_allclose(out[f"probabilities_{head}"], proba[head], atol=TOL[dtype])
            assert out[f"label_{head}"].astype(str).tolist() == pred[head].astype(str).tolist()


def test_multihead_with_a_trunk_is_refused(tmp_path):
    import warnings

    from sigmax import MultiHeadClassifier

    r = np.random.default_rng(4)
    X = r.normal(size=(40, 3))
    y = pd.DataFrame({"a": np.arange(40) % 2, "b": np.arange(40) % 3})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MultiHeadClassifier(hidden=(4,), max_iter=5).fit(X, y)
    with pytest.raises(TypeError, match="trunk"):
        model.to_onnx(tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mixed_heads_give_per_label_marginals_like_predict_proba(tmp_path, dtype):
    from sigmax import MultiLabelHeads

    r = np.random.default_rng(5)
    X = r.normal(size=(400, 3))
    genre = np.argmax(X[:, :2] @ [[2, -2, 0], [0, 2, -2]] + r.gumbel(size=(400, 3)), axis=1)
    # Column order mixes the heads: a sigmoid label first, then the group's labels.
    Y = pd.DataFrame({"short": (X[:, 2] > 0).astype(int), "drama": (genre == 0).astype(int),
                      "comedy": (genre == 1).astype(int)})
    model = MultiLabelHeads().fit(X, Y)
    assert model.layout_.heads == {"drama|comedy": "softmax", "short": "sigmoid"}
    path = tmp_path / "m.onnx"
    model.to_onnx(path, dtype=dtype)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == ["label", "probabilities"]
    for scale in (1.0, 1e3):  # extreme logits stay finite
        label, proba = sess.run(None, {"X": (X * scale).astype(dtype)})
        assert np.all(np.isfinite(proba)) and label.shape == (400, 3)
        np.testing.assert_allclose(proba, model.predict_proba(X * scale), atol=TOL[dtype])
        np.testing.assert_array_equal(label, model.predict(X * scale))
        assert (label[:, 1:].sum(axis=1) <= 1).all()  # one genre at most per row
