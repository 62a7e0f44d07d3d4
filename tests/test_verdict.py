"""The advice rule (docs/advice.md): every sentence kind where it must and must not be said."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from sigmax.study.verdict import BASELINE, decide, holm


@dataclass
class Cand:
    name: str
    label: str
    metrics: dict = field(default_factory=dict)


@dataclass
class Comp:
    metric: str
    a: str
    b: str
    diff: float
    p_value: float
    conclusion: str


CANDS = [Cand("softmax", "Softmax", {"log_loss": [0.5, 0.52]}),
         Cand("ovr", "One-vs-rest", {"log_loss": [0.55, 0.56]}),
         Cand("powerset", "Powerset softmax", {"log_loss": [0.4, 0.41]}),
         Cand(BASELINE, "Baseline: class frequencies", {"log_loss": [1.0, 1.0]})]
BUILDS = {"softmax", "ovr", "logistic", "multilabel"}.__contains__


def _decide(comps, structural="softmax", cands=CANDS):
    return decide(structural, cands, comps, buildable=BUILDS,
                  fit_command=lambda m: f"sigmax fit data.csv -t y -m {m} -o model.safetensors",
                  structural_reason="its classes are exclusive.")


def test_holm_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.array([0.001, 0.02, 0.04, 0.3, 0.011, np.nan])
    ours = holm(p)
    ref = multipletests(p[:-1], method="holm")[1]
    np.testing.assert_allclose(ours[:-1], ref)
    assert np.isnan(ours[-1])


def test_agree_only_when_every_significant_difference_favours_the_choice():
    v = _decide([Comp("log_loss", "ovr", "softmax", 0.05, 0.001, "b_better"),
                 Comp("accuracy", "ovr", "softmax", 0.0, 0.9, "no_difference")])
    assert v.status == "agree" and "measurements agree" in v.sentences[0]
    assert v.model == "softmax" and v.fit_command.endswith("-m softmax -o model.safetensors")


def test_one_vs_rest_leading_on_several_metrics_is_never_agreement():
    comps = [Comp("log_loss", "ovr", "softmax", 0.05, 0.001, "b_better")]
    comps += [Comp(m, "ovr", "softmax", 0.02, 0.001, "a_better")
              for m in ("accuracy", "balanced_accuracy", "macro_f1", "brier")]
    v = _decide(comps)
    assert v.status == "mixed"
    assert not any("agree" in s for s in v.sentences)
    assert "better on log_loss than One-vs-rest" in v.sentences[0]
    # The four losses in one clause, the other model named once for them.
    assert ("worse on accuracy, balanced_accuracy, macro_f1 and brier than One-vs-rest"
            in v.sentences[0])
    assert v.sentences[0].count("than One-vs-rest") == 2


def test_overturned_by_a_buildable_model_with_lower_log_loss():
    v = _decide([Comp("log_loss", "ovr", "softmax", -0.04, 0.001, "a_better")])
    assert v.model == "ovr" and v.status == "overturned"
    assert "significantly lower cross-validated log-loss" in v.sentences[0]


def test_not_overturned_by_a_model_sigmax_fit_cannot_build():
    v = _decide([Comp("log_loss", "powerset", "softmax", -0.1, 0.0001, "a_better")])
    assert v.model == "softmax" and v.status == "mixed"
    assert "Powerset" in v.sentences[0] and "structural choice stands" in v.sentences[0]


def test_not_overturned_when_the_other_model_is_worse_elsewhere():
    v = _decide([Comp("log_loss", "ovr", "softmax", -0.04, 0.001, "a_better"),
                 Comp("accuracy", "ovr", "softmax", -0.05, 0.001, "b_better")])
    assert v.model == "softmax" and v.status == "mixed"


def test_a_single_p_of_0_042_among_many_tests_is_no_difference_after_holm():
    comps = [Comp("subset_accuracy", "powerset", "softmax", 0.01, 0.042, "a_better")]
    comps += [Comp(m, "ovr", "softmax", 0.0, 0.5, "no_difference") for m in
              ("log_loss", "accuracy", "brier", "ece", "macro_f1")]
    v = _decide(comps)
    assert v.status == "no_difference"
    assert "no measurable difference" in v.sentences[0]
    assert "6 paired tests" in v.sentences[0]
    assert "agree" not in v.sentences[0]
    assert "p < 0.05 alone (smallest 0.042) but not after correcting for the 6 tests" in \
        " ".join(v.sentences)
    # The remedy is said from what ran: 2 folds per model here, not "without --quick".
    assert "this run scored 2 folds per model; --cv sets them" in " ".join(v.sentences)
    assert "without --quick" not in " ".join(v.sentences)
    # Without the correction the same p-value would count: alone it is significant.
    alone = _decide(comps[:1])
    assert alone.status == "mixed"
    assert not any("not after correcting" in x or "more folds" in x for x in alone.sentences)


def test_baseline_sentences():
    worse = [Comp("log_loss", "softmax", BASELINE, 0.2, 0.001, "b_better")]
    v = _decide(worse)
    assert any(s.startswith("Warning:") and "worse than the class frequencies" in s
               for s in v.sentences)
    assert v.beats_baseline is False
    tie = [Comp("log_loss", "softmax", BASELINE, -0.01, 0.6, "no_difference")]
    v = _decide(tie)
    assert any(s.startswith("Caution:") for s in v.sentences)
    assert not any(s.startswith("Warning:") for s in v.sentences)
    better = [Comp("log_loss", "softmax", BASELINE, -0.5, 0.001, "a_better")]
    v = _decide(better)
    assert v.beats_baseline is True
    assert not any(s.startswith(("Warning:", "Caution:")) for s in v.sentences)
    # the baseline itself is never recommended, however good it looks
    assert v.model != BASELINE


@pytest.mark.parametrize("comps", [[]])
def test_no_measurements(comps):
    v = _decide(comps)
    assert v.status == "not_measured" and "no paired measurements" in v.sentences[0]
