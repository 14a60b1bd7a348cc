"""Upper bounds on the numbers a user gives, in one place: the CLI's validators (``edgenet.cli.common``)
and the library's own checks (RunConfig, Variant, the interpreter, source options) read them here.

Each refuses what can only be a typo before it overflows a clock or asks numpy, OpenCV or the
interpreter for gigabytes (``--duration 1e300``, ``--resolution 100000``, ``--threads 100000``).
"""

from __future__ import annotations

MAX_SECONDS = 365 * 24 * 3600.0  # durations and timeouts: a year (the loop's clock is in nanoseconds)
MAX_THREADS = 64  # 100000 crashes the interpreter (thread creation fails); no board has more cores
MAX_RESOLUTION = 1024  # model input side: 4.6x the largest published (224)
MAX_CLASSES = 100_000  # classifier outputs: ImageNet-21k has 21,841
MAX_CALIBRATION_BYTES = 4 * 2**30  # calibration samples in memory (float32): 300 at 224 px are 180 MB
MAX_TRAINING_BYTES = 8 * 2**30  # the demo's drawings in memory as training data (float32): 2,000 at 96 px are 220 MB
MAX_BATCH_SIZE = 65_536  # training batch: past this a typo, not a batch (a batch larger than the data is one batch)
MAX_FRAME_SIDE = 8192  # a source's ?width=/?height=: past 8K a frame alone is hundreds of MB
