"""`edgenet demo`: draw data, train, calibrate, convert to int8, evaluate and run the loop (offline)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from edgenet.cli.common import positive_int, seconds, thread_count


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="offline end-to-end demo: drawn data -> train -> calibrate -> int8 -> eval -> live loop (needs edgenet[host])",
        description="Runs the real workstation path on drawn pictures of 10 classes: edgenet train, calibrate, "
        "build (int8 and float), eval on a held-out drawn set, then the live loop over a generated clip "
        "(or --camera N). Prints float vs int8 accuracy and FPS. About 2 minutes on 2 cores.",
    )
    p.add_argument("--workdir", metavar="DIR", help="keep everything here (default: a temporary folder, tidied at "
                   "the end to the models, labels and build reports)")
    p.add_argument("--keep", action="store_true", help="keep all of the temporary folder (drawings, clip, samples)")
    p.add_argument("--alpha", type=float, default=0.25)
    p.add_argument("--resolution", type=positive_int, default=96)
    p.add_argument("--per-class", type=positive_int, default=200, help="training pictures per class (default 200)")
    p.add_argument("--epochs", type=positive_int, default=8)
    p.add_argument("--augment", action="store_true", help="train with flips/shifts/zoom crops (off: the drawings vary enough)")
    p.add_argument("--train-seconds", type=seconds, default=120.0, help="training time budget (default 120)")
    p.add_argument("--weights", metavar="FILE.tflite|NAME",
                   help="fine-tune from this MobileNet V1 .tflite or model name (default: a cached official model of "
                   "--alpha, else from scratch; the demo says which)")
    p.add_argument("--camera", type=int, metavar="N", help="run the loop on camera N instead of the generated clip")
    p.add_argument("--frames", type=positive_int, default=240, help="frames for the live loop (default 240)")
    p.add_argument("--threads", type=thread_count, help="interpreter threads (default: all cores)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from edgenet.outputs import check_output_folder

    if args.workdir:
        check_output_folder(args.workdir, option="--workdir")  # before TensorFlow loads
    from calibration.demo import DemoConfig, run_demo

    log = (lambda m: print(m, file=sys.stderr, flush=True)) if args.json else (lambda m: print(m, flush=True))
    r = run_demo(DemoConfig(workdir=args.workdir, alpha=args.alpha, resolution=args.resolution, per_class=args.per_class,
                            epochs=args.epochs, augment=args.augment, train_seconds=args.train_seconds, camera=args.camera,
                            frames=args.frames, threads=args.threads, keep=args.keep, weights=args.weights), log=log)
    command = edgenet_command()
    run_it = f"{command} run --model {r.model} --labels {r.labels} --camera 0"
    if args.json:
        json.dump(r.as_dict() | {"run_command": run_it}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    q = r.agreement
    print(f"\ntrained {r.started_from}")
    print(f"accuracy on {r.test_images} held-out drawings: float {r.float_top1:.1%}, int8 {r.int8_top1:.1%}")
    if q:
        print(f"float vs int8 on held-out calibration samples: top-1 agreement {q['top1_agreement']:.1%}, "
              f"mean cosine {q['mean_cosine']:.4f}")
    print(f"live loop ({r.loop['source']}): {r.loop['frames']} frames, {r.loop['e2e_fps']} FPS end to end, "
          f"{r.loop['model_fps']} FPS model only")
    print("steps (s): " + ", ".join(f"{k} {v}" for k, v in r.seconds.items()))
    if r.removed_bytes:
        print(f"removed the drawings, clip and calibration samples ({r.removed_bytes / 1e6:.0f} MB; --keep or "
              f"--workdir DIR keeps them); kept the models, labels and build reports ({r.kept_bytes / 1e6:.1f} MB)")
    print(f"model: {r.model}\nrun it on your camera:\n  {run_it}")
    if command.endswith(os.sep + os.path.join("bin", "edgenet")):
        print(f"  (`edgenet` alone is not on your PATH; `source {Path(command).parent / 'activate'}` puts it there)")
    return 0


def edgenet_command(path: str | None = None) -> str:
    """How the user's shell reaches this edgenet: ``edgenet`` when ``path`` (default $PATH) finds this
    same install, else its full path (the demo script installs into .venv without activating it)."""
    here = Path(sys.prefix) / "bin" / "edgenet"
    found = shutil.which("edgenet", path=os.environ.get("PATH", "") if path is None else path)
    if not here.is_file():  # not a console-script install (e.g. python -m edgenet from a source tree)
        return "edgenet" if found else f"{sys.executable} -m edgenet"
    if found and os.path.samefile(found, here):
        return "edgenet"
    return str(here)
