"""Option groups shared by several verbs, so every verb spells them the same way."""

from __future__ import annotations

import argparse

from edgenet.preprocess import DEFAULT_CROP
from edgenet.runtime import RUNTIME_CHOICES


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _float(text: str, allow_zero: bool) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        raise argparse.ArgumentTypeError(f"expected a number {'>=' if allow_zero else '>'} 0, got {text}")
    return value


def positive_float(text: str) -> float:
    return _float(text, allow_zero=False)


def non_negative_float(text: str) -> float:
    return _float(text, allow_zero=True)


def add_runtime_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("interpreter")
    g.add_argument("--runtime", choices=RUNTIME_CHOICES, default="auto",
                   help="TFLite interpreter: ai-edge-litert, tflite-runtime or tensorflow.lite (default: first installed)")
    g.add_argument("--threads", type=positive_int, default=None, help="interpreter threads (default: all cores)")
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
