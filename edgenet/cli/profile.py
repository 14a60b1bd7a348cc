"""`edgenet profile`: measure MobileNet V1 variants on this board and pick one for a target FPS."""

from __future__ import annotations

import argparse
import sys

from edgenet.cli.common import (non_negative_float, non_negative_int, non_negative_seconds, positive_float, positive_int,
                                seconds, thread_list)
from edgenet.cli.profile_host import add_host_options
from edgenet.runtime import RUNTIME_CHOICES


def grid_builder():
    """The workstation's grid-model builder when calibration and TensorFlow are installed, else None
    (a board: its wheel holds edgenet alone, and the profiler says how to build the models)."""
    try:
        from calibration.grid import latency_builder
    except ImportError:
        return None
    return latency_builder()


def _command(value: str | None):
    from edgenet.profiler.session import DEFAULT

    if value is None:
        return DEFAULT
    return None if value.lower() == "none" else value


def register(sub) -> None:
    p = sub.add_parser(
        "profile",
        help="measure MobileNet V1 variants on this board and pick one for a target FPS",
        description="Time every model (threads 1..cores), predict the rest from mult-adds, and pick the most "
        "accurate variant that reaches --target-fps. Exit code 1 when nothing reaches the target.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--models", nargs="+", metavar="DIR|FILE|NAME",
                       help="profile these: folders of .tflite files, .tflite files, or model index names (pulled)")
    which.add_argument("--grid", action="store_true",
                       help="profile the 16 standard variants: the official pretrained int8 models (pulled from the "
                       "model index on first use), so the accuracy column is real")
    p.add_argument("--random-weights", action="store_true",
                   help="grid: random-weight builds instead (latency only; built when missing and TensorFlow is here)")
    p.add_argument("--model-cache", metavar="DIR", help="random-weight grid model folder (default: builds/latency in the cache, $EDGENET_CACHE or ~/.cache/edgenet)")
    p.add_argument("--float", dest="include_float", action="store_true", help="grid: also profile float32 models, to compare with int8")
    p.add_argument("--no-build", dest="build", action="store_false", help="grid: never build missing models")
    p.add_argument("--build-only", action="store_true", help="grid: build missing models (needs TensorFlow) and stop")

    c = p.add_argument_group("choice")
    c.add_argument("--target-fps", type=positive_float, metavar="F", help="pick the most accurate variant reaching F FPS")
    c.add_argument("--margin", type=non_negative_float, default=0.0,
                   help="required headroom as a fraction: FPS >= F x (1 + margin) (default 0)")
    c.add_argument("--accuracy", action="append", default=[], metavar="EVAL.json",
                   help="`edgenet eval --json` output(s) or a {model: top1} map; default: the published top-1 of the official models")

    m = p.add_argument_group("measurement")
    m.add_argument("--threads", type=thread_list, metavar="LIST", help="thread counts, e.g. 1,2,4 or 1-4 (default 1..cores)")
    m.add_argument("--min-runs", type=positive_int, default=50, help="timed runs per model at least (default 50)")
    m.add_argument("--min-time", type=non_negative_seconds, default=2.0, metavar="SECONDS",
                   help="timed seconds per model at least (default 2)")
    m.add_argument("--warmup", type=non_negative_int, default=5, help="untimed runs after the first (default 5)")
    m.add_argument("--runtime", choices=RUNTIME_CHOICES, default="auto", help="TFLite interpreter (default: first installed)")
    m.add_argument("--no-xnnpack", dest="xnnpack", action="store_false", help="run without the XNNPACK delegate")

    pr = p.add_argument_group("prediction")
    pr.add_argument("--predict-only", action="store_true",
                    help="measure only the seed models and predict the rest from mult-adds")
    pr.add_argument("--fast", action="store_true",
                    help="measure the likely pick first and stop once the pick is certain (needs --target-fps)")
    pr.add_argument("--seeds", type=positive_int, default=3, help="models measured to fit the prediction (default 3)")

    x = p.add_argument_group("end-to-end and sustained")
    x.add_argument("--source", metavar="URI", help="also run the live loop on this source (as `edgenet run`) and report e2e FPS")
    x.add_argument("--e2e-frames", type=positive_int, default=200, help="frames per end-to-end run (default 200)")
    x.add_argument("--sustained", type=seconds, metavar="SECONDS",
                   help="run the candidates this long each, sampling temperature/frequency/throttling; pick on steady FPS")
    x.add_argument("--sample-interval", type=seconds, default=1.0, metavar="SECONDS", help="sustained sampling period (default 1)")
    x.add_argument("--sustained-candidates", type=positive_int, default=3, help="at most this many sustained runs (default 3)")
    x.add_argument("--sysfs-root", default="/", metavar="DIR",
                   help="read /sys and /proc below DIR (a container's view of the host, or a test tree)")
    x.add_argument("--vcgencmd", metavar="CMD", help="Raspberry Pi vcgencmd to run (default: from PATH; 'none' skips it)")
    x.add_argument("--nvpmodel", metavar="CMD", help="Jetson nvpmodel to run (default: from PATH; 'none' skips it)")

    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print the JSON report to stdout instead of the table")
    o.add_argument("--csv", metavar="FILE", help="write the CSV report")
    o.add_argument("--json-file", metavar="FILE", help="write the JSON report")
    o.add_argument("--out", metavar="DIR", help="write DIR/profile.json and DIR/profile.csv (and DIR/pareto.png with --plot)")
    o.add_argument("--plot", nargs="?", const="", default=None, metavar="PNG",
                   help="write the accuracy-vs-FPS plot (default name DIR/pareto.png with --out, else pareto.png)")
    add_host_options(p)
    p.set_defaults(handler=handle)


def profile_config(args: argparse.Namespace):
    """The ProfileConfig the options make (validated on construction), for a local or a --host profile."""
    from edgenet.profiler import MeasureOptions, ProfileConfig

    return ProfileConfig(
        # one item stays a string: the report's config.models reads as before for the usual single folder
        models=(args.models[0] if len(args.models) == 1 else tuple(args.models)) if args.models else None, grid=args.grid,
        weights="random" if args.random_weights else "official", model_cache=args.model_cache, include_float=args.include_float,
        build=args.build, build_only=args.build_only, threads=args.threads,
        measure=MeasureOptions(min_runs=args.min_runs, min_time=args.min_time, warmup=args.warmup,
                               runtime=args.runtime, xnnpack=args.xnnpack),
        target_fps=args.target_fps, margin=args.margin, accuracy=tuple(args.accuracy),
        predict_only=args.predict_only, fast=args.fast, seeds=args.seeds, source=args.source,
        e2e_frames=args.e2e_frames, sustained=args.sustained, sustained_interval=args.sample_interval,
        sustained_candidates=args.sustained_candidates, sysfs_root=args.sysfs_root,
        vcgencmd=_command(args.vcgencmd), nvpmodel=_command(args.nvpmodel), save_pick=True,
    )


def handle(args: argparse.Namespace) -> int:
    from edgenet.cli.stop import StopOnSignals

    config = profile_config(args)
    if args.host:  # on boards over ssh: deploy/ does the work
        from edgenet.cli.profile_host import handle_profile_host

        return handle_profile_host(args, config)
    from edgenet.profiler import profile
    from edgenet.profiler.export import check_outputs, to_json, write_outputs
    from edgenet.profiler.select import EXIT_NO_PICK
    from edgenet.profiler.table import print_profile

    plot = args.plot
    if plot == "" and not args.out:
        plot = "pareto.png"
    if not args.build_only:  # everything asked of the outputs is checked before measuring
        check_outputs(out_dir=args.out, json_path=args.json_file, csv_path=args.csv, plot_path=plot or None,
                      plot=args.plot is not None)
    # SIGINT/SIGTERM/SIGHUP end the profile after the measurement in hand; what was measured is
    # printed and written (a profile on a board takes minutes: a Ctrl-C must not lose them).
    with StopOnSignals() as stop:
        report = profile(config, builder=grid_builder() if args.grid and args.random_weights else None,
                         stop=stop.event)
    if args.build_only:
        for note in report.notes:
            print(f"edgenet: {note}")
        return 0
    written = write_outputs(report, out_dir=args.out, json_path=args.json_file, csv_path=args.csv,
                            plot_path=plot or None, plot_in_out_dir=plot == "")
    if args.json:
        sys.stdout.write(to_json(report))
    else:
        print_profile(report)
    for path in written:
        print(f"edgenet: wrote {path}", file=sys.stderr)
    if report.stopped:
        done = sum(r.measurement is not None for r in report.rows)
        print(f"edgenet: stopped by {stop.signal} after {done} of {len(report.rows)} measurements; the pick is not "
              "saved", file=sys.stderr)
        return stop.exit_code
    if report.choice is not None and not report.choice.meets_target:
        return EXIT_NO_PICK
    return 0
