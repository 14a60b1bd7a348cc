"""Statistics, latency fit, seed choice and Pareto front on fixed arrays."""

from __future__ import annotations

import numpy as np
import pytest

from edgenet.profiler.plot import pareto_front
from edgenet.profiler.predict import fit_latency, mult_adds, pick_seeds
from edgenet.stats import summarize
from edgenet.variants import Variant, standard_variants


def test_summary_of_fixed_samples_with_outliers():
    # 20 runs of 10..19 ms plus two slow ones: Tukey's fence (Q3 + 1.5 IQR) drops exactly the two.
    ms = list(range(10, 30)) + [200, 300]
    s = summarize([m * 1_000_000 for m in ms], drop_outliers=True)
    kept = np.arange(10, 30, dtype=float)
    assert s.outliers == 2
    assert s.count == 20
    assert s.median_ms == pytest.approx(np.median(kept))
    assert s.mean_ms == pytest.approx(kept.mean())
    assert s.p90_ms == pytest.approx(np.percentile(kept, 90))
    assert s.p99_ms == pytest.approx(np.percentile(kept, 99))
    assert s.std_ms == pytest.approx(kept.std())
    assert s.fps == pytest.approx(1000 / 19.5)


def test_summary_without_outlier_removal_keeps_everything():
    s = summarize([5_000_000] * 9 + [50_000_000], drop_outliers=False)
    assert (s.count, s.outliers, s.median_ms, s.max_ms) == (10, 0, 5.0, 50.0)


def test_fit_recovers_an_exact_line_and_predicts():
    # latency = 0.5 ms + 8 ms per GMAC
    points = [(m, 0.5 + 8 * m / 1e9) for m in (14e6, 150e6, 569e6)]
    fit = fit_latency(points)
    assert fit.intercept_ms == pytest.approx(0.5)
    assert fit.ms_per_gmac == pytest.approx(8.0)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.predict_ms(291e6) == pytest.approx(0.5 + 8 * 0.291)


def test_fit_edge_cases():
    assert fit_latency([]) is None
    one = fit_latency([(100e6, 2.0)])
    assert one.intercept_ms == 0 and one.predict_ms(200e6) == pytest.approx(4.0) and one.r2 is None
    # A negative intercept from noise never predicts a negative latency.
    neg = fit_latency([(100e6, 0.1), (200e6, 2.1)])
    assert neg.predict_ms(1e6) > 0


def test_seeds_span_the_cost_range():
    costs = [mult_adds(v) for v in standard_variants()]
    seeds = pick_seeds(costs, 3)
    chosen = sorted(costs[i] for i in seeds)
    assert chosen[0] == min(costs) and chosen[-1] == max(costs)
    assert len(set(seeds)) == 3
    assert pick_seeds([5, 1, 3], 5) == [1, 2, 0]  # fewer entries than seeds: all, cheapest first
    assert pick_seeds([], 3) == []


def test_mult_adds_known_for_standard_variants_only():
    assert mult_adds(Variant(1.0, 224)) in range(560_000_000, 580_000_000)
    assert mult_adds(Variant(0.25, 128)) in range(13_000_000, 16_000_000)
    assert mult_adds(None) is None


def test_pareto_front():
    # (fps, accuracy): b is dominated by c (faster and more accurate)
    pts = [(10, 70), (20, 60), (25, 65), (40, 50), (40, 45), (5, 69)]
    assert pareto_front(pts) == [0, 2, 3]
