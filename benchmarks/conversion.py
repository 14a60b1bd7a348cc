"""Conversion benchmark: what our full-int8 build costs and buys, measured in one run.

For each variant (random weights; calibrated on real photos from ../shared/reference/imagenet-100
through `edgenet calibrate`'s code when present, else on uniform noise):
  build s      int8 and float32 conversion time
  size ratio   int8 bytes / float bytes                   (expect ~0.25-0.3)
  speed-up     float median latency / int8 median latency through edgenet.runtime (XNNPACK, 1 thread)
  vs official  our int8 median / the official TF-hosted *_quant.tflite of the same variant, when present
               (same graph, same runtime: expect ~1.0; theirs has uint8 I/O and 1001 classes)

    python benchmarks/conversion.py                      # 0.25/128, 0.5/160, 0.75/192
    python benchmarks/conversion.py --variants mobilenet_v1_100_224 --runs 100
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edgenet.runtime import load_interpreter  # noqa: E402
from edgenet.stats import summarize  # noqa: E402
from edgenet.variants import parse_variant  # noqa: E402

REFERENCE = ROOT.parent / "shared" / "reference"


def latency(path: str, runs: int) -> "object":
    m = load_interpreter(path, threads=1)
    x = np.zeros(m.input_spec.shape, m.input_spec.dtype)
    for _ in range(10):  # warm-up: first invokes allocate and pack weights
        m.run(x)
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        m.run(x)
        samples.append(time.perf_counter_ns() - t0)
    return summarize(samples, drop_outliers=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", nargs="+", default=["mobilenet_v1_025_128", "mobilenet_v1_050_160", "mobilenet_v1_075_192"])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--samples", type=int, default=50)
    args = ap.parse_args()

    from edgenet.representative import build_representative_dataset
    from calibration.grid import build_variant, random_samples

    tmp = Path(tempfile.mkdtemp(prefix="edgenet-bench-"))
    print(f"{'variant':24} {'int8 build s':>12} {'float build s':>13} {'size ratio':>10} "
          f"{'int8 ms (p90)':>14} {'float ms (p90)':>15} {'speed-up':>8} {'vs official':>11}")
    for name in args.variants:
        v = parse_variant(name)
        photos = REFERENCE / "imagenet-100"
        if photos.is_dir():
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                samples = build_representative_dataset(str(photos), v.resolution, args.samples).samples
        else:
            samples = random_samples(v.resolution, args.samples)
        t0 = time.perf_counter()
        q = build_variant(v, tmp / v.model_filename("int8"), samples=samples)
        t_q = time.perf_counter() - t0
        t0 = time.perf_counter()
        f = build_variant(v, tmp / v.model_filename("float32"), precision="float32")
        t_f = time.perf_counter() - t0
        lq, lf = latency(str(q), args.runs), latency(str(f), args.runs)
        official = REFERENCE / f"mobilenet_v1_{v.alpha:g}_{v.resolution}_quant.tflite"
        if v.alpha == 1.0:
            official = REFERENCE / f"mobilenet_v1_1.0_{v.resolution}_quant.tflite"
        vs = f"{lq.median_ms / latency(str(official), args.runs).median_ms:.2f}" if official.is_file() else "-"
        print(f"{name:24} {t_q:12.1f} {t_f:13.1f} {q.stat().st_size / f.stat().st_size:10.2f} "
              f"{lq.median_ms:7.2f} ({lq.p90_ms:.2f}) {lf.median_ms:8.2f} ({lf.p90_ms:.2f}) "
              f"{lf.median_ms / lq.median_ms:8.2f} {vs:>11}", flush=True)


if __name__ == "__main__":
    main()
