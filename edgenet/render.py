"""Drawing results on frames, and the optional on-screen window."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX


def annotate(frame: np.ndarray, top: list[dict], e2e_fps: float, infer_ms: float) -> np.ndarray:
    """A copy of ``frame`` with the top-k labels and scores, FPS and inference time drawn on it."""
    out = frame.copy()
    h, w = out.shape[:2]
    scale = max(0.45, min(1.0, w / 900))
    line = int(28 * scale) + 6
    rows = [f"{e2e_fps:5.1f} FPS  |  inference {infer_ms:5.1f} ms"]
    rows += [f"{t['score']:.2f}  {t['label']}" for t in top]
    box_h = line * len(rows) + 10
    box_w = min(w, int(max(cv2.getTextSize(r, FONT, scale, 1)[0][0] for r in rows)) + 20)
    # Darken the panel behind the text so it stays readable on any video.
    panel = out[0:box_h, 0:box_w]
    panel[:] = (panel * 0.35).astype(np.uint8)
    for i, text in enumerate(rows):
        colour = (0, 255, 255) if i == 0 else (255, 255, 255)
        cv2.putText(out, text, (10, line * (i + 1)), FONT, scale, colour, 1 if i else 2, cv2.LINE_AA)
    return out


def display_available() -> bool:
    """A window can be opened: a display server exists and OpenCV was built with a GUI backend."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    info = cv2.getBuildInformation()
    gui = info.split("GUI:")[1].splitlines()[0].strip() if "GUI:" in info else "NONE"
    return gui.upper() not in ("NONE", "")


class Window:
    """cv2.imshow window; ``show`` returns False when the user pressed q or Esc or closed it."""

    def __init__(self, title: str = "edgenet"):
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)

    def show(self, frame: np.ndarray) -> bool:
        cv2.imshow(self.title, frame)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return False
        return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1

    def close(self) -> None:
        cv2.destroyWindow(self.title)
