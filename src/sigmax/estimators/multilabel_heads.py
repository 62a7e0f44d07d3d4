r"""MultiLabelHeads: the multi-label API over discovered heads (softmax groups, sigmoids).

The heads are found by :func:`sigmax.labels.discover_heads` and fitted as a
:class:`~sigmax.estimators.multihead_classifier.MultiHeadClassifier`.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..numerics import log_expit
from ._base import LinearClassifierBase, _check_param
from .multihead import HEAD_KINDS
from .multihead_classifier import MultiHeadClassifier, unwrap_routing

__all__ = ["MultiLabelHeads"]


class MultiLabelHeads(MultiHeadClassifier):
    r"""Multi-label classifier with discovered heads: softmax for exclusive groups, sigmoids else.

    Takes the same ``y`` as :class:`~sigmax.MultiLabelLogistic` (a 0/1
    indicator matrix, NaN = unknown) and returns the same outputs (per-label
    probabilities, a 0/1 indicator), but first finds the label structure
    with :func:`sigmax.labels.discover_heads`: labels that never co-occur
    (beyond chance) become one softmax head (plus a "none" class when rows can
    have none of them), the others sigmoid heads. The heads are then fitted
    as a :class:`MultiHeadClassifier` (linear, or on a shared trunk with
    ``hidden``). Without exclusive groups it is exactly MultiLabelLogistic
    (independent sigmoids at the same ``C``).

    The marginal probability of a label of a group is its softmax
    probability, so the labels of a group never sum to more than one and
    :meth:`predict` never returns two labels of one group.

    Parameters
    ----------
    hidden : tuple of int, default=None
        Shared trunk widths (``None``: linear heads).
    discovery_alpha : float, default=0.05
        Level of the exclusivity test (see :mod:`sigmax.labels`).
    penalty, C, l1_ratio, fit_intercept, solver, tol, max_iter, class_weight, warm_start
        As in :class:`MultiHeadClassifier`.
    dtype, verbose, backend, device, activation, learning_rate, batch_size, max_epochs
        As in :class:`MultiHeadClassifier`.
    patience, validation_fraction, random_state
        As in :class:`MultiHeadClassifier`.

    Attributes
    ----------
    layout_ : sigmax.labels.HeadLayout
        The heads found on the training labels, with the evidence.
    classes_ : ndarray of shape (L,)
        Label names (the DataFrame's columns), or ``0..L-1`` for an array ``y``.
    heads_, head_slices_, head_classes_ : dict
        The fitted heads (``head_classes_``: the classes of each head).
    coef_, intercept_, fit_record_
        As in :class:`MultiHeadClassifier`.
    """

    _multilabel = True

    def __init__(self, hidden: tuple[int, ...] | None = None, *, discovery_alpha: float = 0.05,
                 penalty: str | None = "l2", C: float = 1.0, l1_ratio: float | None = None,
                 fit_intercept: bool = True, solver: str = "auto", tol: float = 1e-6,
                 max_iter: int = 1000, class_weight: str | None = None,
                 warm_start: bool = False, dtype: str = "float64", verbose: int = 0,
                 backend: str = "auto", device: str | None = None, activation: str = "relu",
                 learning_rate: float = 3e-3, batch_size: int = 64, max_epochs: int = 200,
                 patience: int = 10, validation_fraction: float = 0.1,
                 random_state: int | None = None) -> None:
        LinearClassifierBase.__init__(
            self, penalty, C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept, solver=solver,
            tol=tol, max_iter=max_iter, class_weight=class_weight, warm_start=warm_start,
            dtype=dtype, verbose=verbose, backend=backend, device=device)
        self.hidden = hidden
        self.discovery_alpha = discovery_alpha
        self.activation = activation
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    @property
    def heads(self) -> dict[str, str] | None:  # type: ignore[override]
        """The discovered heads (not a parameter: found on each fit's labels)."""
        layout = self.__dict__.get("layout_")
        return None if layout is None else layout.heads

    @property
    def _head_classes(self) -> dict[str, np.ndarray]:
        return self.__dict__.get("head_classes_", self.classes_)

    def _validate_params(self) -> None:
        super()._validate_params()
        _check_param(self, "discovery_alpha", isinstance(self.discovery_alpha, numbers.Real)
                     and 0 < self.discovery_alpha < 1, "a float in the range (0, 1)")

    def _encode_targets(self, y: Any, n_samples: int):
        from ..labels import discover_heads

        if y is None:
            raise ValueError("MultiLabelHeads requires y to be passed, but the target y is None.")
        Y = y if isinstance(y, pd.DataFrame) else (y.toarray() if sp.issparse(y)
                                                   else np.asarray(y))
        if np.ndim(Y) != 2:
            from sklearn.utils.multiclass import type_of_target

            what = ("continuous values (a regression target, not labels)"
                    if np.ndim(Y) == 1 and type_of_target(Y) == "continuous"
                    else f"shape {np.shape(Y)}")
            raise ValueError(
                "MultiLabelHeads needs a 2-D 0/1 indicator matrix y of shape (n_samples, "
                f"n_labels); got y of {what}. For one label per sample use "
                "LogisticRegression (2 classes) or SoftmaxRegression (K exclusive classes).")
        if Y.shape[0] != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {Y.shape[0]}; they must "
                             "have the same number of samples.")
        layout = discover_heads(Y, alpha=float(self.discovery_alpha))
        if layout.constant:
            raise ValueError(
                f"Label(s) {layout.constant} have only one value (one class) in y: every "
                "label needs both positive and negative samples to be learned. Drop those "
                "columns.")
        self.layout_ = layout
        self._label_names = (np.asarray(Y.columns) if isinstance(Y, pd.DataFrame)
                             else np.arange(Y.shape[1]))
        return super()._encode_targets(layout.transform(Y), n_samples)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> MultiLabelHeads:
        """Discover the heads on ``y`` and fit them.

        Parameters
        ----------
        X : {array-like, sparse CSR matrix, DataFrame} of shape (n_samples, n_features)
        y : array-like or DataFrame of shape (n_samples, n_labels)
            0/1 indicator matrix; NaN marks an unknown label.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        self.__dict__.pop("head_classes_", None)
        super().fit(X, y, sample_weight)
        self.head_classes_ = self.classes_
        # As MultiLabelLogistic: the DataFrame's column names, else 0..L-1.
        self.classes_ = self.__dict__.pop("_label_names")
        return self

    def _label_log_proba(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per-label ``(log p, log(1 - p))``, each ``(n, L)``, never forming ``1 - p``."""
        from ..numerics import logsumexp

        Z = self._head_logits(X)  # checks that the model is fitted first
        layout, n = self.layout_, Z.shape[0]
        lp1, lp0 = np.empty((n, len(layout.labels))), np.empty((n, len(layout.labels)))
        for g in layout.groups:
            L = HEAD_KINDS["softmax"].log_proba(Z[:, self.head_slices_[g.name]])
            cls = list(self.head_classes_[g.name])
            for label in g.labels:
                j, c = layout.labels.index(label), cls.index(label)
                lp1[:, j] = L[:, c]
                # log(1 - p_c) = log sum of the other classes' probabilities.
                lp0[:, j] = logsumexp(np.delete(L, c, axis=1), axis=1)
        for label in layout.sigmoid:
            j = layout.labels.index(label)
            z = Z[:, self.head_slices_[label]][:, 0]
            if list(self.head_classes_[label]).index(1) == 0:  # pragma: no cover - 0 < 1 always
                z = -z
            lp1[:, j], lp0[:, j] = log_expit(z), log_expit(-z)
        return lp1, lp0

    def decision_function(self, X: Any) -> np.ndarray:
        r"""Log-odds of each label's marginal probability, ``(n_samples, L)``.

        For a sigmoid label its logit; for a label of a softmax group
        :math:`\log p_c - \log(1 - p_c)`, so that ``sigmoid`` of it is the
        marginal probability, as for :class:`~sigmax.MultiLabelLogistic`.
        """
        lp1, lp0 = self._label_log_proba(X)
        return lp1 - lp0

    def _logits(self, X: Any) -> np.ndarray:
        return self.decision_function(X)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Marginal probability of each label, ``(n_samples, L)``."""
        return np.exp(self._label_log_proba(X)[0])

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Log of :meth:`predict_proba` (finite), ``(n_samples, L)``."""
        return self._label_log_proba(X)[0]

    def predict(self, X: Any) -> np.ndarray:
        """0/1 indicator ``(n_samples, L)``: each group's most probable class, sigmoids > 0.5."""
        codes = super().predict(X)  # checks that the model is fitted first
        return self.layout_.inverse_transform(codes)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Subset accuracy (every label of the row right), as for MultiLabelLogistic."""
        from sklearn.metrics import accuracy_score

        Y = y.to_numpy() if isinstance(y, pd.DataFrame) else np.asarray(y)
        return float(accuracy_score(Y, self.predict(X), sample_weight=sample_weight))

    # -- model files ---------------------------------------------------------------------
    def _to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The heads' arrays and meta (:mod:`~sigmax.estimators.multihead_persistence`), plus
        the label names and the discovered layout with its evidence."""
        from .persistence import labels_to_json

        arrays, meta = super()._to_arrays()
        meta["labels"] = labels_to_json(self.classes_)
        meta["layout"] = self.layout_.to_dict()
        return arrays, meta

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
        from ..labels import HeadLayout
        from .persistence import labels_from_json

        model = super()._from_arrays(arrays, meta)
        layout = HeadLayout.from_dict(meta.get("layout"))
        labels = labels_from_json(meta.get("labels"))
        if layout.heads != model.heads_ or len(labels) != len(layout.labels):
            raise ValueError("the head layout does not match the heads and labels")
        for g in layout.groups:
            if sorted(map(str, model.classes_[g.name])) != sorted(map(str, g.classes)):
                raise ValueError(f"the classes of head {g.name!r} do not match its group")
        model.layout_, model.head_classes_, model.classes_ = layout, model.classes_, labels
        return model

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.classifier_tags.multi_class = False  # each label is binary
        return tags


unwrap_routing(MultiLabelHeads)
