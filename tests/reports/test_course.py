"""A patient's course: the interval rule (too early, on time, late, no interval in the
library), courses kept apart by indication, the cumulative volume, the next window; and the
check before a new session, on real records."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesodrive.controller.course_check import check_course, read_course
from mesodrive.plan import ProductLibrary, load_library
from mesodrive.records import SessionDetail, SessionSummary
from mesodrive.records.course import (
    FIRST,
    LATE,
    NO_INTERVAL,
    NOTHING_GIVEN,
    ON_TIME,
    TOO_EARLY,
    Interval,
    build_course,
    parse_time,
    recommended_interval,
    timing,
)
from tests.controller.conftest import EXAMPLES
from tests.reports.session import plan_file, treat

SKIN = {"id": "skin-booster-ha", "indication": "skin", "interval_days": {"min": 14, "max": 28},
        "course_sessions": {"min": 4, "max": 6}}
HAIR = {"id": "hair-revital", "indication": "hair", "interval_days": {"min": 28, "max": 35}}
NO_INTERVAL_PRODUCT = {"id": "skin-polyrevitalising", "indication": "skin"}


def detail(session: int, day: float, product: dict[str, Any], *, volume: float = 100.0,
           early: str | None = None, mode: str = "auto") -> SessionDetail:
    started = (parse_time("2026-01-01T09:00:00+00:00") + timedelta(days=day)).isoformat()
    from mesodrive.records import ActionEntry

    actions = [ActionEntry(1, started, "course-interval", f"too early; treated now because: "
                                                          f"{early}", "dr")] if early else []
    summary = SessionSummary(
        id=session, started_at=started, ended_at=started, status="completed",
        patient_ref="P-1", product_id=product["id"], plan_hash="", mode=mode,
        device_session=session, points_done=10 if volume else 0, points_planned=10,
        volume_delivered_ul=volume, uncertain_shots=0)
    return SessionDetail(summary=summary, plan_snapshot={}, product=product, device={},
                         calibration={}, operator="dr", end_summary=None, shots=[],
                         shot_times={}, actions=actions)


def test_intervals_against_the_recommendation() -> None:
    course = build_course("P-1", [
        detail(1, 0, SKIN),
        detail(2, 20, SKIN),                          # on time (14–28)
        detail(3, 23, SKIN, early="flare-up follow-up"),  # 3 days: too early, reason kept
        detail(4, 24, SKIN, volume=0),                # aborted before any shot: not a session
        detail(5, 60, SKIN),                          # 37 days after session 3: late
        detail(6, 70, NO_INTERVAL_PRODUCT),           # same (skin) course, no interval known
    ])
    by = {s.session: s for s in course.sessions}
    assert [by[i].timing for i in range(1, 7)] == [FIRST, ON_TIME, TOO_EARLY, NOTHING_GIVEN,
                                                   LATE, NO_INTERVAL]
    assert by[2].days_since == 20 and by[3].days_since == 3 and by[5].days_since == 37
    assert by[5].previous == 3  # the aborted session 4 started nothing
    assert by[3].early_reason == "flare-up follow-up"
    assert "flare-up follow-up" in by[3].timing_text and "14–28 days" in by[3].timing_text
    assert "no recommended interval" in by[6].timing_text
    assert [by[i].number for i in range(1, 7)] == [1, 2, 3, None, 4, 5]
    assert [by[i].cumulative_ul for i in range(1, 7)] == [100, 200, 300, 300, 400, 500]
    assert course.total_ul == 500
    # the last session's product has no interval: no next window, and it says so
    assert course.next_window("skin") is None
    assert "has no recommended interval" in course.summary("skin")


def test_skin_and_hair_are_separate_courses() -> None:
    course = build_course("P-1", [detail(1, 0, SKIN), detail(2, 5, HAIR), detail(3, 16, SKIN),
                                  detail(4, 33, HAIR), detail(5, 40, SKIN, mode="device")])
    by = {s.session: s for s in course.sessions}
    assert by[2].timing == FIRST  # 5 days after a skin session: not too early for the scalp
    assert (by[3].timing, by[3].previous, by[3].days_since) == (ON_TIME, 1, 16)
    assert (by[4].timing, by[4].previous, by[4].days_since) == (ON_TIME, 2, 28)
    assert 5 not in by  # a device session (clear) is not a treatment
    assert course.courses() == ["skin", "hair"]
    assert by[3].cumulative_ul == 200 and by[4].cumulative_ul == 200
    start = parse_time(by[3].started_at).date()
    assert course.next_window("skin") == (start + timedelta(days=14), start + timedelta(days=28))
    assert "2 sessions given (a course is 4–6 sessions)" in course.summary("skin")


@given(lo=st.integers(1, 60), span=st.integers(0, 60), days=st.integers(0, 200))
def test_the_timing_rule(lo: int, span: int, days: int) -> None:
    interval = Interval(lo, lo + span)
    verdict = timing(days, interval)
    assert (verdict == TOO_EARLY) == (days < lo)
    assert (verdict == LATE) == (days > lo + span)
    assert timing(days, None) == NO_INTERVAL


def test_a_missing_or_unreadable_interval_is_none() -> None:
    assert recommended_interval(NO_INTERVAL_PRODUCT) is None
    assert recommended_interval({"interval_days": {"min": 20, "max": 10}}) is None
    assert recommended_interval({"interval_days": {"min": True, "max": 10}}) is None
    assert recommended_interval({"interval_days": "monthly"}) is None
    assert recommended_interval(SKIN) == Interval(14, 28)


def test_the_library_reads_and_checks_the_interval(tmp_path: Path) -> None:
    lib = load_library(EXAMPLES / "products.toml")
    skin = lib.get("skin-booster-ha")
    assert skin.interval_days is not None and (skin.interval_days.min, skin.interval_days.max) \
        == (14, 28)
    assert lib.get("skin-polyrevitalising").interval_days is None  # not known: not invented
    bad = (EXAMPLES / "products.toml").read_text().replace(
        "interval_days = { min = 14, max = 28 }", "interval_days = { min = 28, max = 14 }")
    (tmp_path / "p.toml").write_text(bad)
    from mesodrive.plan import PlanError

    with pytest.raises(PlanError) as err:
        load_library(tmp_path / "p.toml")
    assert "interval_days" in str(err.value) and "out of order" in str(err.value)
    assert ProductLibrary.model_validate({"schema_version": 1, "products": []}).products == ()


def test_the_check_before_a_new_session_on_real_records(tmp_path: Path) -> None:
    db = tmp_path / "records.db"
    lib = load_library(EXAMPLES / "products.toml")
    skin, other = lib.get("skin-booster-ha"), lib.get("skin-polyrevitalising")
    assert check_course(read_course(None, db, "TEST"), skin).verdict == FIRST  # no database yet
    assert not db.exists()  # looking never creates one
    session, _ = treat(db, plan_file(tmp_path))
    course = read_course(None, db, "TEST")
    then = parse_time(course.sessions[0].started_at)
    early = check_course(course, skin, then + timedelta(days=3))
    assert early.too_early and early.previous == session and early.days_since == 3
    assert "too early" in early.describe() and "14–28 days" in early.describe()
    assert check_course(course, skin, then + timedelta(days=20)).verdict == ON_TIME
    assert check_course(course, skin, then + timedelta(days=40)).verdict == LATE
    unknown = check_course(course, other, then + timedelta(days=3))
    assert unknown.verdict == NO_INTERVAL and not unknown.too_early
    assert "no recommended interval" in unknown.describe()
    hair = check_course(course, lib.get("hair-revital"), then + timedelta(days=1))
    assert hair.verdict == FIRST  # another course
    assert check_course(read_course(None, db, "SOMEONE-ELSE"), skin).verdict == FIRST


def test_a_patient_is_found_exactly_never_by_a_prefix_or_a_look_alike(tmp_path: Path) -> None:
    from mesodrive.records import RecordStore
    from mesodrive.records.course import patient_course, similar_patients
    from tests.records.helpers import shot, start

    refs = ["P-1", "P-10", 'Zoë "Z" Ålvarez', "p-1"]
    db = tmp_path / "r.db"
    with RecordStore(db) as store:
        for ref in refs + ["P-1"]:
            sid = start(store, plan_snapshot={"plan": {"patient_ref": ref}}, product=SKIN)
            store.record_shot(sid, shot(0, "done"))
            store.end_session(sid, "completed", {})
        store.record_action(sid, "note", 'patient_ref":"P-10" in a reason is not a patient')
    with RecordStore(db, readonly=True) as store:
        assert [s.session for s in patient_course(store, "P-1").sessions] == [1, 5]
        assert [s.session for s in patient_course(store, "P-10").sessions] == [2]
        assert [s.session for s in patient_course(store, 'Zoë "Z" Ålvarez').sessions] == [3]
        assert patient_course(store, "P-2").sessions == ()
        assert similar_patients(store, "P - 1") == ["P-1", "p-1"]
