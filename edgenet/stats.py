"""Timing statistics: median and percentiles of nanosecond samples, with outlier removal."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    count: int
    mean_ms: float
    median_ms: float
    p90_ms: float
    p99_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    outliers: int = 0

    @property
    def fps(self) -> float:
        """Frames per second from the median (robust to the odd slow run)."""
        return 1000.0 / self.median_ms if self.median_ms > 0 else float("inf")

    def as_dict(self) -> dict:
        d = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        d["fps"] = round(self.fps, 2)
        return d


def remove_outliers(samples_ms: np.ndarray, k: float = 1.5) -> tuple[np.ndarray, int]:
    """Drop samples above Q3 + k*IQR (Tukey's fence, as benchmark tools do for slow outliers).

    Only the slow side is cut: a run cannot be faster than the machine, but it can be slowed down
    by anything else on it.
    """
    x = np.asarray(samples_ms, dtype=np.float64)
    if x.size < 4:
        return x, 0
    q1, q3 = np.percentile(x, [25, 75])
    fence = q3 + k * (q3 - q1)
    kept = x[x <= fence]
    return kept, int(x.size - kept.size)


def summarize(samples_ns, drop_outliers: bool = False) -> Summary:
    """Summary of nanosecond samples (from perf_counter_ns), in milliseconds."""
    x = np.asarray(list(samples_ns), dtype=np.float64) / 1e6
    if x.size == 0:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, nan, nan, nan)
    removed = 0
    if drop_outliers:
        x, removed = remove_outliers(x)
    p50, p90, p99 = np.percentile(x, [50, 90, 99])
    return Summary(int(x.size), float(x.mean()), float(p50), float(p90), float(p99), float(x.std()),
                   float(x.min()), float(x.max()), removed)
