"""edgenet: MobileNet V1 on the edge.

The ``edgenet`` package is the device side: it runs on the board with numpy, OpenCV and one TFLite
interpreter, and never imports TensorFlow. The workstation side lives in ``calibration`` and ``deploy``.

The public Python API (``edgenet.api``; imported on first use, so ``import edgenet`` stays cheap)::

    import edgenet

    clf = edgenet.Classifier("mobilenet_v1_050_160", threads=2)  # an index name (pulled once) or a .tflite
    for frame in edgenet.frames("csi://0"):                      # BGR uint8 frames from any source URI
        for label, score in clf.classify(frame, top_k=3):       # or classify(rgb_array, color="rgb")
            print(label, score)
    edgenet.run(source="clip.mp4", max_frames=100, on_result=lambda frame, top: print(top[0]))

``edgenet.model_path(NAME)`` gives the cached .tflite of a model index name (``edgenet models list``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Classifier", "Prediction", "frames", "run", "model_path", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from edgenet.api import Classifier, Prediction, frames, run
    from edgenet.models import model_path


def __getattr__(name: str):
    if name in ("Classifier", "Prediction", "frames", "run"):
        from edgenet import api

        return getattr(api, name)
    if name == "model_path":
        from edgenet.models import model_path

        return model_path
    raise AttributeError(f"module 'edgenet' has no attribute {name!r}")
