import threading
import time

import cv2
import numpy as np
import pytest

from edgenet.capture import Backoff, Capture, EndOfStream, FrameTimeout
from edgenet.errors import SourceError, SourceLost
from edgenet.sources import FrameSource
from tests.fakes import CameraWorld


class Counter(FrameSource):
    """A finite, non-live source of ``n`` frames."""

    def __init__(self, n):
        self.n, self.i = n, 0

    def read(self):
        if self.i >= self.n:
            return None
        self.i += 1
        return np.full((4, 4, 3), self.i, np.uint8)


def drain(cap, each=lambda frame: None, timeout: float = 2.0) -> list[int]:
    """The index of every frame ``cap`` gives until its source ends; ``each(frame)`` runs while the frame
    is held (its tensor is the frame's until the next get()). The capture is stopped whatever happens."""
    got = []
    try:
        while True:
            frame = cap.get(timeout=timeout)
            each(frame)
            got.append(frame.index)
    except EndOfStream:
        pass
    finally:
        cap.stop()
    return got


def holds_its_tensor(frame) -> None:
    assert frame.tensor.min() == frame.tensor.max() == frame.image[0, 0, 0]


def test_files_deliver_every_frame_in_order_to_a_slow_consumer():
    cap = Capture(Counter(30), transform=lambda img: img.sum(), queue_size=2).start()
    def slowly(frame):
        assert frame.tensor == frame.image.sum()
        time.sleep(0.002)

    got = drain(cap, slowly)
    assert got == list(range(30)) and cap.dropped == 0
    with pytest.raises(EndOfStream):
        cap.get(timeout=1)


def test_live_keeps_only_the_latest_frame():
    world = CameraWorld(fps=500)
    cap = Capture(world.open()).start()
    try:
        first = cap.get(timeout=2)
        time.sleep(0.2)  # the consumer is busy; the camera goes on
        latest = cap.get(timeout=2)
        captured_then = cap.captured
    finally:
        cap.stop()
    assert cap.latest_only
    assert latest.index - first.index > 10  # frames in between were dropped, not queued
    assert cap.dropped >= latest.index - first.index - 2
    assert captured_then - latest.index <= 3  # what we got is (nearly) the newest


def test_lost_camera_reconnects_and_resumes():
    world = CameraWorld(fps=400, unplug_at=20, comes_back_after_attempts=3)
    messages = []
    cap = Capture(world.open(), reopen=world.open, backoff=Backoff(initial=0.01, maximum=0.02), log=messages.append)
    cap.start()
    indexes = []
    try:
        deadline = time.time() + 5
        while len(indexes) < 40 and time.time() < deadline:
            try:
                indexes.append(cap.get(timeout=0.5).index)
            except FrameTimeout:
                continue
    finally:
        cap.stop()
    assert len(indexes) == 40
    assert cap.outages == 1 and world.reopen_attempts == 3
    assert len([m for m in messages if "reconnecting" in m]) == 1  # said once, not per retry
    assert any("back after" in m for m in messages)


def test_lost_camera_gives_up_when_told():
    world = CameraWorld(fps=400, unplug_at=5, comes_back_after_attempts=10**9)
    cap = Capture(world.open(), reopen=world.open, backoff=Backoff(initial=0.01, maximum=0.01, give_up_after=0.1))
    cap.start()
    with pytest.raises(SourceLost, match="giving up"):
        while True:
            try:
                cap.get(timeout=0.5)
            except FrameTimeout:
                continue
    cap.stop()


def test_lost_without_reopen_ends_with_the_error():
    world = CameraWorld(fps=400, unplug_at=3)
    cap = Capture(world.open()).start()
    with pytest.raises(SourceLost, match="device gone"):
        for _ in range(100):
            cap.get(timeout=1)
    cap.stop()


def test_paced_file_drops_like_a_camera():
    cap = Capture(Counter(40), latest_only=True, pace_fps=400).start()
    got = drain(cap, lambda frame: time.sleep(0.01), timeout=1)
    assert cap.dropped > 0 and len(got) + cap.dropped == 40
    assert got == sorted(got)


def _fill(image, out):
    out[...] = image[0, 0, 0]  # the frame's number, in every element of a recycled buffer
    return out


@pytest.mark.parametrize("latest_only", [False, True])
def test_recycled_tensors_are_never_overwritten_while_held(latest_only):
    # The transform writes into recycled buffers; the consumer's frame keeps its own tensor until
    # its next get(), however the two threads interleave, and the pool stays small.
    cap = Capture(Counter(200), transform=_fill, buffers=lambda: np.empty((64, 64), np.uint8),
                  latest_only=latest_only, queue_size=3).start()
    buffers = set()

    def check(frame):
        holds_its_tensor(frame)
        time.sleep(0.0005 * (frame.index % 3))  # a consumer of varying speed
        holds_its_tensor(frame)  # still ours
        buffers.add(id(frame.tensor))

    seen = drain(cap, check)
    assert len(buffers) <= (1 if latest_only else 3) + 2  # slot or queue, the one being filled, the held one
    if latest_only:
        assert seen == sorted(seen) and len(seen) + cap.dropped == 200
    else:
        assert seen == list(range(200))


def test_a_reader_waiting_for_room_is_released_by_stop():
    cap = Capture(Counter(100), queue_size=1).start()
    cap.get(timeout=2)
    time.sleep(0.05)  # the reader now waits for room in the full queue
    started = time.monotonic()
    cap.stop()
    assert time.monotonic() - started < 1 and not cap._thread.is_alive()
    with pytest.raises(EndOfStream):
        cap.get(timeout=0.1)


class SlowCounter(Counter):
    """A source slower than its consumer: each read takes ``delay`` seconds."""

    def __init__(self, n, delay):
        super().__init__(n)
        self.delay = delay

    def read(self):
        time.sleep(self.delay)
        return super().read()


def _threads_of(calls):
    def transform(image, out):
        calls.append(threading.get_ident())
        return _fill(image, out)
    return transform


@pytest.mark.parametrize("latest_only", [False, True])
def test_a_waiting_consumer_makes_the_tensors_of_a_slow_source(latest_only):
    reader, consumer = [], []
    cap = Capture(SlowCounter(40, 0.01), transform=_threads_of(reader), consumer_transform=_threads_of(consumer),
                  buffers=lambda: np.empty((8, 8), np.uint8), latest_only=latest_only).start()
    buffers, made_here = set(), []

    def check(frame):
        holds_its_tensor(frame)
        assert frame.transform_ns > 0
        buffers.add(id(frame.tensor))
        made_here.append(frame.by_consumer)

    seen = drain(cap, check)
    if latest_only:  # a consumer held up longer than a frame (a loaded machine) loses it to the next
        assert seen == sorted(seen) and len(seen) + cap.dropped == 40
        assert len(reader) + len(consumer) <= 40
    else:
        assert seen == list(range(40))  # nothing dropped or reordered by who transforms
        assert len(reader) + len(consumer) == 40  # each frame once
    assert set(consumer) == {threading.get_ident()}  # in the consumer's own thread
    assert len(consumer) >= len(seen) * 3 // 4  # mostly here
    assert sum(made_here) == len(consumer)  # the loop tells its preprocessing from its waiting by this
    assert len(buffers) <= 3


def test_a_busy_consumer_leaves_the_tensors_to_the_reader():
    reader, consumer = [], []
    cap = Capture(Counter(30), transform=_threads_of(reader), consumer_transform=_threads_of(consumer),
                  buffers=lambda: np.empty((8, 8), np.uint8), queue_size=2).start()
    # Slower than the source: the queue stays full.
    got = drain(cap, lambda frame: (holds_its_tensor(frame), time.sleep(0.003)))
    assert got == list(range(30))
    assert len(reader) >= 25 and len(reader) + len(consumer) == 30  # the consumer waits at most at the start


def test_a_transform_failing_in_the_consumer_is_one_line():
    def broken(image, out):
        raise cv2.error("OpenCV(5.0) resize.cpp:4: error: (-215:Assertion failed) !ssize.empty()")

    cap = Capture(SlowCounter(5, 0.01), transform=_fill, consumer_transform=broken,
                  buffers=lambda: np.empty((8, 8), np.uint8)).start()
    try:
        with pytest.raises(SourceError, match=r"^capture failed: error: OpenCV.*ssize.empty"):
            for _ in range(5):  # the first frame is the reader's: the consumer has not waited yet
                cap.get(timeout=2)
    finally:
        cap.stop()
    assert not cap._thread.is_alive()


def test_a_consumer_that_waits_less_than_the_transform_costs_it_is_not_handed_frames():
    # The reader takes 2 ms a frame, the consumer does nothing else: it waits ~2 ms a frame. The
    # transform costs it 15 ms: handing it frames would make it the slower side, so after the first
    # (which teaches what it costs) the reader keeps them, but for a rare long wait.
    reader, consumer = [], []

    def slow_here(image, out):
        consumer.append(threading.get_ident())
        time.sleep(0.015)
        return _fill(image, out)

    cap = Capture(SlowCounter(100, 0.002), transform=_threads_of(reader), consumer_transform=slow_here,
                  buffers=lambda: np.empty((8, 8), np.uint8)).start()
    got = drain(cap, holds_its_tensor)
    assert got == list(range(100))
    # Handing over whenever it waits would give it every frame the queue runs dry on (~16 here).
    assert len(consumer) <= 8 and len(reader) + len(consumer) == 100


def test_a_consumer_busy_when_frames_come_but_idle_on_average_is_handed_them():
    # Reading takes 4 ms, a transform 2 ms on either side, the consumer's own work 3 ms. With the
    # reader transforming, a frame costs it 6 ms while the consumer idles 1 ms of every 6; the
    # consumer taking them gives 4 ms against 5. Frames come while the consumer is still busy with
    # the last one: handing over only to a consumer waiting at that instant gave it 13 of 60. By its
    # average wait it takes them until that wait falls to a quarter of a transform (~5/8: 35-37).
    reader, consumer = [], []

    def costly(calls):
        def transform(image, out):
            calls.append(threading.get_ident())
            time.sleep(0.002)
            return _fill(image, out)
        return transform

    cap = Capture(SlowCounter(60, 0.004), transform=costly(reader), consumer_transform=costly(consumer),
                  buffers=lambda: np.empty((8, 8), np.uint8)).start()
    got = drain(cap, lambda frame: (holds_its_tensor(frame), time.sleep(0.003)))
    assert got == list(range(60)) and len(reader) + len(consumer) == 60
    assert len(consumer) >= 30, (len(reader), len(consumer))
