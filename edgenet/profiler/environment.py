"""The environment manifest stored with every profile: where and how the numbers were taken."""

from __future__ import annotations

import os
import platform
import re

from edgenet.board import board_model, cpu_name
from edgenet.profiler.thermal import ThermalProbe


def os_release(root: str = "/") -> str:
    """PRETTY_NAME from /etc/os-release ('Debian GNU/Linux 12 (bookworm)'), else platform's view."""
    for path in ("etc/os-release", "usr/lib/os-release"):
        try:
            with open(os.path.join(root, path)) as f:
                for line in f:
                    if line.startswith("PRETTY_NAME="):
                        return line.split("=", 1)[1].strip().strip('"')
        except OSError:
            continue
    return platform.platform()


def memory_mb(root: str = "/") -> dict[str, int]:
    """MemTotal and MemAvailable from /proc/meminfo, in MB."""
    out = {}
    try:
        with open(os.path.join(root, "proc/meminfo")) as f:
            for line in f:
                m = re.match(r"(MemTotal|MemAvailable):\s+(\d+) kB", line)
                if m:
                    out["total" if m.group(1) == "MemTotal" else "available"] = int(m.group(2)) // 1024
    except OSError:
        pass
    return out


def manifest(probe: ThermalProbe, runtime: str | None = None, runtime_version: str | None = None,
             xnnpack: bool | None = None, threads: list[int] | None = None) -> dict:
    """Board, OS, Python, runtime and version, XNNPACK, threads, CPU governor, memory, thermal state."""
    import numpy as np

    root = probe.root
    governors = sorted(set(probe.governors().values()))
    max_freqs = sorted(set(probe.max_frequencies().values()))
    power = probe.power_mode()
    start = probe.sample()
    return {
        "board": board_model(os.path.join(root, "proc/device-tree/model")),
        "cpu": cpu_name(os.path.join(root, "proc/cpuinfo")),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "os": os_release(root),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "runtime": runtime,
        "runtime_version": runtime_version,
        "xnnpack": xnnpack,
        "threads": threads,
        "cpu_governor": governors[0] if len(governors) == 1 else (governors or None),
        "cpu_max_mhz": max_freqs[-1] if max_freqs else None,
        "memory_mb": memory_mb(root),
        "jetson_power_mode": power.as_dict() if power else None,
        "at_start": start.as_dict(),
    }
