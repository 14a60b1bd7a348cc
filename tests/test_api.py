"""The public Python API: edgenet.Classifier, edgenet.frames, edgenet.run."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

import edgenet
from edgenet.errors import UsageError
from edgenet.preprocess import preprocess
from edgenet.runtime import load_interpreter
from tests.conftest import ROOT
from tests.fixtures.drawings import LABELS, draw


@pytest.fixture(scope="module")
def clf(tiny_model, tiny_labels):
    return edgenet.Classifier(tiny_model, labels=tiny_labels, threads=1)


def test_classify_drawn_pictures(clf):
    rng = np.random.default_rng(7)
    hits = 0
    for i in range(40):
        label = LABELS[i % len(LABELS)]
        top = clf.classify(draw(label, rng), top_k=3)
        assert len(top) == 3 and all(isinstance(p, edgenet.Prediction) for p in top)
        assert top[0].score >= top[1].score >= top[2].score
        hits += top[0].label == label
    assert hits >= 36  # the fixture model is ~97 % on drawings
    assert clf.input_size == (64, 64) and clf.labels == LABELS and clf.threads == 1
    assert repr(clf) == "Classifier('mobilenet_v1_025_64_int8', 64x64, 10 classes, 1 threads)"


def test_classify_is_the_command_lines_computation(clf, tiny_model):
    """Same preprocessing and interpreter as `edgenet run`/`eval`: identical scores, label, score."""
    image = draw("stripes", np.random.default_rng(1))
    model = load_interpreter(str(tiny_model), threads=1)
    expected = model.run(preprocess(image, model.input_spec))
    np.testing.assert_array_equal(clf.scores(image), expected)
    label, score = clf.classify(image, top_k=1)[0]
    assert label == LABELS[int(expected.argmax())] and score == pytest.approx(float(expected.max()))


def test_rgb_grey_and_alpha_images(clf):
    bgr = draw("red", np.random.default_rng(2))
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    assert clf.classify(rgb, color="rgb") == clf.classify(bgr)
    assert clf.classify(rgb)[0].label != "red"  # an RGB array read as BGR is blue, not red
    assert clf.classify(cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)) == clf.classify(bgr)
    assert clf.classify(cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA), color="rgb") == clf.classify(bgr)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    assert clf.classify(grey) == clf.classify(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))


@pytest.mark.parametrize("image, kwargs, message", [
    (np.zeros((8, 8, 3), np.float32), {}, "uint8 numpy array"),
    ([[0, 0, 0]], {}, "got list"),
    (np.zeros((8, 8, 2), np.uint8), {}, "got shape"),
    (np.zeros((8, 8, 3), np.uint8), {"color": "hsv"}, "'bgr' or 'rgb'"),
    (np.zeros((8, 8, 3), np.uint8), {"top_k": 0}, "top_k must be"),
])
def test_bad_images_are_one_clear_error(clf, image, kwargs, message):
    with pytest.raises(UsageError, match=message):
        clf.classify(image, **kwargs)


def test_official_model_knows_a_parrot(reference):
    """The official 0.5/160 with the ImageNet labels shipped in the package (no labels file given)."""
    clf = edgenet.Classifier(reference / "mobilenet_v1_0.5_160_quant.tflite", threads=2,
                             labels=edgenet.models.packaged_labels())
    label, score = clf.classify(cv2.imread(str(reference / "images" / "parrot.jpg")))[0]
    assert (label, score > 0.8) == ("macaw", True)
    rgb = cv2.cvtColor(cv2.imread(str(reference / "images" / "parrot.jpg")), cv2.COLOR_BGR2RGB)
    assert clf.classify(rgb, color="rgb")[0].label == "macaw"


def test_classifier_by_index_name(tmp_path, monkeypatch, tiny_model, tiny_labels):
    from tests.modelserver import ModelServer, official_archive, sha256, write_index

    monkeypatch.setenv("EDGENET_CACHE", str(tmp_path / "cache"))
    www = tmp_path / "www"
    www.mkdir()
    official_archive(www, "tiny_quant", tiny_model)
    with ModelServer(www) as server:
        monkeypatch.setenv("EDGENET_MODEL_INDEX", str(write_index(tmp_path / "i.json", [
            {"name": "tiny", "url": server.url("tiny_quant.tgz"), "sha256": sha256(www / "tiny_quant.tgz"),
             "member": "tiny_quant.tflite", "labels": str(tiny_labels)}])))
        said = []
        by_default = edgenet.Classifier(threads=1, log=said.append)  # the index's only model is its default
    assert by_default.name == "tiny" and by_default.labels == LABELS
    assert said[0].startswith("model tiny (the default of ")
    assert edgenet.model_path("tiny") == by_default.model_path == tmp_path / "cache" / "models" / "tiny.tflite"
    image = draw("green", np.random.default_rng(3))
    assert edgenet.Classifier("tiny", threads=1).classify(image) == edgenet.Classifier(tiny_model, labels=tiny_labels,
                                                                                          threads=1).classify(image)


def test_frames_from_uris_cameras_and_folders(tmp_path):
    got = list(edgenet.frames("pattern://?width=64&height=48&frames=5"))
    assert len(got) == 5 and all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for f in got)
    assert len(list(edgenet.frames("pattern://?frames=50", max_frames=3))) == 3
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.full((10, 12, 3), i * 50, np.uint8))
    folder = list(edgenet.frames(str(tmp_path)))
    assert [int(f[0, 0, 0]) for f in folder] == [0, 50, 100]
    with pytest.raises(edgenet.errors.SourceError, match="cannot open camera 63"):
        next(edgenet.frames(63))


def test_run_calls_back_with_raw_frames_and_predictions(tiny_model, tiny_labels):
    seen = []
    summary = edgenet.run("pattern://?width=96&height=72&frames=6", tiny_model, labels=str(tiny_labels), threads=1,
                          top_k=2, on_result=lambda frame, top: seen.append((frame.shape, top)))
    assert summary.frames == 6 == len(seen)
    assert all(shape == (72, 96, 3) and len(top) == 2 and top[0].label in LABELS for shape, top in seen)
    assert summary.model.endswith("mobilenet_v1_025_64_int8.tflite")


def test_import_edgenet_stays_light():
    code = "import sys, edgenet; print(sorted(m for m in ('cv2', 'numpy', 'rich', 'edgenet.api') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    with pytest.raises(AttributeError, match="no attribute 'Classifer'"):
        edgenet.Classifer  # noqa: B018 (a typo is an AttributeError, as for any module)
