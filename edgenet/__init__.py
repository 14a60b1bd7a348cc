"""edgenet: MobileNet V1 on the edge.

The ``edgenet`` package is the device side: it runs on the board with numpy, OpenCV and one TFLite
interpreter, and never imports TensorFlow. The workstation side lives in ``calibration`` and ``deploy``.
"""

__version__ = "0.1.0"
