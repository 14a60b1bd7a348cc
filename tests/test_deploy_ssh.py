"""Deploy, remote work and fleets against a real sshd on loopback (Debian openssh-server).

One session starts two sshd instances (two "boards" sharing a throwaway user whose HOME is a temp
folder) and builds the device wheelhouse once; deploys use --offline so no test downloads anything
on the "board". The board's Python is the system /usr/bin/python3.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT
from tests import sshd as sshd_mod

pytestmark = pytest.mark.ssh



@pytest.fixture(scope="session")
def boards():
    reason = sshd_mod.sshd_available()
    if reason:
        pytest.skip(reason)
    root = sshd_mod.make_root()
    user = sshd_mod.create_user(root)
    servers = []
    try:
        servers = [sshd_mod.Sshd(root, user), sshd_mod.Sshd(root, user)]
        yield {"root": root, "user": user, "a": servers[0], "b": servers[1]}
    finally:
        for s in servers:
            s.stop()
        sshd_mod.delete_user(user)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def workstation_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("edgenet-cache")


@pytest.fixture(scope="session")
def wheelhouse(boards, workstation_cache):
    """The device dependencies for this machine's platform, downloaded once (pip's cache makes it fast)."""
    return sshd_mod.board_wheelhouse(boards["root"], workstation_cache / "wheelhouse")


@pytest.fixture(autouse=True)
def workstation_env(isolated_ssh, monkeypatch, workstation_cache):
    """On top of conftest's ~/.ssh isolation (HOME is empty): the real pip cache, and one edgenet
    cache (the board wheel, wheelhouses) for the session."""
    monkeypatch.setenv("PIP_CACHE_DIR", sshd_mod.REAL_PIP_CACHE)
    monkeypatch.setenv("EDGENET_CACHE", str(workstation_cache))


def write_ssh_config(tmp_path: Path, boards, *, key: Path | None = None, bad_port: int | None = None) -> None:
    user = boards["user"]
    key = key or user.key
    blocks = []
    for name, port in (("board-a", boards["a"].port), ("board-b", boards["b"].port), ("board-bad", bad_port or sshd_mod.free_port())):
        blocks.append(f"Host {name}\n  HostName 127.0.0.1\n  Port {port}\n  User {user.name}\n  IdentityFile {key}\n")
    (tmp_path / "ssh_config").write_text("\n".join(blocks))


def trust(tmp_path: Path, *servers) -> None:
    with open(tmp_path / "known_hosts", "a") as f:
        for s in servers:
            f.write(s.known_hosts_line())


@pytest.fixture
def ssh_ready(isolated_ssh, boards):
    write_ssh_config(isolated_ssh, boards)
    trust(isolated_ssh, boards["a"], boards["b"])
    return isolated_ssh


def cli(*args, cwd=ROOT, timeout=600):
    return subprocess.run([sys.executable, "-m", "edgenet", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def board_path(boards, rel: str) -> Path:
    return boards["user"].home / rel


def current_target(boards) -> str:
    return os.readlink(board_path(boards, "edgenet/current"))


# ---- host keys and connection errors ----------------------------------------------------------------

def test_unknown_host_refused_with_keyscan_command_then_accept_new_saves_it(isolated_ssh, boards):
    write_ssh_config(isolated_ssh, boards)
    port = boards["a"].port
    r = cli("deploy", "--rollback", "board-a")
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("edgenet: error: unknown host key for ") and "FAILED" not in r.stderr
    assert f"ssh-keyscan -p {port} 127.0.0.1 >> {isolated_ssh / 'known_hosts'}" in r.stderr
    assert "Traceback" not in r.stderr and not (isolated_ssh / "known_hosts").exists()

    r = cli("deploy", "--rollback", "--accept-new", "board-a")
    saved = (isolated_ssh / "known_hosts").read_text()
    assert saved == boards["a"].known_hosts_line()
    # Connected (key accepted); the rollback itself has nothing older to go to or nothing deployed.
    assert r.returncode == 2 and "host key" not in r.stderr.split("error:")[1]

    r = cli("deploy", "--rollback", "board-a")  # trusted now, without --accept-new
    assert "unknown host key" not in r.stderr and "nothing deployed" in r.stderr or "no release older" in r.stderr


def test_changed_host_key_refused_even_with_accept_new(isolated_ssh, boards):
    write_ssh_config(isolated_ssh, boards)
    other = sshd_mod.keygen(isolated_ssh / "other_host_key")
    kind, b64 = other.with_suffix(".pub").read_text().split()[:2]
    (isolated_ssh / "known_hosts").write_text(f"[127.0.0.1]:{boards['a'].port} {kind} {b64}\n")
    r = cli("deploy", "--rollback", "--accept-new", "board-a")
    assert r.returncode == 2
    assert "CHANGED" in r.stderr and f"ssh-keygen -R '[127.0.0.1]:{boards['a'].port}'" in r.stderr
    assert (isolated_ssh / "known_hosts").read_text() == f"[127.0.0.1]:{boards['a'].port} {kind} {b64}\n"


def test_auth_failure_and_refused_port(isolated_ssh, boards):
    stranger = sshd_mod.keygen(isolated_ssh / "stranger_key")
    write_ssh_config(isolated_ssh, boards, key=stranger)
    trust(isolated_ssh, boards["a"])
    r = cli("deploy", "--rollback", "board-a")
    assert r.returncode == 2 and f"authentication failed for {boards['user'].name}@127.0.0.1:{boards['a'].port}" in r.stderr
    r = cli("deploy", "--rollback", "board-bad")
    assert r.returncode == 2 and "connection refused" in r.stderr and "Traceback" not in r.stderr


def test_timeout_when_the_port_never_speaks_ssh(isolated_ssh):
    import socket

    with socket.socket() as silent:  # accepts TCP (backlog) but never sends a banner
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        r = cli("deploy", "--rollback", "--connect-timeout", "1", f"pi@127.0.0.1:{port}")
    assert r.returncode == 2 and "timed out" in r.stderr and f"127.0.0.1:{port}" in r.stderr


def test_proxyjump_through_another_board(isolated_ssh, boards):
    """board-b reached through board-a (ProxyJump in the ssh config), both host keys checked."""
    from deploy.connect import connect
    from deploy.fleet import SshSettings
    from deploy.hosts import resolve_host

    user = boards["user"]
    (isolated_ssh / "ssh_config").write_text(
        f"Host jump\n  HostName 127.0.0.1\n  Port {boards['a'].port}\n  User {user.name}\n  IdentityFile {user.key}\n\n"
        f"Host behind\n  HostName 127.0.0.1\n  Port {boards['b'].port}\n  User {user.name}\n  IdentityFile {user.key}\n"
        f"  ProxyJump jump\n")
    settings = SshSettings()
    spec = resolve_host("behind", settings.config())
    assert [(j.port, j.user) for j in spec.proxy_jump] == [(boards["a"].port, user.name)]
    trust(isolated_ssh, boards["b"])  # the jump host is not trusted yet: refused
    with pytest.raises(Exception, match="unknown host key for .*:%d" % boards["a"].port):
        connect(spec, settings.connect_options())
    trust(isolated_ssh, boards["a"])
    with connect(spec, settings.connect_options()) as remote:
        assert remote.run("id -un").stdout.strip() == user.name
        # the inner session really arrived through the jump host's forwarded channel
        assert remote.conn.gateway is not None and remote.conn.gateway.port == boards["a"].port


@pytest.mark.skipif(not shutil.which("ssh"), reason="no OpenSSH client (ssh) here")
def test_ssh_config_include_and_match_blocks_reach_the_boards(isolated_ssh, boards):
    """Hosts are resolved by `ssh -G`: a name from an `Include`d file (paramiko's parser ignores
    Include, paramiko #1609) and one set by a `Match` block both connect; the CLI uses the same."""
    from deploy.connect import connect
    from deploy.fleet import SshSettings
    from deploy.hosts import load_ssh_config, resolve_host

    user = boards["user"]
    included = isolated_ssh / "conf.d" / "boards.conf"
    included.parent.mkdir()
    included.write_text(f"Host inc-board\n  HostName 127.0.0.1\n  Port {boards['a'].port}\n")
    (isolated_ssh / "ssh_config").write_text(
        f"Include {included.parent}/*.conf\n\n"
        f"Match originalhost matched-board\n  HostName 127.0.0.1\n  Port {boards['b'].port}\n\n"
        f"Match host 127.0.0.1\n  User {user.name}\n  IdentityFile {user.key}\n")
    trust(isolated_ssh, boards["a"], boards["b"])
    settings = SshSettings()
    assert resolve_host("inc-board", load_ssh_config(settings.config())).hostname == "inc-board"  # paramiko alone
    for name, port in (("inc-board", boards["a"].port), ("matched-board", boards["b"].port)):
        spec = resolve_host(name, settings.config())
        assert (spec.hostname, spec.port, spec.user, spec.identity_files) == ("127.0.0.1", port, user.name, (str(user.key),))
        with connect(spec, settings.connect_options()) as remote:
            assert remote.run(["id", "-un"]).stdout.strip() == user.name
    r = cli("remote", "matched-board", "run", "--source", "pattern://?frames=1", "--max-frames", "1")
    assert r.returncode == 0 or "no current release in" in r.stderr, r.stderr  # connected: the board answered


# ---- deploy, releases, rollback, hostile names --------------------------------------------------------

# A file name cannot hold '/', so the injections target the remote working folder (the board user's
# HOME): any of them running leaves a pwned* file there, which the test looks for.
HOSTILE_MODEL = "m; touch pwned $(id) 'q' \"x\".tflite"
HOSTILE_LABELS = "labels $(touch pwned-labels) `touch pwned-bt` & touch pwned-amp.txt"


def injected(boards) -> list[str]:
    """Files the hostile names would create if any part of them ran as shell code."""
    home = boards["user"].home
    hits = [p.name for p in home.rglob("pwned*")] + glob.glob("/tmp/pwned*")
    hits += [p.name for p in home.iterdir() if p.name.startswith(("uid=", "gid=", "groups=")) or p.name in ("q", "x.tflite")]
    return hits


def deploy(model, labels=None, hosts=("board-a",), **kw):
    from deploy.commands import deploy_hosts
    from deploy.release import DeployConfig

    messages = []
    report = deploy_hosts(list(hosts), config=DeployConfig(model=model, labels=labels, offline=True),
                          on_status=messages.append, **kw)
    return report, messages


def remote_run_json(host="board-a"):
    r = cli("remote", host, "run", "--source", "pattern://?frames=2", "--max-frames", "2", "--json", "--threads", "1")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    assert len(rows) == 2
    return rows


def test_deploy_hostile_names_switch_and_rollback(ssh_ready, boards, wheelhouse, tiny_model, tiny_labels, tmp_path):
    hostile = tmp_path / "models" / HOSTILE_MODEL
    hostile.parent.mkdir()
    shutil.copy(tiny_model, hostile)
    for leftover in glob.glob("/tmp/pwned*"):
        os.remove(leftover)

    report, log = deploy(hostile, wheelhouse=wheelhouse)
    assert report.ok, report.summary_lines()
    first = report.outcomes[0].value
    # Preflight was reported before the upload.
    assert any("interpreter: ai-edge-litert" in m for m in log)
    # The dependency env got the set chosen from the board's own facts.
    assert any(m.endswith("requirements: ai-edge-litert>=1.2, numpy>=1.23.2, opencv-python-headless>=4.8, rich>=13, "
                          "packaging>=22") for m in log), log
    assert log.index(next(m for m in log if "arch: x86_64" in m)) < log.index(next(m for m in log if "uploading" in m))
    assert first.smoke["frames"] == 2
    assert current_target(boards) == "releases/" + Path(first.release).name
    on_board = board_path(boards, f"edgenet/current/model/{HOSTILE_MODEL}")
    assert on_board.read_bytes() == tiny_model.read_bytes()
    assert injected(boards) == []
    rows = remote_run_json()
    assert rows[0]["top"][0]["label"].startswith("class ")  # no labels deployed: generic names

    # A second release with labels (hostile name too) becomes current; the first stays intact.
    labels = tmp_path / HOSTILE_LABELS
    shutil.copy(tiny_labels, labels)
    report, _ = deploy(tiny_model, labels, wheelhouse=wheelhouse)
    assert report.ok, report.summary_lines()
    second = report.outcomes[0].value
    assert current_target(boards) == "releases/" + Path(second.release).name != "releases/" + Path(first.release).name
    names = tiny_labels.read_text().split("\n")
    assert remote_run_json()[0]["top"][0]["label"] in names

    r = cli("deploy", "--rollback", "board-a")
    assert r.returncode == 0, r.stderr
    assert current_target(boards) == "releases/" + Path(first.release).name
    assert remote_run_json()[0]["top"][0]["label"].startswith("class ")
    assert injected(boards) == []


def test_redeploys_share_one_dependency_env_and_unused_envs_are_pruned(ssh_ready, boards, wheelhouse, tiny_model):
    from deploy.commands import deploy_hosts
    from deploy.release import DeployConfig

    def release(**kw):
        report = deploy_hosts(["board-a"], config=DeployConfig(model=tiny_model, offline=True, **kw),
                              wheelhouse=wheelhouse, on_status=lambda m: None)
        assert report.ok, report.summary_lines()
        return report.outcomes[0].value

    def site_packages(root) -> Path:
        return next(Path(root).glob("lib/python3*/site-packages"))

    first, second = release(), release()
    name = first.env.name
    assert second.env.reused and second.env.name == name and len(first.env.key) == 16
    envs = board_path(boards, "edgenet/envs")
    assert (envs / name / ".complete").is_file()
    env_site = site_packages(envs / name)
    assert all((env_site / pkg).is_dir() for pkg in ("numpy", "cv2", "ai_edge_litert", "rich"))
    # The release's own venv holds edgenet alone and reaches the env through one .pth line.
    own = site_packages(Path(second.release) / "venv")
    assert (own / "edgenet").is_dir() and not (own / "numpy").exists() and not (own / "cv2").exists()
    assert (own / "edgenet-deps.pth").read_text().strip() == str(env_site)
    assert json.loads((Path(second.release) / "release.json").read_text())["env"] == name
    assert remote_run_json()[0]["frame"] == 0

    third = release(fresh_env=True)  # rebuilt on request: a newer env of the same key; the old one stays
    assert not third.env.reused and third.env.key == first.env.key and third.env.name > name
    assert (envs / name / ".complete").is_file()

    # Leftovers of interrupted env builds: an old one is removed, a recent one (maybe a deploy
    # running now) is left alone.
    stale, building = envs / ".0123456789abcdef-20260101T000000.000Z", envs / ".fedcba9876543210-20261201T000000.000Z"
    for d in (stale, building):
        d.mkdir()
        shutil.chown(d, boards["user"].name)
    three_hours_ago = __import__("time").time() - 3 * 3600
    os.utime(stale, (three_hours_ago, three_hours_ago))
    release(keep=2)
    last = release(keep=2)  # the newest env of the key is used; the two kept releases use it: the first env goes
    assert last.env.reused and last.env.name == third.env.name
    assert not (envs / name).exists() and (envs / third.env.name / ".complete").is_file()
    assert not stale.exists() and building.exists()
    building.rmdir()
    r = cli("deploy", "--rollback", "board-a")  # to the other kept release, whose env is there
    assert r.returncode == 0, r.stderr
    assert remote_run_json()[0]["frame"] == 0


def test_interrupted_deploy_leaves_previous_release_current_and_runnable(ssh_ready, boards, wheelhouse, tiny_model, tmp_path):
    """An exception at any step before the switch: the board command removes the release folder."""
    if not board_path(boards, "edgenet/current").exists():
        assert deploy(tiny_model, wheelhouse=wheelhouse)[0].ok
    before = current_target(boards)
    releases_before = set(os.listdir(board_path(boards, "edgenet/releases")))

    class Killed(Exception):
        pass

    for step in ("uploaded-model", "venv"):
        def kill_at(s, step=step):
            if s == step:
                raise Killed(f"killed at {step}")

        report, _ = deploy(tiny_model, wheelhouse=wheelhouse, on_step=kill_at)
        assert not report.ok and f"Killed: killed at {step}" in report.failed[0].error
        assert current_target(boards) == before
        assert set(os.listdir(board_path(boards, "edgenet/releases"))) == releases_before, step
        assert not [n for n in os.listdir(board_path(boards, "edgenet/envs")) if n.startswith(".")]
    # Ctrl-C's flag seen at the last moment, after the smoke test: `commit` is never sent.
    cancel = __import__("threading").Event()
    report, _ = deploy(tiny_model, wheelhouse=wheelhouse, cancel=cancel,
                       on_step=lambda s: cancel.set() if s == "smoke" else None)
    assert not report.ok and "interrupted before the switch" in report.failed[0].error
    assert current_target(boards) == before
    assert set(os.listdir(board_path(boards, "edgenet/releases"))) == releases_before
    assert remote_run_json()[0]["frame"] == 0  # the previous release still runs


def test_connection_dropped_mid_upload_leaves_previous_release(ssh_ready, boards, wheelhouse, tiny_model, monkeypatch):
    """The network goes away halfway through the model's upload: paramiko's own progress callback
    closes the ssh transport once half the bytes are sent."""
    import paramiko

    if not board_path(boards, "edgenet/current").exists():
        assert deploy(tiny_model, wheelhouse=wheelhouse)[0].ok
    before = current_target(boards)
    real_put = paramiko.SFTPClient.put

    def dropping_put(self, localpath, remotepath, callback=None, confirm=True):
        def pull_the_cable(sent, total):
            if sent >= total // 2:
                self.get_channel().get_transport().close()
        return real_put(self, localpath, remotepath, pull_the_cable if remotepath.endswith(".tflite") else callback, confirm)

    monkeypatch.setattr(paramiko.SFTPClient, "put", dropping_put)
    report, _ = deploy(tiny_model, wheelhouse=wheelhouse)
    monkeypatch.setattr(paramiko.SFTPClient, "put", real_put)
    assert not report.ok
    assert "upload of mobilenet_v1_025_64_int8.tflite" in report.failed[0].error, report.failed[0].error
    assert current_target(boards) == before
    assert (board_path(boards, "edgenet/current") / "release.json").exists()
    assert remote_run_json()[0]["frame"] == 0


def test_service_refused_before_any_change_without_passwordless_sudo(ssh_ready, boards, wheelhouse, tiny_model):
    releases = board_path(boards, "edgenet/releases")
    before = sorted(os.listdir(releases)) if releases.exists() else []
    r = cli("deploy", "board-a", "--model", tiny_model, "--offline", "--wheelhouse", wheelhouse,
            "--service", "--source", "pattern://", "--run-args", "--headless --top-k 3")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith(
        f"edgenet: error: --service needs {'passwordless sudo for ' + boards['user'].name if shutil.which('systemctl') else 'systemd (systemctl)'}")
    assert "board-a: interpreter: ai-edge-litert" in r.stderr  # preflight was reported first
    assert (sorted(os.listdir(releases)) if releases.exists() else []) == before


# ---- remote work -----------------------------------------------------------------------------------

def test_remote_profile_results_copied_back(ssh_ready, boards, wheelhouse, tiny_model, tmp_path):
    if not board_path(boards, "edgenet/current").exists():
        assert deploy(tiny_model, wheelhouse=wheelhouse)[0].ok
    r = cli("remote", "--results", tmp_path / "results", "board-a", "profile", "--threads", "1", "--min-runs", "5",
            "--min-time", "0", "--warmup", "1", "--target-fps", "1")
    assert r.returncode == 0, r.stderr
    local = tmp_path / "results" / "board-a"
    # (no pareto.png: the board's venv has no matplotlib unless edgenet[plot] is installed there)
    assert sorted(p.name for p in local.iterdir()) == ["profile.csv", "profile.json"]
    report = json.loads((local / "profile.json").read_text())
    # The deployed model has no published or given accuracy: it is timed, but cannot be picked.
    assert report["config"]["models"] == str(board_path(boards, "edgenet/current").resolve() / "model")
    assert report["choice"]["meets_target"] is False and "none has a known accuracy" in report["choice"]["explanation"]
    assert report["choice"]["fastest"]["fps"] > 1
    assert len((local / "profile.csv").read_text().splitlines()) == 1 + len(report["results"])
    assert "board-a:" in r.stdout


def test_profile_host_workflow_pushes_models_and_prints_pick(ssh_ready, boards, wheelhouse, tiny_model, tmp_path):
    if not board_path(boards, "edgenet/current").exists():
        assert deploy(tiny_model, wheelhouse=wheelhouse)[0].ok
    models = tmp_path / "grid"
    models.mkdir()
    for suffix in ("int8", "uint8"):
        shutil.copy(FIXTURES / f"mobilenet_v1_025_64_{suffix}.tflite", models)
    accuracy = tmp_path / "acc.json"  # a workstation file: pushed beside the models
    accuracy.write_text(json.dumps({"mobilenet_v1_025_64_int8": 0.61, "mobilenet_v1_025_64_uint8": 0.60}))
    r = cli("profile", "--host", "board-b", "--models", models, "--target-fps", "1", "--threads", "1",
            "--min-runs", "5", "--min-time", "0", "--warmup", "1", "--accuracy", accuracy, "--results", tmp_path / "res")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "res" / "board-b" / "profile.json").read_text())
    assert "/edgenet/models/" in report["config"]["models"]
    pick = report["choice"]["pick"]
    assert pick["name"] == "mobilenet_v1_025_64_int8" and pick["accuracy"] == pytest.approx(61.0)
    assert f"board-b: pick: {pick['name']} with {pick['threads']} thread(s)" in r.stdout


def test_remote_eval_streams_the_boards_report(ssh_ready, boards, wheelhouse, tiny_model, tiny_labels):
    """`remote HOST eval` on images that live on the board (written into the board user's HOME)."""
    import cv2
    import numpy as np

    from tests.fixtures.drawings import LABELS, draw

    if not board_path(boards, "edgenet/current").exists():
        assert deploy(tiny_model, wheelhouse=wheelhouse)[0].ok
    images = board_path(boards, "eval images")
    rng = np.random.default_rng(3)
    for label in LABELS:
        (images / label).mkdir(parents=True, exist_ok=True)
        for i in range(3):
            cv2.imwrite(str(images / label / f"{i}.png"), draw(label, rng))
    labels = board_path(boards, "labels for eval.txt")
    shutil.copy(tiny_labels, labels)
    for p in [images, labels, *images.rglob("*")]:
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    r = cli("remote", "board-a", "eval", "--images", images, "--labels", labels, "--json", "--threads", "1")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout[r.stdout.index("{"):])
    assert report["count"] == 30 and report["top1"] >= 0.8
    assert report["model"].startswith(str(board_path(boards, "edgenet/releases")))  # ran the current release's model


@pytest.mark.skipif(not shutil.which("journalctl"), reason="no journalctl on this 'board'")
def test_remote_logs_runs_journalctl_on_the_board(ssh_ready):
    # No systemd runs here, so the unit has no entries; journalctl's own answer comes back over ssh.
    r = cli("remote", "board-a", "logs", "--no-follow")
    assert r.returncode == 0, r.stderr
    assert "-- No entries --" in r.stdout


# ---- fleets -----------------------------------------------------------------------------------------

def test_fleet_deploy_in_parallel_one_host_failing(ssh_ready, boards, wheelhouse, tiny_model, tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("# two boards, one of them down\nboard-b\nboard-bad   # wrong port\n")
    r = cli("deploy", "--hosts-file", hosts, "--parallel", "2", "--offline", "--wheelhouse", wheelhouse,
            "--model", tiny_model)
    assert r.returncode == 2
    assert "[board-b] done" in r.stderr and "[board-bad] FAILED: cannot reach 127.0.0.1:" in r.stderr
    assert "edgenet: 1 of 2 host(s) succeeded" in r.stderr
    assert "FAILED board-bad: cannot reach" in r.stderr and "FAILED board-b:" not in r.stderr
    assert "board-b: " in r.stdout and "is current" in r.stdout


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_remote_run_serve_forwards_the_live_view(ssh_ready, boards, wheelhouse, tiny_model):
    """`remote HOST run --serve PORT`: the board's live view reachable on this machine over ssh.
    Board and workstation are one machine here, so the forward uses another local port."""
    import time
    import urllib.request

    if not board_path(boards, "edgenet/current").exists():
        assert deploy(tiny_model, wheelhouse=wheelhouse)[0].ok
    board_port, local_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgenet", "remote", "--local-port", str(local_port), "board-a", "run",
         "--source", "pattern://?width=160&height=120", "--duration", "8", "--headless", "--threads", "1",
         "--serve", str(board_port)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stats = None
    deadline = time.time() + 30
    while time.time() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{local_port}/stats", timeout=2) as r:
                stats = json.loads(r.read())
            if stats.get("frame") is not None:
                break
        except (OSError, ValueError):
            time.sleep(0.3)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert stats is not None and stats["frame"] is not None, err
    assert stats["top"] and stats["top"][0]["label"]  # the board's classification, seen from here
    assert f"live view of board-a at http://127.0.0.1:{local_port}/" in err


def test_remote_run_serve_refuses_port_0_and_several_hosts(ssh_ready):
    r = cli("remote", "board-a", "run", "--source", "pattern://", "--serve", "0")
    assert r.returncode == 2 and "fixed port" in r.stderr
    r = cli("remote", "board-a,board-b", "run", "--source", "pattern://", "--serve", "8080")
    assert r.returncode == 2 and "one host" in r.stderr


def test_deploy_and_remote_take_a_model_index_name(ssh_ready, boards, wheelhouse, tiny_model, tiny_labels, tmp_path,
                                                   monkeypatch):
    """`deploy --model NAME` pushes the workstation's cached file (pulled here once, sha256-checked) and its
    labels; `remote run --model NAME` too. The board never downloads anything."""
    from tests.modelserver import ModelServer, official_archive, sha256, write_index

    www = tmp_path / "www"
    www.mkdir()
    official_archive(www, "tiny_quant", tiny_model)
    with ModelServer(www) as server:
        monkeypatch.setenv("EDGENET_MODEL_INDEX", str(write_index(tmp_path / "index.json", [
            {"name": "tiny_official", "url": server.url("tiny_quant.tgz"), "sha256": sha256(www / "tiny_quant.tgz"),
             "member": "tiny_quant.tflite", "labels": str(tiny_labels)}])))
        r = cli("deploy", "board-a", "--model", "tiny_official", "--offline", "--wheelhouse", wheelhouse)
        assert r.returncode == 0, r.stderr
        assert server.requests == ["/tiny_quant.tgz"]
    on_board = board_path(boards, "edgenet/current/model")
    assert (on_board / "tiny_official.tflite").read_bytes() == tiny_model.read_bytes()
    assert (on_board / "tiny_official.labels.txt").read_text() == tiny_labels.read_text()
    names = tiny_labels.read_text().split("\n")
    assert remote_run_json()[0]["top"][0]["label"] in names  # the deployed labels came with the name

    # the server is gone: a remote run by name uses the workstation's cache and pushes that file
    r = cli("remote", "board-a", "run", "--model", "tiny_official", "--source", "pattern://?frames=2",
            "--max-frames", "2", "--json", "--threads", "1")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 2 and rows[0]["top"][0]["label"] in names
    assert (board_path(boards, "edgenet/models/index/tiny_official.tflite")).read_bytes() == tiny_model.read_bytes()

    # remote profile --models NAME: the same (a name the workstation's index does not know stays a board path)
    r = cli("remote", "--results", tmp_path / "res", "board-a", "profile", "--models", "tiny_official",
            "--threads", "1", "--min-runs", "3", "--min-time", "0", "--warmup", "1")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "res" / "board-a" / "profile.json").read_text())
    board_model = report["results"][0]["model"]
    assert board_model.startswith(str(board_path(boards, "edgenet/models/"))) and board_model.endswith("/tiny_official.tflite")
