"""`edgenet doctor`: each check against what is really here (LiteRT, OpenCV, numpy, the shipped int8 model),
against fake board trees (sysfs, vcgencmd) and against packages that fail to import the way apt's picamera2
and OpenCV do under a foreign numpy (the error texts of picamera2 issues #1088/#1211)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from deploy.preflight import parse_preflight
from edgenet.board.doctor import DOCTOR_MODEL, check_cameras, check_interpreter, check_opencv, check_set, check_thermal
from edgenet.board.facts import gather_facts
from edgenet.board.requirements import board_requirements
from edgenet.board.thermal import ThermalProbe
from edgenet.board.v4l2 import CAPABILITY, VideoDevice, parse_capability

from tests.conftest import FIXTURES, ROOT
from tests.test_profile_thermal import fake_command, fake_pi, write

REC = FIXTURES / "preflight"
NUMPY_CLASH = "numpy.dtype size changed, may indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject"


def facts_of(name):
    return parse_preflight((REC / f"{name}.txt").read_text()).facts


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "edgenet", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=300)


def test_doctor_here_json():
    r = run_cli("doctor", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["schema"] == "edgenet.doctor/1" and report["ok"]
    assert {"board", "python", "set", "numpy", "opencv", "tflite", "xnnpack", "v4l2"} <= set(checks)
    import cv2
    import numpy as np

    assert checks["numpy"]["found"].startswith(f"numpy {np.__version__} (")
    assert checks["opencv"]["found"].startswith(f"OpenCV {cv2.__version__} (")
    assert checks["tflite"]["found"].startswith("litert ")
    # LiteRT on x86-64 takes the int8 graph, and gives the workstation's recorded answer exactly.
    assert checks["xnnpack"]["status"] == "ok"
    assert "XNNPACK applied" in checks["xnnpack"]["found"] and "(max 0 LSB)" in checks["xnnpack"]["found"]
    assert [r["line"] for r in report["requirements"]["requirements"]][0] == "ai-edge-litert>=1.2"


def test_doctor_text_and_requirements_flag():
    r = run_cli("doctor")
    assert r.returncode == 0 and "no problems found" in r.stdout, r.stdout + r.stderr
    assert any(line.startswith("ok    xnnpack") for line in r.stdout.splitlines())
    req = run_cli("doctor", "--requirements")
    assert req.returncode == 0 and "ai-edge-litert>=1.2" in req.stdout and req.stdout.startswith("# edgenet on ")


def test_the_doctor_model_is_shipped_small_int8_and_its_answer_recorded():
    from edgenet.runtime import load_interpreter

    assert os.path.getsize(DOCTOR_MODEL) < 10_000
    m = load_interpreter(DOCTOR_MODEL, threads=1)
    assert m.input_spec.dtype == "int8" and m.output_spec.dtype == "int8" and m.classes == 8
    expected = json.loads(Path(DOCTOR_MODEL).with_suffix(".json").read_text())["output"]
    assert len(set(expected)) == 8  # logits that differ: a wrong kernel shows


def test_a_wrong_answer_fails_the_xnnpack_check(tmp_path):
    expected = json.loads(Path(DOCTOR_MODEL).with_suffix(".json").read_text())
    expected["output"] = [v + 3 for v in expected["output"]]
    path = tmp_path / "expected.json"
    path.write_text(json.dumps(expected))
    rs = board_requirements(gather_facts())
    checks = {c.name: c for c in check_interpreter(rs, expected_path=str(path))}
    assert checks["xnnpack"].status == "fail" and "differs from the workstation's (max 3 LSB)" in checks["xnnpack"].found


def test_installed_packages_against_a_picamera2_boards_set():
    """This venv's numpy 2 and OpenCV 5 on a Pi 5 with apt's picamera2: both named, with the fix."""
    import numpy as np

    checks = check_set(board_requirements(facts_of("pi5_bookworm")))
    assert checks[0].status == "fail"
    assert f"numpy {np.__version__} (the set says numpy==1.24.2: the system's numpy: apt's picamera2" in checks[0].found
    assert "opencv-python-headless" in checks[0].found and "<4.12" in checks[0].found
    assert checks[0].fix == "python3 -m edgenet.cli.requirements > board.txt && .venv/bin/pip install -r board.txt"


def test_refused_board_fails_the_set_check():
    checks = check_set(board_requirements(facts_of("pi_zero_w_bookworm_armv6l")))
    assert checks[0].status == "fail" and "no TFLite interpreter wheel exists for ARMv6" in checks[0].found


def test_jetson_with_pips_opencv_is_told_about_gstreamer():
    checks = check_opencv(facts_of("jetson_orin_jetpack6"))
    assert checks[0].status == "warn" and "GStreamer no: the CSI camera needs GStreamer" in checks[0].found
    assert "sudo apt install nvidia-opencv" in checks[0].fix
    assert check_opencv(facts_of("x86_64_debian12_pc"))[0].status == "ok"


def fake_package(root: Path, name: str, error: str) -> Path:
    (root / name).mkdir(parents=True)
    (root / name / "__init__.py").write_text(error + "\n")
    return root


@pytest.mark.parametrize("error, found, fix", [
    (f"raise ValueError({NUMPY_CLASH!r})", "a numpy ABI clash", ".venv/bin/pip uninstall numpy"),
    ("import libcamera", "needs libcamera, which is not installed", None),
    ("raise ImportError('libcamera.so.0.3: cannot open shared object file: No such file or directory')",
     "a system library is missing or broken", None),
])
def test_picamera2_failures_are_named(tmp_path, error, found, fix):
    """picamera2 as apt installs it, failing each way it does on boards: one check, the cause, the fix."""
    site = fake_package(tmp_path, "picamera2", error)
    code = ("import json\nfrom edgenet.board.doctor import check_cameras\nfrom tests.test_doctor import facts_of\n"
            "c = [c for c in check_cameras(facts_of('pi5_bookworm'), devices=[], is_pi=True) if c.name == 'picamera2'][0]\n"
            "print(json.dumps(c.as_dict()))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"})
    check = json.loads(r.stdout)
    assert check["status"] == "fail" and found in check["found"], check
    if "numpy" in found:
        import numpy as np

        assert f"with numpy {np.__version__} (this venv)" in check["found"] and fix in check["fix"]
    elif "libcamera, which" in found:
        assert check["fix"] == "sudo apt install python3-libcamera"
    else:
        assert check["fix"] == "sudo apt install --reinstall python3-picamera2"


def test_picamera2_missing_on_a_pi():
    checks = {c.name: c for c in check_cameras(facts_of("pi5_bookworm"), devices=[], is_pi=True)}
    assert checks["picamera2"].status == "fail" and "sudo apt install python3-picamera2" in checks["picamera2"].fix
    assert checks["v4l2"].status == "info"


def capability(driver: str, card: str, caps: int) -> bytes:
    return CAPABILITY.pack(driver.encode(), card.encode(), b"usb-0000:01:00.0-1.3", 0x60615, caps | 0x80000000, caps)


def test_v4l2_capture_devices_are_told_from_codec_nodes():
    usb = parse_capability("/dev/video0", capability("uvcvideo", "HD Pro Webcam C920", 0x04200001))
    codec = parse_capability("/dev/video10", capability("bcm2835-codec", "bcm2835-codec-decode", 0x04204000))
    assert usb == VideoDevice("/dev/video0", "uvcvideo", "HD Pro Webcam C920", "usb-0000:01:00.0-1.3", True)
    assert not codec.capture
    checks = {c.name: c for c in check_cameras(facts_of("x86_64_debian12_pc"), devices=[usb, codec], is_pi=False)}
    assert checks["v4l2"].status == "ok" and checks["v4l2"].found == "capture devices: /dev/video0 (HD Pro Webcam C920)"
    none = {c.name: c for c in check_cameras(facts_of("x86_64_debian12_pc"), devices=[codec], is_pi=False)}
    assert none["v4l2"].found == "no V4L2 capture device (USB camera) (1 other video nodes: codecs, ISP)"
    assert struct.calcsize("16s32s32sIII12x") == 104


def test_thermal_checks_on_a_hot_undervolted_pi_with_powersave(tmp_path):
    root = fake_pi(tmp_path / "pi", temp_mc=83_500)
    for cpu in range(4):
        write(root, f"sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor", "powersave\n")
    vcgencmd = fake_command(tmp_path, "vcgencmd", "throttled=0x50005")
    checks = {c.name: c for c in check_thermal(ThermalProbe(str(root), vcgencmd=vcgencmd, nvpmodel=None))}
    assert checks["governor"].status == "warn" and "scaling_governor" in checks["governor"].fix
    assert checks["temperature"].status == "warn" and checks["temperature"].found == "CPU 83.5 °C"
    assert checks["throttling"].status == "warn" and "under-voltage detected" in checks["throttling"].found
    assert "official power supply" in checks["throttling"].fix
    cool = fake_pi(tmp_path / "cool")
    (tmp_path / "ok").mkdir()
    fine = {c.name: c for c in check_thermal(ThermalProbe(str(cool), vcgencmd=fake_command(tmp_path / "ok", "vcgencmd",
                                                                                          "throttled=0x0"), nvpmodel=None))}
    assert [fine[n].status for n in ("governor", "temperature", "throttling")] == ["ok", "ok", "ok"]


def test_doctor_on_a_32bit_pi_board_facts(monkeypatch):
    """The report for recorded facts (32-bit userland on a 64-bit kernel), this machine's packages installed."""
    from edgenet.board.doctor import diagnose

    facts = replace(facts_of("pi4_bookworm_32bit_64bit_kernel"), venv=True, system_site_packages=True)
    report = diagnose(facts=facts, thermal=ThermalProbe("/nonexistent", vcgencmd=None, nvpmodel=None), devices=[])
    checks = {c.name: c for c in report.checks}
    assert "32-bit armv7l userland on a aarch64 kernel" in checks["python"].found
    assert checks["set"].status == "fail" and "tflite-runtime missing" in checks["set"].found
    assert report.failed and json.loads(json.dumps(report.as_dict()))["ok"] is False
