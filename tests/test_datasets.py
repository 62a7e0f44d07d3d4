"""Built-in datasets, table loading and its checks, and fit/predict on tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sigmax.datasets import (
    DATASETS,
    DEFAULT_SUITE,
    MOVIE_GENRES,
    encode_like,
    fit_dataset,
    from_frame,
    load_dataset,
    load_suite,
    predict_table,
    read_table,
)


@pytest.fixture
def table() -> pd.DataFrame:
    r = np.random.default_rng(0)
    n = 60
    y = np.array(["cat", "dog", "eel"])[np.arange(n) % 3]
    return pd.DataFrame({
        "a": r.normal(size=n) + (y == "dog"),
        "b": r.normal(size=n) * 10 + 5 * (y == "eel"),
        "colour": np.array(["red", "blue"])[np.arange(n) % 2],
        "flag": np.arange(n) % 4 == 0,
        "animal": y,
    })


# -- built-in data ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(DATASETS))
def test_builtin_loads_finite_and_described(name):
    ds = load_dataset(name)
    spec = DATASETS[name]
    assert ds.task == spec.task
    assert ds.X.shape[0] == len(ds.y) > 100
    assert np.isfinite(ds.X.to_numpy(dtype=float)).all()
    assert ds.X.dtypes.map(lambda t: t == np.float64).all()
    assert ds.description and ds.source


def test_default_suite_covers_binary_k10_and_multilabel():
    suite = {ds.name: ds for ds in load_suite()}
    assert list(suite) == list(DEFAULT_SUITE)
    assert suite["breast_cancer"].task == "binary"
    assert suite["digits"].task == "multiclass" and suite["digits"].n_classes >= 10
    movies = suite["movies"]
    assert movies.task == "multilabel" and movies.class_names == MOVIE_GENRES
    # Non-exclusive labels for real: some films carry several genres.
    per_row = movies.y.to_numpy().sum(axis=1)
    assert (per_row >= 2).mean() > 0.1
    assert set(np.unique(movies.y.to_numpy())) == {0, 1}
    # The MPAA rating is text: it arrives one-hot encoded, with a note saying so.
    assert any(c.startswith("mpaa=") for c in movies.X.columns)
    assert any("one-hot" in n for n in movies.notes)


def test_movies_subsample_is_seeded():
    a = load_dataset("movies", max_rows=300, seed=1)
    b = load_dataset("movies", max_rows=300, seed=1)
    c = load_dataset("movies", max_rows=300, seed=2)
    assert a.X.shape[0] == 300
    pd.testing.assert_frame_equal(a.X, b.X)
    assert not a.X.equals(c.X)


def test_builtin_with_target_is_refused():
    with pytest.raises(ValueError, match="built-in dataset"):
        load_dataset("iris", target="species")


def test_unknown_name_lists_builtins():
    with pytest.raises(FileNotFoundError, match="breast_cancer"):
        load_dataset("no_such_dataset")


# -- reading tables -----------------------------------------------------------------------------
def test_read_csv_and_parquet_agree(tmp_path, table):
    table.to_csv(tmp_path / "t.csv", index=False)
    table.to_parquet(tmp_path / "t.parquet")
    a = load_dataset(tmp_path / "t.csv", "animal")
    b = load_dataset(tmp_path / "t.parquet", "animal")
    pd.testing.assert_frame_equal(a.X, b.X)
    assert a.task == "multiclass" and a.class_names == ["cat", "dog", "eel"]


def test_read_table_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "x.xlsx").write_text("not a table")
    with pytest.raises(ValueError, match="unknown file type"):
        read_table(tmp_path / "x.xlsx")
    (tmp_path / "empty.csv").write_text("a,b\n")
    with pytest.raises(ValueError, match="no data"):
        read_table(tmp_path / "empty.csv")


# -- checks with actionable messages --------------------------------------------------------
def test_unknown_column_lists_available(table):
    with pytest.raises(ValueError, match=r"'anmial' not in .*available columns: a, b, colour"):
        from_frame(table, "anmial")


def test_one_class_target(table):
    table["animal"] = "cat"
    with pytest.raises(ValueError, match="only one class"):
        from_frame(table, "animal")


def test_nan_features_counted_and_located(table):
    table.loc[[3, 7], "a"] = np.nan
    table.loc[5, "b"] = np.inf
    with pytest.raises(ValueError) as err:
        from_frame(table, "animal")
    msg = str(err.value)
    # Issue 14: the user's own columns, cells counted once, and the options.
    assert "2 missing value(s) in 1 column(s): 'a' (2 cells)" in msg
    assert "rows 3, 7" in msg
    assert "--missing drop" in msg and "--missing indicator" in msg
    with pytest.raises(ValueError, match=r"1 infinite feature value\(s\): column 'b' at row 5"):
        from_frame(table.fillna(0.0), "animal")
    ds = from_frame(table.replace(np.inf, np.nan), "animal", dropna=True)
    assert len(ds.X) == len(table) - 3
    assert any("dropped 3" in n for n in ds.notes)


def test_nan_target(table):
    table["animal"] = table["animal"].astype(object)
    table.loc[4, "animal"] = None
    with pytest.raises(ValueError, match=r"1 missing value\(s\) at row 4"):
        from_frame(table, "animal")


def test_continuous_target(table):
    with pytest.raises(ValueError, match="continuous"):
        from_frame(table, "a")


def test_text_features_one_hot_or_refused(table):
    ds = from_frame(table, "animal")
    assert {"colour=red", "colour=blue"} <= set(ds.X.columns)
    assert ds.X["colour=red"].isin([0.0, 1.0]).all()
    assert ds.X["flag"].dtype == np.float64
    table["name"] = [f"n{i % 25}" for i in range(len(table))]  # 25 levels: too many
    with pytest.raises(ValueError, match="--drop name"):
        from_frame(table, "animal")
    assert "name" not in from_frame(table, "animal", drop=["name"]).X.columns
    # Issue 14: text unique per row is an id, left out with a note (not refused).
    table["name"] = [f"n{i}" for i in range(len(table))]
    ds = from_frame(table, "animal")
    assert "name" not in ds.X.columns
    assert any("left out column 'name' as an identifier" in n for n in ds.notes)


def test_multilabel_targets(table):
    table["x1"] = (table["a"] > 0).astype(int)
    table["x2"] = np.where(table["b"] > 0, "true", "false")
    ds = from_frame(table, ["x1", "x2"])
    assert ds.task == "multilabel" and list(ds.y.columns) == ["x1", "x2"]
    assert set(np.unique(ds.y.to_numpy())) == {0, 1}
    with pytest.raises(ValueError, match="must take two values"):
        from_frame(table, ["x1", "animal"])
    # Issue 14: any two-level column is a label (yes/no; else the second sorted value).
    table["x3"] = np.where(table["a"] > 0, "yes", "no")
    table["x4"] = np.where(table["b"] > 0, "high", "low")
    ds = from_frame(table, ["x3", "x4"])
    np.testing.assert_array_equal(ds.y["x3"], (table["a"] > 0).astype(int))
    np.testing.assert_array_equal(ds.y["x4"], (table["b"] <= 0).astype(int))  # "low" > "high"


# -- fit / predict on tables ------------------------------------------------------------------
def test_fit_dataset_standardizes_then_takes_raw_features(table):
    from sklearn.preprocessing import StandardScaler

    from sigmax import SoftmaxRegression

    ds = from_frame(table, "animal")
    est = fit_dataset(ds, "softmax", C=0.5)
    Xs = StandardScaler().fit_transform(ds.X)
    ref = SoftmaxRegression(C=0.5).fit(Xs, ds.y)
    np.testing.assert_allclose(est.predict_proba(ds.X), ref.predict_proba(Xs), atol=1e-10)
    assert list(est.feature_names_in_) == list(ds.X.columns)


def test_fit_dataset_auto_and_model_checks(table):
    ds = from_frame(table, "animal")
    assert type(fit_dataset(ds)).__name__ == "SoftmaxRegression"
    with pytest.raises(ValueError, match="Unknown model"):
        fit_dataset(ds, "svm")
    with pytest.raises(ValueError, match="several 0/1 target columns"):
        fit_dataset(ds, "multilabel")


def test_predict_table_encodes_like_training(table):
    ds = from_frame(table, "animal")
    est = fit_dataset(ds, "softmax")
    new = table.drop(columns="animal").iloc[:5].copy()
    new["colour"] = ["red", "red", "green", "red", "red"]  # "green" never seen; "blue" absent
    X = encode_like(est, new)
    assert list(X.columns) == list(ds.X.columns)
    assert X.loc[2, ["colour=red", "colour=blue"]].tolist() == [0.0, 0.0]
    out = predict_table(est, new, keep=["a"])
    probs = out[[f"p:{c}" for c in ("cat", "dog", "eel")]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (out["predicted"].to_numpy()
            == np.array(["cat", "dog", "eel"])[probs.argmax(axis=1)]).all()
    with pytest.raises(ValueError, match="lacks the feature column"):
        encode_like(est, new.drop(columns="b"))
