"""sigmax: logistic, softmax, one-vs-rest and multi-label regression, and which to use.

Fast, numerically stable estimators with the scikit-learn API, sharing one
core (losses x penalties x solvers), plus a study (``sigmax compare``) that
fits them side by side on your data and explains the choice.
"""

from ._version import __version__
from .estimators import (
    ESTIMATORS,
    LogisticRegression,
    LogisticRegressionCV,
    MultiHeadClassifier,
    MultiLabelHeads,
    MultiLabelHeadsCV,
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

#: Names imported on first use: the study (compare, advise) pulls in pandas and the
#: diagnostics, ONNX export the optional onnx package; ``import sigmax`` for the
#: estimators stays light. Name -> (module, attribute).
_LAZY = {
    "compare": ("sigmax.study.compare", "compare"),
    "advise": ("sigmax.study.advise", "advise"),
    "export_onnx": ("sigmax.onnx_export", "export_onnx"),
    "calibrate": ("sigmax.calibration", "calibrate"),
    "CalibratedModel": ("sigmax.calibration", "CalibratedModel"),
}
#: Packages that are themselves the callable (``sigmax.inference(model, X, y)``).
_LAZY_MODULES = {"inference": "sigmax.inference"}


def __getattr__(name: str):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(_LAZY_MODULES[name])
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'sigmax' has no attribute {name!r}")


__all__ = [
    "ESTIMATORS",
    "CalibratedModel",
    "LogisticRegression",
    "LogisticRegressionCV",
    "MultiHeadClassifier",
    "MultiLabelHeads",
    "MultiLabelHeadsCV",
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
    "calibrate",
    "compare",
    "export_onnx",
    "inference",
    "load",
    "regularization_path",
]
