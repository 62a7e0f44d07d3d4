"""The model-file hooks of :class:`~sigmax.MultiHeadClassifier`: its heads and trunk as arrays.

Besides what every estimator stores (see :mod:`sigmax.estimators.persistence`),
a multi-head model stores its head layout (``heads``: ``[name, kind, start,
stop]`` per head, columns of ``coef``), the classes of each head, the fit
record's type (a linear fit's :class:`~sigmax.solvers.FitResult` or the
trunk's :class:`~sigmax.trunk.TrunkFitRecord`) and, with a trunk, the
trunk's arrays (:meth:`sigmax.trunk.TrunkState.array_names`). The layout is
that of the files written since format version 1.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..solvers import FitResult
from ..trunk import TrunkFitRecord, TrunkState
from .multihead import HEAD_KINDS
from .persistence import (
    PARAM_TYPES,
    check_params,
    feature_names_from_json,
    feature_names_to_json,
    labels_from_json,
    labels_to_json,
    set_fit_record,
)

__all__ = ["multihead_from_arrays", "multihead_to_arrays"]

#: Parameters whose JSON form is a list but whose value is a tuple.
_TUPLE_PARAMS = ("hidden",)
#: The fit record types a file may name.
_RECORD_TYPES = {"FitResult": FitResult, "TrunkFitRecord": TrunkFitRecord}


def multihead_to_arrays(model: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, meta)`` of a fitted MultiHeadClassifier (see the module docstring)."""
    params = model.get_params()
    for key in _TUPLE_PARAMS:
        if params[key] is not None:
            params[key] = [int(v) for v in params[key]]
    if params.get("heads") is not None:  # MultiLabelHeads discovers its heads: no parameter
        params["heads"] = dict(params["heads"])
    json.dumps(params)  # fails loudly on a parameter that is not plain JSON
    record = model.fit_record_.to_dict() if hasattr(model, "fit_record_") else None
    meta = {
        "params": params,
        "heads": [[name, kind, model.head_slices_[name].start, model.head_slices_[name].stop]
                  for name, kind in model.heads_.items()],
        "classes": {name: labels_to_json(model._head_classes[name]) for name in model.heads_},
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": feature_names_to_json(model),
        "fit_record": record,
        "fit_record_type": type(model.fit_record_).__name__ if record else None,
    }
    arrays = {"coef": np.ascontiguousarray(model.coef_, dtype=np.float64),
              "intercept": np.ascontiguousarray(model.intercept_, dtype=np.float64)}
    if hasattr(model, "hidden_coefs_"):
        arrays.update(model._trunk_state().layer_arrays())
    return arrays, meta


def _head_layout(meta: dict[str, Any]) -> tuple[dict, dict, dict, int]:
    """``(kinds, slices, classes, n_columns)`` of the heads in ``meta``, each entry checked."""
    heads, slices, classes, stop = {}, {}, {}, 0
    spec, class_spec = meta.get("heads"), meta.get("classes")
    if not isinstance(spec, list) or not spec or not isinstance(class_spec, dict):
        raise ValueError("missing head layout")
    for item in spec:
        if (not isinstance(item, list) or len(item) != 4 or not isinstance(item[0], str)
                or item[1] not in HEAD_KINDS or item[0] in heads
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in item[2:])):
            raise ValueError(f"bad head entry {item!r}")
        name, kind, a, b = item
        try:
            labels = labels_from_json(class_spec.get(name))
        except ValueError:
            raise ValueError(f"bad classes for head {name!r}") from None
        if (a != stop or len(labels) < 2 or len(np.unique(labels)) != len(labels)
                or b - a != HEAD_KINDS[kind].n_outputs(len(labels))
                or (not HEAD_KINDS[kind].exclusive and len(labels) != 2)):
            raise ValueError(f"head {name!r} does not match its classes")
        heads[name], slices[name], classes[name], stop = kind, slice(a, b), labels, b
    if set(class_spec) != set(heads):
        raise ValueError("classes do not match the heads")
    return heads, slices, classes, stop


def multihead_from_arrays(cls: type, arrays: dict[str, np.ndarray], meta: dict[str, Any]
                          ) -> Any:
    """Inverse of :func:`multihead_to_arrays`: checks every field, then builds the model.

    Raises
    ------
    ValueError
        Saying which field is wrong (kinds, contiguous head columns, class counts,
        array names and shapes, finiteness, parameters, fit record).
    """
    params = check_params(cls, meta.get("params"), (*PARAM_TYPES, list))
    for key in _TUPLE_PARAMS:
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    if not all(isinstance(v, (*PARAM_TYPES, tuple)) for v in params.values()):
        raise ValueError("parameters must be plain JSON values")
    model = cls(**params)
    model._validate_params()
    heads, slices, classes, stop = _head_layout(meta)

    n_features = meta.get("n_features_in")
    if not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1:
        raise ValueError("bad feature count")
    trunk = model.hidden is not None
    expected = {"coef", "intercept"} | (TrunkState.array_names(len(model.hidden)) if trunk
                                        else set())
    if set(arrays) != expected:
        raise ValueError(f"expected tensors {sorted(expected)}, found {sorted(arrays)}")
    if not all(t.dtype == np.float64 and np.all(np.isfinite(t)) for t in arrays.values()):
        raise ValueError("arrays must be finite float64")
    coef, intercept = arrays["coef"].copy(), arrays["intercept"].copy()
    state = (TrunkState.from_arrays(arrays, n_features, model.hidden, coef.T, intercept)
             if trunk else None)
    width = model.hidden[-1] if trunk else n_features
    if coef.shape != (stop, width) or intercept.shape != (stop,):
        raise ValueError("array shapes do not match the heads and feature count")

    names = feature_names_from_json(meta.get("feature_names_in"), n_features)
    if names is not None:
        model.feature_names_in_ = names
    model.heads_, model.head_slices_, model.classes_ = heads, slices, classes
    model.n_features_in_ = n_features
    if state is not None:
        model._set_trunk_state(state)
    else:
        model.coef_, model.intercept_ = coef, intercept
    record, kind = meta.get("fit_record"), meta.get("fit_record_type")
    if isinstance(record, dict):
        if kind not in _RECORD_TYPES:
            raise ValueError("malformed fit record")
        set_fit_record(model, record, _RECORD_TYPES[kind])
    return model
