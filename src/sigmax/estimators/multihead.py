r"""Multitask classification: several heads (softmax groups and sigmoid labels) on one input.

A *head* is one prediction task on the same rows:

- a **softmax** head: one column of ``y`` holding class labels of ``K >= 2``
  mutually exclusive classes (``species``: Adelie / Chinstrap / Gentoo);
- a **sigmoid** head: one column of ``y`` holding an independent binary label
  (0/1, or any two values: ``sex``: female / male).

Every head reads the same features. Without hidden layers (``hidden=None``)
each head is a linear model of ``x`` and the whole model is one joint convex
problem, fitted by the core solvers:

.. math::

    \min_{W, b} \; C \sum_i s_i \sum_h m_{ih} \, \ell_h(z_{i,h}, y_{ih}) + r(W),
    \qquad z_{i,h} = W_h x_i + b_h,

with :math:`\ell_h` the multinomial loss of a softmax head or the binomial loss
of a sigmoid head, :math:`m_{ih} \in \{0, 1\}` the mask of the labels that are
known (a missing label is masked, its row still trains the other heads), and
one penalty :math:`r` on all coefficients. The loss and the penalty are both
sums over heads, so the joint optimum *is* the set of separate optima: head
``h`` equals a :class:`~sigmax.SoftmaxRegression` or
:class:`~sigmax.LogisticRegression` fitted with the same ``C`` on the rows
where its label is known. Fitting them jointly costs one product ``X @ W``
per evaluation for all heads, and it is the starting point of the shared
trunk: with ``hidden=(64,)`` the heads read learned features
:math:`\phi(x)` of a small neural network trained jointly with every head
(see :mod:`sigmax.trunk`), so that what one task learns helps the others.

Conventions
-----------
The joint model has ``k = sum_h k_h`` logit columns, ``k_h = K`` for a softmax
head and ``1`` for a sigmoid head, in the order of ``heads``; head ``h`` owns
columns ``head_slices_[h]`` of ``coef_`` / ``intercept_``. The encoded targets
are an ``(n, H)`` float matrix (class codes for softmax heads, 0/1 for sigmoid
heads) and the weights an ``(n, H)`` matrix ``s_i m_ih`` (times class weights).

Where things are
----------------
This module holds what a head *is*: the head kinds, the joint loss and the
encoding of ``y`` into head columns. The estimators built on them are
:class:`~sigmax.estimators.multihead_classifier.MultiHeadClassifier` and
:class:`~sigmax.estimators.multilabel_heads.MultiLabelHeads`; the shared trunk
is :mod:`sigmax.trunk`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..losses import LOSSES, HeadsLoss, Loss
from ..numerics import expit, log_expit

__all__ = ["HEAD_KINDS", "HeadKind", "HeadTargets", "HeadsLoss", "encode_heads", "head_columns",
           "separable_heads"]


# -- head kinds -------------------------------------------------------------------------
@dataclass(frozen=True)
class HeadKind:
    """What one kind of head is: its loss, its outputs and how logits become predictions.

    Attributes
    ----------
    name : str
        ``"softmax"`` or ``"sigmoid"``.
    loss : Loss
        The core loss of one head (from :data:`sigmax.losses.LOSSES`).
    exclusive : bool
        True when the head's classes are mutually exclusive and take ``K``
        logits; False for one binary label (one logit).
    """

    name: str
    loss: Loss
    exclusive: bool

    def n_outputs(self, n_classes: int) -> int:
        """Logit columns of a head with ``n_classes`` classes."""
        return self.loss.n_outputs(n_classes)

    def decision(self, Z: np.ndarray) -> np.ndarray:
        """The head's logits as users see them: ``(n, K)``, or ``(n,)`` for a sigmoid."""
        return Z if self.exclusive else Z[:, 0]

    def proba(self, Z: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, K)`` (``K = 2`` for a sigmoid: ``[1 - p, p]``)."""
        if self.exclusive:
            return LOSSES["multinomial"].predict_proba(Z)
        # 1 - sigmoid(z) is sigmoid(-z): exact where 1 - p would round to 0.
        return np.column_stack([expit(-Z[:, 0]), expit(Z[:, 0])])

    def log_proba(self, Z: np.ndarray) -> np.ndarray:
        """Log class probabilities ``(n, K)`` (log-softmax / log-sigmoid, finite)."""
        if self.exclusive:
            return LOSSES["multinomial"].predict_log_proba(Z)
        return np.column_stack([log_expit(-Z[:, 0]), log_expit(Z[:, 0])])

    def codes(self, Z: np.ndarray) -> np.ndarray:
        """Predicted class codes ``(n,)``: largest logit, or positive logit."""
        if self.exclusive:
            return np.argmax(Z, axis=1)
        return (Z[:, 0] > 0).astype(np.intp)


#: The kinds of head by name; ``heads={"species": "softmax", "sex": "sigmoid"}``.
HEAD_KINDS: dict[str, HeadKind] = {
    "softmax": HeadKind("softmax", LOSSES["multinomial"], exclusive=True),
    "sigmoid": HeadKind("sigmoid", LOSSES["binomial"], exclusive=False),
}


# -- reading y --------------------------------------------------------------------------
def head_columns(y: Any, heads: Mapping[str, str] | None) -> dict[str, np.ndarray]:
    """Split ``y`` into named 1-D columns (DataFrame, dict of arrays, Series or array)."""
    if y is None:
        raise ValueError("MultiHeadClassifier requires y to be passed, but the target y is "
                         "None.")
    if isinstance(y, pd.DataFrame):
        return {str(c): y.iloc[:, j].to_numpy() for j, c in enumerate(y.columns)}
    if isinstance(y, Mapping):
        return {str(k): np.asarray(v) for k, v in y.items()}
    if isinstance(y, pd.Series):
        return {str(y.name) if y.name is not None else "y": y.to_numpy()}
    arr = y.toarray() if sp.issparse(y) else np.asarray(y)
    if arr.ndim == 1:
        names = list(heads) if heads is not None and len(heads) == 1 else ["y"]
        return {names[0]: arr}
    if arr.ndim != 2:
        raise ValueError(f"y must be a DataFrame, a dict of columns or a 2-D array; got an "
                         f"array of shape {arr.shape}.")
    # An unnamed 2-D array: its columns are the declared heads, in order.
    if heads is not None and len(heads) == arr.shape[1]:
        names = list(heads)
    else:
        names = [str(j) for j in range(arr.shape[1])]
    return {name: arr[:, j] for j, name in enumerate(names)}


def _is_binary_indicator(values: np.ndarray, known: np.ndarray) -> bool:
    if values.dtype.kind not in "biuf" and values.dtype != object:
        return False
    try:
        vals = np.unique(values[known].astype(np.float64))
    except (TypeError, ValueError):
        return False
    return bool(len(vals) and np.all(np.isin(vals, (0.0, 1.0))))


def _encode_column(name: str, kind: str, values: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                       np.ndarray]:
    """Return ``(codes float (n,), classes, known mask)`` for one head's column."""
    from sklearn.utils.multiclass import type_of_target

    known = ~np.asarray(pd.isna(values), dtype=bool)
    if not known.any():
        raise ValueError(f"Head {name!r}: every label is missing (NaN); a head needs labelled "
                         "rows. Drop it from heads.")
    vals = values[known]
    if vals.dtype == object:
        kinds = {type(v).__name__ for v in vals}
        if kinds <= {"int", "float", "bool", "int64", "float64", "bool_"}:
            vals = vals.astype(np.float64)
        elif len(kinds) > 1 and not kinds <= {"str", "str_"}:
            raise ValueError(f"Head {name!r} mixes label types {sorted(kinds)}; use one type "
                             "(for example all strings).")
    if vals.dtype.kind == "f":
        if not np.all(np.isfinite(vals)):
            raise ValueError(f"Head {name!r} has infinite labels; use class labels (or NaN "
                             "for a missing label).")
        if np.all(vals == np.round(vals)):
            vals = vals.astype(np.int64)  # 0.0/1.0 from a column with NaN: integer classes
        elif type_of_target(vals) == "continuous":
            raise ValueError(f"Head {name!r} holds continuous values; a head predicts class "
                             "labels (softmax) or a binary label (sigmoid).")
    classes, codes = np.unique(vals, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"Head {name!r} has only one value, one class ({classes.tolist()}), among its "
            "known labels: "
            "a head needs at least two classes to learn to tell them apart. Drop it.")
    if not HEAD_KINDS[kind].exclusive and len(classes) != 2:
        raise ValueError(
            f"Head {name!r} is declared 'sigmoid' (one binary label) but has {len(classes)} "
            f"values ({classes[:5].tolist()}...); declare it 'softmax' for exclusive classes.")
    full = np.zeros(len(values))
    full[known] = codes
    return full, classes, known


@dataclass(frozen=True)
class HeadTargets:
    """``y`` encoded for the heads (what :func:`encode_heads` returns).

    Attributes
    ----------
    Y : ndarray of shape (n, H)
        Class code of each softmax head, 0/1 of each sigmoid head (0 where unknown).
    known : ndarray of bool, shape (n, H)
        Where each head's label is known.
    kinds : dict of str -> str
        Head name -> kind, in column order.
    classes : dict of str -> ndarray
        Classes of each head.
    slices : dict of str -> slice
        Logit columns of each head.
    layout : tuple of (kind, start, stop)
        The same columns in the form :class:`HeadsLoss` takes.
    n_outputs : int
        Logit columns in all, ``k = sum_h k_h``.
    """

    Y: np.ndarray
    known: np.ndarray
    kinds: dict[str, str]
    classes: dict[str, np.ndarray]
    slices: dict[str, slice]
    layout: tuple[tuple[str, int, int], ...]
    n_outputs: int


def encode_heads(y: Any, heads: Mapping[str, str] | None, n_samples: int) -> HeadTargets:
    """Split ``y`` into head columns and encode each (kinds inferred when ``heads`` is None).

    Raises
    ------
    ValueError
        When a column has the wrong length, a declared head is not a column of
        ``y`` (or the reverse), or a column cannot be a head of its kind.
    """
    cols = head_columns(y, heads)
    for name, col in cols.items():
        if col.ndim != 1 or col.shape[0] != n_samples:
            raise ValueError(f"X has {n_samples} samples but y column {name!r} has shape "
                             f"{col.shape}; every column of y needs one label per row of X.")
    if heads is None:
        heads = {name: ("sigmoid" if _is_binary_indicator(
            col, ~np.asarray(pd.isna(col), dtype=bool)) else "softmax")
            for name, col in cols.items()}
    else:
        heads = dict(heads)
        missing = [h for h in heads if h not in cols]
        if missing:
            raise ValueError(f"heads {missing} are not columns of y (columns: "
                             f"{list(cols)}); y needs one column per head.")
        extra = [c for c in cols if c not in heads]
        if extra:
            raise ValueError(f"y has columns {extra} that are not declared in heads "
                             f"{list(heads)}; declare them or drop them from y.")
    Y = np.zeros((n_samples, len(heads)))
    known = np.ones((n_samples, len(heads)), dtype=bool)
    classes: dict[str, np.ndarray] = {}
    layout, slices, start = [], {}, 0
    for h, (name, kind) in enumerate(heads.items()):
        Y[:, h], classes[name], known[:, h] = _encode_column(name, kind, cols[name])
        stop = start + HEAD_KINDS[kind].n_outputs(len(classes[name]))
        layout.append((kind, start, stop))
        slices[name] = slice(start, stop)
        start = stop
    return HeadTargets(Y, known, heads, classes, slices, tuple(layout), start)


def separable_heads(Z: np.ndarray, Y: np.ndarray, known: np.ndarray,
                    kinds: Mapping[str, str], slices: Mapping[str, slice]) -> list[str]:
    """Heads whose logits ``Z`` ``(n, k)`` classify every known training label right.

    Without a penalty such a head has no finite optimum (its loss tends to 0 as
    its coefficients grow).
    """
    separated = []
    for h, (name, kind) in enumerate(kinds.items()):
        Zh, rows = Z[:, slices[name]], known[:, h]
        codes = Y[rows, h].astype(np.intp)
        if HEAD_KINDS[kind].exclusive:
            Zk = Zh[rows].copy()
            true = Zk[np.arange(len(codes)), codes]
            Zk[np.arange(len(codes)), codes] = -np.inf
            ok = np.all(true > Zk.max(axis=1))
        else:
            ok = np.all((2 * codes - 1) * Zh[rows, 0] > 0)
        if ok:
            separated.append(name)
    return separated
