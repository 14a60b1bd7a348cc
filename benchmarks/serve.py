"""Live-view benchmark: what does `--serve` with one viewer cost the run loop?

Measured in one run, over the same clip, interleaved rounds (A B C A B C ...), median end-to-end FPS:
  A  plain      run_pipeline, headless, no live view (nothing drawn)
  B  serving    --serve on, nobody watching (the loop publishes raw frames, nothing drawn)
  C  1 viewer   --serve on, one viewer (a separate process) reading /stream.mjpg to the end
Goal (issue 7): serving one viewer costs at most 10% of end-to-end FPS, i.e. C / A >= 0.90.
The viewer runs as its own process so that it does not share the run's GIL; on a real setup it is a
browser on a laptop and costs the board nothing.

    python benchmarks/serve.py                        # shared vtest.avi + 0.5_160 model when present
    python benchmarks/serve.py --model m.tflite --source clip.mp4 --serve-fps 15 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgenet.pipeline import RunConfig, run_pipeline  # noqa: E402
from edgenet.serve import LiveServer, LiveView  # noqa: E402

REFERENCE = ROOT.parent / "shared" / "reference"
FIXTURES = ROOT / "tests" / "fixtures"

# Reads the MJPEG stream and throws it away, counting parts, until the server closes it.
VIEWER = r"""
import sys, urllib.request
parts = 0
with urllib.request.urlopen(sys.argv[1], timeout=30) as r:
    try:
        while True:
            chunk = r.read1(1 << 16)
            if not chunk:
                break
            parts += chunk.count(b"--edgenetframe\r\n")
    except (ConnectionError, OSError):
        pass
print(parts)
"""


def default_model() -> tuple[str, str | None]:
    official = REFERENCE / "mobilenet_v1_0.5_160_quant.tflite"
    if official.exists():
        return str(official), str(REFERENCE / "imagenet_labels.txt")
    return str(FIXTURES / "mobilenet_v1_025_64_int8.tflite"), str(FIXTURES / "tiny_labels.txt")


def default_clip(tmp: str) -> str:
    shared = REFERENCE / "video" / "vtest.avi"
    if shared.exists():
        return str(shared)
    path = str(Path(tmp) / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    rng = np.random.default_rng(0)
    for i in range(300):
        writer.write(cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), (9, 9), 0))
    writer.release()
    return path


def one_round(config: RunConfig, mode: str, serve_fps: float) -> tuple[float, dict]:
    if mode == "plain":
        return run_pipeline(config, out=_Null(), log=lambda m: None).e2e_fps, {}
    with LiveServer("127.0.0.1", 0, serve_fps=serve_fps) as server:
        viewer = None
        if mode == "viewer":
            viewer = subprocess.Popen([sys.executable, "-c", VIEWER, server.url + "stream.mjpg"],
                                      stdout=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 10
            while server.viewers == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
        summary = run_pipeline(config, out=_Null(), log=lambda m: None, sinks=[LiveView(server)])
        extra = {"encodes": server.hub.encodes, "sent": server.frames_sent, "seconds": summary.seconds,
                 "encode_ms": server.hub.last_encoded.encode_ms if server.hub.last_encoded else None}
    if viewer is not None:
        extra["viewer_parts"] = int(viewer.communicate(timeout=30)[0] or 0)
    return summary.e2e_fps, extra


class _Null:
    def write(self, text):
        pass

    def flush(self):
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model (default: shared mobilenet_v1_0.5_160_quant, else the tiny fixture)")
    ap.add_argument("--labels")
    ap.add_argument("--source", help="video file (default: shared vtest.avi, else a generated 640x480 clip)")
    ap.add_argument("--frames", type=int, default=400, help="frames per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--serve-fps", type=float, default=15.0)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model, labels = (args.model, args.labels) if args.model else default_model()
        clip = args.source or default_clip(tmp)
        config = RunConfig(model, clip, labels, threads=args.threads, headless=True, max_frames=args.frames)
        print(f"model {Path(model).name} | clip {Path(clip).name} | {args.frames} frames x {args.rounds} rounds "
              f"| serve-fps {args.serve_fps}")
        one_round(config, "plain", args.serve_fps)  # warm-up: page cache, interpreter, first decode
        fps = {"plain": [], "serving": [], "viewer": []}
        last = {}
        for r in range(args.rounds):
            for mode in fps:
                value, extra = one_round(config, mode, args.serve_fps)
                fps[mode].append(value)
                last[mode] = extra
        med = {mode: statistics.median(values) for mode, values in fps.items()}
        for mode, values in fps.items():
            print(f"  {mode:8s} e2e FPS median {med[mode]:7.1f}  (rounds: {', '.join(f'{v:.1f}' for v in values)})")
        v = last["viewer"]
        print(f"  viewer got {v.get('viewer_parts')} JPEGs in {v['seconds']:.2f} s "
              f"({v['encodes'] / max(v['seconds'], 1e-9):.1f} encodes/s, cap {args.serve_fps}; "
              f"last encode {v['encode_ms']:.2f} ms)")
        ratio = med["viewer"] / med["plain"]
        print(f"serving, nobody watching / plain: {med['serving'] / med['plain']:.3f}")
        print(f"one viewer / plain:               {ratio:.3f}  (goal >= 0.90: {'met' if ratio >= 0.9 else 'NOT met'})")
        print(f"one viewer / serving:             {med['viewer'] / med['serving']:.3f}  (JPEG + network only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
