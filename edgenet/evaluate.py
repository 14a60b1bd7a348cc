"""Top-1 / top-5 accuracy of a .tflite classifier on a folder of labelled images.

Two layouts:
- ImageFolder: one sub-folder per class, named like the class's label (``tabby``, ``tabby cat``,
  ``tabby_cat``; any comma-separated synonym of an ImageNet label works), by class number, or, for
  an ImageNet model (1000 or 1001 outputs), by WordNet synset as ImageNet's own folders are
  (``n01440764``);
- a flat folder with a CSV ``file,class_index`` (extra columns allowed). ``class_index`` counts
  classes without background (0..999 for ImageNet), as ImageNet's own ground truth does; for a
  1001-output model the background offset is added here. A ``ground_truth.csv`` in a folder without
  class sub-folders is used when no CSV is given.

Images go through the same ``preprocess`` as the live loop and calibration.
"""

from __future__ import annotations

import csv
import math
import os
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable

import cv2

from edgenet.errors import DatasetError
from edgenet.models import resolve_model
from edgenet.labels import has_background, load_labels
from edgenet.postprocess import top_k
from edgenet.preprocess import DEFAULT_CROP, preprocess
from edgenet.preprocess import describe as describe_preprocessing
from edgenet.board.manifest import environment
from edgenet.runtime import load_interpreter
from edgenet.sources import image_files, name_files


@dataclass
class EvalReport:
    model: str
    dataset: str
    count: int
    top1: float
    top5: float
    per_class: dict[str, dict]
    unreadable: list[str] = field(default_factory=list)
    seconds: float = 0.0
    environment: dict = field(default_factory=dict)
    crop: float = DEFAULT_CROP
    keep_aspect: bool = True
    ground_truth: str | None = None  # the CSV used, if any
    notes: list[str] = field(default_factory=list)  # things the user should know (said once by the CLI)
    warnings: list[str] = field(default_factory=list)  # things that went wrong but did not stop the run
    # Every scored image in order: {"file", "class_index", "top5"} (output indices, best first), so two
    # models scored on the same images can be compared image by image (paired_difference).
    per_image: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "ground_truth": self.ground_truth,
            "count": self.count,
            "top1": round(self.top1, 4),
            "top5": round(self.top5, 4),
            "preprocessing": describe_preprocessing(self.crop, self.keep_aspect),
            "per_class": self.per_class,
            "unreadable": self.unreadable,
            "seconds": round(self.seconds, 2),
            "environment": self.environment,
            "per_image": self.per_image,
        }


@dataclass(frozen=True)
class PairedDifference:
    """Top-1 of model a minus model b on the same images, in points, with its 95 % interval."""

    count: int  # images both scored
    only_a: int  # images a gets right and b wrong
    only_b: int  # and the other way round
    points: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.points:+.1f} [{self.low:+.1f}, {self.high:+.1f}]"

    def reversed(self) -> "PairedDifference":
        """b minus a: the same images and interval, seen from the other model (0.0 - x: no -0.0)."""
        return PairedDifference(self.count, self.only_b, self.only_a, 0.0 - self.points, 0.0 - self.high,
                                0.0 - self.low)


def _wilson(hits: int, n: int, z: float) -> tuple[float, float]:
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def paired_difference(a: list[dict], b: list[dict], z: float = 1.959964) -> PairedDifference:
    """Top-1 of ``a`` minus ``b`` (``EvalReport.per_image`` lists of the same images, in any order).

    Only the images one model gets right and the other wrong move the difference; their count, not
    the set's size, sets how far it can be trusted. The interval is Newcombe's hybrid score interval
    for paired proportions (Newcombe 1998, method 10, with his corrected correlation; Fagerland et al.
    2014 recommend it): it does not collapse to a point when the two models never disagree, as a
    bootstrap would."""
    right_a = {r["file"]: r["top5"][0] == r["class_index"] for r in a}
    right_b = {r["file"]: r["top5"][0] == r["class_index"] for r in b}
    if right_a.keys() != right_b.keys() or len(right_a) != len(a) or len(right_b) != len(b):
        raise DatasetError("the two evaluations did not score the same images")
    n = len(right_a)
    if n == 0:
        raise DatasetError("no images to compare")
    both = sum(right_a[f] and right_b[f] for f in right_a)
    only_a = sum(right_a[f] and not right_b[f] for f in right_a)
    only_b = sum(right_b[f] and not right_a[f] for f in right_a)
    neither = n - both - only_a - only_b
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    l1, u1 = _wilson(both + only_a, n, z)
    l2, u2 = _wilson(both + only_b, n, z)
    # The correlation of the two models' hits, with Newcombe's correction toward 0 when positive
    # (without it, two models that never disagree would get an interval of zero width).
    denominator = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    product = both * neither - only_a * only_b
    if product > 0:
        product = max(product - n / 2, 0.0)
    phi = product / math.sqrt(denominator) if denominator else 0.0
    below = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    above = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    d = p1 - p2
    return PairedDifference(n, only_a, only_b, 100 * d, 100 * (d - below), 100 * (d + above))


def _normalise(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("-", " ").lower().split())


def _label_lookup(labels: list[str]) -> dict[str, int]:
    """Every spelling of every label -> its output index. Ambiguous synonyms are left out."""
    lookup: dict[str, int] = {}
    ambiguous: set[str] = set()
    for index, label in enumerate(labels):
        names = {_normalise(label)} | {_normalise(part) for part in label.split(",") if part.strip()}
        for name in names:
            if name in lookup and lookup[name] != index:
                ambiguous.add(name)
            lookup.setdefault(name, index)
    for name in ambiguous:
        del lookup[name]
    # the full label wins over a clashing synonym
    for index, label in enumerate(labels):
        lookup[_normalise(label)] = index
    return lookup


_SYNSET = re.compile(r"^n\d{8}$")
IMAGENET_CLASSES = 1000
GROUND_TRUTH_NAME = "ground_truth.csv"


@lru_cache(maxsize=1)
def imagenet_synsets() -> dict[str, int]:
    """ImageNet's 1000 WordNet ids -> class index (0..999, without background).

    ILSVRC 2012 numbers its classes in sorted synset order, which every ImageNet model and labels
    file follows (class 0 = n01440764 tench); ``edgenet/data/imagenet_synsets.txt`` lists them in
    that order.
    """
    from importlib.resources import files

    text = files("edgenet").joinpath("data", "imagenet_synsets.txt").read_text(encoding="utf-8")
    return {line.strip(): i for i, line in enumerate(text.split()) if line.strip()}


def class_folders(images: str) -> list[str]:
    return sorted(d for d in os.listdir(images) if os.path.isdir(os.path.join(images, d)))


def find_ground_truth(images: str) -> str | None:
    """``ground_truth.csv`` inside a flat image folder (no class sub-folders), else None."""
    if not os.path.isdir(images) or class_folders(images):
        return None
    path = os.path.join(images, GROUND_TRUTH_NAME)
    return path if os.path.isfile(path) else None


def list_samples(images: str, labels: list[str], ground_truth: str | None = None) -> list[tuple[str, int]]:
    """(image path, output index) pairs for a dataset folder."""
    if not os.path.isdir(images):
        raise DatasetError(f"image folder not found: {images}")
    offset = 1 if has_background(labels) else 0
    if ground_truth is not None:
        return _from_csv(images, ground_truth, offset, len(labels))
    classes = class_folders(images)
    if not classes:
        raise DatasetError(f"{images} has no class sub-folders; give --ground-truth CSV for a flat folder")
    lookup = _label_lookup(labels)
    imagenet = len(labels) - offset == IMAGENET_CLASSES
    samples, unknown = [], []
    for folder in classes:
        key = _normalise(folder)
        if key in lookup:
            index = lookup[key]
        elif folder.isdigit() and int(folder) + offset < len(labels):
            index = int(folder) + offset
        elif imagenet and _SYNSET.match(folder) and folder in imagenet_synsets():
            index = imagenet_synsets()[folder] + offset
        else:
            unknown.append(folder)
            continue
        samples += [(path, index) for path in image_files(os.path.join(images, folder))]
    if unknown:
        shown = ", ".join(unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        hint = ""
        if not imagenet and any(_SYNSET.match(u) for u in unknown):
            hint = (f" (ImageNet synset folders such as {next(u for u in unknown if _SYNSET.match(u))} name "
                    f"ImageNet classes: they need a 1000- or 1001-output ImageNet model, this one has {len(labels)})")
        raise DatasetError(f"{len(unknown)} class folder(s) match no label in the labels file: {shown}{hint}")
    if not samples:
        raise DatasetError(f"no images in the class folders of {images}")
    return samples


def _from_csv(images: str, path: str, offset: int, classes: int) -> list[tuple[str, int]]:
    if not os.path.isfile(path):
        raise DatasetError(f"ground-truth CSV not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's UTF-8 starts with a BOM
        rows = list(csv.reader(f))
    if not rows:
        raise DatasetError(f"ground-truth CSV is empty: {path}")
    header = [h.strip().lower() for h in rows[0]]
    if "file" in header and "class_index" in header:
        fi, ci = header.index("file"), header.index("class_index")
        rows, first_line = rows[1:], 2
    else:
        fi, ci, first_line = 0, 1, 1
    samples = []
    for n, row in enumerate(rows, start=first_line):
        if not row or not "".join(row).strip():
            continue
        try:
            name, index = row[fi].strip(), int(row[ci]) + offset
        except (IndexError, ValueError):
            raise DatasetError(f"{path} line {n}: expected file,class_index, got {','.join(row)!r}") from None
        if not 0 <= index < classes:
            raise DatasetError(f"{path} line {n}: class_index {index - offset} is outside the model's classes")
        full = os.path.join(images, name)
        if not os.path.isfile(full):
            raise DatasetError(f"{path} line {n}: image {full} not found")
        samples.append((full, index))
    if not samples:
        raise DatasetError(f"ground-truth CSV has no rows: {path}")
    return samples


def evaluate(
    model_path: str | None,
    images: str,
    labels: str | None = None,
    ground_truth: str | None = None,
    runtime: str = "auto",
    threads: int | None = None,
    xnnpack: bool = True,
    crop: float = DEFAULT_CROP,
    keep_aspect: bool = True,
    limit: int | None = None,
    log: Callable[[str], None] | None = None,
) -> EvalReport:
    """Top-1/top-5 of ``model_path`` (a .tflite path, a model index name, or None for the default model:
    the profiler's saved pick, else the index's default; ``log`` hears which and why) on ``images``."""
    if not os.path.isdir(images):
        raise DatasetError(f"image folder not found: {images}")
    resolved = resolve_model(model_path, log=log or _stderr)
    model = load_interpreter(str(resolved.path), runtime=runtime, threads=threads, xnnpack=xnnpack)
    labels = labels if labels is not None else (str(resolved.labels) if resolved.labels else None)
    label_list = load_labels(labels, model.classes)
    notes = []
    if ground_truth is None:
        ground_truth = find_ground_truth(images)
        if ground_truth is not None:
            notes.append(f"using {ground_truth} as the ground truth (found in the image folder)")
    samples = list_samples(images, label_list, ground_truth)
    if limit is not None:
        samples = samples[:limit]
    per_class: dict[str, dict] = {}
    per_image: list[dict] = []
    hits1 = hits5 = 0
    unreadable = []
    started = time.perf_counter()
    for path, truth in samples:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            unreadable.append(path)
            continue
        best = top_k(model.run(preprocess(image, model.input_spec, crop, keep_aspect)), 5)
        in1, in5 = bool(best[0] == truth), bool(truth in best)
        per_image.append({"file": os.path.abspath(path), "class_index": int(truth), "top5": [int(i) for i in best]})
        hits1 += in1
        hits5 += in5
        row = per_class.setdefault(label_list[truth], {"index": truth, "count": 0, "top1": 0, "top5": 0})
        row["count"] += 1
        row["top1"] += in1
        row["top5"] += in5
    count = len(samples) - len(unreadable)
    if count == 0:
        raise DatasetError(f"none of the {len(samples)} images in {images} could be read: {name_files(unreadable)}")
    warnings = []
    if unreadable:
        warnings.append(f"skipped {len(unreadable)} unreadable image(s): {name_files(unreadable)}")
    for row in per_class.values():
        row["top1"] = round(row["top1"] / row["count"], 4)
        row["top5"] = round(row["top5"] / row["count"], 4)
    return EvalReport(
        model=os.path.abspath(resolved.path), dataset=os.path.abspath(images), count=count,
        top1=hits1 / count, top5=hits5 / count, per_class=per_class, unreadable=unreadable,
        seconds=time.perf_counter() - started, environment=environment(model), crop=crop, keep_aspect=keep_aspect,
        ground_truth=None if ground_truth is None else os.path.abspath(ground_truth), notes=notes,
        warnings=warnings, per_image=per_image,
    )


def _stderr(message: str) -> None:
    import sys

    print(f"edgenet: {message}", file=sys.stderr, flush=True)
