import tracemalloc

import cv2
import numpy as np
import pytest

from edgenet.errors import UsageError
from edgenet.preprocess import InputSpec, Preprocessor, central_crop_box, dequantize, preprocess, quantize


@pytest.mark.parametrize(
    "h, w, fraction, aspect, box",
    [
        (100, 100, 1.0, 1.0, (0, 100, 0, 100)),
        (100, 100, 0.5, 1.0, (25, 75, 25, 75)),
        (720, 1280, 1.0, 1.0, (0, 720, 280, 1000)),  # 16:9 into a square: sides go
        (720, 1280, 0.875, 1.0, (45, 675, 325, 955)),
        (1280, 720, 1.0, 1.0, (280, 1000, 0, 720)),  # portrait
        (400, 400, 1.0, 2.0, (100, 300, 0, 400)),  # wide model input
        (375, 500, 0.875, None, (23, 351, 31, 469)),  # TF-slim: each side
    ],
)
def test_central_crop_box(h, w, fraction, aspect, box):
    assert central_crop_box(h, w, fraction, aspect) == box


def test_crop_fraction_validated():
    with pytest.raises(UsageError, match="crop fraction"):
        central_crop_box(10, 10, 0.0)


@pytest.mark.parametrize(
    "dtype, scale, zp",
    [("uint8", 1 / 128, 128), ("int8", 0.0078431, 0), ("int8", 0.02, -5), ("uint8", 0.0078125, 127)],
)
def test_lookup_table_equals_formula(dtype, scale, zp):
    spec = InputSpec(4, 4, 3, dtype, scale, zp)
    # every pixel value 0..255, in a 16x16 grey image, no crop: every pixel maps independently
    ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)
    frame = np.repeat(ramp[:, :, None], 3, axis=2)
    spec_full = InputSpec(16, 16, 3, dtype, scale, zp)
    out = preprocess(frame, spec_full, crop=1.0)
    expected = quantize(ramp.astype(np.float64) / 127.5 - 1.0, scale, zp, dtype)
    assert out.dtype == np.dtype(dtype)
    assert out.shape == (1, 16, 16, 3)
    np.testing.assert_array_equal(out[0, :, :, 0], expected)
    assert spec.shape == (1, 4, 4, 3)


def test_float_input_is_minus_one_to_one():
    frame = np.zeros((8, 8, 3), np.uint8)
    frame[:, :4] = 255
    out = preprocess(frame, InputSpec(8, 8, 3, "float32"), crop=1.0)
    assert out.dtype == np.float32
    assert out.min() == -1.0 and out.max() == 1.0


def test_bgr_becomes_rgb():
    red_bgr = np.zeros((32, 32, 3), np.uint8)
    red_bgr[..., 2] = 255  # OpenCV frames are BGR: channel 2 is red
    out = preprocess(red_bgr, InputSpec(8, 8, 3, "float32"))
    assert np.all(out[..., 0] == 1.0) and np.all(out[..., 2] == -1.0)


def test_crop_happens_before_resize():
    # a white 10% border around a black centre: the 87.5% crop keeps only black pixels
    frame = np.full((200, 200, 3), 255, np.uint8)
    frame[20:180, 20:180] = 0
    out = preprocess(frame, InputSpec(16, 16, 3, "float32"), crop=0.75)
    assert np.all(out == -1.0)
    with_border = preprocess(frame, InputSpec(16, 16, 3, "float32"), crop=1.0)
    assert with_border.max() > 0


def test_grey_model_and_grey_frames():
    frame = np.full((10, 20), 200, np.uint8)
    out_rgb = preprocess(frame, InputSpec(5, 5, 3, "uint8", 1 / 128, 128))
    assert out_rgb.shape == (1, 5, 5, 3)
    bgr = np.full((10, 20, 3), 200, np.uint8)
    out_grey = preprocess(bgr, InputSpec(5, 5, 1, "float32"))
    assert out_grey.shape == (1, 5, 5, 1)
    np.testing.assert_allclose(out_grey, 200 / 127.5 - 1, atol=1e-2)


def test_bad_frames_and_specs():
    with pytest.raises(UsageError):
        preprocess(np.zeros((4, 4, 3), np.float32), InputSpec(2, 2, 3, "float32"))
    with pytest.raises(UsageError, match="channels"):
        InputSpec(2, 2, 4, "float32")
    with pytest.raises(UsageError, match="scale"):
        InputSpec(2, 2, 3, "int8", 0.0, 0)


def test_quantize_dequantize_round_trip():
    values = np.linspace(-1, 1, 101)
    q = quantize(values, 1 / 128, 0, "int8")
    assert q.dtype == np.int8 and q.min() == -128 and q.max() == 127  # 1.0 clips to 127
    np.testing.assert_allclose(dequantize(q, 1 / 128, 0)[:-1], values[:-1], atol=1 / 256 + 1e-6)


def _reference(frame, spec, crop, keep_aspect):
    """The documented steps, written out with fresh arrays: crop, bilinear resize, colour, quantize."""
    h, w = frame.shape[:2]
    y0, y1, x0, x1 = central_crop_box(h, w, crop, spec.width / spec.height if keep_aspect else None)
    img = cv2.resize(frame[y0:y1, x0:x1], (spec.width, spec.height), interpolation=cv2.INTER_LINEAR)
    if img.ndim == 2:
        img = img[:, :, None]
    if spec.channels == 3:
        img = {1: lambda i: np.repeat(i, 3, axis=2), 3: lambda i: i[:, :, ::-1], 4: lambda i: i[:, :, 2::-1]}[img.shape[2]](img)
    elif img.shape[2] != 1:
        img = cv2.cvtColor(np.ascontiguousarray(img[:, :, :3]), cv2.COLOR_BGR2GRAY)[:, :, None]
    real = img.astype(np.float64) / 127.5 - 1.0
    if spec.dtype == "float32":
        return real.astype(np.float32)[None]
    return quantize(real, spec.scale, spec.zero_point, spec.dtype)[None]


@pytest.mark.parametrize("spec", [InputSpec(24, 24, 3, "uint8", 1 / 128, 128), InputSpec(16, 20, 3, "int8", 0.0078431, -1),
                                  InputSpec(12, 12, 3, "float32"), InputSpec(10, 8, 1, "uint8", 1 / 128, 128)])
def test_a_kept_preprocessor_writes_the_same_tensor_in_place(spec):
    # One Preprocessor and one output buffer for frames of changing sizes and channel counts (a folder
    # of photos): every tensor equals the documented steps done afresh, and lands in the given buffer.
    rng = np.random.default_rng(3)
    shapes = [(240, 320, 3), (480, 640, 3), (240, 320, 3), (100, 37), (50, 90, 4), (1, 1, 3), (77, 77, 3)]
    for crop, keep_aspect in [(0.875, True), (1.0, False)]:
        prepare = Preprocessor(spec, crop, keep_aspect)
        out = prepare.new_output()
        for shape in shapes:
            frame = rng.integers(0, 256, shape, dtype=np.uint8)
            got = prepare(frame, out)
            assert got is out
            expected = _reference(frame, spec, crop, keep_aspect)
            assert got.dtype == expected.dtype and got.shape == spec.shape
            np.testing.assert_array_equal(got, expected)
            np.testing.assert_array_equal(preprocess(frame, spec, crop, keep_aspect), expected)


def test_a_kept_preprocessor_allocates_nothing_per_frame():
    spec = InputSpec(64, 64, 3, "uint8", 1 / 128, 128)
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    prepare = Preprocessor(spec)
    out = prepare.new_output()
    prepare(frame, out)  # the first frame makes the buffers

    def peak_during(fn, frames=50):
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(frames):
                fn()
            return tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()

    tensor_bytes = out.nbytes  # 12 KiB
    assert peak_during(lambda: preprocess(frame, spec)) >= tensor_bytes  # tracemalloc does see NumPy/OpenCV arrays
    assert peak_during(lambda: prepare(frame, out)) < tensor_bytes / 4


def test_a_preprocessor_refuses_a_wrong_buffer_and_frame():
    prepare = Preprocessor(InputSpec(8, 8, 3, "int8", 0.01, 0))
    frame = np.zeros((16, 16, 3), np.uint8)
    for bad in (np.zeros((1, 8, 8, 3), np.uint8), np.zeros((1, 8, 8, 1), np.int8), np.zeros((1, 8, 16, 3), np.int8)[:, :, ::2]):
        with pytest.raises(ValueError, match="out must be"):
            prepare(frame, bad)
    with pytest.raises(UsageError, match="channels"):
        prepare(np.zeros((16, 16, 2), np.uint8))
    with pytest.raises(UsageError, match="crop fraction"):
        Preprocessor(InputSpec(8, 8, 3, "float32"), crop=1.5)
