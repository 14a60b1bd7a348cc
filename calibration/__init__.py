"""The workstation side: MobileNet V1 builder, representative dataset, int8 conversion, training.

This package may import TensorFlow; ``edgenet`` (the device side) imports it only lazily.
"""
