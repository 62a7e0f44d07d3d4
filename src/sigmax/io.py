"""Saving and loading models without pickle, and atomic file writes.

A model file is a safetensors file: the arrays (``coef``, ``intercept``) as
tensors, and everything else (estimator name, parameters, class labels,
feature names, fit record, format version) as JSON in the header metadata.
Loading parses that JSON and those arrays only; it never imports or runs code
named by the file, and it checks every field before building the estimator.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .outputs import check_output_file, name_max, temporary_name

__all__ = ["FORMAT_VERSION", "atomic_path", "atomic_write_text", "load", "save"]

#: Bumped when the file layout changes; files of a newer version are refused.
FORMAT_VERSION = 1
_KEY = "sigmax"
_PARAM_TYPES = (str, int, float, bool, type(None), dict)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only on success.

    The temporary file lives in the same folder so that ``os.replace`` is an
    atomic rename: readers see the old file or the new one, never half of one,
    and a crash leaves no partial file behind.
    """
    # A symbolic link is written through (its target is replaced, the link
    # stays); a pipe, a device or a folder is refused before anything is made.
    target = check_output_file(path, what="output")
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=temporary_name(target, suffix, name_max(target.parent)),
                               suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates the file 0600; give it the mode a plain open() would
        # (the existing file's mode, else 0666 minus the umask).
        os.chmod(tmp_path, target.stat().st_mode & 0o7777 if target.exists()
                 else 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    """The process umask (read by setting it and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _labels_to_json(values: np.ndarray) -> dict[str, Any]:
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


def _labels_from_json(spec: Any) -> np.ndarray:
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


def _param_to_json(key: str, val: Any) -> Any:
    """A constructor parameter as a JSON value that :func:`_param_from_json` restores exactly."""
    if isinstance(val, np.generic):  # numpy scalars, e.g. from a parameter grid
        val = val.item()
    if isinstance(val, dict):
        # JSON object keys are strings; class labels may be ints, floats or bools,
        # so a mapping (class_weight) keeps its keys' type as a label list.
        try:
            keys = _labels_to_json(np.array(list(val)))
            values = [float(v) for v in val.values()]
        except (TypeError, ValueError):
            raise TypeError(f"parameter {key}={val!r} cannot be saved as JSON.") from None
        return {"mapping": {"keys": keys, "values": values}}
    if not isinstance(val, _PARAM_TYPES):
        raise TypeError(f"parameter {key}={val!r} cannot be saved as JSON.")
    return val


def _param_from_json(val: Any) -> Any:
    if isinstance(val, dict) and set(val) == {"mapping"}:
        spec = val["mapping"]
        if not isinstance(spec, dict):
            raise ValueError("bad mapping")
        keys = _labels_from_json(spec.get("keys"))
        values = spec.get("values")
        if (not isinstance(values, list) or len(values) != len(keys)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           for v in values)):
            raise ValueError("bad mapping")
        return dict(zip(keys.tolist(), values))
    return val


def save(model: Any, path: str | os.PathLike) -> None:
    """Save a fitted sigmax estimator to ``path`` (safetensors, atomically).

    Parameters
    ----------
    model : fitted sigmax estimator
    path : str or path-like
    """
    from safetensors.numpy import save_file
    from sklearn.utils.validation import check_is_fitted

    from . import __version__
    from .estimators import ESTIMATORS

    name = type(model).__name__
    if ESTIMATORS.get(name) is not type(model):
        raise TypeError(f"save() takes a sigmax estimator; got {name}.")
    check_is_fitted(model)
    writer = getattr(model, "_write_model_file", None)
    if writer is not None:  # more arrays than coef/intercept (MultiHeadClassifier): own layout
        writer(path)
        return
    params = {key: _param_to_json(key, val) for key, val in model.get_params().items()}
    meta = {
        "format": "sigmax-model",
        "format_version": FORMAT_VERSION,
        "sigmax_version": __version__,
        "estimator": name,
        "params": params,
        "classes": _labels_to_json(model.classes_),
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": (None if not hasattr(model, "feature_names_in_")
                             else [str(v) for v in model.feature_names_in_]),
        "fit_record": model.fit_record_.to_dict() if hasattr(model, "fit_record_") else None,
        # How a table's columns became the features (sigmax fit on a table).
        "encoding": getattr(model, "encoding_", None),
    }
    tensors = {
        "coef": np.ascontiguousarray(model.coef_, dtype=np.float64),
        "intercept": np.ascontiguousarray(model.intercept_, dtype=np.float64),
    }
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={_KEY: json.dumps(meta)})


def _bad(path: Any, why: str) -> ValueError:
    return ValueError(f"{path} is not a valid sigmax model file: {why}. Save models with "
                      "model.save(path) and load them with sigmax.load(path).")


def load(path: str | os.PathLike) -> Any:
    """Load a model written by :func:`save`. Never unpickles and never runs code.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is not a sigmax model, is of a newer format, or was altered
        (inconsistent shapes, unknown estimator, non-finite coefficients...).
    """
    from safetensors import SafetensorError, safe_open

    from .estimators import ESTIMATORS
    from .solvers import FitResult

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}.")
    try:
        with safe_open(str(path), framework="np") as fh:
            header = fh.metadata() or {}
            keys = set(fh.keys())
            tensors = {k: fh.get_tensor(k) for k in keys & {"coef", "intercept"}}
    except (SafetensorError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise _bad(path, f"not a safetensors file ({exc})") from None
    if _KEY not in header:
        raise _bad(path, "no sigmax metadata in the header (a foreign safetensors file?)")
    try:
        meta = json.loads(header[_KEY])
    except json.JSONDecodeError:
        raise _bad(path, "the metadata is not valid JSON") from None
    except RecursionError:  # a hostile header nested thousands deep
        raise _bad(path, "the metadata is nested too deeply") from None
    if not isinstance(meta, dict) or meta.get("format") != "sigmax-model":
        raise _bad(path, "the metadata does not describe a sigmax model")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise _bad(path, f"format version {version!r}; this sigmax reads versions 1.."
                         f"{FORMAT_VERSION} (upgrade sigmax to read newer files)")
    name = meta.get("estimator")
    cls = ESTIMATORS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise _bad(path, f"unknown estimator {meta.get('estimator')!r}; known: "
                         f"{sorted(ESTIMATORS)}")
    reader = getattr(cls, "_read_model_file", None)
    if reader is not None:  # its own layout, which its reader checks field by field
        return reader(path, meta)
    if keys != {"coef", "intercept"}:
        raise _bad(path, f"expected tensors ['coef', 'intercept'], found {sorted(keys)}")
    params = meta.get("params")
    valid = set(cls().get_params())
    if not isinstance(params, dict) or set(params) - valid:
        raise _bad(path, "unknown or malformed parameters")
    if not all(isinstance(v, _PARAM_TYPES) for v in params.values()):
        raise _bad(path, "parameters must be plain JSON values")
    try:
        params = {key: _param_from_json(val) for key, val in params.items()}
    except ValueError as exc:
        raise _bad(path, f"malformed parameter ({exc})") from None
    model = cls(**params)
    try:
        model._validate_params()
        classes = _labels_from_json(meta.get("classes"))
    except ValueError as exc:
        raise _bad(path, str(exc)) from None
    n_classes = len(np.unique(classes)) if len(classes) else 0
    needed = "exactly 2" if cls.__name__ == "LogisticRegression" else "at least 2"
    if n_classes != len(classes) or n_classes < 2 or (needed == "exactly 2" and n_classes != 2):
        raise _bad(path, f"{cls.__name__} needs {needed} distinct classes; the file lists "
                         f"{len(classes)} ({n_classes} distinct)")
    n_features = meta.get("n_features_in")
    coef, intercept = tensors["coef"], tensors["intercept"]
    n_out = 1 if cls.__name__ == "LogisticRegression" else len(classes)
    if (not isinstance(n_features, int) or coef.dtype != np.float64
            or coef.shape != (n_out, n_features) or intercept.shape != (n_out,)):
        raise _bad(path, "array shapes do not match the classes and feature count")
    if not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
        raise _bad(path, "non-finite coefficients")
    names = meta.get("feature_names_in")
    if names is not None:
        if (not isinstance(names, list) or len(names) != n_features
                or not all(isinstance(v, str) for v in names)):
            raise _bad(path, "bad feature names")
        model.feature_names_in_ = np.array(names, dtype=object)
    encoding = meta.get("encoding")
    if encoding is not None:
        from .encoding import TableEncoding

        try:
            spec = TableEncoding.from_dict(encoding)
        except ValueError:
            raise _bad(path, "malformed table encoding") from None
        if names is None or spec.feature_names != list(names):
            raise _bad(path, "the table encoding does not match the feature names")
        model.encoding_ = spec.to_dict()
    model.classes_ = classes
    dtype = np.float32 if params.get("dtype") == "float32" else np.float64
    model.coef_ = coef.astype(dtype)
    model.intercept_ = intercept.astype(dtype)
    model.n_features_in_ = n_features
    record = meta.get("fit_record")
    if isinstance(record, dict):
        try:
            model.fit_record_ = FitResult(coef=np.array([]), **record)
            model.n_iter_ = np.array([model.fit_record_.n_iter])
            model.solver_ = model.fit_record_.solver
        except TypeError:
            raise _bad(path, "malformed fit record") from None
    return model
