"""A board's compiled packages failing to import, of any kind, are one line with the cause and the fix:
picamera2 (numpy ABI clash, libcamera missing, camera absent), OpenCV under a foreign numpy, a Jetson's
OpenCV without GStreamer. The failing packages are real package folders on PYTHONPATH raising what the
real ones raise on boards (picamera2 issues #1088, #1211; numpy's ABI messages)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_cli import LABELS, TINY, assert_one_line_error

NUMPY_CLASH = "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject"


def fake_package(root: Path, name: str, body: str) -> Path:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / "__init__.py").write_text(body + "\n")
    return root


def edgenet_with(site: Path, *args):
    return subprocess.run([sys.executable, "-m", "edgenet", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"})


@pytest.mark.parametrize("body, message", [
    (f"raise ValueError({NUMPY_CLASH!r})", "the Pi camera (picamera2) does not import with numpy"),
    ("import libcamera", "the Pi camera (picamera2) needs libcamera, which is not installed: sudo apt install "
                         "python3-libcamera"),
    ("raise RuntimeError('Failed to start the camera manager')", "the Pi camera (picamera2) does not import "
                                                                  "(RuntimeError: Failed to start the camera manager)"),
    ("class Picamera2:\n    def __init__(self, camera_num=0):\n        raise IndexError('list index out of range')",
     "cannot open Pi camera 0: list index out of range; is the ribbon cable seated"),
])
def test_pi_camera_failures_are_one_line(tmp_path, body, message):
    r = edgenet_with(fake_package(tmp_path, "picamera2", body), "run", "--model", TINY, "--labels", LABELS,
                     "--source", "csi://0", "--headless", "--max-frames", "1")
    assert_one_line_error(r, message)
    if "ABI clash" in message or "numpy" in message:
        assert ".venv/bin/pip uninstall numpy" in r.stderr


def test_opencv_built_for_another_numpy_is_one_line_before_anything(tmp_path):
    site = fake_package(tmp_path, "cv2", "raise ImportError('numpy.core.multiarray failed to import')")
    r = edgenet_with(site, "run", "--model", TINY, "--source", "pattern://")
    assert_one_line_error(r, "OpenCV (cv2) does not import with numpy")
    assert "a numpy ABI clash (numpy.core.multiarray failed to import)" in r.stderr


def test_a_bug_of_ours_stays_a_traceback(tmp_path):
    """Only the board's compiled packages are explained: an ImportError elsewhere is not swallowed."""
    site = fake_package(tmp_path, "rich", "raise ImportError('cannot import name Console')")
    r = edgenet_with(site, "models", "list")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_camera_uri_on_a_pi_looks_picamera2_up_without_importing_it(tmp_path, monkeypatch):
    from edgenet.board import camera

    site = fake_package(tmp_path, "picamera2", f"raise ValueError({NUMPY_CLASH!r})")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(camera, "is_raspberry_pi", lambda: True)
    assert camera.camera_uri(0) == "csi://0"  # found; not imported, so no ValueError here
    assert "picamera2" not in sys.modules
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(site)])
    assert camera.camera_uri(1) == "v4l2://1"


def test_jetson_csi_without_gstreamer_and_argus_failures(monkeypatch):
    from edgenet import sources
    from edgenet.errors import SourceError

    monkeypatch.setattr(sources, "is_jetson", lambda: True)
    monkeypatch.setattr(sources, "opencv_has_gstreamer", lambda: False)
    with pytest.raises(SourceError) as exc:
        sources.open_source("csi://0")
    assert "sudo apt install nvidia-opencv" in str(exc.value) and "\n" not in str(exc.value)
    # With GStreamer claimed but no Argus here, the pipeline does not open: the hint names the daemon.
    monkeypatch.setattr(sources, "opencv_has_gstreamer", lambda: True)
    with pytest.raises(SourceError) as exc:
        sources.open_source("csi://0")
    assert str(exc.value).startswith("cannot open csi://0 (Argus)") and "nvargus-daemon" in str(exc.value)
