"""Sessions read as a stream (issue 13): the streamed header, shots, point outcomes, `show` and
both exports say exactly what the in-memory reading (`RecordStore.session`) says, for any mix of
retries, lost points, uncertain, skipped and cut-short shots; memory does not grow with the
rows; a reader that stops reading (`| head`) ends an export quietly."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from mesodrive.cli import main
from mesodrive.cli.records_show import POINT_COLUMNS, RICH_ROWS, point_cells, print_session
from mesodrive.cli.tables import print_table
from mesodrive.records import RecordStore, point_outcomes
from mesodrive.records.export import write_csv, write_json

from .helpers import PLAN, shot, start

# One shot: its point, the states it goes through, whether later rows lose the point (-1),
# and what the device measured at the end.
_shot = st.tuples(st.integers(1, 12), st.sampled_from(
    [("pending", "accepted", "done"), ("pending",), ("pending", "accepted"),
     ("pending", "accepted", "uncertain"), ("pending", "rejected"), ("pending", "skipped"),
     ("pending", "not_received"), ("pending", "accepted", "cancelled")]),
    st.booleans(), st.sampled_from([None, 0.0, 7.25, 20.0]), st.sampled_from([0, 1, 32]))


def _journal(store: RecordStore, shots: list[Any], *, planned: int, skips: list[int],
             ended: bool) -> int:
    points = [{"point": p, "x_mm": float(p), "y_mm": 0.0, "zone": None, "depth_mm": 2.0,
               "volume_ul": 20.0, "flow_ul_s": 10.0, "speed_mm_s": 20.0, "dwell_s": 0.0}
              for p in range(1, planned + 1)]
    sid = start(store, plan_snapshot={**PLAN, "points": points})
    for index, (point, states, loses_point, delivered, flags) in enumerate(shots):
        for k, state in enumerate(states):
            row = shot(index, state, point=-1 if loses_point and k else point,
                       delivered=delivered)
            if row.measured is not None:
                row = dataclasses.replace(row, measured={**row.measured, "flags": flags})
            store.record_shot(sid, row)
    for p in skips:
        store.record_action(sid, "skip", f"point {p}: occluded", operator="dr-a")
    store.record_alarm(sid, "OCCLUSION", "pressure 250 kPa")
    if ended:
        store.end_session(sid, "completed", {"points_planned": planned})
    store.flush()
    return sid


@settings(max_examples=40, deadline=None)
@given(shots=st.lists(_shot, max_size=25), planned=st.integers(0, 14),
       skips=st.lists(st.integers(1, 14), max_size=3), ended=st.booleans())
def test_the_stream_says_what_the_session_in_memory_says(
        shots: list[Any], planned: int, skips: list[int], ended: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp, RecordStore(Path(tmp) / "r.db") as store:
        sid = _journal(store, shots, planned=planned, skips=skips, ended=ended)
        detail = store.session(sid)
        header = store.session_header(sid)
        for name in ("summary", "plan_snapshot", "product", "device", "calibration",
                     "operator", "end_summary", "alarms", "actions"):
            assert getattr(header, name) == getattr(detail, name), name
        assert [(row, ts) for row, ts in store.shots(sid)] == \
            [(row, detail.shot_times[row.index]) for row in detail.shots]
        assert list(store.point_outcomes(header)) == point_outcomes(detail)
        check = store.verify()
        csv_memory, csv_stream = io.StringIO(), io.StringIO()
        write_csv(detail, csv_memory, check)
        store.export(sid, "csv", csv_stream)
        assert csv_stream.getvalue() == csv_memory.getvalue()
        json_memory, json_stream = io.StringIO(), io.StringIO()
        write_json(detail, store.journal(sid), json_memory, check)
        store.export(sid, "json", json_stream)
        assert json.loads(json_stream.getvalue()) == json.loads(json_memory.getvalue())


def _long_session(path: Path, points: int) -> int:
    with RecordStore(path) as store:
        shots = [(p, ("pending", "accepted", "done"), False, None, 0) for p in range(1, points)]
        shots[3] = (4, ("pending", "accepted", "done"), False, 7.25, 32)  # cut short
        shots[5] = (6, ("pending", "accepted", "uncertain"), True, None, 0)
        return _journal(store, shots, planned=points, skips=[7], ended=True)


@pytest.mark.parametrize("width", [None, 200, 70, 34])
def test_a_long_show_is_the_plain_table_of_all_its_rows(tmp_path: Path,
                                                        width: int | None) -> None:
    """Past RICH_ROWS the rows are printed as they are read; the lines are the ones the table
    rule gives all the rows at once (aligned; wrapped in a narrow terminal; stacked in a
    terminal too narrow for aligned lines)."""
    sid = _long_session(tmp_path / "r.db", RICH_ROWS + 40)

    def console(buf: io.StringIO) -> Console:
        if width is None:
            return Console(file=buf, width=80, color_system=None, highlight=False)
        return Console(file=buf, width=width, force_terminal=True, color_system=None,
                       highlight=False)

    with RecordStore(tmp_path / "r.db", readonly=True) as store:
        header = store.session_header(sid)
        streamed = io.StringIO()
        print_session(console(streamed), header, lambda: store.point_outcomes(header))
        detail = store.session(sid)
    whole = io.StringIO()
    print_table(console(whole), POINT_COLUMNS, [point_cells(o) for o in point_outcomes(detail)],
                title="what happened at each point (mm, µL, kPa)", plain=True)
    lines = streamed.getvalue().splitlines(keepends=True)
    first = lines.index("what happened at each point (mm, µL, kPa)\n")
    end = next(k for k in range(first, len(lines)) if lines[k].strip() == "alarms")
    assert "".join(lines[first:end]) == whole.getvalue()
    assert "cut short: 7.25 of 20 µL (under-delivered)" in " ".join(whole.getvalue().split())


def _export_peak(path: Path, sid: int, fmt: str) -> int:
    with RecordStore(path, readonly=True) as store:
        header = store.session_header(sid)
        store.verify()  # its caches warm, outside the measured part
        out = _Discard()
        tracemalloc.start()
        try:
            store.export(sid, fmt, out, header=header)  # type: ignore[arg-type]
            print_session(Console(file=out, width=80), header,  # type: ignore[arg-type]
                          lambda: store.point_outcomes(header))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


class _Discard(io.StringIO):
    def write(self, s: str) -> int:
        return len(s)


def test_memory_does_not_grow_with_the_rows(tmp_path: Path) -> None:
    """The same 3,000-point plan, 300 vs 3,000 shots given: what an export and `show` hold is
    the plan and one row at a time, not the rows (measured for 1k vs 10k in
    benchmarks/bench_large_session.py)."""
    peaks = {}
    for n in (300, 3000):
        with RecordStore(tmp_path / f"{n}.db") as store:
            sid = _journal(store, [(1 + i, ("pending", "accepted", "done"), False, None, 0)
                                   for i in range(n)], planned=3000, skips=[], ended=True)
        peaks[n] = {fmt: _export_peak(tmp_path / f"{n}.db", sid, fmt) for fmt in ("csv", "json")}
    for fmt in ("csv", "json"):
        assert peaks[3000][fmt] < 1.5 * peaks[300][fmt], peaks


def test_an_export_to_a_reader_that_stops_reading_ends_quietly(tmp_path: Path) -> None:
    sid = _long_session(tmp_path / "r.db", 3000)  # ~1 MB of CSV: more than a pipe holds
    for fmt in ("csv", "json"):
        proc = subprocess.Popen([sys.executable, "-m", "mesodrive", "records", "--db",
                                 str(tmp_path / "r.db"), "export", str(sid), "--format", fmt],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # `| head -1`
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 0 and err == "", err
        assert first.startswith(b"session,index" if fmt == "csv" else b"{")


def test_a_failed_export_leaves_no_file(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        ) -> None:
    sid = _long_session(tmp_path / "r.db", 50)
    import sqlite3

    conn = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("DROP INDEX journal_by_shot")  # it refuses a body that is not JSON
    conn.execute("UPDATE journal SET body = 'not json {' WHERE id = 100")  # a shot row
    conn.close()
    out = tmp_path / "out.csv"
    out.write_text("an older export\n")
    assert main(["records", "--db", str(tmp_path / "r.db"), "export", str(sid), "--format",
                 "csv", "-o", str(out)]) == 1
    assert "journal row 100" in capsys.readouterr().err
    assert out.read_text() == "an older export\n"  # untouched: not cut, not replaced
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_an_export_to_a_file_is_whole(tmp_path: Path) -> None:
    sid = _long_session(tmp_path / "r.db", 400)
    out = tmp_path / "out.csv"
    assert main(["records", "--db", str(tmp_path / "r.db"), "export", str(sid), "--format",
                 "csv", "-o", str(out)]) == 0
    rows = list(csv.reader(out.open(newline="")))
    assert len(rows) == 1 + 399 + 1 and rows[-1][0] == "# chain head"


_item = st.fixed_dictionaries({
    "point": st.integers(-3, 50) | st.booleans() | st.floats(0, 3),
    "x_mm": st.floats(allow_nan=True, allow_infinity=True) | st.integers(-5, 5) | st.none(),
    "y_mm": st.floats(-100, 100), "zone": st.none() | st.text(max_size=3) | st.integers(),
    "depth_mm": st.just(2.0), "volume_ul": st.just(20.0), "flow_ul_s": st.just(10.0),
    "speed_mm_s": st.just(20.0), "dwell_s": st.just(0.0)})


@settings(max_examples=200, deadline=None)
@given(points=st.none() | st.lists(_item | st.dictionaries(st.sampled_from(["point", "x_mm",
                                                                               "extra"]),
                                                              st.integers(0, 3)), max_size=4))
def test_export_places_without_the_plan_package_are_session_plans(
        points: list[dict[str, Any]] | None) -> None:
    from mesodrive.cli.session_places import stored_places
    from mesodrive.cli.session_plan import recorded_plan
    from mesodrive.records import SessionDetail

    snapshot = {} if points is None else {"points": points}
    detail = SessionDetail(summary=None, plan_snapshot=snapshot, product={},  # type: ignore[arg-type]
                           device={}, calibration={}, operator=None, end_summary=None,
                           shots=[], shot_times={})
    light = stored_places(snapshot)
    recorded = recorded_plan(detail, restore=False)
    if light is None:
        assert not recorded.points
    else:
        assert light == recorded.places()


def test_the_light_reader_knows_the_fields_of_a_planned_point() -> None:
    from mesodrive.cli.session_places import POINT_FIELDS
    from mesodrive.plan import PlannedPoint

    assert {f.name for f in dataclasses.fields(PlannedPoint)} == POINT_FIELDS
