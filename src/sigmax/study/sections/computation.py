"""Computational requirements: what does each model cost to fit and to use?

Per candidate (fitted on all rows): the median time of one value-and-gradient
evaluation, the flops model's counts (:mod:`sigmax.study.flops`) and the
achieved rate, added to ``CandidateResult.compute``. Then the K sweep: the
same rows with K planted classes, softmax against one-vs-rest, to show how the
cost grows with K.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ... import diagnostics as diag
from ...estimators import (
    OneVsRestLogistic,
    SoftmaxRegression,
)
from ...preprocessing import StableScaler
from .. import fitting
from ..figure import (
    FigureSpec,
    Skip,
    model_color,
    new_figure,
    series,
)
from ..fitting import (
    MEMORY_FIT_MAX_EPOCHS,
    MEMORY_FIT_MAX_ITER,
    n_outputs,
    n_params,
    time_grad,
    y_for,
)
from ..flops import FLOPS_MODEL, flops
from ..formatting import (
    esc,
    fmt_value,
    html_table,
    num_cell,
    pretty_key,
    sentences,
)
from ..placement import cuda_device, placement_text
from ..record import Record
from ..result import ProblemResult
from ..run import StudyRun
from ..section import Section


@dataclass(eq=False)
class FlopsModel(Record):
    """The flops model's formulas as text (:mod:`sigmax.study.flops`)."""

    gradient: str
    hessp: str
    hessian: str
    notes: str


@dataclass(eq=False)
class SweepSeries(Record):
    """One model across the K sweep: one value per K."""

    grad_seconds: list[float]
    fit_seconds: list[float]
    n_iter: list[int]
    n_grad_evals: list[int]
    n_params: list[int]
    flops_per_grad_eval: list[float]


@dataclass(eq=False)
class KSweep(Record):
    """Softmax and one-vs-rest on the same rows with K planted classes."""

    ks: list[int]
    n_rows: int
    n_features: int
    solver: str
    C: float
    n_classes_seen: list[int]
    labels: str = field(metadata={"doc": "how the K-class labels were made"})
    models: dict[str, SweepSeries] = field(metadata={"doc": "softmax, ovr"})
    grad_ratio: list[float] = field(metadata={"doc": "one-vs-rest over softmax, per K"})
    fit_ratio: list[float]
    grad_exponent: dict[str, float] | None = field(default=None, metadata={
        "doc": "model -> slope of log time on log K (with 3 or more K values)"})
    fit_exponent: dict[str, float] | None = None


@dataclass(eq=False)
class ComputationResult(Record):
    """How the costs were measured, what they say, and the K sweep (per-candidate
    numbers are in ``CandidateResult.compute``)."""

    threads: int | None = None
    timer: str | None = None
    fit_backend: str | None = field(default=None, metadata={
        "doc": "backend of the candidate fits; gradient timings and the K sweep are NumPy"})
    memory_method: str | None = None
    flops_model: FlopsModel | None = None
    summary: list[str] | None = None
    k_sweep: KSweep | None = None



def _computation(run: StudyRun) -> ComputationResult:
    b = run.budget
    n, d = run.Xs.shape
    summary = []
    for spec in run.convex_specs:
        est = run.full[spec.name]
        cand = run.cand(spec.name)
        k = n_outputs(est)
        fl = flops(spec.family, n, d, k)
        obj = diag.objective_for(est, run.Xs, y_for(spec, run.target))
        w = diag.params_of(est, obj)
        t = time_grad(obj, w, b.grad_timing_seconds)
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
              f"exist ({MEMORY_FIT_MAX_EPOCHS} epochs for a network trained by epochs, whose "
              "every epoch allocates the same buffers; Python and NumPy buffers allocated by "
              "the fit; X itself excluded)")
    backend = run.estimator_params.get("backend", "numpy")
    if backend != "numpy":
        # Fit times come from the chosen backend, gradient timings from NumPy: say so,
        # so that nobody divides one by the other.
        where = placement_text(run.estimator_params)
        summary.insert(0, f"Fit times, iterations and memory are of {where}; gradient-"
                          "evaluation times, flop rates and the K sweep are NumPy on this "
                          "machine's CPU.")
        memory += (f"; on the {backend} backend tracemalloc sees only the host's Python and "
                   "NumPy buffers, not " + ("torch's tensors" if backend == "torch" else
                                           "the memory of dask's workers")
                   + (" (peak_device_memory_bytes: torch.cuda.max_memory_allocated during "
                      "that fit)" if cuda_device(run.estimator_params) is not None else ""))
    sweep = _k_sweep(run)
    return ComputationResult.from_dict({
        "threads": run.threads,
        "timer": "time.perf_counter wall time",
        "fit_backend": backend,
        "memory_method": memory,
        "flops_model": FLOPS_MODEL,
        "summary": summary + sweep.pop("summary"),
        "k_sweep": sweep,
    }, strict=True)


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


def _k_sweep(run: StudyRun) -> dict[str, Any]:
    b = run.budget
    rng = np.random.default_rng(run.seed)
    idx = rng.choice(run.Xs.shape[0], size=min(b.sweep_rows, run.Xs.shape[0]), replace=False)
    X = StableScaler().fit_transform(run.X[idx])
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
            g = time_grad(obj, w, b.grad_timing_seconds)
            est, seconds, _ = fitting.fit(est, X, y)
            rec = est.fit_record_
            r = out["models"][m]
            r["grad_seconds"].append(g)
            r["fit_seconds"].append(seconds)
            r["n_iter"].append(int(rec.n_iter))
            r["n_grad_evals"].append(int(rec.n_grad_evals))
            r["n_params"].append(n_params(est))
            r["flops_per_grad_eval"].append(
                flops("softmax" if m == "softmax" else "sigmoid", X.shape[0], X.shape[1],
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


#: Columns of the compute table, in order (those present are shown).
_COMPUTE_COLUMNS = ("n_params", "fit_seconds", "n_iter", "n_grad_evals", "grad_eval_seconds",
                    "flops_per_grad_eval", "gflops_per_second", "peak_memory_bytes",
                    "predict_seconds")


def _compute_html(comp: ComputationResult, p: ProblemResult) -> str:
    out = [sentences(comp.summary)]
    keys = [k for k in _COMPUTE_COLUMNS if any(k in c.compute for c in p.candidates)]
    if keys:
        rows = [[(esc(c.label or c.name), "")] + [num_cell(c.compute.get(k), k) for k in keys]
                for c in p.candidates]
        titles = {"fit_seconds": "fit time", "grad_eval_seconds": "time / gradient",
                  "gflops_per_second": "GFLOP/s"}
        out.append(html_table(["model"] + [titles.get(k, pretty_key(k)) for k in keys], rows))
    sweep = comp.k_sweep
    if sweep is not None and sweep.labels:
        out.append(f"<p class='sub'>K sweep data: {esc(sweep.labels)}.</p>")
    fm = comp.flops_model
    how = [f"{k}: {v}" for k, v in (("timer", comp.timer), ("memory_method",
                                                            comp.memory_method)) if v]
    if comp.threads:
        how.append(f"BLAS threads: {comp.threads}")
    if fm or how:
        rows = [[(esc(k), ""), (f"<code>{esc(v)}</code>", "")] for k, v in fm.items()
                if k != "notes" and isinstance(v, str)] if fm else []
        out.append("<details><summary>How this is measured (flops model, timer, memory)"
                   "</summary>" + (html_table(["count per evaluation", "formula"], rows)
                                   if rows else "")
                   + (f"<p>{esc(fm.notes)}</p>" if fm and fm.notes else "")
                   + sentences(how) + "</details>")
    return "".join(out)


def draw_k_sweep(problem: ProblemResult) -> Figure:
    """Time per gradient evaluation and per fit against the number of classes K.

    Reads ``problem.computation.k_sweep`` (:class:`KSweep`): ``ks`` and ``models``
    -> model -> ``grad_seconds`` / ``fit_seconds`` (one value per K).
    """
    sweep = problem.computation.k_sweep
    if sweep is None or len(sweep.ks or []) < 2:
        raise Skip("no K sweep in this result (it needs at least two values of K)")
    K = np.asarray(sweep.ks, dtype=np.float64)
    models = sweep.models or {}
    names = {"softmax": "softmax (one K-way model)", "ovr": "one-vs-rest (K sigmoids)"}
    fig = new_figure(7.6, 3.4)
    ax1, ax2 = fig.subplots(1, 2)
    for i, (model, r) in enumerate(models.items()):
        color = model_color(model, i)
        g = series(r.grad_seconds) * 1e3
        f = series(r.fit_seconds) * 1e3
        ax1.plot(K[: len(g)], g, marker="o", ms=3.5, lw=1.6, color=color,
                 label=names.get(model, model))
        ax2.plot(K[: len(f)], f, marker="o", ms=3.5, lw=1.6, color=color,
                 label=names.get(model, model))
    # A guide through the first point, proportional to K: linear cost is a straight
    # line through the origin on these linear axes.
    g0 = [(series(r.grad_seconds) * 1e3)[0] for r in models.values() if r.grad_seconds]
    if g0 and np.isfinite(g0[0]):
        ax1.plot(K, g0[0] * K / K[0], ls=":", color="#888", lw=1, label="∝ K")
    for ax in (ax1, ax2):
        ax.set_xlabel("number of classes K")
        ax.set_xticks(K, [str(int(k)) for k in K])
        ax.set_xlim(0, K[-1] * 1.05)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    n, d = sweep.n_rows, sweep.n_features
    ax1.set_ylabel("ms per value + gradient")
    ax1.set_title(f"One gradient evaluation (n={n}, d={d})")
    ax2.set_ylabel("ms per fit (L-BFGS)")
    ax2.set_title("One full fit")
    ax1.legend(frameon=False, fontsize=7)
    return fig


def draw_loss_curves(problem: ProblemResult) -> Figure:
    """Objective gap and gradient norm per iteration of each model's fit on all rows.

    Reads ``CandidateResult.history`` (``iteration``, ``objective``, ``grad_norm``).
    A history without ``grad_norm`` comes from a stochastic solver on a
    non-convex model (the shared trunk): the best value it reached is no
    minimum, so a "gap" to it would be an artefact; such models are named
    under the plot instead.
    """
    with_hist = [c for c in problem.candidates if len(c.history.get("objective") or []) >= 2]
    cands = [c for c in with_hist if c.history.get("grad_norm")]
    if not cands:
        raise Skip("no per-iteration history of a deterministic solver in this result")
    left_out = [c.label for c in with_hist if c not in cands]
    fig = new_figure(7.6, 3.3 + 0.2 * bool(left_out))
    ax1, ax2 = fig.subplots(1, 2)
    if left_out:
        fig.suptitle("Not shown (stochastic training, no optimality gap): "
                     + "; ".join(left_out), fontsize=7.5, color="#555")
    for i, c in enumerate(cands):
        obj = series(c.history.get("objective"))
        it = series(c.history.get("iteration")) if c.history.get("iteration") else np.arange(
            len(obj), dtype=np.float64)
        # Gap to the best value the run reached; the last point is 0 by
        # construction, so it is drawn at a floor near float64 resolution.
        best = np.nanmin(obj)
        floor = max(np.finfo(np.float64).eps * max(abs(best), 1.0), 1e-300)
        gap = np.maximum(obj - best, floor)
        color = model_color(c.name, i)
        solver = c.params.solver
        label = f"{c.label}" + (f" [{solver}]" if solver else "")
        # Identical models give identical curves (binary: logistic = softmax at C/2):
        # distinct dashes keep each visible.
        ls = ("-", "--", ":", "-.")[i % 4]
        mark = "." if len(obj) <= 60 else None
        ax1.plot(it, gap, lw=1.6, ls=ls, marker=mark, ms=4, color=color, label=label)
        g = series(c.history.get("grad_norm"))
        if len(g):
            ax2.plot(it[: len(g)], np.maximum(g, 1e-300), lw=1.2, ls=ls, marker=mark, ms=4,
                     color=color, label=label)
    for ax in (ax1, ax2):
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3, which="major")
    ax1.set_ylabel("f(w_t) − min f")
    ax1.set_title("Objective gap")
    ax2.set_ylabel("‖∇f(w_t)‖∞")
    ax2.set_title("Gradient norm")
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncols=2,
               frameon=False, fontsize=7)
    return fig


class Computation(Section):
    """Parameters, time, iterations, memory and flops; the cost against K."""

    id = "computation"
    aliases = ("compute",)
    title = "Computational requirements"
    question = "What does each model cost to fit and to use?"
    lead = ("Both models cost one product X·W per gradient evaluation, O(n·d·K) work: softmax "
            "couples the K outputs through one normalization, one-vs-rest and multi-label "
            "logistic keep them independent. Measured: parameters, time, iterations, memory.")
    result_type = ComputationResult
    figures = (
        FigureSpec("k_sweep", "computation", "Cost against the number of classes",
                   "Same rows and features, K planted classes: time of one value-and-gradient "
                   "evaluation (left) and of a full L-BFGS fit (right). The dotted line grows "
                   "proportionally to K.", draw_k_sweep),
        FigureSpec("loss_curves", "computation", "Convergence",
                   "Each model's fit on all rows, per solver iteration (log scale): distance to "
                   "the best objective reached, and the gradient's max-norm.",
                   draw_loss_curves),
    )

    def units(self, run: StudyRun) -> int:
        return len(run.specs) + len(run.budget.k_sweep)

    def compute(self, run: StudyRun) -> ComputationResult:
        return _computation(run)

    def render_html(self, result: ComputationResult, problem: ProblemResult) -> str:
        return _compute_html(result, problem)

    def render_terminal(self, result: ComputationResult, problem: ProblemResult) -> list[Any]:
        return _compute_terminal(problem)


def _compute_terminal(p: ProblemResult) -> list[Any]:
    """The terminal's compute table (medians over folds)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    keys = [k for k in ("n_params", "fit_seconds", "n_iter", "n_grad_evals",
                        "grad_eval_seconds", "peak_memory_bytes")
            if any(k in c.compute for c in p.candidates)]
    if not keys:
        return []
    t = Table(title="Computational requirements (median over folds)",
              box=box.SIMPLE_HEAD, title_justify="left", title_style="bold")
    t.add_column("model")
    titles = {"fit_seconds": "fit time", "grad_eval_seconds": "time / gradient"}
    for k in keys:
        t.add_column(titles.get(k, pretty_key(k)), justify="right")
    for c in p.candidates:
        t.add_row(escape(c.label or c.name), *[fmt_value(c.compute.get(k), k) for k in keys])
    return [t]
