"""The run engine's account of each point: alarms name the point a fault struck (issue 10),
a shot cut short is a puncture and not a delivery (issue 8), and per-shot bookkeeping does
not grow with the session (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest

from mesodrive.controller.delivery import Delivery, delivery, shot_delivered
from mesodrive.controller.engine import Progress
from mesodrive.controller.fault_alarms import fault_problem
from mesodrive.controller.point_book import FinishedShot
from mesodrive.controller.recovery import Answer, Decision, ProblemKind, ScriptedPolicy
from mesodrive.controller.states import RunState
from mesodrive.driver.shots import Commanded, Shot, ShotOutcome, ShotRequest, ShotState
from mesodrive.driver.vocabulary import Fault, ShotFlag
from mesodrive.driver.wire import fault_raised
from tests.controller.conftest import Run


def _outcome(flags: int = 0, ul: float = 10.0) -> ShotOutcome:
    return ShotOutcome(reached_depth_mm=1.0, delivered_ul=ul, start_at=0.0, end_at=0.1,
                       peak_pressure_kpa=0.0, flags=flags)


def _shot(index: int, state: ShotState, outcome: ShotOutcome | None = None, reason: str = "") -> Shot:
    req = ShotRequest(index=index, depth_mm=1.0, volume_ul=10.0, flow_ul_s=40.0, speed_mm_s=80.0)
    cmd = Commanded(1.0, 10.0, 40.0, 80.0, 0.0, None, "none")
    return Shot(1, index, 7, req, cmd, state=state, reason=reason, outcome=outcome)


def _executed_once_each(run: Run) -> list[int]:
    points = run.executed_points()
    assert len(points) == len(set(points)), f"a point was injected twice: {sorted(points)}"
    return points


# ----- the one rule ----------------------------------------------------------------------------
@pytest.mark.parametrize(("state", "outcome", "expected"), [
    (ShotState.DONE, _outcome(), Delivery.DELIVERED),
    (ShotState.DONE, None, Delivery.DELIVERED),
    (ShotState.DONE, _outcome(ShotFlag.ABORTED | ShotFlag.STALL, ul=0.0), Delivery.CUT_SHORT),
    (ShotState.DONE, _outcome(ShotFlag.AIR | ShotFlag.UNDER_DELIVERED, ul=7.0), Delivery.CUT_SHORT),
    (ShotState.DONE, _outcome(ShotFlag.ABORTED | ShotFlag.NOT_STARTED, ul=0.0), Delivery.NOT_GIVEN),
    (ShotState.UNCERTAIN, None, Delivery.UNCERTAIN),
    (ShotState.CANCELLED, None, Delivery.NOT_GIVEN),
    (ShotState.REJECTED, None, Delivery.NOT_GIVEN),
])
def test_one_rule_for_what_a_shot_did_to_its_point(state: ShotState, outcome: ShotOutcome | None,
                                                   expected: Delivery) -> None:
    assert delivery(state, outcome) is expected
    # never re-inject anything the needle went in for, cut short or not
    assert shot_delivered(state, outcome) is (expected is not Delivery.NOT_GIVEN)


# ----- issue 10: the point a fault struck, in units a person reads ------------------------------
def test_fault_details_read_in_public_units() -> None:
    def text(code: Fault, detail: int, **kw: int) -> str:
        return fault_raised(int(code), 0, detail, **kw).text

    assert text(Fault.OCCLUSION, 412_345) == "line pressure 412.3 kPa"
    assert text(Fault.OVERPRESSURE, 2_500_000) == "line pressure 2500.0 kPa"
    assert text(Fault.LINK_LOST, 260) == "no frame from the host for 260 ms"
    assert text(Fault.LATE_SHOT, 3_200) == "the shot was 3.2 ms late"
    assert text(Fault.LATE_SHOT, 3_200, tick_hz=2_000_000) == "the shot was 1.6 ms late"
    stall = fault_raised(int(Fault.STALL), 0, 12)
    assert stall.text == "" and stall.shot_index == 12  # named as a point instead


def test_a_fault_names_the_point_of_the_shot_it_struck_not_the_next_pending() -> None:
    recent = [
        FinishedShot(10, 3, _shot(10, ShotState.DONE, _outcome()), Delivery.DELIVERED),
        FinishedShot(11, 4, _shot(11, ShotState.DONE, _outcome(ShotFlag.ABORTED | ShotFlag.OCCLUSION, 2.0)),
                     Delivery.CUT_SHORT),
        FinishedShot(12, 5, _shot(12, ShotState.CANCELLED), Delivery.NOT_GIVEN),
    ]
    occlusion = fault_problem(fault_raised(int(Fault.OCCLUSION), 0, 300_000), recent, next_point=5)
    assert occlusion.kind is ProblemKind.OCCLUSION and occlusion.point == 4
    assert occlusion.detail == "OCCLUSION at point 4: line pressure 300.0 kPa"
    stall = fault_problem(fault_raised(int(Fault.STALL), 0, 11), recent, next_point=5)
    assert stall.point == 4 and stall.detail == "STALL at point 4"
    late = fault_problem(fault_raised(int(Fault.LATE_SHOT), 0, 2_500), recent[:1] + recent[2:],
                         next_point=5)
    assert late.point == 5 and "2.5 ms late" in late.detail
    between = fault_problem(fault_raised(int(Fault.LINK_LOST), 0, 251), recent[:1], next_point=4)
    assert between.point == 4 and between.detail == "LINK_LOST: no frame from the host for 251 ms"


def test_an_occlusion_names_the_point_it_struck_and_skip_spares_the_healthy_next_one(make_run) -> None:  # type: ignore[no-untyped-def]
    policy = ScriptedPolicy([Answer(Decision.SKIP, "needle replaced")])
    run = make_run("seed=3&faults=occlusion@3", policy=policy).start()
    assert run.join() is RunState.COMPLETED
    (problem,) = policy.asked
    assert problem.kind is ProblemKind.OCCLUSION
    rows = run.store.latest_shots(run.engine.session).values()
    (struck,) = [r.point for r in rows if r.measured
                 and int(r.measured["flags"]) & (ShotFlag.ABORTED | ShotFlag.OCCLUSION)
                 == ShotFlag.ABORTED | ShotFlag.OCCLUSION]
    assert problem.point == struck
    assert f"at point {struck}: line pressure" in problem.detail and "kPa" in problem.detail
    assert run.engine.result.partial == {struck}
    assert run.engine.result.skipped == {}  # the healthy next point was not skipped...
    points = _executed_once_each(run)
    assert sorted(points) == sorted(p.point for p in run.plan.points)  # ...it was injected
    alarms = run.store.session(run.engine.session).alarms
    assert any(f"at point {struck}" in a.detail for a in alarms)


# ----- issue 8: cut short is a puncture, not a delivery ------------------------------------------
def test_a_shot_cut_short_with_nothing_given_is_never_repeated_nor_counted_delivered(make_run) -> None:  # type: ignore[no-untyped-def]
    policy = ScriptedPolicy([Answer(Decision.RETRY, "motor checked")])
    run = make_run("seed=6&faults=stall@3&stall_at_fraction=0", policy=policy)
    progress: list[Progress] = []
    run.engine.subscribe(lambda e: progress.append(e) if isinstance(e, Progress) else None)
    assert run.start().join() is RunState.COMPLETED
    (problem,) = policy.asked
    result = run.engine.result
    cut = problem.point
    assert cut is not None and result.partial == {cut}
    assert result.cut_short_ul == {cut: 0.0}  # the needle went in; nothing was dispensed
    assert cut not in result.delivered and len(result.delivered) == len(run.plan.points) - 1
    assert run.engine.book.words(cut) == "cut short: 0 of 10 µL"
    assert progress[-1].done == len(run.plan.points) - 1 and progress[-1].cut_short == 1
    summary: dict[str, Any] = run.store.session(run.engine.session).end_summary or {}
    assert summary["delivered"] == len(run.plan.points) - 1
    assert summary["cut_short"] == {str(cut): "cut short: 0 of 10 µL"}
    points = _executed_once_each(run)  # a puncture is never repeated automatically
    assert sorted(points) == sorted(p.point for p in run.plan.points)


def test_a_resumed_cut_short_point_is_booked_cut_short_not_delivered(make_run) -> None:  # type: ignore[no-untyped-def]
    run = make_run()
    from mesodrive.controller.engine import RunEngine

    engine = RunEngine(run.inj, run.plan, run.store, run.engine.session, delivered={1: 10.0, 3: 0.0},
                       uncertain=set(), partial={3}, skipped={})
    assert engine.result.delivered == {1: 10.0}
    assert engine.result.partial == {3} and engine.result.cut_short_ul == {3: 0.0}
    assert 1 not in engine.result.pending and 3 not in engine.result.pending
    assert engine.book.next_point() == 2


# ----- issue 13: per-shot work does not grow with the session ------------------------------------
class _NoWalk(dict[int, float]):
    """A book collection that must never be walked on the per-shot path."""

    def _walked(self, *_: object) -> Any:
        raise AssertionError("the per-shot path walked every point")

    values = items = keys = __iter__ = _walked  # type: ignore[assignment]


def test_progress_and_booking_a_shot_never_walk_the_points(make_run) -> None:  # type: ignore[no-untyped-def]
    engine = make_run().engine
    engine.result.delivered = _NoWalk(engine.result.delivered)
    engine._emit_progress()  # once per shot: totals are kept, not re-summed
    index = 0
    point = engine.book.next_point()
    assert point is not None
    engine.book.reserve(index, point)
    engine.book.sent(index, point, device_session=1)
    engine.book.finished(index, _shot(index, ShotState.DONE, _outcome()))
    engine._emit_progress()
    assert engine.result.delivered[point] == 10.0 and engine.book.given_ul == 10.0
    assert engine.book.open_points == len(engine.plan.points) - 1
