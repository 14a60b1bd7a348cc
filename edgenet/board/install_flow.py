"""The board command's ``install``: one release from artifacts to ``current``, or nothing at all.

The steps are ``edgenet.board.install``'s; this module only orders them and owns the promise: a
failure or an abort anywhere before the commit removes what this run wrote (the release folder, a
half-built env) and leaves ``current`` where it was. With a ``talk`` (edgenet deploy's interactive
mode) the client uploads while this run holds the lock, and the switch waits for the client's
``commit``: a client that was interrupted never sends it. Standard library only, Python 3.7+.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass

from edgenet.board.install import (SMOKE_TIMEOUT_S, Runner, Source, build_env, check_manifest, check_space,
                                   env_key, link_or_copy, make_release_venv, newest_env, parse_smoke,
                                   requirement_set, smoke_argv, verify)
from edgenet.board.releases import (BOARD_WHEEL, COMPLETE, DEFAULT_KEEP, ENV_NOTE, LOCK, MARKER, BadInput, BaseLock, Layout,
                                    ReleaseError, ReleaseLock, prune, remove_dead_leftovers, remove_tree,
                                    resolve_base, switch, utc_stamp)

@dataclass(frozen=True)
class InstallOptions:
    base: str
    manifest: dict
    artifacts: str | None = None  # where the files are (not with ``release``)
    release: str | None = None  # the stamp of a release folder the client already uploads into
    wheelhouse: str | None = None  # offline: pip --no-index --find-links (relative = inside the base)
    index_url: str | None = None
    keep: int = DEFAULT_KEEP
    fresh_env: bool = False
    if_changed: bool = False

    def __post_init__(self):
        if self.keep < 2:
            raise BadInput(f"--keep must be >= 2 (the current release and one to roll back to), got {self.keep}")
        if self.wheelhouse is not None and self.index_url is not None:
            raise BadInput("give --wheelhouse (offline) or --index-url, not both")
        if (self.artifacts is None) == (self.release is None):
            raise BadInput("give --artifacts DIR (files to install) or --release STAMP (a folder being uploaded)")


class NoTalk:
    """The non-interactive run: nothing to tell, nobody to wait for."""

    def event(self, kind: str, **fields) -> None:
        pass

    def expect(self, word: str) -> None:  # pragma: no cover - never called without a client
        raise AssertionError(word)


def _unchanged(layout: Layout, current: str, manifest: dict, key: str) -> bool:
    try:
        meta = layout.meta(current)
    except (OSError, ValueError):
        return False
    old = meta.get("artifacts") or {}

    def same(kind):
        a, b = old.get(kind), manifest.get(kind)
        return (a is None and b is None) or (a is not None and b is not None and
                                             (a.get("name"), a.get("sha256")) == (b["name"], b["sha256"]))

    env = meta.get("env") or ""
    return (all(same(k) for k in ("wheel", "model", "labels")) and meta.get("env_key") == key
            and os.path.isfile(os.path.join(layout.envs, env, COMPLETE)))


def _write_json(path: str, data: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(data, indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _new_release(layout: Layout) -> tuple:
    os.makedirs(layout.releases, exist_ok=True)
    for _ in range(100):
        stamp = utc_stamp()
        try:
            os.mkdir(layout.release(stamp))
            return stamp, layout.release(stamp)
        except FileExistsError:
            continue
    raise ReleaseError(f"cannot create a new release folder in {layout.releases}")


class MissingFiles(ReleaseError):
    """Files the manifest names are absent from the board, or differ from it (the command exits 3)."""

    def __init__(self, artifacts: list, wheels: list):
        self.artifacts, self.wheels = artifacts, wheels
        parts = ([f"{', '.join(artifacts)} absent or different in the artifacts folder"] if artifacts else []) + \
                ([f"the wheelhouse lacks {len(wheels)} wheel(s) the dependency env needs"] if wheels else [])
        super().__init__("; ".join(parts) + ": copy them, then run install again")


@dataclass
class Plan:
    """What a run will do, decided by reading only."""

    requirements: object  # a RequirementSet
    source: Source
    key: str
    env: str | None  # the complete env of the key to reuse, or None: one is built
    unchanged: bool
    missing_artifacts: list
    missing_wheels: list


def _ok(path: str, item: dict, runner: Runner, hash_it: bool) -> bool:
    try:
        if not hash_it:
            return os.path.getsize(path) == item["size"]
        verify(path, item, "file", runner)
        return True
    except (OSError, ReleaseError):
        runner.check()
        return False


def plan_release(opts: InstallOptions, layout: Layout, manifest: dict, runner: Runner) -> Plan:
    """Read-only: the requirement set and env key, whether the current release already is this one
    (``--if-changed``), and which files the manifest names are missing or different: the artifacts
    (only when they should be here already, i.e. not in edgenet deploy's interactive mode) and the
    wheelhouse wheels (only when the env must be built)."""
    wheelhouse = opts.wheelhouse
    if wheelhouse is not None and not wheelhouse.startswith("/"):
        wheelhouse = os.path.join(layout.base, wheelhouse)
    source = Source(wheelhouse=wheelhouse, index_url=opts.index_url, wheels=list(manifest.get("wheelhouse") or []))
    requirements = requirement_set()
    key = env_key(requirements.lines, source.key_text())
    current = layout.current_stamp()
    unchanged = bool(opts.if_changed and current and _unchanged(layout, current, manifest, key))
    env = None if opts.fresh_env else newest_env(layout, key)
    missing_artifacts, missing_wheels = [], []
    if not unchanged and opts.artifacts is not None:
        items = [manifest["wheel"], manifest["model"]] + ([manifest["labels"]] if manifest.get("labels") else [])
        missing_artifacts = [i["name"] for i in items if not _ok(os.path.join(opts.artifacts, i["name"]), i, runner, True)]
    if not unchanged and env is None and wheelhouse is not None:
        missing_wheels = [w["name"] for w in source.wheels
                          if not _ok(os.path.join(wheelhouse, w["name"]), w, runner, opts.artifacts is not None)]
    return Plan(requirements, source, key, env, unchanged, missing_artifacts, missing_wheels)


def install_release(opts: InstallOptions, runner: Runner, log, talk=None, check_only: bool = False) -> dict:
    """Make a release of ``opts.manifest``'s artifacts current; returns the JSON result (docs/deploy.md,
    "The board command"). ``check_only``: say what a run would do, change nothing."""
    talk = talk or NoTalk()
    layout = Layout(resolve_base(opts.base))
    manifest = check_manifest(opts.manifest)
    plan = None
    if opts.release is not None:  # edgenet deploy: the folder exists and is being uploaded into
        stamp, rel = opts.release, layout.release(opts.release)
        if not os.path.isdir(rel) or os.path.isfile(os.path.join(rel, MARKER)):
            raise ReleaseError(f"{rel} is not a release being uploaded")
    else:  # everything is decided before anything is written
        plan = plan_release(opts, layout, manifest, runner)
        if plan.unchanged:
            current = layout.current_stamp()
            log(f"nothing to do: releases/{current} already has these artifacts and dependencies")
            return {"changed": False, "release": current, "base": layout.base, "removed": [],
                    "msg": "the current release already has these artifacts"}
        if check_only:
            return {"changed": True, "base": layout.base, "env": plan.env, "missing_artifacts": plan.missing_artifacts,
                    "missing_wheels": plan.missing_wheels, "msg": "a run would make a new release"}
        if plan.missing_artifacts or plan.missing_wheels:
            raise MissingFiles(plan.missing_artifacts, plan.missing_wheels)
        stamp, rel = _new_release(layout)
    lock = ReleaseLock(os.path.join(rel, LOCK))
    if not lock.acquire(blocking=False):
        raise ReleaseError(f"another run is working on {rel}")
    try:
        result = _install(opts, runner, log, talk, layout, manifest, stamp, rel, plan)
    except BaseException:
        if layout.current_stamp() != stamp:  # never remove what became current
            remove_tree(rel)
            for name in os.listdir(layout.envs) if os.path.isdir(layout.envs) else []:
                if name.startswith(".") and name.endswith("-" + stamp):
                    remove_tree(os.path.join(layout.envs, name))  # this run's half-built env
        raise
    finally:
        lock.release()
    try:
        with BaseLock(layout):
            result["removed"] += prune(layout, opts.keep, env_in_use=result["env"])
    except OSError as exc:  # housekeeping only: the release is current
        log(f"pruning old releases failed: {exc}")
    return result


def _install(opts, runner, log, talk, layout, manifest, stamp, rel, plan) -> dict:
    previous = layout.current_stamp()
    with BaseLock(layout):
        removed = remove_dead_leftovers(layout, keep=stamp)
    for r in removed:
        log(f"removed the leftover {r} of an interrupted deploy")
    wheel_item, model_item, labels_item = manifest["wheel"], manifest["model"], manifest.get("labels")
    files = [model_item] + ([labels_item] if labels_item else [])
    interactive = opts.release is not None
    if interactive:  # the wheel is here (it runs this command); the rest is uploaded after the checks
        verify(os.path.join(rel, wheel_item["name"]), wheel_item, "wheel", runner)
        plan = plan_release(opts, layout, manifest, runner)
    source, requirements, key = plan.source, plan.requirements, plan.key
    missing_wheels = set(plan.missing_wheels)

    # Free space, before anything big is written (dead leftovers are gone by now).
    wheel_items = [w for w in source.wheels if w["name"] in missing_wheels]
    writes = sum(w["size"] for w in wheel_items) if interactive else 0
    if interactive:
        writes += sum(f["size"] for f in files)
    elif os.stat(opts.artifacts).st_dev != os.stat(rel).st_dev:
        writes += wheel_item["size"] + sum(f["size"] for f in files)  # copied, not linked
    needs = {rel: writes}
    if plan.env is None:
        needs[layout.envs] = source.estimate_bytes()
    free_mb, need_mb = check_space(needs)
    os.makedirs(os.path.join(rel, "model"), exist_ok=True)
    if interactive:
        talk.event("upload", release=rel, missing=sorted(missing_wheels), free_mb=free_mb, need_mb=need_mb)
        talk.expect("uploaded")
    else:
        copied = link_or_copy(os.path.join(opts.artifacts, wheel_item["name"]), os.path.join(rel, wheel_item["name"]))
        for item in files:
            copied |= link_or_copy(os.path.join(opts.artifacts, item["name"]), os.path.join(rel, "model", item["name"]))

    # Every artifact verified here, on the board (again after a copy: the copy could be cut short).
    wheel = os.path.join(rel, wheel_item["name"])
    if interactive or copied:
        verify(wheel, wheel_item, "wheel", runner)
        for item, what in ((model_item, "model"), (labels_item, "labels")):
            if item is not None:
                verify(os.path.join(rel, "model", item["name"]), item, what, runner)
    link_or_copy(wheel, os.path.join(rel, BOARD_WHEEL))
    if plan.env is None:
        for w in source.wheels:
            final = os.path.join(source.wheelhouse, w["name"])
            uploaded = os.path.join(rel, "wheelhouse", w["name"])
            if w["name"] in missing_wheels and interactive:
                verify(uploaded, w, "wheelhouse wheel", runner)
                os.makedirs(source.wheelhouse, exist_ok=True)
                os.replace(uploaded, final)
            elif interactive:  # present with the right size: now its sha256
                try:
                    verify(final, w, "wheelhouse wheel", runner)
                except ReleaseError:
                    os.unlink(final)  # the next deploy uploads it again
                    raise
    log(f"verified on the board: {', '.join(f['name'] for f in [wheel_item] + files)}"
        + (f" and {len(source.wheels)} wheelhouse wheel(s)" if source.wheels and plan.env is None else ""))
    talk.event("verified")

    # The dependency env: found, or built now. The choice is noted under the base lock so a
    # concurrent deploy's prune keeps it.
    with BaseLock(layout):
        env_name = None if opts.fresh_env else newest_env(layout, key)
        chosen = env_name or f"{key}-{stamp}"
        with open(os.path.join(rel, ENV_NOTE), "w") as f:
            f.write(chosen + "\n")
    if env_name is None:
        build_env(runner, layout, chosen, requirements, source, log)
    else:
        log(f"reusing dependency env envs/{chosen}")
    env_path = os.path.join(layout.envs, chosen)
    talk.event("env", env=chosen, reused=env_name is not None)
    venv = os.path.join(rel, "venv")
    log(f"creating the release venv with edgenet {wheel_item['name']} on envs/{chosen}")
    make_release_venv(runner, venv, env_path, wheel)
    talk.event("venv")
    model = os.path.join(rel, "model", model_item["name"])
    labels = os.path.join(rel, "model", labels_item["name"]) if labels_item else None
    code, out, err = runner.run(smoke_argv(venv, model, labels), "smoke test", SMOKE_TIMEOUT_S, check=False)
    if code != 0:
        tail = " | ".join((err or out).strip().splitlines()[-2:])
        raise ReleaseError(f"smoke test failed in releases/{stamp} (exit {code}): {tail}; the previous release "
                           "is still current")
    smoke = parse_smoke(out, err)
    log(f"smoke test passed: {smoke['frames']} frames, top-1 {smoke['top1']}")
    talk.event("smoke", smoke=smoke)
    if opts.release is not None:
        talk.event("ready")
        talk.expect("commit")

    meta = {"release": stamp, "model": model_item["name"], "labels": labels_item["name"] if labels_item else None,
            "wheel": wheel_item["name"], "interpreter": requirements.interpreter,
            "python": platform.python_version(), "env": chosen, "env_key": key,
            "requirements": requirements.lines, "source": source.key_text()[:300], "smoke": smoke,
            "artifacts": {k: manifest.get(k) for k in ("wheel", "model", "labels")}}
    with BaseLock(layout):
        runner.check()  # the last point an abort is honoured: after this, the release is current
        _write_json(os.path.join(rel, MARKER), meta)
        switch(layout, stamp)
    log(f"current -> releases/{stamp}")
    return {"changed": True, "release": stamp, "path": rel, "previous": previous, "env": chosen,
            "env_reused": env_name is not None, "smoke": smoke, "removed": removed, "base": layout.base}
