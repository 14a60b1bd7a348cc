"""A download progress bar (rich) on stderr; without a terminal, nothing but the caller's log lines."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from edgenet.models.download import Progress


@contextmanager
def download_bar(label: str) -> Iterator[Progress | None]:
    """Yields a ``progress(done, total)`` callback drawing a bar, or None when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress as RichProgress, TextColumn, TimeRemainingColumn, \
        TransferSpeedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    bar = RichProgress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                       TimeRemainingColumn(), console=console, transient=True)
    task = bar.add_task(label, total=None)

    def update(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update
