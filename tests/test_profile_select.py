"""The pick for a target FPS, from injected latencies and accuracies (no models run here)."""

from __future__ import annotations

import pytest

from edgenet.errors import UsageError
from edgenet.profiler.select import Candidate, pick_variant
from edgenet.variants import PUBLISHED, standard_variants


def C(name, fps, acc, macs=None, threads=None, kind="measured"):
    return Candidate(name, fps, acc, macs, threads, kind, "test")


BASIC = [C("a", 10.0, 70.0, 500), C("b", 25.0, 65.0, 300), C("c", 40.0, 60.0, 150), C("d", 90.0, 50.0, 40)]

CASES = [
    # (candidates, target, margin, expected pick name or None, expected fastest)
    (BASIC, 5.0, 0.0, "a", "d"),  # everything meets: most accurate
    (BASIC, 10.0, 0.0, "a", "d"),  # exactly at target counts as meeting
    (BASIC, 10.0, 0.1, "b", "d"),  # margin: 10 < 11
    (BASIC, 30.0, 0.0, "c", "d"),
    (BASIC, 41.0, 0.0, "d", "d"),
    (BASIC, 100.0, 0.0, None, "d"),  # none meets: name the fastest
    (BASIC, 82.0, 0.1, None, "d"),  # 90 < 82 * 1.1
    # tie on accuracy: fewer mult-adds wins, even when slower
    ([C("big", 50.0, 60.0, 300), C("small", 30.0, 60.0, 100), C("worse", 99.0, 55.0, 50)], 20.0, 0.0, "small", "worse"),
    # tie on accuracy and mult-adds (two thread counts of one model): higher FPS wins
    ([C("m", 30.0, 60.0, 100, 1), C("m", 45.0, 60.0, 100, 2)], 20.0, 0.0, "m@2", "m@2"),
    # unknown accuracy is never picked, even when it is the only fast one
    ([C("known", 5.0, 60.0, 100), C("unknown", 50.0, None, 10)], 20.0, 0.0, None, "unknown"),
    # unmeasured and unpredicted candidates are ignored
    ([C("none", None, 80.0, 10), C("slow", 15.0, 50.0, 10)], 10.0, 0.0, "slow", "slow"),
    ([], 10.0, 0.0, None, None),
]


@pytest.mark.parametrize("cands,target,margin,pick,fastest", CASES)
def test_pick_table(cands, target, margin, pick, fastest):
    choice = pick_variant(cands, target, margin)

    def label(c):
        if c is None:
            return None
        return f"{c.name}@{c.threads}" if c.threads and c.name == "m" else c.name

    assert label(choice.pick) == pick
    assert label(choice.fastest) == fastest
    assert choice.meets_target == (pick is not None)
    assert choice.threshold_fps == pytest.approx(target * (1 + margin))
    if choice.pick is not None:
        # The rule itself: the pick is fast enough and nothing more accurate is.
        assert choice.pick.fps >= choice.threshold_fps
        assert not any(c.fps is not None and c.fps >= choice.threshold_fps and c.accuracy is not None
                       and c.accuracy > choice.pick.accuracy for c in cands)


def test_explanations_are_one_line_and_name_the_numbers():
    choice = pick_variant(BASIC, 30.0, 0.1)
    assert choice.pick.name == "c"
    text = choice.explanation
    assert "\n" not in text
    assert "c:" in text and "60.0% top-1" in text and "40.0 FPS" in text and "33.0 FPS (30 FPS + 10% margin)" in text
    assert "the next more accurate, b, reaches only 25.0 FPS" in text

    none = pick_variant(BASIC, 100.0)
    assert none.pick is None
    assert none.explanation == "no variant reaches 100.0 FPS; the fastest is d at 90.0 FPS (measured)"

    tie = pick_variant([C("big", 50.0, 60.0, 300), C("small", 30.0, 60.0, 100)], 20.0)
    assert "tie on accuracy with big, broken by fewer mult-adds" in tie.explanation

    unknown = pick_variant([C("x", 50.0, None)], 20.0)
    assert "none has a known accuracy" in unknown.explanation and "--accuracy" in unknown.explanation


def test_predicted_and_steady_kinds_are_reported():
    choice = pick_variant([C("p", 50.0, 60.0, 10, kind="predicted")], 20.0)
    assert "(predicted)" in choice.explanation
    assert choice.as_dict()["pick"]["fps_kind"] == "predicted"


@pytest.mark.parametrize("target,margin", [(0.0, 0.0), (-5.0, 0.0), (10.0, -0.1)])
def test_bad_target_or_margin(target, margin):
    with pytest.raises(UsageError):
        pick_variant(BASIC, target, margin)


def test_published_grid_pick_follows_the_table():
    """Latencies proportional to slim mult-adds: the pick is the most accurate variant under the budget."""
    cands = [C(v.name, 1e4 / v.published.million_macs, v.published.top1_quant, v.published.million_macs)
             for v in standard_variants()]
    # 60 FPS allows <= 166 MMACs; of those, 0.75/160 (162 MMACs, 63.9%) beats 0.5/224 (150, 62.2%).
    choice = pick_variant(cands, 60.0)
    assert choice.pick.name == "mobilenet_v1_075_160"
    allowed = [k for k, p in PUBLISHED.items() if p.million_macs <= 1e4 / 60.0]
    assert choice.pick.accuracy == max(PUBLISHED[k].top1_quant for k in allowed)
