"""What the run does with an alarm: record it, ask the recovery policy, record the answer,
and carry out a retry or skip (the device restored, the book told). Aborting is the
engine's own state change, so it is only reported back.

Why apart from the engine: this is the operator-facing half of recovery — the audit trail
(21 CFR Part 11: every operator action with its reason) and the rule that "skip" applies to
the point the fault struck, and only while that point is still pending.
"""

from __future__ import annotations

from collections.abc import Callable

from mesodrive.controller.device_actions.restore import restore_device
from mesodrive.controller.point_book import PointBook
from mesodrive.controller.recovery import Answer, Decision, Problem, RecoveryPolicy
from mesodrive.controller.scheduler import ShotScheduler
from mesodrive.driver.injector import Injector
from mesodrive.records import RecordStore


class AlarmHandling:
    def __init__(self, inj: Injector, store: RecordStore, session: int, policy: RecoveryPolicy,
                 book: PointBook, scheduler: ShotScheduler, syringe_ul: float) -> None:
        self.inj, self.store, self.session, self.policy = inj, store, session, policy
        self.book, self.scheduler, self.syringe_ul = book, scheduler, syringe_ul

    def record(self, problem: Problem) -> str:
        """Record the alarm durably; return its one-line text for progress displays."""
        self.store.record_alarm(self.session, problem.kind.value, problem.detail, sync=True)
        return f"{problem.kind.value}: {problem.detail}"

    def ask(self, problem: Problem) -> Answer:
        answer = self.policy(problem)
        self.store.record_action(self.session, f"recovery:{answer.decision.value}",
                                 f"{problem.kind.value} at point {problem.point}: {answer.reason}")
        return answer

    def carry_out(self, problem: Problem, answer: Answer, settle_in_flight: Callable[[], None]) -> None:
        """Retry or skip: skip the point if still pending, then bring the device back to READY
        (the engine arms it)."""
        if answer.decision is Decision.SKIP and problem.point is not None:
            # The operator's skip is recorded as given; the book skips the point only if it is
            # still pending: one the fault cut short was a puncture, never injected again anyway.
            self.store.record_action(self.session, "skip", f"point {problem.point}: {answer.reason}")
            self.book.skip(problem.point, answer.reason or problem.kind.value)
        if restore_device(self.inj, problem, answer, store=self.store, session=self.session,
                          syringe_ul=self.syringe_ul, settle=settle_in_flight):
            nxt = self.book.next_point()  # the fresh syringe starts here: its planned refill is done
            if nxt is not None:
                self.scheduler.refilled.add(nxt)
