"""Class labels: read a labels file and line it up with the model's output.

ImageNet models come with 1000 or 1001 outputs (1001: index 0 is "background"), and labels files
come with or without the background line and with or without ``N label`` prefixes. This module
accepts the combinations whose meaning is certain and refuses the rest in one line with both counts:
a labels file that is one line off would otherwise label every class with its neighbour's name.
"""

from __future__ import annotations

import os
import re

from edgenet.errors import LabelsError

_PREFIX = re.compile(r"^\s*(\d+)[\s:,]+(.*\S)\s*$")
BACKGROUND = "background"
BACKGROUND_NAMES = (BACKGROUND, "__background__", "???", "unknown")
IMAGENET_WITH_BACKGROUND = 1001  # TF-slim's ImageNet models: index 0 is the background class


def read_labels_file(path: str) -> list[str]:
    """Lines of a labels file, stripped, with ``N label`` / ``N: label`` prefixes removed.

    Prefixes are removed only when every line has one and the numbers count up by one, so a label
    that merely starts with a digit is kept as it is.
    """
    if not os.path.isfile(path):
        raise LabelsError(f"labels file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except UnicodeDecodeError:
        raise LabelsError(f"{path} is not a UTF-8 text file of labels") from None
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise LabelsError(f"labels file is empty: {path}")
    matches = [_PREFIX.match(line) for line in lines]
    if all(matches):
        numbers = [int(m.group(1)) for m in matches]
        if numbers == list(range(numbers[0], numbers[0] + len(numbers))):
            lines = [m.group(2) for m in matches]
    return lines


def is_background(label: str) -> bool:
    return label.strip().lower() in BACKGROUND_NAMES


def align_labels(labels: list[str], classes: int, source: str = "labels") -> list[str]:
    """Labels indexed like the model's output (length ``classes``).

    Only layouts whose meaning is certain are accepted: one label per output, and ImageNet's two
    conventions (a 1001-output model has the background class at 0, a 1000-output one has none), so a
    1000-line file fits a 1001-output model and a 1001-line file whose first line is the background
    fits a 1000-output model. Anything else (1002 lines for 1001 outputs, a background line that is not
    the first) would shift every label by one: refused, with both counts.
    """
    n = len(labels)
    backgrounds = [i for i, label in enumerate(labels) if is_background(label)]
    stray = [i for i in backgrounds if i != 0]
    if stray:
        raise LabelsError(
            f"{source} has {n} labels for the model's {classes} outputs, with a background line at line "
            f"{stray[0] + 1}: only the first line may be the background; use the labels file made for this model"
        )
    if n == classes:
        return labels
    if classes == IMAGENET_WITH_BACKGROUND and n == classes - 1 and not backgrounds:
        return [BACKGROUND] + labels
    if classes == IMAGENET_WITH_BACKGROUND - 1 and n == classes + 1 and backgrounds == [0]:
        return labels[1:]
    raise LabelsError(
        f"{source} has {n} labels but the model has {classes} outputs; use the labels file made for this model"
    )


def load_labels(path: str | None, classes: int) -> list[str]:
    """Labels for a model with ``classes`` outputs; without a file, ``class N`` names (for 1001
    outputs, ``background`` and then ImageNet's ``class 0`` to ``class 999``)."""
    if path is None:
        if classes == 1001:
            return [BACKGROUND] + [f"class {i}" for i in range(1000)]
        return [f"class {i}" for i in range(classes)]
    return align_labels(read_labels_file(path), classes, source=path)


def has_background(labels: list[str]) -> bool:
    return bool(labels) and labels[0].strip().lower() == BACKGROUND
