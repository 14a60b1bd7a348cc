"""Capture in its own thread, so reading (and preprocessing) the next frame overlaps inference.

Two delivery modes:
- latest-only, for live cameras (and ``--realtime`` files): one slot, overwritten by each new frame,
  so latency never grows when inference is slower than the camera; overwritten frames are counted
  as dropped;
- every frame, for files and folders: a small bounded queue; the reader waits for the consumer.

A live source that fails (read error, device unplugged) does not end the run: the thread closes it,
says so once, and reopens it with exponential backoff until it is back or the run stops.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from edgenet.errors import EdgenetError, SourceError, SourceLost
from edgenet.sources import FrameSource


class EndOfStream(Exception):
    """The source has no more frames (a file or folder ended)."""


class FrameTimeout(Exception):
    """No frame arrived within the timeout (a live source may be reconnecting)."""


@dataclass
class Frame:
    index: int  # position in the source's sequence (gaps = dropped frames)
    image: np.ndarray  # BGR as captured
    tensor: np.ndarray | None  # model input, when a transform was given
    captured_ns: int  # perf_counter_ns when read() returned
    transform_ns: int  # time spent in the transform (preprocessing)


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: ``initial`` doubling up to ``maximum``; ``give_up_after`` None = never."""

    initial: float = 0.1
    maximum: float = 2.0
    give_up_after: float | None = None

    def delays(self):
        delay = self.initial
        while True:
            yield delay
            delay = min(delay * 2, self.maximum)


class Capture:
    """Reads ``source`` in a thread and hands frames to ``get()``."""

    def __init__(
        self,
        source: FrameSource,
        reopen: Callable[[], FrameSource] | None = None,
        *,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        latest_only: bool | None = None,
        pace_fps: float | None = None,
        queue_size: int = 4,
        backoff: Backoff = Backoff(),
        log: Callable[[str], None] = lambda message: None,
    ):
        self.source = source
        self.reopen = reopen
        self.transform = transform
        self.latest_only = source.live if latest_only is None else latest_only
        self.pace_fps = pace_fps
        self.backoff = backoff
        self.log = log
        self.dropped = 0
        self.captured = 0
        self.outages = 0
        self.outage_seconds = 0.0
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        self._slot: Frame | None = None
        self._slot_lock = threading.Condition()
        self._ended = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edgenet-capture", daemon=True)

    # -- consumer side ---------------------------------------------------------------------------
    def start(self) -> "Capture":
        self._thread.start()
        return self

    def get(self, timeout: float | None = None) -> Frame:
        """The next frame; raises EndOfStream at the end, FrameTimeout if none came in time, or the
        error that stopped the capture thread."""
        if self.latest_only:
            with self._slot_lock:
                if not self._slot_lock.wait_for(lambda: self._slot is not None or self._ended, timeout):
                    raise FrameTimeout()
                frame, self._slot = self._slot, None
            if frame is None:
                self._raise_end()
            return frame
        if self._ended and self._queue.empty():
            self._raise_end()
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise FrameTimeout() from None
        if item is None:
            self._ended = True
            self._raise_end()
        return item

    def _raise_end(self):
        if self.error is not None:
            raise self.error
        raise EndOfStream()

    def stop(self) -> None:
        self._stop.set()
        self._ended = True
        # Unblock a reader waiting on a full queue.
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        self._thread.join(timeout=5)
        if self.source is not None:
            self.source.close()

    def __enter__(self) -> "Capture":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- producer side ---------------------------------------------------------------------------
    def _deliver(self, frame: Frame) -> None:
        if self.latest_only:
            with self._slot_lock:
                if self._slot is not None:
                    self.dropped += 1
                self._slot = frame
                self._slot_lock.notify_all()
            return
        self._put(frame)

    def _put(self, item: Frame | None) -> None:
        """Wait for room in the queue, but never past stop()."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _end(self) -> None:
        if self.latest_only:
            with self._slot_lock:
                self._ended = True
                self._slot_lock.notify_all()
        else:
            self._put(None)  # the end marker

    def _run(self) -> None:
        index = 0
        next_due = time.perf_counter()
        try:
            while not self._stop.is_set():
                if self.pace_fps:
                    delay = next_due - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    next_due = max(next_due + 1.0 / self.pace_fps, time.perf_counter() - 1.0)
                try:
                    image = self.source.read()
                except SourceLost as exc:
                    if not self._recover(exc):
                        return
                    continue
                captured = time.perf_counter_ns()
                if image is None:
                    return
                self.captured += 1
                tensor, spent = None, 0
                if self.transform is not None:
                    tensor = self.transform(image)
                    spent = time.perf_counter_ns() - captured
                self._deliver(Frame(index, image, tensor, captured, spent))
                index += 1
        except EdgenetError as exc:
            self.error = exc
        except Exception as exc:  # keep the loop's error one line, but do not lose what happened
            self.error = SourceError(f"capture failed: {type(exc).__name__}: {exc}")
        finally:
            self._end()

    def _recover(self, exc: SourceLost) -> bool:
        """Close the lost source and reopen it with backoff. False if it cannot come back."""
        if self.reopen is None:
            self.error = exc
            return False
        self.outages += 1
        self.log(f"{exc}; reconnecting (retrying with backoff)")
        started = time.perf_counter()
        self.source.close()
        self.source = None
        for delay in self.backoff.delays():
            if self._stop.wait(delay):
                return False
            try:
                self.source = self.reopen()
            except SourceError:
                limit = self.backoff.give_up_after
                if limit is not None and time.perf_counter() - started > limit:
                    self.error = SourceLost(f"{exc}; still gone after {limit:.0f} s, giving up")
                    return False
                continue
            down = time.perf_counter() - started
            self.outage_seconds += down
            self.log(f"source is back after {down:.1f} s")
            return True
        return False  # pragma: no cover - delays() is endless
