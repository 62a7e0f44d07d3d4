r"""The written rule that turns the study's measurements into advice (docs/advice.md).

1. **The label structure proposes** a model (binary -> logistic, exclusive
   classes -> softmax, co-occurring labels -> one sigmoid per label).
2. **Every paired test shown is corrected together** (Holm's step-down method
   over the whole family): a difference is *significant* when its adjusted
   p-value is below ``alpha`` and its interval excludes 0.
3. **Measurements overturn the proposal only** when another model that
   ``sigmax fit`` can build is significantly better on log-loss (the proper
   scoring rule the fits minimize) and significantly worse on no metric.
4. **"The measurements agree"** is said only when at least one significant
   difference involves the chosen model and every one of them favours it.
   Significant differences in both directions are reported as mixed; none at
   all as "no measurable difference", and the structural reason stands.
5. **The baseline** (class frequencies) is a candidate like any other: a
   chosen model that is not significantly better than it on log-loss is
   recommended only with that said.

Every sentence of the advice is produced here from these numbers; nothing is
said that a measurement in the same report does not back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["BASELINE", "Verdict", "decide", "holm", "more_folds_sentence"]

#: Candidate name of the class-frequency baseline.
BASELINE = "baseline"
#: Metrics where a larger value is better (the rest: smaller is better).
HIGHER_IS_BETTER = frozenset({"accuracy", "balanced_accuracy", "macro_f1", "subset_accuracy",
                              "micro_f1", "samples_f1", "mean_label_f1"})


def holm(p_values: Sequence[float]) -> np.ndarray:
    r"""Holm's step-down adjusted p-values (family-wise error control).

    With the p-values sorted :math:`p_{(1)} \le \dots \le p_{(m)}`, the adjusted
    value is :math:`\tilde p_{(i)} = \max_{j \le i} \min(1, (m - j + 1) p_{(j)})`.
    NaN p-values (a test that could not run) stay NaN and do not count in
    :math:`m`.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


@dataclass
class Verdict:
    """The advice drawn from the measurements, with the facts behind each sentence.

    Attributes
    ----------
    model : str
        The recommended candidate (one ``sigmax fit`` can build).
    structural : str
        What the label structure proposed.
    status : {"agree", "mixed", "no_difference", "overturned", "not_measured"}
    sentences : list of str
        The advice, one claim per sentence.
    significant : list of dict
        The significant differences (after Holm) involving the chosen model:
        ``metric``, ``better``, ``worse``, ``diff``, ``p_adjusted``.
    n_tests : int
        Size of the corrected family.
    beats_baseline : bool or None
        Whether the chosen model is significantly better than the baseline on
        log-loss (None: no baseline was measured).
    fit_command : str or None
        The command that builds the recommended model from the same table.
    """

    model: str
    structural: str
    status: str
    sentences: list[str] = field(default_factory=list)
    significant: list[dict[str, Any]] = field(default_factory=list)
    n_tests: int = 0
    beats_baseline: bool | None = None
    fit_command: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _oriented(c: Any, p_adj: float, alpha: float) -> dict[str, Any] | None:
    """A significant comparison as {better, worse, metric, diff, p_adjusted}; None if not."""
    if not (np.isfinite(p_adj) and p_adj < alpha) or c.conclusion not in ("a_better",
                                                                          "b_better"):
        return None
    better, worse = (c.a, c.b) if c.conclusion == "a_better" else (c.b, c.a)
    return {"metric": c.metric, "better": better, "worse": worse, "diff": float(c.diff),
            "p_adjusted": float(p_adj)}


def _names(labels: dict[str, str], names: Sequence[str]) -> str:
    return ", ".join(labels.get(n, n) for n in names)


def decide(structural: str, candidates: Sequence[Any], comparisons: Sequence[Any], *,
           buildable: Callable[[str], bool], alpha: float = 0.05,
           fit_command: Callable[[str], str | None] | None = None,
           structural_reason: str = "") -> Verdict:
    """Apply the rule of this module to one problem's measurements.

    Parameters
    ----------
    structural : str
        The candidate the label structure proposes.
    candidates : sequence of CandidateResult
        ``name``, ``label`` and ``metrics`` (per-fold values) are read.
    comparisons : sequence of Comparison
        Every paired test shown in the report (``metric``, ``a``, ``b``,
        ``diff``, ``p_value``, ``conclusion``); corrected together.
    buildable : callable
        ``buildable(name)``: whether ``sigmax fit`` builds that candidate.
    alpha : float, default=0.05
        Family-wise error rate.
    fit_command : callable, optional
        ``fit_command(name)``: the command that builds it from the same table.
    structural_reason : str
        Why the structure proposes ``structural`` (quoted when it stands).
    """
    labels = {c.name: c.label for c in candidates}
    names = [c.name for c in candidates]
    if structural not in names or not comparisons:
        status = "not_measured"
        return Verdict(structural, structural, status,
                       [f"Use {labels.get(structural, structural)}: the label structure calls "
                        "for it (no paired measurements to check it against)."],
                       fit_command=fit_command(structural) if fit_command else None)
    adjusted = holm([c.p_value for c in comparisons])
    sig = [s for c, p in zip(comparisons, adjusted) if (s := _oriented(c, p, alpha))]
    n_tests = int(np.isfinite(adjusted).sum())

    # Rule 3: overturn only for a buildable model better on log-loss, worse on nothing.
    choice = structural
    switch = [s for s in sig if s["metric"] == "log_loss" and s["worse"] == structural
              and s["better"] != BASELINE and buildable(s["better"])]
    for s in sorted(switch, key=lambda s: -abs(s["diff"])):
        loses = [t for t in sig if t["worse"] == s["better"] and t["better"] == structural]
        if not loses:
            choice = s["better"]
            break
    involving = [s for s in sig if choice in (s["better"], s["worse"])
                 and BASELINE not in (s["better"], s["worse"])]
    favour = [s for s in involving if s["better"] == choice]
    against = [s for s in involving if s["worse"] == choice]
    est = next((getattr(c, "estimator", "") for c in candidates if c.name == choice), "")
    what = labels.get(choice, choice) + (f" ({est})" if est else "")
    fam = f"Holm-corrected over the {n_tests} paired tests shown, alpha = {alpha:g}"
    sentences: list[str] = []
    if choice != structural:
        s = next(t for t in switch if t["better"] == choice)
        status = "overturned"
        sentences.append(
            f"Use {what}: the label structure proposes {labels.get(structural, structural)}, "
            f"but {what} has a significantly lower cross-validated log-loss (by "
            f"{abs(s['diff']):.4g} nats, adjusted p = {s['p_adjusted']:.3g}; {fam}) and is "
            "significantly worse on no metric.")
    elif favour and not against:
        status = "agree"
        sentences.append(
            f"Use {what}: the label structure calls for it and the measurements agree: every "
            f"significant difference involving it ({len(favour)}; {fam}) favours it.")
    elif favour and against:
        status = "mixed"
        sentences.append(
            f"Use {what}: the label structure calls for it; the measurements are mixed "
            f"({fam}): it is better on " + _by_model(favour, "worse", labels)
            + "; worse on " + _by_model(against, "better", labels)
            + ". None of them is a lower log-loss for a model `sigmax fit` builds, so the "
            "structural choice stands.")
    elif against:
        status = "mixed"
        sentences.append(
            f"Use {what}: the label structure calls for it. It is significantly worse on "
            + _by_model(against, "better", labels)
            + f" ({fam}), but not on log-loss against a model `sigmax fit` builds, so the "
            "structural choice stands; prefer the other model if that metric is what "
            "matters.")
    else:
        status = "no_difference"
        others = [n for n in names if n not in (choice, BASELINE)]
        sentences.append(
            f"Use {what}: no measurable difference between it and "
            f"{_names(labels, others) or 'the other models'} ({fam}: no adjusted p-value "
            f"below {alpha:g}), so the structural choice stands"
            + (f": {structural_reason}" if structural_reason else ".")
            + ("" if structural_reason.endswith(".") or not structural_reason else "."))
    beats = None
    if BASELINE in names:
        vs = [s for s in sig if s["metric"] == "log_loss"
              and {s["better"], s["worse"]} == {choice, BASELINE}]
        beats = bool(vs and vs[0]["better"] == choice)
        base_ll = float(np.mean(_metric(candidates, BASELINE, "log_loss")))
        freq = labels.get(BASELINE, "the frequencies").split(": ")[-1]
        own_ll = float(np.mean(_metric(candidates, choice, "log_loss")))
        if vs and vs[0]["better"] == BASELINE:
            sentences.append(
                f"Warning: {what} predicts worse than the {freq} alone "
                f"(cross-validated log-loss {own_ll:.4g} against {base_ll:.4g} for the "
                "baseline, significantly): the features carry no usable signal for this "
                "model as fitted; a stronger penalty (smaller C) moves it toward the baseline.")
        elif not beats:
            sentences.append(
                f"Caution: {what} is not measurably better than predicting the {freq} "
                f"(cross-validated log-loss {own_ll:.4g} against {base_ll:.4g} for the "
                f"baseline; {fam}).")
    # Differences that pass alone but not after the correction: say so, with the
    # remedy, so that "no measurable difference" is not read as "no difference".
    raw = [c.p_value for c, p in zip(comparisons, adjusted)
           if choice in (c.a, c.b) and np.isfinite(c.p_value) and c.p_value < alpha
           and not (np.isfinite(p) and p < alpha)]
    if raw:
        n_folds = max((len(v) for c in candidates for v in c.metrics.values()), default=0)
        sentences.append(
            f"{len(raw)} difference(s) involving {what} have p < {alpha:g} alone (smallest "
            f"{min(raw):.2g}) but not after correcting for the {n_tests} tests; "
            + more_folds_sentence(n_folds))
    return Verdict(choice, structural, status, sentences, involving, n_tests, beats,
                   fit_command(choice) if fit_command else None)


def _by_model(diffs: Sequence[dict[str, Any]], other: str, labels: dict[str, str]) -> str:
    """``"m1 and m2 than A; m3 than B"``: the metrics of ``diffs`` grouped by the other model.

    ``other`` is the key of the other model in each difference (``"worse"`` for the
    chosen model's wins, ``"better"`` for its losses); models in order of first
    appearance, metrics in their order. One clause per model, not one per test: a
    study with 70 tests listed 24 clauses for three models.
    """
    groups: dict[str, list[str]] = {}
    for t in diffs:
        groups.setdefault(t[other], []).append(t["metric"])
    return "; ".join(f"{_and(metrics)} than {labels.get(name, name)}"
                     for name, metrics in groups.items())


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def more_folds_sentence(n_folds: int) -> str:
    """The remedy for differences that the multiple-testing correction leaves undecided.

    Said from what ran (``n_folds`` scores per model), not assumed: a run with
    ``--quick`` has 3 folds, but so has one with ``--cv 3``.
    """
    return (f"more folds give each test more power (this run scored {n_folds} folds per "
            "model; --cv sets them, and --quick caps them at 3).")


def _metric(candidates: Sequence[Any], name: str, metric: str) -> list[float]:
    for c in candidates:
        if c.name == name:
            return list(c.metrics.get(metric, [])) or [float("nan")]
    return [float("nan")]
