"""The emitted Ansible playbooks (`edgenet deploy --emit-ansible`) run by a real ansible-playbook against
three loopback boards (real sshd, tests/ansible_fleet.py): two good ones and one whose python3 cannot
make a venv. One emitted folder and one set of boards for the module; the board's Python is the
system /usr/bin/python3 and the playbook installs from the offline wheelhouse (built once here from
pip's cache, as the other deploy tiers do), so the boards download nothing.

Covered: the good boards deploy and the broken one is failed in the recap with the board command's
message; a second run reports changed=0 and makes no release; check mode on new artifacts changes
nothing on the boards; a real new release (the dependency env reused) and rollback.yml switching
`current` back; serial=2 runs the boards in inventory order, one batch after the other; max_fail_percentage=0
stops the play for the boards of later batches. A hostile model file name and base folder travel
through every step without running anything.

Left out: --service (no systemd here: the unit template's text is checked in
tests/test_deploy_ansible_emit.py), become/sudo, boards of different kinds in one run (the grouping
is checked there from recorded preflight outputs), ProxyJump through Ansible, real boards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import sshd as sshd_mod
from tests.ansible_fleet import BROKEN_VENV_MESSAGE, start_boards, stop_boards, write_ssh_files
from tests.conftest import ROOT

pytestmark = [pytest.mark.ssh, pytest.mark.ansible]

BASE = "~/edge fleet; touch pwned-base & (1) 'q'"
HOSTILE_MODEL = "tiny {{ lookup('pipe', 'touch pwned-jinja') }}; $(touch pwned-sh) 'q'.tflite"
ORDER = ("ans-a", "ans-broken", "ans-b")  # inventory order: the broken board in the middle
PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, tiny_model, tiny_labels):
    reason = sshd_mod.sshd_available()
    if reason:
        pytest.skip(reason)
    if not PLAYBOOK.exists():
        pytest.skip("ansible-playbook not installed (pip install -e '.[fleet]')")
    work = tmp_path_factory.mktemp("ansible-fleet")
    boards = start_boards([(alias, alias == "ans-broken") for alias in ORDER], "ans")
    try:
        config, known = write_ssh_files(work, boards)
        env = dict(os.environ, PIP_CACHE_DIR=sshd_mod.REAL_PIP_CACHE, EDGENET_CACHE=str(work / "cache"), HOME=str(work),
                   EDGENET_SSH_CONFIG=str(config), EDGENET_KNOWN_HOSTS=str(known))
        env.pop("SSH_AUTH_SOCK", None)
        wheelhouse = sshd_mod.board_wheelhouse(work, work / "wheelhouse")
        model = work / HOSTILE_MODEL
        shutil.copy(tiny_model, model)
        other = work / "second model.tflite"  # the same network, other bytes: a new release
        other.write_bytes(tiny_model.read_bytes() + b"\0" * 1024)
        dirs = {}
        for name, m in (("first", model), ("second", other)):
            r = subprocess.run([sys.executable, "-m", "edgenet", "deploy", "--emit-ansible", work / name, *ORDER,
                                "--model", m, "--labels", tiny_labels, "--offline", "--wheelhouse", wheelhouse,
                                "--base-dir", BASE], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
            assert r.returncode == 0, r.stderr
            dirs[name] = work / name
        yield {"boards": {b.alias: b for b in boards}, "dirs": dirs, "env": env, "emit_out": r.stdout}
    finally:
        stop_boards(boards)


def play(fleet, name: str, playbook: str = "deploy.yml", *args: str) -> tuple[int, str, dict]:
    d = fleet["dirs"][name]
    env = dict(fleet["env"], ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    r = subprocess.run([str(PLAYBOOK), "-i", str(d / "inventory.ini"), str(d / playbook), "-f", "6", *args],
                       capture_output=True, text=True, env=env, timeout=600, cwd=str(d.parent))
    out = r.stdout + r.stderr
    recap = {m.group(1): dict(zip(("ok", "changed", "unreachable", "failed"), map(int, m.groups()[1:])))
             for m in RECAP.finditer(out.split("PLAY RECAP", 1)[-1])}
    return r.returncode, out, recap


def base(board) -> Path:
    return board.user.home / BASE[2:]


def releases(board) -> list[str]:
    folder = base(board) / "releases"
    return sorted(os.listdir(folder)) if folder.exists() else []


def current(board) -> str | None:
    try:
        return os.readlink(base(board) / "current")
    except OSError:
        return None


def meta(board) -> dict:
    return json.loads((base(board) / "current" / "release.json").read_text())


def injected(fleet) -> list[str]:
    found = [str(p) for b in fleet["boards"].values() for p in b.user.home.rglob("pwned*")]
    return found + [str(p) for p in Path("/").glob("pwned*")] + [str(p) for p in Path("/tmp").glob("pwned*")]


def task_hosts(out: str) -> list[str]:
    """The host of every task result line, in output order (before the recap)."""
    body = out.split("PLAY RECAP", 1)[0]
    return re.findall(r"^(?:ok|changed|skipping|fatal|failed): \[([^\]]+)\]", body, re.M)


def test_emit_groups_the_boards_by_kind(fleet):
    inventory = (fleet["dirs"]["first"] / "inventory.ini").read_text()
    groups = re.findall(r"^\[(edgenet_[a-z0-9_]+)\]$", inventory, re.M)
    # three boards with the same Python, architecture and requirement set: one kind
    assert groups == ["edgenet_other_cp311_x86_64_glibc2_36_" + groups[0].rsplit("_", 1)[1]]
    assert re.findall(r"^ans-\S+$", inventory, re.M) == list(ORDER)
    assert f"{groups[0]}: ans-a, ans-broken, ans-b" in fleet["emit_out"]


def test_check_mode_on_fresh_boards_reports_the_change_and_writes_nothing(fleet):
    code, out, recap = play(fleet, "first", "deploy.yml", "--check")
    assert code == 0, out
    for alias, board in fleet["boards"].items():
        assert recap[alias]["changed"] == 1 and recap[alias]["failed"] == 0, out
        assert not base(board).exists()


def test_deploy_installs_the_good_boards_and_fails_the_broken_one(fleet):
    code, out, recap = play(fleet, "first")
    boards = fleet["boards"]
    assert code == 2, out  # ansible-playbook: some host failed
    assert set(recap) == set(ORDER), out
    for alias in ("ans-a", "ans-b"):
        assert recap[alias]["failed"] == 0 and recap[alias]["unreachable"] == 0, out
        assert recap[alias]["changed"] == 1  # the board command's change; copies are not counted
        m = meta(boards[alias])
        assert m["model"] == HOSTILE_MODEL and current(boards[alias]) == f"releases/{releases(boards[alias])[0]}"
        assert (base(boards[alias]) / "current" / "model" / HOSTILE_MODEL).is_file()
    assert recap["ans-broken"]["failed"] == 1
    assert "fatal: [ans-broken]" in out and BROKEN_VENV_MESSAGE in out
    assert current(boards["ans-broken"]) is None and releases(boards["ans-broken"]) == []
    assert injected(fleet) == []


def test_a_second_run_changes_nothing(fleet):
    before = {a: releases(b) for a, b in fleet["boards"].items()}
    code, out, recap = play(fleet, "first")
    for alias in ("ans-a", "ans-b"):
        assert recap[alias] == {"ok": recap[alias]["ok"], "changed": 0, "unreachable": 0, "failed": 0}, out
    assert recap["ans-broken"]["failed"] == 1
    assert {a: releases(b) for a, b in fleet["boards"].items()} == before


def test_check_mode_says_what_would_change_and_changes_nothing(fleet):
    boards = fleet["boards"]
    before = {a: (releases(boards[a]), current(boards[a])) for a in ("ans-a", "ans-b")}
    code, out, recap = play(fleet, "second", "deploy.yml", "--check", "--limit", "ans-a:ans-b")
    assert code == 0, out
    for alias in ("ans-a", "ans-b"):
        assert recap[alias]["changed"] == 1 and recap[alias]["failed"] == 0, out
        assert (releases(boards[alias]), current(boards[alias])) == before[alias]
        assert not (base(boards[alias]) / "incoming" / "second model.tflite").exists()


def test_a_new_release_then_rollback_switches_current_back(fleet):
    boards = fleet["boards"]
    first = {a: (current(boards[a]), meta(boards[a])["env"]) for a in ("ans-a", "ans-b")}
    code, out, recap = play(fleet, "second", "deploy.yml", "--limit", "ans-a:ans-b")
    assert code == 0, out
    for alias in ("ans-a", "ans-b"):
        m = meta(boards[alias])
        assert m["model"] == "second model.tflite" and current(boards[alias]) != first[alias][0]
        assert m["env"] == first[alias][1]  # the dependency env was reused: nothing installed
        assert len(releases(boards[alias])) == 2
    code, out, recap = play(fleet, "second", "rollback.yml")
    assert code == 2, out
    for alias in ("ans-a", "ans-b"):
        assert recap[alias]["changed"] == 1 and recap[alias]["failed"] == 0, out
        assert current(boards[alias]) == first[alias][0] and meta(boards[alias])["model"] == HOSTILE_MODEL
    assert recap["ans-broken"]["failed"] == 1 and "nothing deployed in" in out
    assert injected(fleet) == []


def test_serial_batches_run_in_inventory_order_and_a_failed_board_does_not_stop_the_next_batch(fleet):
    code, out, recap = play(fleet, "first", "deploy.yml", "-e", "edgenet_serial=2")
    hosts = task_hosts(out)
    last_of_first_batch = max(i for i, h in enumerate(hosts) if h in ("ans-a", "ans-broken"))
    assert hosts.index("ans-b") > last_of_first_batch, out  # every task of batch 1 before batch 2's first
    assert set(hosts[:last_of_first_batch + 1]) == {"ans-a", "ans-broken"}
    # the default max_fail_percentage (100): the batch after the broken board's runs
    assert recap["ans-b"] == {"ok": recap["ans-b"]["ok"], "changed": 0, "unreachable": 0, "failed": 0}, out
    assert recap["ans-broken"]["failed"] == 1 and recap["ans-a"]["failed"] == 0
    # (ansible-playbook itself stops a play whose whole batch failed, whatever the percentage: with
    # serial=1 the broken board would end the play; docs/deploy.md says so.)


def test_max_fail_percentage_0_stops_the_play_for_the_rest(fleet):
    code, out, recap = play(fleet, "first", "deploy.yml", "-e", "edgenet_serial=2", "-e",
                            "edgenet_max_fail_percentage=0")
    assert code != 0
    assert set(recap) == {"ans-a", "ans-broken"}, out  # ans-b, in the second batch, never ran
    assert recap["ans-a"]["failed"] == 0 and recap["ans-broken"]["failed"] == 1
    assert "ans-b]" not in out.split("PLAY RECAP", 1)[0]
