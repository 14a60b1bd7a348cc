"""Model discovery, accuracy sources, and the grid build (TensorFlow tier) and real published models."""

from __future__ import annotations

import json
import shutil

import pytest

from edgenet.errors import UsageError
from edgenet.profiler import MeasureOptions, ProfileConfig, profile
from edgenet.profiler.accuracy import load_accuracy
from edgenet.profiler.models import model_entry
from edgenet.variants import Variant


def test_entry_from_fixture_names(tiny_model):
    e = model_entry(str(tiny_model))
    assert (e.name, e.variant, e.precision, e.classes) == ("mobilenet_v1_025_64_int8", Variant(0.25, 64), "int8", 10)
    f = model_entry(str(tiny_model.with_name("mobilenet_v1_025_64_float.tflite")))
    assert f.precision == "float32"


def test_precision_read_from_the_model_when_the_name_says_nothing(tmp_path, tiny_model):
    plain = tmp_path / "classifier.tflite"
    shutil.copy(tiny_model.with_name("mobilenet_v1_025_64_float.tflite"), plain)
    e = model_entry(str(plain))
    assert (e.variant, e.precision, e.mult_adds, e.classes) == (None, "float32", None, 10)


@pytest.mark.parametrize("content,expected", [
    ({"model": "/x/mobilenet_v1_0.5_160_quant.tflite", "top1": 0.572}, {"mobilenet_v1_0.5_160_quant": 57.2}),
    ([{"model": "a.tflite", "top1": 0.5}, {"model": "b.tflite", "top1": 1.0}], {"a": 50.0, "b": 100.0}),
    ({"mobilenet_v1_050_160_int8": 57.7, "other": 0.25}, {"mobilenet_v1_050_160_int8": 57.7, "other": 25.0}),
])
def test_accuracy_files(tmp_path, content, expected):
    path = tmp_path / "acc.json"
    path.write_text(json.dumps(content))
    table = load_accuracy([str(path)])
    assert {k: pytest.approx(v) for k, v in table.by_name.items()} == expected


def test_eval_of_the_real_model_ranks_the_built_one(tmp_path, tiny_model):
    """An eval of mobilenet_v1_0.5_160_quant.tflite applies to a built mobilenet_v1_050_160_int8.tflite."""
    path = tmp_path / "acc.json"
    path.write_text(json.dumps({"model": "mobilenet_v1_0.5_160_quant.tflite", "top1": 0.45}))
    table = load_accuracy([str(path)])
    from edgenet.profiler.models import ModelEntry

    built = ModelEntry("x/mobilenet_v1_050_160_int8.tflite", "mobilenet_v1_050_160_int8", Variant(0.5, 160), "int8", 77, 1000)
    assert table.lookup(built) == (pytest.approx(45.0), "eval")
    other = ModelEntry("x/mobilenet_v1_050_128_int8.tflite", "mobilenet_v1_050_128_int8", Variant(0.5, 128), "int8", 49, 1000)
    assert table.lookup(other) == (54.9, "published (int8)")
    flt = ModelEntry("x/mobilenet_v1_050_128_float.tflite", "mobilenet_v1_050_128_float", Variant(0.5, 128), "float32", 49, 1000)
    assert table.lookup(flt) == (56.2, "published (float)")
    custom = ModelEntry("x/mobilenet_v1_050_128_int8.tflite", "mobilenet_v1_050_128_int8", Variant(0.5, 128), "int8", 49, 10)
    assert table.lookup(custom) == (None, None)  # a 10-class head is not the published ImageNet model


@pytest.mark.parametrize("text,message", [("{", "not JSON"), ('{"m": 150}', "accuracy must be"), ('"x"', "expected")])
def test_bad_accuracy_files(tmp_path, text, message):
    path = tmp_path / "acc.json"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_accuracy([str(path)])


def test_published_models_predicted_vs_measured(reference, tmp_path):
    """The three official int8 models: fit on the two extremes, predict and measure the middle one."""
    folder = tmp_path / "official"
    folder.mkdir()
    for p in reference.glob("mobilenet_v1_*_quant.tflite"):
        shutil.copy(p, folder / p.name)
    report = profile(ProfileConfig(models=str(folder), threads=(1,), seeds=2, target_fps=1.0,
                                   measure=MeasureOptions(min_runs=10, min_time=0.1, warmup=2)), log=lambda m: None)
    rows = {r.name: r for r in report.rows}
    assert set(rows) == {"mobilenet_v1_0.25_128_quant", "mobilenet_v1_0.5_160_quant", "mobilenet_v1_0.75_192_quant"}
    middle = rows["mobilenet_v1_0.5_160_quant"]
    assert not middle.seed and middle.measurement is not None and middle.predicted_ms is not None
    lo, hi = (rows[n].measurement.latency.median_ms for n in ("mobilenet_v1_0.25_128_quant", "mobilenet_v1_0.75_192_quant"))
    assert lo < middle.predicted_ms < hi  # a line through the extremes, at 77 of 14..233 MMACs
    assert middle.prediction_error is not None
    # 1001 outputs (background) still rank by the published quant top-1 of the variant
    assert [rows[n].accuracy for n in sorted(rows)] == [39.5, 57.2, 66.1]
    assert report.choice.pick.name == "mobilenet_v1_0.75_192_quant"


@pytest.mark.tensorflow
def test_grid_builds_a_missing_model_with_tensorflow(tmp_path):
    pytest.importorskip("tensorflow")
    from calibration.grid import build_latency_model
    from edgenet.profiler.models import grid_models

    logs = []
    entries = grid_models(tmp_path, ("int8",), builder=build_latency_model, only=[Variant(0.25, 128)],
                          log=logs.append)
    assert [e.name for e in entries] == ["mobilenet_v1_025_128_int8"]
    e = entries[0]
    assert (e.variant, e.precision, e.classes) == (Variant(0.25, 128), "int8", 1000)
    assert 13_000_000 < e.mult_adds < 16_000_000  # slim table: 14 M; edgenet.cost counts close to it
    assert any("RANDOM weights" in line for line in logs)
    from edgenet.runtime import load_interpreter

    m = load_interpreter(e.path, threads=1)
    assert m.input_spec.shape == (1, 128, 128, 3) and m.input_spec.dtype == "int8" and m.classes == 1000
    # a second call finds it in the cache and builds nothing
    logs.clear()
    grid_models(tmp_path, ("int8",), builder=build_latency_model, only=[Variant(0.25, 128)], log=logs.append)
    assert logs == []


def test_uint8_models_are_shown_as_uint8(tmp_path, tiny_model):
    """Google's official quantized models have uint8 input and output; tables say so, not int8."""
    import io as text_io

    from edgenet.profiler.table import print_profile

    shown = {kind: model_entry(str(tiny_model.with_name(f"mobilenet_v1_025_64_{kind}.tflite")))
             for kind in ("uint8", "int8", "float")}
    assert {k: (e.precision, e.io, e.shown_precision) for k, e in shown.items()} == {
        "uint8": ("int8", "uint8", "uint8"), "int8": ("int8", "int8", "int8"), "float": ("float32", "float32", "f32")}
    for kind in ("uint8", "float"):
        shutil.copy(tiny_model.with_name(f"mobilenet_v1_025_64_{kind}.tflite"), tmp_path)
    report = profile(ProfileConfig(models=str(tmp_path), threads=(1,), measure=MeasureOptions(min_runs=5, min_time=0.02,
                                                                                              warmup=1)), log=lambda m: None)
    assert [r.as_dict()["io"] for r in report.rows] == ["float32", "uint8"]
    out = text_io.StringIO()
    print_profile(report, file=out)
    rows = [line.replace("│", " ").split() for line in out.getvalue().splitlines() if "mobilenet_v1_025_64_" in line]
    assert [(r[0], r[1]) for r in rows[:2]] == [("mobilenet_v1_025_64_float", "f32"), ("mobilenet_v1_025_64_uint8", "uint8")]
    assert "uint8 vs float32, mobilenet_v1_025_64_uint8 @ 1 thread(s): " in out.getvalue()
    assert "(uint8 x" in out.getvalue() and "int8 vs" not in out.getvalue().replace("uint8 vs", "")


def test_accuracy_figures_of_one_kind_only(tmp_path):
    """A measured top-1 for one model beside published figures for the others is refused, and so are
    evaluations on different image sets; measured figures for every model on one set are accepted."""
    from edgenet.errors import UsageError
    from edgenet.profiler.accuracy import check_one_kind
    from edgenet.profiler.models import ModelEntry

    a = ModelEntry("x/mobilenet_v1_050_160_int8.tflite", "mobilenet_v1_050_160_int8", Variant(0.5, 160), "int8", 77, 1000)
    b = ModelEntry("x/mobilenet_v1_075_192_int8.tflite", "mobilenet_v1_075_192_int8", Variant(0.75, 192), "int8", 233, 1000)
    path = tmp_path / "acc.json"
    path.write_text(json.dumps({"model": "mobilenet_v1_050_160_int8.tflite", "top1": 0.74, "dataset": "/d/imagenet-100", "count": 100}))
    with pytest.raises(UsageError, match=r"measures 1 model\(s\) \(mobilenet_v1_050_160_int8\) and 1 other\(s\) would be ranked by published"):
        check_one_kind(load_accuracy([str(path)]), [a, b])
    check_one_kind(load_accuracy([]), [a, b])  # all published: fine
    path.write_text(json.dumps([{"model": "mobilenet_v1_050_160_int8.tflite", "top1": 0.74, "dataset": "/d/imagenet-100", "count": 100},
                                {"model": "mobilenet_v1_075_192_int8.tflite", "top1": 0.8, "dataset": "/d/other", "count": 50}]))
    with pytest.raises(UsageError, match="2 different image sets"):
        check_one_kind(load_accuracy([str(path)]), [a, b])
    path.write_text(json.dumps([{"model": "mobilenet_v1_050_160_int8.tflite", "top1": 0.74, "dataset": "/d/imagenet-100", "count": 100},
                                {"model": "mobilenet_v1_075_192_int8.tflite", "top1": 0.83, "dataset": "/d/imagenet-100", "count": 100}]))
    table = load_accuracy([str(path)])
    check_one_kind(table, [a, b])
    assert table.lookup(b) == (pytest.approx(83.0), "eval")
