"""TFLite interpreter backends: LiteRT (ai-edge-litert), tflite-runtime, or tensorflow.lite.

One small class wraps whichever interpreter is installed. It reads the input size, dtype and
quantization from the model (nothing assumes 224), dequantizes at the graph boundary from the
output tensor's own scale and zero point, and reports whether XNNPACK took the graph.

Backends are imported lazily by name; ``tensorflow`` is only tried last, so on a board with LiteRT
or tflite-runtime TensorFlow is never imported.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec
from typing import Any

import numpy as np

from edgenet.errors import ModelError, RuntimeNotAvailable, UsageError
from edgenet.limits import MAX_THREADS
from edgenet.preprocess import InputSpec, dequantize

# name -> (module to import, pip distribution for version and install hints)
RUNTIMES: dict[str, tuple[str, str]] = {
    "litert": ("ai_edge_litert.interpreter", "ai-edge-litert"),
    "tflite-runtime": ("tflite_runtime.interpreter", "tflite-runtime"),
    "tensorflow": ("tensorflow.lite.python.interpreter", "tensorflow"),
}
AUTO_ORDER = ("litert", "tflite-runtime", "tensorflow")
RUNTIME_CHOICES = ("auto",) + AUTO_ORDER


@dataclass(frozen=True)
class OutputSpec:
    classes: int
    dtype: str
    scale: float
    zero_point: int


def default_threads() -> int:
    return os.cpu_count() or 1


def _import_runtime(name: str):
    module_name, dist = RUNTIMES[name]
    try:
        return import_module(module_name)
    except ImportError as exc:
        raise RuntimeNotAvailable(
            f"runtime {name!r} is not installed ({exc}); install it with: pip install {dist}"
        ) from None
    except Exception as exc:  # e.g. a tflite-runtime built for numpy 1 under numpy 2
        raise RuntimeNotAvailable(f"runtime {name!r} failed to import: {exc}") from None


def resolve_runtime(name: str = "auto"):
    """(runtime name, interpreter module) for ``name``, or for the first installed one."""
    if name != "auto":
        if name not in RUNTIMES:
            raise UsageError(f"unknown runtime {name!r}; choose from {', '.join(RUNTIME_CHOICES)}")
        return name, _import_runtime(name)
    problems = []
    for candidate in AUTO_ORDER:
        if find_spec(RUNTIMES[candidate][0].split(".")[0]) is None:
            continue
        try:
            return candidate, _import_runtime(candidate)
        except RuntimeNotAvailable as exc:
            problems.append(str(exc))
    hint = "; ".join(problems) if problems else "none is installed"
    raise RuntimeNotAvailable(
        f"no TFLite interpreter available ({hint}); install one with: pip install ai-edge-litert "
        "(on 32-bit ARM: pip install tflite-runtime 'numpy<2')"
    )


def runtime_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    dist = RUNTIMES[name][1]
    for d in ([dist, "tensorflow-cpu"] if name == "tensorflow" else [dist]):
        try:
            return version(d)
        except PackageNotFoundError:
            continue
    return "unknown"


def check_model_file(path: str) -> None:
    """Cheap checks before the interpreter sees the file, so errors name the real problem."""
    if not os.path.exists(path):
        raise ModelError(f"model file not found: {path}")
    if os.path.isdir(path):
        raise ModelError(f"model path is a directory, not a .tflite file: {path}")
    with open(path, "rb") as f:
        head = f.read(8)
    # Every TFLite flatbuffer carries the file identifier "TFL3" at bytes 4..8.
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise ModelError(f"{path} is not a TFLite model (no TFL3 identifier); is it a .tflite file?")


class Model:
    """An image classifier in a TFLite interpreter.

    ``run(tensor)`` sets the preprocessed input, invokes, and returns dequantized scores.
    """

    def __init__(self, path: str, runtime: str = "auto", threads: int | None = None, xnnpack: bool = True):
        check_model_file(path)
        self.path = path
        self.threads = threads if threads is not None else default_threads()
        if not 1 <= self.threads <= MAX_THREADS:
            raise UsageError(f"threads must be from 1 to {MAX_THREADS}, got {self.threads}")
        self.runtime, module = resolve_runtime(runtime)
        self.runtime_version = runtime_version(self.runtime)
        kwargs: dict[str, Any] = {"model_path": path, "num_threads": self.threads}
        if not xnnpack:
            resolver = getattr(module, "OpResolverType", None)
            if resolver is None:
                raise UsageError(f"runtime {self.runtime} cannot turn XNNPACK off (it has no OpResolverType)")
            kwargs["experimental_op_resolver_type"] = resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        t0 = time.perf_counter_ns()
        try:
            self.interpreter = module.Interpreter(**kwargs)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError, SystemError) as exc:
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            raise ModelError(f"cannot load {path}: {first} (corrupt or truncated file?)") from None
        self.load_ms = (time.perf_counter_ns() - t0) / 1e6
        self._read_io()
        self.xnnpack = self._delegated()

    def _read_io(self) -> None:
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        if len(inputs) != 1:
            raise ModelError(f"{self.path} has {len(inputs)} inputs; an image classifier has one")
        if not outputs:
            raise ModelError(f"{self.path} has no output")
        inp, out = inputs[0], outputs[0]
        shape = [int(s) for s in inp["shape"]]
        if len(shape) != 4 or shape[0] != 1 or shape[3] not in (1, 3):
            raise ModelError(
                f"{self.path} is not an image classifier: input shape {shape}, expected [1, H, W, 1 or 3]"
            )
        dtype = np.dtype(inp["dtype"]).name
        if dtype not in ("uint8", "int8", "float32"):
            raise ModelError(f"{self.path}: unsupported input type {dtype}")
        scale, zp = inp["quantization"]
        if dtype != "float32" and not scale:
            raise ModelError(f"{self.path}: {dtype} input without quantization parameters")
        self.input_index = inp["index"]
        self.input_spec = InputSpec(shape[1], shape[2], shape[3], dtype, float(scale), int(zp))
        oshape = [int(s) for s in out["shape"]]
        if len(oshape) not in (1, 2) or (len(oshape) == 2 and oshape[0] != 1) or oshape[-1] < 2:
            raise ModelError(f"{self.path} is not a classifier: output shape {oshape}, expected [1, classes]")
        odtype = np.dtype(out["dtype"]).name
        oscale, ozp = out["quantization"]
        if odtype != "float32" and not oscale:
            raise ModelError(f"{self.path}: {odtype} output without quantization parameters")
        self.output_index = out["index"]
        self.output_spec = OutputSpec(oshape[-1], odtype, float(oscale), int(ozp))

    def _delegated(self) -> bool:
        """True if a delegate (XNNPACK is the only default one) took part of the graph."""
        try:
            ops = self.interpreter._get_ops_details()
        except Exception:  # older runtimes lack the private API: unknown means "not shown"
            return False
        return any(op.get("op_name") == "DELEGATE" for op in ops)

    @property
    def classes(self) -> int:
        return self.output_spec.classes

    def set_input(self, tensor: np.ndarray) -> None:
        self.interpreter.set_tensor(self.input_index, tensor)

    def invoke(self) -> None:
        self.interpreter.invoke()

    def raw_output(self) -> np.ndarray:
        return self.interpreter.get_tensor(self.output_index).reshape(-1)

    def scores(self) -> np.ndarray:
        """The output as float32, dequantized with the output tensor's scale and zero point."""
        raw = self.raw_output()
        if self.output_spec.dtype == "float32":
            return raw.astype(np.float32, copy=False)
        return dequantize(raw, self.output_spec.scale, self.output_spec.zero_point)

    def run(self, tensor: np.ndarray) -> np.ndarray:
        self.set_input(tensor)
        self.invoke()
        return self.scores()

    def describe(self) -> dict:
        s, o = self.input_spec, self.output_spec
        return {
            "model": os.path.abspath(self.path),
            "runtime": self.runtime,
            "runtime_version": self.runtime_version,
            "xnnpack": self.xnnpack,
            "threads": self.threads,
            "input": {"shape": list(s.shape), "dtype": s.dtype, "scale": s.scale, "zero_point": s.zero_point},
            "output": {"classes": o.classes, "dtype": o.dtype, "scale": o.scale, "zero_point": o.zero_point},
            "load_ms": round(self.load_ms, 2),
        }


def load_interpreter(path: str, runtime: str = "auto", threads: int | None = None, xnnpack: bool = True) -> Model:
    """Load a .tflite classifier; raises ModelError / RuntimeNotAvailable with a one-line message."""
    return Model(path, runtime=runtime, threads=threads, xnnpack=xnnpack)
