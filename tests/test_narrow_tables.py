"""Tables at 80 columns (a Pi's console, a default ssh window) keep every number and every name."""

from __future__ import annotations

import io
from collections import Counter

import pytest

from edgenet.profiler import ProfileConfig, profile
from edgenet.profiler.sustained import SustainedResult
from edgenet.profiler.table import print_profile
from tests.test_profile_session import fake_grid, quiet  # noqa: F401 (fake_grid is a fixture)


def _f(value, fmt=".1f"):
    return "-" if value is None else format(value, fmt)


def expected_cells(report, row) -> list[str]:
    """The row's cells as the profile table prints them, from the report's numbers."""
    m, lat, s = row.measurement, row.measurement and row.measurement.latency, row.sustained
    err = row.prediction_error
    cells = [row.name] + (["*"] if report.is_pick(row) else []) + [
        "int8", str(row.threads), f"{row.entry.mult_adds / 1e6:.0f}", _f(row.accuracy), _f(m and m.fps),
        _f(lat and lat.median_ms, ".2f"), _f(lat and lat.p90_ms, ".2f"), _f(lat and lat.p99_ms, ".2f"),
        _f(lat and lat.std_ms, ".2f"), _f(row.predicted_fps), "-" if err is None else f"{err * 100:+.0f}%",
        str(lat.outliers), _f(m.load_ms), _f(m.first_run_ms, ".2f"), _f(row.e2e["e2e_fps"]),
        _f(s and s.burst_fps), _f(s and s.steady_fps), _f(s and s.temp_max_c)]
    return cells


@pytest.fixture
def widest_report(fake_grid):  # noqa: F811
    """A 16-variant, 2-thread profile with every optional column (end to end and sustained)."""
    folder, _ = fake_grid
    report = profile(ProfileConfig(models=str(folder), threads=(1, 2), target_fps=400.0), log=quiet)
    for i, row in enumerate(report.rows):
        row.e2e = {"e2e_fps": 90.0 + i}
        if i % 3 == 0:
            row.sustained = SustainedResult(60.0, 1000, 400.0 + i, 350.0 + i, [], False, 45.0, 70.0 + i / 10, None)
    return report


def render(report, width) -> str:
    out = io.StringIO()
    print_profile(report, file=out, width=width)
    return out.getvalue()


def test_profile_table_keeps_every_number_at_80_columns(widest_report):
    text = render(widest_report, 80)
    lines = text.splitlines()
    table = [line for line in lines if line.startswith(("mobilenet_v1_", "─", "model "))]
    assert len(table) > 32 and max(len(line) for line in table) <= 80  # (the prose lines below are the terminal's to wrap)
    assert "…" not in text
    parts = [line for line in lines if line.startswith("MobileNet V1 profile")]
    assert len(parts) >= 2 and parts[-1].endswith(f"({len(parts)}/{len(parts)})")
    data = [line.split() for line in lines if line.startswith("mobilenet_v1_")]
    rows = widest_report.rows
    assert len(data) == len(parts) * len(rows)  # every part has every row, in the same order
    for k, row in enumerate(rows):
        got = Counter(token for p in range(len(parts)) for token in data[p * len(rows) + k])
        # the columns that name the row (model, with the pick's star, and threads) repeat in every part
        keys = [row.name, str(row.threads)] + (["*"] if widest_report.is_pick(row) else [])
        want = Counter(expected_cells(widest_report, row)) + Counter({key: len(parts) - 1 for key in keys})
        assert got == want, row.name


def test_profile_table_is_one_table_where_it_fits(widest_report):
    text = render(widest_report, 200)
    assert "(1/" not in text and "┃ model" in text
    data = [line for line in text.splitlines() if "mobilenet_v1_" in line and "│" in line]
    assert len(data) == len(widest_report.rows)
    for line, row in zip(data, widest_report.rows):
        assert line.replace("│", " ").split() == expected_cells(widest_report, row)


def test_info_grid_at_80_columns_keeps_full_names_and_numbers(capsys):
    from edgenet.cli.info import _print_grid
    from edgenet.cost import mobilenet_v1_cost
    from edgenet.variants import standard_variants

    rows = [(v, mobilenet_v1_cost(v.alpha, v.resolution)) for v in standard_variants()]
    _print_grid(rows, width=80)
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    data = [line.split() for line in text.splitlines() if line.startswith("mobilenet_v1_")]
    assert len(data) == 16  # one table
    for cells, (v, c) in zip(data, rows):
        p = v.published
        assert cells == [v.name, f"{v.alpha:.2f}", str(v.resolution), f"{c.mult_adds / 1e6:.1f}",
                         f"{c.params / 1e6:.2f}", str(p.million_macs), f"{p.top1_float:.1f}", f"{p.top1_quant:.1f}"]
    assert "uint8" in text and "int8 " not in text.replace("uint8", "")  # Google's quantized models are uint8


def test_info_layers_at_80_columns_keep_every_number(capsys):
    from edgenet.cli.info import _print_layers
    from edgenet.cost import mobilenet_v1_cost

    cost = mobilenet_v1_cost(1.0, 224)
    _print_layers(cost, mobilenet_v1_cost(1.0, 224, full_convolution=True), width=80)
    text = capsys.readouterr().out
    table = text[:text.index("by layer type")].splitlines()
    assert len(table) > 28 and max(len(line) for line in table) <= 80 and "…" not in text
    tokens = Counter(text.split())
    for layer in cost.layers:
        for cell in (layer.name, f"{layer.mult_adds:,}", f"{layer.params:,}", "x".join(map(str, layer.output_shape))):
            assert tokens[cell] >= 1, cell
        if layer.separable_ratio and layer.type == "pointwise1x1":
            assert tokens[f"{layer.separable_ratio:.3f}"] >= 1
