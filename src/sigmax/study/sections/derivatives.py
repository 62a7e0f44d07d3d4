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
from .stability_demo import StabilityRow, stability_demo, stability_html, stability_sentence


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
    stability: list[StabilityRow] | None = field(default=None, metadata={
        "doc": "naive against stable forms at logits of +-1000, measured "
               "(sigmax.study.sections.stability_demo)"})



_FORMULAS = {
    "sigmoid": {
        "loss": (r"\ell(z, y) = \max(z, 0) + \operatorname{log1p}(e^{-|z|}) - y z"
                 r" \;(= \log(1 + e^{z}) - y z)"),
        "loss_text": ("l(z, y) = max(z, 0) + log1p(exp(-|z|)) - y z, per output "
                      "(= log(1 + exp(z)) - y z, never evaluated so: exp(z) overflows)"),
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
        "loss": (r"\ell(z, y) = m + \log \sum_k e^{z_k - m} - z_y,\; m = \max_k z_k"
                 r" \;(= \log \sum_k e^{z_k} - z_y)"),
        "loss_text": ("l(z, y) = m + log(sum_k exp(z_k - m)) - z_y, m = max_k z_k "
                      "(= log(sum_k exp(z_k)) - z_y; the shift keeps every exponent <= 0)"),
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
    rows = stability_demo()
    out["stability"] = [r.to_dict() for r in rows]
    out["summary"].append(stability_sentence(rows))
    return DerivativesResult.from_dict(out, strict=True)


_FORMULA_ROWS = (("loss", "loss"), ("gradient", "gradient"), ("hessian", "Hessian"),
                 ("hessp", "Hessian-vector product"), ("hessian_structure", "structure"))

#: Every symbol of the formula table, defined once (several names per row, comma-separated).
SYMBOLS = (
    ("X", "n x d matrix of the standardized features, one row x_i per sample"),
    ("W, b", "W: d x k coefficients (column w_a per output a); b: the k intercepts"),
    ("Z, z, z_k, z_y", "Z = X W + 1 b^T: the n x k logits; z: one row of Z, z_k its k-th "
                       "logit, z_y the logit of the row's class"),
    ("l", "the loss of one row (one output for sigmoids)"),
    ("y, Y, onehot", "y: a row's class (or 0/1 label); Y: n x k targets; onehot(y), E_y: "
                     "the one-hot row of y"),
    ("p, P, p_a, p_b, p_k", "predicted probabilities: sigmoid(z) = 1 / (1 + exp(-z)) per "
                            "output, or softmax(z)_k = exp(z_k - m) / sum_j exp(z_j - m); "
                            "P (or sigmoid(Z), softmax(Z)): their n x k matrix"),
    ("m", "the row maximum max_k z_k, subtracted before every exp"),
    ("log1p", "log1p(u) = log(1 + u), accurate for tiny u"),
    ("S", "the sum of the sample weights s_i (n when unweighted); each row's term is "
          "multiplied by s_i"),
    ("C", "inverse regularization strength: the L2 term is ||W||^2 / (2 C S)"),
    ("K, k", "K classes; k outputs (K for softmax and one-vs-rest, labels for sigmoids)"),
    ("a, b", "as indices: outputs; [a == b] is 1 when a = b, else 0"),
    ("I", "the d x d identity"),
    ("H, H_ab, grad_W", "H: the Hessian, H_ab its block for outputs a and b; grad_W: the "
                        "gradient with respect to W"),
    ("V, v, U, U_k, h", "V: d x k direction of the Hessian-vector product (v: the same, "
                        "flattened); U = X V (U_k its "
                     "column k); h = p (1 - p) per row and output"),
    ("T", "as a superscript: transpose"),
    ("diag, *", "diag(v): the diagonal matrix of v; * (odot): elementwise product"),
)


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
    symbols = html_table(["symbol", "meaning"],
                         [[(f"<code>{esc(sym)}</code>", ""), (esc(text), "")]
                          for sym, text in SYMBOLS])
    demo = next((p.derivatives.stability for p in result.problems
                 if p.derivatives.stability), None)
    return (html_table([""] + [titles.get(f, f) for f in formulas], rows)
            + "<h4>Symbols</h4>" + symbols + stability_html(demo or []))


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
