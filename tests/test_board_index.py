"""Every recorded board's requirement set resolved against the real package index, for that board's
platform (pip --dry-run --report with --platform, --python-version, --only-binary=:all:), with the
arguments deploy's offline wheelhouse uses (deploy.build.board_pip_args: the system's packages stand
in as stubs). Marked ``network``: skipped when PyPI cannot be reached. The 32-bit boards whose numpy
must come from piwheels (Bullseye) are skipped when piwheels cannot be reached (it cannot from here).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from deploy.build import board_pip_args
from deploy.preflight import parse_preflight

from tests.conftest import FIXTURES

pytestmark = pytest.mark.network
PYPI = "https://pypi.org/simple"
PIWHEELS = "https://www.piwheels.org/simple"


def reachable(url: str) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(url + "/pip/", method="HEAD"), timeout=8).close()
        return True
    except OSError:
        return False


BOARDS = ["pi5_bookworm", "pi5_trixie_64", "x86_64_debian12_pc", "jetson_orin_jetpack6",
          "pi4_bookworm_32bit_64bit_kernel", "pi3_bookworm_armv7l"]


@pytest.fixture(scope="module")
def resolved(tmp_path_factory):
    """Every board resolved at once (pip waits on the network, not the CPU)."""
    if not reachable(PYPI):
        pytest.skip("PyPI cannot be reached")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(len(BOARDS)) as pool:
        jobs = {name: pool.submit(resolve, name, tmp_path_factory.mktemp(name)) for name in BOARDS}
        return {name: job.result() for name, job in jobs.items()}


def resolve(name: str, tmp_path) -> dict[str, str]:
    """{distribution: version} pip would install on the board (the system's stubs included)."""
    pre = parse_preflight((FIXTURES / "preflight" / f"{name}.txt").read_text())
    args = board_pip_args(pre.requirements, tmp_path / "set")
    # --isolated: this machine's pip configuration (local find-links, mirrors) stays out; the index alone.
    cmd = [sys.executable, "-m", "pip", "--isolated", "--disable-pip-version-check", "install", "--dry-run",
           "--ignore-installed", "--target", str(tmp_path / "target"), "--report", "-", "-q", "--index-url", PYPI,
           "--timeout", "30", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{name}: {proc.stderr[-2000:]}"
    report = json.loads(proc.stdout)
    return {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"] for i in report["install"]}


def major_minor(v: str) -> tuple:
    return tuple(int(p) for p in v.split(".")[:2])


@pytest.mark.parametrize("name", ["pi5_bookworm", "pi5_trixie_64", "x86_64_debian12_pc", "jetson_orin_jetpack6"])
def test_64bit_boards_resolve_with_litert(resolved, name):
    got = resolved[name]
    pre = parse_preflight((FIXTURES / "preflight" / f"{name}.txt").read_text())
    assert "ai-edge-litert" in got and "tflite-runtime" not in got
    held = pre.requirements.system
    if held:  # the system's numpy, exactly (what pip on the board finds installed)
        assert got["numpy"] == held["numpy"]
    if name == "pi5_bookworm":
        assert major_minor(got["opencv-python-headless"]) < (4, 12), got  # built for numpy 1.24
    if name == "jetson_orin_jetpack6":
        assert "opencv-python-headless" not in got and major_minor(got["numpy"]) < (2, 0)
    if name in ("x86_64_debian12_pc", "pi5_trixie_64"):
        assert major_minor(got["numpy"]) >= (2, 0) and major_minor(got["opencv-python-headless"]) >= (4, 12)
    assert {"rich", "packaging"} <= set(got)


@pytest.mark.parametrize("name", ["pi4_bookworm_32bit_64bit_kernel", "pi3_bookworm_armv7l"])
def test_32bit_bookworm_resolves_tflite_runtime_on_the_systems_numpy(resolved, name):
    got = resolved[name]
    assert got["tflite-runtime"] == "2.14.0" and got["numpy"] == "1.24.2"  # the stub: apt's numpy
    assert "ai-edge-litert" not in got and "opencv-python-headless" not in got


def test_bullseye_32bit_needs_piwheels_for_numpy(tmp_path):
    if not reachable(PYPI) or not reachable(PIWHEELS):
        pytest.skip("piwheels cannot be reached from here: Bullseye's numpy>=1.21.2,<2 for armv7l lives there only")
    got = resolve("pi3_bullseye_armv7l", tmp_path)
    assert got["tflite-runtime"] == "2.13.0" and major_minor(got["numpy"]) < (2, 0)
