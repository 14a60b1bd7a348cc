"""Quantization benchmark: real ImageNet weights from the official .tflite models, at every resolution,
float vs int8 per post-training technique, on a labelled set. Accuracy, not agreement, is the measure.

For each official MobileNet V1 found (``../shared/reference/mobilenet_v1_*_quant.tflite``, or
``--models``) x each resolution (128, 160, 192, 224):
  float        the weights imported into the builder (calibration.tflite_import), exported float32
  official     the official int8 model itself (its native resolution only)
  ptq          plain full-int8 post-training quantization (per-channel weights)
  bc           + bias correction (calibration.equalize.correct_bias)
  grid         the official weight grid kept (calibration.keep_grid) instead of re-rounding
  cle          cross-layer equalization (needs ReLU for ReLU6; float with ReLU shown beside it)
  retarget     the official int8 model with its input size rewritten (edgenet.retarget, no TF)
Calibration never sees a scored image: the labelled set is split in two halves; each half is scored
by models calibrated on the other half, so every image is scored once by each technique.

Goals: imported float equals the official model's top-1 within 1 point at its native resolution;
the best technique's int8 within 0.5 points of float at every (alpha, resolution). Each difference
is paired (the same images) and printed with its 95 % interval (edgenet.evaluate.paired_difference:
only the images the two models score differently count); a goal is met when the whole interval
meets it, missed when none of it does, and otherwise the set cannot tell. On imagenet-100
(100 images) the intervals are 6-12 points wide: read the table as a check for large losses. A
0.5-point goal needs thousands of images (ImageNet's 50,000 validation images, at 5 % disagreement: +-0.2).

    python benchmarks/quantization.py
    python benchmarks/quantization.py --images val/ --resolutions 160 224 --cle all --json out.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgenet.evaluate import evaluate, list_samples, paired_difference  # noqa: E402
from edgenet.labels import has_background, read_labels_file  # noqa: E402
from edgenet.preprocess import InputSpec, preprocess  # noqa: E402

REFERENCE = Path(os.environ.get("EDGENET_REFERENCE", ROOT.parent / "shared" / "reference"))
RESOLUTIONS = (128, 160, 192, 224)
TECHNIQUES = ("ptq", "bc", "grid", "cle")


def write_csv(path: Path, rows: list[tuple[str, int]], offset: int) -> str:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "class_index"])
        for image, index in rows:
            w.writerow([os.path.abspath(image), index - offset])
    return str(path)


def samples_at(rows: list[tuple[str, int]], resolution: int) -> np.ndarray:
    spec = InputSpec(resolution, resolution, 3, "float32")
    return np.concatenate([preprocess(cv2.imread(p, cv2.IMREAD_COLOR), spec) for p, _ in rows])


class Scorer:
    """Top-1/top-5 through edgenet.evaluate, on the whole set or on one fold's half."""

    def __init__(self, images: str, labels: str, ground_truth: str | None, work: Path, seed: int = 0):
        self.images, self.labels, self.ground_truth = images, labels, ground_truth
        label_list = read_labels_file(labels)
        rows = list_samples(images, label_list, ground_truth)
        order = np.random.default_rng(seed).permutation(len(rows))
        offset = 1 if has_background(label_list) else 0
        self.halves = [[rows[i] for i in sorted(order[: len(rows) // 2])], [rows[i] for i in sorted(order[len(rows) // 2:])]]
        self.csvs = [write_csv(work / f"half{k}.csv", h, offset) for k, h in enumerate(self.halves)]
        self.count = len(rows)

    def whole(self, model: str) -> tuple[tuple[float, float], list[dict]]:
        """((top-1, top-5) in %, every image's result) on the whole set."""
        e = evaluate(model, self.images, labels=self.labels, ground_truth=self.ground_truth)
        return (e.top1 * 100, e.top5 * 100), e.per_image

    def half(self, model: str, k: int) -> tuple[int, int, list[dict]]:
        e = evaluate(model, self.images, labels=self.labels, ground_truth=self.csvs[k])
        return round(e.top1 * e.count), round(e.top5 * e.count), e.per_image


def bench_model(path: Path, scorer: Scorer, resolutions, cle_everywhere: bool, work: Path, log) -> list[dict]:
    from calibration.convert import to_tflite
    from calibration.equalize import correct_bias, equalize
    from calibration.keep_grid import keep_weight_grid
    from calibration.tflite_import import import_tflite
    from edgenet.retarget import retarget

    rows = []
    for res in resolutions:
        t0 = time.perf_counter()
        model, graph = import_tflite(str(path), res)
        row = {"model": path.name, "alpha": graph.alpha, "native": graph.resolution, "resolution": res}
        flt = work / "float.tflite"
        flt.write_bytes(to_tflite(model, None))
        per_image = {}  # model -> every image's result, for the paired intervals
        row["float"], per_image["float"] = scorer.whole(str(flt))
        row["official"] = None
        if res == graph.resolution:
            row["official"], per_image["official"] = scorer.whole(str(path))
        row["retarget"], per_image["retarget"] = scorer.whole(retarget(str(path), res, str(work / "retarget.tflite")).model)
        original = model.get_weights()
        hits = {k: [0, 0] for k in ("ptq", "bc", "grid")}
        with_cle = cle_everywhere or res == graph.resolution
        if with_cle:
            relu, _ = import_tflite(str(path), res, activation="relu")
            equalize(relu)
            (work / "cle_float.tflite").write_bytes(to_tflite(relu, None))
            row["cle_float"], _ = scorer.whole(str(work / "cle_float.tflite"))
            hits["cle"] = [0, 0]
        for k in (0, 1):
            calib = samples_at(scorer.halves[1 - k], res)
            model.set_weights(original)
            q = work / "ptq.tflite"
            q.write_bytes(to_tflite(model, calib))
            shutil.copy(q, work / "grid.tflite")
            keep_weight_grid(str(work / "grid.tflite"), graph)
            correct_bias(model, calib)
            (work / "bc.tflite").write_bytes(to_tflite(model, calib))
            if with_cle:
                (work / "cle.tflite").write_bytes(to_tflite(relu, calib))
            for name in hits:
                h1, h5, images = scorer.half(str(work / f"{name}.tflite"), k)
                hits[name][0] += h1
                hits[name][1] += h5
                per_image.setdefault(name, []).extend(images)  # the two halves make the whole set
        for name, (h1, h5) in hits.items():
            row[name] = (100 * h1 / scorer.count, 100 * h5 / scorer.count)
        # Each int8 model (and the official one) against the float model, image by image.
        row["vs_float"] = {name: paired_difference(per_image[name], per_image["float"])
                           for name in per_image if name != "float"}
        row["seconds"] = round(time.perf_counter() - t0, 1)
        log(row)
        rows.append(row)
    return rows


def fmt(v) -> str:
    return f"{'-':>11}" if v is None else f"{v[0]:5.1f}/{v[1]:5.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", help="official MobileNet V1 .tflite files (default: those in ../shared/reference)")
    ap.add_argument("--images", default=str(REFERENCE / "imagenet-100"), help="labelled folder (default imagenet-100)")
    ap.add_argument("--ground-truth", help="file,class_index CSV (default: IMAGES/ground_truth.csv when present)")
    ap.add_argument("--labels", default=str(REFERENCE / "imagenet_labels.txt"))
    ap.add_argument("--resolutions", nargs="+", type=int, default=list(RESOLUTIONS))
    ap.add_argument("--cle", choices=("native", "all"), default="native", help="cross-layer equalization at the native resolution only (default) or everywhere")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    models = [Path(m) for m in args.models] if args.models else sorted(REFERENCE.glob("mobilenet_v1_*_quant.tflite"))
    if not models or not os.path.isdir(args.images):
        sys.exit(f"no models or no labelled images (looked in {REFERENCE}); give --models and --images")
    gt = args.ground_truth or (os.path.join(args.images, "ground_truth.csv")
                               if os.path.isfile(os.path.join(args.images, "ground_truth.csv")) else None)
    work = Path(tempfile.mkdtemp(prefix="edgenet-quant-"))
    scorer = Scorer(args.images, args.labels, gt, work)
    print(f"{scorer.count} labelled images in {args.images}: one image = {100 / scorer.count:.1f} points; "
          "int8 scored by cross-fitting (calibrated on the other half)\n", flush=True)
    header = (f"{'model':34} {'res':>4} {'float t1/t5':>12} {'official':>12} {'ptq':>12} {'bc':>12} {'grid':>12} "
              f"{'cle(float)':>12} {'cle':>12} {'retarget':>12}  best: int8 - float [95 % interval]")
    print(header, flush=True)
    rows = []

    def log(r):
        best = max((k for k in TECHNIQUES if r.get(k)), key=lambda k: r[k][0])
        r["best"], r["best_int8_minus_float"] = best, round(r[best][0] - r["float"][0], 2)
        print(f"{r['model'][:34]:34} {r['resolution']:4d} {fmt(r['float'])} {fmt(r['official'])} {fmt(r['ptq'])} "
              f"{fmt(r['bc'])} {fmt(r['grid'])} {fmt(r.get('cle_float'))} {fmt(r.get('cle'))} {fmt(r['retarget'])}  "
              f"{best} {r['vs_float'][best]}   ({r['seconds']} s)", flush=True)

    for m in models:
        rows += bench_model(m, scorer, args.resolutions, args.cle == "all", work, log)
    shutil.rmtree(work, ignore_errors=True)

    print()
    for tech in (*TECHNIQUES, "retarget"):
        drops = [(r["float"][0] - r[tech][0], r) for r in rows if r.get(tech)]
        if drops:
            d, r = max(drops, key=lambda t: t[0])
            mean = sum(x for x, _ in drops) / len(drops)
            print(f"{tech:8}: worst float->int8 top-1 drop {d:+5.1f} points ({r['model']} at {r['resolution']}; "
                  f"int8 - float {r['vs_float'][tech]}), mean {mean:+5.1f} over {len(drops)}")
    print("\n[low, high]: 95 % interval of the paired difference (Newcombe), from the images the two models score "
          "differently;\na goal is met when the whole interval meets it, missed when none of it does, else this set "
          "cannot tell")
    for r in (r for r in rows if r["official"]):
        d = r["vs_float"]["official"].reversed()  # the goal is on float - official
        print(f"goal: imported float vs official at native {r['model']} {r['resolution']}: {d} points: "
              f"{verdict(d.low, d.high, -1.0, 1.0)} (goal within 1)")
    verdicts = [verdict(r["vs_float"][r["best"]].low, r["vs_float"][r["best"]].high, -0.5, None) for r in rows]
    overall = "NOT met" if "NOT met" in verdicts else "cannot tell" if "cannot tell" in verdicts else "met"
    worst = min(rows, key=lambda r: r["best_int8_minus_float"])
    print(f"goal: best technique's int8 within 0.5 points of float at every (alpha, resolution): {overall} "
          f"({verdicts.count('met')} met, {verdicts.count('NOT met')} missed, {verdicts.count('cannot tell')} cannot "
          f"tell; worst {worst['best']} {worst['vs_float'][worst['best']]} at {worst['model']} {worst['resolution']})")
    if args.json:
        for r in rows:
            r["vs_float"] = {k: {"points": round(d.points, 2), "interval": [round(d.low, 2), round(d.high, 2)],
                                 "only_this_right": d.only_a, "only_float_right": d.only_b} for k, d in r["vs_float"].items()}
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


def verdict(low: float, high: float, lowest: float, highest: float | None) -> str:
    """A goal 'difference in [lowest, highest]' against a 95 % interval [low, high]."""
    if low >= lowest and (highest is None or high <= highest):
        return "met"
    if high < lowest or (highest is not None and low > highest):
        return "NOT met"
    return "cannot tell"


if __name__ == "__main__":
    main()
