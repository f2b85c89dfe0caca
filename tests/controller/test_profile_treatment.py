"""The treatment service applies the newest valid calibration profile of the connected device:
every shot row names it and commands the corrected values; an expired profile is not applied;
a real device without one is refused unless a technician overrides (recorded); the simulator
only warns. Time-warped simulator (10×), real SQLite."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesodrive.controller.states import RunState
from mesodrive.controller.treatment import (
    Failure,
    ProfileChoice,
    Screening,
    TreatmentError,
    TreatmentService,
)
from mesodrive.driver.calibration_profile import CalibrationProfile
from mesodrive.driver.injector import Injector
from mesodrive.driver.timebase import Timebase
from mesodrive.records import RecordStore, SessionDetail
from tests.controller.conftest import write_plan
from tests.records.profile_helpers import CORRECTIONS, TODAY, new_profile, store_profile

SCREENED = Screening("typed", "y", "dr-p")
REAL = "INJ-0042"  # a serial that is not the simulator's: the device's identity says "real"


def _device(serial: str = "SIM-0001") -> Injector:
    return Injector.connect(f"sim://?seed=3&realtime=1&speed=10&serial={serial}",
                            timebase=Timebase(10))


@pytest.fixture
def plan(tmp_path: Path) -> Path:
    return write_plan(tmp_path)


def _treat(db: Path, plan: Path, serial: str = "SIM-0001", *,
           override: str | None = None) -> tuple[ProfileChoice, SessionDetail]:
    with TreatmentService(db, operator="dr-p") as service, _device(serial) as inj:
        vplan = service.validate_for_device(service.load_plan(plan), inj)
        choice = service.choose_profile(inj, override=override)
        treatment = service.start(vplan, inj, SCREENED, profile=choice)
        assert treatment.run().state is RunState.COMPLETED
        session = treatment.session
    with RecordStore(db, readonly=True) as store:
        return choice, store.session(session)


def _commanded_as(profile: CalibrationProfile, detail: SessionDetail) -> Iterator[bool]:
    for row in detail.shots:
        req = row.requested
        yield (row.commanded["depth_um"] == round(profile.commanded_depth_mm(req["depth_mm"])
                                                  * 1000)
               and row.commanded["volume_nl"] == round(profile.commanded_volume_ul(
                   req["volume_ul"]) * 1000))


def test_the_newest_valid_profile_is_applied_and_named_on_every_shot(
        tmp_path: Path, plan: Path) -> None:
    db = tmp_path / "r.db"
    store_profile(db, new_profile(volume_gain=1.10))  # older: superseded
    store_profile(db, new_profile("SIM-0002"))  # another device's: never applied here
    pid = store_profile(db)
    choice, detail = _treat(db, plan)
    assert choice.active is not None and choice.active.id == pid
    assert [level for level, _ in choice.messages()] == ["info"]
    assert f"calibration profile {pid} " in choice.messages()[0][1]
    profile = CalibrationProfile(name=choice.active.name, **CORRECTIONS)
    assert len(detail.shots) == 9
    assert all(row.profile_id == pid for row in detail.shots)
    assert all(_commanded_as(profile, detail))
    first = detail.shots[0]
    assert first.commanded["depth_um"] != round(first.requested["depth_mm"] * 1000)
    assert first.commanded["volume_nl"] != round(first.requested["volume_ul"] * 1000)
    assert detail.calibration["profile_id"] == pid
    assert detail.calibration["certificate_id"] == choice.active.certificate_id


def test_an_expired_profile_is_not_applied_and_the_operator_is_told(
        tmp_path: Path, plan: Path) -> None:
    db = tmp_path / "r.db"
    pid = store_profile(db, new_profile(expires=TODAY - dt.timedelta(days=1)))
    choice, detail = _treat(db, plan)  # the simulator: warned, goes on
    assert choice.active is None and choice.expired is not None and choice.expired.id == pid
    texts = [text for level, text in choice.messages() if level == "warning"]
    assert any(f"profile {pid} " in t and "expired on" in t and "NOT applied" in t
               for t in texts)
    assert any("simulator runs uncalibrated" in t for t in texts)
    assert choice.header()[0].startswith(f"profile {pid} EXPIRED")
    assert all(row.profile_id is None for row in detail.shots)
    assert all(_commanded_as(CalibrationProfile(), detail))
    assert detail.calibration["profile_id"] is None
    assert detail.calibration["expired_profile_id"] == pid


def test_a_profile_valid_through_today_is_still_applied(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    pid = store_profile(db, new_profile(expires=TODAY))
    with TreatmentService(db) as service, _device() as inj:
        assert service.choose_profile(inj).profile.profile_id == pid


def test_a_real_device_without_a_valid_profile_is_refused(tmp_path: Path, plan: Path) -> None:
    db = tmp_path / "r.db"
    store_profile(db)  # the simulator's profile: not this device's
    store_profile(db, new_profile(REAL, expires=TODAY - dt.timedelta(days=3)))
    store_profile(db, new_profile(REAL, needle="32G"))  # another needle type
    rows_before = _rows(db)
    with TreatmentService(db) as service, _device(REAL) as inj:
        vplan = service.validate_for_device(service.load_plan(plan), inj)
        with pytest.raises(TreatmentError) as refused:
            service.choose_profile(inj)
        with pytest.raises(TreatmentError):  # a front end that skips the choice is refused too
            service.start(vplan, inj, SCREENED)
        assert service.profile_status(inj) is not None
        status = service.profile_status(inj)
        assert status is not None and status.header()[1] == "alarm"
    assert refused.value.kind is Failure.NO_PROFILE
    assert REAL in str(refused.value) and "expired on" in str(refused.value)
    assert _rows(db) == rows_before  # nothing recorded


def test_a_technicians_override_treats_a_real_device_and_is_recorded(
        tmp_path: Path, plan: Path) -> None:
    db = tmp_path / "r.db"
    choice, detail = _treat(db, plan, REAL, override="field service visit; calibrated Monday")
    assert choice.active is None and choice.override is not None
    assert [(a.action, a.reason) for a in detail.actions if "calibration" in a.action] == [
        ("calibration-override", choice.action_text())]
    assert "field service visit; calibrated Monday" in choice.action_text()
    assert detail.calibration["override"] == "field service visit; calibrated Monday"
    assert all(row.profile_id is None for row in detail.shots)


def test_a_blank_override_is_no_override(tmp_path: Path) -> None:
    with (TreatmentService(tmp_path / "r.db") as service, _device(REAL) as inj,
          pytest.raises(TreatmentError) as refused):
        service.choose_profile(inj, override="   ")
    assert refused.value.kind is Failure.NO_PROFILE


def test_an_unusable_profile_row_is_a_damaged_records_error(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    pid = store_profile(db)
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER journal_no_update")
    conn.execute("UPDATE journal SET body = json_set(body, '$.corrections.volume_gain', 9.0) "
                 "WHERE id = ?", (pid,))
    conn.commit()
    conn.close()
    with (TreatmentService(db) as service, _device() as inj,
          pytest.raises(TreatmentError) as damaged):
        service.choose_profile(inj)
    assert damaged.value.kind is Failure.RECORDS_DAMAGED
    assert f"calibration profile {pid} cannot be applied" in str(damaged.value)
    assert "volume_gain = 9.0" in str(damaged.value)


def _rows(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM journal").fetchone()[0])
    finally:
        conn.close()


def test_a_plan_the_calibrated_device_cannot_reach_is_refused_before_any_session(
        tmp_path: Path, plan: Path) -> None:
    # 1.0 mm asked needs (1.0 - 0.1) / 0.95 = 0.947 mm commanded: below the device's 1 mm.
    db = tmp_path / "r.db"
    store_profile(db, new_profile(depth_offset_mm=0.1))
    rows_before = _rows(db)
    with TreatmentService(db) as service, _device() as inj:
        vplan = service.validate_for_device(service.load_plan(plan), inj)
        with pytest.raises(TreatmentError) as refused:
            service.start(vplan, inj, SCREENED)
    assert refused.value.kind is Failure.NOT_ALLOWED_ON_DEVICE
    assert "point 1: depth 1 mm needs a commanded 0.947 mm" in str(refused.value)
    assert "outside the device's 1–4 mm" in str(refused.value)
    assert _rows(db) == rows_before
