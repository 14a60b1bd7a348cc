"""``profile(config)``: measure (or predict) every model at every thread count, then pick.

Order of work: the seed models (spread over mult-adds) are measured first and a latency line is
fitted per precision and thread count; the rest are then measured in full, not at all
(``predict_only``), or only as far as the pick needs (``fast``). Sustained runs and end-to-end
runs with a real source come last, on the candidates that matter.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from edgenet.board.manifest import environment
from edgenet.board.thermal import ThermalProbe
from edgenet.errors import UsageError
from edgenet.profiler.accuracy import check_one_kind, load_accuracy
from edgenet.profiler.build import NO_BUILDER, GridBuilder, default_cache_dir, grid_model_path
from edgenet.profiler.measure import MeasureOptions, measure_model
from edgenet.profiler.models import ModelEntry, grid_models, models_from, official_models
from edgenet.profiler.predict import LatencyFit, fit_latency, mult_adds, pick_seeds
from edgenet.profiler.results import ProfileReport, ProfileRow
from edgenet.profiler.select import pick_variant, rank_key
from edgenet.profiler.sustained import run_sustained
from edgenet.variants import PRECISIONS, standard_variants

DEFAULT = "default"  # vcgencmd / nvpmodel: find on PATH


@dataclass(frozen=True)
class ProfileConfig:
    models: str | tuple[str, ...] | None = None  # folders, .tflite files or model index names ...
    grid: bool = False  # ... or the 16 standard variants:
    weights: str = "official"  # grid: the official pretrained models (pulled), or "random"-weight builds
    model_cache: str | None = None  # random grid: default builds/latency in the cache (edgenet.cache)
    include_float: bool = False  # grid: also the float32 model of each variant
    build: bool = True  # grid: build missing models (with the builder given to profile())
    build_only: bool = False
    threads: tuple[int, ...] | None = None  # default 1..cores
    measure: MeasureOptions = field(default_factory=MeasureOptions)
    target_fps: float | None = None
    margin: float = 0.0
    accuracy: tuple[str, ...] = ()
    predict_only: bool = False
    fast: bool = False
    seeds: int = 3
    source: str | None = None
    e2e_frames: int = 200
    sustained: float | None = None  # seconds per candidate
    sustained_interval: float = 1.0
    sustained_candidates: int = 3
    sysfs_root: str = "/"
    vcgencmd: tuple[str, ...] | str | None = DEFAULT
    nvpmodel: tuple[str, ...] | str | None = DEFAULT
    save_pick: bool = False  # remember a pick that meets the target for run/eval on this machine

    def __post_init__(self) -> None:
        if (self.models is None) == (not self.grid):
            raise UsageError("give exactly one of --models DIR or --grid")
        if self.threads is not None and (not self.threads or min(self.threads) < 1):
            raise UsageError(f"--threads must be whole numbers >= 1, got {self.threads}")
        if self.target_fps is not None and not self.target_fps > 0:
            raise UsageError(f"--target-fps must be positive, got {self.target_fps}")
        if self.margin < 0 or self.margin >= 10:
            raise UsageError(f"--margin is a fraction (0.1 = 10%), got {self.margin}")
        if self.fast and self.target_fps is None:
            raise UsageError("--fast needs --target-fps: it stops once the pick for that target is certain")
        if self.sustained is not None and self.target_fps is None:
            raise UsageError("--sustained needs --target-fps: it re-runs the candidates that meet it")
        if self.sustained is not None and self.sustained <= 0:
            raise UsageError(f"--sustained must be positive seconds, got {self.sustained}")
        if self.fast and self.predict_only:
            raise UsageError("--fast and --predict-only exclude each other (one measures less, the other none)")
        if self.seeds < 1:
            raise UsageError(f"--seeds must be at least 1, got {self.seeds}")
        if self.sustained_candidates < 1 or self.sustained_interval <= 0 or self.e2e_frames < 1:
            raise UsageError("sustained candidates, sampling interval and e2e frames must be positive")
        if self.grid is False and (self.include_float or self.build_only):
            raise UsageError("--float and --build-only go with --grid (a --models folder is profiled as it is)")
        if self.weights not in ("official", "random"):
            raise UsageError(f"grid weights are 'official' or 'random', not {self.weights!r}")
        if self.weights == "official" and (self.build_only or not self.build or self.model_cache):
            raise UsageError("--build-only, --no-build and --model-cache go with --random-weights (the official "
                             "models are pulled from the model index, not built)")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["measure"] = asdict(self.measure)
        return d


def _argv(value) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def make_probe(config: ProfileConfig) -> ThermalProbe:
    kwargs = {}
    if config.vcgencmd != DEFAULT:
        kwargs["vcgencmd"] = _argv(config.vcgencmd)
    if config.nvpmodel != DEFAULT:
        kwargs["nvpmodel"] = _argv(config.nvpmodel)
    return ThermalProbe(config.sysfs_root, **kwargs)


class _Stopped(Exception):
    """A stop was asked for between two measurements."""


class _Profiler:
    def __init__(self, config: ProfileConfig, builder: GridBuilder | None, log: Callable[[str], None],
                 stop: threading.Event | None = None):
        self.config = config
        self.builder = builder
        self.log = log
        self.stop = stop
        self.threshold = config.target_fps * (1 + config.margin) if config.target_fps else None
        self.rows: list[ProfileRow] = []
        self.fits: dict[tuple[str, int], LatencyFit] = {}
        self.notes: list[str] = []
        self.sustained_only = False  # set once sustained runs decide the pick

    # -- models ------------------------------------------------------------------------------
    def entries(self) -> list[ModelEntry]:
        c = self.config
        if c.models is not None:
            entries, skipped = models_from((c.models,) if isinstance(c.models, str) else c.models, log=self.log)
            for line in skipped:
                self.log(line)
            self.notes.extend(skipped)
            return entries
        precisions = PRECISIONS if c.include_float else ("int8",)
        only = None
        if c.predict_only:
            # Predicting needs only the seed models on the board: the cheapest, the dearest, between.
            variants = standard_variants()
            only = [variants[i] for i in pick_seeds([mult_adds(v) for v in variants], c.seeds)]
        if c.weights == "official":
            return self.official_entries(precisions, only)
        cache = c.model_cache or str(default_cache_dir())
        building = c.build or c.build_only
        entries = grid_models(cache, precisions, builder=self.builder if building else None,
                              reason=NO_BUILDER if building else "--no-build was given", only=only, log=self.log)
        if only is not None:
            # The other variants still get rows (predicted), pointing where their model would be.
            have = {e.name for e in entries}
            for v in standard_variants():
                for p in precisions:
                    path = grid_model_path(cache, v, p)
                    if path.stem not in have:
                        entries.append(ModelEntry(str(path), path.stem, v, p, mult_adds(v), 1000))
        if c.grid:
            self.notes.append(
                f"grid models in {cache} are built by edgenet with random weights: right for latency, not for accuracy "
                "(accuracy comes from --accuracy or the published table)")
        return entries

    def official_entries(self, precisions: tuple[str, ...], only) -> list[ModelEntry]:
        from edgenet.models import index_name, models_dir

        entries = official_models(precisions, only=only, log=self.log)
        if only is not None:
            have = {e.name for e in entries}
            for v in standard_variants():
                for p in precisions:
                    name = index_name(v, p)
                    if name not in have:
                        entries.append(ModelEntry(str(models_dir() / f"{name}.tflite"), name, v, p, mult_adds(v), 1001))
        self.notes.append("grid: the official pretrained models of the model index; accuracy is their published "
                          "ImageNet top-1 (or --accuracy)")
        return entries

    def remember(self, choice) -> None:
        """Save a pick that meets the target, as an index name when there is one, else as a path."""
        if choice is None or choice.pick is None:
            return
        from edgenet.models import index_name, save_pick

        entry = next(r.entry for r in self.rows if r.name == choice.pick.name)
        if self.config.grid and entry.variant is not None:
            ref = index_name(entry.variant, entry.precision)  # random weights or not: run the official model
        else:
            ref = os.path.abspath(entry.path)
        path = save_pick(ref, target_fps=self.config.target_fps, fps=choice.pick.fps, threads=choice.pick.threads)
        self.notes.append(f"saved the pick ({ref}) in {path}: `edgenet run` and `edgenet eval` use it without --model")

    # -- measuring -----------------------------------------------------------------------------
    def check_stop(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise _Stopped()

    def measure(self, entry: ModelEntry) -> None:
        for row in self.rows:
            if row.entry is entry and row.measurement is None:
                self.check_stop()
                self.log(f"measuring {row.name} @ {row.threads} thread(s)")
                row.measurement = measure_model(entry.path, row.threads, self.config.measure)
                row.skipped = None

    def measured(self, entry: ModelEntry) -> bool:
        return all(r.measurement is not None for r in self.rows if r.entry is entry)

    def best_fps(self, entry: ModelEntry, kind: str) -> float | None:
        values = [r.measured_fps if kind == "measured" else r.predicted_fps for r in self.rows if r.entry is entry]
        values = [v for v in values if v is not None]
        return max(values) if values else None

    def fit(self, entries: list[ModelEntry]) -> list[ModelEntry]:
        """Measure the seeds of each precision and fit; returns the seeds."""
        seeds: list[ModelEntry] = []
        for precision in sorted({e.precision for e in entries}):
            group = [e for e in entries if e.precision == precision and e.mult_adds is not None
                     and os.path.exists(e.path)]
            chosen = [group[i] for i in pick_seeds([e.mult_adds for e in group], self.config.seeds)]
            for e in chosen:
                self.measure(e)
            seeds += chosen
            for threads in self.threads:
                points = [(r.entry.mult_adds, r.measurement.latency.median_ms) for r in self.rows
                          if r.entry in chosen and r.threads == threads]
                fit = fit_latency(points)
                if fit is not None:
                    self.fits[(precision, threads)] = fit
        for row in self.rows:
            row.seed = row.entry in seeds
            fit = self.fits.get((row.entry.precision, row.threads))
            if not row.seed and fit is not None and row.entry.mult_adds is not None:
                row.predicted_ms = fit.predict_ms(row.entry.mult_adds)
        return seeds

    def ruled_out(self, entry: ModelEntry) -> bool:
        """A model costlier than one of the same precision that already misses the target misses it too.

        This assumes latency grows with mult-adds within one precision, which holds for MobileNet V1
        variants on CPUs (and is what the fit above shows); it is what lets --fast skip models.
        """
        if entry.mult_adds is None:
            return False
        for other in {r.entry for r in self.rows}:
            if (other is not entry and other.precision == entry.precision and other.mult_adds is not None
                    and other.mult_adds <= entry.mult_adds and self.measured(other)
                    and self.best_fps(other, "measured") < self.threshold):
                return True
        return False

    def fast(self, entries: list[ModelEntry]) -> None:
        """Measure the likely pick first, then only what could beat it; stop when the pick is certain."""
        ranked = sorted((e for e in entries if any(r.accuracy is not None for r in self.rows if r.entry is e)),
                        key=lambda e: rank_key(next(r for r in self.rows if r.entry is e).candidate()))
        while True:
            open_ = [e for e in ranked if not self.measured(e) and not self.ruled_out(e)]
            if not open_:
                break

            def fps(e):
                return self.best_fps(e, "measured" if self.measured(e) else "predicted")

            meeting = [e for e in ranked if not (not self.measured(e) and self.ruled_out(e))
                       and (fps(e) or 0) >= self.threshold]
            tentative = meeting[0] if meeting else None
            if tentative is not None and not self.measured(tentative):
                self.measure(tentative)
                continue
            above = ranked[: ranked.index(tentative)] if tentative is not None else ranked
            todo = [e for e in above if e in open_]
            if not todo:
                break
            # Cheapest first: if it misses the target, everything dearer is ruled out without measuring.
            self.measure(min(todo, key=lambda e: e.mult_adds if e.mult_adds is not None else -1))
        for row in self.rows:
            if row.measurement is None:
                row.skipped = ("--fast: dearer than a model that already misses the target"
                               if self.ruled_out(row.entry) else "--fast: cannot change the pick")

    # -- extras --------------------------------------------------------------------------------
    def end_to_end(self) -> None:
        from edgenet.pipeline import RunConfig, run_pipeline

        c = self.config
        for entry in dict.fromkeys(r.entry for r in self.rows if r.measurement is not None):
            row = max((r for r in self.rows if r.entry is entry), key=lambda r: r.measured_fps or 0)
            self.check_stop()
            self.log(f"end-to-end {row.name} @ {row.threads} thread(s) on {c.source}")
            summary = run_pipeline(
                RunConfig(model=entry.path, source=c.source, runtime=c.measure.runtime, threads=row.threads,
                          xnnpack=c.measure.xnnpack, headless=True, max_frames=c.e2e_frames,
                          duration=max(c.measure.min_time, 1.0)),
                out=io.StringIO(), log=self.log, stop=self.stop,
            )
            self.check_stop()  # a run cut short measures nothing worth keeping
            row.e2e = {"source": c.source, "frames": summary.frames, "e2e_fps": round(summary.e2e_fps, 2),
                       "model_fps": round(summary.model_fps, 2), "dropped": summary.dropped}

    def sustain(self, probe: ThermalProbe) -> None:
        c = self.config
        candidates = sorted((r for r in self.rows if r.measurement is not None and r.accuracy is not None
                             and r.measured_fps >= self.threshold), key=lambda r: rank_key(r.candidate()))
        done: set[str] = set()
        tried = 0
        for row in candidates:
            if row.name in done:
                continue  # one thread count per model: its fastest, which ranks first
            done.add(row.name)
            self.check_stop()
            self.log(f"sustained {c.sustained:g} s: {row.name} @ {row.threads} thread(s)")
            row.sustained = run_sustained(row.entry.path, row.threads, c.sustained, probe,
                                          interval=c.sustained_interval, runtime=c.measure.runtime,
                                          xnnpack=c.measure.xnnpack)
            tried += 1
            if row.sustained.steady_fps >= self.threshold or tried >= c.sustained_candidates:
                break
        # Picking on steady FPS means only rows that were run sustained can be picked.
        self.sustained_only = True

    # -- the whole thing -----------------------------------------------------------------------
    def run(self) -> ProfileReport:
        c = self.config
        started = time.perf_counter()
        cores = os.cpu_count() or 1
        self.threads = list(c.threads) if c.threads else list(range(1, cores + 1))
        entries = self.entries()
        if c.build_only:
            return ProfileReport([], {}, None, {}, c.as_dict(), self.notes + [f"built/found {len(entries)} models"],
                                 time.perf_counter() - started)
        if c.source:  # the end-to-end runs come last: a source that gives nothing must not waste the rest
            from edgenet.sources import probe_source

            probe_source(c.source)
        accuracy = load_accuracy(c.accuracy)
        check_one_kind(accuracy, entries)
        for e in entries:
            top1, source = accuracy.lookup(e)
            for t in self.threads:
                self.rows.append(ProfileRow(e, t, top1, source))
        probe = make_probe(c)
        stopped = False
        try:
            self.fit(entries)
            if c.predict_only:
                for row in self.rows:
                    if row.measurement is None:
                        row.skipped = "--predict-only"
                # Models with no cost cannot be predicted: measure them rather than report nothing.
                for e in entries:
                    if e.mult_adds is None and os.path.exists(e.path):
                        self.measure(e)
            elif c.fast:
                self.fast(entries)
            else:
                for e in entries:
                    self.measure(e)
            if c.source:
                self.end_to_end()
            if c.sustained:
                self.sustain(probe)
        except _Stopped:
            # What was measured is kept and reported; what was not is said so, and nothing is picked
            # for good: the next `edgenet run` must not use a pick made from half a profile.
            stopped = True
            for row in self.rows:
                if row.measurement is None and row.skipped is None:
                    row.skipped = "stopped before it was measured"
            done = sum(r.measurement is not None for r in self.rows)
            self.notes.append(f"stopped after {done} of {len(self.rows)} measurements; the pick, if any, is "
                              "from those and the fit so far, and is not saved")
        choice = None
        if c.target_fps:
            rows = [r for r in self.rows if r.sustained is not None] if self.sustained_only else self.rows
            choice = pick_variant([r.candidate() for r in rows], c.target_fps, c.margin)
            if c.save_pick and not stopped:
                self.remember(choice)
        first = next((r.measurement for r in self.rows if r.measurement), None)
        env = environment(probe=probe, runtime=first.runtime if first else None,
                          runtime_version=first.runtime_version if first else None,
                          xnnpack=first.xnnpack if first else None, threads=self.threads)
        if any(r.entry.mult_adds is None for r in self.rows):
            self.notes.append("models without a known variant or cost are measured but not predicted")
        return ProfileReport(self.rows, self.fits, choice, env, c.as_dict(), self.notes,
                             time.perf_counter() - started, stopped=stopped)


def _stderr(message: str) -> None:
    print(f"edgenet: {message}", file=sys.stderr, flush=True)


def profile(config: ProfileConfig, *, builder: GridBuilder | None = None,
            log: Callable[[str], None] | None = None, stop: threading.Event | None = None) -> ProfileReport:
    """Profile the models of ``config`` and, with a target FPS, pick one. See docs/profile.md.

    ``builder`` builds missing grid models (``calibration.grid.build_latency_model`` on a workstation
    with TensorFlow); without one, missing grid models are an error saying how to build them.
    ``stop``, when set (a signal handler, another thread), ends the profile after the measurement in
    hand: the report holds what was measured (``stopped`` is True) and no pick is saved.
    """
    return _Profiler(config, builder, log or _stderr, stop).run()
