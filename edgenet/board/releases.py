"""The release layout on a board, and everything that changes it except building a release.

    BASE/releases/STAMP/   one release: the wheel (also as edgenet.whl), model/, venv/, release.json
    BASE/current           symlink to releases/STAMP: the running release
    BASE/envs/KEY-STAMP/   shared dependency environments (``edgenet.board.install``)
    BASE/wheelhouse/       offline wheels, pushed once

A release is complete when ``release.json`` is in it; it is written just before ``current`` is
switched, and ``current`` only ever moves by one ``rename(2)`` of a fresh symlink over the old one.

A run that builds a release holds ``flock`` on ``releases/STAMP/.lock`` for its whole life. That is
how a leftover is told from work in progress: an incomplete release whose lock can be taken belongs
to a run that died (``kill -9``, a lost connection, a power cut); one without a lock file (an older
edgenet, or a run killed before it took the lock) counts as dead once untouched for ``GRACE_S``.
Dead leftovers are removed by every install before it checks free space.

Standard library only, Python 3.7+: this runs on the board's system python3 before any venv exists.
"""

from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import json
import os
import re
import shutil
import time

MARKER = "release.json"
LOCK = ".lock"
RELEASES = "releases"
ENVS = "envs"
WHEELHOUSE = "wheelhouse"
CURRENT = "current"
BOARD_WHEEL = "edgenet.whl"  # every release's wheel under a stable name: BASE/current/edgenet.whl
COMPLETE = ".complete"  # inside a finished dependency env
ENV_NOTE = ".env"  # in a release at work: the env it chose, so a concurrent prune keeps it
GRACE_S = 600  # a leftover without a lock file is another run's only if touched this recently
DEFAULT_KEEP = 5

STAMP_RE = re.compile(r"^\d{8}T\d{6}\.\d{3}Z$")
ENV_RE = re.compile(r"^[0-9a-f]{16}-(\d{8}T\d{6}\.\d{3}Z)$")
HALF_ENV_RE = re.compile(r"^\.[0-9a-f]{16}-(\d{8}T\d{6}\.\d{3}Z)$")
# pip writes a venv's path into /bin/sh launcher scripts between double quotes (when the path has a
# space or is long): inside "..." these characters are still special, so such a path cannot be made
# safe and is refused. Control characters (newlines) break every line-based format on the way.
UNSAFE_PATH_CHARS = '$`"\\'


class ReleaseError(Exception):
    """A release step cannot go on; the message is one line saying what to do."""


class BadInput(ReleaseError):
    """An argument or manifest that cannot be used (the command exits 2)."""


class Aborted(ReleaseError):
    """The run was interrupted (a signal, or the client went away) before ``current`` was switched."""


def utc_stamp(now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S.%f")[:-3] + "Z"


def check_path_text(path: str, what: str = "base folder") -> str:
    """``path`` unchanged, or ReleaseError when it holds characters no quoting can carry everywhere."""
    bad = sorted({c for c in path if c in UNSAFE_PATH_CHARS or ord(c) < 32 or ord(c) == 127})
    if bad:
        shown = " ".join(repr(c) for c in bad)
        raise BadInput(f"{what} {path!r} contains {shown}: pip writes this path into shell launcher scripts, "
                           "where these characters would run as code; choose a folder name without them")
    if not path:
        raise BadInput(f"{what} is empty")
    return path


def resolve_base(base: str, home: str | None = None) -> str:
    """The absolute base folder: ``~`` and ``~/...`` are the board user's HOME, a relative path is
    relative to HOME (where ssh starts); ``~user`` forms are refused (say the absolute path)."""
    check_path_text(base)
    home = home if home is not None else os.path.expanduser("~")
    if base == "~" or base.startswith("~/"):
        base = home + base[1:]
    elif base.startswith("~"):
        raise BadInput(f"base folder {base!r}: only ~ and ~/... are expanded; give the absolute path")
    elif not base.startswith("/"):
        base = os.path.join(home, base)
    return os.path.normpath(base)


class Layout:
    """Paths of one base folder."""

    def __init__(self, base: str):
        self.base = base
        self.releases = os.path.join(base, RELEASES)
        self.envs = os.path.join(base, ENVS)
        self.wheelhouse = os.path.join(base, WHEELHOUSE)
        self.current = os.path.join(base, CURRENT)

    def release(self, stamp: str) -> str:
        if not STAMP_RE.match(stamp):
            raise BadInput(f"release name {stamp!r} is not a UTC stamp like 20260101T120000.000Z")
        return os.path.join(self.releases, stamp)

    def _names(self, folder: str) -> list:
        try:
            return sorted(os.listdir(folder))
        except FileNotFoundError:
            return []

    def stamps(self) -> list:
        return [n for n in self._names(self.releases) if STAMP_RE.match(n)]

    def complete(self) -> list:
        """Complete releases, oldest first."""
        return [s for s in self.stamps() if os.path.isfile(os.path.join(self.releases, s, MARKER))]

    def incomplete(self) -> list:
        return [s for s in self.stamps() if not os.path.isfile(os.path.join(self.releases, s, MARKER))]

    def current_stamp(self) -> str | None:
        try:
            target = os.readlink(self.current)
        except OSError:
            return None
        return os.path.basename(target.rstrip("/")) or None

    def meta(self, stamp: str) -> dict:
        with open(os.path.join(self.releases, stamp, MARKER)) as f:
            return json.load(f)

    def env_names(self) -> list:
        return [n for n in self._names(self.envs) if ENV_RE.match(n)]

    def status(self) -> dict:
        return {"base": self.base, "current": self.current_stamp(), "releases": self.complete(),
                "incomplete": self.incomplete(), "envs": self.env_names()}


class ReleaseLock:
    """``flock`` on ``releases/STAMP/.lock``, held while this process lives (the descriptor is not
    inherited by children: PEP 446)."""

    def __init__(self, path: str):
        self.path = path
        self.fd = None

    def acquire(self, blocking: bool = True) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class BaseLock(ReleaseLock):
    """``BASE/.lock``: held for the short steps that touch shared state (cleanup, switch, prune)."""

    def __init__(self, layout: Layout):
        os.makedirs(layout.base, exist_ok=True)
        super().__init__(os.path.join(layout.base, LOCK))

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


def _dead(folder: str, lock_name: str = LOCK, now: float | None = None) -> bool:
    """Is ``folder`` a leftover of a run that is gone? See the module's docstring."""
    lock_path = os.path.join(folder, lock_name)
    if os.path.exists(lock_path):
        probe = ReleaseLock(lock_path)
        if probe.acquire(blocking=False):
            probe.release()
            return True
        return False
    try:
        touched = os.stat(folder).st_mtime
    except FileNotFoundError:
        return False
    return (now if now is not None else time.time()) - touched > GRACE_S


def remove_tree(path: str) -> None:
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)


def remove_dead_leftovers(layout: Layout, keep: str | None = None) -> list:
    """Remove incomplete releases of dead runs, half-built envs of dead (or finished) runs and dead
    runs' partial wheelhouse uploads. ``keep``: this run's own stamp. Returns what was removed,
    relative to the base folder."""
    removed = []
    dead = {s for s in layout.incomplete() if s != keep and _dead(os.path.join(layout.releases, s))}
    for stamp in sorted(dead):
        remove_tree(os.path.join(layout.releases, stamp))
        removed.append(f"{RELEASES}/{stamp}")
    for name in layout._names(layout.envs):
        m = HALF_ENV_RE.match(name)
        if not m or m.group(1) == keep:
            continue
        owner = os.path.join(layout.releases, m.group(1))
        folder = os.path.join(layout.envs, name)
        if m.group(1) in dead or os.path.isfile(os.path.join(owner, MARKER)) or (
                not os.path.isdir(owner) and _dead(folder)):
            remove_tree(folder)
            removed.append(f"{ENVS}/{name}")
    for name in layout._names(layout.wheelhouse):
        path = os.path.join(layout.wheelhouse, name)
        if name.endswith(".part") and time.time() - os.stat(path).st_mtime > GRACE_S:
            os.unlink(path)
            removed.append(f"{WHEELHOUSE}/{name}")
    return removed


def switch(layout: Layout, stamp: str) -> None:
    """Point ``current`` at ``releases/STAMP``: a new symlink renamed over the old one (atomic)."""
    tmp = os.path.join(layout.base, f".{CURRENT}-{stamp}-{os.getpid()}")
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(f"{RELEASES}/{stamp}", tmp)
    os.replace(tmp, layout.current)


def rollback(layout: Layout, to: str | None = None) -> tuple:
    """Point ``current`` at ``to`` or the newest complete release older than the current one.
    Returns (from, to)."""
    with BaseLock(layout):
        names, current = layout.complete(), layout.current_stamp()
        if current is None:
            raise ReleaseError(f"nothing deployed in {layout.base}: run `edgenet deploy` first")
        if to is not None:
            if to not in names:
                raise ReleaseError(f"no complete release {to} in {layout.releases}: complete ones are "
                                   + (", ".join(names) or "none"))
            target = to
        else:
            older = [n for n in names if n < current]
            if not older:
                raise ReleaseError(f"no release older than {current} to roll back to")
            target = older[-1]
        switch(layout, target)
    return current, target


def prune(layout: Layout, keep: int, env_in_use: str | None = None) -> list:
    """Remove complete releases beyond the newest ``keep`` (never the current one), then envs that no
    remaining release names. Returns what was removed, relative to the base folder."""
    removed = []
    names, current = layout.complete(), layout.current_stamp()
    for stamp in names[:-keep] if keep > 0 else names:
        if stamp != current:
            remove_tree(os.path.join(layout.releases, stamp))
            removed.append(f"{RELEASES}/{stamp}")
    used = {env_in_use} if env_in_use else set()
    for stamp in layout.complete():
        try:
            used.add(layout.meta(stamp).get("env"))
        except (OSError, ValueError):
            continue
    for stamp in layout.incomplete():  # runs at work now: the env each one chose (ENV_NOTE)
        folder = os.path.join(layout.releases, stamp)
        if not _dead(folder):
            try:
                with open(os.path.join(folder, ENV_NOTE)) as f:
                    used.add(f.read().strip())
            except OSError:
                continue
    for name in layout.env_names():
        if name not in used:
            remove_tree(os.path.join(layout.envs, name))
            removed.append(f"{ENVS}/{name}")
    return removed
