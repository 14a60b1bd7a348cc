"""What a board has, read on the board with the standard library alone.

These facts decide which packages edgenet needs there (``edgenet.board.requirements``): the
architecture of the *userland* (a 32-bit Raspberry Pi OS on a Pi 4/5 runs a 64-bit kernel, so
``uname -m`` and ``platform.machine()`` say ``aarch64``, yet its Python is 32-bit and needs armv7l
wheels: the pointer size of the running Python tells), the Python and glibc versions, whether this is
a Jetson (L4T), and the Python packages the system (apt) already provides: numpy, picamera2 and
OpenCV, read by the system's own Python, so a venv's packages never count as the system's.

This module imports nothing but the standard library and nothing of edgenet, and runs on Python 3.7
and later, so it can run before anything is installed: ``edgenet deploy`` sends its source to the
board's ``python3 -c`` (run as a script it prints the facts as ``key=value`` lines), and
``python3 -m edgenet.cli.requirements`` runs it in a fresh clone.
"""

from __future__ import annotations

import json
import os
import platform
import struct
import subprocess
import sys
from dataclasses import MISSING, asdict, dataclass, fields

OS_RELEASE = "/etc/os-release"
DEVICE_TREE_MODEL = "/proc/device-tree/model"
TEGRA_RELEASE = "/etc/nv_tegra_release"
PROBE_TIMEOUT_S = 60.0  # importing the system's OpenCV on a Pi Zero 2 takes seconds, not a minute

# Run by the system's Python (-I: no user site, no PYTHON* variables, not the script's folder), so
# only what apt (or a system-wide pip) installed is seen. OpenCV is imported to learn its version,
# whether it has GStreamer and whether it still works with the system's numpy; picamera2 is only
# looked up (importing it starts libcamera).
SYSTEM_PROBE = r"""
import json, site, sys
out = {"numpy": None, "picamera2": None, "opencv": None, "opencv_gstreamer": None, "opencv_error": None}
try:
    dirs = [d for d in site.getsitepackages() if d]
    from importlib import machinery, metadata
    def version(name):
        for dist in metadata.distributions(path=dirs):
            if (dist.metadata["Name"] or "").lower().replace("_", "-") == name:
                return dist.version
        return None
    def found(name):
        return machinery.PathFinder.find_spec(name, dirs) is not None
    if found("numpy"):
        out["numpy"] = version("numpy") or "unknown"
    if found("picamera2"):
        out["picamera2"] = version("picamera2") or "unknown"
    if found("cv2"):
        try:
            import cv2
            out["opencv"] = cv2.__version__
            info = cv2.getBuildInformation()
            line = [l for l in info.splitlines() if l.strip().startswith("GStreamer:")]
            out["opencv_gstreamer"] = bool(line) and line[0].split(":", 1)[1].strip().upper().startswith("YES")
        except Exception as exc:
            out["opencv"] = "unknown"
            out["opencv_error"] = (type(exc).__name__ + ": " + str(exc)).strip().splitlines()[0][:200]
except Exception as exc:
    out["probe_error"] = (type(exc).__name__ + ": " + str(exc)).strip().splitlines()[0][:200]
print(json.dumps(out))
"""


@dataclass(frozen=True)
class BoardFacts:
    """Everything the requirement set depends on. Flat strings, numbers and booleans: written as
    ``key=value`` lines (deploy's preflight, the recorded boards in tests/fixtures/preflight/)."""

    kernel_machine: str  # uname -m: the kernel's architecture
    pointer_bits: int  # 64 or 32: the running Python's, i.e. the userland's
    python: str  # "3.11.2"
    implementation: str  # "CPython"
    libc: str  # "glibc", or "" (musl, unknown)
    libc_version: str  # "2.36"
    os_id: str = ""
    os_version: str = ""
    os_codename: str = ""
    os_name: str = ""
    model: str = ""  # /proc/device-tree/model
    tegra_release: str = ""  # first line of /etc/nv_tegra_release: a Jetson (L4T)
    venv: bool = False  # this Python runs in a venv
    system_site_packages: bool = True  # ... that sees the system's packages (or no venv at all)
    system_numpy: str = ""  # version of the system's numpy, "" when there is none
    system_picamera2: str = ""  # version of the system's picamera2 ("unknown" when it has no metadata)
    system_opencv: str = ""  # version of the system's cv2 ("unknown" when it does not import)
    system_opencv_gstreamer: bool = False
    system_opencv_error: str = ""  # why the system's cv2 does not import (numpy ABI, missing library)

    @property
    def python_version(self) -> tuple:
        return tuple(int(p) for p in self.python.split(".")[:3] if p.isdigit())

    @property
    def machine(self) -> str:
        """The architecture wheels must be built for: the userland's, not the kernel's."""
        return userland_machine(self.kernel_machine, self.pointer_bits)

    @property
    def jetson(self) -> bool:
        return bool(self.tegra_release)

    @property
    def l4t(self) -> tuple:
        """(major, minor) of Jetson Linux from ``# R36 (release), REVISION: 3.0``; () elsewhere."""
        text = self.tegra_release
        try:
            major = int(text.split("R", 1)[1].split()[0])
            minor = int(text.split("REVISION:", 1)[1].strip().split(".")[0])
            return (major, minor)
        except (IndexError, ValueError):
            return ()

    def lines(self) -> list:
        """``key=value`` lines, booleans as yes/no."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                value = "yes" if value else "no"
            out.append(f"{f.name}={' '.join(str(value).split())}")
        return out

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_values(cls, values: dict) -> "BoardFacts":
        """From ``key=value`` pairs (strings, as ``lines`` writes them); unknown keys are ignored."""
        kwargs = {}
        for f in fields(cls):
            if f.name not in values:
                continue
            raw = values[f.name]
            if f.type in ("bool", bool):
                kwargs[f.name] = raw in (True, "yes", "true", "1")
            elif f.type in ("int", int):
                kwargs[f.name] = int(raw)
            else:
                kwargs[f.name] = str(raw)
        missing = [f.name for f in fields(cls) if f.name not in kwargs and f.default is MISSING]
        if missing:
            raise ValueError(f"board facts without {', '.join(missing)}")
        return cls(**kwargs)


def userland_machine(kernel_machine: str, pointer_bits: int) -> str:
    """``aarch64`` under a 32-bit Python is an armhf userland on a 64-bit kernel (the default 32-bit
    Raspberry Pi OS on a Pi 3/4/5): its wheels are armv7l. ``armv8l`` is what a 64-bit ARM kernel
    reports to 32-bit processes in the linux32 personality. ``x86_64`` under 32 bits is i686."""
    machine = kernel_machine.lower()
    if machine in ("arm64", "aarch64_be"):
        machine = "aarch64"
    if machine in ("aarch64", "armv8l", "armv8b") and pointer_bits == 32:
        return "armv7l"
    if machine in ("x86_64", "amd64") and pointer_bits == 32:
        return "i686"
    if machine == "amd64":
        return "x86_64"
    return machine


def libc_of_this_process() -> tuple:
    """('glibc', '2.36') from the C library this process runs on (confstr), else platform's guess, which
    reads the Python binary and fails when that is a wrapper script (an emulated board)."""
    try:
        name, _, version = (os.confstr("CS_GNU_LIBC_VERSION") or "").partition(" ")
        if name and version:
            return name, version
    except (AttributeError, ValueError, OSError):
        pass
    return platform.libc_ver()


def read_first_line(path: str) -> str:
    try:
        with open(path, "rb") as f:
            text = f.read(4096).decode("utf-8", "replace")
    except OSError:
        return ""
    return text.replace("\x00", "").strip().split("\n")[0].strip()


def os_release(path: str = OS_RELEASE) -> dict:
    out = {}
    try:
        with open(path) as f:
            for line in f:
                key, sep, value = line.strip().partition("=")
                if sep:
                    out[key] = value.strip().strip('"').strip("'")
    except OSError:
        pass
    return out


def base_python() -> str:
    """The system's Python this one was made from: itself outside a venv, else the venv's ``home``."""
    if sys.prefix == getattr(sys, "base_prefix", sys.prefix):
        return sys.executable
    home = venv_config().get("home", "")
    major, minor = sys.version_info[:2]
    for name in (f"python{major}.{minor}", f"python{major}"):
        path = os.path.join(home, name)
        if home and os.access(path, os.X_OK):
            return path
    return getattr(sys, "_base_executable", "") or sys.executable


def venv_config() -> dict:
    """The running venv's pyvenv.cfg (``home``, ``include-system-site-packages``), {} outside one."""
    out = {}
    try:
        with open(os.path.join(sys.prefix, "pyvenv.cfg")) as f:
            for line in f:
                key, sep, value = line.partition("=")
                if sep:
                    out[key.strip()] = value.strip()
    except OSError:
        pass
    return out


def probe_system_packages(python: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> dict:
    """numpy, picamera2 and OpenCV as the system's Python sees them (see SYSTEM_PROBE)."""
    try:
        proc = subprocess.run([python or base_python(), "-I", "-c", SYSTEM_PROBE], capture_output=True,
                              text=True, timeout=timeout)
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        return {"probe_error": f"{type(exc).__name__}: {exc}"}


def gather_facts(*, probe: dict | None = None, root: str = "/") -> BoardFacts:
    """This board's facts. ``probe`` replaces the system-package probe, ``root`` prefixes the files
    read (both for tests)."""
    rel = os_release(os.path.join(root, OS_RELEASE.lstrip("/")))
    libc, libc_version = libc_of_this_process()
    in_venv = sys.prefix != getattr(sys, "base_prefix", sys.prefix)
    sees_system = (not in_venv) or venv_config().get("include-system-site-packages", "false").lower() == "true"
    system = probe if probe is not None else probe_system_packages()
    return BoardFacts(
        kernel_machine=platform.machine(),
        pointer_bits=8 * struct.calcsize("P"),
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        libc=libc or "",
        libc_version=libc_version or "",
        os_id=rel.get("ID", ""),
        os_version=rel.get("VERSION_ID", ""),
        os_codename=rel.get("VERSION_CODENAME", ""),
        os_name=rel.get("PRETTY_NAME", "") or platform.platform(),
        model=read_first_line(os.path.join(root, DEVICE_TREE_MODEL.lstrip("/"))),
        tegra_release=read_first_line(os.path.join(root, TEGRA_RELEASE.lstrip("/"))),
        venv=in_venv,
        system_site_packages=sees_system,
        system_numpy=system.get("numpy") or "",
        system_picamera2=system.get("picamera2") or "",
        system_opencv=system.get("opencv") or "",
        system_opencv_gstreamer=bool(system.get("opencv_gstreamer")),
        system_opencv_error=system.get("opencv_error") or "",
    )


if __name__ == "__main__":  # as deploy's preflight runs it: python3 -c "<this file>"
    print("\n".join(gather_facts().lines()))
