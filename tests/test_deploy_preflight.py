"""Preflight parsing from recorded outputs of boards (tests/fixtures/preflight/), and the choices made from it.
The requirement set of every recorded board: tests/test_board_requirements.py."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from dataclasses import replace

import pytest

from deploy.build import platform_tags
from deploy.errors import DeployError, PreflightError
from deploy.preflight import check, parse_preflight, preflight_command

from tests.conftest import FIXTURES

REC = FIXTURES / "preflight"


def load(name):
    return parse_preflight((REC / name).read_text())


def test_pi5_bookworm():
    p = load("pi5_bookworm.txt")
    assert (p.arch, p.machine, p.board_kind) == ("aarch64", "aarch64", "raspberry-pi")
    assert p.board == "Raspberry Pi 5 Model B Rev 1.0"
    assert p.python_version == (3, 11, 2) and p.python == "/usr/bin/python3" and p.glibc == "2.36"
    assert p.os_name == "Debian GNU/Linux 12 (bookworm)"
    assert p.camera_picamera2 and "/dev/video0" in p.video_devices and len(p.video_devices) == 16
    assert p.disk_free_mb == pytest.approx(24318412 / 1024)
    rs = check(p)
    assert rs.interpreter == p.interpreter == "ai-edge-litert"
    assert rs.lines == ["ai-edge-litert>=1.2", "numpy==1.24.2", "opencv-python-headless>=4.8,<4.12", "rich>=13",
                        "packaging>=22"]
    assert "requirements: ai-edge-litert>=1.2, numpy==1.24.2, opencv-python-headless>=4.8,<4.12, rich>=13, packaging>=22" \
        in p.lines()
    assert p.target == "/home/pi/edgenet" and p.cores == 4


def test_pi3_bullseye_armv7l_gets_tflite_runtime_213_and_numpy1():
    p = load("pi3_bullseye_armv7l.txt")
    assert (p.machine, p.board_kind, p.python_version) == ("armv7l", "raspberry-pi", (3, 9, 2))
    assert not p.camera_picamera2
    assert check(p).lines == ["tflite-runtime==2.13.0", "numpy>=1.21.2,<2", "rich>=13", "packaging>=22"]
    tags = platform_tags(p.facts)
    assert tags[0] == "manylinux_2_17_armv7l" and "manylinux_2_31_armv7l" in tags and "manylinux_2_32_armv7l" not in tags


def test_jetson_orin_detected_and_missing_venv_refused():
    p = load("jetson_orin_jetpack6.txt")
    assert (p.machine, p.board_kind) == ("aarch64", "jetson")
    assert p.python_version == (3, 10, 12) and p.interpreter == "ai-edge-litert"
    assert p.video_devices == ("/dev/video0",)
    with pytest.raises(PreflightError, match="sudo apt install python3-venv"):
        check(p)
    assert check(replace(p, venv=True)).interpreter == "ai-edge-litert"


def test_32bit_userland_on_64bit_kernel_is_armv7l():
    p = load("pi4_bookworm_32bit_64bit_kernel.txt")
    assert p.arch == "aarch64" and p.machine == "armv7l" and p.python_bits == 32 and p.interpreter == "tflite-runtime"
    assert "arch: aarch64 (32-bit userland: armv7l)" in p.lines()
    assert platform_tags(p.facts)[-1] == "linux_armv7l"


def test_errors_no_python_old_python_full_disk_unsupported_arch():
    text = (REC / "pi5_bookworm.txt").read_text()
    no_py = parse_preflight("\n".join(l for l in text.splitlines()
                                      if not l.startswith(("python", "venv", "fact_"))) + "\n")
    assert no_py.python is None and no_py.facts is None
    with pytest.raises(PreflightError, match="no python3 on the board"):
        check(no_py)
    # Python 3.5 cannot run the facts script: no fact_ lines, only its version.
    old = parse_preflight("\n".join(l for l in text.splitlines() if not l.startswith("fact_"))
                          .replace("python_version=3.11.2", "python_version=3.5.3") + "\n")
    with pytest.raises(PreflightError, match=r"Python 3.5.3, too old to run edgenet \(needs >= 3.9\)"):
        check(old)
    full = parse_preflight(text.replace("disk_free_kb=24318412", "disk_free_kb=10240"))
    with pytest.raises(PreflightError, match=r"only 10 MB free in /home/pi/edgenet"):
        check(full)
    riscv = parse_preflight(text.replace("fact_kernel_machine=aarch64", "fact_kernel_machine=riscv64"))
    with pytest.raises(PreflightError, match="no TFLite interpreter wheel for riscv64"):
        check(riscv)
    with pytest.raises(PreflightError, match="facts are incomplete"):
        parse_preflight(text.replace("fact_pointer_bits=64\n", ""))


def test_truncated_output_is_an_error():
    with pytest.raises(PreflightError, match="did not finish"):
        parse_preflight("arch=aarch64\nhome=/home/pi\n")


def test_script_runs_here_and_parses(tmp_path):
    """The real script through a real sh, quoted exactly as it is sent over ssh."""
    target = tmp_path / "a b; $(touch pwned)" / "edgenet"
    out = subprocess.run(["sh", "-c", preflight_command(str(target))], capture_output=True, text=True, cwd=tmp_path)
    p = parse_preflight(out.stdout)
    assert p.target == str(target) and p.disk_free_mb > 0 and p.arch
    assert not (tmp_path / "pwned").exists()


# ---- the board wheel and its requirements (the env's key is tested in test_board_releases.py) --------

def write_wheel(path, requires):
    meta = "Metadata-Version: 2.1\nName: edgenet\nVersion: 0.1.0\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("edgenet/__init__.py", "")
        z.writestr("edgenet-0.1.0.dist-info/METADATA", meta)
    return path


def test_the_board_wheel_holds_edgenet_alone(tmp_path):
    """What deploy pushes: the edgenet package and its metadata, no calibration/deploy."""
    from deploy.build import build_wheel, wheel_top_level

    wheel = build_wheel(tmp_path)
    assert wheel_top_level(wheel) == {"edgenet", "edgenet-0.1.0.dist-info"}
    names = zipfile.ZipFile(wheel).namelist()
    assert {"edgenet/__init__.py", "edgenet/board/manifest.py", "edgenet/board/facts.py", "edgenet/representative.py",
            "edgenet/cli/__init__.py", "edgenet/cli/requirements.py"} <= set(names)
    assert not any("__pycache__" in n or n.startswith(("calibration/", "deploy/", "tests/")) for n in names)
    entry = zipfile.ZipFile(wheel).read("edgenet-0.1.0.dist-info/entry_points.txt").decode()
    assert "edgenet = edgenet.cli:main" in entry


def test_requirements_command_runs_from_the_wheel_alone(tmp_path, capsys):
    """A board with the wheel (built by hand: `edgenet deploy --build-wheel DIR`) and nothing else: the
    wheel on PYTHONPATH (a zip) prints its set."""
    from deploy.build import wheel_top_level
    from edgenet.cli import main

    assert main(["deploy", "--build-wheel", str(tmp_path / "dist")]) == 0
    wheel = Path(capsys.readouterr().out.strip())
    assert wheel.parent == tmp_path / "dist" and wheel_top_level(wheel) == {"edgenet", "edgenet-0.1.0.dist-info"}
    r = subprocess.run([sys.executable, "-m", "edgenet.cli.requirements"], capture_output=True, text=True,
                       cwd=tmp_path, env={"PYTHONPATH": str(wheel), "PATH": os.environ["PATH"]}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[2].startswith("ai-edge-litert>=1.2")


def test_build_wheel_takes_nothing_else(tmp_path, capsys):
    from edgenet.cli import main

    assert main(["deploy", "--build-wheel", str(tmp_path), "pi@board"]) == 2
    assert capsys.readouterr().err.strip().endswith("--build-wheel DIR takes nothing else: it builds the board wheel "
                                                    "and contacts no board")
    (tmp_path / "file").write_text("")
    assert main(["deploy", "--build-wheel", str(tmp_path / "file")]) == 2
    assert "cannot write --build-wheel" in capsys.readouterr().err


def test_a_wheel_with_workstation_packages_is_refused(tmp_path):
    from deploy.build import check_board_wheel

    wheel = write_wheel(tmp_path / "edgenet-0.1.0-py3-none-any.whl", ["numpy>=1.23"])
    check_board_wheel(wheel)
    with zipfile.ZipFile(wheel, "a") as z:
        z.writestr("calibration/__init__.py", "")
        z.writestr("deploy/__init__.py", "")
    with pytest.raises(DeployError, match="holds calibration, deploy beside edgenet; a board wheel holds edgenet alone"):
        check_board_wheel(wheel)


def test_free_space_need_counts_the_upload_and_an_env_only_when_the_board_has_none():
    """Preflight's estimate, before anything is written: the board command checks the exact need later."""
    pi5 = load("pi5_bookworm.txt")
    small = replace(pi5, disk_free_mb=400.0, envs=0, leftover_mb=0.0)
    with pytest.raises(PreflightError, match=r"only 400 MB free in /home/pi/edgenet, need 416 MB \(50 MB to upload "
                                             r"\+ 350 MB for the dependency env \+ 16 MB margin\)"):
        check(small, push_mb=50)
    assert check(replace(small, envs=1), push_mb=50).interpreter == "ai-edge-litert"  # the env is there: 66 MB
    # an interrupted deploy's leftover is removed before the upload: its space counts as free
    assert check(replace(small, leftover_mb=20.0), push_mb=50).interpreter == "ai-edge-litert"
    text = (REC / "pi5_bookworm.txt").read_text().replace("end=ok", "envs=2\nleftover_kb=2048\nend=ok")
    assert (parse_preflight(text).envs, parse_preflight(text).leftover_mb) == (2, 2.0)
