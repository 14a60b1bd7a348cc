"""What board this is: read from files the kernel exposes (paths injectable for tests)."""

from __future__ import annotations

import os
import platform

DEVICE_TREE_MODEL = "/proc/device-tree/model"
CPUINFO = "/proc/cpuinfo"


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


def is_raspberry_pi(model: str | None = None) -> bool:
    model = board_model() if model is None else model
    return bool(model) and model.startswith("Raspberry Pi")


def is_jetson(model: str | None = None, tegra_release: str = "/etc/nv_tegra_release") -> bool:
    model = board_model() if model is None else model
    return bool(model and "jetson" in model.lower()) or os.path.exists(tegra_release)


def cpu_name(path: str = CPUINFO) -> str:
    text = read_text(path) or ""
    for key in ("model name", "Model", "Hardware", "cpu model"):
        for line in text.splitlines():
            if ":" in line and line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
