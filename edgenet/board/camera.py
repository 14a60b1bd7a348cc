"""The board's own camera: what ``--camera N`` means here, and the mode a CSI camera is asked for.

A Pi's ribbon camera is only reachable through libcamera (picamera2), a Jetson's CSI camera only
through Argus (a GStreamer ``nvarguscamerasrc`` pipeline); USB cameras everywhere else are V4L2
devices. ``edgenet.sources`` opens them; this module only knows the board.
"""

from __future__ import annotations

import os

from edgenet.board.identity import is_jetson, is_raspberry_pi
from edgenet.errors import SourceError

# What a CSI camera is asked for unless the URI says ?width=&height=&fps=: 720p is every Pi camera's
# and Jetson sensor's video mode, and far above any MobileNet input.
CSI_WIDTH, CSI_HEIGHT, CSI_FPS = 1280, 720, 30.0

PICAMERA2_HINT = (
    "picamera2 is not importable. On Raspberry Pi OS: sudo apt install python3-picamera2, and make the "
    "venv with --system-site-packages (python3 -m venv --system-site-packages .venv) so it sees apt's packages"
)


def camera_uri(index: int) -> str:
    """What ``--camera N`` means on this board: ``csi://N`` on a Pi with picamera2 or a Jetson without
    ``/dev/videoN``, else ``v4l2://N``."""
    if index < 0:
        raise SourceError(f"camera number must be 0 or more, got {index}")
    if is_raspberry_pi():
        try:
            import picamera2  # noqa: F401
        except ImportError:
            return f"v4l2://{index}"
        return f"csi://{index}"
    if is_jetson() and not os.path.exists(f"/dev/video{index}"):
        return f"csi://{index}"
    return f"v4l2://{index}"


def jetson_csi_pipeline(index: int, width: int = CSI_WIDTH, height: int = CSI_HEIGHT, fps: float = CSI_FPS) -> str:
    """GStreamer pipeline for a Jetson CSI camera through Argus, ending in BGR frames for OpenCV."""
    return (
        f"nvarguscamerasrc sensor-id={index} ! "
        f"video/x-raw(memory:NVMM), width=(int){width}, height=(int){height}, "
        f"framerate=(fraction){int(round(fps))}/1, format=(string)NV12 ! "
        f"nvvidconv ! video/x-raw, width=(int){width}, height=(int){height}, format=(string)BGRx ! "
        "videoconvert ! video/x-raw, format=(string)BGR ! appsink drop=true max-buffers=1 sync=false"
    )
