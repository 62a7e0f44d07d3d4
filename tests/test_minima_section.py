"""The minima section: measured on the user's model, and every sentence agrees with the table."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from sigmax import LogisticRegression, SoftmaxRegression
from sigmax import diagnostics as diag
from sigmax.study.compare import compare
from sigmax.study.sections import minima as minima_mod
from sigmax.study.sections.minima import conclusion, expected_flat
from sigmax.study.sections.minima_claims import minima_summary, model_sentence

LEVELS = ["own", "rent", "other"]


def _onehot_table(n=240, k=2, seed=0):
    """Two numeric columns and a text column "Home" with every level one-hot encoded."""
    rng = np.random.default_rng(seed)
    home = rng.choice(LEVELS, n)
    X = pd.DataFrame({"income": rng.normal(size=n), "age": rng.normal(size=n)})
    for lev in LEVELS:
        X[f"Home={lev}"] = (home == lev).astype(float)
    z = X["income"].to_numpy() + 0.5 * (home == "own") + rng.normal(size=n)
    if k == 2:
        return X, np.where(z > 0, "bad", "good")
    return X, np.digitize(z, np.quantile(z, np.linspace(0, 1, k + 1)[1:-1])).astype(str)


def _minima(X, y, name="t"):
    return compare(X, y, name=name, quick=True, sections="minima").problems[0].minima


def _by(m):
    return {(e.model, e.parameterization, e.penalty): e for e in m.models}


@pytest.fixture(scope="module")
def onehot():
    return _minima(*_onehot_table())


@pytest.fixture(scope="module")
def onehot3():
    return _minima(*_onehot_table(k=3))


@pytest.fixture(scope="module")
def iris():
    d = load_iris()
    return _minima(pd.DataFrame(d.data, columns=d.feature_names), d.target_names[d.target])


@pytest.fixture(scope="module")
def iris_binary():
    d = load_iris()
    keep = d.target > 0
    return _minima(pd.DataFrame(d.data[keep], columns=d.feature_names),
                   d.target_names[d.target[keep]])


def test_one_hot_next_to_intercept_logistic_minimum_is_not_unique_and_columns_named(onehot):
    assert onehot.design.deficiency == 1
    assert {f"Home={lev}" for lev in LEVELS} <= set(onehot.design.dependencies[0])
    e = _by(onehot)[("logistic", None, "none")]
    assert e.point == "minimum" and e.expected_n_flat == 1 and e.n_flat == 1
    assert e.conclusion == "not unique" and e.max_prob_change < 1e-9
    assert e.random_starts.coef_spread > 1e-2 and e.random_starts.objective_spread < 1e-9
    text = " ".join(onehot.summary)
    assert "linearly dependent" in text
    assert all(f"Home={lev}" in text for lev in LEVELS)
    said = [s for s in onehot.summary if s.startswith("logistic, no penalty")]
    assert len(said) == 1 and "unique minimum" not in said[0]
    assert "infinitely many minima" in said[0]


def test_one_hot_three_classes_expected_count_adds_the_deficiency_per_logit_difference(onehot3):
    d = onehot3.subproblem.n_features
    K = len(onehot3.subproblem.classes)
    by = _by(onehot3)
    sym0 = by[("softmax", "symmetric", "none")]
    assert sym0.expected_n_flat == (d + 1) + (K - 1) * 1 == sym0.n_flat
    assert by[("softmax", "reference", "none")].n_flat == (K - 1) * 1
    assert by[("ovr", None, "none")].n_flat == K * 1
    # L2 removes the design's flat directions: only the softmax intercept shift stays.
    assert by[("softmax", "symmetric", "l2")].n_flat == 1
    assert by[("ovr", None, "l2")].n_flat == 0


def test_iris_softmax_has_d_plus_1_flat_directions_and_ovr_with_l2_is_unique(iris):
    d = iris.subproblem.n_features
    assert d == 4 and iris.design.deficiency == 0
    by = _by(iris)
    sym0 = by[("softmax", "symmetric", "none")]
    assert sym0.n_flat == sym0.expected_n_flat == d + 1
    assert by[("ovr", None, "l2")].conclusion == "unique"


def test_iris_binary_logistic_with_l2_is_unique(iris_binary):
    e = _by(iris_binary)[("logistic", None, "l2")]
    assert e.n_flat == 0 and e.conclusion == "unique"
    said = [s for s in iris_binary.summary if s.startswith("logistic, L2")]
    assert len(said) == 1 and said[0].rstrip().split(":")[-1].strip().startswith("a unique")


def test_the_table_and_the_sentences_agree(onehot, onehot3, iris, iris_binary):
    for m in (onehot, onehot3, iris, iris_binary):
        for e in m.models:
            if e.get("n_flat") or e.get("matches_theory") is False:
                assert e.conclusion != "unique"
            said = [s for s in m.summary if s.startswith(minima_mod.model_label(e.to_dict())
                                                          + ":")]
            assert len(said) == 1
            assert ("a unique minimum" in said[0]) == (e.conclusion == "unique")


def test_expected_flat_formula_matches_a_measured_hessian():
    rng = np.random.default_rng(1)
    n = 300
    X = rng.normal(size=(n, 3))
    X = np.column_stack([X, X[:, 0] + X[:, 1]])       # rank deficiency 1 (no intercept involved)
    y = rng.integers(0, 3, n)
    for est, model, param in [(SoftmaxRegression(penalty=None, solver="newton-cholesky"),
                               "softmax", "symmetric"),
                              (SoftmaxRegression(penalty=None, parameterization="reference",
                                                 solver="newton-cholesky"),
                               "softmax", "reference")]:
        est.fit(X, y)
        obj = diag.objective_for(est, X, y)
        measured = diag.flat_directions(obj, diag.params_of(est, obj))["n_flat"]
        rank = diag.design_dependencies(X)["rank"]
        assert measured == expected_flat(model, param, None, obj.n_params, obj.k, rank)
    yb = (y > 0).astype(int)
    lr = LogisticRegression(penalty=None, solver="newton-cholesky").fit(X, yb)
    obj = diag.objective_for(lr, X, yb)
    assert diag.flat_directions(obj, diag.params_of(lr, obj))["n_flat"] == expected_flat(
        "logistic", None, None, obj.n_params, obj.k, 4) == 1


def test_lobpcg_path_when_the_parameter_count_is_large(monkeypatch):
    monkeypatch.setattr(minima_mod, "DENSE_MAX_PARAMS", 0)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 5))
    y = rng.integers(0, 40, 400)
    est = SoftmaxRegression(C=1.0).fit(X, y)
    obj = diag.objective_for(SoftmaxRegression(penalty=None), X, y)
    w = diag.params_of(est, obj)
    out = minima_mod._spectrum(obj, w, expected=6)
    assert out["method"].startswith("LOBPCG") and out["n_flat"] == 6
    obj2 = diag.objective_for(est, X, y)                 # with L2: only the intercept shift
    out2 = minima_mod._spectrum(obj2, w, expected=1)
    assert out2["n_flat"] == 1 and out2["n_flat_intercept"] == 1 and out2["n_flat_coef"] == 0
    e = {"model": "softmax", "parameterization": "symmetric", "penalty": "l2", "C": 1.0,
         "point": "minimum", "separated": None, "expected_n_flat": 1, **out2}
    assert conclusion(e) == "unique coefficients"


# -- every sentence kind: said where it must be, not where it must not --------------------------
def test_design_sentences(onehot, iris):
    assert any("full column rank" in s for s in iris.summary)
    assert not any("full column rank" in s for s in onehot.summary)
    assert any("linearly dependent" in s for s in onehot.summary)
    assert not any("linearly dependent" in s for s in iris.summary)


def _rows_sentence(m):
    return next(s for s in m.summary if s.startswith("Measured on the fitted model"))


def test_rows_sentence_says_when_rows_were_subsampled(onehot, monkeypatch):
    assert _rows_sentence(onehot).startswith("Measured on the fitted model: all 240 rows")
    assert "subsampled" not in _rows_sentence(onehot)
    X, y = _onehot_table(n=500)
    assert _minima(X, y).subproblem.n_rows == 500        # a small Hessian: every row
    monkeypatch.setattr(minima_mod, "HESSIAN_ROW_BUDGET", 0)
    m = _minima(X, y)
    assert m.subproblem.n_rows == 300 and m.subproblem.n_rows_total == 500
    assert "300 of the 500 rows (subsampled" in _rows_sentence(m)


def test_headline_gives_each_conclusion(onehot, iris):
    assert onehot.summary[0].startswith("Minimum of each model")
    assert "logistic, no penalty: not unique (1 flat direction)" in onehot.summary[0]
    assert "logistic, L2 (C=1): unique" in onehot.summary[0]
    assert "no finite minimum" in iris.summary[0]
    assert "no finite minimum" not in onehot.summary[0]


def test_no_finite_minimum_sentence(iris, onehot):
    assert any("no finite minimum" in s for s in iris.summary
               if s.startswith("softmax (symmetric), no penalty"))
    assert not any("no finite minimum" in s for s in onehot.summary)


def test_intercept_shift_sentence(onehot, iris):
    for m in (onehot, iris):
        said = [s for s in m.summary if s.startswith("softmax (symmetric), L2")]
        assert "only the common intercept shift is flat" in said[0]
        assert not any("only the common intercept shift" in s for s in m.summary
                       if s.startswith("softmax (symmetric), no penalty"))


def _entry(**kw):
    e = {"model": "logistic", "parameterization": None, "penalty": "none", "C": None,
         "point": "minimum", "separated": False, "expected_n_flat": 0, "expected_why": "x",
         "n_flat": 0, "eigenvalues": [1.0], "threshold": 1e-8,
         "largest_zero_eigenvalue": None, "smallest_nonzero_eigenvalue": 0.5}
    e.update(kw)
    e["conclusion"] = conclusion(e)
    return e


def test_mismatch_is_undecided_with_a_reason_never_unique():
    e = _entry(n_flat=2, expected_n_flat=0, largest_zero_eigenvalue=3e-9)
    assert e["conclusion"].startswith("undecided")
    s = model_sentence(e)
    assert "undecided" in s and "unique" not in s and "numerical threshold" in s
    assert "undecided" not in model_sentence(_entry())


def test_separation_time_limit_reads_undecided_not_a_solver_status():
    e = _entry(separated=None, point="L2 fit",
               separation_how="undecided (time limit of 1.5 s)")
    assert e["conclusion"] == "undecided (time limit of 1.5 s)"
    s = model_sentence(e)
    assert "undecided (time limit of 1.5 s)" in s and "HiGHS" not in s and "unique" not in s
    out = {"models": [], "separation": {"softmax": {
        "separated": None, "how": "undecided (time limit of 1.5 s)"}}}
    assert any("softmax: undecided (time limit" in s for s in minima_summary(out))
    out["separation"]["softmax"]["separated"] = False
    assert not any("undecided" in s for s in minima_summary(out))


def test_lobpcg_all_zero_is_undecided():
    e = _entry(n_flat=None, expected_n_flat=6, eigenvalues=[0.0] * 12)
    assert e["conclusion"].startswith("undecided")
    assert "at least 12 zero eigenvalues" in model_sentence(e)
