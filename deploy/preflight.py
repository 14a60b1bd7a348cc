"""What the board is, gathered by ONE remote shell script and read by a pure parser.

The script prints ``key=value`` lines only: the account and the target folder, free disk, systemd,
sudo, cameras, and, from the board's python3, the facts edgenet's requirement set is chosen from
(``edgenet.board.facts``: its source is sent along and run by ``python3 -c``, so the board reads its
own userland architecture, Python, glibc and system packages with edgenet's code before anything is
installed; those lines are prefixed ``fact_``). ``parse_preflight`` turns the lines into a
``Preflight`` whose ``requirements`` is ``edgenet.board.requirements.board_requirements`` of those
facts: the set ``deploy`` installs. ``check`` raises PreflightError for boards edgenet cannot run on.
Tests feed the parser recorded outputs of boards (tests/fixtures/preflight/).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from deploy.errors import PreflightError
from edgenet.board.facts import BoardFacts
from edgenet.board.install import ENV_ESTIMATE_MB, MARGIN_MB
from edgenet.board.identity import board_kind as kind_of_board
from edgenet.board.requirements import RequirementSet, board_requirements

FACTS_SOURCE = Path(__file__).resolve().parent.parent / "edgenet" / "board" / "facts.py"

# POSIX sh: Raspberry Pi OS, Jetson's Ubuntu and Debian all have it. $1 is the target folder, $2 the
# source of edgenet/board/facts.py.
PREFLIGHT_SCRIPT = r"""
d="$1"; case "$d" in "~"*) d="$HOME${d#\~}";; esac
echo "home=$HOME"
echo "user=$(id -un)"
echo "target=$d"
echo "arch=$(uname -m)"
echo "kernel=$(uname -r)"
echo "long_bit=$(getconf LONG_BIT 2>/dev/null)"
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
  "$py" -c 'import sys; print("python_version=%d.%d.%d" % sys.version_info[:3])'
  "$py" -c "$2" 2>/dev/null | sed 's/^/fact_/'
  if "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then echo "venv=yes"; else echo "venv=no"; fi
fi
echo "video=$(ls /dev/video* 2>/dev/null | tr '\n' ' ')"
if command -v systemctl >/dev/null 2>&1; then echo "systemd=yes"; else echo "systemd=no"; fi
if sudo -n true >/dev/null 2>&1; then echo "sudo=yes"; else echo "sudo=no"; fi
if [ -L "$d/current" ]; then echo "current=$(readlink "$d/current")"; fi
echo "envs=$(ls -d "$d"/envs/*/.complete 2>/dev/null | wc -l)"
echo "leftover_kb=$(for r in "$d"/releases/*/; do [ -d "$r" ] && [ ! -f "$r/release.json" ] && du -sk "$r"; done 2>/dev/null | awk '{s+=$1} END {print s+0}')"
echo "end=ok"
"""

# Free space: the artifacts to upload, plus a dependency env (ENV_ESTIMATE_MB) when the board has
# none yet. An estimate: the board command checks the exact need itself, after removing dead leftovers.


def preflight_command(target_dir: str) -> str:
    return ("sh -c " + shlex.quote(PREFLIGHT_SCRIPT) + " edgenet-preflight " + shlex.quote(target_dir) + " "
            + shlex.quote(FACTS_SOURCE.read_text()))


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
    venv: bool
    disk_free_mb: float
    board: str | None
    board_kind: str
    cores: int
    video_devices: tuple[str, ...]
    systemd: bool
    sudo: bool
    current: str | None = None
    facts: BoardFacts | None = None  # None: no python3, or one too old to run edgenet.board.facts
    envs: int = 0  # complete dependency envs in the target folder
    leftover_mb: float = 0.0  # incomplete releases there (an interrupted deploy's; removed before the upload)

    @property
    def requirements(self) -> RequirementSet | None:
        """The board's requirement set: what the dependency env gets, and what preflight refuses on."""
        return board_requirements(self.facts) if self.facts is not None else None

    @property
    def machine(self) -> str:
        """The architecture the Python userland runs: a 64-bit kernel under a 32-bit Raspberry Pi OS
        reports aarch64, but its armhf Python needs armv7l wheels."""
        return self.facts.machine if self.facts is not None else self.arch

    @property
    def python_bits(self) -> int | None:
        return self.facts.pointer_bits if self.facts is not None else None

    @property
    def glibc(self) -> str | None:
        return (self.facts.libc_version or None) if self.facts is not None and self.facts.libc == "glibc" else None

    @property
    def camera_picamera2(self) -> bool:
        return bool(self.facts and self.facts.system_picamera2)

    @property
    def python_text(self) -> str:
        return ".".join(map(str, self.python_version)) if self.python_version else "none"

    @property
    def interpreter(self) -> str | None:
        rs = self.requirements
        return rs.interpreter if rs is not None else None

    def camera_text(self) -> str:
        parts = ["picamera2" if self.camera_picamera2 else "no picamera2"]
        parts.append(", ".join(self.video_devices) if self.video_devices else "no /dev/video*")
        return "; ".join(parts)

    def lines(self) -> list[str]:
        rs = self.requirements
        out = [
            f"board: {self.board or 'unknown'} ({self.board_kind}), {self.cores} cores",
            f"arch: {self.arch}" + (f" ({self.python_bits}-bit userland: {self.machine})" if self.machine != self.arch else ""),
            f"os: {self.os_name}",
            f"python: {self.python or 'none'} {self.python_text}" + ("" if self.venv else " (no venv module)"),
            f"free disk in {self.target}: {self.disk_free_mb:.0f} MB",
            f"camera: {self.camera_text()}",
            f"systemd: {'yes' if self.systemd else 'no'}, passwordless sudo: {'yes' if self.sudo else 'no'}",
        ]
        if rs is not None and rs.problem is None:
            out.append(f"interpreter: {rs.interpreter}")
            out.append("requirements: " + ", ".join(rs.lines))
            out += [f"note: {n}" for n in rs.notes]
        return out


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
    facts_values = {k[len("fact_"):]: v for k, v in values.items() if k.startswith("fact_")}
    facts = None
    if python and facts_values:
        try:
            facts = BoardFacts.from_values(facts_values)
        except ValueError as exc:
            raise PreflightError(f"the board's facts are incomplete ({exc}): is its python3 broken?") from None
    return Preflight(
        home=values.get("home", ""), user=values.get("user", ""), target=values.get("target", ""),
        arch=values["arch"], os_name=values.get("os_name") or values.get("os_id") or "unknown",
        os_id=values.get("os_id", ""), os_version=values.get("os_version", ""),
        python=python, python_version=version, venv=values.get("venv") == "yes",
        disk_free_mb=disk_kb / 1024.0, board=model, board_kind=kind_of_board(model, bool(values.get("tegra"))),
        cores=int(values.get("cores") or 0), video_devices=tuple(values.get("video", "").split()),
        systemd=values.get("systemd") == "yes", sudo=values.get("sudo") == "yes",
        current=values.get("current") or None, facts=facts,
        envs=_int(values.get("envs")), leftover_mb=_int(values.get("leftover_kb")) / 1024.0,
    )


def _int(text: str | None) -> int:
    try:
        return int((text or "0").strip())
    except ValueError:
        return 0


def needed_mb(pre: Preflight, push_mb: float) -> float:
    """What a deploy writes: the artifacts, a dependency env if the board has none yet, a margin."""
    return push_mb + (0 if pre.envs else ENV_ESTIMATE_MB) + MARGIN_MB


def check(pre: Preflight, *, push_mb: float = 0.0) -> RequirementSet:
    """Raise PreflightError when edgenet cannot be installed (free space: ``push_mb`` to upload, plus
    a dependency env when there is none); return the board's requirement set."""
    if pre.python is None:
        raise PreflightError("no python3 on the board: install it (sudo apt install python3 python3-venv)")
    rs = pre.requirements
    if rs is None:
        raise PreflightError(f"{pre.python} is Python {pre.python_text}, too old to run edgenet (needs >= 3.9): "
                             "upgrade the board's OS")
    if rs.problem:
        raise PreflightError(rs.problem)
    if not pre.venv:
        raise PreflightError(f"{pre.python} has no venv/ensurepip module: install it (sudo apt install python3-venv)")
    need = needed_mb(pre, push_mb)
    if pre.disk_free_mb + pre.leftover_mb < need:
        env = "" if pre.envs else f" + {ENV_ESTIMATE_MB} MB for the dependency env"
        raise PreflightError(f"only {pre.disk_free_mb:.0f} MB free in {pre.target}, need {need:.0f} MB "
                             f"({push_mb:.0f} MB to upload{env} + {MARGIN_MB} MB margin): free space on the board, "
                             "or keep fewer releases (--keep 2)")
    return rs


def run_preflight(remote, target_dir: str) -> Preflight:
    return parse_preflight(remote.run(preflight_command(target_dir), what="preflight").stdout)
