"""`edgenet info`: the cost model, layer by layer, or the 16 standard variants side by side."""

from __future__ import annotations

import argparse
import json
import sys

from edgenet.cli.common import class_count


def register(sub) -> None:
    p = sub.add_parser(
        "info",
        help="mult-adds and parameters of a MobileNet V1 variant (paper Tables 1, 2, 6, 7)",
        description="Layer-by-layer cost of MobileNet V1 at width alpha and an input resolution, or (--grid) "
        "the 16 standard variants with their published ImageNet top-1.",
    )
    p.add_argument("--alpha", type=float, default=1.0, help="width multiplier in (0, 1] (default 1.0)")
    p.add_argument("--resolution", type=int, default=224, help="input size, a multiple of 8, >= 32 (default 224)")
    p.add_argument("--classes", type=class_count, default=1000, help="classifier outputs (default 1000)")
    p.add_argument("--grid", action="store_true", help="the 16 standard variants side by side")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from edgenet.cost import mobilenet_v1_cost
    from edgenet.variants import standard_variants

    if args.grid:
        rows = [(v, mobilenet_v1_cost(v.alpha, v.resolution, args.classes)) for v in standard_variants()]
        if args.json:
            json.dump([_grid_row(v, c) for v, c in rows], sys.stdout, indent=2)
            print()
        else:
            _print_grid(rows)
        return 0
    cost = mobilenet_v1_cost(args.alpha, args.resolution, args.classes)
    full = mobilenet_v1_cost(args.alpha, args.resolution, args.classes, full_convolution=True)
    if args.json:
        data = cost.as_dict()
        data["full_convolution_baseline"] = {"mult_adds": full.mult_adds, "params": full.params}
        data["batchnorm_params"] = cost.batchnorm_params()
        json.dump(data, sys.stdout, indent=2)
        print()
    else:
        _print_layers(cost, full)
    return 0


def _grid_row(v, cost) -> dict:
    pub = v.published
    return {
        "name": v.name, "alpha": v.alpha, "resolution": v.resolution, "mult_adds": cost.mult_adds, "params": cost.params,
        "published": None if pub is None else {"million_macs": pub.million_macs, "top1_float": pub.top1_float,
                                               "top1_quant": pub.top1_quant, "top5_float": pub.top5_float,
                                               "top5_quant": pub.top5_quant},
    }


def _print_grid(rows, width: int | None = None) -> None:
    from edgenet.report import make_console
    from edgenet.tables import Column, print_table

    # The published 8-bit numbers are those of Google's quantization-aware trained .tflite files,
    # whose input and output are uint8 (the reference models), not of an int8 build of ours.
    columns = [Column("variant", justify="left", key=True)] + [
        Column(h) for h in ("alpha", "input", "M mult-adds", "M params", "slim M MACs", "top-1 float", "top-1 uint8")]
    cells = []
    for v, c in rows:
        p = v.published
        cells.append([v.name, f"{v.alpha:.2f}", str(v.resolution), f"{c.mult_adds / 1e6:.1f}", f"{c.params / 1e6:.2f}",
                      str(p.million_macs), f"{p.top1_float:.1f}", f"{p.top1_quant:.1f}"])
    print_table(make_console(width=width), "MobileNet V1 variants: top-1 of the official float and uint8 .tflite files",
                columns, cells)


def _print_layers(cost, full, width: int | None = None) -> None:
    from rich.table import Table

    from edgenet.report import make_console
    from edgenet.tables import Column, print_table

    console = make_console(width=width)
    columns = [Column("layer", justify="left", key=True), Column("type / stride", justify="left"), Column("input"),
               Column("output"), Column("mult-adds"), Column("params"), Column("vs std conv")]
    cells = []
    for layer in cost.layers:
        ratio = f"{layer.separable_ratio:.3f}" if layer.separable_ratio and layer.type == "pointwise1x1" else ""
        cells.append([layer.name, f"{layer.type} /s{layer.stride}", "x".join(map(str, layer.input_shape)),
                      "x".join(map(str, layer.output_shape)), f"{layer.mult_adds:,}", f"{layer.params:,}", ratio])
    print_table(console, f"MobileNet V1 alpha {cost.alpha:g}, {cost.resolution}x{cost.resolution}, {cost.classes} classes",
                columns, cells)
    split = Table(title="by layer type (paper Table 2)")
    for col in ("type", "mult-adds", "params"):
        split.add_column(col, justify="left" if col == "type" else "right")
    for t in ("pointwise1x1", "depthwise3x3", "conv3x3", "fc"):
        ma, pa = cost.share(t)
        split.add_row(t, f"{ma * 100:.2f}%", f"{pa * 100:.2f}%")
    console.print(split)
    console.print(
        f"total: [bold]{cost.mult_adds / 1e6:.1f} M mult-adds[/], [bold]{cost.params / 1e6:.2f} M parameters[/] "
        f"(+{cost.batchnorm_params():,} BatchNorm parameters in Keras)\n"
        f"full-convolution MobileNet (paper Table 4): {full.mult_adds / 1e6:.0f} M mult-adds, {full.params / 1e6:.1f} M "
        f"parameters: depthwise separable costs {cost.mult_adds / full.mult_adds:.3f}x the mult-adds "
        f"and {cost.params / full.params:.3f}x the parameters"
    )
