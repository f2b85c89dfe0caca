"""Calibration profiles in the records journal: stored whole, found by device and needle type,
the newest unexpired one chosen, covered by the hash chain, and a damaged row named."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesodrive.records import (
    DamagedRecordsError,
    RecordStore,
    ShotRow,
    StoredProfile,
    UnknownProfileError,
    select_profile,
)
from mesodrive.records.chain import row_hash
from mesodrive.records.export import read_csv
from tests.records.helpers import shot, start
from tests.records.profile_helpers import TODAY, new_profile, store_profile


def test_a_profile_is_stored_whole_and_read_back(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    made = new_profile("INJ-0042", needle="32G/5mL")
    pid = store_profile(db, made)
    with RecordStore(db, readonly=True) as store:
        got = store.stored_profile(pid)
        assert store.profiles("INJ-0042") == [got] and store.profiles("SIM-0001") == []
        assert store.sessions() == []  # a profile is no treatment session
        assert store.verify().ok
    assert (got.device_serial, got.needle, got.technician) == ("INJ-0042", "32G/5mL", "QA Bench")
    assert (got.certificate_id, got.expires, got.corrections) == (
        made.certificate_id, made.expires, made.corrections)
    assert got.certificate["certificate_id"] == made.certificate_id
    assert dt.datetime.fromisoformat(got.created).date() == TODAY


def test_profile_rows_do_not_disturb_session_ids(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store_profile(db)
    with RecordStore(db) as store:
        assert start(store) == 1  # session ids come from session rows only
        store.record_shot(1, shot(0), sync=True)
        assert store.record_profile(new_profile()) == 4  # its journal row id
        assert start(store) == 2
        assert store.verify().ok


def test_an_altered_profile_row_fails_verification(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store_profile(db)
    pid = store_profile(db)
    with RecordStore(db) as store:
        start(store)
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER journal_no_update")  # what a tamperer would do first
    body = json.loads(conn.execute("SELECT body FROM journal WHERE id = ?", (pid,)).fetchone()[0])
    body["corrections"]["volume_gain"] = 1.2  # 20 % more volume on every shot
    conn.execute("UPDATE journal SET body = ? WHERE id = ?", (json.dumps(body), pid))
    conn.commit()
    conn.close()
    with RecordStore(db, readonly=True) as store:
        result = store.verify()
    assert not result.ok and result.first_bad_row == pid
    assert f"row {pid} altered" in result.problem


def test_a_profile_row_moved_into_a_session_is_named(tmp_path: Path) -> None:
    # Rewritten with its hash recomputed: only the walk's own rules can see it.
    db = tmp_path / "r.db"
    with RecordStore(db) as store:
        start(store)
    pid = store_profile(db)
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER journal_no_update")
    ts, kind, body, prev = conn.execute("SELECT ts, kind, body, prev_hash FROM journal WHERE "
                                        "id = ?", (pid,)).fetchone()
    digest = row_hash(prev, pid, ts, 1, kind, body)
    conn.execute("UPDATE journal SET session = 1, hash = ? WHERE id = ?", (digest, pid))
    conn.execute("UPDATE chain_head SET last_hash = ?", (digest,))
    conn.commit()
    conn.close()
    with RecordStore(db, readonly=True) as store:
        result = store.verify()
    assert not result.ok and result.first_bad_row == pid
    assert "calibration profile row with session 1" in result.problem


def test_a_damaged_profile_body_is_named_never_guessed(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    pid = store_profile(db)
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER journal_no_update")
    body = json.loads(conn.execute("SELECT body FROM journal WHERE id = ?", (pid,)).fetchone()[0])
    del body["corrections"]["depth_scale"]
    conn.execute("UPDATE journal SET body = ? WHERE id = ?", (json.dumps(body), pid))
    conn.commit()
    conn.close()
    with RecordStore(db, readonly=True) as store, pytest.raises(DamagedRecordsError) as exc:
        store.profile_lookup("SIM-0001", "standard")
    assert f"journal row {pid} is not a calibration profile" in str(exc.value)
    assert "depth_scale" in str(exc.value)


def test_an_unknown_profile_id(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store_profile(db)
    with RecordStore(db) as store:
        sid = start(store)
        with pytest.raises(UnknownProfileError, match="no calibration profile 2"):
            store.stored_profile(2)  # row 2 is a session start, not a profile
        with pytest.raises(UnknownProfileError):
            store.stored_profile(0)
    assert sid == 1


@pytest.mark.parametrize(("field", "value"), [("technician", " "), ("device_serial", ""),
                                              ("calibration", "pressure")])
def test_a_profile_missing_what_makes_it_traceable_is_refused(field: str, value: str) -> None:
    good = new_profile()
    with pytest.raises(ValueError, match=field):
        type(good)(**{**good.__dict__, field: value})


def test_a_non_finite_correction_is_refused() -> None:
    good = new_profile()
    with pytest.raises(ValueError, match="volume_gain"):
        type(good)(**{**good.__dict__,
                      "corrections": {**good.corrections, "volume_gain": float("nan")}})


def _stored(pid: int, serial: str, needle: str, expires: dt.date) -> StoredProfile:
    return StoredProfile(id=pid, created="2026-01-01T00:00:00+00:00", device_serial=serial,
                         needle=needle, technician="T", certificate_id=f"CAL-{pid}",
                         expires=expires, calibration="dose", name=f"p{pid}",
                         corrections={}, based_on=None, certificate={})


profiles_st = st.lists(
    st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["standard", "32G"]),
              st.integers(-5, 5)), max_size=12)


@given(profiles_st, st.sampled_from(["A", "B", "C"]), st.sampled_from(["standard", "32G"]))
def test_the_newest_unexpired_profile_of_the_device_and_needle_is_chosen(
        specs: list[tuple[str, str, int]], serial: str, needle: str) -> None:
    today = dt.date(2026, 6, 1)
    profiles = [_stored(i + 1, s, n, today + dt.timedelta(days=d))
                for i, (s, n, d) in enumerate(specs)]
    lookup = select_profile(profiles, serial, needle, today)
    mine = [p for p in profiles if (p.device_serial, p.needle) == (serial, needle)]
    valid = [p for p in mine if p.expires >= today]  # valid through its expiry day
    assert lookup.active == (max(valid, key=lambda p: p.id) if valid else None)
    if lookup.expired is not None:
        assert lookup.expired in mine and lookup.expired.expires < today
        assert lookup.active is None or lookup.expired.id > lookup.active.id
    newer_expired = [p for p in mine if p.expires < today
                     and (lookup.active is None or p.id > lookup.active.id)]
    assert (lookup.expired is None) == (not newer_expired)


def test_a_shot_row_keeps_its_profile_id_in_body_and_exports(tmp_path: Path) -> None:
    row = ShotRow(**{**shot(0).__dict__, "profile_id": 7})
    assert ShotRow.from_body(row.to_body()) == row
    legacy = {k: v for k, v in shot(1).to_body().items() if k != "profile_id"}
    assert ShotRow.from_body(legacy).profile_id is None  # rows written before profiles
    db = tmp_path / "r.db"
    with RecordStore(db) as store:
        sid = start(store)
        store.record_shot(sid, row, sync=True)
        store.record_shot(sid, shot(1), sync=True)
        out = io.StringIO()
        store.export(sid, "csv", out)
        assert store.session(sid).shots[0].profile_id == 7
    back = read_csv(io.StringIO(out.getvalue()))
    assert [r.profile_id for r in back] == [7, None]
