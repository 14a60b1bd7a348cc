"""Recognise a MobileNet V1 in a .tflite graph and read its layers back as float weights.

Works for Google's official models (QAT int8 with uint8 weights and I/O, or float32), for what
``edgenet build`` writes (int8 per-channel, uint8 or float32), with no TensorFlow: the walk is over
operators in graph order (:mod:`edgenet.tflite_file`). The shape it expects is the paper's Table 1
(``edgenet.cost.BLOCKS``): a 3x3/s2 conv, 13 pairs of 3x3 depthwise + 1x1 pointwise convs, global
average pooling (a fixed-window AVERAGE_POOL_2D, or MEAN), a 1x1 conv (or fully connected) head,
then an optional reshape and softmax. A conv's inputs 1 and 2 are its weights and bias; quantized
weights dequantize as ``scale * (q - zero_point)`` (per tensor or per channel), and the int32 bias
as ``scale * q`` (its scale is the input's scale times the weights'). Anything else is refused with
one line saying which operator did not match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgenet.cost import BLOCKS, FIRST_CHANNELS
from edgenet.errors import ModelError
from edgenet.tflite_file import Quantization, TFLiteFile
from edgenet.variants import Variant

ACTIVATIONS = {0: "none", 1: "relu", 3: "relu6"}
SAME, VALID = 0, 1


class NotMobileNetError(ModelError):
    """A .tflite that is not a MobileNet V1 the builder can map."""


@dataclass
class ConvLayer:
    name: str  # the builder's layer name: conv1, conv_dw_N, conv_pw_N, conv_preds
    op: int
    weight_tensor: int
    bias_tensor: int | None
    stride: int
    activation: str
    kernel: np.ndarray  # float32 in TFLite layout: conv (O, kh, kw, I), depthwise (1, kh, kw, C)
    bias: np.ndarray  # float32 (zeros when the graph has none)
    weight_q: np.ndarray | None = None  # the stored integers of a quantized model
    weight_quant: Quantization | None = None
    input_quant: Quantization | None = None

    @property
    def depthwise(self) -> bool:
        return self.name.startswith("conv_dw_")


@dataclass
class MobileNetGraph:
    file: TFLiteFile
    alpha: float
    resolution: int
    classes: int
    layers: list[ConvLayer]
    pool_op: int
    weights_dtype: str  # float32, uint8, int8
    input_dtype: str
    io_quant: Quantization | None = None
    activation: str = "relu6"
    notes: list[str] = field(default_factory=list)

    @property
    def variant(self) -> Variant:
        return Variant(self.alpha, self.resolution)

    @property
    def quantized(self) -> bool:
        return self.weights_dtype != "float32"


def _refuse(name: str, op_index: int, found: str, expected: str) -> NotMobileNetError:
    return NotMobileNetError(f"{name} is not a MobileNet V1 the builder can map: operator {op_index} is {found}, "
                             f"expected {expected}")


def read_mobilenet(source) -> MobileNetGraph:
    """A :class:`MobileNetGraph` from a path or a :class:`TFLiteFile`; :class:`NotMobileNetError` otherwise."""
    f = source if isinstance(source, TFLiteFile) else TFLiteFile.load(source)
    name = f.name
    if len(f.inputs) != 1 or len(f.outputs) != 1:
        raise NotMobileNetError(f"{name} is not a MobileNet V1 the builder can map: it has {len(f.inputs)} inputs "
                                f"and {len(f.outputs)} outputs, expected 1 and 1")
    shape = f.tensor_shape(f.inputs[0])
    if len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2]:
        raise NotMobileNetError(f"{name} is not a MobileNet V1 the builder can map: input shape {list(shape)}, "
                                "expected a square RGB image [1, R, R, 3]")
    # Weight-dequantizing ops (float16 models) are constants, not steps of the network.
    ops = [op for op in f.ops if not (op.kind == "DEQUANTIZE" and f.tensor_data(op.inputs[0]) is not None)]
    pos = 0
    while pos < len(ops) and ops[pos].kind == "QUANTIZE":  # float I/O around an integer body
        pos += 1

    def expect(kinds: tuple[str, ...], what: str):
        nonlocal pos
        if pos >= len(ops):
            raise NotMobileNetError(f"{name} is not a MobileNet V1 the builder can map: the graph ends after "
                                    f"{len(f.ops)} operators, expected {what}")
        op = ops[pos]
        if op.kind not in kinds:
            raise _refuse(name, op.index, op.kind, what)
        pos += 1
        return op

    layers = [_conv(f, expect(("CONV_2D",), "CONV_2D (the first 3x3/s2 conv)"), "conv1", 3, 2)]
    for i, (stride, _) in enumerate(BLOCKS, start=1):
        layers.append(_conv(f, expect(("DEPTHWISE_CONV_2D",), f"DEPTHWISE_CONV_2D (block {i})"), f"conv_dw_{i}", 3, stride))
        layers.append(_conv(f, expect(("CONV_2D",), f"CONV_2D (block {i}'s 1x1 conv)"), f"conv_pw_{i}", 1, 1))
    pool = expect(("AVERAGE_POOL_2D", "MEAN"), "AVERAGE_POOL_2D or MEAN (global average pooling)")
    head = expect(("CONV_2D", "FULLY_CONNECTED"), "CONV_2D or FULLY_CONNECTED (the classifier)")
    layers.append(_conv(f, head, "conv_preds", 1, 1))
    while pos < len(ops) and ops[pos].kind in ("RESHAPE", "SQUEEZE", "SOFTMAX", "DEQUANTIZE", "QUANTIZE"):
        pos += 1
    if pos < len(ops):
        raise _refuse(name, ops[pos].index, ops[pos].kind, "the end of the graph after the classifier")

    last = layers[-2].kernel.shape[0]
    alpha = round(last / BLOCKS[-1][1], 2)
    widths = [max(1, int(FIRST_CHANNELS * alpha))] + [max(1, int(out * alpha)) for _, out in BLOCKS]
    found = [layers[0].kernel.shape[0]] + [layers[2 * i].kernel.shape[0] for i in range(1, len(BLOCKS) + 1)]
    if alpha <= 0 or found != widths:
        raise NotMobileNetError(f"{name} is not a MobileNet V1 the builder can map: channel widths {found} "
                                f"are not those of any width multiplier (alpha {alpha} gives {widths})")
    acts = {layer.activation for layer in layers[:-1]}
    if len(acts) != 1 or acts == {"none"}:
        raise NotMobileNetError(f"{name} is not a MobileNet V1 the builder can map: body activations {sorted(acts)}, "
                                "expected RELU6 (or RELU) after every conv")
    wdtype = f.tensor_dtype(layers[0].weight_tensor).name if layers[0].weight_q is not None else "float32"
    in_dtype = f.tensor_dtype(f.inputs[0]).name
    return MobileNetGraph(f, alpha, int(shape[1]), int(layers[-1].kernel.shape[0]), layers, pool.index, wdtype,
                          in_dtype, f.quantization(f.inputs[0]), acts.pop())


def _constant(f: TFLiteFile, index: int) -> tuple[np.ndarray, np.ndarray | None, Quantization | None]:
    """(float values, stored integers or None, their quantization) of a weight or bias tensor."""
    data = f.tensor_data(index)
    if data is None:  # a float16 model: the weight is a DEQUANTIZE of a constant
        producer = next((op for op in f.ops if index in op.outputs), None)
        if producer is None or producer.kind != "DEQUANTIZE" or f.tensor_data(producer.inputs[0]) is None:
            raise NotMobileNetError(f"{f.name} is not a MobileNet V1 the builder can map: tensor "
                                    f"{f.tensor_name(index)!r} should be constant weights")
        index = producer.inputs[0]
        data = f.tensor_data(index)
    q = f.quantization(index)
    if data.dtype == np.float32 or data.dtype == np.float16:
        return data.astype(np.float32), None, None
    if q is None:
        raise NotMobileNetError(f"{f.name}: integer tensor {f.tensor_name(index)!r} has no quantization parameters")
    return q.dequantize(data), data, q


def _conv(f: TFLiteFile, op, name: str, kernel: int, stride: int) -> ConvLayer:
    opts = op.options
    k, kq, wq = _constant(f, op.inputs[1])
    if op.kind == "FULLY_CONNECTED":
        k, kq = k[:, None, None, :], (kq[:, None, None, :] if kq is not None else None)
        op_stride, padding, act = 1, SAME, ACTIVATIONS.get(opts.fusedActivationFunction, "other") if opts else "none"
    else:
        op_stride, padding = int(opts.strideH), int(opts.padding)
        act = ACTIVATIONS.get(int(opts.fusedActivationFunction), "other")
        if int(opts.strideW) != op_stride or int(getattr(opts, "dilationHFactor", 1)) != 1:
            raise _refuse(f.name, op.index, f"{op.kind} with strides {opts.strideH}x{opts.strideW} or dilation", name)
        if getattr(opts, "depthMultiplier", 1) not in (0, 1):
            raise _refuse(f.name, op.index, f"DEPTHWISE_CONV_2D with depth multiplier {opts.depthMultiplier}", name)
    if k.ndim != 4 or k.shape[1:3] != (kernel, kernel):
        raise _refuse(f.name, op.index, f"{op.kind} with a {list(k.shape)} kernel", f"a {kernel}x{kernel} kernel ({name})")
    if op_stride != stride:
        raise _refuse(f.name, op.index, f"{op.kind} with stride {op_stride}", f"stride {stride} ({name})")
    if kernel > 1 and padding != SAME:
        raise _refuse(f.name, op.index, f"{op.kind} with VALID padding", f"SAME padding ({name})")
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        bias, _, _ = _constant(f, op.inputs[2])
        bias_tensor = op.inputs[2]
    else:
        bias, bias_tensor = np.zeros(k.shape[0] if not name.startswith("conv_dw_") else k.shape[3], np.float32), None
    return ConvLayer(name, op.index, op.inputs[1], bias_tensor, stride, act, k, bias.astype(np.float32), kq, wq,
                     f.quantization(op.inputs[0]))
