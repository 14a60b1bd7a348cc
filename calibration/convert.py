"""Keras MobileNet -> TFLite: full-integer int8 (or float32), with a report that measures the loss.

int8 recipe: ``Optimize.DEFAULT`` + a representative dataset (the ``edgenet calibrate`` samples) +
``TFLITE_BUILTINS_INT8`` only, so every op is integer and the model runs on XNNPACK's int8 kernels
with no float fallbacks; weights per output channel (the converter's default; per-tensor is an
option), activations per tensor; int8 (default) or uint8 input and output tensors, which
``edgenet.runtime`` quantizes and dequantizes from the tensors' own scale and zero point.

The report holds out part of the calibration samples (never used for ranges) and compares the float
Keras model with the int8 model *as the device runtime runs it*: top-1 agreement and mean cosine
between their output vectors.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.quiet import native_chatter_filtered, tensorflow
from edgenet.errors import UsageError
from edgenet.outputs import check_output_path
from edgenet.labels import read_labels_file
from edgenet.preprocess import quantize
from edgenet.variants import Variant

IO_TYPES = ("int8", "uint8")


@dataclass(frozen=True)
class BuildConfig:
    alpha: float | None  # None with .tflite weights: the file's
    resolution: int | None  # None with .tflite weights: the file's
    output: str
    weights: str = "random"
    calibration: str | None = None  # an `edgenet calibrate` .npz; required for int8
    io: str = "int8"
    float_model: bool = False
    classes: int | None = None  # default: the labels', the weights file's, else 1000
    labels: str | None = None
    per_channel: bool = True
    holdout: float = 0.2
    debug: bool = False
    activation: str = "relu6"  # .tflite weights: the file's (ReLU with equalize)
    seed: int = 0
    # Post-training remedies (calibration.equalize, calibration.keep_grid), int8 only.
    equalize: bool = False
    bias_correction: bool = False
    keep_grid: bool = False
    eval_images: str | None = None  # labelled images (ImageFolder, or flat with ground_truth)
    ground_truth: str | None = None

    def __post_init__(self) -> None:
        if self.alpha is None or self.resolution is None:
            if is_pretrained_file(self.weights):
                if self.alpha is not None or self.resolution is not None:
                    Variant(self.alpha or 1.0, self.resolution or 224)
            else:
                raise UsageError("give --alpha and --resolution, or --grid (they are read from the file only with "
                                 "--weights FILE.tflite or a model name)")
        else:
            Variant(self.alpha, self.resolution)
        remedies = [n for n, on in (("--equalize", self.equalize), ("--bias-correction", self.bias_correction),
                                    ("--keep-grid", self.keep_grid)) if on]
        if remedies and self.float_model:
            raise UsageError(f"{', '.join(remedies)} are int8 remedies; drop them or --float")
        if self.keep_grid and not is_pretrained_file(self.weights):
            raise UsageError("--keep-grid keeps a quantized .tflite's weight grid: give --weights FILE.tflite (or a model name)")
        if self.eval_images is not None and not os.path.isdir(self.eval_images):
            raise UsageError(f"--eval-images {self.eval_images} is not a folder (ImageFolder, or images with --ground-truth)")
        if self.ground_truth is not None and self.eval_images is None:
            raise UsageError("--ground-truth goes with --eval-images DIR")
        if self.io not in IO_TYPES:
            raise UsageError(f"--io must be one of {', '.join(IO_TYPES)}, not {self.io!r}")
        if not self.float_model and self.calibration is None:
            raise UsageError("an int8 build needs --calibration CALIB.npz (make one with `edgenet calibrate`), or use --float")
        if self.classes is not None and self.classes < 2:
            raise UsageError(f"--classes must be at least 2, got {self.classes}")
        if not 0.0 <= self.holdout < 1.0:
            raise UsageError(f"--holdout must be in [0, 1), got {self.holdout}")
        check_output_path(self.output, (".tflite",))

    @property
    def variant(self) -> Variant:
        return Variant(self.alpha, self.resolution)


def is_pretrained_file(weights: str) -> bool:
    """A .tflite or a model index name (anything that is not random/imagenet/.keras/.h5)."""
    return weights not in ("random", "imagenet") and Path(weights).suffix.lower() not in (".keras", ".h5")


def resolve_pretrained(config: BuildConfig) -> tuple[BuildConfig, object]:
    """(config with the .tflite's path, alpha and default resolution filled in, its MobileNetGraph);
    other weights pass through with None."""
    if not is_pretrained_file(config.weights):
        return config, None
    from dataclasses import replace

    from calibration.tflite_import import resolve_weights
    from edgenet.mobilenet_graph import read_mobilenet

    path = resolve_weights(config.weights)
    graph = read_mobilenet(path)
    if config.alpha is not None and config.alpha != graph.alpha:
        raise UsageError(f"{path} is alpha {graph.alpha}, not --alpha {config.alpha}; omit --alpha (it is read from the file)")
    if config.keep_grid and not graph.quantized:
        raise UsageError(f"--keep-grid: {path} is a float model, it has no weight grid to keep")
    activation = "relu" if config.equalize else graph.activation
    return replace(config, weights=path, alpha=graph.alpha, resolution=config.resolution or graph.resolution,
                   activation=activation), graph


@dataclass
class BuildReport:
    model: str
    labels: str
    report: str
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return self.data


def labels_path(model_path: str | os.PathLike) -> Path:
    p = Path(model_path)
    return p.with_name(p.stem + ".labels.txt")


def report_path(model_path: str | os.PathLike) -> Path:
    p = Path(model_path)
    return p.with_name(p.stem + ".build.json")


def weights_labels(weights: str) -> Path | None:
    """The labels `edgenet train`/`build` wrote beside a .keras or .tflite file, if any."""
    if weights in ("random", "imagenet"):
        return None
    p = labels_path(weights)
    return p if p.is_file() else None


def split_holdout(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(calibration indices, held-out indices); nothing is held out of fewer than 5 samples."""
    order = np.random.default_rng(seed).permutation(n)
    held = int(round(n * fraction)) if n >= 5 else 0
    return np.sort(order[held:]), np.sort(order[:held])


def _converter(model, samples: np.ndarray | None, per_channel: bool):
    tf = tensorflow()

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    if samples is not None:
        conv.optimizations = [tf.lite.Optimize.DEFAULT]

        def representative():
            for x in samples:
                yield [x[None].astype(np.float32)]

        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if not per_channel:
            conv._experimental_disable_per_channel = True  # no public switch; per-channel is the default
    return conv


@contextlib.contextmanager
def quiet_stdout():
    """Keras' export prints every captured variable ('Saved artifact at ...') to stdout; our verbs'
    stdout is for their own output (and --json)."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def to_tflite(model, samples: np.ndarray | None, io: str = "int8", per_channel: bool = True) -> bytes:
    """Convert a batch-1 Keras model: full int8 with ``io`` input/output when ``samples`` (the
    representative dataset, (N, H, W, 3) float32) are given, else float32."""
    tf = tensorflow()
    if samples is not None and len(samples) == 0:
        raise UsageError("no calibration samples to convert with")
    conv = _converter(model, samples, per_channel)
    if samples is not None:
        conv.inference_input_type = getattr(tf, io)
        conv.inference_output_type = getattr(tf, io)
    with quiet_stdout(), native_chatter_filtered():
        return conv.convert()


def quantization_debug_table(model, samples: np.ndarray, per_channel: bool = True, rows: int | None = None) -> list[dict]:
    """Per-layer int8 error from TensorFlow's QuantizationDebugger, worst first (by RMSE / scale,
    i.e. error in units of the layer's own quantization step)."""
    tf = tensorflow()
    conv = _converter(model, samples, per_channel)  # float I/O: the debugger compares float tensors

    def dataset():
        for x in samples:
            yield [x[None].astype(np.float32)]

    with quiet_stdout(), native_chatter_filtered():
        debugger = tf.lite.experimental.QuantizationDebugger(converter=conv, debug_dataset=dataset)
        debugger.run()
    buf = io.StringIO()
    debugger.layer_statistics_dump(buf)
    buf.seek(0)
    table = []
    for row in csv.DictReader(buf):
        scale = float(row.get("scale") or 0) or None
        mse = float(row["mean_squared_error"])
        table.append({
            "tensor": row.get("tensor_name", ""), "op": row["op_name"],
            "mean_squared_error": mse, "max_abs_error": float(row["max_abs_error"]),
            "mean_error": float(row["mean_error"]), "scale": scale,
            "rmse_per_scale": (mse ** 0.5 / scale) if scale else None,
        })
    table.sort(key=lambda r: -(r["rmse_per_scale"] or 0.0))
    return table[:rows] if rows else table


def agreement(float_scores: np.ndarray, quant_scores: np.ndarray, labels: list[str] | None = None,
              sample_ids: np.ndarray | None = None, listed: int = 10) -> dict:
    """Top-1 agreement and mean cosine between two (N, classes) score arrays, and the samples where
    the top-1 differs, least confident float first: with each, the float model's top two and the
    quantized model's top-1, so a reader sees whether the flips are borderline inputs (float top-2
    close) or real damage (a confident float answer lost)."""
    a, b = np.asarray(float_scores, np.float64), np.asarray(quant_scores, np.float64)
    cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    fa, qa = a.argmax(1), b.argmax(1)
    differ = np.flatnonzero(fa != qa)
    ids = np.arange(len(a)) if sample_ids is None else np.asarray(sample_ids)

    def name(k: int) -> str:
        return labels[k] if labels is not None and k < len(labels) else str(int(k))

    rows = []
    for i in differ[np.argsort(a[differ, fa[differ]])][:listed]:
        second = int(np.argsort(-a[i])[1])
        rows.append({"sample": int(ids[i]),
                     "float": [name(fa[i]), round(float(a[i, fa[i]]), 4)],
                     "float_second": [name(second), round(float(a[i, second]), 4)],
                     "quantized": [name(qa[i]), round(float(b[i, qa[i]]), 4)]})
    return {"samples": int(len(a)), "top1_agreement": float((fa == qa).mean()),
            "mean_cosine": float(cos.mean()), "min_cosine": float(cos.min()),
            "disagreements": int(len(differ)), "disagreeing": rows}


def runtime_scores(model_path: str, samples: np.ndarray) -> np.ndarray:
    """Scores of a .tflite on float samples through the device runtime (quantized with the input's own
    scale and zero point, as ``edgenet.preprocess`` does for camera frames)."""
    from edgenet.runtime import load_interpreter

    with native_chatter_filtered():  # LiteRT announces XNNPACK on the first load
        m = load_interpreter(model_path, threads=None)
    spec = m.input_spec
    out = []
    for x in samples:
        t = x[None] if spec.dtype == "float32" else quantize(x[None], spec.scale, spec.zero_point, spec.dtype)
        out.append(m.run(t).copy())
    return np.stack(out)


def resolve_classes(config: BuildConfig) -> tuple[int, list[str] | None]:
    labels_file = config.labels or weights_labels(config.weights)
    labels = read_labels_file(str(labels_file)) if labels_file else None
    classes = config.classes
    if classes is None and Path(config.weights).suffix.lower() == ".tflite":
        from calibration.builder import classes_in_file

        classes = classes_in_file(config.weights)  # a 1000-line labels file fits a 1001-class model
        if labels is None and classes == 1001:  # an official ImageNet model: edgenet ships its labels
            from edgenet.models import packaged_labels

            labels_file = packaged_labels()
            labels = read_labels_file(str(labels_file))
        if labels is not None:
            from edgenet.labels import align_labels

            labels = align_labels(labels, classes, str(labels_file))
    if classes is None:
        if labels is not None:
            classes = len(labels)
        elif config.weights not in ("random", "imagenet"):
            from calibration.builder import classes_in_file

            classes = classes_in_file(config.weights)
        else:
            classes = 1000
    if labels is not None and len(labels) != classes:
        raise UsageError(f"{labels_file} has {len(labels)} labels but --classes is {classes}")
    return classes, labels


def build_model(config: BuildConfig) -> BuildReport:
    """``edgenet build``: Keras model -> .tflite, labels file and JSON build report beside it."""
    from calibration.builder import mobilenet_v1
    from edgenet.representative import load_calibration

    started = time.perf_counter()
    config, graph = resolve_pretrained(config)
    if config.equalize and config.activation != "relu":
        raise UsageError("--equalize needs ReLU (ReLU6 is not scale-equivariant): add --activation relu")
    calib = None
    if config.calibration is not None:
        calib = load_calibration(config.calibration)
        if calib.resolution != config.resolution:
            raise UsageError(
                f"{config.calibration} holds {calib.resolution} px samples but the model is {config.resolution} px; "
                f"make them with `edgenet calibrate --resolution {config.resolution}`"
            )
    classes, labels = resolve_classes(config)
    model = mobilenet_v1(config.alpha, config.resolution, classes, config.weights, config.activation, seed=config.seed)
    calib_idx = held_idx = np.arange(0)
    if calib is not None:
        calib_idx, held_idx = split_holdout(len(calib), config.holdout, config.seed)
    remedies: dict = {}
    if config.equalize:
        from calibration.equalize import equalize

        remedies["equalization"] = equalize(model)
    out = Path(config.output)
    float_reference = None
    if config.eval_images is not None and not config.float_model:
        # The float model the int8 one is judged against: this network before bias correction.
        float_reference = out.with_name(out.stem + ".float-reference.tflite")
        float_reference.write_bytes(to_tflite(model, None))
    if config.bias_correction:
        from calibration.equalize import correct_bias

        remedies["bias_correction"] = correct_bias(model, calib.samples[calib_idx], config.per_channel)
    t0 = time.perf_counter()
    data = to_tflite(model, None if config.float_model else calib.samples[calib_idx], config.io, config.per_channel)
    convert_s = time.perf_counter() - t0
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(data)
    if config.keep_grid:
        from calibration.keep_grid import keep_weight_grid

        remedies["keep_grid"] = keep_weight_grid(str(tmp), graph)
    os.replace(tmp, out)  # a half-written model never looks like a finished one
    lab = labels_path(out)
    lab.write_text("\n".join(labels or [f"class {i}" for i in range(classes)]) + "\n")

    from edgenet.runtime import load_interpreter

    with native_chatter_filtered():
        loaded = load_interpreter(str(out), threads=None).describe()
    report = {
        "model": str(out.resolve()), "labels": str(lab.resolve()), "variant": config.variant.name,
        "alpha": config.alpha, "resolution": config.resolution, "classes": classes,
        "weights": config.weights, "activation": config.activation,
        "precision": "float32" if config.float_model else "int8",
        "io": "float32" if config.float_model else config.io,
        "weights_quantization": None if config.float_model else ("per-channel" if config.per_channel else "per-tensor"),
        "bytes": len(data), "convert_seconds": round(convert_s, 2),
        "runtime_check": {"input": loaded["input"], "output": loaded["output"], "runtime": loaded["runtime"]},
        "calibration": None,
        "remedies": remedies,
    }
    if graph is not None:
        report["imported"] = {"file": str(Path(config.weights).resolve()), "alpha": graph.alpha,
                              "resolution": graph.resolution, "classes": graph.classes,
                              "weights": graph.weights_dtype, "activation": graph.activation}
    if config.eval_images is not None:
        from calibration.accuracy import labelled_accuracy

        scored = {"float": str(out)} if config.float_model else {"float": str(float_reference), "int8": str(out)}
        try:
            report["accuracy"] = labelled_accuracy(scored, config.eval_images, str(lab), config.ground_truth)
        finally:
            if float_reference is not None:
                float_reference.unlink(missing_ok=True)
    if calib is not None:
        m = calib.manifest
        report["calibration"] = {"file": str(Path(config.calibration).resolve()), "source": m.get("source"),
                                 "sha256": m.get("sha256"), "samples": len(calib), "used_for_ranges": int(len(calib_idx)),
                                 "held_out": int(len(held_idx)), "preprocessing": m.get("preprocessing")}
        if len(held_idx):
            held = calib.samples[held_idx]
            ref = model.predict(held, batch_size=1, verbose=0) if len(held) else None
            report["quantization"] = agreement(ref, runtime_scores(str(out), held), labels, held_idx) | {
                "compared": "Keras float model vs this .tflite in edgenet.runtime, softmax outputs, held-out calibration samples"}
        if config.debug and not config.float_model:
            report["debug_layers"] = quantization_debug_table(model, calib.samples[calib_idx][:64], config.per_channel)
    report["seconds"] = round(time.perf_counter() - started, 2)
    rp = report_path(out)
    rp.write_text(json.dumps(report, indent=2) + "\n")
    return BuildReport(str(out), str(lab), str(rp), report)
