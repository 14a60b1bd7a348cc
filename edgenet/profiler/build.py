"""Build missing grid models for latency profiling (random weights; needs TensorFlow).

This is the only place in ``edgenet`` that touches TensorFlow, and only inside the functions: a
board without TensorFlow imports this module safely and gets a message saying how to build the
models on the workstation instead.

Random weights give the same graph, the same ops and the same tensor sizes as trained weights, so
latency is representative; accuracy is not, which is why profiles of these models take accuracy
from the published table or from ``edgenet eval`` results of the real models.

The building itself is the calibration package's (``calibration.grid.build_variant``): one builder
in the tree, imported only when a model is actually missing.
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


def build_latency_model(variant: Variant, path: str | os.PathLike, dtype: str = "int8", classes: int = 1000,
                        seed: int = 0) -> Path:
    """Write a random-weight MobileNet V1 ``variant`` as a .tflite (full int8 with int8 I/O, or float32)
    with the workstation's one builder (``calibration.grid.build_variant``)."""
    if dtype not in DTYPES:
        raise ModelError(f"cannot build dtype {dtype!r}; choose from {', '.join(DTYPES)}")
    if not tensorflow_available():
        raise ModelError(how_to_build(Path(path).parent, [Path(path).name]))
    from calibration.grid import build_variant, random_samples

    # A few random samples give every tensor a range; the ranges do not matter for latency.
    samples = random_samples(variant.resolution, 4, seed) if dtype == "int8" else None
    return build_variant(variant, path, weights="random", samples=samples, precision=dtype, io="int8",
                         classes=classes, seed=seed)


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
