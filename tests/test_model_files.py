"""Edited or hostile model files fail at load with one clear error (issue 16, item 9)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from sigmax import LogisticRegression, SoftmaxRegression
from sigmax import io as sigmax_io


def _saved(tmp_path, est):
    r = np.random.default_rng(0)
    X = r.normal(size=(40, 2))
    y = np.arange(40) % (2 if isinstance(est, LogisticRegression) else 3)
    path = tmp_path / "m.safetensors"
    sigmax_io.save(est.fit(X, y), path)
    return path


def _edit(path, change):
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as fh:
        meta = json.loads(fh.metadata()["sigmax"])
    tensors = load_file(str(path))
    text = change(meta)
    save_file(tensors, str(path), metadata={"sigmax": text if isinstance(text, str)
                                            else json.dumps(meta)})


@pytest.mark.parametrize("classes", [[0, 1, 2], [1], [], [1, 1]])
def test_logistic_file_with_wrong_classes_is_refused(tmp_path, classes):
    path = _saved(tmp_path, LogisticRegression())
    _edit(path, lambda m: m["classes"].update(values=classes))
    with pytest.raises(ValueError, match=r"distinct classes|shapes"):
        sigmax_io.load(path)


def test_duplicated_softmax_classes_are_refused(tmp_path):
    path = _saved(tmp_path, SoftmaxRegression())
    _edit(path, lambda m: m["classes"].update(values=[0, 1, 1]))
    with pytest.raises(ValueError, match="distinct classes"):
        sigmax_io.load(path)


def test_deeply_nested_header_is_refused(tmp_path):
    path = _saved(tmp_path, LogisticRegression())
    _edit(path, lambda m: '{"format": "sigmax-model", "x": ' + "[" * 100_000 + "]" * 100_000
          + "}")
    with pytest.raises(ValueError, match="nested too deeply"):
        sigmax_io.load(path)


def test_list_where_a_name_belongs_is_refused(tmp_path):
    path = _saved(tmp_path, LogisticRegression())
    _edit(path, lambda m: m.update(estimator=["LogisticRegression"]))
    with pytest.raises(ValueError, match="unknown estimator"):
        sigmax_io.load(path)


def test_bad_encoding_is_refused(tmp_path):
    path = _saved(tmp_path, LogisticRegression())
    _edit(path, lambda m: m.update(encoding={"missing": "error", "columns": [{"name": 3}]}))
    with pytest.raises(ValueError, match="table encoding"):
        sigmax_io.load(path)
