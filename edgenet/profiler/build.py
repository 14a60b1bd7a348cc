"""Build missing grid models for latency profiling (random weights; needs TensorFlow).

This is the only place in ``edgenet`` that touches TensorFlow, and only inside the functions: a
board without TensorFlow imports this module safely and gets a message saying how to build the
models on the workstation instead.

Random weights give the same graph, the same ops and the same tensor sizes as trained weights, so
latency is representative; accuracy is not, which is why profiles of these models take accuracy
from the published table or from ``edgenet eval`` results of the real models.

Stopgap: when the calibration package's builder (branch ``calib``) lands in main, this should call
it instead of converting here; until then the conversion is the minimal full-int8 recipe.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Callable, Iterable

from edgenet.errors import ModelError
from edgenet.variants import Variant

DTYPES = ("int8", "float32")
_SUFFIX = {"int8": "int8", "float32": "float"}


def default_cache_dir() -> Path:
    """Where grid models are kept between runs: $EDGENET_CACHE/models or ~/.cache/edgenet/models."""
    base = os.environ.get("EDGENET_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "edgenet")
    return Path(base) / "models"


def grid_model_path(folder: str | os.PathLike, variant: Variant, dtype: str = "int8") -> Path:
    return Path(folder) / f"{variant.name}_{_SUFFIX[dtype]}.tflite"


def tensorflow_available() -> bool:
    return find_spec("tensorflow") is not None


def how_to_build(folder: str | os.PathLike, missing: list[str]) -> str:
    shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
    return (
        f"{len(missing)} grid model(s) missing in {folder} ({shown}) and TensorFlow is not installed here; "
        "build them on the workstation with `pip install 'edgenet[host]'` and "
        f"`edgenet profile --grid --build-only --model-cache DIR`, then copy DIR to {folder} on the board "
        "(e.g. rsync -a DIR/ board:" + str(folder) + "/), or use --predict-only (needs only 3 models)"
    )


def _random_calibration(resolution: int, samples: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)

    def gen():
        for _ in range(samples):
            yield [rng.uniform(-1.0, 1.0, (1, resolution, resolution, 3)).astype("float32")]

    return gen


def build_latency_model(variant: Variant, path: str | os.PathLike, dtype: str = "int8", classes: int = 1000,
                        seed: int = 0) -> Path:
    """Write a random-weight MobileNet V1 ``variant`` as a .tflite (full int8 with int8 I/O, or float32)."""
    if dtype not in DTYPES:
        raise ModelError(f"cannot build dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    if not tensorflow_available():
        raise ModelError(how_to_build(Path(path).parent, [Path(path).name]))
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = keras.applications.MobileNet(
        input_tensor=keras.Input((variant.resolution, variant.resolution, 3), batch_size=1),
        alpha=variant.alpha, weights=None, classes=classes,
    )
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if dtype == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # A few random samples are enough to give every tensor a range; the ranges do not matter
        # for latency.
        converter.representative_dataset = _random_calibration(variant.resolution, 4, seed)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    data = converter.convert()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # a half-written model never looks like a cached one
    return path


def build_missing(folder: str | os.PathLike, variants: Iterable[Variant], dtypes: Iterable[str] = ("int8",),
                  log: Callable[[str], None] = lambda m: None) -> list[Path]:
    """Build every (variant, dtype) model missing in ``folder``; return the paths built."""
    wanted = [(v, d, grid_model_path(folder, v, d)) for v in variants for d in dtypes]
    missing = [(v, d, p) for v, d, p in wanted if not p.exists()]
    if not missing:
        return []
    if not tensorflow_available():
        raise ModelError(how_to_build(folder, [p.name for _, _, p in missing]))
    log(f"building {len(missing)} missing model(s) in {folder} with RANDOM weights "
        "(right for latency, meaningless for accuracy)")
    built = []
    for variant, dtype, path in missing:
        build_latency_model(variant, path, dtype)
        log(f"built {path.name}")
        built.append(path)
    return built
