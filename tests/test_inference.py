"""sigmax.inference against statsmodels on statsmodels' own datasets (no network)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import sigmax
from sigmax import (
    LogisticRegression,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SoftmaxRegression,
)
from sigmax.inference import SeparationWarning

sm = pytest.importorskip("statsmodels.api")
sw = pytest.importorskip("statsmodels.stats.sandwich_covariance")

TIGHT = {"penalty": None, "tol": 1e-10, "max_iter": 5000}


# -- data ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spector():
    d = sm.datasets.spector.load_pandas()
    return d.exog, d.endog.astype(int)


@pytest.fixture(scope="module")
def anes():
    d = sm.datasets.anes96.load_pandas()
    X = d.exog[["logpopul", "selfLR", "age", "educ", "income"]]
    return X, d.endog.astype(int)


@pytest.fixture(scope="module")
def spector_fits(spector):
    X, y = spector
    model = LogisticRegression(**TIGHT).fit(X, y)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
    return model, ref


@pytest.fixture(scope="module")
def anes_fits(anes):
    X, y = anes
    model = SoftmaxRegression(**TIGHT).fit(X, y)
    ref = sm.MNLogit(y, sm.add_constant(X)).fit(disp=0, method="newton", maxiter=100)
    return model, ref


def _by_class(frame: pd.DataFrame) -> np.ndarray:
    """statsmodels' (terms x classes) frame flattened class by class (sigmax's row order)."""
    return np.asarray(frame).T.ravel()


# -- Logit -----------------------------------------------------------------------------------
def test_spector_matches_greene(spector, spector_fits):
    X, y = spector
    model, ref = spector_fits
    res = sigmax.inference(model, X, y)
    t = res.table.set_index("term")
    assert list(res.table.columns) == ["output", "term", "coef", "std_err", "z", "p_value",
                                       "ci_low", "ci_high", "odds_ratio"]
    assert list(t.index) == ["intercept", "GPA", "TUCE", "PSI"]
    # Greene, Econometric Analysis, table of the Spector-Mazzeo probit/logit example
    assert t.loc["GPA", "std_err"] == pytest.approx(1.2629, abs=1e-4)
    assert t.loc["PSI", "std_err"] == pytest.approx(1.0646, abs=1e-4)
    assert res.llf == pytest.approx(-12.8896, abs=1e-4)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-6)
    np.testing.assert_allclose(res.std_err, ref.bse, rtol=1e-6)
    np.testing.assert_allclose(res.table["z"], ref.tvalues, rtol=1e-6)
    np.testing.assert_allclose(res.table["p_value"], ref.pvalues, rtol=1e-5)
    np.testing.assert_allclose(res.cov, ref.cov_params(), rtol=1e-6)
    np.testing.assert_allclose(res.table["odds_ratio"], np.exp(ref.params), rtol=1e-6)
    for name in ("llf", "llnull", "prsquared", "aic", "bic", "nobs", "df_model", "df_resid"):
        assert getattr(res, name) == pytest.approx(getattr(ref, name), rel=1e-7), name


def test_confidence_intervals_at_another_alpha(spector, spector_fits):
    X, y = spector
    model, ref = spector_fits
    res = sigmax.inference(model, X, y, alpha=0.1)
    np.testing.assert_allclose(res.table[["ci_low", "ci_high"]], ref.conf_int(alpha=0.1),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        sigmax.inference(model, X, y, alpha=1.5)


def test_method_equals_function(spector, spector_fits):
    X, y = spector
    model, _ = spector_fits
    pd.testing.assert_frame_equal(model.inference(X, y).table, sigmax.inference(model, X, y).table)


@pytest.mark.parametrize("cov_type", ["HC0", "HC1"])
def test_robust_logit(spector, spector_fits, cov_type):
    X, y = spector
    model, ref = spector_fits
    res = sigmax.inference(model, X, y, cov_type=cov_type)
    # statsmodels' discrete models return HC0 for "HC1"; the N/(N-k) correction is
    # statsmodels' cov_white_simple(use_correction=True) (as for OLS).
    expected = sw.cov_white_simple(ref, use_correction=cov_type == "HC1")
    np.testing.assert_allclose(res.cov, expected, rtol=1e-6)
    hc0 = sm.Logit(y, sm.add_constant(X)).fit(disp=0, cov_type="HC0")
    if cov_type == "HC0":
        np.testing.assert_allclose(res.std_err, hc0.bse, rtol=1e-6)


def test_cluster_logit(spector, spector_fits):
    X, y = spector
    model, _ = spector_fits
    groups = np.arange(len(y)) % 6
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0, cov_type="cluster",
                                              cov_kwds={"groups": groups})
    res = sigmax.inference(model, X, y, cov_type="cluster", groups=groups)
    np.testing.assert_allclose(res.std_err, ref.bse, rtol=1e-6)
    with pytest.raises(ValueError, match="groups"):
        sigmax.inference(model, X, y, cov_type="cluster")
    with pytest.raises(ValueError, match="cov_type"):
        sigmax.inference(model, X, y, cov_type="HC7")


def test_wald_test_logit(spector, spector_fits):
    X, y = spector
    model, ref = spector_fits
    res = sigmax.inference(model, X, y)
    R = np.array([[0, 1, 0, 0], [0, 0, 0, 1.0]])
    expected = ref.wald_test(R, scalar=True)
    got = res.wald_test(R)
    assert got.statistic == pytest.approx(float(expected.statistic), rel=1e-6)
    assert got.pvalue == pytest.approx(float(expected.pvalue), rel=1e-5)
    assert got.df == 2
    q = np.array([2.0, 2.0])
    shifted = ref.wald_test((R, q), scalar=True)
    assert res.wald_test(R, q).statistic == pytest.approx(float(shifted.statistic), rel=1e-6)


@pytest.mark.parametrize("at", ["overall", "mean"])
def test_marginal_effects_logit(spector, spector_fits, at):
    X, y = spector
    model, ref = spector_fits
    me = sigmax.inference(model, X, y).marginal_effects(at=at)
    expected = ref.get_margeff(at=at)
    assert list(me["term"]) == ["GPA", "TUCE", "PSI"]
    np.testing.assert_allclose(me["dydx"], expected.margeff, rtol=1e-6)
    np.testing.assert_allclose(me["std_err"], expected.margeff_se, rtol=1e-5)


def test_frequency_weights_equal_repeated_rows(spector):
    X, y = spector
    w = np.arange(len(y)) % 3 + 1
    Xr, yr = X.loc[X.index.repeat(w)], y.loc[y.index.repeat(w)]
    repeated = LogisticRegression(**TIGHT).fit(Xr, yr)
    weighted = LogisticRegression(**TIGHT).fit(X, y, sample_weight=w)
    for cov_type in ("nonrobust", "HC0", "HC1"):
        a = sigmax.inference(repeated, Xr, yr, cov_type=cov_type)
        b = sigmax.inference(weighted, X, y, cov_type=cov_type, sample_weight=w)
        np.testing.assert_allclose(b.std_err, a.std_err, rtol=1e-6)
        assert b.llf == pytest.approx(a.llf) and b.nobs == a.nobs == w.sum()
    groups = np.arange(len(y)) % 5
    a = sigmax.inference(repeated, Xr, yr, cov_type="cluster", groups=np.repeat(groups, w))
    b = sigmax.inference(weighted, X, y, cov_type="cluster", groups=groups, sample_weight=w)
    np.testing.assert_allclose(b.std_err, a.std_err, rtol=1e-6)
    np.testing.assert_allclose(b.marginal_effects()["std_err"],
                               a.marginal_effects()["std_err"], rtol=1e-6)


# -- MNLogit ---------------------------------------------------------------------------------
def test_anes96_mnlogit(anes, anes_fits):
    X, y = anes
    model, ref = anes_fits
    res = sigmax.inference(model, X, y)
    assert res.reference == 0
    assert list(res.table["output"].unique()) == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(res.params, _by_class(ref.params), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(res.std_err, _by_class(ref.bse), rtol=1e-5)
    np.testing.assert_allclose(res.table["p_value"], _by_class(ref.pvalues), rtol=1e-4,
                               atol=1e-12)
    for name in ("llf", "llnull", "prsquared", "aic", "bic", "nobs", "df_model", "df_resid"):
        assert getattr(res, name) == pytest.approx(getattr(ref, name), rel=1e-7), name


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "cluster"])
def test_robust_mnlogit(anes, anes_fits, cov_type):
    X, y = anes
    model, ref = anes_fits
    groups = np.arange(len(y)) % 40
    kw = {"groups": groups} if cov_type == "cluster" else {}
    res = sigmax.inference(model, X, y, cov_type=cov_type, **kw)
    expected = {"HC0": lambda: sw.cov_white_simple(ref, use_correction=False),
                "HC1": lambda: sw.cov_white_simple(ref, use_correction=True),
                "cluster": lambda: sw.cov_cluster(ref, groups)}[cov_type]()
    np.testing.assert_allclose(res.std_err, np.sqrt(np.diag(expected)), rtol=1e-5)


def test_wald_test_mnlogit(anes, anes_fits):
    X, y = anes
    model, ref = anes_fits
    res = sigmax.inference(model, X, y)
    # every class's selfLR coefficient is 0 (term 2 of 6 in each of 6 blocks)
    R = np.zeros((6, 36))
    R[np.arange(6), np.arange(6) * 6 + 2] = 1.0
    expected = ref.wald_test(R, scalar=True)  # statsmodels orders params class by class too
    got = res.wald_test(R)
    assert got.statistic == pytest.approx(float(expected.statistic), rel=1e-5)
    assert got.df == 6


def test_marginal_effects_mnlogit(anes, anes_fits):
    X, y = anes
    model, ref = anes_fits
    me = sigmax.inference(model, X, y).marginal_effects()
    expected = ref.get_margeff()
    assert len(me) == 7 * 5  # every class, the reference too, times every feature
    np.testing.assert_allclose(me["dydx"], _by_class(expected.margeff), rtol=1e-5, atol=1e-10)
    np.testing.assert_allclose(me["std_err"], _by_class(expected.margeff_se), rtol=1e-4)


def test_symmetric_and_reference_fits_give_one_table(anes, anes_fits):
    X, y = anes
    symmetric, _ = anes_fits
    reference = SoftmaxRegression(parameterization="reference", **TIGHT).fit(X, y)
    a = sigmax.inference(symmetric, X, y).table
    b = sigmax.inference(reference, X, y).table
    pd.testing.assert_frame_equal(a[["output", "term"]], b[["output", "term"]])
    np.testing.assert_allclose(a.drop(columns=["output", "term"]),
                               b.drop(columns=["output", "term"]), rtol=1e-5, atol=1e-9)


def test_contrast_equals_refit_with_other_reference(anes, anes_fits):
    X, y = anes
    model, _ = anes_fits
    res = sigmax.inference(model, X, y)
    contrast = res.contrast(4, 2)
    other = sigmax.inference(model, X, y, reference=2).table
    expected = other[other["output"] == 4].reset_index(drop=True)
    np.testing.assert_allclose(contrast.drop(columns=["output", "term"]),
                               expected.drop(columns=["output", "term"]), rtol=1e-8)
    # and against statsmodels fitted with class 2 as the baseline
    codes = np.asarray(y).copy()
    codes[codes == 2], codes[codes == 0] = -1, 2
    codes[codes == -1] = 0
    ref = sm.MNLogit(codes, sm.add_constant(X)).fit(disp=0, method="newton")
    np.testing.assert_allclose(contrast["std_err"], ref.bse.iloc[:, 3], rtol=1e-5)
    with pytest.raises(ValueError, match="not a class"):
        res.contrast(4, 99)


def test_softmax_k2_matches_logistic(spector):
    X, y = spector
    soft = sigmax.inference(SoftmaxRegression(**TIGHT).fit(X, y), X, y)
    logit = sigmax.inference(LogisticRegression(**TIGHT).fit(X, y), X, y)
    np.testing.assert_allclose(soft.table[["coef", "std_err"]], logit.table[["coef", "std_err"]],
                               rtol=1e-6)
    assert soft.llf == pytest.approx(logit.llf)
    np.testing.assert_allclose(soft.marginal_effects()["std_err"].iloc[3:],
                               logit.marginal_effects()["std_err"], rtol=1e-6)


# -- one-vs-rest and multi-label: separate logits --------------------------------------------
def test_multilabel_equals_separate_logits(anes):
    X, y = anes
    pid = sm.datasets.anes96.load_pandas().data
    Y = pd.DataFrame({"vote": pid["vote"].astype(int), "left": (y <= 2).astype(int)})
    model = MultiLabelLogistic(**TIGHT).fit(X, Y)
    for cov_type in ("nonrobust", "HC0", "HC1"):
        res = sigmax.inference(model, X, Y, cov_type=cov_type)
        for label in Y:
            ref = sm.Logit(Y[label], sm.add_constant(X)).fit(disp=0)
            rows = res.table[res.table["output"] == label]
            expected = ref.bse if cov_type == "nonrobust" else np.sqrt(np.diag(
                sw.cov_white_simple(ref, use_correction=cov_type == "HC1")))
            np.testing.assert_allclose(rows["coef"], ref.params, rtol=1e-5)
            np.testing.assert_allclose(rows["std_err"], expected, rtol=1e-5)
    res = sigmax.inference(model, X, Y)
    assert res.llf == pytest.approx(sum(sm.Logit(Y[c], sm.add_constant(X)).fit(disp=0).llf
                                        for c in Y))


def test_ovr_equals_separate_logits(anes):
    X, y = anes
    model = OneVsRestLogistic(**TIGHT).fit(X, y)
    res = sigmax.inference(model, X, y)
    for k in (0, 3, 6):
        ref = sm.Logit((y == k).astype(int), sm.add_constant(X)).fit(disp=0)
        rows = res.table[res.table["output"] == k]
        np.testing.assert_allclose(rows["coef"], ref.params, rtol=1e-5)
        np.testing.assert_allclose(rows["std_err"], ref.bse, rtol=1e-5)
    with pytest.raises(ValueError, match="softmax"):
        res.contrast(1, 2)


# -- penalties and separation ----------------------------------------------------------------
@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
def test_l1_penalties_refuse(spector, penalty):
    X, y = spector
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence does not matter here
        model = LogisticRegression(penalty=penalty, l1_ratio=0.5, solver="proximal").fit(X, y)
    with pytest.raises(ValueError, match="post-selection inference is not supported") as err:
        sigmax.inference(model, X, y)
    assert "penalty=None" in str(err.value)


def test_l2_warns_penalized_and_uses_the_sandwich(spector):
    X, y = spector
    C = 2.0
    model = LogisticRegression(C=C, tol=1e-10).fit(X, y)
    with pytest.warns(UserWarning, match="penalized"):
        res = sigmax.inference(model, X, y)
    Xc = np.column_stack([np.ones(len(y)), X])
    p = model.predict_proba(X)[:, 1]
    H = Xc.T @ (Xc * (p * (1 - p))[:, None])
    B = H + np.diag([0.0, 1 / C, 1 / C, 1 / C])
    expected = np.linalg.solve(B, np.linalg.solve(B, H).T)
    np.testing.assert_allclose(res.cov, expected, rtol=1e-8)
    assert res.penalized and "penalized" in res.to_html()


def test_complete_separation_raises():
    X = np.array([[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]])
    y = np.array([0, 0, 0, 1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(penalty=None).fit(X, y)
    with pytest.raises(ValueError, match="separation"):
        sigmax.inference(model, X, y)


def test_quasi_separation_warns():
    rng = np.random.default_rng(0)
    x = np.r_[rng.uniform(-3, 0, 30), np.zeros(10), rng.uniform(0, 3, 30)]
    y = np.r_[np.zeros(30), rng.integers(0, 2, 10), np.ones(30)].astype(int)
    y[30], y[31] = 0, 1
    X = np.column_stack([x, rng.normal(size=70)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(penalty=None, max_iter=5000).fit(X, y)
    with pytest.warns(SeparationWarning, match="separation"):
        sigmax.inference(model, X, y)


def test_bad_input(spector, spector_fits):
    X, y = spector
    model, _ = spector_fits
    with pytest.raises(ValueError, match="not fitted on"):
        sigmax.inference(model, X, y + 5)
    with pytest.raises(ValueError, match="reference"):
        sigmax.inference(model, X, y, reference=0)
    with pytest.raises(ValueError, match="class_weight"):
        sigmax.inference(LogisticRegression(penalty=None, class_weight="balanced").fit(X, y),
                         X, y)


# -- renderers -------------------------------------------------------------------------------
def test_renderers(anes, anes_fits):
    X, y = anes
    model, _ = anes_fits
    res = sigmax.inference(model, X, y)
    text = res.summary()
    assert "against 0" in text and "selfLR" in text and "Pseudo R-sq." in text
    d = res.to_dict()
    import json

    again = json.loads(json.dumps(d))
    assert again["table"][0]["term"] == "intercept" and len(again["cov"]) == 36
    assert again["stats"]["llf"] == pytest.approx(res.llf)
    assert "<table" in res.to_html() and "sigmax-coef" in res.to_html()
    pd.testing.assert_frame_equal(res.to_frame(), res.table)


def test_positional_feature_names():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.logistic(size=300) > 0).astype(int)
    res = sigmax.inference(LogisticRegression(penalty=None, fit_intercept=False).fit(X, y), X, y)
    assert list(res.table["term"]) == ["x0", "x1", "x2"]
    ref = sm.Logit(y, X).fit(disp=0)
    np.testing.assert_allclose(res.std_err, ref.bse, rtol=1e-5)
    # statsmodels' discrete models take df_model = rank - 1 even without a constant;
    # here df_model counts the non-intercept parameters (3), and AIC / BIC agree.
    assert res.df_model == 3 and res.llnull == pytest.approx(ref.llnull)
    assert res.aic == pytest.approx(ref.aic) and res.bic == pytest.approx(ref.bic)


# -- scale: chunks, dask, torch --------------------------------------------------------------
def test_chunked_sums_equal_one_chunk(anes, anes_fits, monkeypatch):
    X, y = anes
    model, _ = anes_fits
    whole = sigmax.inference(model, X, y, cov_type="HC0")
    from sigmax.inference import chunks

    monkeypatch.setattr(chunks, "CHUNK_ENTRIES", 1)  # 64-row chunks
    parts = sigmax.inference(model, X, y, cov_type="HC0")
    np.testing.assert_allclose(parts.cov, whole.cov, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(parts.marginal_effects()["std_err"],
                               whole.marginal_effects()["std_err"], rtol=1e-10)


def test_dask_equals_numpy(anes, anes_fits):
    da = pytest.importorskip("dask.array")
    import dask

    X, y = anes
    model, _ = anes_fits
    Xn = X.to_numpy()
    Xd = da.from_array(Xn, chunks=(200, 5))
    groups = np.arange(len(y)) % 30
    with dask.config.set(scheduler="synchronous"):
        for kw in ({}, {"cov_type": "HC1"}, {"cov_type": "cluster", "groups": groups}):
            a = sigmax.inference(model, Xn, y, **kw)
            b = sigmax.inference(model, Xd, y, **kw)
            np.testing.assert_allclose(b.cov, a.cov, rtol=1e-8, atol=1e-14)
            assert b.llf == pytest.approx(a.llf, rel=1e-12)
        np.testing.assert_allclose(b.marginal_effects()["std_err"],
                                   a.marginal_effects()["std_err"], rtol=1e-8)


def test_torch_equals_numpy(spector, spector_fits):
    torch = pytest.importorskip("torch")
    X, y = spector
    model, _ = spector_fits
    a = sigmax.inference(model, X.to_numpy(), y, cov_type="HC0")
    b = sigmax.inference(model, torch.as_tensor(X.to_numpy()), y, cov_type="HC0")
    np.testing.assert_allclose(b.cov, a.cov, rtol=1e-10)
    np.testing.assert_allclose(b.marginal_effects()["dydx"], a.marginal_effects()["dydx"],
                               rtol=1e-10)


def test_sparse_equals_dense(spector, spector_fits):
    import scipy.sparse as sp

    X, y = spector
    model, _ = spector_fits
    a = sigmax.inference(model, X.to_numpy(), y, cov_type="HC0")
    b = sigmax.inference(model, sp.csr_matrix(X.to_numpy()), y, cov_type="HC0")
    np.testing.assert_allclose(b.cov, a.cov, rtol=1e-12)


def test_collinear_features_are_named():
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    X["a_plus_b"] = X["a"] + X["b"]
    y = (X["a"] + rng.logistic(size=200) > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(penalty=None).fit(X, y)
    with pytest.raises(ValueError, match="collinear") as err:
        sigmax.inference(model, X, y)
    assert "['a', 'a_plus_b', 'b']" in str(err.value)


# -- command line ----------------------------------------------------------------------------
def _cli(args):
    from click.testing import CliRunner

    from sigmax.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def spector_csv(tmp_path, spector):
    X, y = spector
    df = X.assign(GRADE=np.where(y == 1, "up", "same"), school=np.arange(len(y)) % 6)
    path = tmp_path / "spector.csv"
    df.to_csv(path, index=False)
    return path


def test_cli_fit_summary_matches_statsmodels(tmp_path, spector, spector_csv):
    X, y = spector
    model = tmp_path / "m.safetensors"
    res = _cli(["fit", spector_csv, "-t", "GRADE", "--model", "logistic", "--penalty", "none",
                "--drop", "school", "-o", model, "--summary"])
    assert res.exit_code == 0, res.stderr
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
    assert f"{ref.bse['GPA']:.4g}" in res.stdout and "Pseudo R-sq." in res.stdout
    # the saved model, clustered by school
    res = _cli(["summary", model, spector_csv, "-t", "GRADE", "--cov-type", "cluster",
                "--groups", "school"])
    assert res.exit_code == 0, res.stderr
    cl = sm.Logit(y, sm.add_constant(X)).fit(disp=0, cov_type="cluster",
                                              cov_kwds={"groups": np.arange(len(y)) % 6})
    assert f"{cl.bse['PSI']:.4g}" in res.stdout and "cluster" in res.stdout


def test_cli_penalized_summary_warns(tmp_path, spector_csv):
    res = _cli(["fit", spector_csv, "-t", "GRADE", "--model", "softmax", "--groups", "school",
                "--cov-type", "cluster", "-o", tmp_path / "s.safetensors", "--summary"])
    assert res.exit_code == 0, res.stderr
    assert "Warning:" in res.stderr and "penalized" in res.stderr
    assert "against same" in res.stdout


def test_cli_summary_errors(tmp_path, spector_csv):
    model = tmp_path / "l1.safetensors"
    _cli(["fit", spector_csv, "-t", "GRADE", "--penalty", "l1", "--drop", "school", "-o", model])
    res = _cli(["summary", model, spector_csv, "-t", "GRADE"])
    assert res.exit_code != 0 and "post-selection" in res.stderr
    assert "Traceback" not in res.stderr
    res = _cli(["summary", model, spector_csv, "-t", "nope"])
    assert res.exit_code != 0 and "nope" in res.stderr
    # --groups is a data option (issue 14): the column is the groups, never a feature.
    res = _cli(["fit", spector_csv, "-t", "GRADE", "--groups", "school", "-o", model])
    assert res.exit_code == 0, res.stderr
    assert not any(n.startswith("school") for n in sigmax.load(model).feature_names_in_)


def test_torch_softmax_equals_numpy(anes, anes_fits):
    torch = pytest.importorskip("torch")
    X, y = anes
    model, _ = anes_fits
    groups = np.arange(len(y)) % 30
    a = sigmax.inference(model, X.to_numpy(), y, cov_type="cluster", groups=groups)
    b = sigmax.inference(model, torch.tensor(X.to_numpy()), torch.tensor(y.to_numpy()),
                         cov_type="cluster", groups=groups)
    np.testing.assert_allclose(b.cov, a.cov, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(b.marginal_effects()["std_err"],
                               a.marginal_effects()["std_err"], rtol=1e-9)


def test_dask_dataframe_multilabel(anes):
    dd = pytest.importorskip("dask.dataframe")
    import dask

    X, y = anes
    Y = pd.DataFrame({"a": (y <= 2).astype(int), "b": (y >= 5).astype(int)})
    model = MultiLabelLogistic(**TIGHT).fit(X, Y)
    a = sigmax.inference(model, X, Y, cov_type="HC0")
    with dask.config.set(scheduler="synchronous"):
        b = sigmax.inference(model, dd.from_pandas(X, npartitions=4), Y, cov_type="HC0")
    np.testing.assert_allclose(b.cov, a.cov, rtol=1e-8, atol=1e-14)


def test_multilabel_unknown_entries_equal_fits_on_known_rows(anes):
    X, y = anes
    Y = pd.DataFrame({"a": (y <= 2).astype(float), "b": (y >= 5).astype(float)})
    Y.loc[::7, "a"] = np.nan  # label "a" unknown for every 7th row
    model = MultiLabelLogistic(**TIGHT).fit(X, Y)
    res = sigmax.inference(model, X, Y, cov_type="HC1")
    known = Y["a"].notna()
    ref = sm.Logit(Y.loc[known, "a"], sm.add_constant(X[known])).fit(disp=0)
    rows = res.table[res.table["output"] == "a"]
    np.testing.assert_allclose(rows["coef"], ref.params, rtol=1e-5)
    np.testing.assert_allclose(rows["std_err"], np.sqrt(np.diag(
        sw.cov_white_simple(ref, use_correction=True))), rtol=1e-5)


def test_dask_on_a_two_worker_cluster_equals_numpy(anes, anes_fits):
    # Issue 15: "on a dask array (2 workers, data in several chunks) equals numpy to 1e-8".
    da = pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")

    X, y = anes
    model, _ = anes_fits
    Xn = X.to_numpy()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        Xd = da.from_array(Xn, chunks=(150, Xn.shape[1]))
        assert Xd.numblocks[0] > 2
        a = sigmax.inference(model, Xn, y, cov_type="HC0")
        b = sigmax.inference(model, Xd, y, cov_type="HC0")
    np.testing.assert_allclose(b.cov, a.cov, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(b.table["std_err"], a.table["std_err"], rtol=1e-8)


# -- multi-head models: one likelihood per head ---------------------------------------------
@pytest.fixture(scope="module")
def anes_heads():
    """Party identification (7 exclusive classes) and the vote (binary) of anes96,
    as two heads of one model; some votes unknown."""
    d = sm.datasets.anes96.load_pandas().data
    X = d[["logpopul", "selfLR", "age", "educ", "income"]]
    vote = d["vote"].astype(float).to_numpy().copy()
    vote[::7] = np.nan
    y = pd.DataFrame({"PID": d["PID"].astype(int), "vote": vote})
    return X, y


def test_each_head_is_its_own_statsmodels_fit(anes_heads):
    from sigmax import MultiHeadClassifier

    X, y = anes_heads
    model = MultiHeadClassifier(heads={"PID": "softmax", "vote": "sigmoid"}, **TIGHT).fit(X, y)
    res = sigmax.inference(model, X, y)
    assert isinstance(res, sigmax.inference.HeadsInference)
    assert list(res.heads) == ["PID", "vote"]
    # The softmax head: MNLogit on every row (log-odds against the first class).
    mn = sm.MNLogit(y["PID"], sm.add_constant(X)).fit(disp=0, method="newton", maxiter=100)
    np.testing.assert_allclose(res["PID"].params, _by_class(mn.params), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(res["PID"].std_err, _by_class(mn.bse), rtol=1e-4)
    assert res["PID"].llf == pytest.approx(mn.llf, rel=1e-8)
    # The sigmoid head: Logit on the rows whose vote is known, and only those.
    known = y["vote"].notna().to_numpy()
    lo = sm.Logit(y["vote"][known], sm.add_constant(X[known])).fit(disp=0)
    np.testing.assert_allclose(res["vote"].params, lo.params, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(res["vote"].std_err, lo.bse, rtol=1e-4)
    assert res["vote"].nobs == known.sum() < len(y)
    assert res["vote"].llf == pytest.approx(lo.llf, rel=1e-8)
    # One table: the head, then each head's own rows, the sigmoid's named after its label.
    assert list(res.table.columns[:3]) == ["head", "output", "term"]
    assert set(res.table.loc[res.table["head"] == "vote", "output"]) == {"vote"}
    assert len(res.table) == len(res["PID"].table) + len(res["vote"].table)
    text = res.summary()
    assert "head 'PID'" in text and "head 'vote'" in text


def _mixed_labels(seed: int, n: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Labels a, b, c that never share a row (group g: 0-2, or 3 = none) and a sigmoid
    label s, on three Gaussian features."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["x1", "x2", "x3"])
    g = (X.to_numpy() @ rng.normal(size=(3, 3))).argmax(1)
    g = np.where(rng.random(n) < 0.2, 3, g)
    Y = pd.DataFrame({c: (g == j).astype(float) for j, c in enumerate("abc")})
    Y["s"] = (X["x1"] + rng.logistic(size=n) > 0).astype(float)
    return X, Y, g


def test_multilabel_heads_inference_equals_separate_fits():
    # Labels a, b, c never share a row (one softmax head over a, b, c, none); s is a
    # sigmoid head: the heads' tables are those of separate fits at the same C.
    from sigmax import MultiLabelHeads

    X, Y, g = _mixed_labels(seed=0, n=600)
    for C in (None, 0.5):
        kw = {"penalty": None} if C is None else {"penalty": "l2", "C": C}
        model = MultiLabelHeads(tol=1e-10, **kw).fit(X, Y)
        assert model.heads_ == {"a|b|c": "softmax", "s": "sigmoid"}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the penalized sandwich warns, as documented
            res = model.inference(X, Y)
            group = np.array(["a", "b", "c", "none"])[g]
            soft = SoftmaxRegression(tol=1e-10, **kw).fit(X, group).inference(X, group)
            logit = LogisticRegression(tol=1e-10, **kw).fit(X, Y["s"]).inference(X, Y["s"])
        for head, ref in (("a|b|c", soft), ("s", logit)):
            np.testing.assert_allclose(res[head].params, ref.params, rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(res[head].std_err, ref.std_err, rtol=1e-6)


def test_a_trunk_has_no_standard_errors():
    pytest.importorskip("torch")
    from sigmax import MultiLabelHeads

    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    Y = (rng.random((200, 2)) < 0.4).astype(float)
    model = MultiLabelHeads(hidden=(4,), max_epochs=2, random_state=0).fit(X, Y)
    with pytest.raises(ValueError, match="shared trunk"):
        sigmax.inference(model, X, Y)


def test_a_cross_validated_model_is_read_at_its_chosen_C():
    # A CV estimator has no C parameter: its coefficients were fitted at C_, and the
    # inference must see that penalty (it used to take the fit for an unpenalized one).
    from sigmax import LogisticRegressionCV, MultiLabelLogisticCV

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + rng.logistic(size=300) > 0).astype(int)
    cv = LogisticRegressionCV(Cs=[0.01, 0.1], cv=3, tol=1e-10).fit(X, y)
    with pytest.warns(UserWarning, match=f"C={cv.C_}"):
        res = cv.inference(X, y)
    assert res.penalized
    with pytest.warns(UserWarning):
        ref = LogisticRegression(C=cv.C_, tol=1e-10).fit(X, y).inference(X, y)
    np.testing.assert_allclose(res.std_err, ref.std_err, rtol=1e-6)
    # One C per label: each label's rows are those of its own penalized fit.
    Y = np.column_stack([y, (X[:, 1] + 3 * rng.logistic(size=300) > 0).astype(int)])
    ml = MultiLabelLogisticCV(Cs=[0.001, 10.0], cv=3, per_label=True, tol=1e-10).fit(X, Y)
    assert len(set(np.round(np.log10(ml.C_)))) == 2  # the labels chose different C
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ml.inference(X, Y)
        for j in range(2):
            one = LogisticRegression(C=ml.C_[j], tol=1e-10).fit(X, Y[:, j]).inference(X, Y[:, j])
            rows = res.table["output"] == ml.classes_[j]
            np.testing.assert_allclose(res.table.loc[rows, "std_err"], one.std_err, rtol=1e-6)


def test_cross_validated_mixed_heads_are_read_at_their_chosen_C():
    from sigmax import MultiLabelHeads, MultiLabelHeadsCV

    X, Y, _ = _mixed_labels(seed=4, n=400)
    cv = MultiLabelHeadsCV(Cs=[0.01, 1.0], cv=3, tol=1e-10).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cv.inference(X, Y)
        ref = MultiLabelHeads(C=cv.C_, tol=1e-10).fit(X, Y).inference(X, Y)
    assert list(res.heads) == list(ref.heads) == ["a|b|c", "s"]
    assert all(res[h].penalized for h in res.heads)
    np.testing.assert_allclose(res.table["std_err"], ref.table["std_err"], rtol=1e-6)
