"""The fallback interpreter: tflite-runtime 2.14 (numpy<2), the only runtime for 32-bit Pi OS.

It cannot share a venv with numpy 2, so this test builds a small venv of its own (cached between runs)
with exactly what a 32-bit Pi gets: tflite-runtime, numpy<2, OpenCV headless, rich. Building it needs
the package index (marked ``network``); it skips when the wheels cannot be installed (no index reachable,
within seconds, or a Python newer than 3.11, for which no wheel exists). Once built, it is reused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

pytestmark = pytest.mark.network

CACHE = Path(os.environ.get("EDGENET_TEST_CACHE", Path.home() / ".cache" / "edgenet-tests"))


@pytest.fixture(scope="module")
def tflite_python() -> str:
    if sys.version_info >= (3, 12):
        pytest.skip("tflite-runtime has no wheel past Python 3.11")
    env_dir = CACHE / f"tflite-runtime-py{sys.version_info.major}{sys.version_info.minor}"
    python = env_dir / "bin" / "python"
    marker = env_dir / ".complete"
    if not marker.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        # Short network timeouts: offline, pip gives up in seconds instead of retrying for minutes.
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--timeout", "10", "--retries", "1",
             "tflite-runtime==2.14.0", "numpy<2", "opencv-python-headless", "rich"],
            capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
            pytest.skip(f"cannot install tflite-runtime here (index unreachable or no wheel): {last}")
        marker.write_text("ok")
    return str(python)


def run_json(python: str, runtime: str, model: str) -> list[dict]:
    result = subprocess.run(
        [python, "-m", "edgenet", "run", "--model", model, "--labels", str(FIXTURES / "tiny_labels.txt"),
         "--source", "pattern://?width=320&height=240&frames=8", "--json", "--threads", "1", "--runtime", runtime],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"runtime {runtime}" in result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("model", ["mobilenet_v1_025_64_int8", "mobilenet_v1_025_64_uint8", "mobilenet_v1_025_64_float"])
def test_tflite_runtime_gives_the_same_answers_as_litert(tflite_python, model):
    path = str(FIXTURES / f"{model}.tflite")
    fallback = run_json(tflite_python, "tflite-runtime", path)
    litert = run_json(sys.executable, "litert", path)
    assert len(fallback) == len(litert) == 8
    for a, b in zip(fallback, litert):
        assert a["top"][0]["label"] == b["top"][0]["label"]
        assert abs(a["top"][0]["score"] - b["top"][0]["score"]) <= 0.05


def test_auto_picks_tflite_runtime_when_it_is_the_only_one(tflite_python):
    code = "from edgenet.runtime import resolve_runtime; print(resolve_runtime('auto')[0])"
    out = subprocess.run([tflite_python, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "tflite-runtime", out.stderr


def test_doctor_says_tflite_runtime_applies_no_xnnpack_to_int8_here(tflite_python):
    """The doctor's tiny int8 model in the 32-bit Pi's interpreter: runs, gives the workstation's answer,
    and XNNPACK does not take it on x86-64 (NOTES: tflite-runtime 2.14's x86 wheel), said with the fix."""
    out = subprocess.run([tflite_python, "-m", "edgenet", "doctor", "--json"], cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300)
    checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
    assert checks["tflite"]["found"] == "tflite-runtime 2.14.0"
    x = checks["xnnpack"]
    assert x["status"] == "warn" and "XNNPACK NOT applied" in x["found"] and "matches the workstation's" in x["found"]
    assert x["fix"] == "tflite-runtime applies no XNNPACK to int8 on x86-64: pip install ai-edge-litert"
    assert checks["set"]["status"] in ("warn", "fail")  # this venv is no board's set (no LiteRT, no packaging)
    assert out.returncode == 1
