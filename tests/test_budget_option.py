"""``--budget`` / ``compare(time_budget=)``: the sizes it cuts, the sentences that say so,
the cost model's choice, and the time left shown by the progress display."""

from __future__ import annotations

import re
from itertools import pairwise

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_iris

from sigmax.cli import main
from sigmax.study.budget import CUT_ORDER, FULL, QUICK, SMALLEST, cut_steps, cuts_between
from sigmax.study.compare import compare
from sigmax.study.cost import FitTime, Probe, Sizes, estimate
from sigmax.study.eta import TimeLeft, time_left, time_left_text
from sigmax.study.planning import plan_budgets

SECTIONS = ["performance", "minima"]


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def _budget_sentences(notes):
    return [n for n in notes if "budget" in n]


# -- compare(time_budget=) --------------------------------------------------------------------
def test_budget_that_forces_cuts_says_what_it_cut(iris, tmp_path):
    X, y = iris
    # No run takes a millisecond: every size goes down to the smallest, and that is said.
    res = compare(X, y, cv=5, sections=SECTIONS, time_budget=0.001)
    b = res.settings["budget"]
    p = res.problems[0]
    assert b["seconds"] == 0.001
    assert b["max_folds"] == 3 and res.settings["cv"] == 3
    assert len(p.candidates[0].metrics["log_loss"]) == 3    # one score per fold
    assert b["starts"] == SMALLEST.starts < FULL.starts
    assert b["minima_rows"] == SMALLEST.minima_rows < FULL.minima_rows
    assert b["lp_seconds"] == SMALLEST.lp_seconds
    # Fields of sections that did not run are not cut (the K sweep is the computation's).
    assert b["k_sweep"] == list(FULL.k_sweep)
    assert not any(c["field"] == "k_sweep" for c in b["cuts"])
    sentences = _budget_sentences(p.notes)
    assert "Folds 5 → 3 to fit the 0.001 s budget" in sentences
    assert "Random starts 4 → 2 to fit the 0.001 s budget" in sentences
    assert any(s.startswith("Even the smallest sizes were estimated at") for s in sentences)
    assert b["over"] is True
    # Every cut in results.json is in a sentence, with its numbers.
    for c in b["cuts"]:
        if not isinstance(c["before"], list):
            assert any(f"{c['before']:g} → {c['after']:g}" in s for s in sentences), c
    assert sentences == b["sentences"]
    # The report says it too (the problem's notes, in its Setup).
    from html import unescape

    from sigmax.study.render import write_report

    page = unescape((write_report(res, tmp_path / "r", plots=False)).read_text())
    assert all(s in page for s in sentences)


def test_generous_budget_cuts_nothing_and_says_nothing(iris):
    X, y = iris
    res = compare(X, y, cv=5, sections=SECTIONS, quick=True, time_budget=1e6)
    b = res.settings["budget"]
    assert b["cuts"] == [] and b["over"] is False
    assert {k: b[k] for k in QUICK.to_dict()} == QUICK.to_dict()
    assert res.settings["cv"] == 3
    assert _budget_sentences(res.problems[0].notes) == []
    assert b["estimated_seconds"] > 0 and set(b["estimate"]) == {"full_fits", *SECTIONS}


def test_no_budget_keeps_the_settings_as_before(iris):
    X, y = iris
    res = compare(X, y, sections=["performance"], quick=True)
    assert res.settings["budget"] == QUICK.to_dict()
    assert _budget_sentences(res.problems[0].notes) == []


@pytest.mark.parametrize("bad", [0, -3, float("nan"), "soon"])
def test_compare_refuses_a_budget_that_is_no_time(iris, bad):
    X, y = iris
    with pytest.raises(ValueError, match="time_budget"):
        compare(X, y, sections=["performance"], quick=True, time_budget=bad)


# -- the plan from a given probe (no timing involved) -----------------------------------------
def _probe(seconds_per_fit: float = 0.05) -> Probe:
    fits = (FitTime("softmax", seconds_per_fit, 500, 50, 60, 3 * 21, 3),
            FitTime("ovr", seconds_per_fit, 500, 50, 60, 3 * 21, 3, family="sigmoid"))
    return Probe("toy", 5000, 20, "multiclass", 3, 3, fits, grad_rate=2e-9,
                 grad_overhead=1e-4)


def _plan(available: float, sections=("performance", "computation", "minima")):
    return plan_budgets([_probe()], 60.0, available, start=FULL, n_folds=[5],
                        sections=[list(sections)])[0]


def test_cut_ladder_follows_the_written_order():
    steps = cut_steps(FULL, 5, tuned=False)
    assert steps[0] == (FULL, 5) and steps[-1][1] == 3
    order = [s.name for s in CUT_ORDER]
    seen = []
    for (a, fa), (b, fb) in pairwise(steps):
        changed = cuts_between(a, b, fa, fb)
        assert changed, "every step lowers something"
        names = {next(s.name for s in CUT_ORDER if c.field in s.fields) for c in changed}
        assert len(names) == 1
        seen.append(names.pop())
    # Steps come in CUT_ORDER; the path length only moves in a tuned comparison.
    assert seen == sorted(seen, key=order.index)
    assert "path length" not in seen and seen[-1] == "folds" and seen[0] == "diagnostic rows"
    tuned = cut_steps(FULL, 5, tuned=True)
    fields = {c.field for (a, fa), (b, fb) in pairwise(tuned) for c in cuts_between(a, b, fa, fb)}
    assert "path_length" in fields and tuned[-1][0].path_length == SMALLEST.path_length


def test_plan_stops_at_the_first_sizes_that_fit():
    secs = ["performance", "computation", "minima"]
    ladder = cut_steps(FULL, 5, False, secs)
    totals = [sum(estimate(_probe(), Sizes(b, f), secs).values()) for b, f in ladder]
    assert totals == sorted(totals, reverse=True)
    assert totals[0] > totals[-1]
    # Just under the estimate of step i: the plan takes step i + 1.
    i = next(k for k in range(len(totals) - 1) if totals[k] > totals[k + 1])
    plan = _plan(0.5 * (totals[i] + totals[i + 1]), secs)
    assert (plan.budget, plan.n_folds) == ladder[i + 1]
    assert plan.estimated_seconds <= 0.5 * (totals[i] + totals[i + 1])
    assert not plan.over
    assert _plan(totals[0] * 2, secs).cuts == []
    assert _plan(totals[0] * 2, secs).sentences() == []
    tiny = _plan(totals[-1] / 2, secs)
    assert tiny.over and (tiny.budget, tiny.n_folds) == ladder[-1]
    assert tiny.sentences()[-1].startswith(
        f"Even the smallest sizes were estimated at {totals[-1]:.1f} s, more than the "
        f"{totals[-1] / 2:.1f} s left of the 60 s budget")


def test_estimate_grows_with_the_sizes():
    p = _probe()
    small = estimate(p, Sizes(SMALLEST, 3), ["performance", "minima"])
    full = estimate(p, Sizes(FULL, 5), ["performance", "minima"])
    assert full["performance"] == pytest.approx(small["performance"] * 5 / 3 * (4 / 5)
                                                / (2 / 3), rel=0.2)
    assert full["minima"] > small["minima"]
    tuned = estimate(p, Sizes(FULL, 5, tuned=True), ["performance"])
    assert tuned["performance"] == pytest.approx(full["performance"])  # no tuned candidate
    q = Probe(**{**p.__dict__, "fits": tuple(FitTime(**{**f.__dict__, "tuned": True})
                                             for f in p.fits)})
    assert estimate(q, Sizes(FULL, 5, tuned=True), ["performance"])["performance"] > \
        2 * full["performance"]


# -- the time left ------------------------------------------------------------------------------
def test_time_left_decreases_with_given_section_timings():
    schedule = [1.0, 2.0, 3.0, 4.0]
    measured = [1.3, 2.7, 3.8, 5.3]   # a run about 30% slower than estimated
    elapsed = np.cumsum([0.0, *measured])
    left = [time_left(schedule, d, float(elapsed[d])) for d in range(len(schedule) + 1)]
    assert left[0] == pytest.approx(sum(schedule))      # no basis yet: the estimate itself
    assert all(a > b for a, b in pairwise(left))
    assert left[-1] == 0.0
    # Slower than estimated: more left than the raw remaining estimate, and the measured
    # ratio (here 4 s for 3 estimated) is what scales it, beyond the prior weight.
    assert left[2] > sum(schedule[2:])
    assert left[2] == pytest.approx(7.0 * (4.0 + 2.0) / (3.0 + 2.0))
    fast = time_left(schedule, 2, 1.0)
    assert fast < sum(schedule[2:])


def test_time_left_starts_at_the_schedule_begin():
    # Units 0-1 ran before there was a schedule (the fits on all rows).
    assert time_left([0.0, 0.0, 2.0, 2.0], 2, 0.0, begin=2) == pytest.approx(4.0)
    assert time_left([0.0, 0.0, 2.0, 2.0], 3, 4.0, begin=2) == pytest.approx(
        2.0 * (4.0 + 0.8) / (2.0 + 0.8))


def test_time_left_tracker_and_text():
    now = [0.0]
    t = TimeLeft(clock=lambda: now[0])
    assert t.seconds(0) is None
    assert time_left_text(None) == "estimating"
    t.plan([10.0, 10.0], begin=1)
    now[0] = 10.0
    assert t.seconds(2) == pytest.approx(10.0)
    assert time_left_text(42.0) == "about 40 s left"
    assert time_left_text(3.4) == "about 3 s left"
    assert time_left_text(0.2) == "about 1 s left"
    assert time_left_text(600.0) == "about 10 min left"


def test_progress_callback_gets_the_time_left(iris):
    X, y = iris
    seen = []

    class Callback:
        def __call__(self, step, done, total):
            pass

        def time_left(self, name, seconds):
            seen.append(seconds)

    compare(X, y, sections=["performance"], quick=True, progress=Callback())
    assert seen[0] is None                       # before the fits on all rows: "estimating"
    known = [s for s in seen if s is not None]
    assert known and all(s >= 0 for s in known)
    # A plain callable still works (no time_left method).
    compare(X, y, sections=["performance"], quick=True, progress=lambda *a: None)


# -- the CLI ------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["0", "-5", "nan", "inf", "soon"])
def test_cli_budget_must_be_seconds(bad):
    res = CliRunner().invoke(main, ["compare", "iris", "--budget", bad, "--no-report"])
    assert res.exit_code == 2
    assert "--budget" in res.output and "seconds" in res.output


def test_cli_budget_prints_the_cuts():
    res = CliRunner().invoke(main, ["compare", "iris", "--budget", "0.01", "--no-report",
                                    "--sections", "performance,minima"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = re.sub(r"\s+", " ", res.output)
    assert "iris: Folds 5 → 3 to fit the 0.01 s budget" in out
    assert re.search(r"Ran in \d+\.\d s since the command started, against --budget 0\.01 s",
                     out)


def test_cli_without_budget_prints_no_cut():
    res = CliRunner().invoke(main, ["compare", "iris", "--quick", "--no-report",
                                    "--sections", "performance"], catch_exceptions=False)
    assert res.exit_code == 0
    assert "to fit the" not in res.output and "against --budget" not in res.output


def test_budget_shortens_the_C_path_of_a_tuned_comparison(iris):
    X, y = iris
    res = compare(X, y, C="cv", quick=True, sections=["performance"], time_budget=0.001)
    b = res.settings["budget"]
    assert b["path_length"] == SMALLEST.path_length < QUICK.path_length
    assert f"Values of C on the path {QUICK.path_length} → {SMALLEST.path_length} to fit the " \
           "0.001 s budget" in res.problems[0].notes
    soft = next(c for c in res.problems[0].candidates if c.name == "softmax")
    assert len(soft.params.Cs) == SMALLEST.path_length


def test_suite_planner_replans_with_the_measured_time():
    from sigmax.study.planning import SuitePlanner

    secs = ["performance", "computation", "minima"]
    full = sum(estimate(_probe(), Sizes(FULL, 5), secs).values())

    def second_plan(measured_first: float):
        now = [0.0]
        planner = SuitePlanner([_probe(), _probe()], 2.6 * full, lambda: now[0], 0.0,
                               start=FULL, n_folds=[5, 5], sections=[secs, secs])
        assert planner.next().cuts == []          # room for both at full size
        now[0] = 1.5 * full                       # the first took 1.5 times its estimate
        return planner.next([measured_first])

    # 1.1 x its estimate is left for the second. Judged by its own estimate it fits uncut;
    # scaled by the first dataset's 1.5 it does not, and is cut.
    assert second_plan(full).cuts == []
    slow = second_plan(1.5 * full)
    assert slow.cuts
    assert slow.estimated_seconds <= 1.1 * full
    assert slow.estimate["performance"] == pytest.approx(1.5 * estimate(
        _probe(), Sizes(slow.budget, slow.n_folds), secs)["performance"])


def test_over_budget_sentence_names_the_datasets_it_counts():
    secs = ["performance"]
    two = plan_budgets([_probe(), _probe()], 60.0, 1e-6, start=FULL, n_folds=[5, 5],
                       sections=[secs, secs])
    assert two[0].sentences()[-1].startswith(
        "Even the smallest sizes of this and the 1 dataset(s) after it were estimated at")
    one = plan_budgets([_probe()], 60.0, 1e-6, start=FULL, n_folds=[5], sections=[secs])
    assert one[0].sentences()[-1].startswith("Even the smallest sizes were estimated at")
