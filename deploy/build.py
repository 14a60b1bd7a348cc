"""Workstation-side artefacts a deploy pushes: the board wheel and, for --offline, a wheelhouse of
the board's requirement set (chosen on the board: ``edgenet.board.requirements``) for its platform
(userland architecture, Python, glibc).

The board wheel holds the ``edgenet`` package alone. The repository also holds the workstation
packages (``calibration``, ``deploy``), which a source install (``pip install -e '.[host]'``) makes
importable; the board wheel is built from a staged copy of the project holding only ``pyproject.toml``,
its README and ``edgenet/``, so the same project metadata (name, version, requirements, entry point)
yields a wheel without them, and the built wheel's contents are checked before anything is pushed.
"""

from __future__ import annotations

import hashlib
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
from edgenet.board.facts import BoardFacts
from edgenet.board.requirements import RequirementSet

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


def platform_tags(facts: BoardFacts) -> list[str]:
    """pip --platform tags a board accepts: manylinux_2_17 .. its glibc, the legacy aliases, linux_<arch>."""
    machine = facts.machine
    glibc = (facts.libc_version if facts.libc == "glibc" else "") or "2.17"
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
    rs = pre.requirements
    digest = hashlib.sha256("\n".join(rs.lines if rs else []).encode()).hexdigest()[:8]
    return f"cp{pre.python_version[0]}{pre.python_version[1]}-{pre.machine}-glibc{pre.glibc or 'unknown'}-{digest}"


def write_system_stubs(folder: Path, system: dict[str, str]) -> list[Path]:
    """A metadata-only wheel for each package the board's system provides (``{name: version}``).

    pip on the board finds apt's numpy installed and installs nothing for ``numpy==1.24.2``; ``pip download``
    here cannot be told what the board has installed, and would fetch numpy again, or fail where the
    index has no wheel of it (32-bit ARM). These stand for the system's packages while pip resolves, and
    are never sent to the board."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, version in sorted(system.items()):
        dist = f"{name.replace('-', '_')}-{version}"
        path = folder / f"{dist}-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr(f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                       "Summary: provided by the board's system (apt); never installed from here\n")
            z.writestr(f"{dist}.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: edgenet\nRoot-Is-Purelib: true\n"
                       "Tag: py3-none-any\n")
            z.writestr(f"{dist}.dist-info/RECORD", "")
        out.append(path)
    return out


def pip_platform_args(facts: BoardFacts) -> list[str]:
    """pip's options that make it choose wheels for the board instead of for this workstation."""
    major, minor = facts.python_version[:2]
    args = ["--only-binary=:all:", "--python-version", f"{major}.{minor}", "--implementation", "cp",
            "--abi", f"cp{major}{minor}", "--abi", "abi3", "--abi", "none"]
    for tag in platform_tags(facts):
        args += ["--platform", tag]
    if facts.machine in ("armv7l", "armv6l"):
        # PyPI has no 32-bit ARM numpy; piwheels builds it (and tflite-runtime's numpy<2) for Raspberry Pi OS.
        args += ["--extra-index-url", "https://www.piwheels.org/simple"]
    return args


def board_pip_args(rs: RequirementSet | None, folder: Path) -> list[str]:
    """pip's arguments for a board's requirement set on its platform: the set written to ``folder`` as
    a requirements file, and the system's packages as stubs there (see ``write_system_stubs``). The
    same arguments serve ``pip download`` (the wheelhouse) and ``pip install --dry-run --report``."""
    if rs is None or rs.problem:
        raise DeployError(f"no requirement set for this board: {rs.problem if rs else 'no facts from its python3'}")
    write_system_stubs(folder, rs.system)
    (folder / "requirements.txt").write_text(rs.text())
    return [*pip_platform_args(rs.facts), "--find-links", str(folder), "-r", str(folder / "requirements.txt")]


def build_wheelhouse(pre: Preflight, out_dir: str | os.PathLike | None = None) -> Path:
    """Download binary wheels of the board's requirement set for its platform, without what its
    system provides; pip's cache makes repeats cheap."""
    rs = pre.requirements
    out = Path(out_dir) if out_dir else default_cache() / "wheelhouse" / wheelhouse_key(pre)
    with tempfile.TemporaryDirectory(prefix="edgenet-board-set-") as tmp:
        args = ["download", "-q", "-d", str(out), *board_pip_args(rs, Path(tmp))]
        out.mkdir(parents=True, exist_ok=True)
        with _lock:
            _pip(args, f"downloading the {wheelhouse_key(pre)} wheelhouse")
    system = {n.lower().replace("_", "-") for n in rs.system}
    for wheel in out.glob("*.whl"):  # the system's own packages (stubs, or the index's copy) stay here
        if wheel.name.split("-", 1)[0].lower().replace("_", "-") in system:
            wheel.unlink()
    return out
