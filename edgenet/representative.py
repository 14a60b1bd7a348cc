"""The representative dataset: frames from any edgenet source, preprocessed exactly as on the board
(no TensorFlow: `edgenet calibrate --camera 0` runs on the board; `calibration` reads the file).

The samples go through ``edgenet.preprocess.preprocess`` (the runtime's one function) with a float32
spec at the model's resolution, so int8 ranges are calibrated on the pixels the board will infer on.
The ``.npz`` carries a manifest (source, count, resolution, preprocessing, sha256 of the samples) so a
build can say exactly what it was calibrated on and refuse a file that was altered.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

import cv2
import numpy as np

from edgenet import __version__
from edgenet.errors import DatasetError, UsageError
from edgenet.limits import MAX_CALIBRATION_BYTES
from edgenet.outputs import check_output_path
from edgenet.preprocess import DEFAULT_CROP, InputSpec, preprocess
from edgenet.preprocess import describe as describe_preprocessing
from edgenet.sources import FrameSource, image_files, open_source, parse_source

DEFAULT_COUNT = 300
MIN_RECOMMENDED = 100
# Mean absolute difference (0..255) between 16x16 grey thumbnails below which a frame repeats the
# last kept one: a static camera scene or a paused video adds weight to one range, not information.
DUPLICATE_THRESHOLD = 2.0


class FewSamplesWarning(UserWarning):
    """Fewer calibration samples than recommended."""


@dataclass(frozen=True)
class CalibrationData:
    samples: np.ndarray  # (N, H, W, 3) float32 in [-1, 1]
    manifest: dict

    @property
    def resolution(self) -> int:
        return int(self.manifest["resolution"])

    def __len__(self) -> int:
        return len(self.samples)


@dataclass
class _Collector:
    spec: InputSpec
    crop: float
    threshold: float
    samples: list = field(default_factory=list)
    duplicates: int = 0
    frames: int = 0
    _last: np.ndarray | None = None

    def offer(self, frame: np.ndarray) -> np.ndarray | None:
        """Preprocessed sample, or None when ``frame`` nearly repeats the previously kept frame."""
        self.frames += 1
        thumb = cv2.resize(frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (16, 16),
                           interpolation=cv2.INTER_AREA).astype(np.float32)
        if self._last is not None and float(np.abs(thumb - self._last).mean()) < self.threshold:
            self.duplicates += 1
            return None
        self._last = thumb
        return preprocess(frame, self.spec, self.crop)[0]


def sample_spec(resolution: int) -> InputSpec:
    return InputSpec(resolution, resolution, 3, "float32")


def image_folder_classes(path: str) -> list[str] | None:
    """Class names if ``path`` is an ImageFolder (sub-folders holding images), else None."""
    if not os.path.isdir(path):
        return None
    classes = []
    for name in sorted(os.listdir(path)):
        sub = os.path.join(path, name)
        if os.path.isdir(sub) and image_files(sub):
            classes.append(name)
    return classes or None


def build_representative_dataset(
    source_uri: str | None,
    input_spec_or_resolution: InputSpec | int,
    count: int = DEFAULT_COUNT,
    *,
    crop: float = DEFAULT_CROP,
    duplicate_threshold: float = DUPLICATE_THRESHOLD,
    capture_seconds: float = 5.0,
    seed: int = 0,
    source: FrameSource | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CalibrationData:
    """Collect ``count`` preprocessed samples from ``source_uri`` (or an already open ``source``).

    - ImageFolder (sub-folder per class): the same number of images from each class, chosen at random
      (seeded) — a calibration set of mostly one class calibrates that class's ranges.
    - Image folder / video file: ``count`` samples spread evenly (reservoir sampling, seeded) over all
      non-duplicate frames.
    - Live source (camera, RTSP): frames spaced ``capture_seconds / count`` apart, so N frames span a few
      seconds of the real scene rather than the first instant.
    """
    if count < 1:
        raise UsageError(f"--count must be at least 1, got {count}")
    spec = input_spec_or_resolution
    if isinstance(spec, int):
        spec = sample_spec(spec)
    if spec.height != spec.width:
        raise UsageError(f"calibration samples are square; got {spec.height}x{spec.width}")
    spec = InputSpec(spec.height, spec.width, spec.channels, "float32")
    needed = count * spec.height * spec.width * 3 * 4
    if needed > MAX_CALIBRATION_BYTES:  # a live camera would be read until memory runs out
        most = MAX_CALIBRATION_BYTES // (spec.height * spec.width * 3 * 4)
        raise UsageError(f"--count {count} samples at {spec.height} px would hold {needed / 2**30:.0f} GiB in memory; "
                         f"at most {most} at this resolution (a few hundred calibrate well)")
    collector = _Collector(spec, crop, duplicate_threshold)
    rng = np.random.default_rng(seed)
    classes = None
    per_class: dict[str, int] | None = None
    started = time.perf_counter()
    if source is None and source_uri is not None and (classes := image_folder_classes(source_uri)):
        per_class = _from_image_folder(source_uri, classes, count, collector, rng, progress)
        kind, name = "imagefolder", source_uri
    else:
        if source is None:
            if source_uri is None:
                raise UsageError("give a source URI or a camera")
            source = open_source(source_uri)
        name = source_uri or source.name
        kind = parse_source(source_uri).kind if source_uri else ("live" if source.live else "finite")
        with source:
            if source.live:
                _from_live(source, count, capture_seconds, collector, progress)
            else:
                _from_finite(source, count, collector, rng, progress)
    samples = collector.samples
    if not samples:
        raise DatasetError(
            f"no calibration samples from {name}: {collector.frames} frame(s) read, {collector.duplicates} near-duplicate(s); "
            "point --source at images, a video or a camera showing the deployment scene"
        )
    array = np.stack(samples).astype(np.float32)
    if len(array) < MIN_RECOMMENDED:
        warnings.warn(
            f"only {len(array)} calibration samples (fewer than {MIN_RECOMMENDED}): int8 ranges may be off; "
            "use more images or a longer capture", FewSamplesWarning, stacklevel=2,
        )
    manifest = {
        "source": name,
        "source_kind": kind,
        "count": int(len(array)),
        "requested": count,
        "resolution": spec.height,
        "preprocessing": describe_preprocessing(crop) | {"dtype": "float32"},
        "frames_read": collector.frames,
        "duplicates_skipped": collector.duplicates,
        "duplicate_threshold": duplicate_threshold,
        "per_class": per_class,
        "seed": seed,
        "sha256": samples_sha256(array),
        "seconds": round(time.perf_counter() - started, 2),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "edgenet": __version__,
    }
    return CalibrationData(array, manifest)


def _from_image_folder(root, classes, count, collector, rng, progress) -> dict[str, int]:
    files = {}
    for c in classes:
        paths = image_files(os.path.join(root, c))
        files[c] = [paths[i] for i in rng.permutation(len(paths))]
    taken = {c: 0 for c in classes}
    # Round-robin over classes: balanced until a class runs out, then the others fill in.
    while len(collector.samples) < count and any(files.values()):
        for c in classes:
            if not files[c] or len(collector.samples) >= count:
                continue
            with open_source(files[c].pop()) as src:
                frame = src.read()
            if frame is not None and (sample := collector.offer(frame)) is not None:
                collector.samples.append(sample)
                taken[c] += 1
                if progress:
                    progress(len(collector.samples), count)
    return taken


def _from_finite(source, count, collector, rng, progress) -> None:
    seen = 0
    while (frame := source.read()) is not None:
        sample = collector.offer(frame)
        if sample is None:
            continue
        seen += 1
        if len(collector.samples) < count:
            collector.samples.append(sample)
        else:  # reservoir sampling keeps a uniform sample of all frames without knowing their number
            j = int(rng.integers(0, seen))
            if j < count:
                collector.samples[j] = sample
        if progress:
            progress(min(seen, count), count)


def _from_live(source, count, capture_seconds, collector, progress) -> None:
    interval = capture_seconds / count
    deadline = time.perf_counter() + capture_seconds * 3 + 5  # a stalled camera must not hang forever
    last = -float("inf")
    while len(collector.samples) < count and time.perf_counter() < deadline:
        frame = source.read()
        if frame is None:
            break
        now = time.perf_counter()
        if now - last < interval:
            continue
        sample = collector.offer(frame)
        if sample is not None:
            last = now
            collector.samples.append(sample)
            if progress:
                progress(len(collector.samples), count)


def samples_sha256(samples: np.ndarray) -> str:
    a = np.ascontiguousarray(samples, dtype=np.float32)
    return hashlib.sha256(str(a.shape).encode() + a.tobytes()).hexdigest()


def save_calibration(data: CalibrationData, path: str) -> str:
    check_output_path(path)
    # float32 samples take only 256 distinct values per channel (a lookup table made them): they compress well.
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, samples=data.samples, manifest=np.array(json.dumps(data.manifest)))
    os.replace(tmp, path)
    return path


def load_calibration(path: str) -> CalibrationData:
    """Read an ``edgenet calibrate`` file; checks the samples against the manifest's sha256."""
    if not os.path.isfile(path):
        raise DatasetError(f"calibration file {path} not found; make one with `edgenet calibrate`")
    try:
        with np.load(path, allow_pickle=False) as z:
            samples = z["samples"]
            manifest = json.loads(str(z["manifest"]))
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(f"{path} is not an edgenet calibration file ({exc}); make one with `edgenet calibrate`") from None
    if samples.ndim != 4 or samples.shape[-1] != 3 or samples.dtype != np.float32:
        raise DatasetError(f"{path}: samples of shape {samples.shape} {samples.dtype}, expected (N, R, R, 3) float32")
    if samples_sha256(samples) != manifest.get("sha256"):
        raise DatasetError(f"{path}: samples do not match the manifest's sha256 (file altered?); recreate it with `edgenet calibrate`")
    return CalibrationData(samples, manifest)


def calibrate_to_file(source_uri: str, resolution: int, output: str, count: int = DEFAULT_COUNT, *,
                      crop: float = DEFAULT_CROP, capture_seconds: float = 5.0, seed: int = 0,
                      progress: Callable[[int, int], None] | None = None) -> CalibrationData:
    """``edgenet calibrate``: collect the samples and write them with their manifest to ``output``."""
    check_output_path(output)  # fail before a camera capture, not after it
    data = build_representative_dataset(source_uri, resolution, count, crop=crop, capture_seconds=capture_seconds,
                                        seed=seed, progress=progress)
    save_calibration(data, output)
    return data
