"""The estimators; :data:`ESTIMATORS` maps the names of those that can be saved to the classes."""

from ._base import LinearClassifierBase, SeparableWarning
from .cv import (
    CV_ESTIMATORS,
    LogisticRegressionCV,
    MultiLabelLogisticCV,
    OneVsRestLogisticCV,
    SoftmaxRegressionCV,
)
from .logistic import LogisticRegression
from .multihead_classifier import MultiHeadClassifier
from .multilabel import MultiLabelLogistic
from .multilabel_heads import MultiLabelHeads

# The CV twin of the mixed heads (in CV_ESTIMATORS: the study tunes them with it).
from .multilabel_heads_cv import MultiLabelHeadsCV
from .ovr import OneVsRestLogistic
from .registry import ESTIMATORS, register_estimator
from .softmax import SoftmaxRegression

# The registry of save/load and the CLI. The CV estimators are registered too (the
# CLI names them; a saved one is its plain model).
for _cls in (LogisticRegression, SoftmaxRegression, OneVsRestLogistic, MultiLabelLogistic,
             MultiHeadClassifier, MultiLabelHeads, *CV_ESTIMATORS.values()):
    register_estimator(_cls)

__all__ = ["CV_ESTIMATORS", "ESTIMATORS", "LinearClassifierBase", "LogisticRegression",
           "LogisticRegressionCV", "MultiHeadClassifier", "MultiLabelHeads", "MultiLabelHeadsCV",
           "MultiLabelLogistic", "MultiLabelLogisticCV", "OneVsRestLogistic",
           "OneVsRestLogisticCV", "SeparableWarning", "SoftmaxRegression",
           "SoftmaxRegressionCV", "register_estimator"]
