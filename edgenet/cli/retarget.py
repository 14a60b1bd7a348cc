"""`edgenet retarget`: a MobileNet V1 .tflite at another input resolution, on the board (no TensorFlow)."""

from __future__ import annotations

import argparse
import json
import sys

from edgenet.cli.common import positive_int


def register(sub) -> None:
    p = sub.add_parser(
        "retarget",
        help="rewrite a MobileNet V1 .tflite for another input resolution, weights and quantization kept (no TensorFlow)",
        description="Rewrites the model's input size, feature-map shapes and pooling window in the flatbuffer; "
        "every weight and quantization parameter is kept. Works on the board: one pretrained model, any "
        "resolution (measure it with `edgenet eval`; the activation ranges were calibrated at the original one).",
    )
    p.add_argument("model", metavar="MODEL.tflite", help="a MobileNet V1 .tflite (official, or edgenet build's)")
    p.add_argument("--resolution", type=positive_int, required=True, help="new input size, a multiple of 8 >= 32")
    p.add_argument("-o", "--output", help="output .tflite (default: beside MODEL, named after the new variant)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from edgenet.retarget import retarget

    r = retarget(args.model, args.resolution, args.output)
    if args.json:
        json.dump(r.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"wrote {r.model} ({r.variant}, {r.precision}, from {r.from_resolution} px; "
          f"{r.tensors_reshaped} feature-map shapes rewritten, weights and quantization unchanged)")
    return 0
