r"""Which model to use, and why: from the structure of the labels and the measured numbers.

:func:`advise` answers from ``y`` alone (the label structure decides the
family: binary -> logistic, exclusive classes -> softmax, non-exclusive labels
-> independent sigmoids) and, when given the :class:`ProblemResult` of
``sigmax compare``, checks that choice against the cross-validated numbers and
switches when another candidate is measurably better.

:func:`encode_target` reads every accepted form of ``y`` (class labels,
0/1 indicator matrix, DataFrame with several target columns, list of label
sets) into one :class:`Target`, and rejects bad targets with a one-line,
actionable ``ValueError``; the study uses it too.

Hook for mixed heads
--------------------
When some labels never co-occur (they form groups of mutually exclusive
classes, e.g. one genre group plus independent flags), a model with one
softmax head per group and sigmoid heads for the rest can beat both pure
choices. :data:`LABEL_GROUPS_HOOK` is a function ``(Y, names) -> list of
label-name groups`` (groups of >= 2 labels that never co-occur, or ``[]``);
by default :func:`sigmax.labels.exclusive_groups`, which only groups labels
whose never co-occurring is significant (see :mod:`sigmax.labels`).
:func:`advise` then recommends the candidate named :data:`MIXED_CANDIDATE`
(registered in :data:`sigmax.study.candidates.CANDIDATES`) when groups exist and,
with measured numbers, when it is not measurably worse. ``label_structure``
also reports the suggested head layout and its evidence (``head_layout``).
Set the hook to ``None`` to report never-co-occurring pairs as facts only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..labels import discover_heads, exclusive_groups
from .verdict import BASELINE, decide

__all__ = ["LABEL_GROUPS_HOOK", "MIXED_CANDIDATE", "Advice", "Target", "advise",
           "encode_target", "label_structure"]

#: Hook (see the module docstring): ``(Y (n, L) 0/1, label names) -> groups of label names``.
LABEL_GROUPS_HOOK: Callable[[np.ndarray, list[str]], list[list[str]]] | None = exclusive_groups
#: Name of the candidate with softmax heads for label groups and sigmoid heads for the rest.
MIXED_CANDIDATE = "mixed"

#: The model each label structure calls for, before any measurement.
STRUCTURAL_CHOICE: dict[str, str] = {
    "binary": "logistic",
    "multiclass": "softmax",
    "multilabel": "multilabel",
    "exclusive_labels": "softmax",
}

#: Candidate name -> ``sigmax fit --model`` name: the models the advice may recommend.
FIT_MODEL: dict[str, str] = {"logistic": "logistic", "softmax": "softmax", "ovr": "ovr",
                             "multilabel": "multilabel", "mixed": "mixed"}

#: Estimator class of each candidate name the advice can name.
ESTIMATOR_OF: dict[str, str] = {
    "logistic": "LogisticRegression",
    "softmax": "SoftmaxRegression",
    "ovr": "OneVsRestLogistic",
    "multilabel": "MultiLabelLogistic",
    "powerset": "SoftmaxRegression",
    "powerset_ovr": "OneVsRestLogistic",
    "mixed": "MultiLabelHeads",
    "multitask": "MultiLabelHeads",
}


# -- the target ------------------------------------------------------------------------------
@dataclass
class Target:
    """A classification target in the encodings the study needs.

    Attributes
    ----------
    task : {"binary", "multiclass", "multilabel"}
    names : list of str
        Class names (single-label) or label names (multi-label).
    codes : ndarray of shape (n,) or None
        Class codes ``0..K-1`` (single-label).
    Y : ndarray of shape (n, L) or None
        0/1 indicator matrix (multi-label).
    set_codes : ndarray of shape (n,) or None
        Multi-label: id of each row's label set (powerset class).
    set_matrix : ndarray of shape (S, L) or None
        Multi-label: the distinct label sets, row ``s`` is set ``s``.
    """

    task: str
    names: list[str]
    codes: np.ndarray | None = None
    Y: np.ndarray | None = None
    set_codes: np.ndarray | None = None
    set_matrix: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return len(self.codes) if self.codes is not None else self.Y.shape[0]

    @property
    def n_classes(self) -> int:
        return len(self.names)

    @property
    def strata(self) -> np.ndarray:
        """Codes to stratify folds on: classes, or label sets for multi-label."""
        return self.codes if self.codes is not None else self.set_codes

    def subset(self, idx: np.ndarray) -> Target:
        """The target restricted to rows ``idx`` (codes and set ids kept global)."""
        return Target(self.task, self.names,
                      None if self.codes is None else self.codes[idx],
                      None if self.Y is None else self.Y[idx],
                      None if self.set_codes is None else self.set_codes[idx],
                      self.set_matrix)


def _rows(index: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(int(i)) for i in index[:limit])
    more = f" and {len(index) - limit} more" if len(index) > limit else ""
    return f"row{'s' if len(index) > 1 else ''} {shown}{more}"


def _is_label_sets(y: Any) -> bool:
    if isinstance(y, (np.ndarray, pd.Series, pd.DataFrame)) or sp.issparse(y):
        return False
    try:
        rows = list(y)
    except TypeError:
        return False
    return bool(rows) and all(isinstance(r, (set, frozenset)) for r in rows)


def _check_length(n: int, n_samples: int | None) -> None:
    if n_samples is not None and n != n_samples:
        raise ValueError(f"X has {n_samples} rows but y has {n}: they must have the same "
                         "length (one label, or one row of labels, per row of X).")


def _indicator(Y: np.ndarray, names: list[str], n_samples: int | None) -> Target:
    _check_length(Y.shape[0], n_samples)
    if Y.dtype == bool:
        Y = Y.astype(np.float64)
    if Y.dtype.kind not in "biuf":
        try:
            Y = Y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                "A 2-D y must be a 0/1 indicator matrix (one column per label); it has "
                "non-numeric entries. For class labels pass a 1-D y.") from None
    Y = Y.astype(np.float64)
    bad = ~np.isfinite(Y)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        cols = [names[j] for j in np.flatnonzero(bad.any(axis=0))]
        raise ValueError(
            f"y has {int(bad.sum())} missing (NaN) or infinite label entries, in label "
            f"column(s) {cols[:5]} at {_rows(rows)} (rows counted from 0); the study needs "
            "every label of every row: drop those rows or fill them with 0/1.")
    values = np.unique(Y)
    if not np.all(np.isin(values, (0.0, 1.0))):
        raise ValueError(
            f"A 2-D y must be a 0/1 indicator matrix (one column per label); it has values "
            f"{values[~np.isin(values, (0.0, 1.0))][:5].tolist()}. For one column of class "
            "labels pass a 1-D y.")
    for j, name in enumerate(names):
        pos = int(Y[:, j].sum())
        if pos == 0 or pos == len(Y):
            state = "never" if pos == 0 else "always"
            raise ValueError(
                f"Label {name!r} is {state} present (one class only), so nothing can be "
                f"learned about it; drop that label column.")
    sets, set_codes = np.unique(Y.astype(np.int8), axis=0, return_inverse=True)
    return Target("multilabel", names, None, Y, set_codes.ravel().astype(np.intp),
                  sets.astype(np.int64))


def encode_target(y: Any, n_samples: int | None = None, min_per_class: int = 1) -> Target:
    """Read ``y`` in any accepted form; reject bad targets with an actionable message.

    Parameters
    ----------
    y : array-like of shape (n,), (n, L), DataFrame, sparse matrix, or list of sets
        Class labels (binary / multiclass); a 0/1 indicator matrix or a
        DataFrame with one 0/1 column per label (multi-label); or a list of
        label sets (``[{"comedy"}, {"comedy", "drama"}, set()]``).
    n_samples : int, optional
        Rows of ``X``, to check that ``y`` matches.
    min_per_class : int, default=1
        Fewest rows a class may have (cross-validation needs 2).

    Returns
    -------
    Target

    Raises
    ------
    ValueError
        Missing labels (how many, which rows), a continuous target, one class
        only, a class with fewer than ``min_per_class`` rows, a label never or
        always present, or a length that differs from ``X``.
    """
    if y is None:
        raise ValueError("y is None: pass the class labels (or a 0/1 label matrix), one per "
                         "row of X.")
    if _is_label_sets(y):
        from sklearn.preprocessing import MultiLabelBinarizer

        mlb = MultiLabelBinarizer()
        Y = mlb.fit_transform(list(y))
        target = _indicator(np.asarray(Y), [str(c) for c in mlb.classes_], n_samples)
    else:
        if isinstance(y, pd.DataFrame):
            if y.shape[1] == 1:
                y = y.iloc[:, 0]
            else:
                target = _indicator(y.to_numpy(), [str(c) for c in y.columns], n_samples)
                y = None
        if y is not None:
            arr = y.toarray() if sp.issparse(y) else np.asarray(y)
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim == 2:
                target = _indicator(arr, [str(j) for j in range(arr.shape[1])], n_samples)
            elif arr.ndim != 1:
                raise ValueError(f"y must be 1-D (class labels) or 2-D (0/1 label matrix); got "
                                 f"shape {arr.shape}.")
            else:
                target = _single_label(arr, n_samples, min_per_class)
    return target


def _single_label(arr: np.ndarray, n_samples: int | None, min_per_class: int) -> Target:
    _check_length(len(arr), n_samples)
    if arr.size == 0:
        raise ValueError("y is empty: there is nothing to learn from.")
    missing = pd.isna(arr) if arr.dtype.kind == "O" else (
        ~np.isfinite(arr) if arr.dtype.kind in "fc" else np.zeros(arr.shape, bool))
    if np.any(missing):
        idx = np.flatnonzero(missing)
        raise ValueError(
            f"y has {len(idx)} missing (NaN/None) or infinite label(s), at {_rows(idx)} (rows "
            "counted from 0): every row needs a class label; drop those rows or label them.")
    if arr.dtype.kind == "f":
        if np.any(arr != np.round(arr)):
            raise ValueError(
                f"y holds non-integer numbers ({len(np.unique(arr))} distinct values): it looks "
                "continuous, but sigmax compares classifiers. Pass class labels, or bin y into "
                "classes first (e.g. pandas.cut).")
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "O":
        arr = np.asarray([str(v) for v in arr], dtype=object)
    classes, codes, counts = np.unique(arr, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise ValueError(
            f"y has only one class ({classes[0]!r}): a classifier needs samples of at least 2 "
            "classes.")
    if len(classes) > max(50, len(arr) // 5):
        raise ValueError(
            f"y has {len(classes)} distinct values for {len(arr)} rows: that looks like an id "
            "or a continuous quantity, not class labels.")
    few = classes[counts < min_per_class]
    if len(few):
        raise ValueError(
            f"Class(es) {[str(c) for c in few[:5]]} of y have fewer than {min_per_class} "
            f"samples: cross-validation needs at least {min_per_class} per class; drop or "
            "merge those classes.")
    task = "binary" if len(classes) == 2 else "multiclass"
    return Target(task, [str(c) for c in classes], codes.ravel().astype(np.intp))


# -- label structure --------------------------------------------------------------------------
def label_structure(y: Any) -> dict[str, Any]:
    """Measured facts about the labels that decide between logistic, softmax and sigmoids.

    Returns
    -------
    dict
        Always: ``task``, ``n_samples``, ``n_classes``, ``names``, ``counts``
        (rows per class / per label), ``kind`` (``"binary"``,
        ``"exclusive"`` or ``"non-exclusive"``).
        Single-label: ``imbalance`` (largest / smallest class count).
        Multi-label: ``cardinality`` (rows with 0, 1, 2, ... labels),
        ``mean_labels_per_row``, ``share_multi`` (rows with >= 2 labels),
        ``share_empty`` (rows with none), ``n_label_sets`` (distinct sets
        seen), ``cooccurrence`` (L x L row counts), ``lift`` (L x L:
        observed co-occurrence over the count expected if labels were
        independent; ``None`` on the diagonal), ``never_cooccur`` (label
        pairs never seen together), ``strongest_dependence`` (the pair with
        lift farthest from 1, and its lift), ``groups`` (from
        :data:`LABEL_GROUPS_HOOK`, ``None`` without a hook), ``head_layout``
        (:meth:`sigmax.labels.HeadLayout.summary`: the suggested heads, the
        exclusive and nearly exclusive pairs, the rule, sentences).
    """
    t = y if isinstance(y, Target) else encode_target(y)
    n = t.n_samples
    if t.task != "multilabel":
        counts = np.bincount(t.codes, minlength=t.n_classes)
        return {"task": t.task, "n_samples": n, "n_classes": t.n_classes, "names": t.names,
                "counts": counts.tolist(),
                "kind": "binary" if t.task == "binary" else "exclusive",
                "imbalance": float(counts.max() / counts.min())}
    Y = t.Y
    counts = Y.sum(axis=0)
    card = Y.sum(axis=1).astype(int)
    co = Y.T @ Y
    expected = np.outer(counts, counts) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = co / expected
    L = Y.shape[1]
    lift_list = [[None if i == j else float(lift[i, j]) for j in range(L)] for i in range(L)]
    never = [[t.names[i], t.names[j]] for i in range(L) for j in range(i + 1, L) if co[i, j] == 0]
    strongest = None
    best = 0.0
    for i in range(L):
        for j in range(i + 1, L):
            if co[i, j] > 0:
                dev = abs(np.log(lift[i, j]))
                if dev > best:
                    best, strongest = dev, {"labels": [t.names[i], t.names[j]],
                                            "lift": float(lift[i, j])}
    groups = LABEL_GROUPS_HOOK(Y, list(t.names)) if LABEL_GROUPS_HOOK is not None else None
    return {
        "task": "multilabel", "n_samples": n, "n_classes": L, "names": t.names,
        "counts": counts.astype(int).tolist(),
        "kind": "exclusive" if card.max() <= 1 else "non-exclusive",
        "cardinality": np.bincount(card, minlength=L + 1).tolist(),
        "mean_labels_per_row": float(card.mean()),
        "share_multi": float(np.mean(card >= 2)),
        "share_empty": float(np.mean(card == 0)),
        "n_label_sets": int(t.set_matrix.shape[0]),
        "cooccurrence": co.astype(int).tolist(),
        "lift": lift_list,
        "never_cooccur": never,
        "strongest_dependence": strongest,
        "groups": groups,
        "head_layout": discover_heads(Y, list(t.names)).summary(),
    }


# -- advice ------------------------------------------------------------------------------------
@dataclass
class Advice:
    """The recommendation and the reasons for it.

    Attributes
    ----------
    model : str
        Candidate name (``"logistic"``, ``"softmax"``, ``"multilabel"``, ...).
    estimator : str
        sigmax class to use.
    summary : str
        One sentence.
    reasons : list of str
        Why, each with the measured number behind it.
    structural_choice : str
        What the label structure alone calls for (``model`` differs when the
        measurements overrule it).
    label_structure : dict
        :func:`label_structure` of ``y``.
    evidence : list of dict
        Comparisons used: ``metric``, ``against``, ``verdict``.
    """

    model: str
    estimator: str
    summary: str
    reasons: list[str] = field(default_factory=list)
    structural_choice: str = ""
    label_structure: dict[str, Any] = field(default_factory=dict)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    #: How the measurements bear on the choice (sigmax.study.verdict): "agree",
    #: "mixed", "no_difference", "overturned" or "not_measured".
    status: str = "not_measured"
    #: Paired tests in the Holm-corrected family.
    n_tests: int = 0
    #: Whether the choice beats the class-frequency baseline on log-loss (None: not measured).
    beats_baseline: bool | None = None
    #: The ``sigmax fit`` command that builds the recommendation from the same table
    #: (set by the command line, which knows the file; None from Python).
    fit_command: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return "\n".join([self.summary, *[f"- {r}" for r in self.reasons]])


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%" if x >= 0.01 else f"{100 * x:.1f}%"


def _structural(s: dict[str, Any]) -> tuple[str, list[str]]:
    """The candidate the label structure calls for, and why (with the measured facts)."""
    if s["task"] == "binary":
        return STRUCTURAL_CHOICE["binary"], [
            f"y has 2 classes ({s['names'][0]!r}: {s['counts'][0]} rows, {s['names'][1]!r}: "
            f"{s['counts'][1]} rows). Logistic regression is softmax with K=2 (same "
            "probabilities with C_softmax = C/2), with half the parameters and no flat "
            "direction in its minimum."]
    if s["task"] == "multiclass":
        return STRUCTURAL_CHOICE["multiclass"], [
            f"y has {s['n_classes']} mutually exclusive classes (one label per row). Softmax "
            "models them jointly: its probabilities sum to 1 by construction, and one model "
            "is fitted instead of K."]
    n_sets = s["n_label_sets"]
    if s["kind"] == "exclusive":
        empty = (f"; {_pct(s['share_empty'])} of rows have no label, which becomes one more "
                 "class 'none'" if s["share_empty"] > 0 else "")
        return STRUCTURAL_CHOICE["exclusive_labels"], [
            f"The {s['n_classes']} labels never co-occur (every row has at most one){empty}: "
            "they are exclusive classes, so softmax over them, not independent sigmoids."]
    reasons = [
        f"Labels co-occur: {_pct(s['share_multi'])} of rows carry 2 or more of the "
        f"{s['n_classes']} labels (mean {s['mean_labels_per_row']:.2f} per row, "
        f"{n_sets} distinct label sets), so they are not exclusive classes and one softmax "
        "over them is the wrong model. Independent sigmoids (one logistic head per label) "
        "give each label its own probability."]
    if s.get("strongest_dependence"):
        sd = s["strongest_dependence"]
        reasons.append(
            f"The strongest dependence between two labels: {sd['labels'][0]!r} and "
            f"{sd['labels'][1]!r} occur together {sd['lift']:.2f}x as often as independence "
            "predicts; a powerset softmax (one class per label set) can model such "
            "dependence, at the cost of one class per set and no unseen sets.")
    if s.get("groups"):
        reasons.append(
            f"Groups of labels that never co-occur: {s['groups']}; each group is a set of "
            "exclusive classes (a softmax head), the other labels stay sigmoids. "
            + s.get("head_layout", {}).get("rule", ""))
        return MIXED_CANDIDATE, reasons
    if s["never_cooccur"]:
        reasons.append(
            f"{len(s['never_cooccur'])} label pair(s) never co-occur (e.g. "
            f"{s['never_cooccur'][0]}): such groups could share a softmax head.")
    return STRUCTURAL_CHOICE["multilabel"], reasons


def advise(y: Any, result: Any = None) -> Advice:
    """Recommend a model for this target, and say why.

    Parameters
    ----------
    y : target in any form :func:`encode_target` accepts
    result : ProblemResult, optional
        The study of the same data (``sigmax.compare(X, y).problems[0]``).
        With it the structural choice is checked against the measured
        numbers: another candidate replaces it only when it is better on
        log-loss beyond fold noise (the paired test's interval excludes 0)
        and not worse on the task's accuracy metric; the compute costs,
        calibration, flat directions and the K=2 equivalence are quoted.

    Returns
    -------
    Advice

    Examples
    --------
    >>> import numpy as np
    >>> from sigmax import advise
    >>> advise(np.array([0, 1, 2, 1, 0, 2])).model
    'softmax'
    >>> advise(np.array([[1, 0], [1, 1], [0, 1], [0, 0]])).model
    'multilabel'
    """
    s = label_structure(y)
    choice, reasons = _structural(s)
    structural = choice
    verdict = None
    evidence: list[dict[str, Any]] = []
    if result is not None and result.candidates:
        cands = {c.name for c in result.candidates}
        if choice == "softmax" and choice not in cands and "powerset" in cands:
            # Exclusive labels: the powerset softmax is the softmax over the labels.
            choice = structural = "powerset"
        if choice not in FIT_MODEL and "multilabel" in cands and s["task"] == "multilabel":
            reasons.append(
                f"`sigmax fit` cannot build the {choice} model from a table (it is measured "
                "here, and available from Python); the independent sigmoids are the model "
                "the command line builds for these labels.")
            choice = structural = "multilabel"
        if choice not in cands:
            choice = structural = next(c.name for c in result.candidates
                                       if c.name != BASELINE)
        verdict = decide(choice, result.candidates, result.comparisons,
                         buildable=FIT_MODEL.__contains__)
        choice = verdict.model
        evidence = verdict.significant
        reasons += _measured(result, choice)
    est = ESTIMATOR_OF.get(choice, "")
    if result is not None:
        for c in result.candidates:
            if c.name == choice:
                est = c.estimator
    title = {c.name: c.label for c in result.candidates} if result is not None else {}
    what = title.get(choice, choice)
    if verdict is not None:
        summary = " ".join(verdict.sentences)
    else:
        summary = f"Use {what} ({est}): the label structure calls for it."
    return Advice(model=choice, estimator=est, summary=summary, reasons=reasons,
                  structural_choice=structural, label_structure=s, evidence=evidence,
                  status=verdict.status if verdict else "not_measured",
                  n_tests=verdict.n_tests if verdict else 0,
                  beats_baseline=verdict.beats_baseline if verdict else None)


def _comparison(result: Any, metric: str, a: str, b: str) -> tuple[Any, float] | None:
    """The stored comparison of ``a`` and ``b`` on ``metric``, oriented as ``a - b``."""
    for c in result.comparisons:
        if c.metric != metric:
            continue
        if (c.a, c.b) == (a, b):
            return c, 1.0
        if (c.a, c.b) == (b, a):
            return c, -1.0
    return None


def _better(c: Any, sign: float) -> bool | None:
    """True: the first candidate is better beyond noise; False: worse; None: no real difference.

    ``sign`` is +1 when the comparison is stored as (first, second), -1 when reversed.
    """
    if c.conclusion not in ("a_better", "b_better"):
        return None
    return (c.conclusion == "a_better") == (sign > 0)


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else float("nan")


def _measured(result: Any, choice: str) -> list[str]:
    """Sentences quoting the measurements of ``choice`` against the others (no decision:
    :func:`sigmax.study.verdict.decide` made it)."""
    cands = {c.name: c for c in result.candidates}
    reasons: list[str] = []
    base = cands[choice]
    ll = {n: _mean(c.metrics.get("log_loss", [])) for n, c in cands.items()}
    reasons.append(
        "Cross-validated log-loss (lower is better): "
        + ", ".join(f"{c.label} {ll[n]:.4g}" for n, c in cands.items()) + ".")
    chosen = base
    # Calibration and cost, quoted for the chosen model against the others.
    ece = {n: _mean(c.metrics.get("ece", [])) for n, c in cands.items()}
    if all(np.isfinite(v) for v in ece.values()):
        reasons.append("Calibration (ECE, lower is better): " + ", ".join(
            f"{cands[n].label} {v:.3f}" for n, v in ece.items()) + ".")
    cost = []
    for n, c in cands.items():
        if n in (choice, BASELINE):
            continue
        # One fit on all rows each, at each model's own C, one after the other: the
        # per-fold times of a tuned comparison include each model's C search.
        fit_a = chosen.compute.get("full_fit_seconds") or chosen.compute.get("fit_seconds")
        fit_b = c.compute.get("full_fit_seconds") or c.compute.get("fit_seconds")
        pa, pb = chosen.compute.get("n_params"), c.compute.get("n_params")
        if fit_a and fit_b and pa and pb:
            cost.append(f"{c.label}: {pb / pa:.2g}x the parameters, {fit_b / fit_a:.2g}x the "
                        "fit time")
    if cost:
        reasons.append(f"Cost relative to {chosen.label} (one fit on all rows): "
                       + "; ".join(cost) + ".")
    k2 = result.k2_equivalence
    if result.task == "binary" and k2.max_abs_prob_diff is not None:
        reasons.append(
            f"Two-class softmax gave the same probabilities as logistic regression to "
            f"{k2.max_abs_prob_diff:.1e} (coefficients w = w1 - w0 to "
            f"{k2.max_abs_coef_diff:.1e}, with C_softmax = C/2): it only doubles the work.")
    for m in result.minima.models or []:
        if m.model == "softmax" and m.penalty == "none" and m.n_flat is not None:
            reasons.append(
                f"Softmax's cost has flat directions without a penalty ({m.n_flat} "
                f"measured at the {'optimum' if m.point == 'minimum' else 'L2 fit'}) but "
                "these change no prediction"
                + (f" (max probability change {m.max_prob_change:.1e})"
                   if m.get("max_prob_change") is not None else "")
                + "; with L2 the coefficients are unique. It is no reason to avoid softmax.")
            break
    return reasons
