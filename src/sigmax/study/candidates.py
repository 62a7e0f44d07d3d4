"""The candidate models of the study, by task: a registry of :class:`CandidateSpec`.

- binary: ``logistic`` (LogisticRegression at ``C``), ``softmax``
  (SoftmaxRegression, K=2, at ``C/2``: the exact match of logistic at ``C``,
  see :func:`sigmax.diagnostics.k2_equivalence`), ``ovr`` (OneVsRestLogistic
  at ``C``: two mirrored sigmoids, again the same model).
- multiclass: ``softmax`` and ``ovr``, one ``C`` for both (no exact mapping
  exists for K > 2; both penalize all K coefficient rows by the same
  :math:`\tfrac12\\|W\\|_F^2`).
- multilabel: ``multilabel`` (independent sigmoids, MultiLabelLogistic),
  ``powerset`` (SoftmaxRegression on the id of each row's label set: one class
  per label set seen in training) and ``powerset_ovr`` (OneVsRestLogistic on the
  same label-set ids). One-vs-rest over the *labels* is not a separate
  candidate: "label l vs the rows without l" is exactly the sigmoid of label
  l, the same objective, so it *is* the multilabel model (the K=2 section
  measures this: ``k2_equivalence["ovr_per_label"]``). One-vs-rest over the
  *label sets* is the genuine one-vs-rest counterpart of the powerset softmax.
  ``mixed`` (MultiLabelHeads): one softmax head per group of exclusive labels
  found by :func:`sigmax.labels.discover_heads`, sigmoids for the rest; only
  when a group exists (else it is ``multilabel``). ``multitask``
  (MultiLabelHeads with ``hidden=(64,)``): the same heads on a shared neural
  trunk; only in full runs with PyTorch installed, and, not being a convex
  linear model, only in the performance and visualization sections.
  One ``C`` for all.

A new model is one :func:`register_candidate` call: a :class:`CandidateSpec`
whose ``estimator`` takes the targets named by ``target``; it then runs in
every section that applies to it, and :func:`sigmax.study.advise.advise` can
recommend it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..estimators import (
    LinearClassifierBase,
    LogisticRegression,
    MultiLabelHeads,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SoftmaxRegression,
)
from .advise import Target

__all__ = ["CANDIDATES", "MAX_LABEL_SETS", "TRUNK_STEPS_PER_EPOCH", "CandidateSpec",
           "register_candidate"]


@dataclass(frozen=True)
class CandidateSpec:
    """How one candidate model is built, fitted and read.

    Attributes
    ----------
    name : str
        Short id (``CandidateResult.name``).
    title : str
        Human title; ``{K}`` is replaced by the number of outputs.
    estimator : type
        A sigmax estimator class (scikit-learn API).
    target : {"codes", "indicator", "sets"}
        What ``fit`` receives: class codes, the 0/1 label matrix, or label-set ids.
    family : {"sigmoid", "softmax"}
        Which loss (for the flops model, the derivatives and the minima).
    C_factor : float
        The estimator gets ``C * C_factor``.
    C_note : str
        Why (shown in the result).
    """

    name: str
    title: str
    estimator: type
    target: str
    family: str
    C_factor: float = 1.0
    C_note: str = "same C as every candidate"
    #: Fixed constructor parameters, as ``(name, value)`` pairs (the trunk's layers).
    params: tuple[tuple[str, Any], ...] = ()
    #: False for a model that is not a convex linear model (a neural trunk): it runs
    #: in the full fits, performance and visualization sections only.
    convex: bool = True
    #: ``applies(target, quick) -> str | None``: None to run, else why it is left out.
    applies: Callable[[Target, bool], str | None] | None = None
    #: The backends (:data:`sigmax.backends.BACKENDS`) the estimator fits on; with
    #: another one in ``compare(estimator_params=...)`` it keeps its default and a
    #: note says so.
    backends: tuple[str, ...] = ("numpy", "torch", "dask")
    #: ``sized(n_rows) -> dict``: constructor parameters that depend on the rows of the
    #: data (the trunk's minibatch size); every fit of the candidate in the study (all
    #: rows and each fold) uses the values for all rows, and a note on the candidate says
    #: which differ from the estimator's defaults.
    sized: Callable[[int], dict[str, Any]] | None = None

    def make(self, C: float, **params: Any) -> LinearClassifierBase:
        merged = {**dict(self.params), **params}
        # Study-wide settings (max_iter, tol, backend...) go to the estimators that
        # have them; the baseline has no solver and takes none of them.
        accepted = set(self.estimator().get_params())
        return self.estimator(C=C * self.C_factor,
                              **{k: v for k, v in merged.items() if k in accepted})


_SAME_C = "one C for all candidates: both penalize every coefficient row by 1/2 ||W||^2"


#: Above this many distinct label sets the powerset candidates are left out.
MAX_LABEL_SETS = 128


def _powerset_applies(target: Target, quick: bool) -> str | None:
    """The powerset models need few label sets (one softmax class, or sigmoid, per set)."""
    S = target.set_matrix.shape[0]
    if S <= MAX_LABEL_SETS:
        return None
    return (f"powerset models left out: {S} distinct label sets (more than {MAX_LABEL_SETS}) "
            "would each be a class, most with a handful of rows")


def _mixed_applies(target: Target, quick: bool) -> str | None:
    """The mixed model runs when the labels have an exclusive group (else it is ``multilabel``)."""
    from ..labels import discover_heads

    if discover_heads(target.Y, target.names).has_groups:
        return None
    return ("mixed heads left out: no group of labels is exclusive (sigmax.labels."
            "discover_heads), so the suggested layout is the independent sigmoids")


#: Minibatch steps per epoch the study's shared trunk takes at most: above
#: 64 x TRUNK_STEPS_PER_EPOCH rows its minibatches grow (in multiples of 64 rows). Each
#: step of this small network costs about the same whatever its rows (Python and
#: per-call overhead dominate on a CPU), so 827 steps of 64 rows per epoch on the 58,788
#: films made every one of its six fits a minute long.
TRUNK_STEPS_PER_EPOCH = 200


def _trunk_batch(n_rows: int) -> dict[str, Any]:
    """The trunk's minibatch size for ``n_rows`` rows: 64, or more above 12,800 rows."""
    return {"batch_size": 64 * max(1, -(-n_rows // (64 * TRUNK_STEPS_PER_EPOCH)))}


def _multitask_applies(target: Target, quick: bool) -> str | None:
    """The shared-trunk model needs torch and a full (not quick) run."""
    import importlib.util

    if quick:
        return "multitask (shared trunk) model left out of the quick run"
    if importlib.util.find_spec("torch") is None:
        return ("multitask (shared trunk) model left out: it needs PyTorch "
                "(pip install 'sigmax[torch]')")
    return None

#: Candidates by task, in report order. Extend with :func:`register_candidate`.
CANDIDATES: dict[str, list[CandidateSpec]] = {
    "binary": [
        CandidateSpec("logistic", "Logistic regression", LogisticRegression, "codes",
                      "sigmoid", 1.0, "C as given"),
        CandidateSpec("softmax", "Softmax regression (K=2)", SoftmaxRegression, "codes",
                      "softmax", 0.5,
                      "C/2: at the L2 optimum w0 = -w1, so the softmax penalty is "
                      "||w1 - w0||^2 / 4 and softmax at C/2 is exactly logistic at C"),
        CandidateSpec("ovr", "One-vs-rest logistic (2 sigmoids)", OneVsRestLogistic, "codes",
                      "sigmoid", 1.0,
                      "C as given: each of the two mirrored binary problems is logistic at C"),
    ],
    "multiclass": [
        CandidateSpec("softmax", "Softmax regression (K={K})", SoftmaxRegression, "codes",
                      "softmax", 1.0, _SAME_C),
        CandidateSpec("ovr", "One-vs-rest logistic ({K} sigmoids)", OneVsRestLogistic,
                      "codes", "sigmoid", 1.0, _SAME_C),
    ],
    "multilabel": [
        CandidateSpec("multilabel", "Independent sigmoids ({K} labels)", MultiLabelLogistic,
                      "indicator", "sigmoid", 1.0, _SAME_C),
        CandidateSpec("powerset", "Softmax over label sets ({K} sets)", SoftmaxRegression,
                      "sets", "softmax", 1.0, _SAME_C, applies=_powerset_applies),
        CandidateSpec("powerset_ovr", "One-vs-rest over label sets ({K} sigmoids)",
                      OneVsRestLogistic, "sets", "sigmoid", 1.0, _SAME_C,
                      applies=_powerset_applies),
        CandidateSpec("mixed", "Mixed heads: softmax per exclusive group + sigmoids ({K} "
                      "outputs)", MultiLabelHeads, "indicator", "sigmoid", 1.0, _SAME_C,
                      applies=_mixed_applies, backends=("numpy",)),
        CandidateSpec("multitask", "Multitask: shared trunk (64 units) + heads ({K} outputs)",
                      MultiLabelHeads, "indicator", "sigmoid", 1.0,
                      "same C: weight decay 1/2 ||W||^2 on every layer",
                      params=(("hidden", (64,)), ("random_state", 0)), convex=False,
                      applies=_multitask_applies, backends=("torch",), sized=_trunk_batch),
    ],
}


def _baseline_spec(title: str, target: str) -> CandidateSpec:
    from .baseline import FrequencyBaseline

    # Not convex-linear in the study's sense (no coefficients): performance,
    # the full fits and the visualization only.
    return CandidateSpec("baseline", title, FrequencyBaseline, target, "softmax", 1.0,
                         "no penalty: it has no coefficients", convex=False,
                         backends=("numpy",))


for _task, _title, _target in (("binary", "Baseline: class frequencies", "codes"),
                               ("multiclass", "Baseline: class frequencies", "codes"),
                               ("multilabel", "Baseline: label frequencies", "indicator")):
    CANDIDATES[_task].append(_baseline_spec(_title, _target))


def register_candidate(task: str, spec: CandidateSpec) -> None:
    """Add (or replace, by name) a candidate for ``task``: the hook for new models.

    Example: the lead registers ``CandidateSpec("mixed", "Mixed softmax/sigmoid heads",
    MultiHeadClassifier, "indicator", "sigmoid")`` for ``"multilabel"``.
    """
    if task not in CANDIDATES:
        raise ValueError(f"Unknown task {task!r}; choose one of {sorted(CANDIDATES)}.")
    if spec.target not in ("codes", "indicator", "sets"):
        raise ValueError(f"CandidateSpec.target must be 'codes', 'indicator' or 'sets'; got "
                         f"{spec.target!r}.")
    CANDIDATES[task] = [s for s in CANDIDATES[task] if s.name != spec.name] + [spec]
