"""`edgenet train`: fine-tune MobileNet V1 on your ImageFolder (workstation; needs edgenet[host])."""

from __future__ import annotations

import argparse
import json
import sys

from edgenet.cli.common import fraction, positive_float, positive_int, seconds, seed


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="fine-tune a MobileNet V1 variant on an ImageFolder of your classes (.keras for `edgenet build`)",
        description="Train on DIR/<class>/<images> with augmentation and a validation split, from ImageNet "
        "weights when they can be downloaded (else from scratch). Saves a .keras, its labels "
        "(NAME.labels.txt) and the training history (NAME.train.json). Exit code 1 when the model is no "
        "better than chance on the validation images (it is saved anyway, with a warning).",
    )
    p.add_argument("--data", required=True, metavar="DIR", help="ImageFolder: one sub-folder of images per class")
    p.add_argument("--alpha", type=float, help="width multiplier (default 0.25, or the --weights .tflite's)")
    p.add_argument("--resolution", type=positive_int, default=96, help="input size (default 96)")
    p.add_argument("--weights", default="auto", help="auto (ImageNet if available, else scratch), imagenet, random, "
                   "a .keras to continue, or a MobileNet V1 .tflite / model name (its ImageNet features, at any --resolution)")
    p.add_argument("--epochs", type=positive_int, default=8)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--learning-rate", type=positive_float,
                   help="Adam's starting rate, cosine-decayed to 0 (default 5e-3 from scratch, 1e-3 from pretrained weights)")
    p.add_argument("--validation-split", type=fraction, default=0.2)
    p.add_argument("--no-augment", dest="augment", action="store_false", help="no flips/shifts/zoom crops")
    p.add_argument("--max-seconds", type=seconds, help="stop after the epoch that passes this time budget")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--json", action="store_true", help="print the training summary as JSON")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.keras")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from calibration.train import TrainConfig, train

    def progress(epoch, total, logs):
        if not args.json:
            vals = "  ".join(f"{k} {v:.3f}" for k, v in sorted(logs.items()))
            print(f"epoch {epoch}/{total}  {vals}", flush=True)

    result = train(
        TrainConfig(args.data, args.output, alpha=args.alpha, resolution=args.resolution, weights=args.weights,
                    epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
                    validation_split=args.validation_split, augment=args.augment, seed=args.seed,
                    max_seconds=args.max_seconds),
        progress=progress, log=lambda m: print(f"edgenet: note: {m}", file=sys.stderr),
    )
    code = 1 if result.warnings else 0
    if args.json:
        json.dump(result.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        acc = f", validation accuracy {result.val_accuracy:.1%}" if result.val_accuracy is not None else ""
        print(f"wrote {result.model} ({len(result.classes)} classes, {result.train_samples} training images, "
              f"from {result.weights} weights{acc}) and {result.labels}")
    for warning in result.warnings:
        print(f"edgenet: warning: {warning}", file=sys.stderr)
    return code
