"""Representative datasets: folder, ImageFolder (balanced), video, fake camera; errors and the CLI.

No TensorFlow needed: calibrate runs on a board too (the deployment camera is the best data).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings

import cv2
import numpy as np
import pytest

from edgenet.errors import DatasetError
from edgenet.preprocess import InputSpec, preprocess
from edgenet.representative import (
    FewSamplesWarning, build_representative_dataset, load_calibration, samples_sha256, save_calibration,
)
from edgenet.sources import FrameSource
from tests.fakes import CameraWorld
from tests.fixtures.drawings import LABELS, draw

from tests.conftest import ROOT, modules_left_imported  # noqa: E402


def write_images(folder, labels, per_label, seed=0, size=96):
    rng = np.random.default_rng(seed)
    for label, n in zip(labels, per_label):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            cv2.imwrite(str(folder / label / f"{i:03d}.png"), draw(label, rng, size))
    return folder


class DrawingCamera(FrameSource):
    """A live camera stand-in: a new drawn scene every frame at ``fps``."""

    live = True
    name = "drawing camera"

    def __init__(self, fps=200.0, seed=0):
        self.fps, self.rng, self.reads, self.closed = fps, np.random.default_rng(seed), 0, False

    def read(self):
        time.sleep(1.0 / self.fps)
        self.reads += 1
        return draw(LABELS[int(self.rng.integers(len(LABELS)))], self.rng, 120)

    def close(self):
        self.closed = True


def test_flat_folder_uses_the_runtime_preprocessing(tmp_path):
    rng = np.random.default_rng(3)
    frames = [draw(LABELS[i % 10], rng, 100) for i in range(12)]
    for i, f in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), f)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = build_representative_dataset(str(tmp_path), 48, count=50)
    assert any(issubclass(w.category, FewSamplesWarning) and "only 12" in str(w.message) for w in caught)
    assert data.samples.shape == (12, 48, 48, 3) and data.samples.dtype == np.float32
    spec = InputSpec(48, 48, 3, "float32")
    expected = {preprocess(f, spec).tobytes() for f in frames}  # PNG is lossless
    assert {s[None].tobytes() for s in data.samples} == expected
    m = data.manifest
    assert (m["count"], m["resolution"], m["source_kind"]) == (12, 48, "images")
    assert m["preprocessing"]["function"] == "edgenet.preprocess.preprocess" and m["preprocessing"]["crop"] == 0.875


def test_imagefolder_is_balanced_and_reproducible(tmp_path):
    write_images(tmp_path, ["red", "stripes", "checker", "blue"], [40, 40, 40, 6])
    data = build_representative_dataset(str(tmp_path), 32, count=60)
    assert data.manifest["source_kind"] == "imagefolder"
    # 15 each would be balanced; blue has only 6, the others fill in evenly
    assert data.manifest["per_class"] == {"blue": 6, "checker": 18, "red": 18, "stripes": 18}
    again = build_representative_dataset(str(tmp_path), 32, count=60)
    assert again.manifest["sha256"] == data.manifest["sha256"]
    other_seed = build_representative_dataset(str(tmp_path), 32, count=60, seed=1)
    assert other_seed.manifest["sha256"] != data.manifest["sha256"]


def test_video_skips_near_duplicates_and_spreads_samples(tmp_path):
    path = str(tmp_path / "clip.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 25, (128, 96))
    rng = np.random.default_rng(0)
    scenes = []
    for i in range(40):
        frame = draw(LABELS[i % 10], rng, 128)[:96]
        scenes.append(frame)
        for _ in range(3):  # every scene held for 3 frames: 2 of them are near-duplicates
            writer.write(frame)
    writer.release()
    data = build_representative_dataset(path, 64, count=25)
    m = data.manifest
    assert m["source_kind"] == "file" and m["frames_read"] == 120
    assert m["duplicates_skipped"] >= 75  # mp4v noise may split a few held scenes, not most
    assert m["count"] == 25
    # reservoir sampling: the samples come from the whole clip, not its first 25 scenes
    spec = InputSpec(64, 64, 3, "float32")
    late = [preprocess(s, spec)[0] for s in scenes[30:]]
    assert any(min(np.abs(s - x).mean() for x in late) < 0.05 for s in data.samples)


def test_fake_camera_spreads_frames_over_the_capture(tmp_path):
    cam = DrawingCamera()
    data = build_representative_dataset(None, 64, count=10, source=cam, capture_seconds=0.5)
    assert data.samples.shape == (10, 64, 64, 3)
    assert data.manifest["source_kind"] == "live" and data.manifest["source"] == "drawing camera"
    assert cam.reads > 10 and cam.closed  # frames between the sampling instants were passed over


def test_static_camera_scene_is_deduplicated_to_one_sample():
    cam = CameraWorld(fps=500).open()  # one colour; only the frame counter pixel changes
    with pytest.warns(FewSamplesWarning, match="only 1 calibration"):
        data = build_representative_dataset(None, 32, count=5, source=cam, capture_seconds=0.1)
    assert len(data) == 1 and data.manifest["duplicates_skipped"] >= 1


class EmptySource(FrameSource):
    name = "empty"

    def read(self):
        return None


def test_zero_samples_is_a_clear_error():
    with pytest.raises(DatasetError, match="no calibration samples from empty: 0 frame"):
        build_representative_dataset(None, 64, source=EmptySource())


def test_npz_round_trip_and_tamper_check(tmp_path):
    write_images(tmp_path / "imgs", ["red", "blue"], [3, 3])
    with pytest.warns(FewSamplesWarning):
        data = build_representative_dataset(str(tmp_path / "imgs"), 40, count=6)
    path = str(tmp_path / "c.npz")
    save_calibration(data, path)
    back = load_calibration(path)
    np.testing.assert_array_equal(back.samples, data.samples)
    assert back.manifest == data.manifest and back.resolution == 40
    bad = data.samples.copy()
    bad[0, 0, 0, 0] += 0.5
    np.savez(str(tmp_path / "bad.npz"), samples=bad, manifest=np.array(json.dumps(data.manifest)))
    with pytest.raises(DatasetError, match="do not match the manifest"):
        load_calibration(str(tmp_path / "bad.npz"))
    assert samples_sha256(bad) != data.manifest["sha256"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "edgenet", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_writes_the_npz(tmp_path):
    write_images(tmp_path / "imgs", ["red", "green", "stripes"], [5, 5, 5])
    out = tmp_path / "calib.npz"
    r = cli("calibrate", "--source", str(tmp_path / "imgs"), "--resolution", "64", "--count", "9", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "warning: only 9 calibration samples" in r.stdout
    assert "9 samples at 64 px" in r.stdout and "per class {'green': 3, 'red': 3, 'stripes': 3}" in r.stdout
    assert load_calibration(str(out)).samples.shape == (9, 64, 64, 3)
    assert "tensorflow" not in r.stderr.lower()


@pytest.mark.parametrize("args, message", [
    (["--source", "EMPTY"], "no images"),
    (["--source", "BROKEN"], "cannot read image"),
    (["--source", "IMGS", "--resolution", "100"], "multiple of 8"),
    (["--source", "IMGS", "-o", "/nonexistent/dir/c.npz"], "does not exist"),
])
def test_cli_errors_are_one_line_exit_2(tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"not a png")  # listed as an image, unreadable
    write_images(tmp_path / "imgs", ["red"], [2])
    args = [a.replace("EMPTY", str(tmp_path / "empty")).replace("IMGS", str(tmp_path / "imgs"))
            .replace("BROKEN", str(tmp_path / "broken")) for a in args]
    if "--resolution" not in args:
        args += ["--resolution", "64"]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "c.npz")]
    r = cli("calibrate", *args)
    assert r.returncode == 2
    assert r.stderr.startswith("edgenet: error: ") and message in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert not (tmp_path / "c.npz").exists()


def test_calibrate_path_never_imports_tensorflow():
    code = ("import edgenet.cli.calibrate, edgenet.representative, calibration.builder, calibration.synthetic\n"
            "from edgenet.cli import build_parser\nbuild_parser()\n")
    assert modules_left_imported(code, ("tensorflow", "keras")) == []


def test_grid_cli_without_calibration_is_one_line_exit_2(tmp_path):
    r = cli("build", "--grid", "-o", str(tmp_path / "grid"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "an int8 grid needs --calibration files, one per resolution" in r.stderr
