import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from edgenet.errors import DatasetError
from edgenet.evaluate import evaluate, list_samples, paired_difference
from tests.conftest import ROOT
from tests.fixtures.drawings import LABELS, draw


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """ImageFolder of drawn pictures: 5 per class, folders named by label."""
    root = tmp_path_factory.mktemp("drawn")
    rng = np.random.default_rng(11)
    for label in LABELS:
        (root / label).mkdir()
        for i in range(5):
            cv2.imwrite(str(root / label / f"{i}.png"), draw(label, rng))
    return root


def test_image_folder_accuracy_and_per_class(drawn, tiny_model, tiny_labels):
    report = evaluate(str(tiny_model), str(drawn), labels=str(tiny_labels), threads=1)
    assert report.count == 50
    assert report.top1 >= 0.85 and report.top5 >= report.top1
    assert set(report.per_class) == set(LABELS)
    assert all(row["count"] == 5 for row in report.per_class.values())
    data = report.as_dict()
    assert set(data) >= {"model", "dataset", "count", "top1", "top5", "per_class", "preprocessing", "environment",
                         "per_image"}
    assert json.loads(json.dumps(data)) == data
    # Every image's top 5, from which the totals follow: two models can be compared image by image.
    rows = report.per_image
    assert len(rows) == 50 and len({r["file"] for r in rows}) == 50 and all(len(r["top5"]) == 5 for r in rows)
    assert sum(r["top5"][0] == r["class_index"] for r in rows) / 50 == report.top1
    assert sum(r["class_index"] in r["top5"] for r in rows) / 50 == report.top5
    same = paired_difference(rows, list(reversed(rows)))  # the same model: no difference, any order
    assert (same.points, same.only_a, same.only_b) == (0.0, 0, 0) and same.low < 0 < same.high


def _scored(hits, offset=0):
    return [{"file": f"{i + offset}.jpg", "class_index": 3, "top5": [3 if hit else 4, 0, 1, 2, 5]}
            for i, hit in enumerate(hits)]


def test_paired_difference_counts_the_images_the_models_disagree_on():
    a = _scored([1] * 70 + [1] * 5 + [0] * 2 + [0] * 23)  # 75 right
    b = _scored([1] * 70 + [0] * 5 + [1] * 2 + [0] * 23)  # 72 right; 5 only a, 2 only b
    d = paired_difference(a, b)
    assert (d.count, d.only_a, d.only_b) == (100, 5, 2) and d.points == pytest.approx(3.0)
    assert d.low < 0 < 3 < d.high < 9  # 7 images that disagree cannot tell 3 points from 0
    r = paired_difference(b, a)
    assert (r.points, r.low, r.high) == pytest.approx((-d.points, -d.high, -d.low))
    back = d.reversed()
    assert (back.only_a, back.only_b) == (r.only_a, r.only_b)
    assert (back.points, back.low, back.high) == pytest.approx((r.points, r.low, r.high))
    assert str(paired_difference(a, a).reversed()).startswith("+0.0 [")
    assert str(d) == f"+3.0 [{d.low:+.1f}, {d.high:+.1f}]"
    many = paired_difference(_scored(([1] * 70 + [1] * 5 + [0] * 2 + [0] * 23) * 100),
                             _scored(([1] * 70 + [0] * 5 + [1] * 2 + [0] * 23) * 100))
    assert 2.0 < many.low < 3.0 < many.high < 4.0  # the same rates on 100x the images: tight
    with pytest.raises(DatasetError, match="same images"):
        paired_difference(a, _scored([1] * 100, offset=1))


def test_paired_difference_covers_the_true_difference_95_percent_of_the_time():
    # Two models that agree on 94 % of 100 images (as int8 and float copies do) with a true top-1
    # difference of 0 and of 2 points: the interval must hold it in ~95 % of samples, not fewer.
    rng = np.random.default_rng(5)
    for shift in (0.0, 0.02):
        covered = 0
        for _ in range(400):
            disagree = rng.random(100) < 0.06
            only_a = disagree & (rng.random(100) < 0.5 + shift / 0.12)
            right_both = ~disagree & (rng.random(100) < 0.7)
            d = paired_difference(_scored(right_both | only_a), _scored(right_both | (disagree & ~only_a)))
            covered += d.low <= 100 * shift <= d.high
        assert covered / 400 >= 0.92, (shift, covered)


def test_csv_layout(tmp_path, tiny_model, tiny_labels):
    rng = np.random.default_rng(12)
    rows = ["file,class_index,label"]
    for i, label in enumerate(LABELS):
        cv2.imwrite(str(tmp_path / f"img{i}.jpg"), draw(label, rng))
        rows.append(f"img{i}.jpg,{i},{label}")
    (tmp_path / "gt.csv").write_text("\n".join(rows) + "\n")
    report = evaluate(str(tiny_model), str(tmp_path), labels=str(tiny_labels), ground_truth=str(tmp_path / "gt.csv"))
    assert report.count == 10 and report.top1 >= 0.8


def test_folder_names_match_label_synonyms_and_numbers(tmp_path):
    labels = ["background", "tench, Tinca tinca", "goldfish, Carassius auratus", "great white shark"]
    for name in ("goldfish", "Tinca_tinca", "great-white-shark", "0"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.jpg").write_bytes(b"")
    got = dict((p.split("/")[-2], i) for p, i in list_samples(str(tmp_path), labels))
    assert got == {"goldfish": 2, "Tinca_tinca": 1, "great-white-shark": 3, "0": 1}  # "0" = class 0 after background


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: (d / "zebra").mkdir(), "match no label"),
        (lambda d: None, "no class sub-folders"),
    ],
)
def test_dataset_errors(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(DatasetError, match=message):
        list_samples(str(tmp_path), ["cat", "dog"])


@pytest.mark.parametrize(
    "csv_text, message",
    [
        ("file,class_index\nmissing.jpg,0\n", "not found"),
        ("file,class_index\na.jpg,zebra\n", "line 2: expected file,class_index"),
        ("file,class_index\na.jpg,7\n", "outside the model's classes"),
        ("", "empty"),
    ],
)
def test_csv_errors(tmp_path, csv_text, message):
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "gt.csv").write_text(csv_text)
    with pytest.raises(DatasetError, match=message):
        list_samples(str(tmp_path), ["cat", "dog"], ground_truth=str(tmp_path / "gt.csv"))


def test_unreadable_images_are_counted(tmp_path, tiny_model, tiny_labels):
    (tmp_path / "red").mkdir()
    cv2.imwrite(str(tmp_path / "red" / "ok.png"), draw("red", np.random.default_rng(0)))
    (tmp_path / "red" / "broken.jpg").write_bytes(b"not an image")
    report = evaluate(str(tiny_model), str(tmp_path), labels=str(tiny_labels))
    assert report.count == 1 and len(report.unreadable) == 1


@pytest.mark.parametrize("model, low, high", [("0.5_160", 0.64, 0.80), ("0.25_128", 0.40, 0.58)])
def test_official_models_on_imagenet_100(reference, model, low, high):
    """The shared README: a correct preprocessing scores about 45 / 69 / 73 top-1 on this sample
    (+-5). Our default aspect-preserving crop scores a little higher (see README)."""
    report = evaluate(str(reference / f"mobilenet_v1_{model}_quant.tflite"), str(reference / "imagenet-100"),
                      labels=str(reference / "imagenet_labels.txt"),
                      ground_truth=str(reference / "imagenet-100" / "ground_truth.csv"), threads=2)
    assert report.count == 100
    assert low <= report.top1 <= high
    stretched = evaluate(str(reference / f"mobilenet_v1_{model}_quant.tflite"), str(reference / "imagenet-100"),
                         labels=str(reference / "imagenet_labels.txt"),
                         ground_truth=str(reference / "imagenet-100" / "ground_truth.csv"), keep_aspect=False)
    assert low - 0.04 <= stretched.top1 <= high


def test_eval_cli_writes_json(reference, tmp_path):
    out = tmp_path / "eval.json"
    result = subprocess.run(
        [sys.executable, "-m", "edgenet", "eval", "--model", str(reference / "mobilenet_v1_0.5_160_quant.tflite"),
         "--labels", str(reference / "imagenet_labels.txt"), "--images", str(reference / "imagenet-100"),
         "--ground-truth", str(reference / "imagenet-100" / "ground_truth.csv"), "-o", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "top-1" in result.stdout
    data = json.loads(out.read_text())
    assert data["count"] == 100 and len(data["per_class"]) == 100 and 0.64 <= data["top1"] <= 0.8


def test_ground_truth_csv_in_a_flat_folder_is_used_and_said_once(tmp_path, tiny_model, tiny_labels):
    rng = np.random.default_rng(13)
    rows = ["file,class_index"]
    for i, label in enumerate(LABELS):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), draw(label, rng))
        rows.append(f"img{i}.png,{i}")
    (tmp_path / "ground_truth.csv").write_text("\n".join(rows) + "\n")
    report = evaluate(str(tiny_model), str(tmp_path), labels=str(tiny_labels))
    assert report.count == 10 and report.top1 >= 0.8
    assert report.ground_truth == str(tmp_path / "ground_truth.csv")
    assert report.notes == [f"using {tmp_path / 'ground_truth.csv'} as the ground truth (found in the image folder)"]
    done = subprocess.run(
        [sys.executable, "-m", "edgenet", "eval", "--model", str(tiny_model), "--labels", str(tiny_labels),
         "--images", str(tmp_path), "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "ground_truth.csv" in line]
    assert said == [f"edgenet: note: using {tmp_path / 'ground_truth.csv'} as the ground truth (found in the image folder)"]
    assert json.loads(done.stdout)["count"] == 10


def test_imagenet_synset_folders_are_classes(tmp_path):
    imagenet = ["tench, Tinca tinca", "goldfish, Carassius auratus"] + [f"label {i}" for i in range(2, 1000)]
    for name in ("n01440764", "n01443537", "n15075141"):  # class 0, class 1, the last class (toilet tissue)
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.jpg").write_bytes(b"")
    got = dict((p.split("/")[-2], i) for p, i in list_samples(str(tmp_path), ["background"] + imagenet))
    assert got == {"n01440764": 1, "n01443537": 2, "n15075141": 1000}
    got = dict((p.split("/")[-2], i) for p, i in list_samples(str(tmp_path), imagenet))
    assert got == {"n01440764": 0, "n01443537": 1, "n15075141": 999}
    # A model of 10 classes has no synsets: say why the folders do not match.
    with pytest.raises(DatasetError, match=r"3 class folder\(s\) match no label.*synset folders such as n01440764.*"
                                           r"1000- or 1001-output ImageNet model, this one has 10"):
        list_samples(str(tmp_path), [f"c{i}" for i in range(10)])
    (tmp_path / "n99999999").mkdir()  # looks like a synset, is not one of ImageNet's 1000
    with pytest.raises(DatasetError, match=r"1 class folder\(s\) match no label in the labels file: n99999999$"):
        list_samples(str(tmp_path), imagenet)


def test_the_shipped_synsets_agree_with_the_reference_ground_truth(reference):
    import csv

    from edgenet.evaluate import imagenet_synsets

    synsets = imagenet_synsets()
    assert len(synsets) == 1000 and list(synsets) == sorted(synsets)
    with open(reference / "imagenet-100" / "ground_truth.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 100
    assert all(synsets[r["synset"]] == int(r["class_index"]) for r in rows)


def test_official_model_on_imagenet_100_as_synset_folders_and_flat(reference, tmp_path):
    """The same 100 images as an ImageFolder of synset folders and as the flat folder with its
    ground_truth.csv found automatically: the same images, the same classes, the same top-1."""
    import csv
    import shutil

    src = reference / "imagenet-100"
    with open(src / "ground_truth.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        (tmp_path / r["synset"]).mkdir(exist_ok=True)
        shutil.copyfile(src / r["file"], tmp_path / r["synset"] / r["file"])
    model, labels = str(reference / "mobilenet_v1_0.5_160_quant.tflite"), str(reference / "imagenet_labels.txt")
    folders = evaluate(model, str(tmp_path), labels=labels, threads=2)
    flat = evaluate(model, str(src), labels=labels, threads=2)
    assert folders.count == flat.count == 100
    assert flat.ground_truth == str(src / "ground_truth.csv") and folders.ground_truth is None
    assert folders.top1 == flat.top1 and folders.top5 == flat.top5 and 0.64 <= flat.top1 <= 0.80
    assert folders.per_class == flat.per_class
    # Without a labels file the 1001 outputs are background + ImageNet's class 0..999; synsets still match.
    unlabelled = evaluate(model, str(tmp_path), threads=2)
    assert unlabelled.top1 == folders.top1 and "class 0" in unlabelled.per_class  # n01440764, the tench


def test_eval_compare_gives_the_paired_difference_to_another_report(drawn, tiny_model, tiny_labels, tmp_path, capsys):
    from edgenet.cli import main

    float_model = tiny_model.with_name("mobilenet_v1_025_64_float.tflite")
    base = ["eval", "--labels", str(tiny_labels), "--images", str(drawn), "--threads", "1"]
    assert main(base + ["--model", str(float_model), "-o", str(tmp_path / "float.json")]) == 0
    capsys.readouterr()
    assert main(base + ["--model", str(tiny_model), "--compare", str(tmp_path / "float.json"),
                        "-o", str(tmp_path / "int8.json")]) == 0
    printed = capsys.readouterr().out
    int8, flt = (json.loads((tmp_path / f"{k}.json").read_text()) for k in ("int8", "float"))
    c = int8["compared_with"]
    assert c["model"] == flt["model"] and c["top1_points"] == pytest.approx(100 * (int8["top1"] - flt["top1"]), abs=0.01)
    low, high = c["interval_points"]
    assert low <= c["top1_points"] <= high and high - low > 0
    assert c["top1_points"] == pytest.approx((c["only_this_right"] - c["only_other_right"]) * 2, abs=0.01)  # 50 images
    assert f"against {flt['model']}: top-1 {c['top1_points']:+.1f} points, 95 % interval {low:+.1f} to {high:+.1f}" in printed
    # Another set of images (--limit), a file that is no report, or none at all: one line, exit 2.
    assert main(base + ["--model", str(tiny_model), "--limit", "10", "--compare", str(tmp_path / "float.json")]) == 2
    assert "did not score the same images" in capsys.readouterr().err
    (tmp_path / "other.json").write_text(json.dumps({"top1": 0.5}))
    for bad, message in ((tmp_path / "other.json", "is not an `edgenet eval -o` report"),
                         (tmp_path / "missing.json", "cannot read"), (tiny_model, "is not JSON")):
        assert main(base + ["--model", str(tiny_model), "--compare", str(bad)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0] and "Traceback" not in err[0], err
