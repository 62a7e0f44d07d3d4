"""``sigmax fit``, ``predict``, ``summary``, ``export``: one model, from a table to a file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import click

from ..penalties import PENALTIES
from .group import _one_line, main
from .options import (
    CValue,
    _check_backend,
    _dask_client,
    _load,
    _stdout_console,
    backend_options,
    data_options,
    inference_options,
)


# -- fit / predict ----------------------------------------------------------------------------
@main.command()
@click.argument("data")
@data_options
@click.option("-m", "--model", default="auto", show_default=True, metavar="NAME",
              help="logistic, softmax, ovr, multilabel, mixed (softmax heads for exclusive "
                   "label groups, sigmoids for the rest), or auto (what `sigmax advise` "
                   "recommends).")
@click.option("-o", "--output", required=True, metavar="FILE",
              help="Model file to write (.safetensors).")
@click.option("--C", "C", default=1.0, show_default=True, type=CValue(),
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
        max_rows: int | None, model: str, output: str, C: float | str, Cs: str, cv: int,
        penalty: str, l1_ratio: float | None, max_iter: int, no_standardize: bool,
        show_summary: bool, cov_type: str, alpha: float,
        backend: str, device: str | None, scheduler: str | None) -> None:
    """Fit one model on DATA and save it (safetensors, no pickle).

    The file stores the encoded feature names: `sigmax predict` encodes a new
    table the same way.
    """
    from ..datasets import fit_dataset
    from ..io import save
    from ..outputs import check_output_file

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
        from ..datasets import _auto_model, _estimator_class

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

    from ..preprocessing import StableScaler

    sc = StableScaler().fit(np.asarray(X, dtype=np.float64))
    with np.errstate(over="ignore"):
        return np.ldexp(sc.scale_, sc.exponent_)


def _group_labels(data: str, column: str | None, n_rows: int) -> Any:
    """The ``column`` of the table ``data`` (cluster labels), row-aligned with its dataset."""
    if column is None:
        return None
    from ..datasets import read_table

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
    from ..inference import inference

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
    from ..datasets import encode_like, read_table
    from ..io import load

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


def _c_options(C: float | str, Cs: str, cv: int) -> dict[str, Any]:
    """``--C`` (already checked by :class:`CValue`) / ``--Cs`` / ``--cv`` as estimator
    parameters: ``C``, or ``Cs`` and ``cv``."""
    if C != "cv":
        return {"C": float(C)}
    try:
        grid: Any = (int(Cs) if "," not in Cs
                     else [float(v) for v in Cs.split(",") if v.strip()])
    except ValueError:
        raise click.BadParameter(f"{Cs!r} is not a number of values nor a comma list of C "
                                 "(e.g. 10 or 0.01,0.1,1,10).", param_hint="--Cs") from None
    return {"Cs": grid, "cv": cv}


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
    from ..datasets import predict_table, read_table
    from ..io import atomic_write_text, load
    from ..outputs import check_output_file

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
    from ..io import load
    from ..onnx_export import export_onnx
    from ..outputs import check_output_file

    check_output_file(output, [model_file], what="--output")
    model = load(model_file)
    try:
        export_onnx(model, output, dtype=dtype)
    except ImportError as exc:
        raise click.ClickException(_one_line(exc)) from None
    click.echo(f"Wrote {output}", err=True)


