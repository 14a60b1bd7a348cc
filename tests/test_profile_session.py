"""profile() end to end: real sweeps over the tiny fixtures, and the --fast / --predict-only logic
with injected latencies (table-driven against an exhaustive profile)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgenet.errors import ModelError, UsageError
from edgenet.profiler import MeasureOptions, ProfileConfig, profile
from edgenet.profiler import session as session_mod
from edgenet.profiler.measure import Measurement
from edgenet.profiler.models import ModelEntry
from edgenet.profiler.predict import mult_adds
from edgenet.stats import summarize
from edgenet.variants import Variant, standard_variants

FIXTURES = Path(__file__).resolve().parent / "fixtures"
QUICK = MeasureOptions(min_runs=5, min_time=0.05, warmup=1)


@pytest.fixture
def two_models(tmp_path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("mobilenet_v1_025_64_int8.tflite", "mobilenet_v1_025_64_float.tflite"):
        shutil.copy(FIXTURES / name, folder / name)
    return folder


def quiet(_message: str) -> None:
    pass


def test_real_sweep_over_two_tiny_models(two_models):
    report = profile(ProfileConfig(models=str(two_models), threads=(1, 2), measure=QUICK), log=quiet)
    assert [(r.name, r.threads) for r in report.rows] == [
        ("mobilenet_v1_025_64_float", 1), ("mobilenet_v1_025_64_float", 2),
        ("mobilenet_v1_025_64_int8", 1), ("mobilenet_v1_025_64_int8", 2)]
    for row in report.rows:
        m = row.measurement
        assert m is not None and row.skipped is None
        assert m.runs >= 5 and m.seconds >= 0.05
        assert m.latency.count + m.latency.outliers == m.runs
        assert 0 < m.latency.median_ms <= m.latency.p90_ms <= m.latency.p99_ms <= m.latency.max_ms
        assert m.fps == pytest.approx(1000 / m.latency.median_ms)
        assert m.load_ms > 0 and m.first_run_ms > 0
        assert m.xnnpack is True  # LiteRT applies XNNPACK on x86-64 (NOTES.md)
        assert row.entry.variant == Variant(0.25, 64)
        # 10 classes, not a published variant: no accuracy, and nothing to pick from
        assert row.accuracy is None
    assert {r.entry.precision for r in report.rows} == {"int8", "float32"}
    assert [m.name for m in [r.entry for r in report.rows]].count("mobilenet_v1_025_64_int8") == 2
    pairs = report.precision_pairs()
    assert [(p["threads"], p["int8_model"], p["float32_model"]) for p in pairs] == [
        (1, "mobilenet_v1_025_64_int8", "mobilenet_v1_025_64_float"), (2, "mobilenet_v1_025_64_int8", "mobilenet_v1_025_64_float")]
    assert report.choice is None
    env = report.environment
    assert env["runtime"] == "litert" and env["threads"] == [1, 2] and env["xnnpack"] is True
    assert env["memory_mb"]["total"] > 0


def test_sweep_with_eval_accuracy_picks_and_explains(two_models, tmp_path):
    # One eval report as `edgenet eval --json` writes it, one plain mapping in percent.
    (tmp_path / "int8.json").write_text(json.dumps({"model": str(two_models / "mobilenet_v1_025_64_int8.tflite"),
                                                    "top1": 0.87, "top5": 1.0, "count": 200}))
    (tmp_path / "float.json").write_text(json.dumps({"mobilenet_v1_025_64_float": 88.5}))
    config = ProfileConfig(models=str(two_models), threads=(1,), measure=QUICK, target_fps=1.0,
                           accuracy=(str(tmp_path / "int8.json"), str(tmp_path / "float.json")))
    report = profile(config, log=quiet)
    acc = {r.name: (r.accuracy, r.accuracy_source) for r in report.rows}
    assert acc == {"mobilenet_v1_025_64_int8": (87.0, "eval"), "mobilenet_v1_025_64_float": (88.5, "eval")}
    assert report.choice.pick.name == "mobilenet_v1_025_64_float"
    assert report.choice.explanation.startswith("picked mobilenet_v1_025_64_float @ 1 thread: 88.5% top-1 (eval)")
    # none meets: a target no model reaches, and the fastest is named with its FPS
    slow = profile(ProfileConfig(models=str(two_models), threads=(1,), measure=QUICK, target_fps=1e9,
                                 accuracy=(str(tmp_path / "int8.json"),)), log=quiet)
    fastest = max(slow.rows, key=lambda r: r.measured_fps)
    assert slow.choice.pick is None
    assert slow.choice.fastest.name == fastest.name
    assert f"the fastest is {fastest.name} @ 1 thread at {fastest.measured_fps:.1f} FPS" in slow.choice.explanation


def test_end_to_end_mode_reports_e2e_beside_model_fps(two_models):
    report = profile(ProfileConfig(models=str(two_models), threads=(1,), measure=QUICK,
                                   source="pattern://?width=160&height=120&frames=30", e2e_frames=30), log=quiet)
    for row in report.rows:
        assert row.e2e["frames"] == 30
        assert row.e2e["e2e_fps"] > 0 and row.e2e["model_fps"] > 0
        assert row.as_dict()["e2e"]["source"].startswith("pattern://")


def test_bad_folder_and_bad_files(tmp_path):
    with pytest.raises(ModelError, match="not a folder"):
        profile(ProfileConfig(models=str(tmp_path / "nope")), log=quiet)
    (tmp_path / "junk.tflite").write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="no usable .tflite classifier.*junk.tflite"):
        profile(ProfileConfig(models=str(tmp_path)), log=quiet)


def test_non_classifier_is_skipped_with_a_note(two_models):
    shutil.copy(FIXTURES / "two_inputs.tflite", two_models / "two_inputs.tflite")
    report = profile(ProfileConfig(models=str(two_models), threads=(1,), measure=QUICK), log=quiet)
    assert len(report.rows) == 2
    assert any(n.startswith("skipped two_inputs.tflite") and "2 inputs" in n for n in report.notes)


@pytest.mark.parametrize("kwargs,message", [
    ({}, "exactly one of --models DIR or --grid"),
    ({"models": "x", "grid": True}, "exactly one"),
    ({"models": "x", "fast": True}, "--fast needs --target-fps"),
    ({"models": "x", "sustained": 5.0}, "--sustained needs --target-fps"),
    ({"models": "x", "target_fps": 10, "fast": True, "predict_only": True}, "exclude each other"),
    ({"models": "x", "threads": (0,)}, "--threads"),
    ({"models": "x", "include_float": True}, "go with --grid"),
    ({"models": "x", "margin": -0.1}, "--margin"),
])
def test_config_is_validated(kwargs, message):
    with pytest.raises(UsageError, match=message):
        ProfileConfig(**kwargs)


def test_grid_without_a_builder_says_how_to_build(tmp_path):
    with pytest.raises(ModelError) as err:
        profile(ProfileConfig(grid=True, weights="random", model_cache=str(tmp_path)), log=quiet)
    text = str(err.value)
    assert "16 grid model(s) missing" in text and "TensorFlow is not installed" in text
    assert "--build-only" in text and "edgenet[host]" in text and "--predict-only" in text


# -- injected latencies: the --fast and --predict-only logic ---------------------------------------

def fake_latency_ms(entry: ModelEntry, threads: int) -> float:
    """A board where latency is 0.3 ms + 10 ms per GMAC, and two threads are 1.8x faster."""
    return (0.3 + 10.0 * entry.mult_adds / 1e9) / (1.8 if threads == 2 else 1.0)


class FakeBoard:
    def __init__(self, entries):
        self.by_path = {e.path: e for e in entries}
        self.calls: list[tuple[str, int]] = []

    def measure(self, path, threads, options):
        entry = self.by_path[path]
        self.calls.append((entry.name, threads))
        ns = int(fake_latency_ms(entry, threads) * 1e6)
        return Measurement(1.0, 2.0, summarize([ns] * 10), 10, 0.01, True, "fake", "0", "int8")


def grid_entries(tmp_path) -> list[ModelEntry]:
    out = []
    for v in standard_variants():
        path = tmp_path / f"{v.name}_int8.tflite"
        path.write_bytes(b"")  # exists, never loaded: measure_model is replaced
        out.append(ModelEntry(str(path), path.stem, v, "int8", mult_adds(v), 1000))
    return out


@pytest.fixture
def fake_grid(tmp_path, monkeypatch):
    entries = grid_entries(tmp_path)
    board = FakeBoard(entries)
    monkeypatch.setattr(session_mod, "models_from", lambda items, log=None: (list(entries), []))
    monkeypatch.setattr(session_mod, "measure_model", board.measure)
    monkeypatch.setattr(session_mod, "environment", lambda **kw: {"fake": True})
    return tmp_path, board


@pytest.mark.parametrize("target", [20.0, 60.0, 100.0, 150.0, 250.0, 400.0, 600.0, 5000.0])
@pytest.mark.parametrize("margin", [0.0, 0.2])
def test_fast_gives_the_exhaustive_pick_with_fewer_measurements(fake_grid, target, margin):
    folder, board = fake_grid
    full = profile(ProfileConfig(models=str(folder), threads=(1, 2), target_fps=target, margin=margin), log=quiet)
    full_calls = len(board.calls)
    assert full_calls == 32
    board.calls.clear()
    fast = profile(ProfileConfig(models=str(folder), threads=(1, 2), target_fps=target, margin=margin, fast=True),
                   log=quiet)
    assert fast.choice.as_dict() == full.choice.as_dict()
    assert len(board.calls) < full_calls
    assert len(set(board.calls)) == len(board.calls)  # nothing measured twice
    if fast.choice.pick is not None:
        # certainty: every more accurate model was measured (or is dearer than one that failed)
        pick = fast.choice.pick
        for row in fast.rows:
            if row.accuracy > pick.accuracy:
                assert row.measurement is not None or "misses the target" in row.skipped


def test_fast_order_is_seeds_then_likely_pick(fake_grid):
    folder, board = fake_grid
    seeds = ["mobilenet_v1_025_128_int8", "mobilenet_v1_050_224_int8", "mobilenet_v1_100_224_int8"]
    # 250 FPS at 2 threads = 4 ms: every variant makes it, so the seeds alone settle it (1.0/224 is one)
    report = profile(ProfileConfig(models=str(folder), threads=(2,), target_fps=250.0, fast=True), log=quiet)
    assert [name for name, _ in board.calls] == seeds
    assert report.choice.pick.name == "mobilenet_v1_100_224_int8"
    # 400 FPS = 2.5 ms: (0.3 + 10 ms/GMAC) / 1.8 -> at most 420 MMACs. Seeds first (cheapest, middle,
    # dearest), then the predicted pick 1.0/192; 1.0/224 is the only more accurate one and already failed.
    board.calls.clear()
    report = profile(ProfileConfig(models=str(folder), threads=(2,), target_fps=400.0, fast=True), log=quiet)
    assert [name for name, _ in board.calls] == seeds + ["mobilenet_v1_100_192_int8"]
    assert report.choice.pick.name == "mobilenet_v1_100_192_int8"
    skipped = {r.name: r.skipped for r in report.rows if r.measurement is None}
    assert skipped["mobilenet_v1_075_224_int8"] == "--fast: cannot change the pick"


def test_predict_only_measures_seeds_and_reports_prediction_error(fake_grid):
    folder, board = fake_grid
    report = profile(ProfileConfig(models=str(folder), threads=(1, 2), predict_only=True, target_fps=400.0), log=quiet)
    assert len(board.calls) == 6  # 3 seeds x 2 thread counts
    seeds = [r for r in report.rows if r.seed]
    predicted = [r for r in report.rows if not r.seed]
    assert len(seeds) == 6 and all(r.measurement is not None and r.predicted_ms is None for r in seeds)
    assert all(r.measurement is None and r.skipped == "--predict-only" for r in predicted)
    # the fake board is exactly linear, so predictions are exact
    for r in predicted:
        assert r.predicted_ms == pytest.approx(fake_latency_ms(r.entry, r.threads), rel=1e-3)
    assert (report.choice.pick.name, report.choice.pick.threads) == ("mobilenet_v1_100_192_int8", 2)
    assert report.choice.pick.fps_kind == "predicted"
    fit = report.fits[("int8", 1)]
    assert fit.intercept_ms == pytest.approx(0.3, abs=1e-3) and fit.ms_per_gmac == pytest.approx(10.0, rel=1e-3)


def test_full_run_reports_predicted_vs_measured(fake_grid):
    folder, board = fake_grid
    report = profile(ProfileConfig(models=str(folder), threads=(1,)), log=quiet)
    rows = [r.as_dict() for r in report.rows if not r.seed]
    assert len(rows) == 13
    for d in rows:
        assert d["measured"] and d["predicted_ms"] is not None
        assert d["prediction_error"] == pytest.approx(0.0, abs=2e-3)


def test_grid_predict_only_needs_only_the_seed_models(tmp_path, monkeypatch):
    asked = {}

    def fake_grid_models(cache, precisions, *, builder, reason, only, log):
        asked["only"] = only
        return [ModelEntry(str(tmp_path / f"{v.name}_int8.tflite"), f"{v.name}_int8", v, "int8", mult_adds(v), 1000)
                for v in only]

    entries = fake_grid_models(tmp_path, ("int8",), builder=None, reason="", only=standard_variants(), log=None)
    for e in entries:
        Path(e.path).write_bytes(b"")
    board = FakeBoard(entries)
    monkeypatch.setattr(session_mod, "grid_models", fake_grid_models)
    monkeypatch.setattr(session_mod, "measure_model", board.measure)
    report = profile(ProfileConfig(grid=True, weights="random", model_cache=str(tmp_path), threads=(1,), predict_only=True), log=quiet)
    assert sorted(v.name for v in asked["only"]) == ["mobilenet_v1_025_128", "mobilenet_v1_050_224", "mobilenet_v1_100_224"]
    assert len(report.rows) == 16 and len(board.calls) == 3
    assert any("random weights" in n for n in report.notes)


@pytest.mark.parametrize("steady_factor,candidates,expected_runs,expected_pick", [
    # A board that loses 40% once hot: at 300 FPS (2 threads) 1.0/224 bursts at ~300 but not steady;
    # the pick falls to the most accurate variant whose *steady* FPS still makes it.
    (0.6, 5, None, "steady-best"),
    (1.0, 3, ["mobilenet_v1_100_224_int8"], "mobilenet_v1_100_224_int8"),  # no throttling: burst pick stands
    (0.1, 2, 2, None),  # nothing survives, and the candidate cap stops it after 2
])
def test_sustained_picks_on_steady(fake_grid, monkeypatch, steady_factor, candidates, expected_runs, expected_pick):
    from edgenet.profiler.sustained import SustainedResult

    folder, board = fake_grid
    runs = []

    def fake_sustained(path, threads, seconds, probe, **kw):
        entry = board.by_path[path]
        burst = 1000 / fake_latency_ms(entry, threads)
        runs.append(entry.name)
        return SustainedResult(seconds, 100, burst, burst * steady_factor, [], steady_factor < 1, 50.0, 80.0, 600.0)

    monkeypatch.setattr(session_mod, "run_sustained", fake_sustained)
    report = profile(ProfileConfig(models=str(folder), threads=(2,), target_fps=200.0, sustained=10.0,
                                   sustained_candidates=candidates), log=quiet)
    if expected_pick == "steady-best":
        # brute force: most accurate variant with steady FPS (0.6 x burst) >= 200
        ok = [r for r in report.rows if 0.6 * 1000 / fake_latency_ms(r.entry, 2) >= 200.0]
        expected_pick = max(ok, key=lambda r: r.accuracy).name
        assert runs[-1] == expected_pick and len(runs) > 1
    elif isinstance(expected_runs, list):
        assert runs == expected_runs
    else:
        assert len(runs) == expected_runs
    pick = report.choice.pick
    assert (pick.name if pick else None) == expected_pick
    if pick:
        assert pick.fps_kind == "steady"
    # every sustained run was a burst candidate, tried in order of accuracy
    accs = [next(r.accuracy for r in report.rows if r.name == n) for n in runs]
    assert accs == sorted(accs, reverse=True)
