"""Where a live-loop frame's time goes outside decode and invoke, per stage and per output mode.

Each step of ``run_pipeline``'s frame is timed alone, in one thread, on real frames of the clip
(median of N calls, after warm-up), with the code the loop runs: the capture thread's preprocessing
into a kept tensor and its hand-off, the inference thread's set_input/raw_output, top-k pick and the
sinks of each output mode (``--headless`` status line, ``--json`` lines to /dev/null, ``--record``,
``--serve`` with nobody watching). Decode and invoke are shown for scale: what a thread adds on top
of them is what the loop can lose against min(model-only, source-only) (``benchmarks/pipeline.py``
measures that ratio end to end). One thread and medians keep these numbers steady on a busy
machine; they do not show GIL waits between the threads, which the end-to-end ratio includes.

    python benchmarks/loop_costs.py                    # shared clip + official models when present
    python benchmarks/loop_costs.py --model m.tflite --source clip.mp4 --frames 2000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgenet.capture import Capture, Frame  # noqa: E402
from edgenet.labels import load_labels  # noqa: E402
from edgenet.postprocess import Picked, TopK  # noqa: E402
from edgenet.preprocess import Preprocessor  # noqa: E402
from edgenet.runtime import load_interpreter  # noqa: E402
from edgenet.serve import LiveServer, LiveView  # noqa: E402
from edgenet.sinks import FrameResult, JsonLines, Recorder, StatusLine, StreamInfo  # noqa: E402
from edgenet.sources import FrameSource  # noqa: E402

REFERENCE = Path(os.environ.get("EDGENET_REFERENCE", ROOT.parent / "shared" / "reference"))
FIXTURES = ROOT / "tests" / "fixtures"


def median_us(fn, n: int, warmup: int = 50) -> float:
    for _ in range(warmup):
        fn()
    samples = np.empty(n, np.int64)
    for i in range(n):
        t = time.perf_counter_ns()
        fn()
        samples[i] = time.perf_counter_ns() - t
    return float(np.median(samples)) / 1e3


class Frames:
    """The clip's frames, decoded once, served round-robin."""

    def __init__(self, clip: str, limit: int = 200):
        cap = cv2.VideoCapture(clip)
        self.images = []
        while len(self.images) < limit:
            ok, frame = cap.read()
            if not ok:
                break
            self.images.append(frame)
        cap.release()
        if not self.images:
            raise SystemExit(f"no frames in {clip}")
        self.i = 0

    def next(self) -> np.ndarray:
        self.i = (self.i + 1) % len(self.images)
        return self.images[self.i]


def decode_us(clip: str, n: int) -> float:
    cap = cv2.VideoCapture(clip)

    def read():
        nonlocal cap
        ok, _ = cap.read()
        if not ok:
            cap.release()
            cap = cv2.VideoCapture(clip)

    try:
        return median_us(read, n)
    finally:
        cap.release()


def costs(model_path: str, labels: str | None, clip: str, n: int) -> dict[str, float]:
    model = load_interpreter(model_path, threads=1)
    frames = Frames(clip)
    prepare = Preprocessor(model.input_spec)
    tensor = prepare.new_output()
    post = TopK(load_labels(labels, model.classes), 5, output=model.output_spec)
    prepare(frames.next(), tensor)
    model.set_input(tensor)
    model.invoke()
    picked = post.pick(model.raw_output())
    out: dict[str, float] = {"decode": decode_us(clip, min(n, 2000))}
    out["preprocess"] = median_us(lambda: prepare(frames.next(), tensor), n)

    # The hand-off: the capture thread's Frame + deliver, the inference thread's get (no waiting here).
    capture = Capture(FrameSource(), latest_only=False)
    image = frames.next()

    def hand_off():
        capture._deliver(Frame(0, image, tensor, 0, 0))
        capture.get(timeout=1)

    out["hand-off"] = median_us(hand_off, n)
    out["set_input + raw_output"] = median_us(lambda: (model.set_input(tensor), model.raw_output()), n)
    out["invoke"] = median_us(model.invoke, min(n, 1000))
    raw = model.raw_output()
    out["pick top-5"] = median_us(lambda: post.pick(raw), n)

    def frame_result():  # a fresh pick each time, so the label dicts a sink asks for are made anew
        fresh = Picked(list(picked.indices), list(picked.scores), picked.labels)
        return FrameResult(1, image, fresh, 123.4, 1.23, time.perf_counter_ns())

    out["result"] = median_us(frame_result, n)  # with copying the pick (an upper bound)
    with open(os.devnull, "w") as null:
        status, lines = StatusLine(null), JsonLines(null)
        out["headless: status line"] = median_us(lambda: status.write(frame_result()), n)
        out["--json: JSON line"] = median_us(lambda: lines.write(frame_result()), n)
    with tempfile.TemporaryDirectory() as tmp:
        recorder = Recorder(os.path.join(tmp, "out.mp4"))
        recorder.open(StreamInfo("clip", False, 10.0))
        out["--record: annotate + write"] = median_us(lambda: recorder.write(FrameResult(1, frames.next(), picked, 1.0, 1.0, 0)),
                                                       min(n, 300), warmup=5)
        recorder.close()
    with LiveServer("127.0.0.1", 0) as server:
        view = LiveView(server)
        out["--serve, nobody watching"] = median_us(lambda: view.write(frame_result()), n)
    return out


CAPTURE = ("preprocess", "hand-off")
INFERENCE = ("set_input + raw_output", "pick top-5", "result")  # and the hand-off
MODES = {"headless": "headless: status line", "--json": "--json: JSON line", "--record": "--record: annotate + write",
         "--serve": "--serve, nobody watching"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", help="model(s) (default: the official shared models)")
    ap.add_argument("--labels", help="labels file (default: the shared ImageNet labels, else class numbers)")
    ap.add_argument("--source", help="video file (default: shared vtest.avi)")
    ap.add_argument("--frames", type=int, default=3000, help="calls per step")
    args = ap.parse_args()
    models = args.model or [str(p) for p in sorted(REFERENCE.glob("mobilenet_v1_*_quant.tflite"))] or \
        [str(FIXTURES / "mobilenet_v1_025_64_int8.tflite")]
    labels = args.labels or (str(REFERENCE / "imagenet_labels.txt") if args.model is None and
                             (REFERENCE / "imagenet_labels.txt").exists() else None)
    clip = args.source or str(REFERENCE / "video" / "vtest.avi")
    if not os.path.exists(clip):
        raise SystemExit(f"no clip at {clip}: give --source")
    names = [os.path.basename(m).replace("mobilenet_v1_", "").replace("_quant.tflite", "") for m in models]
    table = [costs(m, labels, clip, args.frames) for m in models]
    print(f"clip: {clip}; median us per frame, one step at a time in one thread; "
          f"load average {os.getloadavg()[0]:.2f}\n")
    print(f"{'step':34s} {'thread':9s} " + " ".join(f"{n:>10s}" for n in names))
    rows = [("decode (for scale)", "capture", "decode")] + [(s, "capture", s) for s in CAPTURE] + \
        [("invoke (for scale)", "inference", "invoke")] + [(s, "inference", s) for s in INFERENCE] + \
        [(label, "inference", label) for label in MODES.values()]
    for label, thread, key in rows:
        print(f"{label:34s} {thread:9s} " + " ".join(f"{c[key]:10.1f}" for c in table))
    print("\nadded to decode (capture thread) and to invoke (inference thread), per output mode "
          "(the hand-off counted on both):")
    print(f"{'':34s} {'':9s} " + " ".join(f"{n:>10s}" for n in names))
    print(f"{'capture thread':34s} {'':9s} " + " ".join(
        f"{sum(c[s] for s in CAPTURE):10.1f}" for c in table) + "   (" + ", ".join(
        f"{sum(c[s] for s in CAPTURE) / c['decode']:.0%}" for c in table) + " of decode)")
    for mode, key in MODES.items():
        added = [sum(c[s] for s in INFERENCE) + c[key] + c["hand-off"] for c in table]
        print(f"{'inference thread, ' + mode:34s} {'':9s} " + " ".join(f"{a:10.1f}" for a in added) + "   (" +
              ", ".join(f"{a / c['invoke']:.0%}" for a, c in zip(added, table)) + " of invoke)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
