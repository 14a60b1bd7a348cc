"""Drawn pictures of 10 classes (colour fields, stripes, checkerboards): no downloads, no TensorFlow.

The offline demo trains on them and the test fixtures are made from them (tests/fixtures/drawings.py
re-exports this module).
"""

from __future__ import annotations

import numpy as np

LABELS = ["red", "green", "blue", "yellow", "cyan", "magenta", "white", "black", "stripes", "checker"]

COLOURS = {  # BGR, as OpenCV frames are
    "red": (0, 0, 255), "green": (0, 255, 0), "blue": (255, 0, 0), "yellow": (0, 255, 255),
    "cyan": (255, 255, 0), "magenta": (255, 0, 255), "white": (255, 255, 255), "black": (0, 0, 0),
}


def draw(label: str, rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """A BGR uint8 picture of class ``label``: a colour field, stripes or a checkerboard."""
    if label in COLOURS:
        img = np.empty((size, size, 3), np.float32)
        img[:] = COLOURS[label]
    else:
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        if np.abs(a - b).max() < 80:  # keep the pattern visible
            b = 255 - a
        period = int(rng.integers(6, 16))
        yy, xx = np.mgrid[:size, :size]
        if label == "stripes":
            mask = ((xx if rng.random() < 0.5 else yy) // period) % 2 == 0
        else:
            mask = ((xx // period) + (yy // period)) % 2 == 0
        img = np.where(mask[..., None], a, b).astype(np.float32)
    img += rng.normal(0, 20, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_image_folder(root, per_class: int, seed: int = 0, size: int = 96) -> list[str]:
    """An ImageFolder of drawn PNGs (``root/<label>/NNN.png``); returns the class names."""
    import os

    import cv2

    rng = np.random.default_rng(seed)
    for label in LABELS:
        folder = os.path.join(root, label)
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            cv2.imwrite(os.path.join(folder, f"{i:04d}.png"), draw(label, rng, size))
    return list(LABELS)


def write_clip(path, scenes: int = 30, hold: int = 8, seed: int = 0, size: int = 160, fps: float = 30.0) -> list[str]:
    """A video of ``scenes`` drawn pictures, each held ``hold`` frames (a camera looking at one thing,
    then another); returns the label of each scene. mp4v: OpenCV's pip wheels write it without extras."""
    import cv2

    rng = np.random.default_rng(seed)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size, size))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {path}")
    labels = []
    try:
        for _ in range(scenes):
            label = LABELS[int(rng.integers(len(LABELS)))]
            labels.append(label)
            picture = draw(label, rng, size)
            for _ in range(hold):
                writer.write(picture)
    finally:
        writer.release()
    return labels
