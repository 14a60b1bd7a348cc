"""The requirement set for every board edgenet names, from recorded preflight facts (table-driven), and
the facts themselves read on this machine by edgenet.board.facts (standard library only)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import replace

import pytest

from deploy.preflight import check, parse_preflight
from deploy.errors import PreflightError
from edgenet.board.facts import BoardFacts, gather_facts, userland_machine
from edgenet.board.requirements import board_requirements

from tests.conftest import FIXTURES, ROOT

REC = FIXTURES / "preflight"
PURE = ["rich>=13", "packaging>=22"]


def facts_of(name: str) -> BoardFacts:
    return parse_preflight((REC / f"{name}.txt").read_text()).facts


# board -> (interpreter, pip lines in order, held from the system, refusal or apt text, note text)
BOARDS = {
    "pi5_bookworm": ("ai-edge-litert", ["ai-edge-litert>=1.2", "numpy==1.24.2", "opencv-python-headless>=4.8,<4.12"]
                     + PURE, {"numpy": "1.24.2"}, None, None),
    "pi5_trixie_64": ("ai-edge-litert", ["ai-edge-litert>=1.2", "numpy==2.2.4", "opencv-python-headless>=4.8"] + PURE,
                      {"numpy": "2.2.4"}, None, None),
    "pi4_bookworm_32bit_64bit_kernel": ("tflite-runtime", ["tflite-runtime==2.14.0", "numpy==1.24.2"] + PURE,
                                        {"numpy": "1.24.2"}, None, "apt's OpenCV, version 4.6.0"),
    "pi3_bookworm_armv7l": ("tflite-runtime", ["tflite-runtime==2.14.0", "numpy==1.24.2"] + PURE,
                            {"numpy": "1.24.2"}, None, "apt's OpenCV"),
    "pi3_bullseye_armv7l": ("tflite-runtime", ["tflite-runtime==2.13.0", "numpy>=1.21.2,<2"] + PURE, {}, None,
                            "piwheels"),
    "jetson_orin_jetpack6": ("ai-edge-litert", ["ai-edge-litert>=1.2", "numpy>=1.23.2,<2"] + PURE, {}, None,
                             "JetPack's OpenCV (GStreamer, for the CSI camera), version 4.8.0"),
    "x86_64_debian12_pc": ("ai-edge-litert", ["ai-edge-litert>=1.2", "numpy>=1.23.2", "opencv-python-headless>=4.8"]
                           + PURE, {}, None, None),
    "pi_zero_w_bookworm_armv6l": (None, [], {}, "no TFLite interpreter wheel exists for ARMv6 (Pi Zero/Zero W, Pi 1): "
                                  "use a Pi Zero 2 W or a Pi 3 or newer with the 64-bit Raspberry Pi OS", None),
    "pi5_trixie_32bit": (None, [], {}, "Python 3.13 on armv7l: no TFLite interpreter wheel for 32-bit ARM past "
                         "Python 3.11", None),
    "jetson_xavier_nx_jetpack5": (None, [], {}, "edgenet needs Python >= 3.9; this board has 3.8 (JetPack 5): "
                                  "upgrade to JetPack 6 (Python 3.10)", None),
}


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_requirement_set_per_board(name):
    interpreter, lines, held, problem, note = BOARDS[name]
    rs = board_requirements(facts_of(name))
    assert rs.interpreter == interpreter
    assert rs.lines == lines
    assert rs.system == held
    if problem:
        assert rs.problem.startswith(problem), rs.problem
        assert "\n" not in rs.problem
    else:
        assert rs.problem is None
    if note:
        assert any(note in n for n in rs.notes), rs.notes
    # The set is a pip requirements file: every line parses, with its reason as a comment.
    from packaging.requirements import Requirement

    for line in rs.text().splitlines():
        if not line.startswith("#"):
            req, _, why = line.partition("  # ")
            assert Requirement(req.strip()) and why


def test_the_sets_include_what_pyproject_requires_of_every_install():
    """pyproject's [project] dependencies (what `pip install edgenet` alone brings) are in every set, and
    the static list brings no OpenCV and no interpreter: those depend on the board."""
    tomllib = pytest.importorskip("tomllib")
    from packaging.requirements import Requirement
    from packaging.version import Version

    static = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {Requirement(r).name for r in static}
    assert names == {"numpy", "rich", "packaging"}
    for name in BOARDS:
        rs = board_requirements(facts_of(name))
        if rs.refusal:
            continue
        got = {Requirement(line).name: Requirement(line).specifier for line in rs.lines}
        assert names <= set(got)
        for r in static:  # the board's lower bounds lie inside pyproject's ranges
            req = Requirement(r)
            floor = Version(next(s.version for s in req.specifier if s.operator == ">="))
            assert all(Version(s.version) >= floor for s in got[req.name] if s.operator in (">=", "==")), (name, r)


def test_32bit_userland_is_found_from_python_not_uname():
    assert userland_machine("aarch64", 32) == "armv7l"
    assert userland_machine("armv8l", 32) == "armv7l"
    assert userland_machine("aarch64", 64) == "aarch64"
    assert userland_machine("x86_64", 32) == "i686"
    assert userland_machine("armv6l", 32) == "armv6l"
    f = facts_of("pi4_bookworm_32bit_64bit_kernel")
    assert (f.kernel_machine, f.machine) == ("aarch64", "armv7l")
    pre = parse_preflight((REC / "pi4_bookworm_32bit_64bit_kernel.txt").read_text())
    assert pre.arch == "aarch64" and pre.machine == "armv7l" and pre.interpreter == "tflite-runtime"


def test_apt_opencv_missing_on_32bit_arm_is_one_line_with_the_apt_command():
    f = replace(facts_of("pi3_bookworm_armv7l"), system_opencv="", system_opencv_gstreamer=False)
    rs = board_requirements(f)
    assert rs.apt == (("python3-opencv", "PyPI has no OpenCV wheel for 32-bit ARM; edgenet uses apt's"),)
    assert rs.problem == ("PyPI has no OpenCV wheel for 32-bit ARM; edgenet uses apt's: sudo apt install "
                          "python3-opencv, then install again")
    # picamera2 still holds numpy to the system's
    assert rs.system == {"numpy": "1.24.2"}


def test_jetson_without_jetpacks_opencv_gets_pips_and_a_note_about_the_csi_camera():
    f = replace(facts_of("jetson_orin_jetpack6"), system_opencv="", system_opencv_gstreamer=False)
    rs = board_requirements(f)
    assert rs.lines == ["ai-edge-litert>=1.2", "numpy>=1.23.2", "opencv-python-headless>=4.8"] + PURE
    assert any("sudo apt install nvidia-opencv" in n for n in rs.notes)
    assert f.l4t == (36, 3) and facts_of("jetson_xavier_nx_jetpack5").l4t == (35, 4)


def test_picamera2_invisible_to_a_venv_without_system_site_packages():
    f = replace(facts_of("pi5_bookworm"), venv=True, system_site_packages=False)
    rs = board_requirements(f)
    assert rs.lines == ["ai-edge-litert>=1.2", "numpy>=1.23.2", "opencv-python-headless>=4.8"] + PURE
    assert any("--system-site-packages" in n for n in rs.notes)


@pytest.mark.parametrize("change, problem", [
    (dict(libc="", libc_version=""), "this libc is not supported"),
    (dict(implementation="PyPy"), "PyPy is not supported"),
    (dict(kernel_machine="riscv64"), "no TFLite interpreter wheel for riscv64"),
    (dict(python="3.15.0"), "Python 3.15 on aarch64: ai-edge-litert has wheels for Python 3.9-3.14 only"),
    (dict(kernel_machine="armv7l", pointer_bits=32, libc_version="2.31"),
     "Python 3.11 on armv7l with glibc 2.31: tflite-runtime 2.14"),
])
def test_refusals_say_why_in_one_line(change, problem):
    rs = board_requirements(replace(facts_of("pi5_bookworm"), **change))
    assert rs.refusal.startswith(problem) and rs.lines == []


@pytest.mark.parametrize("name, message", [
    ("pi_zero_w_bookworm_armv6l", "no TFLite interpreter wheel exists for ARMv6"),
    ("pi5_trixie_32bit", "install the 64-bit Raspberry Pi OS"),
    ("jetson_xavier_nx_jetpack5", "upgrade to JetPack 6"),
])
def test_preflight_refuses_boards_without_an_interpreter(name, message):
    with pytest.raises(PreflightError, match=message):
        check(parse_preflight((REC / f"{name}.txt").read_text()))


def test_the_facts_module_is_standard_library_only_and_self_contained():
    """deploy sends edgenet/board/facts.py to the board's `python3 -c`; python3 -m edgenet.cli.requirements
    runs before numpy is installed."""
    stdlib = set(sys.stdlib_module_names)
    for module in ("edgenet/board/facts.py", "edgenet/board/requirements.py", "edgenet/cli/requirements.py",
                   "edgenet/cli/__init__.py", "edgenet/__init__.py", "edgenet/errors.py"):
        top = set()
        for node in ast.walk(ast.parse((ROOT / module).read_text())):
            if isinstance(node, ast.Import):
                top |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                top.add(node.module.split(".")[0])
        assert top - stdlib <= ({"edgenet"} if module != "edgenet/board/facts.py" else set()), (module, top - stdlib)


def test_facts_read_here_by_the_modules_own_python_and_as_a_lone_script(tmp_path):
    here = gather_facts()
    assert here.kernel_machine and here.pointer_bits == 64 and here.libc == "glibc"
    assert here.python == ".".join(map(str, sys.version_info[:3]))
    # As deploy runs it: the source alone, from a folder without edgenet.
    out = subprocess.run([sys.executable, "-c", (ROOT / "edgenet/board/facts.py").read_text()], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    values = dict(line.split("=", 1) for line in out.stdout.splitlines())
    lone = BoardFacts.from_values(values)
    assert (lone.machine, lone.python, lone.libc_version) == (here.machine, here.python, here.libc_version)


def test_facts_from_a_fake_board_tree(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "proc/device-tree").mkdir(parents=True)
    (tmp_path / "etc/os-release").write_text('PRETTY_NAME="Ubuntu 22.04.4 LTS"\nID=ubuntu\nVERSION_ID="22.04"\n')
    (tmp_path / "proc/device-tree/model").write_bytes(b"NVIDIA Jetson Orin Nano Developer Kit\x00")
    (tmp_path / "etc/nv_tegra_release").write_text("# R36 (release), REVISION: 4.0, GCID: 37537400\n")
    f = gather_facts(root=str(tmp_path), probe={"numpy": "1.21.5", "opencv": "4.8.0", "opencv_gstreamer": True})
    assert (f.os_id, f.os_version, f.os_name) == ("ubuntu", "22.04", "Ubuntu 22.04.4 LTS")
    assert f.model == "NVIDIA Jetson Orin Nano Developer Kit" and f.jetson and f.l4t == (36, 4)
    assert (f.system_numpy, f.system_opencv, f.system_opencv_gstreamer) == ("1.21.5", "4.8.0", True)
    assert BoardFacts.from_values(dict(line.split("=", 1) for line in f.lines())) == f


def test_requirements_command_prints_a_pip_file_and_json(tmp_path):
    """The command a person runs on the board (here from the clone's folder)."""
    r = subprocess.run([sys.executable, "-m", "edgenet.cli.requirements"], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [l.split("  #")[0].strip() for l in r.stdout.splitlines() if not l.startswith("#")]
    assert lines[0] == "ai-edge-litert>=1.2" and "rich>=13" in lines
    j = subprocess.run([sys.executable, "-m", "edgenet.cli.requirements", "--json"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    data = json.loads(j.stdout)
    assert [r["line"] for r in data["requirements"]] == lines and data["problem"] is None
    assert data["facts"]["pointer_bits"] == 64


def test_requirements_command_imports_no_third_party_module():
    code = ("import sys; from edgenet.cli.requirements import main; main([]); "
            "bad = sorted(m for m in ('numpy', 'cv2', 'rich', 'packaging') if m in sys.modules); "
            "print('IMPORTED', bad, file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "IMPORTED []" in r.stderr, r.stderr
