"""The board command's own logic, run here on local folders (no ssh): base folders, the atomic
switch, rollback, pruning, dead leftovers told from work in progress by their locks, the manifest,
verification on the board, free space, aborting a running step, and the command line's JSON and
exit codes, including its interactive protocol (the client going away = abort)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edgenet.board import releases as rel
from edgenet.board.install import Runner, check_manifest, check_space, env_key, parse_smoke, verify
from edgenet.board.releases import Aborted, BadInput, Layout, ReleaseError, ReleaseLock
from tests.conftest import ROOT

S1, S2, S3, S4, S5 = (f"2026010{i}T000000.000Z" for i in range(1, 6))


def make_release(layout: Layout, stamp: str, complete: bool = True, env: str | None = None) -> Path:
    folder = Path(layout.releases) / stamp
    folder.mkdir(parents=True)
    if complete:
        (folder / rel.MARKER).write_text(json.dumps({"release": stamp, "env": env}))
    return folder


def make_env(layout: Layout, name: str) -> Path:
    folder = Path(layout.envs) / name
    folder.mkdir(parents=True)
    (folder / rel.COMPLETE).write_text("")
    return folder


def age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t))


# ---- base folders ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("~", "/home/pi"), ("~/edgenet", "/home/pi/edgenet"), ("edge net", "/home/pi/edge net"),
    ("/srv/edge;net (1)/x", "/srv/edge;net (1)/x"), ("~/a/../b", "/home/pi/b"), ("-rf", "/home/pi/-rf"),
])
def test_base_folders_resolve_to_absolute_paths(text, expected):
    assert rel.resolve_base(text, home="/home/pi") == expected


@pytest.mark.parametrize("text,shown", [
    ("~/x$(touch pwned)", "'$'"), ("/tmp/`id`", "'`'"), ('/tmp/a"b', "'\"'"), ("/tmp/a\\b", "'\\\\'"),
    ("/tmp/a\nb", "'\\n'"),
])
def test_base_folders_no_quoting_can_carry_are_refused(text, shown):
    with pytest.raises(BadInput, match="pip writes this path into shell launcher scripts") as exc:
        rel.resolve_base(text, home="/home/pi")
    assert shown in str(exc.value) and "\n" not in str(exc.value)


def test_tilde_user_is_refused():
    with pytest.raises(BadInput, match="only ~ and ~/... are expanded"):
        rel.resolve_base("~pi/edgenet", home="/home/pi")


# ---- switch, rollback, prune -----------------------------------------------------------------------

def test_switch_is_an_atomic_rename_and_leaves_no_temp_link(tmp_path):
    layout = Layout(str(tmp_path / "edge net; $(touch pwned)"))
    make_release(layout, S1), make_release(layout, S2)
    rel.switch(layout, S1)
    assert os.readlink(layout.current) == f"releases/{S1}"
    rel.switch(layout, S2)
    assert os.readlink(layout.current) == f"releases/{S2}" and layout.current_stamp() == S2
    assert sorted(os.listdir(layout.base)) == ["current", "releases"]
    assert not (tmp_path / "pwned").exists()


def test_rollback_picks_the_newest_complete_older_release(tmp_path):
    layout = Layout(str(tmp_path / "b"))
    for s in (S1, S2, S4):
        make_release(layout, s)
    make_release(layout, S3, complete=False)  # an interrupted deploy's folder is never a target
    with pytest.raises(ReleaseError, match="nothing deployed in"):
        rel.rollback(layout)
    rel.switch(layout, S4)
    assert rel.rollback(layout) == (S4, S2)
    assert rel.rollback(layout) == (S2, S1)
    with pytest.raises(ReleaseError, match=f"no release older than {S1}"):
        rel.rollback(layout)
    assert rel.rollback(layout, to=S4) == (S1, S4)
    with pytest.raises(ReleaseError, match=f"no complete release {S3}"):
        rel.rollback(layout, to=S3)


def test_prune_keeps_the_newest_and_current_and_envs_still_named(tmp_path):
    layout = Layout(str(tmp_path / "b"))
    envs = {s: f"{'a' * 16}-{s}" for s in (S1, S2)} | {S3: f"{'b' * 16}-{S3}", S4: f"{'b' * 16}-{S3}"}
    for s in (S1, S2, S3, S4):
        make_release(layout, s, env=envs[s])
    for name in set(envs.values()) | {f"{'c' * 16}-{S1}"}:
        make_env(layout, name)
    at_work = make_release(layout, S5, complete=False)  # a deploy running now chose env c
    (at_work / rel.ENV_NOTE).write_text(f"{'c' * 16}-{S1}\n")
    lock = ReleaseLock(str(at_work / rel.LOCK))
    assert lock.acquire()
    try:
        rel.switch(layout, S1)  # rolled back to the oldest: current is never pruned
        removed = rel.prune(layout, keep=2)
    finally:
        lock.release()
    assert layout.complete() == [S1, S3, S4] and os.path.isdir(at_work)
    assert sorted(removed) == [f"envs/{'a' * 16}-{S2}", f"releases/{S2}"]
    assert sorted(layout.env_names()) == sorted([f"{'a' * 16}-{S1}", f"{'b' * 16}-{S3}", f"{'c' * 16}-{S1}"])


# ---- dead leftovers and locks ------------------------------------------------------------------------

def test_dead_leftovers_are_removed_and_work_in_progress_is_not(tmp_path):
    layout = Layout(str(tmp_path / "b"))
    make_release(layout, S1)
    rel.switch(layout, S1)
    killed = make_release(layout, S2, complete=False)  # kill -9 mid-upload: lock file, nobody holds it
    (killed / rel.LOCK).write_text("")
    (killed / "model.tflite.part").write_bytes(b"x" * 1000)
    running = make_release(layout, S3, complete=False)  # a deploy at work: holds its lock
    old_style = make_release(layout, S4, complete=False)  # no lock file, untouched for an hour
    age(old_style, 3600)
    fresh = make_release(layout, S5, complete=False)  # no lock file yet, just created: maybe starting
    half_dead = Path(layout.envs) / f".{'d' * 16}-{S2}"
    half_live = Path(layout.envs) / f".{'e' * 16}-{S3}"
    half_dead.mkdir(parents=True), half_live.mkdir()
    part = Path(layout.wheelhouse) / "numpy.whl.part"
    part.parent.mkdir()
    part.write_bytes(b"x")
    age(part, 3600)
    lock = ReleaseLock(str(running / rel.LOCK))
    assert lock.acquire()
    try:
        removed = rel.remove_dead_leftovers(layout)
    finally:
        lock.release()
    assert sorted(removed) == sorted([f"releases/{S2}", f"releases/{S4}", f"envs/.{'d' * 16}-{S2}",
                                      "wheelhouse/numpy.whl.part"])
    assert running.is_dir() and fresh.is_dir() and half_live.is_dir() and layout.current_stamp() == S1
    assert rel.remove_dead_leftovers(layout) == [f"releases/{S3}", f"envs/.{'e' * 16}-{S3}"]  # its run ended


def test_a_release_lock_is_exclusive_between_runs(tmp_path):
    a, b = ReleaseLock(str(tmp_path / ".lock")), ReleaseLock(str(tmp_path / ".lock"))
    assert a.acquire(blocking=False) and not b.acquire(blocking=False)
    a.release()
    assert b.acquire(blocking=False)
    b.release()


# ---- manifest, verification, requirement set, env key, free space ------------------------------------

def entry(path: Path) -> dict:
    data = path.read_bytes()
    return {"name": path.name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


@pytest.mark.parametrize("change,message", [
    (lambda m: m["model"].update(name="../x.tflite"), "is not a plain file name"),
    (lambda m: m["model"].update(name=".hidden"), "is not a plain file name"),
    (lambda m: m["model"].update(name="edgenet.whl"), "is not a plain file name"),
    (lambda m: m["model"].update(size=-1), "is not a byte count"),
    (lambda m: m["wheel"].update(sha256="abc"), "is not 64 hex digits"),
    (lambda m: m["wheel"].update(name="edgenet.zip"), "must end in .whl"),
    (lambda m: m.pop("model"), "model must be an object"),
])
def test_manifests_that_cannot_be_trusted_are_refused(change, message):
    m = {"wheel": {"name": "edgenet-0.1.0-py3-none-any.whl", "size": 1, "sha256": "0" * 64},
         "model": {"name": "m; $(id).tflite", "size": 2, "sha256": "1" * 64}, "labels": None}
    assert check_manifest(json.loads(json.dumps(m))) is not None  # hostile characters are fine: no shell
    change(m)
    with pytest.raises(BadInput, match=message):
        check_manifest(m)


def test_verification_names_the_file_and_what_is_wrong(tmp_path):
    f = tmp_path / "model.tflite"
    f.write_bytes(b"0123456789")
    good = entry(f)
    verify(str(f), good, "model")
    with pytest.raises(ReleaseError, match=r"has 10 bytes, expected 11 \(an interrupted or failed upload\)"):
        verify(str(f), {**good, "size": 11}, "model")
    f.write_bytes(b"0123456780")
    with pytest.raises(ReleaseError, match=r"has sha256 .*, expected .* \(corrupted in transfer or on disk\)"):
        verify(str(f), good, "model")
    with pytest.raises(ReleaseError, match="model model.tflite is missing on the board"):
        verify(str(tmp_path / "gone"), good, "model")


def write_wheel(path: Path, requires: list[str]) -> Path:
    import zipfile

    meta = "Metadata-Version: 2.1\nName: edgenet\nVersion: 0.1.0\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("edgenet/__init__.py", "")
        z.writestr("edgenet-0.1.0.dist-info/METADATA", meta)
    return path


def test_the_requirement_set_is_the_boards_own(monkeypatch):
    """The board command asks edgenet.board.requirements with the facts it gathers where it runs; a
    board nothing can run on is a one-line ReleaseError."""
    from dataclasses import replace

    from edgenet.board import facts as facts_mod
    from edgenet.board import install
    from edgenet.board.requirements import board_requirements

    here = facts_mod.gather_facts()
    assert install.requirement_set().lines == board_requirements(here).lines
    monkeypatch.setattr(facts_mod, "gather_facts", lambda: replace(here, kernel_machine="armv6l", pointer_bits=32))
    with pytest.raises(ReleaseError, match="no TFLite interpreter wheel exists for ARMv6"):
        install.requirement_set()


def test_env_key_changes_with_what_decides_the_envs_contents(monkeypatch):
    from dataclasses import replace

    from edgenet.board import install
    from edgenet.board.requirements import board_requirements
    from tests.test_deploy_preflight import load

    facts = load("pi5_bookworm.txt").facts

    def key(source="pypi", **changes):
        return env_key(board_requirements(replace(facts, **changes)).lines, source)

    base = key()
    assert len(base) == 16 and env_key(list(reversed(board_requirements(facts).lines)), "pypi") == base
    others = {key(system_numpy="1.24.3"), key("index:https://x.invalid/simple"),
              key("wheelhouse:numpy-2.1.0-cp311-cp311-manylinux_2_17_aarch64.whl")}
    assert key(system_picamera2="0.3.23") == base  # a fact that changes nothing pip installs keeps the env
    monkeypatch.setattr(install, "userland_machine", lambda: "armv7l")
    others.add(key())
    monkeypatch.setattr(install.platform, "libc_ver", lambda: ("glibc", "2.31"))
    others.add(key())
    assert base not in others and len(others) == 5


def test_free_space_is_checked_per_filesystem_with_both_numbers(tmp_path):
    free, need = check_space({str(tmp_path): 1 << 20})
    assert free > need >= 17
    with pytest.raises(ReleaseError, match=r"only \d+ MB free in .*, need \d+ MB \(\d+ MB to write \+ 16 MB margin\)"):
        check_space({str(tmp_path / "releases" / "x"): 1 << 60})


def test_parse_smoke():
    out = ('INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n'
           '{"frame": 0, "top": [{"index": 3, "label": "cat", "score": 0.9}], "infer_ms": 1.5}\n'
           '{"frame": 1, "top": [{"index": 3, "label": "cat", "score": 0.8}], "infer_ms": 1.2}\n2 frames in ...\n')
    assert parse_smoke(out) == {"frames": 2, "top1": "cat", "score": 0.8, "infer_ms": 1.2}
    with pytest.raises(ReleaseError, match="printed 1 result line"):
        parse_smoke(out.splitlines()[1])


def test_an_abort_kills_the_running_step_at_once():
    runner = Runner()
    threading.Timer(0.3, runner.abort, args=("SIGTERM",)).start()
    t = time.monotonic()
    with pytest.raises(Aborted, match=r"aborted \(SIGTERM\) before the switch"):
        runner.run(["sh", "-c", "sleep 30; echo never"], "a long step")
    assert time.monotonic() - t < 5


# ---- the command line: JSON, exit codes, the interactive protocol -------------------------------------

def board(*args, stdin=None, wheel_dir=ROOT):
    env = dict(os.environ, PYTHONPATH=str(wheel_dir))
    return subprocess.run([sys.executable, "-s", "-m", "edgenet.cli.release", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd="/", input=stdin, timeout=120)


def result_of(proc) -> dict:
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-1])


def artifacts(tmp_path: Path, tiny_model: Path) -> Path:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    wheel = write_wheel(incoming / "edgenet-0.1.0-py3-none-any.whl", ["rich>=13"])
    model = incoming / "m; $(touch pwned).tflite"
    model.write_bytes(tiny_model.read_bytes())
    manifest = {"wheel": entry(wheel), "model": entry(model), "labels": None}
    (incoming / "manifest.json").write_text(json.dumps(manifest))
    return incoming


def test_missing_or_corrupted_artifacts_exit_3_naming_them_and_leave_nothing(tmp_path, tiny_model):
    """Everything is decided before anything is written: files the manifest names that are absent or
    differ (size, sha256) are listed in one JSON line, exit 3, for the caller to copy and run again."""
    base = tmp_path / "base"
    layout = Layout(str(base))
    make_release(layout, S1)
    rel.switch(layout, S1)
    incoming = artifacts(tmp_path, tiny_model)
    model = next(incoming.glob("m;*"))
    model.write_bytes(model.read_bytes()[:-1] + b"\0")  # same size, other bytes
    manifest = json.loads((incoming / "manifest.json").read_text())
    manifest["labels"] = {"name": "labels.txt", "size": 3, "sha256": "0" * 64}  # not copied yet
    proc = board("install", "--base", base, "--manifest", "-", "--artifacts", incoming, stdin=json.dumps(manifest))
    assert proc.returncode == 3, proc.stderr
    out = result_of(proc)
    assert out["failed"] and out["changed"] is False and out["missing_wheels"] == []
    assert out["missing_artifacts"] == [model.name, "labels.txt"] and "run install again" in out["msg"]
    assert layout.stamps() == [S1] and layout.current_stamp() == S1 and not os.path.exists(layout.envs)
    check = board("install", "--base", base, "--manifest", "-", "--artifacts", incoming, "--check",
                  stdin=json.dumps(manifest))
    assert check.returncode == 0 and result_of(check)["changed"] is True  # --check: not a failure, nothing written
    assert result_of(check)["missing_artifacts"] == [model.name, "labels.txt"] and layout.stamps() == [S1]
    assert sorted(os.listdir(incoming)) == sorted(["edgenet-0.1.0-py3-none-any.whl", model.name, "manifest.json"])
    assert not (tmp_path / "pwned").exists() and not Path("/pwned").exists()


def test_wheelhouse_wheels_are_asked_for_only_when_the_env_must_be_built(tmp_path, tiny_model):
    from edgenet.board.install import requirement_set

    base = tmp_path / "base"
    layout = Layout(str(base))
    incoming = artifacts(tmp_path, tiny_model)
    manifest = json.loads((incoming / "manifest.json").read_text())
    manifest["wheelhouse"] = [{"name": "numpy-9.9-cp311-cp311-linux_x86_64.whl", "size": 5, "sha256": "1" * 64}]
    args = ("install", "--base", base, "--manifest", "-", "--artifacts", incoming, "--wheelhouse", "wheelhouse")
    proc = board(*args, "--check", stdin=json.dumps(manifest))
    assert result_of(proc)["missing_wheels"] == ["numpy-9.9-cp311-cp311-linux_x86_64.whl"]
    proc = board(*args, stdin=json.dumps(manifest))
    assert proc.returncode == 3 and result_of(proc)["missing_wheels"] == ["numpy-9.9-cp311-cp311-linux_x86_64.whl"]
    assert "the wheelhouse lacks 1 wheel(s)" in result_of(proc)["msg"] and layout.stamps() == []
    # A complete env of the key is there: the wheels are not looked at.
    key = env_key(requirement_set().lines, "wheelhouse:numpy-9.9-cp311-cp311-linux_x86_64.whl")
    make_env(layout, f"{key}-{S1}")
    assert result_of(board(*args, "--check", stdin=json.dumps(manifest)))["missing_wheels"] == []


def test_if_changed_answers_from_the_manifest_alone(tmp_path, tiny_model):
    """The current release already has these artifacts and env key: exit 0, changed false, without the
    artifacts being on the board (only the wheel, which runs the command, travels)."""
    from edgenet.board.install import requirement_set

    base = tmp_path / "base"
    layout = Layout(str(base))
    incoming = artifacts(tmp_path, tiny_model)
    manifest = json.loads((incoming / "manifest.json").read_text())
    key = env_key(requirement_set().lines, "pypi")
    env = f"{key}-{S1}"
    make_env(layout, env)
    folder = make_release(layout, S1)
    (folder / rel.MARKER).write_text(json.dumps({"env": env, "env_key": key, "artifacts": {
        k: manifest.get(k) for k in ("wheel", "model", "labels")}}))
    rel.switch(layout, S1)
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = board("install", "--base", base, "--manifest", "-", "--artifacts", empty, "--if-changed",
                 stdin=json.dumps(manifest))
    assert proc.returncode == 0, proc.stderr
    assert result_of(proc) == {"changed": False, "release": S1, "base": str(base), "removed": [],
                               "msg": "the current release already has these artifacts"}
    other = dict(manifest, model=dict(manifest["model"], sha256="2" * 64))
    proc = board("install", "--base", base, "--manifest", "-", "--artifacts", empty, "--if-changed",
                 stdin=json.dumps(other))
    assert proc.returncode == 3 and layout.stamps() == [S1]  # a new model: asked for


def test_usage_errors_exit_2_with_a_json_line(tmp_path):
    proc = board("install", "--base", "~/x$(id)", "--manifest", tmp_path / "m.json")
    assert proc.returncode == 2 and "pip writes this path" in result_of(proc)["msg"]
    proc = board("install", "--base", tmp_path, "--manifest", tmp_path / "m.json", "--keep", "1",
                 "--artifacts", tmp_path)
    assert proc.returncode == 1 and "cannot read the manifest" in result_of(proc)["msg"]
    proc = board("frobnicate")
    assert proc.returncode == 2 and result_of(proc)["failed"]


def test_status_rollback_and_clean_speak_json(tmp_path):
    base = tmp_path / "b"
    layout = Layout(str(base))
    for s in (S1, S2):
        make_release(layout, s)
    rel.switch(layout, S2)
    dead = make_release(layout, S3, complete=False)
    (dead / rel.LOCK).write_text("")
    status = result_of(board("status", "--base", base))
    assert status == {"changed": False, "base": str(base), "current": S2, "releases": [S1, S2], "incomplete": [S3],
                      "envs": []}
    proc = board("rollback", "--base", base)
    assert proc.returncode == 0 and result_of(proc) == {"changed": True, "from": S2, "to": S1, "base": str(base)}
    proc = board("rollback", "--base", base)
    assert proc.returncode == 1 and result_of(proc)["msg"] == f"no release older than {S1} to roll back to"
    assert result_of(board("clean", "--base", base)) == {"changed": True, "removed": [f"releases/{S3}"], "base": str(base)}
    assert result_of(board("clean", "--base", base))["changed"] is False


def test_interactive_client_going_away_aborts_and_removes_the_release(tmp_path, tiny_model):
    """edgenet deploy's protocol: the release folder is being uploaded while the command holds its lock;
    end of input (the client was interrupted or died) removes it and exits 130."""
    base = tmp_path / "b"
    layout = Layout(str(base))
    make_release(layout, S1)
    rel.switch(layout, S1)
    incoming = artifacts(tmp_path, tiny_model)
    folder = Path(layout.releases) / S2
    (folder / "model").mkdir(parents=True)
    wheel = next(incoming.glob("*.whl"))
    (folder / wheel.name).write_bytes(wheel.read_bytes())
    proc = subprocess.Popen([sys.executable, "-s", "-m", "edgenet.cli.release", "install", "--base", str(base),
                             "--release", S2, "--manifest", "-", "--interactive"], cwd="/", text=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdin.write((incoming / "manifest.json").read_text() + "\n")
    proc.stdin.flush()
    event = json.loads(proc.stdout.readline())
    assert event["event"] == "upload" and event["release"] == str(folder) and event["missing"] == []
    assert event["free_mb"] > event["need_mb"] > 0
    (folder / "model" / "partial.tflite").write_bytes(b"half")  # the upload was under way
    status = result_of(board("status", "--base", base))
    assert status["incomplete"] == [S2] and rel.remove_dead_leftovers(layout) == []  # locked: not a leftover
    proc.stdin.close()  # Ctrl-C on the workstation
    proc.wait(timeout=30)
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.returncode == 130, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["aborted"] and "the client went away" in result["msg"]
    assert layout.stamps() == [S1] and layout.current_stamp() == S1


def test_the_board_command_needs_the_standard_library_only():
    """It runs on the board's python3 before any venv exists."""
    code = ("import sys, edgenet.cli.release, edgenet.board.install_flow\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names) - {'edgenet', '__main__'}))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); exec({code!r})"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
