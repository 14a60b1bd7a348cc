"""The `edgenet` command: bad input gives one line on stderr and exit 2, never a traceback."""

import json
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES, ROOT


def edgenet(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "edgenet", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def assert_one_line_error(result, pattern):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("edgenet: error:")]
    assert len(errors) == 1, result.stderr
    assert pattern in errors[0], errors[0]


TINY = str(FIXTURES / "mobilenet_v1_025_64_int8.tflite")
LABELS = str(FIXTURES / "tiny_labels.txt")


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "garbage.tflite").write_bytes(b"\x00" * 64)
    data = open(TINY, "rb").read()
    (d / "truncated.tflite").write_bytes(data[:5000])
    (d / "three_labels.txt").write_text("a\nb\nc\n")
    return d


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["run", "--model", "/nope.tflite", "--source", "pattern://"], "model file not found"),
        (["run", "--model", "{bad}/garbage.tflite", "--source", "pattern://"], "not a TFLite model"),
        (["run", "--model", "{bad}/truncated.tflite", "--source", "pattern://"], "corrupt or truncated"),
        (["run", "--model", str(FIXTURES / "two_inputs.tflite"), "--source", "pattern://"], "2 inputs"),
        (["run", "--model", TINY, "--source", "/no/such/clip.mp4"], "source not found"),
        (["run", "--model", TINY, "--source", "gopher://x"], "unknown source scheme"),
        (["run", "--model", TINY, "--source", "pattern://", "--labels", "{bad}/three_labels.txt"], "3 labels but the model has 10"),
        (["run", "--model", TINY, "--camera", "63"], "cannot open camera 63"),
        (["run", "--model", TINY, "--source", "pattern://", "--record", "/no/dir/x.mp4"], "does not exist"),
        (["run", "--model", TINY, "--source", "pattern://", "--smoothing", "1.5"], "smoothing"),
        (["run", "--model", TINY, "--source", "pattern://", "--threshold", "2"], "threshold"),
        (["eval", "--model", TINY, "--images", "/no/such/dir"], "image folder not found"),
    ],
)
def test_bad_input_exit_2(bad_files, args, pattern):
    args = [a.replace("{bad}", str(bad_files)) for a in args]
    assert_one_line_error(edgenet(*args), pattern)


def test_argparse_errors_are_exit_2_too():
    result = edgenet("run", "--model", TINY, "--source", "pattern://", "--threads", "0")
    assert result.returncode == 2 and "expected a number >= 1" in result.stderr and "Traceback" not in result.stderr


def test_run_json_and_summary(tmp_path):
    summary_path = tmp_path / "summary.json"
    result = edgenet("run", "--model", TINY, "--labels", LABELS, "--source", "pattern://?width=320&height=240&frames=12",
                     "--json", "--threads", "1", "--summary-json", str(summary_path))
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 12 and lines[0]["top"][0]["label"] == "stripes"
    assert "end-to-end" in result.stderr  # the human summary stays off stdout in --json mode
    summary = json.loads(summary_path.read_text())
    assert summary["frames"] == 12 and summary["environment"]["threads"] == 1
    assert set(summary["stages_ms"]["inference"]) >= {"median_ms", "p90_ms", "fps"}


def test_run_summary_table():
    result = edgenet("run", "--model", TINY, "--source", "pattern://?frames=20", "--headless", "--threads", "1")
    assert result.returncode == 0, result.stderr
    for word in ("end-to-end", "model-only", "capture_wait", "preprocess", "inference", "postprocess", "XNNPACK on",
                 "threads 1", "Python"):
        assert word in result.stdout, word


def test_no_xnnpack_is_reported():
    result = edgenet("run", "--model", TINY, "--source", "pattern://?frames=3", "--headless", "--no-xnnpack")
    assert result.returncode == 0 and "XNNPACK off" in result.stdout


def test_help_lists_the_verbs():
    result = edgenet("--help")
    assert result.returncode == 0
    for verb in ("run", "eval"):
        assert verb in result.stdout


@pytest.mark.parametrize("kind", ["uint8", "int8", "float32"])
def test_run_summary_names_the_model_io_type(kind):
    model = FIXTURES / f"mobilenet_v1_025_64_{'float' if kind == 'float32' else kind}.tflite"
    result = edgenet("run", "--model", str(model), "--source", "pattern://?frames=3", "--headless", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert f"XNNPACK on | {kind} I/O | threads 1" in result.stdout


def test_short_headless_run_shows_the_last_labels_in_the_summary():
    r = edgenet("run", "--model", TINY, "--labels", LABELS, "--source", "pattern://?width=96&height=96&frames=3",
                "--headless", "--top-k", "2")
    assert r.returncode == 0, r.stderr
    last = [line for line in r.stdout.splitlines() if line.startswith("last frame: ")]
    assert len(last) == 1 and len(last[0][len("last frame: "):].split(", ")) == 2
    labels = {line.strip() for line in open(LABELS)}
    assert all(part.rsplit(" ", 1)[0] in labels for part in last[0][len("last frame: "):].split(", "))


def test_record_over_photos_of_different_sizes_keeps_every_frame_at_the_first_size(tmp_path):
    import cv2
    import numpy as np

    from tests.fixtures.drawings import draw

    rng = np.random.default_rng(0)
    sizes = [(320, 240), (200, 300), (640, 480), (320, 240), (96, 96)]
    for i, (w, h) in enumerate(sizes):
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), cv2.resize(draw("red", rng), (w, h)))
    out = tmp_path / "annotated.mp4"
    r = edgenet("run", "--model", TINY, "--labels", LABELS, "--source", str(tmp_path), "--record", str(out), "--headless")
    assert r.returncode == 0, r.stderr
    assert "Failed to write" not in r.stderr and "[ WARN" not in r.stderr
    cap = cv2.VideoCapture(str(out))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == len(sizes)
    assert all(f.shape == (240, 320, 3) for f in frames)
    # The portrait photo is fitted with its aspect kept: black bars left and right, red in the middle.
    portrait = frames[1]
    assert portrait[120:, :40].mean() < 20 and portrait[120:, 140:180, 2].mean() > 150


def test_a_missing_camera_is_our_line_alone():
    r = edgenet("run", "--model", TINY, "--camera", "63")
    assert_one_line_error(r, "cannot open camera 63")
    assert "[ WARN" not in r.stderr and "cap_v4l" not in r.stderr, r.stderr  # no OpenCV lines before it


WORKSTATION_VERBS = [
    (["build", "--alpha", "0.25", "--resolution", "128", "--weights", "random", "--float", "-o", "m.tflite"], "build"),
    (["train", "--data", "imgs", "-o", "m.keras"], "train"),
    (["demo", "--workdir", "demo-work"], "demo"),
    (["deploy", "pi@board", "--model", TINY], "deploy"),
    (["remote", "pi@board", "logs"], "remote"),
    (["profile", "--host", "pi@board", "--models", TINY], "profile --host"),
]


@pytest.mark.parametrize("hidden", [("calibration", "deploy"), ("tensorflow", "keras", "paramiko", "fabric")])
@pytest.mark.parametrize("argv, verb", WORKSTATION_VERBS)
def test_workstation_verbs_on_a_board_say_where_they_run(tmp_path, argv, verb, hidden):
    """A board's install: edgenet alone (a wheel), or a clone installed without [host] (calibration and
    deploy there, TensorFlow and paramiko not): one line, exit 2, no traceback, and nothing done first."""
    code = ("import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in hidden)
            + f"from edgenet.cli import main\nsys.exit(main({argv!r}))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    needs = {"build": "calibration, tensorflow, keras", "deploy": "deploy, paramiko, fabric"}
    group = "build" if argv[0] in ("build", "train", "demo") else "deploy"
    missing = ", ".join(m for m in needs[group].split(", ") if m in hidden)
    assert_one_line_error(r, f"`edgenet {verb}` runs on the workstation and needs {missing}, not installed here")
    assert "pip install -e '.[host]'" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing drawn, built or written


def test_board_verbs_need_no_workstation_package(tmp_path):
    code = ("import sys\nsys.modules['calibration'] = sys.modules['deploy'] = sys.modules['tensorflow'] = None\n"
            "from edgenet.cli import main\nsys.exit(main(['info', '--alpha', '0.5', '--resolution', '160', '--json']))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0 and '"mult_adds"' in r.stdout, r.stderr
