"""The live loop: capture ‖ (preprocess in the capture thread) -> inference -> top-k -> sinks.

Capture and preprocessing run in their own thread (``edgenet.capture``), so while the interpreter
works on frame N the next frame is already being read and turned into a tensor; when reading is the
slower stage, this thread (which would otherwise wait) preprocesses frames instead, so the capture
thread only reads. OpenCV and the TFLite interpreter release the GIL, so the two threads really run
on two cores; FFmpeg decodes with the cores the interpreter leaves (``decoder_threads``), not one
thread per core of its own. Where results go (window, recorder, JSON lines, status line, live view)
is the sinks' business (``edgenet.sinks``)."""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Callable, Sequence

from edgenet.board.manifest import environment
from edgenet.capture import Backoff, Capture, EndOfStream, FrameTimeout
from edgenet.errors import SourceError, UsageError
from edgenet.labels import load_labels
from edgenet.limits import MAX_SECONDS, MAX_THREADS
from edgenet.models import resolve_model
from edgenet.outputs import check_output_path
from edgenet.postprocess import TopK
from edgenet.preprocess import DEFAULT_CROP, Preprocessor
from edgenet.runtime import load_interpreter
from edgenet.sinks import RECORD_SUFFIXES, FrameResult, Sink, StreamInfo, close_all, open_all, standard_sinks
from edgenet.sources import OPEN_SECONDS, STALL_SECONDS, name_files, open_source, parse_source
from edgenet.stats import Summary, summarize

STAGES = ("capture_wait", "preprocess", "inference", "postprocess", "render")


@dataclass(frozen=True)
class RunConfig:
    model: str | None  # a .tflite path, a model index name, or None: the saved pick, else the default
    source: str
    labels: str | None = None
    runtime: str = "auto"
    threads: int | None = None
    xnnpack: bool = True
    top_k: int = 5
    threshold: float = 0.0
    smoothing: float = 0.0
    headless: bool = False
    json: bool = False
    record: str | None = None
    max_frames: int | None = None
    duration: float | None = None
    realtime: bool = False
    crop: float = DEFAULT_CROP
    reconnect_timeout: float | None = None  # None: a lost camera is retried until the run ends
    decode_threads: int | None = None  # FFmpeg decoder threads; None: the cores the interpreter leaves, at least 1

    def __post_init__(self) -> None:
        if self.max_frames is not None and self.max_frames < 1:
            raise UsageError(f"--max-frames must be at least 1, got {self.max_frames}")
        for option, value in (("--duration", self.duration), ("--reconnect-timeout", self.reconnect_timeout)):
            if value is not None and not 0 < value <= MAX_SECONDS:  # NaN fails too
                raise UsageError(f"{option} must be > 0 and at most {MAX_SECONDS:g} s (a year), got {value}")
        if not 0.0 < self.crop <= 1.0:
            raise UsageError(f"--crop must be in (0, 1], got {self.crop}")
        if not 0.0 <= self.smoothing < 1.0:
            raise UsageError(f"--smoothing must be in [0, 1), got {self.smoothing}")
        if not 0.0 <= self.threshold <= 1.0:
            raise UsageError(f"--threshold must be in [0, 1], got {self.threshold}")
        if self.top_k < 1:
            raise UsageError(f"--top-k must be at least 1, got {self.top_k}")
        if self.decode_threads is not None and not 0 <= self.decode_threads <= MAX_THREADS:
            raise UsageError(f"--decode-threads must be in 0..{MAX_THREADS}, got {self.decode_threads}")
        if self.record is not None:
            check_output_path(self.record, RECORD_SUFFIXES, option="--record")


@dataclass
class RunSummary:
    frames: int
    seconds: float
    e2e_fps: float
    model_fps: float
    stages: dict[str, Summary]
    dropped: int
    outages: int
    source: str
    environment: dict
    last_top: list[dict] = field(default_factory=list)
    model: str = ""  # the .tflite that ran (a pulled index model's cached file)

    def as_dict(self) -> dict:
        return {
            "model": self.model,
            "frames": self.frames,
            "seconds": round(self.seconds, 3),
            "e2e_fps": round(self.e2e_fps, 2),
            "model_fps": round(self.model_fps, 2),
            "dropped": self.dropped,
            "outages": self.outages,
            "source": self.source,
            "stages_ms": {name: s.as_dict() for name, s in self.stages.items()},
            "environment": self.environment,
            "last_top": self.last_top,
        }


def decoder_threads(asked: int | None, interpreter_threads: int) -> int:
    """FFmpeg decoder threads for the loop: ``asked``, else the cores the interpreter leaves, at least one.

    FFmpeg's own default (a thread per core, ``asked`` = 0) spends more CPU a frame than one thread
    (measured here: 0.7-0.9 ms against 0.55 ms a 768x576 MPEG-4 frame), and spends it on the cores
    the interpreter runs on: with two cores and one interpreter thread, the loop is faster with one."""
    if asked is not None:
        return asked
    return max(1, (os.cpu_count() or 1) - interpreter_threads)


def run_pipeline(
    config: RunConfig,
    *,
    out: IO[str] | None = None,
    log: Callable[[str], None] | None = None,
    sinks: Sequence[Sink] = (),
    stop: threading.Event | None = None,
) -> RunSummary:
    """Run the loop until the source ends, a bound is hit, or a sink asks to stop (a closed window).

    Results go to the sinks ``config``'s output options ask for (JSON lines, window or status line
    on ``out``, recorder) and to ``sinks`` (e.g. the live view). ``stop``, when set (a signal handler,
    another thread), ends the loop after the frame in hand, as a bound does: the summary is returned.
    """
    out = out or sys.stdout
    log = log or (lambda message: print(f"edgenet: {message}", file=sys.stderr, flush=True))
    parse_source(config.source)  # bad URIs fail before the model loads (or is downloaded)
    resolved = resolve_model(config.model, log=log)
    model = load_interpreter(str(resolved.path), runtime=config.runtime, threads=config.threads, xnnpack=config.xnnpack)
    labels = load_labels(config.labels or (str(resolved.labels) if resolved.labels else None), model.classes)
    post = TopK(labels, config.top_k, config.smoothing, config.threshold, model.output_spec)
    prepare = Preprocessor(model.input_spec, config.crop)

    # A stalled stream is lost after STALL_SECONDS (sooner with a shorter --reconnect-timeout), and a
    # reconnect attempt waits no longer than what is left of --reconnect-timeout.
    limit = config.reconnect_timeout
    stall = min(STALL_SECONDS, limit) if limit else STALL_SECONDS
    decode_threads = decoder_threads(config.decode_threads, model.threads)
    source = open_source(config.source, stall_timeout=stall, decode_threads=decode_threads)
    live = source.live
    outputs = standard_sinks(json_lines=config.json, headless=config.headless, record=config.record, out=out,
                             log=log) + list(sinks)
    capture = Capture(
        source,
        reopen=(lambda: open_source(config.source, stall_timeout=stall, decode_threads=decode_threads,
                                    open_timeout=min(OPEN_SECONDS, limit) if limit else OPEN_SECONDS)) if live else None,
        transform=prepare,  # in the capture thread, into recycled tensors
        buffers=prepare.new_output,
        consumer_transform=Preprocessor(model.input_spec, config.crop),  # here, when capture is the slower side
        latest_only=live or config.realtime,
        pace_fps=(source.nominal_fps or 30.0) if (config.realtime and not live) else None,
        backoff=Backoff(give_up_after=config.reconnect_timeout),
        log=log,
    )
    timings: dict[str, list[int]] = {name: [] for name in STAGES}
    frames = 0
    picked = None
    started = first = time.perf_counter_ns()
    deadline = started + int(config.duration * 1e9) if config.duration else None
    e2e = 0.0
    ended = False  # the source ran out (not a bound, a closed window or a stop)
    try:
        open_all(outputs, StreamInfo(source.name, live, source.nominal_fps))
        capture.start()
        while True:
            t0 = time.perf_counter_ns()
            if (deadline is not None and t0 >= deadline) or (stop is not None and stop.is_set()):
                break
            try:
                frame = capture.get(timeout=0.25)
            except FrameTimeout:
                continue
            except EndOfStream:
                ended = True
                break
            t1 = time.perf_counter_ns()
            model.set_input(frame.tensor)
            model.invoke()
            raw = model.raw_output()
            t2 = time.perf_counter_ns()
            picked = post.pick(raw)
            t3 = time.perf_counter_ns()
            frames += 1
            if frames == 1:
                first = t3  # end-to-end FPS counts from the first result, not from start-up
            elapsed = (t3 - first) / 1e9
            e2e = (frames - 1) / elapsed if elapsed > 0 else 0.0
            result = FrameResult(frame.index, frame.image, picked, e2e, (t2 - t1) / 1e6, t3)
            keep_going = True
            for sink in outputs:
                keep_going = sink.write(result) is not False and keep_going
            t4 = time.perf_counter_ns()
            if frames > 1:  # the first frame pays for warm-up; keep it out of the statistics
                # get() may have preprocessed the frame here: that time is "preprocess", not waiting
                timings["capture_wait"].append(t1 - t0 - (frame.transform_ns if frame.by_consumer else 0))
                timings["preprocess"].append(frame.transform_ns)
                timings["inference"].append(t2 - t1)
                timings["postprocess"].append(t3 - t2)
                if result.drawn:
                    timings["render"].append(t4 - t3)
            if not keep_going or (config.max_frames is not None and frames >= config.max_frames):
                break
    finally:
        capture.stop()
        close_all(outputs)
    skipped = getattr(source, "skipped", None)
    if skipped:
        log(f"warning: skipped {len(skipped)} unreadable image(s): {name_files(skipped)}")
    if frames == 0 and ended:
        raise SourceError(f"{source.name} gave no frames")  # an empty success would hide a broken source
    end = time.perf_counter_ns()
    stages = {name: summarize(samples) for name, samples in timings.items() if samples}
    inference = stages.get("inference")
    seconds = (end - first) / 1e9 if frames else 0.0
    return RunSummary(
        frames=frames,
        seconds=seconds,
        e2e_fps=e2e,
        model_fps=inference.fps if inference else 0.0,
        stages=stages,
        dropped=capture.dropped,
        outages=capture.outages,
        source=source.name,
        environment=environment(model) | {"source_live": live, "decode_threads": decode_threads},
        last_top=picked.as_dicts() if picked is not None else [],
        model=str(resolved.path),
    )
