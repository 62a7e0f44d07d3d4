"""The outer cross-validation folds of a study: one definition for every section that needs them.

The performance section scores every candidate on these folds; the
calibration section calibrates on the same ones, so its "before" numbers are
measured on the very test rows of the performance table.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold, StratifiedGroupKFold

from .inputs import fold_strata

__all__ = ["OuterFolds", "outer_folds"]


@dataclass(frozen=True)
class OuterFolds:
    """The ``(train, test)`` row indices of every fold, and how they were drawn.

    Attributes
    ----------
    folds : list of (ndarray, ndarray)
        ``n_folds * repeats`` pairs; the first ``n_folds`` are the first repeat
        (every row tested once).
    how : str
        In words: grouped or not, stratified on what.
    stratified : bool
        Whether the folds are stratified.
    strata : ndarray of shape (n,) or None
        The codes stratified on (rare label sets pooled), None when not stratified.
    """

    folds: list[tuple[np.ndarray, np.ndarray]]
    how: str
    stratified: bool
    strata: np.ndarray | None


def _grouped_folds(run: Any, strata: Any, n_splits: int, repeats: int
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds that keep each group whole, stratified where possible, ``repeats`` times."""
    n_groups = len(np.unique(run.groups))
    if n_groups < n_splits:
        raise ValueError(f"groups has {n_groups} distinct values, fewer than the {n_splits} "
                         "folds; use a smaller --cv or a coarser grouping.")
    y = strata if strata is not None else np.zeros(len(run.groups), dtype=np.intp)
    folds = []
    for r in range(repeats):
        split = StratifiedGroupKFold(n_splits=n_splits, shuffle=True,
                                     random_state=run.seed + r)
        folds += list(split.split(run.X, y, run.groups))
    return folds


def outer_folds(run: Any) -> OuterFolds:
    """The folds of ``run`` (a :class:`~sigmax.study.run.StudyRun`): ``run.n_folds`` folds,
    ``run.repeats`` times, stratified on the class (or label set), groups kept whole,
    shuffled with ``run.seed``. Deterministic: every call gives the same folds."""
    n_splits, repeats = run.n_folds, run.repeats
    strata, how = fold_strata(run.target, n_splits)
    stratified = strata is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" notices
        if run.groups is not None:
            folds = _grouped_folds(run, strata, n_splits, repeats)
            how = f"grouped ({len(np.unique(run.groups))} groups kept whole), " + how
        else:
            splitter = (RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=repeats,
                                                random_state=run.seed) if stratified else
                        RepeatedKFold(n_splits=n_splits, n_repeats=repeats,
                                      random_state=run.seed))
            folds = list(splitter.split(run.X, strata if stratified else None))
    return OuterFolds(folds, how, stratified, strata)
