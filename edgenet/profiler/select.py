"""Pick the variant for a target frame rate: best accuracy among those fast enough.

Rule: among candidates with FPS >= target x (1 + margin), the highest accuracy wins; ties go to
fewer mult-adds (less heat, more headroom), then to higher FPS. Candidates without a known accuracy
are measured and reported but never picked: there is nothing to rank them by.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgenet.errors import UsageError

# `edgenet profile`'s exit code when a target was given and nothing reaches it: the profile itself
# succeeded (reports are written), but a script asking "can this board do F FPS?" gets a clear no.
# `edgenet profile --host` and `edgenet remote HOST profile` read the board's the same way.
EXIT_NO_PICK = 1


@dataclass(frozen=True)
class Candidate:
    name: str  # model name (file stem), e.g. mobilenet_v1_050_160_int8
    fps: float | None  # the FPS to judge by: steady if sustained, else measured, else predicted
    accuracy: float | None  # top-1 in percent
    mult_adds: int | None = None
    threads: int | None = None
    fps_kind: str = "measured"  # measured | predicted | steady
    accuracy_source: str | None = None

    @property
    def label(self) -> str:
        return self.name + (f" @ {self.threads} thread{'s' if self.threads != 1 else ''}" if self.threads else "")


@dataclass(frozen=True)
class Choice:
    pick: Candidate | None
    target_fps: float
    margin: float
    explanation: str
    fastest: Candidate | None

    @property
    def threshold_fps(self) -> float:
        return self.target_fps * (1.0 + self.margin)

    @property
    def meets_target(self) -> bool:
        return self.pick is not None

    def as_dict(self) -> dict:
        def cand(c: Candidate | None):
            if c is None:
                return None
            return {"name": c.name, "threads": c.threads, "fps": None if c.fps is None else round(c.fps, 2),
                    "fps_kind": c.fps_kind, "accuracy": c.accuracy, "accuracy_source": c.accuracy_source,
                    "mult_adds": c.mult_adds}

        return {"target_fps": self.target_fps, "margin": self.margin, "threshold_fps": round(self.threshold_fps, 3),
                "meets_target": self.meets_target, "pick": cand(self.pick), "fastest": cand(self.fastest),
                "explanation": self.explanation}


def rank_key(c: Candidate):
    """Sort key: better candidates first (accuracy desc, mult-adds asc, FPS desc)."""
    return (-(c.accuracy if c.accuracy is not None else float("-inf")),
            c.mult_adds if c.mult_adds is not None else float("inf"),
            -(c.fps or 0.0), c.threads or 0, c.name)


def _margin_text(target: float, margin: float) -> str:
    threshold = target * (1 + margin)
    return f"{threshold:.1f} FPS" + (f" ({target:g} FPS + {margin * 100:g}% margin)" if margin else "")


def pick_variant(candidates: list[Candidate], target_fps: float, margin: float = 0.0) -> Choice:
    if not target_fps > 0:
        raise UsageError(f"--target-fps must be positive, got {target_fps}")
    if margin < 0:
        raise UsageError(f"--margin must be >= 0 (a fraction, 0.1 = 10%), got {margin}")
    threshold = target_fps * (1 + margin)
    timed = [c for c in candidates if c.fps is not None]
    fastest = max(timed, key=lambda c: (c.fps, -(c.mult_adds or 0))) if timed else None
    fast_enough = [c for c in timed if c.fps >= threshold]
    eligible = sorted((c for c in fast_enough if c.accuracy is not None), key=rank_key)
    need = _margin_text(target_fps, margin)
    if not eligible:
        if not timed:
            text = "nothing was measured or predicted, so nothing can be picked"
        elif fast_enough:
            text = (f"{len(fast_enough)} model(s) reach {need} but none has a known accuracy; "
                    "give --accuracy with `edgenet eval` results for them")
        else:
            text = (f"no variant reaches {need}; the fastest is {fastest.label} at {fastest.fps:.1f} FPS "
                    f"({fastest.fps_kind})")
        return Choice(None, target_fps, margin, text, fastest)
    pick = eligible[0]
    text = (f"picked {pick.label}: {pick.accuracy:.1f}% top-1 ({pick.accuracy_source or 'given'}) at "
            f"{pick.fps:.1f} FPS ({pick.fps_kind}) >= {need}")
    better = [c for c in timed if c.accuracy is not None and c.accuracy > pick.accuracy and c.name != pick.name]
    if better:
        # The next step up in accuracy, at its fastest thread count: the one that just missed.
        top = sorted(better, key=lambda c: (c.accuracy, -c.fps))[0]
        text += f"; the next more accurate, {top.name}, reaches only {top.fps:.1f} FPS"
    else:
        text += "; nothing more accurate was profiled"
    ties = [c for c in eligible[1:] if c.accuracy == pick.accuracy and c.name != pick.name]
    if ties:
        text += f"; tie on accuracy with {ties[0].name}, broken by fewer mult-adds"
    return Choice(pick, target_fps, margin, text, fastest)
