"""Fake sources for tests: a live camera that can vanish and come back."""

from __future__ import annotations

import threading
import time

import numpy as np

from edgenet.errors import SourceError, SourceLost
from edgenet.sources import FrameSource


class FakeCamera(FrameSource):
    """A live source at ``fps``; frames carry their number in pixel (0, 0). ``world`` controls it."""

    live = True

    def __init__(self, world: "CameraWorld"):
        self.world = world
        self.name = "fake camera"
        self.nominal_fps = world.fps

    def read(self):
        time.sleep(1.0 / self.world.fps)
        with self.world.lock:
            if self.world.unplugged:
                raise SourceLost("fake camera: read failed (device gone)")
            self.world.count += 1
            if self.world.unplug_at is not None and self.world.count == self.world.unplug_at:
                self.world.unplugged = True
            n = self.world.count
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[..., :] = self.world.colour
        frame[0, 0, 0] = n % 256
        return frame


class CameraWorld:
    """The camera's state: unplug it after N frames, plug it back after some failed reopen attempts."""

    def __init__(self, fps=200.0, unplug_at=None, comes_back_after_attempts=3, colour=(0, 0, 255)):
        self.fps, self.unplug_at, self.comes_back_after = fps, unplug_at, comes_back_after_attempts
        self.colour = colour
        self.count = 0
        self.unplugged = False
        self.reopen_attempts = 0
        self.lock = threading.Lock()

    def open(self) -> FakeCamera:
        with self.lock:
            if self.unplugged:
                self.reopen_attempts += 1
                if self.reopen_attempts < self.comes_back_after:
                    raise SourceError("cannot open fake camera")
                self.unplugged = False
                self.unplug_at = None
        return FakeCamera(self)
