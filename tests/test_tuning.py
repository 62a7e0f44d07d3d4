"""The tuned comparison (issue 14 item 1): each model at its own C, nested, early-stopped.

Every convex candidate picks C by cross-validated log-loss on all rows (its
model) and inside each outer training fold (the performance table); the report
shows the choices and the validation curves; a path stops after
``PATIENCE`` worse points, and what it did not reach is null, never a number.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sigmax.study.compare import compare
from sigmax.study.figure import Skip
from sigmax.study.result import CandidateParams, CandidateResult, ProblemResult
from sigmax.study.tuning import PATIENCE, draw_validation_curves, tuning_html, tuning_params


@pytest.fixture(scope="module")
def digits_tuned():
    X, y = load_digits(return_X_y=True)
    keep = y < 4  # 4 classes, 720 rows: a few seconds
    return compare(X[keep], y[keep], C="cv", quick=True, cv=3,
                   sections=["performance"]).problems[0]


def test_every_convex_model_picks_its_own_C_nested(digits_tuned):
    p = digits_tuned
    tuned = [c for c in p.candidates if c.name != "baseline"]
    assert {c.name for c in tuned} == {"softmax", "ovr"}
    for c in tuned:
        par = c.params
        assert par.C_selected in par.Cs and par.C == par.C_selected
        assert len(par.C_per_fold) == 3 and set(par.C_per_fold) <= set(par.Cs)
        assert par.C_1se <= par.C_selected  # the strongest penalty within one SE
        curve = [v for v in par.validation_log_loss if v is not None]
        assert min(curve) == pytest.approx(
            par.validation_log_loss[par.Cs.index(par.C_selected)])
    # results.json stays valid JSON (no NaN) with the unreached points as null.
    text = json.dumps(p.to_dict(), allow_nan=False)
    assert "validation_log_loss" in text


def test_tuning_params_leave_unreached_C_null_and_choose_among_the_reached():
    class Fitted:
        Cs_ = np.array([0.01, 0.1, 1.0, 10.0])
        # fold 2 stopped after C = 1: C = 10 is not a choice, however good fold 1 is there
        scores_ = -np.array([[0.9, 0.5, 0.6, 0.1], [0.8, 0.6, 0.7, np.nan]])
        C_ = 0.1

    out = tuning_params(Fitted())
    assert out["validation_log_loss"][3] is None and out["validation_se"][3] is None
    assert out["validation_log_loss"][:3] == pytest.approx([0.85, 0.55, 0.65])
    assert out["C_1se"] == 0.1 and out["C_selected"] == 0.1


def test_the_report_says_how_far_the_paths_went(digits_tuned):
    html = tuning_html(digits_tuned)
    assert f"once {PATIENCE} values of C in a row score worse" in html
    for c in digits_tuned.candidates:
        if c.params.C_selected is None:
            continue
        reached = [C for C, v in zip(c.params.Cs, c.params.validation_log_loss)
                   if v is not None]
        expect = "to the end" if len(reached) == len(c.params.Cs) else f"up to {max(reached):g}"
        assert expect in html


def test_validation_curves_draw_one_panel_per_criterion(digits_tuned):
    fig = draw_validation_curves(digits_tuned)
    assert len(fig.axes) == 1  # classes: one criterion for softmax and one-vs-rest
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_label() in
             {c.label for c in digits_tuned.candidates}]
    assert len(lines) == 2
    multi = ProblemResult(dataset="m", task="multilabel", n_samples=10, n_features=2,
                          n_classes=2, class_names=["a", "b"])
    for name, target in (("multilabel", "indicator"), ("powerset", "label sets")):
        multi.candidates.append(CandidateResult(
            name=name, label=name, estimator="X", params=CandidateParams(
                C_selected=1.0, C_1se=0.1, Cs=[0.1, 1.0, 10.0], target=target,
                validation_log_loss=[0.5, 0.4, None], validation_se=[0.01, 0.01, None])))
    fig = draw_validation_curves(multi)
    # Per-label and label-set log-losses are different numbers: two panels.
    assert len(fig.axes) == 2
    assert {ax.get_title() for ax in fig.axes} == {"binary log-loss, mean over labels",
                                                    "log-loss of the whole label set"}


def test_no_curves_at_a_fixed_C():
    X, y = load_digits(return_X_y=True)
    keep = y < 3
    p = compare(X[keep][:300], y[keep][:300], C=1.0, quick=True, cv=3,
                sections=["performance"]).problems[0]
    assert all(c.params.C_selected is None for c in p.candidates)
    with pytest.raises(Skip):
        draw_validation_curves(p)
    assert tuning_html(p) == ""


def test_inner_folds_keep_groups_whole_and_are_stratified():
    from types import SimpleNamespace

    from sigmax.study.advise import encode_target
    from sigmax.study.folds import INNER_FOLDS, inner_folds

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    groups = np.repeat(np.arange(60), 5)  # 5 rows per person
    run = SimpleNamespace(target=encode_target(y, n_samples=300, min_per_class=2),
                          groups=groups, seed=0)
    rows = np.arange(50, 300)  # an outer training fold
    folds = inner_folds(run, rows)
    assert len(folds) == INNER_FOLDS
    for tr, te in folds:
        # positions within rows; no person on both sides of a choice of C
        assert not set(groups[rows[tr]]) & set(groups[rows[te]])
    run.groups = None
    folds = inner_folds(run, rows)
    for _, te in folds:
        share = np.bincount(y[rows[te]], minlength=3) / len(te)
        np.testing.assert_allclose(share, np.bincount(y[rows], minlength=3) / len(rows),
                                   atol=0.02)
    # shuffled: not contiguous blocks of rows
    assert any(np.any(np.diff(te) > 1) for _, te in folds)


def test_figures_drawn_in_the_worker_equal_those_drawn_here(digits_tuned):
    from sigmax.study.figure_pool import FigurePool
    from sigmax.study.plots import draw_figures

    with FigurePool() as pool:
        pool.submit(digits_tuned)
        (drawn,) = pool.rendered()
    here = draw_figures(digits_tuned)
    assert [f.spec.id for f in drawn] == [f.spec.id for f in here]
    for a, b in zip(drawn, here):
        assert (a.png is None) == (b.png is None) and a.skipped == b.skipped
        if a.png is not None:
            assert a.png == b.png  # no timestamps: the same bytes


def test_a_pool_that_cannot_draw_falls_back_to_drawing_here(digits_tuned):
    from sigmax.study.figure_pool import FigurePool

    pool = FigurePool()
    pool.close()  # no worker: every problem is drawn in this process
    pool.submit(digits_tuned)
    (drawn,) = pool.rendered()
    assert any(f.png for f in drawn)


def test_the_untuned_note_names_only_models_with_a_C(digits_tuned):
    html = tuning_html(digits_tuned)
    # The baseline has no C: it is never "at a fixed C".
    assert "Not tuned" not in html
    assert "The frequency baseline has no coefficients, so no C." in html
    trunk = CandidateResult(name="multitask", label="Trunk", estimator="MultiLabelHeads",
                            params=CandidateParams(C=1.0))
    p = ProblemResult(dataset="d", task="multilabel", n_samples=10, n_features=2,
                      n_classes=2, class_names=["a", "b"],
                      candidates=[*digits_tuned.candidates, trunk])
    assert "Not tuned (no cross-validated version): Trunk at C = 1." in tuning_html(p)


def test_advice_cost_compares_fits_on_all_rows_not_the_searches(digits_tuned):
    import copy

    from sigmax.study.advise import _measured

    p = copy.deepcopy(digits_tuned)
    soft = next(c for c in p.candidates if c.name == "softmax")
    ovr = next(c for c in p.candidates if c.name == "ovr")
    # Per-fold times of a tuned model include its whole C search; the cost sentence
    # compares one fit on all rows each.
    soft.compute.update({"fit_seconds": 100.0, "full_fit_seconds": 1.0})
    ovr.compute.update({"fit_seconds": 100.0, "full_fit_seconds": 3.0})
    cost = next(r for r in _measured(p, "softmax") if r.startswith("Cost"))
    assert "(one fit on all rows)" in cost and "3x the fit time" in cost


def test_mixed_heads_pick_their_own_C_like_the_other_convex_models():
    # Two labels that exclude each other plus an independent one: the mixed heads apply,
    # and (MultiLabelHeadsCV) choose C on the criterion of the independent sigmoids.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(360, 3))
    genre = np.argmax(X[:, :2] @ np.array([[2, -2, 0], [0, 2, -2]]) + rng.gumbel(size=(360, 3)),
                      axis=1)
    Y = np.column_stack([genre == 0, genre == 1, X[:, 2] + rng.logistic(size=360) > 0])
    p = compare(X, Y.astype(int), quick=True, sections=["performance"]).problems[0]
    mixed = next(c for c in p.candidates if c.name == "mixed")
    assert mixed.estimator == "MultiLabelHeads"  # what `sigmax fit` / Python builds
    assert mixed.params.C_selected in mixed.params.Cs and len(mixed.params.C_per_fold) == 3
    assert mixed.params.C == mixed.params.C_selected
    assert "Not tuned" not in tuning_html(p)
    fig = draw_validation_curves(p)
    titles = [ax.get_title() for ax in fig.axes]
    assert sum("mean over labels" in t for t in titles) == 1  # one panel: same criterion
