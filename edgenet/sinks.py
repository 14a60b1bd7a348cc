"""Where the live loop's results go: small sinks behind one protocol, picamera2-outputs style.

The loop (``edgenet.pipeline.run_pipeline``) hands every result to every sink and knows nothing
about windows, files or viewers; a sink knows nothing about models or sources. ``Sink.open`` is
called once before the first frame, ``Sink.write`` once per frame (returning False asks the loop to
stop: a closed window), ``Sink.close`` once at the end, even after an error.

A sink that shows labels on the picture reads ``result.annotated``, drawn once per frame and only
when some sink asks for it; a sink that draws for itself (the live view, only on the frames a viewer
gets) takes ``result.image``, the camera's frame as it came.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import IO, Callable

import cv2
import numpy as np

from edgenet.errors import UsageError
from edgenet.postprocess import Picked
from edgenet.render import annotate


@dataclass(frozen=True)
class StreamInfo:
    """What a sink may need to know about the run before the first frame."""

    source: str  # the source's name
    live: bool
    fps: float | None  # the source's nominal frame rate, when it has one


class FrameResult:
    """One frame's result, made by the loop. ``image`` is the frame as captured: never modify it.

    ``picked`` is the top-k as picked (indices, scores); ``top``, the same as label dicts, is made
    only when a sink reads it (a status line reads it once a second, not once a frame).
    """

    __slots__ = ("index", "image", "picked", "e2e_fps", "infer_ms", "t_ns", "_annotated")

    def __init__(self, index: int, image: np.ndarray, picked: Picked, e2e_fps: float, infer_ms: float, t_ns: int):
        self.index, self.image, self.picked = index, image, picked
        self.e2e_fps, self.infer_ms, self.t_ns = e2e_fps, infer_ms, t_ns
        self._annotated: np.ndarray | None = None

    @property
    def top(self) -> list[dict]:
        """``[{"index", "label", "score"}, ...]``, best first."""
        return self.picked.as_dicts()

    @property
    def model_fps(self) -> float:
        return 1e3 / self.infer_ms if self.infer_ms > 0 else 0.0

    @property
    def drawn(self) -> bool:
        """Whether a sink asked for the annotated frame (the loop then times the drawing as "render")."""
        return self._annotated is not None

    @property
    def annotated(self) -> np.ndarray:
        """A copy of the frame with the top-k labels, FPS and inference time drawn on it (once)."""
        if self._annotated is None:
            self._annotated = annotate(self.image, self.top, self.e2e_fps, self.infer_ms)
        return self._annotated

    def stats(self) -> dict:
        return {"frame": self.index, "top": self.top, "e2e_fps": round(self.e2e_fps, 2),
                "model_fps": round(self.model_fps, 2), "infer_ms": round(self.infer_ms, 3)}


class Sink:
    """The protocol: override ``write``; ``open`` and ``close`` do nothing unless overridden."""

    def open(self, info: StreamInfo) -> None:
        pass

    def write(self, result: FrameResult) -> bool:  # pragma: no cover - overridden
        """Take one result; return False to ask the loop to stop."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class Callback(Sink):
    """Calls ``fn(result)`` for every frame: a program that embeds the loop (``edgenet.api.run``)."""

    def __init__(self, fn: Callable[[FrameResult], object]):
        self.fn = fn

    def write(self, result: FrameResult) -> bool:
        self.fn(result)
        return True


class JsonLines(Sink):
    """One JSON object per frame (``--json``), the text ``json.dumps`` gives for
    ``{"frame", "top": [{"index", "label", "score"}, ...], "infer_ms", "e2e_fps"}``.

    Each class's ``{"index": .., "label": .., "score": `` is encoded once, on its first appearance;
    a frame only joins those with its numbers.
    """

    def __init__(self, out: IO[str]):
        self.out = out
        self._heads: dict[int, str] = {}

    def line(self, result: FrameResult) -> str:
        picked, heads = result.picked, self._heads
        entries = []
        for i, score in zip(picked.indices, picked.scores):
            head = heads.get(i)
            if head is None:
                head = heads[i] = f'{{"index": {i}, "label": {json.dumps(picked.labels[i])}, "score": '
            entries.append(f"{head}{score!r}}}")
        return (f'{{"frame": {result.index}, "top": [{", ".join(entries)}], '
                f'"infer_ms": {round(result.infer_ms, 3)!r}, "e2e_fps": {round(result.e2e_fps, 2)!r}}}\n')

    def write(self, result: FrameResult) -> bool:
        self.out.write(self.line(result))
        self.out.flush()
        return True


class StatusLine(Sink):
    """A compact line once a second (``--headless``, or no display): rate, inference time, top 3."""

    def __init__(self, out: IO[str], every_s: float = 1.0):
        self.out, self.every_ns = out, int(every_s * 1e9)
        self.last_ns: int | None = None
        self.frames = 0

    def write(self, result: FrameResult) -> bool:
        self.frames += 1
        if self.last_ns is None:
            self.last_ns = result.t_ns
        elif result.t_ns - self.last_ns >= self.every_ns:
            rate = self.frames / ((result.t_ns - self.last_ns) / 1e9)
            best = ", ".join(f"{t['label']} {t['score']:.2f}" for t in result.top[:3]) or "(below threshold)"
            self.out.write(f"{rate:6.1f} fps | inference {result.infer_ms:6.2f} ms | {best}\n")
            self.out.flush()
            self.last_ns, self.frames = result.t_ns, 0
        return True


def fit_to(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """``frame`` scaled to fit ``width`` x ``height`` with its aspect ratio kept, centred on black."""
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out[top:top + new_h, left:left + new_w] = resized
    return out


MPEG4_SUFFIXES = (".mp4", ".m4v", ".mov")
# What OpenCV's FFmpeg writes and reads back here: MPEG-4 in these, MJPEG in .avi/.mkv (.ts, .mpg and
# .webm open for writing but give files nothing reads, or fail at the first frame).
RECORD_SUFFIXES = MPEG4_SUFFIXES + (".avi", ".mkv")


class Recorder(Sink):
    """The annotated video (``--record``): .mp4/.m4v/.mov as MPEG-4, anything else as MJPEG.

    A video has one frame size, the first frame's: later frames of another size (a folder of photos)
    are fitted into it with their aspect ratio kept.
    """

    def __init__(self, path: str, default_fps: float = 30.0):
        self.path, self.fps, self.writer = path, default_fps, None
        self.size: tuple[int, int] | None = None

    def open(self, info: StreamInfo) -> None:
        self.fps = info.fps or self.fps

    def write(self, result: FrameResult) -> bool:
        frame = result.annotated
        if self.writer is None:
            h, w = frame.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.lower().endswith(MPEG4_SUFFIXES) else "MJPG"))
            self.writer = cv2.VideoWriter(self.path, fourcc, self.fps, (w, h))
            if not self.writer.isOpened():
                raise UsageError(f"cannot write video {self.path} (unsupported extension? use .mp4 or .avi)")
            self.size = (w, h)
        self.writer.write(fit_to(frame, *self.size))
        return True

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None


def display_available() -> bool:
    """A window can be opened: a display server exists and OpenCV was built with a GUI backend."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    info = cv2.getBuildInformation()
    gui = info.split("GUI:")[1].splitlines()[0].strip() if "GUI:" in info else "NONE"
    return gui.upper() not in ("NONE", "")


class Window(Sink):
    """An OpenCV window; the run stops when the user presses q or Esc or closes it."""

    def __init__(self, title: str = "edgenet"):
        self.title = title
        self.opened = False

    def open(self, info: StreamInfo) -> None:
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)
        self.opened = True

    def write(self, result: FrameResult) -> bool:
        cv2.imshow(self.title, result.annotated)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return False
        return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1

    def close(self) -> None:
        if self.opened:
            cv2.destroyWindow(self.title)
            self.opened = False


def standard_sinks(*, json_lines: bool, headless: bool, record: str | None, out: IO[str],
                   log: Callable[[str], None], display: Callable[[], bool] = display_available) -> list[Sink]:
    """What ``edgenet run``'s output options ask for: JSON lines, else a window when a display exists,
    else the once-a-second line; plus the recorder."""
    sinks: list[Sink] = []
    if json_lines:
        sinks.append(JsonLines(out))
    elif not headless and display():
        sinks.append(Window())
    else:
        if not headless:
            log("no display (or OpenCV without GUI): running headless")
        sinks.append(StatusLine(out))
    if record is not None:
        sinks.append(Recorder(record))
    return sinks


def open_all(sinks: list[Sink], info: StreamInfo) -> None:
    for sink in sinks:
        sink.open(info)


def close_all(sinks: list[Sink]) -> None:
    """Close every sink, even when one fails; the first failure is raised after."""
    error: BaseException | None = None
    for sink in sinks:
        try:
            sink.close()
        except Exception as exc:  # noqa: BLE001 - closing the others matters more
            error = error or exc
    if error is not None:
        raise error
