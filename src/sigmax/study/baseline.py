r"""The baseline every model must beat: predicting the class (or label) frequencies.

For K exclusive classes the baseline predicts, for every row, the training
frequencies :math:`\hat p_k = (n_k + \tfrac12) / (n + \tfrac K2)` (weighted
counts, with Jeffreys' half-count so that a class absent from a training fold
still gets a finite log-loss); for L non-exclusive labels, each label's own
frequency the same way. It is the intercept-only softmax (or sigmoid) model,
and is stored as one: ``coef_`` is zero and ``intercept_`` holds the log
frequencies (log-odds for labels), so the study reads it like any candidate.
A linear model whose cross-validated log-loss is not below the baseline's has
found no usable signal in the features.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..numerics import expit, log_expit, log_softmax
from ..solvers import FitResult

__all__ = ["FrequencyBaseline"]


class FrequencyBaseline(ClassifierMixin, BaseEstimator):
    """Class (or label) frequencies as probabilities, whatever the features.

    Parameters
    ----------
    C, backend, device
        Accepted and ignored, so that the study builds and places every
        candidate alike (the baseline has no coefficients to penalize).

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
        Classes (single label) or label indices (multi-label).
    frequencies_ : ndarray of shape (K,)
        The predicted probability of each class / label.
    coef_ : ndarray of shape (K, n_features)
        Zeros.
    intercept_ : ndarray of shape (K,)
        Log frequencies (single label) or log-odds (multi-label).
    multilabel_ : bool
    """

    penalty = "none"
    tol = 0.0

    def __init__(self, C: float = 1.0, backend: str = "auto", device: str | None = None
                 ) -> None:
        self.C = C
        self.backend = backend
        self.device = device

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FrequencyBaseline:
        Y = np.asarray(y)
        n = Y.shape[0]
        d = np.shape(X)[1] if np.ndim(X) == 2 else 0
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
        self.multilabel_ = Y.ndim == 2 and Y.shape[1] > 1
        if self.multilabel_:
            known = ~np.isnan(Y.astype(float))
            pos = np.where(known, Y, 0).astype(float).T @ w
            tot = known.astype(float).T @ w
            self.frequencies_ = (pos + 0.5) / (tot + 1.0)
            self.classes_ = np.arange(Y.shape[1])
            self.intercept_ = np.log(self.frequencies_) - np.log1p(-self.frequencies_)
        else:
            self.classes_, codes = np.unique(Y.ravel(), return_inverse=True)
            counts = np.bincount(codes, weights=w, minlength=len(self.classes_))
            self.frequencies_ = (counts + 0.5) / (counts.sum() + 0.5 * len(self.classes_))
            self.intercept_ = np.log(self.frequencies_)
        self.coef_ = np.zeros((len(self.classes_), d))
        self.n_features_in_ = d
        # The training log-loss at the (closed-form) optimum, as a one-point history.
        if self.multilabel_:
            f = self.frequencies_
            Yk = np.where(known, Y, 0).astype(float)
            loss = -(known * (Yk * np.log(f) + (1 - Yk) * np.log1p(-f))).sum(axis=1)
        else:
            loss = -np.log(self.frequencies_)[codes]
        value = float(np.average(loss, weights=w)) if w.sum() > 0 else 0.0
        self.fit_record_ = FitResult(
            coef=np.array([]), objective=value, grad_norm=0.0, n_iter=0, n_grad_evals=0,
            n_hessp_evals=0, converged=True, seconds=0.0, solver="closed form (counts)",
            history={"iteration": [0.0], "objective": [value], "grad_norm": [0.0],
                     "seconds": [0.0]})
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """The intercepts on every row, shape (n_samples, K)."""
        check_is_fitted(self)
        return np.tile(self.intercept_, (len(X), 1))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        Z = self.decision_function(X)
        return log_expit(Z) if self.multilabel_ else log_softmax(Z, axis=1)

    def predict_proba(self, X: Any) -> np.ndarray:
        """The frequencies on every row, shape (n_samples, K)."""
        Z = self.decision_function(X)
        return expit(Z) if self.multilabel_ else np.exp(log_softmax(Z, axis=1))

    def predict(self, X: Any) -> np.ndarray:
        """The most frequent class on every row (multi-label: labels above 1/2)."""
        P = self.predict_proba(X)
        if self.multilabel_:
            return (P > 0.5).astype(np.int64)
        return self.classes_[np.argmax(P, axis=1)]
