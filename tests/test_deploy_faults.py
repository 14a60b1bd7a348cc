"""Deploys that go wrong, against a real sshd on loopback: Ctrl-C and kill -9 in the middle of an
upload over a slow link, leftovers of dead deploys, a full disk, and a base folder full of shell
syntax driven through every verb that talks to a board.

One board (a throwaway user, Debian's sshd) whose edgenet folder is HOSTILE_BASE; the board's Python
is /usr/bin/python3; deploys use --offline with a wheelhouse built once.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import sshd as sshd_mod
from tests.conftest import ROOT
from tests.slowlink import SlowLink

pytestmark = pytest.mark.ssh

# Legal for a folder name and full of shell syntax: if any of it ran, a pwned* file would appear.
HOSTILE_BASE = "~/edge net; touch pwned-base & (1) 'q' | x > y"
UPLOAD_RATE = 2_000_000  # bytes/s over the slow link
BIG_PADDING = 14 << 20  # zeros after a valid model: ~7 s of upload at UPLOAD_RATE


@pytest.fixture(scope="module")
def board():
    reason = sshd_mod.sshd_available()
    if reason:
        pytest.skip(reason)
    root = sshd_mod.make_root()
    user = sshd_mod.create_user(root, f"edgenet-faults-{os.getpid()}")  # test_deploy_ssh's user may exist
    server = None
    try:
        server = sshd_mod.Sshd(root, user)
        yield {"root": root, "user": user, "sshd": server, "base": user.home / HOSTILE_BASE[2:]}
    finally:
        if server:
            server.stop()
        sshd_mod.delete_user(user)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def wheelhouse(board, tmp_path_factory):
    return sshd_mod.board_wheelhouse(board["root"], tmp_path_factory.mktemp("faults-cache") / "wheelhouse")


@pytest.fixture
def ssh(isolated_ssh, board, monkeypatch, tmp_path_factory):
    """ssh config: `board` direct, `slow` through a SlowLink (started by the test); both trusted."""
    monkeypatch.setenv("PIP_CACHE_DIR", sshd_mod.REAL_PIP_CACHE)
    monkeypatch.setenv("EDGENET_CACHE", str(tmp_path_factory.getbasetemp() / "faults-edgenet-cache"))
    user, server = board["user"], board["sshd"]
    link = SlowLink(server.port, UPLOAD_RATE)
    (isolated_ssh / "ssh_config").write_text("".join(
        f"Host {name}\n  HostName 127.0.0.1\n  Port {port}\n  User {user.name}\n  IdentityFile {user.key}\n\n"
        for name, port in (("board", server.port), ("slow", link.port))))
    kind, b64 = server.public_host_key()
    (isolated_ssh / "known_hosts").write_text(f"[127.0.0.1]:{server.port} {kind} {b64}\n[127.0.0.1]:{link.port} {kind} {b64}\n")
    yield isolated_ssh
    link.close()


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "edgenet", *map(str, args)], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def deploy_cli(host, model, wheelhouse, *more):
    return cli("deploy", host, "--model", model, "--offline", "--wheelhouse", wheelhouse, "--base-dir", HOSTILE_BASE, *more)


def releases(board) -> list[str]:
    folder = board["base"] / "releases"
    return sorted(os.listdir(folder)) if folder.exists() else []


def current(board) -> str | None:
    try:
        return os.readlink(board["base"] / "current")
    except OSError:
        return None


def injected(board) -> list[str]:
    home = board["user"].home
    return [str(p) for p in home.rglob("pwned*")] + [str(p) for p in Path("/").glob("pwned*")] + \
        [str(p) for p in Path("/tmp").glob("pwned*")]


def board_processes(board) -> list[str]:
    out = subprocess.run(["pgrep", "-a", "-u", board["user"].name, "-f", "edgenet"], capture_output=True, text=True)
    return out.stdout.strip().splitlines()


def ensure_current(board, ssh, wheelhouse, tiny_model) -> str:
    if current(board) is None or not (board["base"] / "current" / "release.json").exists():
        r = deploy_cli("board", tiny_model, wheelhouse)
        assert r.returncode == 0, r.stderr
    return current(board)


def big_model(tmp_path: Path, tiny_model: Path, padding: int = BIG_PADDING) -> Path:
    """A valid model made large (TFLite ignores bytes after the flatbuffer): uploads take seconds."""
    big = tmp_path / f"big-{padding >> 20}mb.tflite"
    big.write_bytes(tiny_model.read_bytes() + b"\0" * padding)
    return big


class Watched:
    """An `edgenet deploy` subprocess whose stderr is read as it comes."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, "-m", "edgenet", *map(str, args)], cwd=ROOT, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self.uploading = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            if ": uploading to " in line:
                self.uploading.set()

    def wait_upload(self, timeout=120):
        assert self.uploading.wait(timeout), "\n".join(self.lines)

    def finish(self, timeout=120) -> int:
        code = self.proc.wait(timeout)
        time.sleep(0.2)  # the reader thread drains stderr
        return code


# ---- the hostile base folder, through every verb ------------------------------------------------------

def test_a_base_folder_full_of_shell_syntax_works_everywhere_and_runs_nothing(ssh, board, wheelhouse, tiny_model,
                                                                            tiny_labels, tmp_path):
    r = cli("deploy", "board", "--model", tiny_model, "--labels", tiny_labels, "--offline", "--wheelhouse", wheelhouse,
            "--base-dir", HOSTILE_BASE)
    assert r.returncode == 0, r.stderr
    assert (board["base"] / "current" / "release.json").is_file() and injected(board) == []
    first = current(board)
    r = cli("remote", "--base-dir", HOSTILE_BASE, "board", "run", "--source", "pattern://?frames=2", "--max-frames", "2",
            "--json", "--threads", "1")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 2 and rows[0]["top"][0]["label"] in tiny_labels.read_text().split("\n")
    r = cli("remote", "--base-dir", HOSTILE_BASE, "--results", tmp_path / "res", "board", "profile", "--threads", "1",
            "--min-runs", "3", "--min-time", "0", "--warmup", "1")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "res" / "board" / "profile.json").read_text())["results"]
    r = cli("profile", "--host", "board", "--base-dir", HOSTILE_BASE, "--models", tiny_model, "--threads", "1",
            "--min-runs", "3", "--min-time", "0", "--warmup", "1", "--results", tmp_path / "res2")
    assert r.returncode == 0, r.stderr
    r = deploy_cli("board", tiny_model, wheelhouse)
    assert r.returncode == 0, r.stderr
    assert current(board) != first
    r = cli("deploy", "--rollback", "--base-dir", HOSTILE_BASE, "board")
    assert r.returncode == 0, r.stderr
    assert current(board) == first
    assert injected(board) == []
    # The launchers pip writes for the release venv carry the path: still inert when run.
    script = board["base"] / "current" / "venv" / "bin" / "edgenet"
    out = subprocess.run(["su", board["user"].name, "-c", f"cd; {shlex.quote(str(script))} --version"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "edgenet" in out.stdout, out.stderr
    assert injected(board) == []


def test_base_folders_no_quoting_can_carry_are_refused_before_connecting(ssh, board, tiny_model):
    """Every verb that takes --base-dir refuses, in one line and before connecting, what pip's launchers
    would turn into code (each refused character is checked in test_board_releases.py)."""
    for argv in (["deploy", "board", "--model", tiny_model, "--base-dir", "~/x$(touch pwned)"],
                 ["deploy", "--rollback", "--base-dir", "~/x`touch pwned`", "board"],
                 ["remote", "--base-dir", '~/a"$(touch pwned)"', "board", "run", "--source", "pattern://"],
                 ["profile", "--host", "board", "--base-dir", "~root/edgenet", "--models", tiny_model]):
        r = cli(*argv)
        assert r.returncode == 2, (argv, r.stderr)
        last = r.stderr.strip().splitlines()
        assert len(last) == 1 and last[0].startswith("edgenet: error: --base-dir "), r.stderr
        assert "connecting" not in r.stderr
    assert injected(board) == []


# ---- Ctrl-C and kill -9 in the middle of an upload -----------------------------------------------------

def test_ctrl_c_during_the_model_upload_switches_nothing(ssh, board, wheelhouse, tiny_model, tmp_path):
    before = ensure_current(board, ssh, wheelhouse, tiny_model)
    listed = releases(board)
    run = Watched("deploy", "slow", "--model", big_model(tmp_path, tiny_model), "--offline", "--wheelhouse", wheelhouse,
                  "--base-dir", HOSTILE_BASE)
    run.wait_upload()
    time.sleep(1.5)  # mid-upload: ~3 of 14 MB sent
    run.proc.send_signal(signal.SIGINT)
    code = run.finish()
    assert code == 130, "\n".join(run.lines)
    assert run.lines[-1] == "edgenet: error: interrupted", run.lines
    assert any("interrupted before the switch" in line and "current is unchanged" in line for line in run.lines)
    assert not any("smoke test" in line for line in run.lines)
    assert current(board) == before and releases(board) == listed  # the release folder was removed
    deadline = time.time() + 10
    while board_processes(board) and time.time() < deadline:
        time.sleep(0.2)
    assert board_processes(board) == []


def test_kill_9_mid_upload_leaves_nothing_once_the_board_notices(ssh, board, wheelhouse, tiny_model, tmp_path):
    before = ensure_current(board, ssh, wheelhouse, tiny_model)
    listed = releases(board)
    run = Watched("deploy", "slow", "--model", big_model(tmp_path, tiny_model), "--offline", "--wheelhouse", wheelhouse,
                  "--base-dir", HOSTILE_BASE)
    run.wait_upload()
    time.sleep(1.5)
    run.proc.kill()
    run.finish()
    # The connection dropped: the board command read the end of its input, and removed the release.
    deadline = time.time() + 20
    while (releases(board) != listed or board_processes(board)) and time.time() < deadline:
        time.sleep(0.2)
    assert releases(board) == listed and current(board) == before and board_processes(board) == []


def test_later_deploys_remove_the_leftovers_of_dead_deploys(ssh, board, wheelhouse, tiny_model):
    """What a power cut (board command killed too) or an older edgenet leaves: incomplete releases with a
    lock nobody holds, or with no lock and untouched for an hour, and half-built envs; the next deploy
    removes them before it checks free space."""
    ensure_current(board, ssh, wheelhouse, tiny_model)
    base = board["base"]
    uid = board["user"].name
    locked = base / "releases" / "20200101T000000.000Z"
    old = base / "releases" / "20200102T000000.000Z"
    half_env = base / "envs" / ".0123456789abcdef-20200101T000000.000Z"
    for folder in (locked / "model", old / "model", half_env):
        folder.mkdir(parents=True)
    (locked / ".lock").write_text("")
    (locked / "model" / "big.tflite").write_bytes(b"\0" * (5 << 20))  # an upload cut at 5 MB
    (old / "model" / "big.tflite").write_bytes(b"\0" * (1 << 20))
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    for p in (locked, old, half_env, *locked.rglob("*"), *old.rglob("*")):
        shutil.chown(p, uid)
    r = deploy_cli("board", tiny_model, wheelhouse)
    assert r.returncode == 0, r.stderr
    assert not locked.exists() and not old.exists() and not half_env.exists()
    for name in ("releases/20200101T000000.000Z", "releases/20200102T000000.000Z",
                 "envs/.0123456789abcdef-20200101T000000.000Z"):
        assert f"removed the leftover {name} of an interrupted deploy" in r.stderr
    assert all((base / "releases" / n / "release.json").is_file() for n in releases(board))


# ---- a full disk -------------------------------------------------------------------------------------

def mount_tmpfs(path: Path, size_mb: int, owner: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}): the full-disk tests need root and mount")
    shutil.chown(path, owner)


def free_mb(path: Path) -> float:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / 2**20


def test_preflight_refuses_a_disk_too_small_before_writing_anything(ssh, board, wheelhouse, tiny_model, tmp_path):
    small = board["user"].home / "small board"
    mount_tmpfs(small, 64, board["user"].name)
    try:
        r = cli("deploy", "board", "--model", big_model(tmp_path, tiny_model), "--offline", "--wheelhouse", wheelhouse,
                "--base-dir", "~/small board")
        assert r.returncode == 2
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith(f"edgenet: error: only 64 MB free in {small}, need ") and "MB to upload" in last
        assert "for the dependency env" in last and os.listdir(small) == []
    finally:
        subprocess.run(["umount", str(small)], check=False)
        small.rmdir()


def test_a_full_disk_during_the_upload_removes_what_was_written(ssh, board, wheelhouse, tiny_model, tmp_path):
    """The board's releases folder is its own small filesystem (40 MB). A model too big for it is refused
    by the board command's exact check, before the upload; when something else fills the disk during
    an upload, the upload fails and the deploy removes its partial files: all the space comes back."""
    from deploy.commands import deploy_hosts
    from deploy.release import DeployConfig

    ensure_current(board, ssh, wheelhouse, tiny_model)  # the env is built (on the big disk)
    base = board["base"]
    stash = base.parent / "releases-stash"
    os.rename(base / "releases", stash)
    releases_fs = base / "releases"
    mount_tmpfs(releases_fs, 40, board["user"].name)
    try:
        r = deploy_cli("board", tiny_model, wheelhouse)  # a small release fits: it becomes current
        assert r.returncode == 0, r.stderr
        ok = current(board)
        free_before = free_mb(releases_fs)
        assert 30 < free_before < 40

        too_big = big_model(tmp_path, tiny_model, padding=30 << 20)
        r = deploy_cli("board", too_big, wheelhouse)
        assert r.returncode == 2
        msg = r.stderr.strip().splitlines()[-1]
        assert f"MB free in {base}/releases/" in msg and "MB to write + 16 MB margin" in msg, msg
        assert current(board) == ok and abs(free_mb(releases_fs) - free_before) < 0.5  # nothing was uploaded

        filler = releases_fs / "filler"

        def fill_after_the_check(step):
            if step == "checked":  # something else takes the space while we upload
                filler.write_bytes(b"\0" * int((free_mb(releases_fs) - 1) * 2**20))

        fits = big_model(tmp_path, tiny_model, padding=10 << 20)
        report = deploy_hosts(["board"], config=DeployConfig(model=fits, offline=True, base_dir=HOSTILE_BASE),
                              wheelhouse=wheelhouse, on_status=lambda m: None, on_step=fill_after_the_check)
        assert not report.ok
        error = report.failed[0].error
        assert f"upload of {fits.name}" in error and "what this deploy wrote was removed" in error, error
        assert current(board) == ok and sorted(os.listdir(releases_fs)) == sorted([ok.split("/")[-1], "filler"])
        filler.unlink()
        assert abs(free_mb(releases_fs) - free_before) < 0.5  # all the space came back
    finally:
        subprocess.run(["umount", str(releases_fs)], check=False)
        releases_fs.rmdir()
        os.rename(stash, base / "releases")
