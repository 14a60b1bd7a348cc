"""`edgenet demo` before and after the long work (pure tier: nothing here trains)."""

import os
import subprocess
import sys
import time
from pathlib import Path

from edgenet.cli.demo import edgenet_command
from tests.conftest import ROOT


def test_a_missing_camera_is_found_before_anything_is_drawn_or_trained(tmp_path):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "edgenet", "demo", "--camera", "9"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "edgenet: error: cannot open camera 9 (V4L2)"
    assert "[1/6]" not in done.stdout and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # no temporary workdir was made
    assert time.perf_counter() - started < 30  # seconds, not the minutes of training


def test_the_suggested_command_reaches_this_install(tmp_path):
    venv_edgenet = Path(sys.prefix) / "bin" / "edgenet"
    assert venv_edgenet.is_file(), "the tests run from an installed edgenet (pip install -e .)"
    # The demo script installs into .venv without activating it: the shell's PATH does not have it.
    assert edgenet_command(path="/usr/bin:/bin") == str(venv_edgenet)
    assert edgenet_command(path=f"/usr/bin:{venv_edgenet.parent}") == "edgenet"
    # Another edgenet first on PATH is not this one: the full path is the one that works.
    other = tmp_path / "bin"
    other.mkdir()
    (other / "edgenet").write_text("#!/bin/sh\n")
    (other / "edgenet").chmod(0o755)
    assert edgenet_command(path=f"{other}:{venv_edgenet.parent}") == str(venv_edgenet)
