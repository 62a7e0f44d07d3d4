"""sigmax: logistic, softmax, one-vs-rest and multi-label regression, and which to use.

Fast, numerically stable estimators with the scikit-learn API, sharing one
core (losses x penalties x solvers), plus a study (``sigmax compare``) that
fits them side by side on your data and explains the choice.
"""

from ._version import __version__
from .estimators import (
    ESTIMATORS,
    LogisticRegression,
    MultiHeadClassifier,
    MultiLabelHeads,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SeparableWarning,
    SoftmaxRegression,
)
from .io import load


def __getattr__(name: str):
    # The study (compare, advise) pulls in pandas and the diagnostics: imported on first
    # use so that ``import sigmax`` for the estimators stays light.
    if name == "compare":
        from .study.compare import compare

        return compare
    if name == "advise":
        from .study.advise import advise

        return advise
    raise AttributeError(f"module 'sigmax' has no attribute {name!r}")

__all__ = [
    "ESTIMATORS",
    "LogisticRegression",
    "MultiHeadClassifier",
    "MultiLabelHeads",
    "MultiLabelLogistic",
    "OneVsRestLogistic",
    "SeparableWarning",
    "SoftmaxRegression",
    "__version__",
    "advise",
    "compare",
    "load",
]
