"""What the study refits, on how many rows, and that it says so (issues 14 and 16: speed)."""

import dataclasses
import importlib.util

import numpy as np
import pandas as pd
import pytest

from sigmax.study import compare as compare_mod
from sigmax.study import fitting
from sigmax.study.compare import compare
from sigmax.study.sections import k2_equivalence as k2_mod
from sigmax.study.sections import visualization as viz_mod


def _binary(n=1200, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.where(X[:, 0] + rng.logistic(size=n) > 0, "yes", "no")
    return pd.DataFrame(X, columns=[f"f{j}" for j in range(d)]), y


def test_k2_unpenalized_on_all_rows_when_the_lp_fits():
    X, y = _binary(n=300)
    k2 = compare(X, y, quick=True, sections=["k2"]).problems[0].k2_equivalence
    assert k2.unpenalized["n_rows"] == 300
    assert k2.unpenalized["max_abs_prob_diff"] < 1e-6
    assert not any("subsample" in s for s in k2.summary)


def test_k2_unpenalized_subsamples_above_the_lp_budget_and_says_so(monkeypatch):
    # A slow machine in miniature: the LP affords 400 rows x (3 + 1) entries in 1.5 s.
    monkeypatch.setattr(k2_mod, "LP_ENTRIES_PER_SECOND", 400 * 4 / 1.5)
    X, y = _binary(n=1200)
    k2 = compare(X, y, quick=True, sections=["k2"]).problems[0].k2_equivalence
    n = k2.unpenalized["n_rows"]
    assert 300 <= n <= 400
    assert k2.unpenalized["max_abs_prob_diff"] < 1e-6  # the identity holds on any rows
    line = next(s for s in k2.summary if s.startswith("Without a penalty"))
    assert f"on {n:,} of the 1,200 rows" in line and "subsample" in line
    # the penalized comparison still uses every row
    assert k2.n_rows == 1200


def test_k2_unpenalized_skipped_when_even_the_subsample_is_too_large(monkeypatch):
    X, y = _binary(n=600)
    from sigmax.study import budget

    small = dataclasses.replace(budget.QUICK, lp_max_size=1)
    monkeypatch.setattr(compare_mod, "budget_for", lambda quick: small)
    k2 = compare(X, y, quick=True, sections=["k2"]).problems[0].k2_equivalence
    assert "skipped" in k2.unpenalized and "size limit" in k2.unpenalized["skipped"]
    assert any(s.startswith("Without a penalty: not compared") for s in k2.summary)


def test_decision_regions_refit_on_a_subsample_that_keeps_every_class(monkeypatch):
    monkeypatch.setattr(viz_mod, "PCA_FIT_ROWS", 150)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(900, 3))
    y = np.argmax(X @ rng.normal(size=(3, 4)) + rng.gumbel(size=(900, 4)), axis=1)
    y[:2] = 4  # a class of two rows must still be in the refit rows
    seen = []
    real_fit = fitting.fit

    def watch(est, X_, y_):
        seen.append((X_.shape, np.unique(y_).size))
        return real_fit(est, X_, y_)

    monkeypatch.setattr(fitting, "fit", watch)
    p = compare(X, y, quick=True, sections=["visualization"]).problems[0]
    pca = p.visualization.pca
    assert 150 <= pca.n_fit_rows < 900
    two_d = [s for s in seen if s[0][1] == 2]
    assert two_d and all(shape[0] == pca.n_fit_rows and k == 5 for shape, k in two_d)
    assert set(pca.grid["fit_score"]) == {c.name for c in p.candidates}
    fig = viz_mod.draw_decision_regions(p)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert any(f"2-D refit on {pca.n_fit_rows:,} of 900 rows" in t for t in titles)


def test_decision_regions_use_every_row_of_a_small_table():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    p = compare(X, y, quick=True, sections=["visualization"]).problems[0]
    assert p.visualization.pca.n_fit_rows == 200
    titles = [ax.get_title() for ax in viz_mod.draw_decision_regions(p).axes]
    assert not any(" of 200 rows" in t for t in titles)


def _three_labels(seed: int) -> tuple[np.ndarray, pd.DataFrame]:
    """240 rows, 3 features, 3 noisy 0/1 labels (one per feature): a trunk's table."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(240, 3))
    Y = pd.DataFrame((X + rng.normal(size=(240, 3)) > 0).astype(int), columns=["a", "b", "c"])
    return X, Y


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_memory_fit_of_the_trunk_stops_after_two_epochs(monkeypatch):
    X, Y = _three_labels(3)
    trunk_fits = []
    real_fit = fitting.fit

    def watch(est, X_, y_):
        out = real_fit(est, X_, y_)
        if getattr(est, "hidden", None):
            trunk_fits.append((est.max_epochs, int(est.fit_record_.n_iter)))
        return out

    monkeypatch.setattr(fitting, "fit", watch)
    p = compare(X, Y, sections=["advice"]).problems[0]
    assert [c.name for c in p.candidates if c.name == "multitask"] == ["multitask"]
    # An untimed one-epoch warm-up (torch's import and first kernels are not the
    # data's); the timed fit trains as configured; the memory fit stops at
    # MEMORY_FIT_MAX_EPOCHS.
    assert len(trunk_fits) == 3
    warm, timed, memory = trunk_fits
    assert warm == (1, 1)
    assert timed[0] > fitting.MEMORY_FIT_MAX_EPOCHS
    assert memory == (fitting.MEMORY_FIT_MAX_EPOCHS, fitting.MEMORY_FIT_MAX_EPOCHS)
    assert timed[1] > fitting.MEMORY_FIT_MAX_EPOCHS
    mt = next(c for c in p.candidates if c.name == "multitask")
    assert mt.compute["peak_memory_bytes"] > 0


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
@pytest.mark.parametrize("steps, batch", [(200, 64), (2, 128)])
def test_trunk_minibatches_sized_to_the_rows_and_said(monkeypatch, steps, batch):
    from sigmax.study import candidates

    monkeypatch.setattr(candidates, "TRUNK_STEPS_PER_EPOCH", steps)
    X, Y = _three_labels(4)
    batches = []
    real_fit = fitting.fit

    def watch(est, X_, y_):
        if getattr(est, "hidden", None):
            batches.append(est.batch_size)
        return real_fit(est, X_, y_)

    monkeypatch.setattr(fitting, "fit", watch)
    p = compare(X, Y, sections=["performance"], cv=3).problems[0]
    # the warm-up, all rows, the memory fit and every fold
    assert batches and set(batches) == {batch}
    assert len(batches) == 1 + 2 + 3
    notes = next(c for c in p.candidates if c.name == "multitask").notes
    said = [n for n in notes if n.startswith("trained with batch_size")]
    if batch == 64:
        assert said == []
    else:
        assert said == [f"trained with batch_size={batch} (the estimator's default: "
                        "batch_size=64) in every fit of this study, sized to its 240 rows"]
