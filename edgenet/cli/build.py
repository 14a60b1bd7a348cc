"""`edgenet build`: a MobileNet V1 variant as a full-int8 (or float) .tflite, on the workstation."""

from __future__ import annotations

import argparse
import json
import sys

from edgenet.cli.common import class_count, positive_int

# float vs int8 top-1 on held-out calibration samples, for a model of a few classes; for 1000-class
# models agreement is not the measure (QAT int8 agrees with float 92-97 % at equal top-1): --eval-images
AGREEMENT_GOAL = 0.99


def register(sub) -> None:
    p = sub.add_parser(
        "build",
        help="convert a MobileNet V1 variant to full-int8 TFLite (needs TensorFlow: edgenet[host])",
        description="Build MobileNet V1 (alpha, resolution) with random, ImageNet or your own (.keras/.h5) "
        "weights and convert it to a full-integer int8 .tflite calibrated on `edgenet calibrate` samples. "
        "Writes the model, its labels (NAME.labels.txt) and a build report (NAME.build.json) measuring "
        "float-vs-int8 agreement on held-out calibration samples.",
    )
    p.add_argument("--alpha", type=float, help="width multiplier in (0, 1], e.g. 0.5 (with --weights FILE.tflite: read from the file)")
    p.add_argument("--resolution", type=positive_int, help="input size, a multiple of 8 >= 32, e.g. 160 (default with --weights FILE.tflite: the file's)")
    p.add_argument("--weights", default="random",
                   help="random (default), imagenet, a .keras/.h5 file (edgenet train), or a MobileNet V1 .tflite "
                   "(official int8 or float, or one edgenet built) or model name: its weights at its alpha, at any --resolution")
    p.add_argument("--calibration", nargs="+", metavar="CALIB.npz", help="edgenet calibrate output (--grid: one per resolution, or a folder)")
    p.add_argument("--io", choices=("int8", "uint8"), default="int8", help="input/output tensor type (default int8)")
    p.add_argument("--float", dest="float_model", action="store_true", help="float32 model instead of int8")
    p.add_argument("--per-tensor", action="store_true", help="per-tensor weight scales (default: per channel)")
    p.add_argument("--classes", type=class_count, help="number of classes (default: from --labels or the weights file, else 1000)")
    p.add_argument("--labels", help="labels file, one class a line (written beside the model)")
    p.add_argument("--activation", choices=("relu6", "relu"), default="relu6")
    p.add_argument("--holdout", type=float, default=0.2, help="fraction of calibration samples held out for the report (default 0.2)")
    p.add_argument("--eval-images", metavar="DIR", help="labelled images (ImageFolder, or flat with --ground-truth): "
                   "the report gives float and int8 top-1/top-5 on them and flags an int8 drop above 0.5 points")
    p.add_argument("--ground-truth", metavar="CSV", help="file,class_index CSV for a flat --eval-images folder")
    p.add_argument("--bias-correction", action="store_true", help="int8: correct each conv's bias for its weights' rounding error")
    p.add_argument("--equalize", action="store_true", help="int8: cross-layer equalization (needs --activation relu)")
    p.add_argument("--keep-grid", action="store_true",
                   help="int8 from a quantized .tflite: keep its own weight grid (no second rounding)")
    p.add_argument("--debug", action="store_true", help="add a per-layer quantization error table (TensorFlow's QuantizationDebugger)")
    p.add_argument("--grid", action="store_true", help="build the 16 standard variants into the -o folder (cached)")
    p.add_argument("--cache", metavar="DIR", help="grid cache folder (default: builds/ in the cache, $EDGENET_CACHE or ~/.cache/edgenet)")
    p.add_argument("--json", action="store_true", help="print the JSON build report")
    p.add_argument("-o", "--output", required=True, help="model.tflite (with --grid: a folder)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from edgenet.errors import UsageError
    from edgenet.outputs import check_output_folder, check_output_path
    from edgenet.variants import check_resolution

    # Before TensorFlow loads (seconds) and the build runs (more): bad input costs nothing.
    if args.resolution is not None:
        check_resolution(args.resolution)
    if args.grid:
        check_output_folder(args.output, option="-o")
        return _grid(args)
    check_output_path(args.output, (".tflite",))
    calibration = args.calibration or [None]
    if len(calibration) > 1:
        raise UsageError("one --calibration file for a single model (several are for --grid)")
    from calibration.convert import BuildConfig, build_model

    report = build_model(BuildConfig(
        args.alpha, args.resolution, args.output, weights=args.weights, calibration=calibration[0], io=args.io,
        float_model=args.float_model, classes=args.classes, labels=args.labels, per_channel=not args.per_tensor,
        holdout=args.holdout, debug=args.debug, activation=args.activation, equalize=args.equalize,
        bias_correction=args.bias_correction, keep_grid=args.keep_grid, eval_images=args.eval_images,
        ground_truth=args.ground_truth,
    ))
    d = report.as_dict()
    if args.json:
        json.dump(d, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"wrote {report.model} ({d['variant']}, {d['precision']}, io {d['io']}, {d['classes']} classes, {d['bytes'] / 1e6:.2f} MB)")
    print(f"      {report.labels}\n      {report.report}")
    q = d.get("quantization")
    if q:
        print(f"float vs {d['precision']} on {q['samples']} held-out samples: top-1 agreement {q['top1_agreement']:.1%}, "
              f"mean cosine {q['mean_cosine']:.4f}")
        for row in q.get("disagreeing", [])[:5]:
            (f, fs), (s2, ss), (qn, qs) = row["float"], row["float_second"], row["quantized"]
            print(f"  sample {row['sample']}: float {f} {fs:.2f} (then {s2} {ss:.2f}), {d['precision']} {qn} {qs:.2f}")
        if q["top1_agreement"] < AGREEMENT_GOAL and d["precision"] == "int8" and d["classes"] < 1000:
            print(_agreement_advice(d["weights"]), file=sys.stderr)
    a = d.get("accuracy")
    if a:
        line = f"accuracy on {a['count']} labelled images: float top-1 {a['float']['top1']:.1%} top-5 {a['float']['top5']:.1%}"
        if "int8" in a:
            low, high = a["top1_drop_interval_points"]
            line += (f"; int8 top-1 {a['int8']['top1']:.1%} top-5 {a['int8']['top5']:.1%}; "
                     f"top-1 drop {a['top1_drop_points']:+.1f} points (95 % interval {low:+.1f} to {high:+.1f}: "
                     f"{a['only_float_right']} images only float gets right, {a['only_int8_right']} only int8)")
        print(line + f" (one image = {a['resolution_points']:.1f} points)")
        if a.get("flag"):
            print(f"edgenet: warning: int8 loses {a['top1_drop_points']:.1f} top-1 points (goal <= {a['goal_points']}): try "
                  "--bias-correction, --keep-grid (quantized .tflite weights) or calibration samples from your camera",
                  file=sys.stderr)
    if d.get("debug_layers"):
        from rich.console import Console
        from rich.table import Table

        t = Table(title="per-layer quantization error (worst 10, RMSE in units of the layer's scale)")
        for col in ("op", "tensor", "RMSE/scale", "max abs err"):
            t.add_column(col)
        for row in d["debug_layers"][:10]:
            t.add_row(row["op"], row["tensor"][-60:], f"{row['rmse_per_scale'] or 0:.3f}", f"{row['max_abs_error']:.4g}")
        Console().print(t)
    return 0


def _agreement_advice(weights: str) -> str:
    if weights == "random":
        # Nothing to train longer: an untrained network scores every class about the same, and int8
        # rounding reorders near-ties. The number says nothing about a trained model's conversion.
        return (f"edgenet: note: agreement is below {AGREEMENT_GOAL:.0%} because the weights are random (--weights "
                "random, the default): an untrained network scores every class about the same and int8 rounding "
                "reorders them; to judge the int8 conversion, build from trained weights (`edgenet train`, then "
                "--weights MODEL.keras) or --weights imagenet")
    return (f"edgenet: warning: agreement is below {AGREEMENT_GOAL:.0%}: if the float model's top two are close on "
            "those samples (above), train it longer or on more data; if it was confident, calibrate on "
            "more (and more varied) samples and try --debug")


def _grid(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from calibration.grid import GridConfig, build_grid

    config = GridConfig(args.output, weights=args.weights, calibration=tuple(args.calibration or ()),
                        precision="float32" if args.float_model else "int8", io=args.io,
                        per_channel=not args.per_tensor, classes=args.classes or 1000, cache_dir=args.cache)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), transient=False) as bar:
        task = bar.add_task("grid", total=16)

        def progress(text, done, total):
            bar.update(task, description=text, completed=done, total=total)

        entries = build_grid(config, progress)
    built = sum(not e.cached for e in entries)
    print(f"{len(entries)} models in {args.output} ({built} built, {len(entries) - built} from the cache)")
    return 0
