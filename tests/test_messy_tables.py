"""Messy tables as users have them (issue 14, item 5): missing values, ids, yes/no labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sigmax import io as sigmax_io
from sigmax.cli import main
from sigmax.datasets import fit_dataset, from_frame, load_dataset


@pytest.fixture
def credit(tmp_path):
    """Credit-like table: a text column with missing values, a numeric one, an id."""
    r = np.random.default_rng(0)
    n = 200
    y = r.random(n) < 0.4
    home = np.array(["own", "rent", "other"])[r.integers(0, 3, n)].astype(object)
    income = r.normal(50, 10, n) + 8 * y
    df = pd.DataFrame({"rownames": np.arange(1, n + 1), "Home": home, "Income": income,
                       "Age": r.integers(20, 70, n).astype(float),
                       "Status": np.where(y, "bad", "good")})
    df.loc[[3, 10, 11], "Home"] = None
    df.loc[[5, 10], "Income"] = np.nan
    path = tmp_path / "credit.csv"
    df.to_csv(path, index=False)
    return path, df


def _cli(args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_error_names_the_users_columns_and_counts_cells_once(credit):
    _, df = credit
    with pytest.raises(ValueError) as err:
        from_frame(df, "Status")
    msg = str(err.value)
    assert "'Home' (3 cells)" in msg and "'Income' (2 cells)" in msg
    assert "5 missing value(s) in 2 column(s)" in msg
    assert "4 of 200 rows" in msg  # row 10 has two missing cells: counted once as a row
    assert "Home=" not in msg  # never an encoded column name
    assert "--missing drop" in msg and "--missing indicator" in msg


def test_indicator_imputes_flags_and_keeps_every_row(credit):
    _, df = credit
    ds = from_frame(df, "Status", missing="indicator")
    assert len(ds.X) == len(df)
    assert "Income=(missing)" in ds.X.columns and "Home=(missing)" in ds.X.columns
    assert ds.X.loc[5, "Income=(missing)"] == 1.0
    assert ds.X.loc[5, "Income"] == pytest.approx(np.nanmedian(df["Income"]))
    assert ds.X.loc[3, "Home=(missing)"] == 1.0 and ds.X.loc[3, "Home=own"] == 0.0
    assert any("imputed with its training median" in n for n in ds.notes)


def test_indicator_model_applies_its_encoding_at_predict(credit, tmp_path):
    path, df = credit
    model = tmp_path / "m.safetensors"
    res = _cli(["fit", path, "-t", "Status", "--missing", "indicator", "-o", model])
    assert res.exit_code == 0, res.output
    est = sigmax_io.load(model)
    assert est.encoding_["missing"] == "indicator"
    new = df.drop(columns="Status").iloc[:12].copy()
    new.loc[0, "Income"] = np.nan
    new.loc[1, "Home"] = None
    out = tmp_path / "p.csv"
    res = _cli(["predict", model, tmp_path / "new.csv", "-o", out]) if new.to_csv(
        tmp_path / "new.csv", index=False) is None else None
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(out)
    assert len(pred) == 12 and pred.filter(like="p:").notna().all().all()
    # the same rows encoded by hand give the same probabilities
    ds = from_frame(df, "Status", missing="indicator")
    ref = fit_dataset(ds, "logistic")
    enc = ds.encoding.transform(new)
    np.testing.assert_allclose(pred["p:bad"], ref.predict_proba(enc[ds.X.columns])[:, 0],
                               atol=1e-6)


def test_predict_error_suggests_an_option_predict_has(credit, tmp_path):
    path, df = credit
    model = tmp_path / "m.safetensors"
    assert _cli(["fit", path, "-t", "Status", "--missing", "drop", "-o", model]).exit_code == 0
    res = _cli(["predict", model, path])
    assert res.exit_code == 1
    assert "--missing drop" in res.stderr and "--dropna" not in res.stderr
    res = _cli(["predict", model, path, "--missing", "drop", "-o", tmp_path / "p.csv"])
    assert res.exit_code == 0, res.output
    assert "Warning:" in res.stderr and "dropped 4 of 200 rows" in res.stderr
    assert len(pd.read_csv(tmp_path / "p.csv")) == len(df) - 4


def test_dropping_many_rows_warns(tmp_path):
    r = np.random.default_rng(1)
    n = 100
    df = pd.DataFrame({"q": r.normal(size=n), "p": r.normal(size=n),
                       "y": np.where(np.arange(n) % 2, "a", "b")})
    df.loc[df.index[:75], "p"] = np.nan  # missing by design on 75% of rows
    path = tmp_path / "survey.csv"
    df.to_csv(path, index=False)
    with pytest.warns(UserWarning, match="removes 75 of 100 rows"):
        ds = from_frame(df, "y", missing="drop")
    assert any("dropped 75 of 100 rows" in n and "(75%)" in n for n in ds.notes)
    res = _cli(["fit", path, "-t", "y", "--missing", "drop", "-o", tmp_path / "m.st"])
    assert res.exit_code == 0 and "Warning:" in res.stderr and "75%" in res.stderr
    # below 20%: a note, no warning
    df.loc[df.index[:75], "p"] = 0.0
    df.loc[df.index[:10], "p"] = np.nan
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from_frame(df, "y", missing="drop")


def test_id_columns_are_left_out_with_a_note(credit):
    _, df = credit
    ds = from_frame(df, "Status", missing="indicator")
    assert "rownames" not in ds.X.columns
    assert any("left out column 'rownames' as an identifier" in n for n in ds.notes)


def test_repeated_id_suggests_groups_and_groups_are_kept_apart():
    r = np.random.default_rng(2)
    person = np.repeat(np.arange(30), 4)
    df = pd.DataFrame({"id": person, "x": r.normal(size=120),
                       "y": np.where(r.random(120) < 0.5, "no", "yes")})
    ds = from_frame(df, "y")
    note = next(n for n in ds.notes if "'id'" in n)
    assert "--groups id" in note and "30 distinct for 120 rows" in note
    ds = from_frame(df, "y", groups="id")
    assert "id" not in ds.X.columns
    np.testing.assert_array_equal(ds.groups.to_numpy(), person)
    assert not any("--groups" in n for n in ds.notes)


def test_yes_no_columns_are_multilabel_targets():
    r = np.random.default_rng(3)
    df = pd.DataFrame({"x": r.normal(size=50),
                       "smoker": np.where(r.random(50) < 0.5, "yes", "no"),
                       "married": np.where(r.random(50) < 0.5, "TRUE", "FALSE")})
    ds = from_frame(df, ["smoker", "married"])
    assert ds.task == "multilabel"
    np.testing.assert_array_equal(ds.y["smoker"], (df["smoker"] == "yes").astype(int))
    np.testing.assert_array_equal(ds.y["married"], (df["married"] == "TRUE").astype(int))


def test_advise_reads_only_the_target_columns(tmp_path):
    r = np.random.default_rng(4)
    df = pd.DataFrame({"free_text": [f"word {i % 40}" for i in range(80)],  # 40 levels
                       "x": np.where(r.random(80) < 0.2, np.nan, 1.0),
                       "label": np.array(["a", "b", "c"])[np.arange(80) % 3]})
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    res = _cli(["advise", path, "-t", "label"])
    assert res.exit_code == 0, res.output
    assert "softmax" in res.output.lower()
    ds = load_dataset(path, "label", targets_only=True)
    assert ds.X.shape[1] == 0 and ds.n_classes == 3


def test_unpenalized_fit_uses_a_reference_level(credit, tmp_path):
    path, _ = credit
    model = tmp_path / "m.safetensors"
    res = _cli(["fit", path, "-t", "Status", "--missing", "indicator", "--penalty", "none",
                "-o", model])
    assert res.exit_code == 0, res.output
    names = list(sigmax_io.load(model).feature_names_in_)
    home = [n for n in names if n.startswith("Home=")]
    # 4 levels (other, own, rent, (missing)); the first sorted level is the reference
    assert home == ["Home=own", "Home=rent", "Home=(missing)"]
    ds = load_dataset(path, "Status", missing="indicator", reference=True)
    assert any("reference level 'other'" in n for n in ds.notes)
    X = np.c_[ds.X.to_numpy(), np.ones(len(ds.X))]
    assert np.linalg.matrix_rank(X) == X.shape[1]  # full rank with the intercept
    full = load_dataset(path, "Status", missing="indicator")
    Xf = np.c_[full.X.to_numpy(), np.ones(len(full.X))]
    assert np.linalg.matrix_rank(Xf) == Xf.shape[1] - 1  # one-hot + intercept: deficient


def test_a_level_named_none_is_a_level_not_a_missing_value(tmp_path):
    from sigmax.datasets import read_table

    path = tmp_path / "survey.csv"
    path.write_text("x,Exer\n1.0,Freq\n2.0,None\n3.0,Some\n4.0,NA\n5.0,\n")
    df = read_table(path)
    assert df["Exer"].tolist()[:3] == ["Freq", "None", "Some"]
    assert df["Exer"].isna().tolist() == [False, False, False, True, True]


def test_the_advice_fit_command_builds_the_recommended_model(credit, tmp_path):
    # The command printed in the advice is a claim: run it and check what it builds.
    import json
    import shlex

    path, _ = credit
    df = pd.read_csv(path)
    df["person"] = np.arange(len(df)) // 4  # repeated units, kept apart by --groups
    df.to_csv(path, index=False)
    out = tmp_path / "report"
    res = _cli(["compare", path, "-t", "Status", "--missing", "indicator", "--groups", "person",
                "--quick", "--no-plots", "--sections", "performance,advice", "-o", out])
    assert res.exit_code == 0, res.output
    advice = json.loads((out / "results.json").read_text())["problems"][0]["advice"]
    args = shlex.split(advice["fit_command"])
    assert args[:2] == ["sigmax", "fit"]
    assert "--missing" in args and "--groups" in args
    model = tmp_path / "model.safetensors"
    args[args.index("-o") + 1] = str(model)
    res = _cli(args[1:])
    assert res.exit_code == 0, res.output
    est = sigmax_io.load(model)
    assert type(est).__name__ == advice["estimator"]
    assert est.encoding_["missing"] == "indicator"
    assert "person" not in est.feature_names_in_
