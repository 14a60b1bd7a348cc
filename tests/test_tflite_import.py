"""Real weights from .tflite files into the builder, quantization remedies, and the build report's
accuracy on labelled images (TensorFlow tier).

The project's own fixture (tests/fixtures/mobilenet_v1_025_64_*.tflite, built by make_fixtures.py)
covers every path without shared data; the three official models in ../shared/reference are used
when present.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.tensorflow
pytest.importorskip("tensorflow")

from calibration.convert import BuildConfig, build_model, to_tflite  # noqa: E402
from calibration.tflite_import import import_tflite  # noqa: E402
from edgenet.cli import main  # noqa: E402
from edgenet.evaluate import evaluate  # noqa: E402
from edgenet.mobilenet_graph import read_mobilenet  # noqa: E402
from edgenet.preprocess import InputSpec, preprocess  # noqa: E402
from edgenet.retarget import retarget  # noqa: E402
from tests.conftest import FIXTURES  # noqa: E402
from tests.test_retarget import INT8, FLOAT, OFFICIAL, drawn_images, scores  # noqa: E402

LABELS = FIXTURES / "tiny_labels.txt"


def samples(images, resolution: int) -> np.ndarray:
    spec = InputSpec(resolution, resolution, 3, "float32")
    return np.concatenate([preprocess(img, spec) for img in images])


def same_weights(a, b) -> None:
    for la, lb in zip(a.layers, b.layers):
        assert np.array_equal(la.kernel, lb.kernel), la.name
        assert np.array_equal(la.bias, lb.bias), la.name


@pytest.mark.parametrize("source", [FLOAT, INT8])
def test_weights_round_trip_exactly_through_import_and_float_export(tmp_path, source):
    model, graph = import_tflite(str(source))
    assert (model.name, graph.classes) == ("mobilenet_v1_025_64", 10)
    out = tmp_path / "float.tflite"
    out.write_bytes(to_tflite(model, None))
    back = read_mobilenet(out)
    assert back.weights_dtype == "float32"
    same_weights(graph, back)  # int8: the float export holds exactly the dequantized int8 weights


def test_imported_float_scores_match_the_int8_original_within_quantization_error(tmp_path):
    model, _ = import_tflite(str(INT8))
    images = drawn_images(40)
    f = model.predict(samples(images, 64), verbose=0)
    q = scores(INT8, images)  # the int8 model as the board runs it (dequantized softmax)
    assert (f.argmax(1) == q.argmax(1)).mean() >= 0.95
    # softmax outputs, int8 step 1/256: a few steps on average (activations are rounded in int8 only)
    assert np.abs(f - q).mean() < 0.01 and np.median(np.abs(f - q).max(1)) < 0.02


def test_any_resolution_equals_the_retargeted_float_graph(tmp_path):
    """The Keras model at 96 px (global average pooling) computes what the float .tflite computes
    after its input size is rewritten to 96 px."""
    model, _ = import_tflite(str(FLOAT), 96)
    assert tuple(model.input.shape) == (1, 96, 96, 3)
    images = drawn_images(12)
    keras_out = model.predict(samples(images, 96), verbose=0)
    graph_out = scores(retarget(str(FLOAT), 96, str(tmp_path / "f96.tflite")).model, images)
    assert np.abs(keras_out - graph_out).max() < 1e-4


def test_non_mobilenet_tflite_is_refused_in_one_line(tmp_path, capsys):
    code = main(["build", "--weights", str(FIXTURES / "two_inputs.tflite"), "--float", "-o", str(tmp_path / "m.tflite")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert "two_inputs.tflite is not a MobileNet V1 the builder can map" in err
    assert not (tmp_path / "m.tflite").exists()


def test_equalization_preserves_a_relu_network_and_evens_out_depthwise_ranges():
    from calibration.equalize import equalize

    model, _ = import_tflite(str(FLOAT), activation="relu")
    x = samples(drawn_images(8), 64)
    before = model.predict(x, verbose=0)
    stats = equalize(model)
    assert stats["depthwise_range_spread_after"] < stats["depthwise_range_spread_before"] / 2
    assert np.abs(model.predict(x, verbose=0) - before).max() < 1e-4
    relu6, _ = import_tflite(str(FLOAT))
    with pytest.raises(ValueError, match="needs ReLU"):
        equalize(relu6)


def test_bias_correction_removes_the_mean_shift_of_rounded_weights():
    """With per-tensor int8 weights (coarse enough for a visible shift), the mean logits of the
    rounded network move back toward the float network's after bias correction (corrected on one set
    of drawings, measured on another)."""
    import keras

    from calibration.equalize import fold_batchnorm, correct_bias, quantize_weights, write_folded

    x = samples(drawn_images(60, seed=11), 64)  # measured on other drawings than it corrects with

    def mean_logits(model, data):
        probe = keras.Model(model.inputs, model.get_layer("reshape_2").output)
        return probe.predict(data, verbose=0).mean(0)

    def rounded(model):
        folded = fold_batchnorm(model)
        write_folded(model, {n: (quantize_weights(k, None), b) for n, (k, b) in folded.items()})
        return model

    fit = samples(drawn_images(60, seed=12), 64)
    reference = {k: mean_logits(import_tflite(str(FLOAT))[0], data) for k, data in (("fit", fit), ("held", x))}
    plain_model = rounded(import_tflite(str(FLOAT))[0])
    corrected_model = import_tflite(str(FLOAT))[0]
    correct_bias(corrected_model, fit, per_channel=False)
    rounded(corrected_model)
    plain = {k: np.abs(mean_logits(plain_model, d) - reference[k]).mean() for k, d in (("fit", fit), ("held", x))}
    corrected = {k: np.abs(mean_logits(corrected_model, d) - reference[k]).mean() for k, d in (("fit", fit), ("held", x))}
    assert corrected["fit"] < plain["fit"] / 10  # the shift it was fitted on is gone
    assert corrected["held"] < plain["held"] * 0.9  # and most of it stays gone on other pictures (measured 0.83)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """(calibration .npz at 64 px, labelled ImageFolder) of drawings the fixture never saw."""
    from edgenet.representative import build_representative_dataset, save_calibration
    from calibration.synthetic import write_image_folder

    root = tmp_path_factory.mktemp("drawn")
    write_image_folder(root / "calibration", 10, seed=21)
    write_image_folder(root / "eval", 10, seed=22)
    save_calibration(build_representative_dataset(str(root / "calibration"), 64, 100), str(root / "c64.npz"))
    return root / "c64.npz", root / "eval"


def test_build_report_gives_float_and_int8_accuracy_on_a_labelled_folder(tmp_path, drawn, capsys):
    calib, folder = drawn
    out = tmp_path / "m.tflite"
    code = main(["build", "--weights", str(INT8), "--calibration", str(calib), "--labels", str(LABELS),
                 "--eval-images", str(folder), "--keep-grid", "-o", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    report = json.loads(out.with_name("m.build.json").read_text())
    assert (report["alpha"], report["resolution"], report["classes"]) == (0.25, 64, 10)  # read from the file
    assert report["imported"]["weights"] == "int8" and report["remedies"]["keep_grid"]["fraction"] == 1.0
    acc = report["accuracy"]
    assert acc["count"] == 100 and acc["resolution_points"] == 1.0
    direct = evaluate(str(out), str(folder), labels=str(LABELS))
    assert acc["int8"] == {"top1": round(direct.top1, 4), "top5": round(direct.top5, 4)}
    assert acc["float"]["top1"] >= 0.8 and acc["int8"]["top1"] >= 0.8
    assert acc["top1_drop_points"] == pytest.approx((acc["float"]["top1"] - acc["int8"]["top1"]) * 100, abs=0.01)
    assert acc["flag"] == (acc["top1_drop_points"] > 0.5)
    low, high = acc["top1_drop_interval_points"]
    assert low <= acc["top1_drop_points"] <= high and high - low >= 1.0  # 100 images cannot pin it to a point
    assert acc["top1_drop_points"] == pytest.approx(acc["only_float_right"] - acc["only_int8_right"], abs=0.01)
    assert f"accuracy on 100 labelled images: float top-1 {acc['float']['top1']:.1%}" in printed
    assert f"(95 % interval {low:+.1f} to {high:+.1f}: {acc['only_float_right']} images only float" in printed
    assert not list(tmp_path.glob("*float-reference*"))  # the float model scored beside it is not left behind


def test_keep_grid_needs_a_quantized_tflite(tmp_path, drawn):
    from edgenet.errors import UsageError

    calib, _ = drawn
    with pytest.raises(UsageError, match="float model, it has no weight grid"):
        build_model(BuildConfig(None, None, str(tmp_path / "m.tflite"), weights=str(FLOAT), calibration=str(calib),
                                keep_grid=True))
    with pytest.raises(UsageError, match="int8 remedies"):
        BuildConfig(None, None, str(tmp_path / "m.tflite"), weights=str(INT8), float_model=True, bias_correction=True)


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_official_models_import_exactly_and_score_like_the_original(reference, tmp_path, name):
    path = reference / name
    model, graph = import_tflite(str(path))
    alpha, resolution = OFFICIAL[name]
    assert tuple(model.input.shape) == (1, resolution, resolution, 3) and graph.alpha == alpha
    out = tmp_path / "float.tflite"
    out.write_bytes(to_tflite(model, None))
    same_weights(graph, read_mobilenet(out))
    import cv2

    photos = [cv2.imread(str(p)) for p in sorted((reference / "imagenet-100").glob("*.JPEG"))[:30]]
    f, q = scores(out, photos), scores(path, photos)
    # QAT int8 and its float copy agree on most confident answers; probabilities within a few steps
    assert (f.argmax(1) == q.argmax(1)).mean() >= 0.8
    assert np.abs(f - q).mean() < 0.002


def test_official_int8_keeps_its_weight_grid_at_another_resolution(reference, tmp_path):
    from edgenet.representative import build_representative_dataset, save_calibration

    calib = tmp_path / "c160.npz"
    save_calibration(build_representative_dataset(str(reference / "images"), 160, 8), str(calib))
    src = reference / "mobilenet_v1_0.25_128_quant.tflite"
    r = build_model(BuildConfig(None, 160, str(tmp_path / "g.tflite"), weights=str(src), calibration=str(calib),
                                keep_grid=True, holdout=0.0))
    kept = r.as_dict()["remedies"]["keep_grid"]
    assert kept["fraction"] >= 0.98
    old, new = read_mobilenet(src), read_mobilenet(r.model)
    assert new.resolution == 160 and new.weights_dtype == "int8"
    same = total = 0
    for lo, ln in zip(old.layers, new.layers):
        axis = 3 if ln.depthwise else 0
        a, b = np.moveaxis(lo.kernel, axis, 0), np.moveaxis(ln.kernel, axis, 0)
        same += sum(np.array_equal(a[c], b[c]) for c in range(a.shape[0]))
        total += a.shape[0]
    assert same == kept["channels_on_original_grid"] and total == kept["channels"]
