"""``edgenet build --grid``: the 16 standard variants, cached by what determines their bytes.

A grid model is a pure function of (variant, weights, calibration samples, precision, I/O type,
quantization granularity, seed), so the cache key is a hash of exactly those; a rebuild with the same
inputs copies the cached file instead of converting again (a 1.0/224 conversion takes seconds to
minutes on a small machine). The profiler's latency grid is built by :func:`build_latency_model`
(:func:`build_variant` with random weights), which the ``profile`` and ``deploy`` verbs hand to the
profiler: ``edgenet`` itself holds no builder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from edgenet.cache import cache_dir
from edgenet.errors import UsageError
from edgenet.variants import PRECISIONS, Variant, standard_variants

CACHE_VERSION = "1"


def default_cache_dir() -> Path:
    """builds/ in edgenet's one cache (edgenet.cache): one sub-folder per cache key."""
    return cache_dir("builds")


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_key(variant: Variant, weights: str, samples_sha: str | None, precision: str, io: str,
              per_channel: bool, classes: int, seed: int) -> str:
    wid = weights if weights in ("random", "imagenet") else "file:" + file_sha256(weights)
    text = "|".join(map(str, (CACHE_VERSION, variant.name, wid, samples_sha, precision, io, per_channel, classes, seed)))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def build_variant(variant: Variant, path: str | os.PathLike, *, weights: str = "random", samples: np.ndarray | None = None,
                  precision: str = "int8", io: str = "int8", classes: int = 1000, per_channel: bool = True,
                  seed: int = 0) -> Path:
    """Build one variant's .tflite at ``path`` (int8 needs ``samples``, (N, R, R, 3) float32)."""
    from calibration.builder import mobilenet_v1
    from calibration.convert import to_tflite

    if precision not in PRECISIONS:
        raise UsageError(f"precision must be int8 or float32, not {precision!r}")
    if precision == "int8":
        if samples is None or len(samples) == 0:
            raise UsageError(f"an int8 build of {variant.name} needs calibration samples")
        if samples.shape[1:] != (variant.resolution, variant.resolution, 3):
            raise UsageError(f"calibration samples are {samples.shape[1]} px but {variant.name} needs {variant.resolution} px")
    from calibration.quiet import keras

    keras = keras()
    model = mobilenet_v1(variant.alpha, variant.resolution, classes, weights, seed=seed)
    data = to_tflite(model, samples if precision == "int8" else None, io, per_channel)
    keras.backend.clear_session()  # 16 models in one process: drop the previous graphs
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a half-written model never looks like a cached one
    return path


def random_samples(resolution: int, count: int = 8, seed: int = 0) -> np.ndarray:
    """Uniform [-1, 1] inputs: enough to give every tensor a range when only latency matters."""
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (count, resolution, resolution, 3)).astype(np.float32)


def build_latency_model(variant: Variant, path: str | os.PathLike, precision: str = "int8") -> Path:
    """A random-weight ``variant`` at ``path`` (full int8 with int8 I/O, or float32): the profiler's
    latency grid. A few random samples give every tensor a range; the ranges do not matter for latency."""
    samples = random_samples(variant.resolution, 4, 0) if precision == "int8" else None
    return build_variant(variant, path, weights="random", samples=samples, precision=precision, io="int8")


def latency_builder() -> Callable[[Variant, Path, str], Path] | None:
    """:func:`build_latency_model` when TensorFlow is installed, else None (the profiler then says how
    to build the grid elsewhere)."""
    return build_latency_model if find_spec("tensorflow") is not None else None


@dataclass(frozen=True)
class GridConfig:
    output_dir: str
    weights: str = "random"
    calibration: tuple[str, ...] = ()  # .npz files (any number of resolutions) or folders of them
    precision: str = "int8"
    io: str = "int8"
    per_channel: bool = True
    classes: int = 1000
    cache_dir: str | None = None
    variants: tuple[Variant, ...] = ()  # default: the 16 standard variants
    seed: int = 0

    def __post_init__(self) -> None:
        if self.weights not in ("random", "imagenet") and not os.path.isfile(self.weights):
            raise UsageError(f"weights file {self.weights} not found")
        if self.precision == "int8" and not self.calibration:
            raise UsageError("an int8 grid needs --calibration files, one per resolution (edgenet calibrate --resolution R)")
        if self.precision not in PRECISIONS:
            raise UsageError(f"precision must be int8 or float32, not {self.precision!r}")


@dataclass(frozen=True)
class GridEntry:
    variant: Variant
    path: Path
    cached: bool
    key: str


def _calibration_by_resolution(paths: Sequence[str]) -> dict[int, tuple[str, object]]:
    from edgenet.representative import load_calibration

    files: list[str] = []
    for p in paths:
        files += sorted(str(f) for f in Path(p).glob("*.npz")) if os.path.isdir(p) else [p]
    found: dict[int, tuple[str, object]] = {}
    for f in files:
        data = load_calibration(f)
        found.setdefault(data.resolution, (f, data))
    return found


def build_grid(config: GridConfig, progress: Callable[[str, int, int], None] | None = None) -> list[GridEntry]:
    """Build (or copy from the cache) every variant into ``config.output_dir``."""
    variants = list(config.variants or standard_variants())
    calib = _calibration_by_resolution(config.calibration) if config.precision == "int8" else {}
    missing = sorted({v.resolution for v in variants} - set(calib)) if config.precision == "int8" else []
    if missing:
        have = ", ".join(str(r) for r in sorted(calib)) or "none"
        raise UsageError(
            f"no calibration samples at {', '.join(map(str, missing))} px (have: {have}); make them with "
            f"`edgenet calibrate --resolution R -o calib_R.npz` for each and pass them all to --calibration"
        )
    out_dir = Path(config.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    entries = []
    for i, variant in enumerate(variants):
        data = calib.get(variant.resolution, (None, None))[1]
        key = cache_key(variant, config.weights, data.manifest["sha256"] if data is not None else None,
                        config.precision, config.io, config.per_channel, config.classes, config.seed)
        name = variant.model_filename(config.precision)
        cached = cache / key / name
        hit = cached.is_file()
        if progress:
            progress(f"{variant.name} ({'cached' if hit else 'building'})", i, len(variants))
        if not hit:
            build_variant(variant, cached, weights=config.weights, samples=data.samples if data is not None else None,
                          precision=config.precision, io=config.io, classes=config.classes,
                          per_channel=config.per_channel, seed=config.seed)
        target = out_dir / name
        shutil.copyfile(cached, target)
        entries.append(GridEntry(variant, target, hit, key))
    if progress:
        progress("done", len(variants), len(variants))
    return entries
