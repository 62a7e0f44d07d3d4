"""Binary logistic regression."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..numerics import expit, log_expit
from ._base import _DTYPES, LinearClassifierBase, class_weights_per_sample, encode_single_label
from ._streaming import StreamingMixin


class LogisticRegression(StreamingMixin, LinearClassifierBase):
    r"""Binary logistic regression (sigmoid + log-loss).

    Minimizes scikit-learn's objective

    .. math:: C \sum_i s_i \left[\log(1 + e^{z_i}) - y_i z_i\right] + r(w),
              \qquad z_i = x_i^\top w + b,

    with :math:`r` the penalty (see :mod:`sigmax.penalties`), intercept
    unpenalized. For more than two classes use :class:`SoftmaxRegression`
    (exclusive classes) or :class:`OneVsRestLogistic`; for several labels per
    sample use :class:`MultiLabelLogistic`.

    Parameters
    ----------
    penalty : {'l2', 'l1', 'elasticnet', 'group', 'none'} or None, default='l2'
        A name of :data:`sigmax.penalties.PENALTIES`. ``'group'`` is glmnet's
        grouped lasso :math:`\sum_j \|W_{j,:}\|_2` (a feature is kept or
        dropped for all outputs at once; the L1 penalty when there is one output).
    C : float, default=1.0
        Inverse penalty strength (``np.inf`` means no penalty).
    l1_ratio : float in [0, 1], default=None
        Elastic-net mixing (needed with ``penalty='elasticnet'``).
    fit_intercept : bool, default=True
    solver : {'auto', 'lbfgs', 'newton-cholesky', 'newton-cg', 'proximal', 'minibatch'}, \
default='auto'
        ``'minibatch'`` (proximal SVRG over row batches / dask chunks) is for
        data read in pieces; see :mod:`sigmax.solvers.minibatch`.
    tol : float, default=1e-6
        Stop when the max-norm of the gradient of the objective divided by
        :math:`C \sum_i s_i` is at most ``tol``.
    max_iter : int, default=1000
    class_weight : dict, 'balanced' or None, default=None
    warm_start : bool, default=False
    dtype : {'float64', 'float32'}, default='float64'
        Working precision of the products with ``X`` (``X`` is held in it).
        float32 gradients are exact to about 1e-7 of the magnitudes behind
        them, so the tolerance is at least ``50 * eps(float32)``, and (NumPy,
        SciPy or torch ``X``) the solvers that read them to their last digits
        evaluate the float32 data in float64: proximal Newton throughout,
        Newton's methods and L-BFGS from the step float32 cannot resolve
        (:mod:`sigmax.dataterms.float64_view`).
    verbose : int, default=0
    backend : {'auto', 'numpy', 'torch', 'dask'}, default='auto'
        Where the products with ``X`` run (:data:`sigmax.backends.BACKENDS`);
        ``'auto'`` follows the type of ``X``: torch tensors -> torch, dask
        arrays and DataFrames -> dask, anything else -> NumPy. Predictions
        come back in the kind of their input. See ``docs/scaling.md``.
    device : str or None, default=None
        torch device (``'cpu'``, ``'cuda'``, ``'cuda:1'``, ``'auto'``); None keeps
        a tensor where it is. A GPU device with NumPy input selects torch.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    coef_ : ndarray of shape (1, n_features)
    intercept_ : ndarray of shape (1,)
    fit_record_ : sigmax.solvers.FitResult
        Objective, gradient norm, iterations, evaluations, time and history.
    n_iter_ : ndarray of shape (1,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` had string column names.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sigmax import LogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = LogisticRegression(C=1.0).fit(X, y)
    >>> round(clf.score(X, y), 3)
    0.988
    """

    _loss_name = "binomial"

    def _encode_targets(self, y: Any, n_samples: int):
        # int8 codes, then 0/1 targets in the working dtype: the fewest bytes
        # per sample held during the fit (0/1 is exact in float32).
        codes, classes = encode_single_label(
            self, y, n_samples, "MultiLabelLogistic", code_dtype=np.int8)
        if len(classes) > 2:
            raise ValueError(
                "Only binary classification is supported by LogisticRegression, but y has"
                f" {len(classes)} classes "
                f"({classes[:5].tolist()}{'...' if len(classes) > 5 else ''}). Use "
                "SoftmaxRegression for mutually exclusive classes, OneVsRestLogistic for one "
                "binary model per class, or MultiLabelLogistic when a sample can carry several "
                "labels.")
        return codes.astype(_DTYPES.get(self.dtype, np.float64)), classes, 1

    @classmethod
    def _n_coef_rows(cls, n_classes: int) -> int:
        return 1  # one logit (of classes_[1]) for the two classes

    def _sample_class_weights(self, Y):
        if self.class_weight is None:
            return None
        return class_weights_per_sample(self.class_weight, Y.astype(np.intp), self.classes_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Binary only: more classes raise a ValueError that names the
        # multiclass estimators, so scikit-learn's checks use 2-class data.
        tags.classifier_tags.multi_class = False
        return tags

    def _separable_columns(self, Z, Y, weights):
        margin = (2 * Y - 1) * Z[:, 0]
        return [0] if np.all(margin[weights > 0] > 0) else []

    def decision_function(self, X: Any, offset: Any = None) -> np.ndarray:
        """Logit of the positive class ``classes_[1]``, shape (n_samples,).

        ``offset`` (shape (n_samples,)): the known logits the model was fitted
        with, for these rows; it is added to the score (see ``fit``).
        """
        return self._logits(X, offset)[:, 0]

    def predict_proba(self, X: Any, offset: Any = None) -> np.ndarray:
        """Class probabilities, shape (n_samples, 2); column 1 is ``classes_[1]``."""
        z = self.decision_function(X, offset)
        # 1 - sigmoid(z) is sigmoid(-z): exact where 1 - p would round to 0.
        return np.column_stack([expit(-z), expit(z)])

    def predict_log_proba(self, X: Any, offset: Any = None) -> np.ndarray:
        """Log class probabilities, shape (n_samples, 2), via log-sigmoid (finite)."""
        z = self.decision_function(X, offset)
        return np.column_stack([log_expit(-z), log_expit(z)])

    def predict(self, X: Any, offset: Any = None) -> np.ndarray:
        """Predicted class labels, shape (n_samples,)."""
        positive = self.decision_function(X, offset) > 0  # checks fitted before classes_ is read
        return self.classes_[positive.astype(np.intp)]
