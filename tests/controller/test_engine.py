"""The run engine against the simulated device: every point once, faults, operator control."""

from __future__ import annotations

import itertools
import time
from typing import Any

from mesodrive.controller.recovery import Answer, Decision, Problem, ProblemKind, ScriptedPolicy
from mesodrive.controller.states import RunState
from mesodrive.protocol.messages import DeviceState
from tests.controller.conftest import Run


def _each_point_at_most_once(run: Run) -> list[int]:
    points = run.executed_points()
    assert len(points) == len(set(points)), f"a point was injected twice: {sorted(points)}"
    return points


def _records_match_truth(run: Run) -> None:
    rows = run.store.latest_shots(run.engine.session)
    executed = {e.index for e in run.executed() if e.session in run.engine.device_sessions}
    for index, row in rows.items():
        if index in executed:
            assert row.state in ("done", "uncertain"), (index, row.state)
        elif row.state == "done":
            # DONE without moving: refused at the contact check, so never in the executed log
            assert row.measured and row.measured["delivered_ul"] == 0, (index, row)
    assert run.store.verify().ok


def test_a_plan_runs_to_completion_on_the_device_clock(make_run) -> None:  # type: ignore[no-untyped-def]
    run = make_run().start()
    assert run.join() is RunState.COMPLETED
    points = _each_point_at_most_once(run)
    assert sorted(points) == sorted(p.point for p in run.plan.points)
    assert run.engine.result.stats.late_shots == 0
    assert run.engine.result.stats.underruns == 0
    # fired at the cadence: 2 shots/s → 500 ms apart on the device clock
    starts = sorted(e.start_tick for e in run.executed())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(abs(g - 500_000) <= 2_000 for g in gaps), gaps
    _records_match_truth(run)
    detail = run.store.session(run.engine.session)
    assert detail.status == "completed"


def test_pause_holds_at_a_shot_boundary_with_the_needle_retracted_then_resumes(make_run) -> None:  # type: ignore[no-untyped-def]
    run = make_run().start()
    run.wait_delivered(3)
    run.engine.pause()
    run.wait_state(RunState.PAUSED)
    status = run.inj.status()
    assert status.state == DeviceState.ARMED and status.needle_mm <= 0 and status.queued == 0
    frozen = len(run.executed())
    time.sleep(0.5)
    assert len(run.executed()) == frozen  # nothing fires while paused
    run.engine.resume()
    assert run.join() is RunState.COMPLETED
    assert sorted(_each_point_at_most_once(run)) == sorted(p.point for p in run.plan.points)
    _records_match_truth(run)


def test_abort_ends_the_run_and_nothing_fires_after(make_run) -> None:  # type: ignore[no-untyped-def]
    run = make_run().start()
    run.wait_delivered(2)
    run.engine.abort("patient asked to stop")
    assert run.join() is RunState.ABORTED
    after = len(run.executed())
    time.sleep(0.5)
    assert len(run.executed()) == after
    assert run.inj.status().state == DeviceState.READY  # disarmed
    _each_point_at_most_once(run)
    _records_match_truth(run)
    actions = [a.action for a in run.store.session(run.engine.session).actions]
    assert "abort" in actions


def test_estop_mid_run_latches_and_nothing_fires_after(make_run) -> None:  # type: ignore[no-untyped-def]
    run = make_run().start()
    run.wait_delivered(2)
    latency = run.engine.estop()
    assert latency < 0.5
    assert run.join() is RunState.ESTOPPED
    after = len(run.executed())
    time.sleep(0.4)
    assert len(run.executed()) == after
    assert run.inj.status().state == DeviceState.ESTOPPED
    _each_point_at_most_once(run)
    _records_match_truth(run)


def test_occlusion_then_retry_never_reinjects_the_interrupted_point(make_run) -> None:  # type: ignore[no-untyped-def]
    policy = ScriptedPolicy([Answer(Decision.RETRY, "line flushed")])
    run = make_run("seed=3&faults=occlusion@3", policy=policy).start()
    assert run.join() is RunState.COMPLETED
    assert [p.kind for p in policy.asked] == [ProblemKind.OCCLUSION]
    assert len(run.engine.result.partial) == 1  # the occluded shot: under-dosed, not topped up
    points = _each_point_at_most_once(run)
    assert sorted(points) == sorted(p.point for p in run.plan.points)
    _records_match_truth(run)


def test_contact_lost_then_skip_names_the_struck_point_and_skips_no_healthy_one(make_run) -> None:  # type: ignore[no-untyped-def]
    policy = ScriptedPolicy([Answer(Decision.SKIP, "scar tissue")])
    run = make_run("seed=4&faults=contact_lost@4", policy=policy).start()
    assert run.join() is RunState.COMPLETED
    (problem,) = policy.asked
    assert problem.kind is ProblemKind.CONTACT_LOST
    rows = run.store.latest_shots(run.engine.session).values()
    (struck,) = [r.point for r in rows if r.measured and int(r.measured["flags"]) & 8]  # CONTACT_LOST
    assert problem.point == struck and f"at point {struck}" in problem.detail
    # Contact went mid-dispense: the point was punctured and cut short, never repeated; "skip"
    # has nothing left to skip there, and the healthy next point is injected as planned.
    assert run.engine.result.partial == {struck}
    assert run.engine.result.skipped == {}
    actions = [(a.action, a.reason) for a in run.store.session(run.engine.session).actions]
    assert ("skip", f"point {struck}: scar tissue") in actions  # the operator's answer, as given
    points = _each_point_at_most_once(run)
    assert sorted(points) == sorted(p.point for p in run.plan.points)
    _records_match_truth(run)


def test_empty_syringe_refill_and_reprime_then_continue(make_run) -> None:  # type: ignore[no-untyped-def]
    policy = ScriptedPolicy([Answer(Decision.RETRY, "new syringe", refill_ul=5000)])
    run = make_run("seed=5&faults=empty@5", policy=policy).start()
    assert run.join(45) is RunState.COMPLETED
    assert [p.kind for p in policy.asked] == [ProblemKind.EMPTY_SYRINGE]
    _each_point_at_most_once(run)
    _records_match_truth(run)
    actions = [a.action for a in run.store.session(run.engine.session).actions]
    assert "refill" in actions


def test_recovery_abort_decision_ends_aborted(make_run) -> None:  # type: ignore[no-untyped-def]
    run = make_run("seed=6&faults=stall@3").start()  # default policy: abort
    assert run.join() is RunState.ABORTED
    _each_point_at_most_once(run)
    _records_match_truth(run)


def test_triggered_mode_fires_only_on_triggers(make_run) -> None:  # type: ignore[no-untyped-def]
    run = make_run(mode="triggered", cadence_hz=None).start()
    run.wait_state(RunState.RUNNING)
    time.sleep(0.5)
    assert run.executed() == []  # preloaded, waiting for the pedal
    for _ in range(len(run.plan.points)):
        deadline = time.monotonic() + 3
        before = len(run.executed())
        run.inj.soft_trigger()
        while len(run.executed()) == before:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.4)  # let the shot finish before the next press
    assert run.join() is RunState.COMPLETED
    assert sorted(_each_point_at_most_once(run)) == sorted(p.point for p in run.plan.points)


def test_device_leaving_the_session_at_the_moment_of_sending_is_a_device_event_not_a_crash(make_run) -> None:  # type: ignore[no-untyped-def]
    run = make_run()
    original = run.inj.queue_shot
    calls = {"n": 0}

    def racing_queue_shot(req):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            run.inj.estop()  # the device latches between the engine's check and the send
        return original(req)

    run.inj.queue_shot = racing_queue_shot  # type: ignore[method-assign]
    run.start()
    assert run.join() is RunState.ESTOPPED  # handled as the device's state, not FAILED
    _each_point_at_most_once(run)
    _records_match_truth(run)


def test_device_reboot_mid_run_counts_the_lost_shot_as_uncertain_and_continues_after_retry(make_run) -> None:  # type: ignore[no-untyped-def]
    policy = ScriptedPolicy([Answer(Decision.RETRY, "device back up")])
    run = make_run("seed=7&faults=reboot@3", policy=policy).start()
    assert run.join(45) is RunState.COMPLETED
    assert [p.kind for p in policy.asked] == [ProblemKind.DEVICE_REBOOTED]
    assert len(run.engine.result.uncertain) == 1  # the shot cut by the power loss
    points = _each_point_at_most_once(run)
    uncertain = next(iter(run.engine.result.uncertain))
    assert sorted(set(points) | {uncertain}) == sorted(p.point for p in run.plan.points)
    assert run.store.verify().ok


def test_a_refused_shot_is_asked_about_never_resent_in_a_loop(make_run) -> None:  # type: ignore[no-untyped-def]
    # A 45 µL syringe: the plan refills every 4 points, but the re-prime after a refill uses
    # product, so the device will refuse a point for INSUFFICIENT_VOLUME: that must become a
    # refill question, not an endless run of refused shots.
    refill = Answer(Decision.RETRY, "new syringe", refill_ul=45.0)
    policy = ScriptedPolicy([], default=refill)
    run = make_run("seed=8&syringe_nl=45000", policy=policy).start()
    assert run.join(60) is RunState.COMPLETED
    kinds = [p.kind for p in policy.asked]
    assert kinds and all(k is ProblemKind.REFILL_DUE for k in kinds)
    assert any("INSUFFICIENT_VOLUME" in p.detail for p in policy.asked)
    assert run.engine.result.stats.shots_sent <= len(run.plan.points) + 2 * len(kinds)
    assert sorted(_each_point_at_most_once(run)) == sorted(p.point for p in run.plan.points)
    _records_match_truth(run)


def test_a_slow_disk_makes_the_cadence_slip_never_a_late_shot(make_run) -> None:  # type: ignore[no-untyped-def]
    run = make_run()
    original = run.store.record_shot
    slowed = {"n": 0}

    def slow_record_shot(session, row, *, sync=False):  # type: ignore[no-untyped-def]
        if sync and slowed["n"] < 2:  # the first two durable writes take longer than the lead
            slowed["n"] += 1
            time.sleep(0.4)
        return original(session, row, sync=sync)

    run.store.record_shot = slow_record_shot  # type: ignore[method-assign]
    run.start()
    assert run.join() is RunState.COMPLETED
    stats = run.engine.result.stats
    assert stats.late_shots == 0 and stats.underruns >= 1
    assert sorted(_each_point_at_most_once(run)) == sorted(p.point for p in run.plan.points)
    _records_match_truth(run)


def test_time_left_after_a_pause_is_the_points_left_at_the_plans_pace(make_run) -> None:  # type: ignore[no-untyped-def]
    """Issue 14: the time-left figure does not jump after a pause (it is the open points × the
    plan's period, reckoned by the engine; none while paused)."""
    from mesodrive.controller.run_events import Progress

    run = make_run()
    seen: list[Progress] = []
    run.engine.subscribe(lambda e: seen.append(e) if isinstance(e, Progress) else None)
    run.start()
    run.wait_delivered(2)
    run.engine.pause()
    run.wait_state(RunState.PAUSED)
    before = [p.eta_s for p in seen if p.eta_s is not None][-1]
    run.engine.resume()
    assert run.join() is RunState.COMPLETED
    period = 1 / 2.0  # the test plan's cadence: 2 shots/s
    etas = [p.eta_s for p in seen if p.eta_s is not None]
    assert all(later <= earlier + 1e-9 for earlier, later in itertools.pairwise(etas))
    assert before <= 9 * period and all(e / period == round(e / period) for e in etas)


def test_a_refusal_from_before_a_recovery_is_not_asked_about_after_it(make_run) -> None:  # type: ignore[no-untyped-def]
    """A shot queued while the device was going safe is refused (FAULT_ACTIVE) and collected
    before the engine notices the fault: once the fault is answered and the device re-armed,
    that refusal is the fault's, not a new problem (it raised a second alarm, seen as a rare
    failure of the SIGSTOP test). Here the refusal is collected while the fault is asked about."""
    held: dict[str, Any] = {}
    asked: list[Problem] = []

    def policy(problem: Problem) -> Answer:
        asked.append(problem)
        if len(asked) > 1:
            return Answer(Decision.ABORT, "a second alarm")
        engine = held["run"].engine
        engine._rejection = (engine.book.next_point(), "FAULT_ACTIVE")  # as _collect would
        return Answer(Decision.RETRY, "line flushed")

    run = held["run"] = make_run("seed=3&faults=occlusion@3", policy=policy)
    run.start()
    assert run.join() is RunState.COMPLETED
    assert [p.kind for p in asked] == [ProblemKind.OCCLUSION]
    assert sorted(_each_point_at_most_once(run)) == sorted(p.point for p in run.plan.points)
    _records_match_truth(run)
