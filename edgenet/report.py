"""Human-readable reports (rich tables) for the run and eval verbs."""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console
from rich.table import Table


def make_console(file: IO[str] | None = None, width: int | None = None) -> Console:
    """A rich console; when output is not a terminal (a pipe, a log file on a board), tables get
    a fixed generous width instead of rich's 80 columns, so nothing is truncated. ``width`` forces one."""
    stream = file or sys.stdout
    if width is None:
        width = None if stream.isatty() else 160
    return Console(file=file, highlight=False, soft_wrap=True, width=width)


def print_run_summary(summary, file: IO[str] | None = None) -> None:
    console = make_console(file)
    env = summary.environment
    console.print(
        f"[bold]{summary.frames}[/] frames in {summary.seconds:.2f} s from {summary.source}: "
        f"end-to-end [bold]{summary.e2e_fps:.1f} FPS[/], model-only [bold]{summary.model_fps:.1f} FPS[/]"
        + (f", dropped {summary.dropped}" if summary.dropped else "")
        + (f", camera lost {summary.outages}x" if summary.outages else "")
    )
    if summary.frames:
        # A run shorter than a second printed no status line: the labels are here at least once.
        last = ", ".join(f"{t['label']} {t['score']:.2f}" for t in summary.last_top) or "(all below --threshold)"
        console.print(f"last frame: {last}", markup=False)
    table = Table(title="per-stage time (ms, first frame excluded)")
    for col in ("stage", "median", "p90", "mean", "n"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    for name, s in summary.stages.items():
        table.add_row(name, f"{s.median_ms:.3f}", f"{s.p90_ms:.3f}", f"{s.mean_ms:.3f}", str(s.count))
    console.print(table)
    console.print(
        f"runtime {env.get('runtime')} {env.get('runtime_version')} | XNNPACK {'on' if env.get('xnnpack') else 'off'} | "
        + (f"{env['io']} I/O | " if env.get("io") else "")
        + f"threads {env.get('threads')} | {env.get('cpu')} ({env.get('cores')} cores) | "
        f"Python {env.get('python')}" + (f" | {env['board']}" if env.get("board") else "")
    )


def print_eval_report(report, file: IO[str] | None = None, worst: int = 10) -> None:
    console = make_console(file)
    console.print(
        f"[bold]top-1 {report.top1 * 100:.1f}%[/]  top-5 {report.top5 * 100:.1f}%  on {report.count} images "
        f"of {report.dataset} ({report.seconds:.1f} s)"
    )
    if report.unreadable:
        console.print(f"[yellow]{len(report.unreadable)} unreadable image(s) skipped[/]")
    rows = sorted(report.per_class.items(), key=lambda kv: (kv[1]["top1"], kv[1]["top5"]))[:worst]
    if len(report.per_class) > 1 and rows:
        table = Table(title=f"weakest {len(rows)} classes")
        for col in ("class", "images", "top-1", "top-5"):
            table.add_column(col, justify="left" if col == "class" else "right")
        for name, row in rows:
            table.add_row(name, str(row["count"]), f"{row['top1'] * 100:.0f}%", f"{row['top5'] * 100:.0f}%")
        console.print(table)
