"""Preflight parsing from recorded outputs of a Pi 5, a Pi 3 and a Jetson Orin, and the choices made from it."""

from __future__ import annotations

import subprocess
import zipfile
from dataclasses import replace

import pytest

from deploy.build import platform_tags
from deploy.errors import DeployError, PreflightError
from deploy.preflight import check, choose_interpreter, parse_preflight, preflight_command

from tests.conftest import FIXTURES, ROOT

REC = FIXTURES / "preflight"


def project_requirements() -> list[str]:
    """pyproject's [project] dependencies: what a board needs, markers and all."""
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


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
    assert set(p.requirements_for(project_requirements())) == {
        "ai-edge-litert>=1.2", "numpy>=1.23", "opencv-python-headless>=4.8", "rich>=13"}
    assert p.target == "/home/pi/edgenet" and p.cores == 4


def test_pi3_bullseye_armv7l_gets_tflite_runtime_and_numpy1():
    p = load("pi3_bullseye_armv7l.txt")
    assert (p.machine, p.board_kind, p.python_version) == ("armv7l", "raspberry-pi", (3, 9, 2))
    assert not p.camera_picamera2
    assert check(p) == "tflite-runtime"
    assert set(p.requirements_for(project_requirements())) == {
        "tflite-runtime>=2.14", "numpy>=1.23", "numpy<2", "opencv-python-headless>=4.8", "rich>=13"}
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


# ---- dependency environments: what decides their key (deploy.envs) ---------------------------------

def write_wheel(path, requires):
    meta = "Metadata-Version: 2.1\nName: edgenet\nVersion: 0.1.0\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("edgenet/__init__.py", "")
        z.writestr("edgenet-0.1.0.dist-info/METADATA", meta)
    return path


def test_wheel_requirements_keep_markers_and_drop_extras(tmp_path):
    from deploy.envs import wheel_requirements

    wheel = write_wheel(tmp_path / "edgenet-0.1.0-py3-none-any.whl", [
        "rich>=13", "numpy>=1.23", "numpy<2; platform_machine == 'armv7l'",
        "tensorflow-cpu>=2.16; extra == \"host\"", "pytest>=7 ; extra == 'test'"])
    assert wheel_requirements(wheel) == ["numpy<2; platform_machine == 'armv7l'", "numpy>=1.23", "rich>=13"]


def test_the_board_wheel_holds_edgenet_alone_with_the_projects_requirements(tmp_path):
    """What deploy pushes: the edgenet package and its metadata, no calibration/deploy; the requirements
    in it are pyproject's, which the env (and the offline wheelhouse) are installed from."""
    import zipfile

    from deploy.build import build_wheel, wheel_top_level
    from deploy.envs import wheel_requirements

    wheel = build_wheel(tmp_path)
    assert wheel_top_level(wheel) == {"edgenet", "edgenet-0.1.0.dist-info"}
    names = zipfile.ZipFile(wheel).namelist()
    assert {"edgenet/__init__.py", "edgenet/board/manifest.py", "edgenet/representative.py",
            "edgenet/cli/__init__.py"} <= set(names)
    assert not any("__pycache__" in n or n.startswith(("calibration/", "deploy/", "tests/")) for n in names)
    entry = zipfile.ZipFile(wheel).read("edgenet-0.1.0.dist-info/entry_points.txt").decode()
    assert "edgenet = edgenet.cli:main" in entry
    from packaging.requirements import Requirement

    assert (sorted(str(Requirement(r)) for r in wheel_requirements(wheel))
            == sorted(str(Requirement(r)) for r in project_requirements()))


def test_a_wheel_with_workstation_packages_is_refused(tmp_path):
    from deploy.build import check_board_wheel

    wheel = write_wheel(tmp_path / "edgenet-0.1.0-py3-none-any.whl", ["numpy>=1.23"])
    check_board_wheel(wheel)
    with zipfile.ZipFile(wheel, "a") as z:
        z.writestr("calibration/__init__.py", "")
        z.writestr("deploy/__init__.py", "")
    with pytest.raises(DeployError, match="holds calibration, deploy beside edgenet; a board wheel holds edgenet alone"):
        check_board_wheel(wheel)


def test_unreadable_wheel_is_a_one_line_deploy_error(tmp_path):
    from deploy.envs import wheel_requirements
    from deploy.errors import DeployError

    bad = tmp_path / "edgenet-0.1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DeployError, match=r"cannot read the requirements of edgenet-0.1.0-py3-none-any.whl") as exc:
        wheel_requirements(bad)
    assert "\n" not in str(exc.value)


def test_env_key_changes_with_what_decides_the_envs_contents():
    from deploy.envs import env_key

    pi5, reqs = load("pi5_bookworm.txt"), ["numpy>=1.23", "rich>=13"]
    key = env_key(pi5, reqs, "pypi")
    assert len(key) == 16 and env_key(pi5, list(reversed(reqs)), "pypi") == key  # order does not matter
    others = {
        env_key(replace(pi5, python_version=(3, 11, 4)), reqs, "pypi"),
        env_key(replace(pi5, glibc="2.31"), reqs, "pypi"),
        env_key(load("pi3_bullseye_armv7l.txt"), reqs, "pypi"),
        env_key(pi5, reqs + ["opencv-python-headless>=4.8"], "pypi"),
        env_key(pi5, reqs, "index:https://example.invalid/simple"),
        env_key(pi5, reqs, "wheelhouse:numpy-2.1.0-cp311-cp311-manylinux_2_17_aarch64.whl"),
    }
    assert key not in others and len(others) == 6
