import sys
import types

import cv2
import numpy as np
import pytest

import edgenet.board.camera as camera
import edgenet.sources as sources
from edgenet.board.camera import camera_uri, jetson_csi_pipeline
from edgenet.errors import SourceError, SourceLost
from edgenet.sources import ImageFolderSource, PatternSource, open_source, parse_source


def pretend_board(monkeypatch, pi: bool, jetson: bool) -> None:
    """What the board detection answers, for camera_uri and for opening csi://."""
    monkeypatch.setattr(camera, "is_raspberry_pi", lambda: pi)
    monkeypatch.setattr(camera, "is_jetson", lambda: jetson)
    monkeypatch.setattr(sources, "is_jetson", lambda: jetson)


@pytest.fixture
def media(tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"")  # only existence matters for parsing
    (tmp_path / "photos").mkdir()
    (tmp_path / "photo.jpg").write_bytes(b"")
    return tmp_path


@pytest.mark.parametrize(
    "uri, kind, location, options",
    [
        ("v4l2://0", "v4l2", "0", {}),
        ("v4l2://2?width=640&height=480&fps=30", "v4l2", "2", {"width": 640, "height": 480, "fps": 30.0}),
        ("v4l2:///dev/video1", "v4l2", "/dev/video1", {}),
        ("/dev/video3", "v4l2", "/dev/video3", {}),
        ("csi://0", "csi", "0", {}),
        ("csi://1?width=1920&height=1080", "csi", "1", {"width": 1920, "height": 1080}),
        ("rtsp://cam.local:554/stream?x=1", "stream", "rtsp://cam.local:554/stream?x=1", {}),
        ("http://10.0.0.2:8080/video.mjpg", "stream", "http://10.0.0.2:8080/video.mjpg", {}),
        ("HTTPS://example.org/a.m3u8", "stream", "HTTPS://example.org/a.m3u8", {}),
        ("pattern://", "pattern", "bars", {}),
        ("pattern://?width=320&height=240&frames=10", "pattern", "bars", {"width": 320, "height": 240, "frames": 10}),
        ("test://bars", "pattern", "bars", {}),
    ],
)
def test_parse_uris(uri, kind, location, options):
    spec = parse_source(uri)
    assert (spec.kind, spec.location, spec.options) == (kind, location, options)
    assert spec.live == (kind in ("v4l2", "csi", "stream"))


@pytest.mark.parametrize(
    "rel, kind",
    [("clip.mp4", "file"), ("photos", "images"), ("photo.jpg", "images"), ("photos/*.jpg", "images")],
)
def test_parse_paths(media, rel, kind):
    spec = parse_source(str(media / rel))
    assert spec.kind == kind and not spec.live
    assert parse_source("file://" + str(media / rel)).kind == kind


@pytest.mark.parametrize(
    "uri, message",
    [
        ("", "empty source"),
        ("0", "ambiguous"),
        ("/no/such/clip.mp4", "not found"),
        ("v4l2://front", "camera number"),
        ("csi://left", "csi://N"),
        ("ftp://host/clip.mp4", "unknown source scheme"),
        ("pattern://zebra", "test pattern"),
        ("pattern://?width=abc", "not a number"),
        ("pattern://?colour=red", "unknown option"),
        ("v4l2://0?width=-5", "must be > 0"),
    ],
)
def test_bad_uris(uri, message):
    with pytest.raises(SourceError, match=message):
        parse_source(uri)


def test_pattern_source_is_finite_and_moving():
    src = open_source("pattern://?width=64&height=48&frames=3")
    frames = [src.read() for _ in range(4)]
    assert frames[3] is None
    assert frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    assert not np.array_equal(frames[0], frames[1])


def test_video_file_round_trip(tmp_path):
    path = str(tmp_path / "clip.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 25, (96, 64))
    for i in range(12):
        writer.write(np.full((64, 96, 3), i * 20, np.uint8))
    writer.release()
    with open_source(path) as src:
        assert not src.live and src.nominal_fps == pytest.approx(25)
        frames = []
        while (f := src.read()) is not None:
            frames.append(f)
    assert len(frames) == 12 and frames[0].shape == (64, 96, 3)
    assert frames[11].mean() > frames[1].mean()


def test_decoder_threads_are_an_open_parameter_and_a_backend_without_them_still_opens(monkeypatch, tmp_path):
    path = str(tmp_path / "clip.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 25, (96, 64))
    for i in range(6):
        writer.write(np.full((64, 96, 3), i * 40, np.uint8))
    writer.release()
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"seq_{i:02d}.png"), np.full((16, 24, 3), i * 50, np.uint8))
    calls = []
    real = cv2.VideoCapture

    def recording(*args):
        calls.append(list(args[2]) if len(args) > 2 else [])
        return real(*args)

    monkeypatch.setattr(sources.cv2, "VideoCapture", recording)
    with open_source(path, decode_threads=1) as src:
        frames = [src.read() for _ in range(6)]
        assert all(f is not None for f in frames) and src.read() is None
    assert calls == [[cv2.CAP_PROP_N_THREADS, 1]]  # FFmpeg took it at the first try
    calls.clear()
    with open_source(path) as src:
        assert src.read() is not None
    assert calls == [[]]  # None: FFmpeg's own default, nothing passed
    # OpenCV's image-sequence backend refuses an unknown open parameter: opened again without it
    calls.clear()
    images = sources.OpenCVSource(str(tmp_path / "seq_%02d.png"), "seq", live=False, api=cv2.CAP_IMAGES,
                                  decode_threads=1)
    images.open()
    try:
        assert images.read().shape == (16, 24, 3)
    finally:
        images.close()
    assert calls == [[cv2.CAP_PROP_N_THREADS, 1], []]
    # FFmpeg knows the parameter: a stream that does not open is not tried twice (twice the wait)
    calls.clear()
    with pytest.raises(SourceError, match="cannot open"):
        open_source("http://127.0.0.1:1/none.mjpg", decode_threads=1, open_timeout=2)
    assert len(calls) == 1 and calls[0][-2:] == [cv2.CAP_PROP_N_THREADS, 1]


def test_corrupt_video_file_is_an_error(tmp_path):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(SourceError, match="cannot open"):
        open_source(str(path))


def test_image_folder_sorted_skips_unreadable(tmp_path):
    for name in ("b.png", "a.jpg"):
        cv2.imwrite(str(tmp_path / name), np.zeros((10, 10, 3), np.uint8))
    (tmp_path / "c.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    src = open_source(str(tmp_path))
    assert isinstance(src, ImageFolderSource)
    got = []
    while src.read() is not None:
        got.append(src.current.rsplit("/", 1)[1])
    assert got == ["a.jpg", "b.png"] and [p.rsplit("/", 1)[1] for p in src.skipped] == ["c.jpg"]
    assert len(list(ImageFolderSource(str(tmp_path / "*.png")).paths)) == 1


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(SourceError, match="no images"):
        open_source(str(tmp_path))


class FakePicamera2:
    """Mimics picamera2.Picamera2: create_video_configuration / configure / start / capture_array."""

    instances: list = []
    fail_after: int | None = None

    def __init__(self, camera_num=0):
        self.camera_num = camera_num
        self.config = None
        self.started = False
        self.captured = 0
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main=None, controls=None, **kwargs):
        return {"main": dict(main or {}), "controls": dict(controls or {})}

    def configure(self, config):
        self.config = config

    def start(self):
        self.started = True

    def capture_array(self, name="main"):
        assert self.started and name == "main"
        self.captured += 1
        if self.fail_after is not None and self.captured > self.fail_after:
            raise RuntimeError("Camera frontend has timed out!")
        w, h = self.config["main"]["size"]
        return np.full((h, w, 3), self.captured % 255, np.uint8)

    def stop(self):
        self.started = False

    def close(self):
        pass


@pytest.fixture
def fake_pi(monkeypatch):
    FakePicamera2.instances = []
    FakePicamera2.fail_after = None
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    pretend_board(monkeypatch, pi=True, jetson=False)
    return FakePicamera2


def test_csi_on_a_pi_uses_picamera2(fake_pi):
    assert camera_uri(0) == "csi://0"
    src = open_source("csi://0?width=640&height=480&fps=15")
    cam = fake_pi.instances[0]
    assert cam.config["main"] == {"size": (640, 480), "format": "RGB888"}
    assert cam.config["controls"] == {"FrameRate": 15.0}
    frame = src.read()
    assert frame.shape == (480, 640, 3) and src.live
    fake_pi.fail_after = 1
    with pytest.raises(SourceLost, match="timed out"):
        src.read()
    src.close()
    assert not cam.started


def test_pi_without_picamera2_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails
    pretend_board(monkeypatch, pi=True, jetson=False)
    assert camera_uri(0) == "v4l2://0"  # a USB camera still works
    with pytest.raises(SourceError, match="sudo apt install python3-picamera2.*--system-site-packages"):
        open_source("csi://0")


def test_jetson_csi_builds_an_argus_pipeline(monkeypatch):
    pretend_board(monkeypatch, pi=False, jetson=True)
    opened = {}

    class FakeCapture:
        def __init__(self, target, api):
            opened["target"], opened["api"] = target, api

        def isOpened(self):
            return True

        def get(self, prop):
            return 30.0

        def set(self, prop, value):
            opened.setdefault("set", []).append((prop, value))

        def release(self):
            pass

    monkeypatch.setattr(sources, "opencv_has_gstreamer", lambda: True)
    monkeypatch.setattr(sources.cv2, "VideoCapture", FakeCapture)
    src = open_source("csi://1?width=1920&height=1080&fps=60")
    assert opened["api"] == cv2.CAP_GSTREAMER
    assert opened["target"] == jetson_csi_pipeline(1, 1920, 1080, 60)
    assert opened["target"].startswith("nvarguscamerasrc sensor-id=1 ! video/x-raw(memory:NVMM), width=(int)1920")
    assert "format=(string)BGR ! appsink drop=true max-buffers=1" in opened["target"]
    assert src.live


def test_jetson_with_pip_opencv_explains(monkeypatch):
    pretend_board(monkeypatch, pi=False, jetson=True)
    monkeypatch.setattr(sources, "opencv_has_gstreamer", lambda: False)
    with pytest.raises(SourceError, match="no GStreamer.*sudo apt install nvidia-opencv"):
        open_source("csi://0")


def test_camera_uri_on_a_pc(monkeypatch):
    pretend_board(monkeypatch, pi=False, jetson=False)
    assert camera_uri(2) == "v4l2://2"
    with pytest.raises(SourceError):
        camera_uri(-1)


def test_missing_camera_is_an_error():
    with pytest.raises(SourceError, match="cannot open camera"):
        open_source("v4l2://57")


def test_pattern_class():
    src = PatternSource({"width": 32, "height": 16})
    assert src.read().shape == (16, 32, 3)
