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
