"""Fleet benchmark on loopback: `edgenet deploy --parallel` against the emitted Ansible playbook.

Starts six loopback boards (tests/ansible_fleet.py: a throwaway user and Debian's sshd each; needs
root), then times with perf_counter_ns, for 1, 3 and 6 boards and each tool:
  cold   the board has nothing: wheelhouse pushed, dependency env built, release venv, smoke test, switch
  warm   a new model on boards that have the env: only the wheel/model travel, release venv, smoke test
Boards are made cold again by removing their base folder. Both tools use --offline with one
wheelhouse built here first. edgenet runs in-process (deploy_hosts, --parallel 6: its wheel is built
once, before the clock); the playbook runs as `ansible-playbook -f 6` on a DIR emitted beforehand
(emitting is timed separately: it preflights the boards and links the artifacts). Prints the table and
the ratio playbook-warm-6 / edgenet-warm-6 against the goal <= 2, with the load average.

    sudo nice python benchmarks/fleet.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import sshd as sshd_mod  # noqa: E402

SIZES = (1, 3, 6)
GOAL = 2.0
BASE = "~/edgenet"


def main() -> int:
    reason = sshd_mod.sshd_available()
    playbook = Path(sys.executable).parent / "ansible-playbook"
    if reason or not playbook.exists():
        print(f"skipped: {reason or 'ansible-playbook not installed (pip install -e .[fleet])'}")
        return 0
    from rich.console import Console
    from rich.table import Table

    from deploy.ansible import emit_ansible
    from deploy.build import build_wheel, build_wheelhouse
    from deploy.commands import deploy_hosts
    from deploy.fleet import SshSettings
    from deploy.preflight import parse_preflight, preflight_command
    from deploy.release import DeployConfig
    from tests.ansible_fleet import start_boards, stop_boards, write_ssh_files

    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="edgenet-fleet-bench-"))
    boards = start_boards([(f"fleet-{i}", False) for i in range(max(SIZES))], "bench")
    try:
        config, known = write_ssh_files(work, boards)
        os.environ.pop("SSH_AUTH_SOCK", None)
        settings = SshSettings(ssh_config=str(config), known_hosts=str(known))
        pre = parse_preflight(subprocess.run(["sh", "-c", preflight_command(str(work))], capture_output=True,
                                             text=True, check=True).stdout)
        wheelhouse = build_wheelhouse(pre, work / "wheelhouse")
        build_wheel()
        tiny = (ROOT / "tests/fixtures/mobilenet_v1_025_64_int8.tflite").read_bytes()
        models = iter(range(1, 1000))

        def new_model() -> Path:  # the same network, other bytes: every deploy makes a release
            path = work / f"model-{next(models)}.tflite"
            path.write_bytes(tiny + b"\0" * len(path.name) * 97)
            return path

        def reset(n: int) -> None:
            for b in boards[:n]:
                shutil.rmtree(b.user.home / BASE[2:], ignore_errors=True)

        def edgenet(n: int) -> float:
            t = time.perf_counter_ns()
            report = deploy_hosts([b.alias for b in boards[:n]], config=DeployConfig(model=new_model(), offline=True),
                                  settings=settings, wheelhouse=wheelhouse, parallel=6, on_status=lambda m: None)
            seconds = (time.perf_counter_ns() - t) / 1e9
            if not report.ok:
                raise SystemExit(report.summary_lines())
            return seconds

        emit_times = []

        def ansible(n: int) -> float:
            out = work / f"dir-{len(emit_times)}"
            t = time.perf_counter_ns()
            emit_ansible(out, [b.alias for b in boards[:n]], config=DeployConfig(model=new_model(), offline=True),
                         settings=settings, wheelhouse=wheelhouse, parallel=6, on_status=lambda m: None)
            emit_times.append((time.perf_counter_ns() - t) / 1e9)
            t = time.perf_counter_ns()
            r = subprocess.run([str(playbook), "-i", str(out / "inventory.ini"), str(out / "deploy.yml"), "-f", "6"],
                               capture_output=True, text=True, env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
            seconds = (time.perf_counter_ns() - t) / 1e9
            if r.returncode != 0:
                raise SystemExit(r.stdout[-3000:] + r.stderr[-2000:])
            return seconds

        results = {}
        for n in SIZES:
            for tool, run in (("edgenet", edgenet), ("ansible", ansible)):
                reset(n)
                results[(tool, "cold", n)] = run(n)
                results[(tool, "warm", n)] = run(n)
                print(f"{n} board(s), {tool}: cold {results[(tool, 'cold', n)]:.1f} s, "
                      f"warm {results[(tool, 'warm', n)]:.1f} s", flush=True)
        load_end = os.getloadavg()
        table = Table(title="deploy wall time on loopback boards (s), --offline, one run")
        table.add_column("boards", justify="right")
        for col in ("edgenet cold", "playbook cold", "edgenet warm", "playbook warm", "playbook/edgenet warm"):
            table.add_column(col, justify="right")
        for n in SIZES:
            ew, aw = results[("edgenet", "warm", n)], results[("ansible", "warm", n)]
            table.add_row(str(n), f"{results[('edgenet', 'cold', n)]:.1f}", f"{results[('ansible', 'cold', n)]:.1f}",
                          f"{ew:.1f}", f"{aw:.1f}", f"{aw / ew:.2f}")
        Console(width=120).print(table)
        ratio = results[("ansible", "warm", 6)] / results[("edgenet", "warm", 6)]
        print(f"playbook-warm-6 / edgenet-warm-6 = {ratio:.2f} (goal <= {GOAL}: {'met' if ratio <= GOAL else 'NOT met'})")
        print(f"emitting (preflight + artifacts, not in the table): median {sorted(emit_times)[len(emit_times) // 2]:.1f} s")
        print(f"load average at start {load_start[0]:.1f} {load_start[1]:.1f} {load_start[2]:.1f}, "
              f"at end {load_end[0]:.1f} {load_end[1]:.1f} {load_end[2]:.1f} ({os.cpu_count()} cores)")
    finally:
        stop_boards(boards)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
