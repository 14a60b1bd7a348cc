"""Checks on files the user asks us to write, made before any work starts (bad input loses nothing).

Every output option of every verb (``run --record/--summary-json``, ``eval -o``, ``profile
--json-file/--csv/--plot/--out``, ``build -o``, ...) goes through ``check_output_path`` or
``check_output_folder``: one line (UsageError, exit 2) before a model loads or a build starts.
Permission bits do not say whether a write will succeed (root ignores them, /proc refuses root), so
the check really opens the file: an existing file is opened for append and left as it was, a new
one is created and removed again.
"""

from __future__ import annotations

import os
import tempfile

from edgenet.errors import UsageError


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_output_path(path: str, suffixes: tuple[str, ...] | None = None, option: str = "-o") -> None:
    """Raise UsageError unless ``path`` ends with one of ``suffixes`` and a file can be written there."""
    if suffixes is not None and not path.lower().endswith(suffixes):
        raise UsageError(f"{option} must name a {' or '.join(suffixes)} file, not {path!r}")
    if os.path.isdir(path):
        raise UsageError(f"cannot write {option} {path}: it is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise UsageError(f"cannot write {option} {path}: folder {folder} {what}")
    try:
        if os.path.exists(path):
            with open(path, "ab"):
                pass
        else:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            os.unlink(path)
    except OSError as exc:
        raise UsageError(f"cannot write {option} {path}: {_reason(exc)}") from None


def check_output_folder(path: str, option: str = "--out") -> None:
    """Raise UsageError unless ``path`` is a folder files can be written into, or one that can be made."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"cannot write {option} {path}: it is a file; give a folder")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise UsageError(f"cannot write {option} {path}: {existing} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".edgenet-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"cannot write {option} {path}: {_reason(exc)} in {existing}") from None
