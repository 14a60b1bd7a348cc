"""CPU temperature from the kernel's thermal zones, where the board exposes them."""

from __future__ import annotations

import os

THERMAL_ROOT = "/sys/class/thermal"
# Zone types that name the CPU: Raspberry Pi, Jetson (CPU-therm / cpu-thermal), x86 package, ARM SoCs.
CPU_ZONE_TYPES = ("cpu-thermal", "cpu_thermal", "CPU-therm", "cpu-therm", "x86_pkg_temp", "soc_thermal", "soc-thermal")


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def cpu_temperature(root: str = THERMAL_ROOT) -> float | None:
    """Degrees Celsius of the CPU zone (else the first zone that reads), or None when there is none."""
    try:
        zones = sorted(name for name in os.listdir(root) if name.startswith("thermal_zone"))
    except OSError:
        return None
    readings: list[tuple[str, float]] = []
    for zone in zones:
        raw = _read(os.path.join(root, zone, "temp"))
        if raw is None:
            continue
        try:
            millidegrees = int(raw)
        except ValueError:
            continue
        readings.append((_read(os.path.join(root, zone, "type")) or "", millidegrees / 1000.0))
    for kind, celsius in readings:
        if kind in CPU_ZONE_TYPES:
            return celsius
    return readings[0][1] if readings else None
