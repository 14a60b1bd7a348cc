"""Capture in its own thread, so reading (and preprocessing) the next frame overlaps inference.

Two delivery modes:
- latest-only, for live cameras (and ``--realtime`` files): one slot, overwritten by each new frame,
  so latency never grows when inference is slower than the camera; overwritten frames are counted
  as dropped;
- every frame, for files and folders: a small bounded queue; the reader waits for the consumer.

Both are one deque behind one Condition: a thread waits only when it must (the consumer on an
empty slot, the reader on a full queue; never both), and it is woken once, by the other side's
change. With ``buffers``, the transform writes each frame's tensor into a recycled array: a frame's
tensor is the consumer's until its next ``get()``, a dropped frame's at once, so the steady state
allocates nothing.

With ``consumer_transform`` (the same transform, its own instance for the consumer's thread), a frame
can be handed over as it is read, and ``get()`` makes its tensor in the consumer's thread. The work
goes to the side that has time for it: when reading is the slower stage, the consumer (idle anyway)
preprocesses and the reader only reads; when the consumer is the slower stage, it never waits and
the reader preprocesses every frame. Near balance the share is regulated by two moving averages: a
frame is handed over while the consumer's average wait per frame exceeds a quarter of what the transform
costs it (it costs more there: the frame was decoded in the other core's cache); a consumer handed
too many stops waiting and is handed fewer, so it does not become the slower side.

A live source that fails (read error, device unplugged) does not end the run: the thread closes it,
says so once, and reopens it with exponential backoff until it is back or the run stops.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from edgenet.errors import EdgenetError, SourceError, SourceLost
from edgenet.sources import FrameSource


IDLE_WEIGHT = 0.1  # weight of the newest sample in the consumer's moving averages (~10 frames)
HAND_OVER_SHARE = 0.25  # transforms go to a consumer waiting, on average, more than a quarter of one


class EndOfStream(Exception):
    """The source has no more frames (a file or folder ended)."""


class FrameTimeout(Exception):
    """No frame arrived within the timeout (a live source may be reconnecting)."""


@dataclass
class Frame:
    index: int  # position in the source's sequence (gaps = dropped frames)
    image: np.ndarray  # BGR as captured
    tensor: np.ndarray | None  # model input, when a transform was given (with buffers: until the next get())
    captured_ns: int  # perf_counter_ns when read() returned
    transform_ns: int  # time spent in the transform (preprocessing)
    by_consumer: bool = False  # the transform ran in the consumer's thread, inside get()


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
        transform: Callable[..., np.ndarray] | None = None,
        buffers: Callable[[], np.ndarray] | None = None,
        consumer_transform: Callable[..., np.ndarray] | None = None,
        latest_only: bool | None = None,
        pace_fps: float | None = None,
        queue_size: int = 4,
        backoff: Backoff = Backoff(),
        log: Callable[[str], None] = lambda message: None,
    ):
        """``transform(image)`` makes a frame's tensor; with ``buffers`` (a maker of one tensor array)
        it is called as ``transform(image, out)`` and fills a recycled array instead.
        ``consumer_transform`` does the same in the consumer's thread while the consumer has time for it."""
        if consumer_transform is not None and transform is None:
            raise ValueError("consumer_transform needs transform")
        self.source = source
        self.reopen = reopen
        self.transform = transform
        self.buffers = buffers
        self.consumer_transform = consumer_transform
        self.latest_only = source.live if latest_only is None else latest_only
        self.pace_fps = pace_fps
        self.backoff = backoff
        self.log = log
        self.dropped = 0
        self.captured = 0
        self.outages = 0
        self.outage_seconds = 0.0
        self.error: BaseException | None = None
        self._depth = 1 if self.latest_only else max(1, queue_size)
        self._frames: deque[Frame] = deque()
        self._changed = threading.Condition(threading.Lock())  # frames, _ended, _held
        self._held: Frame | None = None  # the consumer's frame: its tensor buffer is in use
        # Moving averages (ns) of the consumer's wait per get() and of a transform in its thread; the
        # reader hands a frame over only while the first exceeds a quarter of the second (_hand_over).
        self._idle_ns = 0.0
        self._steal_cost_ns = 0.0
        self._free: list[np.ndarray] = []  # tensor buffers to reuse
        self._ended = False
        self._last_frame: float | None = None  # perf_counter of the last frame read
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edgenet-capture", daemon=True)

    # -- consumer side ---------------------------------------------------------------------------
    def start(self) -> "Capture":
        self._thread.start()
        return self

    def get(self, timeout: float | None = None) -> Frame:
        """The next frame; raises EndOfStream at the end, FrameTimeout if none came in time, or the
        error that stopped the capture thread. With buffers, the previous frame's tensor is reused."""
        with self._changed:
            if self._held is not None:
                self._recycle(self._held)
                self._held = None
            waited = 0
            if not self._frames and not self._ended:
                started = time.perf_counter_ns()
                if not self._changed.wait_for(lambda: self._frames or self._ended, timeout):
                    raise FrameTimeout()
                waited = time.perf_counter_ns() - started
            self._idle_ns += (waited - self._idle_ns) * IDLE_WEIGHT
            if not self._frames:
                self._raise_end()
            frame = self._frames.popleft()
            if len(self._frames) == self._depth - 1:
                self._changed.notify()  # a reader waiting for room (a no-op when none waits)
            self._held = frame
        if frame.tensor is None and self.consumer_transform is not None:
            started = time.perf_counter_ns()  # handed over as read: the tensor is made here
            try:
                frame.tensor = self._make_tensor(frame.image, self.consumer_transform)
            except EdgenetError:
                raise
            except Exception as exc:  # one line, as when the capture thread's transform fails
                raise SourceError(f"capture failed: {type(exc).__name__}: {exc}") from None
            frame.transform_ns = time.perf_counter_ns() - started
            frame.by_consumer = True
            if self._steal_cost_ns:
                self._steal_cost_ns += (frame.transform_ns - self._steal_cost_ns) * IDLE_WEIGHT
            else:
                self._steal_cost_ns = float(frame.transform_ns)  # the first: no average to move yet
        return frame

    def _raise_end(self):
        if self.error is not None:
            raise self.error
        raise EndOfStream()

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            self._ended = True
            self._frames.clear()
            self._changed.notify_all()  # a reader waiting for room
        self._thread.join(timeout=5)
        if self.source is not None:
            self.source.close()

    def __enter__(self) -> "Capture":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- producer side ---------------------------------------------------------------------------
    def _recycle(self, frame: Frame) -> None:
        if self.buffers is not None and frame.tensor is not None:
            self._free.append(frame.tensor)

    def _deliver(self, frame: Frame) -> None:
        with self._changed:
            if self.latest_only:
                if self._frames:
                    self.dropped += 1
                    self._recycle(self._frames.popleft())
            else:
                while len(self._frames) >= self._depth and not self._stop.is_set():
                    self._changed.wait()  # get() or stop() makes room
                if self._stop.is_set():
                    return
            self._frames.append(frame)
            self._changed.notify()  # the consumer, if it waits (a no-op when none waits)

    def _end(self) -> None:
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def _hand_over(self) -> bool:
        """Leave this frame's transform to the consumer? Yes while its average wait per frame exceeds
        a quarter of what a transform costs it: it has the time, and this thread, the slower side, reads
        sooner. The averages regulate the share: a consumer handed too many frames stops waiting and
        gets fewer. (Handing over only to a consumer waiting at that instant, as before, left the
        transform here for frames that ended while it was still in invoke, then it waited for them:
        balanced loops lost about a tenth of their rate.)"""
        return self.consumer_transform is not None and self._idle_ns > self._steal_cost_ns * HAND_OVER_SHARE

    def _make_tensor(self, image: np.ndarray, transform: Callable[..., np.ndarray]) -> np.ndarray:
        if self.buffers is None:
            return transform(image)
        try:
            out = self._free.pop()  # a buffer is listed only while nobody uses it
        except IndexError:
            out = self.buffers()  # the pool grows to what is in flight, then stays
        return transform(image, out)

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
                # A consumer with time to spare makes the tensor (see get() and _hand_over()).
                if self.transform is not None and not self._hand_over():
                    tensor = self._make_tensor(image, self.transform)
                    spent = time.perf_counter_ns() - captured
                self._deliver(Frame(index, image, tensor, captured, spent))
                self._last_frame = time.perf_counter()
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
        # The outage began with the last frame: a stalled source is noticed only after its silence,
        # and give_up_after counts that silence too, as for a source that closed at once.
        started = self._last_frame if self._last_frame is not None else time.perf_counter()
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
