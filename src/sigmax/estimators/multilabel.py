"""Multi-label logistic regression: one independent sigmoid per label."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..numerics import expit, log_expit
from ._base import _DTYPES, LinearClassifierBase
from ._streaming import StreamingMixin


def _is_label_sets(y: Any) -> bool:
    """True for a sequence of label collections such as ``[{"a"}, {"a", "b"}, set()]``.

    Rows that are sets are label sets. Rows that are lists or tuples are label
    sets only when they cannot be a table: a rectangular table of numbers
    (``[[0, 1], [1, 1]]``) is an indicator matrix, as in scikit-learn's
    ``type_of_target``; ragged rows or non-numeric entries are label sets.
    """
    if isinstance(y, (np.ndarray,)) or sp.issparse(y) or hasattr(y, "iloc"):
        return False
    try:
        rows = list(y)
    except TypeError:
        return False
    if not rows or not all(isinstance(r, (set, frozenset, list, tuple)) for r in rows):
        return False
    if any(isinstance(r, (set, frozenset)) for r in rows):
        return True
    if len({len(r) for r in rows}) != 1:
        return True
    return not all(isinstance(v, (numbers.Number, np.number)) for r in rows for v in r)


#: Logit of a label seen with one value only: expit(40) = 1 - 4e-18 rounds to 1 in
#: float64 (the unpenalized optimum is at infinity; a finite logit keeps the
#: model file and every later product finite).
_CONSTANT_LOGIT = 40.0


class MultiLabelLogistic(StreamingMixin, LinearClassifierBase):
    r"""Independent logistic regressions, one per label, for non-exclusive labels.

    ``y`` is an ``(n, L)`` 0/1 indicator matrix (array, sparse matrix or
    DataFrame whose column names become ``classes_``), or a list of label sets
    (``[{"comedy"}, {"comedy", "drama"}, set()]``). A NaN entry of an indicator
    matrix means "label unknown for this row": it is masked out of the loss,
    not dropped with its row. All labels are fitted as one problem (one
    ``X @ W`` per evaluation):

    .. math:: C \sum_i s_i \sum_l m_{il}\left[\log(1 + e^{z_{il}}) - y_{il} z_{il}\right] + r(W).

    Parameters
    ----------
    penalty, C, l1_ratio, fit_intercept, solver, tol, max_iter, warm_start, dtype, verbose,
    backend, device
        As in :class:`LogisticRegression`.
    class_weight : 'balanced' or None, default=None
        ``'balanced'`` weighs positives and negatives of each label by
        ``n / (2 n_pos)`` and ``n / (2 n_neg)``.

    Attributes
    ----------
    classes_ : ndarray of shape (L,)
        Label names (indicator columns).
    coef_ : ndarray of shape (L, n_features)
    intercept_ : ndarray of shape (L,)
    fit_record_ : sigmax.solvers.FitResult

    Examples
    --------
    >>> from sigmax import MultiLabelLogistic
    >>> X = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [0.9, 0.1], [0.1, 0.8]]
    >>> Y = [{"comedy"}, {"drama"}, {"comedy", "drama"}, set(), {"drama"}, {"comedy"}]
    >>> clf = MultiLabelLogistic(C=10).fit(X, Y)
    >>> clf.classes_.tolist()
    ['comedy', 'drama']
    >>> clf.predict([[0.0, 1.0], [1.0, 1.0]]).tolist()  # both labels for the second
    [[1, 0], [1, 1]]
    """

    _loss_name = "multilabel"
    _multilabel = True

    def _encode_targets(self, y: Any, n_samples: int):
        if y is None:
            raise ValueError("MultiLabelLogistic requires y to be passed, but the target y "
                             "is None.")
        names = None
        if _is_label_sets(y):
            from sklearn.preprocessing import MultiLabelBinarizer

            mlb = MultiLabelBinarizer()
            Y = mlb.fit_transform(list(y)).astype(_DTYPES.get(self.dtype, np.float64))
            names = mlb.classes_
        else:
            if hasattr(y, "columns"):
                names = np.asarray(y.columns)
            Y = y.toarray() if sp.issparse(y) else np.asarray(y)
            if Y.dtype.kind == "f" and np.any(np.isfinite(Y) & (Y != np.round(Y))):
                raise ValueError(
                    "Unknown label type: continuous. MultiLabelLogistic is a classifier and "
                    "needs a 0/1 indicator matrix y; y has non-integer values. For a "
                    "continuous target use a regression model.")
            if Y.ndim != 2:
                raise ValueError(
                    "MultiLabelLogistic needs a 2-D 0/1 indicator matrix y of shape "
                    f"(n_samples, n_labels) or a list of label sets; got y of shape {Y.shape}. "
                    "For one label per sample use LogisticRegression (2 classes) or "
                    "SoftmaxRegression (K exclusive classes).")
            try:
                # A copy (modified below) in the working dtype: 0/1 and NaN are
                # exact in float32, and the fit holds fewer bytes per entry.
                Y = Y.astype(_DTYPES.get(self.dtype, np.float64))
            except (TypeError, ValueError) as exc:
                raise ValueError("MultiLabelLogistic needs a numeric 0/1 indicator matrix y "
                                 "(or a list of label sets).") from exc
        if Y.shape[0] != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {Y.shape[0]}; they must "
                             "have the same number of samples.")
        known = ~np.isnan(Y)
        # Entrywise tests (boolean temporaries), not Y[known]: no float copy of Y.
        invalid = (Y != 0) & (Y != 1)
        invalid &= known
        if invalid.any():
            bad = np.unique(Y[known][~np.isin(Y[known], (0.0, 1.0))])[:5]
            raise ValueError(
                f"MultiLabelLogistic needs y entries in {{0, 1}} (or NaN for unknown); found "
                f"{bad.tolist()}. For class labels use SoftmaxRegression or "
                "OneVsRestLogistic.")
        if Y.shape[1] < 1:
            raise ValueError("y has no label columns.")
        classes = names if names is not None else np.arange(Y.shape[1])
        constant = {}
        for j in range(Y.shape[1]):
            vals = np.unique(Y[known[:, j], j])
            if len(vals) == 0:
                raise ValueError(
                    f"Label {classes[j]!r} has no known value in y (all NaN): nothing can be "
                    "learned about it. Drop that column.")
            if len(vals) < 2:
                constant[j] = float(vals[0])
        if len(constant) == Y.shape[1]:
            raise ValueError(
                "Every label has one class only in y (each column is all 0 or all 1): a "
                "classifier needs both positive (1) and negative (0) samples of some label.")
        if constant:
            # As scikit-learn's OneVsRestClassifier: a label seen with one value only
            # gets a constant predictor (masked out of the fit, see _unpack), and a
            # warning, so that cross-validation on rare labels still runs.
            warnings.warn(
                "Label(s) " + ", ".join(f"{np.asarray(classes).tolist()[j]!r} (always {int(v)})"
                                        for j, v in constant.items())
                + " have one class only in the training rows: predicted as a constant. "
                "Fit on more rows or drop the column for a learned model.",
                UserWarning, stacklevel=5)
            known[:, list(constant)] = False
        self._constant = constant
        del invalid
        self._mask = None if known.all() else known.astype(np.float64)
        if self._mask is not None:
            Y[~known] = 0.0  # Y is this method's own copy
        return Y, np.asarray(classes), Y.shape[1]

    def _unpack(self, objective, result) -> None:
        super()._unpack(objective, result)
        for j, value in self._constant.items():
            self.coef_[j] = 0.0
            self.intercept_[j] = _CONSTANT_LOGIT if value == 1 else -_CONSTANT_LOGIT

    def _sample_class_weights(self, Y):
        mask = self._mask
        if self.class_weight is None:
            return mask
        if self.class_weight != "balanced":
            raise ValueError("MultiLabelLogistic takes class_weight=None or 'balanced' "
                             "(per-label positive/negative balancing); got a dict.")
        m = np.ones_like(Y) if mask is None else mask
        n = m.sum(axis=0)
        pos = (Y * m).sum(axis=0)
        neg = n - pos
        W = np.where(Y == 1, n / (2 * pos), n / (2 * neg))
        return W * m

    def _separable_columns(self, Z, Y, weights):
        w = weights if weights.ndim == 2 else np.broadcast_to(weights[:, None], Z.shape)
        margin = (2 * Y - 1) * Z
        return [k for k in range(Z.shape[1]) if np.all(margin[w[:, k] > 0, k] > 0)]

    def decision_function(self, X: Any, offset: Any = None) -> np.ndarray:
        """Per-label logits, shape (n_samples, L).

        ``offset``: the known logits the model was fitted with, for these rows
        (shape (n_samples, L), or (n_samples,) for every label).
        """
        return self._logits(X, offset)

    def predict_proba(self, X: Any, offset: Any = None) -> np.ndarray:
        """Probability of each label, shape (n_samples, L) (rows need not sum to 1)."""
        return expit(self._logits(X, offset))

    def predict_log_proba(self, X: Any, offset: Any = None) -> np.ndarray:
        """Log probability of each label, shape (n_samples, L)."""
        return log_expit(self._logits(X, offset))

    def predict(self, X: Any, offset: Any = None) -> np.ndarray:
        """0/1 indicator matrix, shape (n_samples, L): label present when p > 0.5."""
        return (self._logits(X, offset) > 0).astype(np.int64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        tags.classifier_tags.multi_label = True
        # Each label is binary: scikit-learn's checks then pass a 0/1 column.
        tags.classifier_tags.multi_class = False
        return tags
