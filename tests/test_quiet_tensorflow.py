"""TensorFlow's native chatter is filtered off file descriptor 2; everything else gets through."""

import subprocess
import sys

from tests.conftest import ROOT

CHATTER = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796186166.139340   10360 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders. To turn "
    "them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.",
    "I0000 00:00:1796186238.634605   11470 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use "
    "available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
    "fully_quantize: 0, inference_type: 6, input_inference_type: INT8, output_inference_type: INT8",
    "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]
REAL = [
    "W0000 00:00:1796186242.601210   11470 some_op.cc:364] a real TensorFlow warning",
    "E0000 00:00:1796186242.601210   11470 some_op.cc:364] a real TensorFlow error",
    "Traceback (most recent call last): something native went wrong",
]


def run(body: str) -> subprocess.CompletedProcess:
    code = ("import os, sys, warnings\nfrom calibration.quiet import native_chatter_filtered\n"
            f"CHATTER, REAL = {CHATTER!r}, {REAL!r}\n" + body)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_chatter_lines_are_dropped_and_the_rest_kept_in_order():
    done = run(
        "print('before', file=sys.stderr, flush=True)\n"
        "with native_chatter_filtered():\n"
        "    for c, r in zip(CHATTER, REAL + [''] * 9):\n"
        "        os.write(2, (c + '\\n').encode())\n"
        "        if r: os.write(2, (r + '\\n').encode())\n"
        "    print('python stderr inside', file=sys.stderr)\n"
        "    warnings.warn('Statistics for quantized inputs were expected, but not specified; continuing anyway.')\n"
        "    print('stdout is left alone')\n"
        "print('after', file=sys.stderr)\n")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["before", *REAL, "python stderr inside", "after"]
    assert done.stdout == "stdout is left alone\n"


def test_everything_is_kept_when_the_block_fails():
    done = run(
        "try:\n"
        "    with native_chatter_filtered():\n"
        "        os.write(2, (CHATTER[4] + '\\n').encode())\n"
        "        raise RuntimeError('conversion failed')\n"
        "except RuntimeError as e:\n"
        "    print('caught', e, file=sys.stderr)\n")
    assert done.returncode == 0
    assert done.stderr.splitlines() == [CHATTER[4], "caught conversion failed"]
