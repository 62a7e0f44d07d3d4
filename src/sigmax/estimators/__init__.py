"""The four estimators; :data:`ESTIMATORS` maps their names to the classes."""

from ._base import LinearClassifierBase, SeparableWarning
from .logistic import LogisticRegression
from .multihead import MultiHeadClassifier, MultiLabelHeads
from .multilabel import MultiLabelLogistic
from .ovr import OneVsRestLogistic
from .softmax import SoftmaxRegression

#: Registry of estimator classes by class name (used by save/load and the CLI).
ESTIMATORS: dict[str, type[LinearClassifierBase]] = {
    cls.__name__: cls
    for cls in (LogisticRegression, SoftmaxRegression, OneVsRestLogistic, MultiLabelLogistic,
                MultiHeadClassifier)
}

__all__ = ["ESTIMATORS", "LinearClassifierBase", "LogisticRegression", "MultiHeadClassifier",
           "MultiLabelHeads", "MultiLabelLogistic",
           "OneVsRestLogistic", "SeparableWarning", "SoftmaxRegression"]
