"""``edgenet doctor``: what this board's edgenet install has, what is wrong with it, and the fix for each.

Checks, in order (each a ``Check``: ok / warn / fail, what was found, and the fix):

- python     the interpreter, its userland architecture (32 or 64 bit), glibc, the venv
- set        this board's requirement set (``edgenet.board.requirements``) against what is installed
- numpy      version and where it comes from (this venv, the system's)
- opencv     version, where from, GStreamer (a Jetson's CSI camera needs it)
- tflite     the interpreter: which, version
- xnnpack    a tiny int8 model shipped in the package (edgenet/data/doctor_int8.tflite) run with and
             without XNNPACK: whether XNNPACK took the graph, and whether both answers are the one
             recorded on the workstation (within 1 LSB)
- cameras    V4L2 capture devices (VIDIOC_QUERYCAP), picamera2 and its cameras on a Pi (a numpy ABI
             clash named as such), GStreamer's nvarguscamerasrc on a Jetson
- thermal    CPU governor, temperature, throttling (vcgencmd), Jetson power mode

Nothing here imports TensorFlow; a check whose package does not import says why instead of failing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable

from edgenet.board.facts import BoardFacts, gather_facts
from edgenet.board.imports import explain_import_failure, import_failure, origin
from edgenet.board.requirements import RequirementSet, board_requirements

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
DOCTOR_MODEL = os.path.join(DATA, "doctor_int8.tflite")
DOCTOR_EXPECTED = os.path.join(DATA, "doctor_int8.json")
HOT_C = 80.0  # a Pi 4/5 starts to throttle at 80-85 degrees C, a Jetson's limits are higher
SET_FIX = "python3 -m edgenet.cli.requirements > board.txt && .venv/bin/pip install -r board.txt"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warn, fail, info
    found: str
    fix: str | None = None

    def as_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "found": self.found, "fix": self.fix}


@dataclass
class DoctorReport:
    facts: BoardFacts
    requirements: RequirementSet
    checks: list = field(default_factory=list)

    @property
    def problems(self) -> list:
        return [c for c in self.checks if c.status in ("warn", "fail")]

    @property
    def failed(self) -> bool:
        return any(c.status == "fail" for c in self.checks)

    def as_dict(self) -> dict:
        return {"schema": "edgenet.doctor/1", "ok": not self.problems, "checks": [c.as_dict() for c in self.checks],
                "requirements": self.requirements.as_dict()}


def doctor_input(spec):
    """The doctor model's input: a fixed colour gradient with a bright square, in the input's own type."""
    import numpy as np

    h, w = spec.height, spec.width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / max(w - 1, 1), yy / max(h - 1, 1), (xx + yy) / max(h + w - 2, 1)], axis=-1) * 2.0 - 1.0
    img[h // 4:h // 2, w // 4:w // 2, :] = 0.9
    if spec.dtype == "float32":
        return img[None].astype(np.float32)
    q = np.round(img / spec.scale + spec.zero_point)
    info = np.iinfo(spec.dtype)
    return np.clip(q, info.min, info.max).astype(spec.dtype)[None]


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def check_python(facts: BoardFacts, rs: RequirementSet) -> list:
    bits = f"{facts.pointer_bits}-bit {facts.machine} userland" + (
        f" on a {facts.kernel_machine} kernel" if facts.machine != facts.kernel_machine else "")
    venv = ("in a venv that sees the system's packages" if facts.system_site_packages else
            "in a venv without the system's packages") if facts.venv else "outside a venv"
    board = facts.model or "no device-tree model (a PC?)"
    if facts.jetson and facts.l4t:
        board += f", Jetson Linux R{facts.l4t[0]}.{facts.l4t[1]}"
    out = [Check("board", "info", f"{board}; {facts.os_name or facts.os_id or 'unknown OS'}"),
           Check("python", "ok", f"{facts.implementation} {facts.python} ({sys.executable}), {bits}, "
                 f"{facts.libc or 'libc'} {facts.libc_version or '?'}, {venv}")]
    if facts.venv and not facts.system_site_packages and facts.system_picamera2:
        out.append(Check("venv", "fail", "apt's picamera2 is on the system, but this venv does not see it",
                         "make the venv with python3 -m venv --system-site-packages"))
    return out


def check_set(rs: RequirementSet) -> list:
    """Each line of the board's set against what this Python imports."""
    if rs.problem:
        return [Check("set", "fail", f"this board has no working requirement set: {rs.problem}", None)]
    try:
        from packaging.specifiers import SpecifierSet
    except ImportError:  # an install without edgenet's own dependencies: names and exact pins only
        SpecifierSet = None
    out, wrong = [], []
    for r in rs.requirements:
        have = _version(r.name)
        spec = r.line[len(r.name):]
        if have is None:
            wrong.append(f"{r.name} missing")
        elif SpecifierSet is not None and not SpecifierSet(spec).contains(have, prereleases=True):
            wrong.append(f"{r.name} {have} (the set says {r.line}: {r.why})")
        elif SpecifierSet is None and spec.startswith("==") and have != spec[2:]:
            wrong.append(f"{r.name} {have} (the set says {r.line}: {r.why})")
    if wrong:
        out.append(Check("set", "fail", "installed packages differ from this board's set: " + "; ".join(wrong), SET_FIX))
    else:
        out.append(Check("set", "ok", "installed packages match this board's set: " + ", ".join(rs.lines)))
    if rs.facts.jetson and rs.facts.system_opencv_gstreamer and _version("opencv-python-headless"):
        out.append(Check("set", "fail", "pip's OpenCV (no GStreamer) is installed and shadows JetPack's",
                         ".venv/bin/pip uninstall opencv-python-headless"))
    return out


def check_numpy(facts: BoardFacts) -> list:
    try:
        import numpy as np
    except Exception as exc:
        return [Check("numpy", "fail", explain_import_failure("numpy", exc), SET_FIX)]
    where = origin(os.path.dirname(np.__file__))
    found = f"numpy {np.__version__} ({where})"
    if facts.system_numpy and facts.system_numpy != np.__version__ and facts.system_site_packages:
        found += f"; the system's is {facts.system_numpy}"
    return [Check("numpy", "ok", found)]


def check_opencv(facts: BoardFacts) -> list:
    try:
        import cv2
    except Exception as exc:
        return [Check("opencv", "fail", explain_import_failure("cv2", exc, "OpenCV (cv2)"), SET_FIX)]
    from edgenet.sources import opencv_has_gstreamer

    gst = opencv_has_gstreamer()
    found = f"OpenCV {cv2.__version__} ({origin(os.path.dirname(cv2.__file__))}), GStreamer {'yes' if gst else 'no'}"
    if facts.jetson and not gst:
        from edgenet.board.camera import GSTREAMER_HINT

        return [Check("opencv", "warn", found + ": the CSI camera needs GStreamer", GSTREAMER_HINT.split(": ", 1)[1])]
    return [Check("opencv", "ok", found)]


def check_interpreter(rs: RequirementSet, model_path: str = DOCTOR_MODEL, expected_path: str = DOCTOR_EXPECTED) -> list:
    from edgenet.errors import EdgenetError
    from edgenet.runtime import load_interpreter, resolve_runtime, runtime_version

    try:
        name, _ = resolve_runtime("auto")
    except Exception as exc:
        fix = f"pip install '{rs.requirements[0].line}'" if rs.interpreter else None
        return [Check("tflite", "fail", str(exc).split(";")[0], fix)]
    out = [Check("tflite", "ok", f"{name} {runtime_version(name)}")]
    try:
        with open(expected_path) as f:
            expected = json.load(f)["output"]
        answers = {}
        for xnnpack in (True, False):
            try:
                m = load_interpreter(model_path, runtime=name, threads=1, xnnpack=xnnpack)
            except EdgenetError:
                if not xnnpack:  # a runtime that cannot turn XNNPACK off
                    break
                raise
            m.set_input(doctor_input(m.input_spec))
            m.invoke()
            answers[xnnpack] = ([int(v) for v in m.raw_output()], m.xnnpack)
    except Exception as exc:  # the interpreter crashing on a 3 KB model is the finding
        return out + [Check("xnnpack", "fail", f"the doctor model does not run: {type(exc).__name__}: {exc}", SET_FIX)]
    got, delegated = answers[True]
    worst = max(abs(a - b) for a, b in zip(got, expected))
    same = worst <= 1
    text = (f"XNNPACK {'applied' if delegated else 'NOT applied'} to the int8 model; its answer "
            f"{'matches' if same else 'differs from'} the workstation's (max {worst} LSB)")
    if False in answers:
        ref = answers[False][0]
        text += f"; without XNNPACK: max {max(abs(a - b) for a, b in zip(ref, expected))} LSB"
    if not same:
        return out + [Check("xnnpack", "fail", text, "this interpreter computes wrong answers here: " + SET_FIX)]
    if not delegated:
        fix = ("tflite-runtime applies no XNNPACK to int8 on x86-64: pip install ai-edge-litert"
               if name == "tflite-runtime" and rs.interpreter == "ai-edge-litert" else None)
        return out + [Check("xnnpack", "warn", text + " (int8 then runs on the slower reference kernels)", fix)]
    return out + [Check("xnnpack", "ok", text)]


def check_cameras(facts: BoardFacts, *, devices: list | None = None, is_pi: bool | None = None) -> list:
    from edgenet.board.identity import is_raspberry_pi
    from edgenet.board.v4l2 import video_devices

    out = []
    devs = video_devices() if devices is None else devices
    capture = [d for d in devs if d.capture]
    if capture:
        out.append(Check("v4l2", "ok", "capture devices: " + ", ".join(f"{d.path} ({d.card})" for d in capture)))
    else:
        others = f" ({len(devs)} other video nodes: codecs, ISP)" if devs else ""
        out.append(Check("v4l2", "info", "no V4L2 capture device (USB camera)" + others))
    pi = is_raspberry_pi() if is_pi is None else is_pi
    if pi or facts.system_picamera2:
        out.append(_picamera2_check())
    if facts.jetson:
        out.append(_argus_check())
    return out


def _picamera2_check() -> Check:
    try:
        from picamera2 import Picamera2
    except Exception as exc:
        from edgenet.board.camera import PICAMERA2_HINT

        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "picamera2":
            return Check("picamera2", "fail", "picamera2 is not importable", PICAMERA2_HINT.split(". ", 1)[1])
        cause, fix = import_failure("picamera2", exc, "the Pi camera (picamera2)")
        return Check("picamera2", "fail", cause, fix)
    try:
        cams = Picamera2.global_camera_info()
    except Exception as exc:
        return Check("picamera2", "warn", f"picamera2 imports, but listing cameras failed: {exc}",
                     "check the ribbon cable; rpicam-hello --list-cameras")
    if not cams:
        return Check("picamera2", "warn", "picamera2 imports, no ribbon camera found",
                     "seat the ribbon cable (power off first); rpicam-hello --list-cameras")
    names = ", ".join(f"{i}: {c.get('Model', '?')}" for i, c in enumerate(cams))
    return Check("picamera2", "ok", f"picamera2 cameras: {names}")


def _argus_check() -> Check:
    inspect = shutil.which("gst-inspect-1.0")
    if inspect is None:
        return Check("argus", "warn", "gst-inspect-1.0 not found: cannot check nvarguscamerasrc",
                     "sudo apt install gstreamer1.0-tools")
    r = subprocess.run([inspect, "nvarguscamerasrc"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return Check("argus", "fail", "GStreamer has no nvarguscamerasrc (the CSI camera's source)",
                     "install JetPack's multimedia packages: sudo apt install nvidia-l4t-gstreamer")
    return Check("argus", "ok", "GStreamer's nvarguscamerasrc is there (CSI camera through Argus)")


def check_thermal(probe=None) -> list:
    from edgenet.board.thermal import ThermalProbe

    probe = probe or ThermalProbe()
    out = []
    governors = sorted(set(probe.governors().values()))
    if governors:
        slow = [g for g in governors if g in ("powersave", "conservative")]
        out.append(Check("governor", "warn" if slow else "ok", "CPU governor: " + ", ".join(governors),
                         "echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor"
                         if slow else None))
    sample = probe.sample()
    temp = sample.cpu_temp_c
    if temp is not None:
        hot = temp >= HOT_C
        out.append(Check("temperature", "warn" if hot else "ok", f"CPU {temp:.1f} °C",
                         "add a heatsink or fan: the CPU slows down near 80-85 °C" if hot else None))
    if sample.throttle is not None:
        t = sample.throttle
        bad = [f for f in t.flags if "voltage" in f or "throttl" in f or "capp" in f or "temperature" in f]
        fix = None
        if any("voltage" in f for f in bad):
            fix = "use the official power supply (5 V 3 A, 5 A for a Pi 5) and a short cable"
        elif bad:
            fix = "cool the board (heatsink, fan)"
        out.append(Check("throttling", "warn" if bad else "ok",
                         f"vcgencmd get_throttled={t.raw:#x}" + (f": {', '.join(t.flags)}" if t.flags else ": none"), fix))
    power = probe.power_mode()
    if power is not None:
        out.append(Check("power", "info", f"Jetson power mode {power.name}" + (f" ({power.mode})" if power.mode is not None else "")))
    return out


def diagnose(*, facts: BoardFacts | None = None, thermal=None, devices: list | None = None,
             on_check: Callable[[Check], None] = lambda c: None) -> DoctorReport:
    """Run every check on this board (``facts``, ``thermal``, ``devices`` injectable for tests)."""
    facts = facts or gather_facts()
    rs = board_requirements(facts)
    report = DoctorReport(facts, rs)
    steps = [lambda: check_python(facts, rs), lambda: check_set(rs), lambda: check_numpy(facts),
             lambda: check_opencv(facts), lambda: check_interpreter(rs),
             lambda: check_cameras(facts, devices=devices), lambda: check_thermal(thermal)]
    for step in steps:
        for c in step():
            report.checks.append(c)
            on_check(c)
    return report
