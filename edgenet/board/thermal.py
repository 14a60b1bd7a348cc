"""CPU temperature, frequency and throttling, read the way the kernel and the board tools expose them.

- temperatures: /sys/class/thermal/thermal_zone*/temp (millidegrees C) and ``type``
- frequencies:  /sys/devices/system/cpu/cpu*/cpufreq/scaling_cur_freq (kHz), scaling_governor,
                cpuinfo_max_freq
- Raspberry Pi: ``vcgencmd get_throttled`` -> ``throttled=0x50005`` (bits decoded below)
- Jetson:       ``nvpmodel -q`` -> ``NV Power Mode: MAXN`` and the mode number

Everything is injectable (a root folder for the sysfs tree, argv for each command) so tests run
against fake trees and fake commands; on a PC without these files the probe just reports less.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from edgenet.board.identity import read_text

# vcgencmd get_throttled bit -> meaning (Raspberry Pi documentation, "vcgencmd get_throttled").
THROTTLE_BITS = {
    0: "under-voltage detected",
    1: "arm frequency capped",
    2: "currently throttled",
    3: "soft temperature limit active",
    16: "under-voltage has occurred",
    17: "arm frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}
# Bits 0..3 describe now; 16..19 are sticky since boot.
ACTIVE_MASK = 0xF


@dataclass(frozen=True)
class Throttle:
    raw: int
    flags: tuple[str, ...]

    @property
    def active(self) -> bool:
        return bool(self.raw & ACTIVE_MASK)

    def as_dict(self) -> dict:
        return {"raw": hex(self.raw), "flags": list(self.flags), "active": self.active}


def decode_throttled(value: int) -> Throttle:
    flags = tuple(text for bit, text in sorted(THROTTLE_BITS.items()) if value & (1 << bit))
    return Throttle(value, flags)


def parse_get_throttled(output: str) -> Throttle | None:
    """``throttled=0x50005`` -> Throttle; None when the output has no such line."""
    m = re.search(r"throttled=(0x[0-9a-fA-F]+|\d+)", output)
    if not m:
        return None
    return decode_throttled(int(m.group(1), 0))


@dataclass(frozen=True)
class PowerMode:
    name: str
    mode: int | None

    def as_dict(self) -> dict:
        return {"name": self.name, "mode": self.mode}


def parse_nvpmodel(output: str) -> PowerMode | None:
    """``NV Power Mode: MAXN`` followed by the mode number (warning lines ignored)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        m = re.match(r"NV Power Mode:\s*(.+)$", line)
        if m:
            mode = None
            if i + 1 < len(lines) and re.fullmatch(r"\d+", lines[i + 1]):
                mode = int(lines[i + 1])
            return PowerMode(m.group(1).strip(), mode)
    return None


@dataclass(frozen=True)
class ThermalSample:
    """One reading. Temperatures in degrees C by zone type, frequencies in MHz by cpu number."""

    t: float  # seconds since the start of the run
    temps_c: dict[str, float] = field(default_factory=dict)
    freqs_mhz: dict[int, float] = field(default_factory=dict)
    throttle: Throttle | None = None

    @property
    def cpu_temp_c(self) -> float | None:
        """The CPU's zone when one is named like it, else the hottest zone."""
        if not self.temps_c:
            return None
        for key, value in self.temps_c.items():
            if any(word in key.lower() for word in ("cpu", "soc", "x86_pkg")):
                return value
        return max(self.temps_c.values())

    @property
    def mean_freq_mhz(self) -> float | None:
        return sum(self.freqs_mhz.values()) / len(self.freqs_mhz) if self.freqs_mhz else None

    def as_dict(self) -> dict:
        return {
            "t": round(self.t, 3),
            "cpu_temp_c": None if self.cpu_temp_c is None else round(self.cpu_temp_c, 1),
            "temps_c": {k: round(v, 1) for k, v in self.temps_c.items()},
            "freqs_mhz": {str(k): round(v, 1) for k, v in self.freqs_mhz.items()},
            "throttle": self.throttle.as_dict() if self.throttle else None,
        }


def _command(name: str) -> list[str] | None:
    found = shutil.which(name)
    # vcgencmd lives in /usr/bin on Pi OS but some images only have /opt/vc/bin.
    if found is None and name == "vcgencmd" and os.access("/opt/vc/bin/vcgencmd", os.X_OK):
        found = "/opt/vc/bin/vcgencmd"
    return [found] if found else None


_DEFAULT = object()


class ThermalProbe:
    """Reads the board's thermal state. ``root`` prefixes every sysfs path (``/`` on a real board).

    ``vcgencmd`` / ``nvpmodel``: argv prefix of the command, None to skip it; by default found on PATH.
    """

    def __init__(self, root: str = "/", vcgencmd=_DEFAULT, nvpmodel=_DEFAULT, timeout: float = 2.0):
        self.root = root
        self.vcgencmd = _command("vcgencmd") if vcgencmd is _DEFAULT else vcgencmd
        self.nvpmodel = _command("nvpmodel") if nvpmodel is _DEFAULT else nvpmodel
        self.timeout = timeout

    def _path(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def _run(self, argv: list[str] | None) -> str | None:
        if not argv:
            return None
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout if done.returncode == 0 else None

    def temperatures(self) -> dict[str, float]:
        temps: dict[str, float] = {}
        for zone in sorted(glob.glob(self._path("/sys/class/thermal/thermal_zone*"))):
            raw = read_text(os.path.join(zone, "temp"))
            if raw is None or not re.fullmatch(r"-?\d+", raw):
                continue
            kind = read_text(os.path.join(zone, "type")) or os.path.basename(zone)
            key = kind if kind not in temps else f"{kind}:{os.path.basename(zone)}"
            temps[key] = int(raw) / 1000.0
        return temps

    def _cpus(self) -> list[tuple[int, str]]:
        found = []
        for folder in glob.glob(self._path("/sys/devices/system/cpu/cpu[0-9]*/cpufreq")):
            m = re.search(r"cpu(\d+)/cpufreq$", folder)
            if m:
                found.append((int(m.group(1)), folder))
        return sorted(found)

    def _per_cpu_mhz(self, name: str) -> dict[int, float]:
        """cpufreq's kHz file ``name`` of every CPU, in MHz."""
        freqs = {}
        for cpu, folder in self._cpus():
            raw = read_text(os.path.join(folder, name))
            if raw and raw.isdigit():
                freqs[cpu] = int(raw) / 1000.0
        return freqs

    def frequencies(self) -> dict[int, float]:
        return self._per_cpu_mhz("scaling_cur_freq")

    def max_frequencies(self) -> dict[int, float]:
        return self._per_cpu_mhz("cpuinfo_max_freq")

    def governors(self) -> dict[int, str]:
        out = {}
        for cpu, folder in self._cpus():
            raw = read_text(os.path.join(folder, "scaling_governor"))
            if raw:
                out[cpu] = raw
        return out

    def throttle(self) -> Throttle | None:
        output = self._run(self.vcgencmd + ["get_throttled"] if self.vcgencmd else None)
        return parse_get_throttled(output) if output else None

    def power_mode(self) -> PowerMode | None:
        output = self._run(self.nvpmodel + ["-q"] if self.nvpmodel else None)
        return parse_nvpmodel(output) if output else None

    def sample(self, t: float = 0.0) -> ThermalSample:
        return ThermalSample(t, self.temperatures(), self.frequencies(), self.throttle())


def cpu_temperature(root: str = "/") -> float | None:
    """The CPU zone's degrees C from /sys/class/thermal (see ``ThermalSample.cpu_temp_c``), None where
    the kernel exposes none. Reads files only: cheap enough for the live view's stats."""
    return ThermalSample(0.0, ThermalProbe(root, vcgencmd=None, nvpmodel=None).temperatures()).cpu_temp_c
