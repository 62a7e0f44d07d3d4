r"""Standardization that cannot overflow: columns near 1e300 or 1e-300 keep their information.

scikit-learn's ``StandardScaler`` squares the raw values: a column near 1e300
gives an infinite variance and a column of NaN (a fit then drops it and a
later check reports NaN cells the file never had), a column near 1e-300
underflows to a variance of 0 and is treated as constant. Here each column is
first divided by a power of two near its largest magnitude (exact in binary
floating point), then centred and scaled in float64 with the two-pass formula:

.. math:: \tilde x_{ij} = \frac{x_{ij} / 2^{e_j} - m_j}{s_j}, \qquad
          m_j = \operatorname{mean}_i(x_{ij} / 2^{e_j}), \quad
          s_j = \operatorname{std}_i(x_{ij} / 2^{e_j}),

so nothing is squared at the raw scale. The raw mean and standard deviation
are :math:`2^{e_j} m_j` and :math:`2^{e_j} s_j`; they are never formed, since
either may exceed the float range.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["StableScaler"]


class StableScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Zero mean and unit variance per column, for any finite values (dense input).

    Attributes
    ----------
    exponent_ : ndarray of int, shape (n_features,)
        :math:`e_j`, the power of two each column is divided by first.
    mean_ : ndarray, shape (n_features,)
        Mean of the pre-scaled column, :math:`m_j`.
    scale_ : ndarray, shape (n_features,)
        Standard deviation of the pre-scaled column, :math:`s_j` (1 for a
        constant column, which is then only centred).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1e300, 1.0], [3e300, 2.0], [2e300, 3.0]])
    >>> np.round(StableScaler().fit_transform(X), 6)
    array([[-1.224745, -1.224745],
           [ 1.224745,  0.      ],
           [ 0.      ,  1.224745]])
    """

    def fit(self, X: Any, y: Any = None) -> StableScaler:
        X = validate_data(self, X, dtype=np.float64, reset=True)
        peak = np.abs(X).max(axis=0) if X.shape[0] else np.zeros(X.shape[1])
        _, e = np.frexp(np.where(peak > 0, peak, 1.0))
        self.exponent_ = e.astype(np.int64)
        Xs = np.ldexp(X, -self.exponent_)  # |Xs| < 1: nothing below can overflow
        self.mean_ = Xs.mean(axis=0)
        sd = Xs.std(axis=0)  # two-pass: subtracts the mean before squaring
        # A column whose spread is rounding noise of its mean is constant.
        tiny = sd <= 4 * np.finfo(np.float64).eps * np.abs(self.mean_)
        self.scale_ = np.where((sd > 0) & ~tiny, sd, 1.0)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Standardized copy of ``X``, shape (n_samples, n_features)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return (np.ldexp(X, -self.exponent_) - self.mean_) / self.scale_

    def raw_coefficients(self, coef: np.ndarray, intercept: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
        r"""Coefficients for raw features from those fitted on standardized ones.

        With :math:`z = \tilde x^\top w + b`, the same logits on the raw scale are
        :math:`x^\top (w / (2^{e} s)) + (b - \sum_j w_j m_j / s_j)`.

        Parameters
        ----------
        coef : ndarray, shape (k, n_features)
        intercept : ndarray, shape (k,)
        """
        check_is_fitted(self)
        coef = np.asarray(coef, dtype=np.float64)
        per_unit = coef / self.scale_
        with np.errstate(over="ignore", under="ignore"):
            raw = np.ldexp(per_unit, -self.exponent_)
        b = np.asarray(intercept, dtype=np.float64) - per_unit @ self.mean_
        return raw, b
