"""`edgenet calibrate`: a representative dataset (.npz with manifest) for int8 conversion.

Needs no TensorFlow: the best calibration data is the deployment camera, so this runs on the board too.
"""

from __future__ import annotations

import argparse
import warnings

from edgenet.cli.common import add_crop_option, add_source_options, positive_int, seconds, seed, source_uri


def register(sub) -> None:
    p = sub.add_parser(
        "calibrate",
        help="collect preprocessed calibration samples from a source or camera (.npz)",
        description="Collect N frames from an image folder, ImageFolder (balanced per class), video file, "
        "camera or stream, preprocess them exactly as the runtime does at the model's resolution, skip "
        "near-duplicates, and save them with a manifest for `edgenet build --calibration`.",
    )
    add_source_options(p, "image folder, ImageFolder, video file, rtsp://..., v4l2://N ...")
    p.add_argument("--resolution", type=positive_int, required=True, help="the model's input size (e.g. 160)")
    p.add_argument("--count", type=positive_int, default=300, help="samples to collect (default 300)")
    p.add_argument("--seconds", type=seconds, default=5.0,
                   help="live sources: spread the samples over this many seconds (default 5)")
    add_crop_option(p, ", as at run time")
    p.add_argument("--seed", type=seed, default=0, help="sampling seed (default 0)")
    p.add_argument("-o", "--output", required=True, metavar="CALIB.npz")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from edgenet.representative import calibrate_to_file
    from edgenet.variants import Variant

    Variant(1.0, args.resolution)  # the one resolution rule, checked before any capture
    uri = source_uri(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = calibrate_to_file(uri, args.resolution, args.output, args.count, crop=args.crop,
                                 capture_seconds=args.seconds, seed=args.seed)
    for w in caught:
        print(f"edgenet: warning: {w.message}")
    m = data.manifest
    extra = f", per class {m['per_class']}" if m.get("per_class") else ""
    print(f"wrote {args.output}: {m['count']} samples at {m['resolution']} px from {m['source']} "
          f"({m['duplicates_skipped']} near-duplicates skipped{extra}); sha256 {m['sha256'][:12]}")
    return 0
