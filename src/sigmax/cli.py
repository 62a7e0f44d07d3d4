"""The ``sigmax`` command line: a thin click group over library functions.

Each command calls one or two plain functions that do the same from Python:

==============  ==========================================================
command         library
==============  ==========================================================
``compare``     :func:`sigmax.study.compare.compare` per dataset, then
                :func:`sigmax.study.render.write_report`
``advise``      :func:`sigmax.study.advise.advise`
``fit``         :func:`sigmax.datasets.fit_dataset`, :func:`sigmax.io.save`
``predict``     :func:`sigmax.io.load`, :func:`sigmax.datasets.predict_table`
``summary``     :func:`sigmax.io.load`, :func:`sigmax.inference`
``export``      :func:`sigmax.io.load`, :func:`sigmax.onnx_export.export_onnx`
``datasets``    :data:`sigmax.datasets.DATASETS`
``bench``       :func:`sigmax.bench.run`
==============  ==========================================================

Bad input (a missing file, an unknown column, a one-class target, NaN...)
ends the command with a one-line ``Error: ...`` on stderr and exit status 1,
never a traceback. More commands join the group with ``@main.command()``.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from .penalties import PENALTIES

__all__ = ["main"]

#: Exceptions raised by the library for bad input: shown as one line, no traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError,
                                                 NotADirectoryError, IsADirectoryError,
                                                 PermissionError, TypeError)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, FileNotFoundError) and not text:
        text = "file not found"
    return text or type(exc).__name__


def _os_error_line(exc: OSError) -> str:
    """``[Errno 28] No space left on device: 'x'`` as "x: no space left on device"."""
    why = (exc.strerror or _one_line(exc)).rstrip(".")
    where = exc.filename if exc.filename is not None else ""
    text = f"{where}: {why[:1].lower()}{why[1:]}" if where else why
    hint = _OS_ERROR_HINTS.get(exc.errno or -1, "")
    return f"{text}{'; ' + hint if hint else ''}."


#: What to do about the file-system errors a user can fix.
_OS_ERROR_HINTS = {
    28: "free some space or write elsewhere",
    30: "the file system is read-only; write elsewhere",
    36: "choose a shorter file name",
    13: "choose a path you can write to",
    20: "a part of the path is a file, not a folder",
}


class _RefusedPath(click.ClickException):
    """A refused output path: one line and exit status 2, like a usage error."""

    exit_code = 2


class SigmaxGroup(click.Group):
    """A click group that turns the library's input errors into one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        from .outputs import OutputPathError

        try:
            return super().invoke(ctx)
        except (*USER_ERRORS, OSError, RecursionError) as exc:
            if os.environ.get("SIGMAX_DEBUG"):
                raise
            if isinstance(exc, OutputPathError):
                raise _RefusedPath(_one_line(exc)) from None
            if isinstance(exc, RecursionError):
                raise click.ClickException(
                    "the input is nested too deeply to read (a damaged or hostile file?)"
                ) from None
            if isinstance(exc, OSError) and exc.strerror:
                raise click.ClickException(_os_error_line(exc)) from None
            raise click.ClickException(_one_line(exc)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


@click.group(cls=SigmaxGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                "max_content_width": 100})
@click.version_option(package_name="sigmax", prog_name="sigmax")
def main() -> None:
    """Logistic or softmax regression? Fit them side by side and find out.

    \b
    sigmax compare                    the study on built-in real data -> ./sigmax-report/
    sigmax compare data.csv -t label  the study on your data
    sigmax advise data.csv -t label   which model fits your labels, and why
    sigmax fit / predict              train a model on a table, apply it to another
    sigmax summary MODEL data.csv -t label   coefficient table (std errors, p-values)
    sigmax export MODEL -o FILE.onnx  serve a fitted model without Python (ONNX)
    sigmax datasets                   the built-in datasets

    Set SIGMAX_DEBUG=1 to see full tracebacks.
    """


# -- shared pieces ----------------------------------------------------------------------------
class CValue(click.ParamType):
    """``cv`` or a float in (0, inf]."""

    name = "cv|positive float"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        if isinstance(value, str) and value.strip().lower() == "cv":
            return "cv"
        return PositiveFloat().convert(value, param, ctx)


class PositiveFloat(click.FloatRange):
    """A float in (0, inf]: click's range lets NaN through (every comparison with it is False)."""

    name = "positive float"

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> Any:
        out = super().convert(value, param, ctx)
        if out != out:  # NaN
            self.fail(f"{value!r} is not a number; give a float > 0 (inf: no penalty).",
                      param, ctx)
        return out


def _stdout_console():
    from rich.console import Console

    return Console(highlight=False)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[Callable[[str, int, int], None]]:
    """A ``callback(step, done, total)`` that drives one rich progress bar per step.

    Bars go to stderr (stdout keeps the summary) and only on a terminal.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = _stderr_console()
    progress = Progress(SpinnerColumn(), TextColumn("{task.description:<44}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                        disable=not (enabled and console.is_terminal), transient=False)
    tasks: dict[str, Any] = {}

    def callback(step: str, done: int, total: int) -> None:
        # The study reports "<dataset>: <what it is doing>" with one running count
        # per dataset: one bar per dataset, its text the current step.
        key, _, what = step.partition(": ")
        label = f"{key}: {what}" if what else key
        if key not in tasks:
            tasks[key] = progress.add_task(label, total=max(int(total), 1))
        progress.update(tasks[key], completed=int(done), total=max(int(total), 1),
                        description=label[:44])

    with progress:
        yield callback


def _load(data: str, targets: Sequence[str], *, seed: int, max_rows: int | None,
          drop: Sequence[str], dropna: bool, missing: str = "error",
          groups: str | None = None, reference: bool = False, targets_only: bool = False):
    import warnings as _warnings

    from .datasets import load_dataset

    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always", UserWarning)
        ds = load_dataset(data, list(targets) or None, seed=seed, max_rows=max_rows,
                          drop=drop, dropna=dropna, missing=missing, groups=groups,
                          reference=reference, targets_only=targets_only)
    for w in caught:  # e.g. "dropping rows removes 75% of the table"
        click.echo(f"Warning: {_one_line(w.message)}", err=True)
    return ds


_data_options = [
    click.option("-t", "--target", "targets", multiple=True, metavar="COL",
                 help="Column to predict. Repeat it for several 0/1 label columns "
                      "(a multi-label problem)."),
    click.option("--drop", multiple=True, metavar="COL",
                 help="Leave this column out of the features (ids, free text). Repeatable."),
    click.option("--missing", default="error", show_default=True,
                 type=click.Choice(["error", "drop", "indicator"]),
                 help="Missing values: stop and name them (error), leave those rows out "
                      "(drop), or impute numbers with a missing flag and give text a "
                      "'(missing)' level (indicator; stored with the model)."),
    click.option("--dropna", is_flag=True, hidden=True,
                 help="Same as --missing drop (older scripts)."),
    click.option("--groups", default=None, metavar="COL",
                 help="Column of group labels (a person, a site): folds keep each group "
                      "together, and the column is not a feature."),
    click.option("--seed", default=0, show_default=True, type=int,
                 help="Seed of subsampling, folds and random starts."),
    click.option("--max-rows", type=click.IntRange(min=10), default=None,
                 help="Subsample the data to at most this many rows."),
]


def data_options(f: Callable) -> Callable:
    for opt in reversed(_data_options):
        f = opt(f)
    return f


_backend_options = [
    click.option("--backend", default="auto", show_default=True,
                 type=click.Choice(["auto", "numpy", "torch", "dask"]),
                 help="Where the products with X run (see docs/scaling.md)."),
    click.option("--device", default=None, metavar="DEVICE",
                 help="torch device for --backend torch: cpu, cuda, cuda:1."),
    click.option("--scheduler", default=None, metavar="ADDRESS",
                 help="dask.distributed scheduler to fit on (tcp://host:8786), with "
                      "--backend dask; without it dask uses this machine's threads."),
]


def backend_options(f: Callable) -> Callable:
    """``--backend``, ``--device``, ``--scheduler``; check them with :func:`_check_backend`."""
    for opt in reversed(_backend_options):
        f = opt(f)
    return f


def _check_backend(backend: str, device: str | None, scheduler: str | None) -> None:
    """Fail early, in one line, on a backend choice that cannot run (before any data load)."""
    if scheduler is not None and backend != "dask":
        raise click.UsageError("--scheduler is the address of a dask cluster: use it with "
                               "--backend dask.")
    import numpy as np

    from .backends import resolve_backend

    try:  # the CLI's data are NumPy: "auto" is NumPy, or torch for a GPU --device
        resolve_backend(backend, np.empty((1, 1)), device)
    except ImportError as exc:
        raise click.ClickException(_one_line(exc)) from None


def _check_sections(ctx: click.Context, param: click.Parameter, value: str | None
                    ) -> list[str] | None:
    """``--sections`` as section ids, checked against the registry (read when used, so
    the CLI starts without importing the study)."""
    if value is None:
        return None
    from .study.section import SECTIONS

    try:
        return SECTIONS.resolve(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


_inference_options = [
    click.option("--cov-type", default="nonrobust", show_default=True, metavar="TYPE",
                 help="Covariance of the estimates: nonrobust, HC0, HC1 or cluster "
                      "(with --groups)."),
    click.option("--alpha", default=0.05, show_default=True,
                 type=click.FloatRange(0, 1, min_open=True, max_open=True),
                 help="Confidence intervals at level 1 - alpha."),
]


def inference_options(f: Callable) -> Callable:
    """``--cov-type``, ``--groups``, ``--alpha`` of the coefficient table."""
    for opt in reversed(_inference_options):
        f = opt(f)
    return f


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
                   "cross-validation inside each training fold) or one number for every "
                   "model.")
@click.option("--quick", is_flag=True, help="Fewer folds and smaller sweeps: a fast look.")
@click.option("--no-plots", is_flag=True, help="Tables only (no figures): faster.")
@click.option("--no-report", is_flag=True, help="Terminal summary only; write no folder.")
@click.option("--sections", default=None, metavar="ID[,ID...]", callback=_check_sections,
              help="Run only these study sections (comma-separated; default all). An unknown "
                   "id lists the choices, which come from sigmax.study.section.SECTIONS.")
@backend_options
def compare(data: tuple[str, ...], targets: tuple[str, ...], drop: tuple[str, ...],
            dropna: bool, missing: str, groups: str | None, seed: int,
            max_rows: int | None, out: Path, cv: int | None,
            C: float, quick: bool, no_plots: bool, no_report: bool,
            sections: list[str] | None, backend: str, device: str | None,
            scheduler: str | None) -> None:
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
    from .datasets import DEFAULT_SUITE
    from .study.render import TerminalRenderer, write_report

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
    with progress_bars() as callback, _dask_client(scheduler):
        result = run_compare(datasets, cv=cv, C=C, seed=seed, quick=quick, callback=callback,
                             estimator_params=params, sections=sections)
        path = None
        if not no_report:
            path = write_report(result, out, plots=not no_plots, callback=callback)
    TerminalRenderer(console).render(result)
    where = result.settings.get("backend", "numpy")
    if where != "numpy":
        extra = result.settings.get("device") or result.settings.get("scheduler")
        console.print(f"[dim]Candidate fits ran on the {where} backend"
                      f"{f' ({extra})' if extra else ''}; the timings per gradient, the K "
                      "sweep and the other diagnostics on small subproblems ran on NumPy.[/]")
    if path is not None:
        console.print(f"Report: [bold]{path}[/]  (open it in a browser; results.json and "
                      f"figures/ beside it)")


def _check_out(out: Path, inputs: Sequence[str] = ()) -> None:
    from .outputs import check_output_dir
    from .study.render import _is_replaceable

    check_output_dir(out, inputs, what="--out")
    if not _is_replaceable(out):
        raise click.UsageError(
            f"--out {out} exists and is not a sigmax report; choose a new or empty folder "
            "(a report folder is replaced as a whole).")


def run_compare(datasets: Sequence[Any], *, cv: int | None = None, C: float | str = 1.0,
                seed: int = 0, quick: bool = False,
                callback: Callable[[str, int, int], None] | None = None,
                estimator_params: dict[str, Any] | None = None,
                sections: Sequence[str] | None = None) -> Any:
    """Run :func:`sigmax.study.compare.compare` on each dataset; one combined result.

    ``estimator_params`` (``backend``, ``device``) places the candidate fits;
    ``sections`` picks section ids of :data:`sigmax.study.section.SECTIONS` (None: all).
    """
    from .study.compare import compare as compare_one
    from .study.result import CompareResult

    results = []
    for ds in datasets:
        res = compare_one(
            ds.X, ds.y, name=ds.name, description=ds.description, notes=ds.notes,
            cv=5 if cv is None else cv, C=C, random_state=seed, quick=quick,
            progress=callback, estimator_params=estimator_params, sections=sections,
            groups=None if getattr(ds, "groups", None) is None else ds.groups.to_numpy())
        for p in res.problems:
            if p.advice and p.advice.model:
                chosen = next((c for c in p.candidates if c.name == p.advice.model), None)
                tuned = chosen.params.C_selected if chosen is not None else None
                p.advice.fit_command = fit_command_for(
                    ds, p.advice.model, C=tuned if tuned is not None else
                    (1.0 if C == "cv" else float(C)))
        results.append(res)
    return CompareResult.combine(results)


def fit_command_for(ds: Any, model: str, *, C: float = 1.0) -> str | None:
    """The ``sigmax fit`` command that builds candidate ``model`` from ``ds``'s table.

    None for a candidate ``sigmax fit`` cannot build.
    """
    import shlex

    from .study.advise import FIT_MODEL

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
    from .study.advise import advise as advise_fn

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


# -- fit / predict ----------------------------------------------------------------------------
@main.command()
@click.argument("data")
@data_options
@click.option("-m", "--model", default="auto", show_default=True, metavar="NAME",
              help="logistic, softmax, ovr, multilabel, or auto (what `sigmax advise` "
                   "recommends).")
@click.option("-o", "--output", required=True, metavar="FILE",
              help="Model file to write (.safetensors).")
@click.option("--C", "C", default="1.0", show_default=True, metavar="FLOAT|cv",
              help="Inverse penalty strength, or `cv` to choose it by cross-validation "
                   "(the *CV estimator over --Cs with --cv folds, scored by log-loss).")
@click.option("--Cs", "Cs", default="10", show_default=True, metavar="N|C1,C2,...",
              help="With --C cv: N values of np.logspace(-4, 4, N), or a comma list of C.")
@click.option("--cv", "cv", default=5, show_default=True, type=click.IntRange(min=2),
              help="With --C cv: number of folds (stratified for class labels).")
@click.option("--penalty", default="l2", show_default=True,
              type=click.Choice(list(PENALTIES)))
@click.option("--l1-ratio", type=click.FloatRange(0, 1), default=None,
              help="Elastic-net mixing (with --penalty elasticnet).")
@click.option("--max-iter", default=1000, show_default=True, type=click.IntRange(min=1))
@click.option("--no-standardize", is_flag=True,
              help="Fit on the raw feature scale (default: standardize, then store "
                   "coefficients for raw features).")
@click.option("--summary", "show_summary", is_flag=True,
              help="Print the coefficient table (std errors, z, p-values, intervals); "
                   "use --penalty none for maximum-likelihood inference.")
@inference_options
@backend_options
def fit(data: str, targets: tuple[str, ...], drop: tuple[str, ...], dropna: bool,
        missing: str, groups: str | None, seed: int,
        max_rows: int | None, model: str, output: str, C: str, Cs: str, cv: int,
        penalty: str, l1_ratio: float | None, max_iter: int, no_standardize: bool,
        show_summary: bool, cov_type: str, alpha: float,
        backend: str, device: str | None, scheduler: str | None) -> None:
    """Fit one model on DATA and save it (safetensors, no pickle).

    The file stores the encoded feature names: `sigmax predict` encodes a new
    table the same way.
    """
    from .datasets import fit_dataset
    from .io import save
    from .outputs import check_output_file

    if not targets and Path(data).exists():
        raise click.UsageError("Say which column to predict: --target COLUMN.")
    _check_backend(backend, device, scheduler)
    c_params = _c_options(C, Cs, cv)
    output = check_output_file(output, [data], what="--output")
    # Without a penalty a full one-hot block plus the intercept is rank deficient
    # (a flat direction, no unique optimum): one reference level per text column.
    ds = _load(data, targets, seed=seed, max_rows=max_rows, drop=drop, dropna=dropna,
               missing=missing, groups=groups, reference=penalty == "none")
    if "Cs" in c_params:  # the cross-validated twin of the chosen model
        from .datasets import _auto_model, _estimator_class

        model = _estimator_class(_auto_model(ds) if model == "auto" else model).__name__ + "CV"
    with warnings.catch_warnings(record=True) as caught, _dask_client(scheduler):
        warnings.simplefilter("always")
        est = fit_dataset(ds, model, standardize=not no_standardize,
                          penalty=None if penalty == "none" else penalty, l1_ratio=l1_ratio,
                          max_iter=max_iter, backend=backend, device=device, **c_params)
    for w in caught:
        click.echo(f"Warning: {_one_line(w.message)}", err=True)
    if "Cs" in c_params:
        click.echo(f"Cross-validated C = {est.C_:.4g} (best mean {est.scoring} over "
                   f"{est.scores_.shape[0]} folds, {len(est.Cs_)} values of C).")
        est = est.to_estimator()  # the model file holds the plain model at C_
    save(est, output)
    rec = getattr(est, "fit_record_", None)
    console = _stdout_console()
    how = (f" in {rec.n_iter} iterations ({rec.solver}, {rec.seconds:.2f} s)"
           if rec is not None else "")
    acc = float(est.score(ds.X, ds.y))
    console.print(f"Fitted {type(est).__name__} on {len(ds.X):,} rows × {ds.X.shape[1]} "
                  f"features{how}; training {'subset ' if ds.task == 'multilabel' else ''}"
                  f"accuracy {acc:.3f}.")
    console.print(f"Saved: [bold]{output}[/]")
    if show_summary:
        X = ds.X
        scale = None if no_standardize else _feature_scale(X)
        _print_inference(est, X, ds.y, cov_type=cov_type, alpha=alpha, penalty_scale=scale,
                         groups=None if ds.groups is None else ds.groups.to_numpy())


# -- inference ----------------------------------------------------------------------------
def _feature_scale(X: Any) -> Any:
    """The scale ``sigmax fit`` standardizes by (:class:`sigmax.preprocessing.StableScaler`)."""
    import numpy as np

    from .preprocessing import StableScaler

    sc = StableScaler().fit(np.asarray(X, dtype=np.float64))
    with np.errstate(over="ignore"):
        return np.ldexp(sc.scale_, sc.exponent_)


def _group_labels(data: str, column: str | None, n_rows: int) -> Any:
    """The ``column`` of the table ``data`` (cluster labels), row-aligned with its dataset."""
    if column is None:
        return None
    from .datasets import read_table

    df = read_table(data)
    if column not in df.columns:
        raise ValueError(f"--groups column {column!r} not in {data}; available columns: "
                         f"{', '.join(map(str, df.columns))}.")
    if len(df) != n_rows:
        raise ValueError("--groups needs every row of the table: it cannot be combined with "
                         "--dropna or --max-rows (rows were dropped).")
    return df[column].to_numpy()


def _print_inference(est: Any, X: Any, y: Any, **kwargs: Any) -> None:
    """Print :func:`sigmax.inference`'s summary; its warnings go to stderr, one line each."""
    from .inference import inference

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = inference(est, X, y, **kwargs)
    for w in caught:
        click.echo(f"Warning: {_one_line(w.message)}", err=True)
    click.echo(res.summary())


@main.command()
@click.argument("model_file", metavar="MODEL", type=click.Path(path_type=Path))
@click.argument("data")
@click.option("-t", "--target", "targets", multiple=True, required=True, metavar="COL",
              help="Target column(s) the model was fitted on (repeat for multi-label).")
@inference_options
@click.option("--groups", default=None, metavar="COL",
              help="Column of cluster labels for --cov-type cluster.")
@click.option("--no-standardize", is_flag=True,
              help="The model was fitted with `sigmax fit --no-standardize` (or in Python on "
                   "raw features): its L2 penalty acted on the raw scale.")
def summary(model_file: Path, data: str, targets: tuple[str, ...], cov_type: str,
            groups: str | None, alpha: float, no_standardize: bool) -> None:
    """Coefficient table of a saved MODEL on DATA (the data it was fitted on).

    Standard errors, z, p-values, confidence intervals and odds ratios, as
    statsmodels' summary(); softmax rows are log-odds against the first class.
    Fit with `sigmax fit --penalty none` for maximum-likelihood inference.
    """
    from .datasets import encode_like, read_table
    from .io import load

    est = load(model_file)
    df = read_table(data)
    missing = [t for t in targets if t not in df.columns]
    if missing:
        raise ValueError(f"--target column(s) {missing} not in {data}; available columns: "
                         f"{', '.join(map(str, df.columns))}.")
    X = encode_like(est, df, what=str(data))
    y = df[list(targets)] if len(targets) > 1 else df[targets[0]]
    scale = None if no_standardize else _feature_scale(X)
    _print_inference(est, X, y, cov_type=cov_type, alpha=alpha, penalty_scale=scale,
                     groups=_group_labels(data, groups, len(X)))


def _c_options(C: str, Cs: str, cv: int) -> dict[str, Any]:
    """``--C`` / ``--Cs`` / ``--cv`` as estimator parameters (``C``, or ``Cs`` and ``cv``)."""
    if C.strip().lower() == "cv":
        try:
            grid: Any = (int(Cs) if "," not in Cs
                         else [float(v) for v in Cs.split(",") if v.strip()])
        except ValueError:
            raise click.BadParameter(f"{Cs!r} is not a number of values nor a comma list of C "
                                     "(e.g. 10 or 0.01,0.1,1,10).", param_hint="--Cs") from None
        return {"Cs": grid, "cv": cv}
    try:
        value = float(C)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise click.BadParameter(f"{C!r} is neither a positive number nor 'cv'.",
                                 param_hint="--C")
    return {"C": value}


@contextmanager
def _dask_client(address: str | None) -> Iterator[None]:
    """Connect to the dask scheduler at ``address`` for the duration (no-op for None)."""
    if address is None:
        yield
        return
    try:
        from distributed import Client
    except ImportError as exc:
        raise click.UsageError("--scheduler needs dask.distributed: pip install "
                               "'sigmax[dask]'.") from exc
    try:
        client = Client(address, timeout="10s")
    except OSError as exc:
        raise click.UsageError(f"Cannot reach the dask scheduler at {address}: "
                               f"{_one_line(exc)}") from exc
    with client:
        yield


@main.command()
@click.argument("model_file", metavar="MODEL", type=click.Path(path_type=Path))
@click.argument("data")
@click.option("-o", "--output", default=None, metavar="FILE",
              help="CSV to write [default: stdout].")
@click.option("--keep", multiple=True, metavar="COL",
              help="Copy this input column into the output (an id). Repeatable.")
@click.option("--missing", default="error", show_default=True,
              type=click.Choice(["error", "drop"]),
              help="Rows with missing values: stop and name them, or leave them out of the "
                   "output. A model fitted with --missing indicator imputes them itself.")
def predict(model_file: Path, data: str, output: str | None, keep: tuple[str, ...],
            missing: str) -> None:
    """Apply a saved MODEL to the rows of DATA (CSV / Parquet); write a CSV.

    Columns: the --keep columns, `predicted` (or `predicted:<label>` per label), and
    `p:<class>`, one probability column per class / label.
    """
    from .datasets import predict_table, read_table
    from .io import atomic_write_text, load
    from .outputs import check_output_file

    if output is not None:
        check_output_file(output, [model_file, data], what="--output")
    est = load(model_file)
    df = read_table(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        table = predict_table(est, df, what=str(data), keep=keep, missing=missing)
    for w in caught:
        click.echo(f"Warning: {_one_line(w.message)}", err=True)
    text = table.to_csv(index=False)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write_text(output, text)
        click.echo(f"Wrote {len(table):,} predictions to {output}", err=True)


@main.command("export")
@click.argument("model_file", metavar="MODEL", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, metavar="FILE", help="ONNX file to write.")
@click.option("--dtype", default="float32", show_default=True,
              type=click.Choice(["float32", "float64"]),
              help="Element type of the ONNX input X and of the probabilities.")
def export_cmd(model_file: Path, output: str, dtype: str) -> None:
    """Export a saved MODEL to ONNX (outputs `label` and `probabilities`).

    The input `X` takes the encoded features in the order stored in the file's
    metadata (`feature_names`), as `sigmax predict` encodes a table.
    """
    from .io import load
    from .onnx_export import export_onnx
    from .outputs import check_output_file

    check_output_file(output, [model_file], what="--output")
    model = load(model_file)
    try:
        export_onnx(model, output, dtype=dtype)
    except ImportError as exc:
        raise click.ClickException(_one_line(exc)) from None
    click.echo(f"Wrote {output}", err=True)


# -- datasets ---------------------------------------------------------------------------------
@main.command("datasets")
def datasets_cmd() -> None:
    """List the built-in datasets (shipped by installed packages; no download)."""
    from rich import box
    from rich.table import Table

    from .datasets import DATASETS, DEFAULT_SUITE

    t = Table(box=box.SIMPLE_HEAD, title="Built-in datasets (use the name as DATA)",
              title_justify="left")
    for col, just in (("name", "left"), ("task", "left"), ("rows", "right"),
                      ("features", "right"), ("K", "right"), ("description", "left")):
        t.add_column(col, justify=just, overflow="fold")
    for name, spec in DATASETS.items():
        ds = spec.load()
        mark = " *" if name in DEFAULT_SUITE else ""
        t.add_row(name + mark, ds.task, f"{len(ds.X):,}", str(ds.X.shape[1]),
                  str(ds.n_classes), spec.description)
    console = _stdout_console()
    console.print(t)
    console.print("* run by `sigmax compare` without DATA. Sources: "
                  + "; ".join(f"{n}: {s.source}" for n, s in DATASETS.items()), soft_wrap=True)


# -- bench ------------------------------------------------------------------------------------
@main.command("bench")
@click.argument("problems", nargs=-1)
@click.option("--scale", type=click.FloatRange(0, 1, min_open=True), default=1.0,
              show_default=True, help="Share of each problem's rows to keep (0.05: quick check).")
@click.option("--repeats", type=click.IntRange(1), default=3, show_default=True,
              help="Timed runs after the warm-up (median reported).")
@click.option("--min-time", "min_timed_s", type=click.FloatRange(0), default=0.5,
              show_default=True,
              help="Short fits get more timed runs (at most 25), enough for about this "
                   "many seconds; 0: always --repeats.")
@click.option("--library", "libraries", multiple=True,
              help="Only these libraries (sigmax, sklearn, statsmodels, torch); repeatable.")
@click.option("--threads", multiple=True, type=click.Choice(["1", "default"]),
              help="Thread settings, in order (default: 1 then default).")
@click.option("--out", type=click.Path(file_okay=False), default="benchmarks/results",
              show_default=True, help="Folder for the JSON, markdown table and plots.")
@click.option("--no-memory", is_flag=True, help="Skip the peak-memory runs.")
def bench_cmd(problems: tuple[str, ...], scale: float, repeats: int, min_timed_s: float,
              libraries: tuple[str, ...], threads: tuple[str, ...], out: str,
              no_memory: bool) -> None:
    """Time sigmax against scikit-learn (and others) to a checked optimum.

    PROBLEMS are names from sigmax.bench.PROBLEMS (default: all). Writes
    bench-<tag>.json, bench-<tag>.md and plots/ under --out. `sigmax bench paths
    [PROBLEMS]` runs the cross-validated-C group instead (sigmax.bench.paths).
    """
    from .bench import GROUPS
    from .bench import run as run_bench

    if problems and problems[0] in GROUPS:  # a group: its own problems and report
        GROUPS[problems[0]](list(problems[1:]) or None, scale=scale, repeats=repeats,
                            libraries=list(libraries) or None, out_dir=out)
        return

    run_bench(list(problems) or None, scale=scale, repeats=repeats, min_timed_s=min_timed_s,
              libraries=list(libraries) or None, threads=threads or ("1", "default"),
              out_dir=out, memory=not no_memory)


def run() -> None:  # pragma: no cover - console entry helper
    """Entry point for ``python -m sigmax``."""
    main(prog_name="sigmax")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
