"""Exports read back to the recorded data."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mesodrive.records import SHOT_STATES, RecordStore, ShotRow
from mesodrive.records.export import read_csv, read_json

from .helpers import filled_db, start

_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
_profile = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=10)


@st.composite
def _rows(draw: st.DrawFn) -> list[ShotRow]:
    n = draw(st.integers(1, 6))
    rows = []
    for index in range(n):
        measured = draw(st.none() | st.fixed_dictionaries({
            "reached_depth_mm": _floats, "delivered_ul": _floats,
            "start_tick": st.integers(0, 2**63), "end_tick": st.integers(0, 2**63),
            "peak_pressure_kpa": _floats, "flags": st.integers(0, 255)}))
        rows.append(ShotRow(
            index=index, point=draw(st.integers(0, 10_000)),
            state=draw(st.sampled_from(sorted(SHOT_STATES))),
            reason=draw(st.text(max_size=20)),
            requested={k: draw(_floats) for k in
                       ("depth_mm", "volume_ul", "flow_ul_s", "speed_mm_s", "dwell_s")},
            commanded={"depth_um": draw(st.integers(0, 10**6)), "volume_nl": 20_000,
                       "flow_nl_s": 1, "speed_um_s": 2, "dwell_ms": 3,
                       "fire_tick": draw(st.none() | st.integers(0, 2**63)),
                       "profile": draw(_profile)},
            measured=measured, boot_nonce=draw(st.integers(0, 2**32 - 1)),
        ))
    return rows


@settings(max_examples=30)
@given(rows=_rows())
def test_csv_and_json_round_trip_the_shots(rows: list[ShotRow]) -> None:
    with tempfile.TemporaryDirectory() as tmp, RecordStore(Path(tmp) / "r.db") as store:
        sid = start(store)
        for row in rows:
            store.record_shot(sid, row)
        store.flush()
        csv_out, json_out = io.StringIO(), io.StringIO()
        store.export(sid, "csv", csv_out)
        store.export(sid, "json", json_out)
    assert read_csv(io.StringIO(csv_out.getvalue())) == rows
    assert read_json(io.StringIO(json_out.getvalue()))["shots"] == rows


def test_json_export_carries_the_whole_session(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    sid, _rows_written = filled_db(path, 3)
    out = io.StringIO()
    with RecordStore(path, readonly=True) as ro:
        ro.export(sid, "json", out)
        detail = ro.session(sid)
        journal = ro.journal(sid)
    doc = json.loads(out.getvalue())
    assert doc["session"]["id"] == sid and doc["session"]["status"] == "completed"
    assert doc["plan_snapshot"] == detail.plan_snapshot
    assert doc["calibration"] == detail.calibration and doc["device"] == detail.device
    assert [a["code"] for a in doc["alarms"]] == ["OCCLUSION"]
    assert [a["action"] for a in doc["actions"]] == ["skip"]
    assert [e["hash"] for e in doc["journal"]] == [e.hash for e in journal]
    assert all(s["recorded_at"] for s in doc["shots"])


def test_csv_has_one_line_per_shot_with_readable_columns(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    sid, _ = filled_db(path, 4)
    out = io.StringIO()
    with RecordStore(path, readonly=True) as ro:
        ro.export(sid, "csv", out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + 4 + 1  # header, shots, the chain-head trailer
    assert lines[-1].startswith("# chain head,16:")
    header = lines[0].split(",")
    assert header[:4] == ["session", "index", "point", "state"]
    assert "requested.depth_mm" in header and "measured.delivered_ul" in header
