"""Post-training remedies for int8 depthwise networks (Nagel et al., 2019, "Data-Free Quantization
Through Weight Equalization and Bias Correction"), applied to the builder's Keras MobileNet.

Both work on the network with BatchNorm folded into each conv (:func:`fold_batchnorm`), the form
the converter quantizes:

- **cross-layer equalization** (:func:`equalize`): for each pair of consecutive convs, output
  channel i of the first is divided by ``s_i`` and input channel i of the second multiplied by it,
  with ``s_i = sqrt(r1_i / r2_i)`` (r = the channel's weight range), so both ranges become
  ``sqrt(r1_i * r2_i)``. Depthwise kernels, whose channels span ranges 100x apart, lose least under
  per-tensor scales; with per-channel scales the gain is smaller. It relies on ReLU being positively
  homogeneous, ``relu(x / s) = relu(x) / s``; ReLU6 is not (the paper replaces it with ReLU, and so
  does this: the model must be built with ``activation="relu"``).
- **bias correction** (:func:`correct_bias`): the int8 weights' rounding error ``e = W_q - W`` shifts
  each output channel's mean by ``e @ E[x]``; subtracting that from the bias removes the shift. The
  input means come from the calibration samples through the float model (the paper's empirical
  variant; its data-free variant derives them from BatchNorm statistics, which imported .tflite
  models no longer have). ``W_q`` is simulated as the converter quantizes: symmetric int8, per
  output channel (or per tensor), ``scale = max|W| / 127``.
"""

from __future__ import annotations

import numpy as np

from edgenet.cost import BLOCKS

CONVS = ["conv1"] + [f"conv_{kind}_{i}" for i in range(1, len(BLOCKS) + 1) for kind in ("dw", "pw")] + ["conv_preds"]


def _is_depthwise(name: str) -> bool:
    return name.startswith("conv_dw_")


def _out_axis(name: str) -> int:
    """Output-channel axis of a Keras kernel: (kh, kw, I, O) -> 3; depthwise (kh, kw, C, 1) -> 2."""
    return 2 if _is_depthwise(name) else 3


def fold_batchnorm(model) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{conv name: (kernel, bias)} with each BatchNorm folded in, computed in float32 (an identity
    BatchNorm from :mod:`calibration.tflite_import` folds to exactly the imported values)."""
    folded = {}
    for name in CONVS:
        layer = model.get_layer(name)
        weights = layer.get_weights()
        kernel = weights[0]
        if name == "conv_preds":
            folded[name] = (kernel, weights[1])
            continue
        gamma, beta, mean, var = model.get_layer(f"{name}_bn").get_weights()
        eps = np.float32(model.get_layer(f"{name}_bn").epsilon)
        factor = (gamma / np.sqrt(var + eps)).astype(np.float32)
        shape = [1, 1, 1, 1]
        shape[_out_axis(name)] = -1
        folded[name] = ((kernel * factor.reshape(shape)).astype(np.float32), (beta - mean * factor).astype(np.float32))
    return folded


def write_folded(model, folded: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Put folded (kernel, bias) pairs back, each BatchNorm set to the identity carrying the bias."""
    from calibration.tflite_import import identity_batchnorm

    for name, (kernel, bias) in folded.items():
        layer = model.get_layer(name)
        if name == "conv_preds":
            layer.set_weights([kernel, bias])
        else:
            layer.set_weights([kernel])
            identity_batchnorm(model.get_layer(f"{name}_bn"), bias)


def _ranges(kernel: np.ndarray, axis: int) -> np.ndarray:
    return np.abs(np.moveaxis(kernel, axis, 0).reshape(kernel.shape[axis], -1)).max(1)


def _scale_axis(kernel: np.ndarray, axis: int, s: np.ndarray) -> np.ndarray:
    shape = [1] * kernel.ndim
    shape[axis] = -1
    return (kernel * s.reshape(shape)).astype(np.float32)


def equalize(model, sweeps: int = 20) -> dict:
    """Cross-layer equalization in place (ReLU models only). Returns the mean depthwise
    channel-range spread (max/min over channels) before and after."""
    import keras

    relu6 = [l.name for l in model.layers if isinstance(l, keras.layers.ReLU) and l.max_value is not None]
    if relu6:
        raise ValueError("cross-layer equalization needs ReLU, not ReLU6 (build with activation='relu')")
    folded = fold_batchnorm(model)

    def spread() -> float:
        vals = [_ranges(folded[n][0], 2) for n in CONVS if _is_depthwise(n)]
        return float(np.mean([v.max() / max(v.min(), 1e-12) for v in vals]))

    before = spread()
    for _ in range(sweeps):
        for a, b in zip(CONVS, CONVS[1:]):
            ka, ba = folded[a]
            kb, bb = folded[b]
            r1, r2 = _ranges(ka, _out_axis(a)), _ranges(kb, 2)
            ok = (r1 > 0) & (r2 > 0)
            s = np.ones_like(r1)
            s[ok] = np.sqrt(r1[ok] / r2[ok])
            folded[a] = (_scale_axis(ka, _out_axis(a), 1 / s), (ba / s).astype(np.float32))
            folded[b] = (_scale_axis(kb, 2, s), bb)
    write_folded(model, folded)
    return {"depthwise_range_spread_before": round(before, 2), "depthwise_range_spread_after": round(spread(), 2),
            "sweeps": sweeps}


def quantize_weights(kernel: np.ndarray, axis: int | None) -> np.ndarray:
    """The float values of the converter's int8 weights: symmetric, ``scale = max|W| / 127`` per
    channel along ``axis`` (None: per tensor)."""
    if axis is None:
        r = np.abs(kernel).max()
        s = np.float32(r / 127 if r > 0 else 1.0)
        return (np.clip(np.round(kernel / s), -127, 127) * s).astype(np.float32)
    r = _ranges(kernel, axis)
    s = np.where(r > 0, r / 127, 1.0).astype(np.float32)
    shape = [1] * kernel.ndim
    shape[axis] = -1
    s = s.reshape(shape)
    return (np.clip(np.round(kernel / s), -127, 127) * s).astype(np.float32)


def _mean_outputs(model, names: list[str], samples: np.ndarray, batch_size: int = 16) -> list[np.ndarray]:
    """Per-channel means of convs' pre-activation outputs (after their BatchNorm) over the samples."""
    import keras

    outs = [model.get_layer(n if n == "conv_preds" else f"{n}_bn").output for n in names]
    probe = keras.Model(model.inputs, [keras.layers.GlobalAveragePooling2D(name=f"mean_of_{n}")(o)
                                       for n, o in zip(names, outs)])
    sums = [0.0] * len(names)
    for i in range(0, len(samples), batch_size):
        outs = probe([samples[i:i + batch_size]], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        sums = [s + np.asarray(o, np.float64).sum(0) for s, o in zip(sums, outs)]
    return [s / len(samples) for s in sums]


def correct_bias(model, samples: np.ndarray, per_channel: bool = True, max_samples: int = 64) -> dict:
    """Empirical bias correction in place. The float model's weights are kept (the converter rounds
    them); layer by layer in graph order, each bias is shifted so that a copy with rounded weights
    (and the layers before it already corrected) has the float model's mean pre-activation output in
    every channel. The shift so includes what rounding upstream did to the layer's input; correcting
    every layer at once instead double-counts it and diverges (measured)."""
    import keras

    samples = samples[:max_samples]
    folded = fold_batchnorm(model)
    rounded = keras.models.clone_model(model)
    rounded.set_weights(model.get_weights())
    write_folded(rounded, {n: (quantize_weights(k, _out_axis(n) if per_channel else None), b)
                           for n, (k, b) in folded.items()})
    rounded_folded = fold_batchnorm(rounded)
    reference = dict(zip(CONVS, _mean_outputs(model, CONVS, samples)))
    before, corrected = [], {}
    for name in CONVS:
        shift = _mean_outputs(rounded, [name], samples)[0] - reference[name]
        before.append(float(np.abs(shift).mean()))
        kernel_q, bias = rounded_folded[name]
        corrected[name] = (bias - shift).astype(np.float32)
        write_folded(rounded, {name: (kernel_q, corrected[name])})
    write_folded(model, {n: (folded[n][0], corrected[n]) for n in CONVS})
    return {"samples": int(len(samples)), "mean_shift_before": round(float(np.mean(before)), 5)}
