"""Pretrained models out of the box: the model index, the cache, safe downloads, and ``--model NAME``.

    from edgenet.models import model_path
    model_path("mobilenet_v1_050_160")   # the cached .tflite, pulled (sha256-checked) on first use

Modules: ``index`` (the built-in 32 official MobileNet V1 models, ``EDGENET_MODEL_INDEX``,
``EDGENET_MODEL_MIRROR``), ``download`` (temporary file, sha256 before extraction, member checks),
``store`` (the cache: pull, verify, remove, lock), ``choose`` (``--model`` and the default model).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edgenet.errors import UsageError
from edgenet.models.choose import ResolvedModel, default_choice, looks_like_path, save_pick, saved_pick
from edgenet.models.choose import resolve_model as _resolve
from edgenet.models.index import DEFAULT_MODEL, ModelIndex, ModelSpec, index_name, load_index, packaged_labels
from edgenet.models.progress import download_bar
from edgenet.models.store import CachedModel, VerifyResult, cached, cached_names, models_dir, remove, verify
from edgenet.models.store import pull as _pull

__all__ = [
    "DEFAULT_MODEL", "CachedModel", "ModelIndex", "ModelSpec", "ModelStatus", "ResolvedModel", "VerifyResult",
    "cached_names", "default_choice", "index_name", "list_models", "load_index", "looks_like_path", "model_path",
    "models_dir", "packaged_labels", "pull_model", "pull_models", "remove_models", "resolve_model", "save_pick",
    "saved_pick", "verify_models",
]

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


def pull_model(spec: ModelSpec, *, force: bool = False, timeout: float | None = None, log: Log = _quiet) -> CachedModel:
    """Pull one model (a progress bar on a terminal's stderr); the cached copy when it is already there."""
    if not force:
        hit = cached(spec)
        if hit is not None:
            return hit
    with download_bar(spec.name) as bar:
        return _pull(spec, force=force, timeout=timeout, progress=bar, log=log)


def resolve_model(model: str | os.PathLike | None, *, index: ModelIndex | None = None, pull_missing: bool = True,
                  log: Log = _quiet) -> ResolvedModel:
    """A local .tflite for ``model``: a path, an index name (pulled on first use), or None (the default).

    For the default, ``log`` hears once which model and why (also in ``ResolvedModel.why``).
    """
    text = None if model is None else os.fspath(model)
    if text is not None and looks_like_path(text):
        return _resolve(text, log=log)  # a path needs no index
    index = index or load_index()
    target = text if text is not None else default_choice(index)[0]
    spec = None if looks_like_path(target) else index.get(target)
    if spec is None or not pull_missing or cached(spec) is not None:
        return _resolve(text, index=index, pull_missing=pull_missing, log=log)
    with download_bar(spec.name) as bar:
        return _resolve(text, index=index, pull_missing=True, progress=bar, log=log)


def model_path(name: str, *, pull: bool = True, log: Log = _quiet) -> Path:
    """The local .tflite of an index name, pulled (sha256-checked) when it is not cached yet.

    For other parts of the tree that take ``NAME`` (e.g. ``edgenet build --weights NAME``).
    """
    if looks_like_path(name):
        raise UsageError(f"{name!r} is a path, not a model index name")
    return resolve_model(name, pull_missing=pull, log=log).path


@dataclass(frozen=True)
class ModelStatus:
    spec: ModelSpec
    cached: CachedModel | None

    def as_dict(self) -> dict:
        s, v, pub = self.spec, self.spec.variant, self.spec.published
        from edgenet.profiler.predict import mult_adds

        return {
            "name": s.name, "alpha": v.alpha if v else None, "resolution": v.resolution if v else None,
            "precision": s.precision, "dtype": s.dtype or s.precision, "mult_adds": mult_adds(v) if v else None, "top1": s.top1,
            "size": self.cached.size if self.cached else None,
            "size_estimate": (round(pub.million_params * (1 if s.precision == "int8" else 4) * 1e6)
                              if pub and s.precision else None),
            "cached": self.cached is not None, "path": str(self.cached.path) if self.cached else None,
            "url": s.url, "sha256": s.sha256, "description": s.description,
        }


def list_models(index: ModelIndex | None = None) -> tuple[ModelIndex, list[ModelStatus]]:
    """The index in use, and each of its models with its cached copy (or None)."""
    index = index or load_index()
    return index, [ModelStatus(spec, cached(spec)) for spec in index]


def pull_models(names: list[str], *, all_models: bool = False, force: bool = False, timeout: float | None = None,
                log: Log = _quiet) -> list[CachedModel]:
    """Pull ``names`` (or the whole index); stops at the first failure, keeping what was pulled before it."""
    index = load_index()
    if all_models:
        if names:
            raise UsageError("give model names or --all, not both")
        specs = list(index)
    else:
        if not names:
            raise UsageError("name the models to pull (`edgenet models list` shows them), or --all")
        specs = [index.require(n) for n in names]
    done = []
    for spec in specs:
        was_cached = not force and cached(spec) is not None
        hit = pull_model(spec, force=force, timeout=timeout, log=log)
        log(f"{spec.name}: {'already cached' if was_cached else 'pulled'} {hit.path} ({hit.size / 1e6:.1f} MB)")
        done.append(hit)
    return done


def verify_models(names: list[str] | None = None) -> list[VerifyResult]:
    """Re-hash the cache (every pulled model, or ``names``)."""
    return verify(names or None)


def remove_models(names: list[str], *, all_models: bool = False) -> list[Path]:
    if all_models:
        if names:
            raise UsageError("give model names or --all, not both")
        names = cached_names()
    elif not names:
        raise UsageError("name the models to remove, or --all")
    return remove(names)
