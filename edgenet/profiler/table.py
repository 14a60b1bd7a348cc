"""The profile as a rich table, with the manifest line and the one-line explanation of the pick."""

from __future__ import annotations

from typing import IO

from edgenet.profiler.results import ProfileReport
from edgenet.report import make_console
from edgenet.tables import Column, print_table


def _f(value, fmt: str = ".1f", none: str = "-") -> str:
    return none if value is None else format(value, fmt)


def print_profile(report: ProfileReport, file: IO[str] | None = None, width: int | None = None) -> None:
    # Wide enough for every column when piped to a file (rich would assume 80 columns); on a narrow
    # terminal the table is drawn compact or in parts so that no number is lost (edgenet.tables).
    console = make_console(file, width)
    sustained = any(r.sustained for r in report.rows)
    e2e = any(r.e2e for r in report.rows)
    # Accuracy and FPS first: on a narrow terminal the first part holds what the pick is made of.
    names = ["model", "prec", "thr", "MMACs", "top-1 %", "FPS", "median ms", "p90 ms", "p99 ms", "std",
             "pred FPS", "pred err", "out", "load ms", "1st ms"]
    if e2e:
        names.append("e2e FPS")
    if sustained:
        names += ["burst FPS", "steady FPS", "max °C"]
    columns = [Column(n, justify="left" if n == "model" else "right", key=n in ("model", "thr")) for n in names]
    rows, styles = [], []
    for row in report.rows:
        m = row.measurement
        lat = m.latency if m else None
        name = row.name + (" *" if report.is_pick(row) else "")
        acc = _f(row.accuracy) + ("" if row.accuracy_source is None or row.accuracy_source.startswith("published") else " (eval)")
        cells = [
            name, row.entry.shown_precision, str(row.threads),
            _f(row.entry.mult_adds / 1e6 if row.entry.mult_adds else None, ".0f"), acc, _f(m and m.fps),
            _f(lat and lat.median_ms, ".2f"), _f(lat and lat.p90_ms, ".2f"), _f(lat and lat.p99_ms, ".2f"),
            _f(lat and lat.std_ms, ".2f"), _f(row.predicted_fps),
            _f(row.prediction_error * 100 if row.prediction_error is not None else None, "+.0f") + ("%" if row.prediction_error is not None else ""),
            _f(lat and lat.outliers, "d"), _f(m and m.load_ms), _f(m and m.first_run_ms, ".2f"),
        ]
        if e2e:
            cells.append(_f(row.e2e and row.e2e["e2e_fps"]))
        if sustained:
            s = row.sustained
            cells += [_f(s and s.burst_fps), _f(s and s.steady_fps), _f(s and s.temp_max_c)]
        rows.append(cells)
        styles.append("bold green" if report.is_pick(row) else ("dim" if m is None else None))
    print_table(console, "MobileNet V1 profile (latency of invoke, outliers removed)", columns, rows, styles)
    for pair in report.precision_pairs():
        q = "uint8" if pair.get("int8_io") == "uint8" else "int8"
        console.print(f"{q} vs float32, {pair['int8_model']} @ {pair['threads']} thread(s): "
                      f"{pair['int8_fps']:.1f} vs {pair['float32_fps']:.1f} FPS ({q} x{pair['int8_speedup']:.2f})")
    env = report.environment
    if env:
        console.print(
            f"{env.get('board') or env.get('cpu')} | {env.get('os')} | Python {env.get('python')} | "
            f"{env.get('runtime')} {env.get('runtime_version')} | XNNPACK {'on' if env.get('xnnpack') else 'off'} | "
            f"governor {env.get('cpu_governor') or '?'} | {env.get('memory_mb', {}).get('total', '?')} MB"
        )
    for note in report.notes:
        console.print(f"note: {note}")
    if report.choice is not None:
        colour = "green" if report.choice.meets_target else "yellow"
        console.print(f"[bold {colour}]{report.choice.explanation}[/]")
    console.print(f"profiled in {report.wall_seconds:.1f} s")
