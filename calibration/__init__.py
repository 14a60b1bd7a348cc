"""The workstation side: MobileNet V1 builder, int8 conversion, the grid, training (the representative
dataset is collected by ``edgenet.representative``, which runs on the board too).

This package may import TensorFlow; ``edgenet`` (the device side) imports it only lazily.
"""

import os as _os

# TensorFlow's C++ INFO/WARNING lines (oneDNN notices, SavedModel loading, MLIR passes) bury the
# verbs' own output; errors still show. Set before any TensorFlow import; the user's value wins.
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
