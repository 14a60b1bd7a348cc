"""The MobileNet V1 builder (TensorFlow tier): parameter counts against the cost model, weights."""

from __future__ import annotations

import numpy as np
import pytest

from edgenet.cost import mobilenet_v1_cost
from edgenet.errors import EdgenetError
from edgenet.variants import standard_variants

pytestmark = pytest.mark.tensorflow
keras = pytest.importorskip("keras")

from calibration.builder import WeightsError, copy_weights, mobilenet_v1, param_counts  # noqa: E402


@pytest.mark.parametrize("variant", standard_variants(), ids=lambda v: v.name)
def test_param_count_equals_cost_model_without_batchnorm(variant):
    model = mobilenet_v1(variant.alpha, variant.resolution)
    cost = mobilenet_v1_cost(variant.alpha, variant.resolution)
    counts = param_counts(model)
    # The paper (and edgenet.cost) leave BatchNorm out; Keras holds 4 values per BN channel.
    assert counts["without_batchnorm"] == cost.params
    assert counts["batchnorm"] == cost.batchnorm_params()
    assert model.name == variant.name
    assert model.input_shape == (1, variant.resolution, variant.resolution, 3)  # static batch 1
    assert model.output_shape == (1, 1000)
    keras.backend.clear_session()


def test_any_alpha_and_resolution_and_relu():
    model = mobilenet_v1(0.35, 72, classes=7, activation="relu")
    assert model.name == "mobilenet_v1_035_72" and model.output_shape == (1, 7)
    assert param_counts(model)["without_batchnorm"] == mobilenet_v1_cost(0.35, 72, classes=7).params
    relus = [layer for layer in model.layers if isinstance(layer, keras.layers.ReLU)]
    assert len(relus) == 27 and all(layer.max_value is None for layer in relus)
    assert all(float(layer.max_value) == 6.0 for layer in mobilenet_v1(0.25, 32, 3).layers
               if isinstance(layer, keras.layers.ReLU))


def test_random_weights_give_input_dependent_outputs():
    model = mobilenet_v1(0.25, 64, classes=10)
    rng = np.random.default_rng(0)
    out = np.concatenate([model(rng.uniform(-1, 1, (1, 64, 64, 3)).astype("float32")).numpy() for _ in range(4)])
    assert np.allclose(out.sum(1), 1.0, atol=1e-5)
    # Keras' own initializers would give exactly 1/classes everywhere here (see _he_normal_depthwise).
    assert np.abs(out - 0.1).max() > 1e-3 and np.abs(out - out[0]).max() > 1e-4


def test_same_graph_as_keras_applications():
    ref = keras.applications.MobileNet(input_shape=(96, 96, 3), alpha=0.5, weights=None, classes=5)
    ours = mobilenet_v1(0.5, 96, classes=5, weights="random")
    copied = copy_weights(ref, ours)
    assert "conv1" in copied and "conv_preds" in copied
    x = np.random.default_rng(1).uniform(-1, 1, (1, 96, 96, 3)).astype("float32")
    np.testing.assert_allclose(ours(x).numpy(), ref(x).numpy(), atol=1e-5)


def test_weights_file_round_trip_and_head_mismatch(tmp_path):
    trained = mobilenet_v1(0.25, 64, classes=4, seed=3, batch_size=None)
    path = tmp_path / "m.keras"
    trained.save(path)
    again = mobilenet_v1(0.25, 64, classes=4, weights=str(path))
    x = np.random.default_rng(2).uniform(-1, 1, (1, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(again(x).numpy(), trained(x).numpy(), atol=1e-6)
    with pytest.raises(WeightsError, match="--classes 4"):
        mobilenet_v1(0.25, 64, classes=10, weights=str(path))
    with pytest.raises(WeightsError, match="check --alpha"):
        mobilenet_v1(0.5, 64, classes=4, weights=str(path))
    with pytest.raises(EdgenetError, match="not found"):
        mobilenet_v1(0.25, 64, classes=4, weights=str(tmp_path / "missing.keras"))


def test_imagenet_download_failure_is_a_clear_error(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example/x.h5: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.applications, "MobileNet", offline)
    with pytest.raises(WeightsError) as err:
        mobilenet_v1(0.25, 128, weights="imagenet")
    text = str(err.value)
    assert "downloading the ImageNet weights for mobilenet_v1_025_128 failed" in text
    assert "mobilenet_2_5_128_tf.h5" in text and "~/.keras/models" in text and "--weights" in text
    assert "\n" not in text
    with pytest.raises(WeightsError, match="16 standard variants"):
        mobilenet_v1(0.3, 96, weights="imagenet")
