"""Tables that keep every number at any terminal width.

Rich fits a table that is too wide by shrinking its columns, and numbers shrink to "…" or to
nothing: at 80 columns (a Pi's console, a default ssh window) the profile table showed no number at
all. Here a table that does not fit is first drawn compactly (no vertical rules, headers over two
lines), and if it still does not fit it is split into parts: each part repeats the columns that
name a row (``key``) and takes as many of the others as fit, in order. Cells never wrap or
truncate; a cell wider than the whole terminal folds rather than lose characters.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Column:
    header: str
    justify: str = "right"
    key: bool = False  # names the row: repeated in every part when the table is split


def _table(title: str | None, columns: list[tuple[int, Column]], rows: list[list[str]],
           styles: list[str | None], compact: bool) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD, padding=(0, 1),
                  show_edge=not compact, pad_edge=not compact, collapse_padding=compact)
    for _, col in columns:
        header = _two_lines(col.header) if compact else col.header
        table.add_column(header, justify=col.justify, no_wrap=True, overflow="fold")
    for row, style in zip(rows, styles):
        table.add_row(*(row[i] for i, _ in columns), style=style)
    return table


def _two_lines(header: str) -> str:
    """The header broken at the space that leaves the shorter longest line ("median ms" -> "median\\nms")."""
    spaces = [i for i, ch in enumerate(header) if ch == " "]
    if not spaces:
        return header
    at = min(spaces, key=lambda i: max(i, len(header) - i - 1))
    return header[:at] + "\n" + header[at + 1:]


def _fits(console: Console, table: Table) -> bool:
    # Measured without the console's limit (rich clamps a measurement to the width it may use).
    natural = console.measure(table, options=console.options.update(max_width=100_000)).maximum
    return natural <= console.width


def fitted_tables(console: Console, title: str | None, columns: list[Column], rows: list[list[str]],
                  styles: list[str | None] | None = None) -> list[Table]:
    """The table as one rich Table when it fits ``console.width``, else compact, else in parts."""
    styles = styles if styles is not None else [None] * len(rows)
    indexed = list(enumerate(columns))
    for compact in (False, True):
        whole = _table(title, indexed, rows, styles, compact)
        if _fits(console, whole):
            return [whole]
    keys = [(i, c) for i, c in indexed if c.key]
    groups: list[list[tuple[int, Column]]] = [[]]
    for item in (ic for ic in indexed if not ic[1].key):
        trial = groups[-1] + [item]
        if groups[-1] and not _fits(console, _table(title, _in_order(keys + trial), rows, styles, True)):
            groups.append([item])
        else:
            groups[-1] = trial
    n = len(groups)
    return [_table(f"{title} ({k}/{n})" if title else None, _in_order(keys + g), rows, styles, True)
            for k, g in enumerate(groups, start=1)]


def _in_order(columns: list[tuple[int, Column]]) -> list[tuple[int, Column]]:
    return sorted(columns, key=lambda ic: ic[0])


def print_table(console: Console, title: str | None, columns: list[Column], rows: list[list[str]],
                styles: list[str | None] | None = None) -> None:
    for table in fitted_tables(console, title, columns, rows, styles):
        console.print(table)
