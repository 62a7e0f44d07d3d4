r"""Offsets: known logits that are data, checked and laid out for an estimator.

An offset :math:`o_i` is a part of each row's logit that is known, not fitted:
the log of an exposure, or the logits of an earlier model. The model's logits
become

.. math:: z_i = W x_i + b + o_i,

in ``fit`` (the loss sees them; :mod:`sigmax.dataterms.base`) and in every
prediction method, which take the same ``offset=`` argument. An offset is
data, like ``X``: nothing of it is stored with the model, and a model fitted
with an offset predicts with the offset its caller passes (none: zero).

Shapes follow what ``decision_function`` returns, so that the scores of one
model can be the offset of the next:

- one output (``LogisticRegression``): ``(n_samples,)``;
- ``K`` classes or labels: ``(n_samples, K)``, one column per entry of
  ``classes_``, or ``(n_samples,)``, the same number added to every column;
- two classes (``SoftmaxRegression``, ``OneVsRestLogistic``), whose
  ``decision_function`` is one score per row: ``(n_samples,)`` is an offset of
  that score, the log-odds of ``classes_[1]`` (see the estimators'
  ``_offset_columns``), or ``(n_samples, 2)`` per class.

A softmax depends on differences of its logits only: a common shift of every
class (an ``(n_samples,)`` offset with ``K > 2`` classes) changes nothing,
and the estimator warns instead of silently ignoring it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._dtypes import DTYPES
from ..backends import to_numpy

__all__ = ["add_offset", "check_offset", "loss_offset", "offset_rows"]


def _describe_shapes(est: Any, n: int, k: int) -> str:
    """The shapes ``est`` accepts for ``n`` rows and ``k`` coefficient rows, in words."""
    name = type(est).__name__
    if k == 1:
        return f"{name} expects shape (n_samples,) = ({n},): one logit offset per row of X"
    columns = "label" if getattr(est, "_multilabel", False) else "class"
    one = (f"({n},), an offset of the one score per row that decision_function returns"
           if k == 2 and not getattr(est, "_multilabel", False)
           else f"({n},) added to every {columns}'s logit")
    return (f"{name} expects shape (n_samples, {k}) = ({n}, {k}), one column per {columns} "
            f"of classes_, or {one}")


def offset_rows(offset: Any, n_samples: int, what: str = "offset") -> np.ndarray:
    """``offset`` as float64 NumPy with one finite row per sample (1-D or 2-D, any width).

    The checks that need no estimator: numbers, ``n_samples`` rows, finite
    values (a NaN or infinity is reported with its rows). Row subsets (the
    folds of cross-validation) are then plain indexing.

    Raises
    ------
    ValueError
        Not numbers, not one row per sample, NaN or infinite values.
    """
    try:
        off = np.asarray(to_numpy(offset))
        if off.dtype.kind == "c":
            raise TypeError
        off = off.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be an array of numbers (one logit offset per row of "
                         f"X); got {type(offset).__name__} that cannot be read as "
                         "floats.") from None
    if off.ndim not in (1, 2) or off.shape[0] != n_samples:
        raise ValueError(f"{what} has shape {off.shape}, but X has {n_samples} rows: an "
                         "offset has one row per row of X, shape (n_samples,) or "
                         "(n_samples, K).")
    bad = ~np.isfinite(off)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1) if bad.ndim == 2 else bad)
        n_nan = int(np.isnan(off).sum())
        n_inf = int(bad.sum()) - n_nan
        kinds = " and ".join(s for s in (f"{n_nan} NaN" if n_nan else "",
                                         f"{n_inf} infinite" if n_inf else "") if s)
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        raise ValueError(
            f"{what} contains {kinds} value(s), at rows {rows[:5].tolist()}{more}: an offset "
            "is a known part of each row's logit and must be a finite number. Drop those "
            "rows, or give them the offset you mean (0 adds nothing).")
    return off


def _column_order(est: Any, offset: Any, k: int) -> np.ndarray | None:
    """A DataFrame offset's columns in the order of ``classes_`` (None: take them as they are).

    Columns named by the classes (as text) are matched by name, whatever their
    order; the default names ``0..k-1`` are positions; other names are refused,
    since they cannot say which class each column belongs to.
    """
    columns = getattr(offset, "columns", None)
    if columns is None or k < 2 or not hasattr(est, "classes_"):
        return None
    names = [str(c) for c in columns]
    classes = [str(c) for c in np.asarray(est.classes_).tolist()]
    if names == classes or names == [str(i) for i in range(k)]:
        return None
    if sorted(names) == sorted(classes) and len(set(names)) == k:
        return np.array([names.index(c) for c in classes])
    raise ValueError(f"offset has columns {names[:6]}{'...' if k > 6 else ''}, which are not "
                     f"the classes {classes[:6]}{'...' if k > 6 else ''} of classes_: name the "
                     "columns by class (any order), or pass an array in the order of "
                     "classes_.")


def check_offset(est: Any, offset: Any, n_samples: int, n_coef_rows: int,
                 what: str = "offset") -> np.ndarray | None:
    """``offset`` checked: float64 ``(n_samples, n_coef_rows)`` in the columns of ``coef_``.

    Parameters
    ----------
    est : LinearClassifierBase
        Its ``_offset_columns`` hook expands an ``(n_samples,)`` offset.
    offset : array-like, tensor or dask array, or None
    n_samples : int
        Rows of ``X``.
    n_coef_rows : int
        Rows of ``coef_`` (``K``): the logits the offset is added to.

    Returns
    -------
    ndarray of shape (n_samples, n_coef_rows), float64, or None

    Raises
    ------
    ValueError
        Not numbers, the wrong shape (the message names the expected shapes),
        NaN or infinite values (the message names the rows).
    """
    if offset is None:
        return None
    k = int(n_coef_rows)
    shape = np.shape(offset) if hasattr(offset, "shape") else np.asarray(offset).shape
    if len(shape) == 2 and tuple(shape) == (n_samples, 1) and k == 1:
        offset = np.asarray(to_numpy(offset))[:, 0]
        shape = (n_samples,)
    if not ((len(shape) == 1 and shape[0] == n_samples)
            or (len(shape) == 2 and tuple(shape) == (n_samples, k))):
        raise ValueError(f"{what} has shape {tuple(shape)}, but X has {n_samples} rows: "
                         f"{_describe_shapes(est, n_samples, k)}.")
    order = _column_order(est, offset, k) if len(shape) == 2 else None
    off = offset_rows(offset, n_samples, what)
    if order is not None:
        off = off[:, order]
    full = est._offset_columns(off, k) if off.ndim == 1 else off
    return np.ascontiguousarray(full, dtype=np.float64)


def loss_offset(est: Any, full: np.ndarray | None) -> np.ndarray | None:
    """The offset of the loss's outputs, in the working dtype: what the data term adds.

    ``full`` is :func:`check_offset`'s ``(n, K)``; the estimator's ``_loss_offset``
    maps it to the loss's columns (the reference softmax drops class 0's).

    None for an all-zero offset (it adds nothing).

    Raises
    ------
    ValueError
        An offset beyond the range of ``dtype='float32'``.
    """
    if full is None:
        return None
    off = est._loss_offset(full)
    if not off.any():
        # An all-zero offset adds nothing: the data term then keeps its no-offset
        # shortcuts (no pass at w = 0, no per-block addition), and the fit is
        # exactly the one without an offset.
        return None
    dtype = DTYPES[est.dtype]
    if dtype != np.float64:
        limit = float(np.finfo(dtype).max) / 4
        if np.abs(off).max(initial=0.0) > limit:
            raise ValueError(f"offset has values beyond {limit:.1e}, the range dtype="
                             f"{est.dtype!r} works in; fit with dtype='float64'.")
    return np.ascontiguousarray(off, dtype=dtype)


def add_offset(Z: np.ndarray, full: np.ndarray | None) -> np.ndarray:
    """``Z + full`` in the dtype of ``Z``, finite: a sum past the float range is clipped.

    Probabilities depend on the logits through stable forms (sigmoid, softmax
    from shifted logits), and a logit of a quarter of the float maximum
    already gives probabilities of exactly 0 and 1.
    """
    if full is None:
        return Z
    Z = np.asarray(Z)
    if not np.issubdtype(Z.dtype, np.floating):
        Z = Z.astype(np.float64)
    with np.errstate(over="ignore"):
        out = Z + full.astype(Z.dtype, copy=False)
    cap = float(np.finfo(out.dtype).max) / 4
    if not np.isfinite(out).all():
        np.clip(out, -cap, cap, out=out)
    return out
