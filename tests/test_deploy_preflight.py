"""Preflight parsing from recorded outputs of a Pi 5, a Pi 3 and a Jetson Orin, and the choices made from it."""

from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest

from deploy.build import platform_tags
from deploy.errors import PreflightError
from deploy.preflight import check, choose_interpreter, parse_preflight, preflight_command

from tests.conftest import FIXTURES

REC = FIXTURES / "preflight"


def load(name):
    return parse_preflight((REC / name).read_text())


def test_pi5_bookworm():
    p = load("pi5_bookworm.txt")
    assert (p.arch, p.machine, p.board_kind) == ("aarch64", "aarch64", "raspberry-pi")
    assert p.board == "Raspberry Pi 5 Model B Rev 1.0"
    assert p.python_version == (3, 11, 2) and p.python == "/usr/bin/python3"
    assert p.os_name == "Debian GNU/Linux 12 (bookworm)"
    assert p.camera_picamera2 and "/dev/video0" in p.video_devices and len(p.video_devices) == 16
    assert p.disk_free_mb == pytest.approx(24318412 / 1024)
    assert check(p) == "ai-edge-litert"
    assert "ai-edge-litert>=1.2" in p.requirements()
    assert p.target == "/home/pi/edgenet" and p.cores == 4


def test_pi3_bullseye_armv7l_gets_tflite_runtime_and_numpy1():
    p = load("pi3_bullseye_armv7l.txt")
    assert (p.machine, p.board_kind, p.python_version) == ("armv7l", "raspberry-pi", (3, 9, 2))
    assert not p.camera_picamera2
    assert check(p) == "tflite-runtime"
    assert "numpy>=1.23,<2" in p.requirements() and "tflite-runtime>=2.14" in p.requirements()
    tags = platform_tags(p)
    assert tags[0] == "manylinux_2_17_armv7l" and "manylinux_2_31_armv7l" in tags and "manylinux_2_32_armv7l" not in tags


def test_jetson_orin_detected_and_missing_venv_refused():
    p = load("jetson_orin_jetpack6.txt")
    assert (p.machine, p.board_kind) == ("aarch64", "jetson")
    assert p.python_version == (3, 10, 12) and p.interpreter == "ai-edge-litert"
    assert p.video_devices == ("/dev/video0",)
    with pytest.raises(PreflightError, match="sudo apt install python3-venv"):
        check(p)
    assert check(replace(p, venv=True)) == "ai-edge-litert"


def test_32bit_userland_on_64bit_kernel_is_armv7l():
    p = replace(load("pi5_bookworm.txt"), python_bits=32)
    assert p.arch == "aarch64" and p.machine == "armv7l" and p.interpreter == "tflite-runtime"


def test_errors_no_python_full_disk_unsupported_arch():
    text = (REC / "pi5_bookworm.txt").read_text()
    no_py = parse_preflight("\n".join(l for l in text.splitlines() if not l.startswith(("python", "venv", "picamera2"))) + "\n")
    assert no_py.python is None
    with pytest.raises(PreflightError, match="no python3 on the board"):
        check(no_py)
    full = parse_preflight(text.replace("disk_free_kb=24318412", "disk_free_kb=10240"))
    with pytest.raises(PreflightError, match=r"only 10 MB free in /home/pi/edgenet"):
        check(full)
    riscv = parse_preflight(text.replace("arch=aarch64", "arch=riscv64"))
    with pytest.raises(PreflightError, match="unsupported architecture 'riscv64'"):
        check(riscv)


@pytest.mark.parametrize("machine,py,expected", [
    ("aarch64", (3, 9, 0), "ai-edge-litert"), ("x86_64", (3, 12, 1), "ai-edge-litert"),
    ("armv7l", (3, 11, 2), "tflite-runtime"), ("armv7l", (3, 7, 3), "tflite-runtime"),
])
def test_choose_interpreter(machine, py, expected):
    assert choose_interpreter(machine, py) == expected


@pytest.mark.parametrize("machine,py,msg", [
    ("aarch64", (3, 8, 10), "needs Python >= 3.9"), ("armv7l", (3, 12, 0), "3.7-3.11 only"),
    ("i686", (3, 11, 0), "unsupported architecture"),
])
def test_choose_interpreter_refuses(machine, py, msg):
    with pytest.raises(PreflightError, match=msg):
        choose_interpreter(machine, py)


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
