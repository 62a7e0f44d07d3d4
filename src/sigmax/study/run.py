"""The state one study of one dataset shares between its sections (:class:`StudyRun`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _parallel
from ..estimators import LinearClassifierBase
from .advise import Target
from .budget import Budget
from .candidates import CandidateSpec
from .result import CandidateResult, ProblemResult
from .tuning import PATIENCE

__all__ = ["StudyRun"]


@dataclass
class StudyRun:
    """What the sections of one problem share: the data, the candidates and their fits.

    A section's ``compute(run)`` reads these and returns its result; the
    orchestrator (:func:`sigmax.study.compare.compare_problem`) stores it in
    ``problem``. Sections that need what an earlier one measured name it in
    ``depends_on`` and read it from ``problem`` (``performance`` also leaves
    the out-of-fold predictions in ``oof``).
    """

    name: str
    X: np.ndarray
    Xs: np.ndarray  # standardized on all rows (full-data fits and diagnostics)
    target: Target
    feature_names: list[str]
    specs: list[CandidateSpec]
    C: float
    budget: Budget
    seed: int
    progress: Callable[[str], None]
    problem: ProblemResult
    threads: int = 1
    #: ``backend`` / ``device`` of the candidate fits (see
    #: :func:`sigmax.study.placement.check_estimator_params`).
    estimator_params: dict[str, Any] = field(default_factory=dict)
    #: Folds and repeats of the cross-validation (the ``performance`` section).
    n_folds: int = 5
    repeats: int = 1
    #: Group label per row (``compare(groups=...)``): the folds keep groups whole.
    groups: Any = None
    #: The C grid of the tuned comparison (``compare(C="cv")``); None: every
    #: candidate at the fixed ``C``.
    Cs: Any = None
    #: Cores for fits side by side (``compare(n_jobs=...)``; default every core this
    #: process may use): the (fold, model) tasks of the sections
    #: (:mod:`sigmax.study.side_by_side`) and, on all rows, a C search's inner folds
    #: (the CV ``n_jobs``). Every product inside a fit stays on one thread; the timed
    #: fits on all rows run alone.
    search_jobs: int = field(default_factory=_parallel.usable_cores)
    #: Candidate name -> C chosen by cross-validation on all rows (tuned comparison).
    tuned_C: dict[str, float] = field(default_factory=dict)
    #: Candidate name -> seconds of its C search and its fit on all rows (the full
    #: fits): which fits of a fold to start first when they run side by side.
    fit_cost: dict[str, float] = field(default_factory=dict)
    full: dict[str, Any] = field(default_factory=dict)     # name -> estimator fit on all rows
    oof: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Candidate name -> (coef_, intercept_) of its fit on each outer training fold of
    #: the first repeat (performance section): warm starts of later fits on those rows.
    fold_solutions: dict[str, list[tuple[Any, Any]]] = field(default_factory=dict)

    def cand(self, name: str) -> CandidateResult:
        return next(c for c in self.problem.candidates if c.name == name)

    def placed(self, spec: CandidateSpec) -> bool:
        """True when ``spec``'s fits run on the requested backend (else on its default)."""
        return self.estimator_params.get("backend", "numpy") in spec.backends

    def make(self, spec: CandidateSpec, **params: Any) -> LinearClassifierBase:
        """``spec``'s estimator at its C, on the requested backend if it takes it.

        Its C is the study's ``C``, or in a tuned comparison the C it chose by
        cross-validation on all rows (``tuned_C``, set by the full fits).
        """
        placement = {**self.estimator_params} if self.placed(spec) else {}
        placement.update(self.sized_params(spec))
        if spec.name in self.tuned_C:
            return spec.make(self.tuned_C[spec.name] / spec.C_factor,
                             **{**placement, **params})
        return spec.make(self.C, **{**placement, **params})

    def sized_params(self, spec: CandidateSpec) -> dict[str, Any]:
        """``spec``'s parameters sized to all rows of the data (:attr:`CandidateSpec.sized`)."""
        return {} if spec.sized is None else dict(spec.sized(int(self.X.shape[0])))

    def make_tuned(self, spec: CandidateSpec, rows: Any = None, jobs: int | None = None,
                   **params: Any) -> LinearClassifierBase:
        """The estimator that picks its own C where it is fitted (tuned comparison).

        A candidate with a cross-validated counterpart
        (:data:`sigmax.estimators.CV_ESTIMATORS`) is that estimator: fitted on an
        outer training fold, it chooses C inside it (nested), so the outer test
        rows never choose C. ``rows``: the indices of the rows it will be fitted
        on (all rows when None), for its inner folds
        (:func:`~sigmax.study.folds.inner_folds`: shuffled, stratified, groups
        kept whole); its paths stop early (:data:`~sigmax.study.tuning.PATIENCE`)
        and its folds run side by side on up to ``jobs`` threads (default
        :attr:`search_jobs`; 1 where the fits themselves run side by side,
        :mod:`sigmax.study.side_by_side`). Otherwise (fixed C, or no such
        counterpart) it is :meth:`make`.
        """
        cv_class = self.tuned_class(spec)
        if cv_class is None:
            return self.make(spec, **params)
        from .folds import inner_folds

        placement = self.estimator_params if self.placed(spec) else {}
        merged = {**dict(spec.params), **placement, **self.sized_params(spec), **params}
        accepted = set(cv_class().get_params())
        folds = inner_folds(self, np.arange(self.X.shape[0]) if rows is None else rows)
        return cv_class(Cs=list(self.Cs), cv=folds, scoring="neg_log_loss",
                        patience=PATIENCE,
                        n_jobs=min(self.search_jobs if jobs is None else jobs, len(folds)),
                        **{k: v for k, v in merged.items() if k in accepted})

    def tuned_class(self, spec: CandidateSpec) -> type | None:
        """The cross-validated estimator class for ``spec`` in a tuned comparison, else None."""
        if self.Cs is None or not spec.convex:
            return None
        from ..estimators import CV_ESTIMATORS

        return CV_ESTIMATORS.get(spec.estimator.__name__ + "CV")

    @property
    def convex_specs(self) -> list[CandidateSpec]:
        """The candidates with a convex linear objective (the diagnostics need one)."""
        return [s for s in self.specs if s.convex]

    @property
    def sigmoid_spec(self) -> CandidateSpec | None:
        return next((s for s in self.specs if s.family == "sigmoid" and s.target != "sets"),
                    None)

    @property
    def softmax_spec(self) -> CandidateSpec | None:
        return next((s for s in self.specs if s.family == "softmax"), None)
