"""What to do when a run meets a fault: typed problems in, a decision out.

The policy sees only these defined problem kinds, never raw exceptions. The CLI asks the
operator; tests use `ScriptedPolicy`. Whatever the decision, a shot that may have executed is
never repeated: RETRY continues with the points that were certainly not delivered.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass


class ProblemKind(enum.Enum):
    OCCLUSION = "occlusion"
    EMPTY_SYRINGE = "empty-syringe"  # refill and re-prime, then retry
    CONTACT_LOST = "contact-lost"
    STALL = "stall"
    AIR = "air"
    LINK_LOST = "link-lost"
    LATE_SHOT = "late-shot"
    DEVICE_REBOOTED = "device-rebooted"
    REFILL_DUE = "refill-due"  # planned: the syringe will not hold the next point's volume
    OTHER_FAULT = "other-fault"


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    point: int | None  # the point whose shot the fault struck; else the next point not given
    detail: str


class Decision(enum.Enum):
    RETRY = "retry"  # after the fix: carry on from the first point not delivered
    SKIP = "skip"  # mark the problem's point skipped (reason recorded) if it is still pending —
    # a point the fault cut short is never injected again anyway — and carry on
    ABORT = "abort"


@dataclass(frozen=True)
class Answer:
    decision: Decision
    reason: str = ""
    refill_ul: float | None = None  # for EMPTY_SYRINGE / REFILL_DUE: the new syringe's volume


RecoveryPolicy = Callable[[Problem], Answer]


class ScriptedPolicy:
    """Answers from a list, in order (then the default); remembers what it was asked."""

    def __init__(self, answers: Iterable[Answer] = (), default: Answer | None = None) -> None:
        self._answers = list(answers)
        self.default = default or Answer(Decision.ABORT, "no scripted answer left")
        self.asked: list[Problem] = []

    def __call__(self, problem: Problem) -> Answer:
        self.asked.append(problem)
        return self._answers.pop(0) if self._answers else self.default


def abort_policy(problem: Problem) -> Answer:
    return Answer(Decision.ABORT, f"no operator to ask about {problem.kind.value}")
