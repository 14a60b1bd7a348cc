"""The pulled models in the cache: pull, look up, verify, remove.

A pulled model is ``<cache>/models/<name>.tflite`` with ``<name>.json`` beside it (where it came from,
the archive's sha256 the index pinned, the model file's own sha256, the labels), and
``<name>.labels.txt`` when the index names a labels file to download. The record is written last, so
a model without one was never completely pulled and does not count.

Pulls take an exclusive lock on the models folder (``flock`` on the folder itself: no lock file to
leave behind), so two processes pulling at once download once and never see a half-written model;
every file is written under a temporary name in the same folder and renamed into place (atomic).
Under the lock nobody else is downloading, so any ``*.part`` left by a killed process is removed.
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from edgenet.cache import cache_dir
from edgenet.errors import DownloadError, UsageError
from edgenet.models.download import (PART_SUFFIX, Progress, download, extract_member, removed_on_error,
                                     sha256_file, temp_path, timeout_from_env)
from edgenet.models.index import ModelSpec, mirror_from_env, packaged_labels

try:  # POSIX (every board); elsewhere the atomic renames alone keep the cache whole
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

RECORD_VERSION = 1


@dataclass(frozen=True)
class CachedModel:
    name: str
    path: Path
    labels: Path | None
    record: dict

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def models_dir() -> Path:
    return cache_dir("models")


def _paths(name: str, folder: Path | None = None) -> tuple[Path, Path, Path]:
    folder = folder or models_dir()
    return folder / f"{name}.tflite", folder / f"{name}.json", folder / f"{name}.labels.txt"


def _read_record(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def cached(spec: ModelSpec) -> CachedModel | None:
    """The cached copy of ``spec`` when it is complete and is the file the index pins now."""
    model, record_path, labels = _paths(spec.name)
    record = _read_record(record_path)
    if record is None or not model.is_file() or record.get("source_sha256") != spec.sha256:
        return None
    if spec.labels_url() is not None and not labels.is_file():
        return None
    return CachedModel(spec.name, model, _labels_for(spec, labels), record)


def _labels_for(spec: ModelSpec, downloaded: Path) -> Path | None:
    if spec.labels is None:
        return None
    return downloaded if spec.labels_url() is not None else packaged_labels()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@contextmanager
def locked(folder: Path, log: Callable[[str], None]) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another edgenet pulling into {folder}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _remove_stale_parts(folder: Path) -> None:
    for part in folder.glob(f".*{PART_SUFFIX}"):
        try:
            part.unlink()
        except OSError:
            pass


def _write_json(path: Path, data: dict) -> None:
    tmp = temp_path(path.parent, path.stem)
    with removed_on_error(tmp):
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, path)


def pull(spec: ModelSpec, *, force: bool = False, timeout: float | None = None, progress: Progress | None = None,
         log: Callable[[str], None] = lambda m: None) -> CachedModel:
    """The cached model for ``spec``, downloading, checking and extracting it first if needed."""
    folder = models_dir()
    with locked(folder, log):
        if not force:
            hit = cached(spec)  # maybe another process pulled it while we waited
            if hit is not None:
                return hit
        _remove_stale_parts(folder)
        timeout = timeout if timeout is not None else timeout_from_env()
        mirror = mirror_from_env()
        url = spec.download_url(mirror)
        model, record_path, labels = _paths(spec.name, folder)
        fetched = temp_path(folder, spec.name)
        download(url, fetched, sha256=spec.sha256, timeout=timeout, what=spec.name, progress=progress)
        with removed_on_error(fetched):
            kind = spec.archive_kind
            if kind is None:
                member = fetched
                extract_member_check(member, url)
            else:
                member = temp_path(folder, spec.name)
                extract_member(fetched, kind, spec.member or "", member, url)
            fetched_size = fetched.stat().st_size
        if kind is not None:
            fetched.unlink()
        with removed_on_error(member):
            labels_url = spec.labels_url(mirror)
            got = None
            if labels_url is not None:
                got = temp_path(folder, spec.name + ".labels")
                download(labels_url, got, sha256=spec.labels_sha256, timeout=timeout, what=spec.name)
            with removed_on_error(got) if got is not None else _nothing():
                labels_sha = sha256_file(got) if got is not None else None
                model_sha = sha256_file(member)
                # Everything is here and checked: replace the old copy (if any), the record last.
                record_path.unlink(missing_ok=True)
                os.replace(member, model)
                if got is not None:
                    os.replace(got, labels)
        _write_json(record_path, {
            "version": RECORD_VERSION, "name": spec.name, "url": url, "source_sha256": spec.sha256,
            "source_size": fetched_size, "member": spec.member, "sha256": model_sha, "size": model.stat().st_size,
            "labels_url": labels_url, "labels_sha256": labels_sha, "pulled": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        })
        hit = cached(spec)
        assert hit is not None
        return hit


def extract_member_check(path: Path, url: str) -> None:
    """A plain (not archived) download must be a TFLite model itself."""
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise DownloadError(f"{url}: not a TFLite model although its checksum matched; the index entry is wrong")


@dataclass(frozen=True)
class VerifyResult:
    name: str
    ok: bool
    detail: str


def cached_names() -> list[str]:
    """Names of the models with a pull record in the cache (whatever the index says now)."""
    folder = models_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json") if not p.name.startswith("."))


def verify(names: list[str] | None = None) -> list[VerifyResult]:
    """Re-hash the cached models (all, or ``names``) against the sha256 recorded when each was pulled."""
    results = []
    for name in names if names is not None else cached_names():
        model, record_path, labels = _paths(name)
        record = _read_record(record_path)
        if record is None:
            results.append(VerifyResult(name, False, "not pulled (no record); `edgenet models pull " + name + "`"))
            continue
        if not model.is_file():
            results.append(VerifyResult(name, False, f"{model.name} is missing; pull it again"))
            continue
        sha = sha256_file(model)
        if sha != record.get("sha256"):
            results.append(VerifyResult(name, False, f"{model.name} changed since it was pulled (sha256 {sha[:16]}… "
                                        f"vs {str(record.get('sha256'))[:16]}…); `edgenet models pull --force {name}`"))
            continue
        if record.get("labels_sha256") and (not labels.is_file() or sha256_file(labels) != record["labels_sha256"]):
            results.append(VerifyResult(name, False, f"{labels.name} is missing or changed; "
                                        f"`edgenet models pull --force {name}`"))
            continue
        results.append(VerifyResult(name, True, f"sha256 {sha[:16]}… ({model.stat().st_size / 1e6:.1f} MB)"))
    return results


def remove(names: list[str]) -> list[Path]:
    """Delete cached models; the files removed. A name that is not cached is an error (nothing removed)."""
    folder = models_dir()
    missing = [n for n in names if not any(p.exists() for p in _paths(n, folder))]
    if missing:
        raise UsageError(f"not in the cache: {', '.join(missing)} (`edgenet models list` shows what is cached)")
    removed = []
    with locked(folder, lambda m: None):
        for name in names:
            model, record, labels = _paths(name, folder)
            for p in (record, model, labels):  # the record first: a half-removed model never counts
                if p.exists():
                    p.unlink()
                    removed.append(p)
    return removed
