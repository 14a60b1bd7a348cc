"""Video sources addressed by URI, jetson-inference style.

    v4l2://0, /dev/video0        a V4L2 camera through OpenCV
    csi://0                      the board's camera: picamera2 on a Raspberry Pi,
                                 a GStreamer nvarguscamerasrc pipeline on a Jetson
    rtsp://..., http(s)://...    a network stream (OpenCV/FFmpeg)
    clip.mp4, file:///clip.mp4   a video file
    photos/, 'photos/*.jpg'      a folder or glob of images
    pattern://?width=320&frames=100  a synthetic test pattern

Every URI takes ``?width=&height=&fps=`` to ask the device for a mode. A source only produces frames
(BGR uint8); it knows nothing of threads, models or files written: see ``edgenet.capture``.

OpenCV's own log lines (``[ WARN:0@0.02] global cap_v4l.cpp ... can't open camera by index``) and
FFmpeg's are silenced once a source is opened: a source that fails says so in one line of ours
(SourceError), and a camera being retried does not print a warning per attempt. Set
``OPENCV_LOG_LEVEL`` / ``OPENCV_FFMPEG_LOGLEVEL`` to see them again.
"""

from __future__ import annotations

import glob as globlib
import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import cv2
import numpy as np

from edgenet.board.camera import (ARGUS_HINT, CSI_FPS, CSI_HEIGHT, CSI_WIDTH, GSTREAMER_HINT, import_picamera2,
                                  jetson_csi_pipeline)
from edgenet.board.identity import is_jetson
from edgenet.errors import SourceError, SourceLost
from edgenet.limits import MAX_FRAME_SIDE

VIDEO_EXTENSIONS = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts", ".h264", ".mjpg", ".mjpeg"}
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp")
# A network camera that stays connected but stops sending would block FFmpeg's read for 30 s (its
# default), and a reconnect to a server that accepts and never answers as long: the run would neither
# notice nor honour --reconnect-timeout. A stream silent this long is lost, like a closed one.
STALL_SECONDS = 3.0  # between two frames: well above a slow camera's frame interval
OPEN_SECONDS = 10.0  # to open: RTSP's handshake and first keyframe over Wi-Fi fit in it
_OPTION_TYPES = {"width": int, "height": int, "fps": float, "frames": int}
_OPTION_MAX = {"width": MAX_FRAME_SIDE, "height": MAX_FRAME_SIDE, "fps": 1000.0, "frames": 10**12}

def name_files(paths: list[str], shown: int = 3) -> str:
    """``a.jpg, b.jpg, c.jpg and 7 more``: files named in one line."""
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(paths[:shown]) + more


def is_image_file(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def image_files(folder: str) -> list[str]:
    """Paths of the image files directly in ``folder``, sorted by name."""
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if is_image_file(f)]


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source URI."""

    kind: str  # "v4l2", "csi", "stream", "file", "images", "pattern"
    location: str  # device index or path, URL, file path, folder/glob
    options: dict = field(default_factory=dict)

    @property
    def live(self) -> bool:
        """Live sources produce frames in real time whether we read them or not."""
        return self.kind in ("v4l2", "csi", "stream")


def _options(query: str, uri: str) -> dict:
    opts: dict = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in _OPTION_TYPES:
            raise SourceError(f"unknown option {key!r} in source {uri!r}; known: {', '.join(_OPTION_TYPES)}")
        try:
            opts[key] = _OPTION_TYPES[key](value)
        except ValueError:
            raise SourceError(f"option {key}={value!r} in source {uri!r} is not a number") from None
        if not 0 < opts[key] <= _OPTION_MAX[key]:  # NaN and inf fail too
            raise SourceError(f"option {key} in source {uri!r} must be > 0 and at most {_OPTION_MAX[key]:g}")
    return opts


def _device_index(text: str, uri: str) -> str:
    if re.fullmatch(r"\d+", text):
        return text
    if re.fullmatch(r"/dev/video\d+", text):
        return text
    raise SourceError(f"{uri!r}: expected a camera number or /dev/videoN")


def parse_source(uri: str) -> SourceSpec:
    """URI -> SourceSpec. Strict: anything that is not clearly a source is an error, not a guess."""
    if not isinstance(uri, str) or not uri.strip():
        raise SourceError("empty source; give --camera N or --source URI")
    uri = uri.strip()
    m = re.fullmatch(r"([a-z][a-z0-9+.-]*)://(.*)", uri, flags=re.IGNORECASE)
    if m:
        scheme = m.group(1).lower()
        parts = urlsplit(uri)
        if scheme in STREAM_SCHEMES:
            # Query strings belong to the stream's server; keep the URL whole.
            return SourceSpec("stream", uri)
        rest = m.group(2)
        path, _, query = rest.partition("?")
        opts = _options(query, uri)
        if scheme == "v4l2":
            return SourceSpec("v4l2", _device_index(path, uri), opts)
        if scheme == "csi":
            if not re.fullmatch(r"\d+", path):
                raise SourceError(f"{uri!r}: expected csi://N with a camera number")
            return SourceSpec("csi", path, opts)
        if scheme in ("pattern", "test"):
            if path not in ("", "bars"):
                raise SourceError(f"{uri!r}: the only test pattern is pattern:// (or pattern://bars)")
            return SourceSpec("pattern", "bars", opts)
        if scheme == "file":
            return _path_spec(parts.path or path, uri, opts)
        raise SourceError(
            f"unknown source scheme {scheme!r} in {uri!r}; use v4l2://, csi://, rtsp://, http://, file://, pattern://"
        )
    if re.fullmatch(r"/dev/video\d+", uri):
        return SourceSpec("v4l2", uri)
    if re.fullmatch(r"\d+", uri):
        raise SourceError(f"source {uri!r} is ambiguous: use --camera {uri} or v4l2://{uri}")
    path, _, query = uri.partition("?") if not os.path.exists(uri) else (uri, "", "")
    return _path_spec(path, uri, _options(query, uri))


def _path_spec(path: str, uri: str, opts: dict) -> SourceSpec:
    if any(ch in path for ch in "*?[") and not os.path.exists(path):
        return SourceSpec("images", path, opts)
    if os.path.isdir(path):
        return SourceSpec("images", path, opts)
    if not os.path.exists(path):
        raise SourceError(f"source not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return SourceSpec("images", path, opts)
    return SourceSpec("file", path, opts)


class FrameSource:
    """Produces BGR uint8 frames. ``read()`` returns None at the end of a finite source and raises
    SourceLost when a live device stops answering (the capture thread then retries)."""

    live = False
    name = "source"
    nominal_fps: float | None = None

    def open(self) -> None:  # pragma: no cover - overridden
        pass

    def read(self) -> np.ndarray | None:  # pragma: no cover - overridden
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class OpenCVSource(FrameSource):
    """V4L2 cameras, video files and network streams through cv2.VideoCapture."""

    def __init__(self, target, name: str, live: bool, api: int = cv2.CAP_ANY, options: dict | None = None,
                 hint: str | None = None, timeouts: tuple[float, float] | None = None,
                 decode_threads: int | None = None):
        self.target, self.name, self.live, self.api = target, name, live, api
        self.options = options or {}
        self.timeouts = timeouts  # (open, read) in seconds: FFmpeg gives up on a silent stream after these
        self.decode_threads = decode_threads  # FFmpeg's decoder threads; None or 0: its default, one per core
        self.hint = hint  # what to check when it does not open
        self.cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        params = []
        if self.timeouts is not None:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.timeouts[0] * 1000),
                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.timeouts[1] * 1000)]
        # Decoder threads are an open-time parameter of the FFmpeg backend (OpenCV >= 4.6). A backend
        # that does not know it refuses to open, so a file another backend reads is retried without it
        # (FFmpeg itself knows it: a stream that does not open is not tried twice, which would double
        # the wait for an unreachable camera).
        threads = [cv2.CAP_PROP_N_THREADS, self.decode_threads] if (
            self.decode_threads and hasattr(cv2, "CAP_PROP_N_THREADS")) else []
        try:
            cap = self._open(params + threads)
            if threads and self.api != cv2.CAP_FFMPEG and not cap.isOpened():
                cap.release()
                cap = self._open(params)
        except Exception as exc:  # cv2.error from a backend (a GStreamer pipeline that does not parse)
            raise SourceError(f"cannot open {self.name}: {str(exc).strip().splitlines()[-1][:160]}"
                              + (f"; {self.hint}" if self.hint else "")) from None
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open {self.name}" + (f": {self.hint}" if self.hint else ""))
        if self.live:
            for key, prop in (("width", cv2.CAP_PROP_FRAME_WIDTH), ("height", cv2.CAP_PROP_FRAME_HEIGHT), ("fps", cv2.CAP_PROP_FPS)):
                if key in self.options:
                    cap.set(prop, self.options[key])
            # Ask the driver for a short queue so frames are fresh (not all backends honour it).
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.nominal_fps = fps if fps and 0 < fps < 1000 else None
        self.cap = cap

    def _open(self, params: list[int]) -> cv2.VideoCapture:
        return cv2.VideoCapture(self.target, self.api, params) if params else cv2.VideoCapture(self.target, self.api)

    def read(self) -> np.ndarray | None:
        if self.cap is None:
            raise SourceLost(f"{self.name} is not open")
        ok, frame = self.cap.read()
        if not ok or frame is None:
            if self.live:
                raise SourceLost(f"{self.name} stopped delivering frames")
            return None
        return frame

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class ImageFolderSource(FrameSource):
    """Every image of a folder (sorted) or a glob, once. Unreadable files (empty, truncated, text named
    .jpg) are skipped and listed in ``skipped``; when none could be read, the end is a SourceError naming
    them, not an empty success."""

    def __init__(self, location: str):
        self.name = location
        if os.path.isdir(location):
            self.paths = image_files(location)
        else:
            paths = [location] if os.path.isfile(location) else globlib.glob(location, recursive=True)
            self.paths = sorted(p for p in paths if is_image_file(p))
        self.skipped: list[str] = []
        self.current: str | None = None
        self.delivered = 0
        self._next = 0

    def open(self) -> None:
        if not self.paths:
            raise SourceError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in {self.name}")

    def read(self) -> np.ndarray | None:
        while self._next < len(self.paths):
            path = self.paths[self._next]
            self._next += 1
            frame = cv2.imread(path, cv2.IMREAD_COLOR)
            if frame is not None:
                self.current = path
                self.delivered += 1
                return frame
            self.skipped.append(path)
        if not self.delivered and self.skipped:
            what = "image" if len(self.paths) == 1 else f"any of the {len(self.paths)} images"
            raise SourceError(f"cannot read {what} ({name_files(self.skipped)}): empty, truncated or not "
                              "a picture OpenCV can decode")
        return None


class PatternSource(FrameSource):
    """Synthetic moving colour bars with a frame counter: a camera stand-in that needs nothing."""

    def __init__(self, options: dict):
        self.width = options.get("width", 640)
        self.height = options.get("height", 480)
        self.frames = options.get("frames")
        self.nominal_fps = options.get("fps")
        self.name = f"pattern {self.width}x{self.height}"
        self._count = 0
        colours = np.array([[255, 255, 255], [0, 255, 255], [255, 255, 0], [0, 255, 0],
                            [255, 0, 255], [0, 0, 255], [255, 0, 0], [0, 0, 0]], np.uint8)
        bar = np.repeat(colours, -(-self.width // len(colours)), axis=0)[: self.width]
        self._bars = np.ascontiguousarray(np.broadcast_to(bar, (self.height, self.width, 3)))

    def read(self) -> np.ndarray | None:
        if self.frames is not None and self._count >= self.frames:
            return None
        shift = (self._count * 4) % self.width
        frame = np.roll(self._bars, shift, axis=1)
        cv2.putText(frame, f"{self._count}", (10, self.height - 10), cv2.FONT_HERSHEY_SIMPLEX,
                    max(0.5, self.height / 480), (128, 128, 128), 2, cv2.LINE_AA)
        self._count += 1
        return frame


class Picamera2Source(FrameSource):
    """A Raspberry Pi camera through picamera2 (libcamera). Imported only when used."""

    live = True

    def __init__(self, index: int, options: dict):
        self.index = index
        self.size = (options.get("width", CSI_WIDTH), options.get("height", CSI_HEIGHT))
        self.fps = options.get("fps")
        self.name = f"csi://{index} (picamera2)"
        self.camera = None

    def open(self) -> None:
        Picamera2 = import_picamera2()
        try:
            camera = Picamera2(camera_num=self.index)
            # RGB888 is stored B, G, R in memory: already OpenCV's order.
            controls = {"FrameRate": self.fps} if self.fps else {}
            config = camera.create_video_configuration(main={"size": self.size, "format": "RGB888"}, controls=controls)
            camera.configure(config)
            camera.start()
        except Exception as exc:  # libcamera reports a missing, busy or unplugged camera as assorted errors
            text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise SourceError(f"cannot open Pi camera {self.index}: {text}; is the ribbon cable seated and the camera "
                              "free (another process using it)? Check with: rpicam-hello --list-cameras") from None
        self.camera = camera
        self.nominal_fps = self.fps

    def read(self) -> np.ndarray | None:
        if self.camera is None:
            raise SourceLost(f"{self.name} is not open")
        try:
            frame = self.camera.capture_array("main")
        except Exception as exc:  # libcamera reports a lost camera as assorted errors
            raise SourceLost(f"{self.name}: {exc}") from None
        if frame is None:
            raise SourceLost(f"{self.name} returned no frame")
        if frame.ndim == 3 and frame.shape[2] == 4:  # XBGR8888 configurations
            frame = frame[:, :, :3]
        return frame

    def close(self) -> None:
        if self.camera is not None:
            try:
                self.camera.stop()
                self.camera.close()
            finally:
                self.camera = None


def opencv_has_gstreamer() -> bool:
    info = cv2.getBuildInformation()
    m = re.search(r"GStreamer:\s*(\S+)", info)
    return bool(m and m.group(1).upper().startswith("YES"))


def quiet_opencv() -> None:
    """OpenCV logs errors only, FFmpeg (inside OpenCV) nothing, unless the user's environment says otherwise."""
    if "OPENCV_LOG_LEVEL" not in os.environ:
        logging = getattr(getattr(cv2, "utils", None), "logging", None)
        if logging is not None:  # OpenCV 5
            logging.setLogLevel(logging.LOG_LEVEL_ERROR)
        elif hasattr(cv2, "setLogLevel"):  # OpenCV 4: the same levels, ERROR = 2
            cv2.setLogLevel(2)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when FFmpeg opens a stream


def open_source(uri: str, *, width: int | None = None, height: int | None = None, fps: float | None = None,
                stall_timeout: float = STALL_SECONDS, open_timeout: float = OPEN_SECONDS,
                decode_threads: int | None = None) -> FrameSource:
    """Parse ``uri``, open the source and return it (SourceError if it cannot be opened).

    A network stream silent for ``stall_timeout`` seconds raises SourceLost from ``read()``, as a
    closed one does; one that does not answer for ``open_timeout`` seconds cannot be opened.
    ``decode_threads`` caps FFmpeg's decoder threads for video files and streams (None: FFmpeg's
    default, a thread per core, which competes with the interpreter for them)."""
    quiet_opencv()
    spec = parse_source(uri)
    options = dict(spec.options)
    for key, value in (("width", width), ("height", height), ("fps", fps)):
        if value is not None:
            options[key] = value
    source = _make_source(spec, options, (open_timeout, stall_timeout), decode_threads)
    source.open()
    return source


def probe_source(uri: str) -> None:
    """Open ``uri`` and read one frame, before work that would be lost if it gives none: SourceError
    (naming the files, for unreadable images) when it gives nothing."""
    with open_source(uri) as source:
        try:
            frame = source.read()
        except SourceLost as exc:
            raise SourceError(str(exc)) from None
        if frame is None:
            raise SourceError(f"{source.name} gave no frames")


def _make_source(spec: SourceSpec, options: dict, timeouts: tuple[float, float],
                 decode_threads: int | None = None) -> FrameSource:
    if spec.kind == "v4l2":
        target = int(spec.location) if spec.location.isdigit() else spec.location
        return OpenCVSource(target, f"camera {spec.location} (V4L2)", live=True, api=cv2.CAP_V4L2, options=options)
    if spec.kind == "csi":
        index = int(spec.location)
        if is_jetson():
            if not opencv_has_gstreamer():
                raise SourceError(GSTREAMER_HINT)
            pipeline = jetson_csi_pipeline(index, options.get("width", CSI_WIDTH), options.get("height", CSI_HEIGHT),
                                           options.get("fps", CSI_FPS))
            return OpenCVSource(pipeline, f"csi://{index} (Argus)", live=True, api=cv2.CAP_GSTREAMER, hint=ARGUS_HINT)
        return Picamera2Source(index, options)
    if spec.kind == "stream":
        return OpenCVSource(spec.location, spec.location, live=True, api=cv2.CAP_FFMPEG, timeouts=timeouts,
                            decode_threads=decode_threads)
    if spec.kind == "file":
        return OpenCVSource(spec.location, spec.location, live=False, decode_threads=decode_threads)
    if spec.kind == "images":
        return ImageFolderSource(spec.location)
    if spec.kind == "pattern":
        return PatternSource(options)
    raise SourceError(f"unsupported source kind {spec.kind}")  # pragma: no cover
