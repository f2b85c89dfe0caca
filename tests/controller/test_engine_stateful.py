"""A stateful test of the run engine on the simulated device: random pause / resume / abort /
e-stop while device faults happen (scheduled per example) and a scripted operator answers.

Invariants: no shot after abort or e-stop, no point injected twice, and the records equal the
device's truth (every executed shot recorded as done or uncertain; the chain verifies). At the
end the book holds every point exactly once (delivered, cut short, skipped or pending), and an
alarm about a fault inside a shot named the point that shot was cut short at.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from mesodrive.controller.device_limits import device_limits
from mesodrive.controller.engine import RunEngine
from mesodrive.controller.recovery import Answer, Decision, ProblemKind, ScriptedPolicy
from mesodrive.driver.injector import Injector
from mesodrive.plan import load_library, load_plan, validate_plan
from mesodrive.records import RecordStore
from tests.controller.conftest import Run, write_plan

FAULTS = st.sampled_from(["", "occlusion@2", "contact_lost@3", "stall@2", "empty@3", "air@2", "reboot@3"])
ANSWERS = st.lists(st.sampled_from([Decision.RETRY, Decision.SKIP, Decision.ABORT]), max_size=3)


class EngineMachine(RuleBasedStateMachine):
    run: Run

    @initialize(faults=FAULTS, answers=ANSWERS, seed=st.integers(1, 1000))
    def start(self, faults: str, answers: list[Decision], seed: int) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        tmp = Path(self.tmp.name)
        path = write_plan(tmp)
        inj = Injector.connect(f"sim://?seed={seed}&realtime=1" + (f"&faults={faults}" if faults else ""))
        assert inj.identity is not None
        vplan = validate_plan(load_plan(path), load_library(tmp / "products.toml"),
                              device_limits(inj.capabilities), base_dir=tmp)
        store = RecordStore(tmp / "records.db")
        session = store.start_session(plan_snapshot={"plan": vplan.snapshot()}, plan_hash=vplan.plan_hash,
                                      product={}, device={}, calibration={}, mode="auto")
        policy = ScriptedPolicy([Answer(d, f"scripted {d.value}") for d in answers])
        self.policy = policy
        self.run = Run(RunEngine(inj, vplan, store, session, policy=policy), inj, store, vplan).start()
        self.stopped_at: int | None = None  # executed count when abort / e-stop took effect

    @rule(dt=st.sampled_from([0.1, 0.3, 0.6]))
    def wait(self, dt: float) -> None:
        time.sleep(dt)

    @precondition(lambda self: not self.run.engine.state.terminal)
    @rule()
    def pause(self) -> None:
        self.run.engine.pause()

    @precondition(lambda self: not self.run.engine.state.terminal)
    @rule()
    def resume(self) -> None:
        self.run.engine.resume()

    @precondition(lambda self: not self.run.engine.state.terminal and self.stopped_at is None)
    @rule()
    def abort(self) -> None:
        self.run.engine.abort("stateful test")
        self.run.join(30)
        self.stopped_at = len(self.run.executed())

    @precondition(lambda self: not self.run.engine.state.terminal and self.stopped_at is None)
    @rule()
    def estop(self) -> None:
        self.run.engine.estop()
        self.stopped_at = len(self.run.executed())  # latched now: nothing may start after this

    @invariant()
    def nothing_after_abort_or_estop(self) -> None:
        if self.stopped_at is not None:
            assert len(self.run.executed()) == self.stopped_at

    @invariant()
    def no_point_twice(self) -> None:
        points = self.run.executed_points()
        assert len(points) == len(set(points)), sorted(points)

    def teardown(self) -> None:
        run = self.run
        if not run.engine.state.terminal:
            run.engine.resume()  # let a paused run finish (or end by itself)
            run.thread.join(40)
            if run.thread.is_alive():
                run.engine.abort("teardown")
                run.join(30)
        self.no_point_twice()
        rows = run.store.latest_shots(run.engine.session)
        for e in run.executed():
            if e.session in run.engine.device_sessions:
                assert rows[e.index].state in ("done", "uncertain"), (e.index, rows[e.index])
        assert run.store.verify().ok
        assert run.engine.state.terminal
        r = run.engine.result
        books = [set(r.delivered), set(r.partial), set(r.skipped), set(r.pending)]
        planned = {p.point for p in run.plan.points}
        assert sum(len(b) for b in books) == len(planned) and set().union(*books) == planned, books
        assert r.uncertain <= set(r.delivered)
        in_shot = (ProblemKind.OCCLUSION, ProblemKind.STALL, ProblemKind.CONTACT_LOST,
                   ProblemKind.EMPTY_SYRINGE, ProblemKind.AIR)
        for problem in self.policy.asked:
            if problem.kind in in_shot:  # the struck shot was cut short: never the next point
                assert problem.point in r.partial, (problem, r.partial)
        run.inj.close()
        run.store.close()
        self.tmp.cleanup()


EngineMachine.TestCase.settings = settings(max_examples=5, stateful_step_count=6, deadline=None)
TestEngineStateful = EngineMachine.TestCase
