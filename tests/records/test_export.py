"""Exports read back to the recorded data."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesodrive.cli import main
from mesodrive.records import SHOT_STATES, RecordStore, ShotRow
from mesodrive.records.export import read_csv, read_json

from .face_session import face_plan, face_session
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
    assert header[:7] == ["session", "index", "point", "x_mm", "y_mm", "zone", "state"]
    assert "requested.depth_mm" in header and "measured.delivered_ul" in header


def test_store_export_without_places_keeps_the_columns_empty(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    sid, _ = filled_db(path, 2)
    out = io.StringIO()
    with RecordStore(path, readonly=True) as ro:
        ro.export(sid, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))[:-1]
    assert [(r["x_mm"], r["y_mm"], r["zone"]) for r in rows] == [("", "", "")] * 2


@pytest.fixture(scope="module")
def face_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("face") / "r.db"
    face_session(path)
    return path


def _export(db: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["records", "--db", str(db), "export", "1", "--format", fmt]) == 0
    return capsys.readouterr().out


def test_csv_export_places_every_shot_on_the_plan(face_db: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    where = {p.point: p for p in face_plan().points}
    rows = list(csv.DictReader(io.StringIO(_export(face_db, "csv", capsys))))
    shots, trailer = rows[:-1], rows[-1]
    assert trailer["session"] == "# chain head"  # still ends with the head
    assert len(shots) == 99  # points 1-100 but the skipped one; 101-105 never sent
    for r in shots:
        p = where[int(r["point"])]
        assert (float(r["x_mm"]), float(r["y_mm"])) == (p.x_mm, p.y_mm)
        assert r["zone"] == (p.zone or "")
    zones = {r["zone"] for r in shots}
    assert {"forehead", "left cheek", "right cheek", ""} <= zones
    # read_csv still reads the shots back (the new columns are not shot fields)
    assert len(read_csv(io.StringIO(_export(face_db, "csv", capsys)))) == 99


def test_json_export_lists_each_point_with_its_place_zone_and_outcome(
        face_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(_export(face_db, "json", capsys))
    where = {p.point: p for p in face_plan().points}
    points = {e["point"]: e for e in doc["points"]}
    assert sorted(points) == sorted(where)  # every planned point, sent or not
    for n, p in where.items():
        assert (points[n]["x_mm"], points[n]["y_mm"], points[n]["zone"]) == (p.x_mm, p.y_mm,
                                                                             p.zone)
    assert points[40]["outcome"] == "cut short" and points[40]["delivered_ul"] == 12.0
    assert points[60]["outcome"] == "skipped" and points[61]["outcome"] == "uncertain"
    assert points[105]["outcome"] == "not done" and points[105]["shots"] == []
    assert points[1]["outcome"] == "delivered"
    assert list(doc)[-1] == "chain" and doc["chain"]["verified"]  # the head stays last


def test_export_takes_positions_from_the_plan_when_no_point_list_was_stored(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    face_session(db, with_points=False)  # only the plan snapshot: restore_snapshot places them
    doc = json.loads(_export(db, "json", capsys))
    where = {p.point: p for p in face_plan().points}
    # without the stored list the records know only the points shots were sent for
    assert doc["points"] and all((e["x_mm"], e["y_mm"], e["zone"]) == (
        where[e["point"]].x_mm, where[e["point"]].y_mm, where[e["point"]].zone)
        for e in doc["points"])
