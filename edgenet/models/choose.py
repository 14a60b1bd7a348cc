"""Which model a command uses: ``--model NAME|PATH``, else the profiler's saved pick, else the default.

``--model`` takes a .tflite path or a model index name (pulled into the cache on first use). A value
that looks like a path (has a ``/`` or ends in ``.tflite``) is never looked up in the index. Without
``--model``, ``run`` and ``eval`` take the variant ``edgenet profile --target-fps`` last picked on
this machine, else the index's default (``mobilenet_v1_050_160``), and say which and why, once.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edgenet.cache import pick_file
from edgenet.errors import ModelError, UsageError
from edgenet.models.download import Progress
from edgenet.models.index import ModelIndex, ModelSpec, load_index, mirror_from_env
from edgenet.models.store import cached, models_dir, pull


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    labels: Path | None  # the labels the index gives the model; None for a plain path
    name: str | None  # the index name, None for a path
    why: str  # for a default choice: which model and why, in one line (already logged); "" with --model
    spec: ModelSpec | None = None


def looks_like_path(text: str) -> bool:
    return "/" in text or os.sep in text or text.endswith(".tflite") or text.startswith(("~", "."))


def save_pick(model: str, *, target_fps: float | None = None, fps: float | None = None,
              threads: int | None = None) -> Path:
    """Remember the profiler's pick (an index name or a model path) for run/eval on this machine."""
    path = pick_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"model": model, "target_fps": target_fps, "fps": fps, "threads": threads,
            "picked": time.strftime("%Y-%m-%d %H:%M")}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def saved_pick() -> dict | None:
    try:
        data = json.loads(pick_file().read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("model"), str) else None


def default_choice(index: ModelIndex) -> tuple[str, str]:
    """(model name or path, why) for a command run without --model."""
    pick = saved_pick()
    if pick is not None:
        model = pick["model"]
        usable = index.get(model) is not None or (looks_like_path(model) and os.path.isfile(model))
        if usable:
            target = f" for {pick['target_fps']:g} FPS" if isinstance(pick.get("target_fps"), (int, float)) else ""
            when = f" on {pick['picked']}" if pick.get("picked") else ""
            return model, f"picked by `edgenet profile --target-fps`{target} on this machine{when}"
    source = "the built-in default" if index.source == "built-in" else f"the default of {index.source}"
    return index.default, f"{source}; `edgenet profile --target-fps F` picks one for this board"


def resolve_model(model: str | os.PathLike | None, *, index: ModelIndex | None = None, pull_missing: bool = True,
                  progress: Progress | None = None, log: Callable[[str], None] = lambda m: None) -> ResolvedModel:
    """A local .tflite for ``model`` (a path, an index name, or None for the default)."""
    why = ""
    text = os.fspath(model) if model is not None else None
    if text is None:
        index = index or load_index()
        text, reason = default_choice(index)
        why = f"model {text} ({reason})"
        log(why)  # once, before any download it may cause
    if not looks_like_path(text):
        index = index or load_index()
        spec = index.get(text)
        if spec is None and not os.path.isfile(text):
            index.require(text)  # raises the "not in the index" message
    else:
        spec = None
    if spec is None:  # a path (a bare file name that is no index name counts too)
        path = Path(os.path.expanduser(text))
        if not path.is_file():
            raise ModelError(f"model file not found: {text}")
        return ResolvedModel(path, None, None, why)
    hit = cached(spec)
    if hit is None:
        if not pull_missing:
            raise UsageError(f"{spec.name} is not in the cache; `edgenet models pull {spec.name}` first")
        log(f"downloading {spec.name} from {spec.download_url(mirror_from_env())} into {models_dir()}")
        hit = pull(spec, progress=progress, log=log)
        log(f"pulled {spec.name} ({hit.size / 1e6:.1f} MB, sha256 checked): {hit.path}")
    return ResolvedModel(hit.path, hit.labels, spec.name, why, spec)
