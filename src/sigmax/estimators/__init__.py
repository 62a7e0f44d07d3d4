"""The four estimators; :data:`ESTIMATORS` maps their names to the classes."""

from ._base import LinearClassifierBase, SeparableWarning
from .cv import (
    CV_ESTIMATORS,
    LogisticRegressionCV,
    MultiLabelLogisticCV,
    OneVsRestLogisticCV,
    SoftmaxRegressionCV,
)
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
ESTIMATORS.update(CV_ESTIMATORS)

__all__ = ["CV_ESTIMATORS", "ESTIMATORS", "LinearClassifierBase", "LogisticRegression",
           "LogisticRegressionCV", "MultiHeadClassifier", "MultiLabelHeads",
           "MultiLabelLogistic", "MultiLabelLogisticCV", "OneVsRestLogistic",
           "OneVsRestLogisticCV", "SeparableWarning", "SoftmaxRegression",
           "SoftmaxRegressionCV"]
