"""sigmax: logistic, softmax, one-vs-rest and multi-label regression, and which to use.

Fast, numerically stable estimators with the scikit-learn API, sharing one
core (losses x penalties x solvers), plus a study (``sigmax compare``) that
fits them side by side on your data and explains the choice.
"""

from .estimators import (
    ESTIMATORS,
    LogisticRegression,
    MultiHeadClassifier,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SeparableWarning,
    SoftmaxRegression,
)
from .io import load

__version__ = "0.1.0"

__all__ = [
    "ESTIMATORS",
    "LogisticRegression",
    "MultiHeadClassifier",
    "MultiLabelLogistic",
    "OneVsRestLogistic",
    "SeparableWarning",
    "SoftmaxRegression",
    "__version__",
    "load",
]
