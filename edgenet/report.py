"""Human-readable reports (rich tables) for the run and eval verbs."""

from __future__ import annotations

from typing import IO

from rich.console import Console
from rich.table import Table


def print_run_summary(summary, file: IO[str] | None = None) -> None:
    console = Console(file=file, highlight=False, soft_wrap=True)
    env = summary.environment
    console.print(
        f"[bold]{summary.frames}[/] frames in {summary.seconds:.2f} s from {summary.source}: "
        f"end-to-end [bold]{summary.e2e_fps:.1f} FPS[/], model-only [bold]{summary.model_fps:.1f} FPS[/]"
        + (f", dropped {summary.dropped}" if summary.dropped else "")
        + (f", camera lost {summary.outages}x" if summary.outages else "")
    )
    table = Table(title="per-stage time (ms, first frame excluded)")
    for col in ("stage", "median", "p90", "mean", "n"):
        table.add_column(col, justify="right" if col != "stage" else "left")
    for name, s in summary.stages.items():
        table.add_row(name, f"{s.median_ms:.3f}", f"{s.p90_ms:.3f}", f"{s.mean_ms:.3f}", str(s.count))
    console.print(table)
    console.print(
        f"runtime {env.get('runtime')} {env.get('runtime_version')} | XNNPACK {'on' if env.get('xnnpack') else 'off'} | "
        f"threads {env.get('threads')} | {env.get('cpu')} ({env.get('cores')} cores) | "
        f"Python {env.get('python')}" + (f" | {env['board']}" if env.get("board") else "")
    )
