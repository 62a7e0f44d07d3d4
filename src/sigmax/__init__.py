"""sigmax: logistic, softmax, one-vs-rest and multi-label regression, and which to use.

Fast, numerically stable estimators with the scikit-learn API, sharing one
core (losses x penalties x solvers), plus a study (``sigmax compare``) that
fits them side by side on your data and explains the choice.
"""

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

__version__ = "0.1.0"


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


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'sigmax' has no attribute {name!r}")


__all__ = [
    "ESTIMATORS",
    "CalibratedModel",
    "LogisticRegression",
    "MultiHeadClassifier",
    "MultiLabelHeads",
    "MultiLabelLogistic",
    "OneVsRestLogistic",
    "SeparableWarning",
    "SoftmaxRegression",
    "__version__",
    "advise",
    "calibrate",
    "compare",
    "export_onnx",
    "load",
]
