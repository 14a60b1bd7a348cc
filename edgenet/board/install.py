"""Building one release on the board, from artifacts already there, up to the switch of ``current``.

The order is what keeps a board working: take the release's lock, remove dead leftovers, check free
space, put the artifacts in place, verify each one's size and sha256 here on the board, find or build
the dependency env, make the release venv, smoke-test it, and only then (``commit``) write
``release.json`` and switch ``current`` (``edgenet.board.releases``). Whatever fails or is aborted
before that removes what this run wrote, and ``current`` never moved.

Dependency envs (``BASE/envs/KEY-STAMP/``): numpy, OpenCV and the interpreter take minutes to install
on a Pi, and rarely change; so they live in a venv of their own, keyed by everything that decides
its contents (this Python, its userland architecture and glibc, the requirement set, where pip gets
it), built in ``envs/.KEY-STAMP`` and renamed into place with ``.complete`` inside, never changed
after. Each release's venv holds edgenet alone and reaches the env through one ``.pth`` line (after
its own site-packages, before the system's, so apt's picamera2 stays visible).

Child processes (venv, pip, the smoke test) run through ``Runner``, which kills the running one when
the run is aborted. Standard library only, Python 3.7+.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass, field

from edgenet.board.releases import BOARD_WHEEL, COMPLETE, Aborted, BadInput, Layout, ReleaseError

ENV_ESTIMATE_MB = 350  # numpy + OpenCV + LiteRT + rich installed from an index: ~310 MB measured on x86-64
MARGIN_MB = 16
UNPACK_FACTOR = 3  # a wheel's installed size over its file size when the manifest does not say
PTH_NAME = "edgenet-deps.pth"
SMOKE_SOURCE = "pattern://?frames=2"
SMOKE_TIMEOUT_S = 300
PIP_TIMEOUT_S = 1800
_NAME_RE = re.compile(r"^[^/\x00-\x1f\x7f]+$")


class Runner:
    """Runs child processes; ``abort`` (a signal handler, the stdin watcher) kills the running one,
    and ``check`` raises Aborted at the next step boundary."""

    def __init__(self):
        self.aborted = threading.Event()
        self.reason = ""
        self._proc = None
        self._lock = threading.Lock()

    def abort(self, reason: str) -> None:
        if not self.aborted.is_set():
            self.reason = reason
        self.aborted.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except OSError:
                pass

    def check(self) -> None:
        if self.aborted.is_set():
            raise Aborted(f"aborted ({self.reason}) before the switch: current is unchanged")

    def run(self, argv: list, what: str, timeout: float = 600, check: bool = True):
        self.check()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                universal_newlines=True, start_new_session=True, cwd="/")
        with self._lock:
            self._proc = proc
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ReleaseError(f"{what} timed out after {timeout:g} s") from None
        finally:
            with self._lock:
                self._proc = None
        self.check()
        if check and proc.returncode != 0:
            tail = " | ".join((err or out).strip().splitlines()[-3:])
            raise ReleaseError(f"{what} failed (exit {proc.returncode}): {tail}")
        return proc.returncode, out, err


# ---- the manifest and its verification -------------------------------------------------------------

def check_manifest(manifest: dict) -> dict:
    """ReleaseError unless ``manifest`` names a wheel and a model (and optional labels and wheelhouse
    wheels) by plain file name, with an integer size and a sha256."""
    def entry(item, what):
        if not isinstance(item, dict):
            raise BadInput(f"manifest: {what} must be an object with name, size and sha256")
        name, size, digest = item.get("name"), item.get("size"), item.get("sha256")
        if not isinstance(name, str) or not _NAME_RE.match(name) or name in (".", "..", BOARD_WHEEL) \
                or name.startswith("."):
            raise BadInput(f"manifest: {what} name {name!r} is not a plain file name")
        if not isinstance(size, int) or size < 0:
            raise BadInput(f"manifest: {what} size {size!r} is not a byte count")
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise BadInput(f"manifest: {what} sha256 {digest!r} is not 64 hex digits")
        return item

    if not isinstance(manifest, dict):
        raise BadInput("manifest: expected a JSON object")
    entry(manifest.get("wheel"), "wheel")
    if not str(manifest["wheel"]["name"]).endswith(".whl"):
        raise BadInput("manifest: the wheel's name must end in .whl")
    entry(manifest.get("model"), "model")
    if manifest.get("labels") is not None:
        entry(manifest["labels"], "labels")
        if manifest["labels"]["name"] == manifest["model"]["name"]:
            raise BadInput("manifest: the model and the labels have the same name")
    for i, wheel in enumerate(manifest.get("wheelhouse") or []):
        entry(wheel, f"wheelhouse[{i}]")
    return manifest


def file_digest(path: str, runner: Runner | None = None) -> tuple:
    """(size, sha256 hex) of a file, read in 1 MB blocks (an abort is noticed between blocks)."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while True:
            if runner is not None:
                runner.check()
            block = f.read(1 << 20)
            if not block:
                break
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def verify(path: str, item: dict, what: str, runner: Runner | None = None) -> None:
    """ReleaseError unless the file at ``path`` has the manifest's size and sha256."""
    try:
        size, digest = file_digest(path, runner)
    except FileNotFoundError:
        raise ReleaseError(f"{what} {item['name']} is missing on the board ({path})") from None
    if size != item["size"]:
        raise ReleaseError(f"{what} {item['name']} on the board has {size} bytes, expected {item['size']} "
                           "(an interrupted or failed upload): deploy again")
    if digest != item["sha256"]:
        raise ReleaseError(f"{what} {item['name']} on the board has sha256 {digest[:12]}…, expected "
                           f"{item['sha256'][:12]}… (corrupted in transfer or on disk): deploy again")


# ---- the requirement set and the env key -----------------------------------------------------------

def requirement_set():
    """The requirement set the dependency env gets, chosen here on the board from its own facts
    (``edgenet.board.requirements``: the interpreter by userland, Python and glibc; numpy held to the
    system's when apt's picamera2 or OpenCV needs it; apt's OpenCV where pip's cannot serve). The one
    call that decides it; a board nothing can be installed on is a ReleaseError with the reason."""
    from edgenet.board.facts import gather_facts
    from edgenet.board.requirements import board_requirements

    rs = board_requirements(gather_facts())
    if rs.problem:
        raise ReleaseError(rs.problem)
    return rs


def userland_machine() -> str:
    """The architecture the Python userland runs: a 32-bit OS on a 64-bit kernel says aarch64."""
    machine = platform.machine()
    if machine == "aarch64" and struct.calcsize("P") == 4:
        return "armv7l"
    return machine


def env_key(requirements: list, source: str) -> str:
    """Everything that decides what pip puts into the env, hashed (16 hex digits)."""
    facts = {"python": os.path.realpath(sys.executable), "version": platform.python_version(),
             "machine": userland_machine(), "glibc": platform.libc_ver()[1], "requirements": sorted(requirements),
             "source": source}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Source:
    """Where pip gets the dependencies: a wheelhouse folder (offline), an index, or pip's config."""

    wheelhouse: str | None = None
    index_url: str | None = None
    wheels: list = field(default_factory=list)  # the manifest's wheelhouse entries

    def key_text(self) -> str:
        if self.wheelhouse is not None:
            names = [w["name"] for w in self.wheels] or sorted(n for n in _listdir(self.wheelhouse) if n.endswith(".whl"))
            return "wheelhouse:" + ",".join(sorted(names))
        return "index:" + self.index_url if self.index_url else "pypi"

    def estimate_bytes(self) -> int:
        if self.wheelhouse is not None and self.wheels:
            return sum(int(w.get("unpacked") or UNPACK_FACTOR * w["size"]) for w in self.wheels)
        return ENV_ESTIMATE_MB << 20


def _listdir(folder: str) -> list:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


def newest_env(layout: Layout, key: str) -> str | None:
    names = [n for n in layout.env_names() if n.startswith(key + "-") and os.path.isfile(os.path.join(layout.envs, n, COMPLETE))]
    return names[-1] if names else None


def purelib(runner: Runner, python: str) -> str:
    _, out, _ = runner.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                           "locating site-packages")
    return out.strip()


def build_env(runner: Runner, layout: Layout, name: str, requirements, source: Source, log) -> None:
    """Build ``envs/NAME`` in ``envs/.NAME`` from ``requirements`` (a RequirementSet) and rename it into
    place (atomic: complete or absent)."""
    tmp = os.path.join(layout.envs, "." + name)
    os.makedirs(layout.envs, exist_ok=True)
    log(f"building dependency env envs/{name} with {sys.executable}: {', '.join(requirements.lines)}")
    runner.run([sys.executable, "-m", "venv", "--system-site-packages", tmp], "creating the dependency env")
    with open(os.path.join(tmp, "requirements.txt"), "w") as f:
        f.write(requirements.text())
    pip = [os.path.join(tmp, "bin", "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    links = None
    if source.wheelhouse is not None:
        links = source.wheelhouse
        if source.wheels:  # exactly the manifest's wheels, not whatever else the folder collected
            links = os.path.join(tmp, ".wheels")
            os.makedirs(links)
            for w in source.wheels:
                link_or_copy(os.path.join(source.wheelhouse, w["name"]), os.path.join(links, w["name"]))
        pip += ["--no-index", "--find-links", links]
    elif source.index_url:
        pip += ["--index-url", source.index_url]
    runner.run(pip + ["-r", os.path.join(tmp, "requirements.txt")], "pip install (dependencies)", PIP_TIMEOUT_S)
    if links and links.startswith(tmp):
        shutil.rmtree(links)
    open(os.path.join(tmp, COMPLETE), "w").close()
    runner.check()
    os.rename(tmp, os.path.join(layout.envs, name))


def make_release_venv(runner: Runner, venv: str, env_path: str, wheel: str) -> None:
    """A venv holding edgenet alone, on top of the env: no pip of its own, nothing downloaded."""
    runner.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], "creating the venv")
    python = os.path.join(venv, "bin", "python")
    own, deps = purelib(runner, python), purelib(runner, os.path.join(env_path, "bin", "python"))
    if not own or not deps:
        raise ReleaseError(f"cannot locate site-packages in {venv} or {env_path}")
    with open(os.path.join(own, PTH_NAME), "w") as f:
        f.write(deps + "\n")
    # As a file:// URL: pip reads a ';' in a plain path as the start of an environment marker.
    runner.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "--no-index",
                pathlib.Path(wheel).as_uri()], "pip install (edgenet)")


def smoke_argv(venv: str, model: str, labels: str | None) -> list:
    argv = [os.path.join(venv, "bin", "python"), "-m", "edgenet", "run", "--model", model]
    if labels:
        argv += ["--labels", labels]
    return argv + ["--source", SMOKE_SOURCE, "--max-frames", "2", "--json", "--threads", "1"]


def parse_smoke(stdout: str, stderr: str = "") -> dict:
    """The smoke test passes when `edgenet run --json` printed one result per frame, with a top-1."""
    frames = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and "frame" in row and row.get("top"):
                frames.append(row)
    if len(frames) < 2:
        tail = " | ".join((stderr or stdout).strip().splitlines()[-2:])
        raise ReleaseError(f"smoke test printed {len(frames)} result line(s), expected 2: {tail}")
    top = frames[-1]["top"][0]
    return {"frames": len(frames), "top1": top.get("label", top.get("index")), "score": top.get("score"),
            "infer_ms": frames[-1].get("infer_ms")}


def link_or_copy(src: str, dst: str) -> bool:
    """Hard-link ``src`` to ``dst`` (no space, same bytes), or copy it across filesystems: True if copied."""
    try:
        os.link(src, dst)
        return False
    except OSError:
        shutil.copyfile(src, dst)
        return True


def free_bytes(path: str) -> int:
    while not os.path.isdir(path):
        path = os.path.dirname(path)
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def check_space(needs: dict) -> tuple:
    """``needs``: {folder: bytes to write there}. ReleaseError when a filesystem lacks room (+ margin).
    Returns (free MB, needed MB) of the tightest filesystem."""
    per_dev: dict = {}
    for folder, n in needs.items():
        probe = folder
        while not os.path.isdir(probe):
            probe = os.path.dirname(probe)
        dev = os.stat(probe).st_dev
        free, total, where = per_dev.get(dev, (free_bytes(probe), 0, folder))
        per_dev[dev] = (free, total + n, where)
    tight = None
    for free, total, where in per_dev.values():
        need = total + (MARGIN_MB << 20)
        if free < need:
            raise ReleaseError(f"only {free / 2**20:.0f} MB free in {where}, need {need / 2**20:.0f} MB "
                               f"({total / 2**20:.0f} MB to write + {MARGIN_MB} MB margin): free space on the board "
                               "(old files, `edgenet deploy --keep 2`), then deploy again")
        if tight is None or free - need < tight[0] - tight[1]:
            tight = (free, need)
    return (round(tight[0] / 2**20, 1), round(tight[1] / 2**20, 1)) if tight else (0.0, 0.0)
