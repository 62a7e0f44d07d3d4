"""``sigmax compare`` and ``sigmax advise``: the study and the advice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from .group import main
from .options import (
    CValue,
    Seconds,
    _check_backend,
    _check_sections,
    _dask_client,
    _load,
    _stdout_console,
    backend_options,
    data_options,
    process_started,
    progress_bars,
)


# -- compare ----------------------------------------------------------------------------------
@main.command()
@click.argument("data", nargs=-1, metavar="[DATA]...")
@data_options
@click.option("-o", "--out", default="sigmax-report", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Report folder (index.html, results.json, figures/).")
@click.option("--cv", default=None, type=click.IntRange(min=2),
              help="Cross-validation folds [default: 5, 3 with --quick].")
@click.option("--C", "C", default="cv", show_default=True, type=CValue(),
              help="Inverse L2 penalty strength: `cv` (each model picks its own C by "
                   "cross-validated log-loss inside each training fold, nested), or one "
                   "number for every model.")
@click.option("--quick", is_flag=True, help="Fewer folds and smaller sweeps: a fast look.")
@click.option("--budget", "budget", default=None, type=Seconds(), metavar="SECONDS",
              help="Fit the run into about this many seconds: every candidate is timed on a "
                   "few hundred rows first, then diagnostic rows, sweeps, restarts, path "
                   "length and folds (down to 3) are cut in that order until the estimate "
                   "fits; the report says what was cut. With --quick it starts from the "
                   "quick sizes.")
@click.option("--no-plots", is_flag=True, help="Tables only (no figures): faster.")
@click.option("--no-report", is_flag=True, help="Terminal summary only; write no folder.")
@click.option("--jobs", "n_jobs", default=None, type=click.IntRange(min=1), metavar="N",
              help="Cores for fits side by side (each fit on one thread) [default: every "
                   "core this process may use]; 1 runs one fit at a time.")
@click.option("--sections", default=None, metavar="ID[,ID...]", callback=_check_sections,
              help="Run only these study sections (comma-separated; default all). An unknown "
                   "id lists the choices, which come from sigmax.study.section.SECTIONS.")
@backend_options
def compare(data: tuple[str, ...], targets: tuple[str, ...], drop: tuple[str, ...],
            dropna: bool, missing: str, groups: str | None, seed: int,
            max_rows: int | None, out: Path, cv: int | None,
            C: float, quick: bool, budget: float | None, no_plots: bool, no_report: bool,
            n_jobs: int | None, sections: list[str] | None, backend: str,
            device: str | None, scheduler: str | None) -> None:
    """Fit logistic, softmax, one-vs-rest and multi-label models side by side.

    DATA is a CSV / Parquet file (with --target) or built-in dataset names (see
    `sigmax datasets`). Without DATA it runs on built-in real data: breast_cancer
    (binary), digits (10 classes), movies (7 non-exclusive genres) and iris (3
    classes). It prints a summary, then writes OUT/index.html, OUT/results.json and
    OUT/figures/.

    --backend / --device / --scheduler place every fit of the candidates (on all
    rows and in cross-validation); the diagnostics on small subproblems (K sweep,
    derivative checks, minima, K=2, PCA regions) run on NumPy.
    """
    import contextlib
    import time

    from ..datasets import DEFAULT_SUITE
    from ..study.figure_pool import FigurePool
    from ..study.render import TerminalRenderer, write_report

    started = process_started()  # --budget counts the whole command, imports included
    sources = list(data) or list(DEFAULT_SUITE)
    if targets and not data:
        raise click.UsageError("--target needs a DATA file: sigmax compare data.csv "
                               "--target COLUMN.")
    _check_backend(backend, device, scheduler)
    if not no_report:
        _check_out(out, data)
    console = _stdout_console()
    datasets = [_load(s, targets, seed=seed, max_rows=max_rows, drop=drop, dropna=dropna,
                      missing=missing, groups=groups)
                for s in sources]
    # Default options keep the estimators' own defaults (no estimator_params at all).
    params = ({"backend": backend, "device": device}
              if backend != "auto" or device is not None else None)
    draw = not no_report and not no_plots
    with progress_bars() as callback, _dask_client(scheduler), \
            (FigurePool() if draw else contextlib.nullcontext()) as pool:
        result = run_compare(datasets, cv=cv, C=C, seed=seed, quick=quick, callback=callback,
                             estimator_params=params, sections=sections,
                             time_budget=budget, started=started, n_jobs=n_jobs,
                             report=None if no_report else not no_plots,
                             on_problem=None if pool is None else pool.submit)
        path = None
        if not no_report:
            path = write_report(result, out, plots=not no_plots, callback=callback,
                                figures=None if pool is None else pool.rendered())
    TerminalRenderer(console).render(result)
    if budget is not None:
        _print_budget(console, result, budget, time.perf_counter() - started)
    where = result.settings.get("backend", "numpy")
    if where != "numpy":
        extra = result.settings.get("device") or result.settings.get("scheduler")
        console.print(f"[dim]Candidate fits ran on the {where} backend"
                      f"{f' ({extra})' if extra else ''}; the timings per gradient, the K "
                      "sweep and the other diagnostics on small subproblems ran on NumPy.[/]")
    if path is not None:
        console.print(f"Report: [bold]{path}[/]  (open it in a browser; results.json and "
                      f"figures/ beside it)")


def _print_budget(console: Any, result: Any, budget: float, took: float) -> None:
    """The cuts of ``--budget`` (one sentence each, per dataset) and the time it took."""
    from rich.markup import escape

    plans = result.settings.get("budget") or {}
    plans = plans if isinstance(plans, list) else [plans] * len(result.problems)
    for p, plan in zip(result.problems, plans):
        for sentence in plan.get("sentences", []):
            console.print(f"[dim]{escape(p.dataset)}: {escape(sentence)}[/]")
    console.print(f"[dim]Ran in {took:.1f} s since the command started, against --budget "
                  f"{budget:g} s ({took / budget:.0%} of it).[/]")


def _check_out(out: Path, inputs: Sequence[str] = ()) -> None:
    from ..outputs import check_output_dir
    from ..study.render import _is_replaceable

    check_output_dir(out, inputs, what="--out")
    if not _is_replaceable(out):
        raise click.UsageError(
            f"--out {out} exists and is not a sigmax report; choose a new or empty folder "
            "(a report folder is replaced as a whole).")


def run_compare(datasets: Sequence[Any], *, cv: int | None = None, C: float | str = "cv",
                seed: int = 0, quick: bool = False,
                callback: Callable[[str, int, int], None] | None = None,
                estimator_params: dict[str, Any] | None = None,
                sections: Sequence[str] | None = None, time_budget: float | None = None,
                started: float | None = None, report: bool | None = None,
                on_problem: Callable[[Any], None] | None = None,
                n_jobs: int | None = None) -> Any:
    """Run :func:`sigmax.study.compare.compare` on each dataset; one combined result.

    ``estimator_params`` (``backend``, ``device``) places the candidate fits;
    ``sections`` picks section ids of :data:`sigmax.study.section.SECTIONS` (None: all).
    ``time_budget``: seconds for the whole run, counted from ``started``
    (``time.perf_counter()``; default now) and including the report (``report``:
    True with figures, False without, None for none): the datasets' sizes are
    planned together (:func:`sigmax.study.planning.plan_budgets`).
    ``on_problem(problem)``: called with each finished problem, in order (the
    figure pool starts drawing it while the next one is studied). ``n_jobs``: cores
    for fits side by side (``compare(n_jobs=...)``; None: every core).
    """
    from ..study.compare import compare as compare_one
    from ..study.result import CompareResult

    planner = None
    if time_budget is not None:
        planner = _plan_suite(datasets, time_budget, cv=cv, C=C, seed=seed, quick=quick,
                              estimator_params=estimator_params, sections=sections,
                              started=started, report=report, n_jobs=n_jobs)
    results = []
    for ds in datasets:
        plan = None if planner is None else planner.next(
            [p.seconds.get("total", 0.0) for r in results for p in r.problems])
        res = compare_one(
            ds.X, ds.y, name=ds.name, description=ds.description, notes=ds.notes,
            cv=5 if cv is None else cv, C=C, random_state=seed, quick=quick,
            progress=callback, estimator_params=estimator_params, sections=sections,
            groups=None if getattr(ds, "groups", None) is None else ds.groups.to_numpy(),
            time_budget=plan, n_jobs=n_jobs)
        for p in res.problems:
            if p.advice and p.advice.model:
                chosen = next((c for c in p.candidates if c.name == p.advice.model), None)
                tuned = chosen.params.C_selected if chosen is not None else None
                p.advice.fit_command = fit_command_for(
                    ds, p.advice.model, C=tuned if tuned is not None else
                    (1.0 if C == "cv" else float(C)))
            if on_problem is not None:
                on_problem(p)
        results.append(res)
    return CompareResult.combine(results)


def _plan_suite(datasets: Sequence[Any], seconds: float, *, cv: int | None, C: float | str,
                seed: int, quick: bool, estimator_params: dict[str, Any] | None,
                sections: Sequence[str] | None, started: float | None,
                report: bool | None, n_jobs: int | None = None) -> Any:
    """A :class:`~sigmax.study.planning.SuitePlanner` of the datasets, to fit ``seconds``
    from ``started``."""
    import time

    from ..study.budget import budget_for
    from ..study.cost import probe_data, report_seconds
    from ..study.planning import SuitePlanner
    from ..study.section import SECTIONS
    from ..study.side_by_side import cores

    secs = SECTIONS.resolve(sections)
    probes = [probe_data(ds.X, ds.y, name=ds.name, C=C, quick=quick, random_state=seed,
                         estimator_params=estimator_params, sections=secs)
              for ds in datasets]
    start = budget_for(quick)
    folds = 5 if cv is None else cv
    folds = min(folds, start.max_folds) if start.max_folds else folds
    begun = time.perf_counter() if started is None else started
    return SuitePlanner(probes, seconds, lambda: time.perf_counter() - begun,
                        report_seconds([p.n_classes for p in probes], report), start=start,
                        n_folds=[folds] * len(probes), sections=[secs] * len(probes),
                        tuned=C == "cv", n_jobs=cores(n_jobs, estimator_params))


def fit_command_for(ds: Any, model: str, *, C: float = 1.0) -> str | None:
    """The ``sigmax fit`` command that builds candidate ``model`` from ``ds``'s table.

    None for a candidate ``sigmax fit`` cannot build.
    """
    import shlex

    from ..study.advise import FIT_MODEL

    if model not in FIT_MODEL:
        return None
    is_file = bool(ds.source) and Path(str(ds.source)).is_file()
    args = ["sigmax", "fit", str(ds.source) if is_file else ds.name]
    if is_file:  # a built-in dataset brings its own target
        names = list(ds.y.columns) if hasattr(ds.y, "columns") else [ds.y.name]
        for t in names:
            args += ["-t", str(t)]
    args += ["-m", FIT_MODEL[model]]
    if C != 1.0:
        args += ["--C", f"{C:g}"]
    enc = getattr(ds, "encoding", None)
    if enc is not None and enc.missing != "error":
        args += ["--missing", enc.missing]
    if getattr(ds, "groups", None) is not None:
        args += ["--groups", str(ds.groups.name)]
    args += ["-o", "model.safetensors"]
    return " ".join(shlex.quote(a) for a in args)


# -- advise -----------------------------------------------------------------------------------
@main.command()
@click.argument("data")
@data_options
def advise(data: str, targets: tuple[str, ...], drop: tuple[str, ...], dropna: bool,
           missing: str, groups: str | None,
           seed: int, max_rows: int | None) -> None:
    """Which model fits the label structure of DATA, and why (no fitting).

    Binary -> logistic; exclusive classes -> softmax; labels that co-occur ->
    one logistic head per label. For the measured comparison run `sigmax compare`.
    """
    from ..study.advise import advise as advise_fn

    # Only the target columns are read: the label structure decides the advice,
    # and a problem in a feature column is no reason to refuse it.
    ds = _load(data, targets, seed=seed, max_rows=max_rows, drop=drop, dropna=dropna,
               missing=missing, targets_only=True)
    a = advise_fn(ds.y)
    console = _stdout_console()
    from rich.markup import escape
    from rich.panel import Panel

    body = [f"[bold green]{escape(a.summary)}[/]", ""]
    body += [f"• {escape(r)}" for r in a.reasons]
    s = a.label_structure
    features = f"{ds.X.shape[1]} features, " if ds.X.shape[1] else ""
    facts = [f"{ds.name}: {len(ds.X):,} rows, {features}task {ds.task}, "
             f"{s.get('n_classes')} {'labels' if ds.task == 'multilabel' else 'classes'}"]
    facts += ds.notes
    if "counts" in s:
        facts.append("rows per " + ("label" if ds.task == "multilabel" else "class") + ": "
                     + ", ".join(f"{n}={c}" for n, c in zip(s["names"], s["counts"])))
    console.print(Panel("\n".join(body), title=f"[bold]Advice for {escape(ds.name)}[/]",
                        border_style="green"))
    for f in facts:
        console.print(f"[dim]{escape(f)}[/]")


