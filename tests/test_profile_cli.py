"""`edgenet profile` as a user runs it: outputs, JSON schema, CSV, plot, exit codes, no TensorFlow."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from edgenet.profiler.results import CSV_COLUMNS, SCHEMA

from tests.conftest import ROOT, modules_left_imported  # noqa: E402
FIXTURES = ROOT / "tests" / "fixtures"
QUICK = ["--min-runs", "5", "--min-time", "0.05", "--warmup", "1"]

TOP_KEYS = {"schema", "wall_seconds", "config", "environment", "notes", "fits", "results", "float_vs_int8", "choice",
            "stopped"}
ROW_KEYS = {"model", "name", "variant", "alpha", "resolution", "precision", "io", "threads", "mult_adds", "accuracy",
            "accuracy_source", "measured", "skipped", "seed", "latency_ms", "fps", "load_ms", "first_run_ms", "runs",
            "outliers", "xnnpack", "predicted_ms", "predicted_fps", "prediction_error", "e2e", "sustained"}
LATENCY_KEYS = {"count", "mean_ms", "median_ms", "p90_ms", "p99_ms", "std_ms", "min_ms", "max_ms", "outliers", "fps"}
CHOICE_KEYS = {"target_fps", "margin", "threshold_fps", "meets_target", "pick", "fastest", "explanation"}
ENV_KEYS = {"board", "cpu", "cores", "machine", "os", "kernel", "python", "numpy", "runtime", "runtime_version",
            "xnnpack", "threads", "cpu_governor", "cpu_max_mhz", "memory_mb", "jetson_power_mode", "at_start"}


def edgenet(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "edgenet", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    for name in ("mobilenet_v1_025_64_int8.tflite", "mobilenet_v1_025_64_float.tflite"):
        shutil.copy(FIXTURES / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def accuracy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("acc") / "eval.json"
    path.write_text(json.dumps([{"model": "mobilenet_v1_025_64_int8.tflite", "top1": 0.9},
                                {"model": "somewhere/mobilenet_v1_025_64_float.tflite", "top1": 0.91}]))
    return path


@pytest.fixture(scope="module")
def full_run(models, accuracy, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    done = edgenet("profile", "--models", str(models), "--threads", "1,2", *QUICK, "--target-fps", "50",
                   "--margin", "0.1", "--accuracy", str(accuracy), "--out", str(out), "--plot", "--json")
    return done, out


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_json_schema_is_stable(full_run):
    done, out = full_run
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == TOP_KEYS
    assert data["schema"] == SCHEMA
    assert len(data["results"]) == 4
    for row in data["results"]:
        assert set(row) == ROW_KEYS
        assert set(row["latency_ms"]) == LATENCY_KEYS
        assert row["measured"] is True and row["fps"] > 0 and row["outliers"] >= 0
    assert set(data["choice"]) == CHOICE_KEYS
    assert ENV_KEYS <= set(data["environment"])
    assert data["config"]["measure"] == {"min_runs": 5, "min_time": 0.05, "warmup": 1, "max_runs": 100000,
                                         "runtime": "auto", "xnnpack": True}
    assert {(p["threads"], p["int8_model"]) for p in data["float_vs_int8"]} == {(1, "mobilenet_v1_025_64_int8"),
                                                                                 (2, "mobilenet_v1_025_64_int8")}


def test_pick_and_files_written(full_run):
    done, out = full_run
    data = json.loads(done.stdout)
    choice = data["choice"]
    assert choice["meets_target"] is True
    assert choice["pick"]["name"] == "mobilenet_v1_025_64_float"  # 91% beats 90% and both are far above 55 FPS
    assert choice["pick"]["accuracy"] == 91.0 and choice["threshold_fps"] == 55.0
    assert json.loads((out / "profile.json").read_text())["results"] == data["results"]
    with open(out / "profile.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert len(rows) == 4
    assert sum(r["picked"] == "True" for r in rows) == 1
    for r, j in zip(rows, data["results"]):
        assert r["name"] == j["name"] and float(r["median_ms"]) == j["latency_ms"]["median_ms"]
    width, height = png_size(out / "pareto.png")
    assert (width, height) == (880, 605)  # 8 x 5.5 inches at 110 dpi
    assert (out / "pareto.png").stat().st_size > 20_000
    assert f"wrote {out / 'pareto.png'}" in done.stderr


def test_table_output_and_explanation(models, accuracy, tmp_path):
    done = edgenet("profile", "--models", str(models), "--threads", "1", *QUICK, "--target-fps", "20",
                   "--accuracy", str(accuracy), "--csv", str(tmp_path / "p.csv"), "--plot", str(tmp_path / "p.png"))
    assert done.returncode == 0, done.stderr
    assert "MobileNet V1 profile" in done.stdout
    assert "mobilenet_v1_025_64_float *" in done.stdout
    assert "picked mobilenet_v1_025_64_float @ 1 thread: 91.0% top-1 (eval)" in done.stdout
    assert "int8 vs float32, mobilenet_v1_025_64_int8 @ 1 thread(s)" in done.stdout
    assert (tmp_path / "p.csv").read_text().startswith(",".join(CSV_COLUMNS))
    png_size(tmp_path / "p.png")


def test_none_meets_exits_1_and_names_the_fastest(models, accuracy):
    done = edgenet("profile", "--models", str(models), "--threads", "1", *QUICK, "--target-fps", "1e9",
                   "--accuracy", str(accuracy), "--json")
    assert done.returncode == 1, done.stderr
    choice = json.loads(done.stdout)["choice"]
    assert choice["pick"] is None and choice["meets_target"] is False
    assert choice["explanation"].startswith("no variant reaches 1000000000.0 FPS; the fastest is mobilenet_v1_025_64_")
    assert choice["fastest"]["fps"] > 0


@pytest.mark.parametrize("args,message", [
    (["--models", "/nonexistent"], "not a folder"),
    (["--models", "{models}", "--fast"], "--fast needs --target-fps"),
    (["--models", "{models}", "--accuracy", "/nonexistent.json", "--min-time", "0"], "--accuracy /nonexistent.json: cannot read"),
    (["--models", "{models}", "--float"], "go with --grid"),
])
def test_errors_are_one_line_exit_2(models, args, message):
    done = edgenet("profile", *[a.format(models=models) for a in args])
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("edgenet: error: ")
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_accuracy_json(models, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    done = edgenet("profile", "--models", str(models), "--threads", "1", *QUICK, "--accuracy", str(bad))
    assert done.returncode == 2 and "expected `edgenet eval --json` output" in done.stderr


def test_models_and_grid_exclude_each_other(models):
    done = edgenet("profile", "--models", str(models), "--grid")
    assert done.returncode == 2 and "not allowed with argument" in done.stderr


def test_profile_never_imports_tensorflow(models, tmp_path):
    code = (
        "from edgenet.cli import main\n"
        f"code = main(['profile', '--models', {str(models)!r}, '--threads', '1', '--min-runs', '3', '--min-time', '0',"
        f" '--target-fps', '1', '--out', {str(tmp_path)!r}, '--plot'])\n"
    )
    assert modules_left_imported(code, ("tensorflow", "keras", "calibration")) == []
    assert (tmp_path / "pareto.png").exists()


def test_sustained_on_a_fake_pi_picks_on_steady_fps(models, accuracy, tmp_path):
    from tests.test_profile_thermal import fake_command, fake_pi

    root = fake_pi(tmp_path / "root")
    vcgencmd = fake_command(tmp_path, "vcgencmd", "throttled=0x20002")
    done = edgenet("profile", "--models", str(models), "--threads", "1", *QUICK, "--target-fps", "20",
                   "--accuracy", str(accuracy), "--sustained", "0.6", "--sample-interval", "0.2",
                   "--sysfs-root", str(root), "--vcgencmd", vcgencmd[0], "--nvpmodel", "none", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    env = data["environment"]
    assert env["board"] == "Raspberry Pi 4 Model B Rev 1.4" and env["cpu_governor"] == "ondemand"
    assert env["at_start"]["throttle"] == {"raw": "0x20002", "flags": ["arm frequency capped",
                                                                       "arm frequency capping has occurred"], "active": True}
    sustained = [r for r in data["results"] if r["sustained"]]
    # the most accurate candidate (float, 91%) holds 20 FPS steady, so it is the only sustained run
    assert [r["name"] for r in sustained] == ["mobilenet_v1_025_64_float"]
    s = sustained[0]["sustained"]
    assert s["throttled"] is True and s["temp_start_c"] == 61.3 and s["freq_min_mhz"] == 1500.0
    assert s["steady_fps"] > 20 and len(s["windows"]) >= 2
    assert data["choice"]["pick"]["fps_kind"] == "steady"
    assert data["choice"]["pick"]["fps"] == s["steady_fps"]


@pytest.mark.parametrize("hide_matplotlib, extra, message", [
    (True, ["--plot"], "--plot needs matplotlib: pip install 'edgenet[plot]'"),
    (True, ["--out", "results", "--plot"], "--plot needs matplotlib"),
    (False, ["--csv", "/no/such/dir/p.csv"], "cannot write --csv /no/such/dir/p.csv: folder /no/such/dir does not exist"),
    (False, ["--plot", "/no/such/dir/p.png"], "cannot write --plot /no/such/dir/p.png: folder /no/such/dir does not exist"),
])
def test_outputs_are_checked_before_measuring(models, tmp_path, hide_matplotlib, extra, message):
    """Without matplotlib (hidden from this run) or with an output folder missing: one line, exit 2,
    and no model was measured (nothing is lost but a second)."""
    hide = "sys.modules['matplotlib'] = None\n" if hide_matplotlib else ""
    code = (f"import sys\n{hide}from edgenet.cli import main\n"
            f"sys.exit(main(['profile', '--models', {str(models)!r}, '--threads', '1', *{QUICK!r}, "
            f"'--target-fps', '1', *{extra!r}]))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("edgenet: error: ") and message in done.stderr
    assert "measuring" not in done.stderr and "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_a_signal_ends_the_profile_with_what_was_measured(tmp_path, models, signum, code):
    # A profile on a board takes minutes: a Ctrl-C or systemctl stop after the first measurement keeps
    # it. The run ends after the measurement in hand, prints and writes what it has, saves no pick.
    env = dict(os.environ, EDGENET_CACHE=str(tmp_path / "cache"))
    out = tmp_path / "profile.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgenet", "profile", "--models", str(models), "--threads", "1,2", "--min-runs", "5",
         "--min-time", "1.5", "--warmup", "1", "--target-fps", "1", "--json-file", str(out)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    lines = []
    for line in proc.stderr:  # the signal goes in during the first measurement
        lines.append(line)
        if "measuring" in line:
            break
    proc.send_signal(signum)
    stdout, rest = proc.communicate(timeout=60)
    err = "".join(lines) + rest
    assert proc.returncode == code, err
    assert "Traceback" not in err
    data = json.loads(out.read_text())
    assert data["stopped"] is True and set(data) == TOP_KEYS
    measured = [r for r in data["results"] if r["measured"]]
    left = [r for r in data["results"] if not r["measured"]]
    assert len(data["results"]) == 4 and 1 <= len(measured) < 4, err  # 2 models x 2 thread counts
    assert all(r["skipped"] == "stopped before it was measured" for r in left)
    assert f"edgenet: stopped by {signal.Signals(signum).name} after {len(measured)} of 4 measurements" in err
    assert not (tmp_path / "cache" / "profile-pick.json").exists()  # a half profile's pick is not kept
