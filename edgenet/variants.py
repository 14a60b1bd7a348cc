"""MobileNet V1 variant names and the published ImageNet numbers of the 16 standard variants.

A variant is a width multiplier alpha and an input resolution. Its name is filename-safe and
encodes both, timm-style: ``mobilenet_v1_050_160`` is alpha 0.50 at 160x160. Parsing is strict:
something that looks like a path or a file is not guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgenet.errors import UsageError
from edgenet.limits import MAX_RESOLUTION

STANDARD_ALPHAS = (1.0, 0.75, 0.5, 0.25)
STANDARD_RESOLUTIONS = (224, 192, 160, 128)
PRECISIONS = ("int8", "float32")  # what edgenet builds: full int8, or float32

_NAME = re.compile(r"^mobilenet_v1_(\d{3})_(\d{2,4})$")


def check_resolution(resolution: int) -> int:
    """The one resolution rule (UsageError if broken): a multiple of 8, 32 .. MAX_RESOLUTION."""
    if not 32 <= resolution <= MAX_RESOLUTION or resolution % 8:
        raise UsageError(f"resolution must be a multiple of 8 from 32 to {MAX_RESOLUTION}, got {resolution}")
    return resolution


@dataclass(frozen=True, order=True)
class Variant:
    alpha: float
    resolution: int

    def __post_init__(self) -> None:
        if not (0.0 < self.alpha <= 1.0):
            raise UsageError(f"alpha must be in (0, 1], got {self.alpha}")
        check_resolution(self.resolution)
        if round(self.alpha * 100) != self.alpha * 100:
            raise UsageError(f"alpha {self.alpha} has more than two decimals; use e.g. 0.35")

    @property
    def name(self) -> str:
        return f"mobilenet_v1_{round(self.alpha * 100):03d}_{self.resolution}"

    def model_filename(self, precision: str = "int8") -> str:
        """The file name edgenet gives this variant's .tflite: ``mobilenet_v1_050_160_int8.tflite``
        (int8 or uint8 I/O alike) or ``..._float.tflite``; grid folders and caches use it."""
        if precision not in PRECISIONS:
            raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        return f"{self.name}_{'int8' if precision == 'int8' else 'float'}.tflite"

    @property
    def is_standard(self) -> bool:
        return self.alpha in STANDARD_ALPHAS and self.resolution in STANDARD_RESOLUTIONS

    @property
    def published(self) -> "Published | None":
        return PUBLISHED.get((self.alpha, self.resolution))

    def __str__(self) -> str:
        return self.name


def parse_variant(name: str) -> Variant:
    """Parse ``mobilenet_v1_050_160`` (also accepts a trailing ``.tflite``/``_int8`` free name only)."""
    m = _NAME.match(name)
    if not m:
        raise UsageError(
            f"{name!r} is not a variant name; expected e.g. mobilenet_v1_050_160 (alpha 0.50, 160 px)"
        )
    return Variant(int(m.group(1)) / 100, int(m.group(2)))


def variant_from_model_name(filename: str) -> Variant | None:
    """Best-effort: the variant a model file's stem encodes, or None.

    Recognises edgenet's own names (``mobilenet_v1_050_160_int8.tflite``) and the official
    hosted names (``mobilenet_v1_0.5_160_quant.tflite``). Anything else is None, not a guess.
    """
    import os

    stem = os.path.basename(filename)
    m = re.match(r"^mobilenet_v1_(\d{3})_(\d{2,4})(?:_[a-z0-9]+)*(?:\.tflite)?$", stem)
    if m:
        return Variant(int(m.group(1)) / 100, int(m.group(2)))
    m = re.match(r"^mobilenet_v1_([01]\.\d{1,2})_(\d{2,4})(?:_[a-z0-9]+)*(?:\.tflite)?$", stem)
    if m:
        return Variant(float(m.group(1)), int(m.group(2)))
    return None


def standard_variants() -> list[Variant]:
    """The 16 standard variants, largest first."""
    return [Variant(a, r) for a in STANDARD_ALPHAS for r in STANDARD_RESOLUTIONS]


@dataclass(frozen=True)
class Published:
    """Published numbers of the official models: cost from the TF-slim table, ImageNet accuracy (single
    centre crop, full validation set) from TensorFlow Lite's hosted-model table, measured on the very
    .tflite files the model index serves (``edgenet models``)."""

    million_macs: int
    million_params: float
    top1_float: float
    top5_float: float
    top1_quant: float
    top5_quant: float


# Cost: TF-slim research/slim/nets/mobilenet_v1.md. Note the slim MACs for alpha 0.75 (317) differ from
# the paper's Table 6 (325), and slim's 0.25_192 row (34) looks like a typo: see edgenet.cost.
# Accuracy: TensorFlow Lite's hosted-model table ("List of Hosted Models"): float = the 2018_02_22 float
# .tflite files, quant = the 2018_08_02 quantization-aware trained 8-bit .tflite files (uint8 I/O).
PUBLISHED: dict[tuple[float, int], Published] = {
    (1.0, 224): Published(569, 4.24, 71.0, 89.9, 70.0, 89.0),
    (1.0, 192): Published(418, 4.24, 69.9, 89.1, 69.1, 88.1),
    (1.0, 160): Published(291, 4.24, 68.0, 87.7, 66.9, 86.7),
    (1.0, 128): Published(186, 4.24, 65.2, 85.7, 63.3, 84.1),
    (0.75, 224): Published(317, 2.59, 68.3, 88.1, 66.9, 86.9),
    (0.75, 192): Published(233, 2.59, 67.1, 87.2, 66.1, 86.2),
    (0.75, 160): Published(162, 2.59, 65.2, 85.9, 62.4, 83.7),
    (0.75, 128): Published(104, 2.59, 62.0, 83.8, 55.9, 79.1),
    (0.5, 224): Published(150, 1.34, 63.2, 84.9, 61.2, 83.2),
    (0.5, 192): Published(110, 1.34, 61.7, 83.5, 59.9, 82.1),
    (0.5, 160): Published(77, 1.34, 59.0, 81.8, 57.2, 80.5),
    (0.5, 128): Published(49, 1.34, 56.2, 79.3, 54.9, 78.1),
    (0.25, 224): Published(41, 0.47, 49.7, 74.1, 48.2, 72.8),
    (0.25, 192): Published(34, 0.47, 47.1, 72.0, 45.7, 70.8),
    (0.25, 160): Published(21, 0.47, 45.4, 70.2, 42.8, 68.1),
    (0.25, 128): Published(14, 0.47, 41.4, 66.2, 39.5, 64.4),
}
