"""The environment manifest stored with every result (run summary, eval report, profile): where and
how the numbers were taken. One function, so a run and a profile describe a board the same way."""

from __future__ import annotations

import os
import platform
import re
from typing import Any

from edgenet.board.identity import board_model, cpu_name
from edgenet.board.thermal import ThermalProbe


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


def environment(model: Any = None, *, probe: ThermalProbe | None = None, runtime: str | None = None,
                runtime_version: str | None = None, xnnpack: bool | None = None,
                threads: int | list[int] | None = None) -> dict:
    """Board, CPU, OS, Python, numpy, OpenCV, memory, and the interpreter: runtime and version, XNNPACK,
    threads (from ``model``, an ``edgenet.runtime.Model``, or given). With a thermal ``probe`` (the
    profiler's), also the CPU governor and top frequency, the Jetson power mode and the thermal state
    at the start; its root prefixes every file read (a fake board in tests)."""
    import cv2
    import numpy as np

    if model is not None:
        runtime, runtime_version = model.runtime, model.runtime_version
        xnnpack, threads = model.xnnpack, model.threads
    root = probe.root if probe is not None else "/"
    env: dict[str, Any] = {
        "board": board_model(os.path.join(root, "proc/device-tree/model")),
        "cpu": cpu_name(os.path.join(root, "proc/cpuinfo")),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "os": os_release(root),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "memory_mb": memory_mb(root),
        "runtime": runtime,
        "runtime_version": runtime_version,
        "xnnpack": xnnpack,
        "threads": threads,
    }
    if model is not None:
        env["io"] = model.input_spec.dtype  # uint8 for Google's official quantized models, int8 for ours
    if probe is not None:
        governors = sorted(set(probe.governors().values()))
        max_freqs = sorted(set(probe.max_frequencies().values()))
        power = probe.power_mode()
        env.update(
            cpu_governor=governors[0] if len(governors) == 1 else (governors or None),
            cpu_max_mhz=max_freqs[-1] if max_freqs else None,
            jetson_power_mode=power.as_dict() if power else None,
            at_start=probe.sample().as_dict(),
        )
    return env
