"""Pipeline benchmark: is edgenet's overlapped loop as fast as the model and the source allow?

With one core for capture and one for inference, the best a pipelined loop can do is the slower of
its two stages: limit = min(model-only, source-only). For each model and thread count, on the same
clip, in interleaved rounds (every quantity once per round; the table shows medians over rounds and
the median of the per-round ratios, so a busy moment on a shared machine hits all of them alike):
  model-only   bare ``Interpreter.invoke`` (no edgenet code), median
  invoke path  what the loop does around it: Model.set_input + invoke + raw_output, median
  source-only  decode + preprocess (into a kept tensor, as the capture thread does), one thread, the
               file opened as the loop opens it: FFmpeg decodes with the cores the interpreter leaves
               (one here at --threads 1), not with its default of a thread per core
  naive        read -> preprocess -> set_tensor -> invoke -> get_tensor in one thread, as the TFLite
               Raspberry Pi example does
  headless     run_pipeline end-to-end (capture+preprocess thread || inference), status line
  json         the same with --json lines (written to /dev/null, flushed each frame)
The same ratios in CPU time (the "cpu" columns): each thread's CPU time per frame, against the
stages' own CPU time alone. On a machine that other work keeps busy, wall-clock ratios measure the
neighbours (a thread waiting for a core is not the loop's doing); the CPU ratio is what the loop
would reach on two free cores, minus its wake-ups and GIL waits (which only the wall ratio shows).
Goals (issue 16), with a core left for capture: headless and json >= 0.90 x limit in every regime
(model-bound: >= 0.9 x model-only); always: never slower than naive (>= 0.97, noise), invoke path
<= 1.05 x bare invoke. Also int8 vs float through edgenet when both variants are available.

    python benchmarks/pipeline.py                       # shared clip + official models when present
    python benchmarks/pipeline.py --model m.tflite --source clip.mp4 --threads 1 2 --rounds 9
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgenet.pipeline import RunConfig, decoder_threads, run_pipeline  # noqa: E402
from edgenet.preprocess import Preprocessor, preprocess  # noqa: E402
from edgenet.runtime import load_interpreter, resolve_runtime  # noqa: E402
from edgenet.sinks import Sink  # noqa: E402
from edgenet.sources import open_source  # noqa: E402

REFERENCE = Path(os.environ.get("EDGENET_REFERENCE", ROOT.parent / "shared" / "reference"))
FIXTURES = ROOT / "tests" / "fixtures"
MODES = ("headless", "json")
GOAL = 0.90


def median_ms(samples_ns) -> float:
    return float(np.median(samples_ns)) / 1e6


def time_calls(fn, n: int, warmup: int = 5, clock=time.perf_counter_ns) -> float:
    """Median time of one call in ms by ``clock`` (wall by default)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        t = clock()
        fn()
        samples.append(clock() - t)
    return median_ms(samples)


def time_cpu(fn, n: int, warmup: int = 5) -> float:
    """Median CPU time of one call in ms (this thread's: time spent waiting for a core is not counted)."""
    return time_calls(fn, n, warmup, clock=time.thread_time_ns)


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuProbe(Sink):
    """CPU seconds of the loop's thread and of the others (the capture thread), from the first
    result to the last: start-up and model loading stay out."""

    def __init__(self, frames: int):
        self.frames, self.seen = frames, 0
        self.start: tuple[float, float] | None = None
        self.loop = self.others = 0.0

    def write(self, result) -> bool:
        self.seen += 1
        if self.seen == 1:
            self.start = (time.thread_time(), process_cpu())
        elif self.seen == self.frames:
            loop, total = time.thread_time() - self.start[0], process_cpu() - self.start[1]
            self.loop, self.others = loop, total - loop
        return True

    def fps(self) -> float:
        """Frames a second if each thread had its own core: the busier thread sets the rate."""
        busiest = max(self.loop, self.others)
        return (self.frames - 1) / busiest if busiest > 0 else 0.0


def bare_interpreter(path: str, threads: int):
    _, module = resolve_runtime("auto")
    interp = module.Interpreter(model_path=path, num_threads=threads)
    interp.allocate_tensors()
    return interp


def source_only_fps(clip: str, spec, frames: int, decode_threads: int) -> tuple[float, float]:
    """(frames a second, frames a CPU second) of decode + preprocess in one thread, the source opened
    as the loop opens it (edgenet.sources, with the loop's decoder threads). The CPU rate counts the
    whole process, so FFmpeg's own decoder threads count too when there are any."""
    prepare = Preprocessor(spec)
    out = prepare.new_output()
    source = open_source(clip, decode_threads=decode_threads)
    n, t, cpu = 0, time.perf_counter(), process_cpu()
    while n < frames:
        frame = source.read()
        if frame is None:
            source.close()
            source = open_source(clip, decode_threads=decode_threads)
            continue
        prepare(frame, out)
        n += 1
    source.close()
    return n / (time.perf_counter() - t), n / (process_cpu() - cpu)


def naive_serial_fps(clip: str, model_path: str, threads: int, frames: int) -> float:
    interp = bare_interpreter(model_path, threads)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    spec = load_interpreter(model_path, threads=threads).input_spec
    cap = cv2.VideoCapture(clip)
    n = 0
    t = time.perf_counter()
    while n < frames:
        ok, frame = cap.read()
        if not ok:
            break
        interp.set_tensor(inp["index"], preprocess(frame, spec))
        interp.invoke()
        interp.get_tensor(out["index"])
        n += 1
    cap.release()
    return n / (time.perf_counter() - t)


def edgenet_fps(clip: str, model_path: str, threads: int, frames: int, mode: str) -> tuple[float, float]:
    """(end-to-end frames a second, the same from each thread's CPU time)."""
    probe = CpuProbe(frames)
    with open(os.devnull, "w") as null:
        summary = run_pipeline(RunConfig(model_path, clip, threads=threads, headless=True, json=mode == "json",
                                         max_frames=frames), out=null, log=lambda m: None, sinks=[probe])
    return summary.e2e_fps, probe.fps()


def make_clip(path: str, frames: int = 300) -> str:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 30, (640, 480))
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    for i in range(frames):
        writer.write(np.roll(base, i * 3, axis=1))
    writer.release()
    return path


def bench(model_path: str, clip: str, threads: int, frames: int, rounds: int) -> dict:
    model = load_interpreter(model_path, threads=threads)
    spec = model.input_spec
    x = np.zeros(spec.shape, spec.dtype)
    interp = bare_interpreter(model_path, threads)
    interp.set_tensor(interp.get_input_details()[0]["index"], x)

    def edgenet_invoke():  # what run_pipeline does per frame around the interpreter
        model.set_input(x)
        model.invoke()
        model.raw_output()

    cpu_modes = tuple(f"cpu {mode}" for mode in MODES)
    samples: dict[str, list[float]] = {k: [] for k in ("model", "path_ms", "bare_ms", "source", "naive", *MODES,
                                                       "cpu model", "cpu source", *cpu_modes)}
    for _ in range(rounds):
        bare_ms = time_calls(interp.invoke, frames)
        samples["bare_ms"].append(bare_ms)
        samples["model"].append(1000 / bare_ms)
        samples["cpu model"].append(1000 / time_cpu(interp.invoke, frames))
        samples["path_ms"].append(time_calls(edgenet_invoke, frames))
        wall, cpu = source_only_fps(clip, spec, frames, decoder_threads(None, threads))
        samples["source"].append(wall)
        samples["cpu source"].append(cpu)
        for mode in MODES:
            wall, cpu = edgenet_fps(clip, model_path, threads, frames, mode)
            samples[mode].append(wall)
            samples[f"cpu {mode}"].append(cpu)
        samples["naive"].append(naive_serial_fps(clip, model_path, threads, frames))
    per_round = list(zip(*(samples[k] for k in ("model", "source", "naive", "path_ms", "bare_ms", *MODES))))
    ratios = {f"{mode}/limit": statistics.median(r[5 + i] / min(r[0], r[1]) for r in per_round) for i, mode in enumerate(MODES)}
    cpu_rounds = list(zip(*(samples[k] for k in ("cpu model", "cpu source", *cpu_modes))))
    ratios |= {f"cpu {mode}/limit": statistics.median(r[2 + i] / min(r[0], r[1]) for r in cpu_rounds)
               for i, mode in enumerate(MODES)}
    ratios["e2e/naive"] = statistics.median(min(r[5:]) / r[2] for r in per_round)  # the slower output mode
    ratios["path/bare"] = statistics.median(r[3] / r[4] for r in per_round)
    return {"name": os.path.basename(model_path), "threads": threads, "xnnpack": model.xnnpack,
            **{k: statistics.median(v) for k, v in samples.items()}, **ratios}


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def short_name(path: str) -> str:
    name = os.path.basename(path).replace("mobilenet_v1_", "").replace(".tflite", "")
    return name.replace("_quant", "")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", help="model(s) to measure (default: the official shared models)")
    ap.add_argument("--source", help="video file (default: shared vtest.avi, else a generated 640x480 clip)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--frames", type=int, default=600, help="frames per measurement (a file's run ends with the file)")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds; medians are shown (default 7: a "
                    "shared machine moves a single round by 10-30 %%)")
    args = ap.parse_args()

    models = args.model or [str(p) for p in sorted(REFERENCE.glob("mobilenet_v1_*_quant.tflite"))] or \
        [str(FIXTURES / "mobilenet_v1_025_64_int8.tflite")]
    clip = args.source
    if clip is None:
        shared = REFERENCE / "video" / "vtest.avi"
        clip = str(shared) if shared.exists() else make_clip(os.path.join(tempfile.mkdtemp(), "clip.mp4"))
    cores = os.cpu_count() or 1
    print(f"clip: {clip}; {cores} cores; {args.frames} frames a measurement, {args.rounds} interleaved rounds; "
          f"load average {os.getloadavg()[0]:.2f} at start\n")
    header = (f"{'model':9s} {'thr':>3s} {'model':>7s} {'source':>7s} {'naive':>7s} {'headless':>8s} {'json':>7s}  "
              f"{'hl/limit':>8s} {'json/lim':>8s} {'e2e/naive':>9s} {'path/bare':>9s} {'cpu hl':>6s} {'cpu json':>8s}"
              f"  regime")
    print(header)
    print("-" * len(header))
    failures = 0
    for model_path in models:
        for threads in args.threads:
            r = bench(model_path, clip, threads, args.frames, args.rounds)
            balance = r["source"] / r["model"]
            regime = "model-bound" if balance >= 1.5 else "source-bound" if balance <= 1 / 1.5 else "balanced"
            worst = min(r[f"{mode}/limit"] for mode in MODES)
            if cores - threads < 1:  # no core left for capture: overlap cannot win, the goal is "never slower"
                regime, ok = "no core left for capture: e2e >= naive", True
            else:
                regime, ok = f"{regime} (source/model {balance:.2f}): e2e >= {GOAL:.2f} x limit", worst >= GOAL
            ok = ok and r["e2e/naive"] >= 0.97 and r["path/bare"] <= 1.05
            failures += not ok
            print(f"{short_name(r['name']):9s} {threads:3d} {r['model']:7.0f} {r['source']:7.0f} {r['naive']:7.0f} "
                  f"{r['headless']:8.0f} {r['json']:7.0f}  {r['headless/limit']:8.2f} {r['json/limit']:8.2f} "
                  f"{r['e2e/naive']:9.2f} {r['path/bare']:9.3f} {r['cpu headless/limit']:6.2f} "
                  f"{r['cpu json/limit']:8.2f}  {regime} {verdict(ok)}")

    int8, flt = FIXTURES / "mobilenet_v1_025_64_int8.tflite", FIXTURES / "mobilenet_v1_025_64_float.tflite"
    print("\nint8 vs float, same variant (alpha 0.25, 64 px), through edgenet with XNNPACK:")
    for threads in args.threads:
        times = {}
        for name, path in (("int8", int8), ("float", flt)):
            m = load_interpreter(str(path), threads=threads)
            x = np.zeros(m.input_spec.shape, m.input_spec.dtype)
            times[name] = time_calls(lambda: m.run(x), args.frames)
        print(f"  threads {threads}: int8 {times['int8']:.3f} ms, float {times['float']:.3f} ms, "
              f"int8 speedup x{times['float'] / times['int8']:.2f}")
    print("\ncpu hl, cpu json: the same ratios in CPU time (each thread's CPU per frame against the stages' "
          "own CPU alone):\nwhat two free cores would give, without the wake-ups and GIL waits the wall ratios include")
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")
    print(f"{failures} goal(s) missed" if failures else "all goals met")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
