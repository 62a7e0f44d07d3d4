"""Advice: which model should I implement?

:func:`sigmax.study.advise.advise` on the labels and, when they ran, the
measurements of the other sections (it reads ``performance`` comparisons,
``k2_equivalence`` and ``minima``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..advise import advise
from ..formatting import (
    esc,
    sentences,
)
from ..record import Record
from ..result import ProblemResult
from ..run import StudyRun
from ..section import Section


@dataclass(eq=False)
class AdviceResult(Record):
    """:class:`sigmax.study.advise.Advice` as data."""

    model: str | None = None
    estimator: str | None = None
    summary: str | None = None
    reasons: list[str] | None = None
    structural_choice: str | None = None
    label_structure: dict[str, Any] | None = None
    evidence: list[dict[str, Any]] | None = None
    status: str | None = None
    n_tests: int | None = None
    beats_baseline: bool | None = None
    fit_command: str | None = None



def _advice_html(a: AdviceResult, p: ProblemResult) -> str:
    if not a:
        return ""
    out = []
    if a.summary:
        out.append(f"<p class='verdict'><b>{esc(a.summary)}</b></p>")
    if a.fit_command:
        out.append("<p>Build it from the same table:</p>"
                   f"<pre><code>{esc(a.fit_command)}</code></pre>")
    out.append(sentences(a.reasons))
    if a.status and a.status != "not_measured":
        out.append(
            "<p class='note'>The rule (docs/advice.md in the sigmax sources): the label "
            "structure proposes; the paired tests shown are corrected together (Holm, "
            f"{a.n_tests or 0} tests); another model replaces the proposal only if "
            "<code>sigmax fit</code> builds it and it is significantly better on log-loss "
            "and significantly worse on nothing; every model is also compared with "
            "predicting the class frequencies.</p>")
    if a.structural_choice and a.model and a.structural_choice != a.model:
        out.append(f"<p>The label structure alone suggests {esc(a.structural_choice)}; the "
                   "measurements changed the choice.</p>")
    ev = a.evidence or []
    if ev:
        out.append("<details><summary>Evidence used</summary>" + sentences(
            [e.get("verdict", "") for e in ev if isinstance(e, Mapping)]) + "</details>")
    return "".join(out)


class AdviceSection(Section):
    """The model to implement, from the label structure checked against the measurements."""

    id = "advice"
    title = "Advice"
    question = "Which should I implement?"
    lead = ("Binary → logistic regression. Mutually exclusive classes → softmax regression. "
            "Labels that can co-occur → one logistic output per label (multi-label), or "
            "softmax heads for the groups of labels that exclude each other.")
    result_type = AdviceResult
    depends_on = ("performance", "minima", "k2_equivalence")

    def compute(self, run: StudyRun) -> AdviceResult:
        advice = advise(run.target, result=run.problem)
        result = AdviceResult.from_dict(advice.to_dict(), strict=True)
        run.progress("advice")
        return result

    def render_html(self, result: AdviceResult, problem: ProblemResult) -> str:
        return _advice_html(result, problem)
