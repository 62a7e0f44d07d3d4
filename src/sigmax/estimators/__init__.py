"""The estimators; :data:`ESTIMATORS` maps the names of those that can be saved to the classes."""

from ._base import LinearClassifierBase, SeparableWarning
from .logistic import LogisticRegression
from .multihead_classifier import MultiHeadClassifier
from .multilabel import MultiLabelLogistic
from .multilabel_heads import MultiLabelHeads
from .ovr import OneVsRestLogistic
from .registry import ESTIMATORS, register_estimator
from .softmax import SoftmaxRegression

# The registry of save/load and the CLI (MultiLabelHeads cannot be saved yet).
for _cls in (LogisticRegression, SoftmaxRegression, OneVsRestLogistic, MultiLabelLogistic,
             MultiHeadClassifier):
    register_estimator(_cls)

__all__ = ["ESTIMATORS", "LinearClassifierBase", "LogisticRegression", "MultiHeadClassifier",
           "MultiLabelHeads", "MultiLabelLogistic",
           "OneVsRestLogistic", "SeparableWarning", "SoftmaxRegression", "register_estimator"]
