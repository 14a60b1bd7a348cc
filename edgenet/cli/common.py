"""Option groups shared by several verbs, so every verb spells them the same way."""

from __future__ import annotations

import argparse
import math

from edgenet.limits import MAX_CLASSES, MAX_SECONDS, MAX_THREADS
from edgenet.preprocess import DEFAULT_CROP
from edgenet.runtime import RUNTIME_CHOICES


# The one home of every numeric option's rule: a value argparse lets through is one the library can use
# (the bounds themselves are edgenet.limits', which the library checks too).


def _int(text: str, low: int, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected a number >= {low}, got {value}")
    if high is not None and value > high:
        raise argparse.ArgumentTypeError(f"expected a number <= {high}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _int(text, 1)


def non_negative_int(text: str) -> int:
    return _int(text, 0)


def seed(text: str) -> int:
    """A random seed: numpy and TensorFlow take 0 .. 2**32 - 1."""
    return _int(text, 0, 2**32 - 1)


def port(text: str) -> int:
    return _int(text, 1, 65535)


def thread_count(text: str) -> int:
    return _int(text, 1, MAX_THREADS)


def decode_thread_count(text: str) -> int:
    return _int(text, 0, MAX_THREADS)


def thread_list(text: str) -> tuple[int, ...]:
    """'1,2,4' or '1-4' -> (1, 2, 4) / (1, 2, 3, 4)."""
    try:
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-", 1))
            values = tuple(range(lo, min(hi, MAX_THREADS + 1) + 1))
        else:
            values = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected thread counts like 1,2,4 or 1-4, got {text!r}") from None
    if not values or min(values) < 1 or max(values) > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"thread counts must be in 1..{MAX_THREADS}, got {text!r}")
    return tuple(sorted(set(values)))


def class_count(text: str) -> int:
    return _int(text, 1, MAX_CLASSES)


def _float(text: str, allow_zero: bool, maximum: float | None = None) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise argparse.ArgumentTypeError(f"expected a number {'>=' if allow_zero else '>'} 0, got {text}")
    if maximum is not None and value > maximum:
        raise argparse.ArgumentTypeError(f"expected a number <= {maximum:g}, got {text}")
    return value


def positive_float(text: str) -> float:
    return _float(text, allow_zero=False)


def non_negative_float(text: str) -> float:
    return _float(text, allow_zero=True)


def seconds(text: str) -> float:
    """A duration or timeout: > 0 and at most a year (a clock in nanoseconds must hold it)."""
    return _float(text, allow_zero=False, maximum=MAX_SECONDS)


def non_negative_seconds(text: str) -> float:
    return _float(text, allow_zero=True, maximum=MAX_SECONDS)


def fraction(text: str) -> float:
    """A number in [0, 1]."""
    return _float(text, allow_zero=True, maximum=1.0)


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("interpreter")
    g.add_argument("--runtime", choices=RUNTIME_CHOICES, default="auto",
                   help="TFLite interpreter: ai-edge-litert, tflite-runtime or tensorflow.lite (default: first installed)")
    g.add_argument("--threads", type=thread_count, default=None, help="interpreter threads (default: all cores)")
    g.add_argument("--no-xnnpack", dest="xnnpack", action="store_false",
                   help="run without the XNNPACK delegate (for comparison)")


def add_crop_option(parser: argparse.ArgumentParser, note: str = "") -> None:
    parser.add_argument("--crop", type=float, default=DEFAULT_CROP,
                        help=f"central crop fraction before resizing{note} (default {DEFAULT_CROP})")


def add_source_options(parser: argparse.ArgumentParser, source_help: str) -> None:
    """``--camera N`` or ``--source URI``, one of them required; ``source_uri`` reads them."""
    g = parser.add_mutually_exclusive_group(required=True)
    g.add_argument("--camera", type=int, metavar="N",
                   help="camera number (picamera2 on a Pi, Argus on a Jetson, else V4L2)")
    g.add_argument("--source", metavar="URI", help=source_help)


def source_uri(args: argparse.Namespace) -> str:
    """The source URI of ``--source``, or what ``--camera N`` means on this board."""
    if args.camera is None:
        return args.source
    from edgenet.board.camera import camera_uri

    return camera_uri(args.camera)
