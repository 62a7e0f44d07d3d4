"""``sigmax datasets`` and ``sigmax bench``."""

from __future__ import annotations

import click

from .group import main
from .options import (
    _stdout_console,
)


# -- datasets ---------------------------------------------------------------------------------
@main.command("datasets")
def datasets_cmd() -> None:
    """List the built-in datasets (shipped by installed packages; no download)."""
    from rich import box
    from rich.table import Table

    from ..datasets import DATASETS, DEFAULT_SUITE

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
    [PROBLEMS]` runs the cross-validated-C group instead (sigmax.bench.paths), and
    `sigmax bench defaults [PROBLEMS]` each library at its defaults (sigmax.bench.defaults).
    """
    from ..bench import GROUPS
    from ..bench import run as run_bench

    if problems and problems[0] in GROUPS:  # a group: its own problems and report
        GROUPS[problems[0]](list(problems[1:]) or None, scale=scale, repeats=repeats,
                            libraries=list(libraries) or None, out_dir=out)
        return

    run_bench(list(problems) or None, scale=scale, repeats=repeats, min_timed_s=min_timed_s,
              libraries=list(libraries) or None, threads=threads or ("1", "default"),
              out_dir=out, memory=not no_memory)


