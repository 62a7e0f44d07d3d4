r"""The study behind ``sigmax compare``: fit the candidate models side by side and measure.

:func:`compare` takes ``X`` and ``y`` (class labels, a 0/1 label matrix or a
DataFrame of target columns), fits every candidate model that fits the label
type on the same cross-validation folds with the same preprocessing, and
returns a :class:`~sigmax.study.result.CompareResult`: plain data, rendered
elsewhere. Every number in it is measured on the data at hand.

Candidates (registry :data:`CANDIDATES`, by task)
-------------------------------------------------
- binary: ``logistic`` (LogisticRegression at ``C``), ``softmax``
  (SoftmaxRegression, K=2, at ``C/2``: the exact match of logistic at ``C``,
  see :func:`sigmax.diagnostics.k2_equivalence`), ``ovr`` (OneVsRestLogistic
  at ``C``: two mirrored sigmoids, again the same model).
- multiclass: ``softmax`` and ``ovr``, one ``C`` for both (no exact mapping
  exists for K > 2; both penalize all K coefficient rows by the same
  :math:`\tfrac12\|W\|_F^2`).
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

The hook for a mixed model (softmax heads for groups of exclusive labels,
sigmoid heads for the rest) is :func:`register_candidate`: register a
:class:`CandidateSpec` named ``"mixed"`` for ``"multilabel"`` whose
``estimator`` takes the 0/1 indicator matrix (``target="indicator"``) and has
``predict_proba`` returning per-label marginals; it then runs in every section
that applies to it, and :func:`sigmax.study.advise.advise` can recommend it.

Protocol
--------
Rows are split into ``cv`` folds (``repeats`` times), stratified on the class
(multi-label: on the label set, sets with fewer than ``cv`` rows pooled), with
a fixed seed; every candidate sees the same folds. In each fold a
``StandardScaler`` is fitted on the training rows only. Timings are wall
times (``time.perf_counter``) with BLAS limited to ``threads`` threads (1 by
default, so that numbers compare like for like on any machine); peak memory
is the ``tracemalloc`` peak of one fit on all rows, capped at
:data:`MEMORY_FIT_MAX_ITER` iterations (Python and NumPy buffers allocated
during the fit; the input ``X`` is allocated before and not counted).

Result keys (everything :func:`compare` fills)
----------------------------------------------
``CompareResult.settings``: ``cv``, ``repeats``, ``C``, ``random_state``,
``sections`` (list), ``quick``, ``threads``, ``max_samples``,
``preprocessing`` (sentence), ``backend``, ``device`` and ``scheduler`` (where the
candidate fits ran: ``estimator_params``; ``device`` for torch, ``scheduler``
for dask, else None), ``budget`` (the sizes used by the sections: dict of
numbers/lists).

``CompareResult.environment``: ``python``, ``platform``, ``cpu_count``,
``sigmax``, ``numpy``, ``scipy``, ``scikit-learn``, ``blas`` (list of
``{"library", "version", "threads"}``); with ``backend="torch"`` also ``torch``
(and ``gpu``, the device name, on CUDA), with ``"dask"`` ``dask`` and
``distributed``.

``ProblemResult``: ``dataset``, ``task``, ``n_samples``, ``n_features``,
``n_classes``, ``class_names``, ``description``, ``feature_names``, ``notes``
(what was done to the data, candidates left out and why), ``seconds``
(section name -> wall seconds, plus ``"full_fits"`` and ``"total"``).

``CandidateResult`` (one per candidate): ``name``, ``label``, ``estimator``;
``params``: ``C`` (after mapping), ``C_note`` (why this ``C``), ``penalty``,
``solver`` (chosen by ``solver="auto"`` on all rows), ``target`` (what the
estimator is fitted on: ``"classes"``, ``"indicator"`` or ``"label sets"``),
``family`` (``"sigmoid"`` or ``"softmax"``), ``n_outputs`` (columns of the
coefficient matrix); ``metrics``: metric key -> one value per fold (keys of
:data:`~sigmax.study.metrics.SINGLE_LABEL_METRICS` or
:data:`~sigmax.study.metrics.MULTILABEL_METRICS`, multi-label adds
``"f1:<label>"``, ``"log_loss:<label>"``, ``"brier:<label>"``); ``compute``:
``n_params``, ``fit_seconds`` / ``fit_seconds_min`` / ``fit_seconds_max``
(median / min / max over folds), ``predict_seconds`` (median over folds of one
``predict_proba`` on the test rows), ``n_iter``, ``n_grad_evals``,
``n_hessp_evals`` (medians over folds; Hessian builds of Newton-Cholesky count
as Hessian evaluations), ``full_fit_seconds``, ``full_fit_n_iter``,
``peak_memory_bytes`` (tracemalloc, full-data fit), ``peak_device_memory_bytes``
(torch on CUDA only: ``torch.cuda.max_memory_allocated`` in that fit), and with the
``computation`` section ``grad_eval_seconds`` (median time of one
value-and-gradient evaluation on all rows), ``flops_per_grad_eval``,
``transcendentals_per_grad_eval``, ``flops_per_hessp``, ``flops_per_hessian``,
``flops_fit_estimate``, ``gflops_per_second``; ``history``: per-iteration
``iteration``, ``objective``, ``grad_norm``, ``seconds`` of the fit on all rows
(the loss curves); ``notes``: warnings seen (which, in how many folds).

``ProblemResult.comparisons``: every pair of candidates x every headline
metric (:class:`~sigmax.study.result.Comparison`, corrected resampled t-test).

``ProblemResult.performance``: ``folds`` (sentence), ``n_folds``, ``repeats``,
``stratified`` (bool), ``test_train_ratio``, ``fold_sizes`` (test rows per
fold), ``metrics`` (list of metric registry entries: ``name``, ``title``,
``higher_is_better``, ``description``), ``summary`` (candidate -> metric ->
``{"mean", "std", "min", "max"}``), ``best`` (metric -> candidate with the
best mean).

``ProblemResult.computation``: ``threads``, ``timer``, ``fit_backend`` (backend of
the candidate fits; gradient timings and the K sweep are always NumPy), ``memory_method``,
``flops_model`` (dict: ``gradient``, ``hessp``, ``hessian``, ``notes``:
formulas as text), ``summary`` (sentences with the measured numbers),
``k_sweep``: ``ks``, ``n_rows``, ``n_features``, ``solver``, ``C``, ``labels``
(how the K-class labels were made), ``models`` (``"softmax"``, ``"ovr"``) ->
``{"grad_seconds", "fit_seconds", "n_iter", "n_grad_evals", "n_params",
"flops_per_grad_eval"}`` (lists, one per K), ``grad_ratio`` and ``fit_ratio``
(OvR over softmax, per K), ``n_classes_seen`` (per K), ``grad_exponent`` and
``fit_exponent`` (model -> slope of log time on log K; present with >= 3 K values).

``ProblemResult.derivatives``: ``formulas`` (family -> ``loss``,
``gradient``, ``hessian``, ``hessp`` as LaTeX, each also ``*_text`` in plain
text, ``hessian_structure``), ``check_point`` (sentence), ``candidates``
(name -> ``family``, ``n_params``, ``hessian_shape``,
``hessian_unique_blocks``, ``hessian_nonzero_entries``, ``hessian_bytes``
(dense float64), ``flops_per_grad_eval``, ``flops_per_hessp``,
``flops_per_hessian``, ``flops_cholesky``, ``check`` (the dict of
:func:`sigmax.diagnostics.check_derivatives`, or ``{"skipped": reason}``)),
``summary`` (sentences).

``ProblemResult.minima``: ``subproblem`` (``n_rows``, ``n_features``,
``features`` (names), ``classes`` (names kept), ``rank_full`` (bool), ``how``
(sentence)), ``models`` (list, one per model x penalty: ``model``
(``"softmax"``, ``"logistic"``, ``"ovr"``, ``"multilabel"``),
``parameterization``, ``penalty``, ``C``, ``expected_n_flat``,
``expected_why``, the keys of :func:`sigmax.diagnostics.flat_directions`
except ``null_basis``, ``matches_theory`` (``n_flat == expected_n_flat``; for
L2 softmax the expected 1 is the intercept shift, ``n_flat_coef`` is 0),
``separable_warning`` (the fit raised :class:`~sigmax.SeparableWarning`),
``fit`` (``converged``,
``grad_norm``, ``n_iter``, ``objective``), ``random_starts`` (the dict of
:func:`sigmax.diagnostics.random_starts`, for the symmetric softmax and the
sigmoid model), ``skipped`` (sentence, instead of the rest, when the
unpenalized model has no finite minimum)), ``separation`` (candidate ->
``separated`` (bool or null), ``kind`` (``"complete"``, ``"quasi-complete"``
or null), ``how`` (sentence), ``outputs_separated`` and ``outputs_undecided``
(sigmoid models: outputs whose own binary problem is separated; how many
could not be decided in the time budget),
``unpenalized_fit`` (``separable_warning``, ``converged``, ``n_iter``,
``coef_max_abs``)), ``summary`` (sentences).

``ProblemResult.k2_equivalence``: ``problem`` (sentence: which two-class
problem), the keys of :func:`sigmax.diagnostics.k2_equivalence`, multi-label
adds ``ovr_per_label`` (``max_abs_coef_diff``, ``max_abs_prob_diff``: L
separate logistic fits against one MultiLabelLogistic), ``summary``.

``ProblemResult.visualization``: ``confusion`` (candidate -> K x K counts,
rows true, columns predicted, out-of-fold over the first repeat; multi-label:
candidate -> label -> ``[[tn, fp], [fn, tp]]``), ``reliability`` (candidate ->
:func:`~sigmax.study.metrics.reliability_bins` of the out-of-fold top-label
confidence, multi-label: of all label probabilities), ``class_counts``
(single-label), ``pca`` (``explained_variance_ratio``, ``points``: ``x``,
``y``, and ``label`` (class code) or ``labels`` (0/1 list per point),
``grid``: ``x``, ``y`` (axis values), ``fit_score`` (candidate -> training
accuracy, multi-label 1 - Hamming loss, of the model refit on the 2 PCA
coordinates), ``predictions`` (candidate -> ``{"class": g x g codes,
"confidence": g x g}`` or multi-label ``{"proba": label -> g x g}``)),
``simplex`` (single-label with K >= 3: ``classes`` (3 names), ``conditional``
(True when K > 3: rows of the 3 most frequent classes, probabilities
renormalized over them), ``candidates`` -> ``{"p": [[p0, p1, p2], ...],
"y": [...]}``), ``labels`` (multi-label: ``names``, ``prevalence``,
``cooccurrence``, ``lift``, ``cardinality``, ``top_label_sets``
(``labels``, ``count``), ``f1`` (candidate -> mean per-label F1 over folds)).
Loss curves are ``CandidateResult.history``.

``ProblemResult.advice``: :meth:`sigmax.study.advise.Advice.to_dict`
(``model``, ``estimator``, ``summary``, ``reasons``, ``structural_choice``,
``label_structure``, ``evidence``).
"""

from __future__ import annotations

import platform
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

from .. import diagnostics as diag
from ..backends import to_numpy
from ..estimators import (
    LinearClassifierBase,
    LogisticRegression,
    MultiLabelHeads,
    MultiLabelLogistic,
    OneVsRestLogistic,
    SeparableWarning,
    SoftmaxRegression,
)
from ..numerics import log_expit
from .advise import Target, advise, encode_target
from .metrics import (
    MULTILABEL_METRICS,
    SINGLE_LABEL_METRICS,
    multilabel_scores,
    paired_comparison,
    reliability_bins,
    single_label_scores,
)
from .result import CandidateResult, CompareResult, ProblemResult

__all__ = ["CANDIDATES", "SECTIONS", "CandidateSpec", "compare", "compare_problem",
           "register_candidate"]

#: The sections of the study, in run order; ``sections=`` picks a subset.
SECTIONS: tuple[str, ...] = ("performance", "computation", "derivatives", "minima",
                             "k2_equivalence", "visualization", "advice")
_ALIASES = {"k2": "k2_equivalence", "perf": "performance", "compute": "computation",
            "viz": "visualization", "plots": "visualization"}

#: Iterations of the fit whose memory is traced (see :func:`_full_fits`).
MEMORY_FIT_MAX_ITER = 40

#: ``progress(step, done, total)``: called after each unit of work.
ProgressCallback = Callable[[str, int, int], None]


# -- candidates ----------------------------------------------------------------------------
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

    def make(self, C: float, **params: Any) -> LinearClassifierBase:
        return self.estimator(C=C * self.C_factor, **{**dict(self.params), **params})


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
                      applies=_multitask_applies, backends=("torch",)),
    ],
}


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


# -- budget ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Budget:
    """Sizes of the sections (full run / quick run)."""

    max_folds: int | None = None
    k_sweep: tuple[int, ...] = (2, 4, 8, 16, 32)
    sweep_rows: int = 2000
    grad_timing_seconds: float = 0.05
    fd_rows: int = 500
    fd_directions: int = 6
    starts: int = 4
    minima_rows: int = 1000
    minima_features: tuple[int, ...] = (8, 4, 2, 1)
    minima_max_classes: int = 10
    grid: int = 60
    grid_multilabel: int = 30
    points: int = 600
    simplex_points: int = 400
    unpenalized_max_iter: int = 200
    lp_seconds: float = 4.0

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


_FULL = _Budget()
_QUICK = _Budget(max_folds=3, k_sweep=(2, 4, 8), sweep_rows=400, grad_timing_seconds=0.01,
                 fd_rows=200, fd_directions=3, starts=3, minima_rows=300,
                 minima_features=(4, 2, 1), minima_max_classes=5, grid=25, grid_multilabel=15,
                 points=300, simplex_points=200, unpenalized_max_iter=50, lp_seconds=1.5)


# -- input ---------------------------------------------------------------------------------------
def _check_X(X: Any, n_rows_y: int | None = None) -> tuple[np.ndarray, list[str], list[str]]:
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


def _subsample(n: int, strata: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of a subsample of ``size`` rows, stratified where every stratum allows."""
    if size >= n:
        return np.arange(n)
    from sklearn.model_selection import train_test_split

    counts = np.bincount(strata)
    strat = strata if counts[counts > 0].min() >= 2 and size >= len(np.unique(strata)) else None
    idx, _ = train_test_split(np.arange(n), train_size=size, random_state=seed, stratify=strat)
    return np.sort(idx)


def _cover_subsample(strata: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted indices of about ``size`` rows that include every stratum at least once.

    A model fitted on all rows has one output per class (or label set); a
    subsample with every class keeps the same parameter layout.
    """
    n = len(strata)
    if size >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    first = np.unique(strata, return_index=True)[1]
    rest = np.setdiff1d(np.arange(n), first)
    extra = rng.choice(rest, size=max(0, min(len(rest), size - len(first))), replace=False)
    return np.sort(np.concatenate([first, extra]))


def _fold_strata(target: Target, n_splits: int) -> tuple[np.ndarray | None, str]:
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


# -- fitting and reading candidates ------------------------------------------------------------
def _y_for(spec: CandidateSpec, target: Target) -> np.ndarray:
    return {"codes": target.codes, "indicator": target.Y, "sets": target.set_codes}[spec.target]


def _masked_logsumexp(L: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp of the columns of ``L`` where ``mask``; ``-inf`` when none."""
    Z = np.where(mask[None, :], L, -np.inf)
    m = Z.max(axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return (np.log(np.exp(Z - m).sum(axis=1, keepdims=True)) + m)[:, 0]


def _predict(spec: CandidateSpec, est: Any, X: np.ndarray, target: Target) -> dict[str, Any]:
    """Predictions in the task's common format.

    Single-label: ``log_proba`` (n, K) over all K classes (``-inf`` for a
    class the model never saw) and ``pred`` (n,) codes. Multi-label:
    ``log_p1``, ``log_p0`` (n, L) marginal log-probabilities and ``pred_set``
    (n, L), the most probable label set.
    """
    # NumPy X gives NumPy predictions on every backend (sigmax.backends.route_by_input);
    # to_numpy keeps the study's arithmetic on the host whatever an estimator returns.
    if target.task != "multilabel":
        K = target.n_classes
        lp = np.full((X.shape[0], K), -np.inf)
        lp[:, np.asarray(est.classes_, dtype=np.intp)] = to_numpy(est.predict_log_proba(X))
        return {"log_proba": lp, "pred": to_numpy(est.predict(X)).astype(np.intp)}
    if spec.target == "indicator":
        P = to_numpy(est.predict_proba(X)).astype(np.float64)
        if hasattr(est, "decision_function"):
            Z = to_numpy(est.decision_function(X)).astype(np.float64)
            l1, l0 = log_expit(Z), log_expit(-Z)
        else:
            with np.errstate(divide="ignore"):
                l1, l0 = np.log(P), np.log1p(-P)
        pred = to_numpy(est.predict(X))
        return {"log_p1": l1, "log_p0": l0, "pred_set": pred}
    lp = to_numpy(est.predict_log_proba(X))
    M = target.set_matrix[np.asarray(est.classes_, dtype=np.intp)].astype(bool)
    l1 = np.column_stack([_masked_logsumexp(lp, M[:, j]) for j in range(M.shape[1])])
    l0 = np.column_stack([_masked_logsumexp(lp, ~M[:, j]) for j in range(M.shape[1])])
    pred = target.set_matrix[to_numpy(est.predict(X)).astype(np.intp)]
    return {"log_p1": l1, "log_p0": l0, "pred_set": pred}


def _scores(pred: dict[str, Any], target: Target) -> dict[str, float]:
    if target.task != "multilabel":
        return single_label_scores(target.codes, pred["log_proba"], pred["pred"])
    return multilabel_scores(target.Y, pred["log_p1"], pred["log_p0"], pred["pred_set"],
                             target.names)


def _fit(est: Any, X: np.ndarray, y: np.ndarray
         ) -> tuple[Any, float, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        est.fit(X, y)
        seconds = time.perf_counter() - t0
    return est, seconds, list(caught)


def _n_outputs(est: Any) -> int:
    return int(np.asarray(est.coef_).shape[0])


def _n_params(est: Any) -> int:
    # A shared trunk's hidden layers count too (coef_ is then only its output layer).
    hidden = sum(np.asarray(a).size for a in (*getattr(est, "hidden_coefs_", ()),
                                              *getattr(est, "hidden_intercepts_", ())))
    return int(np.asarray(est.coef_).size + np.asarray(est.intercept_).size + hidden)


# -- flops model ---------------------------------------------------------------------------------
#: Elementwise flops per logit entry of one value-and-gradient evaluation (exp/log count 1):
#: softmax: subtract the row max, exp, row sum, divide, weight; sigmoid: |z|, exp, log1p,
#: max, add, y*z, subtract, divide, select, subtract y, weight.
_ELEMENTWISE = {"softmax": 5, "sigmoid": 11}
_FLOPS_NOTES = (
    "Counts for one evaluation at n rows, d features, k outputs (k = K for softmax and "
    "one-vs-rest, 1 for logistic, L for independent sigmoids, the number of label sets for "
    "the powerset). The two products Z = X W and X^T G dominate: 2ndk flops each. "
    "Elementwise work per logit entry, exp and log counted as one flop: softmax 5 (subtract "
    "row max, exp, row sum, divide, weight) plus one log per row; sigmoid 11 (|z|, exp, "
    "log1p, max, add, y z, subtract, divide, select, subtract y, weight). Transcendentals: "
    "softmax nk exp + n log, sigmoid nk exp + nk log1p. Hessian-vector product: the same "
    "two products plus 4nk (softmax: p * (v - <p, v>)) or 2nk (sigmoid: h * v). Full "
    "Hessian: one block X^T diag(h) X (2n(d+1)^2 flops) per output pair: k blocks for "
    "sigmoids (block diagonal), k(k+1)/2 for softmax (dense). Cholesky of the p x p "
    "Hessian: p^3/3.")


def _flops(family: str, n: int, d: int, k: int) -> dict[str, float]:
    matmul = 4.0 * n * d * k
    elem = _ELEMENTWISE[family] * n * k + (2 * n if family == "softmax" else 0)
    bias = 2.0 * n * k
    blocks = k * (k + 1) / 2 if family == "softmax" else k
    p = (d + 1) * k
    return {
        "flops_per_grad_eval": matmul + elem + bias,
        "transcendentals_per_grad_eval": float(n * k + (n if family == "softmax" else n * k)),
        "flops_per_hessp": matmul + bias + (4 if family == "softmax" else 2) * n * k,
        "flops_per_hessian": 2.0 * n * (d + 1) ** 2 * blocks,
        "flops_cholesky": p ** 3 / 3.0,
        "hessian_unique_blocks": float(blocks),
        "hessian_nonzero_entries": float((d + 1) ** 2 * (k * k if family == "softmax" else k)),
        "hessian_bytes": float(8 * p * p),
    }


def _time_grad(objective: Any, w: np.ndarray, min_seconds: float, repeats: int = 5) -> float:
    """Median seconds of one value-and-gradient evaluation."""
    objective.value_and_grad(w)
    t0 = time.perf_counter()
    objective.value_and_grad(w)
    one = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(min_seconds / repeats / one))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            objective.value_and_grad(w)
        times.append((time.perf_counter() - t0) / number)
    return float(statistics.median(times))


# -- the study of one problem ----------------------------------------------------------------
@dataclass
class _Run:
    """State shared by the sections of one problem."""

    name: str
    X: np.ndarray
    Xs: np.ndarray  # standardized on all rows (full-data fits and diagnostics)
    target: Target
    feature_names: list[str]
    specs: list[CandidateSpec]
    C: float
    budget: _Budget
    seed: int
    progress: Callable[[str], None]
    problem: ProblemResult
    threads: int = 1
    #: ``backend`` / ``device`` of the candidate fits (see :func:`_check_estimator_params`).
    estimator_params: dict[str, Any] = field(default_factory=dict)
    full: dict[str, Any] = field(default_factory=dict)     # name -> estimator fit on all rows
    oof: dict[str, dict[str, Any]] = field(default_factory=dict)

    def cand(self, name: str) -> CandidateResult:
        return next(c for c in self.problem.candidates if c.name == name)

    def placed(self, spec: CandidateSpec) -> bool:
        """True when ``spec``'s fits run on the requested backend (else on its default)."""
        return self.estimator_params.get("backend", "numpy") in spec.backends

    def make(self, spec: CandidateSpec, **params: Any) -> LinearClassifierBase:
        """``spec``'s estimator at the study's ``C``, on the requested backend if it takes it."""
        placement = self.estimator_params if self.placed(spec) else {}
        return spec.make(self.C, **{**placement, **params})


def _warning_notes(records: dict[str, list[int]], n_runs: int, where: str) -> list[str]:
    out = []
    for msg, runs in records.items():
        out.append(f"{msg.split(':', 1)[0]} in {len(set(runs))} of {n_runs} {where}: "
                   f"{msg.split(':', 1)[1].strip()}")
    return out


def _record(records: dict[str, list[int]], caught: list[Any], run: int) -> None:
    for w in caught:
        text = str(w.message).split(". ")[0]
        records.setdefault(f"{w.category.__name__}: {text}", []).append(run)


def _cuda_device(params: dict[str, Any]) -> Any:
    """The CUDA device of a torch placement (``estimator_params``), else None."""
    if params.get("backend") != "torch":
        return None
    from ..backends.torch_backend import _torch_device

    dev = _torch_device(params.get("device"), None)
    return dev if dev.type == "cuda" else None


def _warm_up(run: _Run) -> None:
    """One untimed fit per candidate on a few rows, on a backend other than NumPy.

    The first torch or dask fit in a process pays one-time costs (imports, the
    CUDA context, kernel loading, the dask client's first graph) that are not
    part of fitting the data; without this they would land in the first
    candidate's timed fit.
    """
    if run.estimator_params.get("backend", "numpy") == "numpy":
        return
    idx = _cover_subsample(run.target.strata, 64, run.seed)
    sub = run.target.subset(idx)
    for spec in _convex(run.specs):
        if run.placed(spec):
            try:
                _fit(run.make(spec, max_iter=5), run.Xs[idx], _y_for(spec, sub))
            except ValueError:  # a subsample the model refuses: the real fits report errors
                pass


def _full_fits(run: _Run) -> None:
    """Fit every candidate on all rows: solver, history, memory, and the models for later."""
    for spec in run.specs:
        y = _y_for(spec, run.target)
        est, seconds, caught = _fit(run.make(spec), run.Xs, y)
        # Memory in a second fit: tracemalloc slows allocation-heavy code, so the timed fit
        # above runs without it. Every iteration allocates the same buffers and L-BFGS
        # stores at most 30 pairs, so the peak is reached within MEMORY_FIT_MAX_ITER
        # iterations: the memory fit stops there. tracemalloc sees Python and NumPy
        # buffers only; on a CUDA device torch's own counter gives the device memory.
        dev = _cuda_device(run.estimator_params) if run.placed(spec) else None
        if dev is not None:
            import torch

            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
        tracemalloc.start()
        try:
            _fit(run.make(spec, max_iter=MEMORY_FIT_MAX_ITER), run.Xs, y)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        device_peak = ({"peak_device_memory_bytes": int(torch.cuda.max_memory_allocated(dev)
                                                        - base)} if dev is not None else {})
        run.full[spec.name] = est
        rec = est.fit_record_
        k = _n_outputs(est)
        cand = CandidateResult(
            name=spec.name, label=spec.title.format(K=k), estimator=type(est).__name__,
            params={"C": float(est.C), "C_note": spec.C_note, "penalty": est.penalty,
                    "solver": rec.solver, "tol": float(est.tol), "target": {
                        "codes": "classes", "indicator": "indicator",
                        "sets": "label sets"}[spec.target],
                    "family": spec.family, "n_outputs": k},
            compute={"n_params": _n_params(est), "full_fit_seconds": seconds,
                     "full_fit_n_iter": int(rec.n_iter), "peak_memory_bytes": int(peak),
                     "fit_seconds": seconds, "n_iter": int(rec.n_iter),
                     "n_grad_evals": int(rec.n_grad_evals),
                     "n_hessp_evals": int(rec.n_hessp_evals), **device_peak},
            history={k_: list(v) for k_, v in rec.history.items()},
        )
        records: dict[str, list[int]] = {}
        _record(records, caught, 0)
        cand.notes += _warning_notes(records, 1, "fits on all rows")
        backend = run.estimator_params.get("backend", "numpy")
        if not run.placed(spec) and backend != "numpy":
            cand.notes.append(f"fitted on its default backend, not {backend!r}: this model "
                              f"fits on {' / '.join(spec.backends)} only")
        run.problem.candidates.append(cand)
        run.progress(f"fit on all rows: {spec.name}")


def _performance(run: _Run, cv: int, repeats: int) -> None:
    target, X = run.target, run.X
    n_splits = cv
    strata, how = _fold_strata(target, n_splits)
    stratified = strata is not None
    splitter = (RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=repeats,
                                        random_state=run.seed) if stratified else
                RepeatedKFold(n_splits=n_splits, n_repeats=repeats, random_state=run.seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" notices
        folds = list(splitter.split(X, strata if stratified else None))
    n_runs = len(folds)
    per = {s.name: {"metrics": {}, "fit": [], "predict": [], "iter": [], "grad": [],
                    "hessp": [], "records": {}} for s in run.specs}
    for s in run.specs:
        if target.task != "multilabel":
            run.oof[s.name] = {"log_proba": np.full((target.n_samples, target.n_classes),
                                                    -np.inf),
                               "pred": np.zeros(target.n_samples, dtype=np.intp)}
        else:
            L = target.n_classes
            run.oof[s.name] = {"log_p1": np.zeros((target.n_samples, L)),
                               "log_p0": np.zeros((target.n_samples, L)),
                               "pred_set": np.zeros((target.n_samples, L), dtype=np.int64)}
    for f, (tr, te) in enumerate(folds):
        scaler = StandardScaler().fit(X[tr])
        Xtr, Xte = scaler.transform(X[tr]), scaler.transform(X[te])
        ttr, tte = target.subset(tr), target.subset(te)
        for spec in run.specs:
            p = per[spec.name]
            est, seconds, caught = _fit(run.make(spec), Xtr, _y_for(spec, ttr))
            _record(p["records"], caught, f)
            t0 = time.perf_counter()
            to_numpy(est.predict_proba(Xte))
            p["predict"].append(time.perf_counter() - t0)
            pred = _predict(spec, est, Xte, tte)
            for key, val in _scores(pred, tte).items():
                p["metrics"].setdefault(key, []).append(val)
            rec = est.fit_record_
            p["fit"].append(seconds)
            p["iter"].append(rec.n_iter)
            p["grad"].append(rec.n_grad_evals)
            p["hessp"].append(rec.n_hessp_evals)
            if f < n_splits:  # out-of-fold predictions of the first repeat
                for key, val in pred.items():
                    run.oof[spec.name][key][te] = val
            run.progress(f"fold {f + 1}/{n_runs}: {spec.name}")
    for spec in run.specs:
        p = per[spec.name]
        cand = run.cand(spec.name)
        cand.metrics = p["metrics"]
        cand.compute.update({
            "fit_seconds": float(np.median(p["fit"])), "fit_seconds_min": float(min(p["fit"])),
            "fit_seconds_max": float(max(p["fit"])),
            "predict_seconds": float(np.median(p["predict"])),
            "n_iter": float(np.median(p["iter"])), "n_grad_evals": float(np.median(p["grad"])),
            "n_hessp_evals": float(np.median(p["hessp"]))})
        cand.notes += _warning_notes(p["records"], n_runs, "cross-validation fits")
    # Paired comparisons on the headline metrics, every pair of candidates.
    registry = MULTILABEL_METRICS if target.task == "multilabel" else SINGLE_LABEL_METRICS
    ratio = 1.0 / (n_splits - 1)
    titles = {c.name: c.label for c in run.problem.candidates}
    names = [s.name for s in run.specs]
    for metric in registry:
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                run.problem.comparisons.append(paired_comparison(
                    metric, a, b, run.cand(a).metrics[metric], run.cand(b).metrics[metric],
                    test_train_ratio=ratio, describe=lambda s: titles.get(s, s)))
    summary, best = {}, {}
    for c in run.problem.candidates:
        summary[c.name] = {m: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)),
                               "min": float(np.min(v)), "max": float(np.max(v))}
                           for m, v in c.metrics.items()}
    for metric, info in registry.items():
        means = {c: summary[c][metric]["mean"] for c in summary}
        best[metric] = (max if info.higher_is_better else min)(means, key=means.get)
    run.problem.performance = {
        "folds": (f"{n_splits}-fold cross-validation"
                  + (f" repeated {repeats} times" if repeats > 1 else "")
                  + f", {how}, shuffled with seed {run.seed}; a StandardScaler fitted on the "
                  "training rows of each fold"),
        "n_folds": n_splits, "repeats": repeats, "stratified": stratified,
        "test_train_ratio": ratio, "fold_sizes": [len(te) for _, te in folds[:n_splits]],
        "metrics": [m.to_dict() for m in registry.values()],
        "summary": summary, "best": best,
    }


def _computation(run: _Run) -> None:
    b = run.budget
    n, d = run.Xs.shape
    summary = []
    for spec in _convex(run.specs):
        est = run.full[spec.name]
        cand = run.cand(spec.name)
        k = _n_outputs(est)
        fl = _flops(spec.family, n, d, k)
        obj = diag.objective_for(est, run.Xs, _y_for(spec, run.target))
        w = diag.params_of(est, obj)
        t = _time_grad(obj, w, b.grad_timing_seconds)
        rec = est.fit_record_
        hess = fl["flops_per_hessian"] + fl["flops_cholesky"] if rec.solver == \
            "newton-cholesky" else fl["flops_per_hessp"]
        cand.compute.update({
            "grad_eval_seconds": t,
            "flops_per_grad_eval": fl["flops_per_grad_eval"],
            "transcendentals_per_grad_eval": fl["transcendentals_per_grad_eval"],
            "flops_per_hessp": fl["flops_per_hessp"],
            "flops_per_hessian": fl["flops_per_hessian"],
            "flops_fit_estimate": (cand.compute["n_grad_evals"] * fl["flops_per_grad_eval"]
                                   + cand.compute["n_hessp_evals"] * hess),
            "gflops_per_second": fl["flops_per_grad_eval"] / t / 1e9,
        })
        summary.append(
            f"{cand.label}: {cand.compute['n_params']} parameters, "
            f"{cand.compute['fit_seconds'] * 1e3:.3g} ms per fit (median), "
            f"{cand.compute['n_iter']:.0f} iterations ({rec.solver}), "
            f"{cand.compute['n_grad_evals']:.0f} gradient evaluations of "
            f"{t * 1e6:.3g} us each ({fl['flops_per_grad_eval']:.3g} flops), peak memory "
            f"{cand.compute['peak_memory_bytes'] / 2**20:.3g} MiB.")
        run.progress(f"computation: {spec.name}")
    memory = (f"tracemalloc peak during one fit on all rows capped at {MEMORY_FIT_MAX_ITER} "
              "iterations, by which every per-iteration buffer and L-BFGS's 30 stored pairs "
              "exist (Python and NumPy buffers allocated by the fit; X itself excluded)")
    backend = run.estimator_params.get("backend", "numpy")
    if backend != "numpy":
        # Fit times come from the chosen backend, gradient timings from NumPy: say so,
        # so that nobody divides one by the other.
        where = _placement_text(run.estimator_params)
        summary.insert(0, f"Fit times, iterations and memory are of {where}; gradient-"
                          "evaluation times, flop rates and the K sweep are NumPy on this "
                          "machine's CPU.")
        memory += (f"; on the {backend} backend tracemalloc sees only the host's Python and "
                   "NumPy buffers, not " + ("torch's tensors" if backend == "torch" else
                                           "the memory of dask's workers")
                   + (" (peak_device_memory_bytes: torch.cuda.max_memory_allocated during "
                      "that fit)" if _cuda_device(run.estimator_params) is not None else ""))
    sweep = _k_sweep(run)
    run.problem.computation = {
        "threads": run.threads,
        "timer": "time.perf_counter wall time",
        "fit_backend": backend,
        "memory_method": memory,
        "flops_model": {
            "gradient": "4 n d k + 2 n k + c n k (+ 2n for softmax); c = 5 softmax, 11 sigmoid",
            "hessp": "4 n d k + 2 n k + (4 softmax | 2 sigmoid) n k",
            "hessian": "2 n (d+1)^2 per block; k blocks (sigmoid) or k(k+1)/2 (softmax)",
            "notes": _FLOPS_NOTES,
        },
        "summary": summary + sweep.pop("summary"),
        "k_sweep": sweep,
    }


def _planted_labels(X: np.ndarray, K: int, rng: np.random.Generator) -> np.ndarray:
    """K-class labels drawn from a softmax model with K prototype rows of X as class centres.

    The logits :math:`2 x^\\top \\mu_k - \\|\\mu_k\\|^2` are linear in ``x``, so the labels
    follow a linear softmax model on the real features; each prototype row keeps its own
    class so that every class is present.
    """
    n = X.shape[0]
    proto = rng.choice(n, size=K, replace=False)
    M = X[proto]
    Z = 2 * X @ M.T - (M * M).sum(axis=1)
    Z /= max(float(np.std(Z)), 1e-12)
    Z *= 2.0
    y = np.argmax(Z + rng.gumbel(size=Z.shape), axis=1)
    y[proto] = np.arange(K)
    return y


def _k_sweep(run: _Run) -> dict[str, Any]:
    b = run.budget
    rng = np.random.default_rng(run.seed)
    idx = rng.choice(run.Xs.shape[0], size=min(b.sweep_rows, run.Xs.shape[0]), replace=False)
    X = StandardScaler().fit_transform(run.X[idx])
    ks = [k for k in b.k_sweep if k <= X.shape[0] // 4]
    models = {"softmax": SoftmaxRegression, "ovr": OneVsRestLogistic}
    out: dict[str, Any] = {"ks": ks, "n_rows": int(X.shape[0]), "n_features": int(X.shape[1]),
                           "solver": "lbfgs", "C": run.C, "n_classes_seen": [],
                           "labels": ("K classes drawn from a softmax model whose class "
                                      "centres are K random rows of this data's standardized "
                                      "features (real X, planted labels)"),
                           "models": {m: {"grad_seconds": [], "fit_seconds": [], "n_iter": [],
                                          "n_grad_evals": [], "n_params": [],
                                          "flops_per_grad_eval": []} for m in models}}
    for K in ks:
        y = _planted_labels(X, K, rng)
        out["n_classes_seen"].append(len(np.unique(y)))
        for m, cls in models.items():
            est = cls(C=run.C, solver="lbfgs")
            obj = diag.objective_for(est, X, y)
            w = rng.normal(0.0, 0.01, obj.n_params)
            g = _time_grad(obj, w, b.grad_timing_seconds)
            est, seconds, _ = _fit(est, X, y)
            rec = est.fit_record_
            r = out["models"][m]
            r["grad_seconds"].append(g)
            r["fit_seconds"].append(seconds)
            r["n_iter"].append(int(rec.n_iter))
            r["n_grad_evals"].append(int(rec.n_grad_evals))
            r["n_params"].append(_n_params(est))
            r["flops_per_grad_eval"].append(
                _flops("softmax" if m == "softmax" else "sigmoid", X.shape[0], X.shape[1],
                       K)["flops_per_grad_eval"])
        run.progress(f"K sweep: K={K}")
    sm, ovr = out["models"]["softmax"], out["models"]["ovr"]
    out["grad_ratio"] = [o / s for o, s in zip(ovr["grad_seconds"], sm["grad_seconds"])]
    out["fit_ratio"] = [o / s for o, s in zip(ovr["fit_seconds"], sm["fit_seconds"])]
    summary = []
    if len(ks) >= 3:
        k0, k1 = ks[0], ks[-1]
        logk = np.log(ks)
        # Growth exponents from a least-squares fit of log(time) on log(K) (1 = linear).
        out["grad_exponent"] = {m: float(np.polyfit(logk, np.log(r["grad_seconds"]), 1)[0])
                                for m, r in out["models"].items()}
        out["fit_exponent"] = {m: float(np.polyfit(logk, np.log(r["fit_seconds"]), 1)[0])
                               for m, r in out["models"].items()}
        ge, fe = out["grad_exponent"], out["fit_exponent"]
        summary.append(
            f"K sweep on {X.shape[0]} rows x {X.shape[1]} features (lbfgs, K={k0}..{k1}): one "
            f"gradient evaluation takes {sm['grad_seconds'][0] * 1e6:.3g} -> "
            f"{sm['grad_seconds'][-1] * 1e6:.3g} us for softmax (time ~ K^{ge['softmax']:.2f}) "
            f"and {ovr['grad_seconds'][0] * 1e6:.3g} -> {ovr['grad_seconds'][-1] * 1e6:.3g} us "
            f"for one-vs-rest (~ K^{ge['ovr']:.2f}); a whole fit "
            f"{sm['fit_seconds'][0] * 1e3:.3g} -> {sm['fit_seconds'][-1] * 1e3:.3g} ms "
            f"(~ K^{fe['softmax']:.2f}) vs {ovr['fit_seconds'][0] * 1e3:.3g} -> "
            f"{ovr['fit_seconds'][-1] * 1e3:.3g} ms (~ K^{fe['ovr']:.2f}). At K={k1} one-vs-rest "
            f"costs {out['grad_ratio'][-1]:.2g}x softmax per gradient evaluation and "
            f"{out['fit_ratio'][-1]:.2g}x per fit.")
    out["summary"] = summary
    return out


_FORMULAS = {
    "sigmoid": {
        "loss": r"\ell(z, y) = \log(1 + e^{z}) - y z",
        "loss_text": "l(z, y) = log(1 + exp(z)) - y z, per output",
        "gradient": r"\nabla_W f = \tfrac{1}{S} X^\top (\sigma(Z) - Y) + \tfrac{1}{CS} W",
        "gradient_text": "grad_W = X^T (sigmoid(Z) - Y) / S + W / (C S)",
        "hessian": (r"\nabla^2_{w_a w_b} f = \delta_{ab}\, \tfrac{1}{S} X^\top "
                    r"\mathrm{diag}(\sigma(z_a)(1 - \sigma(z_a))) X + \tfrac{1}{CS} I"),
        "hessian_text": ("H_ab = [a == b] X^T diag(p_a (1 - p_a)) X / S + I / (C S): "
                         "block diagonal, outputs decouple"),
        "hessp": r"H v = \tfrac{1}{S} X^\top (h \odot X V)",
        "hessp_text": "H v = X^T (h * (X V)) / S, h = p (1 - p)",
        "hessian_structure": "diagonal per row: each output is its own binary problem",
    },
    "softmax": {
        "loss": r"\ell(z, y) = \log \sum_k e^{z_k} - z_y",
        "loss_text": "l(z, y) = logsumexp(z) - z_y (shifted by max z)",
        "gradient": r"\nabla_W f = \tfrac{1}{S} X^\top (\mathrm{softmax}(Z) - E_y) + "
                    r"\tfrac{1}{CS} W",
        "gradient_text": "grad_W = X^T (softmax(Z) - onehot(y)) / S + W / (C S)",
        "hessian": (r"\nabla^2_{w_a w_b} f = \tfrac{1}{S} X^\top \mathrm{diag}(p_a "
                    r"(\delta_{ab} - p_b)) X + \tfrac{1}{CS} \delta_{ab} I"),
        "hessian_text": ("H_ab = X^T diag(p_a ([a == b] - p_b)) X / S + [a == b] I / (C S): "
                         "dense K x K blocks; per row diag(p) - p p^T, null vector 1"),
        "hessp": r"H v = \tfrac{1}{S} X^\top \big(p \odot (XV - \langle p, XV\rangle)\big)",
        "hessp_text": "H v = X^T (p * (U - sum_k p_k U_k)) / S, U = X V",
        "hessian_structure": ("dense K x K per row (diag(p) - p p^T), singular along "
                              "(1, ..., 1)"),
    },
}


def _derivatives(run: _Run) -> None:
    b = run.budget
    rng = np.random.default_rng(run.seed)
    n, d = run.Xs.shape
    idx = _cover_subsample(run.target.strata, b.fd_rows, run.seed)
    Xsub = run.Xs[idx]
    tsub = run.target.subset(idx)
    out: dict[str, Any] = {"formulas": _FORMULAS, "candidates": {}, "summary": [],
                           "check_point": (
                               f"each candidate's coefficients fitted on all rows plus "
                               f"N(0, 0.1^2) noise (away from the optimum, where the gradient "
                               f"is not ~0), on {len(idx)} rows; central differences along "
                               f"{b.fd_directions} random unit directions")}
    for spec in _convex(run.specs):
        est = run.full[spec.name]
        k = _n_outputs(est)
        fl = _flops(spec.family, n, d, k)
        y = _y_for(spec, tsub)
        try:
            obj = diag.objective_for(est, Xsub, y)
            w = diag.params_of(est, obj) + rng.normal(0.0, 0.1, obj.n_params)
            check = diag.check_derivatives(obj, w, n_directions=b.fd_directions,
                                           random_state=rng)
        except ValueError as exc:
            # The subsample lost a class or label set of the full fit: no shared layout.
            check = {"skipped": str(exc)}
        p = (d + 1) * k
        out["candidates"][spec.name] = {
            "family": spec.family, "n_params": p, "hessian_shape": [p, p],
            **{key: fl[key] for key in ("hessian_unique_blocks", "hessian_nonzero_entries",
                                        "hessian_bytes", "flops_per_grad_eval",
                                        "flops_per_hessp", "flops_per_hessian",
                                        "flops_cholesky")},
            "check": check,
        }
        label = run.cand(spec.name).label
        if "grad_max_rel_error" in check:
            out["summary"].append(
                f"{label}: analytic gradient matches central differences to "
                f"{check['grad_max_rel_error']:.1e} and the Hessian-vector product to "
                f"{check['hessp_max_rel_error']:.1e} (relative); its Hessian has "
                f"{fl['hessian_nonzero_entries']:.4g} nonzero entries of {p * p} "
                f"({'dense K x K blocks' if spec.family == 'softmax' else 'block diagonal'}), "
                f"{fl['flops_per_hessian']:.3g} flops to build on all rows.")
        run.progress(f"derivatives: {spec.name}")
    run.problem.derivatives = out


def _convex(specs: list[CandidateSpec]) -> list[CandidateSpec]:
    """The candidates with a convex linear objective (the diagnostics need one)."""
    return [s for s in specs if s.convex]


def _sigmoid_spec(run: _Run) -> CandidateSpec | None:
    return next((s for s in run.specs if s.family == "sigmoid" and s.target != "sets"), None)


def _softmax_spec(run: _Run) -> CandidateSpec | None:
    return next((s for s in run.specs if s.family == "softmax"), None)


def _minima(run: _Run) -> None:
    b = run.budget
    t = run.target
    out: dict[str, Any] = {"models": [], "summary": []}
    out["separation"] = _separation(run)
    run.progress("minima: separation")
    # A small, full-rank, overlapping subproblem on which the Hessian can be formed.
    codes = t.codes if t.task != "multilabel" else t.set_codes
    counts = np.bincount(codes)
    keep_classes = np.argsort(-counts, kind="stable")[:b.minima_max_classes]
    keep_classes = keep_classes[counts[keep_classes] >= 2]
    rows = np.flatnonzero(np.isin(codes, keep_classes))
    rows = rows[_subsample(len(rows), np.unique(codes[rows], return_inverse=True)[1].ravel(),
                           b.minima_rows, run.seed)]
    y_soft = np.unique(codes[rows], return_inverse=True)[1].ravel()
    Xm, feat_names, how_features, sep_sub = _minima_features(run, run.Xs[rows], y_soft)
    dm = Xm.shape[1]
    if t.task == "multilabel":
        kept = sorted(set(codes[rows].tolist()))
        names = [" & ".join(t.names[j] for j in np.flatnonzero(t.set_matrix[s])) or "(none)"
                 for s in kept]
    else:
        names = [t.names[c] for c in sorted(set(codes[rows].tolist()))]
    K = len(names)
    out["subproblem"] = {
        "n_rows": len(rows), "n_features": dm, "features": feat_names, "classes": names,
        "rank_full": bool(len(diag.full_rank_columns(Xm)) == dm),
        "separated": None if sep_sub is None else sep_sub["separated"],
        "how": (f"{len(rows)} rows of the {K} most frequent "
                f"{'label sets' if t.task == 'multilabel' else 'classes'}; features: "
                f"{how_features}"),
    }
    soft = _softmax_spec(run)
    C_soft = run.C * (soft.C_factor if soft is not None else 1.0)
    d1 = dm + 1
    models = [
        ("softmax", "symmetric", None, d1,
         f"{dm} features + 1 intercept: adding the same vector to every class's coefficients "
         "(and the same number to every intercept) changes no logit difference"),
        ("softmax", "symmetric", "l2", 1,
         "L2 makes the coefficients unique; the intercepts are not penalized, so the common "
         "intercept shift b -> b + c 1 stays flat (it changes no prediction)"),
        ("softmax", "reference", None, 0,
         "class 0's logit is fixed to 0: K-1 free rows, no redundancy"),
    ]
    sig = _sigmoid_spec(run)
    sig_name = sig.name if sig is not None else None
    models += [(sig_name, None, None, 0,
                "each output is a strictly convex binary problem on full-rank overlapping data"),
               (sig_name, None, "l2", 0, "L2 adds a positive definite term")]
    for model, param, pen, expected, why in models:
        if model is None:
            continue
        entry: dict[str, Any] = {"model": model, "parameterization": param,
                                 "penalty": "none" if pen is None else "l2",
                                 "C": None if pen is None else (
                                     C_soft if model == "softmax" else run.C),
                                 "expected_n_flat": expected, "expected_why": why}
        est, y = _minima_estimator(run, model, param, pen, entry["C"], y_soft, rows)
        if pen is None:
            sep = (sep_sub if model == "softmax" else
                   _sigmoid_separation(Xm, y, model, b.lp_seconds))
            if not (sep and sep["separated"] is False):
                entry["skipped"] = ("the classes are linearly separated on the subproblem (or "
                                    "it could not be decided): without a penalty there is no "
                                    "finite minimum to analyse")
                out["models"].append(entry)
                continue
        est, _, caught = _fit(est, Xm, y)
        entry["separable_warning"] = any(issubclass(w.category, SeparableWarning)
                                         for w in caught)
        obj = diag.objective_for(est, Xm, y)
        w = diag.params_of(est, obj)
        flat = diag.flat_directions(obj, w)
        flat.pop("null_basis")
        entry.update(flat)
        entry["matches_theory"] = bool(flat["n_flat"] == expected)
        rec = est.fit_record_
        entry["fit"] = {"converged": bool(rec.converged), "grad_norm": float(rec.grad_norm),
                        "n_iter": int(rec.n_iter), "objective": float(rec.objective)}
        if param != "reference":
            entry["random_starts"] = diag.random_starts(obj, n_starts=b.starts,
                                                        random_state=run.seed)
        out["models"].append(entry)
        run.progress(f"minima: {model} {entry['penalty']}")
    out["summary"] = _minima_summary(out, dm)
    run.problem.minima = out


def _minima_features(run: _Run, Xr: np.ndarray, y: np.ndarray
                     ) -> tuple[np.ndarray, list[str], str, dict[str, Any] | None]:
    """Features of the minima subproblem: full rank, few, and classes that overlap.

    Tries, in order, the first m principal components of the standardized
    features, the first m original features in pivoted-QR order (m from the
    budget's ``minima_features``), then single original features; keeps the
    first on which the linear program finds no separation (a finite
    unpenalized minimum exists). Returns ``(X_sub, names, how, separation)``.
    """
    from sklearn.decomposition import PCA

    b = run.budget
    tries: list[tuple[np.ndarray, list[str], str]] = []
    cols = diag.full_rank_columns(Xr)
    # PCA scores of a rank-r matrix beyond the r-th are zero: at most r components.
    m_max = min(max(b.minima_features), len(cols), Xr.shape[0] - 1)
    if m_max >= 1:
        pcs = PCA(n_components=m_max, random_state=run.seed).fit_transform(Xr)
        for m in sorted({min(m, m_max) for m in b.minima_features if m >= 1}, reverse=True):
            tries.append((pcs[:, :m], [f"PC{i + 1}" for i in range(m)],
                          f"the first {m} principal component(s) of the standardized "
                          "features"))
    for m in sorted({min(m, len(cols)) for m in b.minima_features}, reverse=True):
        if m > 1:
            tries.append((Xr[:, cols[:m]], [run.feature_names[j] for j in cols[:m]],
                          f"{m} standardized features (pivoted-QR order)"))
    for j in cols[:5]:
        tries.append((Xr[:, [j]], [run.feature_names[j]], "one standardized feature"))
    sep = None
    for Xm, names, how in tries:
        sep = diag.separation(Xm, y, time_limit=b.lp_seconds)
        if sep["separated"] is False:
            return Xm, names, how + (" ([X, 1] full column rank; the classes overlap, checked "
                                     "by linear program, so the unpenalized models have a "
                                     "finite minimum)"), sep
    Xm, names, how = tries[-1] if tries else (Xr[:, :1], run.feature_names[:1], "")
    return Xm, names, how + " (every choice tried is linearly separated)", sep


def _minima_estimator(run: _Run, model: str, param: str | None, pen: str | None,
                      C: float | None, y_soft: np.ndarray, rows: np.ndarray
                      ) -> tuple[Any, np.ndarray]:
    kw = {"penalty": pen, "tol": 1e-10, "max_iter": 500, "solver": "newton-cholesky"}
    if pen is not None:
        kw["C"] = C
    if model == "softmax":
        return SoftmaxRegression(parameterization=param, **kw), y_soft
    if model == "logistic":
        return LogisticRegression(**kw), y_soft
    if model == "ovr":
        return OneVsRestLogistic(**kw), y_soft
    return MultiLabelLogistic(**kw), _drop_constant(run.target.Y[rows])


def _drop_constant(Y: np.ndarray) -> np.ndarray:
    keep = (Y.min(axis=0) != Y.max(axis=0))
    return Y[:, keep]


def _sigmoid_separation(X: np.ndarray, y: np.ndarray, model: str, lp_seconds: float
                        ) -> dict[str, Any]:
    """Separation of every binary problem of a sigmoid model; separated if any one is."""
    if model == "logistic":
        return diag.separation(X, y, time_limit=lp_seconds)
    cols = (y if y.ndim == 2 else np.eye(int(y.max()) + 1, dtype=np.intp)[y]).astype(np.intp)
    results = [diag.separation(X, cols[:, j], time_limit=lp_seconds)
               for j in range(cols.shape[1])]
    states = [r["separated"] for r in results]
    sep = True if any(s is True for s in states) else (None if None in states else False)
    return {"separated": sep, "per_output": states}


def _separation(run: _Run) -> dict[str, Any]:
    """Is each candidate's training problem on all rows separated (no finite unpenalized minimum)?

    First the candidate is fitted without a penalty (``max_iter`` from the
    budget), recording the estimator's own ``SeparableWarning``: when that
    fit, or the L2 fit, classifies every row correctly it is a separating
    hyperplane (a proof of complete separation). Otherwise a linear program
    decides (:func:`sigmax.diagnostics.separation`), which also finds
    quasi-complete separation.
    """
    b = run.budget
    t = run.target
    out = {}
    for spec in _convex(run.specs):
        est = run.full[spec.name]
        y = _y_for(spec, t)
        est0, _, caught = _fit(spec.estimator(penalty=None, max_iter=b.unpenalized_max_iter),
                               run.Xs, y)
        rec = est0.fit_record_
        unpen = {
            "separable_warning": any(issubclass(w.category, SeparableWarning) for w in caught),
            "converged": bool(rec.converged), "n_iter": int(rec.n_iter),
            "coef_max_abs": float(np.max(np.abs(est0.coef_)))}
        fits = [np.asarray(m._logits(run.Xs), dtype=np.float64) for m in (est0, est)]
        if spec.family == "softmax" or spec.name == "logistic":
            codes = np.searchsorted(est.classes_, y)
            if spec.name == "logistic":
                fits = [np.column_stack([-Z[:, 0], Z[:, 0]]) for Z in fits]
            if any(diag.separates(Z, codes) for Z in fits):
                entry = {"separated": True, "kind": "complete", "how": (
                    "a fitted model classifies every row correctly: it is a separating "
                    "hyperplane (complete separation)")}
            else:
                s = diag.separation(run.Xs, codes, time_limit=b.lp_seconds)
                entry = {"separated": s["separated"], "kind": s["kind"], "how": s["method"]}
        else:
            Y = y if y.ndim == 2 else np.eye(fits[0].shape[1])[np.searchsorted(est.classes_, y)]
            states: list[bool | None] = [None] * Y.shape[1]
            kinds: list[str | None] = [None] * Y.shape[1]
            # Rarest outputs first (the likeliest to be separated); the linear programs
            # share one time budget per candidate, outputs left over stay undecided.
            deadline = time.perf_counter() + b.lp_seconds
            for j in np.argsort(Y.sum(axis=0), kind="stable"):
                sign = 2 * Y[:, j] - 1
                if any(np.all(sign * Z[:, j] > 0) for Z in fits):
                    states[j], kinds[j] = True, "complete"
                    continue
                left = deadline - time.perf_counter()
                # With many outputs one separated output settles the model: stop there.
                if left <= 0.05 or (Y.shape[1] > 10 and True in states):
                    continue
                s = diag.separation(run.Xs, Y[:, j].astype(np.intp), time_limit=left)
                states[j], kinds[j] = s["separated"], s["kind"]
            names = ([str(n) for n in t.names] if spec.target == "indicator" else
                     [t.names[c] for c in est.classes_] if spec.target == "codes" else
                     [" & ".join(t.names[j] for j in np.flatnonzero(t.set_matrix[c]))
                      or "(none)" for c in est.classes_])
            entry = {"separated": True if any(s is True for s in states) else (
                None if None in states else False),
                "kind": ("complete" if "complete" in kinds else
                         "quasi-complete" if "quasi-complete" in kinds else None),
                "how": ("per output: a fitted model separates it, else a linear program "
                        f"(HiGHS) on its binary problem, rarest outputs first, "
                        f"{b.lp_seconds:g} s in all (with more than 10 outputs, until one is "
                        "separated)"),
                "outputs_separated": [n for n, s in zip(names, states) if s],
                "outputs_undecided": int(sum(s is None for s in states))}
        entry["unpenalized_fit"] = unpen
        out[spec.name] = entry
    return out


def _minima_summary(out: dict[str, Any], dm: int) -> list[str]:
    s = []
    by = {(m["model"], m["parameterization"], m["penalty"]): m for m in out["models"]}
    sym0 = by.get(("softmax", "symmetric", "none"))
    if sym0 and "n_flat" in sym0:
        rs = sym0.get("random_starts", {})
        s.append(
            f"Unpenalized softmax (symmetric): the Hessian at the optimum has {sym0['n_flat']} "
            f"zero eigenvalues (expected d+1 = {dm + 1}: {sym0['n_flat_coef']} coefficient "
            f"direction(s) + {sym0['n_flat_intercept']} intercept shift); moving one unit along "
            f"them changes no probability (max change {sym0['max_prob_change']:.1e}) and the "
            f"loss by {sym0['max_objective_change']:.1e}. {rs.get('n_starts', 0)} random starts "
            f"reached coefficients up to {rs.get('coef_spread', float('nan')):.3g} apart with "
            f"losses within {rs.get('objective_spread', float('nan')):.1e}: infinitely many "
            "minima, one set of predictions.")
    elif sym0:
        s.append(f"Unpenalized softmax: {sym0.get('skipped', '')}.")
    sym2 = by.get(("softmax", "symmetric", "l2"))
    if sym2 and "n_flat" in sym2:
        rs = sym2.get("random_starts", {})
        s.append(
            f"With L2 (C={sym2['C']:g}): {sym2['n_flat_coef']} flat coefficient directions "
            f"(smallest coefficient eigenvalue {sym2['smallest_nonzero_eigenvalue']:.2e}): the "
            f"coefficients are unique ({rs.get('n_starts', 0)} random starts agree to "
            f"{rs.get('coef_spread', float('nan')):.1e}); only the common intercept shift "
            f"remains flat ({sym2['n_flat_intercept']} direction, max probability change "
            f"{sym2['max_prob_change']:.1e}).")
    ref = by.get(("softmax", "reference", "none"))
    if ref and "n_flat" in ref:
        s.append(f"Reference parameterization (class 0 fixed at 0), no penalty: "
                 f"{ref['n_flat']} flat directions, a unique minimum.")
    for m in out["models"]:
        if m["model"] != "softmax" and "n_flat" in m:
            s.append(f"{m['model']} ({m['penalty']}): {m['n_flat']} flat directions, "
                     f"smallest eigenvalue {m['smallest_nonzero_eigenvalue']:.2e}: a unique "
                     "minimum.")
    seps = out.get("separation", {})
    sep_names = [f"{n} ({e.get('kind') or 'separated'})" for n, e in seps.items()
                 if e.get("separated")]
    if sep_names:
        s.append(f"On all rows the training data are linearly separated for "
                 f"{', '.join(sep_names)}: without a penalty these have no finite minimum (the "
                 "loss keeps decreasing as the coefficients grow); the L2 penalty is what makes "
                 "the fit defined.")
    quiet = [n for n, e in seps.items() if e.get("separated")
             and not e.get("unpenalized_fit", {}).get("separable_warning")]
    if quiet:
        s.append(f"The unpenalized fit of {', '.join(quiet)} raised no SeparableWarning: the "
                 "estimators warn only when their fit classifies every row correctly (a proof "
                 "of complete separation); quasi-complete separation, or a fit stopped early, "
                 "is found by the linear program.")
    clear = [n for n, e in seps.items() if e.get("separated") is False]
    if clear:
        s.append(f"For {', '.join(clear)} the classes overlap on all rows (linear program): "
                 "the unpenalized minimum is finite.")
    return s


def _k2(run: _Run) -> None:
    t = run.target
    if t.task == "binary":
        rows = np.arange(t.n_samples)
        y = t.codes
        problem = f"the two classes {t.names[0]!r} and {t.names[1]!r}, all rows"
    elif t.task == "multiclass":
        top = np.argsort(-np.bincount(t.codes), kind="stable")[:2]
        rows = np.flatnonzero(np.isin(t.codes, top))
        y = (t.codes[rows] == top[1]).astype(np.intp)
        problem = (f"classes {t.names[top[0]]!r} vs {t.names[top[1]]!r} (the two most "
                   f"frequent), {len(rows)} rows")
    else:
        prev = t.Y.mean(axis=0)
        j = int(np.argmin(np.abs(prev - 0.5)))
        rows = np.arange(t.n_samples)
        y = t.Y[:, j].astype(np.intp)
        problem = (f"label {t.names[j]!r} present vs absent (the label closest to 50% "
                   f"prevalence: {prev[j]:.0%}), all rows")
    X = StandardScaler().fit_transform(run.X[rows])
    out: dict[str, Any] = {"problem": problem}
    out.update(diag.k2_equivalence(X, y, C=run.C))
    if t.task == "multilabel":
        Xs = run.Xs
        kw = {"C": run.C, "solver": "newton-cholesky", "tol": 1e-10}
        ml = MultiLabelLogistic(**kw).fit(Xs, t.Y)
        coef_diff, prob_diff = 0.0, 0.0
        for j in range(t.Y.shape[1]):
            lr = LogisticRegression(**kw).fit(Xs, t.Y[:, j])
            coef_diff = max(coef_diff, float(np.max(np.abs(lr.coef_[0] - ml.coef_[j]))),
                            abs(float(lr.intercept_[0] - ml.intercept_[j])))
            prob_diff = max(prob_diff, float(np.max(np.abs(
                lr.predict_proba(Xs)[:, 1] - ml.predict_proba(Xs)[:, j]))))
        out["ovr_per_label"] = {"max_abs_coef_diff": coef_diff, "max_abs_prob_diff": prob_diff}
    summary = [
        f"On {problem}: logistic regression at C={out['C_logistic']:g} and two-class softmax "
        f"at C={out['C_softmax']:g} give the same probabilities to "
        f"{out['max_abs_prob_diff']:.1e}; the logistic coefficients equal w1 - w0 of the "
        f"softmax to {out['max_abs_coef_diff']:.1e} (intercept {out['abs_intercept_diff']:.1e}), "
        f"and w0 = -w1 to {out['max_abs_symmetry']:.1e}.",
        f"With the same C for both (no mapping) the probabilities differ by up to "
        f"{out['same_C_max_abs_prob_diff']:.3g}: the C/2 mapping is what makes them equal.",
        f"One-vs-rest with two classes equals logistic to {out['ovr_max_abs_prob_diff']:.1e}.",
    ]
    unp = out.get("unpenalized", {})
    if "max_abs_prob_diff" in unp:
        summary.append(f"Without a penalty (no C to map) they agree to "
                       f"{unp['max_abs_prob_diff']:.1e}.")
    elif "skipped" in unp:
        summary.append(f"Without a penalty: not compared, {unp['skipped']}.")
    if "ovr_per_label" in out:
        summary.append(
            f"One-vs-rest over the labels (L separate logistic fits) equals the independent "
            f"sigmoids: coefficients agree to {out['ovr_per_label']['max_abs_coef_diff']:.1e}.")
    out["summary"] = summary
    run.problem.k2_equivalence = out
    run.progress("K=2 equivalence")


def _round(a: np.ndarray, digits: int = 4) -> list:
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def _visualization(run: _Run) -> None:
    b = run.budget
    t = run.target
    out: dict[str, Any] = {}
    if run.oof:
        out["confusion"], out["reliability"] = {}, {}
        for name, p in run.oof.items():
            if t.task != "multilabel":
                K = t.n_classes
                cm = np.zeros((K, K), dtype=int)
                np.add.at(cm, (t.codes, p["pred"]), 1)
                out["confusion"][name] = cm.tolist()
                prob = np.exp(p["log_proba"])
                conf = prob[np.arange(t.n_samples), p["pred"]]
                out["reliability"][name] = reliability_bins(conf, p["pred"] == t.codes)
            else:
                marg = p["log_p1"] > p["log_p0"]
                out["confusion"][name] = {
                    lab: [[int(np.sum(~marg[:, j] & (t.Y[:, j] == 0))),
                           int(np.sum(marg[:, j] & (t.Y[:, j] == 0)))],
                          [int(np.sum(~marg[:, j] & (t.Y[:, j] == 1))),
                           int(np.sum(marg[:, j] & (t.Y[:, j] == 1)))]]
                    for j, lab in enumerate(t.names)}
                out["reliability"][name] = reliability_bins(np.exp(p["log_p1"]).ravel(),
                                                            t.Y.ravel())
    if t.task != "multilabel":
        out["class_counts"] = np.bincount(t.codes, minlength=t.n_classes).tolist()
    out["pca"] = _pca(run)
    run.progress("visualization: PCA decision regions")
    if t.task != "multilabel" and t.n_classes >= 3 and run.oof:
        top = np.argsort(-np.bincount(t.codes), kind="stable")[:3]
        rows = np.flatnonzero(np.isin(t.codes, top))
        rng = np.random.default_rng(run.seed)
        if len(rows) > b.simplex_points:
            rows = np.sort(rng.choice(rows, size=b.simplex_points, replace=False))
        sim = {"classes": [t.names[c] for c in top], "conditional": bool(t.n_classes > 3),
               "candidates": {}}
        for name, p in run.oof.items():
            P = np.exp(p["log_proba"][rows][:, top])
            P /= P.sum(axis=1, keepdims=True)
            sim["candidates"][name] = {"p": _round(P),
                                       "y": [int(np.flatnonzero(top == c)[0])
                                             for c in t.codes[rows]]}
        out["simplex"] = sim
    if t.task == "multilabel":
        from .advise import label_structure

        s = label_structure(t)
        order = np.argsort(-np.bincount(t.set_codes), kind="stable")[:10]
        out["labels"] = {
            "names": t.names, "prevalence": t.Y.mean(axis=0).tolist(),
            "cooccurrence": s["cooccurrence"], "lift": s["lift"],
            "cardinality": s["cardinality"],
            "top_label_sets": [{"labels": [t.names[j] for j in np.flatnonzero(t.set_matrix[c])],
                                "count": int(np.sum(t.set_codes == c))} for c in order],
            "f1": {c.name: [float(np.mean(c.metrics[f"f1:{lab}"])) for lab in t.names]
                   for c in run.problem.candidates if f"f1:{t.names[0]}" in c.metrics},
        }
    run.problem.visualization = out


def _pca(run: _Run) -> dict[str, Any]:
    from sklearn.decomposition import PCA

    b = run.budget
    t = run.target
    pca = PCA(n_components=min(2, run.Xs.shape[1]), random_state=run.seed)
    P = pca.fit_transform(run.Xs)
    if P.shape[1] == 1:
        P = np.column_stack([P[:, 0], np.zeros(len(P))])
    rng = np.random.default_rng(run.seed)
    pts = np.sort(rng.choice(len(P), size=min(b.points, len(P)), replace=False))
    g = b.grid if t.task != "multilabel" else b.grid_multilabel
    lo, hi = P.min(axis=0), P.max(axis=0)
    pad = 0.05 * (hi - lo + 1e-12)
    gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], g)
    gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], g)
    GX, GY = np.meshgrid(gx, gy)
    grid = np.column_stack([GX.ravel(), GY.ravel()])
    out: dict[str, Any] = {
        "explained_variance_ratio": [float(v) for v in pca.explained_variance_ratio_],
        "points": {"x": _round(P[pts, 0]), "y": _round(P[pts, 1])},
        "grid": {"x": _round(gx), "y": _round(gy), "fit_score": {}, "predictions": {}},
    }
    if t.task != "multilabel":
        out["points"]["label"] = t.codes[pts].tolist()
    else:
        out["points"]["labels"] = t.Y[pts].astype(int).tolist()
    for spec in run.specs:
        try:
            est, _, _ = _fit(spec.make(run.C), P, _y_for(spec, t))
        except ValueError as exc:  # pragma: no cover - a hook candidate refusing 2-D input
            out["grid"]["predictions"][spec.name] = {"skipped": str(exc)}
            continue
        pred = _predict(spec, est, grid, t)
        train = _predict(spec, est, P, t)
        if t.task != "multilabel":
            lp = pred["log_proba"]
            out["grid"]["predictions"][spec.name] = {
                "class": pred["pred"].reshape(g, g).tolist(),
                "confidence": _round(np.exp(lp.max(axis=1)).reshape(g, g), 3)}
            out["grid"]["fit_score"][spec.name] = float(np.mean(train["pred"] == t.codes))
        else:
            out["grid"]["predictions"][spec.name] = {"proba": {
                lab: _round(np.exp(pred["log_p1"][:, j]).reshape(g, g), 3)
                for j, lab in enumerate(t.names)}}
            out["grid"]["fit_score"][spec.name] = float(
                1 - np.mean((train["log_p1"] > train["log_p0"]) != t.Y))
    return out


# -- public API ------------------------------------------------------------------------------
def _environment(threads: int, placement: dict[str, Any] | None = None) -> dict[str, Any]:
    import os
    import sys

    import scipy
    import sklearn

    from .. import __version__

    backend = (placement or {}).get("backend", "numpy")
    extra: dict[str, Any] = {}
    if backend == "torch":
        import torch

        extra["torch"] = torch.__version__
        dev = _cuda_device(placement or {})
        if dev is not None:
            extra["gpu"] = torch.cuda.get_device_name(dev)
    elif backend == "dask":
        import dask
        import distributed

        extra.update({"dask": dask.__version__, "distributed": distributed.__version__})
    return {
        "python": sys.version.split()[0], "platform": platform.platform(),
        "cpu_count": os.cpu_count(), "sigmax": __version__, "numpy": np.__version__,
        "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
        "blas": [{"library": i.get("internal_api"), "version": i.get("version"),
                  "threads": min(i.get("num_threads", 1), threads)} for i in threadpool_info()
                 if i.get("user_api") == "blas"],
        **extra,
    }


def _sections(sections: Sequence[str] | str | None) -> list[str]:
    if sections is None:
        return list(SECTIONS)
    if isinstance(sections, str):
        sections = [s.strip() for s in sections.split(",") if s.strip()]
    out = []
    for s in sections:
        key = _ALIASES.get(s, s)
        if key not in SECTIONS:
            raise ValueError(f"Unknown section {s!r}; choose from {', '.join(SECTIONS)} "
                             "(or 'k2').")
        out.append(key)
    return [s for s in SECTIONS if s in out]


#: Keys of ``compare(estimator_params=...)``: where the candidate fits run.
ESTIMATOR_PARAMS: tuple[str, ...] = ("backend", "device")

#: What stays on NumPy whatever the backend (named in the notes).
_NUMPY_SECTIONS = ("gradient timings and the K sweep, derivative checks, minima and Hessian "
                   "spectrum, separation, K=2 equivalence, PCA decision regions")


def _check_estimator_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """``estimator_params`` checked: ``{"backend": name}`` plus the torch ``"device"``.

    The study's arrays are NumPy, so ``backend="auto"`` is NumPy, or torch when
    ``device`` names an accelerator (:func:`sigmax.backends.infer_backend`). The
    torch device is resolved (``"auto"`` -> ``"cuda"`` or ``"cpu"``). ``None``
    gives ``{}``: every candidate on its default backend (NumPy).

    Raises
    ------
    ValueError
        A key other than ``backend`` / ``device``, an unknown backend, or a
        device the backend cannot use (a GPU that torch does not see).
    ImportError
        The backend's library is not installed (the message says what to install).
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValueError(f"estimator_params must be a dict such as {{'backend': 'torch', "
                         f"'device': 'cuda'}}; got {type(params).__name__}.")
    bad = [str(k) for k in params if k not in ESTIMATOR_PARAMS]
    if bad:
        raise ValueError(
            f"estimator_params takes only 'backend' and 'device' (where the candidate fits "
            f"run); got {', '.join(map(repr, bad))}. The study sets every other parameter "
            "itself so that the candidates are fitted alike (the penalty: compare(C=...)).")
    backend, device = params.get("backend", "auto"), params.get("device")
    if not isinstance(backend, str):
        raise ValueError(f"estimator_params['backend'] must be a backend name ('auto', "
                         f"'numpy', 'torch', 'dask'); got {backend!r}.")
    if device is not None and not isinstance(device, str):
        raise ValueError(f"estimator_params['device'] must be None or a device name such as "
                         f"'cpu', 'cuda' or 'cuda:1'; got {device!r}.")
    from ..backends import resolve_backend

    name = resolve_backend(backend, np.empty((1, 1)), device).name
    out: dict[str, Any] = {"backend": name}
    if name == "torch":
        from ..backends.torch_backend import _torch_device

        out["device"] = str(_torch_device(device, None))
    return out


def _placement(params: dict[str, Any]) -> dict[str, Any]:
    """``backend``, ``device`` and ``scheduler`` of the candidate fits, for the settings."""
    backend = params.get("backend", "numpy")
    scheduler = None
    if backend == "dask":
        from ..backends.dask_backend import _client

        client = _client()
        scheduler = (client.scheduler.address if client is not None
                     else "local threads (no dask.distributed client)")
    return {"backend": backend, "device": params.get("device"), "scheduler": scheduler}


def _placement_text(params: dict[str, Any]) -> str:
    where = _placement(params)
    extra = (f" (device {where['device']})" if where["device"] else
             f" (scheduler {where['scheduler']})" if where["scheduler"] else "")
    return f"the {where['backend']} backend{extra}"


def _check_options(cv: int, repeats: int, C: float, threads: int,
                   max_samples: int | None) -> None:
    def bad_int(v: Any, lo: int) -> bool:
        return isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo

    if bad_int(cv, 2):
        raise ValueError(f"cv must be an integer >= 2 (the number of folds); got {cv!r}.")
    if bad_int(repeats, 1):
        raise ValueError(f"repeats must be an integer >= 1; got {repeats!r}.")
    if isinstance(C, bool) or not isinstance(C, (int, float, np.floating)) or not C > 0 \
            or not np.isfinite(C):
        raise ValueError(f"C must be a positive finite number (the inverse L2 strength); got "
                         f"{C!r}.")
    if bad_int(threads, 1):
        raise ValueError(f"threads must be an integer >= 1; got {threads!r}.")
    if max_samples is not None and bad_int(max_samples, 10):
        raise ValueError(f"max_samples must be None or an integer >= 10; got {max_samples!r}.")


def compare_problem(X: Any, y: Any, *, name: str = "data", description: str = "",
                    cv: int = 5, repeats: int = 1, C: float = 1.0, random_state: int = 0,
                    sections: Sequence[str] | str | None = None, quick: bool = False,
                    progress: ProgressCallback | None = None, threads: int = 1,
                    max_samples: int | None = None, feature_names: Sequence[str] | None = None,
                    notes: Sequence[str] = (),
                    estimator_params: Mapping[str, Any] | None = None) -> ProblemResult:
    """Study one dataset; see :func:`compare` (which wraps this in a :class:`CompareResult`)."""
    _check_options(cv, repeats, C, threads, max_samples)
    placement = _check_estimator_params(estimator_params)
    secs = _sections(sections)
    try:
        y_len = int(y.shape[0]) if hasattr(y, "shape") else (None if y is None else len(y))
    except TypeError:
        y_len = None
    Xa, names, x_notes = _check_X(X, y_len)
    target = encode_target(y, n_samples=Xa.shape[0], min_per_class=2)
    if feature_names is not None:
        names = [str(f) for f in feature_names]
        if len(names) != Xa.shape[1]:
            raise ValueError(f"feature_names has {len(names)} names for {Xa.shape[1]} columns.")
    budget = _QUICK if quick else _FULL
    seed = int(random_state)
    all_notes = list(notes) + x_notes
    if max_samples is not None and Xa.shape[0] > max_samples:
        idx = _subsample(Xa.shape[0], target.strata, max_samples, seed)
        all_notes.append(f"subsampled {max_samples} of {Xa.shape[0]} rows (stratified, "
                         f"seed {seed})")
        Xa = Xa[idx]
        target = encode_target(_restore(target, idx), n_samples=len(idx), min_per_class=2)
    n_folds = min(cv, budget.max_folds) if budget.max_folds else cv
    if Xa.shape[0] < 2 * n_folds:
        raise ValueError(f"{Xa.shape[0]} rows are too few for {n_folds}-fold cross-validation; "
                         "use a smaller cv or more data.")
    if target.task == "multilabel" and "performance" in secs:
        # Every training fold must see each label both present and absent.
        pos = target.Y.sum(axis=0)
        few = [f"{name!r} ({int(min(p, len(target.Y) - p))})"
               for name, p in zip(target.names, pos) if min(p, len(target.Y) - p) < n_folds]
        if few:
            raise ValueError(
                f"Label(s) {', '.join(few[:5])} have fewer rows on one side (present or "
                f"absent) than the {n_folds} folds of cross-validation; drop those label "
                "columns or use a smaller cv.")
    specs = []
    for spec in CANDIDATES[target.task]:
        why = spec.applies(target, quick) if spec.applies is not None else None
        if why is None:
            specs.append(spec)
        elif why not in all_notes:
            all_notes.append(why)
    if placement.get("backend", "numpy") != "numpy":
        all_notes.append(f"candidate fits (on all rows and in cross-validation) ran on "
                         f"{_placement_text(placement)}; the diagnostics on small "
                         f"subproblems ran on NumPy ({_NUMPY_SECTIONS})")
    problem = ProblemResult(
        dataset=name, task=target.task, n_samples=int(Xa.shape[0]),
        n_features=int(Xa.shape[1]), n_classes=target.n_classes, class_names=target.names,
        description=description, feature_names=names, notes=all_notes)
    n_cv = n_folds * repeats * len(specs) if "performance" in secs else 0
    extra = {"computation": len(specs) + len(budget.k_sweep), "derivatives": len(specs),
             "minima": 6, "k2_equivalence": 1, "visualization": 1, "advice": 1}
    total = len(specs) + n_cv + sum(extra[s] for s in secs if s in extra)
    state = {"done": 0}

    def tick(step: str) -> None:
        state["done"] = min(state["done"] + 1, total)
        if progress is not None:
            progress(f"{name}: {step}", state["done"], total)

    if progress is not None:
        progress(f"{name}: start", 0, total)
    t_all = time.perf_counter()
    with threadpool_limits(limits=threads):
        scaler = StandardScaler().fit(Xa)
        run = _Run(name=name, X=Xa, Xs=scaler.transform(Xa), target=target,
                   feature_names=names, specs=specs, C=float(C), budget=budget, seed=seed,
                   progress=tick, problem=problem, threads=threads,
                   estimator_params=placement)
        _warm_up(run)
        t0 = time.perf_counter()
        _full_fits(run)
        problem.seconds["full_fits"] = time.perf_counter() - t0
        steps = {"performance": lambda: _performance(run, n_folds, repeats),
                 "computation": lambda: _computation(run),
                 "derivatives": lambda: _derivatives(run),
                 "minima": lambda: _minima(run),
                 "k2_equivalence": lambda: _k2(run),
                 "visualization": lambda: _visualization(run)}
        for sec in secs:
            if sec in steps:
                t0 = time.perf_counter()
                steps[sec]()
                problem.seconds[sec] = time.perf_counter() - t0
        if "advice" in secs:
            t0 = time.perf_counter()
            problem.advice = advise(target, result=problem).to_dict()
            problem.seconds["advice"] = time.perf_counter() - t0
            tick("advice")
    problem.seconds["total"] = time.perf_counter() - t_all
    if progress is not None:
        progress(f"{name}: done", total, total)
    return problem


def _restore(target: Target, idx: np.ndarray) -> Any:
    """The target rows ``idx`` in a form :func:`encode_target` reads back."""
    if target.task == "multilabel":
        return pd.DataFrame(target.Y[idx], columns=target.names)
    return np.asarray(target.names, dtype=object)[target.codes[idx]]


def compare(X: Any, y: Any, *, name: str = "data", description: str = "", cv: int = 5,
            repeats: int = 1, C: float = 1.0, random_state: int = 0,
            sections: Sequence[str] | str | None = None, quick: bool = False,
            progress: ProgressCallback | None = None, threads: int = 1,
            max_samples: int | None = None, feature_names: Sequence[str] | None = None,
            notes: Sequence[str] = (),
            estimator_params: Mapping[str, Any] | None = None) -> CompareResult:
    """Fit logistic, softmax, one-vs-rest and multi-label models side by side and measure.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
        Numeric features (a DataFrame's column names become the feature names).
    y : array-like of shape (n_samples,) or (n_samples, n_labels), DataFrame, or list of sets
        Class labels (2 classes: binary; more: multiclass), or a 0/1 indicator
        matrix / DataFrame with one column per label / list of label sets
        (multi-label).
    name, description : str
        For the report.
    cv : int, default=5
        Folds (``quick`` caps them at 3).
    repeats : int, default=1
        Repetitions of the k-fold split (more folds for the paired tests).
    C : float, default=1.0
        Inverse L2 strength shared by the candidates (two-class softmax gets
        ``C/2``, its exact equivalent; see the module docstring).
    random_state : int, default=0
        Seed of the folds, subsamples and random starts.
    sections : list of str or comma-separated str, optional
        Subset of :data:`SECTIONS` (default all). The candidates are always
        fitted once on all rows.
    quick : bool, default=False
        Smaller sizes everywhere (3 folds, K sweep 2..8, smaller subproblems
        and grids): for tests and previews.
    progress : callable, optional
        ``progress(step: str, done: int, total: int)``: called once with
        ``done=0`` (``step`` ``"<name>: start"``), after each unit of work
        (``step`` ``"<name>: <what just ran>"``, e.g. ``"digits: fold 2/5:
        softmax"``), and last with ``done == total`` (``"<name>: done"``);
        ``done`` counts this dataset's units and never decreases.
    threads : int, default=1
        BLAS threads during the study (timings are like for like at 1).
    max_samples : int, optional
        Subsample larger data to this many rows (stratified).
    feature_names : sequence of str, optional
        Overrides the names of ``X``'s columns.
    notes : sequence of str
        What was done to the data before (shown in the report).
    estimator_params : dict, optional
        Where the candidate fits run: ``{"backend": "torch", "device": "cuda"}``,
        ``{"backend": "dask"}`` (on the connected ``dask.distributed`` client,
        else on local threads), ``{"backend": "numpy"}``; no other keys. Used
        for every fit of a candidate, on all rows and in cross-validation;
        a candidate that cannot use the backend keeps its default and says so
        in its notes. The diagnostics on small subproblems (gradient timings,
        K sweep, derivative checks, minima, separation, K=2, PCA regions) run
        on NumPy. ``settings`` records ``backend``, ``device`` and
        ``scheduler``.

    Returns
    -------
    CompareResult
        One :class:`ProblemResult`; all keys are listed in this module's docstring.

    Raises
    ------
    ValueError
        One line saying what is wrong and how to fix it: non-numeric
        features (which columns), missing values (how many, where),
        mismatched lengths, one class, a continuous target, bad options.
    ImportError
        ``estimator_params`` names a backend whose library is not installed.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> import sigmax
    >>> X, y = load_iris(return_X_y=True)
    >>> res = sigmax.compare(X, y, quick=True, sections=["performance", "advice"])
    >>> res.problems[0].advice["model"]
    'softmax'
    """
    placement = _check_estimator_params(estimator_params)
    problem = compare_problem(X, y, name=name, description=description, cv=cv,
                              repeats=repeats, C=C, random_state=random_state,
                              sections=sections, quick=quick, progress=progress,
                              threads=threads, max_samples=max_samples,
                              feature_names=feature_names, notes=notes,
                              estimator_params=placement or None)
    budget = _QUICK if quick else _FULL
    settings = {
        "cv": int(min(cv, budget.max_folds) if budget.max_folds else cv),
        "repeats": int(repeats), "C": float(C), "random_state": int(random_state),
        "sections": _sections(sections), "quick": bool(quick), "threads": int(threads),
        "max_samples": max_samples,
        "preprocessing": "StandardScaler fitted on the training rows of each fold",
        **_placement(placement),
        "budget": budget.to_dict(),
    }
    return CompareResult(problems=[problem], settings=settings,
                         environment=_environment(threads, placement))
