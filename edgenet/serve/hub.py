"""The hand-over between the run loop and the viewers.

The loop thread calls ``publish`` once per frame; that only swaps a reference and bumps a sequence
number under a lock nobody holds for long, so the loop never waits on the network or on JPEG.
One encoder thread wakes up only while at least one viewer wants frames, encodes the newest frame
at most ``serve_fps`` times a second, and shares the bytes with every viewer. Each viewer keeps its
own "last sequence sent": a viewer that is slow simply skips to the newest JPEG when it is ready,
so a slow or vanished viewer costs only its own frames.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from edgenet.render import annotate

HISTORY_SECONDS = 60


@dataclass(frozen=True)
class Encoded:
    seq: int  # sequence number of the published frame this JPEG shows
    jpeg: bytes
    width: int
    height: int
    encode_ms: float  # drawing (for raw frames) + JPEG encoding
    number: int  # how many JPEGs the hub had encoded, this one included


class FrameHub:
    """Latest frame + stats from the loop; JPEGs on demand for viewers."""

    def __init__(self, serve_fps: float = 15.0, quality: int = 80):
        if not serve_fps > 0:
            raise ValueError(f"serve_fps must be positive, got {serve_fps}")
        if not 1 <= quality <= 100:
            raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
        self.serve_fps = float(serve_fps)
        self.quality = int(quality)
        self._lock = threading.Lock()
        self._published = threading.Condition(self._lock)  # encoder waits here for frames/demand
        self._encoded_cond = threading.Condition()  # viewers wait here for new JPEGs
        self._frame: np.ndarray | None = None
        self._frame_annotated = True
        self._stats: dict = {}
        self._seq = 0
        self._demand = 0  # viewers + snapshot requests currently waiting for JPEGs
        self._encoded: Encoded | None = None
        self._encodes = 0
        self._stopped = False
        self._thread: threading.Thread | None = None
        # One sample a second, kept in publish because the chart must cover the minute before a
        # viewer opened the page.
        self._history: deque[tuple[float, float, float]] = deque(maxlen=HISTORY_SECONDS)
        self._last_sample = 0.0
        self._infer_sum, self._infer_count = 0.0, 0
        self.model_fps_1s: float | None = None  # 1000 / mean inference ms over the last full second
        self._started = time.monotonic()

    # --- loop side -------------------------------------------------------------------------------
    def publish(self, frame_bgr: np.ndarray, stats: dict, annotated: bool = True) -> None:
        """Hand over the newest frame. The caller must not modify ``frame_bgr`` afterwards.

        ``annotated=False``: the frame is raw and the encoder draws ``stats``' labels and FPS on it,
        so the loop pays nothing for drawing frames that nobody sees.
        """
        now = time.monotonic()
        with self._lock:
            self._frame = frame_bgr
            self._frame_annotated = annotated
            self._stats = stats
            self._seq += 1
            infer_ms = stats.get("infer_ms")
            if infer_ms:
                self._infer_sum += infer_ms
                self._infer_count += 1
            if self._seq == 1:
                self._last_sample = now  # the first frame's FPS is 0 by definition: start sampling after it
            elif now - self._last_sample >= 1.0:
                # One frame's 1000/infer_ms jumps around; the mean over the second does not.
                if self._infer_count:
                    self.model_fps_1s = 1e3 * self._infer_count / self._infer_sum
                self._infer_sum, self._infer_count = 0.0, 0
                self._last_sample = now
                model = self.model_fps_1s if self.model_fps_1s is not None else float(stats.get("model_fps") or 0.0)
                self._history.append((now, float(stats.get("e2e_fps") or 0.0), model))
            if self._demand:
                self._published.notify()

    # --- encoder ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._encode_loop, name="edgenet-serve-encoder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._published.notify_all()
        with self._encoded_cond:
            self._encoded_cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def stopped(self) -> bool:
        return self._stopped

    def _encode_loop(self) -> None:
        interval = 1.0 / self.serve_fps
        next_at = 0.0
        while True:
            with self._lock:
                while not self._stopped and not (self._demand and self._frame is not None and self._seq != self._last_encoded_seq()):
                    self._published.wait()
                if self._stopped:
                    return
            # Rate cap: sleep outside the lock, then take whatever is newest by then.
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            with self._lock:
                if self._stopped:
                    return
                frame, seq, stats, annotated = self._frame, self._seq, self._stats, self._frame_annotated
            t0 = time.perf_counter_ns()
            if not annotated:
                frame = annotate(frame, stats.get("top", []), stats.get("e2e_fps") or 0.0, stats.get("infer_ms") or 0.0)
            ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            encode_ms = (time.perf_counter_ns() - t0) / 1e6
            next_at = time.monotonic() + max(0.0, interval - encode_ms / 1e3)
            if not ok:  # pragma: no cover - imencode fails only on invalid arrays
                continue
            h, w = frame.shape[:2]
            with self._encoded_cond:
                self._encodes += 1
                self._encoded = Encoded(seq, buf.tobytes(), w, h, encode_ms, self._encodes)
                self._encoded_cond.notify_all()

    def _last_encoded_seq(self) -> int:
        encoded = self._encoded
        return encoded.seq if encoded is not None else 0

    # --- viewer side -----------------------------------------------------------------------------
    def add_demand(self) -> None:
        with self._lock:
            self._demand += 1
            self._published.notify()

    def remove_demand(self) -> None:
        with self._lock:
            self._demand -= 1

    @property
    def viewers_waiting(self) -> int:
        return self._demand

    def next_jpeg(self, after_seq: int, timeout: float) -> Encoded | None:
        """The newest JPEG newer than ``after_seq``, waiting up to ``timeout`` s; None on timeout/stop."""
        deadline = time.monotonic() + timeout
        with self._encoded_cond:
            while not self._stopped:
                encoded = self._encoded
                if encoded is not None and encoded.seq > after_seq:
                    return encoded
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._encoded_cond.wait(remaining)
        return None

    def current_seq(self) -> int:
        with self._lock:
            return self._seq

    def snapshot(self) -> tuple[dict, int, list[tuple[float, float, float]]]:
        """(latest stats, published frame count, FPS history) for /stats."""
        with self._lock:
            return dict(self._stats), self._seq, list(self._history)

    @property
    def encodes(self) -> int:
        return self._encodes

    @property
    def last_encoded(self) -> Encoded | None:
        return self._encoded

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._started
