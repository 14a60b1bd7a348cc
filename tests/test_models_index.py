"""The built-in model index (the 32 official MobileNet V1 models), the labels shipped with it, the
mirror URLs, the one cache folder, and which model a command takes (--model, saved pick, default)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from edgenet.errors import UsageError
from edgenet.models.index import builtin_index, mirrored, packaged_labels
from edgenet.variants import PUBLISHED, standard_variants


def test_the_built_in_index_names_the_32_official_models():
    index = builtin_index()
    assert len(index) == 32 and index.default == "mobilenet_v1_050_160" and index.source == "built-in"
    for v in standard_variants():
        q, f = index.require(v.name), index.require(v.name + "_float")
        assert (q.variant, q.precision, f.variant, f.precision) == (v, "int8", v, "float32")
        assert q.top1 == PUBLISHED[(v.alpha, v.resolution)].top1_quant  # one home for the published numbers
        assert f.top1 == PUBLISHED[(v.alpha, v.resolution)].top1_float
        assert q.url.endswith("_quant.tgz") and "2018_08_02" in q.url and q.member == q.url.rsplit("/", 1)[1][:-4] + ".tflite"
        assert "2018_02_22" in f.url and f.member == f.url.rsplit("/", 1)[1][:-4] + ".tflite"
        assert q.labels == f.labels == "imagenet"
    assert index.require("mobilenet_v1_050_160").url == (
        "https://storage.googleapis.com/download.tensorflow.org/models/mobilenet_v1_2018_08_02/mobilenet_v1_0.5_160_quant.tgz")
    assert len({s.sha256 for s in index}) == 32


def test_the_built_in_index_matches_the_reference_table(reference):
    rows = list(csv.DictReader(open(reference / "official-mobilenet-v1.tsv"), delimiter="\t"))
    assert len(rows) == 32
    by_url = {s.url: s for s in builtin_index()}
    for row in rows:
        spec = by_url[row["url"]]
        assert spec.sha256 == row["sha256_of_archive"] and spec.member == row["archive"] + ".tflite"
        assert spec.precision == ("float32" if row["precision"] == "float32" else "int8")


def test_the_listed_dtype_is_the_official_files_own(reference):
    """Google's 8-bit models are uint8 (I/O and weights); the index says so rather than "int8"."""
    from edgenet.runtime import load_interpreter

    index = builtin_index()
    for path in sorted(reference.glob("mobilenet_v1_*_quant.tflite")):
        spec = next(s for s in index if s.member == path.name)
        model = load_interpreter(str(path))
        assert spec.dtype == model.input_spec.dtype == "uint8", path.name


def test_the_packaged_imagenet_labels():
    lines = packaged_labels().read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1001 and lines[0] == "background" and lines[1].startswith("tench")
    assert lines[1000].startswith("toilet tissue")


def test_the_labels_fit_an_official_model(reference):
    from edgenet.labels import load_labels

    labels = load_labels(str(packaged_labels()), 1001)
    assert labels == (reference / "imagenet_labels.txt").read_text().splitlines()


@pytest.mark.parametrize("url, mirror, expected", [
    ("https://g.co/models/a/b.tgz", None, "https://g.co/models/a/b.tgz"),
    ("https://g.co/models/a/b.tgz", "http://lan:8000/mirror", "http://lan:8000/mirror/b.tgz"),
    ("https://g.co/models/a/b.tgz", "http://lan:8000/mirror/", "http://lan:8000/mirror/b.tgz"),
    ("file:///srv/models/b.tgz", "http://lan:8000/", "file:///srv/models/b.tgz"),
])
def test_mirror_urls_keep_the_file_name(url, mirror, expected):
    assert mirrored(url, mirror) == expected


def test_a_mirror_must_be_a_url(monkeypatch):
    from edgenet.models.index import mirror_from_env

    monkeypatch.setenv("EDGENET_MODEL_MIRROR", "lan-server:/models")
    with pytest.raises(UsageError, match="must be a base URL"):
        mirror_from_env()


def test_one_cache_folder(monkeypatch, tmp_path):
    from edgenet.cache import cache_dir, cache_root

    monkeypatch.delenv("EDGENET_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "edgenet"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: relative paths are invalid
    assert cache_root() == Path(os.path.expanduser("~")) / ".cache" / "edgenet"
    monkeypatch.setenv("EDGENET_CACHE", str(tmp_path / "mine"))
    assert cache_dir("models") == tmp_path / "mine" / "models"
    with pytest.raises(ValueError):
        cache_dir("tmp")


def test_every_cache_lookup_goes_through_one_function(monkeypatch, tmp_path):
    """The downloads, the profiler's latency builds, `build --grid` and deploy's wheels: one root."""
    monkeypatch.setenv("EDGENET_CACHE", str(tmp_path))
    from calibration.grid import default_cache_dir as grid_builds
    from deploy.build import default_cache as deploy_cache
    from edgenet.models import models_dir
    from edgenet.profiler.build import default_cache_dir as latency_builds

    assert models_dir() == tmp_path / "models"
    assert grid_builds() == tmp_path / "builds"
    assert latency_builds() == tmp_path / "builds" / "latency"
    assert deploy_cache() == tmp_path


def test_models_list_fits_80_columns_with_every_number(capsys):
    from edgenet.cli import main

    assert main(["models", "list", "--width", "80"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    row = next(line for line in lines if line.startswith("mobilenet_v1_050_160 "))
    assert row.split() == ["mobilenet_v1_050_160", "0.50", "160", "uint8", "77", "57.2", "~1.3"]
    row = next(line for line in lines if line.startswith("mobilenet_v1_075_192_float"))
    assert row.split() == ["mobilenet_v1_075_192_float", "0.75", "192", "float32", "239", "67.1", "~10.4"]
    assert sum(line.startswith("mobilenet_v1_") for line in lines) == 32
