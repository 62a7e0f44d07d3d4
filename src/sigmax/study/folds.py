"""The cross-validation folds of a study: one definition for every section that needs them.

The performance section scores every candidate on the outer folds; the
calibration section calibrates on the same ones, so its "before" numbers are
measured on the very test rows of the performance table. A tuned comparison
(``C="cv"``) chooses each model's C on inner folds of a training set
(:func:`inner_folds`), drawn like the outer ones: shuffled, stratified, and
with ``--groups`` keeping each group whole, so that no group is on both sides
of a choice of C either.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import (
    KFold,
    RepeatedKFold,
    RepeatedStratifiedKFold,
    StratifiedGroupKFold,
    StratifiedKFold,
)

from .inputs import fold_strata

__all__ = ["INNER_FOLDS", "OuterFolds", "inner_folds", "outer_folds"]

#: Inner folds of a tuned comparison's C search: two, whose paths run side by side on
#: two cores in one round (three folds take two rounds, the third alone). The
#: built-in ``sigmax compare``: performance section 14.8 s instead of 19.2 s, the
#: whole command 57-61 s instead of 62-65 s (``benchmarks/study_speed.py --src``,
#: interleaved); the film softmax over 79 label sets (47,000 training rows, 7 values
#: of C, two threads): its search 10.8 s instead of 17.2 s, the same C. Each path is
#: fitted on half the training rows, so the choice leans to a little more penalty
#: than the refit on all of them would want, by less than the grid's factor of 3.16
#: between values.
INNER_FOLDS = 2


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


def _splits(n: int, strata: Any, groups: Any, k: int, seed: int
            ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` shuffled folds of ``n`` rows: groups kept whole (stratified where possible),
    else stratified on ``strata``, else plain."""
    empty = np.empty((n, 0))
    if groups is not None:
        y = strata if strata is not None else np.zeros(n, dtype=np.intp)
        return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
                    .split(empty, y, groups))
    if strata is not None:
        return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
                    .split(empty, strata))
    return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(empty))


def _grouped_folds(run: Any, strata: Any, n_splits: int, repeats: int
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds that keep each group whole, stratified where possible, ``repeats`` times."""
    n_groups = len(np.unique(run.groups))
    if n_groups < n_splits:
        raise ValueError(f"groups has {n_groups} distinct values, fewer than the {n_splits} "
                         "folds; use a smaller --cv or a coarser grouping.")
    return [fold for r in range(repeats)
            for fold in _splits(len(run.groups), strata, run.groups, n_splits, run.seed + r)]


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


def inner_folds(run: Any, rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds of the C search on the training rows ``rows`` (positions within ``rows``).

    :data:`INNER_FOLDS` of them, drawn as the outer ones: shuffled with
    ``run.seed``, stratified on the class or label set of those rows where every
    stratum allows it, groups kept whole (``run.groups``).
    """
    strata, _ = fold_strata(run.target.subset(rows), INNER_FOLDS)
    groups = None if run.groups is None else np.asarray(run.groups)[rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" notices
        return _splits(len(rows), strata, groups, INNER_FOLDS, run.seed)
