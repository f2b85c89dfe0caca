"""The treatment service for a front end with several operators (the web console): actions
recorded as the person who asked for them, a skip with a reason while paused, a screening done
in the console, an e-stop outside a run on the record, and failed shots as they happen.
Time-warped simulator (speed 10) where the timing is not under test."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from mesodrive.controller.attribution import Actor, Attributions
from mesodrive.controller.recovery import Answer, Decision, ScriptedPolicy
from mesodrive.controller.shot_failures import ShotFailed, failure_of
from mesodrive.controller.states import RunState
from mesodrive.controller.treatment import Screening, TreatmentService
from mesodrive.driver.injector import Injector
from mesodrive.driver.shots import Commanded, Shot, ShotOutcome, ShotRequest, ShotState
from mesodrive.driver.timebase import Timebase
from mesodrive.driver.vocabulary import DeviceState, ShotFlag
from mesodrive.records import RecordStore
from tests.controller.conftest import write_plan

WARP = 10


def _connect(faults: str = "", seed: int = 3) -> Injector:
    extra = f"&faults={faults}" if faults else ""
    return Injector.connect(f"sim://?seed={seed}&realtime=1&speed={WARP}{extra}",
                            timebase=Timebase(WARP))


def _until(cond: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {cond}"
        time.sleep(0.01)


def test_attribution_rules() -> None:
    book = Attributions()
    assert book.resolve(1, "pause", "operator pause", "dflt") == ("dflt", "operator pause")
    book.responsible(1, "starter")
    assert book.resolve(1, "refill", "r", "dflt") == ("starter", "r")
    book.claim(1, "pause", Actor("bob", "web console"), "patient asked")
    assert book.resolve(2, "pause", "x", "dflt") == ("dflt", "x")  # another session
    assert book.resolve(1, "pause", "operator pause", "dflt") == (
        "bob", "patient asked (web console)")
    assert book.resolve(1, "pause", "operator pause", "dflt")[0] == "starter"  # used once
    book.claim(1, "estop", Actor(None, "web console"))
    who, why = book.resolve(1, "estop", "emergency stop", "dflt")
    assert who is None and "no operator name was entered" in why  # never someone else's name
    book.claim(1, "resume", Actor("eve"))
    book.withdraw(1, "resume")
    assert book.resolve(1, "resume", "r", "dflt")[0] == "starter"


def test_each_action_is_recorded_as_whoever_asked(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with TreatmentService(db, operator="server-default") as service:
        plan = service.load_plan(write_plan(tmp_path))
        with _connect() as inj:
            screening = Screening("console", "five items ticked", "ann")
            treatment = service.start(service.validate_for_device(plan, inj), inj, screening,
                                      operator="ann")
            treatment.start()
            _until(lambda: len(treatment.result.delivered) >= 1)
            treatment.pause(Actor("bob", "web console"), "patient coughing")
            _until(lambda: treatment.state is RunState.PAUSED)
            nxt = treatment.result.pending[0]
            refused = treatment.skip(nxt, "  ", Actor("bob"))
            assert not refused.skipped and "needs a reason" in refused.problem
            done = treatment.skip(nxt, "bruise at that point", Actor("carol", "web console"))
            assert done.skipped, done.problem
            again = treatment.skip(nxt, "twice", Actor("carol"))
            assert not again.skipped and "skipped" in again.problem
            treatment.resume(Actor("bob", "web console"))
            _until(lambda: treatment.state is RunState.RUNNING)
            late = treatment.skip(treatment.result.pending[-1], "while running", Actor("x"))
            assert not late.skipped and "not paused" in late.problem
            treatment.abort("patient asked to stop", Actor(None, "web console"))
            treatment.done.wait(20)
            assert treatment.state is RunState.ABORTED
            assert nxt in treatment.result.skipped
    with RecordStore(db, readonly=True) as store:
        d = store.session(1)
    assert d.operator == "ann"
    acts = [(a.action, a.operator, a.reason) for a in d.actions]
    assert acts[0][:2] == ("screening", "ann") and "ticked in the web console" in acts[0][2]
    assert ("pause", "bob", "patient coughing (web console)") in acts
    assert ("skip", "carol", f"point {nxt}: bruise at that point (web console)") in acts
    assert ("resume", "bob", "operator resume (web console)") in acts
    assert [a for a in acts if a[0] == "skip"] == [
        ("skip", "carol", f"point {nxt}: bruise at that point (web console)")]
    abort = next(a for a in acts if a[0] == "abort")
    assert abort[1] is None and "patient asked to stop" in abort[2] and "no operator" in abort[2]
    assert "server-default" not in {a[1] for a in acts}


def test_a_recovery_answer_is_the_answerers(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    policy = ScriptedPolicy(default=Answer(Decision.SKIP, "scar"))
    with TreatmentService(db, operator="server-default") as service:
        plan = service.load_plan(write_plan(tmp_path))
        with _connect("contact_lost@4", seed=4) as inj:
            treatment = service.start(service.validate_for_device(plan, inj), inj,
                                      Screening("console", "ticked", "ann"), policy=policy,
                                      operator="ann")
            treatment.claim("recovery:skip", Actor("dan", "web console"))
            treatment.claim("skip", Actor("dan", "web console"))
            assert treatment.run().state is RunState.COMPLETED
    with RecordStore(db, readonly=True) as store:
        acts = store.session(1).actions
    by_action = {a.action: a.operator for a in acts}
    assert by_action["recovery:skip"] == "dan" and by_action["skip"] == "dan"
    assert {a.operator for a in acts} <= {"ann", "dan"}  # the rest: the one who started it


def _shot(state: ShotState, *, session: int = 7, index: int = 4, flags: int = 0,
          outcome: bool = False, reason: str = "") -> Shot:
    req = ShotRequest(index, 1.0, 10.0, 40.0, 80.0)
    cmd = Commanded(1.0, 10.0, 40.0, 80.0, 0.0, None, "identity")
    out = ShotOutcome(reached_depth_mm=0.0, delivered_ul=0.0, start_at=0.0, end_at=0.0,
                      peak_pressure_kpa=0.0, flags=flags) if outcome else None
    return Shot(session, index, 1, req, cmd, state, reason, out)


def test_which_shots_are_failures() -> None:
    point_of = {4: 3}.get
    rejected = failure_of(_shot(ShotState.REJECTED, reason="TOO_LATE"), {7}, point_of)
    assert rejected == ShotFailed(3, 4, "rejected", "TOO_LATE")
    assert "point 3" in rejected.describe() and "TOO_LATE" in rejected.describe()
    not_started = failure_of(_shot(ShotState.DONE, outcome=True,
                                   flags=int(ShotFlag.ABORTED | ShotFlag.NOT_STARTED)),
                             {7}, point_of)
    assert not_started is not None and "before the needle moved" in not_started.reason
    assert failure_of(_shot(ShotState.NOT_RECEIVED), {7}, point_of) is not None
    # Not failures: cancelled by the host, given (done, cut short, uncertain), still open,
    # another run's device session, a shot the book never named.
    assert failure_of(_shot(ShotState.CANCELLED), {7}, point_of) is None
    assert failure_of(_shot(ShotState.DONE, outcome=True), {7}, point_of) is None
    assert failure_of(_shot(ShotState.DONE, outcome=True, flags=int(ShotFlag.ABORTED)),
                      {7}, point_of) is None
    assert failure_of(_shot(ShotState.UNCERTAIN), {7}, point_of) is None
    assert failure_of(_shot(ShotState.ACCEPTED), {7}, point_of) is None
    assert failure_of(_shot(ShotState.REJECTED), {8}, point_of) is None
    assert failure_of(_shot(ShotState.REJECTED, index=5), {7}, point_of) is None


def test_an_estop_outside_a_run_is_recorded(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with TreatmentService(db, operator="server-default") as service, _connect() as inj:
        stop = service.estop_device(inj, Actor("ann", "web console, E-STOP button"))
        assert stop.latency_s is not None and not stop.problem and stop.session is not None
        assert inj.state is DeviceState.ESTOPPED
        cleared = service.clear_device(inj, "checked: nobody at the device", operator="bob")
        assert cleared is not None and cleared.cleared
        nameless = service.estop_device(inj, Actor(None, "web console, Escape key"))
    with RecordStore(db, readonly=True) as store:
        first, clear, second = store.sessions()
        d = store.session(first.id)
        assert d.mode == "device" and d.summary.status == "e-stopped"
        assert [(a.action, a.operator) for a in d.actions] == [("estop", "ann")]
        assert "E-STOP button" in d.actions[0].reason
        assert store.session(clear.id).actions[0].operator == "bob"
        blank = store.session(second.id).actions[0]
        assert second.id == nameless.session and blank.operator is None
        assert "no operator name was entered" in blank.reason


def test_a_skip_request_is_answered_when_the_run_ends_first(tmp_path: Path) -> None:
    """A skip posted as the run ends is refused in words, never left waiting."""
    db = tmp_path / "r.db"
    with TreatmentService(db, operator="ann") as service:
        plan = service.load_plan(write_plan(tmp_path))
        with _connect() as inj:
            treatment = service.start(service.validate_for_device(plan, inj), inj,
                                      Screening("flag", "--yes", "ann"))
            worker = threading.Thread(target=treatment.run)
            worker.start()
            _until(lambda: treatment.state is RunState.RUNNING)
            treatment.abort("over")
            worker.join(20)
            request = treatment.skip(1, "too late", Actor("bob"), timeout=2)
    assert not request.skipped and request.problem
