"""The study's result: typed records, to/from JSON, rendered elsewhere.

This module is the contract between the study engine (:mod:`sigmax.study.compare`
and the sections of :mod:`sigmax.study.sections`, which fill these objects) and
the renderers (:mod:`sigmax.study.render`, which only read them). Every class
is a :class:`~sigmax.study.record.Record`: its fields are the JSON keys, and
``schema.json`` beside this module is generated from them
(:func:`sigmax.study.schema.build_schema`).

A :class:`ProblemResult` holds one result per registered section, under the
section's id (``problem.minima``, ``problem.k2_equivalence``...); a section
that was not run is an empty result (``{}`` in JSON).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from .record import Record, from_value
from .section import SECTIONS

__all__ = ["CandidateCompute", "CandidateParams", "CandidateResult", "CompareResult",
           "Comparison", "ProblemResult"]

SCHEMA_VERSION = 1


def _doc(text: str, **schema: Any) -> Any:
    """Field metadata: a description, and JSON Schema keywords beyond the type hint."""
    return {"doc": text, "schema": schema}


@dataclass(eq=False)
class CandidateParams(Record):
    """Estimator parameters of one candidate (``C`` after mapping)."""

    C: float | None = field(default=None, metadata=_doc("C after the candidate's mapping"))
    C_note: str | None = field(default=None, metadata=_doc("why this C"))
    penalty: str | None = None
    solver: str | None = field(default=None, metadata=_doc(
        "chosen by solver='auto' on all rows"))
    tol: float | None = None
    target: Literal["classes", "indicator", "label sets"] | None = field(
        default=None, metadata=_doc("what the estimator is fitted on"))
    family: Literal["sigmoid", "softmax"] | None = None
    n_outputs: int | None = field(default=None, metadata=_doc(
        "columns of the coefficient matrix"))
    C_selected: float | None = field(default=None, metadata=_doc(
        "C chosen by cross-validation on all rows (tuned comparison, compare(C='cv'))"))
    C_per_fold: list[float] | None = field(default=None, metadata=_doc(
        "C chosen inside each outer training fold (nested cross-validation)"))
    C_1se: float | None = field(default=None, metadata=_doc(
        "the one-standard-error choice: the smallest C (strongest penalty) whose "
        "validation log-loss is within one standard error of the best"))
    Cs: list[float] | None = field(default=None, metadata=_doc("the grid of C searched"))
    validation_log_loss: list[float | None] | None = field(default=None, metadata=_doc(
        "mean validation log-loss per C (inner folds on all rows); null where an "
        "early-stopped path did not reach that C"))
    validation_se: list[float | None] | None = field(default=None, metadata=_doc(
        "its standard error over the inner folds (null likewise)"))


@dataclass(eq=False)
class CandidateCompute(Record):
    """What one candidate costs (medians over folds unless said otherwise)."""

    n_params: int | None = None
    full_fit_seconds: float | None = field(default=None, metadata=_doc("fit on all rows"))
    full_fit_n_iter: int | None = None
    peak_memory_bytes: int | None = field(default=None, metadata=_doc(
        "tracemalloc peak of one fit on all rows, capped at MEMORY_FIT_MAX_ITER iterations "
        "(a Newton solver: MEMORY_FIT_NEWTON_ITER)"))
    fit_seconds: float | None = None
    n_iter: float | None = None
    n_grad_evals: float | None = None
    n_hessp_evals: float | None = field(default=None, metadata=_doc(
        "Hessian builds of Newton-Cholesky count as Hessian evaluations; products over a "
        "sample of the rows (Newton-CG's subsampled Hessian) as the share of rows they read"))
    peak_device_memory_bytes: int | None = field(default=None, metadata=_doc(
        "torch on CUDA only: torch.cuda.max_memory_allocated in the memory fit"))
    fit_seconds_min: float | None = None
    fit_seconds_max: float | None = None
    predict_seconds: float | None = field(default=None, metadata=_doc(
        "one predict_proba on the test rows"))
    grad_eval_seconds: float | None = field(default=None, metadata=_doc(
        "one value-and-gradient evaluation on all rows (computation section)"))
    flops_per_grad_eval: float | None = None
    transcendentals_per_grad_eval: float | None = None
    flops_per_hessp: float | None = None
    flops_per_hessian: float | None = None
    flops_fit_estimate: float | None = None
    gflops_per_second: float | None = None


@dataclass(eq=False)
class CandidateResult(Record):
    """One model fitted on one problem, over the same cross-validation folds.

    Attributes
    ----------
    name : str
        Short id: ``"logistic"``, ``"softmax"``, ``"ovr"``, ``"multilabel"``,
        ``"powerset"``, ``"mixed"``, ``"multitask"``...
    label : str
        Human title, e.g. ``"Softmax regression (K=10)"``.
    estimator : str
        sigmax class name.
    params : CandidateParams
        Estimator parameters used (``C`` after mapping included).
    metrics : dict of str -> list of float
        Metric name -> one value per fold (same folds for every candidate);
        multi-label adds ``"f1:<label>"``, ``"log_loss:<label>"``, ``"brier:<label>"``.
    compute : CandidateCompute
        Time, iterations, memory and flops.
    history : dict of str -> list of float
        Per-iteration ``objective`` / ``grad_norm`` / ``seconds`` of the full-data fit.
    notes : list of str
        Warnings seen (which, in how many folds), and where the fits ran.
    """

    name: str
    label: str
    estimator: str
    params: CandidateParams = field(default_factory=CandidateParams)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    compute: CandidateCompute = field(default_factory=CandidateCompute)
    history: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.params = from_value(CandidateParams, self.params) or CandidateParams()
        self.compute = from_value(CandidateCompute, self.compute) or CandidateCompute()


@dataclass(eq=False)
class Comparison(Record):
    """A paired difference of one metric between two candidates.

    ``diff = mean(a - b)`` over folds, with a confidence interval and p-value;
    ``verdict`` is a sentence such as "no real difference" or
    "softmax is better (log-loss 0.081 lower, 95% CI [0.05, 0.11])".
    ``conclusion`` is the verdict as a keyword: ``"identical"`` (same value on
    every fold), ``"no_difference"`` (the interval contains 0),
    ``"a_better"`` or ``"b_better"`` (see :func:`sigmax.study.metrics.paired_comparison`).
    """

    metric: str
    a: str
    b: str
    diff: float
    ci_low: float
    ci_high: float
    p_value: float = field(metadata=_doc("", minimum=0, maximum=1))
    method: str
    verdict: str
    conclusion: Literal["", "identical", "no_difference", "a_better", "b_better"] = ""
    p_adjusted: float | None = field(default=None, metadata=_doc(
        "Holm-adjusted p-value over every paired test of the problem "
        "(sigmax.study.metrics.correct_family)", minimum=0, maximum=1))


#: Problem fields that come before the sections in results.json, and after them.
_HEAD = ("dataset", "task", "n_samples", "n_features", "n_classes", "class_names",
         "description", "candidates", "comparisons")


@dataclass(eq=False)
class ProblemResult(Record):
    """Everything measured on one dataset.

    Besides the fields below, every registered section has its typed result
    here as an attribute named after the section's id (``problem.performance``,
    ``problem.minima``...; see :data:`sigmax.study.section.SECTIONS`): an empty
    result when the section was not run. ``seconds`` maps section id (plus
    ``"full_fits"`` and ``"total"``) to wall seconds.
    """

    dataset: str
    task: Literal["binary", "multiclass", "multilabel"]
    n_samples: int = field(metadata=_doc("", minimum=1))
    n_features: int = field(metadata=_doc("", minimum=1))
    n_classes: int = field(metadata=_doc("", minimum=2))
    class_names: list[str]
    description: str = ""
    candidates: list[CandidateResult] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list, metadata=_doc(
        "every pair of candidates x every headline metric (corrected resampled t-test)"))
    figures: dict[str, str] = field(default_factory=dict, metadata=_doc(
        "figure id -> file name"))
    feature_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list, metadata=_doc(
        "what was done to the data, candidates left out and why"))
    seconds: dict[str, float] = field(default_factory=dict)
    #: Section id -> its result (read them as attributes).
    sections: dict[str, Record] = field(default_factory=dict, repr=False,
                                        metadata={"section_results": True})

    def __post_init__(self) -> None:
        self.candidates = [from_value(CandidateResult, c) for c in self.candidates]
        self.comparisons = [from_value(Comparison, c) for c in self.comparisons]

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: a section's result by its id.
        sections = self.__dict__.get("sections")
        if sections is None or name not in SECTIONS:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        if name not in sections:
            sections[name] = SECTIONS[name].result_type()
        return sections[name]

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SECTIONS and name not in _FIELD_NAMES:
            self.sections[name] = from_value(SECTIONS[name].result_type, value) \
                or SECTIONS[name].result_type()
        else:
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        plain = Record.to_dict(self)
        plain.pop("sections", None)
        head = {k: plain.pop(k) for k in _HEAD}
        secs = {sid: getattr(self, sid).to_dict() for sid in SECTIONS}
        # Sections no longer registered (a test's toy section) keep their data.
        secs.update({sid: r.to_dict() for sid, r in self.sections.items() if sid not in secs})
        return {**head, **secs, **plain}

    @classmethod
    def from_dict(cls, data: Any, *, strict: bool = False) -> ProblemResult:
        if isinstance(data, cls):
            return data
        data = dict(data)
        secs = {sid: data.pop(sid) for sid in list(data) if sid in SECTIONS}
        names = _FIELD_NAMES - {"sections"}
        problem = cls(**{k: v for k, v in data.items() if k in names})
        for sid, value in secs.items():
            problem.sections[sid] = from_value(SECTIONS[sid].result_type, value,
                                               strict=strict) or SECTIONS[sid].result_type()
        return problem


_FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(ProblemResult))


@dataclass(eq=False)
class CompareResult(Record):
    """The whole study: one :class:`ProblemResult` per dataset, plus the setting.

    ``settings``: ``cv``, ``repeats``, ``C``, ``random_state``, ``sections``
    (list of section ids), ``quick``, ``threads``, ``n_jobs`` (cores for fits side by
    side), ``max_samples``,
    ``preprocessing``, ``backend``, ``device`` and ``scheduler`` (where the
    candidate fits ran), ``budget`` (the sizes used by the sections).
    ``environment``: ``python``, ``platform``, ``cpu_count``, ``sigmax``,
    ``numpy``, ``scipy``, ``scikit-learn``, ``blas`` (list of ``{"library",
    "version", "threads"}``); with torch also ``torch`` (and ``gpu``), with dask
    ``dask`` and ``distributed``.
    """

    problems: list[ProblemResult] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict, metadata=_doc("", properties={
        "cv": {"type": "integer"}, "repeats": {"type": "integer"},
        "C": {"anyOf": [{"type": "number"}, {"const": "cv"}]},
        "random_state": {"type": "integer"},
        "sections": {"type": "array", "items": {"type": "string"}},
        "quick": {"type": "boolean"}, "threads": {"type": "integer"},
        "n_jobs": {"type": "integer", "minimum": 1},
        "max_samples": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "preprocessing": {"type": "string"}, "budget": {"type": "object"}}))
    environment: dict[str, Any] = field(default_factory=dict, metadata=_doc("", properties={
        "python": {"type": "string"}, "platform": {"type": "string"},
        "cpu_count": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "sigmax": {"type": "string"}, "numpy": {"type": "string"},
        "scipy": {"type": "string"}, "scikit-learn": {"type": "string"},
        "blas": {"type": "array", "items": {"type": "object"}}}))
    schema_version: int = field(default=SCHEMA_VERSION, metadata=_doc(
        "", const=SCHEMA_VERSION))

    def __post_init__(self) -> None:
        self.problems = [from_value(ProblemResult, p) for p in self.problems]

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, default=_jsonable)

    @classmethod
    def from_json(cls, text: str) -> CompareResult:
        return cls.from_dict(json.loads(text))

    @classmethod
    def combine(cls, results: list[CompareResult]) -> CompareResult:
        """One result holding the problems of several (e.g. one ``compare`` call per dataset).

        The environment comes from the first result. A setting with the same
        value in every result is kept as is; one that differs becomes the list
        of its values, one per result, in order.
        """
        if not results:
            return cls()
        settings: dict[str, Any] = {}
        for key in dict.fromkeys(k for r in results for k in r.settings):
            values = [r.settings.get(key) for r in results]
            settings[key] = values[0] if all(v == values[0] for v in values) else values
        return cls(problems=[p for r in results for p in r.problems], settings=settings,
                   environment=dict(results[0].environment))


def _jsonable(obj: Any) -> Any:
    """numpy scalars and arrays to plain JSON values."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")
