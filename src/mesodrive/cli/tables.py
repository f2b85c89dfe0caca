"""Tables people read in a terminal and programs read through a pipe.

One rule for every table the CLI prints: a rich table only when the output is a terminal and
the table fits its width without breaking a word; otherwise plain aligned lines — figures
right-aligned, columns two spaces apart, the last column ragged, no box characters and no
trailing padding. In a terminal the plain form wraps only its last column, at spaces, under
itself, and a terminal too narrow even for that gets one `name  value` block per row; through
a pipe it never wraps (one record, one line).

A word is never split: a figure, a timestamp or an id is one word, and free text wraps only
between words. Every cell is stored text to the CLI (`cell`): control characters are shown
escaped and rich markup is never read.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

GAP = "  "  # between plain columns
MIN_WRAP = 16  # narrower than this left for the last column: let the terminal wrap it


@dataclass(frozen=True)
class Column:
    name: str
    right: bool = False  # a figure: right-aligned
    free: bool = False  # free text: may wrap between words (rich form); else never wraps
    bold: bool = False  # rich form only (e.g. the keys of a key/value list)


def cell(value: object) -> str:
    """Stored text as shown: control characters escaped, never interpreted."""
    text = "" if value is None else str(value)
    if text.isprintable():  # the common case, in one C call
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


def _longest_word(text: str) -> int:
    return max((len(w) for w in text.split()), default=0)


def rich_width(columns: Sequence[Column], rows: Sequence[Sequence[str]], *,
               header: bool = True) -> int:
    """The narrowest a `rich_table` of these rows can be without breaking a word."""
    widths = []
    for i, col in enumerate(columns):
        cells = [r[i] for r in rows] + ([col.name] if header else [])
        measure = _longest_word if col.free else len
        widths.append(max((measure(c) for c in cells), default=0))
    # SIMPLE_HEAD (and a grid with padding (0, 1)): one space each side of every cell and one
    # between columns; the edges are spaces too.
    return sum(widths) + 2 * len(columns) + (len(columns) - 1) + 2


def rich_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], *,
               title: str | None = None, header: bool = True) -> Table:
    table = Table(title=Text(title) if title else None, box=box.SIMPLE_HEAD if header else None,
                  show_header=header)
    for i, col in enumerate(columns):
        # A free column is never narrower than its longest word: rich wraps it between words.
        shortest = max((_longest_word(r[i]) for r in rows), default=0) if col.free else None
        table.add_column(Text(col.name), justify="right" if col.right else "left",
                         no_wrap=not col.free, overflow="fold", min_width=shortest,
                         style="bold" if col.bold else None)
    for row in rows:
        table.add_row(*(Text(c) for c in row))
    return table


def plain_lines(columns: Sequence[Column], rows: Sequence[Sequence[str]], *,
                header: bool = True, width: int | None = None) -> list[str]:
    """Aligned lines; with `width`, the last column wraps between words under itself."""
    shown = [[c.name for c in columns], *rows] if header else list(rows)
    widths = [max((len(r[i]) for r in shown), default=0) for i in range(len(columns) - 1)]
    lines = []
    for r in shown:
        lead = GAP.join(c.rjust(w) if col.right else c.ljust(w)
                        for c, w, col in zip(r[:-1], widths, columns, strict=False))
        indent = len(lead) + len(GAP) if widths else 0
        last = r[-1]
        room = (width or 0) - indent
        parts = ([last] if width is None or room < MIN_WRAP or len(last) <= room
                 else textwrap.wrap(last, room, break_long_words=False,
                                    break_on_hyphens=False) or [""])
        first = f"{lead}{GAP}{parts[0]}" if widths else parts[0]
        lines.append(first.rstrip())
        lines.extend(" " * indent + p for p in parts[1:])
    return lines


def print_table(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[str]], *,
                title: str | None = None, header: bool = True, plain: bool = False) -> None:
    """Print by the rule above; `plain=True` forces the plain form (e.g. very long tables)."""
    fits = (rich_width(columns, rows, header=header) <= console.width
            and _longest_word(title or "") <= console.width)
    if console.is_terminal and fits and not plain:
        console.print(rich_table(columns, rows, title=title, header=header))
        return
    out = console.file
    if title:
        out.write(f"{title}\n")
    width = console.width if console.is_terminal else None
    lines = plain_lines(columns, rows, header=header, width=width)
    if width is not None and header and max(map(len, lines), default=0) > width:
        lines = stacked_lines(columns, rows, width)  # too narrow even for aligned lines
    for line in lines:
        out.write(f"{line}\n")


def stacked_lines(columns: Sequence[Column], rows: Sequence[Sequence[str]],
                  width: int) -> list[str]:
    """One block per row, one `name  value` line per column, values wrapped between words
    under themselves: readable in any terminal a word fits in."""
    names = [[c.name] for c in columns]
    lines: list[str] = []
    for r in rows:
        if lines:
            lines.append("")
        block = plain_lines([Column("name"), Column("value")],
                            [[n[0], v] for n, v in zip(names, r, strict=True)],
                            header=False, width=width)
        lines.extend(block)
    return lines
