"""Scores -> top-k labels, with optional smoothing over frames and a score threshold.

The live loop picks from the model's raw output (:meth:`TopK.pick`): for a quantized output the
order is the raw integers' (dequantizing is monotonic), and only the k picked values are turned into
scores, from a 256-entry table made once. A small k is picked by k argmax passes (argmax gives the
lowest index of the best, so ties come out as a stable sort orders them), a larger one by NumPy's
radix sort of the 8-bit values.
What it returns (:class:`Picked`) makes label dicts only when something reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from edgenet.errors import UsageError
from edgenet.preprocess import dequantize

if TYPE_CHECKING:
    from edgenet.runtime import OutputSpec

SCORE_DIGITS = 4  # reported scores are rounded to this many decimals
ARGMAX_PASSES = 8  # up to this k, TopK.pick takes k argmax passes; above, one radix sort


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first; ties go to the lower index, as argmax does.

    Quantized outputs tie often (256 levels); an unstable order would make accuracy depend on luck.
    Only the k best are sorted: a partition finds the k-th best score, every score above it is in,
    and the ties at it are filled lowest index first (what the full stable sort gives; for 1001
    float scores ~1.7x faster than sorting them all). NaN scores sort last, as in the full sort.
    """
    neg = -scores
    if k >= neg.size:
        return np.argsort(neg, kind="stable")[:k]
    kth = np.partition(neg, k - 1)[k - 1]
    above = np.flatnonzero(neg < kth)
    chosen = np.concatenate((above, np.flatnonzero(neg == kth)[: k - above.size]))
    if chosen.size < k:  # the k-th "best" is NaN (NaN equals nothing): the full sort orders those
        return np.argsort(neg, kind="stable")[:k]
    return chosen[np.lexsort((chosen, neg[chosen]))]


class Picked:
    """One frame's top-k, best first: class ``indices`` and ``scores`` (rounded to SCORE_DIGITS).

    ``as_dicts()`` gives ``[{"index", "label", "score"}, ...]``, made on the first call only.
    """

    __slots__ = ("indices", "scores", "labels", "_dicts")

    def __init__(self, indices: list[int], scores: list[float], labels: list[str]):
        self.indices, self.scores, self.labels = indices, scores, labels
        self._dicts: list[dict] | None = None

    def as_dicts(self) -> list[dict]:
        if self._dicts is None:
            names = self.labels
            self._dicts = [{"index": i, "label": names[i], "score": s} for i, s in zip(self.indices, self.scores)]
        return self._dicts

    def __len__(self) -> int:
        return len(self.indices)


class TopK:
    """Per-frame postprocessing.

    ``smoothing`` in [0, 1): weight of the past in an exponential moving average of the scores
    (0 = no smoothing; 0.7 steadies a flickering live label). Labels scoring below ``threshold`` are
    not reported. ``output`` (the model's output spec) lets :meth:`pick` work on raw outputs.
    """

    def __init__(self, labels: list[str], k: int = 5, smoothing: float = 0.0, threshold: float = 0.0,
                 output: "OutputSpec | None" = None):
        if k < 1:
            raise UsageError(f"top-k must be at least 1, got {k}")
        if not 0.0 <= smoothing < 1.0:
            raise UsageError(f"smoothing must be in [0, 1), got {smoothing}")
        if not 0.0 <= threshold <= 1.0:
            raise UsageError(f"threshold must be in [0, 1], got {threshold}")
        self.labels, self.k, self.smoothing, self.threshold = labels, k, smoothing, threshold
        self.output = output
        self._ema: np.ndarray | None = None
        self._table: list[float] | None = None  # raw value - low -> score, for 8-bit outputs
        self._rounded: list[float] = []
        self._low = 0
        if output is not None and output.dtype in ("uint8", "int8") and not smoothing:
            info = np.iinfo(output.dtype)
            values = dequantize(np.arange(info.min, info.max + 1), output.scale, output.zero_point)
            if np.all(np.diff(values) > 0):  # strictly increasing: the raw order is the scores' order
                self._table = values.tolist()
                self._rounded = [round(v, SCORE_DIGITS) for v in self._table]
                self._low = int(info.min)

    def scores(self, raw: np.ndarray) -> np.ndarray:
        """The model's raw output as float32 scores (dequantized when ``output`` is quantized)."""
        spec = self.output
        if spec is None or spec.dtype == "float32":
            return raw.astype(np.float32, copy=False)
        return dequantize(raw, spec.scale, spec.zero_point)

    def pick(self, raw: np.ndarray) -> Picked:
        """The top-k of the model's raw output (1-D), as ``__call__`` would give for its scores."""
        table = self._table
        if table is None:
            return self._pick_scores(self.scores(raw))
        low, threshold, rounded = self._low, self.threshold, self._rounded
        if self.k <= ARGMAX_PASSES and self.k < raw.size:
            # Measured in the live loop (cold caches after invoke): ~half the time of the radix sort.
            # A picked class drops below every 8-bit value, so the next argmax finds the next best.
            work = raw.astype(np.int16)
            indices, scores = [], []
            for _ in range(self.k):
                i = int(work.argmax())
                v = int(work[i]) - low
                if table[v] < threshold:
                    break
                indices.append(i)
                scores.append(rounded[v])
                work[i] = low - 1
            return Picked(indices, scores, self.labels)
        # ~x reverses the order of uint8 and of int8 alike; a stable sort keeps ties lowest index first.
        order = np.argsort(~raw, kind="stable")[: self.k]
        indices, values = order.tolist(), raw[order].tolist()
        scores = []
        for n, v in enumerate(values):
            if table[v - low] < threshold:
                del indices[n:]
                break
            scores.append(rounded[v - low])
        return Picked(indices, scores, self.labels)

    def _pick_scores(self, scores: np.ndarray) -> Picked:
        if self.smoothing:
            if self._ema is None:
                self._ema = scores.astype(np.float32, copy=True)
            else:
                self._ema *= self.smoothing
                self._ema += (1.0 - self.smoothing) * scores
            scores = self._ema
        indices, values = [], []
        for i in top_k(scores, self.k).tolist():
            score = float(scores[i])
            if score < self.threshold:
                break
            indices.append(i)
            values.append(round(score, SCORE_DIGITS))
        return Picked(indices, values, self.labels)

    def __call__(self, scores: np.ndarray) -> list[dict]:
        """Top-k of float ``scores`` as ``[{"index", "label", "score"}, ...]``, best first."""
        return self._pick_scores(scores).as_dicts()
