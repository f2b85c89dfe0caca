"""`records show`: a session's header, what happened at each point, alarms and operator actions,
for a session of any length.

The points are read once as a stream (`RecordStore.point_outcomes`): that pass counts the
outcomes (the header says them) and measures the columns; beyond `RICH_ROWS` the rows wait in
a temporary file, not in memory, and are printed from it after the header. Up to `RICH_ROWS`
points the rows are kept in memory and printed by the rule of `cli.tables` (a rich table in a terminal that fits it); a longer table is always plain
aligned lines — exactly the lines `tables.plain_lines` would give for all the rows at once,
with the last column wrapped in a terminal, or one block per point where even that is too
narrow.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any

from rich.console import Console

from mesodrive.cli.tables import (
    GAP,
    MIN_WRAP,
    Column,
    cell,
    plain_lines,
    print_table,
    stacked_lines,
)
from mesodrive.records import PointOutcome, SessionView

# Between a spooled row's cells: cells are shown text (`tables.cell`: control characters
# escaped) and figures, so neither this nor a line break can be inside one.
_SEP = "\x1f"
RICH_ROWS = 300  # beyond this a rich table costs seconds; plain aligned lines cost nothing
TITLE = "what happened at each point (mm, µL, kPa)"

_t = cell  # stored text as shown: control characters escaped, never markup

# Figures never wrap; the outcome in words is last and wraps between words.
POINT_COLUMNS = [Column(name, right=True) for name in
                 ["point", "depth", "reached", "planned", "given", "peak", "shot"]] + \
    [Column("outcome", free=True)]


class _Measure:
    """The one pass over the points: outcome counts, column widths, the last column's longest
    text and word, and the rows themselves — in memory while there are at most RICH_ROWS, then
    spooled to a temporary file (one JSON line each), so that a long session is read and
    judged once and printed from the spool in constant memory."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self.count = 0
        self.counts: dict[str, int] = {}
        self.widths = [len(c.name) for c in columns[:-1]]
        self.last_len = self.last_word = len(columns[-1].name)
        self.rows: list[list[str]] = []
        self.spool: IO[str] | None = None

    def add(self, outcome: str, cells: list[str]) -> None:
        self.count += 1
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        self.widths = [max(w, len(c)) for w, c in zip(self.widths, cells, strict=False)]
        self.last_len = max(self.last_len, len(cells[-1]))
        self.last_word = max(self.last_word, *(len(w) for w in cells[-1].split()), 0)
        if self.spool is not None:
            self.spool.write(_SEP.join(cells) + "\n")
        elif self.count <= RICH_ROWS:
            self.rows.append(cells)
        else:
            # closed by `spooled`, once the header is printed (deleted by the OS in any case)
            self.spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
            self.spool.writelines(_SEP.join(row) + "\n" for row in [*self.rows, cells])
            self.rows.clear()

    def spooled(self) -> Iterator[list[str]]:
        """The rows of a long session, back from the spool (which is then closed)."""
        assert self.spool is not None
        with self.spool as spool:
            spool.seek(0)
            for line in spool:
                yield line[:-1].split(_SEP)


def print_session(console: Console, s: SessionView,
                  outcomes: Callable[[], Iterable[PointOutcome]],
                  before_output: Callable[[], None] = lambda: None) -> None:
    """`s`: a `SessionHeader` or `SessionDetail`; `outcomes()` streams its point outcomes;
    `before_output()` runs once they are read, before anything is printed."""
    summary = s.summary
    measure = _Measure(POINT_COLUMNS)
    for o in outcomes():
        measure.add(o.outcome, point_cells(o))
    before_output()
    planned = "?" if summary.points_planned is None else str(summary.points_planned)
    header = [
        ("session", f"{summary.id} (device session {summary.device_session})"),
        ("status", summary.status), ("started", summary.started_at),
        ("ended", summary.ended_at or "-"), ("patient", summary.patient_ref or "-"),
        ("product", summary.product_id or "-"), ("mode", summary.mode),
        ("operator", s.operator or "-"), ("plan hash", summary.plan_hash),
        ("device", ", ".join(f"{k}={v}" for k, v in s.device.items()) or "-"),
        ("profile", session_calibration(s.calibration, s.shot_profiles)),
        ("points", f"{summary.points_done}/{planned} given: "
                   + (" · ".join(f"{n} {word}" for word, n in measure.counts.items())
                      or "none")),
        ("volume", f"{summary.volume_delivered_ul:.2f} µL delivered"),
        ("uncertain", f"{summary.uncertain_shots} (counted as delivered)"),
    ]
    print_table(console, [Column("", bold=True), Column("", free=True)],
                [[_t(k), _t(v)] for k, v in header], header=False)
    if measure.count <= RICH_ROWS:
        print_table(console, POINT_COLUMNS, measure.rows, title=TITLE)
    else:  # a long session: plain lines whatever the output (a rich table costs seconds)
        _stream_plain(console, measure, measure.spooled())
    alarms, actions = s.alarms, s.actions
    if alarms:
        print_table(console, [Column("time"), Column("code"), Column("detail", free=True)],
                    [[_t(when(a.ts)), _t(a.code), _t(a.detail)] for a in alarms],
                    title="alarms")
    if actions:
        print_table(console, [Column("time"), Column("action"), Column("operator"),
                              Column("reason", free=True)],
                    [[_t(when(a.ts)), _t(a.action), _t(a.operator), _t(a.reason)]
                     for a in actions], title="operator actions")


def _stream_plain(console: Console, measure: _Measure, rows: Iterable[list[str]]) -> None:
    """The plain form of `tables.print_table` for rows that are not all in memory: a row of
    the widest cells makes `plain_lines` align each row as it would align all of them."""
    out = console.file
    out.write(f"{TITLE}\n")
    width = console.width if console.is_terminal else None
    widest = ["x" * w for w in measure.widths] + [""]
    indent = sum(measure.widths) + len(GAP) * len(measure.widths)
    room = (width or 0) - indent
    too_narrow = width is not None and (measure.last_len > room if room < MIN_WRAP
                                        else measure.last_word > room)
    if too_narrow:
        assert width is not None
        for k, row in enumerate(rows):
            out.writelines(f"{line}\n" for line in ([""] if k else [])
                           + stacked_lines(POINT_COLUMNS, [row], width))
        return
    out.write(plain_lines(POINT_COLUMNS, [widest], width=width)[0] + "\n")
    if width is None:  # nothing wraps: each line is its cells padded to the widths measured
        pad = [str.rjust if c.right else str.ljust for c in POINT_COLUMNS[:-1]]
        for row in rows:
            lead = GAP.join(p(c, w) for p, c, w in zip(pad, row, measure.widths, strict=False))
            out.write(f"{lead}{GAP}{row[-1]}".rstrip() + "\n")
        return
    for row in rows:
        out.writelines(f"{line}\n" for line in
                       plain_lines(POINT_COLUMNS, [widest, row], header=False, width=width)[1:])


def point_cells(o: PointOutcome) -> list[str]:
    return [str(o.point), num(o.depth_mm), num(o.reached_mm), num(o.planned_ul),
            num(o.delivered_ul), num(o.peak_kpa), ", ".join(map(str, o.shots)) or "-",
            _t(o.text)]


def when(ts: str) -> str:
    return ts.replace("T", " ")[:16]  # to the minute: the full stamp is in show/export


def num(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def session_calibration(calibration: dict[str, Any], counts: dict[str, int]) -> str:
    """What `records show` says about a session's calibration: the profile it started with (or
    none, and why) and which profiles its shots were given with."""
    pid = calibration.get("profile_id")
    if pid is not None:
        text = (f"profile {pid} ({calibration.get('profile', '?')}), certificate "
                f"{calibration.get('certificate_id') or '-'}, valid through "
                f"{calibration.get('expires') or '-'}")
    else:
        text = f"{calibration.get('profile', 'identity')} (no stored profile)"
        if calibration.get("override"):
            text += f" — technician's override: {calibration['override']}"
    if counts:
        text += " · shots by profile: " + ", ".join(f"{k} ×{n}" for k, n in counts.items())
    return text
