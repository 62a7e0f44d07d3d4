"""Saving and loading models without pickle, and atomic file writes.

A model file is a safetensors file: the fitted arrays (``coef``, ``intercept``,
and a trunk's layers) as tensors, and everything else (format tag and version,
estimator name, parameters, class labels, feature names, fit record) as JSON
in the header metadata under the key ``"sigmax"``. This module knows that
format only; what an estimator stores is its own business, through its
``_to_arrays`` / ``_from_arrays`` hooks (:mod:`sigmax.estimators.persistence`).
Loading parses that JSON and those arrays only; it never imports or runs code
named by the file, and the estimator's hook checks every field before building it.
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

from ._version import __version__
from .estimators.registry import ESTIMATORS
from .outputs import check_output_file, name_max, temporary_name

__all__ = ["FORMAT_VERSION", "atomic_path", "atomic_write_text", "load", "save"]

#: Bumped when the file layout changes; files of a newer version are refused.
FORMAT_VERSION = 1
_KEY = "sigmax"


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


def save(model: Any, path: str | os.PathLike) -> None:
    """Save a fitted sigmax estimator to ``path`` (safetensors, atomically).

    The estimator says what to store through its ``_to_arrays()`` hook (see
    :mod:`sigmax.estimators.persistence`); this function writes the file.

    Parameters
    ----------
    model : fitted sigmax estimator (a class of :data:`sigmax.ESTIMATORS`)
    path : str or path-like
    """
    from safetensors.numpy import save_file
    from sklearn.utils.validation import check_is_fitted

    name = type(model).__name__
    if ESTIMATORS.get(name) is not type(model):
        raise TypeError(f"save() takes a sigmax estimator; got {name}.")
    check_is_fitted(model)
    arrays, fields = model._to_arrays()
    meta = {"format": "sigmax-model", "format_version": FORMAT_VERSION,
            "sigmax_version": __version__, "estimator": name, **fields}
    tensors = {key: np.ascontiguousarray(val) for key, val in arrays.items()}
    with atomic_path(path, suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={_KEY: json.dumps(meta)})


def _bad(path: Any, why: str) -> ValueError:
    return ValueError(f"{path} is not a valid sigmax model file: {why}. Save models with "
                      "model.save(path) and load them with sigmax.load(path).")


def load(path: str | os.PathLike) -> Any:
    """Load a model written by :func:`save`. Never unpickles and never runs code.

    Reads the header and the arrays, finds the estimator class named in the
    header in :data:`sigmax.ESTIMATORS` (a table, never an import by name) and
    hands both to its ``_from_arrays`` hook, which checks every field.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is not a sigmax model, is of a newer format, or was altered
        (inconsistent shapes, unknown estimator, non-finite coefficients...).
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}.")
    try:
        with safe_open(str(path), framework="np") as fh:
            header = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
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
    try:
        return cls._from_arrays(tensors, meta)
    except ValueError as exc:
        raise _bad(path, str(exc)) from None
