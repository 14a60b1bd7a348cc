import pytest

from edgenet.errors import UsageError
from edgenet.variants import PUBLISHED, Variant, parse_variant, standard_variants, variant_from_model_name


@pytest.mark.parametrize(
    "alpha, resolution, name",
    [(1.0, 224, "mobilenet_v1_100_224"), (0.75, 192, "mobilenet_v1_075_192"), (0.5, 160, "mobilenet_v1_050_160"),
     (0.25, 128, "mobilenet_v1_025_128"), (0.35, 96, "mobilenet_v1_035_96")],
)
def test_names_round_trip(alpha, resolution, name):
    v = Variant(alpha, resolution)
    assert v.name == name and parse_variant(name) == v


@pytest.mark.parametrize("name", ["mobilenet_v1_050_160.tflite", "models/mobilenet_v1_050_160", "mobilenet_v1_0.5_160",
                                  "MobileNet_v1_050_160", "mobilenet_v1_50_160", ""])
def test_strict_parsing(name):
    with pytest.raises(UsageError, match="not a variant name"):
        parse_variant(name)


@pytest.mark.parametrize(
    "filename, variant",
    [("mobilenet_v1_050_160_int8.tflite", Variant(0.5, 160)), ("mobilenet_v1_0.5_160_quant.tflite", Variant(0.5, 160)),
     ("/models/mobilenet_v1_1.0_224_quant.tflite", Variant(1.0, 224)), ("mobilenet_v1_025_128.tflite", Variant(0.25, 128)),
     ("resnet50.tflite", None), ("my_model.tflite", None)],
)
def test_variant_from_model_file_names(filename, variant):
    assert variant_from_model_name(filename) == variant


@pytest.mark.parametrize("alpha, resolution", [(0.0, 224), (1.5, 224), (0.5, 100), (0.5, 24), (0.333, 224)])
def test_invalid_variants(alpha, resolution):
    with pytest.raises(UsageError):
        Variant(alpha, resolution)


def test_sixteen_standard_variants_with_published_numbers():
    variants = standard_variants()
    assert len(variants) == 16 == len(set(variants))
    assert all(v.is_standard and v.published is not None for v in variants)
    assert Variant(1.0, 224).published.million_macs == 569 and Variant(0.5, 160).published.top1_quant == 57.2
    assert Variant(0.35, 96).published is None
    # the hosted-model table: 8-bit never beats float; quantization costs ~1-3 points, 6.1 at 0.75/128
    gaps = {k: round(p.top1_float - p.top1_quant, 1) for k, p in PUBLISHED.items()}
    assert all(0 <= g <= 3.0 for k, g in gaps.items() if k != (0.75, 128)) and gaps[(0.75, 128)] == 6.1
    assert all(p.top5_quant < p.top5_float and p.top1_quant < p.top5_quant for p in PUBLISHED.values())
