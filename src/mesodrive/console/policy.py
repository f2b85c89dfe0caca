"""The recovery policy that asks the page: the engine's thread waits for the operator's answer.

The engine calls the policy from its own thread and blocks until it returns; the page shows the
latched alarm with exactly the choices that make sense for it (skip only when the problem names
a point) and answers through `answer`. Nothing about the device happens while it waits: the
engine has already stopped scheduling. An e-stop answers "abort" so the engine can take the
e-stop at once (its loop checks the e-stop before anything else).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from mesodrive.controller.recovery import Answer, Decision, Problem, ProblemKind


@dataclass(frozen=True)
class Question:
    """A latched alarm waiting for the operator."""

    number: int  # increases with every question: a stale page's answer is refused
    problem: Problem
    choices: tuple[Decision, ...]
    refill: bool  # a retry loads a new syringe (its volume can be given)


class AnswerRefused(ValueError):
    """The answer does not fit the question (stale, not allowed, skip without a reason)."""


def choices_for(problem: Problem) -> tuple[Decision, ...]:
    if problem.point is None:  # the engine skips only a named point
        return (Decision.RETRY, Decision.ABORT)
    return (Decision.RETRY, Decision.SKIP, Decision.ABORT)


class ConsolePolicy:
    """`Problem -> Answer`, answered from the page (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)
        self._question: Question | None = None
        self._answer: Answer | None = None
        self._count = 0

    @property
    def question(self) -> Question | None:
        return self._question

    def __call__(self, problem: Problem) -> Answer:
        with self._lock:
            self._count += 1
            self._question = Question(self._count, problem, choices_for(problem),
                                      problem.kind in (ProblemKind.EMPTY_SYRINGE,
                                                       ProblemKind.REFILL_DUE))
            self._answer = None
            while self._answer is None:
                self._answered.wait()
            answer, self._answer, self._question = self._answer, None, None
            return answer

    def answer(self, number: int, decision: Decision, reason: str,
               refill_ul: float | None = None) -> Answer:
        """The operator's answer to question `number`; AnswerRefused if it does not fit."""
        reason = reason.strip()
        with self._lock:
            q = self._question
            if q is None or q.number != number:
                raise AnswerRefused("this alarm was already answered")
            if decision not in q.choices:
                raise AnswerRefused(f"{decision.value} is not possible for this alarm")
            if decision is Decision.SKIP and not reason:
                raise AnswerRefused("skipping a point needs a reason (it is recorded)")
            answer = Answer(decision, reason or f"operator chose {decision.value} in the console",
                            refill_ul if q.refill and decision is Decision.RETRY else None)
            self._answer = answer
            self._answered.notify_all()
            return answer

    def release(self, why: str) -> None:
        """Answer a waiting question with abort (e-stop, shutdown); nothing if none waits."""
        with self._lock:
            if self._question is not None and self._answer is None:
                self._answer = Answer(Decision.ABORT, why)
                self._answered.notify_all()
