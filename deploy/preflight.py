"""What the board is, gathered by ONE remote shell script and read by a pure parser.

The script prints ``key=value`` lines only; ``parse_preflight`` turns them into a ``Preflight`` and
``check`` raises PreflightError for boards edgenet cannot run on. Tests feed the parser recorded
outputs of real boards (tests/fixtures/preflight/).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from deploy.errors import PreflightError
from edgenet.board.identity import board_kind as kind_of_board

# POSIX sh: Raspberry Pi OS, Jetson's Ubuntu and Debian all have it. $1 is the target folder.
PREFLIGHT_SCRIPT = r"""
d="$1"; case "$d" in "~"*) d="$HOME${d#\~}";; esac
echo "home=$HOME"
echo "user=$(id -un)"
echo "target=$d"
echo "arch=$(uname -m)"
echo "kernel=$(uname -r)"
if [ -r /etc/os-release ]; then . /etc/os-release; echo "os_id=$ID"; echo "os_version=$VERSION_ID"; echo "os_codename=$VERSION_CODENAME"; echo "os_name=$PRETTY_NAME"; fi
if [ -r /proc/device-tree/model ]; then echo "model=$(tr -d '\000' < /proc/device-tree/model)"; fi
if [ -r /etc/nv_tegra_release ]; then echo "tegra=$(head -n1 /etc/nv_tegra_release)"; fi
echo "cores=$(nproc 2>/dev/null || echo 0)"
echo "mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo 2>/dev/null)"
p=$d; while [ ! -d "$p" ]; do p=$(dirname "$p"); done
echo "disk_free_kb=$(df -Pk "$p" | awk 'NR==2 {print $4}')"
py=$(command -v python3 || true)
echo "python=$py"
if [ -n "$py" ]; then
  "$py" -c 'import sys, platform, struct; print("python_version=%d.%d.%d" % sys.version_info[:3]); print("python_bits=%d" % (8 * struct.calcsize("P"))); print("glibc=%s" % platform.libc_ver()[1])'
  if "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then echo "venv=yes"; else echo "venv=no"; fi
  if "$py" -c 'import picamera2' >/dev/null 2>&1; then echo "picamera2=yes"; else echo "picamera2=no"; fi
fi
echo "video=$(ls /dev/video* 2>/dev/null | tr '\n' ' ')"
if command -v systemctl >/dev/null 2>&1; then echo "systemd=yes"; else echo "systemd=no"; fi
if sudo -n true >/dev/null 2>&1; then echo "sudo=yes"; else echo "sudo=no"; fi
if [ -L "$d/current" ]; then echo "current=$(readlink "$d/current")"; fi
echo "end=ok"
"""

# The smallest free space a release needs: venv + numpy/OpenCV/LiteRT wheels (~150 MB) + a model.
MIN_FREE_MB = 300


def preflight_command(target_dir: str) -> str:
    return "sh -c " + shlex.quote(PREFLIGHT_SCRIPT) + " edgenet-preflight " + shlex.quote(target_dir)


@dataclass(frozen=True)
class Preflight:
    home: str
    user: str
    target: str
    arch: str
    os_name: str
    os_id: str
    os_version: str
    python: str | None
    python_version: tuple[int, ...] | None
    python_bits: int | None
    glibc: str | None
    venv: bool
    disk_free_mb: float
    board: str | None
    board_kind: str
    cores: int
    camera_picamera2: bool
    video_devices: tuple[str, ...]
    systemd: bool
    sudo: bool
    current: str | None = None

    @property
    def machine(self) -> str:
        """The architecture the Python userland runs: a 64-bit kernel under a 32-bit Raspberry Pi OS
        reports aarch64, but its armhf Python needs armv7l wheels."""
        if self.arch == "aarch64" and self.python_bits == 32:
            return "armv7l"
        return self.arch

    @property
    def python_text(self) -> str:
        return ".".join(map(str, self.python_version)) if self.python_version else "none"

    @property
    def interpreter(self) -> str:
        return choose_interpreter(self.machine, self.python_version)

    def marker_environment(self) -> dict[str, str]:
        """PEP 508 marker values of the board's Python (pip on the workstation would use its own)."""
        py = self.python_version or (0, 0, 0)
        return {"platform_machine": self.machine, "python_version": f"{py[0]}.{py[1]}",
                "python_full_version": ".".join(map(str, py)), "sys_platform": "linux", "platform_system": "Linux",
                "os_name": "posix", "implementation_name": "cpython", "platform_python_implementation": "CPython"}

    def requirements_for(self, requirements: list[str]) -> list[str]:
        """The requirements (the board wheel's, markers kept) that apply to this board, markers evaluated
        here: what ``pip download --platform`` must fetch for it (numpy<2 and tflite-runtime on armv7l)."""
        from packaging.requirements import Requirement

        env = self.marker_environment()
        out = []
        for text in requirements:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate(env):
                req.marker = None
                out.append(str(req))
        return out

    def camera_text(self) -> str:
        parts = ["picamera2" if self.camera_picamera2 else "no picamera2"]
        parts.append(", ".join(self.video_devices) if self.video_devices else "no /dev/video*")
        return "; ".join(parts)

    def lines(self) -> list[str]:
        return [
            f"board: {self.board or 'unknown'} ({self.board_kind}), {self.cores} cores",
            f"arch: {self.arch}" + (f" (32-bit userland: {self.machine})" if self.machine != self.arch else ""),
            f"os: {self.os_name}",
            f"python: {self.python or 'none'} {self.python_text}" + ("" if self.venv else " (no venv module)"),
            f"free disk in {self.target}: {self.disk_free_mb:.0f} MB",
            f"camera: {self.camera_text()}",
            f"interpreter: {self.interpreter}",
            f"systemd: {'yes' if self.systemd else 'no'}, passwordless sudo: {'yes' if self.sudo else 'no'}",
        ]


def choose_interpreter(machine: str, python_version: tuple[int, ...] | None) -> str:
    """ai-edge-litert on aarch64/x86_64 with Python >= 3.9; tflite-runtime (+numpy<2) on armv7l with
    Python <= 3.11 (its last wheels); anything else is unsupported."""
    if python_version is None:
        raise PreflightError("no python3 on the board: install it (sudo apt install python3 python3-venv)")
    py = tuple(python_version[:2])
    if machine in ("aarch64", "x86_64"):
        if py >= (3, 9):
            return "ai-edge-litert"
        raise PreflightError(f"Python {py[0]}.{py[1]} on {machine}: ai-edge-litert needs Python >= 3.9; upgrade the OS")
    if machine in ("armv7l", "armv6l"):
        if (3, 7) <= py <= (3, 11):
            return "tflite-runtime"
        raise PreflightError(f"Python {py[0]}.{py[1]} on {machine}: tflite-runtime has wheels for Python 3.7-3.11 "
                             "only; use a 64-bit OS (ai-edge-litert) or Python <= 3.11")
    raise PreflightError(f"unsupported architecture {machine!r}: edgenet runs on aarch64, armv7l and x86_64")


def parse_preflight(output: str) -> Preflight:
    """Read the script's ``key=value`` lines. Unknown keys are ignored; a truncated run is an error."""
    values: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().isidentifier():
            values[key.strip()] = value.strip()
    if values.get("end") != "ok" or "arch" not in values:
        raise PreflightError("the preflight script did not finish on the board (is /bin/sh there?): "
                             + (output.strip().splitlines() or ["no output"])[-1][:200])
    pyv = values.get("python_version")
    version = tuple(int(x) for x in pyv.split(".")) if pyv else None
    python = values.get("python") or None
    if python is None:
        version = None
    try:
        disk_kb = float(values.get("disk_free_kb") or 0)
    except ValueError:
        disk_kb = 0.0
    model = values.get("model") or None
    bits = values.get("python_bits")
    return Preflight(
        home=values.get("home", ""), user=values.get("user", ""), target=values.get("target", ""),
        arch=values["arch"], os_name=values.get("os_name") or values.get("os_id") or "unknown",
        os_id=values.get("os_id", ""), os_version=values.get("os_version", ""),
        python=python, python_version=version, python_bits=int(bits) if bits else None,
        glibc=values.get("glibc") or None, venv=values.get("venv") == "yes",
        disk_free_mb=disk_kb / 1024.0, board=model, board_kind=kind_of_board(model, bool(values.get("tegra"))),
        cores=int(values.get("cores") or 0), camera_picamera2=values.get("picamera2") == "yes",
        video_devices=tuple(values.get("video", "").split()), systemd=values.get("systemd") == "yes",
        sudo=values.get("sudo") == "yes", current=values.get("current") or None,
    )


def check(pre: Preflight, *, min_free_mb: float = MIN_FREE_MB) -> str:
    """Raise PreflightError when edgenet cannot be installed; return the interpreter package."""
    if pre.python is None:
        raise PreflightError("no python3 on the board: install it (sudo apt install python3 python3-venv)")
    interpreter = pre.interpreter
    if not pre.venv:
        raise PreflightError(f"{pre.python} has no venv/ensurepip module: install it (sudo apt install python3-venv)")
    if pre.disk_free_mb < min_free_mb:
        raise PreflightError(f"only {pre.disk_free_mb:.0f} MB free in {pre.target} (need {min_free_mb} MB): "
                             "free space or remove old releases in ~/edgenet/releases")
    return interpreter


def run_preflight(remote, target_dir: str) -> Preflight:
    return parse_preflight(remote.run(preflight_command(target_dir), what="preflight").stdout)
