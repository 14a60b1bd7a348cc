"""Grid models for latency profiling: where they live, which are missing, and building those with a
builder the caller gives.

``edgenet`` holds no model builder (building needs TensorFlow, the workstation side): the CLI verb
passes ``calibration.grid.build_latency_model`` when the workstation packages and TensorFlow are
installed, and nothing on a board, which then gets a message saying how to build the models on the
workstation instead.

Random weights give the same graph, the same ops and the same tensor sizes as trained weights, so
latency is representative; accuracy is not, which is why profiles of these models take accuracy
from the published table or from ``edgenet eval`` results of the real models.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

from edgenet.cache import cache_dir
from edgenet.errors import ModelError
from edgenet.sources import name_files
from edgenet.variants import Variant

# Builds one random-weight latency model of ``variant`` at ``path`` in ``precision`` and returns the path.
GridBuilder = Callable[[Variant, Path, str], Path]
NO_BUILDER = "TensorFlow is not installed here"


def default_cache_dir() -> Path:
    """Where random-weight grid models are kept between runs: builds/latency in edgenet's one cache."""
    return cache_dir("builds") / "latency"


def grid_model_path(folder: str | os.PathLike, variant: Variant, dtype: str = "int8") -> Path:
    return Path(folder) / variant.model_filename(dtype)


def how_to_build(folder: str | os.PathLike, missing: list[str], reason: str = NO_BUILDER) -> str:
    shown = name_files(missing, 4)
    return (
        f"{len(missing)} grid model(s) missing in {folder} ({shown}) and {reason}; "
        "build them on the workstation with `pip install 'edgenet[host]'` and "
        f"`edgenet profile --grid --build-only --model-cache DIR`, then copy DIR to {folder} on the board "
        "(e.g. rsync -a DIR/ board:" + str(folder) + "/), or use --predict-only (needs only 3 models)"
    )


def build_missing(folder: str | os.PathLike, variants: Iterable[Variant], dtypes: Iterable[str] = ("int8",), *,
                  builder: GridBuilder | None, reason: str = NO_BUILDER,
                  log: Callable[[str], None] = lambda m: None) -> list[Path]:
    """Build every (variant, dtype) model missing in ``folder`` with ``builder``; return the paths built.

    Without a builder, missing models are a ModelError saying how to build them elsewhere.
    """
    wanted = [(v, d, grid_model_path(folder, v, d)) for v in variants for d in dtypes]
    missing = [(v, d, p) for v, d, p in wanted if not p.exists()]
    if not missing:
        return []
    if builder is None:
        raise ModelError(how_to_build(folder, [p.name for _, _, p in missing], reason))
    log(f"building {len(missing)} missing model(s) in {folder} with RANDOM weights "
        "(right for latency, meaningless for accuracy)")
    built = []
    for variant, dtype, path in missing:
        builder(variant, path, dtype)
        log(f"built {path.name}")
        built.append(path)
    return built
