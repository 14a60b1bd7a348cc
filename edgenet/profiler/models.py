"""Which models to profile: a folder of .tflite files, or the 16-variant grid from the model cache.

Each model is identified by the variant its file name encodes (edgenet.variants); others are
profiled too, just without published accuracy or a cost for prediction.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edgenet.errors import ModelError
from edgenet.profiler.build import NO_BUILDER, GridBuilder, build_missing, grid_model_path
from edgenet.profiler.predict import mult_adds
from edgenet.runtime import check_model_file
from edgenet.variants import Variant, standard_variants, variant_from_model_name

_FLOAT_HINT = re.compile(r"(^|_)(float|float32|fp32|f32)(_|$)")
_INT_HINT = re.compile(r"(^|_)(int8|uint8|quant|q8)(_|$)")


@dataclass(frozen=True)
class ModelEntry:
    path: str
    name: str  # the file stem: what tables and reports call it
    variant: Variant | None
    precision: str  # "int8" (any 8-bit quantized model) or "float32"
    mult_adds: int | None
    classes: int | None = None
    io: str | None = None  # the input tensor's type ("uint8", "int8", "float32") when the model was read

    @property
    def shown_precision(self) -> str:
        """What tables call it: uint8 for a quantized model with uint8 I/O (Google's official ones)."""
        if self.precision == "float32":
            return "f32"
        return "uint8" if self.io == "uint8" else "int8"


def _precision_from_name(stem: str) -> str | None:
    if _FLOAT_HINT.search(stem):
        return "float32"
    if _INT_HINT.search(stem):
        return "int8"
    return None


def _inspect(path: str) -> tuple[str, int, str]:
    """(precision, classes, input type) from the model itself."""
    from edgenet.runtime import load_interpreter

    model = load_interpreter(path, threads=1)
    dtype = model.input_spec.dtype
    return ("float32" if dtype == "float32" else "int8"), model.classes, dtype


def model_entry(path: str) -> ModelEntry:
    check_model_file(path)
    stem = Path(path).stem
    variant = variant_from_model_name(os.path.basename(path))
    # Classes decide the cost (1000 vs a custom head), the input type what tables call it; one load
    # is ~10 ms, done once.
    precision_seen, classes, io = _inspect(path)
    precision = _precision_from_name(stem) or precision_seen
    # TF-slim/hosted models have 1001 outputs (background); the cost table counts 1000.
    cost_classes = 1000 if classes in (None, 1000, 1001) else classes
    return ModelEntry(str(path), stem, variant, precision, mult_adds(variant, cost_classes), classes, io)


def models_in(folder: str) -> tuple[list[ModelEntry], list[str]]:
    """The classifiers in ``folder`` and one line per file that is skipped (not a usable classifier)."""
    if not os.path.isdir(folder):
        raise ModelError(f"--models {folder}: not a folder; give a folder of .tflite files")
    paths = sorted(str(p) for p in Path(folder).glob("*.tflite"))
    entries, skipped = [], []
    for path in paths:
        try:
            entries.append(model_entry(path))
        except ModelError as exc:  # one bad file should not cost the whole profile
            skipped.append(f"skipped {os.path.basename(path)}: {exc}")
    if not entries:
        hint = f" ({'; '.join(skipped)})" if skipped else ""
        raise ModelError(f"no usable .tflite classifier in {folder}{hint}; build models first or use --grid")
    return entries, skipped


def models_from(items: tuple[str, ...] | list[str], log: Callable[[str], None] = lambda m: None
                ) -> tuple[list[ModelEntry], list[str]]:
    """``--models`` items: folders of .tflite files, .tflite files, or model index names (pulled on first use)."""
    from edgenet.models import looks_like_path, resolve_model

    entries: list[ModelEntry] = []
    skipped: list[str] = []
    for item in items:
        if os.path.isdir(item):
            found, skip = models_in(item)
            entries += found
            skipped += skip
        elif looks_like_path(item) and not os.path.isfile(item):
            raise ModelError(f"--models {item}: not a folder or a .tflite file; give folders, .tflite files or "
                             "model index names (`edgenet models list`)")
        else:
            entries.append(model_entry(str(resolve_model(item, log=log).path)))
    unique = {os.path.realpath(e.path): e for e in entries}
    return list(unique.values()), skipped


def grid_models(cache: str | os.PathLike, precisions: tuple[str, ...] = ("int8",), *,
                builder: GridBuilder | None = None, reason: str = NO_BUILDER, only: list[Variant] | None = None,
                log: Callable[[str], None] = lambda m: None) -> list[ModelEntry]:
    """The standard 16 variants (or ``only`` these) from ``cache``; missing ones are built with ``builder``
    (a ModelError saying how to build them elsewhere without one; ``reason`` says why there is none)."""
    variants = only if only is not None else standard_variants()
    build_missing(cache, variants, precisions, builder=builder, reason=reason, log=log)
    return [model_entry(str(grid_model_path(cache, v, p))) for v in variants for p in precisions]


def official_models(precisions: tuple[str, ...] = ("int8",), *, only: list[Variant] | None = None,
                    log: Callable[[str], None] = lambda m: None) -> list[ModelEntry]:
    """The official pretrained models of the standard variants (or ``only`` these), from the model index:
    pulled into the cache (sha256-checked) when missing. Their accuracy is the published one, for real."""
    from edgenet.models import index_name, load_index, pull_model

    index = load_index()
    variants = only if only is not None else standard_variants()
    names = [index_name(v, p) for v in variants for p in precisions]
    missing = [n for n in names if index.get(n) is None]
    if missing:
        raise ModelError(f"the model index ({index.source}) has no {', '.join(missing[:3])}"
                         f"{' and more' if len(missing) > 3 else ''}; unset EDGENET_MODEL_INDEX for the official "
                         "models, or profile --grid --random-weights")
    entries = []
    for name in names:
        hit = pull_model(index.require(name), log=log)
        entries.append(model_entry(str(hit.path)))
    return entries
