
import numpy as np
import pytest

from edgenet.errors import ModelError, RuntimeNotAvailable, UsageError
from edgenet.preprocess import preprocess
from edgenet.runtime import load_interpreter, resolve_runtime
from tests.conftest import FIXTURES, modules_left_imported
from tests.fixtures.drawings import LABELS, draw


@pytest.mark.parametrize(
    "name, dtype",
    [("mobilenet_v1_025_64_int8", "int8"), ("mobilenet_v1_025_64_uint8", "uint8"), ("mobilenet_v1_025_64_float", "float32")],
)
def test_tiny_models_classify_drawings(name, dtype):
    model = load_interpreter(str(FIXTURES / f"{name}.tflite"), threads=1)
    spec = model.input_spec
    assert (spec.height, spec.width, spec.channels, spec.dtype) == (64, 64, 3, dtype)
    assert model.classes == 10
    rng = np.random.default_rng(123)
    hits = 0
    for i in range(60):
        truth = i % 10
        scores = model.run(preprocess(draw(LABELS[truth], rng), spec))
        assert scores.dtype == np.float32 and scores.shape == (10,)
        assert abs(float(scores.sum()) - 1.0) < 0.05  # dequantized softmax
        hits += int(scores.argmax() == truth)
    assert hits >= 50, f"{hits}/60 correct"


def test_int8_quantization_read_from_the_model(tiny_model):
    model = load_interpreter(str(tiny_model), threads=1)
    assert model.input_spec.scale == pytest.approx(2 / 255, rel=1e-3)
    assert model.output_spec.dtype == "int8" and model.output_spec.zero_point == -128
    d = model.describe()
    assert d["input"]["shape"] == [1, 64, 64, 3] and d["output"]["classes"] == 10


def test_xnnpack_reported_and_can_be_turned_off(tiny_model):
    on = load_interpreter(str(tiny_model), threads=1)
    off = load_interpreter(str(tiny_model), threads=1, xnnpack=False)
    assert on.xnnpack is True and off.xnnpack is False
    x = np.zeros(on.input_spec.shape, np.int8)
    # same model, same answer, with or without the delegate (int8 kernels may round differently)
    np.testing.assert_allclose(on.run(x), off.run(x), atol=0.02)


def test_missing_directory_truncated_and_garbage(tmp_path, tiny_model):
    with pytest.raises(ModelError, match="not found"):
        load_interpreter(str(tmp_path / "missing.tflite"))
    with pytest.raises(ModelError, match="directory"):
        load_interpreter(str(tmp_path))
    (tmp_path / "garbage.tflite").write_bytes(b"this is not a model at all")
    with pytest.raises(ModelError, match="not a TFLite model"):
        load_interpreter(str(tmp_path / "garbage.tflite"))
    data = tiny_model.read_bytes()
    (tmp_path / "truncated.tflite").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match="corrupt or truncated"):
        load_interpreter(str(tmp_path / "truncated.tflite"))


def test_not_an_image_classifier():
    with pytest.raises(ModelError, match="2 inputs"):
        load_interpreter(str(FIXTURES / "two_inputs.tflite"))


def test_runtime_names(tiny_model):
    with pytest.raises(UsageError, match="unknown runtime"):
        resolve_runtime("onnx")
    with pytest.raises(UsageError, match="threads"):
        load_interpreter(str(tiny_model), threads=0)
    name, _ = resolve_runtime("auto")
    assert name in ("litert", "tflite-runtime")


def test_forcing_a_missing_runtime_names_the_install(monkeypatch, tiny_model):
    import edgenet.runtime as rt

    monkeypatch.setitem(rt.RUNTIMES, "tflite-runtime", ("edgenet_no_such_module.interpreter", "tflite-runtime"))
    with pytest.raises(RuntimeNotAvailable, match="pip install tflite-runtime"):
        load_interpreter(str(tiny_model), runtime="tflite-runtime")


def test_device_side_never_imports_tensorflow(tiny_model, tmp_path):
    import cv2

    (tmp_path / "red").mkdir()
    cv2.imwrite(str(tmp_path / "red" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    code = (
        "import edgenet, edgenet.cli, edgenet.pipeline, edgenet.evaluate, edgenet.sources, edgenet.models\n"
        "main_ = __import__('edgenet.cli', fromlist=['main']).main(['models', 'list', '--json'])\n"
        "from edgenet.cli import main\n"
        f"main(['run', '--model', {str(tiny_model)!r}, '--source', 'pattern://?frames=3', '--headless'])\n"
        f"main(['eval', '--model', {str(tiny_model)!r}, '--images', {str(tmp_path)!r},"
        f" '--labels', {str(FIXTURES / 'tiny_labels.txt')!r}])\n"
    )
    assert modules_left_imported(code, ("tensorflow", "keras", "tf_keras", "calibration", "deploy")) == []


def test_official_model_knows_a_parrot(reference):
    import cv2

    from edgenet.labels import load_labels

    model = load_interpreter(str(reference / "mobilenet_v1_0.5_160_quant.tflite"), threads=2)
    assert model.classes == 1001 and model.input_spec.dtype == "uint8"
    labels = load_labels(str(reference / "imagenet_labels.txt"), model.classes)
    scores = model.run(preprocess(cv2.imread(str(reference / "images" / "parrot.jpg")), model.input_spec))
    assert labels[int(scores.argmax())] == "macaw"
    assert scores.max() > 0.8
