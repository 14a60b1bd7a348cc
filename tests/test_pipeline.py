import io
import json

import cv2
import numpy as np
import pytest

import edgenet.pipeline as pipeline
from edgenet.errors import UsageError
from edgenet.labels import load_labels
from edgenet.pipeline import RunConfig, run_pipeline
from edgenet.postprocess import TopK
from edgenet.preprocess import preprocess
from edgenet.runtime import OutputSpec, load_interpreter
from edgenet.sinks import FrameResult, JsonLines, Sink
from tests.fakes import CameraWorld
from tests.fixtures.drawings import LABELS, draw


@pytest.fixture
def clip(tmp_path):
    """A 40-frame 320x240 video: 20 red frames then 20 blue frames (drawn, with noise)."""
    path = str(tmp_path / "clip.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 20, (320, 240))
    rng = np.random.default_rng(0)
    for i in range(40):
        writer.write(cv2.resize(draw("red" if i < 20 else "blue", rng), (320, 240)))
    writer.release()
    return path


def run(config, **kw):
    out = io.StringIO()
    logs = []
    summary = run_pipeline(config, out=out, log=logs.append, **kw)
    return summary, out.getvalue(), logs


def test_every_frame_of_a_file_is_classified(clip, tiny_model, tiny_labels):
    summary, out, _ = run(RunConfig(str(tiny_model), clip, str(tiny_labels), threads=1, json=True, top_k=3))
    lines = [json.loads(line) for line in out.splitlines()]
    assert summary.frames == 40 == len(lines) and summary.dropped == 0
    assert [line["frame"] for line in lines] == list(range(40))
    firsts = [line["top"][0]["label"] for line in lines]
    assert firsts[:20].count("red") >= 18 and firsts[20:].count("blue") >= 18
    assert all(len(line["top"]) == 3 for line in lines)
    assert summary.e2e_fps > 0 and summary.model_fps > 0
    assert set(summary.stages) == {"capture_wait", "preprocess", "inference", "postprocess"}
    assert summary.stages["inference"].count == 39  # the first frame (warm-up) is left out
    env = summary.environment
    assert env["runtime"] in ("litert", "tflite-runtime") and env["threads"] == 1 and "xnnpack" in env


def test_the_loop_gives_what_the_plain_functions_give(clip, tiny_model, tiny_labels):
    # The loop preprocesses into recycled tensors in the capture thread and picks from the raw
    # output; every frame's line must be exactly what preprocess(), Model.run() and TopK() give
    # frame by frame, and what json.dumps writes.
    _, out, _ = run(RunConfig(str(tiny_model), clip, str(tiny_labels), threads=1, json=True, top_k=3))
    model = load_interpreter(str(tiny_model), threads=1)
    post = TopK(load_labels(str(tiny_labels), model.classes), 3)
    cap = cv2.VideoCapture(clip)
    lines = out.splitlines()
    for n, line in enumerate(lines):
        ok, frame = cap.read()
        assert ok
        got = json.loads(line)
        top = post(model.run(preprocess(frame, model.input_spec)))
        assert got["frame"] == n and got["top"] == top
        assert line == json.dumps({"frame": n, "top": top, "infer_ms": got["infer_ms"], "e2e_fps": got["e2e_fps"]})
    assert len(lines) == 40 and not cap.read()[0]


def test_json_lines_are_json_dumps_text():
    labels = ['tench "fish"', "café", "back\\slash", "two\nlines", "plain"]
    picked = TopK(labels, 5, output=OutputSpec(5, "uint8", 1 / 256, 0)).pick(np.array([200, 255, 3, 7, 0], np.uint8))
    sink = JsonLines(io.StringIO())
    for e2e, infer_ms in [(0.0, 0.5347), (1234.5678, 12.0), (29.999, 1e-5)]:
        result = FrameResult(7, np.zeros((2, 2, 3), np.uint8), picked, e2e, infer_ms, 0)
        expected = json.dumps({"frame": 7, "top": result.top, "infer_ms": round(infer_ms, 3), "e2e_fps": round(e2e, 2)})
        assert sink.line(result) == expected + "\n"
        assert json.loads(sink.line(result))["top"][0] == {"index": 1, "label": "café", "score": round(255 / 256, 4)}


def test_bounds_threshold_and_smoothing(clip, tiny_model, tiny_labels):
    summary, out, _ = run(RunConfig(str(tiny_model), clip, str(tiny_labels), json=True, max_frames=5, threshold=0.5))
    lines = [json.loads(line) for line in out.splitlines()]
    assert summary.frames == 5 == len(lines)
    assert all(t["score"] >= 0.5 for line in lines for t in line["top"])
    # smoothing: with a heavy EMA the label lags behind the red->blue cut
    _, out, _ = run(RunConfig(str(tiny_model), clip, str(tiny_labels), json=True, smoothing=0.9))
    tops = [json.loads(line)["top"][0]["label"] for line in out.splitlines()]
    assert tops[20] == "red" and tops[-1] == "blue"


def test_record_writes_the_annotated_video(clip, tiny_model, tiny_labels, tmp_path):
    out_path = tmp_path / "out.mp4"
    summary, _, _ = run(RunConfig(str(tiny_model), clip, str(tiny_labels), headless=True, record=str(out_path)))
    cap = cv2.VideoCapture(str(out_path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = cap.read()
    cap.release()
    assert ok and n == summary.frames == 40
    original = cv2.VideoCapture(clip).read()[1]
    # text panel drawn in the top-left corner, the rest of the frame left as it was
    assert np.abs(frame[:20, :60].astype(int) - original[:20, :60]).mean() > 20
    assert np.abs(frame[-20:, -20:].astype(int) - original[-20:, -20:]).mean() < 25
    assert "render" in summary.stages


def test_headless_prints_a_line_per_second(tiny_model, tiny_labels):
    summary, out, logs = run(RunConfig(str(tiny_model), "pattern://?width=320&height=240", str(tiny_labels),
                                       threads=1, duration=2.2))
    lines = out.strip().splitlines()
    assert 2 <= len(lines) <= 3
    assert all(" fps | inference " in line for line in lines)
    assert summary.seconds < 3
    assert any("running headless" in m for m in logs)  # no display here


def test_image_folder(tmp_path, tiny_model, tiny_labels):
    rng = np.random.default_rng(3)
    for i, label in enumerate(LABELS):
        cv2.imwrite(str(tmp_path / f"{i:02d}_{label}.png"), draw(label, rng))
    summary, out, _ = run(RunConfig(str(tiny_model), str(tmp_path), str(tiny_labels), json=True, top_k=1))
    got = [json.loads(line)["top"][0]["label"] for line in out.splitlines()]
    assert summary.frames == 10
    assert sum(g == t for g, t in zip(got, LABELS)) >= 8


def test_camera_lost_and_back_does_not_end_the_run(monkeypatch, tiny_model, tiny_labels):
    world = CameraWorld(fps=300, unplug_at=15, comes_back_after_attempts=2)
    monkeypatch.setattr(pipeline, "open_source", lambda uri, **timeouts: world.open())
    monkeypatch.setattr(pipeline, "parse_source", lambda uri: None)
    summary, out, logs = run(RunConfig(str(tiny_model), "v4l2://0", str(tiny_labels), json=True, max_frames=40))
    assert summary.frames == 40 and summary.outages == 1
    assert len([m for m in logs if "reconnecting" in m]) == 1
    assert all(json.loads(line)["top"][0]["label"] == "red" for line in out.splitlines())


class Collect(Sink):
    """A sink that keeps what it was given: the annotated frame, or the raw one."""

    def __init__(self, annotated: bool):
        self.annotated, self.seen, self.info, self.closed = annotated, [], None, False

    def open(self, info):
        self.info = info

    def write(self, result):
        frame = result.annotated if self.annotated else result.image
        self.seen.append((frame, result.top[0]["label"], result.infer_ms, result.stats()))
        return True

    def close(self):
        self.closed = True


def test_a_sink_gets_drawn_frames(clip, tiny_model, tiny_labels):
    sink = Collect(annotated=True)
    summary, out, _ = run(RunConfig(str(tiny_model), clip, str(tiny_labels), headless=True, max_frames=3), sinks=[sink])
    seen = [(frame.shape, label, ms) for frame, label, ms, _ in sink.seen]
    assert len(seen) == 3 and seen[0][0] == (240, 320, 3) and seen[0][1] == "red" and seen[0][2] > 0
    assert sink.info.fps == 20 and not sink.info.live and sink.closed
    original = cv2.VideoCapture(clip).read()[1]
    assert np.abs(sink.seen[0][0][:20, :60].astype(int) - original[:20, :60]).mean() > 20  # the label panel
    assert "render" in summary.stages  # drawing, asked for by a sink, is timed
    assert sink.seen[-1][3]["frame"] == 2 and sink.seen[-1][3]["top"][0]["label"] == "red"


def test_a_sink_that_takes_raw_frames_costs_no_drawing(clip, tiny_model, tiny_labels):
    sink = Collect(annotated=False)
    summary, _, _ = run(RunConfig(str(tiny_model), clip, str(tiny_labels), json=True, max_frames=5), sinks=[sink])
    original = cv2.VideoCapture(clip).read()[1]
    assert np.array_equal(sink.seen[0][0], original) or np.abs(sink.seen[0][0].astype(int) - original).mean() < 1
    assert "render" not in summary.stages and summary.frames == 5


def test_a_sink_can_stop_the_run_and_every_sink_is_closed(clip, tiny_model, tiny_labels):
    class StopAfter(Collect):
        def write(self, result):
            super().write(result)
            return len(self.seen) < 4

    stopper, other = StopAfter(annotated=False), Collect(annotated=False)
    summary, _, _ = run(RunConfig(str(tiny_model), clip, str(tiny_labels), json=True), sinks=[stopper, other])
    assert summary.frames == 4 == len(stopper.seen) == len(other.seen)  # the frame that stops reaches every sink
    assert stopper.closed and other.closed


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_frames": 0}, "max-frames"),
        ({"duration": -1}, "duration"),
        ({"crop": 1.5}, "crop"),
        ({"record": "/no/such/folder/out.mp4"}, "does not exist"),
        ({"smoothing": 1.0}, "smoothing"),
        ({"threshold": -0.1}, "threshold"),
        ({"top_k": 0}, "top-k"),
        ({"decode_threads": -1}, "decode-threads"),
        ({"decode_threads": 65}, "decode-threads"),
    ],
)
def test_bad_config(kwargs, message):
    with pytest.raises(UsageError, match=message):
        RunConfig("m.tflite", "pattern://", **kwargs)


@pytest.mark.parametrize("asked, interpreter, cores, expected", [
    (None, 1, 2, 1),  # this machine at --threads 1: the other core decodes
    (None, 1, 4, 3),  # a Pi 4 at --threads 1
    (None, 4, 4, 1),  # the interpreter takes every core: one decoder thread, never FFmpeg's one per core
    (None, 8, 4, 1),
    (0, 1, 2, 0),  # asked for FFmpeg's own default
    (3, 1, 2, 3),
])
def test_decoder_threads_take_the_cores_the_interpreter_leaves(monkeypatch, asked, interpreter, cores, expected):
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: cores)
    assert pipeline.decoder_threads(asked, interpreter) == expected


def test_the_loop_opens_files_with_its_decoder_threads(monkeypatch, clip, tiny_model, tiny_labels):
    opened = []
    real = pipeline.open_source

    def recording(uri, **kw):
        opened.append(kw.get("decode_threads"))
        return real(uri, **kw)

    monkeypatch.setattr(pipeline, "open_source", recording)
    monkeypatch.setattr(pipeline.os, "cpu_count", lambda: 2)
    summary, _, _ = run(RunConfig(str(tiny_model), clip, str(tiny_labels), threads=1, headless=True))
    assert summary.frames == 40 and opened == [1] and summary.environment["decode_threads"] == 1
    summary, _, _ = run(RunConfig(str(tiny_model), clip, str(tiny_labels), threads=1, headless=True, decode_threads=0))
    assert summary.frames == 40 and opened == [1, 0] and summary.environment["decode_threads"] == 0
