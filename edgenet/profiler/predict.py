"""Predict latency from mult-adds: fit ``latency = a + b * mult_adds`` on a few measured variants.

MobileNet V1's cost is almost all in 1x1 and depthwise convolutions, so on one CPU, one runtime and
one precision its latency is close to linear in mult-adds plus a fixed per-invoke overhead; a
least-squares line through three well-spread variants predicts the other thirteen within tens of
percent, which is enough to decide what to measure first. Predictions are reported beside the
measurements so the error is visible, not assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from edgenet.cost import mobilenet_v1_cost
from edgenet.errors import EdgenetError
from edgenet.variants import Variant


def mult_adds(variant: Variant | None, classes: int = 1000) -> int | None:
    """Mult-adds of a variant from the cost model (None for a model of unknown variant)."""
    if variant is None:
        return None
    try:
        return int(mobilenet_v1_cost(variant.alpha, variant.resolution, classes=classes).mult_adds)
    except EdgenetError:  # a shape the cost model rejects: measured, just not predicted
        return None


@dataclass(frozen=True)
class LatencyFit:
    intercept_ms: float
    ms_per_gmac: float  # milliseconds per 10^9 mult-adds
    points: int
    r2: float | None  # on the fitting points; None with fewer than 3

    def predict_ms(self, macs: int) -> float:
        # A fit through noisy points can have a negative intercept; latency cannot be below zero.
        return max(self.intercept_ms + self.ms_per_gmac * macs / 1e9, 1e-3)

    def as_dict(self) -> dict:
        return {"intercept_ms": round(self.intercept_ms, 4), "ms_per_gmac": round(self.ms_per_gmac, 4),
                "points": self.points, "r2": None if self.r2 is None else round(self.r2, 4)}


def fit_latency(points: Sequence[tuple[int, float]]) -> LatencyFit | None:
    """Least-squares line through (mult_adds, median_ms) points; None without any point."""
    if not points:
        return None
    x = np.array([p[0] for p in points], dtype=np.float64) / 1e9
    y = np.array([p[1] for p in points], dtype=np.float64)
    if len(points) == 1 or np.ptp(x) == 0:
        # One cost level: latency proportional to mult-adds through the origin is the best guess.
        slope = float(y.mean() / x.mean()) if x.mean() > 0 else 0.0
        return LatencyFit(0.0, slope, len(points), None)
    slope, intercept = np.polyfit(x, y, 1)
    r2 = None
    if len(points) >= 3:
        residual = y - (intercept + slope * x)
        total = float(((y - y.mean()) ** 2).sum())
        r2 = 1.0 - float((residual ** 2).sum()) / total if total > 0 else 1.0
    return LatencyFit(float(intercept), float(slope), len(points), r2)


def pick_seeds(costs: Sequence[int], count: int = 3) -> list[int]:
    """Indices of ``count`` entries spread evenly over the cost range (cheapest and dearest included).

    The line must span the range it predicts: extrapolating from three small variants to 1.0/224
    is how a 20 % error becomes 60 %.
    """
    if count <= 0 or not costs:
        return []
    order = sorted(range(len(costs)), key=lambda i: costs[i])
    if count >= len(order):
        return order
    if count == 1:
        return [order[len(order) // 2]]
    picks = []
    for k in range(count):
        i = order[round(k * (len(order) - 1) / (count - 1))]
        if i not in picks:
            picks.append(i)
    return picks
