"""The one preprocessing function: camera frame (BGR uint8) -> model input tensor.

Calibration, eval and the live loop all call :func:`preprocess`. A second copy of this code is the
classic int8 accuracy bug (calibrating on different pixels than the ones inferred on), so there is
none: ``calibration`` imports it from here.

Pipeline: central crop (default 87.5 %, the ImageNet eval crop) -> bilinear resize to the model's
input -> BGR to RGB (or grey) -> normalise to [-1, 1] (MobileNet's ``x / 127.5 - 1``) -> quantize
with the input tensor's own scale and zero point. Crop happens before resize (resize works on the
fewest pixels), and the normalise+quantize step is a 256-entry lookup table, so no float image is
ever materialised for int8/uint8 models. The live loop keeps a :class:`Preprocessor` (the same
steps with their buffers kept), which writes each frame's tensor in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from edgenet.errors import UsageError

DEFAULT_CROP = 0.875
# MobileNet (Keras applications and TF-slim) feed pixels as x / 127.5 - 1.
PIXEL_MEAN = 127.5
PIXEL_STD = 127.5


@dataclass(frozen=True)
class InputSpec:
    """What a model wants as input, read from its input tensor."""

    height: int
    width: int
    channels: int  # 1 or 3
    dtype: str  # "uint8", "int8" or "float32"
    scale: float = 0.0  # 0 for float inputs
    zero_point: int = 0
    mean: float = PIXEL_MEAN
    std: float = PIXEL_STD

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise UsageError(f"input must have 1 or 3 channels, not {self.channels}")
        if self.dtype not in ("uint8", "int8", "float32"):
            raise UsageError(f"unsupported input dtype {self.dtype}")
        if self.dtype != "float32" and self.scale <= 0:
            raise UsageError(f"quantized {self.dtype} input needs a positive scale")

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (1, self.height, self.width, self.channels)


def central_crop_box(height: int, width: int, fraction: float, aspect: float | None = 1.0) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1) of the central crop.

    With ``aspect`` (width / height, the model's): the largest box of that shape that fits the frame,
    scaled by ``fraction``; a 16:9 camera frame feeding a square model loses its sides, not its shape.
    With ``aspect=None``: ``fraction`` of each side (TF-slim's ``central_crop``), which the resize then
    stretches to the model's shape.
    """
    if not (0.0 < fraction <= 1.0):
        raise UsageError(f"crop fraction must be in (0, 1], got {fraction}")
    if aspect is None:
        ch, cw = height * fraction, width * fraction
    elif width / height > aspect:
        ch = height * fraction
        cw = ch * aspect
    else:
        cw = width * fraction
        ch = cw / aspect
    ch_i, cw_i = max(1, round(ch)), max(1, round(cw))
    y0 = (height - ch_i) // 2
    x0 = (width - cw_i) // 2
    return y0, y0 + ch_i, x0, x0 + cw_i


@lru_cache(maxsize=32)
def _lookup_table(spec: InputSpec) -> np.ndarray:
    """Pixel value (0..255) -> model input value, for every pixel value at once."""
    real = (np.arange(256, dtype=np.float64) - spec.mean) / spec.std
    if spec.dtype == "float32":
        return real.astype(np.float32)
    info = np.iinfo(spec.dtype)
    q = np.clip(np.round(real / spec.scale + spec.zero_point), info.min, info.max)
    # Stored as uint8 bytes so cv2.LUT can apply it; int8 is reinterpreted with a view afterwards.
    return q.astype(spec.dtype).view(np.uint8)


def describe(crop: float = DEFAULT_CROP, keep_aspect: bool = True) -> dict:
    """What :func:`preprocess` does with these settings, for the manifests and reports that record it
    (calibration files, eval reports): one description, so two files can be compared."""
    return {"function": "edgenet.preprocess.preprocess", "crop": crop, "keep_aspect": keep_aspect,
            "resize": "bilinear", "colour": "RGB", "mean": PIXEL_MEAN, "std": PIXEL_STD,
            "normalise": f"x/{PIXEL_STD:g}-{PIXEL_MEAN / PIXEL_STD:g}"}


# (frame channels, model channels) -> the OpenCV conversion, None when the channels already match
_COLOUR = {(3, 3): cv2.COLOR_BGR2RGB, (1, 3): cv2.COLOR_GRAY2RGB, (4, 3): cv2.COLOR_BGRA2RGB,
           (3, 1): cv2.COLOR_BGR2GRAY, (4, 1): cv2.COLOR_BGRA2GRAY, (1, 1): None}


def preprocess(frame: np.ndarray, spec: InputSpec, crop: float = DEFAULT_CROP, keep_aspect: bool = True) -> np.ndarray:
    """BGR (or grey) uint8 frame of any size -> input tensor of ``spec.shape`` and ``spec.dtype``.

    ``keep_aspect=False`` reproduces TF-slim's ImageNet eval protocol (crop each side, stretch).
    """
    return Preprocessor(spec, crop, keep_aspect)(frame)


class Preprocessor:
    """:func:`preprocess` for a stream of frames, with nothing made per frame.

    The crop box (per frame size), the lookup table and the intermediate images are made once and
    reused; ``out`` (from :meth:`new_output`) receives the tensor in place. Every step writes into
    its own buffer (``dst=``), so a frame costs no allocation at all. One instance per thread: the
    intermediate buffers are shared between calls.
    """

    def __init__(self, spec: InputSpec, crop: float = DEFAULT_CROP, keep_aspect: bool = True):
        central_crop_box(1, 1, crop)  # validates the fraction before the first frame
        self.spec, self.crop, self.keep_aspect = spec, crop, keep_aspect
        self._aspect = spec.width / spec.height if keep_aspect else None
        self._size = (spec.width, spec.height)
        self._lut = _lookup_table(spec)
        self._boxes: dict[tuple[int, int], tuple[int, int, int, int]] = {}
        self._resized: dict[int, np.ndarray] = {}  # frame channels -> resized image
        self._colour = np.empty((spec.height, spec.width, 3)[: 3 if spec.channels == 3 else 2], np.uint8)

    def new_output(self) -> np.ndarray:
        """An input tensor to fill with ``self(frame, out)``."""
        return np.empty(self.spec.shape, self.spec.dtype)

    def __call__(self, frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``frame`` as the model's input tensor, written into ``out`` (a new array if None)."""
        if frame is None or frame.ndim not in (2, 3) or frame.dtype != np.uint8:
            raise UsageError("a frame must be an HxW or HxWxC uint8 image")
        spec = self.spec
        if out is None:
            out = self.new_output()
        elif out.shape != spec.shape or out.dtype != spec.dtype or not out.flags.c_contiguous:
            raise ValueError(f"out must be a contiguous {spec.dtype} array of shape {spec.shape}")
        h, w = frame.shape[:2]
        box = self._boxes.get((h, w))
        if box is None:
            box = self._boxes[(h, w)] = central_crop_box(h, w, self.crop, self._aspect)
        y0, y1, x0, x1 = box
        channels = 1 if frame.ndim == 2 else frame.shape[2]
        resized = self._resized.get(channels)
        if resized is None:
            resized = self._resized[channels] = np.empty((spec.height, spec.width, channels)[: 2 if channels == 1 else 3], np.uint8)
        # Slicing is a view; resize reads only the cropped pixels.
        cv2.resize(frame[y0:y1, x0:x1], self._size, dst=resized, interpolation=cv2.INTER_LINEAR)
        code = _COLOUR.get((channels, spec.channels), -1)
        if code == -1:
            raise UsageError(f"a frame must have 1, 3 or 4 channels, not {channels}")
        if code is None:
            image = resized
        else:
            image = cv2.cvtColor(resized, code, dst=self._colour)
        target = out.reshape(image.shape)  # a view: out is contiguous
        if spec.dtype == "float32":
            np.take(self._lut, image, out=target)
        else:
            cv2.LUT(image, self._lut, dst=target.view(np.uint8))
        return out


def quantize(values: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    """Real values -> integer tensor values (round to nearest, clip to the dtype range)."""
    info = np.iinfo(dtype)
    return np.clip(np.round(np.asarray(values, np.float64) / scale + zero_point), info.min, info.max).astype(dtype)


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Integer tensor values -> real values."""
    return (np.asarray(values, np.float32) - np.float32(zero_point)) * np.float32(scale)
