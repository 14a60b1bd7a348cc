import time

import numpy as np
import pytest

from edgenet.capture import Backoff, Capture, EndOfStream, FrameTimeout
from edgenet.errors import SourceLost
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


def test_files_deliver_every_frame_in_order_to_a_slow_consumer():
    cap = Capture(Counter(30), transform=lambda img: img.sum(), queue_size=2).start()
    got = []
    try:
        while True:
            frame = cap.get(timeout=2)
            got.append(frame.index)
            assert frame.tensor == frame.image.sum()
            time.sleep(0.002)
    except EndOfStream:
        pass
    finally:
        cap.stop()
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
    got = []
    try:
        while True:
            got.append(cap.get(timeout=1).index)
            time.sleep(0.01)
    except EndOfStream:
        pass
    finally:
        cap.stop()
    assert cap.dropped > 0 and len(got) + cap.dropped == 40
    assert got == sorted(got)
