"""Discovered multi-label heads (softmax per exclusive group, sigmoids else) with ``C`` by
cross-validation: :class:`MultiLabelHeadsCV`."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .cv import _LOG_EPS, CV_ESTIMATORS, _MultiLabelCV
from .multilabel_heads import MultiLabelHeads

__all__ = ["MultiLabelHeadsCV"]


class MultiLabelHeadsCV(_MultiLabelCV, MultiLabelHeads):
    """:class:`~sigmax.MultiLabelHeads` (linear heads) with one ``C`` chosen by cross-validation.

    Each training fold discovers its own heads (as a fit of
    :class:`~sigmax.MultiLabelHeads` on those rows would) and walks a
    warm-started path over ``Cs``. Every label is then scored as a binary
    problem on its marginal probability (a label of a softmax group: its
    class's probability; on the rows where the label is known), and the score
    of a ``C`` is the mean over labels, as in
    :class:`~sigmax.MultiLabelLogisticCV`, so the two choose ``C`` by the same
    criterion. The refit on all rows discovers the heads there and starts cold
    (the folds' heads may differ from them).

    Parameters
    ----------
    Cs, cv, scoring, refit, patience, n_jobs : see LogisticRegressionCV
        As in :class:`~sigmax.LogisticRegressionCV` (``refit`` must be True:
        folds with different heads have coefficients that cannot be averaged).
        An int ``cv`` means ``KFold(cv, shuffle=True, random_state=0)``.
    discovery_alpha, penalty, l1_ratio, fit_intercept, solver, tol, max_iter
        As in :class:`~sigmax.MultiLabelHeads`; so are ``class_weight``,
        ``warm_start``, ``dtype``, ``verbose``, ``backend`` and ``device``.
        Linear heads only: it takes none of the shared trunk's parameters
        (``hidden``...). A trunk is not convex, so its ``C`` is no warm-started
        path: tune it with scikit-learn's ``GridSearchCV`` over
        ``MultiLabelHeads(hidden=..., C=...)``.

    Attributes
    ----------
    C_ : float
    Cs_ : ndarray of shape (n_Cs,)
    scores_ : ndarray of shape (n_folds, n_Cs)
        Mean over labels (NaN where ``patience`` stopped a fold's path before it).
    scores_per_label_ : ndarray of shape (n_folds, n_Cs, n_labels)
    coefs_paths_, intercepts_paths_ : ndarray
        Per fold and ``C`` (an object array of per-fold paths when the folds
        discovered different heads).
    layout_, heads_, coef_, intercept_, classes_, ... :
        Those of the :class:`~sigmax.MultiLabelHeads` refitted at ``C_``.

    Examples
    --------
    >>> import numpy as np
    >>> from sigmax import MultiLabelHeadsCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> genre = np.argmax(X[:, :2] @ [[2, -2, 0], [0, 2, -2]] + rng.gumbel(size=(300, 3)), 1)
    >>> Y = np.column_stack([genre == 0, genre == 1, X[:, 2] > 0]).astype(int)
    >>> m = MultiLabelHeadsCV(Cs=[0.01, 1.0, 100.0], cv=3).fit(X, Y)
    >>> m.predict_proba(X).shape, float(m.C_) in (0.01, 1.0, 100.0)
    ((300, 3), True)
    """

    _base = MultiLabelHeads
    # The shared trunk's parameters: linear heads only (``patience`` is the C path's).
    _left_out = frozenset({"hidden", "activation", "learning_rate", "batch_size",
                           "max_epochs", "patience", "validation_fraction", "random_state"})

    def fit(self, X: Any, y: Any, sample_weight: Any = None, groups: Any = None,
            offset: Any = None) -> MultiLabelHeadsCV:
        """Choose ``C`` by cross-validation, then fit on all rows at ``C_``.

        Parameters
        ----------
        X, y, sample_weight
            As in :meth:`MultiLabelHeads.fit <sigmax.MultiLabelHeads.fit>`; the
            sample weights count in every fit and in the scores.
        groups : array-like of shape (n_samples,), default=None
            Group labels for group-aware splitters.
        offset : None
            Not supported (MultiLabelHeads takes no offset).

        Returns
        -------
        self
        """
        if offset is not None:
            raise ValueError("MultiLabelHeadsCV takes no offset (MultiLabelHeads has none); "
                             "use MultiLabelLogisticCV for offsets per label.")
        if not self.refit:
            raise ValueError("MultiLabelHeadsCV needs refit=True: folds that discover "
                             "different heads have coefficients that cannot be averaged.")
        return super().fit(X, y, sample_weight=sample_weight, groups=groups)

    def _fold_scores(self, est: Any, scorer: Any, X: Any, y: Any, sw: Any,
                     offset: Any = None) -> np.ndarray:
        """Per-label scores of one fold's model, ``(n_labels,)``, on the known entries."""
        Y = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y, dtype=np.float64)
        lp1, lp0 = est._label_log_proba(X)
        w_all = None if sw is None else np.asarray(sw, dtype=np.float64)
        out = np.empty(Y.shape[1])
        for lab in range(Y.shape[1]):
            rows = np.flatnonzero(~np.isnan(Y[:, lab]))
            yl = Y[rows, lab].astype(np.int64)
            w = None if w_all is None else w_all[rows]
            if isinstance(self.scoring, str) and self.scoring == "neg_log_loss":
                # The log-probabilities directly (never 1 - p formed), clipped as
                # scikit-learn's log_loss clips.
                picked = np.where(yl == 1, lp1[rows, lab], lp0[rows, lab])
                out[lab] = float(np.average(np.maximum(picked, _LOG_EPS), weights=w))
            else:
                one = _GivenProbabilities(np.exp(lp1[rows, lab]))
                kw = {} if w is None else {"sample_weight": w}
                out[lab] = float(scorer(one, np.zeros((len(rows), 1)), yl, **kw))
        return out

    def _warm_refit_estimator(self, best: int) -> MultiLabelHeads:
        # The heads found on all rows may differ from the folds': a cold fit.
        return self._base_estimator(self.C_)


class _GivenProbabilities(ClassifierMixin, BaseEstimator):
    """A binary classifier whose probabilities of class 1 are given: one label of a
    multi-label model, as a scikit-learn scorer reads it (``X`` is ignored)."""

    def __init__(self, p: Any = None) -> None:
        self.p = p

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.column_stack([1.0 - self.p, self.p])

    def predict(self, X: Any) -> np.ndarray:
        return (np.asarray(self.p) > 0.5).astype(np.int64)


CV_ESTIMATORS[MultiLabelHeadsCV.__name__] = MultiLabelHeadsCV
