"""Dependency environments on the board, shared by releases: ``<base>/envs/<key>-<stamp>/``.

Installing numpy, OpenCV and LiteRT into a fresh venv is most of a deploy's time (minutes on a Pi's
SD card), yet a new model or a new edgenet rarely changes them. So the dependencies live in a venv
of their own, keyed by everything that decides its contents: the board's Python, its userland
architecture and glibc, the requirement set chosen on the board (``edgenet.board.requirements``: exactly
what pip installs, the system's numpy pinned when apt's picamera2 or OpenCV needs it), and where pip
gets them (wheelhouse or index).
Each release keeps a venv of its own holding edgenet alone; a ``.pth`` file puts the environment's
site-packages after the release's own, and before the system's (apt's picamera2 stays visible).

An environment is built in a temporary folder and renamed into place as ``<key>-<UTC stamp>`` with
``.complete`` inside, so an interrupted build is never mistaken for a finished one; a deploy uses the
newest complete one of its key. It is never changed after that: other requirements give another
key, and ``--fresh-env`` builds a newer one of the same key, so rolling back to an old release finds
its environment as it was. Pruning removes environments no remaining release names.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass
from typing import Callable

from deploy.errors import DeployError, RemoteCommandError
from deploy.preflight import Preflight
from edgenet.board.requirements import RequirementSet

ENVS = "envs"
COMPLETE = ".complete"
PTH_NAME = "edgenet-deps.pth"
STALE_MINUTES = 60  # a half-built environment older than this is an interrupted deploy's leftover

q = shlex.quote


def env_key(pre: Preflight, requirements: RequirementSet, source: str) -> str:
    """Everything that decides what pip puts into the environment, hashed (16 hex digits)."""
    f = requirements.facts
    facts = {"python": pre.python, "version": f.python, "machine": f.machine, "glibc": f.libc_version,
             "requirements": requirements.lines, "source": source}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Env:
    name: str  # <key>-<stamp>: what release.json records
    path: str
    reused: bool

    @property
    def key(self) -> str:
        return self.name.split("-", 1)[0]


def ensure_env(remote, pre: Preflight, base: str, key: str, requirements: RequirementSet, pip_source: list[str],
               stamp: str, fresh: bool = False, log: Callable[[str], None] = lambda m: None) -> Env:
    """The newest complete environment of ``key`` on the board, or (none, or ``fresh``) a new one built
    now: in a temporary folder, then renamed to ``<base>/envs/<key>-<stamp>``."""
    root = f"{base}/{ENVS}"
    if not fresh:
        found = remote.run(f"cd {q(root)} 2>/dev/null && ls -1d {key}-*/{COMPLETE} 2>/dev/null | sort | tail -n 1",
                           check=False, what="looking for the dependency env").stdout.strip()
        if found:
            name = found.split("/", 1)[0]
            log(f"reusing dependency env {ENVS}/{name}")
            return Env(name, f"{root}/{name}", True)
    name = f"{key}-{stamp}"
    path = f"{root}/{name}"
    log(f"building dependency env {ENVS}/{name} with {pre.python}: {', '.join(requirements.lines)}")
    tmp = f"{root}/.{name}"
    remote.run(f"mkdir -p {q(root)} && {q(pre.python)} -m venv --system-site-packages {q(tmp)}",
               what="creating the dependency env", timeout=600)
    remote.write_text(f"{tmp}/requirements.txt", requirements.text())
    pip = [q(tmp + "/bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pip_source]
    remote.run(" ".join(pip + ["-r", q(tmp + "/requirements.txt")]), what="pip install (dependencies)", timeout=1800)
    # rename(2) is atomic: the env appears complete or not at all. Only its site-packages are used
    # after the move, and those hold no absolute paths.
    remote.run(f"touch {q(tmp + '/' + COMPLETE)} && mv -T {q(tmp)} {q(path)}", what="finishing the dependency env")
    return Env(name, path, False)


def make_release_venv(remote, pre: Preflight, venv: str, env: Env, wheel_remote: str) -> None:
    """A venv holding edgenet alone, on top of ``env``: no pip of its own (the environment's runs),
    and nothing is downloaded."""
    remote.run(f"{q(pre.python)} -m venv --system-site-packages --without-pip {q(venv)}",
               what="creating the venv", timeout=600)
    where = q("import sysconfig; print(sysconfig.get_path('purelib'))")
    paths = remote.run(f"{q(venv + '/bin/python')} -c {where} && {q(env.path + '/bin/python')} -c {where}",
                       what="locating site-packages").stdout.split("\n")
    own, deps = (paths + ["", ""])[:2]
    if not own.strip() or not deps.strip():
        raise DeployError(f"cannot locate site-packages in {venv} or {env.path}")
    remote.write_text(f"{own.strip()}/{PTH_NAME}", deps.strip() + "\n")
    remote.run(f"{q(venv + '/bin/python')} -m pip install -q --disable-pip-version-check --no-deps --no-index "
               f"{q(wheel_remote)}", what="pip install (edgenet)", timeout=600)


def prune_envs(remote, base: str, keep: set[str]) -> list[str]:
    """Remove complete environments no kept release names, and stale half-built ones. Housekeeping
    only: a failure here never fails the deploy."""
    root = f"{base}/{ENVS}"
    try:
        listing = remote.run(f"ls -1 {q(root)} 2>/dev/null || true", check=False, what="listing dependency envs").stdout
        doomed = [n for n in listing.split() if re.fullmatch(r"[0-9a-f]{16}-[0-9TZ.]+", n) and n not in keep]
        cmd = [f"find {q(root)} -mindepth 1 -maxdepth 1 -name '.*-*' -mmin +{STALE_MINUTES} -exec rm -rf -- {{}} +"]
        if doomed:
            cmd.insert(0, "rm -rf -- " + " ".join(q(f"{root}/{n}") for n in doomed))
        remote.run(" ; ".join(cmd), check=False, what="removing unused dependency envs")
        return doomed
    except RemoteCommandError:
        return []
