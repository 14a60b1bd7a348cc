"""What board this is: read from files the kernel exposes (paths injectable for tests)."""

from __future__ import annotations

import os
import platform

DEVICE_TREE_MODEL = "/proc/device-tree/model"
CPUINFO = "/proc/cpuinfo"
TEGRA_RELEASE = "/etc/nv_tegra_release"
BOARD_KINDS = ("raspberry-pi", "jetson", "other")


def read_text(path: str) -> str | None:
    """A small kernel-exposed file (sysfs, procfs, device tree) as stripped text, or None if unreadable.

    Device-tree strings end in NUL bytes, which are stripped too.
    """
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").strip("\x00\n ")
    except OSError:
        return None


def board_model(path: str = DEVICE_TREE_MODEL) -> str | None:
    """'Raspberry Pi 5 Model B Rev 1.0', 'NVIDIA Jetson Orin Nano ...', or None on a PC."""
    return read_text(path) or None


def board_kind(model: str | None, tegra: bool = False) -> str:
    """One of BOARD_KINDS from the device-tree model and whether /etc/nv_tegra_release exists.

    The one rule, used here and for a board seen over ssh (deploy's preflight).
    """
    text = (model or "").lower()
    if text.startswith("raspberry pi"):
        return "raspberry-pi"
    if tegra or "jetson" in text or "nvidia" in text:
        return "jetson"
    return "other"


def is_raspberry_pi(model: str | None = None) -> bool:
    model = board_model() if model is None else model
    return board_kind(model) == "raspberry-pi"


def is_jetson(model: str | None = None, tegra_release: str = TEGRA_RELEASE) -> bool:
    model = board_model() if model is None else model
    return board_kind(model, os.path.exists(tegra_release)) == "jetson"


def cpu_name(path: str = CPUINFO) -> str:
    text = read_text(path) or ""
    for key in ("model name", "Model", "Hardware", "cpu model"):
        for line in text.splitlines():
            if ":" in line and line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
