"""`--weights NAME` through the model index, and which start the demo takes (pure tier: no TensorFlow)."""

from __future__ import annotations

import hashlib
import json

import pytest

from calibration.demo import DemoConfig, demo_weights
from calibration.tflite_import import read_graph, resolve_weights
from edgenet.errors import EdgenetError, UsageError
from tests.conftest import FIXTURES

TINY = FIXTURES / "mobilenet_v1_025_64_int8.tflite"


@pytest.fixture()
def index(tmp_path, monkeypatch):
    """A model index whose mobilenet_v1_025_128 is the project's tiny fixture (a file URL), empty cache."""
    entry = {"name": "mobilenet_v1_025_128", "url": str(TINY), "sha256": hashlib.sha256(TINY.read_bytes()).hexdigest()}
    path = tmp_path / "index.json"
    path.write_text(json.dumps({"models": [entry]}))
    monkeypatch.setenv("EDGENET_MODEL_INDEX", str(path))
    monkeypatch.setenv("EDGENET_CACHE", str(tmp_path / "cache"))
    return path


def test_a_model_name_resolves_to_its_cached_tflite(index):
    path = resolve_weights("mobilenet_v1_025_128")  # pulled (sha256-checked) on first use
    assert path != str(TINY) and open(path, "rb").read() == TINY.read_bytes()
    assert read_graph("mobilenet_v1_025_128").alpha == 0.25
    with pytest.raises(EdgenetError):
        resolve_weights("mobilenet_v1_050_999")
    with pytest.raises(UsageError, match="file not found"):
        resolve_weights("missing.tflite")


def test_demo_says_whether_it_starts_from_pretrained_weights(index):
    path, alpha, why = demo_weights(DemoConfig())
    assert path is None and alpha == 0.25
    assert why.startswith("from scratch (no pretrained mobilenet_v1_025_128 cached: `edgenet models pull")
    resolve_weights("mobilenet_v1_025_128")  # now cached
    path, alpha, why = demo_weights(DemoConfig())
    assert path is not None and why.startswith("from the pretrained ImageNet features of mobilenet_v1_025_128 (cached")
    given, alpha, why = demo_weights(DemoConfig(weights=str(TINY)))
    assert given == str(TINY) and alpha == 0.25 and why.endswith("(given)")
