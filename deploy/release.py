"""Releases on the board, driven from the workstation: upload, then the board command does the rest.

The board's side of a release (free space, verification of every artifact by size and sha256, the
shared dependency env, the release venv, the smoke test, ``release.json``, the atomic switch of
``current``, pruning, rollback) is ONE command that runs on the board's python3 from the pushed
wheel: ``python3 -m edgenet.cli.release`` (``edgenet.board.releases``/``install``). Ansible calls the
same command, so the logic lives in one place.

``deploy_release`` creates ``BASE/releases/STAMP/``, uploads the wheel, starts the board command in
its interactive mode (it takes the release's lock, removes dead leftovers and checks free space), then
uploads the model, labels and missing wheels, says ``uploaded``, and says ``commit`` only when the
board reports the smoke test passed and nobody pressed Ctrl-C. Anything else (an interrupt, a failed
upload, a full disk, a lost connection) closes the command's stdin: it removes what was written and
``current`` never moves. Every command sent over ssh is an argv list, quoted by ``Remote``.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from deploy.errors import ConnectError, DeployError, Interrupted
from deploy.preflight import Preflight, check, run_preflight
from deploy.session import BoardSession, board_command, final_line
from edgenet.board.releases import BOARD_WHEEL, MARKER, ReleaseError, check_path_text, resolve_base, utc_stamp

DEFAULT_BASE = "~/edgenet"


def checked_base_dir(base_dir: str) -> str:
    """``base_dir`` unchanged, or DeployError when no quoting can carry it to the board safely."""
    try:
        check_path_text(base_dir, "--base-dir")
        if base_dir.startswith("~") and base_dir != "~" and not base_dir.startswith("~/"):
            raise ReleaseError(f"--base-dir {base_dir!r}: only ~ and ~/... are expanded; give the absolute path")
    except ReleaseError as exc:
        raise DeployError(str(exc)) from None
    return base_dir


@dataclass(frozen=True)
class DeployConfig:
    model: Path | str  # a .tflite file, or a model index name (pulled on this workstation by deploy_hosts)
    labels: Path | None = None
    base_dir: str = DEFAULT_BASE
    offline: bool = False
    index_url: str | None = None
    keep: int = 5
    fresh_env: bool = False  # build the dependency env again even if an identical one is on the board

    def __post_init__(self):
        from edgenet.models import looks_like_path

        checked_base_dir(self.base_dir)
        if self.keep < 2:
            raise DeployError(f"--keep must be >= 2 (the current release and one to roll back to), got {self.keep}")
        if isinstance(self.model, str) and not looks_like_path(self.model) and not os.path.isfile(self.model):
            return  # an index name: resolve_names() swaps in the cached file before anything is pushed
        object.__setattr__(self, "model", Path(self.model))
        if not self.model.is_file():
            raise DeployError(f"model {self.model} not found: pass --model PATH/TO/model.tflite")
        if self.labels is not None:
            object.__setattr__(self, "labels", Path(self.labels))
            if not self.labels.is_file():
                raise DeployError(f"labels file {self.labels} not found")
        names = [self.model.name] + ([self.labels.name] if self.labels else [])
        if any(any(ord(c) < 32 or ord(c) == 127 for c in n) or n.startswith(".") for n in names):
            raise DeployError("file names with newlines or other control characters, or starting with '.', "
                              "cannot be deployed: rename the file")
        if self.labels is not None and self.labels.name == self.model.name:
            raise DeployError("the model and the labels file have the same name: rename one")


def resolve_names(config: "DeployConfig", log: Callable[[str], None] = lambda m: None) -> "DeployConfig":
    """A config whose model is an index name, with the workstation's cached file (pulled here if needed,
    sha256-checked) and its labels: boards never need internet."""
    if isinstance(config.model, Path):
        return config
    from dataclasses import replace

    from edgenet.models import resolve_model

    resolved = resolve_model(config.model, log=log)
    log(f"deploying {resolved.name}: {resolved.path}")
    return replace(config, model=resolved.path, labels=config.labels or resolved.labels)


@dataclass(frozen=True)
class EnvInfo:
    """The dependency env a release uses: ``envs/<key>-<stamp>``, found on the board or built by this deploy."""

    name: str
    reused: bool

    @property
    def key(self) -> str:
        return self.name.split("-", 1)[0]


@dataclass
class DeployResult:
    host: str
    release: str
    preflight: Preflight
    smoke: dict = field(default_factory=dict)
    service: list[str] = field(default_factory=list)
    env: EnvInfo | None = None
    board: dict = field(default_factory=dict)  # the board command's result line


_digests: dict = {}
_digest_lock = threading.Lock()


def file_entry(path: Path) -> dict:
    """{name, size, sha256} of a file (cached by path, size and mtime: a fleet hashes each file once)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _digest_lock:
        if key not in _digests:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            _digests[key] = h.hexdigest()
    return {"name": path.name, "size": st.st_size, "sha256": _digests[key]}


def unpacked_size(wheel: Path) -> int:
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        return sum(i.file_size for i in z.infolist())


def artifact_manifest(wheel: Path, model: Path, labels: Path | None = None,
                      wheelhouse: list[Path] | tuple[Path, ...] = ()) -> dict:
    """What the board command verifies (size and sha256, on the board) and installs; also what an
    Ansible play copies. See docs/deploy.md, "The board command"."""
    house = []
    for w in sorted(wheelhouse, key=lambda p: p.name):
        house.append({**file_entry(w), "unpacked": unpacked_size(w)})
    return {"wheel": file_entry(wheel), "model": file_entry(model),
            "labels": file_entry(labels) if labels is not None else None, "wheelhouse": house}


def push_bytes(manifest: dict) -> int:
    items = [manifest["wheel"], manifest["model"], manifest.get("labels")] + list(manifest.get("wheelhouse") or [])
    return sum(i["size"] for i in items if i)


STEP_EVENTS = ("verified", "env", "venv", "smoke")


def deploy_release(remote, config: DeployConfig, *, wheel: Path, manifest: dict | None = None,
                   wheelhouse: Callable[[Preflight], Path] | None = None,
                   log: Callable[[str], None] = lambda m: None, on_step: Callable[[str], None] = lambda s: None,
                   after_preflight: Callable[[Preflight], None] | None = None,
                   cancel: threading.Event | None = None) -> DeployResult:
    """Deploy one release to a connected board and make it current. ``on_step`` is told each finished
    step (preflight, checked, uploaded-model, uploaded, verified, env, venv, smoke, switched): progress
    for the CLI, an interruption point for tests. A set ``cancel`` (Ctrl-C) stops the deploy before the
    switch and undoes it."""
    host = remote.spec.alias
    cancel = cancel if cancel is not None else threading.Event()
    pre = run_preflight(remote, config.base_dir)
    for line in pre.lines():
        log(f"{host}: {line}")
    check(pre)  # a board edgenet cannot run on is refused before the wheelhouse is built for it
    wheels = sorted(Path(wheelhouse(pre)).glob("*.whl")) if config.offline and wheelhouse else []
    if config.offline and wheelhouse is None:
        raise DeployError("--offline needs a wheelhouse")
    if manifest is None or wheels:
        manifest = artifact_manifest(wheel, config.model, config.labels, wheels)
    check(pre, push_mb=push_bytes(manifest) / 2**20)
    on_step("preflight")
    if after_preflight:
        after_preflight(pre)
    base = resolve_base(config.base_dir, home=pre.home)
    stamp = utc_stamp()
    rel = f"{base}/releases/{stamp}"
    remote.run(["mkdir", "-p", "--", f"{rel}/model"], what="creating the release folder")
    session, committed = None, False
    try:
        remote.put(wheel, f"{rel}/{wheel.name}", cancel)
        args = ["--base", base, "--release", stamp, "--manifest", "-", "--interactive", "--keep", str(config.keep)]
        if config.offline:
            args += ["--wheelhouse", f"{base}/wheelhouse"]
        elif config.index_url:
            args += ["--index-url", config.index_url]
        if config.fresh_env:
            args.append("--fresh-env")
        session = BoardSession(remote, board_command(pre.python, f"{rel}/{wheel.name}", "install", *args),
                               log=log)
        session.send(json.dumps(manifest))
        ready = session.wait("upload", cancel)
        on_step("checked")
        log(f"{host}: uploading to {rel} ({ready.get('free_mb')} MB free, {ready.get('need_mb')} MB needed)")
        remote.put(config.model, f"{rel}/model/{config.model.name}", cancel)
        if config.labels is not None:
            remote.put(config.labels, f"{rel}/model/{config.labels.name}", cancel)
        on_step("uploaded-model")
        missing = set(ready.get("missing") or [])
        if missing:
            remote.run(["mkdir", "-p", "--", f"{rel}/wheelhouse"], what="creating the wheelhouse upload folder")
            for w in wheels:
                if w.name in missing:
                    remote.put(w, f"{rel}/wheelhouse/{w.name}", cancel)
            log(f"{host}: wheelhouse: {len(missing)} new wheel(s) uploaded")
        on_step("uploaded")
        session.send("uploaded")
        events = {}

        def progress(event):
            events[event["event"]] = event
            on_step(event["event"])

        session.wait("ready", cancel, on_event=progress)
        on_step("ready")
        if cancel.is_set():  # the last look before the point of no return
            raise Interrupted(f"{host}: interrupted")
        committed = True
        session.send("commit")
        result = session.finish()
    except BaseException as exc:
        if committed:  # the board may have switched: never remove what may be current
            raise DeployError(f"{host}: lost the board command after `commit` ({exc}): see what is current with "
                              f"`edgenet remote {host} run --max-frames 1`") from None
        _undo(remote, session, rel, log)
        if isinstance(exc, Interrupted) or (cancel.is_set() and isinstance(exc, (ConnectError, DeployError))):
            raise Interrupted(f"{host}: interrupted before the switch: {rel} removed, current is unchanged") from None
        if isinstance(exc, ConnectError) and "upload of" in str(exc):
            raise ConnectError(f"{exc}{_free_note(remote, base)}; what this deploy wrote was removed, "
                               "the previous release is still current") from None
        raise
    on_step("switched")  # the board said "current -> releases/STAMP" itself
    return DeployResult(host=host, release=rel, preflight=pre, smoke=result.get("smoke") or {},
                        env=EnvInfo(result.get("env") or "", bool(result.get("env_reused"))), board=result)


def _undo(remote, session: BoardSession | None, rel: str, log) -> None:
    """Remove what this deploy wrote: the board command does it when told (stdin closed); before it
    ran, or if it cannot say so, the release folder goes by hand. Best effort: the board's own
    cleanup of dead leftovers catches what a lost connection leaves."""
    try:
        board = session.abort() if session is not None else None
        if board is None or not board.get("aborted") and not board.get("failed"):
            remote.run(["rm", "-rf", "--", rel], check=False, what="removing the interrupted release")
    except Exception:  # noqa: BLE001 - the connection may be gone; the next deploy cleans up
        pass


def _free_note(remote, base: str) -> str:
    try:
        out = remote.run(["df", "-Pk", "--", posixpath.dirname(base) or "/"], check=False, what="df").stdout
        free_mb = int(out.strip().splitlines()[-1].split()[3]) / 1024
        return f" (the board has {free_mb:.0f} MB free)"
    except Exception:  # noqa: BLE001
        return ""


def _board(remote, base: str, action: str, *args: str, what: str) -> dict:
    """Run a one-shot action of the board command from the current release's wheel."""
    wheel = f"{base}/current/{BOARD_WHEEL}"
    try:
        remote.sftp.stat(wheel)
    except OSError:
        try:
            remote.sftp.stat(f"{base}/current")
        except OSError:
            raise DeployError(f"{remote.spec.alias}: nothing deployed in {base}: run `edgenet deploy` first") from None
        raise DeployError(f"{remote.spec.alias}: the current release in {base} predates the board command: "
                          "deploy once with this edgenet") from None
    out = remote.run(board_command("python3", wheel, action, "--base", base, *args), check=False, what=what, cwd="/")
    result = final_line(out.stdout)
    if result.get("failed"):
        raise DeployError(f"{remote.spec.alias}: {result.get('msg')}")
    return result


def remote_base(remote, base_dir: str = DEFAULT_BASE) -> str:
    """The absolute base folder on the board (``~`` and relative paths are the board user's HOME)."""
    checked_base_dir(base_dir)
    home = None
    if not base_dir.startswith("/"):
        home = remote.run('printf %s "$HOME"', what="reading $HOME").stdout.strip()
    return resolve_base(base_dir, home=home)


def rollback(remote, base_dir: str = DEFAULT_BASE) -> tuple[str, str]:
    """Point current at the newest complete release older than the current one. Returns (from, to)."""
    result = _board(remote, remote_base(remote, base_dir), "rollback", what="rollback")
    return result["from"], result["to"]


def current_release(remote, base_dir: str = DEFAULT_BASE) -> tuple[str, dict]:
    """(absolute path of the current release, its release.json)."""
    base = remote_base(remote, base_dir)
    try:
        # Resolved once: venv and model then come from the same release even if a deploy switches
        # `current` while this work runs.
        cur = remote.sftp.normalize(f"{base}/current")
        with remote.sftp.open(f"{cur}/{MARKER}") as f:
            meta = json.loads(f.read().decode())
    except OSError:
        raise DeployError(f"{remote.spec.alias}: no current release in {base}: "
                          "run `edgenet deploy HOST --model M` first") from None
    return cur, meta
