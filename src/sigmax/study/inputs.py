"""Checks and shapes of the study's inputs: features, options, subsamples and folds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .advise import Target

__all__ = ["check_X", "check_options", "cover_subsample", "fold_strata", "restore_target",
           "subsample"]


def check_X(X: Any, n_rows_y: int | None = None) -> tuple[np.ndarray, list[str], list[str]]:
    """``X`` as a finite float64 array, its feature names, and notes; else a one-line ValueError."""
    notes: list[str] = []
    if X is None:
        raise ValueError("X is None: pass the features, one row per sample.")
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        bad = [str(c) for c in X.columns
               if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
        if bad:
            shown = ", ".join(repr(c) for c in bad[:6]) + (" ..." if len(bad) > 6 else "")
            raise ValueError(
                f"X has {len(bad)} non-numeric column(s): {shown}. Encode them as numbers "
                f"first, e.g. pandas.get_dummies(X, columns={bad[:6]!r}) for categories, or "
                "drop them.")
        arr = X.to_numpy(dtype=np.float64)
    else:
        if sp.issparse(X):
            if X.shape[0] * X.shape[1] > 5e7:
                raise ValueError(
                    f"X is a sparse {X.shape[0]}x{X.shape[1]} matrix, too large to standardize "
                    "densely in the study; pass max_samples= or select features first.")
            X = X.toarray()
            notes.append("sparse X densified for standardization")
        arr = np.asarray(X)
        if arr.ndim == 1:
            raise ValueError(f"X must be 2-D (n_samples, n_features); got a 1-D array of "
                             f"{arr.shape[0]} values. For one feature use X.reshape(-1, 1).")
        if arr.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {arr.shape}.")
        names = [f"x{j}" for j in range(arr.shape[1])]
        if arr.dtype.kind not in "biuf":
            bad = []
            for j in range(arr.shape[1]):
                try:
                    arr[:, j].astype(np.float64)
                except (TypeError, ValueError):
                    bad.append(j)
            if bad:
                raise ValueError(
                    f"X has non-numeric values in column(s) {bad[:6]}: encode them as numbers "
                    "first (e.g. one-hot with sklearn.preprocessing.OneHotEncoder), or drop "
                    "them.")
        arr = arr.astype(np.float64)
    if n_rows_y is not None and arr.shape[0] != n_rows_y:
        raise ValueError(f"X has {arr.shape[0]} rows but y has {n_rows_y}: they must have the "
                         "same length (one label, or one row of labels, per row of X).")
    if arr.shape[1] == 0:
        raise ValueError("X has no feature columns.")
    bad = ~np.isfinite(arr)
    if bad.any():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(bad.sum()) - n_nan
        kinds = " and ".join(s for s in (f"{n_nan} missing (NaN)" if n_nan else "",
                                         f"{n_inf} infinite" if n_inf else "") if s)
        cols = np.flatnonzero(bad.any(axis=0))
        where = "; ".join(
            f"column {names[j]!r}: {int(bad[:, j].sum())} (rows "
            f"{', '.join(map(str, np.flatnonzero(bad[:, j])[:3]))}"
            f"{' ...' if bad[:, j].sum() > 3 else ''})" for j in cols[:3])
        more = f"; and {len(cols) - 3} more columns" if len(cols) > 3 else ""
        raise ValueError(
            f"X has {kinds} value(s): {where}{more} (rows counted from 0). Drop those rows or "
            "impute them (e.g. sklearn.impute.SimpleImputer) first.")
    return arr, names, notes


def subsample(n: int, strata: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a subsample of ``size`` rows, stratified where every stratum allows."""
    if size >= n:
        return np.arange(n)
    from sklearn.model_selection import train_test_split

    counts = np.bincount(strata)
    strat = strata if counts[counts > 0].min() >= 2 and size >= len(np.unique(strata)) else None
    idx, _ = train_test_split(np.arange(n), train_size=size, random_state=seed, stratify=strat)
    return np.sort(idx)


def cover_subsample(strata: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of about ``size`` rows that include every stratum at least once.

    A model fitted on all rows has one output per class (or label set); a
    subsample with every class keeps the same parameter layout.
    """
    n = len(strata)
    if size >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    first = np.unique(strata, return_index=True)[1]
    # A mask, not np.setdiff1d: that sorts all n indices (0.4 s at 450,000 rows, per call).
    keep = np.ones(n, dtype=bool)
    keep[first] = False
    rest = np.flatnonzero(keep)
    extra = rng.choice(rest, size=max(0, min(len(rest), size - len(first))), replace=False)
    return np.sort(np.concatenate([first, extra]))


def fold_strata(target: Target, n_splits: int) -> tuple[np.ndarray | None, str]:
    """Codes to stratify on, pooling strata too small for ``n_splits`` folds."""
    s = target.strata.copy()
    counts = np.bincount(s)
    if target.task != "multilabel":
        if counts[counts > 0].min() >= n_splits:
            return s, "stratified on the class"
        return s, (f"stratified on the class (some classes have fewer than {n_splits} rows, "
                   "so some test folds lack them)")
    rare = counts < n_splits
    if rare[s].any():
        s = np.where(rare[s], -1, s)
        if (s == -1).sum() < n_splits:
            s = np.where(s == -1, np.argmax(counts), s)
        s = np.unique(s, return_inverse=True)[1].ravel()
    n_rare = int(np.sum(rare & (counts > 0)))
    extra = f" ({n_rare} rare sets pooled)" if n_rare else ""
    return s, f"stratified on the label set{extra}"




def check_options(cv: int, repeats: int, C: float, threads: int,
                  max_samples: int | None, n_jobs: int | None = None) -> None:
    """Raise a one-line ValueError for an option out of range."""
    def bad_int(v: Any, lo: int) -> bool:
        return isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo

    if bad_int(cv, 2):
        raise ValueError(f"cv must be an integer >= 2 (the number of folds); got {cv!r}.")
    if bad_int(repeats, 1):
        raise ValueError(f"repeats must be an integer >= 1; got {repeats!r}.")
    if isinstance(C, str) and C == "cv":
        pass  # tuned comparison: every candidate picks its own C
    elif isinstance(C, bool) or not isinstance(C, (int, float, np.floating)) or not C > 0 \
            or not np.isfinite(C):
        raise ValueError(f"C must be a positive finite number (the inverse L2 strength) or "
                         f"'cv' (each model's own C by cross-validation); got {C!r}.")
    if bad_int(threads, 1):
        raise ValueError(f"threads must be an integer >= 1; got {threads!r}.")
    if n_jobs is not None and n_jobs != -1 and bad_int(n_jobs, 1):
        raise ValueError(f"n_jobs must be None, -1 (every core) or an integer >= 1 (the cores "
                         f"for fits side by side); got {n_jobs!r}.")
    if max_samples is not None and bad_int(max_samples, 10):
        raise ValueError(f"max_samples must be None or an integer >= 10; got {max_samples!r}.")


def restore_target(target: Target, idx: np.ndarray) -> Any:
    """The target rows ``idx`` in a form :func:`~sigmax.study.advise.encode_target` reads back."""
    if target.task == "multilabel":
        return pd.DataFrame(target.Y[idx], columns=target.names)
    return np.asarray(target.names, dtype=object)[target.codes[idx]]
