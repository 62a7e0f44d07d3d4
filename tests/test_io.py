"""Persistence: safetensors + JSON round trips, refusal of foreign, truncated or tampered
files, and atomic writes (a failure mid-write leaves the old file and no temp file)."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import make_classification_data, make_multilabel_data
from safetensors import safe_open
from safetensors.numpy import save_file
from sklearn.exceptions import NotFittedError

import sigmax
from sigmax import (
    LogisticRegression,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SoftmaxRegression,
)
from sigmax.io import FORMAT_VERSION, atomic_path, atomic_write_bytes, atomic_write_text

MODELS = [
    (LogisticRegression, {}, 2),
    (SoftmaxRegression, {}, 3),
    (SoftmaxRegression, {"parameterization": "reference", "penalty": None}, 3),
    (OneVsRestLogistic, {"penalty": "l1", "C": 0.5}, 3),
    (MultiLabelLogistic, {"penalty": "elasticnet", "l1_ratio": 0.5}, 0),
]
ids = ["logistic", "softmax", "softmax-reference", "ovr-l1", "multilabel-en"]


def fit(Est, params, k):
    if Est is MultiLabelLogistic:
        X, y = make_multilabel_data()
    else:
        X, y = make_classification_data(k=k)
    return Est(**params).fit(X, y), X, y


@pytest.mark.parametrize(("Est", "params", "k"), MODELS, ids=ids)
def test_round_trip(tmp_path, Est, params, k):
    m, X, y = fit(Est, params, k)
    path = tmp_path / "model.safetensors"
    m.save(path)
    loaded = sigmax.load(path)
    assert type(loaded) is Est
    assert loaded.get_params() == m.get_params()
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(m, method)(X))
    np.testing.assert_array_equal(loaded.classes_, m.classes_)
    assert loaded.classes_.dtype.kind == m.classes_.dtype.kind
    assert loaded.n_features_in_ == m.n_features_in_
    assert loaded.fit_record_.to_dict() == m.fit_record_.to_dict()
    assert loaded.n_iter_[0] == m.n_iter_[0] and loaded.solver_ == m.solver_
    assert loaded.score(X, y) == m.score(X, y)


def test_round_trip_keeps_pandas_feature_names_and_label_types(tmp_path):
    X, y = make_classification_data(k=3)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    for labels in (np.array(["cat", "dog", "eel"]), np.array([10, 20, 30]),
                   np.array([1.0, 2.0, 3.0]), np.array(["x", "y", "z"], dtype=object)):
        m = SoftmaxRegression(class_weight={labels[0]: 2.0}).fit(df, labels[y])
        m.save(tmp_path / "m.safetensors")
        loaded = sigmax.load(tmp_path / "m.safetensors")
        np.testing.assert_array_equal(loaded.feature_names_in_, ["a", "b", "c", "d"])
        np.testing.assert_array_equal(loaded.predict(df), m.predict(df))
        assert loaded.predict(df).dtype == m.predict(df).dtype
        # class_weight keeps its keys' type, so the loaded model refits as the original.
        assert loaded.get_params()["class_weight"] == m.get_params()["class_weight"]
        np.testing.assert_allclose(loaded.fit(df, labels[y]).coef_, m.coef_)
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(df[["b", "a", "c", "d"]])


def test_numpy_scalar_parameters_are_saved(tmp_path):
    X, y = make_classification_data(k=2)
    m = LogisticRegression(C=np.float32(0.5), max_iter=np.int64(50)).fit(X, y)
    m.save(tmp_path / "m.safetensors")
    params = sigmax.load(tmp_path / "m.safetensors").get_params()
    assert params["C"] == 0.5 and params["max_iter"] == 50


def test_file_is_safetensors_not_pickle(tmp_path):
    m, _, _ = fit(LogisticRegression, {}, 2)
    path = tmp_path / "m.safetensors"
    m.save(path)
    raw = path.read_bytes()
    assert not raw.startswith(b"\x80")  # every pickle protocol >= 2 starts so
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(raw)
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_len])
    assert set(header) == {"__metadata__", "coef", "intercept"}
    meta = json.loads(header["__metadata__"]["sigmax"])
    assert meta["format"] == "sigmax-model" and meta["format_version"] == FORMAT_VERSION
    assert meta["estimator"] == "LogisticRegression"


def test_unfitted_and_missing(tmp_path):
    with pytest.raises(NotFittedError):
        LogisticRegression().save(tmp_path / "m.safetensors")
    with pytest.raises(FileNotFoundError):
        sigmax.load(tmp_path / "nothing.safetensors")


# -- refusing bad files -------------------------------------------------------------------

def read(path):
    with safe_open(str(path), framework="np") as fh:
        meta = json.loads(fh.metadata()["sigmax"])
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    return meta, tensors


def write(path, meta, tensors):
    save_file(tensors, str(path), metadata={"sigmax": json.dumps(meta)})


@pytest.fixture
def saved(tmp_path):
    m, _, _ = fit(SoftmaxRegression, {}, 3)
    path = tmp_path / "m.safetensors"
    m.save(path)
    return path


def test_foreign_safetensors_file(tmp_path):
    path = tmp_path / "weights.safetensors"
    save_file({"coef": np.zeros((3, 4)), "intercept": np.zeros(3)}, str(path))
    with pytest.raises(ValueError, match="no sigmax metadata"):
        sigmax.load(path)
    save_file({"w": np.zeros(3)}, str(path), metadata={"framework": "other"})
    with pytest.raises(ValueError, match="no sigmax metadata"):
        sigmax.load(path)


def test_not_safetensors_at_all(tmp_path):
    path = tmp_path / "m.safetensors"
    path.write_bytes(pickle.dumps({"coef": [1, 2, 3]}))
    with pytest.raises(ValueError, match="not a valid sigmax model file"):
        sigmax.load(path)
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a valid sigmax model file"):
        sigmax.load(path)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_file(saved, keep):
    raw = saved.read_bytes()
    saved.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(ValueError, match="not a valid sigmax model file"):
        sigmax.load(saved)


TAMPER = {
    "unknown estimator": (lambda m, t: m.update(estimator="os.system"), "unknown estimator"),
    "newer format": (lambda m, t: m.update(format_version=FORMAT_VERSION + 1),
                     "format version.*upgrade sigmax"),
    "not a version": (lambda m, t: m.update(format_version="1"), "format version"),
    "wrong format tag": (lambda m, t: m.update(format="pickle"), "does not describe"),
    "coef shape": (lambda m, t: t.update(coef=np.zeros((3, 5))), "shapes"),
    "intercept shape": (lambda m, t: t.update(intercept=np.zeros(2)), "shapes"),
    "class count": (lambda m, t: m["classes"].update(values=[0, 1]), "shapes"),
    "feature count": (lambda m, t: m.update(n_features_in=5), "shapes"),
    "nan coef": (lambda m, t: t["coef"].__setitem__((0, 0), np.nan), "non-finite"),
    "inf intercept": (lambda m, t: t["intercept"].__setitem__(1, np.inf), "non-finite"),
    "coef dtype": (lambda m, t: t.update(coef=t["coef"].astype(np.float32)), "shapes"),
    "extra tensor": (lambda m, t: t.update(payload=np.zeros(1)), "expected tensors"),
    "missing tensor": (lambda m, t: t.pop("intercept"), "expected tensors"),
    "unknown parameter": (lambda m, t: m["params"].update(evil=1), "parameters"),
    "invalid parameter": (lambda m, t: m["params"].update(C=-1.0), "'C' parameter"),
    "parameter type": (lambda m, t: m["params"].update(C=[1.0]), "parameters"),
    "bad labels": (lambda m, t: m.update(classes={"kind": "int", "values": ["a"]}),
                   "bad label list"),
    "label kind": (lambda m, t: m.update(classes={"kind": "code", "values": [0, 1, 2]}),
                   "bad label list"),
    "feature names": (lambda m, t: m.update(feature_names_in=["a"]), "bad feature names"),
    "fit record": (lambda m, t: m.update(fit_record={"coef": 1}), "malformed fit record"),
}


@pytest.mark.parametrize("case", sorted(TAMPER))
def test_tampered_metadata_is_refused(saved, case):
    change, match = TAMPER[case]
    meta, tensors = read(saved)
    change(meta, tensors)
    write(saved, meta, tensors)
    with pytest.raises(ValueError, match=match):
        sigmax.load(saved)


def test_invalid_json_metadata(saved):
    _, tensors = read(saved)
    save_file(tensors, str(saved), metadata={"sigmax": "{not json"})
    with pytest.raises(ValueError, match="not valid JSON"):
        sigmax.load(saved)


# -- atomic writes ---------------------------------------------------------------------------

def leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name != keep)


def test_failed_save_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    import safetensors.numpy

    old, _, _ = fit(LogisticRegression, {}, 2)
    path = tmp_path / "m.safetensors"
    old.save(path)
    before = path.read_bytes()
    new, X, _ = fit(LogisticRegression, {"C": 0.01}, 2)

    def half_write(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"\x00" * 100)  # part of a file...
        raise OSError("disk full")  # ...then the failure

    monkeypatch.setattr(safetensors.numpy, "save_file", half_write)
    with pytest.raises(OSError, match="disk full"):
        new.save(path)
    assert path.read_bytes() == before
    assert leftovers(tmp_path, "m.safetensors") == []
    monkeypatch.undo()
    np.testing.assert_array_equal(sigmax.load(path).predict_proba(X), old.predict_proba(X))
    new.save(path)  # and a good save replaces it
    np.testing.assert_array_equal(sigmax.load(path).predict_proba(X), new.predict_proba(X))
    assert leftovers(tmp_path, "m.safetensors") == []


def test_atomic_helpers(tmp_path):
    target = tmp_path / "sub" / "report.txt"
    atomic_write_text(target, "first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("crash")
    assert target.read_text() == "second"
    assert leftovers(target.parent, "report.txt") == []
    # The new file gets ordinary permissions, not mkstemp's 0600.
    fresh = tmp_path / "fresh.txt"
    atomic_write_text(fresh, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask


# -- files written by earlier versions -----------------------------------------------------
V1 = os.path.join(os.path.dirname(__file__), "data", "models_v1")


def _listify(params):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


@pytest.mark.parametrize("name", ["logistic", "softmax", "ovr", "multilabel", "multihead",
                                  "multihead_trunk"])
def test_files_written_by_format_v1_code_still_load(name):
    # tests/data/models_v1 was written by the code before the save/load hooks (its own
    # reader in multihead.py); the same files must load and predict the same.
    with open(os.path.join(V1, "expected.json"), encoding="utf-8") as fh:
        expected = json.load(fh)
    want = expected["models"][name]
    model = sigmax.load(os.path.join(V1, f"{name}.safetensors"))
    assert type(model).__name__ == want["estimator"]
    assert _listify(model.get_params()) == want["params"]
    X = np.array(expected["X"])
    if want["dataframe"]:
        X = pd.DataFrame(X, columns=expected["columns"])
    proba, pred = model.predict_proba(X), model.predict(X)
    if isinstance(proba, dict):
        assert sorted(proba) == sorted(want["predict_proba"])
        for head, p in proba.items():
            np.testing.assert_allclose(p, want["predict_proba"][head], rtol=1e-12, atol=0)
            assert pred[head].tolist() == want["predict"][head]
    else:
        np.testing.assert_allclose(proba, want["predict_proba"], rtol=1e-12, atol=0)
        assert np.asarray(pred).tolist() == want["predict"]
