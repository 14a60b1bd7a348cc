"""The one cache folder for everything edgenet downloads or builds, on the board and the workstation.

    $EDGENET_CACHE, else $XDG_CACHE_HOME/edgenet, else ~/.cache/edgenet
      models/      pretrained models pulled from the model index (<name>.tflite beside <name>.json,
                   which says where it came from and its sha256); downloads in progress and locks
      builds/      models edgenet built: <key>/ for `edgenet build --grid`, latency/ for the profiler's
                   random-weight grid
      wheel/, wheelhouse/   what `edgenet deploy` pushes: edgenet's wheel and the board's dependencies
      profile-pick.json     the variant `edgenet profile --target-fps` last picked on this machine

Every part of the tree asks this module, so a user moves the whole cache with one variable.
"""

from __future__ import annotations

import os
from pathlib import Path

KINDS = ("models", "builds", "wheel", "wheelhouse")


def cache_root() -> Path:
    """$EDGENET_CACHE, else $XDG_CACHE_HOME/edgenet, else ~/.cache/edgenet (not created here)."""
    explicit = os.environ.get("EDGENET_CACHE")
    if explicit:
        return Path(os.path.expanduser(explicit))
    xdg = os.environ.get("XDG_CACHE_HOME")
    # The XDG spec: a relative $XDG_CACHE_HOME is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path(os.path.expanduser("~")) / ".cache"
    return base / "edgenet"


def cache_dir(kind: str) -> Path:
    """The folder for one kind of cached thing (``models``, ``builds``, ``wheel``, ``wheelhouse``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown cache kind {kind!r}; one of {', '.join(KINDS)}")
    return cache_root() / kind


def pick_file() -> Path:
    """Where `edgenet profile --target-fps` saves its pick (read by `run`/`eval` without --model)."""
    return cache_root() / "profile-pick.json"
