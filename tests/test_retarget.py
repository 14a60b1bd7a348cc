"""Reading MobileNet V1 graphs from .tflite files and retargeting them, without TensorFlow (pure tier)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgenet.cli import main
from edgenet.errors import ModelError
from edgenet.mobilenet_graph import NotMobileNetError, read_mobilenet
from edgenet.preprocess import preprocess
from edgenet.retarget import retarget
from edgenet.runtime import load_interpreter
from edgenet.tflite_file import TFLiteFile
from tests.conftest import FIXTURES, modules_left_imported

INT8 = FIXTURES / "mobilenet_v1_025_64_int8.tflite"
UINT8 = FIXTURES / "mobilenet_v1_025_64_uint8.tflite"
FLOAT = FIXTURES / "mobilenet_v1_025_64_float.tflite"
OFFICIAL = {"mobilenet_v1_0.25_128_quant.tflite": (0.25, 128), "mobilenet_v1_0.5_160_quant.tflite": (0.5, 160),
            "mobilenet_v1_0.75_192_quant.tflite": (0.75, 192)}


def drawn_images(n: int = 24, seed: int = 5):
    from tests.fixtures.drawings import LABELS, draw

    rng = np.random.default_rng(seed)
    return [draw(LABELS[i % len(LABELS)], rng) for i in range(n)]


def scores(path, images) -> np.ndarray:
    m = load_interpreter(str(path), threads=1)
    return np.stack([m.run(preprocess(img, m.input_spec)).astype(np.float32).ravel() for img in images])


@pytest.mark.parametrize("path,dtype", [(INT8, "int8"), (UINT8, "int8"), (FLOAT, "float32")])
def test_fixture_graphs_are_read_as_mobilenet(path, dtype):
    g = read_mobilenet(path)
    assert (g.alpha, g.resolution, g.classes, g.weights_dtype, g.activation) == (0.25, 64, 10, dtype, "relu6")
    assert [layer.name for layer in g.layers[:3]] == ["conv1", "conv_dw_1", "conv_pw_1"]
    assert g.layers[-1].name == "conv_preds" and g.layers[-1].kernel.shape == (10, 1, 1, 256)
    assert [layer.stride for layer in g.layers if layer.depthwise] == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]


def test_int8_weights_dequantize_to_the_float_model_within_half_a_step():
    """Per-channel int8 weights (axis 0 for convs, 3 for depthwise) read back as scale * q: each value
    within half its channel's step of the float model the int8 one was converted from."""
    q, f = read_mobilenet(INT8), read_mobilenet(FLOAT)
    for lq, lf in zip(q.layers, f.layers):
        axis = lq.weight_quant.axis
        step = lq.weight_quant.scale.reshape([-1 if i == axis else 1 for i in range(4)])
        assert np.all(np.abs(lq.kernel - lf.kernel) <= step / 2 + 1e-7), lq.name
        # int32 bias: scale = input scale x weight scale; off by at most half its own step
        assert np.allclose(lq.bias, lf.bias, atol=float(lq.weight_quant.scale.max() * lq.input_quant.scale[0])), lq.name


def test_a_graph_that_is_not_mobilenet_is_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(NotMobileNetError, match="2 inputs"):
        read_mobilenet(FIXTURES / "two_inputs.tflite")
    f = TFLiteFile.load(INT8)
    f.ops[3].options.strideH = f.ops[3].options.strideW = 1  # block 2's depthwise loses its stride
    f.save(tmp_path / "changed.tflite")
    with pytest.raises(NotMobileNetError, match=r"operator 3 is DEPTHWISE_CONV_2D with stride 1, expected stride 2"):
        read_mobilenet(tmp_path / "changed.tflite")
    assert main(["retarget", str(FIXTURES / "two_inputs.tflite"), "--resolution", "96", "-o", str(tmp_path / "x.tflite")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "is not a MobileNet V1 the builder can map" in err
    (tmp_path / "junk.tflite").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="not a .tflite model"):
        read_mobilenet(tmp_path / "junk.tflite")


def test_unchanged_flatbuffer_round_trips_to_identical_outputs(tmp_path):
    f = TFLiteFile.load(INT8)
    f.save(tmp_path / "same.tflite")
    images = drawn_images(8)
    assert np.array_equal(scores(INT8, images), scores(tmp_path / "same.tflite", images))


def test_retarget_keeps_every_weight_and_quantization_parameter(tmp_path):
    r = retarget(str(INT8), 96, str(tmp_path / "r96.tflite"))
    assert (r.resolution, r.from_resolution, r.variant, r.precision) == (96, 64, "mobilenet_v1_025_96", "int8")
    old, new = TFLiteFile.load(INT8), TFLiteFile.load(r.model)
    assert len(old.graph.tensors) == len(new.graph.tensors)
    for i in range(len(old.graph.tensors)):
        a, b = old.tensor_data(i), new.tensor_data(i)
        assert (a is None) == (b is None) and (a is None or np.array_equal(a, b))
        qa, qb = old.quantization(i), new.quantization(i)
        assert (qa is None) == (qb is None)
        if qa is not None:
            assert np.array_equal(qa.scale, qb.scale) and np.array_equal(qa.zero_point, qb.zero_point)
    m = load_interpreter(r.model, threads=1)
    assert m.input_spec.shape == (1, 96, 96, 3) and m.classes == 10
    assert new.tensor_shape(new.ops[-5].outputs[0])[1:3] == (3, 3)  # conv_pw_13 at 96 px: 96 / 32


def test_retargeted_int8_tracks_the_retargeted_float_model(tmp_path):
    """At 96 px the int8 model keeps its 64 px activation ranges: measured against the float model at
    96 px, top-1 agreement on drawn pictures stays high."""
    images = drawn_images(40)
    q = scores(retarget(str(INT8), 96, str(tmp_path / "q.tflite")).model, images)
    f = scores(retarget(str(FLOAT), 96, str(tmp_path / "f.tflite")).model, images)
    assert (q.argmax(1) == f.argmax(1)).mean() >= 0.9
    same = scores(retarget(str(INT8), 64, str(tmp_path / "same.tflite")).model, images)
    assert np.array_equal(same, scores(INT8, images))  # at its own resolution nothing changes


def test_retarget_refuses_bad_requests_before_writing(tmp_path):
    with pytest.raises(Exception, match="multiple of 8"):
        retarget(str(INT8), 100, str(tmp_path / "x.tflite"))
    with pytest.raises(Exception, match="is the model itself"):
        retarget(str(INT8), 96, str(INT8))
    assert not list(tmp_path.iterdir())


def test_retarget_needs_no_tensorflow():
    code = (f"from edgenet.retarget import retarget\nimport tempfile, os\n"
            f"retarget({str(INT8)!r}, 96, os.path.join(tempfile.mkdtemp(), 'x.tflite'))\n")
    assert modules_left_imported(code, ("tensorflow", "keras", "calibration", "deploy")) == []


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_official_models_are_read(reference, name):
    g = read_mobilenet(reference / name)
    assert (g.alpha, g.resolution) == OFFICIAL[name]
    assert (g.classes, g.weights_dtype, g.input_dtype, g.activation) == (1001, "uint8", "uint8", "relu6")
    dw = g.layers[1]  # uint8 per tensor: scale * (q - zero_point)
    zp = int(dw.weight_quant.zero_point[0])
    assert np.array_equal(dw.kernel, (dw.weight_quant.scale[0].astype(np.float64) * (dw.weight_q.astype(np.float64) - zp)).astype(np.float32))


def test_official_model_retargeted_keeps_its_accuracy(reference, tmp_path):
    """0.5/160 at 224 px on imagenet-100 (measured 77 % top-1; 74 % at its native 160)."""
    from edgenet.evaluate import evaluate

    r = retarget(str(reference / "mobilenet_v1_0.5_160_quant.tflite"), 224, str(tmp_path / "r.tflite"))
    f = TFLiteFile.load(r.model)
    pool = next(op for op in f.ops if op.kind == "AVERAGE_POOL_2D")
    assert (pool.options.filterHeight, pool.options.filterWidth) == (7, 7)
    e = evaluate(r.model, str(reference / "imagenet-100"), labels=str(reference / "imagenet_labels.txt"),
                 ground_truth=str(reference / "imagenet-100" / "ground_truth.csv"))
    assert e.count == 100 and e.top1 >= 0.65


def test_cli_retarget_writes_a_variant_named_model(tmp_path, capsys):
    src = tmp_path / "src.tflite"
    src.write_bytes(INT8.read_bytes())
    assert main(["retarget", str(src), "--resolution", "128"]) == 0
    out = tmp_path / "mobilenet_v1_025_128_retarget_int8.tflite"
    assert out.is_file() and "mobilenet_v1_025_128" in capsys.readouterr().out
    assert load_interpreter(str(out), threads=1).input_spec.shape == (1, 128, 128, 3)
    cv2.setNumThreads(1)
