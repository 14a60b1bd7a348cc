"""Workstation-side artefacts a deploy pushes: the board wheel and, for --offline, a wheelhouse of
the device dependencies built for the board's platform (CPU architecture, Python, glibc).

The board wheel holds the ``edgenet`` package alone. The repository also holds the workstation
packages (``calibration``, ``deploy``), which a source install (``pip install -e '.[host]'``) makes
importable; the board wheel is built from a staged copy of the project holding only ``pyproject.toml``,
its README and ``edgenet/``, so the same project metadata (name, version, requirements, entry point)
yields a wheel without them, and the built wheel's contents are checked before anything is pushed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

from deploy.errors import DeployError
from edgenet.cache import cache_root
from deploy.preflight import Preflight

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BOARD_PACKAGE = "edgenet"
BOARD_FILES = ("pyproject.toml", "README.md")  # what the project metadata needs beside the package
_lock = threading.Lock()
_wheels: dict[str, Path] = {}


def default_cache() -> Path:
    """edgenet's one cache (edgenet.cache): the wheel and wheelhouses go in its wheel/ and wheelhouse/."""
    return cache_root()


def _pip(args: list[str], what: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise DeployError(f"{what} failed on the workstation: {tail}")


def stage_board_project(dest: Path) -> Path:
    """Copy what the board wheel is built from into ``dest``: the project metadata and ``edgenet/``."""
    for name in BOARD_FILES:
        shutil.copy2(PROJECT_ROOT / name, dest / name)
    shutil.copytree(PROJECT_ROOT / BOARD_PACKAGE, dest / BOARD_PACKAGE,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def wheel_top_level(wheel: Path) -> set[str]:
    """The top-level names a wheel installs (packages, modules, its .dist-info)."""
    with zipfile.ZipFile(wheel) as z:
        return {name.split("/", 1)[0] for name in z.namelist()}


def check_board_wheel(wheel: Path) -> None:
    """DeployError unless ``wheel`` installs the ``edgenet`` package and its metadata, nothing else."""
    extra = sorted(n for n in wheel_top_level(wheel) if n != BOARD_PACKAGE and not n.endswith(".dist-info"))
    if extra:
        raise DeployError(f"{wheel.name} holds {', '.join(extra)} beside {BOARD_PACKAGE}; a board wheel holds "
                          f"{BOARD_PACKAGE} alone")


def build_wheel(out_dir: str | os.PathLike | None = None) -> Path:
    """The board wheel (``edgenet`` alone, see above), built once per process (fleets share it)."""
    if not all((PROJECT_ROOT / name).is_file() for name in BOARD_FILES):
        raise DeployError(f"cannot build edgenet's wheel: no {' or '.join(BOARD_FILES)} in {PROJECT_ROOT} "
                          "(deploy from a source checkout)")
    out = Path(out_dir) if out_dir else default_cache() / "wheel"
    with _lock:
        if str(out) in _wheels and _wheels[str(out)].exists():
            return _wheels[str(out)]
        out.mkdir(parents=True, exist_ok=True)
        for old in out.glob("edgenet-*.whl"):
            old.unlink()
        with tempfile.TemporaryDirectory(prefix="edgenet-board-wheel-") as stage:
            args = ["wheel", "--no-deps", "-q", "-w", str(out.resolve()), str(stage_board_project(Path(stage)))]
            try:
                # Without isolation first: no index round-trip when this environment's setuptools is new enough.
                _pip(args[:3] + ["--no-build-isolation"] + args[3:], "building edgenet's wheel")
            except DeployError:
                _pip(args, "building edgenet's wheel")
        wheels = sorted(out.glob("edgenet-*.whl"))
        if not wheels:
            raise DeployError(f"pip wheel wrote no edgenet wheel into {out}")
        check_board_wheel(wheels[-1])
        _wheels[str(out)] = wheels[-1]
        return wheels[-1]


def platform_tags(pre: Preflight) -> list[str]:
    """pip --platform tags a board accepts: manylinux_2_17 .. its glibc, the legacy aliases, linux_<arch>."""
    machine = pre.machine
    glibc = pre.glibc or "2.17"
    try:
        major, minor = (int(x) for x in glibc.split(".")[:2])
    except ValueError:
        major, minor = 2, 17
    tags = [f"manylinux_{major}_{m}_{machine}" for m in range(17, minor + 1)] if major == 2 else []
    if machine in ("x86_64", "aarch64"):
        tags.append(f"manylinux2014_{machine}")
    if machine == "armv7l":
        tags.append("manylinux2014_armv7l")
    tags.append(f"linux_{machine}")
    return tags


def wheelhouse_key(pre: Preflight) -> str:
    return f"cp{pre.python_version[0]}{pre.python_version[1]}-{pre.machine}-glibc{pre.glibc or 'unknown'}"


def build_wheelhouse(pre: Preflight, requirements: list[str], out_dir: str | os.PathLike | None = None) -> Path:
    """Download binary wheels of ``requirements`` (the board wheel's own, see ``deploy.envs.wheel_requirements``)
    for the board's platform; pip's cache makes repeats cheap."""
    out = Path(out_dir) if out_dir else default_cache() / "wheelhouse" / wheelhouse_key(pre)
    out.mkdir(parents=True, exist_ok=True)
    major, minor = pre.python_version[:2]
    args = ["download", "-q", "--only-binary=:all:", "-d", str(out), "--python-version", f"{major}.{minor}",
            "--implementation", "cp", "--abi", f"cp{major}{minor}"]
    for tag in platform_tags(pre):
        args += ["--platform", tag]
    if pre.machine in ("armv7l", "armv6l"):
        # PyPI has no 32-bit ARM wheels of OpenCV or tflite-runtime; piwheels builds them for Raspberry Pi OS.
        args += ["--extra-index-url", "https://www.piwheels.org/simple"]
    with _lock:
        _pip(args + pre.requirements_for(requirements), f"downloading the {wheelhouse_key(pre)} wheelhouse")
    return out
