"""K = 2 equivalence: are logistic and softmax the same model for two classes?

On one two-class problem taken from the data (the classes themselves, the two
most frequent classes, or the label closest to 50% prevalence):
:func:`sigmax.diagnostics.k2_equivalence` fits logistic regression at C and
two-class softmax at C/2 and measures how far apart they are; multi-label
data add L separate logistic fits against one MultiLabelLogistic.

The section's id is ``"k2_equivalence"`` everywhere (results, ``sections=``,
report anchors); ``"k2"`` is accepted as an alias on input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ... import diagnostics as diag
from ...estimators import (
    LogisticRegression,
    MultiLabelLogistic,
)
from ...preprocessing import StableScaler
from ..formatting import (
    esc,
    html_table,
    num_cell,
    sentences,
    summary_line,
)
from ..inputs import subsample
from ..record import Record
from ..result import ProblemResult
from ..run import StudyRun
from ..section import Section


@dataclass(eq=False)
class K2Result(Record):
    """Logistic at C against two-class softmax at C/2 (and one-vs-rest) on one problem."""

    problem: str | None = field(default=None, metadata={
        "doc": "which two-class problem"})
    C_logistic: float | None = None
    C_softmax: float | None = None
    n_rows: int | None = None
    n_features: int | None = None
    max_abs_prob_diff: float | None = None
    max_abs_coef_diff: float | None = None
    abs_intercept_diff: float | None = None
    max_abs_symmetry: float | None = None
    max_abs_coef: float | None = None
    same_C_max_abs_prob_diff: float | None = None
    ovr_max_abs_prob_diff: float | None = None
    unpenalized: dict[str, Any] | None = field(default=None, metadata={
        "doc": "max_abs_prob_diff and max_abs_coef_diff without a penalty, or skipped"})
    holds: bool | None = None
    ovr_per_label: dict[str, float] | None = field(default=None, metadata={
        "doc": "multi-label: L logistic fits against one MultiLabelLogistic"})
    summary: list[str] | None = None



#: Design entries (rows x (features + 1)) per second that HiGHS works through on the
#: separation linear program (about 2e5 measured at 20,000 x 11 and 50,000 x 11; halved
#: for slower machines). The unpenalized comparison subsamples its rows to fit the
#: budget's ``lp_seconds`` at this rate, and its ``lp_max_size``.
LP_ENTRIES_PER_SECOND = 1e5


def _unpenalized(run: StudyRun, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Unpenalized K=2 comparison on the rows the separation check can afford.

    The linear program that decides whether a minimum exists grows with the
    rows (450,000 rows: ~2 GB and minutes); the identity holds on any rows,
    so above the budget it is checked on a stratified subsample, and
    ``n_rows`` says how many.
    """
    b = run.budget
    D = X.shape[1] + 1
    size = int(min(len(y), b.lp_max_size / (2 * D), b.lp_seconds * LP_ENTRIES_PER_SECOND / D))
    rows = subsample(len(y), y, max(size, 2 * D), run.seed)
    out = diag.k2_unpenalized(X[rows], y[rows], time_limit=b.lp_seconds,
                              max_size=b.lp_max_size)
    out["n_rows"] = len(rows)
    return out


def _k2(run: StudyRun) -> K2Result:
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
    X = StableScaler().fit_transform(run.X[rows])
    out: dict[str, Any] = {"problem": problem}
    out.update(diag.k2_equivalence(X, y, C=run.C, unpenalized=False))
    out["unpenalized"] = _unpenalized(run, X, y)
    if t.task == "multilabel":
        Xs = run.Xs
        kw = {"C": run.C, "solver": "newton-cholesky", "tol": 1e-10}
        ml = MultiLabelLogistic(**kw).fit(Xs, t.Y)
        P = ml.predict_proba(Xs)
        coef_diff, prob_diff = 0.0, 0.0
        for j in range(t.Y.shape[1]):
            lr = LogisticRegression(**kw).fit(Xs, t.Y[:, j])
            coef_diff = max(coef_diff, float(np.max(np.abs(lr.coef_[0] - ml.coef_[j]))),
                            abs(float(lr.intercept_[0] - ml.intercept_[j])))
            prob_diff = max(prob_diff, float(np.max(np.abs(
                lr.predict_proba(Xs)[:, 1] - P[:, j]))))
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
        where = ("" if unp["n_rows"] == len(y) else
                 f", on {unp['n_rows']:,} of the {len(y):,} rows (a stratified subsample, "
                 "so that the separation check fits its time and size budget)")
        summary.append(f"Without a penalty (no C to map){where} they agree to "
                       f"{unp['max_abs_prob_diff']:.1e}.")
    elif "skipped" in unp:
        summary.append(f"Without a penalty: not compared, {unp['skipped']}.")
    if "ovr_per_label" in out:
        summary.append(
            f"One-vs-rest over the labels (L separate logistic fits) equals the independent "
            f"sigmoids: coefficients agree to {out['ovr_per_label']['max_abs_coef_diff']:.1e}.")
    out["summary"] = summary
    run.progress("K=2 equivalence")
    return K2Result.from_dict(out, strict=True)


_K2_KEYS = ("C_logistic", "C_softmax", "max_abs_prob_diff", "max_abs_coef_diff",
            "abs_intercept_diff", "max_abs_symmetry", "same_C_max_abs_prob_diff",
            "ovr_max_abs_prob_diff")


_K2_TITLES = {
    "C_logistic": "C of logistic regression", "C_softmax": "C of 2-class softmax",
    "max_abs_prob_diff": "max |Δ probability|, logistic vs softmax",
    "max_abs_coef_diff": "max |w_logistic − (w₁ − w₀)|",
    "abs_intercept_diff": "|b_logistic − (b₁ − b₀)|",
    "max_abs_symmetry": "max |w₀ + w₁| (softmax rows opposite)",
    "same_C_max_abs_prob_diff": "max |Δ probability| with the same C (no mapping)",
    "ovr_max_abs_prob_diff": "max |Δ probability|, logistic vs one-vs-rest",
}


def _k2_html(k: K2Result, p: ProblemResult) -> str:
    if not k:
        return ""
    out = [sentences(k.summary)]
    rows = [[(esc(_K2_TITLES[key]), ""), num_cell(getattr(k, key))] for key in _K2_KEYS
            if getattr(k, key) is not None]
    if k.ovr_per_label:
        for key, title in (("max_abs_coef_diff", "max |Δ coefficient|, L logistic fits vs "
                            "independent sigmoids"),
                           ("max_abs_prob_diff", "max |Δ probability|, L logistic fits vs "
                            "independent sigmoids")):
            if key in k.ovr_per_label:
                rows.append([(esc(title), ""), num_cell(k.ovr_per_label[key])])
    if rows:
        out.append(html_table(["quantity", "measured"], rows))
    return "".join(out)


class K2Equivalence(Section):
    """Logistic regression is two-class softmax at half the C."""

    id = "k2_equivalence"
    aliases = ("k2",)
    title = "K=2 equivalence"
    question = "Are they the same model for two classes?"
    lead = ("For K = 2, softmax gives p(class 1) = σ(z₁ − z₀): logistic regression on "
            "w = w₁ − w₀. With an L2 penalty the optimum has w₀ = −w₁, so softmax at C equals "
            "logistic at 2C.")
    result_type = K2Result

    def compute(self, run: StudyRun) -> K2Result:
        return _k2(run)

    def render_html(self, result: K2Result, problem: ProblemResult) -> str:
        return _k2_html(result, problem)

    def render_terminal(self, result: K2Result, problem: ProblemResult) -> list[Any]:
        return summary_line("K=2", result.summary)
