"""MobileNet V1 cost model: shapes, mult-adds and parameters, layer by layer (pure Python).

The body is the paper's Table 1: a standard 3x3/s2 conv to 32 channels, 13 depthwise-separable
blocks (3x3 depthwise + 1x1 pointwise) up to 1024 channels, global average pooling and a 1000-way
fully connected layer. Width multiplier alpha thins every layer to ``int(channels * alpha)`` (as
Keras and TF-slim do); the input resolution sets every feature map (``ceil(size / stride)``, 'same'
padding).

Counting, as in the paper:
- mult-adds: standard conv Dk*Dk*M*N*Df*Df; depthwise Dk*Dk*M*Df*Df; pointwise M*N*Df*Df; FC M*N;
  pooling and BatchNorm are not counted;
- parameters: conv and depthwise kernels have no bias (a BatchNorm follows each); the FC has a bias.
  BatchNorm's scale/offset (and moving statistics) are left out, as the paper does. A Keras model
  of the same network has exactly these parameters plus 4 per BatchNorm channel (see
  ``batchnorm_params``).

This reproduces the paper: 1.0/224 = 569 M mult-adds and 4.21 M parameters; alpha 0.75/0.5/0.25 =
325/149/41 M (Table 6); 192/160/128 px = 418/291/186 M (Table 7 prints 290 for 160 px: 290.7 M
truncated). TF-slim's table lists 317 M for alpha 0.75: that is this count *without* the first
standard conv (325.4 - 8.1 = 317.3 M), while slim's other rows (569, 150, 41) include it, so slim's
0.75 rows are the odd ones out (all four are 2.5 % low, the first conv's share). Slim's 0.25_192 row
(34 M) breaks the resolution-squared scaling of its own neighbours (41 x (192/224)^2 = 30.1 M; this
count: 30.2 M) and looks like a typo. The full-convolution MobileNet of Table 4 (every separable block a
standard 3x3 conv) is 4867 M / 29.3 M (paper: 4866 M / 29.3 M).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from math import ceil

from edgenet.variants import Variant

# (stride of the depthwise conv, pointwise output channels) for the 13 separable blocks.
BLOCKS = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512)] + [(1, 512)] * 5 + [(2, 1024), (1, 1024)]
FIRST_CHANNELS = 32
KERNEL = 3
TYPES = ("conv3x3", "depthwise3x3", "pointwise1x1", "fc")


@dataclass(frozen=True)
class LayerCost:
    name: str
    type: str  # one of TYPES, or "avgpool"
    stride: int
    input_shape: tuple[int, int, int]  # H, W, C
    output_shape: tuple[int, int, int]
    mult_adds: int
    params: int
    # for depthwise-separable blocks: their cost relative to a standard 3x3 conv, 1/N + 1/Dk^2
    separable_ratio: float | None = None


@dataclass(frozen=True)
class NetworkCost:
    alpha: float
    resolution: int
    classes: int
    layers: tuple[LayerCost, ...]
    full_convolution: bool = False
    totals_by_type: dict = field(default_factory=dict)

    @property
    def mult_adds(self) -> int:
        return sum(layer.mult_adds for layer in self.layers)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    def share(self, layer_type: str) -> tuple[float, float]:
        """(fraction of mult-adds, fraction of parameters) in layers of one type (paper Table 2)."""
        ma = sum(layer.mult_adds for layer in self.layers if layer.type == layer_type)
        pa = sum(layer.params for layer in self.layers if layer.type == layer_type)
        return ma / self.mult_adds, pa / self.params

    def batchnorm_params(self) -> int:
        """Parameters BatchNorm adds in Keras (gamma, beta, moving mean, moving variance)."""
        return sum(4 * layer.output_shape[2] for layer in self.layers if layer.type in ("conv3x3", "depthwise3x3", "pointwise1x1"))

    def as_dict(self) -> dict:
        return {
            "alpha": self.alpha,
            "resolution": self.resolution,
            "classes": self.classes,
            "full_convolution": self.full_convolution,
            "mult_adds": self.mult_adds,
            "params": self.params,
            "by_type": {t: dict(zip(("mult_adds_share", "params_share"), self.share(t))) for t in TYPES
                        if any(layer.type == t for layer in self.layers)},
            "layers": [asdict(layer) for layer in self.layers],
        }


def thin(channels: int, alpha: float) -> int:
    return max(1, int(channels * alpha))


def mobilenet_v1_cost(alpha: float, resolution: int, classes: int = 1000, full_convolution: bool = False) -> NetworkCost:
    """Layer-by-layer cost of MobileNet V1 at width ``alpha`` and input ``resolution``.

    ``full_convolution=True`` replaces every depthwise-separable block by a standard 3x3 conv with the
    same channels and stride (the paper's Table 4 baseline).
    """
    Variant(alpha, resolution)  # validates alpha and resolution with the project's one rule
    if classes < 1:
        raise ValueError(f"classes must be at least 1, got {classes}")
    layers: list[LayerCost] = []
    size = ceil(resolution / 2)
    channels = thin(FIRST_CHANNELS, alpha)
    layers.append(LayerCost("conv1", "conv3x3", 2, (resolution, resolution, 3), (size, size, channels),
                            KERNEL * KERNEL * 3 * channels * size * size, KERNEL * KERNEL * 3 * channels))
    for i, (stride, out_channels) in enumerate(BLOCKS, start=1):
        in_size, size = size, ceil(size / stride)
        n = thin(out_channels, alpha)
        m = channels
        if full_convolution:
            layers.append(LayerCost(f"conv{i + 1}", "conv3x3", stride, (in_size, in_size, m), (size, size, n),
                                    KERNEL * KERNEL * m * n * size * size, KERNEL * KERNEL * m * n))
        else:
            ratio = 1 / n + 1 / (KERNEL * KERNEL)
            layers.append(LayerCost(f"block{i}_dw", "depthwise3x3", stride, (in_size, in_size, m), (size, size, m),
                                    KERNEL * KERNEL * m * size * size, KERNEL * KERNEL * m, ratio))
            layers.append(LayerCost(f"block{i}_pw", "pointwise1x1", 1, (size, size, m), (size, size, n),
                                    m * n * size * size, m * n, ratio))
        channels = n
    layers.append(LayerCost("avgpool", "avgpool", size, (size, size, channels), (1, 1, channels), 0, 0))
    layers.append(LayerCost("fc", "fc", 1, (1, 1, channels), (1, 1, classes), channels * classes, channels * classes + classes))
    return NetworkCost(alpha, resolution, classes, tuple(layers), full_convolution)
