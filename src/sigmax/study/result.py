"""The study's result: plain data, to/from JSON, rendered elsewhere.

This module is the contract between the study engine (:mod:`sigmax.study.compare`,
which fills these objects) and the renderers (:mod:`sigmax.study.render`, which
only read them). Everything here is JSON-ready: numbers, strings, lists, dicts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["CandidateResult", "CompareResult", "Comparison", "ProblemResult"]

SCHEMA_VERSION = 1


@dataclass
class CandidateResult:
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
    params : dict
        Estimator parameters used (``C`` after mapping included).
    metrics : dict of str -> list of float
        Metric name -> one value per fold (same folds for every candidate).
    compute : dict of str -> float
        ``n_params``, ``fit_seconds``, ``predict_seconds``, ``peak_memory_bytes``,
        ``n_iter``, ``n_grad_evals``, ``flops_per_grad_eval`` (medians over folds),
        and more: the full list is in :mod:`sigmax.study.compare`.
    history : dict of str -> list of float
        Per-iteration ``objective`` / ``grad_norm`` / ``seconds`` of the full-data fit.
    notes : list of str
        Anything measured worth saying (warnings raised, separability...).
    """

    name: str
    label: str
    estimator: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    compute: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Comparison:
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
    p_value: float
    method: str
    verdict: str
    conclusion: str = ""


@dataclass
class ProblemResult:
    """Everything measured on one dataset.

    The dict-valued sections hold plain data whose keys are documented where
    they are filled (:mod:`sigmax.study.compare`); renderers show what is present.
    A section that was not run is an empty dict. ``schema.json`` beside this
    module is the JSON Schema of :meth:`CompareResult.to_json`.
    """

    dataset: str
    task: str  # "binary" | "multiclass" | "multilabel"
    n_samples: int
    n_features: int
    n_classes: int
    class_names: list[str]
    description: str = ""
    candidates: list[CandidateResult] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    performance: dict[str, Any] = field(default_factory=dict)   # folds, metric definitions
    computation: dict[str, Any] = field(default_factory=dict)   # K sweep, flops model
    derivatives: dict[str, Any] = field(default_factory=dict)   # formulas, FD check errors
    minima: dict[str, Any] = field(default_factory=dict)        # spectrum, flat dims, starts
    k2_equivalence: dict[str, Any] = field(default_factory=dict)
    visualization: dict[str, Any] = field(default_factory=dict)  # data behind the figures
    advice: dict[str, Any] = field(default_factory=dict)        # model, reasons
    figures: dict[str, str] = field(default_factory=dict)       # figure id -> file name
    feature_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)              # what was done to the data
    seconds: dict[str, float] = field(default_factory=dict)     # wall time per section


@dataclass
class CompareResult:
    """The whole study: one :class:`ProblemResult` per dataset, plus the setting."""

    problems: list[ProblemResult] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False, default=_jsonable)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompareResult:
        problems = []
        for p in data.get("problems", []):
            p = dict(p)
            p["candidates"] = [CandidateResult(**_known(CandidateResult, c))
                               for c in p.get("candidates", [])]
            p["comparisons"] = [Comparison(**_known(Comparison, c))
                                for c in p.get("comparisons", [])]
            problems.append(ProblemResult(**_known(ProblemResult, p)))
        return cls(problems=problems, settings=data.get("settings", {}),
                   environment=data.get("environment", {}),
                   schema_version=data.get("schema_version", SCHEMA_VERSION))

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


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _jsonable(obj: Any) -> Any:
    """numpy scalars and arrays to plain JSON values."""
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")
