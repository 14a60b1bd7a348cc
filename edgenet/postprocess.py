"""Scores -> top-k labels, with optional smoothing over frames and a score threshold."""

from __future__ import annotations

import numpy as np

from edgenet.errors import UsageError


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first; ties go to the lower index, as argmax does.

    Quantized outputs tie often (256 levels); an unstable order would make accuracy depend on luck.
    """
    return np.argsort(-scores, kind="stable")[:k]


class TopK:
    """Per-frame postprocessing.

    ``smoothing`` in [0, 1): weight of the past in an exponential moving average of the scores
    (0 = no smoothing; 0.7 steadies a flickering live label). Labels scoring below ``threshold`` are
    not reported.
    """

    def __init__(self, labels: list[str], k: int = 5, smoothing: float = 0.0, threshold: float = 0.0):
        if k < 1:
            raise UsageError(f"top-k must be at least 1, got {k}")
        if not 0.0 <= smoothing < 1.0:
            raise UsageError(f"smoothing must be in [0, 1), got {smoothing}")
        if not 0.0 <= threshold <= 1.0:
            raise UsageError(f"threshold must be in [0, 1], got {threshold}")
        self.labels, self.k, self.smoothing, self.threshold = labels, k, smoothing, threshold
        self._ema: np.ndarray | None = None

    def __call__(self, scores: np.ndarray) -> list[dict]:
        if self.smoothing:
            if self._ema is None:
                self._ema = scores.astype(np.float32, copy=True)
            else:
                self._ema *= self.smoothing
                self._ema += (1.0 - self.smoothing) * scores
            scores = self._ema
        out = []
        for i in top_k(scores, self.k):
            score = float(scores[i])
            if score < self.threshold:
                break
            out.append({"index": int(i), "label": self.labels[i], "score": round(score, 4)})
        return out
