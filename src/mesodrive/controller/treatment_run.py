"""`Treatment`: one treatment the service started or resumed — the run engine, its records
session and its controls, for any front end.

Controls (pause, resume, abort, e-stop, skip while paused, soft trigger) are safe from any thread
and from a signal handler; observers (`subscribe`) get the engine's events on the engine's event
thread and can never break the run, and `subscribe_failures` the shots that certainly did not
deliver (`shot_failures`). A control given `by` (and a reason) is recorded as that person's
(`attribution`): a front end with several operators names the one who asked. `start` runs the engine in a worker thread and sets `done` when the run and
its session have ended; `leave_open` is the one way to stop the host with the session open.

An e-stop before the engine has armed the device (while it homes) ends the run FAILED, not
E-STOPPED: the engine's preparation refuses a stopped device. The records still hold the
`estop` action, and the device is latched either way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from mesodrive.controller.attribution import Actor
from mesodrive.controller.engine import RunEngine, RunEvent, RunResult
from mesodrive.controller.operator_skip import SkipRequest
from mesodrive.controller.shot_failures import ShotFailed, watch_failures
from mesodrive.controller.states import RunState
from mesodrive.controller.treatment_records import OperatorRecords
from mesodrive.plan import ValidatedPlan

log = logging.getLogger(__name__)


class Treatment:
    """One running (or runnable) treatment: the engine, its session and its controls. Every
    control is safe from any thread; observers get the engine's events on its event thread."""

    def __init__(self, engine: RunEngine, close_records: Callable[[], None]) -> None:
        self.engine = engine
        self._close_records = close_records  # the service's: leave_open ends all writing
        self.done = threading.Event()
        self._worker: threading.Thread | None = None

    @property
    def session(self) -> int:
        return self.engine.session

    @property
    def plan(self) -> ValidatedPlan:
        return self.engine.plan

    @property
    def state(self) -> RunState:
        return self.engine.state

    @property
    def result(self) -> RunResult:
        return self.engine.result

    def subscribe(self, callback: Callable[[RunEvent], None]) -> Callable[[], None]:
        return self.engine.subscribe(callback)

    def run(self) -> RunResult:
        """Run to the end in this thread."""
        try:
            return self.engine.run()
        finally:
            self.done.set()

    def start(self) -> None:
        """Run in a worker thread; `done` is set when the run has ended (and its session too)."""
        def work() -> None:
            try:
                self.engine.run()
            except Exception:  # the engine recorded the failure and ended the session FAILED
                log.exception("the run stopped on an internal error")
            finally:
                self.done.set()

        self._worker = threading.Thread(target=work, name="mesodrive-run", daemon=True)
        self._worker.start()

    def subscribe_failures(self, callback: Callable[[ShotFailed], None]) -> Callable[[], None]:
        """`callback` for every shot of this run that certainly did not deliver (its point
        stays open), on the driver's event thread; returns the unsubscribe."""
        return watch_failures(self.engine, callback)

    def claim(self, action: str, by: Actor | None, reason: str = "") -> None:
        """The next `action` recorded in this session is `by`'s (with `reason`, if given)."""
        store = self.engine.store
        if by is not None and isinstance(store, OperatorRecords):
            store.attributions.claim(self.session, action, by, reason)

    def withdraw(self, action: str) -> None:
        """A claimed request that never reached the engine: its claim goes."""
        store = self.engine.store
        if isinstance(store, OperatorRecords):
            store.attributions.withdraw(self.session, action)

    def pause(self, by: Actor | None = None, reason: str = "") -> None:
        self.claim("pause", by, reason)
        self.engine.pause()

    def resume(self, by: Actor | None = None, reason: str = "") -> None:
        self.claim("resume", by, reason)
        self.engine.resume()

    def abort(self, reason: str, by: Actor | None = None) -> None:
        self.claim("abort", by)
        self.engine.abort(reason)

    def estop(self, by: Actor | None = None, reason: str = "") -> float:
        """Emergency stop from any thread (also a signal handler); the latency in seconds."""
        self.claim("estop", by, reason)
        return self.engine.estop()

    def skip(self, point: int, reason: str, by: Actor | None = None,
             timeout: float = 10.0) -> SkipRequest:
        """Skip a pending point while paused (`operator_skip`), on the record; waits until the
        run loop has handled it (`skipped`, else `problem` says why not)."""
        request = SkipRequest(point, reason)
        self.claim("skip", by)
        self.engine.skip(request)
        if not request.done.wait(timeout):
            request.problem = "the run did not take the skip in time"
        if not request.skipped:
            self.withdraw("skip")
        return request

    def soft_trigger(self) -> None:
        """Triggered mode: fire the next preloaded point (as the pedal does)."""
        self.engine.inj.soft_trigger()

    def leave_open(self, why: str) -> None:
        """The host stops while the run is live (a second Ctrl-C, a closed console): record
        that the session stays open, then close the records so that nothing can end it. The
        device stops on its own (dead-man); `prepare_resume` + `resume` continue it."""
        try:
            self.engine.store.record_action(self.session, "host-exit",
                                            f"{why}; session left open for resume")
        finally:
            self._close_records()
