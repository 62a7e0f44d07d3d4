"""The study's calibration section: before and after post-hoc calibration on held-out rows.

An overconfident model (nearly no penalty, many noise features) must be reported as
needing calibration, a well-specified one must not; the table, the terminal lines and
results.json carry the same numbers as the sentences.
"""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import numpy as np
import pytest
from sklearn.datasets import load_iris

from sigmax import LogisticRegression, OneVsRestLogistic, SoftmaxRegression
from sigmax.study import fitting
from sigmax.study.compare import compare
from sigmax.study.render import TerminalRenderer
from sigmax.study.result import CompareResult
from sigmax.study.section import SECTIONS
from sigmax.study.sections.calibration import (
    CALIBRATION_METRICS,
    CalibrationResult,
    separated,
)


def _overfit(n=500, d=100, k=3, seed=1):
    """Two informative columns among ``d``: at C = 1e4 the fits memorize noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W = np.zeros((d, k))
    W[:2] = rng.normal(size=(2, k)) * 1.5
    return X, np.argmax(X @ W + rng.gumbel(size=(n, k)), axis=1)


def _well_specified(n=1200, d=3, k=3, seed=1):
    """Labels drawn from a softmax model of X: softmax at C = 1 is calibrated."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, np.argmax(X @ rng.normal(size=(d, k)) + rng.gumbel(size=(n, k)), axis=1)


@pytest.fixture(scope="module")
def overconfident():
    X, y = _overfit()
    return compare(X, y, name="overfit", cv=5, C=1e4, sections=["calibration"])


@pytest.fixture(scope="module")
def calibrated():
    X, y = _well_specified()
    return compare(X, y, name="wellspec", cv=5, C=1.0, sections=["calibration"])


def _n(x):
    return f"{x:.3g}"


def test_registered_right_after_performance():
    ids = list(SECTIONS)
    assert ids.index("calibration") == ids.index("performance") + 1
    assert SECTIONS.resolve("calib") == ["calibration"]


def test_overconfident_models_are_said_to_need_calibration(overconfident):
    r = overconfident.problems[0].calibration
    assert isinstance(r, CalibrationResult) and r.n_folds == 5
    by = {c.name: c for c in r.candidates}
    assert set(by) == {"softmax", "ovr"} and "baseline" in r.left_out
    assert by["softmax"].method == "temperature" and by["ovr"].method == "platt"
    for c in by.values():
        assert c.verdict == "improves"
        for m in CALIBRATION_METRICS:
            v = c.metrics[m]
            assert v.mean_after < v.mean_before
            assert v.test.p_adjusted < 0.05 and v.test.diff < 0 and v.change == "improves"
    # Overconfident: the fitted temperature cools the logits on every fold.
    assert all(t > 1 for t in by["softmax"].temperature)
    assert all(a < 1 for a in by["ovr"].mean_scale)
    assert r.needs_calibration == ["softmax", "ovr"]
    sm = by["softmax"].metrics
    expected = (f"{by['softmax'].label}'s probabilities improve with temperature scaling "
                f"(ECE {_n(sm['ece'].mean_before)} → {_n(sm['ece'].mean_after)}, log-loss "
                f"{_n(sm['log_loss'].mean_before)} → {_n(sm['log_loss'].mean_after)}; both "
                f"significant after Holm's correction over the {r.n_tests} calibration tests")
    assert any(s.startswith(expected) for s in r.summary), r.summary
    assert any("it was overconfident" in s for s in r.summary)
    assert r.summary[0] == (f"Every model needs calibration on this data: "
                            f"{by['softmax'].label} and {by['ovr'].label} improve on the "
                            "held-out folds.")


def test_a_calibrated_model_gets_no_improvement_sentence(calibrated):
    r = calibrated.problems[0].calibration
    assert r.candidates and not r.needs_calibration
    for c in r.candidates:
        assert c.verdict == "no_change"
        assert all(v.test.p_adjusted >= 0.05 for v in c.metrics.values())
    assert not any("improve" in s or "needs calibration" in s for s in r.summary)
    assert r.summary[0].startswith("No model measurably gains from calibration")
    # The fitted temperature of a well-specified softmax stays near 1.
    soft = next(c for c in r.candidates if c.name == "softmax")
    assert all(0.7 < t < 1.5 for t in soft.temperature)


def test_numbers_are_the_per_fold_scores_and_one_fit_per_fold(monkeypatch):
    X, y = _overfit(n=240, d=20)
    fits = []
    real = fitting.fit

    def watch(est, X_, y_):
        fits.append((type(est).__name__, X_.shape[0]))
        return real(est, X_, y_)

    monkeypatch.setattr(fitting, "fit", watch)
    res = compare(X, y, cv=4, C=10.0, sections=["calibration"])
    r = res.problems[0].calibration
    # Full fits: 3 candidates x (timed + memory fit); then one fit per model and fold.
    section_fits = fits[6:]
    assert len(section_fits) == 4 * 2
    rows = {n for _, n in section_fits}
    assert len(rows) <= 2 and all(n < 240 * 3 / 4 for n in rows)  # the fit part only
    for c in r.candidates:
        assert len(c.calibration_rows) == 4
        assert all(0.15 * 180 <= n <= 0.25 * 180 for n in c.calibration_rows)
        for v in c.metrics.values():
            assert len(v.before) == len(v.after) == 4
            assert v.mean_before == pytest.approx(np.mean(v.before))
            assert v.sd_after == pytest.approx(np.std(v.after, ddof=1))
            assert v.test.diff == pytest.approx(np.mean(np.subtract(v.after, v.before)))


def test_table_terminal_and_sentences_agree(overconfident):
    p = overconfident.problems[0]
    r = p.calibration
    html = SECTIONS["calibration"].render_html(r, p)
    text = TerminalRenderer().render(overconfident)
    assert "Calibration: held-out, mean over 5 folds" in text
    for c in r.candidates:
        row = html.split(f"<td>{c.label}</td>", 1)[1].split("</tr>", 1)[0]
        for m in CALIBRATION_METRICS:
            v = c.metrics[m]
            assert f"{v.mean_before:.4f}" in row and f"{v.mean_after:.4f}" in row
            assert f"{_n(v.mean_before)} → {_n(v.mean_after)}" in text
            sentence = next(s for s in r.summary if s.startswith(c.label))
            assert f"{_n(v.mean_before)} → {_n(v.mean_after)}" in sentence
        assert "needs calibration" in row
        if c.temperature:  # the fitted map's column and the sentence quote one median
            mid = f"{np.median(c.temperature):.3g}"
            assert f"T = {mid}" in row and f"(median {mid})" in sentence
    assert r.summary[0] in " ".join(text.split())


def test_results_json_carries_the_numbers(overconfident):
    data = json.loads(overconfident.to_json())
    schema = json.loads(resources.files("sigmax.study").joinpath("schema.json").read_text())
    jsonschema.validate(data, schema)
    cal = data["problems"][0]["calibration"]
    ece = cal["candidates"][0]["metrics"]["ece"]
    assert len(ece["before"]) == 5 and ece["mean_before"] == pytest.approx(np.mean(ece["before"]))
    assert ece["test"]["p_adjusted"] < 0.05 and cal["needs_calibration"] == ["softmax", "ovr"]
    back = CompareResult.from_json(overconfident.to_json()).problems[0].calibration
    assert isinstance(back, CalibrationResult)
    assert back.candidates[1].metrics["log_loss"].after == \
        overconfident.problems[0].calibration.candidates[1].metrics["log_loss"].after


def test_separated_calibration_rows_are_detected_and_reported():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    model = LogisticRegression(C=1.0).fit(X, y)
    assert separated(model, X, y)
    assert not separated(model, X, np.array([0, 1, 0, 1]))
    Xs = np.vstack([X, [[3.0]], [[-3.0]]])
    soft = SoftmaxRegression(C=1.0).fit(Xs, np.array([0, 0, 1, 1, 1, 0]))
    assert separated(soft, X, y)                        # no error: T -> 0
    assert not separated(soft, X, np.array([1, 0, 1, 1]))
    X3 = np.repeat(np.array([[-3.0], [0.0], [3.0]]), 4, axis=0) + \
        np.tile([[-0.1], [0.1], [0.0], [0.05]], (3, 1))
    y3 = np.repeat([0, 1, 2], 4)
    ovr = OneVsRestLogistic(C=1.0).fit(X3, y3)
    assert separated(ovr, X3, y3)  # the sigmoid of class 0 splits its rows
    # On iris a softmax calibration part is separated; the report says so, with the numbers.
    X, y = load_iris(return_X_y=True)
    r = compare(X, y, quick=True, C=1.0, sections=["calibration"]).problems[0].calibration
    flagged = [c for c in r.candidates if c.separated and any(c.separated)]
    assert [c.method for c in flagged] == ["temperature"]
    assert all(c.separated is None for c in r.candidates if c.method == "platt")
    for c in flagged:
        k = sum(c.separated)
        assert any(s.startswith(f"On {k} of the {r.n_folds} folds {c.label}")
                   for s in r.summary)


def test_multilabel_candidates_are_calibrated_or_say_why():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4))
    Y = (X[:, :3] + rng.normal(size=(300, 3)) > 0).astype(int)
    r = compare(X, Y, quick=True, sections=["calibration"]).problems[0].calibration
    names = {c.name: c.method for c in r.candidates}
    assert names.get("multilabel") == "platt" and names.get("powerset") == "temperature"
    assert "baseline" in r.left_out
    for c in r.candidates:
        assert all(np.isfinite(v.mean_after) for v in c.metrics.values())


def test_tuned_comparison_reuses_the_C_chosen_in_each_outer_fold(monkeypatch):
    X, y = _well_specified(n=300)
    seen = []
    real = fitting.fit

    def watch(est, X_, y_):
        seen.append(est)
        return real(est, X_, y_)

    monkeypatch.setattr(fitting, "fit", watch)
    res = compare(X, y, quick=True, C="cv", sections=["performance", "calibration"])
    p = res.problems[0]
    for c in p.calibration.candidates:
        cand = next(k for k in p.candidates if k.name == c.name)
        fitted = [e.C for e in seen if type(e).__name__ == cand.estimator
                  and not hasattr(e, "Cs")][-3:]  # the section's fits come last
        assert fitted == pytest.approx(cand.params.C_per_fold[:3])
    assert "at the C chosen inside that outer fold" in p.calibration.protocol
    alone = compare(X, y, quick=True, C="cv", sections=["calibration"]).problems[0]
    assert "the performance section, which chooses C inside each outer fold, did not run" \
        in alone.calibration.protocol


def _record(name, label, method, changes):
    """A candidate's record with the given change per metric (numbers to match it)."""
    from sigmax.study.result import Comparison
    from sigmax.study.sections.calibration import BeforeAfter, CandidateCalibration

    metrics = {}
    for m, change in zip(CALIBRATION_METRICS, changes):
        step = {"improves": -0.05, "worsens": 0.05, "no_change": 0.001}[change]
        before = [0.2, 0.22, 0.21]
        after = [b + step for b in before]
        conclusion = {"improves": "a_better", "worsens": "b_better"}.get(change,
                                                                        "no_difference")
        test = Comparison(metric=m, a=f"{name} calibrated", b=name, diff=step, ci_low=step,
                          ci_high=step, p_value=0.5, method="t", verdict="",
                          conclusion=conclusion, p_adjusted=0.5)
        metrics[m] = BeforeAfter(before=before, after=after, mean_before=float(np.mean(before)),
                                 sd_before=0.01, mean_after=float(np.mean(after)), sd_after=0.01,
                                 test=test, change=change)
    cs = set(changes)
    verdict = ("mixed" if {"improves", "worsens"} <= cs else "improves" if "improves" in cs
               else "worsens" if "worsens" in cs else "no_change")
    return CandidateCalibration(name=name, label=label, method=method, metrics=metrics,
                                verdict=verdict)


def test_each_verdict_has_its_own_sentence():
    from sigmax.study.sections.calibration import answer_sentence, candidate_sentence

    soft = _record("softmax", "softmax", "temperature", ["no_change", "no_change"])
    ovr = _record("ovr", "one-vs-rest", "platt", ["improves", "no_change"])
    assert answer_sentence([soft, ovr]) == (
        "one-vs-rest needs calibration on this data; the other model(s) do not gain "
        "measurably (softmax: no significant change).")
    s = candidate_sentence(ovr, 4)
    assert s.startswith("one-vs-rest's probabilities improve with Platt scaling per sigmoid "
                        "(ECE 0.21 → 0.16, log-loss 0.21 → 0.211; the ECE drop significant")
    assert "the rest within the fold-to-fold noise" in s
    assert "improve" not in candidate_sentence(soft, 4)
    worse = _record("ovr", "one-vs-rest", "platt", ["no_change", "worsens"])
    assert "makes the probabilities worse" in candidate_sentence(worse, 4)
    assert answer_sentence([soft, worse]).startswith("No model measurably gains")
    assert "calibrating makes it significantly worse" in answer_sentence([soft, worse])
    mixed = _record("ovr", "one-vs-rest", "platt", ["improves", "worsens"])
    assert candidate_sentence(mixed, 4).startswith("one-vs-rest: Platt scaling per sigmoid "
                                                   "lowers ECE but raises log-loss")
    assert "better on one metric, worse on the other" in answer_sentence([mixed])


def test_platt_smoothed_targets_keep_the_map_finite():
    from sigmax import calibrate
    from sigmax.calibration import CalibratedModel, platt_targets
    from sigmax.numerics import expit

    Y = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, np.nan]])
    T = platt_targets(Y)
    np.testing.assert_allclose(T[:, 0], [3 / 4, 1 / 4, 3 / 4, 1 / 4])  # N+ = N- = 2
    np.testing.assert_allclose(T[:3, 1], [1 / 5] * 3)                   # N- = 3, no positive
    assert np.isnan(T[3, 1])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression(C=1.0).fit(X, y)
    assert separated(model, X, y)
    raw = calibrate(model, X, y, method="platt")
    smooth = calibrate(model, X, y, method="platt", smooth=True)
    assert abs(smooth.scale_[0]) < abs(raw.scale_[0]) / 3  # no runaway slope
    # ...and it is a true minimum of the smoothed log-loss: the gradient vanishes there.
    z = model.decision_function(X)
    g = expit(smooth.scale_[0] * z + smooth.bias_[0]) - platt_targets(y[:, None])[:, 0]
    assert abs(np.mean(g * z)) < 1e-6 and abs(np.mean(g)) < 1e-6
    # The losses it reports are the plain validation log-loss, before and after.
    log_p = smooth.predict_log_proba(X)
    assert smooth.loss_after_ == pytest.approx(-np.mean(log_p[np.arange(60), y]))
    assert smooth.loss_before_ == pytest.approx(raw.loss_before_)
    back = CalibratedModel.from_dict(model, smooth.to_dict())
    assert back.smooth and np.array_equal(back.predict_proba(X), smooth.predict_proba(X))
    with pytest.raises(ValueError, match="softmax"):
        calibrate(SoftmaxRegression().fit(X, y), X, y, method="temperature", smooth=True)


def test_changes_undecided_by_the_correction_name_the_folds_that_ran():
    from sigmax.study.result import Comparison
    from sigmax.study.sections.calibration import _summary

    soft = _record("softmax", "softmax", "temperature", ["no_change", "no_change"])

    def test(p: float) -> Comparison:
        return Comparison(metric="ece", a="after", b="before", diff=-0.01, ci_low=-0.02,
                          ci_high=0.001, p_value=p, method="t", verdict="",
                          conclusion="no_difference")

    undecided = _summary([soft], {}, 4, {"softmax": "softmax"},
                         {"softmax": {"ece": test(0.03), "log_loss": test(0.5)}}, n_folds=7)
    said = [s for s in undecided if "alone" in s]
    assert said == ["1 change(s) have p < 0.05 alone (smallest 0.03) but not after correcting "
                    "for the 4 tests; more folds give each test more power (this run scored 7 "
                    "folds per model; --cv sets them, and --quick caps them at 3)."]
    quiet = _summary([soft], {}, 4, {"softmax": "softmax"},
                     {"softmax": {"ece": test(0.2), "log_loss": test(0.5)}}, n_folds=7)
    assert not any("alone" in s or "more folds" in s for s in quiet)
