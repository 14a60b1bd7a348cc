"""The build report's float-vs-quantized comparison (pure tier: numpy only, no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.convert import agreement

LABELS = ["cat", "dog", "owl"]


def test_identical_scores_agree_fully():
    a = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    q = agreement(a, a.copy(), LABELS)
    assert q["top1_agreement"] == 1.0 and q["disagreements"] == 0 and q["disagreeing"] == []
    assert q["mean_cosine"] == pytest.approx(1.0) and q["min_cosine"] == pytest.approx(1.0)


def test_disagreements_are_listed_least_confident_first_with_labels_and_sample_ids():
    ref = np.array([[0.9, 0.05, 0.05],    # agrees
                    [0.51, 0.49, 0.0],    # borderline: flips to dog
                    [0.2, 0.1, 0.7],      # confident owl lost to cat
                    [0.1, 0.8, 0.1]])     # agrees
    quant = np.array([[0.88, 0.06, 0.06],
                      [0.47, 0.53, 0.0],
                      [0.6, 0.1, 0.3],
                      [0.1, 0.8, 0.1]])
    q = agreement(ref, quant, LABELS, sample_ids=np.array([10, 11, 12, 13]))
    assert q["samples"] == 4 and q["top1_agreement"] == 0.5 and q["disagreements"] == 2
    assert q["disagreeing"] == [
        {"sample": 11, "float": ["cat", 0.51], "float_second": ["dog", 0.49], "quantized": ["dog", 0.53]},
        {"sample": 12, "float": ["owl", 0.7], "float_second": ["cat", 0.2], "quantized": ["cat", 0.6]},
    ]
    cos = (ref * quant).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(quant, axis=1)
    assert q["mean_cosine"] == pytest.approx(cos.mean()) and q["min_cosine"] == pytest.approx(cos.min())


def test_listing_is_capped_and_unlabelled_classes_are_numbered():
    rng = np.random.default_rng(0)
    ref = rng.dirichlet(np.ones(5), 50)
    quant = np.roll(ref, 1, axis=1)  # every top-1 moves one class over
    q = agreement(ref, quant, listed=3)
    assert q["disagreements"] == 50 and len(q["disagreeing"]) == 3 and q["top1_agreement"] == 0.0
    scores = [row["float"][1] for row in q["disagreeing"]]
    assert scores == sorted(scores) and scores[0] == pytest.approx(ref.max(1).min(), abs=1e-4)
    assert all(row["float"][0] in {"0", "1", "2", "3", "4"} for row in q["disagreeing"])
