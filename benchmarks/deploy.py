"""Deploy benchmark on loopback: where a deploy's time goes, and what a second deploy saves.

Starts Debian's sshd on 127.0.0.1 (as the ssh tests do; needs root), then times with
perf_counter_ns, in one run:
  cold deploy   first deploy: wheelhouse pushed, dependency env built, release venv, smoke test, switch
                (the board-side steps are the board command, python3 -m edgenet.cli.release)
  warm deploy   later deploys: wheelhouse and dependency env already on the board (only the wheel
                and model travel; the release venv installs edgenet alone)
  fresh env     a warm deploy with --fresh-env: the dependencies installed again (what every
                deploy cost before environments were shared)
  rollback      switching current back
and each step (preflight, upload, dependency env, release venv, smoke test, switch). The board is this machine's
/usr/bin/python3; a Raspberry Pi's SD card and CPU make the venv/pip step several times slower.

    sudo python benchmarks/deploy.py [--model m.tflite] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import sshd as sshd_mod  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "tests/fixtures/mobilenet_v1_025_64_int8.tflite"))
    ap.add_argument("--repeat", type=int, default=2, help="warm deploys to time (default 2)")
    args = ap.parse_args()
    reason = sshd_mod.sshd_available()
    if reason:
        print(f"skipped: {reason}")
        return 0

    from deploy.build import build_wheelhouse
    from deploy.commands import deploy_hosts
    from deploy.fleet import SshSettings
    from deploy.preflight import parse_preflight, preflight_command
    from deploy.release import DeployConfig

    root = sshd_mod.make_root()
    user = sshd_mod.create_user(root)
    server = sshd_mod.Sshd(root, user)
    work = Path(tempfile.mkdtemp())
    try:
        cfg = work / "ssh_config"
        cfg.write_text(f"Host board\n  HostName 127.0.0.1\n  Port {server.port}\n  User {user.name}\n  IdentityFile {user.key}\n")
        kh = work / "known_hosts"
        kh.write_text(server.known_hosts_line())
        os.environ.pop("SSH_AUTH_SOCK", None)
        settings = SshSettings(ssh_config=str(cfg), known_hosts=str(kh))
        pre = parse_preflight(subprocess.run(["sh", "-c", preflight_command(str(root))], capture_output=True,
                                             text=True, check=True).stdout)
        t = time.perf_counter_ns()
        wheelhouse = build_wheelhouse(pre, work / "wheelhouse")
        wh_s = (time.perf_counter_ns() - t) / 1e9
        size = sum(f.stat().st_size for f in wheelhouse.glob("*.whl")) / 1e6
        print(f"wheelhouse for {pre.machine} cp{pre.python_version[0]}{pre.python_version[1]}: "
              f"{len(list(wheelhouse.glob('*.whl')))} wheels, {size:.0f} MB, {wh_s:.1f} s (pip cache warm)")

        def timed_deploy(fresh_env=False):
            marks = [("start", time.perf_counter_ns())]
            report = deploy_hosts(["board"], config=DeployConfig(model=Path(args.model), offline=True, fresh_env=fresh_env),
                                  settings=settings, wheelhouse=wheelhouse, on_status=lambda m: None,
                                  on_step=lambda s: marks.append((s, time.perf_counter_ns())))
            marks.append(("end", time.perf_counter_ns()))
            if not report.ok:
                raise SystemExit(report.summary_lines())
            steps = {marks[i][0]: (marks[i][1] - marks[i - 1][1]) / 1e9 for i in range(1, len(marks))}
            return (marks[-1][1] - marks[0][1]) / 1e9, steps

        cold, cold_steps = timed_deploy()
        warm = [timed_deploy() for _ in range(args.repeat)]
        fresh, fresh_steps = timed_deploy(fresh_env=True)
        t = time.perf_counter_ns()
        rb = deploy_hosts(["board"], settings=settings, do_rollback=True, on_status=lambda m: None)
        rb_s = (time.perf_counter_ns() - t) / 1e9
        assert rb.ok, rb.summary_lines()

        names = ["preflight", "checked", "uploaded-model", "uploaded", "verified", "env", "venv", "smoke", "switched", "end"]
        labels = {"preflight": "wheel build*+connect+pre", "checked": "wheel up + board cmd start",
                  "uploaded-model": "model upload", "uploaded": "wheelhouse upload", "verified": "sha256 on the board",
                  "env": "dependency env", "venv": "release venv + edgenet", "smoke": "smoke test",
                  "switched": "commit: release.json+switch", "end": "prune + close"}
        print(f"{'step':24s} {'cold s':>8s} {'warm s (median)':>16s} {'fresh env s':>12s}")
        for n in names:
            w = statistics.median(s[n] for _, s in warm)
            print(f"{labels[n]:24s} {cold_steps[n]:8.2f} {w:16.2f} {fresh_steps[n]:12.2f}")
        warm_total = statistics.median(total for total, _ in warm)
        print(f"{'total':24s} {cold:8.2f} {warm_total:16.2f} {fresh:12.2f}")
        print(f"warm / cold = {warm_total / cold:.2f}; warm / fresh env = {warm_total / fresh:.2f}; rollback {rb_s:.2f} s"
              "   (* the wheel is built once per process: cold only)")
    finally:
        server.stop()
        sshd_mod.delete_user(user)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
