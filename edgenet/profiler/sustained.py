"""Sustained runs: keep one model busy long enough for the board to heat up, sampling as it goes.

A Pi 4 without a heatsink starts throttling within a minute or two of full load; a 2 s benchmark
never sees it. Burst FPS comes from the first seconds, steady-state FPS from the last third of the
run, both as 1 / median latency (the same definition as the burst sweep).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from edgenet.errors import UsageError
from edgenet.profiler.measure import random_input
from edgenet.board.thermal import ThermalProbe, ThermalSample
from edgenet.runtime import load_interpreter


@dataclass(frozen=True)
class SustainedResult:
    seconds: float
    runs: int
    burst_fps: float
    steady_fps: float
    windows: list[dict]  # per sampling interval: t, fps, temperature, frequency, throttle
    throttled: bool  # the Pi reported active throttling (or a capped frequency) during the run
    temp_start_c: float | None
    temp_max_c: float | None
    freq_min_mhz: float | None

    @property
    def drop(self) -> float:
        """Fraction of burst FPS lost at steady state (0.2 = 20 % slower once hot)."""
        return 1.0 - self.steady_fps / self.burst_fps if self.burst_fps > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "seconds": round(self.seconds, 2),
            "runs": self.runs,
            "burst_fps": round(self.burst_fps, 2),
            "steady_fps": round(self.steady_fps, 2),
            "drop": round(self.drop, 4),
            "throttled": self.throttled,
            "temp_start_c": self.temp_start_c,
            "temp_max_c": self.temp_max_c,
            "freq_min_mhz": self.freq_min_mhz,
            "windows": self.windows,
        }


def _fps(latencies_ns: list[int]) -> float:
    return 1e9 / float(np.median(latencies_ns)) if latencies_ns else 0.0


def run_sustained(path: str, threads: int, seconds: float, probe: ThermalProbe, *, interval: float = 1.0,
                  burst_seconds: float | None = None, runtime: str = "auto", xnnpack: bool = True) -> SustainedResult:
    """Invoke ``path`` back to back for ``seconds``, sampling ``probe`` every ``interval`` seconds."""
    if seconds <= 0:
        raise UsageError(f"--sustained must be positive, got {seconds}")
    if interval <= 0:
        raise UsageError(f"sampling interval must be positive, got {interval}")
    burst_seconds = burst_seconds if burst_seconds is not None else max(interval, min(5.0, seconds / 10))
    model = load_interpreter(path, runtime=runtime, threads=threads, xnnpack=xnnpack)
    model.set_input(random_input(model))
    for _ in range(3):
        model.invoke()
    clock = time.perf_counter_ns
    start = clock()
    end = start + int(seconds * 1e9)
    next_sample = start + int(interval * 1e9)
    stamps: list[int] = []  # end time of each run, relative to start
    latencies: list[int] = []
    samples: list[tuple[ThermalSample, float]] = []
    window: list[int] = []
    first = probe.sample(0.0)
    while True:
        t0 = clock()
        model.invoke()
        t1 = clock()
        latencies.append(t1 - t0)
        stamps.append(t1 - start)
        window.append(t1 - t0)
        if t1 >= next_sample or t1 >= end:
            # Reading sysfs and running vcgencmd takes a few ms; it happens between runs, never inside one.
            samples.append((probe.sample((t1 - start) / 1e9), _fps(window)))
            window = []
            next_sample = t1 + int(interval * 1e9)
        if t1 >= end:
            break
    total = (stamps[-1]) / 1e9
    stamps_arr = np.asarray(stamps)
    lat = np.asarray(latencies)
    burst = lat[stamps_arr <= burst_seconds * 1e9]
    steady = lat[stamps_arr >= stamps_arr[-1] * 2 / 3]
    temps = [s.cpu_temp_c for s, _ in [(first, 0.0)] + samples if s.cpu_temp_c is not None]
    freqs = [s.mean_freq_mhz for s, _ in samples if s.mean_freq_mhz is not None]
    throttled = any(s.throttle is not None and s.throttle.active for s, _ in samples)
    windows = [dict(s.as_dict(), fps=round(fps, 2)) for s, fps in samples]
    return SustainedResult(
        seconds=total, runs=len(latencies), burst_fps=_fps(list(burst)), steady_fps=_fps(list(steady)),
        windows=windows, throttled=throttled,
        temp_start_c=first.cpu_temp_c, temp_max_c=max(temps) if temps else None,
        freq_min_mhz=round(min(freqs), 1) if freqs else None,
    )
