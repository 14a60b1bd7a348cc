"""Checks on files the user asks us to write, made before any work starts (bad input loses nothing)."""

from __future__ import annotations

import os

from edgenet.errors import UsageError


def check_output_path(path: str, suffixes: tuple[str, ...] | None = None, option: str = "-o") -> None:
    """Raise UsageError unless ``path`` ends with one of ``suffixes`` and its folder exists."""
    if suffixes is not None and not path.lower().endswith(suffixes):
        raise UsageError(f"{option} must name a {' or '.join(suffixes)} file, not {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {path}: folder {folder} does not exist")
