"""Read and rewrite a .tflite flatbuffer without TensorFlow.

The parser is the one LiteRT itself ships: ``ai_edge_litert.schema_py_generated`` (flatc's Python
object API over the TFLite schema, on top of the ``flatbuffers`` package that LiteRT depends on),
the same route as TensorFlow's own ``flatbuffer_utils`` (unpack to ``ModelT``, edit, ``Pack`` and
``Finish`` with the ``TFL3`` identifier). Nothing here interprets a graph: :class:`TFLiteFile` gives
operators in graph order, tensors with their shapes, quantization and constant data as numpy
arrays, and writes the edited model back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from edgenet.errors import ModelError

FILE_IDENTIFIER = b"TFL3"
# TFLite TensorType -> numpy dtype, for the types a MobileNet uses.
DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}


def schema():
    """LiteRT's generated TFLite schema module."""
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        raise ModelError("reading a .tflite's graph needs LiteRT's schema: pip install ai-edge-litert "
                         "(tflite-runtime does not ship it)") from None
    return schema_py_generated


@dataclass(frozen=True)
class Quantization:
    scale: np.ndarray  # float32, one value (per tensor) or one per channel
    zero_point: np.ndarray  # int64
    axis: int

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """scale * (q - zero_point), broadcast along ``axis`` for per-channel parameters."""
        shape = [1] * q.ndim
        if self.scale.size > 1:
            shape[self.axis] = -1
        s = self.scale.astype(np.float64).reshape(shape)
        z = self.zero_point.astype(np.float64).reshape(shape) if self.zero_point.size > 1 else float(self.zero_point[0])
        return (s * (q.astype(np.float64) - z)).astype(np.float32)


@dataclass
class Op:
    index: int
    kind: str  # builtin operator name, e.g. "CONV_2D"
    inputs: list[int]
    outputs: list[int]
    options: object  # the schema's options object (Conv2DOptionsT, ...), or None


class TFLiteFile:
    """One .tflite model, unpacked: ``ops`` in graph order, ``tensor_*`` accessors, ``to_bytes``."""

    def __init__(self, data: bytes, name: str = "model"):
        s = schema()
        self.name = name
        if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
            raise ModelError(f"{name} is not a .tflite model (no TFL3 flatbuffer identifier)")
        try:
            self.model = s.ModelT.InitFromObj(s.Model.GetRootAs(data, 0))
        except Exception as exc:  # a truncated or corrupt flatbuffer fails anywhere inside the parser
            raise ModelError(f"{name} is not a readable .tflite model ({type(exc).__name__})") from None
        for buffer in self.model.buffers or []:  # models > 2 GB keep their data after the flatbuffer
            if getattr(buffer, "offset", 0):
                buffer.data = np.frombuffer(data[buffer.offset:buffer.offset + buffer.size], np.uint8)
                buffer.offset = buffer.size = 0
        if not self.model.subgraphs or len(self.model.subgraphs) != 1:
            raise ModelError(f"{name} has {len(self.model.subgraphs or [])} subgraphs; expected one")
        self.graph = self.model.subgraphs[0]
        names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
        self.ops = []
        for i, op in enumerate(self.graph.operators or []):
            code = self.model.operatorCodes[op.opcodeIndex]
            kind = names.get(max(code.builtinCode, code.deprecatedBuiltinCode), "CUSTOM")
            self.ops.append(Op(i, kind, [int(t) for t in op.inputs], [int(t) for t in op.outputs], op.builtinOptions))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TFLiteFile":
        try:
            data = open(path, "rb").read()
        except OSError as exc:
            raise ModelError(f"cannot read {path}: {exc.strerror}") from None
        return cls(data, os.path.basename(str(path)))

    @property
    def inputs(self) -> list[int]:
        return [int(t) for t in self.graph.inputs]

    @property
    def outputs(self) -> list[int]:
        return [int(t) for t in self.graph.outputs]

    def tensor(self, index: int):
        return self.graph.tensors[index]

    def tensor_name(self, index: int) -> str:
        name = self.tensor(index).name
        return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name or "")

    def tensor_shape(self, index: int) -> tuple[int, ...]:
        shape = self.tensor(index).shape
        return tuple(int(d) for d in shape) if shape is not None else ()

    def tensor_dtype(self, index: int):
        t = self.tensor(index).type
        if t not in DTYPES:
            raise ModelError(f"{self.name}: tensor {self.tensor_name(index)!r} has TFLite type {t}, not one edgenet reads")
        return np.dtype(DTYPES[t])

    def quantization(self, index: int) -> Quantization | None:
        q = self.tensor(index).quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            return None
        zp = np.asarray(q.zeroPoint if q.zeroPoint is not None else [0], np.int64)
        return Quantization(np.asarray(q.scale, np.float32), zp, int(q.quantizedDimension))

    def tensor_data(self, index: int) -> np.ndarray | None:
        """A constant tensor's values (a copy, in the tensor's own dtype and shape); None for activations."""
        buffer = self.model.buffers[self.tensor(index).buffer]
        if buffer.data is None or len(buffer.data) == 0:
            return None
        raw = np.asarray(buffer.data, np.uint8).tobytes()
        return np.frombuffer(raw, self.tensor_dtype(index)).reshape(self.tensor_shape(index)).copy()

    def set_tensor_data(self, index: int, values: np.ndarray) -> None:
        """Replace a constant tensor's values (same dtype and shape; little-endian as TFLite stores it)."""
        values = np.ascontiguousarray(values, self.tensor_dtype(index).newbyteorder("<"))
        if values.shape != self.tensor_shape(index):
            raise ValueError(f"tensor {self.tensor_name(index)}: shape {values.shape} != {self.tensor_shape(index)}")
        self.model.buffers[self.tensor(index).buffer].data = np.frombuffer(values.tobytes(), np.uint8)

    def set_quantization(self, index: int, scale: np.ndarray, zero_point: np.ndarray, axis: int = 0) -> None:
        q = self.tensor(index).quantization
        q.scale = np.asarray(scale, np.float32)
        q.zeroPoint = np.asarray(zero_point, np.int64)
        q.quantizedDimension = int(axis)
        q.min = q.max = None

    def set_tensor_shape(self, index: int, shape: tuple[int, ...]) -> None:
        t = self.tensor(index)
        t.shape = np.asarray(shape, np.int32)
        if t.shapeSignature is not None and len(t.shapeSignature):
            t.shapeSignature = np.asarray(shape, np.int32)

    def to_bytes(self) -> bytes:
        import flatbuffers

        builder = flatbuffers.Builder(1024)
        builder.Finish(self.model.Pack(builder), file_identifier=FILE_IDENTIFIER)
        return bytes(builder.Output())

    def save(self, path: str | os.PathLike) -> None:
        """Write atomically: a half-written model never looks like a finished one."""
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as f:
            f.write(self.to_bytes())
        os.replace(tmp, path)
