"""Softmax (multinomial logistic) regression."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..losses import LOSSES
from ._base import LinearClassifierBase, class_weights_per_sample, encode_single_label
from ._streaming import StreamingMixin

_PARAMETERIZATIONS = ("symmetric", "reference")


class SoftmaxRegression(StreamingMixin, LinearClassifierBase):
    r"""Softmax regression for K >= 2 mutually exclusive classes.

    Minimizes

    .. math:: C \sum_i s_i \left[\log\sum_k e^{z_{ik}} - z_{i y_i}\right] + r(W),
              \qquad z_i = W x_i + b,

    with ``W`` of shape ``(K, d)``. The loss only sees logit differences, so in
    the ``"symmetric"`` parameterization adding one vector to every row of
    ``W`` (and one number to every intercept) changes nothing: without a
    penalty the minima form a flat valley of dimension ``d + 1``. sigmax
    returns the centered representative (rows of ``W`` and intercepts summing
    to zero, which is also where an L2 penalty puts ``W``).
    ``parameterization="reference"`` instead fixes class ``classes_[0]`` to
    ``z = 0`` (statsmodels' MNLogit): ``K - 1`` free rows, a unique minimum on
    full-rank data, and coefficients read as log-odds against that class.

    K = 2 equals :class:`LogisticRegression`: the probability of class 1 is
    :math:`\sigma(z_1 - z_0)`. Without a penalty the two give the same
    probabilities. With L2, at the optimum :math:`w_0 = -w_1` (the gradients of
    the loss in :math:`w_0` and :math:`w_1` are opposite, and the penalty
    gradient must cancel each), so with :math:`v = w_1 - w_0 = 2 w_1` the
    penalty :math:`\tfrac12(\|w_0\|^2 + \|w_1\|^2) = \tfrac14\|v\|^2`; doubling
    the objective gives the logistic objective in :math:`v` with
    ``C_logistic = 2 * C_softmax``.

    Parameters
    ----------
    penalty, C, l1_ratio, fit_intercept, solver, tol, max_iter, class_weight,
    warm_start, dtype, verbose, backend, device
        As in :class:`LogisticRegression`.
    parameterization : {'symmetric', 'reference'}, default='symmetric'

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
    coef_ : ndarray of shape (K, n_features)
    intercept_ : ndarray of shape (K,)
    fit_record_ : sigmax.solvers.FitResult
    n_iter_ : ndarray of shape (1,)

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sigmax import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxRegression(C=10).fit(X, y)
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    """

    def __init__(self, penalty: str | None = "l2", *, C: float = 1.0,
                 l1_ratio: float | None = None, fit_intercept: bool = True,
                 solver: str = "auto", tol: float = 1e-6, max_iter: int = 1000,
                 class_weight: dict | str | None = None, warm_start: bool = False,
                 dtype: str = "float64", verbose: int = 0,
                 parameterization: str = "symmetric", backend: str = "auto",
                 device: str | None = None) -> None:
        super().__init__(penalty, C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
                         solver=solver, tol=tol, max_iter=max_iter,
                         class_weight=class_weight, warm_start=warm_start, dtype=dtype,
                         verbose=verbose, backend=backend, device=device)
        self.parameterization = parameterization

    @property
    def _loss_name(self) -> str:  # type: ignore[override]
        return ("multinomial_reference" if self.parameterization == "reference"
                else "multinomial")

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.parameterization not in _PARAMETERIZATIONS:
            raise ValueError(
                "The 'parameterization' parameter of SoftmaxRegression must be one of "
                f"{list(_PARAMETERIZATIONS)}. Got {self.parameterization!r} instead.")

    def _loss(self):
        return LOSSES[self._loss_name]

    def _encode_targets(self, y: Any, n_samples: int):
        codes, classes = encode_single_label(self, y, n_samples, "MultiLabelLogistic")
        return codes, classes, self._loss().n_outputs(len(classes))

    def _sample_class_weights(self, Y):
        return class_weights_per_sample(self.class_weight, Y, self.classes_)

    def _coef_matrix(self) -> np.ndarray:
        W = np.asarray(self.coef_, dtype=np.float64).T
        return W[:, 1:] if self.parameterization == "reference" else W

    def _intercept_vector(self) -> np.ndarray:
        b = np.asarray(self.intercept_, dtype=np.float64)
        return b[1:] if self.parameterization == "reference" else b

    def _set_coef(self, W: np.ndarray, b: np.ndarray) -> None:
        if self.parameterization == "reference":
            W = np.column_stack([np.zeros(W.shape[0]), W])
            b = np.concatenate([[0.0], b])
        else:
            # Pick the centered point of the flat valley: intercepts are never
            # penalized, so they are only defined up to a common shift; without
            # a penalty the same holds for the coefficient rows. Centering
            # changes no probability.
            b = b - b.mean()
            if self._effective_penalty().name == "none":
                W = W - W.mean(axis=1, keepdims=True)
        super()._set_coef(W, b)

    def _offset_columns(self, o: np.ndarray, k: int) -> np.ndarray:
        """``(n,)``: for two classes the log-odds of ``classes_[1]`` (logits ``(0, o)``);
        for more, a common shift of every class, which a softmax ignores (a warning)."""
        if k == 2:
            return np.column_stack([np.zeros_like(o), o])
        if np.any(o != 0):
            warnings.warn(
                f"SoftmaxRegression: an offset of shape (n_samples,) adds the same number to "
                f"each of the {k} classes' logits, which softmax probabilities ignore: it "
                f"changes nothing. Pass shape (n_samples, {k}), one column per class of "
                "classes_, for per-class offsets.", UserWarning, stacklevel=6)  # the user's call
        return np.repeat(o[:, None], k, axis=1)

    def _loss_offset(self, full: np.ndarray) -> np.ndarray:
        # Reference parameterization: the loss's logits are z_k - z_0 (class 0
        # fixed at 0), so the offset enters as o_k - o_0; softmax is shift invariant.
        return full[:, 1:] - full[:, :1] if self.parameterization == "reference" else full

    def _separable_columns(self, Z, Y, weights):
        Zf = self._loss()._full(Z)
        rows = np.arange(len(Y))
        true = Zf[rows, Y]
        Zf[rows, Y] = -np.inf
        sep = (true - Zf.max(axis=1))[weights > 0] > 0
        return list(range(Z.shape[1])) if np.all(sep) else []

    def decision_function(self, X: Any, offset: Any = None) -> np.ndarray:
        """Logits, shape (n_samples, K); for K = 2, shape (n_samples,).

        With two classes the score is scikit-learn's binary convention: the
        log-odds :math:`z_1 - z_0` of ``classes_[1]`` against ``classes_[0]``,
        which is the logit of the equivalent :class:`LogisticRegression`.
        ``offset``: the known logits the model was fitted with, for these rows
        (shape (n_samples, K), or (n_samples,) as this method returns for K = 2).
        """
        Z = self._logits(X, offset)
        return Z[:, 1] - Z[:, 0] if Z.shape[1] == 2 else Z

    def predict_proba(self, X: Any, offset: Any = None) -> np.ndarray:
        """Class probabilities (softmax of the shifted logits), shape (n_samples, K)."""
        return LOSSES["multinomial"].predict_proba(self._logits(X, offset))

    def predict_log_proba(self, X: Any, offset: Any = None) -> np.ndarray:
        """Log probabilities via log-softmax (finite), shape (n_samples, K)."""
        return LOSSES["multinomial"].predict_log_proba(self._logits(X, offset))

    def predict(self, X: Any, offset: Any = None) -> np.ndarray:
        """Most probable class, shape (n_samples,)."""
        best = np.argmax(self._logits(X, offset), axis=1)  # checks fitted before classes_ is read
        return self.classes_[best]
