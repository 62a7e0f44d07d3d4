r"""The baseline every model must beat: predicting the class (or label) frequencies.

For K exclusive classes the baseline predicts, for every row, the training
frequencies :math:`\hat p_k = (n_k + \tfrac12) / (n + \tfrac K2)` (weighted
counts, with Jeffreys' half-count so that a class absent from a training fold
still gets a finite log-loss); for L non-exclusive labels, each label's own
frequency the same way. It is the intercept-only logistic / softmax model: a
linear model whose cross-validated log-loss is not below the baseline's has
found no usable signal in the features.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["FrequencyBaseline"]


class FrequencyBaseline(ClassifierMixin, BaseEstimator):
    """Class (or label) frequencies as probabilities, whatever the features.

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
        Classes (single label) or label indices (multi-label).
    frequencies_ : ndarray of shape (K,)
        The predicted probability of each class / label.
    multilabel_ : bool
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FrequencyBaseline:
        Y = np.asarray(y)
        n = Y.shape[0]
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
        self.multilabel_ = Y.ndim == 2 and Y.shape[1] > 1
        if self.multilabel_:
            known = ~np.isnan(Y.astype(float))
            pos = np.where(known, Y, 0).astype(float).T @ w
            tot = known.astype(float).T @ w
            self.frequencies_ = (pos + 0.5) / (tot + 1.0)
            self.classes_ = np.arange(Y.shape[1])
        else:
            self.classes_, codes = np.unique(Y.ravel(), return_inverse=True)
            counts = np.bincount(codes, weights=w, minlength=len(self.classes_))
            self.frequencies_ = (counts + 0.5) / (counts.sum() + 0.5 * len(self.classes_))
        self.n_features_in_ = np.asarray(X).shape[1] if np.ndim(X) == 2 else 0
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """The frequencies on every row, shape (n_samples, K)."""
        check_is_fitted(self)
        return np.tile(self.frequencies_, (len(X), 1))

    def predict(self, X: Any) -> np.ndarray:
        """The most frequent class on every row (multi-label: labels above 1/2)."""
        P = self.predict_proba(X)
        if self.multilabel_:
            return (P > 0.5).astype(np.int64)
        return self.classes_[np.argmax(P, axis=1)]
