"""`edgenet eval`: top-1 / top-5 accuracy on a labelled folder."""

from __future__ import annotations

import argparse
import json
import sys

from edgenet.cli.common import add_crop_option, add_runtime_options, positive_int


def register(sub) -> None:
    p = sub.add_parser(
        "eval",
        help="top-1/top-5 accuracy of a model on a labelled image folder",
        description="Accuracy on an ImageFolder (one sub-folder per class, named by label, class number "
        "or ImageNet synset) or a flat folder with a file,class_index CSV (class_index without background; "
        "a ground_truth.csv inside the folder is used when --ground-truth is not given).",
    )
    p.add_argument("--model", metavar="NAME|PATH",
                   help="a model index name (pulled on first use) or a .tflite file; default: the pick of "
                   "`edgenet profile --target-fps` on this machine, else mobilenet_v1_050_160")
    p.add_argument("--labels", help="labels file (needed to match class folder names; default: the model index's)")
    p.add_argument("--images", required=True, metavar="DIR", help="image folder")
    p.add_argument("--ground-truth", metavar="CSV", help="file,class_index CSV for a flat folder (default: its ground_truth.csv)")
    add_crop_option(p)
    p.add_argument("--stretch", action="store_true",
                   help="crop 87.5%% of each side and stretch to the model's shape (TF-slim's eval protocol) "
                   "instead of an aspect-preserving crop")
    p.add_argument("--limit", type=positive_int, help="evaluate only the first N images")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of the table")
    p.add_argument("-o", "--output", metavar="REPORT.json", help="also write the JSON report here")
    p.add_argument("--compare", metavar="REPORT.json",
                   help="another model's report (-o) on the same images: the top-1 difference image by image, "
                   "with its 95 %% interval (e.g. int8 against its float model)")
    add_runtime_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from edgenet.evaluate import evaluate
    from edgenet.outputs import check_output_path
    from edgenet.report import print_eval_report

    if args.output:
        check_output_path(args.output, option="-o")  # before the model loads and every image is read
    other = read_report(args.compare) if args.compare else None

    report = evaluate(
        args.model, args.images, labels=args.labels, ground_truth=args.ground_truth, runtime=args.runtime,
        threads=args.threads, xnnpack=args.xnnpack, crop=args.crop, keep_aspect=not args.stretch, limit=args.limit,
    )
    for note in report.notes:
        print(f"edgenet: note: {note}", file=sys.stderr)
    for warning in report.warnings:
        print(f"edgenet: warning: {warning}", file=sys.stderr)
    data = report.as_dict()
    if other is not None:
        from edgenet.evaluate import paired_difference

        d = paired_difference(report.per_image, other["per_image"])
        data["compared_with"] = {"report": args.compare, "model": other.get("model"), "top1_points": round(d.points, 2),
                                 "interval_points": [round(d.low, 2), round(d.high, 2)],
                                 "only_this_right": d.only_a, "only_other_right": d.only_b}
    if args.output:
        with open(args.output, "w") as f:
            json.dump(data, f, indent=2)
    if args.json:
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_eval_report(report)
        if other is not None:
            print(f"against {other.get('model')}: top-1 {d.points:+.1f} points, 95 % interval {d.low:+.1f} to "
                  f"{d.high:+.1f} ({d.only_a} images only this model gets right, {d.only_b} only the other)")
    return 0


def read_report(path: str) -> dict:
    """An ``edgenet eval -o`` report with every image's result, or a one-line UsageError."""
    from edgenet.errors import UsageError

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise UsageError(f"--compare: cannot read {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UsageError(f"--compare: {path} is not JSON") from None
    rows = data.get("per_image") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows or not all(
            isinstance(r, dict) and isinstance(r.get("file"), str) and isinstance(r.get("class_index"), int)
            and isinstance(r.get("top5"), list) and r["top5"] for r in rows):
        raise UsageError(f"--compare: {path} is not an `edgenet eval -o` report with every image's result "
                         "(reports from before per_image cannot be compared)")
    return data
