"""Advice from the label structure, and from measured numbers; target validation."""

import numpy as np
import pandas as pd
import pytest

import sigmax
from sigmax.study.advise import advise, encode_target, label_structure
from sigmax.study.result import CandidateResult, Comparison, ProblemResult


def test_binary_labels_call_for_logistic():
    a = sigmax.advise(np.array(["yes", "no", "no", "yes", "no"]))
    assert a.model == "logistic" and a.estimator == "LogisticRegression"
    assert "'no': 3 rows" in a.reasons[0]


def test_exclusive_classes_call_for_softmax():
    a = advise(np.array([0, 1, 2, 2, 1, 0, 3, 3]))
    assert a.model == "softmax" and a.estimator == "SoftmaxRegression"
    assert "4 mutually exclusive classes" in a.reasons[0]


def test_co_occurring_labels_call_for_sigmoids():
    Y = pd.DataFrame({"comedy": [1, 1, 0, 0, 1], "drama": [0, 1, 1, 0, 1],
                      "short": [0, 0, 0, 1, 1]})
    a = advise(Y)
    assert a.model == "multilabel" and a.estimator == "MultiLabelLogistic"
    s = a.label_structure
    assert s["kind"] == "non-exclusive"
    assert s["share_multi"] == pytest.approx(2 / 5)
    assert s["cooccurrence"][0][1] == 2
    assert ["drama", "short"] not in s["never_cooccur"]
    assert ["comedy", "short"] not in s["never_cooccur"]
    assert "40% of rows carry 2 or more" in a.reasons[0]


def test_indicator_with_one_label_per_row_is_exclusive():
    a = advise(np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0], [0, 0, 0]]))
    assert a.model == "softmax"
    assert a.label_structure["kind"] == "exclusive"
    assert "never co-occur" in a.reasons[0] and "'none'" in a.reasons[0]


def test_label_sets_are_read():
    a = advise([{"a"}, {"a", "b"}, set(), {"b"}])
    assert a.model == "multilabel"
    assert a.label_structure["names"] == ["a", "b"]


def test_label_structure_lift():
    Y = np.array([[1, 1]] * 5 + [[1, 0]] * 5 + [[0, 1]] * 5 + [[0, 0]] * 5)
    s = label_structure(Y)
    assert s["lift"][0][1] == pytest.approx(1.0)     # independent by construction
    assert s["lift"][0][0] is None
    assert s["n_label_sets"] == 4


_CHALLENGERS = {"powerset": ("Softmax over label sets", "SoftmaxRegression"),
                "mixed": ("Softmax heads for exclusive groups, sigmoids else",
                          "MultiLabelHeads")}


def _problem(ll_diffs, acc_conclusion="no_difference", challenger="powerset"):
    """A multi-label study where ``challenger`` beats 'multilabel' on log-loss by ll_diffs."""
    title, cls = _CHALLENGERS[challenger]
    cands = [CandidateResult("multilabel", "Independent sigmoids", "MultiLabelLogistic",
                             metrics={"log_loss": [0.3] * 5, "ece": [0.01] * 5},
                             compute={"fit_seconds": 0.01, "n_params": 10}),
             CandidateResult(challenger, title, cls,
                             metrics={"log_loss": [0.25] * 5, "ece": [0.02] * 5},
                             compute={"fit_seconds": 0.1, "n_params": 50})]
    lo, hi = ll_diffs
    comps = [Comparison("log_loss", "multilabel", challenger, (lo + hi) / 2, lo, hi, 0.01,
                        "t", "v", "b_better" if lo > 0 else "no_difference"),
             Comparison("subset_accuracy", "multilabel", challenger, 0.0, -0.1, 0.1, 0.5,
                        "t", "v", acc_conclusion)]
    return ProblemResult("d", "multilabel", 5, 2, 2, ["a", "b"], candidates=cands,
                         comparisons=comps)


Y_CO = np.array([[1, 1], [1, 0], [0, 1], [0, 0], [1, 1]])


def test_a_better_model_sigmax_fit_cannot_build_is_reported_not_recommended():
    # Issue 14: the advice names only models `sigmax fit` builds (docs/advice.md, rule 3);
    # the powerset softmax's lower log-loss is said, and the structural choice stands.
    a = advise(Y_CO, result=_problem((0.03, 0.07)))
    assert a.structural_choice == "multilabel"
    assert a.model == "multilabel" and a.status == "mixed"
    assert "worse on log_loss than Softmax over label sets" in a.summary
    assert "structural choice stands" in a.summary
    assert "measurements agree" not in a.summary


def test_measurably_better_mixed_heads_are_recommended_and_built_by_sigmax_fit():
    # `sigmax fit -m mixed` builds MultiLabelHeads: a measured win is now advice.
    a = advise(Y_CO, result=_problem((0.03, 0.07), challenger="mixed"))
    assert a.model == "mixed" and a.estimator == "MultiLabelHeads"
    assert "cannot build" not in a.summary
    # Within noise the structural choice (independent sigmoids) stands.
    assert advise(Y_CO, result=_problem((-0.01, 0.05), challenger="mixed")).model == \
        "multilabel"


def test_within_noise_keeps_the_structural_choice():
    a = advise(Y_CO, result=_problem((-0.01, 0.05)))
    assert a.model == "multilabel" and a.status == "no_difference"
    assert "no measurable difference" in a.summary


def test_better_log_loss_but_less_accurate_does_not_switch():
    a = advise(Y_CO, result=_problem((0.03, 0.07), acc_conclusion="a_better"))
    assert a.model == "multilabel"


@pytest.mark.parametrize("y,msg", [
    (np.array([1, 1, 1]), "only one class"),
    (np.array([0.0, 1.0, np.nan, 1.0, np.nan]), r"2 missing .* rows 2, 4"),
    (np.array([0.1, 0.5, 0.7, 0.2]), "looks continuous"),
    (np.array([[1, 0], [1, 0], [1, 1]]), "Label '0' is always present"),
    (np.array([[1, 0], [np.nan, 1], [0, 1]]), "missing"),
    (np.array([[1, 2], [0, 1]]), "0/1 indicator"),
    (None, "y is None"),
])
def test_bad_targets_are_rejected_with_the_fix(y, msg):
    with pytest.raises(ValueError, match=msg):
        encode_target(y)


def test_cross_validation_needs_two_rows_per_class():
    y = np.array([0, 0, 1, 1, 2])
    assert advise(y).model == "softmax"          # advice alone needs no folds
    with pytest.raises(ValueError, match=r"\['2'\] of y have fewer than 2 samples"):
        encode_target(y, min_per_class=2)


def test_length_mismatch():
    with pytest.raises(ValueError, match="X has 4 rows but y has 3"):
        encode_target(np.array([0, 1, 0]), n_samples=4)
