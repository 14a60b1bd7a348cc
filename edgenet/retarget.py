"""``edgenet retarget``: the same MobileNet V1 .tflite at another input resolution, on the board.

MobileNet V1 is fully convolutional up to its global pooling, so one set of weights runs at any
resolution. This rewrites the flatbuffer (no TensorFlow, no converter): the input and every feature
map's shape (SAME padding: ``ceil(size / stride)``), and a fixed-window AVERAGE_POOL_2D's window so
it still covers the whole last feature map. Every weight, bias and quantization parameter is kept
byte for byte, so an official QAT int8 model keeps its own weight grid and activation ranges; what
is not re-measured is whether those ranges (calibrated at the original resolution) still fit, which
``benchmarks/quantization.py`` measures against the float model imported at the new resolution.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from edgenet.errors import ModelError, UsageError
from edgenet.mobilenet_graph import SAME, read_mobilenet
from edgenet.outputs import check_output_path
from edgenet.tflite_file import TFLiteFile
from edgenet.variants import Variant

# Ops whose output has their input's shape.
_ELEMENTWISE = ("QUANTIZE", "DEQUANTIZE", "RELU", "RELU6", "SOFTMAX")
# Ops after global pooling: their shapes do not depend on the resolution.
_AFTER_POOL = ("RESHAPE", "SQUEEZE", "FULLY_CONNECTED")


@dataclass(frozen=True)
class RetargetResult:
    model: str
    source: str
    variant: str
    from_resolution: int
    resolution: int
    precision: str
    tensors_reshaped: int

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def default_output(source: str, variant: Variant, precision: str) -> str:
    return str(Path(source).with_name(f"{variant.name}_retarget_{precision}.tflite"))


def retarget(model_path: str, resolution: int, output: str | None = None) -> RetargetResult:
    """Write ``model_path`` at ``resolution``; returns what was written."""
    f = TFLiteFile.load(model_path)
    graph = read_mobilenet(f)
    variant = Variant(graph.alpha, resolution)
    precision = graph.input_dtype if graph.quantized else "float32"
    out = output or default_output(model_path, variant, precision)
    check_output_path(out, (".tflite",))
    if os.path.abspath(out) == os.path.abspath(model_path):
        raise UsageError(f"-o {out} is the model itself; write the retargeted model to another file")
    shapes = {f.inputs[0]: (1, resolution, resolution, 3)}
    pooled = False
    for op in f.ops:
        if op.kind == "DEQUANTIZE" and f.tensor_data(op.inputs[0]) is not None:
            continue  # a float16 weight, not a feature map
        src = shapes.get(op.inputs[0], f.tensor_shape(op.inputs[0]))
        old = f.tensor_shape(op.outputs[0])
        if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            o = op.options
            if int(o.padding) != SAME and f.tensor_shape(op.inputs[1])[1] > 1:
                raise ModelError(f"{f.name}: operator {op.index} ({op.kind}) has VALID padding; only SAME can be retargeted")
            shape = (1, math.ceil(src[1] / o.strideH), math.ceil(src[2] / o.strideW), old[3])
        elif op.kind == "AVERAGE_POOL_2D":
            o = op.options
            o.filterHeight, o.filterWidth = int(src[1]), int(src[2])  # the global average, as before
            o.padding, o.strideH, o.strideW = 1, 1, 1  # VALID: one window, the whole map
            shape, pooled = (1, 1, 1, old[3]), True
        elif op.kind == "MEAN":
            shape, pooled = old, True
        elif op.kind in _ELEMENTWISE:
            shape = src
        elif op.kind in _AFTER_POOL and pooled:
            shape = old
        else:
            raise ModelError(f"{f.name}: operator {op.index} ({op.kind}) cannot be retargeted")
        shapes[op.outputs[0]] = tuple(int(d) for d in shape)
    changed = 0
    for index, shape in shapes.items():
        if shape != f.tensor_shape(index):
            f.set_tensor_shape(index, shape)
            changed += 1
    f.save(out)
    return RetargetResult(os.path.abspath(out), os.path.abspath(model_path), variant.name, graph.resolution,
                          resolution, precision, changed)
