"""The treatment service and the patient's course: a session too early in the course is
refused without a reason (nothing recorded, nothing sent) and recorded with one."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesodrive.controller.treatment import Failure, TreatmentError
from mesodrive.records import RecordStore
from tests.reports.session import plan_file, treat


def test_too_early_needs_a_reason_which_is_recorded(tmp_path: Path) -> None:
    db = tmp_path / "records.db"
    plan = plan_file(tmp_path)
    first, _ = treat(db, plan)  # (a loaded machine may abort a warped run: given is enough)
    with pytest.raises(TreatmentError) as refused:
        treat(db, plan)  # the same day: 0 days after session 1, recommended 14–28
    assert refused.value.kind is Failure.COURSE_TOO_EARLY
    assert "too early" in str(refused.value) and "a reason is needed" in str(refused.value)
    with pytest.raises(TreatmentError):
        treat(db, plan, interval_reason="   ")  # blank is no reason
    with RecordStore(db, readonly=True) as store:
        assert [s.id for s in store.sessions()] == [first]  # nothing recorded
    second, _ = treat(db, plan, interval_reason="session 1 was cut short by a bruise")
    with RecordStore(db, readonly=True) as store:
        actions = [(a.action, a.reason, a.operator) for a in store.session(second).actions]
    (early,) = [a for a in actions if a[0] == "course-interval"]
    assert early[1].endswith("treated now because: session 1 was cut short by a bruise")
    assert f"0 days after session {first}" in early[1] and early[2] == "dr-r"


def test_another_patient_or_a_product_without_an_interval_starts_freely(tmp_path: Path) -> None:
    db = tmp_path / "records.db"
    treat(db, plan_file(tmp_path))
    other = tmp_path / "other"
    other.mkdir()
    treat(db, plan_file(other, patient="TEST-2"))  # not refused
    third = tmp_path / "third"
    third.mkdir()
    # no recommended interval: never "too early", never refused
    session, _ = treat(db, plan_file(third, product="skin-polyrevitalising"))
    with RecordStore(db, readonly=True) as store:
        assert all(a.action != "course-interval" for a in store.session(session).actions)
