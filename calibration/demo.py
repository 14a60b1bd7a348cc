"""``edgenet demo``: the whole workstation-to-loop path on a fresh machine with no downloads.

Draws a small labelled image set, fine-tunes a small variant through :mod:`calibration.train`,
calibrates through :mod:`edgenet.representative`, converts through :mod:`calibration.convert`, scores
float and int8 with ``edgenet.evaluate`` on a separately drawn test set, writes a clip and runs the
live loop (``edgenet.pipeline``) over it or over a camera. Every step is the verb a user would run
on their own data; only the data is drawn.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from calibration.synthetic import LABELS
from edgenet.errors import UsageError
from edgenet.limits import MAX_TRAINING_BYTES
from edgenet.variants import Variant


@dataclass(frozen=True)
class DemoConfig:
    workdir: str | None = None  # default: a fresh temporary folder
    alpha: float = 0.25
    resolution: int = 96
    per_class: int = 200
    test_per_class: int = 50
    epochs: int = 8
    # Off: the drawings already vary in colour, period, orientation and noise, and within the demo's
    # 8 epochs flips/shifts/zooms only slowed learning (measured at 96 px, 200 a class: float top-1
    # 92.5 % with augmentation, 98 % without; int8 agreement 92.5 % vs 100 %).
    augment: bool = False
    train_seconds: float = 120.0
    calibration_count: int = 300
    camera: int | None = None  # run the loop on this camera instead of the generated clip
    frames: int = 240  # loop frames (clip length, or camera frames)
    threads: int | None = None
    seed: int = 0
    keep: bool = False  # keep the drawings, clip and samples of a temporary workdir (a given workdir is never tidied)
    # A MobileNet V1 .tflite or model index name to fine-tune from; None: a cached official model of
    # this alpha if there is one (edgenet models pull), else training from scratch.
    weights: str | None = None

    def __post_init__(self) -> None:
        Variant(self.alpha, self.resolution)
        if self.per_class < 5 or self.test_per_class < 1:
            raise UsageError("--per-class must be at least 5 and --test-per-class at least 1")
        needed = self.per_class * len(LABELS) * self.resolution ** 2 * 3 * 4  # training images, float32
        if needed > MAX_TRAINING_BYTES:
            most = MAX_TRAINING_BYTES // (len(LABELS) * self.resolution ** 2 * 3 * 4)
            raise UsageError(f"--per-class {self.per_class} drawings at {self.resolution} px would hold "
                             f"{needed / 2**30:.0f} GiB in memory; at most {most} at this resolution")
        if self.frames < 1 or self.epochs < 1 or self.train_seconds <= 0:
            raise UsageError("--frames, --epochs and --train-seconds must be positive")
        if self.workdir is not None and os.path.exists(self.workdir) and not os.path.isdir(self.workdir):
            raise UsageError(f"--workdir {self.workdir} is a file")


@dataclass
class DemoResult:
    workdir: str
    model: str
    float_model: str
    labels: str
    float_top1: float
    int8_top1: float
    test_images: int
    agreement: dict
    loop: dict
    seconds: dict = field(default_factory=dict)
    removed_bytes: int = 0  # what tidying a temporary workdir freed (0: nothing removed)
    kept_bytes: int = 0
    started_from: str = ""  # which weights training started from, in a sentence

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("workdir", "model", "float_model", "labels", "float_top1", "int8_top1",
                                                "test_images", "agreement", "loop", "seconds", "removed_bytes",
                                                "kept_bytes", "started_from")}


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def tidy_workdir(work: Path, keep: set[str]) -> tuple[int, int]:
    """Remove everything in ``work`` but the ``keep`` paths; (bytes removed, bytes kept)."""
    removed = kept = 0
    for entry in work.iterdir():
        size = _size(entry)
        if str(entry) in keep:
            kept += size
            continue
        removed += size
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    return removed, kept


def check_camera(index: int) -> str:
    """The camera's source URI, once it has given a frame: a missing camera is found before training."""
    from edgenet.errors import SourceError, SourceLost
    from edgenet.board.camera import camera_uri
    from edgenet.sources import open_source

    uri = camera_uri(index)
    with open_source(uri) as source:
        try:
            frame = source.read()
        except SourceLost as exc:
            frame, why = None, str(exc)
        else:
            why = "no frame"
        if frame is None:
            raise SourceError(f"{source.name} opened but gave no frame ({why}); check the camera, "
                              f"or run the demo without --camera (it then uses a generated clip)")
    return uri


def demo_weights(config: DemoConfig) -> tuple[str | None, float, str]:
    """(pretrained .tflite or None, alpha, a sentence saying which start the demo takes)."""
    from edgenet.errors import EdgenetError
    from edgenet.variants import STANDARD_RESOLUTIONS

    if config.weights is not None:
        from calibration.tflite_import import read_graph, resolve_weights

        path = resolve_weights(config.weights)
        graph = read_graph(path)
        return path, graph.alpha, f"from the pretrained ImageNet features of {path} (given)"
    nearest = min(STANDARD_RESOLUTIONS, key=lambda r: abs(r - config.resolution))
    name = Variant(config.alpha, nearest).name
    from edgenet.models import model_path

    try:
        path = str(model_path(name, pull=False))
    except (EdgenetError, OSError):
        return None, config.alpha, (f"from scratch (no pretrained {name} cached: `edgenet models pull {name}` or "
                                    "--weights FILE.tflite fine-tunes ImageNet features instead)")
    return path, config.alpha, f"from the pretrained ImageNet features of {name} (cached: {path})"


def run_demo(config: DemoConfig, log: Callable[[str], None] = print) -> DemoResult:
    """Every step in ``config.workdir``, or in a temporary folder that is tidied at the end to the
    models, labels and build reports (all of it on failure) unless ``config.keep``."""
    from calibration.convert import labels_path, report_path

    # Before minutes of training: the camera must answer now, not after.
    camera = check_camera(config.camera) if config.camera is not None else None
    temporary = config.workdir is None
    work = Path(config.workdir or tempfile.mkdtemp(prefix="edgenet-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = _run_steps(config, work, camera, log)
    except BaseException:
        if temporary and not config.keep:
            shutil.rmtree(work, ignore_errors=True)
        raise
    if temporary and not config.keep:
        # 60-70 MB of drawings, clip and samples in /tmp per run otherwise; the models stay for `edgenet run`.
        keep = {result.model, result.float_model, result.labels}
        keep |= {str(labels_path(m)) for m in (result.model, result.float_model)}
        keep |= {str(report_path(m)) for m in (result.model, result.float_model)}
        result.removed_bytes, result.kept_bytes = tidy_workdir(work, keep)
    return result


def _run_steps(config: DemoConfig, work: Path, camera: str | None, log: Callable[[str], None]) -> DemoResult:
    from calibration.convert import BuildConfig, build_model
    from edgenet.representative import calibrate_to_file
    from calibration.synthetic import LABELS, write_clip, write_image_folder
    from calibration.train import TrainConfig, train
    from edgenet.evaluate import evaluate
    from edgenet.pipeline import RunConfig, run_pipeline

    pretrained, alpha, why = demo_weights(config)
    variant = Variant(alpha, config.resolution)
    seconds: dict[str, float] = {}

    def step(name):
        seconds[name] = round(time.perf_counter() - step.t0, 1)
        step.t0 = time.perf_counter()

    step.t0 = time.perf_counter()
    log(f"[1/6] drawing {config.per_class} training and {config.test_per_class} test pictures per class in {work}")
    write_image_folder(work / "train", config.per_class, seed=config.seed)
    write_image_folder(work / "test", config.test_per_class, seed=config.seed + 1000)
    # Calibration pictures the model never trained on, as a board's camera would give them.
    write_image_folder(work / "calibration", -(-config.calibration_count // len(LABELS)), seed=config.seed + 3000)
    step("draw")

    log(f"[2/6] training {variant.name} (at most {config.epochs} epochs / ~{config.train_seconds:.0f} s): {why}")
    trained = train(
        TrainConfig(str(work / "train"), str(work / f"{variant.name}.keras"), alpha=alpha,
                    resolution=config.resolution, weights=pretrained or "auto", epochs=config.epochs,
                    augment=config.augment, max_seconds=config.train_seconds, seed=config.seed),
        progress=lambda e, n, logs: log(f"      epoch {e}/{n}: accuracy {logs.get('accuracy', 0):.3f}, "
                                        f"validation {logs.get('val_accuracy', 0):.3f}"),
        log=lambda m: log(f"      {m}"),
    )
    for warning in trained.warnings:
        log(f"      warning: {warning}")
    step("train")

    log(f"[3/6] calibrating on {config.calibration_count} new pictures (edgenet's own preprocessing)")
    calib = work / f"calib_{config.resolution}.npz"
    calibrate_to_file(str(work / "calibration"), config.resolution, str(calib), config.calibration_count, seed=config.seed)
    step("calibrate")

    log("[4/6] converting to full int8 (and float32 for comparison)")
    int8 = build_model(BuildConfig(alpha, config.resolution, str(work / variant.model_filename("int8")),
                                   weights=trained.model, calibration=str(calib)))
    flt = build_model(BuildConfig(alpha, config.resolution, str(work / variant.model_filename("float32")),
                                  weights=trained.model, calibration=str(calib), float_model=True))
    step("convert")

    log("[5/6] evaluating float and int8 on the held-out drawn test set")
    e_int8 = evaluate(int8.model, str(work / "test"), labels=int8.labels, threads=config.threads)
    e_float = evaluate(flt.model, str(work / "test"), labels=flt.labels, threads=config.threads)
    step("evaluate")

    if camera is not None:
        source = camera
        log(f"[6/6] live loop on {source} for {config.frames} frames")
    else:
        clip = work / "clip.mp4"
        write_clip(clip, scenes=max(1, config.frames // 8), hold=8, seed=config.seed + 2000)
        source = str(clip)
        log(f"[6/6] live loop over a generated clip ({clip.name}, {config.frames} frames)")
    lines = io.StringIO()
    summary = run_pipeline(RunConfig(model=int8.model, source=source, labels=int8.labels, threads=config.threads,
                                     headless=True, max_frames=config.frames, top_k=1), out=lines,
                           log=lambda m: log(f"      {m}"))
    step("loop")
    return DemoResult(
        workdir=str(work), model=int8.model, float_model=flt.model, labels=int8.labels,
        float_top1=e_float.top1, int8_top1=e_int8.top1, test_images=e_int8.count,
        agreement=int8.data.get("quantization", {}),
        started_from=why,
        loop={"frames": summary.frames, "e2e_fps": round(summary.e2e_fps, 1), "model_fps": round(summary.model_fps, 1),
              "source": source, "last_top": summary.last_top},
        seconds=seconds,
    )
