import numpy as np
import pytest

from edgenet.errors import UsageError
from edgenet.postprocess import TopK, top_k
from edgenet.preprocess import dequantize
from edgenet.runtime import OutputSpec

LABELS = [f"class {i}" for i in range(1001)]


def full_sort(scores, k, threshold=0.0):
    """The reference: every score sorted (best first, ties to the lower index), then cut."""
    top = []
    for i in sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))[:k]:
        if float(scores[i]) < threshold:
            break
        top.append({"index": i, "label": LABELS[i], "score": round(float(scores[i]), 4)})
    return top


def raw_outputs(dtype, rng, count=25):
    info = np.iinfo(dtype)
    for n in range(count):
        if n % 3 == 0:  # a typical softmax output: almost everything at the bottom, a few ties on top
            raw = np.full(1001, info.min, dtype)
            raw[rng.integers(0, 1001, 8)] = rng.integers(info.min, info.max, 8)
            raw[rng.integers(0, 1001, 3)] = info.max
        else:
            raw = rng.integers(info.min, int(rng.integers(info.min + 1, info.max + 1)) + 1, 1001).astype(dtype)
        yield raw


@pytest.mark.parametrize("dtype, scale, zero_point", [("uint8", 1 / 256, 0), ("uint8", 0.0039, 3), ("int8", 1 / 256, -128)])
@pytest.mark.parametrize("k, threshold", [(1, 0.0), (5, 0.0), (5, 0.2), (8, 0.1), (9, 0.0), (20, 0.5), (1001, 0.0),
                                          (3, 1.0)])
def test_picking_from_raw_output_equals_the_full_sort(dtype, scale, zero_point, k, threshold):
    post = TopK(LABELS, k, threshold=threshold, output=OutputSpec(1001, dtype, scale, zero_point))
    rng = np.random.default_rng(k)
    for raw in raw_outputs(dtype, rng):
        scores = dequantize(raw, scale, zero_point)
        expected = full_sort(scores, k, threshold)
        picked = post.pick(raw)
        assert picked.as_dicts() == expected
        assert post(scores) == expected  # the float path agrees
        assert picked.indices == [t["index"] for t in expected] and len(picked) == len(expected)
        assert list(top_k(scores, k)) == [i for i, _ in sorted(enumerate(scores), key=lambda p: (-p[1], p[0]))][:k]


@pytest.mark.parametrize("k", [1, 2, 5, 9, 10, 11, 50])
def test_top_k_is_the_full_stable_sort_cut_even_with_ties_at_the_cut(k):
    rng = np.random.default_rng(k)
    for n in range(200):
        size = int(rng.integers(1, 40)) if n % 2 else 1001
        scores = (rng.integers(0, int(rng.integers(1, 12)), size) / 7).astype(np.float32)  # ties everywhere
        if n % 5 == 0:
            scores[rng.integers(0, size, 3)] = np.nan  # sorts last in the full sort, and here
        if n % 7 == 0:
            scores[:] = np.nan
        expected = np.argsort(-scores, kind="stable")[:k]
        assert top_k(scores, k).tolist() == expected.tolist()
        if not np.isnan(scores).any():
            assert top_k(scores, k).tolist() == [i for i, _ in sorted(enumerate(scores.tolist()),
                                                                     key=lambda p: (-p[1], p[0]))][:k]


@pytest.mark.parametrize("dtype, zero_point", [("uint8", 0), ("int8", -128)])
def test_picking_from_a_few_classes_equals_the_full_sort(dtype, zero_point):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(3)
    for classes in (2, 3, 6):
        for k in range(1, classes + 3):  # k below, at and above the number of classes
            post = TopK(LABELS[:classes], k, output=OutputSpec(classes, dtype, 1 / 256, zero_point))
            for _ in range(30):
                raw = rng.choice([info.min, info.min + 1, info.max - 1, info.max], classes).astype(dtype)
                assert post.pick(raw).as_dicts() == full_sort(dequantize(raw, 1 / 256, zero_point), k)


def test_float_outputs_and_smoothing_take_the_float_path():
    rng = np.random.default_rng(1)
    floats = TopK(LABELS, 5, output=OutputSpec(1001, "float32", 0.0, 0))
    scores = rng.random(1001).astype(np.float32)
    scores[[10, 20, 30]] = scores.max()  # ties
    assert floats.pick(scores).as_dicts() == full_sort(scores, 5)
    # smoothing averages the dequantized scores over frames, as __call__ does
    spec = OutputSpec(1001, "uint8", 1 / 256, 0)
    smooth, reference = TopK(LABELS, 3, smoothing=0.8, output=spec), TopK(LABELS, 3, smoothing=0.8)
    for raw in raw_outputs("uint8", rng, 10):
        assert smooth.pick(raw).as_dicts() == reference(dequantize(raw, spec.scale, spec.zero_point))


def test_labels_are_looked_up_only_when_read():
    post = TopK(["a", "b", "c"], 2, output=OutputSpec(3, "uint8", 1 / 255, 0))
    picked = post.pick(np.array([10, 200, 30], np.uint8))
    assert picked.indices == [1, 2] and picked.scores == [round(200 / 255, 4), round(30 / 255, 4)]
    assert picked.as_dicts() is picked.as_dicts()  # made once
    assert picked.as_dicts()[0] == {"index": 1, "label": "b", "score": 0.7843}


def test_bad_settings():
    with pytest.raises(UsageError, match="top-k"):
        TopK(LABELS, 0)
    with pytest.raises(UsageError, match="smoothing"):
        TopK(LABELS, 5, smoothing=1.0)
    with pytest.raises(UsageError, match="threshold"):
        TopK(LABELS, 5, threshold=1.5)
