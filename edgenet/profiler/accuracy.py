"""Accuracy for ranking variants: measured (``edgenet eval`` JSON) first, else the published table.

``--accuracy FILE`` takes what ``edgenet eval --json``/``-o`` writes (one report, or a list of
reports), or a plain mapping ``{"model or variant name": top1}`` with top-1 as a fraction (0.572)
or in percent (57.2). A report is matched to a profiled model by file name, then by variant and
precision, so an eval of the real ``mobilenet_v1_0.5_160_quant.tflite`` ranks a random-weight
``mobilenet_v1_050_160_int8.tflite`` built for latency.

One kind of figure at a time (:func:`check_one_kind`): measured top-1 on a 100-image set and the
published full-ImageNet table differ by more than the variants differ from each other (the shared
imagenet-100 gives 0.75/192 83 % against a published 66 %), so a ranking that mixes them picks
whichever model happened to be measured. Mixing is refused, and so are evaluations on different
image sets.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from edgenet.errors import UsageError
from edgenet.profiler.models import ModelEntry, _precision_from_name
from edgenet.variants import variant_from_model_name


@dataclass(frozen=True)
class AccuracyTable:
    by_name: dict[str, float] = field(default_factory=dict)  # file stem -> top-1 %
    by_variant: dict[tuple[str, str], float] = field(default_factory=dict)  # (variant, precision) -> %
    source: str = "eval"
    datasets: dict[str, str] = field(default_factory=dict)  # file stem or variant/precision -> image set

    def dataset_of(self, entry: ModelEntry) -> str | None:
        if entry.name in self.by_name:
            return self.datasets.get(entry.name)
        if entry.variant is not None:
            return self.datasets.get(f"{entry.variant.name}/{entry.precision}")
        return None

    def lookup(self, entry: ModelEntry) -> tuple[float | None, str | None]:
        """(top-1 percent, where it came from) for a model."""
        if entry.name in self.by_name:
            return self.by_name[entry.name], self.source
        if entry.variant is not None:
            key = (entry.variant.name, entry.precision)
            if key in self.by_variant:
                return self.by_variant[key], self.source
            published = entry.variant.published
            if published is not None and entry.classes in (None, 1000, 1001):
                # Published numbers belong to the trained 1000-class ImageNet models; a float model
                # is ranked by the float column, an 8-bit one by the quantized column.
                if entry.precision == "float32":
                    return published.top1_float, "published (float)"
                return published.top1_quant, "published (int8)"
        return None, None


def _percent(value, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 100:
        raise UsageError(f"{where}: accuracy must be a number in [0, 1] or [0, 100], got {value!r}")
    return float(value) * 100 if value <= 1.0 else float(value)


def load_accuracy(paths: list[str] | tuple[str, ...]) -> AccuracyTable:
    by_name: dict[str, float] = {}
    by_variant: dict[tuple[str, str], float] = {}

    datasets: dict[str, str] = {}

    def add(model_name: str, value, where: str, dataset: str | None = None) -> None:
        top1 = _percent(value, where)
        base = os.path.basename(str(model_name))
        stem = base[:-7] if base.endswith(".tflite") else base
        by_name[stem] = top1
        if dataset:
            datasets[stem] = dataset
        variant = variant_from_model_name(base)
        if variant is not None:
            precision = _precision_from_name(stem) or "int8"
            by_variant[(variant.name, precision)] = top1
            if dataset:
                datasets[f"{variant.name}/{precision}"] = dataset

    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
        except OSError as exc:
            raise UsageError(f"--accuracy {path}: cannot read ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise UsageError(f"--accuracy {path}: not JSON ({exc.msg} at line {exc.lineno}); "
                             "give the output of `edgenet eval --json`") from None
        reports = data if isinstance(data, list) else [data]
        for report in reports:
            if isinstance(report, dict) and "model" in report and "top1" in report:
                data_set = f"{report['dataset']} ({report.get('count', '?')} images)" if report.get("dataset") else None
                add(report["model"], report["top1"], path, data_set)
            elif isinstance(report, dict) and report and all(isinstance(k, str) for k in report):
                for key, value in report.items():
                    add(key, value, f"{path} [{key}]")
            else:
                raise UsageError(f"--accuracy {path}: expected `edgenet eval --json` output (with 'model' and "
                                 "'top1'), a list of them, or a {model: top1} mapping")
    return AccuracyTable(by_name, by_variant, datasets=datasets)


def check_one_kind(table: AccuracyTable, entries: list[ModelEntry]) -> None:
    """Refuse a ranking that mixes measured and published figures, or measurements on different image sets."""
    looked = [(e, *table.lookup(e)) for e in entries]
    measured = sorted({e.name for e, top1, src in looked if top1 is not None and src == table.source})
    published = sorted({e.name for e, top1, src in looked if top1 is not None and src != table.source})
    if measured and published:
        raise UsageError(
            f"--accuracy measures {len(measured)} model(s) ({', '.join(measured[:3])}{' ...' if len(measured) > 3 else ''}) "
            f"and {len(published)} other(s) would be ranked by published ImageNet figures "
            f"({', '.join(published[:3])}{' ...' if len(published) > 3 else ''}); the two are not comparable: "
            "evaluate every model on the same images (`edgenet eval --model M --images DIR -o M.json`) or drop "
            "--accuracy to rank all by the published table")
    sets = {}
    for e, top1, src in looked:
        if top1 is not None and src == table.source and table.dataset_of(e):
            sets.setdefault(table.dataset_of(e), []).append(e.name)
    if len(sets) > 1:
        shown = "; ".join(f"{names[0]} on {ds}" for ds, names in sorted(sets.items())[:3])
        raise UsageError(f"--accuracy holds evaluations on {len(sets)} different image sets ({shown}); "
                         "evaluate every model on the same images")
