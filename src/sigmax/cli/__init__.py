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
never a traceback. More commands join the group with ``@main.command()`` in a
module of this package (imported below).
"""

from __future__ import annotations

import sys

# Importing the command modules registers their commands on the group.
from . import data_commands, model_commands, study_commands  # noqa: F401
from .group import main
from .study_commands import fit_command_for, run_compare

__all__ = ["fit_command_for", "main", "run", "run_compare"]


def run() -> None:  # pragma: no cover - console entry helper
    """Entry point for ``python -m sigmax.cli``."""
    main(prog_name="sigmax")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
