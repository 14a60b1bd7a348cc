"""The board's V4L2 video nodes and which of them are cameras: ``VIDIOC_QUERYCAP`` on each ``/dev/video*``.

A Raspberry Pi has a dozen video nodes that are not cameras (the codec, ISP and HEVC decoder, and on a
Pi 5 the CSI receiver, which only libcamera drives); a USB camera is a node whose device capabilities
say video capture and not memory-to-memory.
"""

from __future__ import annotations

import fcntl
import glob
import os
import re
import struct
from dataclasses import dataclass

# struct v4l2_capability: driver[16], card[32], bus_info[32], version, capabilities, device_caps, reserved[3]
CAPABILITY = struct.Struct("16s32s32sIII12x")
VIDIOC_QUERYCAP = (2 << 30) | (CAPABILITY.size << 16) | (ord("V") << 8) | 0  # _IOR('V', 0, struct v4l2_capability)
CAP_VIDEO_CAPTURE = 0x00000001
CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
CAP_VIDEO_M2M = 0x00008000
CAP_VIDEO_M2M_MPLANE = 0x00004000
CAP_DEVICE_CAPS = 0x80000000


@dataclass(frozen=True)
class VideoDevice:
    path: str
    driver: str
    card: str
    bus: str
    capture: bool  # a camera (or capture card) OpenCV can read frames from


def parse_capability(path: str, raw: bytes) -> VideoDevice:
    driver, card, bus, _version, caps, device_caps = CAPABILITY.unpack(raw[:CAPABILITY.size])
    caps = device_caps if caps & CAP_DEVICE_CAPS else caps
    text = [b.split(b"\0", 1)[0].decode("utf-8", "replace") for b in (driver, card, bus)]
    capture = bool(caps & (CAP_VIDEO_CAPTURE | CAP_VIDEO_CAPTURE_MPLANE)) and not caps & (CAP_VIDEO_M2M | CAP_VIDEO_M2M_MPLANE)
    return VideoDevice(path, text[0], text[1], text[2], capture)


def query(path: str) -> VideoDevice | None:
    """The node's capabilities, or None when it cannot be opened (permissions: the video group)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        buf = bytearray(CAPABILITY.size)
        fcntl.ioctl(fd, VIDIOC_QUERYCAP, buf)
        return parse_capability(path, bytes(buf))
    except OSError:
        return None
    finally:
        os.close(fd)


def video_devices(pattern: str = "/dev/video*") -> list:
    """Every queryable V4L2 node, in numeric order."""
    paths = sorted(glob.glob(pattern), key=lambda p: int(re.sub(r"\D", "", p) or 0))
    return [d for d in (query(p) for p in paths) if d is not None]
