"""The board tier: on a real Raspberry Pi or Jetson, what `edgenet run` needs works there.

Opt-in: ``pytest --board tests/test_board.py`` (and ``--board-camera 0``, or any source URI, for the
camera tests). Skipped everywhere else. ``--board-camera pattern://`` runs the camera tests on the
synthetic source, which is how the tier's own logic is tried on a workstation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

# Imported here, not in the tests: the board tier is skipped in every other run, and a moved name
# then fails the collection of the whole suite instead of waiting for someone with a board.
from edgenet.board.manifest import environment
from edgenet.preprocess import preprocess
from edgenet.runtime import load_interpreter
from edgenet.sources import open_source
from tests.conftest import FIXTURES, ROOT
from tests.fixtures.drawings import LABELS, draw

pytestmark = pytest.mark.board

MODEL = FIXTURES / "mobilenet_v1_025_64_int8.tflite"
LABELS_FILE = FIXTURES / "tiny_labels.txt"


def test_environment_is_reported(record_property):
    env = environment(load_interpreter(str(MODEL)))
    for key in ("board", "cpu", "cores", "machine", "python", "numpy", "opencv", "runtime", "runtime_version"):
        record_property(key, env.get(key))
    assert env["cores"] >= 1 and env["runtime"] in ("litert", "tflite-runtime", "tensorflow")
    assert env["runtime"] != "tensorflow", "a board runs LiteRT or tflite-runtime, not TensorFlow (see README: Install)"


def test_interpreter_applies_xnnpack_to_int8_and_classifies_on_this_cpu():
    """The int8 fixture through the board's interpreter: XNNPACK took the graph, and its answers are
    right on the drawings it was trained on (an ARM kernel computing something else would not be)."""
    model = load_interpreter(str(MODEL))
    assert model.xnnpack, f"{model.runtime} {model.runtime_version} did not apply XNNPACK to the int8 model"
    assert model.input_spec.dtype == "int8" and model.classes == len(LABELS)
    rng = np.random.default_rng(3)
    right = 0
    for index, label in enumerate(LABELS):
        for _ in range(3):
            scores = model.run(preprocess(draw(label, rng), model.input_spec))
            assert scores.shape == (len(LABELS),) and np.isfinite(scores).all()
            right += int(scores.argmax() == index)
    assert right >= 25, f"{right}/30 drawings classified right"  # the fixture scores >= 85 % on drawings


def test_opencv_decodes_and_encodes_images():
    ramp = np.linspace(0, 255, 96, dtype=np.float32)
    image = np.dstack([np.add.outer(ramp, ramp) / 2, np.add.outer(ramp, 255 - ramp) / 2, np.tile(ramp, (96, 1))])
    image = image.astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", image)  # what `run --serve` sends
    assert ok and jpeg.size > 100
    back = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert back.shape == image.shape and np.abs(back.astype(int) - image.astype(int)).mean() < 3


def cameras_listed(uri: str) -> list[str]:
    """What the board lists for the camera's kind: V4L2 device nodes, or picamera2's cameras."""
    kind, _, rest = uri.partition("://")
    index = rest.split("?")[0]
    if kind == "v4l2" or uri.startswith("/dev/video"):
        node = uri if uri.startswith("/dev/") else f"/dev/video{index}"
        return [node] if os.path.exists(node) else []
    if kind == "csi":
        try:
            from picamera2 import Picamera2
        except ImportError:  # a Jetson's CSI camera: Argus, nothing to list from Python
            return [uri]
        cameras = Picamera2.global_camera_info()
        return [str(c) for c in cameras][int(index):int(index) + 1]
    return [uri]  # streams, files and pattern:// are not enumerated


def test_camera_is_listed_and_gives_frames(board_camera):
    assert cameras_listed(board_camera), f"{board_camera} is not among the board's cameras"
    with open_source(board_camera) as source:
        frames = [source.read() for _ in range(3)]
    for frame in frames:
        assert frame is not None and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
        assert frame.shape[0] >= 32 and frame.shape[1] >= 32


def test_run_json_on_the_camera(board_camera):
    """`edgenet run --json` on the board's camera: one JSON line a frame, labels from the labels file."""
    frames = 30
    done = subprocess.run(
        [sys.executable, "-m", "edgenet", "run", "--model", str(MODEL), "--labels", str(LABELS_FILE),
         "--source", board_camera, "--json", "--max-frames", str(frames), "--top-k", "3",
         "--summary-json", os.devnull],
        cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == frames
    assert [line["frame"] for line in lines] == sorted(line["frame"] for line in lines)
    for line in lines:
        assert len(line["top"]) == 3 and all(t["label"] in LABELS for t in line["top"])
        assert 0.0 <= line["top"][0]["score"] <= 1.0 and line["infer_ms"] > 0
    assert lines[-1]["e2e_fps"] > 0
