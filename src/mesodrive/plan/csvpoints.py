"""Explicit point lists: ``x_mm,y_mm[,depth_mm,volume_ul,flow_ul_s,speed_mm_s,dwell_s]``.

A header row is required (columns in any order; x_mm and y_mm mandatory). Empty cells take the
plan's defaults (and zones). Blank lines and lines starting with ``#`` are skipped. Points are
injected in file order. Issues name ``points_csv[LINE].COLUMN`` with the file's line number.

Hostile or mistaken input stays cheap and quiet:

* rows are read lazily and reading **stops at the point cap** (`MAX_POINTS`), so a list of a
  million rows is refused after ten thousand;
* a cell longer than `MAX_CELL_CHARS` (128 KiB) is an issue, and reading stops there;
* a file whose first row is not a header naming x_mm and y_mm is "not a point list", and
  nothing of it is shown (the path might name any text file); cells that are shown are clipped;
* numbers are plain ASCII decimals: ``float()`` would also take ``١٢``, ``１２`` and ``1_0``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mesodrive.plan.grid import MAX_POINTS
from mesodrive.plan.issues import PlanIssue

REQUIRED = ("x_mm", "y_mm")
OPTIONAL = ("depth_mm", "volume_ul", "flow_ul_s", "speed_mm_s", "dwell_s")
COLUMNS = REQUIRED + OPTIONAL
MAX_CELL_CHARS = 128 * 1024
_SHOWN_CHARS = 40  # how much of a bad cell or row an issue shows
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


@dataclass(frozen=True)
class CsvPoint:
    line: int
    x_mm: float
    y_mm: float
    params: dict[str, float]  # only the cells that were filled in


class _CellTooLong(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def _clip(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"


def _rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of the rows that count: not blank, not a ``#`` comment."""
    reader = csv.reader(iter(lines))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:  # the csv module's own field limit (the same 128 KiB by default)
            raise _CellTooLong(reader.line_num) from None
        if any(len(c) > MAX_CELL_CHARS for c in row):  # whatever the module's limit is set to
            raise _CellTooLong(reader.line_num)
        if row and any(c.strip() for c in row) and not row[0].lstrip().startswith("#"):
            yield reader.line_num, row


def parse_points_csv(source: str | Iterable[str]) -> tuple[list[CsvPoint], list[PlanIssue]]:
    """Parse CSV text (or its lines); returns the points and every issue found (never raises).
    Stops reading at the point cap or at an over-long cell."""
    lines = io.StringIO(source) if isinstance(source, str) else source
    try:
        return _parse(_rows(lines))
    except _CellTooLong as exc:
        return [], [PlanIssue(f"points_csv[{exc.line}]", "(a very long cell)",
                              "cells of at most 128 KiB",
                              "a cell is longer than 128 KiB: not a point list")]


def _parse(rows: Iterator[tuple[int, list[str]]]) -> tuple[list[CsvPoint], list[PlanIssue]]:
    first = next(rows, None)
    if first is None:
        return [], [PlanIssue("points_csv", "(empty)", "a header and at least one point",
                              "the point list is empty")]
    header_line, header = first
    names = [h.strip() for h in header]
    if not all(name in names for name in REQUIRED):
        # Not a point list at all: show nothing of it (the path may name any text file).
        return [], [PlanIssue(f"points_csv[{header_line}]", "(not shown)",
                              "a header row naming the columns x_mm and y_mm",
                              "not a point list: the first row is not a header with x_mm "
                              "and y_mm columns")]
    issues = _header_issues(header_line, names)
    if issues:
        return [], issues
    points: list[CsvPoint] = []
    for count, (line, row) in enumerate(rows, start=1):
        if count > MAX_POINTS:  # refuse while reading, not after parsing every row
            return [], [PlanIssue("points_csv", f"more than {MAX_POINTS} points",
                                  f"<= {MAX_POINTS}",
                                  f"too many points (stopped reading at line {line})")]
        point = _point(line, names, row, issues)
        if point is not None:
            points.append(point)
    if not points and not issues:
        issues.append(PlanIssue("points_csv", "(header only)", "at least one point",
                                "the point list has no points"))
    return points, issues


def _header_issues(line: int, names: list[str]) -> list[PlanIssue]:
    issues: list[PlanIssue] = []
    unknown = [(col, name) for col, name in enumerate(names) if name not in COLUMNS]
    for col, name in unknown[:5]:
        issues.append(PlanIssue(f"points_csv[{line}]", _clip(name),
                                "columns: " + ", ".join(COLUMNS), f"unknown column {col + 1}"))
    if len(unknown) > 5:
        issues.append(PlanIssue(f"points_csv[{line}]", f"{len(unknown)} unknown columns",
                                "columns: " + ", ".join(COLUMNS), "and more unknown columns"))
    for col, name in enumerate(names):
        if name in COLUMNS and names.index(name) != col:
            issues.append(PlanIssue(f"points_csv[{line}]", name, "each column once",
                                    "duplicate column"))
    return issues


def _point(line: int, names: list[str], row: list[str], issues: list[PlanIssue]) -> CsvPoint | None:
    if len(row) != len(names):
        issues.append(PlanIssue(f"points_csv[{line}]", _clip(",".join(row)),
                                f"{len(names)} cells like the header",
                                f"row has {len(row)} cells"))
        return None
    values: dict[str, float] = {}
    ok = True
    for name, cell in zip(names, row):
        cell = cell.strip()
        if not cell:
            if name in REQUIRED:
                issues.append(PlanIssue(f"points_csv[{line}].{name}", None, "a number",
                                        "required cell is empty"))
                ok = False
            continue
        value = float(cell) if _NUMBER.fullmatch(cell) else None
        if value is None or not math.isfinite(value):  # "1e999" is inf
            issues.append(PlanIssue(f"points_csv[{line}].{name}", _clip(cell),
                                    "a finite number (ASCII digits, e.g. 12.5)", "not a number"))
            ok = False
            continue
        values[name] = value
    if not ok:
        return None
    x, y = values.pop("x_mm"), values.pop("y_mm")
    return CsvPoint(line, x, y, values)
