"""Releases on the board: ``<base>/releases/<UTC stamp>/`` holds the wheel, the model (+labels), a
venv with edgenet alone and ``release.json``; ``<base>/current`` points at the running one. The
dependencies (numpy, OpenCV, LiteRT) come from a shared, never-modified env (``deploy.envs``), built
once per distinct set of requirements, so a redeploy installs nothing but edgenet.

The order is what keeps a board working: upload everything into a new folder, build the venv, run a
smoke test there, write ``release.json`` (the "complete" marker), and only then switch ``current``
atomically (``ln -s`` to a temp name, ``mv -T`` over the link: rename(2) is atomic). An interrupted
deploy leaves a folder without ``release.json`` and ``current`` untouched. Every remote path and
argument goes through ``shlex.quote``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from deploy.envs import ENVS, Env, env_key, ensure_env, make_release_venv, prune_envs
from deploy.errors import DeployError, RemoteCommandError
from deploy.preflight import Preflight, check, run_preflight

DEFAULT_BASE = "~/edgenet"
MARKER = "release.json"
SMOKE_SOURCE = "pattern://?frames=2"

q = shlex.quote


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

        if isinstance(self.model, str) and not looks_like_path(self.model) and not os.path.isfile(self.model):
            if self.keep < 2:
                raise DeployError(f"--keep must be >= 2 (the current release and one to roll back to), got {self.keep}")
            return  # an index name: resolve_names() swaps in the cached file before anything is pushed
        object.__setattr__(self, "model", Path(self.model))
        if not self.model.is_file():
            raise DeployError(f"model {self.model} not found: pass --model PATH/TO/model.tflite")
        if self.labels is not None:
            object.__setattr__(self, "labels", Path(self.labels))
            if not self.labels.is_file():
                raise DeployError(f"labels file {self.labels} not found")
        if "\n" in self.model.name or (self.labels and "\n" in self.labels.name):
            raise DeployError("file names with newlines cannot be deployed: rename the file")
        if self.keep < 2:
            raise DeployError(f"--keep must be >= 2 (the current release and one to roll back to), got {self.keep}")


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


@dataclass
class DeployResult:
    host: str
    release: str
    preflight: Preflight
    smoke: dict = field(default_factory=dict)
    service: list[str] = field(default_factory=list)
    env: Env | None = None


def utc_stamp(now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"


def smoke_command(venv: str, model: str) -> str:
    return (f"{q(venv + '/bin/edgenet')} run --model {q(model)} --source {q(SMOKE_SOURCE)} "
            "--max-frames 2 --json --threads 1")


def parse_smoke(stdout: str) -> dict:
    """The smoke test passes when `edgenet run --json` printed one result per frame, with a top-1."""
    frames = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and "frame" in row and row.get("top"):
                frames.append(row)
    if len(frames) < 2:
        raise DeployError(f"smoke test printed {len(frames)} result line(s), expected 2: "
                          + " | ".join(stdout.strip().splitlines()[-2:]))
    top = frames[-1]["top"][0]
    return {"frames": len(frames), "top1": top.get("label", top.get("index")), "score": top.get("score"),
            "infer_ms": frames[-1].get("infer_ms")}


def switch_command(base: str, target_rel: str, stamp: str) -> str:
    """Atomic switch of <base>/current to <target_rel> (a path relative to base)."""
    tmp = f"{base}/.current-{stamp}"
    return f"ln -sfn {q(target_rel)} {q(tmp)} && mv -T {q(tmp)} {q(base + '/current')}"


def _upload_if_missing(remote, local: Path, remote_dir: str, existing: set[str]) -> bool:
    if local.name in existing:
        return False
    # Upload under a temporary name and rename: a killed transfer never leaves a truncated wheel
    # under its real name for the next --offline deploy to trust.
    tmp = f"{remote_dir}/.{local.name}.part"
    remote.put(local, tmp)
    remote.sftp.posix_rename(tmp, f"{remote_dir}/{local.name}")
    return True


def deploy_release(remote, config: DeployConfig, *, wheel: Path, wheelhouse: Callable[[Preflight], Path] | None = None,
                   log: Callable[[str], None] = lambda m: None, on_step: Callable[[str], None] = lambda s: None,
                   after_preflight: Callable[[Preflight], None] | None = None) -> DeployResult:
    """Deploy one release to a connected board and make it current. ``on_step`` is told each finished
    step (preflight, uploaded, venv, smoke, switched): progress for the CLI, an interruption point for tests."""
    host = remote.spec.alias
    pre = run_preflight(remote, config.base_dir)
    for line in pre.lines():
        log(f"{host}: {line}")
    requirements = check(pre)  # the set chosen from the board's own facts: exactly what the env gets
    on_step("preflight")
    if after_preflight:
        after_preflight(pre)
    base = pre.target
    stamp = utc_stamp()
    rel_name = f"releases/{stamp}"
    rel = f"{base}/{rel_name}"
    venv = f"{rel}/venv"
    model_remote = f"{rel}/model/{config.model.name}"
    remote.run(f"mkdir -p {q(rel + '/model')} {q(base + '/wheelhouse')}", what="creating the release folder")
    log(f"{host}: uploading to {rel}")
    remote.put(wheel, f"{rel}/{wheel.name}")
    remote.put(config.model, model_remote)
    labels_remote = None
    if config.labels is not None:
        labels_remote = f"{rel}/model/{config.labels.name}"
        remote.put(config.labels, labels_remote)
    on_step("uploaded-model")
    pip_source: list[str] = []
    source = "index:" + config.index_url if config.index_url else "pypi"
    if config.offline:
        if wheelhouse is None:
            raise DeployError("--offline needs a wheelhouse")
        local_wh = wheelhouse(pre)
        wh = f"{base}/wheelhouse"
        existing = set(remote.sftp.listdir(wh))
        wheels = sorted(Path(local_wh).glob("*.whl"))
        sent = sum(_upload_if_missing(remote, f, wh, existing) for f in wheels)
        log(f"{host}: wheelhouse: {sent} new wheel(s) uploaded to {wh}")
        pip_source = ["--no-index", "--find-links", q(wh)]
        source = "wheelhouse:" + ",".join(f.name for f in wheels)
    elif config.index_url:
        pip_source = ["--index-url", q(config.index_url)]
    on_step("uploaded")
    env = ensure_env(remote, pre, base, env_key(pre, requirements, source), requirements, pip_source, stamp,
                     fresh=config.fresh_env, log=lambda m: log(f"{host}: {m}"))
    on_step("env")
    log(f"{host}: creating the release venv (--system-site-packages) with {pre.python}: {wheel.name} on {ENVS}/{env.name}")
    make_release_venv(remote, pre, venv, env, f"{rel}/{wheel.name}")
    on_step("venv")
    out = remote.run(smoke_command(venv, model_remote), check=False, timeout=300, what="smoke test")
    if out.exited != 0:
        tail = " | ".join((out.stderr or out.stdout).strip().splitlines()[-2:])
        raise DeployError(f"{host}: smoke test failed in {rel} (exit {out.exited}): {tail}; "
                          "the previous release is still current")
    smoke = parse_smoke(out.stdout)
    log(f"{host}: smoke test passed: {smoke['frames']} frames, top-1 {smoke['top1']}")
    on_step("smoke")
    meta = {"release": stamp, "model": config.model.name, "labels": config.labels.name if config.labels else None,
            "wheel": wheel.name, "interpreter": requirements.interpreter, "python": pre.python_text, "env": env.name,
            "smoke": smoke}
    remote.write_text(f"{rel}/{MARKER}", json.dumps(meta, indent=2) + "\n")
    remote.run(switch_command(base, rel_name, stamp), what="switching current")
    log(f"{host}: current -> {rel_name}")
    on_step("switched")
    _prune(remote, base, config.keep, env.name)
    return DeployResult(host=host, release=rel, preflight=pre, smoke=smoke, env=env)


def list_releases(remote, base: str) -> tuple[list[str], str | None]:
    """(complete release names, oldest first; name of the current one). One command, quoted."""
    cmd = (f"cd {q(base)} 2>/dev/null || exit 0; for r in releases/*/; do [ -f \"$r\"{MARKER} ] && basename \"$r\"; done; "
           f"[ -L current ] && echo \"current=$(readlink current)\"")
    out = remote.run(cmd, check=False, what="listing releases").stdout
    names, current = [], None
    for line in out.splitlines():
        if line.startswith("current="):
            current = posixpath.basename(line.split("=", 1)[1].rstrip("/"))
        elif line.strip():
            names.append(line.strip())
    return sorted(names), current


def remote_base(remote, base_dir: str = DEFAULT_BASE) -> str:
    """The absolute base folder ('~' expanded by the board's shell, not ours)."""
    if base_dir.startswith("~"):
        home = remote.run('printf %s "$HOME"', what="reading $HOME").stdout.strip()
        return home + base_dir[1:]
    return base_dir


def rollback(remote, base_dir: str = DEFAULT_BASE) -> tuple[str, str]:
    """Point current at the newest complete release older than the current one. Returns (from, to)."""
    base = remote_base(remote, base_dir)
    names, current = list_releases(remote, base)
    if current is None:
        raise DeployError(f"{remote.spec.alias}: nothing deployed in {base}: run `edgenet deploy` first")
    older = [n for n in names if n < current]
    if not older:
        raise DeployError(f"{remote.spec.alias}: no release older than {current} to roll back to")
    target = older[-1]
    remote.run(switch_command(base, f"releases/{target}", utc_stamp()), what="switching current")
    return current, target


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


def _prune(remote, base: str, keep: int, env_in_use: str | None = None) -> None:
    """Remove old complete releases beyond ``keep`` and leftovers of interrupted deploys, never current;
    then the dependency envs that no remaining release uses."""
    names, current = list_releases(remote, base)
    doomed = [n for n in names[:-keep] if n != current]
    if doomed:
        paths = " ".join(q(f"{base}/releases/{n}") for n in doomed)
        try:
            remote.run(f"rm -rf -- {paths}", what="removing old releases")
        except RemoteCommandError:
            return  # housekeeping only: the deploy itself succeeded
    used = remote.run(f"cat {q(base)}/releases/*/{MARKER} 2>/dev/null || true", check=False,
                      what="reading releases").stdout
    keep_envs = set(re.findall(r'"env":\s*"([^"]+)"', used)) | ({env_in_use} if env_in_use else set())
    prune_envs(remote, base, keep_envs)
