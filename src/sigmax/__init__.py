"""sigmax: logistic, softmax, one-vs-rest and multi-label regression, and which to use.

Fast, numerically stable estimators with the scikit-learn API, sharing one
core (losses x penalties x solvers), plus a study (``sigmax compare``) that
fits them side by side on your data and explains the choice.
"""

from .estimators import (
    ESTIMATORS,
    LogisticRegression,
    LogisticRegressionCV,
    MultiHeadClassifier,
    MultiLabelHeads,
    MultiLabelLogistic,
    MultiLabelLogisticCV,
    OneVsRestLogistic,
    OneVsRestLogisticCV,
    SeparableWarning,
    SoftmaxRegression,
    SoftmaxRegressionCV,
)
from .io import load
from .path import RegularizationPath, regularization_path

__version__ = "0.1.0"


def __getattr__(name: str):
    # The study (compare, advise) pulls in pandas and the diagnostics: imported on first
    # use so that ``import sigmax`` for the estimators stays light.
    if name == "compare":
        from .study.compare import compare

        return compare
    if name == "advise":
        from .study.advise import advise

        return advise
    if name == "inference":  # the package, callable: sigmax.inference(model, X, y)
        import importlib

        return importlib.import_module(".inference", __name__)
    raise AttributeError(f"module 'sigmax' has no attribute {name!r}")

__all__ = [
    "ESTIMATORS",
    "LogisticRegression",
    "LogisticRegressionCV",
    "MultiHeadClassifier",
    "MultiLabelHeads",
    "MultiLabelLogistic",
    "MultiLabelLogisticCV",
    "OneVsRestLogistic",
    "OneVsRestLogisticCV",
    "RegularizationPath",
    "SeparableWarning",
    "SoftmaxRegression",
    "SoftmaxRegressionCV",
    "__version__",
    "advise",
    "compare",
    "inference",
    "load",
    "regularization_path",
]
