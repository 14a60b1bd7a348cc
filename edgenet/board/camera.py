"""The board's own camera: what ``--camera N`` means here, and the mode a CSI camera is asked for.

A Pi's ribbon camera is only reachable through libcamera (picamera2), a Jetson's CSI camera only
through Argus (a GStreamer ``nvarguscamerasrc`` pipeline); USB cameras everywhere else are V4L2
devices. ``edgenet.sources`` opens them; this module only knows the board.
"""

from __future__ import annotations

import os
import sys
from importlib.util import find_spec

from edgenet.board.identity import is_jetson, is_raspberry_pi
from edgenet.board.imports import explain_import_failure
from edgenet.errors import SourceError

# A Jetson CSI camera that does not open: Argus' daemon and the sensor are the usual causes.
ARGUS_HINT = ("is the camera connected and nvargus-daemon running (sudo systemctl restart nvargus-daemon)? "
              "Check with: gst-launch-1.0 nvarguscamerasrc num-buffers=1 ! fakesink")
GSTREAMER_HINT = ("this OpenCV has no GStreamer (pip's wheels have none), which a Jetson's CSI camera needs: "
                  "sudo apt install nvidia-opencv (JetPack's OpenCV), and .venv/bin/pip uninstall "
                  "opencv-python-headless if pip's shadows it, in a venv made with --system-site-packages")

# What a CSI camera is asked for unless the URI says ?width=&height=&fps=: 720p is every Pi camera's
# and Jetson sensor's video mode, and far above any MobileNet input.
CSI_WIDTH, CSI_HEIGHT, CSI_FPS = 1280, 720, 30.0

PICAMERA2_HINT = (
    "picamera2 is not importable. On Raspberry Pi OS: sudo apt install python3-picamera2, and make the "
    "venv with --system-site-packages (python3 -m venv --system-site-packages .venv) so it sees apt's packages"
)


def camera_uri(index: int) -> str:
    """What ``--camera N`` means on this board: ``csi://N`` on a Pi with picamera2 or a Jetson without
    ``/dev/videoN``, else ``v4l2://N``. picamera2 is looked up, not imported: importing it starts
    libcamera, and a broken one is explained when the camera is opened (``import_picamera2``)."""
    if index < 0:
        raise SourceError(f"camera number must be 0 or more, got {index}")
    if is_raspberry_pi():
        return f"csi://{index}" if installed("picamera2") else f"v4l2://{index}"
    if is_jetson() and not os.path.exists(f"/dev/video{index}"):
        return f"csi://{index}"
    return f"v4l2://{index}"


def installed(name: str) -> bool:
    """Whether ``import name`` would find something, without importing it."""
    if name in sys.modules:
        return sys.modules[name] is not None
    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def import_picamera2():
    """picamera2's ``Picamera2`` class, or SourceError with the cause and the fix in one line, whatever
    went wrong (not installed, not visible to the venv, numpy ABI clash, libcamera missing)."""
    try:
        from picamera2 import Picamera2
    except Exception as exc:  # ValueError for a numpy ABI clash, ImportError, OSError from libcamera ...
        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "picamera2":
            raise SourceError(PICAMERA2_HINT) from None
        raise SourceError(explain_import_failure("picamera2", exc, "the Pi camera (picamera2)")) from None
    return Picamera2


def jetson_csi_pipeline(index: int, width: int = CSI_WIDTH, height: int = CSI_HEIGHT, fps: float = CSI_FPS) -> str:
    """GStreamer pipeline for a Jetson CSI camera through Argus, ending in BGR frames for OpenCV."""
    return (
        f"nvarguscamerasrc sensor-id={index} ! "
        f"video/x-raw(memory:NVMM), width=(int){width}, height=(int){height}, "
        f"framerate=(fraction){int(round(fps))}/1, format=(string)NV12 ! "
        f"nvvidconv ! video/x-raw, width=(int){width}, height=(int){height}, format=(string)BGRx ! "
        "videoconvert ! video/x-raw, format=(string)BGR ! appsink drop=true max-buffers=1 sync=false"
    )
