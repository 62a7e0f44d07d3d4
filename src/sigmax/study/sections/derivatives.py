"""Derivatives: how hard are they?

The loss, gradient, Hessian and Hessian-vector product of each loss family
(as LaTeX and plain text), each candidate's Hessian size and structure from the
flops model, and a check of its analytic gradient and Hessian-vector product
against central differences (:func:`sigmax.diagnostics.check_derivatives`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ... import diagnostics as diag
from ..fitting import (
    n_outputs,
    y_for,
)
from ..flops import flops
from ..formatting import (
    cand_label,
    esc,
    fmt_value,
    html_table,
    is_num,
    num_cell,
    sentences,
    summary_line,
)
from ..inputs import cover_subsample
from ..record import Record
from ..result import ProblemResult
from ..run import StudyRun
from ..section import Section


@dataclass(eq=False)
class DerivativeCheck(Record):
    """One candidate's Hessian size and structure, and its finite-difference check."""

    family: str
    n_params: int
    hessian_shape: list[int]
    hessian_unique_blocks: float
    hessian_nonzero_entries: float
    hessian_bytes: float = field(metadata={"doc": "dense float64"})
    flops_per_grad_eval: float
    flops_per_hessp: float
    flops_per_hessian: float
    flops_cholesky: float
    check: dict[str, Any] = field(metadata={
        "doc": "sigmax.diagnostics.check_derivatives, or {'skipped': reason}"})


@dataclass(eq=False)
class DerivativesResult(Record):
    """Formulas per loss family, and each candidate's derivative check."""

    formulas: dict[str, dict[str, str]] | None = field(default=None, metadata={
        "doc": "family -> loss, gradient, hessian, hessp (LaTeX; *_text plain), "
               "hessian_structure"})
    candidates: dict[str, DerivativeCheck] | None = None
    summary: list[str] | None = None
    check_point: str | None = None



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


def _derivatives(run: StudyRun) -> DerivativesResult:
    b = run.budget
    rng = np.random.default_rng(run.seed)
    n, d = run.Xs.shape
    idx = cover_subsample(run.target.strata, b.fd_rows, run.seed)
    Xsub = run.Xs[idx]
    tsub = run.target.subset(idx)
    out: dict[str, Any] = {"formulas": _FORMULAS, "candidates": {}, "summary": [],
                           "check_point": (
                               f"each candidate's coefficients fitted on all rows plus "
                               f"N(0, 0.1^2) noise (away from the optimum, where the gradient "
                               f"is not ~0), on {len(idx)} rows; central differences along "
                               f"{b.fd_directions} random unit directions")}
    for spec in run.convex_specs:
        est = run.full[spec.name]
        k = n_outputs(est)
        fl = flops(spec.family, n, d, k)
        y = y_for(spec, tsub)
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
    return DerivativesResult.from_dict(out, strict=True)


_FORMULA_ROWS = (("loss", "loss"), ("gradient", "gradient"), ("hessian", "Hessian"),
                 ("hessp", "Hessian-vector product"), ("hessian_structure", "structure"))


def _deriv_html(d: DerivativesResult, p: ProblemResult) -> str:
    out = [sentences(d.summary)]
    cands = d.candidates or {}
    if cands:
        rows = []
        for name, c in cands.items():
            chk = c.check or {}
            p2 = c.n_params ** 2
            nnz = c.hessian_nonzero_entries
            share = f" ({nnz / p2:.0%})" if is_num(nnz) and p2 else ""
            rows.append([
                (esc(cand_label(p, name)), ""),
                num_cell(c.n_params, "n_params"),
                (esc(f"{fmt_value(nnz)}{share}"), "num"),
                num_cell(c.hessian_bytes, "hessian_bytes"),
                num_cell(c.flops_per_hessian),
                num_cell(chk.get("grad_max_rel_error")) if "grad_max_rel_error" in chk
                else (esc(chk.get("skipped", "–")), ""),
                num_cell(chk.get("hessp_max_rel_error")) if "hessp_max_rel_error" in chk
                else ("–", "")])
        out.append("<h4>Measured</h4>" + html_table(
            ["model", "parameters", "Hessian nonzeros", "dense Hessian", "flops to build it",
             "∇f vs finite diff.", "Hv vs finite diff."], rows))
    if d.check_point:
        out.append(f"<p class='sub'>Finite differences: {esc(d.check_point)}.</p>")
    return "".join(out)


def formulas_html(result: Any) -> str:
    """The derivative formulas of each loss family, once for the whole report."""
    formulas: dict[str, Any] = {}
    for p in result.problems:
        for fam, f in (p.derivatives.formulas or {}).items():
            formulas.setdefault(fam, f)
    if not formulas:
        return ""
    titles = {"sigmoid": "sigmoid (logistic, one-vs-rest, multi-label)", "softmax": "softmax"}
    rows = []
    for key, title in _FORMULA_ROWS:
        cells = [(f"<code>{esc(f.get(f'{key}_text', f.get(key, '')))}</code>", "")
                 for f in formulas.values()]
        rows.append([(esc(title), ""), *cells])
    return html_table([""] + [titles.get(f, f) for f in formulas], rows)


class Derivatives(Section):
    """Formulas, Hessian structure and finite-difference checks."""

    id = "derivatives"
    title = "Derivatives"
    question = "How hard are the derivatives?"
    lead = ("Both gradients have the same shape, Xᵀ(P − Y): predicted probabilities minus "
            "targets. Logistic's Hessian is Xᵀ diag(p(1 − p)) X; softmax's couples classes, "
            "with blocks Xᵀ diag(p_k([k = l] − p_l)) X. Both are checked here against finite "
            "differences.")
    result_type = DerivativesResult

    def units(self, run: StudyRun) -> int:
        return len(run.specs)

    def compute(self, run: StudyRun) -> DerivativesResult:
        return _derivatives(run)

    def render_html(self, result: DerivativesResult, problem: ProblemResult) -> str:
        return _deriv_html(result, problem)

    def intro_html(self, result: Any) -> str:
        return formulas_html(result)

    def render_terminal(self, result: DerivativesResult, problem: ProblemResult) -> list[Any]:
        return summary_line("Derivatives", result.summary)
