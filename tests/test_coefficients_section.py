"""The study's Coefficients section: unpenalized inference tables and what they show."""

from __future__ import annotations

import json
import re

import jsonschema
import numpy as np
import pytest

import sigmax
from sigmax.preprocessing import StableScaler
from sigmax.study.compare import compare
from sigmax.study.render import HtmlRenderer, TerminalRenderer
from sigmax.study.schema import build_schema
from sigmax.study.section import SECTIONS


def _overlapping(n, K, d=3, seed=0):
    """Classes drawn from a softmax with noise: they overlap, so the MLE is finite."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.argmax(X @ rng.normal(scale=0.8, size=(d, K)) + rng.gumbel(size=(n, K)), axis=1)
    return X, y


def _run(X, y):
    res = compare(X, y, C=1.0, name="data", quick=True, sections=["coefficients"])
    return res, res.problems[0].coefficients


def test_registered_after_the_k2_section_and_before_advice():
    ids = list(SECTIONS)
    assert "coefficients" in ids
    assert ids.index("k2_equivalence") < ids.index("coefficients") < ids.index("advice")


def test_binary_softmax_contrast_equals_logistic_and_matches_inference():
    X, y = _overlapping(400, 2)
    res, c = _run(X, y)
    assert c.k2 is not None and c.ovr_vs_softmax is None and not c.all_features
    assert c.k2.max_abs_coef_diff < 1e-6 and c.k2.max_abs_se_diff < 1e-6
    assert any(f"equals the logistic coefficients to {c.k2.max_abs_coef_diff:.1e}" in s
               for s in c.summary)
    assert not any("answer different questions" in s for s in c.summary)
    # The stored logistic table is sigmax.inference on the standardized rows.
    Xs = StableScaler().fit_transform(X)
    lr = sigmax.LogisticRegression(penalty=None, solver="newton-cholesky", tol=1e-10).fit(Xs, y)
    direct = sigmax.inference(lr, Xs, y).table
    logistic = next(m for m in c.models if m.name == "logistic")
    assert logistic.status == "ok"
    np.testing.assert_allclose([r.coef for r in logistic.rows], direct["coef"], atol=1e-6)
    np.testing.assert_allclose([r.std_err for r in logistic.rows], direct["std_err"],
                               atol=1e-6)
    assert logistic.llf == pytest.approx(sigmax.inference(lr, Xs, y).llf, abs=1e-6)
    # the comparison's rows are the two tables side by side
    np.testing.assert_allclose([r.coef_a for r in c.k2.rows], direct["coef"], atol=1e-6)
    np.testing.assert_allclose([r.se_b for r in c.k2.rows], direct["std_err"], atol=1e-6)
    jsonschema.validate(json.loads(res.to_json()), build_schema())
    assert "Coefficients:" in TerminalRenderer().render(res)


def test_three_classes_ovr_against_softmax_and_the_flat_directions():
    X, y = _overlapping(500, 3)
    res, c = _run(X, y)
    assert c.k2 is None and c.ovr_vs_softmax is not None
    cmp = c.ovr_vs_softmax
    assert {r.output for r in cmp.rows} == {"1", "2"}  # the classes other than the reference
    assert any("answer different questions" in s for s in c.summary)
    # The symmetric softmax: d + 1 flat directions; the symmetric coefficient's standard
    # error grows without bound as they are filled in less, the contrast's does not move.
    f = c.flat
    assert f.n_zero_eigenvalues == f.expected_zero == X.shape[1] + 1
    ses = [e.se_symmetric for e in f.sweep]
    assert ses[-1] > 100 * ses[0]
    assert all(e.se_contrast == pytest.approx(f.se_contrast_table, rel=1e-6) for e in f.sweep)
    soft = next(m for m in c.models if m.name == "softmax")
    row = next(r for r in soft.rows if r.output == f.cls and r.term == f.feature)
    assert row.std_err == pytest.approx(f.se_contrast_table)
    html = HtmlRenderer().render(res, {})
    assert "not identified (∞)" in html and "One-vs-rest (class vs all others)" in html
    jsonschema.validate(json.loads(res.to_json()), build_schema())


def test_separated_data_say_so_without_huge_numbers():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 1))
    y = (x[:, 0] > 0).astype(int)  # one feature separates the classes completely
    res, c = _run(x, y)
    assert {m.status for m in c.models} == {"separation"}
    assert all(not m.rows for m in c.models)
    assert c.k2 is None and c.flat is None
    assert any("separated" in s for s in c.summary)
    section = HtmlRenderer().render(res, {}).split("<section id='coefficients'>")[1]
    section = section.split("</section>")[0]
    text = re.sub(r"<[^>]+>", " ", section) + TerminalRenderer().render(res)
    assert "separation" in text.lower()
    numbers = [abs(float(v)) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]
    assert max(numbers) < 1e4


def test_collinear_features_are_named_and_the_tables_use_independent_ones():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 3))
    X = np.column_stack([X, X[:, 0] + X[:, 1]])  # x3 = x0 + x1
    y = (X[:, 0] + rng.logistic(size=300) > 0).astype(int)
    res = compare(X, y, C=1.0, quick=True, sections=["coefficients"],
                  feature_names=["a", "b", "c", "a_plus_b"])
    c = res.problems[0].coefficients
    assert {m.status for m in c.all_features} == {"collinear"}
    assert "a_plus_b" in c.all_features[0].reason
    assert len(c.features) == 3 and all(m.status == "ok" for m in c.models)
    assert any("collinear" in s for s in c.summary)
    assert c.k2 is not None and c.k2.max_abs_coef_diff < 1e-6
