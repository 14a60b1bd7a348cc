"""Drawing results on frames (the window and the other outputs are in ``edgenet.sinks``)."""

from __future__ import annotations

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
