"""The MobileNet V1 model factory (Keras 3): any width multiplier and resolution, static batch 1.

The graph is Keras applications' MobileNet layer for layer, with the same layer names, so ImageNet
weights from ``keras.applications.MobileNet`` (and any ``.keras``/``.h5`` saved from either) copy
over by name. It is written out here rather than called because Keras' version fixes ReLU6, rejects
non-standard resolutions for pretrained weights and leaves the batch dimension open; a TFLite graph
converted from an open batch gains SHAPE/PACK ops that the edge runtime then executes every frame.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgenet.cost import BLOCKS, FIRST_CHANNELS, KERNEL, thin
from edgenet.errors import EdgenetError, UsageError
from edgenet.variants import Variant

ACTIVATIONS = ("relu6", "relu")


class WeightsError(EdgenetError):
    """Weights that cannot be obtained or do not fit the requested network."""


def _keras():
    from calibration.quiet import keras

    return keras()


def mobilenet_v1(
    alpha: float,
    resolution: int,
    classes: int = 1000,
    weights: str = "random",
    activation: str = "relu6",
    dropout: float = 1e-3,
    *,
    batch_size: int | None = 1,
    bn_momentum: float = 0.99,
    seed: int = 0,
):
    """A Keras MobileNet V1 named after its variant (``mobilenet_v1_050_160``), softmax output.

    ``weights``: ``"random"`` (He-normal kernels, so the int8 model's output is not constant),
    ``"imagenet"`` (Keras applications' download; the 16 standard variants only), a path to a
    ``.keras``/``.h5`` file whose layers share these names, or a MobileNet V1 ``.tflite`` of the same
    alpha at any resolution (:mod:`calibration.tflite_import`). ``batch_size=None`` gives the open batch
    that training needs; deployment models keep 1.
    """
    variant = Variant(alpha, resolution)
    if activation not in ACTIVATIONS:
        raise UsageError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
    if classes < 2:
        raise UsageError(f"a classifier needs at least 2 classes, got {classes}")
    if not 0.0 <= dropout < 1.0:
        raise UsageError(f"dropout must be in [0, 1), got {dropout}")
    keras = _keras()
    layers = keras.layers
    keras.utils.set_random_seed(seed)
    init = keras.initializers.HeNormal(seed=seed)

    def act(x, name):
        return layers.ReLU(6.0 if activation == "relu6" else None, name=name)(x)

    def bn(x, name):
        return layers.BatchNormalization(momentum=bn_momentum, name=name)(x)

    inputs = keras.Input((resolution, resolution, 3), batch_size=batch_size, name="input")
    # The architecture is edgenet.cost's table (the paper's Table 1), so the cost model counts this graph.
    x = layers.Conv2D(thin(FIRST_CHANNELS, alpha), KERNEL, strides=2, padding="same", use_bias=False, kernel_initializer=init, name="conv1")(inputs)
    x = act(bn(x, "conv1_bn"), "conv1_relu")
    for i, (stride, out) in enumerate(BLOCKS, start=1):
        if stride == 2:
            # Keras pads bottom/right then convolves 'valid' (TF-slim's alignment); same for us.
            x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{i}")(x)
        x = layers.DepthwiseConv2D(KERNEL, strides=stride, padding="same" if stride == 1 else "valid", use_bias=False,
                                    name=f"conv_dw_{i}")(x)
        x = act(bn(x, f"conv_dw_{i}_bn"), f"conv_dw_{i}_relu")
        x = layers.Conv2D(thin(out, alpha), 1, padding="same", use_bias=False, kernel_initializer=init,
                          name=f"conv_pw_{i}")(x)
        x = act(bn(x, f"conv_pw_{i}_bn"), f"conv_pw_{i}_relu")
    x = layers.GlobalAveragePooling2D(keepdims=True, name="global_average_pooling2d")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Conv2D(classes, 1, padding="same", kernel_initializer=init, name="conv_preds")(x)
    x = layers.Reshape((classes,), name="reshape_2")(x)
    x = layers.Activation("softmax", name="predictions")(x)
    model = keras.Model(inputs, x, name=variant.name)
    _he_normal_depthwise(model, seed)
    if weights != "random":
        load_weights(model, weights, variant, classes)
    return model


def _he_normal_depthwise(model, seed: int) -> None:
    """He-normal depthwise kernels with their true fan-in (3*3). Keras' initializers compute 3*3*C for
    a (3, 3, C, 1) kernel, which shrinks the signal by sqrt(C) per block until a random network's
    output is constant (exactly 1/classes at alpha 0.25). Assigned once here, so the saved model
    keeps plain, serializable initializers."""
    keras = _keras()
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            shape = tuple(layer.kernel.shape)
            layer.kernel.assign((rng.standard_normal(shape) * np.sqrt(2.0 / 9.0)).astype("float32"))


def weights_kind(weights: str) -> str:
    if weights in ("random", "imagenet"):
        return weights
    if Path(weights).suffix.lower() in (".keras", ".h5"):
        return "file"
    if Path(weights).suffix.lower() == ".tflite":
        return "tflite"
    raise UsageError(f"--weights must be random, imagenet, a .keras/.h5 file or a MobileNet V1 .tflite, not {weights!r}")


def load_weights(model, weights: str, variant: Variant, classes: int) -> None:
    kind = weights_kind(weights)
    if kind == "tflite":  # a .tflite's graph holds folded weights: calibration.tflite_import maps them
        from calibration.tflite_import import load_tflite_weights, read_graph

        graph = read_graph(weights)
        if graph.alpha != variant.alpha:
            raise WeightsError(f"{weights} is alpha {graph.alpha}, not {variant.alpha}; build with --alpha {graph.alpha}")
        load_tflite_weights(model, graph)
        return
    if kind == "imagenet":
        source = imagenet_model(variant, include_top=classes == 1000)
    else:
        source = _load_file(weights)
    copied = copy_weights(source, model)
    if kind == "file" and "conv_preds" not in copied:
        raise WeightsError(
            f"{weights} has a {_classes_of(source)}-class head and this model has {classes} classes; "
            f"build with --classes {_classes_of(source)} (or fine-tune with `edgenet train`)"
        )


def imagenet_model(variant: Variant, include_top: bool = True):
    """Keras applications' pretrained MobileNet (downloads to ~/.keras/models on first use)."""
    if not variant.is_standard:
        raise WeightsError(
            f"ImageNet weights exist only for the 16 standard variants (alpha 0.25/0.5/0.75/1.0, 128-224 px), "
            f"not {variant.name}; use --weights random or a .keras file from `edgenet train`"
        )
    keras = _keras()
    try:
        return keras.applications.MobileNet(input_shape=(variant.resolution, variant.resolution, 3), alpha=variant.alpha,
                                            weights="imagenet", include_top=include_top)
    except Exception as exc:  # URLError, HTTP errors, "URL fetch failure" ... all mean the same thing here
        alpha_text = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}[variant.alpha]
        name = f"mobilenet_{alpha_text}_{variant.resolution}_tf{'' if include_top else '_no_top'}.h5"
        text = " ".join(str(exc).split()) or type(exc).__name__
        reason = text.rsplit(" -- ", 1)[-1][:100]  # Keras' "URL fetch failure on URL: ... -- <cause>"
        raise WeightsError(
            f"downloading the ImageNet weights for {variant.name} failed ({reason}); "
            f"put {name} in ~/.keras/models/ or pass --weights FILE.h5"
        ) from None


def _load_file(path: str):
    keras = _keras()
    if not os.path.isfile(path):
        raise WeightsError(f"weights file {path} not found")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:
        if Path(path).suffix.lower() != ".h5":
            raise WeightsError(f"cannot load {path}: {str(exc).splitlines()[0][:160]}") from None
    # A weights-only .h5 (Keras applications' format) loads into a network of the same topology.
    return path


def _classes_of(source) -> int | str:
    try:
        return int(source.output_shape[-1])
    except Exception:
        return "different"


def copy_weights(source, target) -> set[str]:
    """Copy layer weights from ``source`` (a model, or a weights-only .h5 path) into ``target`` by layer
    name; returns the names copied. Layers whose shapes differ (another head) are skipped."""
    if isinstance(source, str):
        try:
            target.load_weights(source)
        except Exception as exc:
            raise WeightsError(f"{source} does not fit {target.name}: {str(exc).splitlines()[0][:160]}") from None
        return {layer.name for layer in target.layers if layer.weights}
    copied = set()
    by_name = {layer.name: layer for layer in source.layers}
    for layer in target.layers:
        src = by_name.get(layer.name)
        if not layer.weights or src is None:
            continue
        values = src.get_weights()
        if [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            continue
        layer.set_weights(values)
        copied.add(layer.name)
    body = {layer.name for layer in target.layers if layer.weights and layer.name != "conv_preds"}
    if not body <= copied:
        missing = sorted(body - copied)
        raise WeightsError(
            f"weights do not fit {target.name}: {len(missing)} layer(s) missing or of another shape "
            f"(first: {missing[0]}); check --alpha"
        )
    return copied


def param_counts(model) -> dict:
    """Parameters by kind: ``"trainable_without_bn"`` is what the paper (and edgenet.cost) counts."""
    keras = _keras()
    bn = sum(int(np.prod(w.shape)) for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
             for w in layer.weights)
    total = sum(int(np.prod(w.shape)) for w in model.weights)
    return {"total": total, "batchnorm": bn, "without_batchnorm": total - bn}


def classes_in_file(path: str) -> int:
    """The number of classes a saved model's head has (for builds that do not say --classes)."""
    if weights_kind(path) == "tflite":
        from calibration.tflite_import import read_graph

        return read_graph(path).classes
    source = _load_file(path)
    if isinstance(source, str):
        raise WeightsError(f"{path} holds weights only; say how many classes its head has with --classes N")
    return int(source.output_shape[-1])
