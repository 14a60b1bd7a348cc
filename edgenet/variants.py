"""MobileNet V1 variant names and the published ImageNet numbers of the 16 standard variants.

A variant is a width multiplier alpha and an input resolution. Its name is filename-safe and
encodes both, timm-style: ``mobilenet_v1_050_160`` is alpha 0.50 at 160x160. Parsing is strict:
something that looks like a path or a file is not guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edgenet.errors import UsageError

STANDARD_ALPHAS = (1.0, 0.75, 0.5, 0.25)
STANDARD_RESOLUTIONS = (224, 192, 160, 128)
PRECISIONS = ("int8", "float32")  # what edgenet builds: full int8, or float32

_NAME = re.compile(r"^mobilenet_v1_(\d{3})_(\d{2,4})$")


@dataclass(frozen=True, order=True)
class Variant:
    alpha: float
    resolution: int

    def __post_init__(self) -> None:
        if not (0.0 < self.alpha <= 1.0):
            raise UsageError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.resolution < 32 or self.resolution % 8:
            raise UsageError(
                f"resolution must be a multiple of 8 and at least 32, got {self.resolution}"
            )
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
    """ImageNet numbers from the TF-slim MobileNet V1 table (single centre crop)."""

    million_macs: int
    million_params: float
    top1_float: float
    top5_float: float
    top1_quant: float
    top5_quant: float


# TF-slim research/slim/nets/mobilenet_v1.md, 2018_02_22 checkpoints; "quant" = quantization-aware
# trained, run as 8-bit TFLite. Note the slim MACs for alpha 0.75 (317) differ from the paper's
# Table 6 (325), and slim's 0.25_192 row (34) looks like a typo: see edgenet.cost.
PUBLISHED: dict[tuple[float, int], Published] = {
    (1.0, 224): Published(569, 4.24, 70.9, 89.9, 69.7, 89.5),
    (1.0, 192): Published(418, 4.24, 70.0, 89.2, 69.0, 88.9),
    (1.0, 160): Published(291, 4.24, 68.0, 87.7, 67.3, 87.7),
    (1.0, 128): Published(186, 4.24, 65.2, 85.8, 64.0, 85.5),
    (0.75, 224): Published(317, 2.59, 68.4, 88.2, 67.9, 88.1),
    (0.75, 192): Published(233, 2.59, 67.2, 87.3, 66.2, 87.1),
    (0.75, 160): Published(162, 2.59, 65.3, 86.0, 63.9, 85.5),
    (0.75, 128): Published(104, 2.59, 62.1, 83.9, 59.8, 82.8),
    (0.5, 224): Published(150, 1.34, 63.3, 84.9, 62.2, 84.5),
    (0.5, 192): Published(110, 1.34, 61.7, 83.6, 60.4, 83.2),
    (0.5, 160): Published(77, 1.34, 59.1, 81.9, 57.7, 81.3),
    (0.5, 128): Published(49, 1.34, 56.3, 79.4, 54.9, 78.9),
    (0.25, 224): Published(41, 0.47, 49.8, 74.2, 48.2, 73.8),
    (0.25, 192): Published(34, 0.47, 47.7, 72.3, 45.8, 71.9),
    (0.25, 160): Published(21, 0.47, 45.5, 70.3, 43.5, 69.1),
    (0.25, 128): Published(14, 0.47, 41.5, 66.3, 39.9, 65.8),
}
