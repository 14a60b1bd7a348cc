"""Class labels: read a labels file and line it up with the model's output.

ImageNet models come with 1000 or 1001 outputs (1001: index 0 is "background"), and labels files
come with or without the background line and with or without ``N label`` prefixes. This module
accepts every combination that is unambiguous and refuses the rest with a clear message.
"""

from __future__ import annotations

import os
import re

from edgenet.errors import LabelsError

_PREFIX = re.compile(r"^\s*(\d+)[\s:,]+(.*\S)\s*$")
BACKGROUND = "background"


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


def align_labels(labels: list[str], classes: int, source: str = "labels") -> list[str]:
    """Labels indexed like the model's output (length ``classes``)."""
    n = len(labels)
    if n == classes:
        return labels
    if classes == n + 1:
        # A 1001-output model with a 1000-line file: index 0 is the background class.
        return [BACKGROUND] + labels
    if n == classes + 1 and labels[0].strip().lower() in (BACKGROUND, "__background__", "???", "unknown"):
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
