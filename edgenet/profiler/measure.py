"""Time ``invoke`` of one model: load, first run, warm-up, then at least N runs and T seconds.

Only ``invoke`` is inside the timer: the input tensor is set once (the interpreter keeps it), so the
numbers are the model's own cost, comparable with TFLite's benchmark_model. Outliers are removed on
the slow side with Tukey's fence (edgenet.stats) and counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from edgenet.errors import UsageError
from edgenet.runtime import Model, load_interpreter
from edgenet.stats import Summary, summarize


@dataclass(frozen=True)
class MeasureOptions:
    min_runs: int = 50
    min_time: float = 2.0  # seconds
    warmup: int = 5
    max_runs: int = 100_000  # a bound for absurdly fast models, so a run always ends
    runtime: str = "auto"
    xnnpack: bool = True

    def __post_init__(self) -> None:
        if self.min_runs < 1:
            raise UsageError(f"--min-runs must be at least 1, got {self.min_runs}")
        if self.min_time < 0:
            raise UsageError(f"--min-time must be >= 0 seconds, got {self.min_time}")
        if self.warmup < 0:
            raise UsageError(f"--warmup must be >= 0, got {self.warmup}")
        if self.max_runs < self.min_runs:
            raise UsageError(f"max runs ({self.max_runs}) is below --min-runs ({self.min_runs})")


@dataclass(frozen=True)
class Measurement:
    load_ms: float
    first_run_ms: float
    latency: Summary  # after outlier removal; latency.outliers says how many were dropped
    runs: int  # timed runs before outlier removal
    seconds: float  # wall time of the timed loop
    xnnpack: bool
    runtime: str
    runtime_version: str
    input_dtype: str

    @property
    def fps(self) -> float:
        return self.latency.fps


def random_input(model: Model, seed: int = 0) -> np.ndarray:
    """A valid input of the model's own shape and type (values do not change MobileNet's speed)."""
    spec = model.input_spec
    rng = np.random.default_rng(seed)
    if spec.dtype == "float32":
        return rng.uniform(-1.0, 1.0, spec.shape).astype(np.float32)
    info = np.iinfo(spec.dtype)
    return rng.integers(info.min, info.max + 1, spec.shape, dtype=spec.dtype)


def time_invokes(model: Model, min_runs: int, min_time_s: float, max_runs: int = 100_000) -> list[int]:
    """perf_counter_ns durations of ``invoke`` until both ``min_runs`` and ``min_time_s`` are reached."""
    samples: list[int] = []
    deadline = time.perf_counter_ns() + int(min_time_s * 1e9)
    invoke = model.invoke
    clock = time.perf_counter_ns
    while len(samples) < max_runs:
        t0 = clock()
        invoke()
        t1 = clock()
        samples.append(t1 - t0)
        if len(samples) >= min_runs and t1 >= deadline:
            break
    return samples


def measure_model(path: str, threads: int, options: MeasureOptions = MeasureOptions()) -> Measurement:
    """Load ``path`` with ``threads`` and time it (see the module docstring)."""
    t0 = time.perf_counter_ns()
    model = load_interpreter(path, runtime=options.runtime, threads=threads, xnnpack=options.xnnpack)
    load_ms = (time.perf_counter_ns() - t0) / 1e6
    model.set_input(random_input(model))
    t1 = time.perf_counter_ns()
    model.invoke()  # the first run pays for lazy allocation and delegate preparation: reported apart
    first_run_ms = (time.perf_counter_ns() - t1) / 1e6
    for _ in range(options.warmup):
        model.invoke()
    t2 = time.perf_counter_ns()
    samples = time_invokes(model, options.min_runs, options.min_time, options.max_runs)
    seconds = (time.perf_counter_ns() - t2) / 1e9
    return Measurement(
        load_ms=load_ms, first_run_ms=first_run_ms, latency=summarize(samples, drop_outliers=True),
        runs=len(samples), seconds=seconds, xnnpack=model.xnnpack, runtime=model.runtime,
        runtime_version=model.runtime_version, input_dtype=model.input_spec.dtype,
    )
