"""What a profile produces: one row per (model, thread count), the fits, the choice, the manifest."""

from __future__ import annotations

from dataclasses import dataclass, field

from edgenet.profiler.measure import Measurement
from edgenet.profiler.models import ModelEntry
from edgenet.profiler.predict import LatencyFit
from edgenet.profiler.select import Candidate, Choice
from edgenet.profiler.sustained import SustainedResult

SCHEMA = "edgenet.profile/1"


@dataclass
class ProfileRow:
    entry: ModelEntry
    threads: int
    accuracy: float | None = None
    accuracy_source: str | None = None
    measurement: Measurement | None = None
    predicted_ms: float | None = None
    seed: bool = False  # measured first to fit the prediction (so it has no prediction of its own)
    e2e: dict | None = None
    sustained: SustainedResult | None = None
    skipped: str | None = None  # why it was not measured (predict-only, --fast, ...)

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def measured_fps(self) -> float | None:
        return self.measurement.fps if self.measurement else None

    @property
    def predicted_fps(self) -> float | None:
        return 1000.0 / self.predicted_ms if self.predicted_ms else None

    @property
    def prediction_error(self) -> float | None:
        """(predicted - measured) / measured latency; positive = predicted slower than it is."""
        if self.predicted_ms is None or self.measurement is None:
            return None
        measured = self.measurement.latency.median_ms
        return (self.predicted_ms - measured) / measured

    def judged(self) -> tuple[float | None, str]:
        """The FPS the choice uses: steady (sustained) > measured > predicted."""
        if self.sustained is not None:
            return self.sustained.steady_fps, "steady"
        if self.measurement is not None:
            return self.measurement.fps, "measured"
        if self.predicted_fps is not None:
            return self.predicted_fps, "predicted"
        return None, "none"

    def candidate(self) -> Candidate:
        fps, kind = self.judged()
        return Candidate(self.name, fps, self.accuracy, self.entry.mult_adds, self.threads, kind, self.accuracy_source)

    def as_dict(self) -> dict:
        m = self.measurement
        e = self.entry
        return {
            "model": e.path,
            "name": e.name,
            "variant": e.variant.name if e.variant else None,
            "alpha": e.variant.alpha if e.variant else None,
            "resolution": e.variant.resolution if e.variant else None,
            "precision": e.precision,
            "io": e.io,
            "threads": self.threads,
            "mult_adds": e.mult_adds,
            "accuracy": self.accuracy,
            "accuracy_source": self.accuracy_source,
            "measured": m is not None,
            "skipped": self.skipped,
            "seed": self.seed,
            "latency_ms": m.latency.as_dict() if m else None,
            "fps": round(m.fps, 2) if m else None,
            "load_ms": round(m.load_ms, 2) if m else None,
            "first_run_ms": round(m.first_run_ms, 3) if m else None,
            "runs": m.runs if m else None,
            "outliers": m.latency.outliers if m else None,
            "xnnpack": m.xnnpack if m else None,
            "predicted_ms": None if self.predicted_ms is None else round(self.predicted_ms, 3),
            "predicted_fps": None if self.predicted_fps is None else round(self.predicted_fps, 2),
            "prediction_error": None if self.prediction_error is None else round(self.prediction_error, 4),
            "e2e": self.e2e,
            "sustained": self.sustained.as_dict() if self.sustained else None,
        }


# The flat columns of profile.csv, in order (nested parts of the JSON are summarised).
CSV_COLUMNS = (
    "name", "variant", "precision", "threads", "mult_adds", "accuracy", "accuracy_source", "measured",
    "mean_ms", "median_ms", "p90_ms", "p99_ms", "std_ms", "fps", "outliers", "runs", "load_ms", "first_run_ms",
    "predicted_ms", "predicted_fps", "prediction_error", "e2e_fps", "burst_fps", "steady_fps", "picked", "model",
)


@dataclass
class ProfileReport:
    rows: list[ProfileRow]
    fits: dict[tuple[str, int], LatencyFit]
    choice: Choice | None
    environment: dict
    config: dict
    notes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    stopped: bool = False  # a stop was asked for (a signal): the rows left are not measured

    def is_pick(self, row: ProfileRow) -> bool:
        p = self.choice.pick if self.choice else None
        return p is not None and p.name == row.name and p.threads == row.threads

    def precision_pairs(self) -> list[dict]:
        """int8 vs float32 of the same variant at the same thread count, where both were measured."""
        floats = {(r.entry.variant.name, r.threads): r for r in self.rows
                  if r.entry.variant is not None and r.measurement is not None and r.entry.precision == "float32"}
        pairs = []
        for row in self.rows:
            if row.entry.variant is None or row.measurement is None or row.entry.precision != "int8":
                continue
            other = floats.get((row.entry.variant.name, row.threads))
            if other is not None:
                pairs.append({"variant": row.entry.variant.name, "threads": row.threads, "int8_model": row.name,
                              "int8_io": row.entry.io,
                              "float32_model": other.name, "int8_fps": round(row.measurement.fps, 2),
                              "float32_fps": round(other.measurement.fps, 2),
                              "int8_speedup": round(row.measurement.fps / other.measurement.fps, 3)})
        return pairs

    def as_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "wall_seconds": round(self.wall_seconds, 2),
            "config": self.config,
            "environment": self.environment,
            "notes": self.notes,
            "fits": [dict(precision=p, threads=t, **fit.as_dict()) for (p, t), fit in sorted(self.fits.items())],
            "results": [r.as_dict() for r in self.rows],
            "float_vs_int8": self.precision_pairs(),
            "choice": self.choice.as_dict() if self.choice else None,
            "stopped": self.stopped,
        }

    def csv_rows(self) -> list[dict]:
        out = []
        for r in self.rows:
            d = r.as_dict()
            lat = d["latency_ms"] or {}
            out.append({
                **{k: d.get(k) for k in CSV_COLUMNS if k in d},
                **{k: lat.get(k) for k in ("mean_ms", "median_ms", "p90_ms", "p99_ms", "std_ms")},
                "e2e_fps": (d["e2e"] or {}).get("e2e_fps"),
                "burst_fps": (d["sustained"] or {}).get("burst_fps"),
                "steady_fps": (d["sustained"] or {}).get("steady_fps"),
                "picked": self.is_pick(r),
            })
        return out
