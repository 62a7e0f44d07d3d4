"""Where sigmax may write: checks that run before any work, so nothing a user has is lost.

Every command that writes (a model file, a predictions CSV, a report folder)
asks :func:`check_output_file` or :func:`check_output_dir` first. They refuse,
with one sentence that names the path and the fix:

- an output that is one of the command's own inputs (``fit data.csv -o
  data.csv`` would replace the training table by the model);
- a folder where a file is meant, or anything that is not a regular file
  (a named pipe, a device): an atomic rename would replace the pipe or device
  node itself, and its reader would get nothing;
- a path below a regular file, an empty path, a name longer than the file
  system allows, or a folder the process cannot write to.

A symbolic link is written *through*: the returned path is the link's target,
so the atomic rename replaces the target file in the target's folder and the
link keeps pointing at the new content.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import stat
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["OutputPathError", "check_output_dir", "check_output_file", "name_max",
           "replace_folder", "temporary_name"]

#: POSIX's smallest NAME_MAX is 14; Linux file systems allow 255 bytes per name.
_DEFAULT_NAME_MAX = 255


class OutputPathError(ValueError):
    """An output path that sigmax refuses to write to (the CLI exits with status 2)."""


def name_max(folder: Path) -> int:
    """Longest file name, in bytes, that ``folder``'s file system accepts."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return _DEFAULT_NAME_MAX


def temporary_name(target: Path, suffix: str, limit: int) -> str:
    """A prefix for a temporary file beside ``target`` whose full name fits in ``limit`` bytes.

    ``tempfile.mkstemp`` appends 8 random characters to the prefix and then the
    suffix; a 244-byte ``target`` name would give a 260-byte temporary name and
    an ``OSError`` from the file system. The prefix keeps the start of the
    target's name (enough for a person to tell whose temporary it is).
    """
    room = limit - len(suffix.encode()) - 8 - 2  # 8 random characters, the two dots
    name = target.name.encode()[: max(room, 1)].decode(errors="ignore")
    return f".{name}."


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists."""
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            return p
    return Path("/")


def _check_parent(target: Path, what: str) -> None:
    """The folder that will hold ``target`` exists or can be made, and is writable."""
    target = Path(os.path.abspath(target))
    base = _nearest_existing(target.parent)
    if not base.is_dir():
        raise OutputPathError(
            f"{what} {target}: {base} is a file, not a folder; choose a path in a folder.")
    if not os.access(base, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"{what} {target}: the folder {base} is not writable; choose a folder you can "
            "write to.")
    limit = name_max(base)
    for part in target.relative_to(base).parts:
        if len(part.encode()) > limit:
            raise OutputPathError(
                f"{what}: the name {part[:40]}... has {len(part.encode())} bytes, more than "
                f"this file system's {limit}; choose a shorter name.")


def _check_name_lengths(path: Path, what: str) -> None:
    """Refuse a name no file system takes before asking the file system anything.

    ``Path.exists`` itself raises ``ENAMETOOLONG`` on such a name; the finer,
    per-file-system limit is checked in :func:`_check_parent`.
    """
    for part in path.parts:
        if len(part.encode()) > _DEFAULT_NAME_MAX:
            raise OutputPathError(
                f"{what}: the name {part[:40]}... has {len(part.encode())} bytes, more than "
                f"a file system allows ({_DEFAULT_NAME_MAX}); choose a shorter name.")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_file(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (),
                      *, what: str = "--output") -> Path:
    """Check an output file path before any work; return the path to write.

    Parameters
    ----------
    path : path-like
        The path the user gave.
    inputs : iterable of path-like
        The command's input files; writing over one of them is refused.
        Names that are not files (a built-in dataset name) are ignored.
    what : str
        How the user named the option, for the message.

    Returns
    -------
    Path
        Where to write: ``path`` itself, or the target of a symbolic link.

    Raises
    ------
    OutputPathError
        For the cases listed in the module docstring.
    """
    if str(path).strip() == "":
        raise OutputPathError(f"{what} is empty; give a file name, e.g. {what} model.safetensors.")
    given = Path(path)
    _check_name_lengths(given, what)
    target = Path(os.path.realpath(given)) if given.is_symlink() else given
    for src in inputs:
        if _same_file(target, Path(src)):
            raise OutputPathError(
                f"{what} {given} is the input {src}: writing there would destroy it; choose "
                "another file name.")
    if target.exists():
        mode = target.stat().st_mode
        if stat.S_ISDIR(mode):
            raise OutputPathError(
                f"{what} {given} is a folder; give a file name inside it, e.g. "
                f"{given / 'out'}.")
        if not stat.S_ISREG(mode):
            raise OutputPathError(
                f"{what} {given} is not a regular file (a pipe or a device); write to a "
                "file, or leave the option out to print to the terminal where it offers that.")
        if not os.access(target, os.W_OK) and not os.access(target.parent, os.W_OK):
            raise OutputPathError(f"{what} {given} is not writable; choose another path.")
    _check_parent(target, what)
    return target


def check_output_dir(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (),
                     *, what: str = "--out") -> Path:
    """Check an output folder before any work (it is made later, atomically, by the writer).

    Refuses an empty path, a path that is an existing file, a folder that
    holds one of the inputs, and a folder whose parent cannot be written.
    """
    if str(path).strip() == "":
        raise OutputPathError(f"{what} is empty; give a folder name, e.g. {what} report.")
    out = Path(path)
    _check_name_lengths(out, what)
    if out.exists() and not out.is_dir():
        raise OutputPathError(f"{what} {out} is a file; choose a folder name.")
    real = Path(os.path.realpath(out))
    for src in inputs:
        s = Path(src)
        if s.exists() and Path(os.path.realpath(s)).is_relative_to(real):
            raise OutputPathError(
                f"{what} {out} holds the input {src}: the report folder is replaced as a "
                "whole; choose another folder.")
    _check_parent(real, what)
    return out


# -- replacing a folder (the report) ------------------------------------------------------------
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).

    Returns False where the C library or the file system does not offer it;
    then the caller falls back to two renames.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b),
                     _RENAME_EXCHANGE) == 0


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT / SIGTERM back for a few system calls, then deliver them.

    Python raises ``KeyboardInterrupt`` between any two bytecodes; between
    the two renames of a swap that would leave no report at all. Only the main
    thread can set handlers; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    old = {sig: signal.signal(sig, lambda s, _f: caught.append(s))
           for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for sig in caught:
            signal.raise_signal(sig)


def replace_folder(new: Path, out: Path) -> None:
    """Put the finished folder ``new`` at ``out``; a folder already at ``out`` is removed.

    Under every interrupt ``out`` holds either the old folder or the new one:
    where the system can exchange two paths atomically, one call swaps them;
    elsewhere the two renames run with interrupts deferred, and a failed second
    rename puts the old folder back.
    """
    if not out.exists():
        os.replace(new, out)
        return
    if _exchange(new, out):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old folder
        return
    old = out.with_name(temporary_name(out, ".old", name_max(out.parent)) + str(os.getpid()))
    with _interrupts_deferred():
        os.replace(out, old)
        try:
            os.replace(new, out)
        except BaseException:
            os.replace(old, out)  # put the previous folder back
            raise
    shutil.rmtree(old, ignore_errors=True)
