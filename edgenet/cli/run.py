"""`edgenet run`: the live loop."""

from __future__ import annotations

import argparse
import json
import sys

from edgenet.cli.common import (add_crop_option, add_runtime_options, add_source_options, decode_thread_count,
                                positive_float, positive_int, seconds, source_uri)
from edgenet.cli.stop import StopOnSignals
from edgenet.serve import DEFAULT_PORT, MAX_SERVE_FPS, TOKEN_ENV


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
    add_source_options(p, "v4l2://N, /dev/videoN, csi://N, rtsp://..., http://..., a video file, a folder or glob "
                          "of images, pattern://")
    add_runtime_options(p)
    p.add_argument("--decode-threads", type=decode_thread_count, metavar="N",
                   help="FFmpeg decoder threads for video files and streams; 0: FFmpeg's default, one per core "
                        "(default: the cores --threads leaves, at least 1, so decoding does not compete with "
                        "the interpreter)")
    g = p.add_argument_group("results")
    g.add_argument("--top-k", type=positive_int, default=5, help="labels to report per frame (default 5)")
    g.add_argument("--threshold", type=float, default=0.0, help="hide labels scoring below this (0..1)")
    g.add_argument("--smoothing", type=float, default=0.0,
                   help="EMA weight of past frames' scores in [0, 1) (e.g. 0.7 steadies a live label)")
    add_crop_option(g)
    o = p.add_argument_group("output")
    o.add_argument("--headless", action="store_true", help="no window: print a compact line per second")
    o.add_argument("--json", action="store_true", help="print one JSON object per frame (summary goes to stderr)")
    o.add_argument("--record", metavar="OUT.mp4", help="write the annotated video")
    o.add_argument("--summary-json", metavar="FILE", help="write the end-of-run summary as JSON")
    b = p.add_argument_group("bounds")
    b.add_argument("--max-frames", type=positive_int, help="stop after this many frames")
    b.add_argument("--duration", type=seconds, metavar="SECONDS", help="stop after this long")
    b.add_argument("--realtime", action="store_true",
                   help="play files at their frame rate and drop frames the model cannot keep up with, like a camera")
    b.add_argument("--reconnect-timeout", type=seconds, metavar="SECONDS",
                   help="give up on a lost camera after this long (default: keep retrying)")
    add_serve_options(p)
    p.set_defaults(handler=handle)


def add_serve_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("live view (for headless boards)")
    g.add_argument("--serve", metavar="[HOST:]PORT", nargs="?", const=str(DEFAULT_PORT), default=None,
                   help=f"serve the annotated video, labels and FPS over HTTP (default 127.0.0.1:{DEFAULT_PORT}); "
                        "any other address than 127.0.0.1/::1/localhost requires a token")
    g.add_argument("--serve-fps", type=positive_float, default=15.0, metavar="FPS",
                   help=f"at most this many JPEGs a second to viewers (default 15, at most {MAX_SERVE_FPS:g}); "
                        "encoding only while someone watches")
    g.add_argument("--token", default=None,
                   help=f"token the live view requires (default: ${TOKEN_ENV} if set, else generated and "
                        "printed when not on loopback)")


def serve_config(args: argparse.Namespace):
    """The live view's config for ``--serve``, or None without it."""
    from edgenet.errors import UsageError
    from edgenet.serve.view import ServeConfig

    if args.serve is None:
        if args.token:
            raise UsageError("--token only makes sense with --serve [HOST:]PORT")
        return None
    return ServeConfig(args.serve, args.serve_fps, args.token)


def handle(args: argparse.Namespace) -> int:
    from edgenet.outputs import check_output_path
    from edgenet.pipeline import RunConfig, run_pipeline
    from edgenet.report import print_run_summary

    if args.summary_json:
        check_output_path(args.summary_json, option="--summary-json")  # before the run, not after it

    config = RunConfig(
        model=args.model, source=source_uri(args), labels=args.labels, runtime=args.runtime, threads=args.threads,
        xnnpack=args.xnnpack, top_k=args.top_k, threshold=args.threshold, smoothing=args.smoothing,
        headless=args.headless, json=args.json, record=args.record, max_frames=args.max_frames,
        duration=args.duration, realtime=args.realtime, crop=args.crop, reconnect_timeout=args.reconnect_timeout,
        decode_threads=args.decode_threads,
    )
    serve = serve_config(args)
    server = None
    # SIGINT/SIGTERM/SIGHUP stop the loop after the frame in hand: the recording is closed, the summary
    # printed and written, then exit 130 (Ctrl-C) or 0 (systemctl stop, a closed terminal).
    with StopOnSignals() as stop:
        if serve is not None:
            from edgenet.serve.view import LiveView, start_live_view

            server = start_live_view(serve)
        try:
            summary = run_pipeline(config, sinks=[LiveView(server)] if server is not None else (), stop=stop.event)
        finally:
            if server is not None:
                server.stop()
        report = summary.as_dict() | ({"stopped_by": stop.signal} if stop.signal else {})
        if stop.signal:
            print(f"edgenet: stopped by {stop.signal} after {summary.frames} frames", file=sys.stderr, flush=True)
        print_run_summary(summary, file=sys.stderr if args.json else sys.stdout)
        if args.summary_json:
            with open(args.summary_json, "w") as f:
                json.dump(report, f, indent=2)
        return stop.exit_code
