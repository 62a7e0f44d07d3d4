r"""Export a fitted sigmax linear model to ONNX, for serving without Python.

The graph is built with :mod:`onnx.helper` (no skl2onnx) and has one input
and two outputs, named as skl2onnx names them:

- ``X``: the features, shape ``(N, d)``, in the export dtype;
- ``label``: the predicted class, shape ``(N,)`` (``(N, L)`` 0/1 for
  multi-label), as the model's ``predict``;
- ``probabilities``: shape ``(N, K)`` (``(N, L)`` for multi-label), as the
  model's ``predict_proba``.

A linear :class:`~sigmax.MultiHeadClassifier` gives ``label_<head>`` and
``probabilities_<head>`` per head (its ``predict(X)[head]`` and
``predict_proba(X)[head]``); a linear :class:`~sigmax.MultiLabelHeads` gives
``label`` and ``probabilities`` of shape ``(N, L)``, one column per label (a
group's label: its class's softmax probability). A model with a trunk
(``hidden=...``) is refused (export its torch module with ``torch.onnx.export``).

The logits are :math:`Z = X W^\top + b` (``MatMul`` + ``Add``). Every
probability is formed in a form that stays finite for any finite logit:

- softmax: :math:`e^{z_k - m} / \sum_j e^{z_j - m}` with :math:`m` the row
  maximum (``ReduceMax``, ``Sub``, ``Exp``, ``ReduceSum``, ``Div``): every
  exponent is :math:`\le 0` and the denominator lies in :math:`[1, K]`;
- sigmoid: the ``Sigmoid`` op, which is :math:`1/(1+e^{-z})` or
  :math:`e^{z}/(1+e^{z})` and at worst rounds to exactly 0 or 1;
  the binary model's two columns are :math:`\sigma(-z), \sigma(z)` (never
  :math:`1 - p`);
- one-vs-rest: normalized sigmoids, computed as the softmax of the
  log-sigmoids :math:`\log\sigma(z) = \min(z, 0) - \log(1 + e^{-|z|})`, so
  that a row whose sigmoids all underflow still sums to 1.

The feature names, the class labels and the model type travel in the
model's ``metadata_props`` (JSON strings). The file is written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["HEADS", "OPSET", "export_onnx", "to_onnx_model"]

#: The ONNX operator set the graphs use (ReduceMax / ReduceSum with axes as inputs).
OPSET = 18

_ONNX_DTYPES = {"float32": np.float32, "float64": np.float64}


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("ONNX export needs the onnx package: pip install 'sigmax[onnx]'."
                          ) from exc
    return onnx


class _Graph:
    """Nodes and constants of a graph under construction, with fresh names."""

    def __init__(self, onnx: Any, dtype: Any) -> None:
        self.onnx = onnx
        self.dtype = dtype
        self.model: Any = None  # the model being exported (for the heads that need more)
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, value: Any, hint: str = "c", dtype: Any = None) -> str:
        arr = np.asarray(value, dtype=dtype if dtype is not None else self.dtype)
        name = self.name(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type: str, inputs: list[str], out: str | None = None,
           **attrs: Any) -> str:
        out = out or self.name(op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], **attrs))
        return out

    # -- stable building blocks -----------------------------------------------------
    def softmax(self, Z: str, out: str) -> str:
        """Row softmax with the row maximum subtracted first (finite for finite Z)."""
        axes = self.const([1], "axes", np.int64)
        m = self.op("ReduceMax", [Z, axes], keepdims=1)
        e = self.op("Exp", [self.op("Sub", [Z, m])])
        s = self.op("ReduceSum", [e, axes], keepdims=1)
        return self.op("Div", [e, s], out)

    def log_sigmoid(self, Z: str) -> str:
        """``min(z, 0) - log(1 + exp(-|z|))``: the exponent is never positive."""
        zero = self.const(0.0, "zero")
        one = self.const(1.0, "one")
        t = self.op("Exp", [self.op("Neg", [self.op("Abs", [Z])])])
        return self.op("Sub", [self.op("Min", [Z, zero]),
                               self.op("Log", [self.op("Add", [t, one])])])


def _label_tensor(g: _Graph, classes: np.ndarray) -> tuple[str, int]:
    """The class labels as a constant; returns ``(name, ONNX element type)``."""
    TP = g.onnx.TensorProto
    classes = np.asarray(classes)
    if classes.dtype.kind in "iub":
        return g.const(classes.astype(np.int64), "classes", np.int64), TP.INT64
    if classes.dtype.kind == "f":
        return g.const(classes.astype(np.float64), "classes", np.float64), TP.DOUBLE
    arr = np.array([str(c) for c in classes], dtype=object)
    name = g.name("classes")
    g.inits.append(g.onnx.helper.make_tensor(name, TP.STRING, [len(arr)],
                                             [s.encode("utf-8") for s in arr]))
    return name, TP.STRING


#: One output of the graph: (name, ONNX element type or None for the float
#: dtype, shape with "N" for the rows).
_Output = tuple[str, "int | None", list]


def _binary_head(g: _Graph, Z: str, classes: np.ndarray, label: str = "label",
                 proba: str = "probabilities") -> list[_Output]:
    """One sigmoid output: columns sigma(-z), sigma(z); label classes_[z > 0]."""
    p1 = g.op("Sigmoid", [Z])
    p0 = g.op("Sigmoid", [g.op("Neg", [Z])])
    g.op("Concat", [p0, p1], proba, axis=1)
    positive = g.op("Cast", [g.op("Greater", [Z, g.const(0.0, "zero")])],
                    to=g.onnx.TensorProto.INT64)
    index = g.op("Squeeze", [positive, g.const([1], "axes", np.int64)])
    names, kind = _label_tensor(g, classes)
    g.op("Gather", [names, index], label, axis=0)
    return [(label, kind, ["N"]), (proba, None, ["N", 2])]


def _argmax_label(g: _Graph, Z: str, classes: np.ndarray, label: str) -> int:
    # ArgMax takes the first of tied maxima, as np.argmax does.
    index = g.op("ArgMax", [Z], axis=1, keepdims=0)
    names, kind = _label_tensor(g, classes)
    g.op("Gather", [names, index], label, axis=0)
    return kind


def _softmax_head(g: _Graph, Z: str, classes: np.ndarray, label: str = "label",
                  proba: str = "probabilities") -> list[_Output]:
    """Softmax over the columns of Z (stable form); label classes_[argmax z]."""
    g.softmax(Z, proba)
    return [(label, _argmax_label(g, Z, classes, label), ["N"]),
            (proba, None, ["N", len(classes)])]


def _ovr_head(g: _Graph, Z: str, classes: np.ndarray) -> list[_Output]:
    """OneVsRestLogistic: sigmoids normalized to 1, as a softmax of log-sigmoids."""
    g.softmax(g.log_sigmoid(Z), "probabilities")
    return [("label", _argmax_label(g, Z, classes, "label"), ["N"]),
            ("probabilities", None, ["N", len(classes)])]


def _multilabel_head(g: _Graph, Z: str, classes: np.ndarray) -> list[_Output]:
    """MultiLabelLogistic: one sigmoid per label; label 1 where z > 0."""
    g.op("Sigmoid", [Z], "probabilities")
    g.op("Cast", [g.op("Greater", [Z, g.const(0.0, "zero")])], "label",
         to=g.onnx.TensorProto.INT64)
    L = len(classes)
    return [("label", g.onnx.TensorProto.INT64, ["N", L]), ("probabilities", None, ["N", L])]


#: Head kind of MultiHeadClassifier (its ``heads_`` values) -> builder.
_HEAD_KIND_BUILDERS = {"softmax": _softmax_head, "sigmoid": _binary_head}


def _multihead(g: _Graph, Z: str, classes: dict) -> list[_Output]:
    """MultiHeadClassifier (linear): ``label_<head>`` and ``probabilities_<head>`` per head,
    each head's columns of Z through its own link."""
    model = g.model
    _refuse_trunk(model, "MultiHeadClassifier")
    outputs: list[_Output] = []
    for name, kind in model.heads_.items():
        cols = model.head_slices_[name]
        Zh = _columns(g, Z, cols.start, cols.stop)
        outputs += _HEAD_KIND_BUILDERS[kind](g, Zh, np.asarray(classes[name]),
                                             f"label_{name}", f"probabilities_{name}")
    return outputs


def _multilabel_heads(g: _Graph, Z: str, classes: np.ndarray) -> list[_Output]:
    """MultiLabelHeads (linear): per label, in the order of ``classes_``, its marginal
    probability and 0/1 prediction, as ``predict_proba`` / ``predict``.

    A label of a softmax group: its class's column of the group's (stable) softmax, and
    1 where that class is the group's argmax (first of ties, as ``np.argmax``); a
    sigmoid label: ``Sigmoid(z)`` and 1 where ``z > 0``.
    """
    model = g.model
    _refuse_trunk(model, "MultiLabelHeads")
    layout, slices, head_classes = model.layout_, model.head_slices_, model.head_classes_
    group_of = {label: grp for grp in layout.groups for label in grp.labels}
    zero = g.const(0.0, "zero")
    done: dict[str, tuple[str, str]] = {}  # group -> (probabilities, argmax (N, 1))
    probs, labels = [], []

    for label in layout.labels:
        grp = group_of.get(label)
        if grp is None:  # a sigmoid head: one logit column
            z = _columns(g, Z, slices[label].start, slices[label].stop)
            probs.append(g.op("Sigmoid", [z]))
            labels.append(g.op("Cast", [g.op("Greater", [z, zero])],
                               to=g.onnx.TensorProto.INT64))
            continue
        if grp.name not in done:
            Zh = _columns(g, Z, slices[grp.name].start, slices[grp.name].stop)
            done[grp.name] = (g.softmax(Zh, g.name("probabilities_group")),
                              g.op("ArgMax", [Zh], axis=1, keepdims=1))
        P, top = done[grp.name]
        c = [str(x) for x in head_classes[grp.name]].index(str(label))
        probs.append(_columns(g, P, c, c + 1))
        labels.append(g.op("Cast", [g.op("Equal", [top, g.const([c], "class", np.int64)])],
                           to=g.onnx.TensorProto.INT64))
    g.op("Concat", probs, "probabilities", axis=1)
    g.op("Concat", labels, "label", axis=1)
    L = len(layout.labels)
    return [("label", g.onnx.TensorProto.INT64, ["N", L]), ("probabilities", None, ["N", L])]


def _columns(g: _Graph, T: str, a: int, b: int) -> str:
    """Columns ``a:b`` of the ``(N, k)`` tensor ``T``."""
    return g.op("Slice", [T, g.const([a], "s", np.int64), g.const([b], "e", np.int64),
                          g.const([1], "a", np.int64)])


def _refuse_trunk(model: Any, name: str) -> None:
    if hasattr(model, "hidden_coefs_"):
        raise TypeError(f"ONNX export covers the linear heads of {name}; this model has a "
                        "trunk (hidden=...): export its torch module with torch.onnx.export "
                        "instead.")


#: How each estimator turns logits into its outputs (``label``, ``probabilities``):
#: class name -> builder ``(graph, logits name, classes_) -> outputs``. A class is
#: looked up by the names in its MRO; None marks a subclass that is not supported.
HEADS: dict[str, Any] = {
    "LogisticRegression": _binary_head,
    "SoftmaxRegression": _softmax_head,
    "OneVsRestLogistic": _ovr_head,
    "MultiLabelLogistic": _multilabel_head,
    "MultiLabelHeads": _multilabel_heads,
    "MultiHeadClassifier": _multihead,
}


def _head_for(model: Any) -> Callable[..., list[_Output]]:
    for cls in type(model).__mro__:
        if cls.__name__ in HEADS and HEADS[cls.__name__] is not None:
            return HEADS[cls.__name__]
        if cls.__name__ in HEADS:
            break
    supported = [name for name, head in HEADS.items() if head is not None]
    raise TypeError(f"ONNX export supports {', '.join(supported)}; got "
                    f"{type(model).__name__}.")


def _jsonable_classes(classes: Any) -> Any:
    if isinstance(classes, dict):  # MultiHeadClassifier: per head
        return {str(h): _jsonable_classes(c) for h, c in classes.items()}
    return [c.item() if hasattr(c, "item") else str(c) for c in np.asarray(classes)]


def to_onnx_model(model: Any, dtype: str = "float32") -> Any:
    """Build the ONNX ``ModelProto`` of a fitted model (see the module docstring).

    Parameters
    ----------
    model : LogisticRegression, SoftmaxRegression, OneVsRestLogistic, MultiLabelLogistic,
        MultiHeadClassifier or MultiLabelHeads (linear heads), fitted.
    dtype : {'float32', 'float64'}, default='float32'
        Element type of the input ``X``, the weights and ``probabilities``.

    Returns
    -------
    onnx.ModelProto
        Checked with ``onnx.checker``.
    """
    onnx = _require_onnx()
    if dtype not in _ONNX_DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_ONNX_DTYPES)}; got {dtype!r}.")
    head = _head_for(model)
    if not hasattr(model, "coef_"):
        raise ValueError(f"This {type(model).__name__} is not fitted yet: call fit (or load "
                         "a saved model) before exporting it.")
    np_dtype = _ONNX_DTYPES[dtype]
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(np_dtype))
    W = np.asarray(model.coef_, dtype=np.float64)  # (k, d)
    b = np.asarray(model.intercept_, dtype=np.float64).reshape(-1)
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
        raise ValueError("The model has non-finite coefficients; refit it before exporting.")
    d = W.shape[1]
    g = _Graph(onnx, np_dtype)
    g.model = model
    Z = g.op("Add", [g.op("MatMul", ["X", g.const(W.T, "coef")]), g.const(b, "intercept")],
             "logits")
    classes = model.classes_
    outputs = head(g, Z, classes if isinstance(classes, dict) else np.asarray(classes))
    graph = onnx.helper.make_graph(
        g.nodes, f"sigmax_{type(model).__name__}",
        [onnx.helper.make_tensor_value_info("X", elem, ["N", d])],
        [onnx.helper.make_tensor_value_info(name, elem if kind is None else kind, shape)
         for name, kind, shape in outputs],
        initializer=g.inits)
    proto = onnx.helper.make_model(
        graph, producer_name="sigmax", opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    proto.ir_version = min(proto.ir_version, 10)  # readable by onnxruntime releases of 2024+
    from importlib.metadata import PackageNotFoundError, version

    try:  # the installed version: no import of the sigmax package itself (no cycle)
        __version__ = version("sigmax")
    except PackageNotFoundError:  # pragma: no cover - a source tree without metadata
        __version__ = "unknown"
    names = getattr(model, "feature_names_in_", None)
    meta = {
        "sigmax_version": __version__,
        "model_type": type(model).__name__,
        "feature_names": json.dumps(None if names is None else [str(n) for n in names]),
        "classes": json.dumps(_jsonable_classes(model.classes_)),
        "outputs": json.dumps([name for name, _, _ in outputs]),
    }
    onnx.helper.set_model_props(proto, meta)
    onnx.checker.check_model(proto)
    return proto


def export_onnx(model: Any, path: str | os.PathLike, dtype: str = "float32") -> None:
    """Write a fitted model as an ONNX file (atomically).

    Parameters
    ----------
    model : LogisticRegression, SoftmaxRegression, OneVsRestLogistic, MultiLabelLogistic,
        MultiHeadClassifier or MultiLabelHeads (linear heads), fitted.
    path : path-like
        The ``.onnx`` file to write.
    dtype : {'float32', 'float64'}, default='float32'
        Element type of the input ``X`` and of ``probabilities``.

    Examples
    --------
    >>> import onnxruntime as ort                                   # doctest: +SKIP
    >>> sigmax.export_onnx(clf, "model.onnx")                       # doctest: +SKIP
    >>> sess = ort.InferenceSession("model.onnx")                   # doctest: +SKIP
    >>> label, proba = sess.run(None, {"X": X.astype("float32")})   # doctest: +SKIP
    """
    from .io import atomic_write_bytes

    proto = to_onnx_model(model, dtype=dtype)
    atomic_write_bytes(path, proto.SerializeToString())
