"""Numbers and output paths the user gives are refused in one line (exit 2) before any work: no
OverflowError for ``--duration inf``, no out-of-memory for ``--resolution 100000``, no crash for
``--threads 100000``, no traceback after the work for an output that cannot be written."""

import argparse

import pytest

from edgenet.cli import common
from tests.test_cli import LABELS, TINY, assert_one_line_error, edgenet

PATTERN = "pattern://?width=96&height=96&frames=3"


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["run", "--model", TINY, "--source", "pattern://", "--headless", "--duration", "inf"], "--duration"),
        (["run", "--model", TINY, "--source", "pattern://", "--headless", "--duration", "1e300"], "<= 3.1536e+07"),
        (["run", "--model", TINY, "--source", "pattern://", "--headless", "--duration", "nan"], "--duration"),
        (["run", "--model", TINY, "--source", "pattern://", "--headless", "--reconnect-timeout", "1e300"], "--reconnect"),
        (["run", "--model", TINY, "--source", PATTERN, "--headless", "--threads", "100000"], "<= 64"),
        (["run", "--model", TINY, "--source", PATTERN, "--headless", "--threshold", "nan"], "--threshold"),
        (["run", "--model", TINY, "--source", PATTERN, "--headless", "--decode-threads", "-1"], "--decode-threads"),
        (["run", "--model", TINY, "--source", PATTERN, "--headless", "--decode-threads", "65"], "<= 64"),
        (["run", "--model", TINY, "--source", "pattern://?width=100000&height=100000", "--headless"], "at most 8192"),
        (["run", "--model", TINY, "--source", "pattern://?fps=inf", "--headless"], "option fps"),
        (["calibrate", "--source", PATTERN, "--resolution", "100000", "-o", "{tmp}/c.npz"], "from 32 to 1024"),
        (["calibrate", "--source", PATTERN, "--resolution", "64", "--seed", "-1", "-o", "{tmp}/c.npz"], "--seed"),
        (["calibrate", "--source", PATTERN, "--resolution", "64", "--seconds", "inf", "-o", "{tmp}/c.npz"], "--seconds"),
        (["calibrate", "--source", PATTERN, "--resolution", "224", "--count", "1000000000000", "-o", "{tmp}/c.npz"],
         "at most 7133 at this resolution"),
        (["retarget", TINY, "--resolution", "100000"], "from 32 to 1024"),
        (["demo", "--per-class", "1000000", "--workdir", "{tmp}/demo"], "at most 7767 at this resolution"),
        (["train", "--data", "{tmp}", "-o", "{tmp}/m.keras", "--batch-size", "100000"], "at most 65536"),
        (["info", "--classes", "1000000000"], "<= 100000"),
        (["profile", "--models", TINY, "--threads", "1-100000"], "thread counts must be in 1..64"),
        (["profile", "--models", TINY, "--warmup", "-3"], "--warmup"),
        (["profile", "--models", TINY, "--min-time", "inf"], "--min-time"),
        (["models", "pull", "mobilenet_v1_025_128", "--timeout", "inf"], "--timeout"),
    ],
)
def test_absurd_numbers_are_one_line(tmp_path, args, pattern):
    r = edgenet(*[a.replace("{tmp}", str(tmp_path)) for a in args], timeout=60)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "Error:" not in r.stderr.replace("error:", ""), r.stderr
    assert pattern in r.stderr.strip().splitlines()[-1], r.stderr


def test_validators_keep_sane_values_and_refuse_the_rest():
    assert common.seconds("2.5") == 2.5 and common.seconds("31536000") == 31536000.0
    assert common.thread_count("64") == 64
    assert common.decode_thread_count("0") == 0 and common.decode_thread_count("64") == 64
    assert common.seed("4294967295") == 2**32 - 1 and common.port("65535") == 65535
    assert common.thread_list("1-4") == (1, 2, 3, 4) and common.fraction("1") == 1.0
    for validator, text in [(common.seconds, "inf"), (common.seconds, "1e300"), (common.seconds, "nan"),
                            (common.positive_float, "inf"), (common.non_negative_float, "-inf"),
                            (common.thread_count, "65"),
                            (common.seed, "4294967296"), (common.port, "70000"), (common.fraction, "1.5"),
                            (common.class_count, "100001")]:
        with pytest.raises(argparse.ArgumentTypeError):
            validator(text)


def test_the_library_refuses_what_the_options_refuse():
    from edgenet.errors import SourceError, UsageError
    from edgenet.pipeline import RunConfig
    from edgenet.sources import parse_source
    from edgenet.variants import Variant

    for duration in (float("inf"), float("nan"), 1e300):
        with pytest.raises(UsageError, match="--duration"):
            RunConfig(model=TINY, source="pattern://", duration=duration)
    with pytest.raises(UsageError, match="resolution"):
        Variant(1.0, 100000)
    with pytest.raises(SourceError, match="width"):
        parse_source("pattern://?width=100000")
    with pytest.raises(UsageError, match="threads"):
        from edgenet.runtime import load_interpreter

        load_interpreter(TINY, threads=100000)


@pytest.fixture
def a_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    return f


@pytest.mark.parametrize(
    "args, option",
    [
        (["run", "--model", TINY, "--source", PATTERN, "--headless", "--summary-json", "{f}/s.json"], "--summary-json"),
        (["run", "--model", TINY, "--source", PATTERN, "--headless", "--summary-json", "{tmp}"], "--summary-json"),
        (["run", "--model", TINY, "--source", PATTERN, "--headless", "--record", "/proc/edgenet-x.mp4"], "--record"),
        (["run", "--model", TINY, "--source", PATTERN, "--headless", "--record", "{f}/x.mp4"], "--record"),
        (["run", "--model", TINY, "--source", PATTERN, "--headless", "--record", "{tmp}/x.txt"], "--record"),
        (["run", "--model", TINY, "--source", PATTERN, "--headless", "--record", "{tmp}/x.ts"], "--record"),
        (["eval", "--model", TINY, "--labels", LABELS, "--images", "{tmp}", "-o", "{f}/r.json"], "-o"),
        (["eval", "--model", TINY, "--labels", LABELS, "--images", "{tmp}", "-o", "/proc/edgenet-r.json"], "-o"),
        (["profile", "--models", TINY, "--json-file", "{f}/p.json"], "--json-file"),
        (["profile", "--models", TINY, "--csv", "/proc/edgenet-p.csv"], "--csv"),
        (["profile", "--models", TINY, "--plot", "{f}/p.png"], "--plot"),
        (["profile", "--models", TINY, "--out", "{f}/sub/dir"], "--out"),
        (["profile", "--models", TINY, "--out", "/proc/edgenet-out"], "--out"),
        (["calibrate", "--source", PATTERN, "--resolution", "64", "-o", "/proc/edgenet-c.npz"], "-o"),
        (["retarget", TINY, "--resolution", "96", "-o", "/proc/edgenet-r.tflite"], "-o"),
    ],
)
def test_every_output_is_checked_before_the_work(tmp_path, a_file, args, option):
    args = [a.replace("{f}", str(a_file)).replace("{tmp}", str(tmp_path)) for a in args]
    r = edgenet(*args, timeout=60)
    assert_one_line_error(r, "cannot write " + option + " " if not args[-1].endswith((".txt", ".ts")) else
                          "--record must name a .mp4 or .m4v or .mov or .avi or .mkv file")
    assert "INFO: Created TensorFlow Lite" not in r.stderr  # refused before the model loaded


def test_build_into_an_unwritable_folder_stops_before_tensorflow_loads():
    pytest.importorskip("calibration")
    r = edgenet("build", "--alpha", "0.25", "--resolution", "64", "--classes", "3", "-o", "/proc/edgenet-b.tflite")
    assert_one_line_error(r, "cannot write -o /proc/edgenet-b.tflite")
    assert "tensorflow" not in r.stderr.lower()  # refused before TensorFlow loaded (it logs on import)


def test_a_checked_output_leaves_no_file_and_keeps_an_existing_one(tmp_path):
    from edgenet.outputs import check_output_folder, check_output_path

    check_output_path(str(tmp_path / "new.json"), option="-o")
    assert not (tmp_path / "new.json").exists()
    old = tmp_path / "old.json"
    old.write_text("kept")
    check_output_path(str(old), option="-o")
    assert old.read_text() == "kept"
    check_output_folder(str(tmp_path / "a" / "b"))
    assert not (tmp_path / "a").exists() and list(tmp_path.iterdir()) == [old]
