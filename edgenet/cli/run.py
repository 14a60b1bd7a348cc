"""`edgenet run`: the live loop."""

from __future__ import annotations

import argparse
import json
import sys

from edgenet.cli.common import add_runtime_options, positive_float, positive_int
from edgenet.serve.cli import add_serve_options


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="classify a camera, video, stream or folder live with an int8 MobileNet",
        description="Capture frames, run the model on each, and show or print the top-k labels with FPS.",
    )
    p.add_argument("--model", metavar="NAME|PATH",
                   help="a model index name (`edgenet models list`; pulled on first use) or a .tflite file; default: "
                   "the pick of `edgenet profile --target-fps` on this machine, else mobilenet_v1_050_160")
    p.add_argument("--labels", help="labels file (with or without a background line / 'N label' prefixes); "
                   "default: the model index's labels (ImageNet for the official models)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--camera", type=int, metavar="N", help="camera number (picamera2 on a Pi, Argus on a Jetson, else V4L2)")
    src.add_argument("--source", metavar="URI",
                     help="v4l2://N, /dev/videoN, csi://N, rtsp://..., http://..., a video file, a folder or glob of images, pattern://")
    add_runtime_options(p)
    g = p.add_argument_group("results")
    g.add_argument("--top-k", type=positive_int, default=5, help="labels to report per frame (default 5)")
    g.add_argument("--threshold", type=float, default=0.0, help="hide labels scoring below this (0..1)")
    g.add_argument("--smoothing", type=float, default=0.0,
                   help="EMA weight of past frames' scores in [0, 1) (e.g. 0.7 steadies a live label)")
    g.add_argument("--crop", type=float, default=0.875, help="central crop fraction before resizing (default 0.875)")
    o = p.add_argument_group("output")
    o.add_argument("--headless", action="store_true", help="no window: print a compact line per second")
    o.add_argument("--json", action="store_true", help="print one JSON object per frame (summary goes to stderr)")
    o.add_argument("--record", metavar="OUT.mp4", help="write the annotated video")
    o.add_argument("--summary-json", metavar="FILE", help="write the end-of-run summary as JSON")
    b = p.add_argument_group("bounds")
    b.add_argument("--max-frames", type=positive_int, help="stop after this many frames")
    b.add_argument("--duration", type=positive_float, metavar="SECONDS", help="stop after this long")
    b.add_argument("--realtime", action="store_true",
                   help="play files at their frame rate and drop frames the model cannot keep up with, like a camera")
    b.add_argument("--reconnect-timeout", type=positive_float, metavar="SECONDS",
                   help="give up on a lost camera after this long (default: keep retrying)")
    add_serve_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from edgenet.pipeline import RunConfig, run_pipeline
    from edgenet.report import print_run_summary
    from edgenet.board.camera import camera_uri

    source = camera_uri(args.camera) if args.camera is not None else args.source
    config = RunConfig(
        model=args.model, source=source, labels=args.labels, runtime=args.runtime, threads=args.threads,
        xnnpack=args.xnnpack, top_k=args.top_k, threshold=args.threshold, smoothing=args.smoothing,
        headless=args.headless, json=args.json, record=args.record, max_frames=args.max_frames,
        duration=args.duration, realtime=args.realtime, crop=args.crop, reconnect_timeout=args.reconnect_timeout,
    )
    from edgenet.serve import open_server_from_args

    server = open_server_from_args(args)
    try:
        summary = run_pipeline(config, on_frame=server)
    finally:
        if server is not None:
            server.stop()
    print_run_summary(summary, file=sys.stderr if args.json else sys.stdout)
    if args.summary_json:
        with open(args.summary_json, "w") as f:
            json.dump(summary.as_dict(), f, indent=2)
    return 0
