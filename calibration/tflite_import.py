"""Real ImageNet weights from a .tflite: any MobileNet V1 into the builder's Keras model.

Google's official QAT int8 models *are* the pretrained weights: read back with
:func:`edgenet.mobilenet_graph.read_mobilenet` (uint8 weights as ``scale * (q - zero_point)``, int32
biases as ``scale * q``), they make a float MobileNet that scores what the official int8 model scores.
Official float models and what ``edgenet build`` wrote import the same way.

The .tflite graphs have BatchNorm folded into each conv's weights and bias; the builder keeps a
BatchNorm after every conv (so ``.keras`` files and Keras' ImageNet weights fit it). The import sets
each BatchNorm to the identity carrying the bias: gamma 1, beta = bias, moving mean 0 and moving
variance ``1 - epsilon`` so that ``var + epsilon`` is exactly 1.0 in float32; the converter folds it
back into exactly the imported weights (tested bit for bit). For fine-tuning, those identity
statistics are not the data's, so :func:`freeze_batchnorm` keeps BatchNorm in inference mode.

Every conv in the official graphs uses SAME padding; the builder pads stride-2 convs bottom/right
(Keras' alignment), which is the same thing for even feature maps (every resolution that is a
multiple of 32, e.g. 128-224). The official average pool is a fixed window for its own resolution;
the builder's global average pooling is what that window means, at any resolution.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgenet.errors import UsageError
from edgenet.mobilenet_graph import MobileNetGraph, read_mobilenet


def is_tflite_weights(weights: str | None) -> bool:
    return bool(weights) and Path(str(weights)).suffix.lower() == ".tflite"


def resolve_weights(weights: str) -> str:
    """A local .tflite path for ``--weights FILE.tflite`` or a model index name (``mobilenet_v1_050_160``)."""
    if is_tflite_weights(weights):
        if not os.path.isfile(weights):
            raise UsageError(f"--weights {weights}: file not found")
        return weights
    from edgenet.models import model_path  # the model index (`edgenet models`): pulled on first use

    return str(model_path(weights))


def read_graph(weights: str) -> MobileNetGraph:
    return read_mobilenet(resolve_weights(weights))


def keras_kernel(layer) -> np.ndarray:
    """TFLite (O, kh, kw, I) or depthwise (1, kh, kw, C) -> Keras (kh, kw, I, O) or (kh, kw, C, 1)."""
    return np.ascontiguousarray(layer.kernel.transpose(1, 2, 3, 0))


def tflite_kernel(kernel: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(kernel.transpose(3, 0, 1, 2))


def identity_batchnorm(bn, bias: np.ndarray) -> None:
    """Set a Keras BatchNormalization to ``x + bias`` exactly (in float32)."""
    eps = np.float32(bn.epsilon)
    var = np.float32(1.0) - eps
    while np.float32(var + eps) != np.float32(1.0):  # make var + eps round to exactly 1.0
        var = np.nextafter(var, np.float32(2.0) if var + eps < 1 else np.float32(0.0))
    n = bias.shape[0]
    # Keras' order for a BatchNorm with scale and center: gamma, beta, moving mean, moving variance.
    bn.set_weights([np.ones(n, np.float32), bias.astype(np.float32), np.zeros(n, np.float32),
                    np.full(n, var, np.float32)])


def load_tflite_weights(model, graph: MobileNetGraph) -> set[str]:
    """Copy a MobileNet graph's layers into a builder model of the same alpha (any resolution).
    The classifier is copied when the class counts match; returns the layer names copied."""
    from calibration.builder import WeightsError

    copied = set()
    for layer in graph.layers:
        target = model.get_layer(layer.name)
        kernel = keras_kernel(layer)
        if tuple(target.kernel.shape) != kernel.shape:
            if layer.name == "conv_preds":
                continue  # another head: fine-tuning gets a fresh one
            raise WeightsError(f"{graph.file.name} (alpha {graph.alpha}) does not fit {model.name}: {layer.name} is "
                               f"{kernel.shape}, the model's {tuple(target.kernel.shape)}; build with --alpha {graph.alpha}")
        if layer.name == "conv_preds":
            target.set_weights([kernel, layer.bias])
        else:
            target.set_weights([kernel])
            identity_batchnorm(model.get_layer(f"{layer.name}_bn"), layer.bias)
        copied.add(layer.name)
    return copied


def freeze_batchnorm(model) -> int:
    """BatchNorm layers to inference mode for fine-tuning imported weights (their statistics are the
    identity, not the data's: batch statistics would rescale every channel). Returns how many."""
    import keras

    frozen = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False  # Keras 3: a non-trainable BatchNorm runs in inference mode
            frozen += 1
    return frozen


def import_tflite(weights: str, resolution: int | None = None, classes: int | None = None, **builder_kw):
    """(Keras model, graph): the builder's MobileNet at the file's alpha and activation, at
    ``resolution`` (default: the file's), with the file's weights."""
    from calibration.builder import mobilenet_v1

    graph = read_graph(weights)
    model = mobilenet_v1(graph.alpha, resolution or graph.resolution, classes or graph.classes,
                         activation=builder_kw.pop("activation", graph.activation), **builder_kw)
    load_tflite_weights(model, graph)
    return model, graph
