"""One-vs-rest logistic regression, all classes in one vectorized problem."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..numerics import expit, log_expit, logsumexp
from ._base import LinearClassifierBase, class_weights_per_sample, encode_single_label
from ._streaming import StreamingMixin


class OneVsRestLogistic(StreamingMixin, LinearClassifierBase):
    r"""One binary logistic model per class ("this class" vs "the rest").

    The K binary problems share ``X``, so they are fitted as one problem with
    ``K`` outputs: one product ``X @ W`` per evaluation serves all classes.
    The objective is the sum of the K binary objectives (separable across
    classes, so the solution equals K separate fits at the same ``C``):

    .. math:: C \sum_i s_i \sum_k \left[\log(1 + e^{z_{ik}}) - [y_i = k] z_{ik}\right] + r(W).

    Class probabilities are the K sigmoids normalized to sum to one, as in
    scikit-learn's ``OneVsRestClassifier``; they are not calibrated jointly as
    softmax probabilities are.

    Parameters
    ----------
    penalty, C, l1_ratio, fit_intercept, solver, tol, max_iter, class_weight,
    warm_start, dtype, verbose, backend, device
        As in :class:`LogisticRegression`.

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
    coef_ : ndarray of shape (K, n_features)
    intercept_ : ndarray of shape (K,)
    fit_record_ : sigmax.solvers.FitResult

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sigmax import OneVsRestLogistic
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = OneVsRestLogistic(C=10).fit(X, y)
    >>> clf.coef_.shape  # one binary model per class
    (3, 4)
    >>> clf.predict(X[[0, 50, 100]]).tolist()
    [0, 1, 2]
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    """

    _loss_name = "multilabel"

    def _encode_targets(self, y: Any, n_samples: int):
        codes, classes = encode_single_label(self, y, n_samples, "MultiLabelLogistic")
        Y = np.zeros((n_samples, len(classes)))
        Y[np.arange(n_samples), codes] = 1.0
        return Y, classes, len(classes)

    def _sample_class_weights(self, Y):
        return class_weights_per_sample(self.class_weight, np.argmax(Y, axis=1), self.classes_)

    def _separable_columns(self, Z, Y, weights):
        w = weights if weights.ndim == 2 else np.broadcast_to(weights[:, None], Z.shape)
        margin = (2 * Y - 1) * Z
        return [k for k in range(Z.shape[1]) if np.all(margin[w[:, k] > 0, k] > 0)]

    def _offset_columns(self, o: np.ndarray, k: int) -> np.ndarray:
        """``(n,)``: for two classes an offset of the score :math:`z_1 - z_0` that
        ``decision_function`` returns, split as ``(-o/2, o/2)`` between the mirrored
        binary problems; for more classes the same offset for every class."""
        if k == 2:
            return np.column_stack([-0.5 * o, 0.5 * o])
        return np.repeat(o[:, None], k, axis=1)

    def decision_function(self, X: Any, offset: Any = None) -> np.ndarray:
        """Per-class logits, shape (n_samples, K); for K = 2, shape (n_samples,).

        With two classes the score is scikit-learn's binary convention, one
        number per sample, positive for ``classes_[1]``: :math:`z_1 - z_0`.
        The two binary problems mirror each other (:math:`z_0 = -z_1` at the
        optimum), so this is twice the logit of ``classes_[1]`` against the
        rest, and it orders samples as ``predict_proba(X)[:, 1]`` does.
        ``offset``: the known logits the model was fitted with, for these rows
        (shape (n_samples, K), or (n_samples,) as this method returns).
        """
        Z = self._logits(X, offset)
        return Z[:, 1] - Z[:, 0] if Z.shape[1] == 2 else Z

    def predict_proba(self, X: Any, offset: Any = None) -> np.ndarray:
        """Sigmoids of the K logits normalized to sum to 1, shape (n_samples, K)."""
        P = expit(self._logits(X, offset))
        # Each row has one sigmoid >= the others; if every sigmoid underflows
        # to 0 fall back to the log-space form.
        s = P.sum(axis=1, keepdims=True)
        ok = s[:, 0] > 0
        if not np.all(ok):
            P[~ok] = np.exp(self.predict_log_proba(X, offset)[~ok])
            s[~ok] = 1.0
        return P / s

    def predict_log_proba(self, X: Any, offset: Any = None) -> np.ndarray:
        """Log of :meth:`predict_proba`, computed in log space (finite)."""
        L = log_expit(self._logits(X, offset))
        return L - logsumexp(L, axis=1, keepdims=True)

    def predict(self, X: Any, offset: Any = None) -> np.ndarray:
        """Class with the largest logit, shape (n_samples,)."""
        best = np.argmax(self._logits(X, offset), axis=1)  # checks fitted before classes_ is read
        return self.classes_[best]
