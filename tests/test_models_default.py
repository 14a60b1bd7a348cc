"""Which model `run` and `eval` take without --model, and the issue's "done when": on a clean setup with
EDGENET_MODEL_INDEX pointing at a loopback server, `edgenet run --source clip --headless` classifies
with the official 0.5/160 model, works from the cache with the server down, and a tampered archive is
refused leaving nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.modelserver import ModelServer, official_archive, sha256, write_index

TINY_INT8 = FIXTURES / "mobilenet_v1_025_64_int8.tflite"
TINY_FLOAT = FIXTURES / "mobilenet_v1_025_64_float.tflite"


def edgenet(*args, timeout=120):
    """The real command, in a fresh process (what a user types)."""
    return subprocess.run([sys.executable, "-m", "edgenet", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=os.environ.copy())


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("EDGENET_CACHE", str(path))
    return path


@pytest.fixture
def tiny_site(tmp_path, cache, monkeypatch):
    root = tmp_path / "www"
    root.mkdir()
    official_archive(root, "tiny_quant", TINY_INT8)
    official_archive(root, "tiny_float", TINY_FLOAT)
    with ModelServer(root) as server:
        entries = [{"name": n, "url": server.url(f"{n}.tgz"), "sha256": sha256(root / f"{n}.tgz"),
                    "member": f"{n}.tflite", "labels": str(FIXTURES / "tiny_labels.txt")}
                   for n in ("tiny_quant", "tiny_float")]
        index = write_index(tmp_path / "index.json", entries, default="tiny_float")
        monkeypatch.setenv("EDGENET_MODEL_INDEX", str(index))
        yield server, index


def test_default_order_saved_pick_then_the_index_default(tiny_site, tmp_path):
    from edgenet.models import resolve_model, save_pick

    server, index = tiny_site
    said = []
    first = resolve_model(None, log=said.append)
    assert first.name == "tiny_float" and first.path.read_bytes() == TINY_FLOAT.read_bytes()
    assert said[0] == f"model tiny_float (the default of {index}; `edgenet profile --target-fps F` picks one for this board)"
    assert first.labels.read_text() == (FIXTURES / "tiny_labels.txt").read_text()

    save_pick("tiny_quant", target_fps=30.0, fps=412.5, threads=2)
    said.clear()
    picked = resolve_model(None, log=said.append)
    assert picked.name == "tiny_quant" and picked.path.read_bytes() == TINY_INT8.read_bytes()
    assert said[0].startswith("model tiny_quant (picked by `edgenet profile --target-fps` for 30 FPS on this machine")
    assert said.count(said[0]) == 1  # said once

    save_pick("gone_from_the_index", target_fps=30.0)  # a stale pick falls back to the default
    assert resolve_model(None).name == "tiny_float"
    save_pick(str(TINY_INT8), target_fps=30.0)  # a pick that is a file path
    assert resolve_model(None).path == TINY_INT8
    assert resolve_model("tiny_quant").why == ""  # --model given: nothing to explain


def test_profile_saves_its_pick_and_run_uses_it(tiny_site, tmp_path, cache):
    acc = tmp_path / "acc.json"
    acc.write_text(json.dumps({"tiny_quant": 0.97, "tiny_float": 0.96}))
    quick = ["--threads", "1", "--min-runs", "3", "--min-time", "0", "--warmup", "1"]
    done = edgenet("profile", "--models", "tiny_quant", "tiny_float", *quick, "--target-fps", "1",
                   "--accuracy", str(acc), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["choice"]["pick"]["name"] == "tiny_quant"  # 97 % beats 96 %, both above 1 FPS
    pick = json.loads((cache / "profile-pick.json").read_text())
    assert pick["model"] == str(cache / "models" / "tiny_quant.tflite") and pick["target_fps"] == 1.0

    summary = tmp_path / "s.json"
    run = edgenet("run", "--source", "pattern://?frames=5", "--headless", "--summary-json", str(summary))
    assert run.returncode == 0, run.stderr
    assert "picked by `edgenet profile --target-fps` for 1 FPS on this machine" in run.stderr
    assert json.loads(summary.read_text())["model"] == pick["model"]


def test_a_profile_that_misses_its_target_saves_nothing(tiny_site, tmp_path, cache):
    done = edgenet("profile", "--models", "tiny_quant", "--threads", "1", "--min-runs", "3", "--min-time", "0",
                   "--target-fps", "1000000", "--accuracy", str(_acc(tmp_path)))
    assert done.returncode == 1 and not (cache / "profile-pick.json").exists()


def _acc(tmp_path):
    path = tmp_path / "acc.json"
    path.write_text(json.dumps({"tiny_quant": 0.97}))
    return path


def test_the_built_in_default_offline(cache, monkeypatch, tmp_path):
    """No index file, no pick, no network (a mirror nobody answers): it says which model and why, then
    one line on how to get it; eval checks its images before downloading anything."""
    from tests.sshd import free_port

    port = free_port()
    monkeypatch.setenv("EDGENET_MODEL_MIRROR", f"http://127.0.0.1:{port}/")
    done = edgenet("run", "--source", "pattern://?frames=3", "--headless")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == ("edgenet: model mobilenet_v1_050_160 (the built-in default; `edgenet profile --target-fps F` "
                        "picks one for this board)")
    assert lines[-1].startswith(f"edgenet: error: cannot reach 127.0.0.1:{port}") and "path of a .tflite file" in lines[-1]
    assert not (cache / "models").exists() or list((cache / "models").iterdir()) == []
    bad = edgenet("eval", "--images", str(tmp_path / "nope"))
    assert bad.returncode == 2 and bad.stderr.strip() == f"edgenet: error: image folder not found: {tmp_path / 'nope'}"


# -- the "done when", with the official 0.5/160 model ------------------------------------------

@pytest.fixture
def official_site(reference, tmp_path, cache, monkeypatch):
    """The official 0.5/160 in an archive laid out like Google's, served on loopback, indexed under the
    built-in name (the built-in sha256 pins Google's real archive, which cannot be fetched here)."""
    root = tmp_path / "www"
    root.mkdir()
    official_archive(root, "mobilenet_v1_0.5_160_quant", reference / "mobilenet_v1_0.5_160_quant.tflite")
    server = ModelServer(root).start()
    index = write_index(tmp_path / "index.json", [
        {"name": "mobilenet_v1_050_160", "url": server.url("mobilenet_v1_0.5_160_quant.tgz"),
         "sha256": sha256(root / "mobilenet_v1_0.5_160_quant.tgz"), "member": "mobilenet_v1_0.5_160_quant.tflite",
         "labels": "imagenet", "top1": 57.2}])
    monkeypatch.setenv("EDGENET_MODEL_INDEX", str(index))
    yield root, server
    server.stop()


def test_done_when_run_without_model_classifies_with_the_official_model(official_site, reference, tmp_path, cache):
    root, server = official_site
    clip = reference / "video" / "vtest.avi"
    args = ["--source", str(clip), "--headless", "--max-frames", "40"]

    direct = tmp_path / "direct.json"
    assert edgenet("run", "--model", str(reference / "mobilenet_v1_0.5_160_quant.tflite"), "--labels",
                   str(reference / "imagenet_labels.txt"), *args, "--summary-json", str(direct)).returncode == 0
    pulled = tmp_path / "pulled.json"
    first = edgenet("run", *args, "--summary-json", str(pulled))
    assert first.returncode == 0, first.stderr
    assert "model mobilenet_v1_050_160 (the built-in default" not in first.stderr  # the index file's default
    assert first.stderr.startswith(f"edgenet: model mobilenet_v1_050_160 (the default of {os.environ['EDGENET_MODEL_INDEX']}")
    assert server.count("mobilenet_v1_0.5_160_quant.tgz") == 1
    got, want = json.loads(pulled.read_text()), json.loads(direct.read_text())
    assert got["model"] == str(cache / "models" / "mobilenet_v1_050_160.tflite")
    # the same model and the same ImageNet labels (shipped with edgenet) as the reference files
    assert got["frames"] == want["frames"] == 40 and got["last_top"] == want["last_top"]
    assert got["last_top"][0]["label"] and got["last_top"][0]["label"] != "class 0"

    server.stop()  # the server is down: the cache alone
    again = edgenet("run", *args, "--summary-json", str(pulled))
    assert again.returncode == 0, again.stderr
    assert "downloading" not in again.stderr
    assert json.loads(pulled.read_text())["last_top"] == want["last_top"]


def test_done_when_a_tampered_archive_is_refused_and_leaves_nothing(official_site, reference, cache):
    root, server = official_site
    archive = root / "mobilenet_v1_0.5_160_quant.tgz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped in transit, or on the server
    archive.write_bytes(bytes(data))
    done = edgenet("run", "--source", str(reference / "video" / "vtest.avi"), "--headless", "--max-frames", "5")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("edgenet: error:")]
    assert len(errors) == 1 and "checksum mismatch" in errors[0]
    assert list((cache / "models").iterdir()) == []


def test_eval_without_model_uses_the_default_and_its_labels(official_site, reference, cache):
    done = edgenet("eval", "--images", str(reference / "imagenet-100"), "--ground-truth",
                   str(reference / "imagenet-100" / "ground_truth.csv"), "--limit", "30", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["model"] == str(cache / "models" / "mobilenet_v1_050_160.tflite") and report["count"] == 30
    assert report["top1"] >= 0.5  # the official 0.5/160 (57 % published); a wrong model or labels gives ~0


# -- profile --grid: the official models, pulled ----------------------------------------------------------

def _grid_site(root, server, tflite, tmp_path, monkeypatch):
    """The 16 official int8 names, each served as an archive of ``tflite`` (one real model stands in for
    all: the variant, and so the published accuracy, comes from the index name)."""
    from edgenet.models.index import official_archive as archive_name
    from edgenet.variants import standard_variants

    entries = []
    for v in standard_variants():
        name = archive_name(v, "int8")
        official_archive(root, name, tflite)
        entries.append({"name": v.name, "url": server.url(f"{name}.tgz"), "sha256": sha256(root / f"{name}.tgz"),
                        "member": f"{name}.tflite", "labels": "imagenet"})
    monkeypatch.setenv("EDGENET_MODEL_INDEX", str(write_index(tmp_path / "grid.json", entries)))


def test_profile_grid_pulls_the_official_models_and_ranks_them_by_published_accuracy(reference, tmp_path, cache,
                                                                                      monkeypatch):
    from edgenet.variants import PUBLISHED

    root = tmp_path / "www"
    root.mkdir()
    with ModelServer(root) as server:
        _grid_site(root, server, reference / "mobilenet_v1_0.25_128_quant.tflite", tmp_path, monkeypatch)
        done = edgenet("profile", "--grid", "--threads", "1", "--min-runs", "3", "--min-time", "0", "--warmup", "1",
                       "--target-fps", "1", "--json")
        assert done.returncode == 0, done.stderr
        assert len(server.requests) == 16
    report = json.loads(done.stdout)
    rows = {r["name"]: r for r in report["results"]}
    assert len(rows) == 16
    for name, row in rows.items():
        v = row["alpha"], row["resolution"]
        assert row["accuracy"] == PUBLISHED[v].top1_quant and row["accuracy_source"] == "published (int8)"
    # every stand-in reaches 1 FPS, so the pick is the most accurate official int8 model: 1.0/224 (70.0 %)
    assert report["choice"]["pick"]["name"] == "mobilenet_v1_100_224"
    assert json.loads((cache / "profile-pick.json").read_text())["model"] == "mobilenet_v1_100_224"
    assert any("official pretrained models" in n for n in report["notes"])


def test_profile_grid_predict_only_pulls_only_the_seeds(tmp_path, cache, monkeypatch):
    root = tmp_path / "www"
    root.mkdir()
    with ModelServer(root) as server:
        _grid_site(root, server, TINY_INT8, tmp_path, monkeypatch)
        done = edgenet("profile", "--grid", "--predict-only", "--threads", "1", "--min-runs", "3", "--min-time", "0",
                       "--json")
        assert done.returncode == 0, done.stderr
        assert sorted(server.requests) == ["/mobilenet_v1_0.25_128_quant.tgz", "/mobilenet_v1_0.5_224_quant.tgz",
                                           "/mobilenet_v1_1.0_224_quant.tgz"]
    assert sorted(p.name for p in (cache / "models").glob("*.tflite")) == [
        "mobilenet_v1_025_128.tflite", "mobilenet_v1_050_224.tflite", "mobilenet_v1_100_224.tflite"]
    assert len(json.loads(done.stdout)["results"]) == 16


def test_grid_options_for_random_builds_are_refused_with_official_models():
    done = edgenet("profile", "--grid", "--build-only")
    assert done.returncode == 2 and "go with --random-weights" in done.stderr
