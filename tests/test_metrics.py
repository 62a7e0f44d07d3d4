"""Scores of the study against scikit-learn, calibration bins, and the paired test."""

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from sigmax.study.metrics import (
    LOG_CLIP,
    corrected_t_interval,
    expected_calibration_error,
    multilabel_scores,
    paired_comparison,
    reliability_bins,
    single_label_scores,
)


def _random_single(n=200, K=4, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, K)) * 2
    log_p = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    y = rng.integers(0, K, n)
    return y, log_p, np.argmax(log_p, axis=1)


def test_single_label_scores_match_sklearn():
    y, log_p, pred = _random_single()
    P = np.exp(log_p)
    s = single_label_scores(y, log_p, pred)
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert s["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert s["log_loss"] == pytest.approx(skm.log_loss(y, P, labels=range(4)), rel=1e-10)
    assert s["macro_f1"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    # Half the multi-class Brier score: in [0, 1], sklearn's with scale_by_half.
    assert s["brier"] == pytest.approx(
        skm.brier_score_loss(y, P, labels=range(4), scale_by_half=True))


def test_binary_brier_is_the_usual_one():
    rng = np.random.default_rng(1)
    p1 = rng.uniform(0.01, 0.99, 50)
    y = rng.integers(0, 2, 50)
    log_p = np.log(np.column_stack([1 - p1, p1]))
    s = single_label_scores(y, log_p, (p1 > 0.5).astype(int))
    assert s["brier"] == pytest.approx(np.mean((p1 - y) ** 2))


def test_log_loss_is_clipped_for_classes_never_seen():
    y = np.array([0, 1, 2])
    log_p = np.tile([np.log(0.5), np.log(0.5), -np.inf], (3, 1))
    s = single_label_scores(y, log_p, np.zeros(3, dtype=int))
    assert np.isfinite(s["log_loss"])
    assert s["log_loss"] == pytest.approx((2 * np.log(2) - LOG_CLIP) / 3)


def test_multilabel_scores_match_sklearn():
    rng = np.random.default_rng(2)
    n, L = 300, 5
    Z = rng.normal(size=(n, L)) * 2
    Y = (rng.uniform(size=(n, L)) < 0.4).astype(int)
    log_p1 = -np.log1p(np.exp(-Z))
    log_p0 = -np.log1p(np.exp(Z))
    pred = (Z > 0).astype(int)
    names = [f"l{j}" for j in range(L)]
    s = multilabel_scores(Y, log_p1, log_p0, pred, names)
    assert s["hamming_loss"] == pytest.approx(skm.hamming_loss(Y, pred))
    assert s["subset_accuracy"] == pytest.approx(skm.accuracy_score(Y, pred))
    assert s["macro_f1"] == pytest.approx(skm.f1_score(Y, pred, average="macro"))
    assert s["micro_f1"] == pytest.approx(skm.f1_score(Y, pred, average="micro"))
    P = np.exp(log_p1)
    for j, name in enumerate(names):
        assert s[f"f1:{name}"] == pytest.approx(skm.f1_score(Y[:, j], pred[:, j]))
        assert s[f"log_loss:{name}"] == pytest.approx(skm.log_loss(Y[:, j], P[:, j]), rel=1e-9)
        assert s[f"brier:{name}"] == pytest.approx(skm.brier_score_loss(Y[:, j], P[:, j]))


def test_subset_accuracy_uses_the_set_prediction_hamming_the_marginals():
    Y = np.array([[1, 1], [0, 0]])
    # Marginals say both labels present for row 0 (p = 0.6) but the set prediction is {}.
    log_p1 = np.log(np.full((2, 2), 0.6))
    log_p0 = np.log(np.full((2, 2), 0.4))
    pred_set = np.zeros((2, 2), dtype=int)
    s = multilabel_scores(Y, log_p1, log_p0, pred_set, ["a", "b"])
    assert s["hamming_loss"] == pytest.approx(0.5)
    assert s["subset_accuracy"] == pytest.approx(0.5)


def test_reliability_bins_and_ece():
    conf = np.array([0.0, 0.05, 1.0, 1.0, 0.5])
    bins = reliability_bins(conf, np.array([0, 0, 1, 0, 1]), n_bins=10)
    assert sum(bins["count"]) == 5
    assert bins["count"][0] == 2 and bins["count"][-1] == 2
    assert bins["frequency"][-1] == pytest.approx(0.5)
    assert bins["mean_confidence"][3] is None
    # Confidence 0.8 with 80% right: calibrated. Confidence 1 with half right: ECE 0.5.
    assert expected_calibration_error(np.full(10, 0.8), np.array([1] * 8 + [0] * 2)) == \
        pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error(np.ones(10), np.array([1, 0] * 5)) == pytest.approx(0.5)


def test_corrected_t_interval_formula():
    d = np.array([0.02, 0.01, 0.03, 0.015, 0.025])
    mean, lo, hi, p = corrected_t_interval(d, test_train_ratio=0.25)
    se = np.sqrt((1 / 5 + 0.25) * np.var(d, ddof=1))
    q = stats.t.ppf(0.975, 4)
    assert mean == pytest.approx(d.mean())
    assert (lo, hi) == (pytest.approx(d.mean() - q * se), pytest.approx(d.mean() + q * se))
    assert p == pytest.approx(2 * stats.t.sf(d.mean() / se, 4))
    # The correction widens the naive interval.
    assert hi - lo > 2 * q * np.std(d, ddof=1) / np.sqrt(5)
    with pytest.raises(ValueError, match="at least 2 folds"):
        corrected_t_interval(np.array([0.1]), 0.25)


def test_paired_comparison_identical_candidates():
    v = [0.91, 0.93, 0.9, 0.95, 0.92]
    c = paired_comparison("accuracy", "a", "b", v, list(v), test_train_ratio=0.25)
    assert c.conclusion == "identical"
    assert "no difference" in c.verdict
    assert c.diff == 0


def test_paired_comparison_noise_is_no_real_difference():
    rng = np.random.default_rng(3)
    a = 0.9 + rng.normal(0, 0.02, 5)
    b = a + rng.normal(0, 0.02, 5)
    c = paired_comparison("accuracy", "a", "b", a, b, test_train_ratio=0.25)
    assert c.ci_low <= 0 <= c.ci_high
    assert c.conclusion == "no_difference"
    assert c.verdict.startswith("no real difference")


@pytest.mark.parametrize("metric,shift,winner", [
    ("accuracy", 0.1, "a_better"),    # higher is better: a is 0.1 higher
    ("log_loss", 0.1, "b_better"),    # lower is better: a is 0.1 worse
    ("log_loss", -0.1, "a_better"),
])
def test_paired_comparison_detects_a_real_difference(metric, shift, winner):
    rng = np.random.default_rng(4)
    b = 0.5 + rng.normal(0, 0.01, 5)
    a = b + shift + rng.normal(0, 0.005, 5)
    c = paired_comparison(metric, "a", "b", a, b, test_train_ratio=0.25)
    assert c.conclusion == winner
    assert c.p_value < 0.01
    name = "a" if winner == "a_better" else "b"
    assert c.verdict.startswith(f"{name} is better")


def test_paired_comparison_needs_the_same_folds():
    with pytest.raises(ValueError, match="same folds"):
        paired_comparison("accuracy", "a", "b", [0.1, 0.2], [0.1, 0.2, 0.3],
                          test_train_ratio=0.25)
