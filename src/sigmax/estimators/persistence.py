"""Estimators as arrays and JSON: the code that the save/load hooks of the estimators share.

:mod:`sigmax.io` owns the file format (a safetensors file: arrays as tensors, a
JSON header with the format tag, version and estimator name). What goes into
the file is each estimator's business, through two hooks:

- ``model._to_arrays() -> (arrays, meta)``: the fitted arrays by name (float64)
  and the JSON-ready rest (parameters, classes, feature names, fit record);
- ``cls._from_arrays(arrays, meta) -> model``: the inverse; checks every field
  first and raises ``ValueError`` saying what is wrong (``io`` adds the path).

This module holds the JSON codecs the hooks share and the hooks of the linear
estimators, whose arrays are ``coef`` ``(n_outputs, n_features)`` and
``intercept`` ``(n_outputs,)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..solvers import FitResult

__all__ = ["PARAM_TYPES", "check_params", "feature_names_from_json", "feature_names_to_json",
           "labels_from_json", "labels_to_json", "linear_from_arrays", "linear_to_arrays",
           "param_from_json", "param_to_json", "set_fit_record"]

#: JSON value types a saved constructor parameter may have.
PARAM_TYPES = (str, int, float, bool, type(None), dict)


# -- JSON codecs -----------------------------------------------------------------------------
def labels_to_json(values: np.ndarray) -> dict[str, Any]:
    """Class labels as ``{"kind": ..., "values": [...]}``, restoring the exact dtype kind."""
    values = np.asarray(values)
    if values.dtype.kind == "b":
        return {"kind": "bool", "values": [bool(v) for v in values]}
    if values.dtype.kind in "iu":
        return {"kind": "int", "values": [int(v) for v in values]}
    if values.dtype.kind == "f":
        return {"kind": "float", "values": [float(v) for v in values]}
    # Keep NumPy strings apart from object arrays of strings (pandas' labels),
    # so that predict returns the same dtype after a round trip.
    kind = "object" if values.dtype.kind == "O" else "str"
    return {"kind": kind, "values": [str(v) for v in values]}


def labels_from_json(spec: Any) -> np.ndarray:
    """Inverse of :func:`labels_to_json`; ``ValueError('bad label list')`` on anything else."""
    if not isinstance(spec, dict) or not isinstance(spec.get("values"), list):
        raise ValueError("bad label list")
    kind, values = spec.get("kind"), spec["values"]
    types = {"bool": (bool, np.bool_), "int": (int, np.int64), "float": (float, np.float64),
             "str": (str, np.str_), "object": (str, object)}
    if kind not in types or not all(isinstance(v, types[kind][0]) for v in values):
        raise ValueError("bad label list")
    if kind == "int" and any(isinstance(v, bool) for v in values):
        raise ValueError("bad label list")
    return np.array(values, dtype=types[kind][1])


def param_to_json(key: str, val: Any) -> Any:
    """A constructor parameter as a JSON value that :func:`param_from_json` restores exactly."""
    if isinstance(val, np.generic):  # numpy scalars, e.g. from a parameter grid
        val = val.item()
    if isinstance(val, dict):
        # JSON object keys are strings; class labels may be ints, floats or bools,
        # so a mapping (class_weight) keeps its keys' type as a label list.
        try:
            keys = labels_to_json(np.array(list(val)))
            values = [float(v) for v in val.values()]
        except (TypeError, ValueError):
            raise TypeError(f"parameter {key}={val!r} cannot be saved as JSON.") from None
        return {"mapping": {"keys": keys, "values": values}}
    if not isinstance(val, PARAM_TYPES):
        raise TypeError(f"parameter {key}={val!r} cannot be saved as JSON.")
    return val


def param_from_json(val: Any) -> Any:
    """Inverse of :func:`param_to_json`; ``ValueError`` on a malformed mapping."""
    if isinstance(val, dict) and set(val) == {"mapping"}:
        spec = val["mapping"]
        if not isinstance(spec, dict):
            raise ValueError("bad mapping")
        keys = labels_from_json(spec.get("keys"))
        values = spec.get("values")
        if (not isinstance(values, list) or len(values) != len(keys)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           for v in values)):
            raise ValueError("bad mapping")
        return dict(zip(keys.tolist(), values))
    return val


def feature_names_to_json(model: Any) -> list[str] | None:
    """``feature_names_in_`` as a list of strings (None when fitted on an array)."""
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(v) for v in names]


def feature_names_from_json(names: Any, n_features: int) -> np.ndarray | None:
    """Inverse of :func:`feature_names_to_json`, checked against the feature count."""
    if names is None:
        return None
    if (not isinstance(names, list) or len(names) != n_features
            or not all(isinstance(v, str) for v in names)):
        raise ValueError("bad feature names")
    return np.array(names, dtype=object)


def check_params(cls: type, params: Any, types: tuple[type, ...] = PARAM_TYPES) -> dict:
    """``params`` if it is a dict of known parameter names with plain JSON values."""
    if not isinstance(params, dict) or set(params) - set(cls().get_params()):
        raise ValueError("unknown or malformed parameters")
    if not all(isinstance(v, types) for v in params.values()):
        raise ValueError("parameters must be plain JSON values")
    return dict(params)


def set_fit_record(model: Any, record: Any, record_type: type = FitResult) -> None:
    """Restore ``fit_record_``, ``n_iter_`` and ``solver_`` from a saved fit record dict."""
    if not isinstance(record, dict):
        return
    try:
        model.fit_record_ = (record_type(coef=np.array([]), **record)
                             if record_type is FitResult else record_type(**record))
    except TypeError:
        raise ValueError("malformed fit record") from None
    model.n_iter_ = np.array([model.fit_record_.n_iter])
    model.solver_ = model.fit_record_.solver


# -- the hooks of the linear estimators ------------------------------------------------------
def linear_to_arrays(model: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``({"coef", "intercept"}, meta)`` of a fitted linear estimator (see the module doc)."""
    meta = {
        "params": {key: param_to_json(key, val) for key, val in model.get_params().items()},
        "classes": labels_to_json(model.classes_),
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": feature_names_to_json(model),
        "fit_record": model.fit_record_.to_dict() if hasattr(model, "fit_record_") else None,
        # How a table's columns became the features (sigmax fit on a table).
        "encoding": getattr(model, "encoding_", None),
    }
    arrays = {"coef": np.ascontiguousarray(model.coef_, dtype=np.float64),
              "intercept": np.ascontiguousarray(model.intercept_, dtype=np.float64)}
    return arrays, meta


def linear_from_arrays(cls: type, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
    """Inverse of :func:`linear_to_arrays`: a fitted ``cls``, every field checked first.

    ``coef`` must be ``(cls._n_coef_rows(n_classes), n_features)`` float64 and finite.
    """
    if set(arrays) != {"coef", "intercept"}:
        raise ValueError(f"expected tensors ['coef', 'intercept'], found {sorted(arrays)}")
    params = check_params(cls, meta.get("params"))
    try:
        params = {key: param_from_json(val) for key, val in params.items()}
    except ValueError as exc:
        raise ValueError(f"malformed parameter ({exc})") from None
    model = cls(**params)
    model._validate_params()
    classes = labels_from_json(meta.get("classes"))
    _check_classes(cls, classes)
    n_features = meta.get("n_features_in")
    coef, intercept = arrays["coef"], arrays["intercept"]
    n_out = cls._n_coef_rows(len(classes))
    if (not isinstance(n_features, int) or coef.dtype != np.float64
            or coef.shape != (n_out, n_features) or intercept.shape != (n_out,)):
        raise ValueError("array shapes do not match the classes and feature count")
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise ValueError("non-finite coefficients")
    names = feature_names_from_json(meta.get("feature_names_in"), n_features)
    if names is not None:
        model.feature_names_in_ = names
    encoding = meta.get("encoding")
    if encoding is not None:
        from ..encoding import TableEncoding

        try:
            spec = TableEncoding.from_dict(encoding)
        except ValueError:
            raise ValueError("malformed table encoding") from None
        if names is None or spec.feature_names != [str(n) for n in names]:
            raise ValueError("the table encoding does not match the feature names")
        model.encoding_ = spec.to_dict()
    model.classes_ = classes
    # The working dtype of the fit (a float32 model keeps float32 coefficients).
    dtype = np.float32 if params.get("dtype") == "float32" else np.float64
    model.coef_ = coef.astype(dtype)
    model.intercept_ = intercept.astype(dtype)
    model.n_features_in_ = n_features
    set_fit_record(model, meta.get("fit_record"))
    return model


def _check_classes(cls: type, classes: np.ndarray) -> None:
    """Distinct classes, as many as the model takes (an edited file would mislabel rows)."""
    distinct = len(np.unique(classes)) if len(classes) else 0
    if getattr(cls, "_multilabel", False):
        need, ok = "at least 1", distinct >= 1
    elif getattr(cls, "_loss_name", "") == "binomial":
        need, ok = "exactly 2", distinct == 2
    else:
        need, ok = "at least 2", distinct >= 2
    if distinct != len(classes) or not ok:
        raise ValueError(f"{cls.__name__} needs {need} distinct classes; the file lists "
                         f"{len(classes)} ({distinct} distinct)")
