r"""Scores of probabilistic classifiers and the paired test that compares two of them.

Every metric takes the *true* targets and the model's *log*-probabilities
(plus the decision it makes), so that log-loss is computed without ever taking
``log`` of a rounded probability. Metrics live in two registries,
:data:`SINGLE_LABEL_METRICS` (binary and multiclass) and
:data:`MULTILABEL_METRICS`, each entry saying whether higher is better: the
study loops over a registry, the renderers read the same entries.

Conventions
-----------
Single-label (binary / multiclass), ``K`` classes, ``n`` rows:

- ``y``: ``(n,)`` integer class codes in ``0..K-1``.
- ``log_proba``: ``(n, K)`` log-probabilities (rows sum to 1 after ``exp``).
- ``pred``: ``(n,)`` predicted codes (the most probable class).

Multi-label, ``L`` labels:

- ``Y``: ``(n, L)`` 0/1 indicator matrix.
- ``log_p1``, ``log_p0``: ``(n, L)`` log-probabilities that each label is
  present / absent (kept separately: ``log(1 - p)`` is never formed from ``p``).
- ``pred``: ``(n, L)`` 0/1 predicted label sets.

Log-probabilities are clipped below at ``log(1e-15)`` before use (as
scikit-learn's ``log_loss`` clips probabilities), so a class with probability
0 costs 34.5 nats rather than infinity: this only matters for a model that
never saw a class in its training fold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from .result import Comparison

__all__ = [
    "LOG_CLIP",
    "MULTILABEL_METRICS",
    "SINGLE_LABEL_METRICS",
    "Metric",
    "brier_score",
    "expected_calibration_error",
    "multilabel_scores",
    "paired_comparison",
    "reliability_bins",
    "single_label_scores",
]

#: Lower clip of log-probabilities: ``log(1e-15)``.
LOG_CLIP = float(np.log(1e-15))
#: Equal-width bins of the reliability diagram and of the ECE.
N_BINS = 15
#: Differences smaller than this on every fold are "identical" (solver tolerance level).
IDENTICAL_TOL = 1e-6


@dataclass(frozen=True)
class Metric:
    """A metric's registry entry.

    Attributes
    ----------
    name : str
        Key in ``CandidateResult.metrics``.
    title : str
        Human name.
    higher_is_better : bool
    description : str
        Definition in one sentence (shown in reports).
    """

    name: str
    title: str
    higher_is_better: bool
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title,
                "higher_is_better": self.higher_is_better, "description": self.description}


#: Metrics of binary and multiclass problems, in report order.
SINGLE_LABEL_METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("accuracy", "accuracy", True, "fraction of rows whose most probable class is right"),
    Metric("balanced_accuracy", "balanced accuracy", True,
           "mean over the classes present in the fold of the per-class recall"),
    Metric("log_loss", "log-loss", False,
           "mean of -log p(true class), natural log (a proper scoring rule)"),
    Metric("brier", "Brier score", False,
           "mean over rows of 1/2 sum_k (p_k - [y = k])^2; in [0, 1], the usual "
           "(p - y)^2 for two classes"),
    Metric("ece", "ECE", False,
           f"top-label expected calibration error: sum over {N_BINS} equal-width confidence "
           "bins of (bin share) x |accuracy - mean confidence|"),
    Metric("macro_f1", "macro F1", True,
           "unweighted mean over classes (present in the fold or predicted) of the F1 score"),
)}

#: Metrics of multi-label problems, in report order (per-label keys are added on top).
MULTILABEL_METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("hamming_loss", "Hamming loss", False,
           "fraction of (row, label) pairs predicted wrong, label present when its marginal "
           "probability > 1/2"),
    Metric("subset_accuracy", "subset accuracy", True,
           "fraction of rows whose predicted label set (the model's most probable set) is "
           "exactly right"),
    Metric("macro_f1", "macro F1", True, "unweighted mean over labels of the per-label F1"),
    Metric("micro_f1", "micro F1", True, "F1 of all (row, label) pairs pooled"),
    Metric("log_loss", "log-loss", False,
           "mean over labels of the binary log-loss of the label's marginal probability"),
    Metric("brier", "Brier score", False,
           "mean over (row, label) of (p - y)^2, p the label's marginal probability"),
    Metric("ece", "ECE", False,
           f"calibration error of the label probabilities pooled over all labels "
           f"({N_BINS} equal-width bins)"),
)}

#: Per-label metric families of multi-label problems: key ``"<family>:<label>"``.
PER_LABEL_METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("f1", "F1", True, "F1 score of this label"),
    Metric("log_loss", "log-loss", False, "binary log-loss of this label"),
    Metric("brier", "Brier score", False, "(p - y)^2 of this label"),
)}


def metric_info(name: str) -> Metric:
    """The registry entry of a metric key (per-label keys ``"f1:Drama"`` included)."""
    for registry in (SINGLE_LABEL_METRICS, MULTILABEL_METRICS):
        if name in registry:
            return registry[name]
    family = name.split(":", 1)[0]
    if family in PER_LABEL_METRICS:
        return PER_LABEL_METRICS[family]
    raise KeyError(f"Unknown metric {name!r}.")


# -- building blocks --------------------------------------------------------------------
def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 = 2tp / (2tp + fp + fn), 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    den = 2 * tp + fp + fn
    return np.where(den > 0, 2 * tp / np.maximum(den, 1), 0.0)


def brier_score(proba: np.ndarray, onehot: np.ndarray) -> float:
    r"""Half the multi-class Brier score, :math:`\frac1{2n}\sum_i\sum_k (p_{ik} - y_{ik})^2`.

    For two classes this is the usual :math:`\frac1n\sum_i (p_i - y_i)^2`.
    """
    return float(0.5 * np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def reliability_bins(confidence: np.ndarray, correct: np.ndarray,
                     n_bins: int = N_BINS) -> dict[str, list[float]]:
    """Equal-width bins of ``confidence`` on [0, 1] with the observed frequency in each.

    Parameters
    ----------
    confidence : ndarray of shape (m,)
        Predicted probabilities of the event.
    correct : ndarray of shape (m,)
        1 where the event happened (the prediction was right / the label present).

    Returns
    -------
    dict
        ``edges`` (n_bins + 1), and per bin ``count``, ``mean_confidence`` and
        ``frequency`` (``null`` for an empty bin, so a plot can skip it).
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Right-closed bins, the first one also closed on the left: p = 1 falls in the last bin.
    idx = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(np.float64)
    sum_conf = np.bincount(idx, weights=confidence, minlength=n_bins)
    sum_corr = np.bincount(idx, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = sum_conf / count
        freq = sum_corr / count
    return {
        "edges": edges.tolist(),
        "count": count.astype(int).tolist(),
        "mean_confidence": [None if c == 0 else float(v) for c, v in zip(count, mean_conf)],
        "frequency": [None if c == 0 else float(v) for c, v in zip(count, freq)],
    }


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray,
                               n_bins: int = N_BINS) -> float:
    r"""Expected calibration error over equal-width bins.

    :math:`\mathrm{ECE} = \sum_b \frac{n_b}{n} |\mathrm{freq}_b - \mathrm{conf}_b|`.
    """
    bins = reliability_bins(confidence, correct, n_bins)
    n = max(1, len(np.asarray(confidence)))
    return float(sum(c / n * abs(f - m) for c, f, m in
                     zip(bins["count"], bins["frequency"], bins["mean_confidence"]) if c))


# -- per-fold scores -----------------------------------------------------------------------
def single_label_scores(y: np.ndarray, log_proba: np.ndarray, pred: np.ndarray
                        ) -> dict[str, float]:
    """All :data:`SINGLE_LABEL_METRICS` of one test fold.

    Parameters
    ----------
    y : ndarray of shape (n,)
        True class codes.
    log_proba : ndarray of shape (n, K)
        Log-probabilities of the K classes.
    pred : ndarray of shape (n,)
        Predicted codes.

    Returns
    -------
    dict of str -> float
    """
    y = np.asarray(y, dtype=np.intp)
    pred = np.asarray(pred, dtype=np.intp)
    n, K = log_proba.shape
    lp = np.maximum(log_proba, LOG_CLIP)
    proba = np.exp(log_proba)
    onehot = np.zeros((n, K))
    onehot[np.arange(n), y] = 1.0
    correct = (pred == y).astype(np.float64)
    present = np.unique(y)
    recall = [float(np.mean(pred[y == k] == k)) for k in present]
    labels = np.union1d(present, np.unique(pred))
    tp = np.array([np.sum((pred == k) & (y == k)) for k in labels], dtype=np.float64)
    fp = np.array([np.sum((pred == k) & (y != k)) for k in labels], dtype=np.float64)
    fn = np.array([np.sum((pred != k) & (y == k)) for k in labels], dtype=np.float64)
    top = proba[np.arange(n), pred]
    return {
        "accuracy": float(np.mean(correct)),
        "balanced_accuracy": float(np.mean(recall)),
        "log_loss": float(-np.mean(lp[np.arange(n), y])),
        "brier": brier_score(proba, onehot),
        "ece": expected_calibration_error(top, correct),
        "macro_f1": float(np.mean(_f1(tp, fp, fn))),
    }


def multilabel_scores(Y: np.ndarray, log_p1: np.ndarray, log_p0: np.ndarray,
                      pred_set: np.ndarray, label_names: list[str]) -> dict[str, float]:
    """All :data:`MULTILABEL_METRICS` of one test fold, plus per-label keys.

    Parameters
    ----------
    Y : ndarray of shape (n, L)
        True 0/1 label sets.
    log_p1, log_p0 : ndarray of shape (n, L)
        Log marginal probabilities of each label being present / absent.
    pred_set : ndarray of shape (n, L)
        The model's most probable label set per row (used by subset accuracy).
    label_names : list of str
        Names for the per-label keys ``"f1:<name>"``, ``"log_loss:<name>"``,
        ``"brier:<name>"``.

    Returns
    -------
    dict of str -> float

    Notes
    -----
    Hamming loss and F1 use the label-wise decision ``p > 1/2`` (the Bayes
    decision for a per-label loss); subset accuracy uses the most probable
    *set* (the Bayes decision for the 0/1 loss on sets). For independent
    sigmoids the two coincide; for a model of the joint distribution
    (powerset) they can differ.
    """
    Y = np.asarray(Y, dtype=np.float64)
    p1 = np.exp(log_p1)
    marg = (log_p1 > log_p0).astype(np.float64)
    tp = np.sum(marg * Y, axis=0)
    fp = np.sum(marg * (1 - Y), axis=0)
    fn = np.sum((1 - marg) * Y, axis=0)
    f1 = _f1(tp, fp, fn)
    ll = -np.mean(Y * np.maximum(log_p1, LOG_CLIP) + (1 - Y) * np.maximum(log_p0, LOG_CLIP),
                  axis=0)
    brier = np.mean((p1 - Y) ** 2, axis=0)
    out = {
        "hamming_loss": float(np.mean(marg != Y)),
        "subset_accuracy": float(np.mean(np.all(pred_set == Y, axis=1))),
        "macro_f1": float(np.mean(f1)),
        "micro_f1": float(_f1(tp.sum(), fp.sum(), fn.sum())),
        "log_loss": float(np.mean(ll)),
        "brier": float(np.mean(brier)),
        "ece": expected_calibration_error(p1.ravel(), Y.ravel()),
    }
    for j, name in enumerate(label_names):
        out[f"f1:{name}"] = float(f1[j])
        out[f"log_loss:{name}"] = float(ll[j])
        out[f"brier:{name}"] = float(brier[j])
    return out


# -- paired comparison ---------------------------------------------------------------------
def corrected_t_interval(diffs: np.ndarray, test_train_ratio: float, level: float = 0.95
                         ) -> tuple[float, float, float, float]:
    r"""Nadeau & Bengio's corrected resampled t-test on per-fold differences.

    The folds share training rows, so the per-fold differences are positively
    correlated and the naive variance :math:`s^2/J` is too small. Nadeau and
    Bengio (2003, *Machine Learning* 52:239) replace it by
    :math:`(1/J + n_\text{test}/n_\text{train})\, s^2`; with ``J`` values the
    statistic is referred to Student's t with ``J - 1`` degrees of freedom.
    For one k-fold cross-validation :math:`n_\text{test}/n_\text{train} = 1/(k-1)`.

    Parameters
    ----------
    diffs : ndarray of shape (J,)
        Per-fold differences ``a - b``.
    test_train_ratio : float
        :math:`n_\text{test}/n_\text{train}`.
    level : float
        Confidence level of the interval.

    Returns
    -------
    mean, ci_low, ci_high, p_value : float
    """
    d = np.asarray(diffs, dtype=np.float64)
    J = len(d)
    if J < 2:
        raise ValueError(f"A paired test needs at least 2 folds; got {J}. Use cv >= 2.")
    mean = float(np.mean(d))
    var = float(np.var(d, ddof=1))
    se = np.sqrt((1.0 / J + test_train_ratio) * var)
    if se == 0:
        # Same difference on every fold: no fold noise at all.
        return mean, mean, mean, (1.0 if mean == 0 else 0.0)
    q = float(stats.t.ppf(0.5 + level / 2, J - 1))
    t = mean / se
    p = float(2 * stats.t.sf(abs(t), J - 1))
    return mean, mean - q * se, mean + q * se, p


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def paired_comparison(metric: str, a: str, b: str, values_a: list[float], values_b: list[float],
                      *, test_train_ratio: float, higher_is_better: bool | None = None,
                      title: str | None = None, level: float = 0.95,
                      describe: Callable[[str], str] | None = None) -> Comparison:
    """Compare two candidates on one metric over the same folds; say in words what it means.

    Parameters
    ----------
    metric : str
        Metric key (its registry entry gives the direction and title).
    a, b : str
        Candidate names; ``diff = mean(values_a - values_b)``.
    values_a, values_b : list of float
        Per-fold values, same folds in the same order.
    test_train_ratio : float
        Test rows / training rows of a fold (``1/(k-1)`` for k-fold).
    higher_is_better, title : optional
        Override the registry entry (for metrics not in a registry).
    level : float
        Confidence level.
    describe : callable, optional
        Maps a candidate name to the words used in the verdict.

    Returns
    -------
    Comparison
        ``method`` names the test; ``conclusion`` is ``"identical"`` (all
        per-fold differences below :data:`IDENTICAL_TOL`), ``"no_difference"``
        (the interval contains 0), ``"a_better"`` or ``"b_better"``;
        ``verdict`` says the same in a sentence with the numbers.
    """
    if higher_is_better is None or title is None:
        info = metric_info(metric)
        higher_is_better = info.higher_is_better if higher_is_better is None else higher_is_better
        title = info.title if title is None else title
    va = np.asarray(values_a, dtype=np.float64)
    vb = np.asarray(values_b, dtype=np.float64)
    if va.shape != vb.shape:
        raise ValueError(f"{metric}: {a} has {va.size} fold values and {b} has {vb.size}; a "
                         "paired test needs the same folds.")
    d = va - vb
    mean, lo, hi, p = corrected_t_interval(d, test_train_ratio, level)
    name = describe or (lambda s: s)
    J = len(d)
    pct = f"{round(level * 100)}% CI"
    method = f"corrected resampled t-test (Nadeau & Bengio 2003) over {J} folds, {pct}"
    if np.all(np.abs(d) < IDENTICAL_TOL):
        conclusion = "identical"
        verdict = (f"no difference in {title}: {name(a)} and {name(b)} agree to within "
                   f"{IDENTICAL_TOL:g} on every one of the {J} folds (same predictions)")
    elif lo <= 0 <= hi:
        conclusion = "no_difference"
        verdict = (f"no real difference in {title} between {name(a)} and {name(b)}: the "
                   f"difference {_fmt(mean)} ({pct} [{_fmt(lo)}, {_fmt(hi)}], p={p:.2f}) is "
                   "within the fold-to-fold noise")
    else:
        a_better = (mean > 0) == higher_is_better
        winner, loser = (a, b) if a_better else (b, a)
        conclusion = "a_better" if a_better else "b_better"
        word = ("higher" if mean > 0 else "lower") if a_better else (
            "lower" if mean > 0 else "higher")
        verdict = (f"{name(winner)} is better on {title}: {_fmt(abs(mean))} {word} than "
                   f"{name(loser)} ({pct} of {a} - {b}: [{_fmt(lo)}, {_fmt(hi)}], "
                   f"p={p:.2g})")
    return Comparison(metric=metric, a=a, b=b, diff=float(mean), ci_low=float(lo),
                      ci_high=float(hi), p_value=float(p), method=method, verdict=verdict,
                      conclusion=conclusion)


def correct_family(comparisons: list[Comparison], alpha: float = 0.05,
                   describe: Callable[[str], str] | None = None) -> None:
    """Holm-correct a family of paired comparisons in place.

    Sets ``p_adjusted`` on each; a comparison whose interval excluded 0 but whose
    adjusted p-value is not below ``alpha`` becomes ``"no_difference"`` with a
    verdict that says so, so that no table or sentence claims a difference the
    family-wise test does not support (see :mod:`sigmax.study.verdict`).
    """
    from .verdict import holm

    adjusted = holm([c.p_value for c in comparisons])
    m = int(np.isfinite(adjusted).sum())
    name = describe or (lambda s: s)
    for c, pa in zip(comparisons, adjusted):
        c.p_adjusted = float(pa)
        if c.conclusion in ("a_better", "b_better") and not pa < alpha:
            try:
                title = metric_info(c.metric).title
            except KeyError:
                title = c.metric
            c.conclusion = "no_difference"
            c.verdict = (f"no real difference in {title} between {name(c.a)} and "
                         f"{name(c.b)} once the {m} tests are corrected together: the "
                         f"difference {_fmt(c.diff)} has p={c.p_value:.2g}, Holm-adjusted "
                         f"{pa:.2g}")

