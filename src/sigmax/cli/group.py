"""The click group: one-line errors for bad input, exit codes, the help text."""

from __future__ import annotations

import os
from typing import Any

import click

__all__ = ["USER_ERRORS", "SigmaxGroup", "main"]

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
        from ..outputs import OutputPathError

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


