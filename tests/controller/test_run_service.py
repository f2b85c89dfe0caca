"""The treatment service without any front end: what the web console will call."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesodrive.controller.engine import Progress
from mesodrive.controller.recovery import Answer, Decision, ScriptedPolicy
from mesodrive.controller.states import RunState
from mesodrive.controller.treatment import (
    Failure,
    Screening,
    SessionEnded,
    TreatmentError,
    TreatmentService,
    connect_device,
)
from mesodrive.records import RecordStore
from tests.controller.conftest import write_plan


def test_start_records_screening_overrides_and_operator_then_runs(tmp_path: Path) -> None:
    plan_path = write_plan(tmp_path)
    text = plan_path.read_text().replace("depth_mm = 1.0", "depth_mm = 2.2")  # soft max 2.0
    plan_path.write_text(text + '\n[[overrides]]\nfield = "depth_mm"\nvalue = 2.2\n'
                                'reason = "thick dermis"\n')
    db = tmp_path / "r.db"
    seen: list[Progress] = []
    with TreatmentService(db, operator="dr-s") as service:
        plan = service.load_plan(plan_path)
        assert len(plan.checked.points) == 9  # a preview before any device
        service.check_records(create=True)
        assert not db.exists()  # looking only
        with connect_device("sim://?seed=2&realtime=1") as inj:
            service.refuse_latched(inj)
            vplan = service.validate_for_device(plan, inj)
            treatment = service.start(vplan, inj, Screening("typed", "y", "dr-s"),
                                      policy=ScriptedPolicy(), source=str(plan_path))
            treatment.subscribe(lambda e: seen.append(e) if isinstance(e, Progress) else None)
            result = treatment.run()
    assert result.state is RunState.COMPLETED and len(result.delivered) == 9
    assert seen and seen[-1].done == 9
    with RecordStore(db, readonly=True) as store:
        d = store.session(1)
    assert d.operator == "dr-s" and d.status == "completed"
    actions = [(a.action, a.operator) for a in d.actions]
    assert actions[:2] == [("screening", "dr-s"), ("override", "dr-s")]
    assert "thick dermis" in d.actions[1].reason


def test_engine_actions_carry_the_operator(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    device = "sim://?seed=4&realtime=1&faults=contact_lost@4"
    policy = ScriptedPolicy(default=Answer(Decision.SKIP, "scar"))  # however often it asks
    with TreatmentService(db, operator="dr-t") as service:
        plan = service.load_plan(write_plan(tmp_path))
        with connect_device(device) as inj:
            treatment = service.start(service.validate_for_device(plan, inj), inj,
                                      Screening("flag", "--yes", "dr-t"), policy=policy)
            assert treatment.run().state is RunState.COMPLETED, policy.asked
    with RecordStore(db, readonly=True) as store:
        actions = store.session(1).actions
    assert {a.action for a in actions} >= {"recovery:skip", "skip"}
    assert {a.operator for a in actions} == {"dr-t"}


def test_resume_refuses_what_cannot_be_resumed(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with TreatmentService(db) as service, pytest.raises(TreatmentError) as missing:
        service.prepare_resume(1)
    assert missing.value.kind is Failure.RECORDS_PATH
    with RecordStore(db) as store:
        from tests.records.helpers import start

        sid = start(store)
        store.end_session(sid, "aborted", {})
    with TreatmentService(db) as service:
        with pytest.raises(SessionEnded) as ended:
            service.prepare_resume(sid)
        assert ended.value.status == "aborted"
        with pytest.raises(TreatmentError) as unknown:
            service.prepare_resume(sid + 1)
        assert unknown.value.kind is Failure.NO_SESSION


def test_a_plan_file_that_is_missing_or_invalid(tmp_path: Path) -> None:
    with pytest.raises(TreatmentError) as missing:
        TreatmentService.load_plan(tmp_path / "nope.toml")
    assert missing.value.kind is Failure.PLAN_FILE
    plan = write_plan(tmp_path)
    plan.write_text(plan.read_text().replace("volume_ul = 10", "volume_ul = 30"))
    with pytest.raises(TreatmentError) as invalid:
        TreatmentService.load_plan(plan)
    assert invalid.value.kind is Failure.PLAN_INVALID
    assert invalid.value.issues is not None and "soft_max 25" in str(invalid.value.issues)


def test_resume_refuses_an_estopped_device_and_leaves_the_session_open(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with TreatmentService(db) as service:
        plan = service.load_plan(write_plan(tmp_path))
        with connect_device("sim://?seed=3&realtime=1") as inj:
            treatment = service.start(service.validate_for_device(plan, inj), inj,
                                      Screening("flag", "--yes", None))  # never run: open
            inj.estop()
            target = service.prepare_resume(treatment.session)
            with pytest.raises(TreatmentError) as stopped:
                service.resume(target, inj)
            assert stopped.value.kind is Failure.DEVICE_STOPPED
            assert stopped.value.stop is not None and "emergency-stopped" in str(stopped.value)
    with RecordStore(db, readonly=True) as store:
        d = store.session(1)
    assert d.status == "open"
    assert [a.action for a in d.actions] == ["screening"]  # nothing settled, nothing cleared
