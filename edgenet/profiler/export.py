"""Writing a profile: JSON, CSV and the --out folder (profile.json, profile.csv, pareto.png)."""

from __future__ import annotations

import csv
import io
import json
import os

from edgenet.outputs import check_output_folder, check_output_path
from edgenet.profiler.results import CSV_COLUMNS, ProfileReport


def to_json(report: ProfileReport) -> str:
    return json.dumps(report.as_dict(), indent=2) + "\n"


def to_csv(report: ProfileReport) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report.csv_rows():
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def check_outputs(*, out_dir: str | None = None, json_path: str | None = None, csv_path: str | None = None,
                  plot_path: str | None = None, plot: bool = False) -> None:
    """What ``write_outputs`` will need, checked before any measuring (bad input loses nothing): the
    files' folders exist (``out_dir`` is made), and matplotlib is there when a plot is asked for."""
    for path, option in ((json_path, "--json-file"), (csv_path, "--csv")):
        if path:
            check_output_path(path, option=option)
    if out_dir is not None:
        check_output_folder(out_dir, option="--out")
    if plot or plot_path:
        from edgenet.profiler.plot import check_plot

        check_plot(plot_path)


def _write(path: str, text: str) -> None:
    check_output_path(path)
    with open(path, "w") as f:
        f.write(text)


def write_outputs(report: ProfileReport, *, out_dir: str | None = None, json_path: str | None = None,
                  csv_path: str | None = None, plot_path: str | None = None, plot_in_out_dir: bool = False) -> list[str]:
    """Write whatever was asked for; returns the paths written."""
    written = []
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        json_path = json_path or os.path.join(out_dir, "profile.json")
        csv_path = csv_path or os.path.join(out_dir, "profile.csv")
        if plot_in_out_dir and plot_path is None:
            plot_path = os.path.join(out_dir, "pareto.png")
    if json_path:
        _write(json_path, to_json(report))
        written.append(json_path)
    if csv_path:
        _write(csv_path, to_csv(report))
        written.append(csv_path)
    if plot_path:
        from edgenet.profiler.plot import plot_pareto

        written.append(plot_pareto(report, plot_path))
    return written
