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
from .ovr import OneVsRestLogistic
from .registry import ESTIMATORS, register_estimator
from .softmax import SoftmaxRegression

# The registry of save/load and the CLI (MultiLabelHeads cannot be saved yet). The CV
# estimators are registered too (the CLI names them; a saved one is its plain model).
for _cls in (LogisticRegression, SoftmaxRegression, OneVsRestLogistic, MultiLabelLogistic,
             MultiHeadClassifier, *CV_ESTIMATORS.values()):
    register_estimator(_cls)

# In CV_ESTIMATORS (the study tunes the mixed heads with it), not in ESTIMATORS: like
# MultiLabelHeads, it cannot be saved yet.
from .multilabel_heads_cv import MultiLabelHeadsCV  # noqa: E402

__all__ = ["CV_ESTIMATORS", "ESTIMATORS", "LinearClassifierBase", "LogisticRegression",
           "LogisticRegressionCV", "MultiHeadClassifier", "MultiLabelHeads", "MultiLabelHeadsCV",
           "MultiLabelLogistic", "MultiLabelLogisticCV", "OneVsRestLogistic",
           "OneVsRestLogisticCV", "SeparableWarning", "SoftmaxRegression",
           "SoftmaxRegressionCV", "register_estimator"]
