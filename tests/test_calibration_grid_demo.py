"""The cached variant grid and the offline demo (TensorFlow tier)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.tensorflow
pytest.importorskip("tensorflow")

from edgenet.representative import build_representative_dataset, save_calibration  # noqa: E402
from calibration.grid import GridConfig, build_grid  # noqa: E402
from edgenet.errors import UsageError  # noqa: E402
from edgenet.runtime import load_interpreter  # noqa: E402
from edgenet.variants import Variant  # noqa: E402
from tests.fixtures.drawings import LABELS  # noqa: E402
from tests.test_representative import write_images  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def test_grid_builds_then_reuses_the_cache(tmp_path):
    write_images(tmp_path / "imgs", LABELS[:4], [3] * 4)
    (tmp_path / "cal").mkdir()
    for r in (128, 160):
        with pytest.warns(UserWarning):  # 12 samples: fewer than recommended, enough for latency models
            save_calibration(build_representative_dataset(str(tmp_path / "imgs"), r, 12), str(tmp_path / "cal" / f"c{r}.npz"))
    variants = (Variant(0.25, 128), Variant(0.25, 160))
    config = GridConfig(str(tmp_path / "out"), calibration=(str(tmp_path / "cal"),), cache_dir=str(tmp_path / "cache"),
                        variants=variants)
    seen = []
    first = build_grid(config, lambda text, done, total: seen.append((text, done, total)))
    assert [e.path.name for e in first] == ["mobilenet_v1_025_128_int8.tflite", "mobilenet_v1_025_160_int8.tflite"]
    assert not any(e.cached for e in first)
    assert seen[0] == ("mobilenet_v1_025_128 (building)", 0, 2) and seen[-1] == ("done", 2, 2)
    for e in first:
        m = load_interpreter(str(e.path), threads=1)
        assert m.input_spec.shape == (1, e.variant.resolution, e.variant.resolution, 3)
        assert (m.input_spec.dtype, m.classes) == ("int8", 1000)
    again = build_grid(config)
    assert all(e.cached for e in again) and [e.key for e in again] == [e.key for e in first]
    # another calibration set is another model: a new key
    other = GridConfig(str(tmp_path / "out2"), calibration=(str(tmp_path / "cal" / "c128.npz"),), cache_dir=str(tmp_path / "cache"),
                       variants=variants[:1], io="uint8")
    assert build_grid(other)[0].key != first[0].key


def test_grid_names_missing_calibration_resolutions(tmp_path):
    write_images(tmp_path / "imgs", LABELS[:2], [2, 2])
    with pytest.warns(UserWarning):
        save_calibration(build_representative_dataset(str(tmp_path / "imgs"), 128, 4), str(tmp_path / "c128.npz"))
    with pytest.raises(UsageError, match=r"no calibration samples at 160, 192, 224 px \(have: 128\).*--resolution R"):
        build_grid(GridConfig(str(tmp_path / "out"), calibration=(str(tmp_path / "c128.npz"),)))


def test_demo_runs_the_real_path_end_to_end(tmp_path):
    """In a temporary workdir (under TMPDIR), as ./scripts/demo.sh runs it: the whole path, with no
    TensorFlow chatter on stderr, and at the end only the models, labels and build reports remain."""
    import os

    from calibration.quiet import CHATTER

    venv_bin = str(Path(sys.prefix) / "bin")
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep) if d != venv_bin)  # not activated
    r = subprocess.run(
        [sys.executable, "-m", "edgenet", "demo", "--resolution", "64",
         "--per-class", "40", "--epochs", "5", "--frames", "40", "--threads", "2", "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=400, env={**os.environ, "TMPDIR": str(tmp_path), "PATH": path},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    (work,) = tmp_path.glob("edgenet-demo-*")
    assert Path(result["model"]) == work / "mobilenet_v1_025_64_int8.tflite"
    assert load_interpreter(result["model"], threads=1).input_spec.dtype == "int8"
    assert result["test_images"] == 500  # 50 drawn test pictures x 10 classes
    # calibrated on 300 new drawings (not the training set); 20 % of them held out for the report
    calibration = json.loads((work / "mobilenet_v1_025_64_int8.build.json").read_text())["calibration"]
    assert calibration["samples"] == 300 and calibration["held_out"] == 60
    assert result["agreement"]["samples"] == 60 and result["agreement"]["disagreements"] == len(result["agreement"]["disagreeing"])
    assert 0.0 <= result["int8_top1"] <= 1.0 and 0.0 <= result["float_top1"] <= 1.0
    assert result["float_top1"] > 0.3  # 5 short epochs from scratch: well above chance (0.1)
    assert abs(result["int8_top1"] - result["float_top1"]) <= 0.15
    assert result["loop"]["frames"] == 40 and result["loop"]["e2e_fps"] > 0
    assert result["loop"]["last_top"][0]["label"] in LABELS
    for step in ("[1/6]", "[2/6]", "[3/6]", "[4/6]", "[5/6]", "[6/6]"):
        assert step in r.stderr
    chatter = [line for line in r.stderr.splitlines() if CHATTER.match(line) or "Warning" in line or "WARNING" in line]
    assert chatter == []
    # Tidied: the drawings, clip, samples and .keras (tens of MB) are gone; what `edgenet run` needs stays.
    stems = ("mobilenet_v1_025_64_int8", "mobilenet_v1_025_64_float")
    assert sorted(p.name for p in work.iterdir()) == sorted(
        f"{stem}{ext}" for stem in stems for ext in (".tflite", ".labels.txt", ".build.json"))
    assert result["removed_bytes"] > 10e6 and 0 < result["kept_bytes"] < 2e6
    assert result["kept_bytes"] == sum(p.stat().st_size for p in work.iterdir())
    assert result["run_command"] == (f"{Path(sys.prefix) / 'bin' / 'edgenet'} run --model {result['model']} "
                                     f"--labels {result['labels']} --camera 0")
