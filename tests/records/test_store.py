"""The RecordStore API: sessions, shots, alarms, actions, derived views, errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mesodrive.records import (
    RecordStore,
    ShotRow,
    StoreClosedError,
    UnknownSessionError,
    WriterFailedError,
)

from .helpers import DEVICE, PLAN, PRODUCT, shot, start


def test_session_ids_count_up_and_default_the_device_session(tmp_path: Path) -> None:
    with RecordStore(tmp_path / "r.db") as store:
        a = start(store)
        b = start(store, device_session=0xDEADBEEF)
        assert (a, b) == (1, 2)
        summaries = {s.id: s for s in store.sessions()}
        assert summaries[1].device_session == 1
        assert summaries[2].device_session == 0xDEADBEEF
        with pytest.raises(ValueError, match="u32"):
            start(store, device_session=2**32)


def test_session_detail_holds_everything_recorded(tmp_path: Path) -> None:
    with RecordStore(tmp_path / "r.db") as store:
        sid = start(store)
        store.record_shot(sid, shot(0), sync=True)
        store.record_shot(sid, shot(0, "done", delivered=19.5))
        store.record_shot(sid, shot(1), sync=True)
        store.record_shot(sid, shot(1, "uncertain"))  # counts as delivered: requested volume
        store.record_shot(sid, shot(2), sync=True)
        store.record_shot(sid, shot(2, "rejected"))
        store.record_shot(sid, shot(3, "skipped", point=2))
        store.record_alarm(sid, "OCCLUSION", "250 kPa")
        store.record_action(sid, "skip", "blocked needle", operator="dr-b")
        store.end_session(sid, "aborted", {"reason": "test"})
        d = store.session(sid)
    assert d.plan_snapshot == PLAN and d.product == PRODUCT and d.device == DEVICE
    assert [(r.index, r.state) for r in d.shots] == [
        (0, "done"), (1, "uncertain"), (2, "rejected"), (3, "skipped")]
    assert d.shots[0].measured is not None and d.shots[0].measured["delivered_ul"] == 19.5
    s = d.summary
    assert (s.status, s.points_done, s.points_planned, s.uncertain_shots) == ("aborted", 2, 4, 1)
    assert s.volume_delivered_ul == pytest.approx(39.5)
    assert s.patient_ref == "PT-0042" and s.product_id == "hair-cocktail-a"
    assert [(a.code, a.detail) for a in d.alarms] == [("OCCLUSION", "250 kPa")]
    assert [(a.action, a.reason, a.operator) for a in d.actions] == [
        ("skip", "blocked needle", "dr-b")]
    assert d.end_summary == {"reason": "test"}
    assert s.ended_at is not None and s.started_at < s.ended_at


def test_sessions_list_agrees_with_session_detail(tmp_path: Path) -> None:
    with RecordStore(tmp_path / "r.db") as store:
        for n in range(3):
            sid = start(store)
            for i in range(n + 2):
                store.record_shot(sid, shot(i, "done", delivered=10.0 + i))
            if n != 1:
                store.end_session(sid, "completed", {})
        store.flush()
        listed = store.sessions()
        assert listed == [store.session(s.id).summary for s in listed]
        assert [s.status for s in listed] == ["completed", "open", "completed"]


def test_latest_shots_for_resume(tmp_path: Path) -> None:
    with RecordStore(tmp_path / "r.db") as store:
        sid = start(store)
        other = start(store)
        store.record_shot(sid, shot(0), sync=True)
        store.record_shot(other, shot(0, "done"))
        store.record_shot(sid, shot(1), sync=True)
        store.record_shot(sid, shot(0, "done"))
        store.flush()
        latest = store.latest_shots(sid)
        assert {i: r.state for i, r in latest.items()} == {0: "done", 1: "pending"}
        assert latest[0] == shot(0, "done")
        assert store.latest_shots(other) == {0: shot(0, "done")}


def test_timestamps_are_utc_iso_with_microseconds(tmp_path: Path) -> None:
    with RecordStore(tmp_path / "r.db") as store:
        start(store)
        entries = store.journal()
    assert entries[0].ts.endswith("+00:00") and len(entries[0].ts.split(".")[1]) == 12


def test_errors_surface_in_the_caller(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "r.db")
    sid = start(store)
    with pytest.raises(UnknownSessionError, match="no session 99"):
        store.record_shot(99, shot(0))
    with pytest.raises(UnknownSessionError):
        store.session(99)
    with pytest.raises(UnknownSessionError):
        store.latest_shots(99)
    with pytest.raises(ValueError, match="unknown shot state"):
        shot(0, "exploded")
    bad = ShotRow(0, 0, "done", "", {"depth_mm": float("nan")}, {}, None, 1)
    with pytest.raises(ValueError, match="requested.depth_mm"):
        store.record_shot(sid, bad)
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreClosedError):
        store.record_alarm(sid, "X", "after close")


def test_readonly_store_never_creates_or_writes(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        RecordStore(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()
    RecordStore(tmp_path / "r.db").close()
    with RecordStore(tmp_path / "r.db", readonly=True) as ro:
        assert ro.sessions() == [] and ro.verify().ok
        with pytest.raises(StoreClosedError):
            start(ro)


def test_journal_is_append_only_for_casual_edits(tmp_path: Path) -> None:
    with RecordStore(tmp_path / "r.db") as store:
        start(store)
    conn = sqlite3.connect(tmp_path / "r.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE journal SET kind = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM journal")
    conn.close()


def test_a_failed_commit_is_reported_to_every_later_caller(tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "r.db")
    sid = start(store)
    raw = sqlite3.connect(tmp_path / "r.db")
    raw.execute("DROP TABLE chain_head")  # the store can no longer chain: it must not pretend
    raw.commit()
    raw.close()
    with pytest.raises(WriterFailedError):
        store.record_shot(sid, shot(0), sync=True)  # the driver would not send this shot
    with pytest.raises(WriterFailedError):
        store.record_shot(sid, shot(1))
    with pytest.raises(WriterFailedError):
        store.close()


def test_default_path_is_in_the_user_data_dir(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    path = RecordStore.default_path()
    assert path.name == "records.db" and "mesodrive" in path.parts
    with RecordStore() as store:  # creates the parents
        start(store)
    assert path.exists()


def test_two_stores_in_one_process_share_one_chain(tmp_path: Path) -> None:
    a, b = RecordStore(tmp_path / "r.db"), RecordStore(tmp_path / "r.db")
    sa, sb = start(a), start(b)
    assert sa != sb
    for i in range(20):
        a.record_shot(sa, shot(i))
        b.record_shot(sb, shot(i), sync=i % 3 == 0)
    a.close()
    b.close()
    with RecordStore(tmp_path / "r.db", readonly=True) as ro:
        result = ro.verify()
        assert result.ok and result.rows_checked == 42, result
        assert len(ro.latest_shots(sa)) == len(ro.latest_shots(sb)) == 20


def test_summary_reads_the_controllers_snapshot_layout(tmp_path: Path) -> None:
    """The run engine nests the validated plan: {"plan": {"plan": {"patient_ref": ...}},
    "points": [...]}; its end summary counts points as an int."""
    snapshot = {"plan": {"format": 1, "plan": {"patient_ref": "PT-7"}}, "points": [{}] * 5,
                "source": "face.toml"}
    with RecordStore(tmp_path / "r.db") as store:
        sid = start(store, plan_snapshot=snapshot)
        other = start(store, plan_snapshot={"plan": {}})
        store.end_session(other, "completed", {"points": 7})
        d = store.session(sid)
        assert (d.summary.patient_ref, d.summary.points_planned) == ("PT-7", 5)
        assert (d.id, d.status, d.plan_hash, d.mode) == (sid, "open", "f" * 64, "auto")
        assert store.session(other).summary.points_planned == 7
