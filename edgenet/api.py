"""The Python API: a classifier to embed in your own program, frames from any source, and the live loop.

    import edgenet

    clf = edgenet.Classifier("mobilenet_v1_050_160", threads=2)   # pulled on first use; or a .tflite path
    for frame in edgenet.frames("csi://0", max_frames=100):       # BGR uint8 arrays
        label, score = clf.classify(frame)[0]

    summary = edgenet.run(source="clip.mp4", max_frames=300)      # the `edgenet run` loop (threaded capture)

Everything here is the same code the command line uses: one preprocessing, one interpreter wrapper,
one model index.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from pathlib import Path
from typing import Callable, Iterator, NamedTuple

import cv2
import numpy as np

from edgenet.errors import SourceError, UsageError
from edgenet.labels import load_labels
from edgenet.postprocess import top_k
from edgenet.preprocess import DEFAULT_CROP, preprocess
from edgenet.runtime import load_interpreter

Log = Callable[[str], None]


class Prediction(NamedTuple):
    label: str
    score: float  # the model's output for the class: a probability (0..1) for the official models


def _quiet(message: str) -> None:
    pass


class Classifier:
    """An image classifier: ``classify(image)`` -> the top-k ``Prediction(label, score)``, best first.

    ``model``: a model index name (``edgenet.models``; pulled and sha256-checked on first use), a .tflite
    path, or None for this machine's default (the pick of ``edgenet profile --target-fps``, else
    ``mobilenet_v1_050_160``). ``labels`` defaults to the index's labels (ImageNet for the official
    models), else ``class N``. ``threads`` defaults to every core.
    """

    def __init__(self, model: str | os.PathLike | None = None, *, threads: int | None = None,
                 labels: str | os.PathLike | None = None, runtime: str = "auto", xnnpack: bool = True,
                 crop: float = DEFAULT_CROP, log: Log = _quiet):
        from edgenet.models import resolve_model

        if not 0.0 < crop <= 1.0:
            raise UsageError(f"crop must be in (0, 1], got {crop}")
        resolved = resolve_model(model, log=log)
        self.model_path: Path = resolved.path
        self.name: str = resolved.name or resolved.path.stem
        self._model = load_interpreter(str(resolved.path), runtime=runtime, threads=threads, xnnpack=xnnpack)
        chosen = labels if labels is not None else resolved.labels
        self.labels: list[str] = load_labels(os.fspath(chosen) if chosen is not None else None, self._model.classes)
        self.crop = crop

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the model takes; images of any size are cropped and resized to it."""
        return self._model.input_spec.height, self._model.input_spec.width

    @property
    def threads(self) -> int:
        return self._model.threads

    def scores(self, image: np.ndarray, *, color: str = "bgr") -> np.ndarray:
        """The model's output for every class (float32, one per label)."""
        return self._model.run(preprocess(_as_bgr(image, color), self._model.input_spec, self.crop))

    def classify(self, image: np.ndarray, top_k: int = 5, *, color: str = "bgr") -> list[Prediction]:
        """The ``top_k`` best classes of ``image`` (H x W x 3 uint8, ``color`` "bgr" as OpenCV reads, or "rgb")."""
        if top_k < 1:
            raise UsageError(f"top_k must be at least 1, got {top_k}")
        scores = self.scores(image, color=color)
        return [Prediction(self.labels[i], float(scores[i])) for i in _best(scores, top_k)]

    def __repr__(self) -> str:
        h, w = self.input_size
        return f"Classifier({self.name!r}, {w}x{h}, {len(self.labels)} classes, {self.threads} threads)"


def _best(scores: np.ndarray, k: int) -> np.ndarray:
    return top_k(scores, k)


def _as_bgr(image: np.ndarray, color: str) -> np.ndarray:
    if color not in ("bgr", "rgb"):
        raise UsageError(f"color must be 'bgr' or 'rgb', got {color!r}")
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        kind = image.dtype if isinstance(image, np.ndarray) else type(image).__name__
        raise UsageError(f"image must be a uint8 numpy array (H x W x 3), got {kind}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or min(image.shape[:2]) < 1:
        raise UsageError(f"image must be H x W x 3 (or 4 with alpha, or H x W grey), got shape {image.shape}")
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2BGR if color == "rgb" else cv2.COLOR_BGRA2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if color == "rgb" else image


def frames(source: str | int = 0, *, max_frames: int | None = None, width: int | None = None,
           height: int | None = None, fps: float | None = None) -> Iterator[np.ndarray]:
    """BGR uint8 frames from a camera number or any source URI of ``edgenet run`` (``csi://0``,
    ``/dev/video0``, ``rtsp://...``, a video file, a folder of images, ``pattern://``), until it ends."""
    from edgenet.board.camera import camera_uri
    from edgenet.sources import name_files, open_source

    if max_frames is not None and max_frames < 1:
        raise UsageError(f"max_frames must be at least 1, got {max_frames}")
    uri = camera_uri(source) if isinstance(source, int) else str(source)
    count = 0
    with open_source(uri, width=width, height=height, fps=fps) as src:
        while max_frames is None or count < max_frames:
            frame = src.read()  # a folder of unreadable images raises SourceError naming them
            if frame is None:
                break
            count += 1
            yield frame
        skipped = getattr(src, "skipped", None)
    if count == 0:
        raise SourceError(f"{src.name} gave no frames")  # an empty success would hide a broken source
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image(s): {name_files(skipped)}", stacklevel=2)


def run(source: str | int = 0, model: str | os.PathLike | None = None, *,
        on_result: Callable[[np.ndarray, list[Prediction]], None] | None = None, quiet: bool = True,
        stop: threading.Event | None = None, **options):
    """The live loop of ``edgenet run`` (capture in its own thread, newest frame first for cameras).

    ``options`` are ``edgenet.pipeline.RunConfig`` fields (``threads``, ``labels``, ``top_k``,
    ``max_frames``, ``duration``, ``record``, ...); the window is off unless ``headless=False``.
    ``on_result(frame, predictions)`` is called for every frame. ``quiet`` drops the once-a-second
    lines. Setting ``stop`` (from another thread or your own signal handler) ends the loop cleanly: the
    recording is closed and the summary returned. Returns the run's summary (FPS, per-stage timings,
    environment).
    """
    from edgenet.board.camera import camera_uri
    from edgenet.pipeline import RunConfig, run_pipeline
    from edgenet.sinks import Callback

    options.setdefault("headless", True)
    uri = camera_uri(source) if isinstance(source, int) else str(source)
    config = RunConfig(model=None if model is None else os.fspath(model), source=uri, **options)
    # The raw frame (result.image): nothing is drawn on the loop's thread for it.
    sinks = [] if on_result is None else [Callback(lambda result: on_result(
        result.image, [Prediction(result.picked.labels[i], s) for i, s in zip(result.picked.indices, result.picked.scores)]))]
    return run_pipeline(config, sinks=sinks, out=io.StringIO() if quiet else None, log=_quiet if quiet else None,
                        stop=stop)
