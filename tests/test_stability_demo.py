"""The stability point, shown: naive formulas against sigmax.numerics at logits of +-1000."""

import re

import numpy as np
import pandas as pd

from sigmax import numerics
from sigmax.study.compare import compare
from sigmax.study.section import SECTIONS
from sigmax.study.sections import derivatives as deriv_mod
from sigmax.study.sections import stability_demo as demo


def test_naive_forms_overflow_and_the_stable_ones_are_finite():
    rows = demo.stability_demo()
    assert len(rows) == len(demo.CASES) >= 4
    for r in rows:
        assert not r.naive_finite and r.stable_finite
        assert any(v in ("inf", "-inf", "nan") for v in r.naive)
        fn = getattr(numerics, r.stable_function.rsplit(".", 1)[1])
        assert np.allclose(r.stable, np.atleast_1d(fn(np.asarray(r.logits))))
    by = {(r.quantity, tuple(r.logits)): r for r in rows}
    assert by[("log-sum-exp", (1000.0, 0.0))].stable == [1000.0]
    assert np.isclose(by[("log-sum-exp", (-1000.0, -1000.0))].stable[0], -1000 + np.log(2))
    assert by[("log(1 + e^z)", (1000.0,))].stable == [1000.0]
    s = demo.stability_sentence(rows)
    assert "fails in 5 of 5" in s and "finite values in every case" in s


def test_the_table_is_computed_not_typed(monkeypatch):
    # A broken stable function shows up in the table and the sentence...
    monkeypatch.setattr(numerics, "log1pexp", lambda z: np.log(1.0 + np.exp(z)))
    with np.errstate(over="ignore"):
        rows = demo.stability_demo()
    bad = [r for r in rows if r.stable_function.endswith("log1pexp")]
    assert bad and not bad[0].stable_finite and bad[0].stable == [np.inf]
    assert "a bug" in demo.stability_sentence(rows)
    monkeypatch.undo()
    # ...and a naive formula that happened to be stable would be reported finite.
    cases = [(q, z, f, (lambda z, n=n: getattr(numerics, n)(z)), n)
             for q, z, f, _, n in demo.CASES]
    monkeypatch.setattr(demo, "CASES", tuple(cases))
    rows = demo.stability_demo()
    assert all(r.naive_finite for r in rows)
    assert "nothing to show" in demo.stability_sentence(rows)


def test_formula_table_writes_the_stable_forms_and_defines_every_symbol():
    f = deriv_mod._FORMULAS
    assert "log1p(exp(-|z|))" in f["sigmoid"]["loss_text"]
    assert "m = max_k z_k" in f["softmax"]["loss_text"]
    defined = {name for sym, _ in deriv_mod.SYMBOLS for name in sym.split(", ")}
    # functions and English words of the plain-text formulas; every other token is a symbol
    words = {"log", "exp", "sum_k", "max", "sigmoid", "softmax", "diag", "per", "output",
             "never", "evaluated", "so", "overflows", "the", "shift", "keeps", "every",
             "exponent", "block", "outputs", "decouple", "dense", "x", "blocks", "null",
             "vector", "diagonal", "max_k", "row"}
    for fam in f.values():
        for key, text in fam.items():
            if not key.endswith("_text"):
                continue
            for tok in re.findall(r"[A-Za-z]\w*", text):
                assert tok in defined or tok in words, (key, tok)


def test_the_report_shows_the_measured_table():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    y = np.where(X["a"] + rng.normal(size=120) > 0, "p", "n")
    res = compare(X, y, name="t", quick=True, sections="derivatives")
    d = res.problems[0].derivatives
    assert d.stability and not d.stability[0].naive_finite
    assert any("textbook formula fails" in s for s in d.summary)
    html = SECTIONS["derivatives"].intro_html(res)
    assert "Symbols" in html and ">inf<" in html and "sigmax.numerics.log1pexp" in html
